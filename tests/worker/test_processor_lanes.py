"""The request processor on the stage runtime, on in-memory fakes: lanes, the next-offset filter,
dedupe and routing.

The runtime runs its real loop (``start``, ``run``, ``stop``) over ``tests/worker/fakes.py``:
the test plays the group coordinator (``FakeConsumer.assign``), holds commits with a
``CommitGate`` and waits for states with ``FakeCluster.wait_until``; nothing sleeps for
ordering. Fencing against a real broker, kill -9 and restarts stay in tests/faults.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import TopicPartition

from policy import DEFAULT_SETTINGS
from tests.worker.fakes import FakeCluster, FakeConsumer, FakeKafka, FakeProducer, connection_error
from worker.config import Settings
from worker.dedupe import RequestIndex
from worker.handler import RequestHandler, Topics
from worker.records import OutRecord, Published, Result, Source
from worker.runtime import StageRuntime
from worker.stages.requests import RequestProcessor

IN = "in"
OUT = "out"
GROUP = "g"


@dataclass
class Copy:
    """A handler: each input record to ``OUT``'s partition of the same number; it notes what it saw."""

    seen: list[tuple[int, int]] = field(default_factory=list)

    def __call__(self, key: bytes | None, value: bytes | None, source: Source) -> Result:
        self.seen.append((source.partition, source.offset))
        return Published((OutRecord(OUT, key, value or b"", [], partition=source.partition),))


@dataclass
class Rig:
    cluster: FakeCluster
    consumer: FakeConsumer
    proc: StageRuntime[RequestIndex]
    producers: list[FakeProducer]

    def tp(self, partition: int) -> TopicPartition:
        return TopicPartition(IN, partition)

    def tid(self, partition: int) -> str:
        return f"{GROUP}-{IN}-{partition}"

    def send(self, partition: int, *values: bytes, key: bytes | None = None) -> None:
        for v in values:
            self.cluster.append(IN, partition, key, v)

    def out(self, partition: int, topic: str = OUT) -> list[bytes | None]:
        return [r.value for r in self.cluster.records(topic, partition)]

    def committed(self, partition: int) -> int | None:
        return self.cluster.committed_offsets.get((GROUP, self.tp(partition)))

    async def until(self, pred: Callable[[], bool]) -> None:
        await self.cluster.wait_until(pred)


@asynccontextmanager
async def rig(
    handle: Callable[[bytes | None, bytes | None, Source], Result],
    *,
    assign: Sequence[int] = (0,),
    batch: int = 2,
    index: str | None = None,
    topics: dict[str, int] | None = None,
    cluster: FakeCluster | None = None,
) -> AsyncIterator[Rig]:
    """A started processor of ``IN`` (4 partitions) in group ``GROUP``, running, with ``assign`` assigned."""
    cluster = cluster or FakeCluster()
    for name, n in {IN: 4, OUT: 4, **(topics or {})}.items():
        cluster.topic(name, n)
    settings = Settings(group_id=GROUP, topic_requests=IN, batch_max_records=batch, batch_timeout_ms=50)
    kafka = FakeKafka(cluster)
    processor = RequestProcessor(
        settings, handle, index_topic=index, output_topics=[t for t in topics or {OUT: 4} if t != index]
    )
    proc = StageRuntime(processor, kafka.clients(), batch_max_records=batch, batch_timeout_ms=50)
    await proc.start()
    stop = asyncio.Event()
    task = asyncio.create_task(proc.run(stop))
    r = Rig(cluster, kafka.consumer, proc, kafka.producers)
    try:
        await r.consumer.assign(*(r.tp(p) for p in assign))
        await r.until(lambda: proc.ready)
        yield r
    finally:
        stop.set()
        for gate in cluster.gates.values():
            gate.open()
        cluster.notify()
        await asyncio.wait_for(task, 5)
        await proc.stop()


# -- lanes -------------------------------------------------------------------------------------


