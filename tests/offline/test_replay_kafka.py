"""``pa-worker replay`` from a topic range on the real broker (issue #26: "a broker test: replay from a
topic range"). A real worker (``pa-worker run``) decides requests from its requests topic and publishes its
determinations; the replay reads a range of the requests topic (read_committed: an aborted transaction's
requests are never seen) and the determinations topic, and compares:

* the whole topic, against the worker's own determinations: nothing changes (same engine, same settings,
  each request decided on its receipt date), a record that is not JSON is named by partition and offset;
* a range by time (``--from`` a timestamp between two batches) and by offsets (``--to-offset 2``): exactly
  the requests of the range;
* a candidate version (whole-vial billing off): the first approvals without requested units lose 44 units
  (1988 -> 1944 for ``initial_approved``; R24), nothing else moves.
"""

from __future__ import annotations

import asyncio
import csv
import json
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from contracts import PARequest
from policy import DEFAULT_SETTINGS, evaluate
from tests.kafkautil import VALID_EXAMPLES, WorkerProcess, create_topics, produce, read_all, settings_for
from tests.offline.replay_data import example, moved, version_file

pytestmark = pytest.mark.kafka
REPLAY = (sys.executable, "-m", "offline.replay")


def _requests(prefix: str, n: int, received_at: datetime) -> list[dict[str, object]]:
    out = []
    for i in range(n):
        data = moved(example(VALID_EXAMPLES[i % len(VALID_EXAMPLES)]), received_at)
        data["request_id"] = f"{prefix}-{i:04d}"
        data["member"]["member_id"] = f"M{prefix}{i:05d}"  # type: ignore[index]
        out.append(data)
    return out


def _records(reqs: list[dict[str, object]]) -> list[tuple[bytes | None, bytes]]:
    return [(str(r["member"]["member_id"]).encode(), json.dumps(r).encode()) for r in reqs]  # type: ignore[index]


async def _aborted(bootstrap: str, topic: str, records: list[tuple[bytes | None, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, transactional_id=f"replay-abort-{topic}", acks="all")
    await producer.start()
    try:
        await producer.begin_transaction()
        for key, value in records:
            await producer.send(topic, value, key=key)
        await producer.abort_transaction()
    finally:
        await producer.stop()


async def _replay(*args: str) -> tuple[int, str, dict[str, str]]:
    out = Path(args[args.index("--out") + 1])
    res = await asyncio.to_thread(
        subprocess.run, [*REPLAY, *args], capture_output=True, text=True, timeout=240, check=False
    )
    meta = dict(csv.reader((out / "meta.csv").open(newline=""))) if (out / "meta.csv").exists() else {}
    return res.returncode, res.stderr, meta


def _csv(path: Path) -> list[list[str]]:
    with path.open(newline="") as f:
        return list(csv.reader(f))[1:]


async def test_replay_from_a_topic_range_against_the_published_determinations(
    bootstrap: str, unique: str, tmp_path: Path
) -> None:
    settings = settings_for(bootstrap, unique, topic_partitions=3)
    await create_topics(settings)
    # received a minute ago, so the worker decides on the receipt date, as the replay does
    now = datetime.now(UTC) - timedelta(minutes=1)
    first = _requests(f"A{unique[:4]}", 20, now)
    second = _requests(f"B{unique[:4]}", 10, now)
    ghost = _requests(f"G{unique[:4]}", 3, now)
    await produce(bootstrap, settings.topic_requests, _records(first))
    await asyncio.sleep(1.5)
    between = datetime.now(UTC)
    await asyncio.sleep(1.5)
    await produce(bootstrap, settings.topic_requests, [*_records(second), (b"bad", b"{not a request")])
    await _aborted(bootstrap, settings.topic_requests, _records(ghost))

    worker = WorkerProcess(settings, "--no-scheduler", "--no-reviews", log_path=tmp_path / "worker.log").start()
    try:
        dets = await read_all(bootstrap, settings.topic_determinations, expect=30, timeout=120)
    finally:
        assert worker.terminate() == 0
    assert len(dets) == 30
    topic_records = await read_all(bootstrap, settings.topic_requests, timeout=30, idle=1.0)
    assert len(topic_records) == 31  # 30 requests and the bad record; the aborted three are never read
    (bad,) = [r for r in topic_records if r.value == b"{not a request"]

    common = ["--published-topic", settings.topic_determinations, "--bootstrap", bootstrap]
    common += ["--no-allow-automated-denials", "--requests-topic", settings.topic_requests]

    # the whole topic: the worker's own engine and settings decided every request: nothing changes
    code, err, meta = await _replay(*common, "--out", str(tmp_path / "all"))
    assert code == 1, err  # written; one record could not be read
    assert (meta["requests_read"], meta["compared"], meta["changed"]) == ("31", "30", "0"), err
    assert (meta["published_read"], meta["requests_without_published_determination"]) == ("30", "0")
    [named] = _csv(tmp_path / "all" / "unreadable.csv")
    assert named[:2] == ["requests", f"partition {bad.partition} offset {bad.offset}"]
    assert named[2].startswith("not_json:") and "not a request" not in named[2]
    decisions = _csv(tmp_path / "all" / "decisions.csv")
    assert all(row[-1] == "unchanged" for row in decisions) and sum(int(r[2]) for r in decisions) == 30

    # a range by time: the second batch only (and the bad record, produced with it)
    code, err, meta = await _replay(*common, "--from", between.isoformat(), "--out", str(tmp_path / "time"))
    assert code == 1, err
    assert (meta["requests_read"], meta["compared"], meta["published_without_request_in_input"]) == ("11", "10", "20")

    # a range by offsets: offsets 0 and 1 of every partition
    code, err, meta = await _replay(*common, "--from-offset", "0", "--to-offset", "2", "--out", str(tmp_path / "off"))
    in_range = [r for r in topic_records if r.offset < 2]
    assert meta["requests_read"] == str(len(in_range)), err
    assert meta["compared"] == str(sum(1 for r in in_range if r is not bad))
    assert code == (1 if bad in in_range else 0)

    # a candidate version: the step-up doses billed at dose; worked out per request at its receipt
    cand = version_file(tmp_path / "candidate.toml", "broker-candidate", step_up_whole_vial_billing=False)
    code, err, meta = await _replay(*common, "--candidate", str(cand), "--out", str(tmp_path / "cand"))
    assert code == 1, err
    expected: Counter[tuple[str, str, str]] = Counter()
    off = DEFAULT_SETTINGS.replace(step_up_whole_vial_billing=False)
    for data in [*first, *second]:
        req = PARequest.model_validate_json(json.dumps(data))
        a = evaluate(req, req.received_at).authorization
        b = evaluate(req, req.received_at, off).authorization
        if a is not None and b is not None and a.max_units != b.max_units:
            expected[(str(a.max_units), str(b.max_units), f"{b.max_units - a.max_units:+d}")] += 1
    got = Counter({(r[0], r[1], r[2]): int(r[3]) for r in _csv(tmp_path / "cand" / "units.csv")})
    # initial_approved and initial_approved_reauth_due_now, three times each: 1988 -> 1944
    assert got == expected and expected[("1988", "1944", "-44")] == 6
    assert meta["decisions_changed"] == "0" and meta["units_changed"] == str(sum(expected.values()))
