"""The pend book (worker/pends.py), without Kafka: pends from the inbox, reviews, decision clocks,
expiry, and the changelog round trip. Expected values come from issue #15 and the contract: a
warning at the configured share of the clock (received_at to decision_due_by), a breach at
decision_due_by, each once; adverse reviews only by physicians and pharmacists (42 CFR
422.566(d)); an identical review again is a duplicate, not an error."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import PADetermination, PAReview
from contracts.internal import INBOX_POSITION_KEY, PendInboxRecord
from policy import DEFAULT_SETTINGS
from tests.policy.factory import example, parse, run
from worker.pends import Decided, DuplicateReview, PendBook, Rejected, inbox_record, inbox_value

REVIEWS = Path(__file__).resolve().parents[2] / "contracts" / "examples" / "pa.review" / "valid"


def _pend(
    name: str = "pended_clinical_review_three_lines_ecog3", request_id: str | None = None
) -> tuple[bytes, PADetermination]:
    data = example(name)
    if request_id is not None:
        data["request_id"] = request_id
    det = run(data)
    assert det.decision == "pended"
    return json.dumps(data).encode(), det


def _inbox(det: PADetermination, request_json: bytes | None) -> bytes:
    return inbox_record(det, request_json).model_dump_json().encode()


def _review(name: str, pended: PADetermination, **changes: Any) -> PAReview:
    data = json.loads((REVIEWS / f"{name}.json").read_text())
    data.update(determination_id=pended.determination_id, request_id=pended.request_id, member_id=pended.member_id)
    data.update(changes)
    return PAReview.model_validate_json(json.dumps(data))


def _book_with_pend() -> tuple[PendBook, PADetermination]:
    raw, det = _pend()
    book = PendBook()
    opened = book.take_inbox(0, _inbox(det, raw))
    assert opened is not None and opened.status == "open"
    return book, det


def _restored(book: PendBook) -> PendBook:
    """A fresh book restored from ``book``'s changelog records."""
    fresh = PendBook()
    for key, value in book.records():
        fresh.apply(key, value)
    return fresh


def test_a_pend_from_the_inbox_is_open_with_its_clock() -> None:
    book, det = _book_with_pend()
    state = book.states[det.determination_id]
    assert (state.priority, state.pend_reason) == (det.priority, det.pend_reason)
    assert (state.received_at, state.decision_due_by) == (det.received_at, det.decision_due_by)
    assert book.inbox_position == 1
    assert book.changes[INBOX_POSITION_KEY] == b"1"


def test_decisions_other_than_pends_open_nothing_and_replays_change_nothing() -> None:
    book = PendBook()
    approved = run(example("initial_approved"))
    assert book.take_inbox(0, _inbox(approved, None)) is None
    assert len(book) == 0
    raw, det = _pend()
    book.take_inbox(1, _inbox(det, raw))
    book.committed()
    assert book.take_inbox(2, _inbox(det, raw)) is None  # the same determination again
    assert set(book.changes) == {INBOX_POSITION_KEY}


def test_warning_at_the_share_of_the_clock_and_breach_at_the_deadline_each_once() -> None:
    book, det = _book_with_pend()
    span = det.decision_due_by - det.received_at
    warn_at = det.received_at + span * 0.75
    assert book.clock(warn_at - timedelta(seconds=1), 0.75) == []
    events = book.clock(warn_at, 0.75)
    assert [(e.threshold, e.reached_at) for e in events] == [("warning", warn_at)]
    assert book.clock(warn_at + timedelta(minutes=5), 0.75) == []
    assert book.clock(det.decision_due_by - timedelta(seconds=1), 0.75) == []
    events = book.clock(det.decision_due_by, 0.75)
    assert [(e.threshold, e.reached_at) for e in events] == [("breach", det.decision_due_by)]
    assert book.clock(det.decision_due_by + timedelta(days=3), 0.75) == []
    # the flags are state: a book restored from the changelog emits nothing again
    again = _restored(book)
    assert again.clock(det.decision_due_by + timedelta(days=3), 0.75) == []


def test_a_stage_down_through_both_thresholds_emits_both_at_once() -> None:
    book, det = _book_with_pend()
    events = book.clock(det.decision_due_by + timedelta(hours=1), 0.75)
    assert [e.threshold for e in events] == ["warning", "breach"]


