"""A generic exactly-once consume-transform-produce processor with aiokafka, on ``worker.runtime``.

It knows nothing of requests: ``handle`` maps one input record to a tagged result
(``worker.records``), an optional :class:`Stage` with changelog-backed state per partition (the
request deduplication of ``worker.dedupe``) rewrites a batch's results and adds its changelog
records, and ``on_committed`` sees what committed. ``worker.app`` wires the request processor
(and the throughput benchmark's passthrough uses the very same class).

Design (aiokafka has no KIP-447 consumer-group fencing, aio-libs/aiokafka#844 and #920):
one transactional producer per assigned input partition, owned by its
:class:`~worker.runtime.PartitionWriter` (``transactional.id`` = ``{group}-{topic}-{partition}``).

On assignment the rebalance callback only pauses the partition and registers its lane and its
stage's store. The loop then restores the lane: it opens the writer (``init_transactions``
fences any zombie that still holds the partition and settles its open transaction), restores the
stage's state from its changelog partition (:class:`~worker.runtime.ChangelogReader`), positions
the partition at its committed offset and resumes it. Nothing heavy runs inside the callback.

Partitions are independent lanes: the fetch loop queues each partition's records, and each
partition runs its own transactions one after another (up to ``batch_max_records`` each: the
records of their results and of the stage, plus the input offsets), concurrently with the other
partitions'. A slow commit on one partition delays only that partition. After an abort the
lane's queue is dropped and the lane is restored again (a new producer, rewound to its committed
offset) after the writer's backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord

from worker import metrics as m
from worker.config import Settings
from worker.dedupe import StageOutput
from worker.kafka import (
    PartitionListener,
    changelog_reader,
    group_consumer_kwargs,
    partition_for,
    producer_kwargs,
    refresh_metadata,
    request_rejoin,
    require_topics,
)
from worker.logs import get_logger
from worker.records import OutRecord, Result, Source, internal_error
from worker.runtime import (
    POLL_STALE_SECONDS,
    ChangelogMissing,
    ChangelogReader,
    ChangelogStore,
    PartitionLost,
    PartitionWriter,
    Transaction,
    TransactionAborted,
)
from worker.runtime.ports import ConsumerPort
from worker.runtime.writer import ProducerFactory

log = get_logger("pa_worker.service")

Handle = Callable[[bytes | None, bytes | None, Source], Result]


class Stage(Protocol):
    """A batch stage with changelog-backed state per input partition (``worker.dedupe.Deduplicate``)."""

    changelog_topic: str
    """Its state's changelog: partition ``p`` holds the state of input partition ``p``."""

    def new_state(self) -> Any: ...

    def __call__(self, state: Any, partition: int, results: Sequence[Result], /) -> StageOutput: ...


@dataclass
class _Lane:
    """One assigned input partition: its writer, its stage's store and its queue.

    Each lane runs its own transactions, one at a time and in offset order, so a slow commit
    on one partition never holds up the others (no head-of-line wait across partitions).
    """

    tp: TopicPartition
    writer: PartitionWriter
    store: ChangelogStore[Any] | None
    pending: list[ConsumerRecord[bytes, bytes]] = field(default_factory=list)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    """Held for the whole of a transaction or a restore; revocation takes it to wait for either."""
    task: asyncio.Task[None] | None = None
    restore_task: asyncio.Task[None] | None = None
    active: bool = True
    """False once revoked, fenced or stopping: no new transaction starts."""
    restored: bool = False
    """Writer open, store restored, positioned at the committed offset: transactions may run."""
    was_restored: bool = False
    paused: bool = False

    def retire(self) -> None:
        """Revoked, fenced or replaced: drop the queue; no new transaction starts."""
        self.active = False
        self.pending.clear()
        if self.restore_task is not None and not self.restore_task.done():
            self.restore_task.cancel()

    def pause(self, consumer: ConsumerPort | None) -> None:
        if not self.paused and consumer is not None:
            with contextlib.suppress(Exception):  # revoked meanwhile: nothing to pause
                consumer.pause(self.tp)
                self.paused = True

    def resume(self, consumer: ConsumerPort | None) -> None:
        if self.paused:
            if consumer is not None:
                with contextlib.suppress(Exception):  # revoked meanwhile: nothing to resume
                    consumer.resume(self.tp)
            self.paused = False


