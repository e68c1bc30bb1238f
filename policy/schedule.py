"""The labeled dosing schedule (policy Limits B) and the quantity-limit arithmetic.

Phases, by therapy day (day 1 = step-up dose 1; week ``n`` starts on day ``7(n - 1) + 1``):

=================  =========================================  ====================  ===========
phase              therapy days                               dose (mg)             J1323 units
=================  =========================================  ====================  ===========
``step_up``        1, 4, 8 (step-up 1, step-up 2, first dose)  12, 32, 76           44, 44, 76
``weekly``         from day 15, weekly                         76                   76
``every_2_weeks``  from ``q2w_from`` (week 25 at the earliest)  76                  76
``every_4_weeks``  from ``q2w_from`` + 24 weeks                 76                  76
=================  =========================================  ====================  ===========

When the interval lengthens (policy Limits B and its footnotes):

* every 2 weeks: only for a patient with at least 24 weeks of treatment and a response of PR or
  better maintained at least 2 months ("* Responders only week 25 onward"). ``q2w_from`` is the
  later of day 169 (week 25) and the day the response had been held 2 months; ``None`` when the
  request does not document such a response at receipt (initial requests, MR/SD/PD, no
  ``response_since``): the patient then stays weekly for the whole period;
* every 4 weeks: "in patients who have maintained the response following 24 weeks of treatment at
  the biweekly dosing schedule", so 24 weeks (168 days) after ``q2w_from``, not at week 49 for
  everyone.

One unit is 1 mg. The 12 mg and 32 mg step-up doses are drawn from the 44 mg vial and billed as
44 units each (whole vial, ``PolicySettings.step_up_whole_vial_billing``); every 76 mg dose is a
whole 76 mg vial, 76 units.

The maximum is the most doses each phase can hold in the period
----------------------------------------------------------------
Real dose dates drift from the label's grid by a day or two (clinic days, holidays, a delayed
hospital bed). A maximum computed on a grid fixed to ``therapy_start_date`` would lose a whole
76 mg dose to one day of drift. So, for each phase, the maximum counts the most doses of that
phase's interval that fit in the days of the period the phase covers: doses are laid out from the
first day of the period they may fall on, each one its phase's interval after the one before (as
early as possible, which holds the most doses because the intervals only lengthen). The phase
boundaries may also move by up to ``drift_days`` (``PolicySettings.dose_drift_days``, default 3)
either way, and the maximum is the largest total over those shifts; a period that holds step-up
dose 1 keeps it (therapy never starts before such a period). The ``schedule`` of the authorization
lists the fullest layout, so its units add up to the maximum.

Worked example (initial request, 6-month period 2026-12-01 .. 2027-05-31, 182 days; day 1 =
valid_from, the patient stays weekly because no response can be documented yet)::

    step-up  day 1 (12 mg) 44 + day 4 (32 mg) 44 + day 8 (76 mg) 76    =  164
    weekly   days 15, 22, ..., 176 (183 > 182): 24 doses x 76             = 1824
                                                                 total  = 1988
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Final, Literal

from contracts import ScheduledDose
from policy import label
from policy._build import build

Phase = Literal["step_up", "weekly", "every_2_weeks", "every_4_weeks"]

PHASE_ORDER: Final[tuple[Phase, ...]] = ("step_up", "weekly", "every_2_weeks", "every_4_weeks")
PHASE_NAMES: Final[dict[Phase, str]] = {
    "step_up": "step-up",
    "weekly": "weekly",
    "every_2_weeks": "every 2 weeks",
    "every_4_weeks": "every 4 weeks",
}
INTERVALS: Final[dict[Phase, int]] = {"weekly": 7, "every_2_weeks": 14, "every_4_weeks": 28}

Q2W_EARLIEST: Final = label.week_start_day(label.Q2W_FROM_WEEK)  # 169, week 25
Q2W_WEEKS_BEFORE_Q4W: Final = label.Q4W_FROM_WEEK - label.Q2W_FROM_WEEK  # 24 weeks at every 2 weeks
_NEVER: Final = 10**9


@dataclass(frozen=True, slots=True)
class Dose:
    therapy_day: int
    phase: Phase
    dose_mg: int
    units: int


@dataclass(frozen=True, slots=True)
class DoseSet:
    """The doses of the fullest labeled layout of a period, their unit total and its arithmetic."""

    doses: tuple[Dose, ...]
    max_units: int
    arithmetic: str
    """E.g. ``"step-up 44 + 44 + 76 = 164; weekly 24 x 76 = 1824; total 1988"``."""
    shift: int
    """Days the layout's day 1 lies after the recorded therapy start (-drift .. +drift)."""
    phases: tuple[str, ...] = ()
    """The treatment phases (weekly, every 2 weeks, every 4 weeks) the doses fall in, in that order."""
    step_up_doses_mg: tuple[int, ...] = ()
    """The step-up doses' milligrams, in order."""
    whole_vials_mg: tuple[int, ...] = ()
    """The step-up doses billed as a whole vial (units other than their milligrams), in order."""
    treatment_doses: int = 0
    """How many doses are not step-up doses."""