async def test_partitions_commit_independently_a_slow_commit_holds_only_its_own_lane() -> None:
    copy = Copy()
    async with rig(copy, assign=(0, 1)) as r:
        gate = r.cluster.gate(r.tid(0))  # partition 0's commits hang
        r.send(0, b"a0", b"a1")
        await r.until(lambda: gate.waiting == 1)
        r.send(1, b"b0", b"b1", b"b2", b"b3")
        await r.until(lambda: r.committed(1) == 4)  # two transactions of partition 1 meanwhile
        assert r.out(1) == [b"b0", b"b1", b"b2", b"b3"]
        assert r.out(0) == [] and r.committed(0) is None and gate.waiting == 1
        gate.open()
        await r.until(lambda: r.committed(0) == 2)
        assert r.out(0) == [b"a0", b"a1"]
        assert {t.tid for t in r.cluster.transactions} == {r.tid(0), r.tid(1)}  # one producer per partition


async def test_a_batch_s_records_are_released_once_sent_while_its_commit_waits() -> None:
    """The producer's batches hold a batch's bytes once they are sent: the context lets go of its
    records then, not after the commit (issue #25: a slow commit no longer keeps a batch's records
    alive twice). An abort starts the batch over from its input (the test above)."""
    async with rig(Copy(), batch=2) as r:
        gate = r.cluster.gate(r.tid(0))
        r.send(0, b"a0", b"a1")
        await r.until(lambda: gate.waiting == 1)  # sent, the commit held
        ctx = r.proc.tasks[r.tp(0)].ctx
        assert ctx.emitted == []
        assert [v for *_, v in r.producers[-1].pending] == [b"a0", b"a1"]  # the producer holds them
        gate.open()
        await r.until(lambda: r.committed(0) == 2)
        assert r.out(0) == [b"a0", b"a1"]


async def test_a_lane_with_two_batches_queued_is_paused_and_resumed_below_one() -> None:
    async with rig(Copy(), batch=2) as r:
        tp = r.tp(0)
        gate = r.cluster.gate(r.tid(0))

        def acts(since: int) -> list[str]:
            return [a for a, t, _ in r.consumer.calls[since:] if t == tp and a != "seek"]

        r.send(0, *(b"v%d" % i for i in range(10)))
        await r.until(lambda: gate.waiting == 1 and tp in r.consumer.paused)
        # batch 1 in its transaction, two batches (4 records) queued: the fetch stopped there
        assert r.consumer.positions[tp] == 6 and r.proc.in_flight() == 6
        mark = len(r.consumer.calls)
        gate.release()  # batch 1 commits, batch 2 starts: one full batch still queued, still paused
        await r.until(lambda: r.committed(0) == 2 and gate.waiting == 1)
        assert acts(mark) == [] and tp in r.consumer.paused and r.consumer.positions[tp] == 6
        mark = len(r.consumer.calls)
        gate.release()  # batch 2 commits, batch 3 starts and leaves nothing queued: resumed
        await r.until(lambda: r.committed(0) == 4 and gate.waiting == 1 and r.consumer.positions[tp] > 6)
        assert acts(mark)[0] == "resume"
        gate.open()
        await r.until(lambda: r.committed(0) == 10)
        assert r.out(0) == [b"v%d" % i for i in range(10)]
        assert tp not in r.consumer.paused


# -- the next-offset filter ---------------------------------------------------------------------


async def test_records_below_the_next_offset_due_are_never_processed_again() -> None:
    copy = Copy()
    async with rig(copy, batch=10) as r:
        tp = r.tp(0)
        r.send(0, b"a", b"b", b"c")
        await r.until(lambda: r.committed(0) == 3)
        begun = r.producers[-1].begun
        r.consumer.seek(tp, 0)  # a stale fetch: offsets 0-2 again, nothing new
        await r.until(lambda: r.consumer.positions[tp] == 3 and r.proc.in_flight() == 0)
        r.send(0, b"d", b"e")
        r.consumer.seek(tp, 1)  # offsets 1-2 again, then the new 3-4
        await r.until(lambda: r.committed(0) == 5)
        assert r.out(0) == [b"a", b"b", b"c", b"d", b"e"]
        assert copy.seen == [(0, 0), (0, 1), (0, 2), (0, 3), (0, 4)]
        assert r.producers[-1].begun == begun + 1  # the all-stale batch opened no transaction


