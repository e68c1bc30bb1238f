"""The labeled dosing schedule (policy Limits B) and the quantity-limit arithmetic.

Dose table (policy Limits B, label 7/2025), by therapy day (day 1 = step-up dose 1):

=================  ================================================  ============  ===========
phase              therapy days                                      dose (mg)     J1323 units
=================  ================================================  ============  ===========
``step_up``        1 (step-up 1), 4 (step-up 2), 8 (first dose)      12, 32, 76    44, 44, 76
``weekly``         15, 22, ..., 162 (weeks 3-24)                     76            76
``every_2_weeks``  169, 183, ..., 323 (weeks 25, 27, ..., 47)        76            76
``every_4_weeks``  337, 365, ... (week 49 and every 4 weeks)         76            76
=================  ================================================  ============  ===========

``every_2_weeks`` and ``every_4_weeks`` apply to responders only.

Non-responders stay on the weekly schedule for as long as they are treated (label: the interval
changes only for patients with a response of PR or better maintained at least 2 months).

One unit is 1 mg. The 12 mg and 32 mg step-up doses are drawn from the 44 mg vial and billed as
44 units each (whole vial, ``PolicySettings.step_up_whole_vial_billing``); every 76 mg dose is a
whole 76 mg vial, 76 units.

The maximum for an authorization period ``[valid_from, valid_through]`` is the sum of the units
of the labeled doses whose date falls inside it.

Worked example (initial request, 6-month period 2026-12-01 .. 2027-05-31, 182 days; therapy
day 1 = valid_from, so the period is therapy days 1..182)::

    step-up        day 1 (12 mg) 44 + day 4 (32 mg) 44 + day 8 (76 mg) 76   =  164
    weekly         days 15, 22, ..., 162: (162 - 15) / 7 + 1 = 22 doses x 76 = 1672
    every 2 weeks  day 169 (week 25); day 183 is after day 182:  1 dose x 76 =   76
                                                                      total  = 1912

Any 6-month period is 181 to 184 days long; a 184-day period also holds day 183, so 1988.
"""

from __future__ import annotations

from collections.abc import Iterator
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

_Q2W_FIRST: Final = label.week_start_day(label.Q2W_FROM_WEEK)  # 169
_Q4W_FIRST: Final = label.week_start_day(label.Q4W_FROM_WEEK)  # 337
_WEEKLY_LAST: Final = label.week_start_day(label.WEEKLY_THROUGH_WEEK)  # 162, the week-24 dose
_Q2W_LAST: Final = _Q4W_FIRST - 1  # the every-2-weeks phase ends with week 48


@dataclass(frozen=True, slots=True)
class Dose:
    therapy_day: int
    phase: Phase
    dose_mg: int
    units: int


def _every(start: int, step: int, last: int, lo: int, hi: int) -> Iterator[int]:
    """Days ``start, start + step, ...`` up to ``last``, restricted to ``[lo, hi]``."""
    top = min(last, hi)
    if lo > top:
        return
    day = start if lo <= start else start + -(-(lo - start) // step) * step
    while day <= top:
        yield day
        day += step


@dataclass(frozen=True, slots=True)
class DoseSet:
    """The labeled doses on a range of therapy days, their unit total and its arithmetic."""

    doses: tuple[Dose, ...]
    max_units: int
    arithmetic: str
    """E.g. ``"step-up 44 + 44 + 76 = 164; weekly 22 x 76 = 1672; every 2 weeks 1 x 76 = 76; total 1912"``."""


@lru_cache(maxsize=4096)
def labeled_doses(first_day: int, last_day: int, responder: bool, whole_vial: bool) -> DoseSet:
    """The labeled doses on therapy days ``first_day..last_day`` (inclusive), in day order."""
    lo = max(first_day, 1)
    out: list[Dose] = []
    if lo <= last_day:
        for day, mg in label.STEP_UP_DOSES:
            if lo <= day <= last_day:
                units = label.STEP_UP_VIAL_MG if whole_vial and mg < label.STEP_UP_VIAL_MG else mg
                out.append(Dose(day, "step_up", mg, units // label.UNIT_MG))
        mg = label.TREATMENT_DOSE_MG
        units = mg // label.UNIT_MG
        weekly_last = _WEEKLY_LAST if responder else last_day
        out.extend(Dose(d, "weekly", mg, units) for d in _every(label.WEEKLY_FIRST_DAY, 7, weekly_last, lo, last_day))
        if responder:
            out.extend(Dose(d, "every_2_weeks", mg, units) for d in _every(_Q2W_FIRST, 14, _Q2W_LAST, lo, last_day))
            out.extend(Dose(d, "every_4_weeks", mg, units) for d in _every(_Q4W_FIRST, 28, last_day, lo, last_day))
    doses = tuple(out)
    return DoseSet(doses, sum(d.units for d in doses), arithmetic(doses))


def arithmetic(doses: tuple[Dose, ...]) -> str:
    """The unit total written out by phase, e.g. ``"step-up 44 + 44 + 76 = 164; ...; total 1912"``."""
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

    Immutable by convention. ``key`` is what it was computed from (whole-vial billing aside, which
    is a setting). The dated schedule is built on first use, for approvals only."""

    __slots__ = (
        "_schedule",
        "dose_set",
        "first_day",
        "key",
        "last_day",
        "responder",
        "therapy_start",
        "valid_from",
        "valid_through",
    )

    def __init__(
        self, therapy_start: date, valid_from: date, valid_through: date, responder: bool, dose_set: DoseSet
    ) -> None:
        self.therapy_start = therapy_start
        self.valid_from = valid_from
        self.valid_through = valid_through
        self.responder = responder
        self.first_day = (valid_from - therapy_start).days + 1
        """Therapy day of ``valid_from`` (< 1 when therapy starts inside the period)."""
        self.last_day = (valid_through - therapy_start).days + 1
        self.dose_set = dose_set
        self.key = (therapy_start, valid_from, valid_through, responder)
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
        """The covered doses as ``ScheduledDose`` (date = therapy start + therapy day - 1)."""
        if self._schedule is None:
            start = self.therapy_start
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


@lru_cache(maxsize=1024)
def quantity_plan(
    therapy_start: date, valid_from: date, valid_through: date, responder: bool, whole_vial: bool
) -> QuantityPlan:
    """The labeled doses dated within ``[valid_from, valid_through]`` for therapy starting on
    ``therapy_start``, and their units. Cached: requests share periods and start dates."""
    first_day = (valid_from - therapy_start).days + 1
    last_day = (valid_through - therapy_start).days + 1
    dose_set = labeled_doses(first_day, last_day, responder, whole_vial)
    return QuantityPlan(therapy_start, valid_from, valid_through, responder, dose_set)


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
