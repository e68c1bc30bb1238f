"""A clinical reviewer's decision applied to a pended determination: the final determination (issue
#15, the pure part). Pure: no I/O, no clock; the Kafka stage that consumes ``pa.reviews.v1`` is
not built yet.

``final_determination(request, pended, review, settings)`` returns the determination that
supersedes ``pended``, or raises :class:`ReviewRejected` with a DLQ error class and a message that
carries no patient data:

* ``review_mismatch``: the review names another request, determination or member;
* ``determination_not_pended``: the determination it resolves is not a pend (already final);
* ``credential_not_allowed``: an adverse outcome (``denied``, ``partially_approved``) by a
  credential outside ``PolicySettings.adverse_review_credentials`` (physicians and pharmacists,
  42 CFR 422.566(d)); any credential may approve or ask for information.

Outcomes:

* ``approved``: ``approved``, with the authorization the engine would have given (the requested
  units or the labeled maximum of the requested period), or the reviewer's units and dates;
* ``partially_approved``: ``approved`` with the reviewer's units and dates (an adverse decision:
  fewer units or a shorter period than asked);
* ``denied``: ``denied``, with the reviewer's rationale and the engine's criteria (the specific
  reasons a denial notice must give);
* ``information_requested``: ``pended`` / ``missing_information`` with the reviewer's requests;
  not final.

The result's id is a hash of the pended determination's id and the review, so the same review
always yields the same determination; a second, identical review is a duplicate for the stage to
drop, not a new decision.
"""

from __future__ import annotations

import hashlib
from typing import Final

from contracts import Authorization, InformationRequest, PADetermination, PARequest, PAReview
from contracts.models import DecidedBy
from policy._build import build
from policy.engine import build_authorization, facts_for, granted_units
from policy.schedule import quantity_plan
from policy.settings import DEFAULT_SETTINGS, PolicySettings

ADVERSE: Final = frozenset({"denied", "partially_approved"})


class ReviewRejected(ValueError):
    """A review that cannot be applied: ``error_class`` for the DLQ header, and a message."""

    def __init__(self, error_class: str, message: str) -> None:
        super().__init__(message)
        self.error_class = error_class


def review_determination_id(pended_id: str, review: PAReview) -> str:
    digest = hashlib.sha256(pended_id.encode() + b"\n" + PAReview.__pydantic_serializer__.to_json(review)).hexdigest()
    return f"{pended_id.split('-')[0]}-R-{digest[:32]}"


def check(pended: PADetermination, review: PAReview, settings: PolicySettings = DEFAULT_SETTINGS) -> None:
    """Raise :class:`ReviewRejected` when the review cannot resolve ``pended``."""
    if (review.determination_id, review.request_id, review.member_id) != (
        pended.determination_id,
        pended.request_id,
        pended.member_id,
    ):
        raise ReviewRejected("review_mismatch", "the review names another request, determination or member")
    if pended.decision != "pended":
        raise ReviewRejected(
            "determination_not_pended", f"determination {pended.determination_id} is {pended.decision}, not pended"
        )
    if review.outcome in ADVERSE and review.reviewer.credential not in settings.adverse_review_credentials:
        allowed = ", ".join(sorted(settings.adverse_review_credentials))
        raise ReviewRejected(
            "credential_not_allowed",
            f"an adverse outcome ({review.outcome}) needs one of {allowed} (42 CFR 422.566(d)); "
            f"the reviewer is {review.reviewer.credential}",
        )


def final_determination(
    request: PARequest,
    pended: PADetermination,
    review: PAReview,
    settings: PolicySettings = DEFAULT_SETTINGS,
) -> PADetermination:
    """The determination that supersedes ``pended`` under ``review`` (see the module doc)."""
    check(pended, review, settings)
    det_id = review_determination_id(pended.determination_id, review)
    authorization = None
    requests: list[InformationRequest] = []
    decision = {"approved": "approved", "partially_approved": "approved", "denied": "denied"}.get(
        review.outcome, "pended"
    )
    if decision == "approved":
        authorization = _authorization(request, review, det_id, settings)
    if review.outcome == "information_requested":
        requests = [
            build(
                InformationRequest,
                {
                    "criterion": item.criterion,
                    "code": None,
                    "document": item.document,
                    "document_es": item.document_es or item.document,
                    "accepted_types": [],
                    "dated_on_or_after": None,
                    "needed_by": pended.decision_due_by,
                },
            )
            for item in review.information_requested
        ]
    return build(
        PADetermination,
        {
            **{k: getattr(pended, k) for k in type(pended).model_fields},
            "determination_id": det_id,
            "decision": decision,
            "pend_reason": "missing_information" if decision == "pended" else None,
            "authorization": authorization,
            "decided_at": review.decided_at,
            "information_requests": requests,
            "decided_by": build(
                DecidedBy,
                {"kind": "reviewer", "reviewer_id": review.reviewer.id, "credential": review.reviewer.credential},
            ),
            "final": decision != "pended",
            "supersedes": pended.determination_id,
            "review_id": review.review_id,
            "rationale": review.rationale,
        },
    )


def _authorization(request: PARequest, review: PAReview, det_id: str, settings: PolicySettings) -> Authorization:
    facts = facts_for(request, review.decided_at, settings)
    plan = facts.plan
    if review.approved is None:
        return build_authorization(det_id, plan, granted_units(request, plan, facts.restart), settings, facts.restart)
    # an initial request's therapy starts with the approved period; a continuation's is recorded
    therapy_start = plan.therapy_start if request.continuation is not None else review.approved.valid_from
    approved = quantity_plan(
        therapy_start,
        review.approved.valid_from,
        review.approved.valid_through,
        plan.q2w_from,
        settings.step_up_whole_vial_billing,
        settings.dose_drift_days,
    )
    return build_authorization(det_id, approved, review.approved.max_units, settings)
