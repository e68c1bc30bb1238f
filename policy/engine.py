"""``evaluate``: one ``pa.request`` in, its ``pa.determination`` out. Pure: no I/O, no clock.

Dates
-----
* Every calendar date is a local date in the plan's time zone (``settings.timezone``,
  America/Puerto_Rico): ``received_on`` is the local date of ``received_at``, ``decided_on`` the
  local date of ``now`` (which also becomes ``decided_at``).
* Evidence currency and the requested period's windows are measured from ``received_on``, never
  from ``now`` (:mod:`policy.evidence`, :func:`policy.criteria.check_ql`).
* Authorization period: ``valid_from`` = ``drug.requested_start_date``, or else the later of the
  decision date and the receipt date (an early clock never starts a period before receipt);
  ``valid_through`` = ``valid_from`` + ``authorization_months`` months - 1 day (inclusive).
* ``decision_due_by`` = ``received_at`` + 72 h (standard) or 24 h (expedited), CMS-4180-F: an
  absolute instant, not a local date.
* An information request's ``needed_by`` = ``decision_due_by`` less the plan's review time
  (``information_review_hours_standard`` 24 h, ``information_review_hours_expedited`` 6 h), never
  before the decision time nor after the deadline (:func:`information_needed_by`); its text names
  that moment in the plan's local time and says what happens if nothing arrives.

Decision
--------
* every criterion ``met``: ``approved``, with an authorization for ``requested_units`` when given
  (QL met means it is within the labeled maximum), else for the labeled maximum;
* any ``not_met``: ``pended`` / ``clinical_review`` (a person decides, 42 CFR 422.566(d)), or
  ``denied`` when ``settings.allow_automated_denials`` is on; ``not_met`` wins over ``missing``;
* otherwise (only ``met`` and ``missing``): ``pended`` / ``missing_information``.

Outbound models are built without re-validation (:func:`contracts._build.build`: this is the hot
path and the values are the engine's own); the tests validate every kind of output strictly
against the contract.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Final

from contracts import (
    Authorization,
    CriterionResult,
    InformationRequest,
    PADetermination,
    PARequest,
    PolicyRef,
)
from contracts._build import build
from contracts.models import DecidedBy, Decision, PendReason
from policy import label
from policy.criteria import CONTINUATION_CRITERIA, INITIAL_CRITERIA, Facts, Restart, id_conflicts, q2w_from
from policy.evidence import local_date
from policy.ids import authorization_id, determination_id
from policy.reasons import CATALOGUE, local_moment_both, request_text_both, send_both
from policy.schedule import QuantityPlan, authorization_period, quantity_plan
from policy.settings import DEFAULT_SETTINGS, POLICY_ID, PolicySettings, zone
from policy.versions import ENGINE_VERSION

_POLICY_REFS: dict[str, PolicyRef] = {}
_ENGINE: Final = DecidedBy(kind="engine")
_MAX_MOMENT: Final = datetime.max.replace(tzinfo=UTC)
_HOURS: dict[int, timedelta] = {}


def policy_ref(settings: PolicySettings) -> PolicyRef:
    """``{"id": "MP-RX-FP-120-24", "version": settings.version, "engine_version": ENGINE_VERSION}`` (one shared
    frozen instance)."""
    ref = _POLICY_REFS.get(settings.version)
    if ref is None:
        ref = PolicyRef(id=POLICY_ID, version=settings.version, engine_version=ENGINE_VERSION)
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


def automated_denial_allowed(line_of_business: str, settings: PolicySettings) -> bool:
    """Automated denials only where switched on, and never for a Medicare Advantage line
    (``settings.medicare_advantage_lines``, MMM_MA and MMM_MULTIHEALTH): there an adverse decision needs a
    physician or other appropriate professional (42 CFR 422.566(d)), whatever the switch."""
    return settings.denies_automatically(line_of_business)


def decide(
    results: list[CriterionResult], settings: PolicySettings, line_of_business: str = ""
) -> tuple[Decision, PendReason | None]:
    outcomes = {r.result for r in results}
    if "not_met" in outcomes:
        if automated_denial_allowed(line_of_business, settings):
            return "denied", None
        return "pended", "clinical_review"
    if "missing" in outcomes:
        return "pended", "missing_information"
    return "approved", None


def facts_for(request: PARequest, now: datetime, settings: PolicySettings = DEFAULT_SETTINGS) -> Facts:
    """What the criteria read: the request, the settings, the local receipt and decision dates, and
    the authorization period's labeled quantity plan."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
    tz = zone(settings.timezone)
    received_at = request.received_at
    received_on = local_date(received_at, tz)
    decided_on = received_on if now is received_at else local_date(now, tz)  # evaluated at receipt: once
    requested = request.drug.requested_start_date
    continuation = request.continuation
    start: date = requested or max(decided_on, received_on)
    if requested is None and continuation is not None and continuation.current_authorization_valid_through:
        try:  # a renewal starts the day after the authorization it renews ends, never overlapping it
            start = max(start, continuation.current_authorization_valid_through + _ONE_DAY)
        except OverflowError:
            start = date.max
    valid_from, valid_through = authorization_period(start, settings.authorization_months)
    therapy_start = continuation.therapy_start_date if continuation is not None else valid_from
    plan = quantity_plan(
        therapy_start,
        valid_from,
        valid_through,
        q2w_from(request, therapy_start, received_on),
        settings.step_up_whole_vial_billing,
        settings.dose_drift_days,
        None if continuation is None else continuation.last_dose_date,
    )
    automated = settings.denies_automatically(request.line_of_business)
    conflicts = id_conflicts(request.documents)
    return Facts(
        request, settings, received_on, decided_on, plan, requested, _restart(plan, settings), automated, conflicts
    )