def _layout(first_day: int, last_day: int, q2w_from: int | None, whole_vial: bool) -> tuple[Dose, ...]:
    """The fullest labeled layout on therapy days ``first_day..last_day`` (no drift).

    Step-up doses keep their days (1, 4, 8). Treatment doses are placed from the first day they
    may fall on (day 15, or the period's first day if later), each one the interval of its phase
    after the one before: as early as possible, which holds the most doses because the intervals
    only lengthen."""
    lo = max(first_day, 1)
    if lo > last_day:
        return ()
    out: list[Dose] = []
    for day, mg in label.STEP_UP_DOSES:
        if lo <= day <= last_day:
            units = label.STEP_UP_VIAL_MG if whole_vial and mg < label.STEP_UP_VIAL_MG else mg
            out.append(Dose(day, "step_up", mg, units // label.UNIT_MG))
    mg = label.TREATMENT_DOSE_MG
    units = mg // label.UNIT_MG
    q2w = _NEVER if q2w_from is None else max(q2w_from, Q2W_EARLIEST)
    q4w = _NEVER if q2w_from is None else q2w + 7 * Q2W_WEEKS_BEFORE_Q4W
    day = max(lo, label.WEEKLY_FIRST_DAY)
    while day <= last_day:
        phase: Phase = "weekly" if day < q2w else ("every_2_weeks" if day < q4w else "every_4_weeks")
        out.append(Dose(day, phase, mg, units))
        day += INTERVALS[phase]
    return tuple(out)


def _layout_units(first_day: int, last_day: int, q2w_from: int | None, whole_vial: bool) -> int:
    """The units of :func:`_layout` of the same arguments, without building its doses (the same
    days, phases and units, only added up)."""
    lo = max(first_day, 1)
    if lo > last_day:
        return 0
    total = 0
    for day, mg in label.STEP_UP_DOSES:
        if lo <= day <= last_day:
            total += (label.STEP_UP_VIAL_MG if whole_vial and mg < label.STEP_UP_VIAL_MG else mg) // label.UNIT_MG
    units = label.TREATMENT_DOSE_MG // label.UNIT_MG
    q2w = _NEVER if q2w_from is None else max(q2w_from, Q2W_EARLIEST)
    q4w = _NEVER if q2w_from is None else q2w + 7 * Q2W_WEEKS_BEFORE_Q4W
    weekly, every_2, every_4 = INTERVALS["weekly"], INTERVALS["every_2_weeks"], INTERVALS["every_4_weeks"]
    day = max(lo, label.WEEKLY_FIRST_DAY)
    while day <= last_day:
        total += units
        day += weekly if day < q2w else (every_2 if day < q4w else every_4)
    return total


@lru_cache(maxsize=4096)
def labeled_doses(first_day: int, last_day: int, q2w_from: int | None, whole_vial: bool, drift_days: int) -> DoseSet:
    """The fullest labeled layout of the period ``first_day..last_day`` (therapy days of the recorded
    start), the schedule allowed to start up to ``drift_days`` earlier or later."""
    best_units, best_shift = -1, 0
    # A period that holds step-up dose 1 keeps it: the drift never starts therapy before the period.
    lowest = max(-drift_days, min(first_day - 1, drift_days)) if first_day <= 1 else -drift_days
    # shift 0 first, then 1, -1, 2, -2, ...: on a tie the smallest shift wins
    for shift in sorted(range(lowest, drift_days + 1), key=lambda s: (abs(s), -s)):
        units = _layout_units(first_day - shift, last_day - shift, q2w_from, whole_vial)
        if units > best_units:
            best_units, best_shift = units, shift
    # only the fullest layout is built
    best = _layout(first_day - best_shift, last_day - best_shift, q2w_from, whole_vial)
    step_up = [d for d in best if d.phase == "step_up"]
    return DoseSet(
        best,
        best_units,
        arithmetic(best),
        best_shift,
        tuple([p for p in ("weekly", "every_2_weeks", "every_4_weeks") if any(d.phase == p for d in best)]),
        tuple([d.dose_mg for d in step_up]),
        tuple([d.dose_mg for d in step_up if d.units != d.dose_mg]),
        len(best) - len(step_up),
    )


def arithmetic(doses: tuple[Dose, ...]) -> str:
    """The unit total written out by phase, e.g. ``"step-up 44 + 44 + 76 = 164; ...; total 1988"``."""
    parts: list[str] = []
    for phase in PHASE_ORDER:
        units = [d.units for d in doses if d.phase == phase]
        if not units:
            continue
        if phase == "step_up" or len(set(units)) > 1:
            terms = " + ".join(str(u) for u in units)
            parts.append(f"{PHASE_NAMES[phase]} {terms} = {sum(units)}")
        else:
            parts.append(f"{PHASE_NAMES[phase]} {len(units)} x {units[0]} = {sum(units)}")
    total = sum(d.units for d in doses)
    return "; ".join([*parts, f"total {total}"]) if parts else "no labeled dose falls in the period, total 0"


class QuantityPlan:
    """The labeled maximum for one authorization period, with its arithmetic.

    Immutable by convention. ``key`` is what it was computed from (billing and drift aside, which
    are settings). The dated schedule is built on first use, for approvals only."""

    __slots__ = (
        "_schedule",
        "dose_set",
        "first_day",
        "key",
        "last_day",
        "q2w_from",
        "therapy_start",
        "valid_from",
        "valid_through",
    )

    def __init__(
        self, therapy_start: date, valid_from: date, valid_through: date, q2w_from: int | None, dose_set: DoseSet
    ) -> None:
        self.therapy_start = therapy_start
        self.valid_from = valid_from
        self.valid_through = valid_through
        self.q2w_from = q2w_from
        """Therapy day from which dosing is every 2 weeks (None: weekly throughout)."""
        self.first_day = (valid_from - therapy_start).days + 1
        """Therapy day of ``valid_from`` (< 1 when therapy starts inside the period)."""
        self.last_day = (valid_through - therapy_start).days + 1
        self.dose_set = dose_set
        self.key = (therapy_start, valid_from, valid_through, q2w_from)
        self._schedule: tuple[ScheduledDose, ...] | None = None

    @property
    def doses(self) -> tuple[Dose, ...]:
        return self.dose_set.doses

    @property
    def max_units(self) -> int:
        return self.dose_set.max_units

    @property
    def arithmetic(self) -> str:
        return self.dose_set.arithmetic

    @property
    def schedule(self) -> tuple[ScheduledDose, ...]:
        """The covered doses as ``ScheduledDose`` (date = therapy start + shift + therapy day - 1)."""
        if self._schedule is None:
            start = self.therapy_start + timedelta(days=self.dose_set.shift)
            self._schedule = tuple(
                build(
                    ScheduledDose,
                    {
                        "date": start + timedelta(days=d.therapy_day - 1),
                        "therapy_day": d.therapy_day,
                        "phase": d.phase,
                        "dose_mg": d.dose_mg,
                        "units": d.units,
                    },
                )
                for d in self.dose_set.doses
            )
        return self._schedule


@lru_cache(maxsize=8192)
def quantity_plan(
    therapy_start: date,
    valid_from: date,
    valid_through: date,
    q2w_from: int | None,
    whole_vial: bool,
    drift_days: int = 3,
) -> QuantityPlan:
    """The labeled maximum of ``[valid_from, valid_through]`` for therapy started on
    ``therapy_start``. Cached: requests share periods and start dates."""
    first_day = (valid_from - therapy_start).days + 1
    last_day = (valid_through - therapy_start).days + 1
    dose_set = labeled_doses(first_day, last_day, q2w_from, whole_vial, drift_days)
    return QuantityPlan(therapy_start, valid_from, valid_through, q2w_from, dose_set)


def add_months(d: date, months: int) -> date | None:
    """``d`` plus calendar months, the day clamped to the month's end (Aug 31 + 6 = Feb 28/29).

    ``None`` past the end (or before the start) of the calendar."""
    month0 = d.month - 1 + months
    year = d.year + month0 // 12
    month = month0 % 12 + 1
    if not date.min.year <= year <= date.max.year:
        return None
    return date(year, month, min(d.day, _days_in_month(year, month)))


def _days_in_month(year: int, month: int) -> int:
    if month == 12:
        return 31
    return (date(year, month + 1, 1) - timedelta(days=1)).day


@lru_cache(maxsize=4096)
def authorization_period(valid_from: date, months: int) -> tuple[date, date]:
    """``[valid_from, valid_from + months - 1 day]``, both inclusive (policy C: up to 6 months).

    ``months`` >= 1. At the end of the calendar the period is clamped to ``date.max``."""
    end = add_months(valid_from, months)
    if end is None:
        return valid_from, date.max
    return valid_from, end - timedelta(days=1)
