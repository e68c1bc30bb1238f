"""The review stage: reviewers' decisions in, final determinations and decision clocks out.

Its input is ``pa.reviews.v1`` (group ``{group}-reviews``). Its store, one
:class:`~worker.pends.PendBook` per input partition ``p``, is partition ``p`` of
``pa.pend-store.v1``, which only this stage writes. The book learns of pends from the pend inbox
``pa.pends.v1`` partition ``p``, which the request processor writes in each determination's
transaction (``worker.stages.requests.with_pend_inbox``); the inbox's read position is part of the
store, so each inbox record is taken exactly once. Reviews and inbox records are co-partitioned by
``member_id``: the runtime refuses to start unless the two topics and the store have the same
partition count (as Kafka Streams does).

- **process** (a batch of reviews): read the inbox to its end (and the notices, below), apply each
  review (a final determination, a new pend, a duplicate or a dead letter): the determinations, the
  dead letters and the book's changes in one transaction with the reviews' offsets;
- **punctuate** (every ``decision_clock_interval_seconds``): read the inbox, then the
  ``pa.decision_clock`` events of the thresholds reached, the book's changes and the deletions of
  pends closed longer than the grace period, in one transaction.

The book is changed as it reads and decides; its changes are the store's puts. A transaction that
aborts leaves the book to be restored again from its changelog (the runtime's store protocol), so
the book never holds what did not commit.

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
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from contracts import PANotice, PAReview
from policy import DEFAULT_SETTINGS, PolicySettings
from policy.versions import Versions
from worker import metrics as m
from worker.config import Settings
from worker.events import CE_TYPE_DECISION_CLOCK, CE_TYPE_DETERMINATION, cloudevent_headers, parse
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
)
from worker.records import DeadLettered, OutRecord, Source, dead_letter
from worker.runtime import TopicPartition, read_range
from worker.runtime.ports import SideReaderPort
from worker.runtime.stage import Commit, Context, Processor, StageSpec, StoreSpec, TaskEvents, copartition_problem

log = get_logger("pa_worker.reviews")

Clock = Callable[[], datetime]

NOTICE_RECHECK_SECONDS = 5.0
"""While the notice intake does not run, how often the review stage looks at its topics again."""


def notice_intake_problem(reviews: int, notices: int, dlq_exists: bool, settings: Settings) -> str | None:
    """Why the notices cannot be read alongside ``reviews`` partitions of reviews (``None``: they can)."""
    if notices == 0:
        return f"{settings.topic_notices} not found (or not authorized)"
    if not dlq_exists:
        return f"{settings.topic_notices_dlq} not found (or not authorized)"
    return copartition_problem(
        settings.topic_reviews, {settings.topic_reviews: reviews, settings.topic_notices: notices}
    )


@dataclass(frozen=True, slots=True)
class _Outcome:
    """One review's or notice's result, with its records and ``pa_worker_reviews_total``'s label."""

    result: ReviewResult | NoticeResult | DeadLettered
    records: tuple[OutRecord, ...] = ()
    label: str = "dead_lettered"


def _dead(dead: DeadLettered) -> _Outcome:
    return _Outcome(dead, dead.records)


