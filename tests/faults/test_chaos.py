"""Fault tests on the real broker (issue 6). Each prints its counts.

Every worker here is a real subprocess with JSON logs under one session folder; the last
test reads all of them and fails if any input name, date of birth or member id shows up.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from pathlib import Path

import pytest

from contracts import PADetermination, PAReauthDue, PARequest
from tests.broker import KAFKA_SH, Broker
from tests.conftest import REQUIRE_KAFKA
from tests.faults.ledger import read_ledger, scheduler_day
from tests.faults.logwatch import wait_for_log
from tests.kafkautil import (
    ROOT,
    Tail,
    WorkerProcess,
    create_topics,
    encode,
    env_for,
    make_requests,
    produce,
    settings_for,
    trickle,
)
from worker.config import Settings
from worker.reminders import PLAN_ZONE

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

LOGS: list[Path] = []
SECRETS: set[str] = set()


@pytest.fixture(scope="module")
def logdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("chaos-logs")


def _remember_secrets(requests: list[dict]) -> None:  # type: ignore[type-arg]
    for r in requests:
        SECRETS.add(r["member"]["member_id"])
        SECRETS.add(r["member"]["date_of_birth"])
        for k in ("first_name", "last_name"):
            if r["member"].get(k):
                SECRETS.add(r["member"][k])


def _check_exactly_once(records: list, expected: set[str], what: str) -> Counter[str]:  # type: ignore[type-arg]
    counts = Counter(json.loads(r.value)["request_id"] for r in records)
    dup = sum(1 for c in counts.values() if c > 1)
    if dup:
        where: dict[str, list[tuple[int, int]]] = {}
        for r in records:
            where.setdefault(json.loads(r.value)["request_id"], []).append((r.partition, r.offset))
        print("[dup detail]", [(k, v) for k, v in where.items() if len(v) > 1][:8])
    missing = len(expected - set(counts))
    print(f"[{what}] requests={len(expected)} determinations={len(records)} duplicated={dup} missing={missing}")
    assert dup == 0 and missing == 0 and set(counts) == expected
    return counts


def _scheduler_proc(settings, now: str, log: Path) -> subprocess.Popen[bytes]:  # type: ignore[no-untyped-def]
    env = env_for(settings)
    env["TEST_NOW"] = now
    return subprocess.Popen(
        [sys.executable, "-m", "tests.clockproc", "--scheduler-only"],
        env=env,
        cwd=ROOT,
        stdout=open(log, "ab"),
        stderr=subprocess.STDOUT,
    )


async def test_kill9_three_times_during_20000_requests(bootstrap: str, unique: str, logdir: Path) -> None:
    settings = settings_for(bootstrap, unique, batch_max_records=200, topic_partitions=6)
    await create_topics(settings)
    requests = make_requests(20_000, prefix=f"c{unique[:5]}")
    _remember_secrets(requests)
    feeder = asyncio.create_task(trickle(bootstrap, settings.topic_requests, [encode(r) for r in requests], 2500))
    log = logdir / "kill9-worker.log"
    LOGS.append(log)
    async with Tail(bootstrap, settings.topic_determinations) as dets:
        for kill in range(1, 4):
            hold = {"TEST_TXN_HOLD": "open", "TEST_TXN_AFTER": "10"} if kill == 1 else {}
            if hold:
                log = logdir / "kill9-worker-held.log"
                LOGS.append(log)
            else:
                log = logdir / "kill9-worker.log"
            w = WorkerProcess(settings, "--no-scheduler", log_path=log, module="tests.faults.proc", env=hold).start()
            try:
                seen = await dets.reach(dets.count + 2000, timeout=90, what=f"progress before kill #{kill}")
                if hold:  # the kill lands inside an open transaction
                    await wait_for_log(log, "TXN-HOLD open", timeout=60, count=1)
            finally:
                w.kill9()
            print(f"[chaos kill-9] kill #{kill}: {seen} of {len(requests)} determinations visible")
            assert seen < len(requests)
        w = WorkerProcess(settings, "--no-scheduler", log_path=log).start()
        try:
            await feeder
            await dets.reach(len(requests), timeout=180, what="determinations after the last restart")
        finally:
            code = w.terminate()  # the tail keeps reading while the worker shuts down
        await dets.settle()
        assert code == 0
        _check_exactly_once(dets.records, {r["request_id"] for r in requests}, "chaos kill-9")
        determinations = [PADetermination.model_validate_json(r.value) for r in dets.records]
    # Every approval still valid on the scheduler's day gets exactly one reauth-due record
    # eventually (the day is the latest due date); one already past its valid_through, none.
    day = scheduler_day(determinations, settings.reauth_lead_days)
    approved = {
        d.authorization.authorization_id
        for d in determinations
        if d.authorization is not None and d.authorization.valid_through >= day
    }
    slog = logdir / "kill9-scheduler.log"
    LOGS.append(slog)
    # The scheduler's day is the plan's local date: its clock at local midnight of `day`.
    sched = _scheduler_proc(settings, datetime.combine(day, dtime(), PLAN_ZONE).isoformat(), slog)
    try:
        async with Tail(bootstrap, settings.topic_reauth_due) as reminders:
            await reminders.reach(len(approved), timeout=120, what="reauth-due reminders")
            await asyncio.sleep(3)  # a second reminder for any approval would show up now
            counts = Counter(PAReauthDue.model_validate_json(r.value).authorization_id for r in reminders.records)
    finally:
        sched.terminate()
        sched.wait(30)
    print(
        f"[chaos kill-9] approvals still valid on {day}={len(approved)} reauth-due records={sum(counts.values())} "
        f"doubled={sum(1 for c in counts.values() if c > 1)}"
    )
    assert set(counts) == approved and all(c == 1 for c in counts.values())
    # every output topic, per source record: determinations, index entries, authorization states, reminders
    ledger = await read_ledger(bootstrap, settings, scheduler_day=day)
    assert ledger.scheduled and ledger.scheduled != ledger.approved, "approvals still valid and expired ones"
    ledger.assert_exactly_once("chaos kill-9, every topic")


def _restartable_bootstrap(broker: Broker) -> str:
    """The project's own local broker (scripts/kafka.sh), the only one this test may restart.

    With REQUIRE_KAFKA=1 (``make test``) the test never skips: when the session's broker came from
    ``KAFKA_BOOTSTRAP_SERVERS`` or testcontainers, it runs against the project's broker instead
    (started here if it is not running). Elsewhere it skips unless the session's broker is that one."""
    local = "127.0.0.1:" + os.environ.get("KAFKA_PORT", "9092")
    running = subprocess.run([str(KAFKA_SH), "status"], capture_output=True, check=False).returncode == 0
    if broker.kind == "local" or (running and broker.bootstrap_servers == local):
        return local
    if not REQUIRE_KAFKA:
        pytest.skip("restarts only the project's own local broker (set REQUIRE_KAFKA=1 to run it there)")
    up = subprocess.run([str(KAFKA_SH), "up"], capture_output=True, text=True, check=False)
    assert up.returncode == 0, f"REQUIRE_KAFKA=1: the project's broker did not start: {up.stdout}{up.stderr}"
    return local


