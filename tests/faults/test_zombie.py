"""Zombie fencing on the real broker: a paused owner wakes up after its partitions have moved.

The design (one transactional producer per input partition, ``transactional.id`` =
``{group}-{topic}-{partition}``, because aiokafka has no KIP-447) exists for this case: the new
owner's ``init_transactions`` must abort the zombie's open transaction and fence its producer,
so whatever the zombie does after it wakes up never becomes visible.

Each test holds one transaction open (``tests.faults.proc``: every record and the offsets are
sent, the commit is not), SIGSTOPs the process at that marker, lets its session time out so
another instance takes the partition over and commits, then SIGCONTs the zombie: its commit must
be refused (``producer fenced`` in its log, once), and every output topic must hold exactly one
record per source record.
"""

from __future__ import annotations

import asyncio
import signal
import time
from datetime import timedelta
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from contracts import PADetermination
from tests.faults.ledger import aborted_records, read_ledger, wait_scheduler_read_all
from tests.faults.logwatch import assigned_partitions, log_events, owned_partitions, wait_for_log
from tests.kafkautil import Tail, WorkerProcess, create_topics, encode, make_requests, produce, settings_for
from worker.config import Settings

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

MALFORMED = [b"", b"{not json", b'{"schema_version": "9"}', b"[1, 2, 3]", b"\xff\xfe\x00"]


async def wait_committed(bootstrap: str, settings: Settings, partition: int, timeout: float) -> None:
    """Until the group's committed offset of input ``partition`` is its end offset: all of it processed."""
    tp = TopicPartition(settings.topic_requests, partition)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=settings.group_id, enable_auto_commit=False)
    await consumer.start()
    try:
        end = (await consumer.end_offsets([tp]))[tp]
        deadline = time.monotonic() + timeout
        while (committed := await consumer.committed(tp)) is None or committed < end:
            assert time.monotonic() < deadline, (
                f"partition {partition}: committed {committed} of {end} after {timeout} s"
            )
            await asyncio.sleep(0.2)
    finally:
        await consumer.stop()


def _partition_of(marker: str, prefix: str) -> int:
    """The partition of the transactional id ``{group}-{topic}-{partition}`` a hold marker names."""
    tid = marker.split()[-1]
    assert tid.startswith(prefix), (tid, prefix)
    return int(tid[len(prefix) :].split("-")[0])


