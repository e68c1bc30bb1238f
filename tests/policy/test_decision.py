"""Decision, pend reason, authorization and the clocks of a determination."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

import policy.settings
from policy import DEFAULT_SETTINGS, POLICY_ID, evaluate
from tests.policy.factory import (
    RECEIVED_AT,
    change,
    continuation,
    criterion,
    days_before,
    drop,
    initial,
    parse,
    run,
    set_,
    strictly_valid,
)

DENIALS = DEFAULT_SETTINGS.replace(allow_automated_denials=True)
THREE_LINES = set_(
    "prior_lines",
    [
        # the same regimen again a year later: three lines (IMWG, a repeat after a treatment-free interval)
        {"line": i, "regimen": ["daratumumab", "bortezomib", "lenalidomide"], "start_date": f"202{i}-01-01"}
        for i in (1, 2, 3)
    ],
)


def test_all_met_is_approved_with_an_authorization() -> None:
    det = strictly_valid(run(initial()))
    assert {c.result for c in det.criteria} == {"met"}
    assert (det.decision, det.pend_reason) == ("approved", None)
    auth = det.authorization
    assert auth is not None
    assert auth.hcpcs == "J1323"
    assert auth.authorization_id.startswith("PA-J1323-")
    assert det.policy.id == POLICY_ID == "MP-RX-FP-120-24"
    assert det.policy.version == DEFAULT_SETTINGS.version


def test_not_met_pends_for_clinical_review_by_default() -> None:
    det = strictly_valid(run(change(initial(), THREE_LINES)))
    assert (det.decision, det.pend_reason, det.authorization) == ("pended", "clinical_review", None)


def test_not_met_wins_over_missing() -> None:
    det = strictly_valid(run(change(initial(), THREE_LINES, drop("ecog"))))
    assert {criterion(det, "A.ii").result, criterion(det, "A.iii").result} == {"not_met", "missing"}
    assert (det.decision, det.pend_reason) == ("pended", "clinical_review")


def test_only_missing_pends_for_missing_information() -> None:
    det = strictly_valid(run(change(initial(), drop("ecog"))))
    assert (det.decision, det.pend_reason, det.authorization) == ("pended", "missing_information", None)


def test_automated_denial_only_when_switched_on() -> None:
    commercial = set_("line_of_business", "COMMERCIAL")
    det = strictly_valid(run(change(initial(), THREE_LINES, commercial), settings=DENIALS))
    assert (det.decision, det.pend_reason, det.authorization) == ("denied", None, None)
    # Never for Medicare Advantage, whatever the switch (42 CFR 422.566(d)), and the reason says a
    # reviewer decides, never that the request is not approved automatically.
    for line in ("MMM_MA", "MMM_MULTIHEALTH"):
        det = strictly_valid(run(change(initial(), THREE_LINES, set_("line_of_business", line)), settings=DENIALS))
        assert (det.decision, det.pend_reason) == ("pended", "clinical_review")
        assert "A clinical reviewer will decide." in criterion(det, "A.ii").reason
    # Missing information is never denied, even with denials on: it asks for the documents.
    det = strictly_valid(run(change(initial(), drop("ecog")), settings=DENIALS))
    assert (det.decision, det.pend_reason) == ("pended", "missing_information")
    # And approvals stay approvals.
    assert run(initial(), settings=DENIALS).decision == "approved"


def test_automated_denials_are_off_by_default_for_medicare_advantage() -> None:
    assert DEFAULT_SETTINGS.allow_automated_denials is False
    source = Path(policy.settings.__file__).read_text()
    assert "42 CFR 422.566(d)" in source and "6 Feb 2024" in source  # the docstring says why


@pytest.mark.parametrize(("priority", "hours"), [("standard", 72), ("expedited", 24)])
def test_decision_due_by(priority: str, hours: int) -> None:
    det = run(change(initial(), set_("priority", priority)))
    assert det.received_at == RECEIVED_AT
    assert det.decision_due_by == RECEIVED_AT + timedelta(hours=hours)


def test_decided_at_is_now_and_copied_fields() -> None:
    now = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
    det = run(initial(), now=now)
    assert det.decided_at == now
    assert (det.request_id, det.request_type, det.priority, det.line_of_business) == (
        "REQ-2026-000101",
        "initial",
        "standard",
        "MMM_MA",
    )
    assert (det.member_id, det.prescriber_npi) == ("M00012345", "1234567893")


def test_valid_from_defaults_to_the_utc_decision_date() -> None:
    # 23:30 in New York on Nov 30 is Dec 1 in UTC: the decision date is the UTC date of now.
    now = datetime(2026, 11, 30, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    det = run(change(initial(), drop("drug.requested_start_date")), now=now)
    assert det.authorization is not None
    assert (det.authorization.valid_from, det.authorization.valid_through) == (date(2026, 12, 1), date(2027, 5, 31))


def test_currency_is_measured_against_received_at_not_now() -> None:
    # ECOG 25 days before receipt is current even when the decision is made 40 days after receipt.
    late = RECEIVED_AT + timedelta(days=40)
    det = run(change(initial(), set_("ecog.assessed_on", days_before(25))), now=late)
    assert criterion(det, "A.iii").result == "met"
    assert det.decision == "approved"


def test_currency_edge_uses_the_plans_local_date_of_received_at() -> None:
    # 2026-11-27T22:00-05:00 = 2026-11-28T03:00Z = 23:00 on 2026-11-27 in San Juan (UTC-4, no DST):
    # the plan received it on the 27th (domain brief: "A request received at 21:30 local on the 27th
    # was received on the 27th, not on the 28th as its UTC date says").
    data = change(initial(), set_("received_at", "2026-11-27T22:00:00-05:00"))
    exactly_30 = run(change(data, set_("ecog.assessed_on", "2026-10-28")))
    assert criterion(exactly_30, "A.iii").result == "met"
    days_31 = run(change(data, set_("ecog.assessed_on", "2026-10-27")))
    assert criterion(days_31, "A.iii").result == "missing"
    assert "31 days before we received the request on November 27, 2026" in criterion(days_31, "A.iii").reason
    # Local midnight: 03:59:59Z is still the 27th in San Juan, 04:00:00Z is the 28th.
    ecog = set_("ecog.assessed_on", "2026-10-28")
    before = run(change(initial(), set_("received_at", "2026-11-28T03:59:59Z"), ecog))
    after = run(change(initial(), set_("received_at", "2026-11-28T04:00:00Z"), ecog))
    assert (criterion(before, "A.iii").result, criterion(after, "A.iii").result) == ("met", "missing")


def test_windows_are_settings() -> None:
    data = change(initial(), set_("ecog.assessed_on", days_before(40)))
    assert criterion(run(data), "A.iii").result == "missing"
    wider = DEFAULT_SETTINGS.replace(ecog_window_days=45)
    assert criterion(run(data, settings=wider), "A.iii").result == "met"
    facts = criterion(run(data, settings=wider), "A.iii").facts
    assert facts is not None and facts["window_days"] == 45


def test_scope_settings() -> None:
    data = change(initial(), set_("line_of_business", "MMM_COMMERCIAL"))
    assert run(data).decision == "pended"
    wider = DEFAULT_SETTINGS.replace(lines_of_business=frozenset({"MMM_MA", "MMM_COMMERCIAL"}))
    assert run(data, settings=wider).decision == "approved"


def test_min_prior_lines_and_max_ecog_are_settings() -> None:
    three = change(initial(), THREE_LINES)
    assert criterion(run(three, settings=DEFAULT_SETTINGS.replace(min_prior_lines=3)), "A.ii").result == "met"
    ecog3 = change(initial(), set_("ecog.score", 3))
    assert criterion(run(ecog3, settings=DEFAULT_SETTINGS.replace(max_ecog=3)), "A.iii").result == "met"


def test_continuation_approved() -> None:
    det = strictly_valid(run(continuation()))
    assert det.decision == "approved"
    assert det.authorization is not None
    assert (det.authorization.valid_from, det.authorization.valid_through) == (date(2026, 12, 15), date(2027, 6, 14))


def test_now_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        evaluate(parse(initial()), datetime(2026, 11, 27, 12, 0))
