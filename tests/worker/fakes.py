"""In-memory fakes of the Kafka client slice the runtime uses (``worker.runtime.ports``).

For fast unit tests of the runtime's own logic (transactions, fencing turned into
``PartitionLost``, abort, restore, the processor's lanes). They model what the runtime relies
on and no more: a transactional id's newest producer fences the older ones, a transaction's
records become visible at commit and never after an abort, offsets go with the transaction, a
group consumer fetches from its position and never from a paused partition.

Nothing here sleeps for ordering: a test holds a producer's commits with a :class:`CommitGate`
and waits for the state it needs with :meth:`FakeCluster.wait_until`, woken by every change. Fencing, kill -9
and restarts of the real thing are tested against the real broker (tests/faults).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import IllegalStateError, KafkaConnectionError, ProducerFenced

from worker.kafka import TopicsMissing
from worker.runtime import Clients


@dataclass(frozen=True)
class FakeRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: int | None = None
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True)
class CommittedTxn:
    """One committed transaction: its records (topic, partition, key, value) and its offsets."""

    tid: str
    records: list[tuple[str, int, bytes | None, bytes | None]]
    offsets: dict[TopicPartition, int]


class CommitGate:
    """Holds a producer's commits (``FakeCluster.gates[tid]``) until the test lets them through."""

    def __init__(self, cluster: FakeCluster) -> None:
        self.cluster = cluster
        self.waiting = 0
        self.opened = False
        self._sem = asyncio.Semaphore(0)

    async def wait(self) -> None:
        if self.opened:
            return
        self.waiting += 1
        self.cluster.notify()
        try:
            await self._sem.acquire()
        finally:
            self.waiting -= 1

    def release(self) -> None:
        """Let one waiting (or the next) commit through."""
        self._sem.release()

    def open(self) -> None:
        self.opened = True
        for _ in range(self.waiting):
            self._sem.release()


