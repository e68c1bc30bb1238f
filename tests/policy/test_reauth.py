"""Reauthorization reminders: when they fall due and what they ask for."""

from __future__ import annotations

from datetime import UTC, date, datetime

from contracts import PAReauthDue
from policy import DEFAULT_SETTINGS, build_reauth_due, reauth_due_on
from policy.reauth import REQUIRED_DOCUMENTS
from tests.policy.factory import example, run


def test_due_lead_days_before_valid_through() -> None:
    assert reauth_due_on(date(2027, 5, 31), date(2026, 11, 27), 30) == date(2027, 5, 1)


def test_due_at_once_when_approved_inside_the_window() -> None:
    assert reauth_due_on(date(2026, 12, 19), date(2026, 11, 27), 30) == date(2026, 11, 27)
    assert reauth_due_on(date(2026, 12, 27), date(2026, 11, 27), 30) == date(2026, 11, 27)  # exactly on the edge
    assert reauth_due_on(date(2026, 12, 28), date(2026, 11, 27), 30) == date(2026, 11, 28)


def test_the_reauth_due_now_example() -> None:
    # Received 2026-06-19 for a period from 2026-06-20 (6 months: through 2026-12-19), decided late,
    # on 2026-11-27: the reminder, due 30 days before 2026-12-19 (2026-11-19), is due at once.
    det = run(example("initial_approved_reauth_due_now"), now=datetime(2026, 11, 27, 15, 4, 5, tzinfo=UTC))
    assert det.decision == "approved" and det.authorization is not None
    approved_on = det.decided_at.date()
    due = reauth_due_on(det.authorization.valid_through, approved_on, DEFAULT_SETTINGS.reauth_lead_days)
    assert det.authorization.valid_through == date(2026, 12, 19)
    assert due == approved_on == date(2026, 11, 27)


def test_calendar_edges_do_not_raise() -> None:
    assert reauth_due_on(date.min, date.min, 30) == date.min
    assert reauth_due_on(date.max, date(2026, 1, 1), 0) == date.max


def _event(authorization_id: str = "PA-J1323-ABC") -> PAReauthDue:
    return build_reauth_due(
        authorization_id=authorization_id,
        member_id="M00012345",
        prescriber_npi="1234567893",
        valid_through=date(2027, 5, 31),
        reauth_due_on=date(2027, 5, 1),
        determination_id="DET-x",
        settings=DEFAULT_SETTINGS,
    )


def test_build_reauth_due() -> None:
    event = _event()
    assert PAReauthDue.model_validate_json(event.model_dump_json()) == event
    assert event.required_documents == ["oncology_note", "imaging"] == list(REQUIRED_DOCUMENTS)
    detail = {d.criterion: d for d in event.required_documents_detail}
    assert detail["B.docs.A"].accepted_types == ["oncology_note"]
    assert detail["B.docs.B"].accepted_types == ["imaging", "lab_results"]
    for d in detail.values():
        assert "MP-RX-FP-120-24" in d.description
    assert "60 days" in detail["B.docs.A"].description and "90 days" in detail["B.docs.B"].description
    assert (event.policy.id, event.policy.version) == ("MP-RX-FP-120-24", DEFAULT_SETTINGS.version)
    assert event.determination_id == "DET-x"


def test_event_id_is_deterministic_per_authorization() -> None:
    assert _event().event_id == _event().event_id
    assert _event().event_id != _event("PA-J1323-DEF").event_id
    assert "PA-J1323-ABC" not in _event().event_id and "M00012345" not in _event().event_id
