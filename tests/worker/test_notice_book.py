"""Notices in the pend book (worker/pends.py, issue #23 item 7), without Kafka.

Expected values come from the issue and the contract: the letter system may send the same notice
twice (same notice_id), which is kept once; the clocks of 42 CFR 422.568(b) and 422.572(a) run to
notifying the member, so the member's first notice of a reviewer's final decision is compared with
its decision_due_by (72 hours after received_at for a standard request); a final decision whose
member had no notice by then is reported once, whatever restarts happen.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import PADetermination, PANotice
from policy import DEFAULT_SETTINGS
from tests.policy.factory import example, run
from tests.worker.test_pend_book import _book_with_pend, _inbox, _pend, _restored, _review
from worker.pends import (
    NOTICE_KEY_PREFIX,
    NOTICES_POSITION_KEY,
    Decided,
    DuplicateNotice,
    NoticeRecorded,
    NoticeRejected,
    NoticeUntracked,
    PendBook,
)

NOTICES = Path(__file__).resolve().parents[2] / "contracts" / "examples" / "pa.notice" / "valid"


def _notice(determination_id: str, of: PADetermination, notice_id: str = "LTR-1", **changes: Any) -> PANotice:
    data = json.loads((NOTICES / "denial_by_mail_to_member.json").read_text())
    data.update(notice_id=notice_id, determination_id=determination_id, request_id=of.request_id)
    data.update(member_id=of.member_id)
    data.update(changes)
    return PANotice.model_validate_json(json.dumps(data))


def _decided(name: str = "denied_by_pharmacist") -> tuple[PendBook, PADetermination, PADetermination]:
    """A book whose pend a reviewer decided (final), taking notices since before the decision."""
    book, pend = _book_with_pend()
    book.begin_notices(pend.received_at)
    review = _review(name, pend)
    result = book.review(review, review.decided_at, DEFAULT_SETTINGS)
    assert isinstance(result, Decided) and result.final
    book.committed()
    return book, pend, result.determination


def test_a_member_notice_of_a_final_decision_is_kept_once() -> None:
    book, pend, final = _decided()
    sent = pend.received_at + timedelta(hours=30)
    notice = _notice(final.determination_id, final, sent_at=sent.isoformat())
    first = book.notice(notice, 20)
    assert isinstance(first, NoticeRecorded)
    assert (first.final, first.member_notified, first.pend.determination_id) == (True, sent, pend.determination_id)
    state = book.notices[final.determination_id]
    assert [n.notice_id for n in state.notices] == ["LTR-1"]
    assert state.member_notified_at == sent and state.pend_id == pend.determination_id
    assert set(book.changes) == {NOTICE_KEY_PREFIX + final.determination_id.encode()}
    log = list(book.records())
    book.committed()
    # the same notice again (the letter system sent it twice): nothing changes
    assert book.notice(notice, 20) == DuplicateNotice("LTR-1", final.determination_id)
    assert book.changes == {}
    # and the same after a restore from the changelog
    restored = PendBook()
    for key, value in _all_records(book) + log:
        restored.apply(key, value)
    assert restored.notices == book.notices
    assert restored.notice(notice, 20) == DuplicateNotice("LTR-1", final.determination_id)


def _all_records(book: PendBook) -> list[tuple[bytes, bytes | None]]:
    """``book``'s pends and positions as changelog records (what was committed before)."""
    out = PendBook()
    for state in book.states.values():
        out._put(state)
    out.begin_notices(book.notices_since or datetime.now().astimezone())
    return list(out.records())


def test_the_member_first_notice_time_is_the_earliest_notice_to_the_member() -> None:
    book, pend, final = _decided()
    det_id = final.determination_id
    t0 = pend.received_at
    fax = _notice(
        det_id, final, "FAX-1", recipient="prescriber", channel="fax", sent_at=(t0 + timedelta(hours=5)).isoformat()
    )
    assert isinstance(r := book.notice(fax, 20), NoticeRecorded) and r.member_notified is None
    mail = _notice(det_id, final, "LTR-1", sent_at=(t0 + timedelta(hours=40)).isoformat())
    assert isinstance(r := book.notice(mail, 20), NoticeRecorded) and r.member_notified == t0 + timedelta(hours=40)
    # a phone call to the member reported later, but made earlier, moves the first notice time
    call = _notice(det_id, final, "CALL-1", channel="phone", sent_at=(t0 + timedelta(hours=20)).isoformat())
    assert isinstance(r := book.notice(call, 20), NoticeRecorded) and r.member_notified is None  # counted once
    state = book.notices[det_id]
    assert state.member_notified_at == t0 + timedelta(hours=20)
    assert [n.notice_id for n in state.notices] == ["FAX-1", "LTR-1", "CALL-1"]


