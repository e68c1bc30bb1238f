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
lists the doses of the fullest layout that the approved units cover (:meth:`QuantityPlan.covered`).

Therapy days
------------
Every dose's ``therapy_day`` counts from the recorded therapy start (``therapy_start_date``, the day
of step-up dose 1; for an initial request the first day of the period): ``date = therapy start +
therapy_day - 1``, whatever the drift. The drift moves the phase boundaries only, so a dose within
``drift_days`` after day 169 (or after the every-4-weeks day) may still carry the earlier phase: that
is the leeway, not a wrong day.

Restart after a dosage delay (label 2.4)
----------------------------------------
With the last dose's date (``last_dose``), a continuation whose delay passes the label's thresholds
(:func:`policy.label.restart_sequence`) is laid out from its restart: the restart sequence from the
first day of the period (never sooner after the last dose than :data:`policy.label.MIN_GAP_DAYS`),
ending with its first 76 mg dose, then the patient's schedule (weekly, every 2 weeks or every 4 weeks,
by therapy day as above) counted from that 76 mg dose. The restart doses replace the period's first
doses; they are never added on top of them. The restart sequence is phase ``step_up`` (with its 76 mg
dose, as the label's step-up schedule holds the first treatment dose); the 12 mg and 32 mg doses are
billed as 44 mg vials like any step-up dose. Without the date, or when the table resumes at 76 mg,
the layout is the one above.

Worked example (initial request, 6-month period 2026-12-01 .. 2027-05-31, 182 days; day 1 =
valid_from, the patient stays weekly because no response can be documented yet)::

    step-up  day 1 (12 mg) 44 + day 4 (32 mg) 44 + day 8 (76 mg) 76    =  164
    weekly   days 15, 22, ..., 176 (183 > 182): 24 doses x 76             = 1824
                                                                 total  = 1988

Worked example of a restart (continuation, therapy start 2026-06-15, VGPR held 2 months by day 169,
period 2026-12-15 .. 2027-06-14 = therapy days 184..365, last 76 mg dose 2026-10-15, 61 days before
the period: restart at 32 mg, 76 mg one week later)::

    restart        day 184 (32 mg) 44 + day 191 (76 mg) 76               =  120
    every 2 weeks  days 205, 219, ..., 331: 10 x 76                       =  760
    every 4 weeks  day 345 (345 + 28 = 373 > 365): 1 x 76                 =   76
                                                                 total  =  956
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Final, Literal

from contracts import ScheduledDose
from contracts._build import build
from policy import label

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
    """Day of therapy counted from the recorded therapy start (day 1 = step-up dose 1)."""
    phase: Phase
    dose_mg: int
    units: int


RestartPlan = tuple[int, tuple[tuple[int, int], ...]]
"""A restart after a dosage delay: (the earliest therapy day it may begin on, its doses as
:func:`policy.label.restart_sequence` gives them)."""


@dataclass(frozen=True, slots=True)
class DoseSet:
    """The doses of the fullest labeled layout of a period, their unit total and its arithmetic."""

    doses: tuple[Dose, ...]
    """In date order, on the recorded therapy days."""
    max_units: int
    arithmetic: str
    """E.g. ``"step-up 44 + 44 + 76 = 164; weekly 24 x 76 = 1824; total 1988"``."""
    shift: int
    """Days the phase boundaries (and, without a restart, the step-up days) lie after the recorded grid
    (-drift .. +drift)."""
    phases: tuple[str, ...] = ()
    """The treatment phases (weekly, every 2 weeks, every 4 weeks) the doses fall in, in that order."""
    step_up_doses_mg: tuple[int, ...] = ()
    """The step-up doses' milligrams, in order (a restart's sequence, with its 76 mg dose)."""
    whole_vials_mg: tuple[int, ...] = ()
    """The step-up doses billed as a whole vial (units other than their milligrams), in order."""
    treatment_doses: int = 0
    """How many doses are not step-up doses."""
    restart: bool = False
    """The step-up doses are a restart after a dosage delay (label 2.4)."""


def _step_up_units(mg: int, whole_vial: bool) -> int:
    return (label.STEP_UP_VIAL_MG if whole_vial and mg < label.STEP_UP_VIAL_MG else mg) // label.UNIT_MG


def _layout(first_day: int, last_day: int, q2w_from: int | None, whole_vial: bool, shift: int = 0) -> tuple[Dose, ...]:
    """The fullest labeled layout on therapy days ``first_day..last_day`` with the grid ``shift``
    days later than recorded, on the recorded therapy days.

    Step-up doses keep their days (1, 4, 8). Treatment doses are placed from the first day they
    may fall on (day 15, or the period's first day if later), each one the interval of its phase
    after the one before: as early as possible, which holds the most doses because the intervals
    only lengthen."""
    lo, hi = max(first_day - shift, 1), last_day - shift
    if lo > hi:
        return ()
    out: list[Dose] = []
    for day, mg in label.STEP_UP_DOSES:
        if lo <= day <= hi:
            out.append(Dose(day + shift, "step_up", mg, _step_up_units(mg, whole_vial)))
    mg = label.TREATMENT_DOSE_MG
    units = mg // label.UNIT_MG
    q2w = _NEVER if q2w_from is None else max(q2w_from, Q2W_EARLIEST)
    q4w = _NEVER if q2w_from is None else q2w + 7 * Q2W_WEEKS_BEFORE_Q4W
    day = max(lo, label.WEEKLY_FIRST_DAY)
    while day <= hi:
        phase: Phase = "weekly" if day < q2w else ("every_2_weeks" if day < q4w else "every_4_weeks")
        out.append(Dose(day + shift, phase, mg, units))
        day += INTERVALS[phase]
    return tuple(out)


def _layout_units(first_day: int, last_day: int, q2w_from: int | None, whole_vial: bool) -> int:
    """The units of :func:`_layout` of the same arguments (shift 0), without building its doses (the
    same days, phases and units, only added up)."""
    lo = max(first_day, 1)
    if lo > last_day:
        return 0
    total = 0
    for day, mg in label.STEP_UP_DOSES:
        if lo <= day <= last_day:
            total += _step_up_units(mg, whole_vial)
    units = label.TREATMENT_DOSE_MG // label.UNIT_MG
    q2w = _NEVER if q2w_from is None else max(q2w_from, Q2W_EARLIEST)
    q4w = _NEVER if q2w_from is None else q2w + 7 * Q2W_WEEKS_BEFORE_Q4W
    weekly, every_2, every_4 = INTERVALS["weekly"], INTERVALS["every_2_weeks"], INTERVALS["every_4_weeks"]
    day = max(lo, label.WEEKLY_FIRST_DAY)
    while day <= last_day:
        total += units
        day += weekly if day < q2w else (every_2 if day < q4w else every_4)
    return total


def _restart_layout(
    first_day: int, last_day: int, q2w_from: int | None, whole_vial: bool, shift: int, restart: RestartPlan
) -> tuple[Dose, ...]:
    """The fullest layout of ``first_day..last_day`` that starts with ``restart`` (recorded therapy
    days; the phase boundaries ``shift`` days later than recorded).

    The restart begins on the first day of the period, or on its earliest day if later; its doses
    keep their offsets and are phase ``step_up``. From its 76 mg dose on, each dose is the interval
    of the phase of its therapy day after the one before (as :func:`_layout` places treatment doses)."""
    earliest, sequence = restart
    start = max(first_day, earliest, 1)
    out: list[Dose] = []
    for offset, mg in sequence:
        day = start + offset
        if day > last_day:
            return tuple(out)
        units = _step_up_units(mg, whole_vial) if mg < label.TREATMENT_DOSE_MG else mg // label.UNIT_MG
        out.append(Dose(day, "step_up", mg, units))
    q2w = _NEVER if q2w_from is None else max(q2w_from, Q2W_EARLIEST) + shift
    q4w = _NEVER if q2w_from is None else max(q2w_from, Q2W_EARLIEST) + 7 * Q2W_WEEKS_BEFORE_Q4W + shift

    def phase_of(day: int) -> Phase:
        return "weekly" if day < q2w else ("every_2_weeks" if day < q4w else "every_4_weeks")

    mg = label.TREATMENT_DOSE_MG
    units = mg // label.UNIT_MG
    day = start + sequence[-1][0]
    day += INTERVALS[phase_of(day)]
    while day <= last_day:
        phase = phase_of(day)
        out.append(Dose(day, phase, mg, units))
        day += INTERVALS[phase]
    return tuple(out)


def _shifts(first_day: int, drift_days: int, restart: RestartPlan | None) -> list[int]:
    """The shifts to try, 0 first, then 1, -1, 2, -2, ...: on a tie the smallest shift wins.

    A period that holds step-up dose 1 keeps it: the drift never starts therapy before the period. A
    restart's doses do not move: the shift moves the phase boundaries only."""
    lowest = -drift_days
    if restart is None and first_day <= 1:
        lowest = max(-drift_days, min(first_day - 1, drift_days))
    return sorted(range(lowest, drift_days + 1), key=lambda s: (abs(s), -s))


@lru_cache(maxsize=4096)
def labeled_doses(
    first_day: int,
    last_day: int,
    q2w_from: int | None,
    whole_vial: bool,
    drift_days: int,
    restart: RestartPlan | None = None,
) -> DoseSet:
    """The fullest labeled layout of the period ``first_day..last_day`` (therapy days of the recorded
    start), the phase boundaries allowed to lie up to ``drift_days`` earlier or later; with
    ``restart``, the layout that starts with that restart (label 2.4)."""
    best_units, best_shift = -1, 0
    best: tuple[Dose, ...] = ()
    for shift in _shifts(first_day, drift_days, restart):
        if restart is None:
            units = _layout_units(first_day - shift, last_day - shift, q2w_from, whole_vial)
        else:
            layout = _restart_layout(first_day, last_day, q2w_from, whole_vial, shift, restart)
            units = sum(d.units for d in layout)
        if units > best_units:
            best_units, best_shift = units, shift
            if restart is not None:
                best = layout
    if restart is None:  # only the fullest layout is built
        best = _layout(first_day, last_day, q2w_from, whole_vial, best_shift)
    step_up = [d for d in best if d.phase == "step_up"]
    return DoseSet(
        best,
        best_units,
        arithmetic(best, restart is not None),
        best_shift,
        tuple([p for p in ("weekly", "every_2_weeks", "every_4_weeks") if any(d.phase == p for d in best)]),
        tuple([d.dose_mg for d in step_up]),
        tuple([d.dose_mg for d in step_up if d.units != d.dose_mg]),
        len(best) - len(step_up),
        restart is not None,
    )


def arithmetic(doses: tuple[Dose, ...], restart: bool = False) -> str:
    """The unit total written out by phase, e.g. ``"step-up 44 + 44 + 76 = 164; ...; total 1988"``
    (``"restart 44 + 76 = 120; ..."`` for a restart's doses)."""
    parts: list[str] = []
    for phase in PHASE_ORDER:
        units = [d.units for d in doses if d.phase == phase]
        if not units:
            continue
        name = "restart" if restart and phase == "step_up" else PHASE_NAMES[phase]
        if phase == "step_up" or len(set(units)) > 1:
            terms = " + ".join(str(u) for u in units)
            parts.append(f"{name} {terms} = {sum(units)}")
        else:
            parts.append(f"{name} {len(units)} x {units[0]} = {sum(units)}")
    total = sum(d.units for d in doses)
    return "; ".join([*parts, f"total {total}"]) if parts else "no labeled dose falls in the period, total 0"


class QuantityPlan:
    """The labeled maximum for one authorization period, with its arithmetic.

    Immutable by convention. ``key`` is what it was computed from (billing and drift aside, which
    are settings). The dated schedule is built on first use, for approvals only."""

    __slots__ = (
        "_schedule",
        "days_since_last_dose",
        "dose_set",
        "first_day",
        "key",
        "last_day",
        "last_dose",
        "last_dose_kind",
        "q2w_from",
        "restart_doses_mg",
        "therapy_start",
        "valid_from",
        "valid_through",
    )

    def __init__(
        self,
        therapy_start: date,
        valid_from: date,
        valid_through: date,
        q2w_from: int | None,
        dose_set: DoseSet,
        last_dose: date | None = None,
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
        restart = restart_of(therapy_start, valid_from, last_dose)
        self.last_dose = None if restart is None else last_dose
        """The last dose given before the period (label 2.4), when known and consistent: on or after the
        therapy start, on or before the first day of the period."""
        self.last_dose_kind = None if restart is None else restart[0]
        """``step_up_1``, ``step_up_2`` or ``treatment`` (:func:`policy.label.last_dose_kind`)."""
        self.days_since_last_dose = None if restart is None else restart[1]
        """Days from the last dose to the first day of the period."""
        self.restart_doses_mg: tuple[int, ...] = () if restart is None else restart[2]
        """The step-up doses given again before the next 76 mg dose (:func:`policy.label.restart_doses`)."""
        self.key = (therapy_start, valid_from, valid_through, q2w_from, self.last_dose)
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
        """Every dose of the fullest layout as ``ScheduledDose`` (date = therapy start + therapy day - 1),
        in date order."""
        if self._schedule is None:
            start = self.therapy_start - _ONE_DAY
            self._schedule = tuple(
                build(
                    ScheduledDose,
                    {
                        "date": start + timedelta(days=d.therapy_day),
                        "therapy_day": d.therapy_day,
                        "phase": d.phase,
                        "dose_mg": d.dose_mg,
                        "units": d.units,
                    },
                )
                for d in self.dose_set.doses
            )
        return self._schedule

    def covered(self, units: int) -> tuple[ScheduledDose, ...]:
        """The doses ``units`` cover: the schedule's doses in date order while their billed units, added
        up, stay within ``units``. A dose only partly covered is not listed, nor any after it: the units
        left over (fewer than that dose's) stay authorized in ``max_units`` but name no dose (1 unit
        covers no dose; 164 units cover the three step-up doses, 44 + 44 + 76)."""
        out: list[ScheduledDose] = []
        total = 0
        for dose in self.schedule:
            total += dose.units
            if total > units:
                break
            out.append(dose)
        return tuple(out)


_ONE_DAY: Final = timedelta(days=1)


def restart_of(
    therapy_start: date, valid_from: date, last_dose: date | None
) -> tuple[str, int, tuple[int, ...]] | None:
    """Label 2.4 from the last dose's date: (its kind, the days from it to ``valid_from``, the step-up
    doses given again). ``None`` without a date, or with one before the therapy start or after
    ``valid_from`` (those dates say nothing about a delay)."""
    if last_dose is None or last_dose < therapy_start or last_dose > valid_from:
        return None
    kind = label.last_dose_kind((last_dose - therapy_start).days + 1)
    days_since = (valid_from - last_dose).days
    return kind, days_since, label.restart_doses(kind, days_since)


@lru_cache(maxsize=8192)
def quantity_plan(
    therapy_start: date,
    valid_from: date,
    valid_through: date,
    q2w_from: int | None,
    whole_vial: bool,
    drift_days: int = 3,
    last_dose: date | None = None,
) -> QuantityPlan:
    """The labeled maximum of ``[valid_from, valid_through]`` for therapy started on
    ``therapy_start``; with ``last_dose`` (a continuation's last dose before the period), laid out
    from the restart label 2.4 asks for after the delay. Cached: requests share periods and start
    dates."""
    first_day = (valid_from - therapy_start).days + 1
    last_day = (valid_through - therapy_start).days + 1
    restart: RestartPlan | None = None
    found = restart_of(therapy_start, valid_from, last_dose)
    if found is not None and last_dose is not None:
        kind, days_since, _ = found
        sequence = label.restart_sequence(kind, days_since)
        if sequence:
            restart = ((last_dose - therapy_start).days + 1 + label.MIN_GAP_DAYS[kind], sequence)
    dose_set = labeled_doses(first_day, last_day, q2w_from, whole_vial, drift_days, restart)
    return QuantityPlan(therapy_start, valid_from, valid_through, q2w_from, dose_set, last_dose)


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
