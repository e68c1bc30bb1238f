"""pa-worker report --topic on the real broker: committed determinations counted, an aborted
transaction's not (read_committed), every partition read to its end."""

from __future__ import annotations

import asyncio
import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from tests.worker.report_data import det, november

pytestmark = pytest.mark.kafka
REPORT = (sys.executable, "-m", "worker.cli", "report")
DATES = ("--from", "2026-11-01", "--to", "2026-11-30")


Record = dict[str, object]


async def _publish(bootstrap: str, topic: str, committed: list[Record], aborted: list[Record]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, transactional_id=f"report-test-{topic}", acks="all")
    await producer.start()
    try:
        async with producer.transaction():
            for i, d in enumerate(committed):
                await producer.send(topic, json.dumps(d).encode(), key=str(d["member_id"]).encode(), partition=i % 3)
        await producer.begin_transaction()
        for i, d in enumerate(aborted):
            await producer.send(topic, json.dumps(d).encode(), key=b"x", partition=i % 3)
        await producer.abort_transaction()
    finally:
        await producer.stop()


async def test_report_from_the_topic(bootstrap: str, unique: str, tmp_path: Path) -> None:
    topic = f"pa.determinations.report-{unique}"
    # an approval of R4 that never committed: R4 stays open
    ghost = det("GHOST", "R4", received="2026-11-20T15:00:00Z", decided="2026-11-21T15:00:00Z")
    await _publish(bootstrap, topic, november(), [ghost])
    out = tmp_path / "out"
    args = ["--topic", topic, "--bootstrap", bootstrap, "--from", "2026-11-01", "--to", "2026-11-30", "--out", str(out)]
    res = await asyncio.to_thread(
        subprocess.run,
        [*REPORT, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert "8 requests, 12 determinations" in res.stdout
    with (out / "requests_by_priority.csv").open(newline="") as fh:
        assert list(csv.reader(fh))[1:] == [
            ["standard", "5", "4", "0", "1"],
            ["expedited", "3", "1", "1", "1"],
            ["all", "8", "5", "1", "2"],
        ]
    assert "<svg" in (out / "report.html").read_text()


async def test_report_from_a_missing_topic_fails_clearly(bootstrap: str, unique: str, tmp_path: Path) -> None:
    res = await asyncio.to_thread(
        subprocess.run,
        [*REPORT, "--topic", f"no-such-{unique}", "--bootstrap", bootstrap, *DATES, "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert res.returncode == 2, res.stderr[-3000:]
    assert f"topic no-such-{unique} not found" in res.stderr
    assert not (tmp_path / "out").exists()
