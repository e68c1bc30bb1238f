"""The pend book: open pends, their decision clocks, and the reviews that close them.

No Kafka and no clock: the review stage (``worker.stages.reviews``) gives it records and the time.

One book per partition of ``pa.reviews.v1``. Its state is the review stage's store, whose
changelog is ``pa.pend-store.v1`` (written only by the review stage): one :class:`PendState` per
determination, and the position of the pend inbox (``pa.pends.v1``, written by the request
processor) up to which the book has read. :meth:`PendBook.apply` restores it record by record.

Changes (inbox read, reviews applied, clock thresholds reached, expiry) mutate the book and are
recorded in :attr:`PendBook.changes`; the stage writes them as changelog records in the same
transaction as their outputs and input offsets, and calls :meth:`PendBook.committed`. If that
transaction aborts, the stage throws the book away and restores it from the changelog, so the
book never holds what did not commit.

The rules:

- **inbox**: a pended determination opens a pend (the determination and its request are kept to
  build a reviewer's decision). A later determination of the same ``request_id`` (a resubmission
  with new content) supersedes the open pend: it is closed, its clock stops. A determination
  id the book already holds is a replay and changes nothing.
- **review**: a review of an open pend gives the determination of
  :func:`policy.review.final_determination`: a final decision closes the pend; a reviewer's
  request for information closes it and opens the new pend in its place, on the same clock
  (same ``received_at`` and ``decision_due_by``, thresholds already reached stay reached). A
  review of an unknown determination, or of one already closed, is rejected, except the very
  review that closed it (same ``review_id``, same content): a duplicate, which changes nothing.
- **clock**: an open pend that has used ``warning_share`` of its clock (``received_at`` to
  ``decision_due_by``) gets one ``warning``; one past ``decision_due_by`` gets one ``breach``.
  Both flags are state, so each event is emitted once, whatever restarts happen.
- **expiry**: a closed pend is deleted ``grace_days`` after it closed, so the store stays bounded
  by the traffic of the grace period plus the pends still open.
- **notices** (``pa.notice``, issue #23): the letter system's record of a notice sent. The book
  keeps, per determination it knows (a pended determination, open or closed, or a reviewer's final
  decision on one), a :class:`NoticeState`: the distinct notices (by ``notice_id``: the same notice
  again is a duplicate and changes nothing; at most ``max_notices`` of them) and the member's first
  notice time. It lives as long as the pend it belongs to, so the grace period bounds it too. A
  notice that does not match its determination (request, member; an ``information_request``
  notice names a pend, any other kind a final decision) is rejected. A notice of a determination
  the book does not keep (an engine's immediate decision: most notices) is untracked: nothing is
  kept, nothing rejected. The pend inbox's and the notice topic's read positions are both records of the store.
- **notice clock**: the clocks of 42 CFR 422.568(b) and 422.572(a) run to notifying the member. A
  final decision whose member was not notified by its ``decision_due_by`` is reported once
  (:meth:`PendBook.notice_clock`, a flag in its notice state); only decisions closed after the book
  began to take notices (``notices_since``) are judged, so a store that predates the notices does
  not report its whole history as late.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

import pydantic_core
from pydantic import BaseModel, ConfigDict, ValidationError

from contracts import PADecisionClock, PADetermination, PANotice, PARequest, PAReview
from contracts.internal import INBOX_POSITION_KEY, PendInboxRecord, PendState
from contracts.models import NoticeChannel, NoticeKind, NoticeRecipient
from policy import PolicySettings
from policy.review import ReviewRejected, final_determination
from policy.versions import Versions

_STATE_JSON = PendState.__pydantic_serializer__
_REVIEW_JSON = PAReview.__pydantic_serializer__
_plain_json = pydantic_core.to_json
"""The inbox head from plain values: the same bytes as ``PendInboxRecord``'s serializer for these value
types, without building and validating a model per request."""

Threshold = Literal["warning", "breach"]
ReviewErrorClass = Literal[
    "unknown_determination", "determination_not_pended", "review_mismatch", "credential_not_allowed"
]
NoticeErrorClass = Literal["notice_mismatch", "too_many_notices"]

# --- notices in the pend store (issue #23) -------------------------------------------------
#
# ``pa.pend-store.v1`` keys besides a pend's determination_id and ``~inbox-position``:
# ``~notice/<determination_id>`` (a :class:`NoticeState`), ``~notices-position`` (the next offset of
# the partition of ``pa.notices.v1`` to read) and ``~notices-since`` (when this partition's book began
# to take notices). A worker that predates them counts them as unreadable records and skips them.

NOTICE_KEY_PREFIX = b"~notice/"
NOTICES_POSITION_KEY = b"~notices-position"
NOTICES_SINCE_KEY = b"~notices-since"


class NoticeSeen(BaseModel):
    """One notice of a determination, as the letter system reported it (no member data)."""

    model_config = ConfigDict(strict=False, extra="ignore", frozen=True)

    notice_id: str
    kind: NoticeKind
    channel: NoticeChannel
    recipient: NoticeRecipient
    sent_at: datetime


class NoticeState(BaseModel):
    """The notices of one determination the review stage keeps (one record per determination in
    ``pa.pend-store.v1``, key :data:`NOTICE_KEY_PREFIX` + determination_id)."""

    model_config = ConfigDict(strict=False, extra="ignore", frozen=True, title="pa.notice_state")

    schema_version: Literal["1"] = "1"
    determination_id: str
    """The determination the notices tell of."""
    pend_id: str
    """The pend whose clock applies (its own id for a pended determination; for a final decision, the
    pend it closed): the state is deleted with that pend."""
    final: bool
    """A reviewer's final decision (else a pended determination)."""
    notices: tuple[NoticeSeen, ...] = ()
    member_notified_at: datetime | None = None
    """The earliest ``sent_at`` of a notice to the member."""
    overdue: bool = False
    """A final decision whose member was not notified by its decision_due_by, reported once."""