def test_physician_denial_closes_the_pend_and_stops_its_clock() -> None:
    book, det = _book_with_pend()
    review = _review("denied_by_pharmacist", det)
    result = book.review(review, review.decided_at, DEFAULT_SETTINGS)
    assert isinstance(result, Decided) and result.final
    assert result.determination.decision == "denied"
    assert result.determination.supersedes == det.determination_id
    assert result.resolved.pend_reason == "clinical_review"
    assert book.states[det.determination_id].status == "final"
    assert list(book.open_pends()) == []
    assert book.clock(det.decision_due_by + timedelta(days=1), 0.75) == []


def test_adverse_review_by_a_nurse_is_rejected_and_the_pend_stays_open() -> None:
    book, det = _book_with_pend()
    review = _review("denied_by_pharmacist", det, reviewer={"id": "RN-7", "credential": "RN"})
    result = book.review(review, review.decided_at, DEFAULT_SETTINGS)
    assert isinstance(result, Rejected) and result.error_class == "credential_not_allowed"
    assert book.states[det.determination_id].status == "open"


def test_unknown_determination_is_rejected() -> None:
    book, det = _book_with_pend()
    review = _review("approved_by_physician", det, determination_id="ELX-unknown")
    result = book.review(review, review.decided_at, DEFAULT_SETTINGS)
    assert isinstance(result, Rejected) and result.error_class == "unknown_determination"


def test_the_same_review_again_is_a_duplicate_and_another_one_is_rejected() -> None:
    book, det = _book_with_pend()
    review = _review("approved_by_physician", det)
    first = book.review(review, review.decided_at, DEFAULT_SETTINGS)
    assert isinstance(first, Decided) and first.determination.decision == "approved"
    book.committed()
    assert book.review(review, review.decided_at, DEFAULT_SETTINGS) == DuplicateReview(det.determination_id)
    assert book.changes == {}
    other = _review("denied_by_pharmacist", det)
    result = book.review(other, other.decided_at, DEFAULT_SETTINGS)
    assert isinstance(result, Rejected) and result.error_class == "determination_not_pended"
    # and the same after a restore from the changelog
    restored = _restored(_book_after(book))
    assert restored.review(review, review.decided_at, DEFAULT_SETTINGS) == DuplicateReview(det.determination_id)


def _book_after(book: PendBook) -> PendBook:
    """``book``'s whole state as changelog records (committed ones included)."""
    out = PendBook()
    for state in book.states.values():
        out._put(state)
    out.changes[INBOX_POSITION_KEY] = str(book.inbox_position).encode()
    return out


def test_information_requested_opens_a_new_pend_on_the_same_clock() -> None:
    book, det = _book_with_pend()
    span = det.decision_due_by - det.received_at
    book.clock(det.received_at + span * 0.8, 0.75)  # the warning went out
    review = _review("information_requested_by_nurse", det)
    result = book.review(review, review.decided_at, DEFAULT_SETTINGS)
    assert isinstance(result, Decided) and not result.final
    new_id = result.determination.determination_id
    new = book.states[new_id]
    assert (new.status, new.pend_reason) == ("open", "missing_information")
    assert (new.received_at, new.decision_due_by, new.warned) == (det.received_at, det.decision_due_by, True)
    assert book.states[det.determination_id].status == "superseded"
    # no second warning; the breach still comes, once
    assert [e.threshold for e in book.clock(det.decision_due_by, 0.75)] == ["breach"]


def test_a_resubmission_of_the_same_request_supersedes_its_open_pend() -> None:
    raw, det = _pend("pended_missing_information_no_ecog")
    book = PendBook()
    book.take_inbox(0, _inbox(det, raw))
    data = json.loads(raw)
    data["ecog"] = {"score": 1, "assessed_on": data["received_at"][:10]}
    resubmitted = run(data)
    assert resubmitted.request_id == det.request_id and resubmitted.determination_id != det.determination_id
    book.take_inbox(1, _inbox(resubmitted, json.dumps(data).encode()))
    old = book.states[det.determination_id]
    assert (old.status, old.closed_by) == ("superseded", resubmitted.determination_id)
    assert [s.determination_id for s in book.open_pends()] == (
        [resubmitted.determination_id] if resubmitted.decision == "pended" else []
    )