# -- abort, restart, fencing ---------------------------------------------------------------------


async def test_an_aborted_batch_restarts_the_lane_from_its_committed_offset_and_skips_nothing() -> None:
    copy = Copy()
    async with rig(copy, batch=2) as r:
        tp = r.tp(0)
        r.send(0, b"a", b"b")
        await r.until(lambda: r.committed(0) == 2)
        r.cluster.fail_next_commit = connection_error()
        r.send(0, b"c", b"d", b"e")
        await r.until(lambda: r.committed(0) == 5)
        assert r.out(0) == [b"a", b"b", b"c", b"d", b"e"]
        assert copy.seen[:2] == [(0, 0), (0, 1)]
        assert copy.seen[2:4] == [(0, 2), (0, 3)]  # the aborted batch ...
        assert [o for _, o in copy.seen[4:]] == [2, 3, 4]  # ... again, from the committed offset
        assert len(r.producers) == 2 and r.producers[0].stopped  # a new producer for the retry
        assert ("seek", tp, 2) in r.consumer.calls
        assert r.proc.ready


async def test_a_fenced_lane_is_retired_and_asks_the_group_to_rejoin() -> None:
    copy = Copy()
    async with rig(copy, assign=(0, 1)) as r:
        r.send(0, b"a")
        await r.until(lambda: r.committed(0) == 1)
        await FakeProducer(r.cluster, r.tid(0)).start()  # another instance took partition 0
        epoch = r.cluster.epochs[r.tid(0)]
        r.send(0, b"zombie")
        await r.until(lambda: r.consumer._coordinator.rejoins == 1)
        assert r.tp(0) not in r.proc.tasks  # dropped: not taken up until the group assigns it again
        r.send(0, b"more")
        r.send(1, b"x")  # the other lane goes on
        await r.until(lambda: r.committed(1) == 1)
        assert r.out(0) == [b"a"] and r.committed(0) == 1
        assert r.cluster.epochs[r.tid(0)] == epoch  # the retired lane never reopened (fencing the owner)
        assert copy.seen.count((0, 1)) == 1 and (0, 2) not in copy.seen


# -- routing ------------------------------------------------------------------------------------

# Kafka's Java client, UtilsTest.testMurmur2: murmur2 of these keys, as signed 32-bit ints.
MURMUR2 = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}


def java_partition(key: bytes, n: int) -> int:
    """The Java client's default partitioner for a keyed record: toPositive(murmur2(key)) % n."""
    return (MURMUR2[key] & 0x7FFFFFFF) % n


async def test_records_are_routed_like_the_java_client_and_full_batches_are_split() -> None:
    n = 7
    records = (
        *(OutRecord("routed", k, b"key:" + k, []) for k in MURMUR2),
        OutRecord("routed", b"21", b"by-partition-key", [], partition_key=b"foobar"),
        OutRecord("routed", b"21", b"explicit", [], partition=6),
        OutRecord("routed", None, b"keyless", []),
        *(OutRecord("routed", None, b"many%d" % i, [], partition=0) for i in range(7)),
    )

    def handle(key: bytes | None, value: bytes | None, source: Source) -> Result:
        return Published(records)

    async with rig(handle, assign=(3,), topics={"routed": n}) as r:
        r.send(3, b"x")
        await r.until(lambda: r.committed(3) == 1)
        where = {rec.value: p for p in range(n) for rec in r.cluster.records("routed", p)}
        for k in MURMUR2:
            assert where[b"key:" + k] == java_partition(k, n), k
        assert where[b"by-partition-key"] == java_partition(b"foobar", n) != java_partition(b"21", n)
        assert where[b"explicit"] == 6
        assert where[b"keyless"] == 3 % n  # the input partition modulo the output's count
        assert [rec.value for rec in r.cluster.records("routed", 0)][-7:] == [b"many%d" % i for i in range(7)]
        assert [b for b in r.cluster.batches if b[:2] == ("routed", 0)][-3:] == [
            ("routed", 0, 3),
            ("routed", 0, 3),
            ("routed", 0, 1),
        ]  # FakeBatch holds 3: a full batch is sent and the next started, order kept
        (txn,) = r.cluster.transactions  # all of it in the one transaction of the input record
        assert len(txn.records) == len(records) and txn.offsets == {r.tp(3): 1}