_NOTICE_JSON = NoticeState.__pydantic_serializer__


def review_digest(review: PAReview) -> str:
    """sha256 of the review as parsed (the same review, however its JSON is spaced, gives the same)."""
    return hashlib.sha256(_REVIEW_JSON.to_json(review)).hexdigest()


def _inbox_head(det: PADetermination) -> PendInboxRecord:
    """The ids every inbox record carries."""
    return PendInboxRecord(
        determination_id=det.determination_id,
        request_id=det.request_id,
        member_id=det.member_id,
        decision=det.decision,
        decided_at=det.decided_at,
    )


def inbox_record(det: PADetermination, request_json: bytes | None) -> PendInboxRecord:
    """What the request processor writes to the pend inbox for ``det`` (``request_json``: the
    request's bytes as received, kept only with a pend)."""
    head = _inbox_head(det)
    if det.decision == "pended" and request_json is not None:
        return head.model_copy(update={"pended": det, "request": PARequest.model_validate_json(request_json)})
    return head


def inbox_value(det: PADetermination, det_json: bytes, request_json: bytes | None) -> bytes:
    """:func:`inbox_record`'s JSON, spliced from bytes already at hand: ``det_json`` is the
    determination as published and ``request_json`` the request as received (both parsed or
    written by the contract's models already), so the request processor's hot path neither
    parses the request again nor serializes the determination twice."""
    head = _plain_json(
        {  # PendInboxRecord's fields in its order, without pended and request (tests/worker/test_pend_book.py)
            "schema_version": "1",
            "determination_id": det.determination_id,
            "request_id": det.request_id,
            "member_id": det.member_id,
            "decision": det.decision,
            "decided_at": det.decided_at,
        }
    )
    if det.decision != "pended" or request_json is None:
        return head
    return b"".join((head[:-1], b',"pended":', det_json, b',"request":', request_json.strip(), b"}"))


