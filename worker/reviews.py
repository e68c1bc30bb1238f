"""The review stage: reviewers' decisions in, final determinations and decision clocks out.

Its input is ``pa.reviews.v1`` (group ``{group}-reviews``, offsets committed in its
transactions). Its state, one :class:`~worker.pends.PendBook` per input partition ``p``, is a
changelog-backed store on partition ``p`` of ``pa.pend-store.v1``, which only this stage writes.
The book learns of pends from the pend inbox ``pa.pends.v1`` partition ``p``, which the request
processor writes in each determination's transaction (see :func:`with_pend_inbox`); the inbox's
read position is part of the store, so each inbox record is taken exactly once. Reviews and
inbox records are co-partitioned by ``member_id``: the two topics must have the same partition
count, and the stage refuses to start otherwise (as Kafka Streams does).

All on the shared runtime (``worker.runtime``): on assignment the partition is paused and its
store registered; the loop opens the partition's writer (fencing a previous owner), restores the
book, positions the partition at its committed offset and resumes it. Then, one partition at a
time (reviews are human decisions: a few per minute, not thousands per second):

- a batch of reviews: read the inbox to its end, apply each review (a final determination, a new
  pend, a duplicate or a dead letter), then ONE transaction: the determinations, the dead
  letters, the book's changelog records and the reviews' offsets;
- every ``decision_clock_interval_seconds``: read the inbox, then ONE transaction with the
  ``pa.decision_clock`` events of the thresholds reached, the book's records and the deletions of
  pends closed longer than the grace period.

A transaction that aborts leaves the book to be restored again from its changelog, so the book
never holds what did not commit; killed at any point, the next owner restores the committed state
and does the rest exactly once.

Reviewers' approvals carry their authorization on ``pa.determinations.v1`` like the engine's,
and the reauthorization scheduler schedules their reminders from there.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import ConsumerRecord
from pydantic import ValidationError

from contracts import PAReview
from contracts import channels as ch
from policy import DEFAULT_SETTINGS, PolicySettings
from worker import metrics as m
from worker.config import Settings
from worker.handler import CE_TYPE_DETERMINATION, classify, cloudevent_headers
from worker.kafka import (
    PartitionListener,
    changelog_reader,
    group_consumer_kwargs,
    producer_kwargs,
    refresh_metadata,
    request_rejoin,
    require_topics,
)
from worker.logs import get_logger
from worker.pends import (
    Decided,
    DuplicateReview,
    PendBook,
    Rejected,
    ReviewResult,
    decision_clock_event,
    inbox_value,
)
from worker.records import DeadLettered, OutRecord, Published, Result, Source, dead_letter
from worker.runtime import (
    POLL_STALE_SECONDS,
    ChangelogReader,
    ChangelogStore,
    PartitionLost,
    PartitionWriter,
    Transaction,
    TransactionAborted,
    read_range,
)

log = get_logger("pa_worker.reviews")

Clock = Callable[[], datetime]
Handle = Callable[[bytes | None, bytes | None, Source], Result]

CE_TYPE_DECISION_CLOCK = ch.DECISION_CLOCK.ce_type or ""


def with_pend_inbox(handle: Handle, topic: str, determinations_topic: str) -> Handle:
    """``handle`` with the pend inbox record of each determination added to its records.

    A pend's record carries the pended determination and its request (spliced from the
    determination's published bytes and the request's bytes as received: nothing is parsed or
    serialized again); any other decision only its ids. The record goes in the determination's
    transaction, keyed by determination id and partitioned by member id (co-partitioned with
    ``pa.reviews.v1``)."""

    def with_inbox(key: bytes | None, value: bytes | None, source: Source) -> Result:
        result = handle(key, value, source)
        if isinstance(result, Published) and result.determination is not None:
            det = result.determination
            det_json = next(r.value for r in result.records if r.topic == determinations_topic)
            extra = OutRecord(
                topic,
                det.determination_id.encode(),
                inbox_value(det, det_json, value),
                [("content-type", b"application/json")],
                partition_key=det.member_id.encode(),
            )
            return Published((*result.records, extra), det)
        return result

    return with_inbox


class CoPartitioningError(RuntimeError):
    """The review topic and the pend inbox do not have the same partition count."""


@dataclass
class _Partition:
    tp: TopicPartition
    writer: PartitionWriter
    store: ChangelogStore[PendBook]
    inbox: TopicPartition
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    task: asyncio.Task[None] | None = None
    ready: bool = False
    next_offset: int = 0

    @property
    def book(self) -> PendBook:
        return self.store.state


@dataclass(frozen=True, slots=True)
class _Outcome:
    """One review's result, with what to count once committed."""

    result: ReviewResult | DeadLettered
    records: tuple[OutRecord, ...]
    label: str = "dead_lettered"
    """``pa_worker_reviews_total``'s result label."""


