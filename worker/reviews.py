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

Notices (issue #23): the letter system's ``pa.notice`` events on ``pa.notices.v1`` (key
``member_id``, the partition count of ``pa.reviews.v1``) are read like the pend inbox, by the owner
of review partition ``p`` from notice partition ``p``, at each batch and each tick: from the
store's notice position to the end offset taken BEFORE the inbox is read (so the pend a notice
names is in the book), at most ``batch_max_records`` per transaction. Each notice is kept in the
book (:meth:`~worker.pends.PendBook.notice`), or dead-lettered to ``pa.notices.dlq.v1``, in the
same transaction as the store's records and the new notice position: exactly once, like the inbox.
The tick reports, once each, the reviewers' final decisions whose member was not notified by their
``decision_due_by`` (a log line and ``pa_worker_notice_deadlines_missed_total``; the contract has
no event for it yet). The intake is checked at start: the topic and its DLQ must exist with the
reviews' partition count; otherwise the stage runs without it (an error logged,
``pa_worker_notice_intake`` 0) rather than stop reviewers' decisions, looks again every
``NOTICE_RECHECK_SECONDS``, and the notices wait in their topic meanwhile: nothing is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pydantic import ValidationError

from contracts import PANotice, PAReview
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
    DuplicateNotice,
    DuplicateReview,
    NoticeOverdue,
    NoticeRecorded,
    NoticeRejected,
    NoticeResult,
    NoticeUntracked,
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
from worker.runtime.ports import ConsumerPort, ReaderPort
from worker.runtime.writer import ProducerFactory

log = get_logger("pa_worker.reviews")

Clock = Callable[[], datetime]
Handle = Callable[[bytes | None, bytes | None, Source], Result]

CE_TYPE_DECISION_CLOCK = ch.DECISION_CLOCK.ce_type or ""


class GroupConsumer(ConsumerPort, Protocol):
    """The review stage's group consumer: the runtime's port, plus the partition counts of topics it
    does not subscribe to (the co-partitioning check at start)."""

    def partitions_for_topic(self, topic: str) -> set[int] | None: ...


class SideReader(ReaderPort, Protocol):
    """A group-less read_committed consumer that reads the pend inbox and the notices."""

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def beginning_offsets(self, partitions: list[TopicPartition]) -> Mapping[TopicPartition, int]: ...