_ONE_DAY: Final = timedelta(days=1)


def _restart(plan: QuantityPlan, settings: PolicySettings) -> Restart | None:
    """Label 2.4: the step-up doses a continuation repeats, from the last dose's date and kind to the
    first day of the period (the plan already holds them: :mod:`policy.schedule`). ``None`` without a
    (consistent) ``last_dose_date``."""
    if plan.last_dose is None or plan.last_dose_kind is None or plan.days_since_last_dose is None:
        return None
    doses = plan.restart_doses_mg
    vial = label.STEP_UP_VIAL_MG
    units = sum(vial if settings.step_up_whole_vial_billing else mg for mg in doses)
    return Restart(plan.last_dose, plan.last_dose_kind, plan.days_since_last_dose, doses, units)


def _findings(request: PARequest, facts: Facts) -> list[tuple[CriterionResult, str]]:
    criteria = INITIAL_CRITERIA if request.request_type == "initial" else CONTINUATION_CRITERIA
    return [c.evaluate_with_code(facts) for c in criteria]


def findings(
    request: PARequest, now: datetime, settings: PolicySettings = DEFAULT_SETTINGS
) -> list[tuple[CriterionResult, str]]:
    """Each criterion's result with the code of its finding (:data:`policy.criteria.CODES`), as
    :func:`evaluate` computes them."""
    return _findings(request, facts_for(request, now, settings))


def information_needed_by(
    due_by: datetime, priority: str, now: datetime, settings: PolicySettings = DEFAULT_SETTINGS
) -> datetime:
    """When an information request's answer is needed: ``due_by`` less the plan's review time for
    ``priority`` (``information_review_hours_standard`` / ``_expedited``), so a reviewer can read the
    answer before the deadline. A request evaluated after that moment (a backlog) asks for it by the
    decision time ``now``; never after ``due_by``."""
    hours = (
        settings.information_review_hours_expedited
        if priority == "expedited"
        else settings.information_review_hours_standard
    )
    try:
        wanted = due_by - timedelta(hours=hours)
    except OverflowError:
        wanted = due_by
    return min(max(wanted, now), due_by)


