"""A clinical reviewer's decision applied to a pended determination: the final determination (issue
#15, the pure part). Pure: no I/O, no clock; the Kafka stage that consumes ``pa.reviews.v1`` is
``worker.stages.reviews``.

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

A partial approval is adverse, and the determination says so (issue #23): ``decision`` stays
``approved`` (consumers that validate the enum keep working, and claims read the authorization,
which carries the granted portion only), with ``adverse`` and ``appeal_rights`` true and a
``denied_portion`` of the units and dates asked against granted, in numbers and in a sentence in
both languages. Whether an approval is partial is read from the facts, not from the outcome's
name: an ``approved`` review whose units or dates fall short of the request is a partial approval
(and needs an adverse credential); a ``partially_approved`` review that grants all that was asked
is a full approval (no adverse notice is owed, so none is claimed).

Final texts: a final determination's criteria keep the engine's findings (code, facts, evidence),
lose every sentence promising a decision to come, and end with who decided what by credential
("A pharmacist (PharmD) reviewed the request and denied it."). The reviewer's Spanish
(``rationale_es``, ``document_es``) is carried as written; when absent the Spanish field is null
and ``translation_needed`` names it, never the English copied.

The result's id is a hash of the pended determination's id and the review, so the same review
always yields the same determination; a second, identical review is a duplicate for the stage to
drop, not a new decision.
"""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Final

from contracts import (
    Authorization,
    CriterionResult,
    DeniedPortion,
    InformationRequest,
    PADetermination,
    PARequest,
    PAReview,
)
from contracts._build import build
from contracts.models import DecidedBy
from policy.engine import build_authorization, facts_for, granted_units, information_needed_by
from policy.reasons import Lang, final_both, format_date, local_moment_both, request_text_both
from policy.schedule import quantity_plan
from policy.settings import DEFAULT_SETTINGS, PolicySettings, zone

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
    portion = None
    decision = {"approved": "approved", "partially_approved": "approved", "denied": "denied"}.get(
        review.outcome, "pended"
    )
    outcome = review.outcome
    if decision == "approved":
        authorization = _authorization(request, review, det_id, settings)
        portion = denied_portion(request, review, authorization, settings)
        outcome = "approved" if portion is None else "partially_approved"
        if portion is not None and review.reviewer.credential not in settings.adverse_review_credentials:
            # an approval of less than was asked is adverse, whatever the review calls it
            check(pended, review.model_copy(update={"outcome": "partially_approved"}), settings)
    final = decision != "pended"
    untranslated: list[str] = []
    requests: list[InformationRequest] = []
    if review.outcome == "information_requested":
        by = information_needed_by(pended.decision_due_by, pended.priority, review.decided_at, settings)
        when = local_moment_both(by, zone(settings.timezone), settings.timezone)
        for i, item in enumerate(review.information_requested):
            # the reviewer's words, then when it is needed (local time) and what happens if nothing arrives
            en, es = request_text_both(item.document.rstrip(". "), (item.document_es or "").rstrip(". "), *when)
            if item.document_es is None:
                untranslated.append(f"information_requests[{i}].document_es")
            requests.append(
                build(
                    InformationRequest,
                    {
                        "criterion": item.criterion,
                        "code": None,
                        "document": en[:1000],
                        "document_es": None if item.document_es is None else es[:1000],  # never English
                        "accepted_types": [],
                        "dated_on_or_after": None,
                        "needed_by": by,
                        "translation_needed": True if item.document_es is None else None,
                    },
                )
            )
    if review.rationale_es is None:
        untranslated.insert(0, "rationale_es")
    adverse = None if not final else outcome != "approved"
    return build(
        PADetermination,
        {
            **{k: getattr(pended, k) for k in type(pended).model_fields},
            "determination_id": det_id,
            "decision": decision,
            "pend_reason": "missing_information" if decision == "pended" else None,
            "criteria": _final_criteria(pended, outcome, review.reviewer.credential) if final else pended.criteria,
            "authorization": authorization,
            "decided_at": review.decided_at,
            "information_requests": requests,
            "decided_by": build(
                DecidedBy,
                {"kind": "reviewer", "reviewer_id": review.reviewer.id, "credential": review.reviewer.credential},
            ),
            "final": final,
            "supersedes": pended.determination_id,
            "review_id": review.review_id,
            "rationale": review.rationale,
            "rationale_es": review.rationale_es,
            "adverse": adverse,
            "denied_portion": portion,
            "appeal_rights": adverse,
            "translation_needed": untranslated or None,
        },
    )