def _input(n: int, prefix: str) -> list[tuple[bytes | None, bytes]]:
    records: list[tuple[bytes | None, bytes]] = []
    for i, r in enumerate(make_requests(n, prefix=prefix)):
        records.append(encode(r))
        if i % 40 == 0:
            records.append((b"bad", MALFORMED[(i // 40) % len(MALFORMED)]))
    return records


@pytest.mark.parametrize("dedupe", [True, False], ids=["dedupe-on", "dedupe-off"])
async def test_paused_request_processor_is_fenced_and_nothing_is_published_twice(
    bootstrap: str, unique: str, tmp_path: Path, dedupe: bool
) -> None:
    settings = settings_for(
        bootstrap, unique, batch_max_records=20, topic_partitions=4, test_disable_request_dedupe=not dedupe
    )
    await create_topics(settings)
    resume = tmp_path / "resume"
    zombie_log, other_log = tmp_path / "zombie.log", tmp_path / "other.log"
    hold = {
        "TEST_TXN_HOLD": "open",
        "TEST_TXN_ROLE": "requests",
        "TEST_TXN_AFTER": "3",
        "TEST_RESUME_FILE": str(resume),
    }
    zombie = WorkerProcess(settings, "--no-scheduler", log_path=zombie_log, module="tests.faults.proc", env=hold)
    other = WorkerProcess(settings, "--no-scheduler", log_path=other_log)
    zombie.start()
    other.start()
    try:
        # Both in the group, the four partitions split between them (each one's own log says which).
        await wait_for_log(zombie_log, '"partition assigned"', 60)
        await wait_for_log(other_log, '"partition assigned"', 60)
        deadline = time.monotonic() + 60

        def split() -> tuple[set[int], set[int]]:
            return owned_partitions(zombie_log), owned_partitions(other_log)

        while not (split()[0] and split()[1] and split()[0] | split()[1] == {0, 1, 2, 3}):
            assert time.monotonic() < deadline, f"partitions not split between the two workers: {split()}"
            await asyncio.sleep(0.2)
        print(f"[zombie] partitions owned, from each worker's log: {split()}")
        assert not split()[0] & split()[1]
        records = _input(1200, prefix=f"z{unique[:5]}")
        await produce(bootstrap, settings.topic_requests, records)
        (held,) = await wait_for_log(zombie_log, r"TXN-HOLD open", 60)
        zombie.signal(signal.SIGSTOP)  # the owner freezes with its transaction open
        partition = _partition_of(held, f"{settings.group_id}-{settings.topic_requests}-")
        print(f"[zombie] {held.split()[-1]} held open, process stopped; waiting for the session to expire")
        # The session expires, the other instance takes the partition over (its producer's
        # init_transactions fences the zombie's) and commits the held records' offsets. Waited on
        # the group's committed offset, not on the output: a zombie that is not fenced would hold
        # the output partitions' last stable offset back until its transaction timed out.
        await wait_committed(bootstrap, settings, partition, timeout=120)
        assert partition in owned_partitions(other_log)
        assert "producer fenced" not in zombie_log.read_text()
        async with Tail(bootstrap, settings.topic_determinations) as dets:
            resume.touch()
            zombie.signal(signal.SIGCONT)  # the zombie wakes up and commits its transaction
            fenced = await wait_for_log(zombie_log, r'"event": "producer fenced', 60)
            valid = sum(1 for key, _ in records if key != b"bad")
            await dets.reach(valid, timeout=120, what="determinations")
            await asyncio.sleep(2)  # give the zombie the chance to do anything more
            assert zombie.terminate() == 0
            assert other.terminate() == 0
            await dets.settle()
    finally:
        resume.touch()
        zombie.signal(signal.SIGCONT) if zombie.alive() else None
        zombie.ensure_dead()
        other.ensure_dead()
    events = [e for e in log_events(zombie_log) if e.get("event", "").startswith("producer fenced")]
    print(f"[zombie] fenced log lines: {[(e['event'], e['partition']) for e in events]}")
    assert [e["partition"] for e in events].count(partition) == 1, fenced
    ledger = await read_ledger(bootstrap, settings)
    aborted = await aborted_records(bootstrap, settings.topic_determinations)
    print(f"[zombie] determinations written in transactions that never committed: {aborted}")
    assert aborted > 0, "the zombie's open transaction had records in the log"
    ledger.assert_exactly_once(f"zombie requests dedupe={'on' if dedupe else 'off'}")


async def test_paused_reauth_scheduler_is_fenced_and_reminds_once(bootstrap: str, unique: str, tmp_path: Path) -> None:
    settings = settings_for(bootstrap, unique, topic_partitions=2)
    await create_topics(settings)
    records = [encode(r) for r in make_requests(27, prefix=f"zs{unique[:4]}")]
    await produce(bootstrap, settings.topic_requests, records)
    worker = WorkerProcess(settings, "--no-scheduler", log_path=tmp_path / "worker.log").start()
    resume = tmp_path / "resume"
    zombie_log, other_log = tmp_path / "zombie.log", tmp_path / "other.log"
    zombie = other = None
    try:
        async with Tail(bootstrap, settings.topic_determinations) as dets:
            await dets.reach(len(records), timeout=60, what="determinations")
        # A first scheduler takes every approval in on the eve of the first decision (nothing due
        # yet) and stops; so the zombie's first transaction is one of reminders.
        eve = min(PADetermination.model_validate_json(r.value).decided_at for r in dets.records).date()
        eve -= timedelta(days=1)
        first = WorkerProcess(
            settings,
            "--scheduler-only",
            log_path=tmp_path / "first.log",
            module="tests.faults.proc",
            env={"TEST_NOW": f"{eve.isoformat()}T00:00:00+00:00"},
        ).start()
        try:
            await wait_scheduler_read_all(bootstrap, settings, timeout=60)
        finally:
            assert first.terminate() == 0
        later = {"TEST_NOW": "2031-01-01T00:00:00+00:00"}  # past every due date: every approval is due
        hold = {**later, "TEST_TXN_HOLD": "open", "TEST_TXN_ROLE": "reauth", "TEST_RESUME_FILE": str(resume)}
        zombie = WorkerProcess(settings, "--scheduler-only", log_path=zombie_log, module="tests.faults.proc", env=hold)
        zombie.start()
        (held,) = await wait_for_log(zombie_log, r"TXN-HOLD open", 60)
        zombie.signal(signal.SIGSTOP)
        partition = _partition_of(held, f"{settings.reauth_group_id}-{settings.topic_authorizations}-")
        print(f"[zombie-scheduler] {held.split()[-1]} held open with its reminders, process stopped")
        ledger = await read_ledger(bootstrap, settings, scheduler_day=eve)
        assert ledger.scheduled == ledger.approved, "every approval was taken in"
        other = WorkerProcess(settings, "--scheduler-only", log_path=other_log, module="tests.faults.proc", env=later)
        other.start()
        async with Tail(bootstrap, settings.topic_reauth_due) as reminders:
            await reminders.reach(
                len(ledger.scheduled), timeout=120, what="reminders sent by the instance that took over"
            )
            assert partition in assigned_partitions(other_log, "reauth partition assigned; rebuilding")
            resume.touch()
            zombie.signal(signal.SIGCONT)
            fenced = await wait_for_log(zombie_log, r'"event": "scheduler producer fenced', 60)
            await asyncio.sleep(2)
            assert zombie.terminate() == 0
            assert other.terminate() == 0
            await reminders.settle()
    finally:
        resume.touch()
        for p in (zombie, other):
            if p is not None:
                p.signal(signal.SIGCONT) if p.alive() else None
                p.ensure_dead()
        worker.terminate()
    events = [e for e in log_events(zombie_log) if e.get("event", "").startswith("scheduler producer fenced")]
    assert [e["partition"] for e in events].count(partition) == 1, fenced
    ledger = await read_ledger(bootstrap, settings, scheduler_day=eve)
    aborted = await aborted_records(bootstrap, settings.topic_reauth_due)
    print(f"[zombie-scheduler] reminders written in transactions that never committed: {aborted}")
    assert aborted > 0, "the zombie's open transaction had reminders in the log"
    ledger.assert_exactly_once("zombie scheduler")
