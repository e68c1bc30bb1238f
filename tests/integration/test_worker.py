"""`pa-worker run` against the real broker: exactly once, DLQ, restarts, two workers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from contracts import PADetermination
from offline.readback import Read
from tests.faults.ledger import read_ledger
from tests.faults.logwatch import owned_partitions, wait_for_log
from tests.kafkautil import (
    EXAMPLES,
    ROOT,
    Tail,
    WorkerProcess,
    create_topics,
    encode,
    env_for,
    make_requests,
    produce,
    read_all,
    settings_for,
    trickle,
    wait_for_count,
)
from worker import metrics as m
from worker.app import serve
from worker.config import Settings

pytestmark = pytest.mark.kafka

INVALID = sorted((EXAMPLES / "invalid").glob("*"))
GARBAGE = [b"", b"\xff\xfe\x00garbage", b"[1,2,3]", b'{"schema_version": "1"}', b"x" * 70_000]


def _get(port: int, path: str) -> tuple[int, str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
        return r.status, r.read().decode()


def _exactly_once(dets: list, request_ids: set[str]) -> None:
    counts = Counter(json.loads(d.value)["request_id"] for d in dets)
    duplicated = {k: v for k, v in counts.items() if v > 1}
    missing = request_ids - set(counts)
    print(
        f"[exactly-once] requests={len(request_ids)} determinations={len(dets)} "
        f"duplicated={len(duplicated)} missing={len(missing)}"
    )
    assert not duplicated, f"duplicated determinations: {list(duplicated.items())[:5]}"
    assert not missing, f"missing determinations: {sorted(missing)[:5]}"
    assert set(counts) == request_ids


async def test_mixed_stream_one_determination_per_valid_one_dlq_per_invalid(bootstrap: str, unique: str) -> None:
    settings = settings_for(bootstrap, unique)
    await create_topics(settings)
    valid = make_requests(200, prefix=f"mix{unique[:4]}")
    # Valid, but received a day later than the worker's clock: dead-lettered, not evaluated.
    future = make_requests(1, prefix=f"fut{unique[:4]}")[0]
    future["received_at"] = (datetime.now(UTC) + timedelta(days=1)).isoformat().replace("+00:00", "Z")
    in_future = json.dumps(future).encode()
    bad = [p.read_bytes() for p in INVALID] + GARBAGE + [in_future]
    records: list[tuple[bytes | None, bytes]] = []
    for i, req in enumerate(valid):
        records.append(encode(req))
        if i % 15 == 0 and bad:
            records.append((b"bad-key", bad.pop()))
    records.extend((b"bad-key", b) for b in bad)
    n_bad = len(INVALID) + len(GARBAGE) + 1
    await produce(bootstrap, settings.topic_requests, records)

    ports: list[int] = []
    async with _serving(settings, on_ready=ports.append):
        dets = await read_all(bootstrap, settings.topic_determinations, expect=len(valid), timeout=90)
        dlq = await read_all(bootstrap, settings.topic_dlq, expect=n_bad, timeout=30)
        scraped = (await asyncio.to_thread(_get, ports[0], "/metrics"))[1]
        assert (await asyncio.to_thread(_get, ports[0], "/readyz"))[0] == 200
        assert (await asyncio.to_thread(_get, ports[0], "/healthz"))[0] == 200

    _exactly_once(dets, {r["request_id"] for r in valid})
    for d in dets:
        det = PADetermination.model_validate_json(d.value)
        assert d.key == det.member_id.encode()
        assert d.headers["ce_specversion"] == b"1.0"
        assert d.headers["ce_id"] == det.determination_id.encode()
        assert d.headers["ce_type"] == b"org.mmm.pa.determination.v1"
        assert d.headers["content-type"] == b"application/json"
        assert d.headers["ce_source"] == b"urn:mmm:pa-worker"  # contracts/schemas: the CloudEvents headers
        ce_time = d.headers["ce_time"].decode()
        assert ce_time.endswith("Z") and datetime.fromisoformat(ce_time) == det.decided_at  # UTC, the decision time

    print(f"[dlq] expected={n_bad} got={len(dlq)}")
    assert len(dlq) == n_bad
    originals = Counter([p.read_bytes() for p in INVALID] + GARBAGE + [in_future])
    assert Counter(r.value for r in dlq) == originals, "DLQ must keep the original bytes, once each"
    classes = Counter(r.headers["pa_error_class"].decode() for r in dlq)
    print(f"[dlq] classes={dict(classes)}")
    assert {"not_json", "schema_invalid", "too_large", "unknown_schema_version", "received_in_future"} <= set(classes)
    (late,) = [r for r in dlq if r.value == in_future]
    assert (late.headers["pa_error_class"], late.headers["pa_error_fields"]) == (b"received_in_future", b"received_at")
    for r in dlq:
        assert r.headers["pa_error_message"]
        assert r.headers["pa_source_topic"] == settings.topic_requests.encode()
        assert int(r.headers["pa_source_offset"]) >= 0
    npi = next(r for r in dlq if r.value == (EXAMPLES / "invalid" / "bad_npi_check_digit.json").read_bytes())
    assert b"prescriber.npi" in npi.headers["pa_error_fields"]

    # Every metric the dashboard and the alert rules query is in the running worker's scrape.
    import yaml

    from tests.deploy.test_deploy_metric_names import DASHBOARD, PROMETHEUS_GENERATED, RULES, promql

    rules = yaml.safe_load(RULES.read_text())
    names = promql.names_in(promql.dashboard_expressions(json.loads(DASHBOARD.read_text())))
    names |= promql.names_in(promql.rules_expressions(rules))
    recorded = promql.recorded_names(rules)
    queried = {
        promql.base_metric_name(n)
        for n in names
        if n not in PROMETHEUS_GENERATED and n not in recorded and not promql.is_recording_rule_name(n)
    }
    families = {line.split()[2] for line in scraped.splitlines() if line.startswith("# TYPE ")}
    families |= {f + "_info" for f in families}
    print(
        f"[metrics] dashboard and rules query {len(queried)} worker metrics; the live worker exports "
        f"{len(families)} families"
    )
    assert queried and queried <= families, sorted(queried - families)

    for name in (
        "pa_worker_determinations_total",
        "pa_worker_decision_latency_seconds_bucket",
        "pa_worker_batch_processing_seconds_bucket",
        "pa_worker_dlq_messages_total",
        "pa_worker_transactions_total",
        "pa_worker_consumer_lag_messages",
        "pa_worker_build_info",
        "pa_worker_last_processed_timestamp_seconds",
        "pa_worker_in_flight_requests",
    ):
        assert name in scraped, name


@pytest.mark.parametrize("dedupe", [True, False], ids=["dedupe-on", "dedupe-off"])
async def test_kill_minus_9_and_restart_loses_and_duplicates_nothing(
    bootstrap: str, unique: str, tmp_path: Path, dedupe: bool
) -> None:
    """Three kill -9s mid-stream, each after the worker has visibly made progress: the first with a
    transaction open (records and offsets sent, not committed), the second right after a commit
    (before anything that follows it), the third anywhere. Every output topic then holds exactly
    one record per source record, also with request-id deduplication off, where a replay caused by
    offsets committed outside the transaction would show as a duplicate."""
    settings = settings_for(bootstrap, unique, batch_max_records=50, test_disable_request_dedupe=not dedupe)
    await create_topics(settings)
    valid = make_requests(6000, prefix=f"k9{unique[:4]}")
    records: list[tuple[bytes | None, bytes]] = []
    for i, r in enumerate(valid):
        records.append(encode(r))
        if i % 100 == 0:
            records.append((b"bad", GARBAGE[(i // 100) % len(GARBAGE)]))
    feeder = asyncio.create_task(trickle(bootstrap, settings.topic_requests, records, rate=600))  # type: ignore[arg-type]
    holds = [
        ("inside an open transaction", {"TEST_TXN_HOLD": "open", "TEST_TXN_AFTER": "4"}),
        ("right after a commit", {"TEST_TXN_HOLD": "committed", "TEST_TXN_AFTER": "4"}),
        ("anywhere", {}),
    ]
    async with Tail(bootstrap, settings.topic_determinations) as tail:
        for kill, (where, hold) in enumerate(holds, 1):
            log = tmp_path / f"worker-{kill}.log"
            w = WorkerProcess(settings, "--no-scheduler", log_path=log, module="tests.faults.proc", env=hold).start()
            try:
                before = tail.count
                seen = await tail.reach(before + 300, timeout=90, what=f"progress before kill #{kill}")
                if hold:
                    await wait_for_log(log, f"TXN-HOLD {hold['TEST_TXN_HOLD']}", timeout=60)
            finally:
                w.kill9()
            print(f"[kill-9] kill #{kill} {where}: {seen - before} new, {seen} of {len(valid)} determinations visible")
            assert seen < len(valid), "the kill must land mid-stream"
        w = WorkerProcess(settings, "--no-scheduler", log_path=tmp_path / "worker-last.log").start()
        try:
            await feeder
            await tail.reach(len(valid), timeout=120, what="determinations after the last restart")
        finally:
            code = w.terminate()  # the tail keeps reading while it shuts down
        await tail.settle()
    ledger = await read_ledger(bootstrap, settings)
    ledger.assert_exactly_once(f"kill-9 dedupe={'on' if dedupe else 'off'}")
    assert code == 0, f"the last worker exited {code}: {(tmp_path / 'worker-last.log').read_text()[-2000:]}"


async def test_two_workers_split_partitions_and_survive_one_dying(bootstrap: str, unique: str, tmp_path: Path) -> None:
    settings = settings_for(bootstrap, unique, batch_max_records=50, topic_partitions=6)
    await create_topics(settings)
    valid = make_requests(3000, prefix=f"tw{unique[:4]}")
    a_log, b_log = tmp_path / "a.log", tmp_path / "b.log"
    a = WorkerProcess(settings, "--no-scheduler", log_path=a_log).start()
    b = WorkerProcess(settings, "--no-scheduler", log_path=b_log).start()
    try:
        # Both join and the group splits the six partitions: each worker's own log says which it took.
        deadline = time.monotonic() + 60
        while not (owned_partitions(a_log) and owned_partitions(b_log)) or (
            owned_partitions(a_log) | owned_partitions(b_log) != set(range(6))
        ):
            assert time.monotonic() < deadline, (owned_partitions(a_log), owned_partitions(b_log))
            await asyncio.sleep(0.2)
        split = (owned_partitions(a_log), owned_partitions(b_log))
        print(f"[two-workers] partitions from each worker's own log: A {sorted(split[0])}, B {sorted(split[1])}")
        assert not split[0] & split[1]
        feeder = asyncio.create_task(trickle(bootstrap, settings.topic_requests, [encode(r) for r in valid], rate=500))
        async with Tail(bootstrap, settings.topic_determinations) as tail:
            seen = await tail.reach(600, timeout=60, what="progress before the kill")
            a.kill9()
            print(f"[two-workers] killed worker A with SIGKILL mid-stream ({seen}/{len(valid)} determined)")
            assert seen < len(valid)
            await feeder
            await tail.reach(len(valid), timeout=120, what="determinations after A died")
            # B took A's partitions over (its own log) and keeps them
            await wait_for_log(b_log, '"partition assigned"', timeout=30, count=len(split[1]) + len(split[0]))
            assert owned_partitions(b_log) == set(range(6))
            assert b.alive()
            assert b.terminate() == 0  # the tail keeps reading while B shuts down
            dets = await tail.settle()
    finally:
        a.ensure_dead()
        b.ensure_dead()
    parts = Counter(d.partition for d in dets)
    print(f"[two-workers] determinations per output partition: {dict(sorted(parts.items()))}")
    _exactly_once(dets, {r["request_id"] for r in valid})
    (await read_ledger(bootstrap, settings)).assert_exactly_once("two workers, one killed")
    logs = a_log.read_text() + b_log.read_text()
    # Each process applied its runtime tuning (worker/runtime.py) before it started serving.
    starts = [json.loads(line) for line in logs.splitlines() if '"pa-worker starting"' in line]
    assert [s["gc_gen0_threshold"] for s in starts] == [50_000, 50_000]


async def test_sigterm_exits_zero_within_bound(bootstrap: str, unique: str, tmp_path: Path) -> None:
    settings = settings_for(bootstrap, unique)
    await create_topics(settings)
    await produce(bootstrap, settings.topic_requests, (encode(r) for r in make_requests(500, prefix="st")))
    w = WorkerProcess(settings, log_path=tmp_path / "w.log").start()
    await wait_for_count(bootstrap, settings.topic_determinations, 1, timeout=60)
    t0 = time.monotonic()
    code = w.terminate(timeout=settings.shutdown_timeout_seconds + 10)
    took = time.monotonic() - t0
    print(f"[sigterm] exit={code} in {took:.1f}s")
    assert code == 0
    assert took < settings.shutdown_timeout_seconds
    assert "pa-worker stopped" in (tmp_path / "w.log").read_text()


async def test_producer_left_in_fatal_state_is_replaced(
    bootstrap: str, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A transaction that fails and leaves its producer in aiokafka's FATAL_ERROR state (seen
    across a broker restart) must not wedge the partition: a new producer takes over and
    every request is still determined exactly once."""
    from aiokafka import AIOKafkaProducer
    from aiokafka.errors import KafkaError

    settings = settings_for(bootstrap, unique, batch_max_records=20, scheduler_enabled=False)
    await create_topics(settings)
    valid = make_requests(400, prefix=f"fe{unique[:4]}")
    await produce(bootstrap, settings.topic_requests, (encode(r) for r in valid))
    original = AIOKafkaProducer.commit_transaction
    injected = []

    async def failing_commit(self: AIOKafkaProducer) -> None:
        if len(injected) < 3 and self._txn_manager is not None:
            injected.append(self._txn_manager.transactional_id)
            exc = KafkaError("injected commit failure")
            self._txn_manager.fatal_error(exc)
            raise exc
        await original(self)

    monkeypatch.setattr(AIOKafkaProducer, "commit_transaction", failing_commit)
    aborted0 = m.TRANSACTIONS.labels("aborted")._value.get()
    dets = await _serve_until_determined(bootstrap, settings, len(valid))
    print(f"[fatal-producer] injected {len(injected)} fatal commit failures")
    assert len(injected) == 3
    assert m.TRANSACTIONS.labels("aborted")._value.get() - aborted0 >= 3
    _exactly_once(dets, {r["request_id"] for r in valid})


