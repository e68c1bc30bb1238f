"""pa-worker report --topic and --notices-topic on the real broker: committed determinations and
notices counted, an aborted transaction's not (read_committed), every partition read to its end."""

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

from tests.worker.report_data import det, notice, november, november_notices

pytestmark = pytest.mark.kafka
REPORT = (sys.executable, "-m", "worker.cli", "report")
DATES = ("--from", "2026-11-01", "--to", "2026-11-30")


Record = dict[str, object]


async def _publish(bootstrap: str, topic: str, committed: list[Record], aborted: list[Record]) -> None:
    """``committed`` in one transaction, ``aborted`` in one that aborts, over 3 partitions."""
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


async def test_report_from_the_topics(bootstrap: str, unique: str, tmp_path: Path) -> None:
    topic, notices_topic = f"pa.determinations.report-{unique}", f"pa.notices.report-{unique}"
    # an approval of R4 that never committed: R4 stays open past due
    ghost = det("GHOST", "R4", received="2026-11-20T15:00:00Z", decided="2026-11-21T15:00:00Z")
    await _publish(bootstrap, topic, november(), [ghost])
    # a member notice of R12's denial at 20 h that never committed: R12 stays notified late (26 h)
    early = notice("GHOST-N", "D12F", "R12", sent="2026-11-19T08:00:00Z", kind="denial")
    await _publish(bootstrap, notices_topic, november_notices(), [early])
    out = tmp_path / "out"
    args = ["--topic", topic, "--notices-topic", notices_topic, "--bootstrap", bootstrap, *DATES, "--out", str(out)]
    res = await asyncio.to_thread(
        subprocess.run,
        [*REPORT, *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    # the same figures as from the files (tests/worker/test_report.py): 18 records, D1 twice
    assert "10 requests in scope, 1 excluded; 18 determination records read" in res.stdout
    with (out / "outcomes.csv").open(newline="") as fh:
        assert list(csv.reader(fh))[1:] == [
            ["standard", "6", "4", "3", "75.0", "1", "25.0", "0", "0.0", "1", "25.0", "2", "1"],
            ["expedited", "4", "3", "1", "33.3", "0", "0.0", "2", "66.7", "2", "66.7", "1", "1"],
            ["all", "10", "7", "4", "57.1", "1", "14.3", "2", "28.6", "3", "42.9", "3", "2"],
            ["excluded (other lines)", "1", "1", "0", "0.0", "0", "0.0", "1", "100.0", "1", "100.0", "0", "0"],
        ]
    with (out / "timeliness.csv").open(newline="") as fh:
        # decided 6 / 9, notified 5 / 9: the aborted notice is not read
        assert list(csv.reader(fh))[-1] == ["all", "7", "2", "9", "6", "66.7", "5", "55.6", "2", "1"]
    with (out / "meta.csv").open(newline="") as fh:
        meta = dict(list(csv.reader(fh))[1:])
    assert meta["determinations_source"] == f"topic {topic}" and meta["notices_source"] == f"topic {notices_topic}"
    assert (meta["notice_records_read"], meta["notice_records_duplicate"]) == ("11", "1")
    assert "<svg" in (out / "report.html").read_text()


async def test_report_from_a_missing_topic_fails_clearly(bootstrap: str, unique: str, tmp_path: Path) -> None:
    res = await asyncio.to_thread(
        subprocess.run,
        [*REPORT, "--topic", f"no-such-{unique}", "--bootstrap", bootstrap, *DATES, "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert res.returncode == 2, res.stderr[-3000:]
    assert f"topic no-such-{unique} not found" in res.stderr
    assert not (tmp_path / "out").exists()