@dataclass
class FakeCluster:
    partitions: dict[str, int] = field(default_factory=dict)
    log: dict[TopicPartition, list[FakeRecord]] = field(default_factory=lambda: defaultdict(list))
    epochs: dict[str, int] = field(default_factory=dict)
    committed_offsets: dict[tuple[str, TopicPartition], int] = field(default_factory=dict)
    fail_next_commit: Exception | None = None
    fail_next_abort: Exception | None = None
    gates: dict[str, CommitGate] = field(default_factory=dict)
    transactions: list[CommittedTxn] = field(default_factory=list)
    batches: list[tuple[str, int, int]] = field(default_factory=list)
    """Every record batch sent (topic, partition, records), committed or not."""
    hold_reads: asyncio.Event | None = None
    """While set and not yet set: group-less readers (restores) wait before they read."""
    _changed: asyncio.Event | None = field(default=None, repr=False)

    def topic(self, name: str, partitions: int) -> None:
        self.partitions[name] = partitions

    def append(
        self, topic: str, partition: int, key: bytes | None, value: bytes | None, headers: Iterable[Any] = ()
    ) -> None:
        tp = TopicPartition(topic, partition)
        self.log[tp].append(FakeRecord(topic, partition, len(self.log[tp]), key, value, 0, tuple(headers)))
        self.notify()

    def records(self, topic: str, partition: int) -> list[FakeRecord]:
        return list(self.log[TopicPartition(topic, partition)])

    def gate(self, tid: str) -> CommitGate:
        """Hold the commits of transactional id ``tid``."""
        gate = self.gates[tid] = CommitGate(self)
        return gate

    def notify(self) -> None:
        """Something changed: wake whoever waits (:meth:`wait_until`, a fake consumer's poll)."""
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    async def changed(self) -> None:
        if self._changed is None:
            self._changed = asyncio.Event()
        await self._changed.wait()

    async def wait_until(self, pred: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until ``pred()`` holds, checked after every change (a timeout fails the test)."""
        async with asyncio.timeout(timeout):
            while not pred():
                await self.changed()

    def values(self, topic: str) -> list[bytes | None]:
        return [r.value for tp, recs in sorted(self.log.items()) if tp.topic == topic for r in recs]


class FakeBatch:
    def __init__(self, capacity: int = 3) -> None:
        self.records: list[tuple[bytes | None, bytes | None]] = []
        self.headers: list[tuple[tuple[str, bytes], ...]] = []
        self.capacity = capacity

    def append(self, *, key: bytes | None, value: bytes | None, timestamp: int | None, headers: Any) -> object | None:
        if len(self.records) >= self.capacity:
            return None
        self.records.append((key, value))
        self.headers.append(tuple(headers or ()))
        return object()


def _done() -> asyncio.Future[Any]:
    fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    fut.set_result(None)
    return fut


class FakeProducer:
    def __init__(self, cluster: FakeCluster, transactional_id: str) -> None:
        self.cluster = cluster
        self.tid = transactional_id
        self.epoch = -1
        self.pending: list[tuple[str, int, bytes | None, bytes | None]] = []
        self.pending_headers: list[tuple[tuple[str, bytes], ...]] = []
        self.offsets: dict[TopicPartition, int] = {}
        self.group: str | None = None
        self.in_txn = False
        self.stopped = False
        self.aborts = 0

        self.begun = 0

    async def start(self) -> None:
        self.epoch = self.cluster.epochs.get(self.tid, -1) + 1
        self.cluster.epochs[self.tid] = self.epoch  # fences every older producer with this id
        self.cluster.notify()

    async def stop(self) -> None:
        self.stopped = True
        self.pending.clear()
        self.pending_headers.clear()
        self.cluster.notify()

    def _check(self) -> None:
        if self.cluster.epochs.get(self.tid) != self.epoch:
            raise ProducerFenced()

    async def begin_transaction(self) -> None:
        assert not self.in_txn
        self.in_txn = True
        self.begun += 1

    async def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        partition: int | None = None,
        timestamp_ms: int | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> asyncio.Future[Any]:
        assert self.in_txn
        self.pending.append((topic, partition or 0, key, value))
        self.pending_headers.append(tuple(headers or ()))
        return _done()

    def create_batch(self) -> FakeBatch:
        return FakeBatch()

    async def send_batch(self, batch: FakeBatch, topic: str, *, partition: int) -> asyncio.Future[Any]:
        assert self.in_txn
        self.pending.extend((topic, partition, k, v) for k, v in batch.records)
        self.pending_headers.extend(batch.headers)
        self.cluster.batches.append((topic, partition, len(batch.records)))
        return _done()

    async def partitions_for(self, topic: str) -> set[int]:
        return set(range(self.cluster.partitions[topic]))

    async def send_offsets_to_transaction(self, offsets: dict[TopicPartition, int], group_id: str) -> None:
        self._check()
        self.offsets, self.group = dict(offsets), group_id

    async def commit_transaction(self) -> None:
        gate = self.cluster.gates.get(self.tid)
        if gate is not None:
            await gate.wait()
        self._check()
        if self.cluster.fail_next_commit is not None:
            exc, self.cluster.fail_next_commit = self.cluster.fail_next_commit, None
            raise exc
        for (topic, partition, key, value), headers in zip(self.pending, self.pending_headers, strict=True):
            self.cluster.append(topic, partition, key, value, headers)
        for tp, offset in self.offsets.items():
            assert self.group is not None
            self.cluster.committed_offsets[(self.group, tp)] = offset
        self.cluster.transactions.append(CommittedTxn(self.tid, list(self.pending), dict(self.offsets)))
        self._end()
        self.cluster.notify()

    async def abort_transaction(self) -> None:
        self.aborts += 1
        if self.cluster.fail_next_abort is not None:
            exc, self.cluster.fail_next_abort = self.cluster.fail_next_abort, None
            raise exc
        self._end()

    def _end(self) -> None:
        self.pending.clear()
        self.pending_headers.clear()
        self.offsets = {}
        self.in_txn = False


class FakeReader:
    """A group-less consumer over a :class:`FakeCluster` (read_committed: only committed records exist)."""

    def __init__(self, cluster: FakeCluster, known: dict[str, int] | None = None) -> None:
        self.cluster = cluster
        self.known = dict(cluster.partitions) if known is None else known
        self.assigned: list[TopicPartition] = []
        self.positions: dict[TopicPartition, int] = {}
        self.started = self.stopped = False

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True

    async def refresh(self) -> None:
        self.known = dict(self.cluster.partitions)

    def assign(self, partitions: Any) -> None:
        self.assigned = list(partitions)

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        n = self.known.get(topic)
        return None if n is None else set(range(n))

    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        if self.cluster.hold_reads is not None:
            await self.cluster.hold_reads.wait()
        return {tp: len(self.cluster.log[tp]) for tp in partitions}

    async def seek_to_beginning(self, *partitions: TopicPartition) -> None:
        for tp in partitions:
            self.positions[tp] = 0

    async def position(self, partition: TopicPartition) -> int:
        return self.positions[partition]

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.positions[partition] = offset

    async def beginning_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        return dict.fromkeys(partitions, 0)

    async def getmany(
        self, *partitions: TopicPartition, timeout_ms: int = 0, max_records: int | None = None
    ) -> dict[TopicPartition, list[FakeRecord]]:
        out: dict[TopicPartition, list[FakeRecord]] = {}
        for tp in partitions or self.assigned:
            pos = self.positions[tp]
            recs = self.cluster.log[tp][pos : pos + (max_records or 500)]
            if recs:
                out[tp] = recs
                self.positions[tp] = pos + len(recs)
        return out


class FakeCoordinator:
    def __init__(self, cluster: FakeCluster) -> None:
        self.cluster = cluster
        self.rejoins = 0

    def request_rejoin(self) -> None:
        self.rejoins += 1
        self.cluster.notify()


class FakeConsumer:
    """A group consumer over a :class:`FakeCluster` (``worker.runtime.ports.ConsumerPort``).

    The test plays the group coordinator: :meth:`assign` runs the subscription's listener.
    A partition is fetched from its position (the group's committed offset when assigned),
    never while paused; ``getmany`` waits for a change up to ``timeout_ms`` when nothing is
    fetchable. ``calls`` records pause, resume and seek in order."""

    def __init__(self, cluster: FakeCluster, group_id: str) -> None:
        self.cluster = cluster
        self.group_id = group_id
        self.listener: Any = None
        self.subscribed: list[str] = []
        self.assignment: list[TopicPartition] = []
        self.positions: dict[TopicPartition, int] = {}
        self.paused: set[TopicPartition] = set()
        self.calls: list[tuple[str, TopicPartition, int | None]] = []
        self.stopped = False
        self._coordinator = FakeCoordinator(cluster)
        self._turn = 0
        self.polls = 0
        self.started = self.fail_start = False

    async def start(self) -> None:
        self.started = True
        if self.fail_start:
            raise KafkaConnectionError("Unable to bootstrap from [('127.0.0.1', 9599)]")

    async def stop(self) -> None:
        if not self.stopped and self.listener is not None and self.assignment:
            await self.listener.on_partitions_revoked(list(self.assignment))
        self.stopped = True
        self.assignment = []
        self.cluster.notify()

    async def topics(self) -> set[str]:
        return set(self.cluster.partitions)

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        n = self.cluster.partitions.get(topic)
        return None if n is None else set(range(n))

    def subscribe(self, topics: Iterable[str] = (), pattern: str | None = None, listener: Any = None) -> None:
        self.subscribed, self.listener = list(topics), listener

    async def assign(self, *partitions: TopicPartition) -> None:
        """The group assigns ``partitions`` (added to the current assignment)."""
        for tp in partitions:
            self.assignment.append(tp)
            self.positions[tp] = self.cluster.committed_offsets.get((self.group_id, tp), 0)
        await self.listener.on_partitions_assigned(list(partitions))
        self.cluster.notify()

    def _fetch(self, max_records: int | None) -> dict[TopicPartition, list[FakeRecord]]:
        out: dict[TopicPartition, list[FakeRecord]] = {}
        room = max_records or 500
        tps = sorted(self.assignment)
        self._turn += 1
        for tp in tps[self._turn % len(tps) :] + tps[: self._turn % len(tps)] if tps else []:
            if tp in self.paused or room <= 0:
                continue
            pos = self.positions[tp]
            recs = self.cluster.log[tp][pos : pos + room]
            if recs:
                out[tp] = recs
                self.positions[tp] = pos + len(recs)
                room -= len(recs)
        return out

    async def getmany(
        self, *partitions: TopicPartition, timeout_ms: int = 0, max_records: int | None = None
    ) -> dict[TopicPartition, list[FakeRecord]]:
        # A poll is I/O: the tasks ready to run (a lane's transaction) run first, and a waiter
        # sees every poll (the loop's state between two polls is settled).
        self.polls += 1
        self.cluster.notify()
        await asyncio.sleep(0)
        out = self._fetch(max_records)
        if not out and not self.stopped:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout_ms / 1000):
                    await self.cluster.changed()
            out = self._fetch(max_records)
        if out:
            self.cluster.notify()
        return out

    def pause(self, *partitions: TopicPartition) -> None:
        for tp in partitions:
            if tp not in self.assignment:
                raise IllegalStateError(f"{tp} not assigned")
            self.paused.add(tp)
            self.calls.append(("pause", tp, None))
        self.cluster.notify()

    def resume(self, *partitions: TopicPartition) -> None:
        for tp in partitions:
            if tp not in self.assignment:
                raise IllegalStateError(f"{tp} not assigned")
            self.paused.discard(tp)
            self.calls.append(("resume", tp, None))
        self.cluster.notify()

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.positions[partition] = offset
        self.calls.append(("seek", partition, offset))
        self.cluster.notify()

    async def committed(self, partition: TopicPartition) -> int | None:
        return self.cluster.committed_offsets.get((self.group_id, partition))

    async def beginning_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        return dict.fromkeys(partitions, 0)

    def last_stable_offset(self, partition: TopicPartition) -> int | None:
        return len(self.cluster.log[partition])


def connection_error() -> Exception:
    return KafkaConnectionError("broker gone")


@dataclass
class FakeKafka:
    """The runtime's :class:`~worker.runtime.Clients` over a :class:`FakeCluster`, keeping every
    client it made (the test plays the coordinator with ``consumers[-1].assign``)."""

    cluster: FakeCluster
    consumers: list[FakeConsumer] = field(default_factory=list)
    producers: list[FakeProducer] = field(default_factory=list)
    readers: list[FakeReader] = field(default_factory=list)
    starts_fail: int = 0
    """The next this many consumers fail to start (a broker that is not there)."""

    def clients(self) -> Clients:
        return Clients(
            consumer=self._consumer,
            producer=self._producer,
            reader=self._reader,
            refresh=_refresh,
            rejoin=lambda consumer: consumer._coordinator.request_rejoin(),
            require_topics=_require_topics,
        )

    def _consumer(self, group_id: str) -> FakeConsumer:
        consumer = FakeConsumer(self.cluster, group_id)
        if self.starts_fail:
            self.starts_fail -= 1
            consumer.fail_start = True
        self.consumers.append(consumer)
        return consumer

    def _producer(self, tid: str) -> FakeProducer:
        self.producers.append(FakeProducer(self.cluster, tid))
        return self.producers[-1]

    def _reader(self) -> FakeReader:
        self.readers.append(FakeReader(self.cluster))
        return self.readers[-1]

    @property
    def consumer(self) -> FakeConsumer:
        return self.consumers[-1]

    def unclosed(self) -> list[object]:
        """Clients started and not stopped."""
        return [c for c in [*self.consumers, *self.readers] if c.started and not c.stopped]


async def _refresh(client: Any) -> None:
    refresh = getattr(client, "refresh", None)
    if refresh is not None:
        await refresh()


async def _require_topics(consumer: Any, topics: Iterable[str]) -> None:
    missing = sorted(set(topics) - set(await consumer.topics()))
    if missing:
        raise TopicsMissing(f"topics not found: {', '.join(missing)}")