async def test_broker_restart_mid_run(broker: Broker, unique: str, logdir: Path) -> None:
    bootstrap = _restartable_bootstrap(broker)
    settings = settings_for(bootstrap, unique, batch_max_records=100)
    await create_topics(settings)
    requests = make_requests(12_000, prefix=f"b{unique[:5]}")
    _remember_secrets(requests)
    log = logdir / "broker-restart-worker.log"
    LOGS.append(log)
    await produce(bootstrap, settings.topic_requests, (encode(r) for r in requests[:9000]))
    w = WorkerProcess(settings, "--no-scheduler", log_path=log).start()
    try:
        async with Tail(bootstrap, settings.topic_determinations) as dets:
            await dets.wait(1000, timeout=60)  # busy: the outage lands mid-stream
            print(f"[chaos broker] stopping the broker with {dets.count} of 9000 determined")
        down = await asyncio.to_thread(subprocess.run, [str(KAFKA_SH), "down"], capture_output=True, text=True)
        print(f"[chaos broker] broker stopped mid-run: {down.stdout.strip()}")
        await asyncio.sleep(3)
        up = await asyncio.to_thread(subprocess.run, [str(KAFKA_SH), "up"], capture_output=True, text=True)
        assert up.returncode == 0, up.stderr
        print(f"[chaos broker] broker restarted: {up.stdout.strip()}")
        assert w.alive(), "the worker must survive the broker outage"
        await produce(bootstrap, settings.topic_requests, (encode(r) for r in requests[9000:]))
        async with Tail(bootstrap, settings.topic_determinations) as dets:
            await dets.wait(len(requests), timeout=180)
            await asyncio.sleep(2)
            records = list(dets.records)
        assert w.alive()
    finally:
        code = w.terminate()
    assert code == 0
    _check_exactly_once(records, {r["request_id"] for r in requests}, "chaos broker restart")


