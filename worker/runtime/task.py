"""The one life cycle of every stage: a group consumer, one task per assigned input partition.

Modelled on Kafka Streams' ``StreamTask`` and ``TaskManager``. aiokafka has no KIP-447
(aio-libs/aiokafka#844, #920): each task owns its partition's transactional producer
(:class:`~worker.runtime.PartitionWriter`, ``transactional.id`` = ``{group}-{topic}-{partition}``).

A task is **assigned** (the rebalance callback only pauses the partition and registers the task
and its store), **restoring** (in the loop, never in the callback: open the writer, which fences any
zombie and settles its open transaction; restore the store from its changelog partition; seek the
partition to its committed offset and resume it), then **running**: the fetch loop queues each
partition's records, and each task runs its transactions one after another (up to
``batch_max_records`` input records each), concurrently with the other tasks. Every
``punctuate_seconds`` each running task gets the clock (:meth:`Processor.punctuate`) under the same
lock as its transactions. It ends **revoked** (waits for the transaction in flight, closes the
writer) or **fenced** (:class:`PartitionLost`: dropped, and the member rejoins the group; Kafka
Streams' ``TaskMigratedException``).

The store protocol: a processor's puts go into its transaction and are applied to the store once
it committed; after any other failure the task restores again (a new producer after the writer's
backoff, the store from its changelog, the committed offset), so the store never holds what did not
commit. Readiness: in the group, polled recently, and every assigned partition restored.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Generic

from aiokafka import ConsumerRebalanceListener, TopicPartition
from aiokafka.partitioner import murmur2

from worker import metrics as m
from worker.logs import get_logger
from worker.records import JSON_CONTENT, OutRecord
from worker.runtime.changelog import ChangelogReader, ChangelogStore
from worker.runtime.ports import Clients, GroupConsumerPort, SideReaderPort
from worker.runtime.stage import Commit, Context, NotCoPartitioned, Processor, S, copartition_problem
from worker.runtime.writer import POLL_STALE_SECONDS, PartitionLost, PartitionWriter, Transaction, TransactionAborted

log = get_logger("pa_worker.runtime")

_JSON = [JSON_CONTENT]


@lru_cache(maxsize=16384)
def partition_for(key: bytes, partitions: int) -> int:
    """Kafka's default key partitioning (murmur2, positive, modulo), as the Java client does.

    Cached (aiokafka's murmur2 is pure Python): a member's determination and authorization
    state share the key, and members come back."""
    return int((murmur2(key) & 0x7FFFFFFF) % partitions)


class PartitionListener(ConsumerRebalanceListener):  # type: ignore[misc]
    """Takes partitions up and gives them back under the owner's lock.

    The owner holds the lock while it processes a batch, so a revocation waits for the batch
    in progress to commit or abort before the partition's producer is closed.
    """

    def __init__(
        self,
        lock: asyncio.Lock,
        acquire: Callable[[TopicPartition], Awaitable[None]],
        release: Callable[[TopicPartition], Awaitable[None]],
        changed: Callable[[], None],
    ) -> None:
        self.lock = lock
        self.acquire = acquire
        self.release = release
        self.changed = changed
        self.joined = False
        """True once the group has given this member an assignment (possibly empty)."""

    async def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        async with self.lock:
            await asyncio.gather(*(self.release(tp) for tp in revoked))
        self.changed()

    async def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        async with self.lock:
            await asyncio.gather(*(self.acquire(tp) for tp in assigned))
        self.joined = True
        self.changed()


@dataclass
class Task(Generic[S]):
    """One assigned input partition: its writer, its store, its context and its queue."""

    tp: TopicPartition
    writer: PartitionWriter
    store: ChangelogStore[Any] | None
    ctx: Context[S]
    pending: list[Any] = field(default_factory=list)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    """Held for a whole transaction, punctuation or restore; revocation takes it to wait for either."""
    task: asyncio.Task[None] | None = None
    restore_task: asyncio.Task[None] | None = None
    active: bool = True
    """False once revoked, fenced or stopping: no new transaction starts."""
    running: bool = False
    """Writer open, store restored, positioned at the committed offset: transactions may run."""
    was_restored: bool = False
    paused: bool = False
    next_offset: int = 0
    """The next input offset due: anything below it committed."""

    def retire(self) -> None:
        self.active = False
        self.pending.clear()
        if self.restore_task is not None and not self.restore_task.done():
            self.restore_task.cancel()

    def pause(self, consumer: GroupConsumerPort | None) -> None:
        if not self.paused and consumer is not None:
            with contextlib.suppress(Exception):  # revoked meanwhile: nothing to pause
                consumer.pause(self.tp)
                self.paused = True

    def resume(self, consumer: GroupConsumerPort | None) -> None:
        if self.paused:
            if consumer is not None:
                with contextlib.suppress(Exception):  # revoked meanwhile: nothing to resume
                    consumer.resume(self.tp)
            self.paused = False


class StageRuntime(Generic[S]):
    """Runs ``processor`` (its ``spec``) on the clients of ``clients``: ``start``, ``run``, ``stop``."""

    def __init__(
        self,
        processor: Processor[S],
        clients: Clients,
        *,
        batch_max_records: int,
        batch_timeout_ms: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.processor = processor
        self.spec = processor.spec
        self.clients = clients
        self.batch_max_records = batch_max_records
        self.batch_timeout_ms = batch_timeout_ms
        self.clock = clock
        self.lock = asyncio.Lock()
        self.consumer: GroupConsumerPort | None = None
        self.restorer: ChangelogReader | None = None
        self.reader: SideReaderPort | None = None
        self.listener: PartitionListener | None = None
        self.last_poll = 0.0
        self.tasks: dict[TopicPartition, Task[S]] = {}
        self._in_transaction = 0
        self._punctuation: asyncio.Task[None] | None = None

    # -- life cycle ------------------------------------------------------------------------

    @property
    def partitions(self) -> int:
        return len(self.tasks)

    @property
    def ready(self) -> bool:
        """The one readiness rule: in the group, polled within ``POLL_STALE_SECONDS``, and every
        assigned partition restored. A member with no partitions is a ready standby."""
        return (
            self.listener is not None
            and self.listener.joined
            and (time.monotonic() - self.last_poll) < POLL_STALE_SECONDS
            and all(t.was_restored for t in self.tasks.values() if t.active)
        )

    def in_flight(self) -> int:
        """Input records fetched and not yet committed or aborted: queued in a task or in a transaction."""
        return self._in_transaction + sum(len(t.pending) for t in self.tasks.values())

    async def start(self) -> None:
        """Check the topics and their co-partitioning, open the store's reader and the side reader,
        subscribe. A failed start closes whatever it opened (it is retried)."""
        spec = self.spec
        if spec.batch_metrics:
            m.IN_FLIGHT.set_function(self.in_flight)
        opened: list[Any] = []
        try:
            consumer = self.clients.consumer(spec.group_id)
            opened.append(consumer)
            await consumer.start()
            store_topic = [spec.store.changelog] if spec.store is not None else []
            await self.clients.require_topics(consumer, [spec.input, *store_topic, *spec.copartitioned, *spec.outputs])
            await self._check_copartitioned(consumer, [*store_topic, *spec.copartitioned])
            if spec.store is not None:
                restore_reader = self.clients.reader()
                opened.append(restore_reader)
                await restore_reader.start()
                self.restorer = ChangelogReader(restore_reader, lambda: self.clients.refresh(restore_reader))
            if spec.side_reader:
                self.reader = self.clients.reader()
                opened.append(self.reader)
                await self.reader.start()
            side = self.reader
            await self.processor.open(side, lambda: self.clients.refresh(side))
        except BaseException:
            for client in reversed(opened):
                with contextlib.suppress(Exception):
                    await client.stop()
            self.restorer = self.reader = None
            raise
        self.consumer = consumer
        self.listener = PartitionListener(self.lock, self.acquire, self.release, self.assignment_changed)
        consumer.subscribe([spec.input], listener=self.listener)

    async def _check_copartitioned(self, consumer: GroupConsumerPort, topics: Sequence[str]) -> None:
        """The one co-partitioning check: the store's changelog and the side inputs have the
        input's partition count, and it is not zero (Kafka Streams checks the same)."""
        if not topics:
            return
        # the partition counts of topics just created may not be in the bootstrap's metadata yet
        await self.clients.refresh(consumer)
        counts = {t: len(consumer.partitions_for_topic(t) or ()) for t in (self.spec.input, *topics)}
        problem = copartition_problem(self.spec.input, counts)
        if problem is not None:
            log.error("topics not co-partitioned", role=self.spec.role, partitions=counts)
            raise NotCoPartitioned(problem)

    async def stop(self) -> None:
        """Leave the group and close every producer. Any open transaction is aborted by close."""
        for t in self.tasks.values():
            t.active = False  # a transaction in flight completes; no new one starts
        if self._punctuation is not None:  # a punctuation in flight completes; no new one starts
            with contextlib.suppress(Exception):
                await self._punctuation
        if self.consumer is not None:
            try:
                await self.consumer.stop()  # sends LeaveGroup; revocation runs the listener
            finally:
                async with self.lock:
                    await asyncio.gather(*(self.release(tp) for tp in list(self.tasks)))
                self.assignment_changed()
                for reader in (self.restorer.reader if self.restorer else None, self.reader):
                    if reader is not None:
                        await reader.stop()  # type: ignore[attr-defined]

    def assignment_changed(self) -> None:
        m.ASSIGNED_PARTITIONS.labels(self.spec.role).set(len(self.tasks))
        self.processor.gauges([t.ctx for t in self.tasks.values()])

    async def acquire(self, tp: TopicPartition) -> None:
        """Assigned: pause the partition and register its task; the loop restores it."""
        if tp in self.tasks:
            return
        spec = self.spec
        store = None
        if spec.store is not None:
            store = ChangelogStore(TopicPartition(spec.store.changelog, tp.partition), spec.store.fresh)
        writer_tp = TopicPartition(spec.writer_topic or tp.topic, tp.partition)
        writer = PartitionWriter(writer_tp, spec.group_id, spec.role, self.clients.producer, log_prefix=spec.log_prefix)
        task = self.tasks[tp] = Task(tp, writer, store, Context(tp, store, self.clock))
        task.pause(self.consumer)
        if spec.events.assigned is not None:
            log.info(spec.events.assigned, partition=tp.partition)

    async def release(self, tp: TopicPartition) -> None:
        """``tp`` was revoked (or the worker stops): wait for its transaction in flight, close its producer."""
        task = self.tasks.pop(tp, None)
        if task is None:
            return
        task.retire()
        async with task.lock:
            await task.writer.close()
        if self.spec.batch_metrics:
            with contextlib.suppress(KeyError):
                m.CONSUMER_LAG.remove(tp.topic, str(tp.partition))
        log.info(self.spec.events.released, topic=tp.topic, partition=tp.partition)

    # -- the loop --------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Restore newly assigned tasks, fetch, hand each partition's records to its task, and
        punctuate, until ``stop`` is set.

        A task with two full batches (``2 * batch_max_records`` records) or more waiting is paused
        (its fetch stops) until less than one full batch is left after it takes the next: memory
        stays bounded whatever the lag."""
        assert self.consumer is not None, "start() first"
        consumer = self.consumer
        high = 2 * self.batch_max_records
        next_tick = 0.0
        try:
            while not stop.is_set():
                self._start_restores()
                batch = await consumer.getmany(timeout_ms=self.batch_timeout_ms, max_records=self.batch_max_records)
                self.last_poll = time.monotonic()
                for tp, msgs in batch.items():
                    task = self.tasks.get(tp)
                    if task is None or not task.active or not task.running:
                        continue  # not ours (any more), or not restored: read again from the committed offset
                    task.pending.extend(msgs)
                    if len(task.pending) >= high:
                        task.pause(consumer)
                    if task.task is None or task.task.done():
                        task.task = asyncio.create_task(self._drain(task), name=f"task-{tp.topic}-{tp.partition}")
                if self.spec.batch_metrics:
                    self._update_lag()
                every = self.spec.punctuate_seconds
                idle = self._punctuation is None or self._punctuation.done()
                if every is not None and time.monotonic() >= next_tick and idle:
                    next_tick = time.monotonic() + every
                    self._punctuation = asyncio.create_task(self._punctuate_all(), name=f"punctuate-{self.spec.role}")
        finally:
            if stop.is_set():  # stopping: a transaction in flight completes, no new one starts
                for t in self.tasks.values():
                    t.active = False

    def _start_restores(self) -> None:
        """Restored in the loop, never in the rebalance callback."""
        for t in self.tasks.values():
            if t.active and not t.running and (t.restore_task is None or t.restore_task.done()):
                name = f"restore-{t.tp.topic}-{t.tp.partition}"
                t.restore_task = asyncio.create_task(self._restore(t), name=name)

    async def _restore(self, task: Task[S]) -> None:
        """Open the task's writer (fencing older producers), restore its store, rewind it to its
        committed offset and resume it."""
        await task.writer.backoff()
        async with task.lock:
            if not task.active:
                return
            try:
                if not task.writer.is_open:
                    await task.writer.open()
                if task.store is not None and not task.store.restored:
                    assert self.restorer is not None
                    await self.restorer.restore(task.store)
                await self._rewind(task)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                task.writer.failures += 1
                await task.writer.close()
                log.error(
                    "partition not restored; will retry",
                    role=self.spec.role,
                    partition=task.tp.partition,
                    error=type(exc).__name__,
                    detail=str(exc)[:300],
                )
                return
            task.running = task.was_restored = True
        extra: dict[str, Any] = {}
        if task.store is not None:
            extra = {
                "entries": len(task.store.state),
                "records": task.store.records_restored,
                "seconds": round(task.store.restore_seconds, 3),
            }
        log.info(
            self.spec.events.restored,
            topic=task.tp.topic,
            partition=task.tp.partition,
            transactional_id=task.writer.transactional_id,
            offset=task.next_offset,
            **extra,
        )

    async def _rewind(self, task: Task[S]) -> None:
        """Position the task's partition at its committed offset (the last transaction that committed)."""
        assert self.consumer is not None
        tp = task.tp
        committed = await self.consumer.committed(tp)
        if committed is None:
            committed = (await self.consumer.beginning_offsets([tp]))[tp]
        # No await from here on: records queued before the seek are dropped in the same step,
        # and whatever is fetched from now on starts at the committed offset.
        task.pending.clear()
        self.consumer.seek(tp, committed)
        task.resume(self.consumer)
        task.next_offset = committed

    async def _drain(self, task: Task[S]) -> None:
        """Run ``task``'s transactions until its queue is empty."""
        size = self.batch_max_records
        while task.active and task.running and task.pending:
            msgs = task.pending[:size]
            del task.pending[:size]
            if len(task.pending) < size:
                task.resume(self.consumer)
            async with task.lock:
                if not task.active or not task.running:
                    return
                if not await self._guard(task, self._process(task, msgs)):
                    return

    async def _punctuate_all(self) -> None:
        for task in list(self.tasks.values()):
            async with task.lock:
                if task.active and task.running:
                    await self._guard(task, self._punctuate(task))
        self.processor.gauges([t.ctx for t in self.tasks.values() if t.running])

    async def _guard(self, task: Task[S], work: Any) -> bool:
        """Run a transaction's ``work``; False when the task stopped (fenced, or restarting)."""
        try:
            await work
        except PartitionLost:
            task.retire()  # not taken up again until the group assigns it again
            task.pause(self.consumer)  # nothing fetched for it meanwhile
            self.tasks.pop(task.tp, None)
            log.info(self.spec.events.released, topic=task.tp.topic, partition=task.tp.partition)
            if self.consumer is not None:
                self.clients.rejoin(self.consumer)
            self.assignment_changed()
            return False
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # never skip records: start the partition over
            if not isinstance(exc, TransactionAborted):
                log.error(
                    "partition batch failed", role=self.spec.role, partition=task.tp.partition, error=type(exc).__name__
                )
                task.writer.failures += 1
                await task.writer.close()
            self._restart(task)
            return False
        return True

    def _restart(self, task: Task[S]) -> None:
        """After a failure: drop the queue, stop fetching; the loop restores the task again (a new
        producer, the store from its changelog, the committed offset) after the writer's backoff."""
        task.running = False
        task.pending.clear()
        task.ctx.clear()
        if task.store is not None:
            task.store.restored = False
        task.pause(self.consumer)

    async def _process(self, task: Task[S], msgs: list[Any]) -> None:
        tp = task.tp
        # A batch fetched before a rewind (assignment, abort) may be followed by the same records
        # fetched again from the committed offset: never process an offset below the next one due.
        if msgs[0].offset < task.next_offset:
            msgs = [msg for msg in msgs if msg.offset >= task.next_offset]
            if not msgs:
                return
        started = time.perf_counter()
        n = len(msgs)
        self._in_transaction += n
        try:
            ctx = task.ctx
            ctx.clear()
            done = await self.processor.process(ctx, msgs)
            await self._commit(task, {tp: msgs[-1].offset + 1}, done)
        finally:
            self._in_transaction -= n
        task.next_offset = msgs[-1].offset + 1
        if self.spec.batch_metrics:
            m.BATCH_SECONDS.observe(time.perf_counter() - started)
            m.BATCH_RECORDS.observe(n)
            m.LAST_PROCESSED.set(time.time())

    async def _punctuate(self, task: Task[S]) -> None:
        task.ctx.clear()
        done = await self.processor.punctuate(task.ctx)
        if task.ctx.emitted or task.ctx.puts:
            await self._commit(task, None, done)
        elif done is not None:
            done()

    async def _commit(self, task: Task[S], offsets: dict[TopicPartition, int] | None, done: Commit) -> None:
        """The context's records and puts (and ``offsets``) in one transaction; once committed, the
        puts applied to the store, then ``done``."""
        ctx = task.ctx
        async with task.writer.transaction(offsets) as txn:
            await self._send_all(txn, task, ctx.emitted)
            # the producer's batches hold the bytes now; an abort starts the batch over from its input
            ctx.emitted.clear()
        if task.store is not None:
            state = task.store.state
            for key, value in ctx.puts:
                state.apply(key, value)
        ctx.clear()
        if done is not None:
            done()

    async def _send_all(self, txn: Transaction, task: Task[S], records: list[OutRecord]) -> None:
        """``records``, then the store's puts, into the open transaction: one record batch per
        output topic-partition (``create_batch``/``send_batch``: no future per record), in order."""
        groups: dict[tuple[str, int], list[tuple[bytes | None, bytes | None, Sequence[tuple[str, bytes]]]]] = {}
        counts: dict[str, int] = {}  # partition counts, asked once per topic and batch
        for rec in records:
            partition = rec.partition
            if partition is None:
                n = counts.get(rec.topic)
                if n is None:
                    n = counts[rec.topic] = await txn.partitions(rec.topic)
                key = rec.partition_key if rec.partition_key is not None else rec.key
                partition = task.tp.partition % n if key is None else partition_for(key, n)
            group = groups.get((rec.topic, partition))
            entry = (rec.key, rec.value, rec.headers)
            if group is None:
                groups[(rec.topic, partition)] = [entry]
            else:
                group.append(entry)
        store = self.spec.store
        if store is not None and task.ctx.puts:
            puts = groups.setdefault((store.changelog, task.tp.partition), [])
            for key, value in task.ctx.puts:
                puts.append((key, value, _JSON if value is not None and store.content_type else []))
        for (topic, partition), recs in groups.items():
            batch = txn.create_batch()
            for key, value, headers in recs:
                if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
                    # full: send it, start the next (a batch always takes its first record)
                    await txn.send_batch(batch, topic, partition)
                    batch = txn.create_batch()
                    batch.append(key=key, value=value, timestamp=None, headers=headers)
            await txn.send_batch(batch, topic, partition)

    def _update_lag(self) -> None:
        if self.consumer is None:
            return
        for tp, task in list(self.tasks.items()):
            if not task.running:
                continue
            try:
                end = self.consumer.last_stable_offset(tp)
            except Exception:
                end = None
            if end is not None:
                m.CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(max(0, end - task.next_offset))