@contextlib.asynccontextmanager
async def _serving(settings: Settings, **serve_kwargs: Any) -> AsyncIterator[None]:
    """The worker's ``serve`` running in this process for the body; it must stop and exit 0."""
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, stop=stop, install_signals=False, **serve_kwargs))
    try:
        yield
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 30) == 0


async def _assert_not_ready_after_start(port: int) -> None:
    """Six seconds after start (a join would be done by then), ``/readyz`` still answers 503."""
    await asyncio.sleep(6)
    with pytest.raises(urllib.error.HTTPError, match="503"):
        await asyncio.to_thread(_get, port, "/readyz")


async def _serve_until_determined(bootstrap: str, settings: Settings, expect: int) -> list[Read]:
    """Run the worker in this process until ``expect`` determinations are read; it must exit 0."""
    async with _serving(settings, scheduler=False):
        return await read_all(bootstrap, settings.topic_determinations, expect=expect, timeout=90, idle=2)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_instance_beyond_the_partition_count_is_a_ready_standby(
    bootstrap: str, unique: str, tmp_path: Path
) -> None:
    """One partition, two instances: one owns it, the other is ready with none, so a rolling
    update with maxSurge=1 at replicas == partitions never waits on a pod that cannot get one."""
    ports = [_free_port(), _free_port()]
    workers = []
    base = settings_for(bootstrap, unique, topic_partitions=1, scheduler_enabled=False)
    await create_topics(base)
    for i, port in enumerate(ports):
        workers.append(
            WorkerProcess(
                base.model_copy(update={"metrics_port": port}), "--no-scheduler", log_path=tmp_path / f"w{i}.log"
            ).start()
        )
    try:
        bodies: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                answers = [await asyncio.to_thread(_get, port, "/readyz") for port in ports]
            except OSError:  # 503 or not listening yet
                answers = []
            bodies = [body for status, body in answers if status == 200]
            if len(bodies) == 2:
                break
            await asyncio.sleep(0.5)
        print(f"[standby] /readyz: {bodies}")
        assert len(bodies) == 2
        # each stage's one partition is owned by exactly one instance; both instances are ready
        owned = [dict(re.findall(r"(\w+) partitions=(\d)", b)) for b in bodies]
        assert all(b.startswith("ready ") for b in bodies)
        assert sorted(o["requests"] for o in owned) == ["0", "1"]
        assert sorted(o["review"] for o in owned) == ["0", "1"]
    finally:
        for w in workers:
            assert w.terminate() == 0