def malformed(i: int, base: dict) -> tuple[str, bytes]:  # type: ignore[type-arg]
    """The i-th malformed message: twelve kinds in turn."""
    kind = i % 12
    good = json.dumps(base).encode()
    if kind == 0:
        return "truncated_json", good[: random.Random(i).randint(1, len(good) - 2)]
    if kind == 1:
        bad = dict(base, priority=7, request_type=["initial"])
        return "wrong_types", json.dumps(bad).encode()
    if kind == 2:
        bad = json.loads(good)
        bad["member"]["last_name"] = "Q" * 5000
        return "long_string", json.dumps(bad).encode()
    if kind == 3:
        return "huge_message", json.dumps(dict(base, padding="x" * 200_000)).encode()
    if kind == 4:
        return "deep_nesting", b'{"schema_version": "1", "member": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    if kind == 5:
        return "utf16_encoding", json.dumps(base).encode("utf-16")
    if kind == 6:
        bad = json.loads(good)
        bad["member"]["last_name"] = "Mu\u00f1oz Ib\u00e1\u00f1ez"  # Latin-1 bytes are not UTF-8
        return "latin1_encoding", json.dumps(bad, ensure_ascii=False).encode("latin-1")
    if kind == 7:
        bad = json.loads(good)
        del bad["prescriber"], bad["diagnosis"]
        return "missing_fields", json.dumps(bad).encode()
    if kind == 8:
        bad = json.loads(good)
        bad["prescriber"]["npi"] = "1234567890"
        return "bad_npi", json.dumps(bad).encode()
    if kind == 9:
        return "unknown_schema_version", json.dumps(dict(base, schema_version="9")).encode()
    if kind == 10:
        return "empty_value", b""
    return "binary_garbage", random.Random(i).randbytes(64 + i % 500)


async def test_malformed_flood_interleaved(bootstrap: str, unique: str, logdir: Path) -> None:
    settings = settings_for(bootstrap, unique)
    await create_topics(settings)
    valid = make_requests(1000, prefix=f"f{unique[:5]}")
    _remember_secrets(valid)
    bad = [malformed(i, valid[i]) for i in range(1000)]
    records: list[tuple[bytes | None, bytes]] = []
    for v, (_, b) in zip(valid, bad, strict=True):
        records.append(encode(v))
        records.append((f"bad-{len(records)}".encode(), b))
    await produce(bootstrap, settings.topic_requests, records)
    log = logdir / "flood-worker.log"
    LOGS.append(log)
    w = WorkerProcess(settings, "--no-scheduler", log_path=log).start()
    try:
        async with Tail(bootstrap, settings.topic_determinations) as dets, Tail(bootstrap, settings.topic_dlq) as dlq:
            await dets.wait(len(valid), timeout=120)
            await dlq.wait(len(bad), timeout=60)
            await asyncio.sleep(2)
            assert w.alive()
            det_records, dlq_records = list(dets.records), list(dlq.records)
    finally:
        assert w.terminate() == 0
    _check_exactly_once(det_records, {r["request_id"] for r in valid}, "chaos flood")
    kinds = Counter(k for k, _ in bad)
    classes = Counter(r.headers["pa_error_class"].decode() for r in dlq_records)
    print(f"[chaos flood] malformed={len(bad)} kinds={len(kinds)} dlq={len(dlq_records)} classes={dict(classes)}")
    assert len(kinds) >= 10
    assert len(dlq_records) == len(bad)
    assert Counter(r.value for r in dlq_records) == Counter(b for _, b in bad), "original bytes kept, once each"
    assert all(r.headers["pa_error_message"] for r in dlq_records)
    # Each kind lands in the class the README's "Bad input" gives it (not JSON includes wrong
    # encodings, binary, empty values and nesting too deep; larger than PA_MAX_MESSAGE_BYTES is too_large).
    expected = {
        "truncated_json": "not_json",
        "wrong_types": "schema_invalid",
        "long_string": "schema_invalid",
        "huge_message": "too_large",
        "deep_nesting": "not_json",
        "utf16_encoding": "not_json",
        "latin1_encoding": "not_json",
        "missing_fields": "schema_invalid",
        "bad_npi": "schema_invalid",
        "unknown_schema_version": "unknown_schema_version",
        "empty_value": "not_json",
        "binary_garbage": "not_json",
    }
    assert set(expected) == set(kinds)
    class_of = {r.value: r.headers["pa_error_class"].decode() for r in dlq_records}
    got = {(kind, class_of[value]) for kind, value in bad}
    assert got == set(expected.items()), sorted(got - set(expected.items()))


