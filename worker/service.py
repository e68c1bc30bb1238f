"""``pa-worker run``: exactly-once consume-transform-produce with aiokafka.

Design (aiokafka has no KIP-447 consumer-group fencing, aio-libs/aiokafka#844 and #920):
one transactional producer per assigned input partition, ``transactional.id`` =
``{group}-{topic}-{partition}``. It is created on assignment and closed on revocation by a
``ConsumerRebalanceListener``; ``init_transactions`` of a new owner fences any zombie that
still holds the partition, so a zombie can never commit output or offsets for it.

Partitions are independent lanes: the fetch loop queues each partition's records, and each
partition runs its own transactions one after another (up to ``batch_max_records`` each: the
outputs, determinations, DLQ records, authorization state and index entries, plus
``send_offsets_to_transaction``), concurrently with the other partitions'. A slow commit on one
partition delays only that partition. After an abort the partition's queue is dropped and it
is rewound to its committed offset in the same step, then retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError, ProducerFenced
from aiokafka.structs import ConsumerRecord

from worker import metrics as m
from worker.config import Settings
from worker.handler import Handled, OutRecord, RequestHandler, Source, internal_error
from worker.kafka import METADATA_MAX_AGE_MS, PartitionListener, partition_for, producer_kwargs, require_topics
from worker.logs import get_logger

log = get_logger("pa_worker.service")

Handle = Callable[[bytes | None, bytes | None, Source], Handled]


@dataclass
class _Writer:
    tp: TopicPartition
    producer: AIOKafkaProducer
    transactional_id: str


@dataclass
class _Lane:
    """One assigned input partition's queue: fetched records wait here for their transaction.

    Each lane runs its own transactions, one at a time and in offset order, so a slow commit
    on one partition never holds up the others (no head-of-line wait across partitions).
    """

    tp: TopicPartition
    pending: list[ConsumerRecord[bytes, bytes]] = field(default_factory=list)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    """Held for the whole of a transaction; revocation takes it to wait for the one in flight."""
    task: asyncio.Task[None] | None = None
    active: bool = True
    """False once revoked, fenced or stopping: no new transaction starts."""
    paused: bool = False
    failures: int = 0

    def retire(self) -> None:
        """Revoked, fenced or replaced: drop the queue; no new transaction starts."""
        self.active = False
        self.pending.clear()

    def pause(self, consumer: AIOKafkaConsumer) -> None:
        if not self.paused:
            with contextlib.suppress(Exception):  # revoked meanwhile: nothing to pause
                consumer.pause(self.tp)
                self.paused = True

    def resume(self, consumer: AIOKafkaConsumer | None) -> None:
        if self.paused:
            if consumer is not None:
                with contextlib.suppress(Exception):  # revoked meanwhile: nothing to resume
                    consumer.resume(self.tp)
            self.paused = False


class TransactionalProcessor:
    """Consumes ``topic`` in ``group_id`` and writes each partition batch transactionally.

    ``handle`` maps one input record to output records; the worker evaluates requests, the
    throughput benchmark's passthrough copies bytes with the very same machinery.
    """

    def __init__(
        self,
        settings: Settings,
        handle: Handle,
        *,
        index_topic: str | None = None,
        output_topics: Sequence[str] = (),
        on_committed: Callable[[list[Handled], float], None] | None = None,
        role: str = "requests",
    ) -> None:
        self.settings = settings
        self.output_topics = tuple(output_topics)
        """Topics ``handle`` writes to: like the input, they must exist before the group is joined
        (a misspelt name must not start a worker whose every transaction fails, or, on a cluster
        that auto-creates topics, publish to a topic nobody reads)."""
        self.handle = handle
        self.topic = settings.topic_requests
        self.group_id = settings.group_id
        self.on_committed = on_committed
        self.index_topic = index_topic
        self.dedupe = not settings.test_disable_request_dedupe
        """False only under the test-only PA_TEST_DISABLE_REQUEST_DEDUPE: the index is written, never consulted."""
        self._seen: dict[TopicPartition, dict[str, str]] = {}
        """Per input partition: request_id -> determination_id of what was already published."""
        self._index_reader: AIOKafkaConsumer | None = None
        self._index_lock = asyncio.Lock()
        self.role = role
        self.lock = asyncio.Lock()
        self.writers: dict[TopicPartition, _Writer] = {}
        self.partition_counts: dict[str, int] = {}
        self.consumer: AIOKafkaConsumer | None = None
        self.listener: PartitionListener | None = None
        self.last_poll = 0.0
        self._next_offset: dict[TopicPartition, int] = {}
        self._lanes: dict[TopicPartition, _Lane] = {}
        self._in_transaction = 0

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """In the group and polling. A member with no partitions (more instances than
        partitions) is a ready standby, so a rolling update with maxSurge never stalls."""
        return self.listener is not None and self.listener.joined and (time.monotonic() - self.last_poll) < 30.0

    def assignment_changed(self) -> None:
        m.ASSIGNED_PARTITIONS.labels(self.role).set(len(self.writers))
        for tp in list(self._next_offset):
            if tp not in self.writers:
                self._next_offset.pop(tp, None)
                with contextlib.suppress(KeyError):
                    m.CONSUMER_LAG.remove(tp.topic, str(tp.partition))

    def in_flight(self) -> int:
        """Input records fetched and not yet committed or aborted: queued in a lane or in a transaction."""
        return self._in_transaction + sum(len(lane.pending) for lane in self._lanes.values())

    async def start(self) -> None:
        m.IN_FLIGHT.set_function(self.in_flight)
        self.consumer = AIOKafkaConsumer(
            **self.settings.kafka_kwargs(),
            group_id=self.group_id,
            enable_auto_commit=False,
            isolation_level="read_committed",
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=max(1_048_576, self.settings.max_message_bytes * 2),
            fetch_max_bytes=16 * 1_048_576,
            session_timeout_ms=self.settings.kafka_session_timeout_ms,
            heartbeat_interval_ms=max(1_000, self.settings.kafka_session_timeout_ms // 10),
            max_poll_interval_ms=300_000,
            rebalance_timeout_ms=60_000,
            metadata_max_age_ms=METADATA_MAX_AGE_MS,
        )
        await self.consumer.start()
        try:
            await require_topics(
                self.consumer, [self.topic, *([self.index_topic] if self.index_topic else []), *self.output_topics]
            )
            if self.index_topic is not None:
                # auto_offset_reset=earliest: a newly assigned partition's own reset must never race
                # the explicit seek to the beginning and land at the end.
                self._index_reader = AIOKafkaConsumer(
                    **self.settings.kafka_kwargs(),
                    isolation_level="read_committed",
                    enable_auto_commit=False,
                    auto_offset_reset="earliest",
                )
                await self._index_reader.start()
        except KafkaError:  # start() is retried: leave nothing running behind
            await self.consumer.stop()
            self.consumer = self._index_reader = None
            raise
        if not self.dedupe:
            log.warning("request-id deduplication disabled: PA_TEST_DISABLE_REQUEST_DEDUPE is a test-only setting")
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
                    await asyncio.gather(*(self.close_writer(tp) for tp in list(self.writers)))
                self.assignment_changed()
                if self._index_reader is not None:
                    await self._index_reader.stop()

    async def run(self, stop: asyncio.Event) -> None:
        """Fetch and hand each partition's records to its lane until ``stop`` is set.

        A lane with more than two batches waiting is paused (its fetch stops) until it is down
        to one: memory stays bounded whatever the lag.
        """
        assert self.consumer is not None, "start() first"
        consumer = self.consumer
        high = 2 * self.settings.batch_max_records
        try:
            while not stop.is_set():
                batch = await consumer.getmany(
                    timeout_ms=self.settings.batch_timeout_ms, max_records=self.settings.batch_max_records
                )
                self.last_poll = time.monotonic()
                for tp, msgs in batch.items():
                    lane = self._lanes.get(tp)
                    if lane is None or not lane.active:
                        continue  # not ours (any more): the owner reads them from the committed offset
                    lane.pending.extend(msgs)
                    if len(lane.pending) >= high:
                        lane.pause(consumer)
                    if lane.task is None or lane.task.done():
                        lane.task = asyncio.create_task(self._drain(lane), name=f"lane-{tp.topic}-{tp.partition}")
                self._update_lag()
        finally:
            if stop.is_set():  # stopping: a transaction in flight completes, no new one starts
                for lane in self._lanes.values():
                    lane.active = False

    async def _drain(self, lane: _Lane) -> None:
        """Run ``lane``'s transactions until its queue is empty."""
        size = self.settings.batch_max_records
        while lane.active and lane.pending:
            msgs = lane.pending[:size]
            del lane.pending[:size]
            if len(lane.pending) < size:
                lane.resume(self.consumer)
            async with lane.lock:
                if not lane.active:
                    return
                try:
                    ok = await self._process(lane.tp, msgs)
                except Exception as exc:  # never skip records: start the partition over
                    log.error("partition batch failed", partition=lane.tp.partition, error=type(exc).__name__)
                    await self.close_writer(lane.tp)
                    await self._reopen(lane.tp)
                    ok = False
            if ok:
                lane.failures = 0
            else:
                lane.failures += 1
                await asyncio.sleep(min(5.0, 0.2 * 2 ** min(lane.failures, 5)))

    # -- partitions ------------------------------------------------------------------------

    async def acquire(self, tp: TopicPartition) -> None:
        """The group assigned ``tp``: a new lane, a new producer, positioned at the committed offset."""
        old = self._lanes.pop(tp, None)
        if old is not None:  # assigned again without a revocation in between: settle the old lane
            old.retire()
            async with old.lock:
                pass
        lane = self._lanes[tp] = _Lane(tp)
        async with lane.lock:  # no transaction before the request index is loaded
            await self.close_writer(tp)
            await self.open_writer(tp)

    async def release(self, tp: TopicPartition) -> None:
        """``tp`` was revoked (or the worker stops): wait for its transaction in flight, close its producer."""
        lane = self._lanes.pop(tp, None)
        if lane is not None:
            lane.retire()
            async with lane.lock:
                await self.close_writer(tp)
        else:
            await self.close_writer(tp)

    async def open_writer(self, tp: TopicPartition) -> None:
        if tp in self.writers:
            return
        tid = f"{self.group_id}-{tp.topic}-{tp.partition}"
        producer = AIOKafkaProducer(**producer_kwargs(self.settings), transactional_id=tid)
        await producer.start()  # InitProducerId: fences older producers with this id
        self.writers[tp] = _Writer(tp, producer, tid)
        await self._rewind(tp)
        entries = None
        if self.index_topic is not None:
            self._seen[tp] = await self._load_index(tp.partition)
            entries = len(self._seen[tp])
        log.info(
            "partition assigned",
            topic=tp.topic,
            partition=tp.partition,
            transactional_id=tid,
            request_index_entries=entries,
        )

    async def close_writer(self, tp: TopicPartition) -> None:
        w = self.writers.pop(tp, None)
        if w is None:
            return
        try:
            await w.producer.stop()
        except Exception as exc:  # a fenced producer may fail to close cleanly; it is gone either way
            log.warning("producer close failed", partition=tp.partition, error=type(exc).__name__)
        log.info("partition released", topic=tp.topic, partition=tp.partition)

    async def _load_index(self, partition: int) -> dict[str, str]:
        """Rebuild request_id -> determination_id of input partition ``partition`` from the index
        topic (read_committed, to its last stable offset). Runs after the partition's producer has
        settled any transaction a previous owner left open."""
        assert self._index_reader is not None and self.index_topic is not None
        reader = self._index_reader
        itp = TopicPartition(self.index_topic, partition)
        seen: dict[str, str] = {}
        async with self._index_lock:
            parts = reader.partitions_for_topic(self.index_topic) or set()
            if partition not in parts:  # the cached metadata may predate partitions just added
                await reader._client.force_metadata_update()
                parts = reader.partitions_for_topic(self.index_topic) or set()
            if partition not in parts:
                log.error(
                    "request index has no such partition: duplicates are not detected here",
                    topic=self.index_topic,
                    partition=partition,
                )
                return seen
            reader.assign([itp])
            end = (await reader.end_offsets([itp]))[itp]
            await reader.seek_to_beginning(itp)
            deadline = time.monotonic() + 120
            while await reader.position(itp) < end:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"request index partition {partition} not read within 120 s")
                batch = await reader.getmany(itp, timeout_ms=1000, max_records=10_000)
                for msg in batch.get(itp, []):
                    if msg.key is not None:
                        if msg.value:
                            seen[msg.key.decode()] = msg.value.decode()
                        else:
                            seen.pop(msg.key.decode(), None)
        return seen

    async def _reopen(self, tp: TopicPartition) -> None:
        try:
            await self.open_writer(tp)
        except Exception as exc:
            log.error("partition producer not reopened; will retry", partition=tp.partition, error=type(exc).__name__)

    async def _rewind(self, tp: TopicPartition) -> None:
        """Position ``tp`` at its committed offset (the last transaction that committed)."""
        assert self.consumer is not None
        committed = await self.consumer.committed(tp)
        if committed is None:
            committed = (await self.consumer.beginning_offsets([tp]))[tp]
        # No await from here on: records queued before the seek are dropped in the same step,
        # and whatever is fetched from now on starts at the committed offset.
        lane = self._lanes.get(tp)
        if lane is not None:
            lane.pending.clear()
            lane.resume(self.consumer)
        self.consumer.seek(tp, committed)
        self._next_offset[tp] = committed

    async def _partitions(self, producer: AIOKafkaProducer, topic: str) -> int:
        n = self.partition_counts.get(topic)
        if n is None:
            parts = await producer.partitions_for(topic)
            n = len(parts)
            self.partition_counts[topic] = n
        return n

    async def _process(self, tp: TopicPartition, msgs: list[ConsumerRecord[bytes, bytes]]) -> bool:
        writer = self.writers.get(tp)
        if writer is None:
            lane = self._lanes.get(tp)
            if lane is not None and lane.active:
                # Ours, but its producer was dropped after a failure: open a new one (it rewinds
                # to the committed offset, so these records come again) or retry next batch.
                await self._reopen(tp)
                return False
            return True  # revoked meanwhile: the new owner reads these from the committed offset
        # A batch fetched before a rewind (assignment, abort) may be followed by the same records
        # fetched again from the committed offset: never process an offset below the next one due.
        expected = self._next_offset.get(tp, 0)
        if msgs[0].offset < expected:
            msgs = [msg for msg in msgs if msg.offset >= expected]
            if not msgs:
                return True
        started = time.perf_counter()
        n = len(msgs)
        self._in_transaction += n
        handled: list[Handled] = []
        try:
            for msg in msgs:
                source = Source(msg.topic, msg.partition, msg.offset, msg.timestamp)
                try:
                    handled.append(self.handle(msg.key, msg.value, source))
                except Exception as exc:  # never let one record stop the partition
                    handled.append(internal_error(self.settings.topic_dlq, msg.key, msg.value, source, exc))
            new_index = self._dedupe(tp, handled) if self.index_topic is not None else {}
            producer = writer.producer
            await producer.begin_transaction()
            try:
                futures = await self._send_all(producer, tp, handled)
                await producer.send_offsets_to_transaction({tp: msgs[-1].offset + 1}, self.group_id)
                await asyncio.gather(*futures)
                await producer.commit_transaction()
            except ProducerFenced:
                raise
            except BaseException:
                await _abort_quietly(producer)
                raise
        except ProducerFenced:
            m.TRANSACTIONS.labels("aborted").inc()
            log.warning("producer fenced: partition now owned elsewhere", partition=tp.partition)
            lane = self._lanes.get(tp)
            if lane is not None:  # not reopened until the group assigns it again
                lane.retire()
            await self.close_writer(tp)
            return False
        except asyncio.CancelledError:
            m.TRANSACTIONS.labels("aborted").inc()
            raise
        except Exception as exc:
            m.TRANSACTIONS.labels("aborted").inc()
            log.error(
                "transaction aborted; new producer, rewinding",
                partition=tp.partition,
                error=type(exc).__name__,
                detail=str(exc)[:300],
            )
            # After a failed transaction the producer may be unusable (aiokafka can leave it in a
            # fatal state, e.g. across a broker restart): start the partition over with a new one,
            # which rewinds it to the committed offset.
            await self.close_writer(tp)
            await self._reopen(tp)
            return False
        finally:
            self._in_transaction -= n
        elapsed = time.perf_counter() - started
        self._next_offset[tp] = msgs[-1].offset + 1
        if new_index:
            self._seen.setdefault(tp, {}).update(new_index)
        m.TRANSACTIONS.labels("committed").inc()
        m.BATCH_SECONDS.observe(elapsed)
        m.BATCH_RECORDS.observe(n)
        m.LAST_PROCESSED.set(time.time())
        if self.on_committed is not None:
            self.on_committed(handled, time.time())
        return True

    def _dedupe(self, tp: TopicPartition, handled: list[Handled]) -> dict[str, str]:
        """Drop what was published before for the same request; index what is new.

        A request submitted again with the same request_id and the same content has the same
        determination id: it publishes nothing. Different content under the same request_id
        (a correction) is determined again. Returns the index entries this batch adds.
        """
        assert self.index_topic is not None
        seen = self._seen.get(tp, {})
        added: dict[str, str] = {}
        for i, h in enumerate(handled):
            det = h.determination
            if det is None:
                continue
            before = added.get(det.request_id) or seen.get(det.request_id)
            if before == det.determination_id and self.dedupe:
                handled[i] = Handled(duplicate=True)
                continue
            added[det.request_id] = det.determination_id
            h.records.append(
                OutRecord(
                    self.index_topic, det.request_id.encode(), det.determination_id.encode(), [], partition=tp.partition
                )
            )
        return added

    async def _send_all(self, producer: AIOKafkaProducer, tp: TopicPartition, handled: list[Handled]) -> list[Any]:
        """Every record of ``handled`` into the open transaction: one record batch per output
        topic-partition (``create_batch``/``send_batch``: no future per record), records in order.

        The partition is ``partition``, else murmur2 of ``partition_key`` or ``key`` (the Java
        client's default partitioner), else, for a record without any key, the input partition
        modulo the output topic's partition count.
        """
        groups: dict[tuple[str, int], list[OutRecord]] = {}
        for h in handled:
            for rec in h.records:
                partition = rec.partition
                if partition is None:
                    n = await self._partitions(producer, rec.topic)
                    key = rec.partition_key if rec.partition_key is not None else rec.key
                    partition = tp.partition % n if key is None else partition_for(key, n)
                group = groups.get((rec.topic, partition))
                if group is None:
                    groups[(rec.topic, partition)] = [rec]
                else:
                    group.append(rec)
        futures = []
        for (topic, partition), recs in groups.items():
            batch = producer.create_batch()
            for rec in recs:
                if batch.append(key=rec.key, value=rec.value, timestamp=None, headers=rec.headers) is None:
                    # full: send it, start the next (a batch always takes its first record)
                    futures.append(await producer.send_batch(batch, topic, partition=partition))
                    batch = producer.create_batch()
                    batch.append(key=rec.key, value=rec.value, timestamp=None, headers=rec.headers)
            futures.append(await producer.send_batch(batch, topic, partition=partition))
        return futures

    def _update_lag(self) -> None:
        if self.consumer is None:
            return
        for tp in list(self.writers):
            try:
                end = self.consumer.last_stable_offset(tp)
            except Exception:
                end = None
            pos = self._next_offset.get(tp)
            if end is not None and pos is not None:
                m.CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(max(0, end - pos))