def test_an_information_request_notice_names_the_pend() -> None:
    book, pend = _book_with_pend()
    notice = _notice(pend.determination_id, pend, "INFO-1", kind="information_request", recipient="prescriber")
    result = book.notice(notice, 20)
    assert isinstance(result, NoticeRecorded) and result.final is False and result.member_notified is None
    assert book.notices[pend.determination_id].final is False


def test_notices_that_do_not_match_their_determination_are_rejected() -> None:
    book, pend, final = _decided()
    cases = {
        "decision notice of the pend": _notice(pend.determination_id, pend),
        "information request of a final": _notice(final.determination_id, final, kind="information_request"),
        "another member": _notice(final.determination_id, final, member_id="M99999999"),
        "another request": _notice(final.determination_id, final, request_id="REQ-OTHER-1"),
    }
    for what, notice in cases.items():
        result = book.notice(notice, 20)
        assert isinstance(result, NoticeRejected) and result.error_class == "notice_mismatch", what
    hint = book.notice(cases["decision notice of the pend"], 20)
    assert isinstance(hint, NoticeRejected) and final.determination_id in hint.message  # names the right id
    assert book.notices == {} and book.changes == {}


def test_a_notice_of_a_determination_the_book_does_not_keep_is_untracked() -> None:
    book, _pend_det, _final = _decided()
    approved = run(example("initial_approved"))  # the engine's immediate approval: never pended
    assert book.notice(_notice(approved.determination_id, approved, kind="approval"), 20) == NoticeUntracked(
        approved.determination_id
    )
    assert book.changes == {}


def test_distinct_notices_per_determination_are_bounded() -> None:
    book, _pend_det, final = _decided()
    for i in range(3):
        assert isinstance(book.notice(_notice(final.determination_id, final, f"LTR-{i}"), 3), NoticeRecorded)
    over = book.notice(_notice(final.determination_id, final, "LTR-9"), 3)
    assert isinstance(over, NoticeRejected) and over.error_class == "too_many_notices"
    # one already kept is still a duplicate, not an error
    assert isinstance(book.notice(_notice(final.determination_id, final, "LTR-1"), 3), DuplicateNotice)


def test_a_final_decision_not_notified_by_its_deadline_is_reported_once() -> None:
    book, pend, final = _decided()
    due = pend.decision_due_by
    assert book.notice_clock(due - timedelta(seconds=1)) == []
    assert [(p, late) for p, late in book.not_notified(due - timedelta(seconds=1))] == [
        (book.states[pend.determination_id], False)
    ]
    overdue = book.notice_clock(due)
    assert [(o.final_id, o.pend.determination_id) for o in overdue] == [(final.determination_id, pend.determination_id)]
    assert book.notices[final.determination_id].overdue is True
    assert book.notice_clock(due + timedelta(days=1)) == []
    assert [late for _, late in book.not_notified(due)] == [True]
    # the flag is state: restored from the changelog, nothing is reported again
    restored = PendBook()
    for key, value in _all_records(book) + list(book.records()):
        restored.apply(key, value)
    assert restored.notice_clock(due + timedelta(days=2)) == []
    # a notice then sent late is kept and counted as the member's first notice
    late = book.notice(_notice(final.determination_id, final, sent_at=(due + timedelta(hours=2)).isoformat()), 20)
    assert isinstance(late, NoticeRecorded) and late.member_notified == due + timedelta(hours=2)
    assert list(book.not_notified(due + timedelta(days=1))) == []