async def test_hypothesis_requests_through_the_full_pipeline(bootstrap: str, unique: str, logdir: Path) -> None:
    from hypothesis import HealthCheck, given
    from hypothesis import settings as hsettings

    from tests.strategies import pa_requests

    generated: list[PARequest] = []

    @hsettings(max_examples=300, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(pa_requests())
    def collect(request: PARequest) -> None:
        generated.append(request)

    collect()
    # Distinct request ids, so each must have its own determination.
    reqs = [r.model_copy(update={"request_id": f"h{unique[:5]}-{i}"}) for i, r in enumerate(generated)]
    # The worker runs on the real clock: a request received later than it beyond the tolerance is
    # dead-lettered (received_in_future), not determined. Those received within an hour past the
    # tolerance could fall either side while the test runs: left out.
    start = datetime.now(UTC)
    margin = timedelta(seconds=Settings().future_received_at_tolerance_seconds, hours=1)
    past = [r for r in reqs if r.received_at <= start]
    future = [r for r in reqs if r.received_at > start + margin]
    reqs = past + future
    dicts = [json.loads(r.model_dump_json()) for r in reqs]
    _remember_secrets(dicts)
    settings = settings_for(bootstrap, unique)
    await create_topics(settings)
    await produce(
        bootstrap, settings.topic_requests, ((r.member.member_id.encode(), r.model_dump_json().encode()) for r in reqs)
    )
    log = logdir / "hypothesis-worker.log"
    LOGS.append(log)
    w = WorkerProcess(settings, log_path=log).start()
    try:
        async with Tail(bootstrap, settings.topic_determinations) as dets, Tail(bootstrap, settings.topic_dlq) as dlq:
            await dets.wait(len(past), timeout=120)
            await dlq.wait(len(future), timeout=60)
            await asyncio.sleep(1)
            assert w.alive(), "hypothesis-generated requests must never stop the worker"
            records, dlq_records = list(dets.records), list(dlq.records)
    finally:
        assert w.terminate() == 0
    _check_exactly_once(records, {r.request_id for r in past}, "chaos hypothesis")
    print(f"[chaos hypothesis] received in the future: {len(future)} dead-lettered {len(dlq_records)}")
    assert Counter(json.loads(r.value)["request_id"] for r in dlq_records) == Counter(r.request_id for r in future)
    assert {r.headers["pa_error_class"] for r in dlq_records} <= {b"received_in_future"}


def test_logs_of_all_chaos_runs_hold_no_patient_data() -> None:
    assert LOGS, "run with the other chaos tests"
    text = "\n".join(p.read_text(errors="replace") for p in LOGS if p.exists())
    # Short secrets (e.g. a two-letter generated name) would match anything; check the real ones.
    checked = {s for s in SECRETS if len(s) >= 4}
    leaked = sorted(s for s in checked if s in text)
    print(
        f"[chaos logs] {len(LOGS)} log files, {len(text)} bytes, {len(checked)} identifiers checked, "
        f"{len(leaked)} leaked"
    )
    assert text.strip(), "the workers wrote logs"
    assert not leaked, f"patient identifiers in logs: {leaked[:5]}"