async def _abort_quietly(producer: AIOKafkaProducer) -> None:
    try:
        await producer.abort_transaction()
    except Exception as exc:
        log.warning("abort failed", error=type(exc).__name__)


def record_request_metrics(handled: list[Handled], committed_at: float) -> None:
    """Metrics of a committed batch: only after commit, so counts equal what downstream sees."""
    now = datetime.fromtimestamp(committed_at, UTC)
    counts: Counter[tuple[str, str, str, str, str]] = Counter()
    dlq: Counter[str] = Counter()
    for h in handled:
        det = h.summary
        if det is not None:
            counts[
                (
                    det.decision,
                    det.pend_reason or "none",
                    det.request_type,
                    det.priority,
                    m.lob_label(det.line_of_business),
                )
            ] += 1
            m.DECISION_LATENCY.labels(det.priority).observe(max(0.0, (now - det.received_at).total_seconds()))
            if now > det.decision_due_by:
                m.PAST_DEADLINE.labels(det.priority).inc()
        elif h.error_class is not None:
            dlq[h.error_class] += 1
        elif h.duplicate:
            m.DUPLICATES.inc()
    for labels, n in counts.items():
        m.DETERMINATIONS.labels(*labels).inc(n)
    for error_class, n in dlq.items():
        m.DLQ.labels(error_class).inc(n)


def request_handler(settings: Settings, clock: Callable[[], datetime] | None = None) -> RequestHandler:
    from policy import DEFAULT_SETTINGS
    from worker.handler import Topics

    policy_settings = DEFAULT_SETTINGS
    overrides: dict[str, Any] = {}
    if settings.allow_automated_denials != policy_settings.allow_automated_denials:
        overrides["allow_automated_denials"] = settings.allow_automated_denials
    if overrides:
        policy_settings = policy_settings.replace(**overrides)
    return RequestHandler(
        policy_settings,
        Topics(settings.topic_determinations, settings.topic_dlq, settings.topic_authorizations),
        settings.max_message_bytes,
        clock=clock or (lambda: datetime.now(UTC)),
    )