class TransactionalProcessor:
    """Consumes ``topic`` in ``group_id`` and writes each partition batch transactionally.

    ``handle`` maps one input record to a result; ``stage`` (optional) rewrites a batch's
    results against its per-partition state; ``on_committed`` sees a committed batch's results.
    ``consumer_factory``, ``producer_factory`` (given the transactional id) and
    ``restorer_factory`` make the Kafka clients (``worker.runtime.ports``); aiokafka's by default,
    in-memory fakes in the unit tests.
    """

    def __init__(
        self,
        settings: Settings,
        handle: Handle,
        *,
        stage: Stage | None = None,
        output_topics: Sequence[str] = (),
        on_committed: Callable[[list[Result], float], None] | None = None,
        role: str = "requests",
        consumer_factory: Callable[[], ConsumerPort] | None = None,
        producer_factory: ProducerFactory | None = None,
        restorer_factory: Callable[[], Awaitable[ChangelogReader]] | None = None,
    ) -> None:
        self.settings = settings
        self._consumer_factory = consumer_factory or self._group_consumer
        self._producer_factory = producer_factory or self._producer
        self._restorer_factory = restorer_factory or self._changelog_restorer
        self.output_topics = tuple(output_topics)
        """Topics ``handle`` writes to: like the input, they must exist before the group is joined
        (a misspelt name must not start a worker whose every transaction fails, or, on a cluster
        that auto-creates topics, publish to a topic nobody reads)."""
        self.handle = handle
        self.topic = settings.topic_requests
        self.group_id = settings.group_id
        self.on_committed = on_committed
        self.stage = stage
        self.index_topic = stage.changelog_topic if stage is not None else None
        self.restorer: ChangelogReader | None = None
        self.role = role
        self.lock = asyncio.Lock()
        self.consumer: ConsumerPort | None = None
        self.listener: PartitionListener | None = None
        self.last_poll = 0.0
        self._next_offset: dict[TopicPartition, int] = {}
        self._lanes: dict[TopicPartition, _Lane] = {}
        self._in_transaction = 0

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def partitions(self) -> int:
        return len(self._lanes)

    @property
    def ready(self) -> bool:
        """In the group, polling, and every assigned partition restored once. A member with no
        partitions (more instances than partitions) is a ready standby, so a rolling update with
        maxSurge never stalls."""
        return (
            self.listener is not None
            and self.listener.joined
            and (time.monotonic() - self.last_poll) < POLL_STALE_SECONDS
            and all(lane.was_restored for lane in self._lanes.values() if lane.active)
        )

    def assignment_changed(self) -> None:
        m.ASSIGNED_PARTITIONS.labels(self.role).set(len(self._lanes))
        for tp in list(self._next_offset):
            if tp not in self._lanes:
                self._next_offset.pop(tp, None)
                with contextlib.suppress(KeyError):
                    m.CONSUMER_LAG.remove(tp.topic, str(tp.partition))

    def in_flight(self) -> int:
        """Input records fetched and not yet committed or aborted: queued in a lane or in a transaction."""
        return self._in_transaction + sum(len(lane.pending) for lane in self._lanes.values())

    async def start(self) -> None:
        m.IN_FLIGHT.set_function(self.in_flight)
        self.consumer = self._consumer_factory()
        await self.consumer.start()
        try:
            await require_topics(
                self.consumer, [self.topic, *([self.index_topic] if self.index_topic else []), *self.output_topics]
            )
            if self.index_topic is not None:
                self.restorer = await self._restorer_factory()
        except KafkaError:  # start() is retried: leave nothing running behind
            await self.consumer.stop()
            self.consumer = self.restorer = None
            raise
        self.listener = PartitionListener(self.lock, self.acquire, self.release, self.assignment_changed)
        self.consumer.subscribe([self.topic], listener=self.listener)

    async def stop(self) -> None:
        """Leave the group and close every producer. Any open transaction is aborted by close."""
        for lane in self._lanes.values():
            lane.active = False  # a transaction in flight completes; no new one starts
        if self.consumer is not None:
            try:
                await self.consumer.stop()  # sends LeaveGroup; revocation runs the listener
            finally:
                async with self.lock:
                    await asyncio.gather(*(self.release(tp) for tp in list(self._lanes)))
                self.assignment_changed()
                if self.restorer is not None:
                    await self.restorer.reader.stop()  # type: ignore[attr-defined]

    async def run(self, stop: asyncio.Event) -> None:
        """Restore newly assigned lanes, fetch, and hand each partition's records to its lane
        until ``stop`` is set.

        A lane with two full batches (``2 * batch_max_records`` records) or more waiting is paused
        (its fetch stops) until less than one full batch is left after it takes the next: memory
        stays bounded whatever the lag (``tests/worker/test_processor_lanes.py`` pins both edges).
        """
        assert self.consumer is not None, "start() first"
        consumer = self.consumer
        high = 2 * self.settings.batch_max_records
        try:
            while not stop.is_set():
                self._start_restores()
                batch = await consumer.getmany(
                    timeout_ms=self.settings.batch_timeout_ms, max_records=self.settings.batch_max_records
                )
                self.last_poll = time.monotonic()
                for tp, msgs in batch.items():
                    got = self._lanes.get(tp)
                    if got is None or not got.active or not got.restored:
                        continue  # not ours (any more), or not restored: read again from the committed offset
                    got.pending.extend(msgs)
                    if len(got.pending) >= high:
                        got.pause(consumer)
                    if got.task is None or got.task.done():
                        got.task = asyncio.create_task(self._drain(got), name=f"lane-{tp.topic}-{tp.partition}")
                self._update_lag()
        finally:
            if stop.is_set():  # stopping: a transaction in flight completes, no new one starts
                for lane in self._lanes.values():
                    lane.active = False

    def _start_restores(self) -> None:
        """Restored in the loop, never in the rebalance callback."""
        for lane in self._lanes.values():
            if lane.active and not lane.restored and (lane.restore_task is None or lane.restore_task.done()):
                name = f"restore-{lane.tp.topic}-{lane.tp.partition}"
                lane.restore_task = asyncio.create_task(self._restore(lane), name=name)

    async def _drain(self, lane: _Lane) -> None:
        """Run ``lane``'s transactions until its queue is empty."""
        size = self.settings.batch_max_records
        while lane.active and lane.restored and lane.pending:
            msgs = lane.pending[:size]
            del lane.pending[:size]
            if len(lane.pending) < size:
                lane.resume(self.consumer)
            async with lane.lock:
                if not lane.active or not lane.restored:
                    return
                try:
                    await self._process(lane, msgs)
                except PartitionLost:
                    lane.retire()  # not taken up again until the group assigns it again
                    log.info("partition released", topic=lane.tp.topic, partition=lane.tp.partition)
                    if self.consumer is not None:
                        request_rejoin(self.consumer)
                    return
                except Exception as exc:  # never skip records: start the partition over
                    if not isinstance(exc, TransactionAborted):
                        log.error("partition batch failed", partition=lane.tp.partition, error=type(exc).__name__)
                        lane.writer.failures += 1
                        await lane.writer.close()
                    self._restart(lane)
                    return

    def _restart(self, lane: _Lane) -> None:
        """After a failure: drop the queue, stop fetching; the loop restores the lane again
        (a new producer, the committed offset) after the writer's backoff."""
        lane.restored = False
        lane.pending.clear()
        lane.pause(self.consumer)

    # -- partitions ------------------------------------------------------------------------

    def _group_consumer(self) -> ConsumerPort:
        consumer: ConsumerPort = AIOKafkaConsumer(**group_consumer_kwargs(self.settings, self.group_id))
        return consumer

    def _producer(self, tid: str) -> AIOKafkaProducer:
        return AIOKafkaProducer(**producer_kwargs(self.settings), transactional_id=tid)

    async def _changelog_restorer(self) -> ChangelogReader:
        reader = changelog_reader(self.settings)
        await reader.start()
        return ChangelogReader(reader, lambda: refresh_metadata(reader))

    def _writer(self, tp: TopicPartition) -> PartitionWriter:
        return PartitionWriter(tp, self.group_id, self.role, self._producer_factory)

    async def acquire(self, tp: TopicPartition) -> None:
        """The group assigned ``tp``: pause it and register its lane and store; the loop restores them."""
        old = self._lanes.pop(tp, None)
        if old is not None:  # assigned again without a revocation in between: settle the old lane
            old.retire()
            async with old.lock:
                await old.writer.close()
        store = None
        if self.stage is not None:
            store = ChangelogStore(TopicPartition(self.stage.changelog_topic, tp.partition), self.stage.new_state)
        lane = self._lanes[tp] = _Lane(tp, self._writer(tp), store)
        lane.pause(self.consumer)

    async def release(self, tp: TopicPartition) -> None:
        """``tp`` was revoked (or the worker stops): wait for its transaction in flight, close its producer."""
        lane = self._lanes.pop(tp, None)
        if lane is None:
            return
        lane.retire()
        async with lane.lock:
            await lane.writer.close()
        log.info("partition released", topic=tp.topic, partition=tp.partition)

    async def _restore(self, lane: _Lane) -> None:
        """Open the lane's writer (fencing older producers), restore its stage's store, rewind
        it to its committed offset and resume it."""
        await lane.writer.backoff()
        async with lane.lock:
            if not lane.active:
                return
            try:
                if not lane.writer.is_open:
                    await lane.writer.open()
                if lane.store is not None and not lane.store.restored:
                    assert self.restorer is not None
                    try:
                        await self.restorer.restore(lane.store)
                    except ChangelogMissing:
                        log.error(
                            "request index has no such partition: duplicates are not detected here",
                            topic=lane.store.changelog.topic,
                            partition=lane.store.changelog.partition,
                        )
                        lane.store.restored = True
                await self._rewind(lane)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                lane.writer.failures += 1
                await lane.writer.close()
                log.error("partition not restored; will retry", partition=lane.tp.partition, error=type(exc).__name__)
                return
            lane.restored = lane.was_restored = True
        log.info(
            "partition assigned",
            topic=lane.tp.topic,
            partition=lane.tp.partition,
            transactional_id=lane.writer.transactional_id,
            request_index_entries=len(lane.store.state) if lane.store is not None else None,
        )

    async def _rewind(self, lane: _Lane) -> None:
        """Position the lane's partition at its committed offset (the last transaction that committed)."""
        assert self.consumer is not None
        tp = lane.tp
        committed = await self.consumer.committed(tp)
        if committed is None:
            committed = (await self.consumer.beginning_offsets([tp]))[tp]
        # No await from here on: records queued before the seek are dropped in the same step,
        # and whatever is fetched from now on starts at the committed offset.
        lane.pending.clear()
        self.consumer.seek(tp, committed)
        lane.resume(self.consumer)
        self._next_offset[tp] = committed

    async def _process(self, lane: _Lane, msgs: list[ConsumerRecord[bytes, bytes]]) -> None:
        tp = lane.tp
        # A batch fetched before a rewind (assignment, abort) may be followed by the same records
        # fetched again from the committed offset: never process an offset below the next one due.
        expected = self._next_offset.get(tp, 0)
        if msgs[0].offset < expected:
            msgs = [msg for msg in msgs if msg.offset >= expected]
            if not msgs:
                return
        started = time.perf_counter()
        n = len(msgs)
        self._in_transaction += n
        results: list[Result] = []
        try:
            for msg in msgs:
                source = Source(msg.topic, msg.partition, msg.offset, msg.timestamp)
                try:
                    results.append(self.handle(msg.key, msg.value, source))
                except Exception as exc:  # never let one record stop the partition
                    results.append(internal_error(self.settings.topic_dlq, msg.key, msg.value, source, exc))
            staged: StageOutput | None = None
            if self.stage is not None and lane.store is not None:
                staged = self.stage(lane.store.state, tp.partition, results)
                results = staged.results
            async with lane.writer.transaction({tp: msgs[-1].offset + 1}) as txn:
                await self._send_all(txn, tp, results, staged.records if staged is not None else [])
        finally:
            self._in_transaction -= n
        elapsed = time.perf_counter() - started
        self._next_offset[tp] = msgs[-1].offset + 1
        if staged is not None:
            staged.commit()
        m.BATCH_SECONDS.observe(elapsed)
        m.BATCH_RECORDS.observe(n)
        m.LAST_PROCESSED.set(time.time())
        if self.on_committed is not None:
            self.on_committed(results, time.time())

    async def _send_all(
        self, txn: Transaction, tp: TopicPartition, results: list[Result], extra: list[OutRecord]
    ) -> None:
        """Every record of ``results``, then ``extra``, into the open transaction: one record batch per output
        topic-partition (``create_batch``/``send_batch``: no future per record), records in order.

        The partition is ``partition``, else murmur2 of ``partition_key`` or ``key`` (the Java
        client's default partitioner), else, for a record without any key, the input partition
        modulo the output topic's partition count.
        """
        groups: dict[tuple[str, int], list[OutRecord]] = {}
        for records in [*(r.records for r in results), extra]:
            for rec in records:
                partition = rec.partition
                if partition is None:
                    n = await txn.partitions(rec.topic)
                    key = rec.partition_key if rec.partition_key is not None else rec.key
                    partition = tp.partition % n if key is None else partition_for(key, n)
                group = groups.get((rec.topic, partition))
                if group is None:
                    groups[(rec.topic, partition)] = [rec]
                else:
                    group.append(rec)
        for (topic, partition), recs in groups.items():
            batch = txn.create_batch()
            for rec in recs:
                if batch.append(key=rec.key, value=rec.value, timestamp=None, headers=rec.headers) is None:
                    # full: send it, start the next (a batch always takes its first record)
                    await txn.send_batch(batch, topic, partition)
                    batch = txn.create_batch()
                    batch.append(key=rec.key, value=rec.value, timestamp=None, headers=rec.headers)
            await txn.send_batch(batch, topic, partition)

    def _update_lag(self) -> None:
        if self.consumer is None:
            return
        for tp, lane in list(self._lanes.items()):
            if not lane.restored:
                continue
            try:
                end = self.consumer.last_stable_offset(tp)
            except Exception:
                end = None
            pos = self._next_offset.get(tp)
            if end is not None and pos is not None:
                m.CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(max(0, end - pos))
