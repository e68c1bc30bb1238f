"""In-memory fakes of the Kafka client slice the runtime uses (``worker.runtime.ports``).

For fast unit tests of the runtime's own logic (transactions, fencing turned into
``PartitionLost``, abort, restore). They model what the runtime relies on and no more:
a transactional id's newest producer fences the older ones, a transaction's records become
visible at commit and never after an abort, offsets go with the transaction. Fencing, kill -9
and restarts of the real thing are tested against the real broker (tests/faults).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import KafkaConnectionError, ProducerFenced


@dataclass(frozen=True)
class FakeRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass
class FakeCluster:
    partitions: dict[str, int] = field(default_factory=dict)
    log: dict[TopicPartition, list[FakeRecord]] = field(default_factory=lambda: defaultdict(list))
    epochs: dict[str, int] = field(default_factory=dict)
    committed_offsets: dict[tuple[str, TopicPartition], int] = field(default_factory=dict)
    fail_next_commit: Exception | None = None
    fail_next_abort: Exception | None = None

    def topic(self, name: str, partitions: int) -> None:
        self.partitions[name] = partitions

    def append(self, topic: str, partition: int, key: bytes | None, value: bytes | None) -> None:
        tp = TopicPartition(topic, partition)
        self.log[tp].append(FakeRecord(topic, partition, len(self.log[tp]), key, value))

    def values(self, topic: str) -> list[bytes | None]:
        return [r.value for tp, recs in sorted(self.log.items()) if tp.topic == topic for r in recs]


class FakeBatch:
    def __init__(self, capacity: int = 3) -> None:
        self.records: list[tuple[bytes | None, bytes | None]] = []
        self.capacity = capacity

    def append(self, *, key: bytes | None, value: bytes | None, timestamp: int | None, headers: Any) -> object | None:
        if len(self.records) >= self.capacity:
            return None
        self.records.append((key, value))
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
        self.offsets: dict[TopicPartition, int] = {}
        self.group: str | None = None
        self.in_txn = False
        self.stopped = False
        self.aborts = 0

    async def start(self) -> None:
        self.epoch = self.cluster.epochs.get(self.tid, -1) + 1
        self.cluster.epochs[self.tid] = self.epoch  # fences every older producer with this id

    async def stop(self) -> None:
        self.stopped = True
        self.pending.clear()

    def _check(self) -> None:
        if self.cluster.epochs.get(self.tid) != self.epoch:
            raise ProducerFenced()

    async def begin_transaction(self) -> None:
        assert not self.in_txn
        self.in_txn = True

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
        return _done()

    def create_batch(self) -> FakeBatch:
        return FakeBatch()

    async def send_batch(self, batch: FakeBatch, topic: str, *, partition: int) -> asyncio.Future[Any]:
        assert self.in_txn
        self.pending.extend((topic, partition, k, v) for k, v in batch.records)
        return _done()

    async def partitions_for(self, topic: str) -> set[int]:
        return set(range(self.cluster.partitions[topic]))

    async def send_offsets_to_transaction(self, offsets: dict[TopicPartition, int], group_id: str) -> None:
        self._check()
        self.offsets, self.group = dict(offsets), group_id

    async def commit_transaction(self) -> None:
        self._check()
        if self.cluster.fail_next_commit is not None:
            exc, self.cluster.fail_next_commit = self.cluster.fail_next_commit, None
            raise exc
        for topic, partition, key, value in self.pending:
            self.cluster.append(topic, partition, key, value)
        for tp, offset in self.offsets.items():
            assert self.group is not None
            self.cluster.committed_offsets[(self.group, tp)] = offset
        self._end()

    async def abort_transaction(self) -> None:
        self.aborts += 1
        if self.cluster.fail_next_abort is not None:
            exc, self.cluster.fail_next_abort = self.cluster.fail_next_abort, None
            raise exc
        self._end()

    def _end(self) -> None:
        self.pending.clear()
        self.offsets = {}
        self.in_txn = False


class FakeReader:
    """A group-less consumer over a :class:`FakeCluster` (read_committed: only committed records exist)."""

    def __init__(self, cluster: FakeCluster, known: dict[str, int] | None = None) -> None:
        self.cluster = cluster
        self.known = dict(cluster.partitions) if known is None else known
        self.assigned: list[TopicPartition] = []
        self.positions: dict[TopicPartition, int] = {}

    async def refresh(self) -> None:
        self.known = dict(self.cluster.partitions)

    def assign(self, partitions: Any) -> None:
        self.assigned = list(partitions)

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        n = self.known.get(topic)
        return None if n is None else set(range(n))

    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: len(self.cluster.log[tp]) for tp in partitions}

    async def seek_to_beginning(self, *partitions: TopicPartition) -> None:
        for tp in partitions:
            self.positions[tp] = 0

    async def position(self, partition: TopicPartition) -> int:
        return self.positions[partition]

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


def connection_error() -> Exception:
    return KafkaConnectionError("broker gone")