async def test_keyless_records_follow_their_input_partition() -> None:
    def handle(key: bytes | None, value: bytes | None, source: Source) -> Result:
        return Published((OutRecord("three", None, value or b"", []),))

    async with rig(handle, assign=(0, 1, 2, 3), topics={"three": 3}) as r:
        for p in range(4):
            r.send(p, b"from%d" % p)
        await r.until(lambda: all(r.committed(p) == 1 for p in range(4)))
        assert [sorted(r.out(p, "three")) for p in range(3)] == [[b"from0", b"from3"], [b"from1"], [b"from2"]]


# -- dedupe inside the processor ------------------------------------------------------------------

EXAMPLES = Path(__file__).resolve().parents[2] / "contracts" / "examples"
VALUE = (EXAMPLES / "valid" / "initial_approved.json").read_bytes()
TOPICS = Topics()
INDEX = "index"


def _handler() -> Callable[[bytes | None, bytes | None, Source], Result]:
    return RequestHandler(DEFAULT_SETTINGS, TOPICS, 65_536, clock=lambda: datetime(2026, 11, 28, tzinfo=UTC)).handle


def _dedupe_topics() -> dict[str, int]:
    return {TOPICS.determinations: 4, TOPICS.dlq: 4, TOPICS.authorizations: 4, INDEX: 4}


def _published(r: Rig) -> list[bytes | None]:
    return [rec.value for p in range(4) for rec in r.cluster.records(TOPICS.determinations, p)]


async def test_a_repeat_in_the_batch_or_a_later_batch_publishes_nothing_and_the_index_shares_the_transaction() -> None:
    async with rig(_handler(), assign=(2,), batch=10, index=INDEX, topics=_dedupe_topics()) as r:
        r.send(2, VALUE, VALUE, key=b"k")
        await r.until(lambda: r.committed(2) == 2)
        assert len(_published(r)) == 1
        (txn,) = r.cluster.transactions
        index = [rec for rec in txn.records if rec[0] == INDEX]
        (rec,) = index  # one index record, in the transaction that published the determination
        assert rec[1] == 2  # index partition = input partition, whatever the key hashes to
        assert {TOPICS.determinations, INDEX} <= {t for t, *_ in txn.records}
        assert txn.offsets == {r.tp(2): 2}
        assert r.out(2, INDEX) == [rec[3]]
        r.send(2, VALUE, key=b"k")  # submitted again later
        await r.until(lambda: r.committed(2) == 3)
        assert len(_published(r)) == 1 and len(r.out(2, INDEX)) == 1
        assert r.cluster.transactions[-1].records == []  # only the offset moved


async def test_an_aborted_batch_teaches_the_index_nothing_so_its_retry_publishes_once() -> None:
    async with rig(_handler(), assign=(2,), batch=10, index=INDEX, topics=_dedupe_topics()) as r:
        r.cluster.fail_next_commit = connection_error()
        r.send(2, VALUE, key=b"k")
        await r.until(lambda: r.committed(2) == 1)
        assert len(_published(r)) == 1 and len(r.out(2, INDEX)) == 1


async def test_the_index_is_restored_from_the_changelog_partition_of_the_input_partition() -> None:
    cluster = FakeCluster()
    det = _handler()(b"k", VALUE, Source(IN, 2, 0))
    assert isinstance(det, Published) and det.determination is not None
    cluster.topic(INDEX, 4)
    cluster.append(INDEX, 2, det.determination.request_id.encode(), det.determination.determination_id.encode())
    async with rig(_handler(), assign=(1, 2), batch=10, index=INDEX, topics=_dedupe_topics(), cluster=cluster) as r:
        r.send(2, VALUE, key=b"k")  # published before this worker (partition 2's index says so)
        r.send(1, VALUE, key=b"k")  # partition 1's index does not know it
        await r.until(lambda: r.committed(2) == 1 and r.committed(1) == 1)
        assert len(_published(r)) == 1
        assert len(r.out(1, INDEX)) == 1 and len(r.out(2, INDEX)) == 1
