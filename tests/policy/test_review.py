"""A reviewer's decision applied to a pended determination (issue #15, the pure part): the final
determination, and the reviews that must be dead-lettered. Expected values come from the contract
and 42 CFR 422.566(d) (adverse decisions by physicians and pharmacists only)."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from contracts import PADetermination, PAReview
from policy.review import ReviewRejected, final_determination
from tests.policy.factory import change, drop, example, parse, run, set_, strictly_valid

FUTURE = re.compile(r"will decide|will review|decidirá|tomará la decisión|revisará", re.IGNORECASE)
"""Words that promise a decision to come: true on a pend, never on a final determination."""

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
    # the specific reasons a denial notice gives: the same findings, read by the engine
    assert [(c.id, c.result, c.code, c.facts, c.evidence) for c in final.criteria] == [
        (c.id, c.result, c.code, c.facts, c.evidence) for c in pended.criteria
    ]
    # a final decision: adverse, with appeal rights; nothing says a reviewer will decide
    assert (final.adverse, final.appeal_rights, final.denied_portion) == (True, True, None)
    for c in final.criteria:
        if c.result != "met":
            assert c.reason.endswith("A pharmacist (PharmD) reviewed the request and denied it.")
            assert c.reason_es is not None
            assert c.reason_es.endswith("Un farmacéutico (PharmD) revisó la solicitud y la denegó.")
        assert not FUTURE.search(c.reason) and not FUTURE.search(c.reason_es or ""), c.reason
    # the reviewer wrote no Spanish: nothing English in the Spanish field, and it says so
    assert final.rationale_es is None and final.translation_needed == ["rationale_es"]
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
    # asked: no requested_units, so the labeled maximum of 2026-12-01..2027-05-31 (182 days), 1988 units
    # (R20); granted 900 units over 2026-12-01..2027-02-28 (90 days): 1088 units and 92 days not approved
    portion = final.denied_portion
    assert (final.decision, final.adverse, final.appeal_rights) == ("approved", True, True)
    assert portion is not None
    assert (portion.requested_units, portion.granted_units, portion.denied_units, portion.denied_days) == (
        1988,
        900,
        1088,
        92,
    )
    assert (portion.requested_valid_from, portion.requested_valid_through) == (date(2026, 12, 1), date(2027, 5, 31))
    assert portion.summary.startswith("This is a partial approval. We approved 900 units from December 1, 2026")
    assert "1,088 units were not approved" in portion.summary
    assert portion.summary_es.startswith("Esta es una aprobación parcial. Aprobamos 900 unidades del 1 de diciembre")
    assert "No se aprobaron 1,088 unidades" in portion.summary_es
    for c in final.criteria:
        if c.result != "met":
            assert c.reason.endswith("A physician (MD) reviewed the request and approved only part of it.")
            assert not FUTURE.search(c.reason) and not FUTURE.search(c.reason_es or "")


def test_an_approval_of_less_than_asked_is_a_partial_approval_whatever_the_outcome_says() -> None:
    request, pended = _pended()
    fewer = {"max_units": 988, "valid_from": "2026-12-01", "valid_through": "2027-05-31"}
    final = final_determination(request, pended, _review("approved_by_physician", pended, approved=fewer))
    assert final.adverse is True and final.denied_portion is not None
    assert (final.denied_portion.denied_units, final.denied_portion.denied_days) == (1000, 0)
    # ... and so a nurse may not make it (42 CFR 422.566(d))
    nurse = _review("approved_by_physician", pended, approved=fewer, reviewer={"id": "RN-1", "credential": "RN"})
    with pytest.raises(ReviewRejected) as err:
        final_determination(request, pended, nurse)
    assert err.value.error_class == "credential_not_allowed"
    # a period that starts two weeks late leaves 14 days of the asked period uncovered
    late = {"max_units": 1988, "valid_from": "2026-12-15", "valid_through": "2027-06-14"}
    final = final_determination(request, pended, _review("partially_approved_by_physician", pended, approved=late))
    assert final.denied_portion is not None and final.denied_portion.denied_days == 14


def test_a_partial_review_that_grants_everything_asked_is_not_adverse() -> None:
    # the letter must be true: nothing was denied, so no adverse notice and no appeal rights are owed
    request, pended = _pended()
    everything = {"max_units": 1988, "valid_from": "2026-12-01", "valid_through": "2027-05-31"}
    review = _review("partially_approved_by_physician", pended, approved=everything)
    final = strictly_valid(final_determination(request, pended, review))
    assert (final.adverse, final.appeal_rights, final.denied_portion) == (False, False, None)
    assert all("approved it." in c.reason for c in final.criteria if c.result != "met")


def test_a_reviewers_spanish_is_carried_and_never_replaced_by_english() -> None:
    request, pended = _pended()
    review = _review("denied_by_physician_with_spanish", pended)
    final = strictly_valid(final_determination(request, pended, review))
    assert final.rationale_es == review.rationale_es and final.translation_needed is None


def test_information_request_keeps_the_case_open() -> None:
    request, pended = _pended()
    review = _review("information_requested_by_nurse", pended)
    final = strictly_valid(final_determination(request, pended, review))
    assert (final.decision, final.pend_reason, final.final) == ("pended", "missing_information", False)
    item, asked = final.information_requests[0], review.information_requested[0]
    assert item.translation_needed is None and item.document_es is not None
    # the answer is needed 24 hours before the 72-hour deadline (R42): due 2026-11-30 15:04 UTC, so
    # 2026-11-29 15:04 UTC = 11:04 a.m. in San Juan (UTC-4), after the review (2026-11-28 18:10 UTC)
    assert item.needed_by == pended.decision_due_by - timedelta(hours=24)
    assert item.document.startswith(asked.document)
    assert "November 29, 2026 at 11:04 a.m., Puerto Rico time" in item.document
    assert asked.document_es is not None and item.document_es.startswith(asked.document_es)
    assert "29 de noviembre de 2026 a las 11:04 a. m., hora de Puerto Rico" in item.document_es
    # ... and says what happens if nothing arrives (R43)
    assert "Part B" in item.document and "Parte B" in item.document_es
    # not final: no adverse marker, no appeal rights, and the pend's reasons stand
    assert (final.adverse, final.appeal_rights) == (None, None) and final.criteria == pended.criteria


def test_information_request_without_spanish_is_marked_for_translation() -> None:
    request, pended = _pended()
    items = [{"criterion": "A.iii", "document": "A current ECOG performance status assessment"}]
    review = _review("information_requested_by_nurse", pended, information_requested=items)
    final = strictly_valid(final_determination(request, pended, review))
    item = final.information_requests[0]
    assert (item.document_es, item.translation_needed) == (None, True)
    assert final.translation_needed == ["rationale_es", "information_requests[0].document_es"]


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


@pytest.mark.parametrize("name", ["denied_by_pharmacist", "partially_approved_by_physician", "approved_by_physician"])
def test_golden_final_letters_promise_nothing_and_keep_english_out_of_spanish(name: str) -> None:
    # issue #23 "How to show it": final texts checked as text, in both languages
    request, pended = _pended()
    final = strictly_valid(final_determination(request, pended, _review(name, pended)))
    assert final.final is True
    texts = [(c.reason, c.reason_es) for c in final.criteria]
    if final.denied_portion is not None:
        texts.append((final.denied_portion.summary, final.denied_portion.summary_es))
    for en, es in texts:
        assert es is not None and es != en
        assert not FUTURE.search(en) and not FUTURE.search(es), (en, es)
        assert not re.search(r"\b(the|and|was|were|approved|denied|reviewed)\b", es), es  # no English in Spanish
    # the reviewer wrote no Spanish rationale: the Spanish field is empty and says why, never English
    assert final.rationale_es is None and final.translation_needed == ["rationale_es"]


def test_a_review_days_after_a_pend_without_a_requested_start_is_a_full_approval() -> None:
    # no requested start: the request asks for the period from the decision on; a nurse approving it two
    # days after the pend grants exactly that (from the review's day), nothing denied, no adverse notice
    data = change(example("pended_clinical_review_three_lines_ecog3"), drop("drug.requested_start_date"))
    request = parse(data)
    pended = run(data)
    review = _review("approved_by_physician", pended, reviewer={"id": "RN-1", "credential": "RN"})
    review = review.model_copy(update={"decided_at": review.decided_at.replace(day=29)})
    final = strictly_valid(final_determination(request, pended, review))
    assert (final.decision, final.adverse, final.denied_portion) == ("approved", False, None)
    assert final.authorization is not None and final.authorization.valid_from.isoformat() == "2026-11-29"