def test_a_member_notified_in_time_is_never_reported_and_a_prescriber_notice_is_not_enough() -> None:
    book, pend, final = _decided()
    due = pend.decision_due_by
    fax = _notice(final.determination_id, final, "FAX-1", recipient="prescriber", channel="fax")
    book.notice(fax, 20)
    assert list(book.not_notified(due - timedelta(hours=1))) != []
    book.notice(_notice(final.determination_id, final, "LTR-1", sent_at=(due - timedelta(hours=1)).isoformat()), 20)
    assert book.notice_clock(due + timedelta(days=3)) == []
    assert list(book.not_notified(due + timedelta(days=3))) == []


def test_final_decisions_closed_before_the_book_took_notices_are_not_judged() -> None:
    book, pend = _book_with_pend()
    review = _review("denied_by_pharmacist", pend)
    book.review(review, review.decided_at, DEFAULT_SETTINGS)
    assert book.notice_clock(pend.decision_due_by + timedelta(days=1)) == []  # not taking notices yet
    book.begin_notices(review.decided_at + timedelta(minutes=1))
    assert book.notice_clock(pend.decision_due_by + timedelta(days=1)) == []
    assert list(book.not_notified(pend.decision_due_by + timedelta(days=1))) == []
    book.begin_notices(review.decided_at + timedelta(days=9))  # once: the first time stays
    assert book.notices_since == review.decided_at + timedelta(minutes=1)


def test_notices_are_deleted_with_their_pend_after_the_grace_period() -> None:
    book, pend, final = _decided()
    book.notice(_notice(final.determination_id, final), 20)
    book.committed()
    closed_at = book.states[pend.determination_id].closed_at
    assert closed_at is not None
    assert book.expire(closed_at + timedelta(days=45, seconds=1), 45) == 1
    assert book.notices == {} and book.final_of == {}
    assert book.changes == {
        pend.determination_id.encode(): None,
        NOTICE_KEY_PREFIX + final.determination_id.encode(): None,
    }
    assert isinstance(book.notice(_notice(final.determination_id, final, "LTR-2"), 20), NoticeUntracked)


def test_the_notice_position_is_a_record_of_the_store() -> None:
    book = PendBook()
    book.notices_read(0)
    assert book.changes == {}
    book.notices_read(7)
    assert book.changes == {NOTICES_POSITION_KEY: b"7"}
    assert _restored(book).notices_position == 7
    odd = PendBook()
    odd.apply(b"~unknown-key", b"x")
    odd.apply(NOTICE_KEY_PREFIX + b"DET-1", b"{}")
    assert odd.unreadable == 2 and odd.notices == {}


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.sampled_from(["pend", "review", "notice", "again", "fax", "clock", "expire", "read", "commit"]),
        max_size=14,
    )
)
def test_the_changelog_restores_exactly_the_notices(steps: list[str]) -> None:
    """Whatever happened, a book restored from every record written equals the live book."""
    raw, det = _pend()
    book = PendBook()
    log: list[tuple[bytes, bytes | None]] = []
    offset, read = 0, 0
    now = det.received_at
    book.begin_notices(now)
    final_ids: list[str] = []
    for step in steps:
        if step == "pend":
            book.take_inbox(offset, _inbox(det, raw))
            offset += 1
        elif step == "review":
            result = book.review(_review("approved_by_physician", det), now, DEFAULT_SETTINGS)
            if isinstance(result, Decided):
                final_ids.append(result.determination.determination_id)
        elif step in ("notice", "again", "fax") and final_ids:
            notice_id = {"notice": f"LTR-{read}", "again": "LTR-0", "fax": f"FAX-{read}"}[step]
            recipient = "prescriber" if step == "fax" else "member"
            final = final_ids[-1]
            book.notice(
                _notice(final, det, notice_id, kind="approval", recipient=recipient, sent_at=now.isoformat()), 20
            )
        elif step == "clock":
            now += timedelta(hours=20)
            book.clock(now, 0.75)
            book.notice_clock(now)
        elif step == "expire":
            now += timedelta(days=30)
            book.expire(now, 45)
        elif step == "read":
            read += 1
            book.notices_read(read)
        else:
            log.extend(book.records())
            book.committed()
    log.extend(book.records())
    restored = PendBook()
    for key, value in log:
        restored.apply(key, value)
    assert restored.states == book.states
    assert restored.notices == book.notices
    assert restored.final_of == book.final_of
    assert (restored.notices_position, restored.notices_since) == (book.notices_position, book.notices_since)
    assert restored.unreadable == 0