def test_closed_pends_are_deleted_after_the_grace_period_open_ones_never() -> None:
    book, det = _book_with_pend()
    raw2, det2 = _pend("pended_clinical_review_out_of_scope")
    book.take_inbox(1, _inbox(det2, raw2))
    review = _review("denied_by_pharmacist", det)
    book.review(review, review.decided_at, DEFAULT_SETTINGS)
    book.committed()
    assert book.expire(review.decided_at + timedelta(days=45), 45) == 0
    assert book.expire(review.decided_at + timedelta(days=45, seconds=1), 45) == 1
    assert book.changes == {det.determination_id.encode(): None}
    assert set(book.states) == {det2.determination_id}
    assert book.expire(datetime(2100, 1, 1, tzinfo=review.decided_at.tzinfo), 45) == 0


def test_unreadable_inbox_and_store_records_are_counted_and_skipped() -> None:
    book = PendBook()
    assert book.take_inbox(0, b"not json") is None
    book.apply(b"ELX-x", b"{}")
    assert book.unreadable == 2 and book.inbox_position == 1


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(["pend", "review", "clock", "expire", "commit"]), max_size=12))
def test_the_changelog_restores_exactly_the_book(steps: list[str]) -> None:
    """Whatever happened, a book restored from every record written equals the live book."""
    raw, det = _pend()
    book = PendBook()
    log: list[tuple[bytes, bytes | None]] = []
    offset = 0
    now = det.received_at
    for step in steps:
        if step == "pend":
            book.take_inbox(offset, _inbox(det, raw))
            offset += 1
        elif step == "review":
            book.review(_review("approved_by_physician", det), now, DEFAULT_SETTINGS)
        elif step == "clock":
            now += timedelta(hours=20)
            book.clock(now, 0.75)
        elif step == "expire":
            now += timedelta(days=30)
            book.expire(now, 45)
        else:
            log.extend(book.records())
            book.committed()
    log.extend(book.records())
    restored = PendBook()
    for key, value in log:
        restored.apply(key, value)
    assert restored.states == book.states
    assert restored.open_by_request == book.open_by_request
    assert restored.inbox_position == book.inbox_position


def test_inbox_records_carry_the_request_only_for_pends() -> None:
    raw, det = _pend()
    rec = PendInboxRecord.model_validate_json(_inbox(det, raw))
    assert rec.request is not None and rec.request.request_id == det.request_id
    assert rec.pended == det
    approved = run(example("initial_approved"))
    small = PendInboxRecord.model_validate_json(_inbox(approved, json.dumps(example("initial_approved")).encode()))
    assert small.request is None and small.pended is None and small.decision == "approved"
    assert parse(example("initial_approved")).request_id == small.request_id


def test_the_spliced_inbox_value_is_the_inbox_record() -> None:
    """What the request processor writes (bytes spliced without parsing the request again) reads
    back as the record the model would write, for a pend and for an approval."""
    raw, det = _pend()
    det_json = det.model_dump_json().encode()
    spliced = PendInboxRecord.model_validate_json(inbox_value(det, det_json, b"  " + raw + b"\n"))
    assert spliced == inbox_record(det, raw)
    approved = run(example("initial_approved"))
    small = inbox_value(approved, approved.model_dump_json().encode(), json.dumps(example("initial_approved")).encode())
    assert PendInboxRecord.model_validate_json(small) == inbox_record(approved, None)
    assert b'"request":' not in small and b'"pended":' not in small


def test_the_inbox_head_is_the_model_s_bytes() -> None:
    """The head of an inbox record is written from plain values: the bytes PendInboxRecord's own
    serializer writes, for a pend, an approval and a decision time with a fraction of a second."""
    from datetime import timedelta

    from contracts.internal import PendInboxRecord

    _, pended = _pend()
    approved = run(example("initial_approved"))
    odd = approved.model_copy(update={"decided_at": approved.decided_at + timedelta(microseconds=120)})
    for det in (pended, approved, odd):
        want = PendInboxRecord.__pydantic_serializer__.to_json(inbox_record(det, None), exclude={"pended", "request"})
        got = inbox_value(det, b"{}", None)
        assert got == want
