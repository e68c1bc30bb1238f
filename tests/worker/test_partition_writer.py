"""The partition writer on in-memory fakes: one place for commit, abort, fencing and their metrics.

The real broker's fencing, kill -9 and restarts are in tests/faults; here each outcome of a
transaction is checked on its own, fast and without a broker.
"""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import TopicPartition
from structlog.testing import capture_logs

from tests.worker.fakes import FakeCluster, FakeProducer, connection_error
from worker import metrics as m
from worker.runtime import PartitionLost, PartitionWriter, TransactionAborted

TP = TopicPartition("pa.requests", 2)


def _count(outcome: str) -> float:
    return m.TRANSACTIONS.labels(outcome)._value.get()


def _writer(cluster: FakeCluster, made: list[FakeProducer] | None = None, prefix: str = "") -> PartitionWriter:
    def factory(tid: str) -> FakeProducer:
        p = FakeProducer(cluster, tid)
        if made is not None:
            made.append(p)
        return p

    return PartitionWriter(TP, "pa-worker", "requests", factory, log_prefix=prefix)


def _cluster() -> FakeCluster:
    c = FakeCluster()
    c.topic("out", 3)
    return c


async def test_transactional_id_is_group_topic_partition() -> None:
    made: list[FakeProducer] = []
    w = _writer(_cluster(), made)
    await w.open()
    assert w.transactional_id == "pa-worker-pa.requests-2" == made[0].tid


async def test_commit_publishes_the_records_and_the_offsets_together() -> None:
    cluster = _cluster()
    w = _writer(cluster)
    await w.open()
    before = _count("committed")
    async with w.transaction({TP: 11}) as txn:
        await txn.send("out", b"a", key=b"k", partition=1)
        batch = txn.create_batch()
        batch.append(key=None, value=b"b", timestamp=None, headers=[])
        await txn.send_batch(batch, "out", 0)
        assert await txn.partitions("out") == 3
    assert cluster.values("out") == [b"b", b"a"]
    assert cluster.committed_offsets[("pa-worker", TP)] == 11
    assert _count("committed") == before + 1
    assert w.failures == 0


async def test_an_error_in_the_body_aborts_closes_the_producer_and_counts_an_abort() -> None:
    cluster = _cluster()
    made: list[FakeProducer] = []
    w = _writer(cluster, made)
    await w.open()
    before = _count("aborted")
    with capture_logs() as logs, pytest.raises(TransactionAborted):
        async with w.transaction({TP: 5}) as txn:
            await txn.send("out", b"never", partition=0)
            raise ValueError("bug")
    assert cluster.values("out") == []
    assert ("pa-worker", TP) not in cluster.committed_offsets
    assert made[0].aborts == 1 and made[0].stopped
    assert not w.is_open
    assert _count("aborted") == before + 1
    assert w.failures == 1
    assert [e["event"] for e in logs if e["log_level"] == "error"] == [
        "transaction aborted; new producer, starting over from the last commit"
    ]
    with pytest.raises(TransactionAborted):  # closed: open() before the next transaction
        async with w.transaction():
            pass


async def test_a_failed_commit_is_aborted_and_a_failed_abort_is_logged_not_hidden() -> None:
    cluster = _cluster()
    w = _writer(cluster)
    await w.open()
    cluster.fail_next_commit = connection_error()
    cluster.fail_next_abort = connection_error()
    with capture_logs() as logs, pytest.raises(TransactionAborted):
        async with w.transaction({TP: 1}) as txn:
            await txn.send("out", b"x", partition=0)
    events = [e["event"] for e in logs]
    assert "abort failed" in events
    assert cluster.values("out") == []


async def test_fencing_becomes_partition_lost_once() -> None:
    cluster = _cluster()
    zombie, other = _writer(cluster, prefix="scheduler "), _writer(cluster)
    await zombie.open()
    await other.open()  # the new owner's InitProducerId fences the zombie
    before = _count("aborted")
    with capture_logs() as logs, pytest.raises(PartitionLost) as lost:
        async with zombie.transaction({TP: 3}) as txn:
            await txn.send("out", b"zombie", partition=0)
    assert lost.value.tp == TP
    assert [e["event"] for e in logs if e["log_level"] == "warning"] == [
        "scheduler producer fenced: partition now owned elsewhere"
    ]
    assert not zombie.is_open
    assert _count("aborted") == before + 1
    async with other.transaction({TP: 3}) as txn:
        await txn.send("out", b"owner", partition=0)
    assert cluster.values("out") == [b"owner"]


async def test_a_cancelled_transaction_is_aborted_and_counted_and_the_cancellation_goes_on() -> None:
    cluster = _cluster()
    made: list[FakeProducer] = []
    w = _writer(cluster, made)
    await w.open()
    entered = asyncio.Event()

    async def body() -> None:
        async with w.transaction({TP: 9}) as txn:
            await txn.send("out", b"x", partition=0)
            entered.set()
            await asyncio.sleep(3600)

    before = _count("aborted")
    task = asyncio.create_task(body())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert made[0].aborts == 1
    assert _count("aborted") == before + 1
    assert cluster.values("out") == []


async def test_backoff_grows_with_failures_and_a_commit_resets_it(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []

    async def fake_sleep(s: float) -> None:
        slept.append(s)

    monkeypatch.setattr(asyncio, "sleep", fake_sleep)
    w = _writer(_cluster())
    await w.backoff()
    assert slept == []
    w.failures = 1
    await w.backoff()
    w.failures = 9
    await w.backoff()
    assert slept == [0.4, 5.0]
    await w.open()
    async with w.transaction():
        pass
    assert w.failures == 0
