"""A reviewer's decision applied to a pended determination (issue #15, the pure part): the final
determination, and the reviews that must be dead-lettered. Expected values come from the contract
and 42 CFR 422.566(d) (adverse decisions by physicians and pharmacists only)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from contracts import PADetermination, PAReview
from policy.review import ReviewRejected, final_determination
from tests.policy.factory import change, example, parse, run, set_, strictly_valid

REVIEWS = Path(__file__).resolve().parents[2] / "contracts" / "examples" / "pa.review" / "valid"


def _review(name: str, pended: PADetermination, **changes: Any) -> PAReview:
    data = json.loads((REVIEWS / f"{name}.json").read_text())
    data.update(determination_id=pended.determination_id, request_id=pended.request_id, member_id=pended.member_id)
    data.update(changes)
    return PAReview.model_validate_json(json.dumps(data))


def _pended() -> tuple[Any, PADetermination]:
    data = example("pended_clinical_review_three_lines_ecog3")
    det = run(data)
    assert (det.decision, det.pend_reason, det.final) == ("pended", "clinical_review", False)
    return parse(data), det


def test_engine_determinations_say_who_decided_and_whether_final() -> None:
    approved = run(example("initial_approved"))
    assert approved.decided_by is not None and approved.decided_by.kind == "engine"
    assert approved.final is True and approved.supersedes is None
    _, pended = _pended()
    assert pended.final is False


def test_physician_denial_is_final_with_the_rationale_and_the_criteria() -> None:
    request, pended = _pended()
    review = _review("denied_by_pharmacist", pended)
    final = strictly_valid(final_determination(request, pended, review))
    assert (final.decision, final.pend_reason, final.authorization, final.final) == ("denied", None, None, True)
    assert final.supersedes == pended.determination_id and final.review_id == review.review_id
    assert final.decided_by is not None and (final.decided_by.kind, final.decided_by.credential) == (
        "reviewer",
        "PharmD",
    )
    assert final.rationale == review.rationale
    assert final.criteria == pended.criteria  # the specific reasons a denial notice gives
    assert final.decided_at == review.decided_at and final.decision_due_by == pended.decision_due_by
    assert final.determination_id != pended.determination_id
    assert final_determination(request, pended, review).determination_id == final.determination_id


def test_approval_carries_the_authorization_claims_need() -> None:
    request, pended = _pended()
    final = strictly_valid(final_determination(request, pended, _review("approved_by_physician", pended)))
    auth = final.authorization
    assert final.decision == "approved" and auth is not None and final.final is True
    # the example asks for 2026-12-01: 6 months to 2027-05-31, 1988 units as for an engine approval (R20)
    assert (auth.valid_from, auth.valid_through, auth.max_units, auth.hcpcs) == (
        date(2026, 12, 1),
        date(2027, 5, 31),
        1988,
        "J1323",
    )


def test_partial_approval_carries_the_reviewers_units_and_dates() -> None:
    request, pended = _pended()
    review = _review(
        "partially_approved_by_physician",
        pended,
        approved={"max_units": 900, "valid_from": "2026-12-01", "valid_through": "2027-02-28"},
    )
    final = strictly_valid(final_determination(request, pended, review))
    auth = final.authorization
    assert auth is not None and (auth.valid_from, auth.valid_through, auth.max_units) == (
        date(2026, 12, 1),
        date(2027, 2, 28),
        900,
    )
    assert auth.schedule[0].date == date(2026, 12, 1) and auth.schedule[-1].date <= date(2027, 2, 28)


def test_information_request_keeps_the_case_open() -> None:
    request, pended = _pended()
    review = _review("information_requested_by_nurse", pended)
    final = strictly_valid(final_determination(request, pended, review))
    assert (final.decision, final.pend_reason, final.final) == ("pended", "missing_information", False)
    assert [i.document for i in final.information_requests] == [review.information_requested[0].document]
    assert final.information_requests[0].needed_by == pended.decision_due_by


@pytest.mark.parametrize("credential", ["RN", "NP", "PA"])
@pytest.mark.parametrize("outcome", ["denied", "partially_approved"])
def test_adverse_review_by_a_non_physician_is_rejected(credential: str, outcome: str) -> None:
    request, pended = _pended()
    name = "denied_by_pharmacist" if outcome == "denied" else "partially_approved_by_physician"
    review = _review(name, pended, reviewer={"id": "X-1", "credential": credential})
    with pytest.raises(ReviewRejected) as err:
        final_determination(request, pended, review)
    assert err.value.error_class == "credential_not_allowed"
    assert "M00012345" not in str(err.value)


def test_a_nurse_may_approve() -> None:
    request, pended = _pended()
    review = _review("approved_by_physician", pended, reviewer={"id": "RN-1", "credential": "RN"})
    assert final_determination(request, pended, review).decision == "approved"


def test_review_of_another_or_a_final_determination_is_rejected() -> None:
    request, pended = _pended()
    other = _review("approved_by_physician", pended, determination_id="DET-unknown")
    with pytest.raises(ReviewRejected, match="another") as err:
        final_determination(request, pended, other)
    assert err.value.error_class == "review_mismatch"
    approved_data = change(example("initial_approved"))
    approved = run(approved_data)
    with pytest.raises(ReviewRejected) as err:
        final_determination(parse(approved_data), approved, _review("denied_by_pharmacist", approved))
    assert err.value.error_class == "determination_not_pended"
    final = final_determination(request, pended, _review("denied_by_pharmacist", pended))
    with pytest.raises(ReviewRejected) as err:
        final_determination(request, final, _review("approved_by_physician", final))
    assert err.value.error_class == "determination_not_pended"


def test_partial_approval_without_quantity_or_empty_request_is_not_a_valid_review() -> None:
    _, pended = _pended()
    with pytest.raises(ValueError, match="required when outcome is 'partially_approved'"):
        _review("partially_approved_by_physician", pended, approved=None)
    with pytest.raises(ValueError, match="at least one item"):
        _review("information_requested_by_nurse", pended, information_requested=[])
    assert set_  # (factory helpers imported for symmetry with the other policy tests)