class Message(Protocol):
    """A consumed record, as the review stage reads it (aiokafka's ``ConsumerRecord``)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def timestamp(self) -> int | None: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...


NOTICE_RECHECK_SECONDS = 5.0
"""While the notice intake does not run, how often the review stage looks at its topics again."""


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


def notice_intake_problem(reviews: int, notices: int, dlq_exists: bool, settings: Settings) -> str | None:
    """Why the notices cannot be read alongside ``reviews`` partitions of reviews (``None``: they can)."""
    if notices == 0:
        return f"{settings.topic_notices} not found (or not authorized)"
    if not dlq_exists:
        return f"{settings.topic_notices_dlq} not found (or not authorized)"
    if notices != reviews or reviews == 0:
        return (
            f"{settings.topic_notices} has {notices} partitions and {settings.topic_reviews} {reviews}: they must be "
            "equal (notices and reviews are co-partitioned by member_id)"
        )
    return None


@dataclass
class _Partition:
    tp: TopicPartition
    writer: PartitionWriter
    store: ChangelogStore[PendBook]
    inbox: TopicPartition
    notices: TopicPartition
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


@dataclass(frozen=True, slots=True)
class _NoticeOutcome:
    """One notice's result, with its records (a dead letter's)."""

    result: NoticeResult | DeadLettered
    records: tuple[OutRecord, ...] = ()


class ReviewStage:
    """``consumer_factory``, ``producer_factory`` (given the transactional id), ``restorer_factory``
    (the store's) and ``reader_factory`` (a started group-less reader of the inbox and the notices)
    make the Kafka clients (as the request processor's do); aiokafka's by default, the in-memory
    fakes of ``tests/worker/fakes.py`` in the unit tests."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock = lambda: datetime.now(UTC),
        policy_settings: PolicySettings = DEFAULT_SETTINGS,
        *,
        consumer_factory: Callable[[], GroupConsumer] | None = None,
        producer_factory: ProducerFactory | None = None,
        restorer_factory: Callable[[], Awaitable[ChangelogReader]] | None = None,
        reader_factory: Callable[[], Awaitable[SideReader]] | None = None,
    ) -> None:
        self.settings = settings
        self._consumer_factory = consumer_factory or self._group_consumer
        self._producer_factory = producer_factory or self._producer
        self._restorer_factory = restorer_factory or self._changelog_restorer
        self._reader_factory = reader_factory or self._reader
        self.clock = clock
        self.policy_settings = policy_settings
        self.group_id = settings.review_group_id
        self.topic = settings.topic_reviews
        self.lock = asyncio.Lock()
        self.parts: dict[TopicPartition, _Partition] = {}
        self.consumer: GroupConsumer | None = None
        self.restorer: ChangelogReader | None = None
        self.inbox_reader: SideReader | None = None
        self.notices_enabled = False
        """The notice intake runs (checked at start and, until it runs, every ``NOTICE_RECHECK_SECONDS``)."""
        self._notice_problem: str | None = None
        self._next_notice_check = 0.0
        self._review_partitions = 0
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

    def _group_consumer(self) -> GroupConsumer:
        consumer: GroupConsumer = AIOKafkaConsumer(**group_consumer_kwargs(self.settings, self.group_id))
        return consumer

    def _producer(self, tid: str) -> AIOKafkaProducer:
        return AIOKafkaProducer(**producer_kwargs(self.settings), transactional_id=tid)

    async def _changelog_restorer(self) -> ChangelogReader:
        reader = changelog_reader(self.settings)
        await reader.start()
        return ChangelogReader(reader, lambda: refresh_metadata(reader))

    async def _reader(self) -> SideReader:
        reader: SideReader = changelog_reader(self.settings)
        await reader.start()
        return reader

    async def start(self) -> None:
        s = self.settings
        self.consumer = self._consumer_factory()
        await self.consumer.start()
        restorer: ChangelogReader | None = None
        reader: SideReader | None = None
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
            # the partition counts of topics just created may not be in the bootstrap's metadata yet
            await refresh_metadata(self.consumer)
            counts = {t: len(self.consumer.partitions_for_topic(t) or ()) for t in (self.topic, s.topic_pends)}
            store_count = len(self.consumer.partitions_for_topic(s.topic_pend_store) or ())
            if counts[self.topic] != counts[s.topic_pends] or store_count < counts[self.topic]:
                raise CoPartitioningError(
                    f"{self.topic} has {counts[self.topic]} partitions, {s.topic_pends} {counts[s.topic_pends]} "
                    f"and {s.topic_pend_store} {store_count}: the first two must be equal and the store at "
                    "least as many (reviews and pends are co-partitioned by member_id)"
                )
            self._review_partitions = counts[self.topic]
            restorer = await self._restorer_factory()
            reader = await self._reader_factory()
        except BaseException:
            if restorer is not None:
                await restorer.reader.stop()  # type: ignore[attr-defined]
            await self.consumer.stop()
            self.consumer = None
            raise
        self.restorer, self.inbox_reader = restorer, reader
        await self._check_notices()
        self.listener = PartitionListener(self.lock, self.acquire, self.release, self.refresh_gauges)
        self.consumer.subscribe([self.topic], listener=self.listener)

    async def _check_notices(self) -> None:
        """Take up the notice intake when its topics are right (see :func:`notice_intake_problem`);
        until then, say why once per cause and look again every ``NOTICE_RECHECK_SECONDS``."""
        assert self.inbox_reader is not None
        s = self.settings
        self._next_notice_check = time.monotonic() + NOTICE_RECHECK_SECONDS
        async with self._inbox_lock:
            # assigned nothing, the reader's next metadata refresh covers every topic (a topic just
            # created may be missing from what the clients fetched at start)
            self.inbox_reader.assign([])
            await refresh_metadata(self.inbox_reader)
            notices = len(self.inbox_reader.partitions_for_topic(s.topic_notices) or ())
            dlq = bool(self.inbox_reader.partitions_for_topic(s.topic_notices_dlq))
        problem = notice_intake_problem(self._review_partitions, notices, dlq, s)
        if problem is None:
            self.notices_enabled = True
            log.info("notices are read", topic=s.topic_notices, partitions=notices, dlq=s.topic_notices_dlq)
        elif problem != self._notice_problem:
            log.error("notices are not read: the review stage runs without them meanwhile", reason=problem)
        self._notice_problem = problem
        m.NOTICE_INTAKE.set(1 if self.notices_enabled else 0)

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
        return PartitionWriter(tp, self.group_id, "reviews", self._producer_factory, log_prefix="review stage ")

    async def acquire(self, tp: TopicPartition) -> None:
        """Assigned: pause the partition and register its book; the loop restores it."""
        assert self.consumer is not None
        if tp in self.parts:
            return
        with contextlib.suppress(Exception):  # revoked meanwhile: nothing to pause
            self.consumer.pause(tp)
        store = ChangelogStore(TopicPartition(self.settings.topic_pend_store, tp.partition), PendBook)
        self.parts[tp] = _Partition(
            tp,
            self._writer(tp),
            store,
            TopicPartition(self.settings.topic_pends, tp.partition),
            TopicPartition(self.settings.topic_notices, tp.partition),
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
            notices=len(part.book.notices),
            notices_position=part.book.notices_position,
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
            if not self.notices_enabled and time.monotonic() >= self._next_notice_check:
                await self._check_notices()
            if time.monotonic() >= next_tick:
                next_tick = time.monotonic() + self.settings.decision_clock_interval_seconds
                for part in list(self.parts.values()):
                    if part.ready:
                        await self._tick(part)
                self.refresh_gauges()

    async def _catch_up(self, part: _Partition, now: datetime) -> list[_NoticeOutcome]:
        """Read the pend inbox partition from the book's position to its end, into the book; then
        the notices (see the module doc). Returns the notices' outcomes."""
        assert self.inbox_reader is not None
        book = part.book
        async with self._inbox_lock:
            notices_end = None
            if self.notices_enabled:
                notices_end = (await self.inbox_reader.end_offsets([part.notices]))[part.notices]
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
            if notices_end is None:
                return []
            book.begin_notices(now)
            return await self._take_notices(part, notices_end)

    async def _take_notices(self, part: _Partition, end: int) -> list[_NoticeOutcome]:
        """The notices of ``part`` from the book's notice position up to ``end`` (exclusive), at most
        ``batch_max_records``, into the book; the new position is a change of the book."""
        assert self.inbox_reader is not None
        reader, tp, book = self.inbox_reader, part.notices, part.book
        start = (await reader.beginning_offsets([tp]))[tp]
        if start > book.notices_position:
            log.error(
                "notices deleted before the review stage read them (retention): not recorded",
                partition=tp.partition,
                position=book.notices_position,
                log_start=start,
            )
        position = max(book.notices_position, start)
        limit = self.settings.batch_max_records
        out: list[_NoticeOutcome] = []
        if position < end:
            reader.assign([tp])
            reader.seek(tp, position)
            deadline = time.monotonic() + 120.0
            while position < end and len(out) < limit:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{tp.topic}-{tp.partition} not read to {end} within 120 s")
                batch = await reader.getmany(tp, timeout_ms=1000, max_records=limit - len(out))
                for msg in batch.get(tp, ()):
                    if msg.offset >= end:
                        position = end
                        break
                    out.append(self._notice(book, msg))
                    position = msg.offset + 1
                else:  # every record fetched was taken: the position may also pass transaction markers
                    position = max(position, min(await reader.position(tp), end))
        book.notices_read(position)
        return out

    def _notice(self, book: PendBook, msg: Message) -> _NoticeOutcome:
        key, value = msg.key, msg.value
        source = Source(msg.topic, msg.partition, msg.offset, getattr(msg, "timestamp", None))
        dlq = self.settings.topic_notices_dlq
        if not value:
            dead = dead_letter(dlq, key, b"", source, "not_json", "empty message value")
            return _NoticeOutcome(dead, dead.records)
        if len(value) > self.settings.max_message_bytes:
            message = f"message is {len(value)} bytes; the limit is {self.settings.max_message_bytes}"
            dead = dead_letter(dlq, key, value, source, "too_large", message)
            return _NoticeOutcome(dead, dead.records)
        try:
            notice = PANotice.model_validate_json(value)
        except ValidationError as exc:
            rejection = classify(exc)
            dead = dead_letter(dlq, key, value, source, rejection.error_class, rejection.message, rejection.fields)
            return _NoticeOutcome(dead, dead.records)
        try:
            result = book.notice(notice, self.settings.notices_max_per_determination)
        except Exception as exc:  # a bug must not stop the partition: the notice goes to the DLQ
            dead = dead_letter(dlq, key, value, source, "evaluation_error", f"internal error: {type(exc).__name__}")
            return _NoticeOutcome(dead, dead.records)
        if isinstance(result, NoticeRejected):
            dead = dead_letter(dlq, key, value, source, result.error_class, result.message)
            return _NoticeOutcome(dead, dead.records)
        return _NoticeOutcome(result)

    async def _reviews(self, part: _Partition, msgs: Sequence[Message]) -> None:
        async with part.lock:
            if not part.ready:
                return
            now = self.clock()
            book = part.book
            outcomes: list[_Outcome] = []
            notices: list[_NoticeOutcome] = []
            try:
                notices = await self._catch_up(part, now)
                for msg in msgs:
                    outcomes.append(self._review(book, msg, now))
                last = msgs[-1].offset
                async with part.writer.transaction({part.tp: last + 1}) as txn:
                    for rec in [r for o in outcomes for r in o.records] + [r for o in notices for r in o.records]:
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
        self._count_notices(notices, [])

    def _review(self, book: PendBook, msg: Message, now: datetime) -> _Outcome:
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
            notices: list[_NoticeOutcome] = []
            try:
                notices = await self._catch_up(part, now)
                events = book.clock(now, self.settings.decision_clock_warning_share)
                overdue = book.notice_clock(now) if self.notices_enabled else []
                expired = book.expire(now, self.settings.pend_state_grace_days)
                if not book.changes:
                    return
                async with part.writer.transaction() as txn:
                    for outcome in notices:
                        for rec in outcome.records:
                            await txn.send(rec.topic, rec.value, key=rec.key, headers=rec.headers)
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
        self._count_notices(notices, overdue)
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

    def _count_notices(self, outcomes: list[_NoticeOutcome], overdue: list[NoticeOverdue]) -> None:
        for outcome in outcomes:
            match outcome.result:
                case NoticeRecorded(notice=notice, pend=pend, final=final, member_notified=at):
                    m.NOTICES.labels("recorded").inc()
                    if at is not None:
                        timely = at <= pend.decision_due_by
                        m.MEMBER_NOTICES.labels(pend.priority, "yes" if timely else "no").inc()
                        m.TIME_TO_MEMBER_NOTICE.labels(pend.priority).observe(
                            max(0.0, (at - pend.received_at).total_seconds())
                        )
                    log.info(
                        "notice recorded",
                        determination_id=notice.determination_id,
                        notice_id=notice.notice_id,
                        kind=notice.kind,
                        channel=notice.channel,
                        recipient=notice.recipient,
                        final=final,
                        member_notified_in_time=None if at is None else at <= pend.decision_due_by,
                    )
                case DuplicateNotice(notice_id=notice_id, determination_id=det_id):
                    m.NOTICES.labels("duplicate").inc()
                    log.info("duplicate notice: kept once", determination_id=det_id, notice_id=notice_id)
                case NoticeUntracked(determination_id=det_id):
                    m.NOTICES.labels("untracked").inc()
                    log.info("notice of a determination the review stage does not keep", determination_id=det_id)
                case DeadLettered(error_class=error_class):
                    m.NOTICES.labels("dead_lettered").inc()
                    m.DLQ.labels(error_class).inc()
                    log.warning("notice dead-lettered", error_class=error_class)
        for late in overdue:
            m.NOTICE_DEADLINES_MISSED.labels(late.pend.priority).inc()
            log.warning(
                "member not notified of a final decision by its decision_due_by",
                determination_id=late.final_id,
                pend_id=late.pend.determination_id,
                priority=late.pend.priority,
                decision_due_by=late.pend.decision_due_by.isoformat(),
            )

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
        not_notified = {"yes": 0, "no": 0}
        for part in self.parts.values():
            if part.ready and self.notices_enabled:
                for _, passed in part.book.not_notified(now):
                    not_notified["yes" if passed else "no"] += 1
        for label, n in not_notified.items():
            m.FINALS_NOT_NOTIFIED.labels(label).set(n)
        for (priority, reason), n in counts.items():
            m.OPEN_PENDS.labels(priority, reason).set(n)
        m.PENDS_PAST_THRESHOLD.labels("warning").set(warned)
        m.PENDS_PAST_THRESHOLD.labels("breach").set(breached)
        m.NEAREST_DEADLINE.set((nearest - now).total_seconds() if nearest is not None else 0)
        m.ASSIGNED_PARTITIONS.labels("reviews").set(len(self.parts))