def _final_criteria(pended: PADetermination, outcome: str, credential: str) -> list[CriterionResult]:
    """The pend's criteria on a final determination: a criterion that was not met keeps the finding
    the engine read, loses every sentence that promised a decision to come, and says who decided
    what (issue #23: a final determination never says a reviewer will decide)."""
    out = []
    for c in pended.criteria:
        if c.result == "met":
            out.append(c)
            continue
        en, es = final_both(c.reason, c.reason_es, outcome, credential)
        out.append(c.model_copy(update={"reason": en, "reason_es": es}))
    return out


def denied_portion(
    request: PARequest, review: PAReview, granted: Authorization, settings: PolicySettings
) -> DeniedPortion | None:
    """What an approval did not grant of what the request asked, or ``None`` for a full approval.

    Asked: the request's ``requested_units`` (or, when it gave none, the labeled maximum of the
    period, which holds a restart's step-up doses) over the period the request asks for, read at the
    review's time as the engine would read it then: a requested start as given; without one, from the
    day of the decision (as the full approval's own period is), so a review two days after the pend
    is not a "partial approval" of two days. An approval of fewer units, or of a period that leaves
    days of the asked period uncovered, is a partial approval: adverse, with appeal rights (42 CFR
    422.566, 422.568(d))."""
    facts = facts_for(request, review.decided_at, settings)
    plan = facts.plan
    asked = request.drug.requested_units
    if asked is None:
        asked = plan.max_units  # the plan holds a restart's doses (label 2.4)
    lo, hi = plan.valid_from, plan.valid_through
    covered_from, covered_through = max(lo, granted.valid_from), min(hi, granted.valid_through)
    covered = max(0, (covered_through - covered_from).days + 1)
    denied_days = (hi - lo).days + 1 - covered
    denied_units = max(0, asked - granted.max_units)
    if denied_units == 0 and denied_days == 0:
        return None
    values: dict[str, object] = {
        "requested_units": asked,
        "granted_units": granted.max_units,
        "denied_units": denied_units,
        "requested_valid_from": lo,
        "requested_valid_through": hi,
        "granted_valid_from": granted.valid_from,
        "granted_valid_through": granted.valid_through,
        "denied_days": denied_days,
    }
    values["summary"], values["summary_es"] = portion_both(values)
    return build(DeniedPortion, values)


def portion_both(v: dict[str, object]) -> tuple[str, str]:
    """The partial approval in a sentence or two, English and Spanish."""

    def d(key: str, lang: Lang) -> str:
        value = v[key]
        assert isinstance(value, date)
        return format_date(value.isoformat(), lang)

    en = (
        f"This is a partial approval. We approved {v['granted_units']:,} units from {d('granted_valid_from', 'en')} "
        f"to {d('granted_valid_through', 'en')}. The request asked for {v['requested_units']:,} units from "
        f"{d('requested_valid_from', 'en')} to {d('requested_valid_through', 'en')}."
    )
    es = (
        f"Esta es una aprobación parcial. Aprobamos {v['granted_units']:,} unidades del "
        f"{d('granted_valid_from', 'es')} al {d('granted_valid_through', 'es')}. La solicitud pedía "
        f"{v['requested_units']:,} unidades del {d('requested_valid_from', 'es')} al "
        f"{d('requested_valid_through', 'es')}."
    )  # numbers as Puerto Rico writes them, in both languages: 1,988 (R54)
    parts_en, parts_es = [], []
    units, days = v["denied_units"], v["denied_days"]
    if units == 1:
        parts_en.append("1 unit was not approved.")
        parts_es.append("No se aprobó 1 unidad.")
    elif units:
        parts_en.append(f"{units:,} units were not approved.")
        parts_es.append(f"No se aprobaron {units:,} unidades.")
    if days == 1:
        parts_en.append("1 day of the requested period was not approved.")
        parts_es.append("No se aprobó 1 día del período solicitado.")
    elif days:
        parts_en.append(f"{days} days of the requested period were not approved.")
        parts_es.append(f"No se aprobaron {days} días del período solicitado.")
    return " ".join([en, *parts_en]), " ".join([es, *parts_es])


def _authorization(request: PARequest, review: PAReview, det_id: str, settings: PolicySettings) -> Authorization:
    facts = facts_for(request, review.decided_at, settings)
    plan = facts.plan
    if review.approved is None:
        return build_authorization(det_id, plan, granted_units(request, plan), settings)
    # an initial request's therapy starts with the approved period; a continuation's is recorded
    therapy_start = plan.therapy_start if request.continuation is not None else review.approved.valid_from
    approved = quantity_plan(
        therapy_start,
        review.approved.valid_from,
        review.approved.valid_through,
        plan.q2w_from,
        settings.step_up_whole_vial_billing,
        settings.dose_drift_days,
        plan.last_dose,  # a continuation's restart after a delay, laid out in the reviewer's period too
    )
    return build_authorization(det_id, approved, review.approved.max_units, settings)
