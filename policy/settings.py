"""Every parameter of the policy engine, in one frozen, versioned place.

Version rule
------------
``version`` is ``"<UM/CMPC approval date of the policy revision>.<parameter-set revision>"``,
today ``"2025-12-11.4"``: the annual review of 11/17/2025 was approved by UM/CMPC on 12/11/2025,
and this is the fourth parameter set under it (``.2``: the plan's local calendar, the requested
period's windows, continuation consistency, agent names and the drift-tolerant quantity limit of
issue #12; ``policy/INTERPRETATION.md`` lists every rule).

* A new policy revision (new UM/CMPC approval date) changes the date and resets the
  revision to 1.
* Any change of a default below, of the label table in :mod:`policy.label`, or of the decision
  logic, without a new policy revision, increments the revision (``2025-12-11.4``: issue #23, the
  review time an information request leaves before the decision deadline; ``.3``: issue #22,
  approvals only on what the request positively shows; ``.2`` was issue #12).

Identifiers
-----------
Determination ids are derived from ``version`` **and** :attr:`PolicySettings.fingerprint`, a hash
of every setting and of the label table. So an operator who overrides one window without bumping
the version still never reuses an id computed under other parameters, and the id shows both
(``DET-2025-12-11.1-<fingerprint>-<request hash>``). ``PolicyRef.version`` on the wire is the
plain ``version``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from policy.label import label_table

POLICY_ID: Final = "MP-RX-FP-120-24"

_VERSION = re.compile(r"^[A-Za-z0-9._:-]{1,40}$")


def line_of_business_code(text: str) -> str:
    """A line-of-business code as the settings write it: surrounding spaces ignored, upper case
    (``mmm_ma`` is ``MMM_MA``: intake's casing never takes a member out of scope, nor out of the
    Medicare Advantage guard against automated denials, R50)."""
    return text.strip().upper()


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicySettings:
    """Parameters of policy MP-RX-FP-120-24 as this engine applies it. Immutable and hashable.

    Change one with ``settings.replace(ecog_window_days=45)`` (or ``dataclasses.replace``).
    """

    version: str = "2025-12-11.4"
    """UM/CMPC approval date of the policy revision + parameter-set revision (see module doc)."""

    # --- the plan's calendar ------------------------------------------------------------------
    timezone: str = "America/Puerto_Rico"
    """IANA zone of the plan's calendar (MMM, Puerto Rico: UTC-4 all year, no daylight saving).
    Every calendar date the policy reads is a local date in this zone: the receipt date that
    evidence currency and the requested period are measured from, the decision date, the default
    start date. Deadlines (``decision_due_by``) stay absolute instants."""

    # --- the requested authorization period ---------------------------------------------------
    start_max_days_before_receipt: int = 0
    """How many days before the local receipt date a ``requested_start_date`` may lie and still be
    approved by the engine. 0: the engine never approves a period that began before the plan
    received the request; any earlier start is pended for a reviewer to decide on retroactive
    coverage."""
    start_max_days_ahead_initial: int = 30
    """An initial request's ``requested_start_date`` at most this many days after receipt: the
    ECOG (30 days) and the supporting documents must still describe the patient when therapy starts."""
    start_max_days_ahead_continuation: int = 45
    """A continuation's ``requested_start_date`` at most this many days after receipt. At least
    ``reauth_lead_days``: a reauthorization filed when its reminder falls due, 30 days before the
    current period ends, asks for a start up to 30 days ahead; 15 more days let it be filed early."""

    # --- evidence currency: days before the request's local receipt date ---------------------
    ecog_window_days: int = 30
    """A.iii: ECOG assessed at most this many days before receipt is "current"."""
    oncology_note_window_days: int = 60
    """B.docs.A: oncology note at most this many days old."""
    objective_measures_window_days: int = 90
    """B.docs.B: imaging or lab results at most this many days old."""
    supporting_docs_window_days: int = 90
    """A.docs: at least one supporting clinical document at most this many days old. 90 days, the
    same as objective measures: the documentation must support the *current* request, and a
    staging work-up (labs, imaging) within a quarter is the usual oncology standard."""

    # --- authorization ----------------------------------------------------------------------
    authorization_months: int = 6
    """Policy C: initial and reauthorization approval duration, up to 6 months (1..12 allowed)."""
    reauth_lead_days: int = 30
    """The reauthorization reminder falls due this many days before ``valid_through``."""

    # --- decision clock (CMS-4180-F, Part B drugs) -----------------------------------------
    standard_decision_hours: int = 72
    expedited_decision_hours: int = 24

    # --- information requests: the plan's review time before the decision deadline -------------
    information_review_hours_standard: int = 24
    """A standard request's information requests are ``needed_by`` this many hours before
    ``decision_due_by``: of the 72-hour clock, 48 hours for the prescriber to answer and 24 (one
    working day, the clock running over weekends too) for a reviewer to read the answer and decide.
    The plan's rule, not the policy's (``policy/INTERPRETATION.md`` R42)."""
    information_review_hours_expedited: int = 6
    """An expedited request's information requests are ``needed_by`` this many hours before
    ``decision_due_by``: of the 24-hour clock, 18 hours for the prescriber and 6 for a reviewer
    (a shift's worth of reading, with the on-call reviewer). The plan's rule (R42)."""

    # --- scope and thresholds -----------------------------------------------------------------
    lines_of_business: frozenset[str] = frozenset({"MMM_MA", "MMM_MULTIHEALTH"})
    hcpcs: str = "J1323"
    min_prior_lines: int = 4
    """A.ii: at least four prior lines of therapy (FDA indication)."""
    max_ecog: int = 2
    """A.iii: ECOG performance status 0..max_ecog."""

    # --- quantity limit -------------------------------------------------------------------------
    step_up_whole_vial_billing: bool = True
    """Step-up doses (12 mg, 32 mg) are billed as the whole 44 mg vial they are drawn from
    (44 units each, discarded drug billed), as in published payer policy VP-0724. When false,
    they are billed at the dose (12 and 32 units)."""

    dose_drift_days: int = 3
    """QL: dose dates drift from the label's grid (clinic days, holidays); the maximum lets each
    phase's boundaries move this many days either way and keeps the fullest layout, so one day of
    drift never costs a whole dose (:mod:`policy.schedule`)."""

    # --- clinical review --------------------------------------------------------------------
    adverse_review_credentials: frozenset[str] = frozenset({"MD", "DO", "PharmD", "RPh"})
    """Credentials that may make an adverse decision on review (a denial or a partial approval):
    physicians and pharmacists, 42 CFR 422.566(d) ("a physician or other appropriate health care
    professional"). Any credential may approve or ask for information."""

    # --- adverse decisions ------------------------------------------------------------------------
    allow_automated_denials: bool = False
    """Off: a criterion that is not met pends the request for clinical review instead of denying it.

    For Medicare Advantage an adverse (partly or fully) medical-necessity organization
    determination must be reviewed by a physician or other appropriate health care professional
    (42 CFR 422.566(d)); CMS's FAQ of 6 Feb 2024 on CMS-4201-F adds that an algorithm may assist
    but cannot be the sole basis of a denial. Turn on only for lines of business outside those rules.
    """

    medicare_advantage_lines: frozenset[str] = frozenset({"MMM_MA", "MMM_MULTIHEALTH"})
    """Lines of business where an automated denial is never issued, whatever ``allow_automated_denials``
    says: Medicare Advantage, where 42 CFR 422.566(d) requires a physician or other appropriate health
    care professional to make any adverse medical-necessity decision."""

    fingerprint: str = field(init=False, repr=False, compare=False, hash=False)
    """sha256 (hex, 16 chars) of every setting above and of the label table."""

    def __post_init__(self) -> None:
        problems = _problems(self)
        if problems:
            raise ValueError("invalid PolicySettings: " + "; ".join(problems))
        object.__setattr__(self, "fingerprint", _fingerprint(self))

    def denies_automatically(self, line_of_business: str) -> bool:
        """An unmet criterion denies without a person only where ``allow_automated_denials`` is on and the
        line of business is not Medicare Advantage (:attr:`medicare_advantage_lines`)."""
        return (
            self.allow_automated_denials
            and line_of_business_code(line_of_business) not in self.medicare_advantage_lines
        )

    def replace(self, **changes: Any) -> PolicySettings:
        """A copy with ``changes`` applied (validated, new fingerprint)."""
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        """Every setting as JSON-ready values (sorted sets), without the fingerprint."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if f.name == "fingerprint":
                continue
            value = getattr(self, f.name)
            out[f.name] = sorted(value) if isinstance(value, frozenset) else value
        return out


def _problems(s: PolicySettings) -> list[str]:
    problems: list[str] = []
    if not isinstance(s.version, str) or not _VERSION.match(s.version):
        problems.append("version must be 1-40 chars of A-Z a-z 0-9 . _ : -")
    ints = {
        "ecog_window_days": (0, 3650),
        "oncology_note_window_days": (0, 3650),
        "objective_measures_window_days": (0, 3650),
        "supporting_docs_window_days": (0, 3650),
        "authorization_months": (1, 12),  # keeps the schedule within the contract's 60 doses
        "reauth_lead_days": (0, 3650),
        "standard_decision_hours": (1, 24 * 60),
        "expedited_decision_hours": (1, 24 * 60),
        "information_review_hours_standard": (0, 24 * 60),
        "information_review_hours_expedited": (0, 24 * 60),
        "min_prior_lines": (0, 99),
        "start_max_days_before_receipt": (0, 31),
        "start_max_days_ahead_initial": (0, 366),
        "start_max_days_ahead_continuation": (0, 366),
        "dose_drift_days": (0, 7),
        "max_ecog": (0, 5),
    }
    for name, (lo, hi) in ints.items():
        value = getattr(s, name)
        if type(value) is not int or not lo <= value <= hi:
            problems.append(f"{name} must be an integer in {lo}..{hi}")
    if not isinstance(s.timezone, str) or not _zone_ok(s.timezone):
        problems.append("timezone must be an IANA time zone name, e.g. America/Puerto_Rico")
    for review, clock in (
        ("information_review_hours_standard", "standard_decision_hours"),
        ("information_review_hours_expedited", "expedited_decision_hours"),
    ):
        hours, due = getattr(s, review), getattr(s, clock)
        if type(hours) is int and type(due) is int and hours >= due:
            problems.append(f"{review} must be less than {clock} (the prescriber needs some time to answer)")
    ahead = s.start_max_days_ahead_continuation
    if type(ahead) is int and type(s.reauth_lead_days) is int and ahead < s.reauth_lead_days:
        problems.append(
            "start_max_days_ahead_continuation must be at least reauth_lead_days (a reauthorization filed "
            "when its reminder falls due asks for a start that far ahead)"
        )
    if not isinstance(s.adverse_review_credentials, frozenset) or not s.adverse_review_credentials:
        problems.append("adverse_review_credentials must be a non-empty frozenset")
    if not isinstance(s.medicare_advantage_lines, frozenset) or not {"MMM_MA", "MMM_MULTIHEALTH"} <= set(
        s.medicare_advantage_lines
    ):
        problems.append("medicare_advantage_lines must be a frozenset holding at least MMM_MA and MMM_MULTIHEALTH")
    if not isinstance(s.lines_of_business, frozenset) or not s.lines_of_business:
        problems.append("lines_of_business must be a non-empty frozenset")
    elif not all(isinstance(x, str) and x for x in s.lines_of_business):
        problems.append("lines_of_business must hold non-empty strings")
    if not isinstance(s.hcpcs, str) or not s.hcpcs:
        problems.append("hcpcs must be a non-empty string")
    for name in ("step_up_whole_vial_billing", "allow_automated_denials"):
        if type(getattr(s, name)) is not bool:
            problems.append(f"{name} must be a bool")
    return problems


def _zone_ok(name: str) -> bool:
    try:
        zone(name)
    except (ValueError, ZoneInfoNotFoundError):
        return False
    return True


@lru_cache(maxsize=16)
def zone(name: str) -> ZoneInfo:
    """The plan's time zone (loaded once; the IANA data comes from the ``tzdata`` package when the
    system has none)."""
    return ZoneInfo(name)


def _fingerprint(s: PolicySettings) -> str:
    canonical = json.dumps({"settings": s.as_dict(), "label": label_table()}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


DEFAULT_SETTINGS: Final = PolicySettings()