async def test_request_submitted_again_is_not_determined_twice(bootstrap: str, unique: str, tmp_path: Path) -> None:
    """request_id is intake's idempotency key: the same submission again (in the same batch,
    later, or after a restart of the worker) publishes nothing new; a corrected request under
    the same request_id (different content) is determined again."""
    settings = settings_for(bootstrap, unique, scheduler_enabled=False)
    await create_topics(settings)
    reqs = make_requests(50, prefix=f"dd{unique[:4]}")
    first = [encode(r) for r in reqs]
    await produce(bootstrap, settings.topic_requests, first + first[:10])  # 10 resent at once
    w = WorkerProcess(settings, "--no-scheduler", log_path=tmp_path / "w.log").start()
    try:
        async with Tail(bootstrap, settings.topic_determinations) as dets:
            await dets.wait(50, timeout=60)
            await produce(bootstrap, settings.topic_requests, first[10:20])  # resent later
            await asyncio.sleep(3)
            assert w.terminate() == 0
            w = WorkerProcess(settings, "--no-scheduler", log_path=tmp_path / "w.log").start()
            corrected = dict(reqs[0], priority="expedited")  # same request_id, new content
            await produce(bootstrap, settings.topic_requests, [*first[20:30], encode(corrected)])
            await dets.wait(51, timeout=60)
            await asyncio.sleep(3)
            records = list(dets.records)
    finally:
        assert w.terminate() == 0
    counts = Counter(json.loads(r.value)["request_id"] for r in records)
    print(f"[dedupe] submissions={50 + 10 + 10 + 10 + 1} determinations={len(records)}")
    assert len(records) == 51
    assert counts[reqs[0]["request_id"]] == 2  # the original and the correction
    assert all(counts[r["request_id"]] == 1 for r in reqs[1:])
    ids = [
        json.loads(r.value)["determination_id"]
        for r in records
        if json.loads(r.value)["request_id"] == reqs[0]["request_id"]
    ]
    assert len(set(ids)) == 2


