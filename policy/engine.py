"""``evaluate``: one ``pa.request`` in, its ``pa.determination`` out. Pure: no I/O, no clock.

Dates
-----
* ``now`` is the evaluation time: it becomes ``decided_at``, and its UTC date is the decision date.
* Evidence currency is measured against the request's ``received_at`` (its UTC date), never ``now``
  (:mod:`policy.evidence`).
* Authorization period: ``valid_from`` = ``drug.requested_start_date`` or the decision date;
  ``valid_through`` = ``valid_from`` + ``authorization_months`` months - 1 day (inclusive).
* ``decision_due_by`` = ``received_at`` + 72 h (standard) or 24 h (expedited), CMS-4180-F.

Decision
--------
* every criterion ``met``: ``approved``, with an authorization for ``requested_units`` when given
  (QL met means it is within the labeled maximum), else for the labeled maximum;
* any ``not_met``: ``pended`` / ``clinical_review`` (a person decides, 42 CFR 422.566(d)), or
  ``denied`` when ``settings.allow_automated_denials`` is on; ``not_met`` wins over ``missing``;
* otherwise (only ``met`` and ``missing``): ``pended`` / ``missing_information``.

Outbound models are built without re-validation (:func:`policy._build.build`: this is the hot
path and the values are the engine's own); the tests validate every kind of output strictly
against the contract.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Final

from contracts import Authorization, CriterionResult, PADetermination, PARequest, PolicyRef
from contracts.models import Decision, PendReason
from policy._build import build
from policy.criteria import CONTINUATION_CRITERIA, INITIAL_CRITERIA, Facts, is_responder
from policy.evidence import utc_date
from policy.ids import authorization_id, determination_id
from policy.schedule import authorization_period, quantity_plan
from policy.settings import DEFAULT_SETTINGS, POLICY_ID, PolicySettings

_POLICY_REFS: dict[str, PolicyRef] = {}
_MAX_MOMENT: Final = datetime.max.replace(tzinfo=UTC)
_HOURS: dict[int, timedelta] = {}


def policy_ref(settings: PolicySettings) -> PolicyRef:
    """``{"id": "MP-RX-FP-120-24", "version": settings.version}`` (one shared frozen instance)."""
    ref = _POLICY_REFS.get(settings.version)
    if ref is None:
        ref = PolicyRef(id=POLICY_ID, version=settings.version)
        _POLICY_REFS[settings.version] = ref
    return ref


def decision_due_by(received_at: datetime, priority: str, settings: PolicySettings) -> datetime:
    """``received_at`` + the decision clock of ``priority`` (72 h standard, 24 h expedited)."""
    hours = settings.expedited_decision_hours if priority == "expedited" else settings.standard_decision_hours
    try:
        return received_at + _HOURS[hours]
    except KeyError:
        _HOURS[hours] = timedelta(hours=hours)
        return decision_due_by(received_at, priority, settings)
    except OverflowError:  # a request received at the very end of the calendar
        return _MAX_MOMENT


def decide(results: list[CriterionResult], settings: PolicySettings) -> tuple[Decision, PendReason | None]:
    outcomes = {r.result for r in results}
    if "not_met" in outcomes:
        return ("denied", None) if settings.allow_automated_denials else ("pended", "clinical_review")
    if "missing" in outcomes:
        return "pended", "missing_information"
    return "approved", None


def facts_for(request: PARequest, now: datetime, settings: PolicySettings = DEFAULT_SETTINGS) -> Facts:
    """What the criteria read: the request, the settings, the receipt and decision dates, and
    the authorization period's labeled quantity plan."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
    decided_on = utc_date(now)
    start: date = request.drug.requested_start_date or decided_on
    valid_from, valid_through = authorization_period(start, settings.authorization_months)
    continuation = request.continuation
    therapy_start = continuation.therapy_start_date if continuation is not None else valid_from
    plan = quantity_plan(
        therapy_start, valid_from, valid_through, is_responder(request, valid_from), settings.step_up_whole_vial_billing
    )
    return Facts(request, settings, utc_date(request.received_at), decided_on, plan)


def evaluate(request: PARequest, now: datetime, settings: PolicySettings = DEFAULT_SETTINGS) -> PADetermination:
    """Evaluate ``request`` under policy MP-RX-FP-120-24 at time ``now`` (timezone-aware).

    Deterministic: the same request, ``now`` and settings give an identical determination; the
    ``determination_id`` does not depend on ``now`` at all.
    """
    facts = facts_for(request, now, settings)
    plan = facts.plan
    criteria = INITIAL_CRITERIA if request.request_type == "initial" else CONTINUATION_CRITERIA
    results = [c.evaluate(facts) for c in criteria]
    decision, pend_reason = decide(results, settings)
    det_id = determination_id(request, settings)

    authorization = None
    if decision == "approved":
        requested = request.drug.requested_units
        authorization = build(
            Authorization,
            {
                "authorization_id": authorization_id(det_id, settings.hcpcs),
                "hcpcs": settings.hcpcs,
                "valid_from": plan.valid_from,
                "valid_through": plan.valid_through,
                "max_units": plan.max_units if requested is None else min(requested, plan.max_units),
                "schedule": list(plan.schedule),
            },
        )
    return build(
        PADetermination,
        {
            "schema_version": "1",
            "determination_id": det_id,
            "request_id": request.request_id,
            "request_type": request.request_type,
            "priority": request.priority,
            "line_of_business": request.line_of_business,
            "member_id": request.member.member_id,
            "prescriber_npi": request.prescriber.npi,
            "decision": decision,
            "pend_reason": pend_reason,
            "criteria": results,
            "authorization": authorization,
            "policy": policy_ref(settings),
            "received_at": request.received_at,
            "decided_at": now,
            "decision_due_by": decision_due_by(request.received_at, request.priority, settings),
        },
    )