@dataclass(frozen=True, slots=True)
class Decided:
    """A review applied: ``determination`` (the reviewer's) resolves ``resolved`` (the pend as it was)."""

    determination: PADetermination
    resolved: PendState

    @property
    def final(self) -> bool:
        return self.determination.decision != "pended"


@dataclass(frozen=True, slots=True)
class Rejected:
    error_class: ReviewErrorClass
    message: str


@dataclass(frozen=True, slots=True)
class DuplicateReview:
    determination_id: str


ReviewResult = Decided | Rejected | DuplicateReview


@dataclass(frozen=True, slots=True)
class NoticeRecorded:
    """A notice kept. ``pend`` is the pend whose clock applies; ``member_notified`` is set when this
    notice is the first to the member of a final decision (its time, for timeliness)."""

    notice: PANotice
    pend: PendState
    final: bool
    member_notified: datetime | None = None


@dataclass(frozen=True, slots=True)
class NoticeRejected:
    error_class: NoticeErrorClass
    message: str


@dataclass(frozen=True, slots=True)
class DuplicateNotice:
    notice_id: str
    determination_id: str


@dataclass(frozen=True, slots=True)
class NoticeUntracked:
    """A notice of a determination the book does not keep: an engine's immediate approval or denial
    (no pend, no clock here), a pend deleted after its grace period, or a notice keyed by something
    else than its member_id (it reached another partition). Nothing is kept; it is counted."""

    determination_id: str


NoticeResult = NoticeRecorded | NoticeRejected | DuplicateNotice | NoticeUntracked


@dataclass(frozen=True, slots=True)
class NoticeOverdue:
    """A final decision (``final_id``) whose member was not notified by ``pend.decision_due_by``."""

    final_id: str
    pend: PendState


@dataclass(frozen=True, slots=True)
class ClockEvent:
    state: PendState
    threshold: Threshold
    share: float
    reached_at: datetime