class ReviewStage:
    def __init__(
        self,
        settings: Settings,
        clock: Clock = lambda: datetime.now(UTC),
        policy_settings: PolicySettings = DEFAULT_SETTINGS,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.policy_settings = policy_settings
        self.group_id = settings.review_group_id
        self.topic = settings.topic_reviews
        self.lock = asyncio.Lock()
        self.parts: dict[TopicPartition, _Partition] = {}
        self.consumer: AIOKafkaConsumer | None = None
        self.restorer: ChangelogReader | None = None
        self.inbox_reader: AIOKafkaConsumer | None = None
        self._inbox_lock = asyncio.Lock()
        self.listener: PartitionListener | None = None
        self.last_poll = 0.0

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        return (
            self.listener is not None
            and self.listener.joined
            and (time.monotonic() - self.last_poll) < POLL_STALE_SECONDS
            and all(p.ready for p in self.parts.values())
        )

    async def start(self) -> None:
        s = self.settings
        self.consumer = AIOKafkaConsumer(**group_consumer_kwargs(s, self.group_id))
        await self.consumer.start()
        readers: list[AIOKafkaConsumer] = []
        try:
            await require_topics(
                self.consumer,
                [
                    self.topic,
                    s.topic_pends,
                    s.topic_pend_store,
                    s.topic_determinations,
                    s.topic_decision_clock,
                    s.topic_reviews_dlq,
                ],
            )
            counts = {t: len(self.consumer.partitions_for_topic(t) or ()) for t in (self.topic, s.topic_pends)}
            store_count = len(self.consumer.partitions_for_topic(s.topic_pend_store) or ())
            if counts[self.topic] != counts[s.topic_pends] or store_count < counts[self.topic]:
                raise CoPartitioningError(
                    f"{self.topic} has {counts[self.topic]} partitions, {s.topic_pends} {counts[s.topic_pends]} "
                    f"and {s.topic_pend_store} {store_count}: the first two must be equal and the store at "
                    "least as many (reviews and pends are co-partitioned by member_id)"
                )
            for _ in range(2):
                reader = changelog_reader(s)
                await reader.start()
                readers.append(reader)
        except BaseException:
            for reader in readers:
                await reader.stop()
            await self.consumer.stop()
            self.consumer = None
            raise
        store_reader, self.inbox_reader = readers
        self.restorer = ChangelogReader(store_reader, lambda: refresh_metadata(store_reader))
        self.listener = PartitionListener(self.lock, self.acquire, self.release, self.refresh_gauges)
        self.consumer.subscribe([self.topic], listener=self.listener)

    async def stop(self) -> None:
        if self.consumer is not None:
            try:
                await self.consumer.stop()
            finally:
                async with self.lock:
                    await asyncio.gather(*(self.release(tp) for tp in list(self.parts)))
                self.refresh_gauges()
                if self.restorer is not None:
                    await self.restorer.reader.stop()  # type: ignore[attr-defined]
                if self.inbox_reader is not None:
                    await self.inbox_reader.stop()

    def _writer(self, tp: TopicPartition) -> PartitionWriter:
        def factory(tid: str) -> AIOKafkaProducer:
            return AIOKafkaProducer(**producer_kwargs(self.settings), transactional_id=tid)

        return PartitionWriter(tp, self.group_id, "reviews", factory, log_prefix="review stage ")

    async def acquire(self, tp: TopicPartition) -> None:
        """Assigned: pause the partition and register its book; the loop restores it."""
        assert self.consumer is not None
        if tp in self.parts:
            return
        with contextlib.suppress(Exception):  # revoked meanwhile: nothing to pause
            self.consumer.pause(tp)
        store = ChangelogStore(TopicPartition(self.settings.topic_pend_store, tp.partition), PendBook)
        self.parts[tp] = _Partition(
            tp, self._writer(tp), store, TopicPartition(self.settings.topic_pends, tp.partition)
        )

    async def release(self, tp: TopicPartition) -> None:
        part = self.parts.pop(tp, None)
        if part is None:
            return
        if part.task is not None and not part.task.done():
            part.task.cancel()
            with contextlib.suppress(BaseException):
                await part.task
        async with part.lock:
            await part.writer.close()
        log.info("review partition released", partition=tp.partition)

    async def _restore(self, part: _Partition) -> None:
        """Open the writer (fencing the previous owner), restore the book, rewind and resume."""
        assert self.consumer is not None and self.restorer is not None
        await part.writer.backoff()
        async with part.lock:
            try:
                if not part.writer.is_open:
                    await part.writer.open()
                await self.restorer.restore(part.store)
                committed = await self.consumer.committed(part.tp)
                if committed is None:
                    committed = (await self.consumer.beginning_offsets([part.tp]))[part.tp]
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                part.writer.failures += 1
                await part.writer.close()
                log.error(
                    "review partition not restored; will retry", partition=part.tp.partition, error=type(exc).__name__
                )
                return
            async with self.lock:
                if self.parts.get(part.tp) is not part:
                    return
                self.consumer.seek(part.tp, committed)
                part.next_offset = committed
                with contextlib.suppress(Exception):
                    self.consumer.resume(part.tp)
                part.ready = True
        log.info(
            "review partition restored",
            partition=part.tp.partition,
            pends=len(part.book),
            records=part.store.records_restored,
            inbox_position=part.book.inbox_position,
            seconds=round(part.store.restore_seconds, 3),
        )

    async def _failed(self, part: _Partition, exc: Exception, what: str) -> None:
        """A batch's or a tick's transaction did not commit. Fenced: the partition is not taken up
        again until the group assigns it again. Otherwise the book may hold what did not commit:
        the partition is paused and restored again (a new producer after the writer's backoff)."""
        part.ready = False
        if isinstance(exc, PartitionLost):
            self.parts.pop(part.tp, None)
            if self.consumer is not None:
                request_rejoin(self.consumer)
            return
        if not isinstance(exc, TransactionAborted):  # the writer closed itself on an abort
            log.error(what, partition=part.tp.partition, error=type(exc).__name__)
            part.writer.failures += 1
            await part.writer.close()
        part.store.restored = False
        if self.consumer is not None:
            with contextlib.suppress(Exception):
                self.consumer.pause(part.tp)

    # -- the loop -----------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        assert self.consumer is not None, "start() first"
        next_tick = 0.0
        while not stop.is_set():
            for part in self.parts.values():  # restored in the loop, never in the rebalance callback
                if not part.ready and (part.task is None or part.task.done()):
                    part.task = asyncio.create_task(self._restore(part), name=f"restore-reviews-{part.tp.partition}")
            batch = await self.consumer.getmany(timeout_ms=200, max_records=500)
            self.last_poll = time.monotonic()
            for tp, msgs in batch.items():
                live = self.parts.get(tp)
                if live is None or not live.ready:
                    continue  # not ours, or not restored: read again from the committed offset
                fresh = [msg for msg in msgs if msg.offset >= live.next_offset]
                if fresh:
                    await self._reviews(live, fresh)
            if time.monotonic() >= next_tick:
                next_tick = time.monotonic() + self.settings.decision_clock_interval_seconds
                for part in list(self.parts.values()):
                    if part.ready:
                        await self._tick(part)
                self.refresh_gauges()

    async def _catch_up(self, part: _Partition) -> None:
        """Read the pend inbox partition from the book's position to its end, into the book."""
        assert self.inbox_reader is not None
        book = part.book
        async with self._inbox_lock:
            start = (await self.inbox_reader.beginning_offsets([part.inbox]))[part.inbox]
            if start > book.inbox_position:
                log.error(
                    "pend inbox records deleted before the review stage read them (retention): pends lost",
                    partition=part.inbox.partition,
                    position=book.inbox_position,
                    log_start=start,
                )
            await read_range(
                self.inbox_reader,
                part.inbox,
                max(book.inbox_position, start),
                lambda _key, value: value,
                observe=lambda offset, value: book.take_inbox(offset, value),  # type: ignore[arg-type]
            )

    async def _reviews(self, part: _Partition, msgs: list[ConsumerRecord[bytes, bytes]]) -> None:
        async with part.lock:
            if not part.ready:
                return
            now = self.clock()
            book = part.book
            outcomes: list[_Outcome] = []
            try:
                await self._catch_up(part)
                for msg in msgs:
                    outcomes.append(self._review(book, msg, now))
                last = msgs[-1].offset
                async with part.writer.transaction({part.tp: last + 1}) as txn:
                    for outcome in outcomes:
                        for rec in outcome.records:
                            await txn.send(rec.topic, rec.value, key=rec.key, headers=rec.headers)
                    await self._send_book(txn, part)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                await self._failed(part, exc, "review batch failed")
                return
            part.next_offset = last + 1
            book.committed()
        self._count(outcomes)

    def _review(self, book: PendBook, msg: ConsumerRecord[bytes, bytes], now: datetime) -> _Outcome:
        key, value = msg.key, msg.value
        source = Source(msg.topic, msg.partition, msg.offset, msg.timestamp)
        dlq = self.settings.topic_reviews_dlq
        if not value:
            dead = dead_letter(dlq, key, b"", source, "not_json", "empty message value")
            return _Outcome(dead, dead.records)
        if len(value) > self.settings.max_message_bytes:
            message = f"message is {len(value)} bytes; the limit is {self.settings.max_message_bytes}"
            dead = dead_letter(dlq, key, value, source, "too_large", message)
            return _Outcome(dead, dead.records)
        try:
            review = PAReview.model_validate_json(value)
        except ValidationError as exc:
            rejection = classify(exc)
            dead = dead_letter(dlq, key, value, source, rejection.error_class, rejection.message, rejection.fields)
            return _Outcome(dead, dead.records)
        try:
            result = book.review(review, now, self.policy_settings)
        except Exception as exc:  # a bug must not stop the partition: the review goes to the DLQ
            dead = dead_letter(dlq, key, value, source, "evaluation_error", f"internal error: {type(exc).__name__}")
            return _Outcome(dead, dead.records)
        match result:
            case Decided(determination=det):
                headers = cloudevent_headers(
                    det.determination_id,
                    CE_TYPE_DETERMINATION,
                    det.decided_at,
                    [
                        ("pa_request_id", det.request_id.encode()),
                        ("pa_decision", det.decision.encode()),
                        ("pa_review_id", review.review_id.encode()),
                    ],
                )
                value_out = det.model_dump_json().encode()
                rec = OutRecord(self.settings.topic_determinations, det.member_id.encode(), value_out, headers)
                return _Outcome(result, (rec,), review.outcome)
            case Rejected(error_class=error_class, message=message):
                dead = dead_letter(dlq, key, value, source, error_class, message)
                return _Outcome(dead, dead.records)
            case DuplicateReview():
                return _Outcome(result, (), "duplicate")
        raise AssertionError(result)  # pragma: no cover

    async def _send_book(self, txn: Transaction, part: _Partition) -> None:
        for key, value in part.book.records():
            headers = [("content-type", b"application/json")] if value is not None else []
            await txn.send(
                part.store.changelog.topic, value, key=key, partition=part.store.changelog.partition, headers=headers
            )

    async def _tick(self, part: _Partition) -> None:
        """Read the inbox; emit the clock thresholds reached; delete pends past their grace."""
        async with part.lock:
            if not part.ready:
                return
            now = self.clock()
            book = part.book
            try:
                await self._catch_up(part)
                events = book.clock(now, self.settings.decision_clock_warning_share)
                expired = book.expire(now, self.settings.pend_state_grace_days)
                if not book.changes:
                    return
                async with part.writer.transaction() as txn:
                    for event in events:
                        clock_event = decision_clock_event(event, now)
                        await txn.send(
                            self.settings.topic_decision_clock,
                            clock_event.model_dump_json().encode(),
                            key=event.state.member_id.encode(),
                            headers=cloudevent_headers(
                                clock_event.event_id,
                                CE_TYPE_DECISION_CLOCK,
                                now,
                                [("pa_determination_id", event.state.determination_id.encode())],
                            ),
                        )
                    await self._send_book(txn, part)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                await self._failed(part, exc, "decision clock tick failed")
                return
            book.committed()
        for event in events:
            m.CLOCK_EVENTS.labels(event.threshold).inc()
            if event.threshold == "breach":
                m.DEADLINES_MISSED.labels(event.state.priority).inc()
            log.warning(
                "decision clock " + event.threshold,
                determination_id=event.state.determination_id,
                priority=event.state.priority,
                pend_reason=event.state.pend_reason,
                decision_due_by=event.state.decision_due_by.isoformat(),
            )
        if expired:
            log.info("closed pends deleted after their grace period", partition=part.tp.partition, count=expired)

    # -- metrics ------------------------------------------------------------------------------

    def _count(self, outcomes: list[_Outcome]) -> None:
        committed = datetime.now(UTC)
        for outcome in outcomes:
            match outcome.result:
                case Decided(determination=det, resolved=resolved):
                    assert det.review_id is not None
                    m.REVIEWS.labels(outcome.label).inc()
                    if det.decision != "pended":
                        m.FINAL_DECISIONS.labels(det.decision, "reviewer", resolved.pend_reason).inc()
                        waited = max(0.0, (committed - resolved.received_at).total_seconds())
                        m.TIME_TO_FINAL.labels(resolved.priority, "reviewer").observe(waited)
                    log.info(
                        "review applied",
                        determination_id=det.determination_id,
                        supersedes=det.supersedes,
                        decision=det.decision,
                        credential=det.decided_by.credential if det.decided_by else None,
                    )
                case DeadLettered(error_class=error_class):
                    m.REVIEWS.labels("dead_lettered").inc()
                    m.DLQ.labels(error_class).inc()
                    log.warning("review dead-lettered", error_class=error_class)
                case DuplicateReview(determination_id=det_id):
                    m.REVIEWS.labels("duplicate").inc()
                    log.info("duplicate review: nothing published", determination_id=det_id)

    def refresh_gauges(self) -> None:
        now = self.clock()
        share = self.settings.decision_clock_warning_share
        counts: dict[tuple[str, str], int] = {(p, r): 0 for p in m.PRIORITIES for r in m.PEND_REASONS}
        warned = breached = 0
        nearest: datetime | None = None
        for part in self.parts.values():
            if not part.ready:
                continue
            for st in part.book.open_pends():
                counts[(st.priority, st.pend_reason)] = counts.get((st.priority, st.pend_reason), 0) + 1
                if now >= st.received_at + (st.decision_due_by - st.received_at) * share:
                    warned += 1
                if now >= st.decision_due_by:
                    breached += 1
                if nearest is None or st.decision_due_by < nearest:
                    nearest = st.decision_due_by
        for (priority, reason), n in counts.items():
            m.OPEN_PENDS.labels(priority, reason).set(n)
        m.PENDS_PAST_THRESHOLD.labels("warning").set(warned)
        m.PENDS_PAST_THRESHOLD.labels("breach").set(breached)
        m.NEAREST_DEADLINE.set((nearest - now).total_seconds() if nearest is not None else 0)
        m.ASSIGNED_PARTITIONS.labels("reviews").set(len(self.parts))