def information_requests(
    results: list[CriterionResult], needed_by: datetime, settings: PolicySettings = DEFAULT_SETTINGS
) -> list[InformationRequest]:
    """One item per criterion whose result is ``missing``: what to send (English and Spanish) with when
    it is needed, in the plan's local time, and what happens if nothing arrives; the document types
    that answer it; the earliest date it may carry; and ``needed_by``."""
    out: list[InformationRequest] = []
    when: tuple[str, str] | None = None
    for r in results:
        if r.result != "missing" or r.code is None:
            continue
        entry = CATALOGUE[r.code]
        facts = r.facts or {}
        floor = facts.get("dated_on_or_after")
        send_en, send_es = send_both(r.code, facts)
        if when is None:
            when = local_moment_both(needed_by, zone(settings.timezone), settings.timezone)
        # every missing finding has a send text in both languages (tests/policy/test_reasons.py)
        en, es = request_text_both(send_en or r.reason.rstrip("."), send_es or (r.reason_es or "").rstrip("."), *when)
        out.append(
            build(
                InformationRequest,
                {
                    "criterion": r.id,
                    "code": r.code,
                    "document": en,
                    "document_es": es,
                    "accepted_types": list(entry.accepted_types),
                    "dated_on_or_after": _iso_date(floor) if isinstance(floor, str) else None,
                    "needed_by": needed_by,
                    "translation_needed": None,
                },
            )
        )
    return out


@lru_cache(maxsize=4096)
def _iso_date(text: str) -> date:
    return date.fromisoformat(text)


def granted_units(request: PARequest, plan: QuantityPlan) -> int:
    """The units an approval carries: ``requested_units`` when given (within the maximum), else the
    labeled maximum of the period (which holds a restart's doses, label 2.4)."""
    requested = request.drug.requested_units
    return plan.max_units if requested is None else min(requested, plan.max_units)


def build_authorization(det_id: str, plan: QuantityPlan, units: int, settings: PolicySettings) -> Authorization:
    """The authorization claims need: id, J1323, the period, the units, and the labeled doses of
    ``plan`` those units cover, in date order (at most the contract's 60).

    Covered: :meth:`policy.schedule.QuantityPlan.covered`, the doses while their billed units, added
    up, stay within ``units``. A dose only partly covered is not listed, nor any after it; the units
    left over stay in ``max_units`` (R53): 1 unit lists no dose, 164 units the three step-up doses
    (44 + 44 + 76), 1500 units of an initial period 20 doses (164 + 17 x 76 = 1456, 44 left over). The
    same for a reviewer's partial approval, whose ``units`` are the reviewer's. A restart's doses are
    the plan's own first doses (label 2.4)."""
    return build(
        Authorization,
        {
            "authorization_id": authorization_id(det_id, settings.hcpcs),
            "hcpcs": settings.hcpcs,
            "valid_from": plan.valid_from,
            "valid_through": plan.valid_through,
            "max_units": units,
            "schedule": list(plan.covered(units)[:60]),
        },
    )


def evaluate(request: PARequest, now: datetime, settings: PolicySettings = DEFAULT_SETTINGS) -> PADetermination:
    """Evaluate ``request`` under policy MP-RX-FP-120-24 at time ``now`` (timezone-aware).

    Deterministic: the same request, ``now`` and settings give an identical determination; the
    ``determination_id`` does not depend on ``now`` at all.
    """
    facts = facts_for(request, now, settings)
    plan = facts.plan
    results = [result for result, _ in _findings(request, facts)]
    decision, pend_reason = decide(results, settings, request.line_of_business)
    due_by = decision_due_by(request.received_at, request.priority, settings)
    requests = (
        information_requests(results, information_needed_by(due_by, request.priority, now, settings), settings)
        if decision != "approved"
        else []
    )
    det_id = determination_id(request, settings)

    authorization = None
    if decision == "approved":
        authorization = build_authorization(det_id, plan, granted_units(request, plan), settings)
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
            "decision_due_by": due_by,
            "information_requests": requests,
            "decided_by": _ENGINE,
            "final": decision != "pended",
            "supersedes": None,
            "review_id": None,
            "rationale": None,
            "rationale_es": None,
            # the engine's final decisions are full approvals, or (automated denials, never on MA lines) denials
            "adverse": None if decision == "pended" else decision == "denied",
            "denied_portion": None,
            "appeal_rights": None if decision == "pended" else decision == "denied",
            "translation_needed": None,
        },
    )