@dataclass
class PendBook:
    states: dict[str, PendState] = field(default_factory=dict)
    open_by_request: dict[str, str] = field(default_factory=dict)
    """request_id -> determination_id of its open pend."""
    inbox_position: int = 0
    """Next offset of the pend inbox partition to read."""
    changes: dict[bytes, bytes | None] = field(default_factory=dict)
    """Changelog records not yet committed (key -> value; ``None`` deletes)."""
    unreadable: int = 0
    notices: dict[str, NoticeState] = field(default_factory=dict)
    """determination_id -> its notices."""
    final_of: dict[str, str] = field(default_factory=dict)
    """A reviewer's final determination_id -> the pend it closed."""
    notices_position: int = 0
    """Next offset of the notice topic's partition to read."""
    notices_since: datetime | None = None
    """When this book began to take notices (final decisions closed before are not judged)."""

    def __len__(self) -> int:
        return len(self.states)

    # -- restore -----------------------------------------------------------------------------

    def apply(self, key: bytes | None, value: bytes | None) -> None:
        """One record of the store's changelog, in log order (``None`` value: a tombstone)."""
        if key is None:
            return
        if key == INBOX_POSITION_KEY:
            if value:
                self.inbox_position = int(value)
            return
        if key.startswith(b"~"):
            self._apply_notices(key, value)
            return
        det_id = key.decode("utf-8", "replace")
        if value is None:
            self._forget(det_id)
            return
        try:
            state = PendState.model_validate_json(value)
        except ValidationError:
            self.unreadable += 1
            return
        self._put(state, record=False)

    def _apply_notices(self, key: bytes, value: bytes | None) -> None:
        try:
            if key == NOTICES_POSITION_KEY:
                if value:
                    self.notices_position = int(value)
            elif key == NOTICES_SINCE_KEY:
                if value:
                    self.notices_since = datetime.fromisoformat(value.decode())
            elif key.startswith(NOTICE_KEY_PREFIX):
                det_id = key[len(NOTICE_KEY_PREFIX) :].decode("utf-8", "replace")
                if value is None:
                    self.notices.pop(det_id, None)
                else:
                    self.notices[det_id] = NoticeState.model_validate_json(value)
            else:
                self.unreadable += 1
        except (ValueError, ValidationError):
            self.unreadable += 1

    # -- changes ------------------------------------------------------------------------------

    def _forget(self, det_id: str) -> None:
        old = self.states.pop(det_id, None)
        if old is not None and self.open_by_request.get(old.request_id) == det_id:
            del self.open_by_request[old.request_id]
        if old is not None and old.closed_by is not None and self.final_of.get(old.closed_by) == det_id:
            del self.final_of[old.closed_by]

    def _put(self, state: PendState, *, record: bool = True) -> None:
        old = self.states.get(state.determination_id)
        if old is not None and self.open_by_request.get(old.request_id) == old.determination_id:
            del self.open_by_request[old.request_id]
        if old is not None and old.status == "final" and old.closed_by is not None:
            self.final_of.pop(old.closed_by, None)
        self.states[state.determination_id] = state
        if state.status == "open":
            self.open_by_request[state.request_id] = state.determination_id
        elif state.status == "final" and state.closed_by is not None:
            self.final_of[state.closed_by] = state.determination_id
        if record:
            self.changes[state.determination_id.encode()] = _STATE_JSON.to_json(state)

    def _delete(self, det_id: str) -> None:
        self._forget(det_id)
        self.changes[det_id.encode()] = None

    def records(self) -> Iterator[tuple[bytes, bytes | None]]:
        """The changelog records of the changes not yet committed."""
        yield from self.changes.items()

    def committed(self) -> None:
        """The changes are in the changelog now."""
        self.changes.clear()

    # -- inbox ----------------------------------------------------------------------------------

    def take_inbox(self, offset: int, value: bytes | None) -> PendState | None:
        """One record of the pend inbox at ``offset``; returns the pend it opened, if any."""
        self.inbox_position = offset + 1
        self.changes[INBOX_POSITION_KEY] = str(self.inbox_position).encode()
        if not value:
            return None
        try:
            rec = PendInboxRecord.model_validate_json(value)
        except ValidationError:
            self.unreadable += 1
            return None
        if rec.determination_id in self.states:
            return None  # a replay
        open_id = self.open_by_request.get(rec.request_id)
        if open_id is not None and open_id != rec.determination_id:
            old = self.states[open_id]
            self._put(
                old.model_copy(
                    update={
                        "status": "superseded",
                        "closed_by": rec.determination_id,
                        "closed_at": rec.decided_at,
                        "pended": None,
                        "request": None,
                    }
                )
            )
        if rec.decision != "pended" or rec.pended is None or rec.request is None or rec.pended.pend_reason is None:
            return None
        det = rec.pended
        state = PendState(
            status="open",
            determination_id=det.determination_id,
            request_id=det.request_id,
            member_id=det.member_id,
            priority=det.priority,
            pend_reason=det.pend_reason,
            received_at=det.received_at,
            decision_due_by=det.decision_due_by,
            pended=det,
            request=rec.request,
        )
        self._put(state)
        return state

    # -- reviews --------------------------------------------------------------------------------

    def review(self, review: PAReview, now: datetime, settings: PolicySettings | Versions) -> ReviewResult:
        """Apply ``review`` (see the module doc). With policy versions, the one in effect on the pended
        request's local receipt date decides the final determination, as it decided the pend (issue #26)."""
        state = self.states.get(review.determination_id)
        digest = review_digest(review)
        if state is None:
            return Rejected(
                "unknown_determination",
                f"no pended determination {review.determination_id} is known to the review stage "
                "(never pended; or the review's Kafka key is not its determination's member_id, so it "
                "reached another partition; or closed and deleted after its grace period)",
            )
        if state.status != "open":
            if state.review_id == review.review_id and state.review_digest == digest:
                return DuplicateReview(state.determination_id)
            how = "was superseded by" if state.status == "superseded" else "already has its final decision,"
            return Rejected(
                "determination_not_pended",
                f"determination {state.determination_id} {how} {state.closed_by}: it is not pended any more",
            )
        assert state.pended is not None and state.request is not None
        try:
            if isinstance(settings, Versions):
                settings = settings.for_receipt(state.request.received_at)
            det = final_determination(state.request, state.pended, review, settings)
        except ReviewRejected as exc:
            error = exc.error_class
            if error not in ("review_mismatch", "credential_not_allowed", "determination_not_pended"):
                error = "review_mismatch"
            return Rejected(error, str(exc))  # type: ignore[arg-type]
        closed = state.model_copy(
            update={
                "status": "final" if det.decision != "pended" else "superseded",
                "closed_by": det.determination_id,
                "review_id": review.review_id,
                "review_digest": digest,
                "closed_at": now,
                "pended": None,
                "request": None,
            }
        )
        self._put(closed)
        if det.decision == "pended" and det.pend_reason is not None:
            # the reviewer asked for information: the new pend takes the old one's place and clock
            self._put(
                state.model_copy(
                    update={
                        "determination_id": det.determination_id,
                        "pend_reason": det.pend_reason,
                        "pended": det,
                    }
                )
            )
        return Decided(det, state)

    # -- clocks and expiry -----------------------------------------------------------------------

    def clock(self, now: datetime, warning_share: float) -> list[ClockEvent]:
        """The thresholds open pends reached by ``now`` and had not reached before (marked reached)."""
        events: list[ClockEvent] = []
        for state in list(self.states.values()):
            if state.status != "open":
                continue
            span = state.decision_due_by - state.received_at
            warn_at = state.received_at + span * warning_share
            update: dict[str, bool] = {}
            if not state.warned and now >= warn_at:
                update["warned"] = True
                events.append(ClockEvent(state, "warning", warning_share, warn_at))
            if not state.breached and now >= state.decision_due_by:
                update["breached"] = True
                events.append(ClockEvent(state, "breach", 1.0, state.decision_due_by))
            if update:
                self._put(state.model_copy(update=update))
        return events

    def expire(self, now: datetime, grace_days: int) -> int:
        """Delete closed pends ``grace_days`` after they closed; returns how many."""
        grace = timedelta(days=grace_days)
        gone = [
            s.determination_id
            for s in self.states.values()
            if s.status != "open" and s.closed_at is not None and now > s.closed_at + grace
        ]
        for det_id in gone:
            self._delete(det_id)
        if gone:
            doomed = set(gone)
            for notified in [d for d, n in self.notices.items() if n.pend_id in doomed]:
                del self.notices[notified]
                self.changes[NOTICE_KEY_PREFIX + notified.encode()] = None
        return len(gone)

    def open_pends(self) -> Iterator[PendState]:
        return (s for s in self.states.values() if s.status == "open")

    # -- notices ---------------------------------------------------------------------------------

    def begin_notices(self, now: datetime) -> None:
        """Take notices from now on (once per book: the time is state)."""
        if self.notices_since is None:
            self.notices_since = now
            self.changes[NOTICES_SINCE_KEY] = now.isoformat().encode()

    def notices_read(self, next_offset: int) -> None:
        """The notice topic's partition is read up to ``next_offset`` (exclusive)."""
        if next_offset != self.notices_position:
            self.notices_position = next_offset
            self.changes[NOTICES_POSITION_KEY] = str(next_offset).encode()

    def _put_notices(self, state: NoticeState) -> None:
        self.notices[state.determination_id] = state
        self.changes[NOTICE_KEY_PREFIX + state.determination_id.encode()] = _NOTICE_JSON.to_json(state)

    def notice_target(self, determination_id: str) -> tuple[PendState, bool] | None:
        """The pend whose clock applies to ``determination_id``, and whether it is a final decision."""
        pend_id = self.final_of.get(determination_id)
        if pend_id is not None:
            return self.states[pend_id], True
        state = self.states.get(determination_id)
        return (state, False) if state is not None else None

    def notice(self, notice: PANotice, max_notices: int) -> NoticeResult:
        """Keep ``notice`` (see the module doc)."""
        det_id = notice.determination_id
        target = self.notice_target(det_id)
        if target is None:
            return NoticeUntracked(det_id)
        pend, final = target
        if (notice.request_id, notice.member_id) != (pend.request_id, pend.member_id):
            return NoticeRejected(
                "notice_mismatch", f"the notice names another request or member than determination {det_id}"
            )
        if final == (notice.kind == "information_request"):
            what = "a final decision" if final else "a pended determination"
            hint = ""
            if pend.status == "final" and not final:
                hint = f" (its final decision is {pend.closed_by}: a decision notice names that one)"
            return NoticeRejected("notice_mismatch", f"a {notice.kind} notice names {what}, {det_id}{hint}")
        known = self.notices.get(det_id) or NoticeState(
            determination_id=det_id, pend_id=pend.determination_id, final=final
        )
        if any(seen.notice_id == notice.notice_id for seen in known.notices):
            return DuplicateNotice(notice.notice_id, det_id)
        if len(known.notices) >= max_notices:
            return NoticeRejected(
                "too_many_notices", f"determination {det_id} has {len(known.notices)} notices already, the most kept"
            )
        seen = NoticeSeen(
            notice_id=notice.notice_id,
            kind=notice.kind,
            channel=notice.channel,
            recipient=notice.recipient,
            sent_at=notice.sent_at,
        )
        first = known.member_notified_at
        member_at = first
        if notice.recipient == "member" and (first is None or notice.sent_at < first):
            member_at = notice.sent_at
        self._put_notices(known.model_copy(update={"notices": (*known.notices, seen), "member_notified_at": member_at}))
        newly = notice.sent_at if final and first is None and member_at is not None else None
        return NoticeRecorded(notice, pend, final, newly)

    def _judged(self, pend: PendState) -> bool:
        return self.notices_since is not None and pend.closed_at is not None and pend.closed_at >= self.notices_since

    def notice_clock(self, now: datetime) -> list[NoticeOverdue]:
        """Final decisions whose ``decision_due_by`` passed with no notice to the member sent by then,
        not reported before (marked reported)."""
        out: list[NoticeOverdue] = []
        for final_id, pend_id in self.final_of.items():
            pend = self.states[pend_id]
            if now < pend.decision_due_by or not self._judged(pend):
                continue
            known = self.notices.get(final_id)
            if known is None:
                known = NoticeState(determination_id=final_id, pend_id=pend_id, final=True)
            elif known.overdue or (
                known.member_notified_at is not None and known.member_notified_at <= pend.decision_due_by
            ):
                continue
            self._put_notices(known.model_copy(update={"overdue": True}))
            out.append(NoticeOverdue(final_id, pend))
        return out

    def not_notified(self, now: datetime) -> Iterator[tuple[PendState, bool]]:
        """Final decisions (judged) whose member has no notice yet: (the pend, past its decision_due_by)."""
        for final_id, pend_id in self.final_of.items():
            pend = self.states[pend_id]
            known = self.notices.get(final_id)
            if self._judged(pend) and (known is None or known.member_notified_at is None):
                yield pend, now >= pend.decision_due_by


def decision_clock_event(event: ClockEvent, observed_at: datetime) -> PADecisionClock:
    """The ``pa.decision_clock`` event of ``event``; its id depends only on the pend and the
    threshold, so a re-emission after a crash would carry the same id."""
    st = event.state
    assert st.pended is not None  # an open pend keeps its determination
    digest = hashlib.sha256(f"{st.determination_id}\n{event.threshold}".encode()).hexdigest()[:32]
    return PADecisionClock(
        event_id=f"{st.determination_id.split('-')[0]}-C-{digest}",
        threshold=event.threshold,
        determination_id=st.determination_id,
        request_id=st.request_id,
        member_id=st.member_id,
        priority=st.priority,
        pend_reason=st.pend_reason,
        received_at=st.received_at,
        decision_due_by=st.decision_due_by,
        clock_share=event.share,
        threshold_at=event.reached_at,
        observed_at=observed_at,
        policy=st.pended.policy,
    )