class ReviewProcessor(Processor[PendBook]):
    def __init__(
        self,
        settings: Settings,
        clock: Clock = lambda: datetime.now(UTC),
        policy_settings: PolicySettings | Versions = DEFAULT_SETTINGS,
    ) -> None:
        self.settings = s = settings
        self.clock = clock
        self.policy_settings = policy_settings
        self._refresh: Callable[[], Awaitable[None]] | None = None
        self.spec = StageSpec(
            role="reviews",
            group_id=s.review_group_id,
            input=s.topic_reviews,
            outputs=(s.topic_determinations, s.topic_decision_clock, s.topic_reviews_dlq),
            store=StoreSpec(s.topic_pend_store, PendBook),
            copartitioned=(s.topic_pends,),
            punctuate_seconds=s.decision_clock_interval_seconds,
            log_prefix="review stage ",
            side_reader=True,
            events=TaskEvents(restored="review partition restored", released="review partition released"),
        )
        self.reader: SideReaderPort | None = None
        self.notices_enabled = False
        """The notice intake runs (checked at start and, until it runs, every ``NOTICE_RECHECK_SECONDS``)."""
        self._notice_problem: str | None = None
        self._next_notice_check = 0.0
        self._lock = asyncio.Lock()
        """The side reader reads one partition at a time."""

    async def open(self, reader: Any, refresh: Callable[[], Awaitable[None]]) -> None:
        self.reader, self._refresh = reader, refresh
        await self._check_notices()

    async def _check_notices(self) -> None:
        """Take up the notice intake when its topics are right (see :func:`notice_intake_problem`);
        until then, say why once per cause and look again every ``NOTICE_RECHECK_SECONDS``."""
        assert self.reader is not None
        s = self.settings
        self._next_notice_check = time.monotonic() + NOTICE_RECHECK_SECONDS
        async with self._lock:
            # assigned nothing, the reader's next metadata refresh covers every topic (a topic just
            # created may be missing from what the clients fetched at start)
            self.reader.assign([])
            if self._refresh is not None:
                await self._refresh()
            reviews = len(self.reader.partitions_for_topic(s.topic_reviews) or ())
            notices = len(self.reader.partitions_for_topic(s.topic_notices) or ())
            dlq = bool(self.reader.partitions_for_topic(s.topic_notices_dlq))
        problem = notice_intake_problem(reviews, notices, dlq, s)
        if problem is None:
            self.notices_enabled = True
            log.info("notices are read", topic=s.topic_notices, partitions=notices, dlq=s.topic_notices_dlq)
        elif problem != self._notice_problem:
            log.error("notices are not read: the review stage runs without them meanwhile", reason=problem)
        self._notice_problem = problem
        m.NOTICE_INTAKE.set(1 if self.notices_enabled else 0)

    # -- the side inputs --------------------------------------------------------------------------

    async def _catch_up(self, ctx: Context[PendBook], now: datetime) -> list[_Outcome]:
        """Read the pend inbox partition from the book's position to its end, into the book; then
        the notices (see the module doc). Returns the notices' outcomes."""
        reader, book, s = self.reader, ctx.store, self.settings
        assert reader is not None
        inbox = TopicPartition(s.topic_pends, ctx.partition)
        notices = TopicPartition(s.topic_notices, ctx.partition)
        async with self._lock:
            notices_end = None
            if self.notices_enabled:
                notices_end = (await reader.end_offsets([notices]))[notices]
            start = (await reader.beginning_offsets([inbox]))[inbox]
            if start > book.inbox_position:
                log.error(
                    "pend inbox records deleted before the review stage read them (retention): pends lost",
                    partition=ctx.partition,
                    position=book.inbox_position,
                    log_start=start,
                )
            await read_range(
                reader,
                inbox,
                max(book.inbox_position, start),
                lambda _key, value: value,
                observe=lambda offset, value: book.take_inbox(offset, value),  # type: ignore[arg-type]
            )
            if notices_end is None:
                return []
            book.begin_notices(now)
            return await self._take_notices(reader, notices, book, notices_end)

    async def _take_notices(
        self, reader: SideReaderPort, tp: TopicPartition, book: PendBook, end: int
    ) -> list[_Outcome]:
        """The notices of ``tp`` from the book's notice position up to ``end`` (exclusive), at most
        ``batch_max_records``, into the book; the new position is a change of the book."""
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
        out: list[_Outcome] = []
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

    def _notice(self, book: PendBook, msg: Any) -> _Outcome:
        key, value = msg.key, msg.value
        source = Source(msg.topic, msg.partition, msg.offset, getattr(msg, "timestamp", None))
        dlq = self.settings.topic_notices_dlq
        notice = parse(PANotice, value, self.settings.max_message_bytes, dlq, key, source)
        if isinstance(notice, DeadLettered):
            return _dead(notice)
        try:
            result = book.notice(notice, self.settings.notices_max_per_determination)
        except Exception as exc:  # a bug must not stop the partition: the notice goes to the DLQ
            return _dead(
                dead_letter(dlq, key, value, source, "evaluation_error", f"internal error: {type(exc).__name__}")
            )
        if isinstance(result, NoticeRejected):
            return _dead(dead_letter(dlq, key, value, source, result.error_class, result.message))
        return _Outcome(result)

    # -- reviews ------------------------------------------------------------------------------------

    async def process(self, ctx: Context[PendBook], records: Sequence[Any]) -> Commit:
        now = self.clock()
        book = ctx.store
        notices = await self._catch_up(ctx, now)
        outcomes = [self._review(book, msg, now) for msg in records]
        for outcome in (*outcomes, *notices):
            ctx.emit(*outcome.records)
        self._put_changes(ctx)

        def done() -> None:
            book.committed()
            self._count(outcomes)
            self._count_notices(notices, [])

        return done

    def _review(self, book: PendBook, msg: Any, now: datetime) -> _Outcome:
        key, value = msg.key, msg.value
        source = Source(msg.topic, msg.partition, msg.offset, msg.timestamp)
        dlq = self.settings.topic_reviews_dlq
        review = parse(PAReview, value, self.settings.max_message_bytes, dlq, key, source)
        if isinstance(review, DeadLettered):
            return _dead(review)
        try:
            result = book.review(review, now, self.policy_settings)
        except Exception as exc:  # a bug must not stop the partition: the review goes to the DLQ
            return _dead(
                dead_letter(dlq, key, value, source, "evaluation_error", f"internal error: {type(exc).__name__}")
            )
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
                return _dead(dead_letter(dlq, key, value, source, error_class, message))
            case DuplicateReview():
                return _Outcome(result, (), "duplicate")
        raise AssertionError(result)  # pragma: no cover

    def _put_changes(self, ctx: Context[PendBook]) -> None:
        for key, value in ctx.store.records():
            ctx.put(key, value)

    # -- the decision clocks -------------------------------------------------------------------------

    async def punctuate(self, ctx: Context[PendBook]) -> Commit:
        """Read the inbox; emit the clock thresholds reached; delete pends past their grace."""
        if not self.notices_enabled and time.monotonic() >= self._next_notice_check:
            await self._check_notices()
        now = self.clock()
        book = ctx.store
        notices = await self._catch_up(ctx, now)
        events = book.clock(now, self.settings.decision_clock_warning_share)
        overdue = book.notice_clock(now) if self.notices_enabled else []
        expired = book.expire(now, self.settings.pend_state_grace_days)
        if not book.changes:
            return None
        for outcome in notices:
            ctx.emit(*outcome.records)
        for event in events:
            clock_event = decision_clock_event(event, now)
            headers = cloudevent_headers(
                clock_event.event_id,
                CE_TYPE_DECISION_CLOCK,
                now,
                [("pa_determination_id", event.state.determination_id.encode())],
            )
            ctx.emit(
                OutRecord(
                    self.settings.topic_decision_clock,
                    event.state.member_id.encode(),
                    clock_event.model_dump_json().encode(),
                    headers,
                )
            )
        self._put_changes(ctx)

        def done() -> None:
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
                log.info("closed pends deleted after their grace period", partition=ctx.partition, count=expired)

        return done

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

    def _count_notices(self, outcomes: list[_Outcome], overdue: list[NoticeOverdue]) -> None:
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

    def gauges(self, contexts: Sequence[Context[PendBook]]) -> None:
        now = self.clock()
        share = self.settings.decision_clock_warning_share
        counts: dict[tuple[str, str], int] = {(p, r): 0 for p in m.PRIORITIES for r in m.PEND_REASONS}
        warned = breached = 0
        nearest: datetime | None = None
        not_notified = {"yes": 0, "no": 0}
        for ctx in contexts:
            book = ctx.store
            for st in book.open_pends():
                counts[(st.priority, st.pend_reason)] = counts.get((st.priority, st.pend_reason), 0) + 1
                if now >= st.received_at + (st.decision_due_by - st.received_at) * share:
                    warned += 1
                if now >= st.decision_due_by:
                    breached += 1
                if nearest is None or st.decision_due_by < nearest:
                    nearest = st.decision_due_by
            if self.notices_enabled:
                for _, passed in book.not_notified(now):
                    not_notified["yes" if passed else "no"] += 1
        for label, n in not_notified.items():
            m.FINALS_NOT_NOTIFIED.labels(label).set(n)
        for (priority, reason), n in counts.items():
            m.OPEN_PENDS.labels(priority, reason).set(n)
        m.PENDS_PAST_THRESHOLD.labels("warning").set(warned)
        m.PENDS_PAST_THRESHOLD.labels("breach").set(breached)
        m.NEAREST_DEADLINE.set((nearest - now).total_seconds() if nearest is not None else 0)