async def test_slow_commit_on_one_partition_holds_up_no_other(
    bootstrap: str, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Partitions are independent lanes: while partition 0's first commit hangs for 4 s, every
    request of partition 1 is determined and visible; partition 0's queue meanwhile grows past
    two batches, so its fetching is paused, and resumed once it drains. Exactly once in the end."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

    from worker.runtime import partition_for

    settings = settings_for(bootstrap, unique, topic_partitions=2, batch_max_records=10, scheduler_enabled=False)
    await create_topics(settings)
    by_partition: dict[int, list[dict[str, object]]] = {0: [], 1: []}
    for r in make_requests(200, prefix=f"hl{unique[:4]}"):
        lane = by_partition[partition_for(encode(r)[0], 2)]
        if len(lane) < 40:
            lane.append(r)
    await produce(bootstrap, settings.topic_requests, (encode(r) for r in by_partition[0] + by_partition[1]))

    original_commit = AIOKafkaProducer.commit_transaction
    stalled: list[float] = []

    async def slow_first_commit_of_partition_0(self: AIOKafkaProducer) -> None:
        tid = self._txn_manager.transactional_id if self._txn_manager is not None else ""
        if tid.endswith(f"{settings.topic_requests}-0") and not stalled:
            stalled.append(time.monotonic())
            await asyncio.sleep(4)
            stalled.append(time.monotonic())
        await original_commit(self)

    paused: list[int] = []
    resumed: list[int] = []
    original_pause, original_resume = AIOKafkaConsumer.pause, AIOKafkaConsumer.resume

    def spy_pause(self: AIOKafkaConsumer, *tps: TopicPartition) -> None:
        paused.extend(tp.partition for tp in tps)
        original_pause(self, *tps)

    def spy_resume(self: AIOKafkaConsumer, *tps: TopicPartition) -> None:
        resumed.extend(tp.partition for tp in tps)
        original_resume(self, *tps)

    monkeypatch.setattr(AIOKafkaProducer, "commit_transaction", slow_first_commit_of_partition_0)
    monkeypatch.setattr(AIOKafkaConsumer, "pause", spy_pause)
    monkeypatch.setattr(AIOKafkaConsumer, "resume", spy_resume)
    ids = {p: {str(r["request_id"]) for r in reqs} for p, reqs in by_partition.items()}
    async with _serving(settings, scheduler=False), Tail(bootstrap, settings.topic_determinations) as dets:

        def seen(p: int) -> int:
            return sum(json.loads(r.value)["request_id"] in ids[p] for r in dets.records)

        deadline = time.monotonic() + 60
        while seen(1) < len(ids[1]):
            assert time.monotonic() < deadline, f"partition 1: {seen(1)} of {len(ids[1])} determined after 60 s"
            await asyncio.sleep(0.05)
        at_p1_done = time.monotonic()
        p0_then = seen(0)
        in_flight_then = m.REGISTRY.get_sample_value("pa_worker_in_flight_requests")
        await dets.reach(len(ids[0]) + len(ids[1]), timeout=60, what="both partitions determined")
        deadline = time.monotonic() + 30
        while (in_flight_after := m.REGISTRY.get_sample_value("pa_worker_in_flight_requests")) != 0:
            assert time.monotonic() < deadline, f"in flight still {in_flight_after} 30 s after the last determination"
            await asyncio.sleep(0.05)
        records = await dets.settle()
    print(
        f"[lanes] partition 1: {len(ids[1])} determined while partition 0's commit hung "
        f"({p0_then} of partition 0 visible then, {in_flight_then} in flight); partition 0 paused "
        f"{paused.count(0)}x, resumed {resumed.count(0)}x; in flight at the end: {in_flight_after}"
    )
    assert len(stalled) == 2, "partition 0's first commit was not stalled"
    assert at_p1_done < stalled[1], "partition 1 waited for partition 0's commit"
    assert p0_then == 0
    # partition 0's stalled batch (10) and what queued behind it are fetched and not yet committed
    assert in_flight_then is not None and 10 <= in_flight_then <= len(ids[0])
    assert in_flight_after == 0
    assert 0 in paused and 0 in resumed
    _exactly_once(records, ids[0] | ids[1])


async def test_fetch_error_restarts_the_loop_and_loses_nothing(
    bootstrap: str, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Kafka error out of the fetch restarts the fetch loop (not the process); the partitions'
    lanes carry on, so every request is still determined exactly once."""
    from aiokafka import AIOKafkaConsumer
    from aiokafka.errors import KafkaError

    settings = settings_for(bootstrap, unique, batch_max_records=20, scheduler_enabled=False)
    await create_topics(settings)
    valid = make_requests(300, prefix=f"fx{unique[:4]}")
    await produce(bootstrap, settings.topic_requests, (encode(r) for r in valid))
    original = AIOKafkaConsumer.getmany
    raised: list[int] = []
    calls = 0

    async def flaky_getmany(self: AIOKafkaConsumer, *partitions: Any, **kwargs: Any) -> Any:
        nonlocal calls
        if getattr(self, "_group_id", None) == settings.group_id:
            calls += 1
            if calls in (5, 9, 14):  # before fetching anything: nothing is consumed and lost
                raised.append(calls)
                raise KafkaError("injected fetch failure")
        return await original(self, *partitions, **kwargs)

    monkeypatch.setattr(AIOKafkaConsumer, "getmany", flaky_getmany)
    dets = await _serve_until_determined(bootstrap, settings, len(valid))
    print(f"[fetch-error] injected {len(raised)} fetch errors")
    assert len(raised) == 3
    _exactly_once(dets, {r["request_id"] for r in valid})


async def test_worker_started_before_its_topics_waits_not_ready_then_takes_them(bootstrap: str, unique: str) -> None:
    """A worker started before its topics exist (a new cluster, or `--create-topics` racing the
    metadata) must not join the group with no partitions and sit idle until aiokafka's next
    metadata refresh: it is not ready, retries, and takes its partitions once the topics exist."""
    port = _free_port()
    settings = settings_for(bootstrap, unique, scheduler_enabled=False).model_copy(update={"metrics_port": port})
    async with _serving(settings, scheduler=False):
        await _assert_not_ready_after_start(port)
        await create_topics(settings)
        t0 = time.monotonic()
        valid = make_requests(20, prefix=f"nt{unique[:4]}")
        await produce(bootstrap, settings.topic_requests, (encode(r) for r in valid))
        dets = await read_all(bootstrap, settings.topic_determinations, expect=len(valid), timeout=25, idle=1)
        took = time.monotonic() - t0
        print(f"[topics-late] {len(dets)}/{len(valid)} determined {took:.1f} s after the topics were created")
        _exactly_once(dets, {r["request_id"] for r in valid})
        assert (await asyncio.to_thread(_get, port, "/readyz"))[0] == 200


async def test_partitions_added_to_the_input_topic_are_taken_up(
    bootstrap: str, unique: str, capfd: pytest.CaptureFixture[str]
) -> None:
    """Scaling the input topic from 2 to 4 partitions (index topic first, as the runbook says):
    the running worker takes the new partitions up at its next metadata refresh
    (METADATA_MAX_AGE_MS, 30 s) and determines what arrives on them, exactly once, with
    request-id deduplication working on the new partitions too."""
    from aiokafka import AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient, NewPartitions

    from worker.kafka import METADATA_MAX_AGE_MS

    settings = settings_for(bootstrap, unique, topic_partitions=2, scheduler_enabled=False)
    await create_topics(settings)
    before = make_requests(10, prefix=f"pb{unique[:4]}")
    after = make_requests(20, prefix=f"pa{unique[:4]}")
    async with _serving(settings, scheduler=False):
        await produce(bootstrap, settings.topic_requests, (encode(r) for r in before))
        assert len(await read_all(bootstrap, settings.topic_determinations, expect=10, timeout=60, idle=0.5)) == 10
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            for topic in (settings.topic_request_index, settings.topic_requests):
                await admin.create_partitions({topic: NewPartitions(total_count=4)})
        finally:
            await admin.close()
        t0 = time.monotonic()
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()

        async def send_to_new_partitions(reqs: list[dict[str, Any]]) -> None:
            for i, r in enumerate(reqs):
                key, value = encode(r)
                await producer.send_and_wait(settings.topic_requests, value, key=key, partition=2 + i % 2)

        try:
            await send_to_new_partitions(after)
            dets = await read_all(
                bootstrap, settings.topic_determinations, expect=30, timeout=METADATA_MAX_AGE_MS / 1000 + 45, idle=1
            )
            took = time.monotonic() - t0
            print(f"[new-partitions] {len(dets) - 10}/{len(after)} on the new partitions determined in {took:.1f} s")
            duplicates0 = m.DUPLICATES._value.get()
            await send_to_new_partitions(after[:6])  # the same submissions again, same partitions
            deadline = time.monotonic() + 30
            while m.DUPLICATES._value.get() - duplicates0 < 6 and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
        finally:
            await producer.stop()
        assert m.DUPLICATES._value.get() - duplicates0 == 6
        dets = await read_all(bootstrap, settings.topic_determinations, expect=30, timeout=30, idle=1)
        _exactly_once(dets, {r["request_id"] for r in before + after})
        out, err = capfd.readouterr()
        assert out.count("partition assigned") >= 4
        # the index reader's cached metadata predates the new index partitions: it must look again
        assert "request index has no such partition" not in out + err


async def test_scheduler_started_before_its_topics_is_not_ready_until_they_exist(bootstrap: str, unique: str) -> None:
    port = _free_port()
    settings = settings_for(bootstrap, unique).model_copy(update={"metrics_port": port})
    async with _serving(settings, requests=False, scheduler=True):
        await _assert_not_ready_after_start(port)
        await create_topics(settings)
        deadline = time.monotonic() + 40
        status = 0
        while time.monotonic() < deadline and status != 200:
            await asyncio.sleep(1)
            try:
                status = (await asyncio.to_thread(_get, port, "/readyz"))[0]
            except urllib.error.HTTPError:
                continue
        print(f"[topics-late] scheduler ready: {status == 200}")
        assert status == 200


async def test_misspelt_output_topic_keeps_the_worker_out_of_the_group(
    bootstrap: str, unique: str, capfd: pytest.CaptureFixture[str]
) -> None:
    """An output topic that does not exist (a typo in PA_TOPIC_DETERMINATIONS) must not start a
    worker whose every transaction would fail, or that a topic-auto-creating cluster would let
    publish where nobody reads: not ready, and the log names the topic."""
    port = _free_port()
    settings = settings_for(bootstrap, unique, scheduler_enabled=False).model_copy(update={"metrics_port": port})
    await create_topics(settings)
    typo = f"pa.determinatons.{unique}"
    wrong = settings.model_copy(update={"topic_determinations": typo})
    async with _serving(wrong, scheduler=False):
        await _assert_not_ready_after_start(port)
    out, _ = capfd.readouterr()
    assert f"topics not found: {typo}" in out
    assert "partition assigned" not in out


async def test_pa_worker_scheduler_command_takes_its_partitions_and_stops_cleanly(
    bootstrap: str, unique: str, tmp_path: Path
) -> None:
    """`pa-worker scheduler`: the reauth scheduler alone, as its own process."""
    from tests.faults.logwatch import assigned_partitions

    port = _free_port()
    settings = settings_for(bootstrap, unique, topic_partitions=2).model_copy(update={"metrics_port": port})
    await create_topics(settings)
    log = tmp_path / "scheduler.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "worker.cli", "scheduler"],
        env=env_for(settings),
        cwd=ROOT,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    try:
        await wait_for_log(log, "reauth partition assigned; rebuilding", timeout=60, count=2)
        deadline = time.monotonic() + 30
        status, body = 0, ""
        while status != 200:
            assert time.monotonic() < deadline, f"/readyz: {status} {body}"
            try:
                status, body = await asyncio.to_thread(_get, port, "/readyz")
            except OSError:
                await asyncio.sleep(0.3)
        assert body.strip() == "ready reauth partitions=2"  # the scheduler only: no request partitions
        assert sorted(assigned_partitions(log, "reauth partition assigned; rebuilding")) == [0, 1]
    finally:
        proc.terminate()
        code = proc.wait(30)
    assert code == 0
    assert "partition assigned" not in log.read_text().replace("reauth partition assigned", "")


async def test_make_demo_runs_end_to_end(bootstrap: str, tmp_path: Path) -> None:
    """Smoke test of offline/demo.py (`make demo`) against the session's broker."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PA_")}
    env.update(KAFKA_BOOTSTRAP_SERVERS=bootstrap, PA_METRICS_PORT="0", COLUMNS="160")
    proc = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "offline.demo"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    print(proc.stdout[-600:])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Demo complete" in proc.stdout
    assert "pa.determinations.v1" in proc.stdout and "pa.requests.dlq.v1" in proc.stdout
