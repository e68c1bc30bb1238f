"""Facts of the FDA label of elranatamab-bcmm (Elrexfio) that the quantity limit rests on.

These are product facts, not tunable parameters: policy MP-RX-FP-120-24, Limits B (quantity
limitations) copies the label's dosing table, and the label revision of 7/2025 (sections 2.2
and 2.4) is the source. They still take part in the settings fingerprint
(:func:`policy.settings.PolicySettings.fingerprint`), so editing a number here can never reuse
a determination id computed under the old table.

Therapy day 1 is the day of step-up dose 1. Week ``n`` of therapy starts on therapy day
``7 * (n - 1) + 1``: week 2 starts on day 8 (the first treatment dose), week 25 on day 169,
week 49 on day 337.
"""

from __future__ import annotations

from datetime import date
from typing import Final

HCPCS_DESCRIPTION: Final = "Injection, elranatamab-bcmm, 1 mg"
UNIT_MG: Final = 1
"""One J1323 billing unit is 1 mg."""

VIAL_SIZES_MG: Final = (44, 76)
"""Single-dose vials: 44 mg/1.1 mL and 76 mg/1.9 mL (40 mg/mL)."""
STEP_UP_VIAL_MG: Final = 44
"""Step-up doses (12 mg, 32 mg) are drawn from the 44 mg vial."""

TREATMENT_DOSE_MG: Final = 76

STEP_UP_DOSES: Final = ((1, 12), (4, 32), (8, 76))
"""(therapy day, mg): step-up dose 1, step-up dose 2, first treatment dose. The policy's table
lists the first treatment dose (day 8) in the step-up dosing schedule, and so do we."""

WEEKLY_FIRST_DAY: Final = 15
"""One week after the first treatment dose, then weekly."""
WEEKLY_THROUGH_WEEK: Final = 24
Q2W_FROM_WEEK: Final = 25
"""Every 2 weeks from week 25: responders only (PR or better, maintained at least 2 months)."""
Q4W_FROM_WEEK: Final = 49
"""Every 4 weeks from week 49: responders who kept the response on the every-2-weeks schedule."""

RESPONSE_MAINTAINED_MONTHS: Final = 2
RESPONDER_RESPONSES: Final = frozenset({"sCR", "CR", "VGPR", "PR"})
"""IMWG "partial response or better"."""


def week_start_day(week: int) -> int:
    """Therapy day on which week ``week`` starts (week 1 starts on day 1)."""
    return 7 * (week - 1) + 1


def label_table() -> dict[str, object]:
    """Every label fact above, for the settings fingerprint."""
    return {
        "unit_mg": UNIT_MG,
        "vials_mg": list(VIAL_SIZES_MG),
        "step_up_vial_mg": STEP_UP_VIAL_MG,
        "treatment_dose_mg": TREATMENT_DOSE_MG,
        "step_up_doses": [list(d) for d in STEP_UP_DOSES],
        "weekly_first_day": WEEKLY_FIRST_DAY,
        "weekly_through_week": WEEKLY_THROUGH_WEEK,
        "q2w_from_week": Q2W_FROM_WEEK,
        "q4w_from_week": Q4W_FROM_WEEK,
        "response_maintained_months": RESPONSE_MAINTAINED_MONTHS,
        "responder_responses": sorted(RESPONDER_RESPONSES),
        "adult_age_years": ADULT_AGE_YEARS,
        "first_trial_date": FIRST_TRIAL_DATE.isoformat(),
        "restart_after_delay": {k: [[n, list(d)] for n, d in v] for k, v in RESTART_AFTER_DELAY.items()},
        "restart_32_to_76_days": dict(RESTART_32_TO_76_DAYS),
        "min_gap_days": dict(MIN_GAP_DAYS),
    }


ADULT_AGE_YEARS: Final = 18
"""Indication: "adult patients with relapsed or refractory multiple myeloma"; safety and
effectiveness in pediatric patients have not been established (label 8.4)."""

FIRST_TRIAL_DATE: Final = date(2018, 1, 1)
"""Elranatamab (PF-06863135) was first given to patients in MagnetisMM-1 (NCT03269136), opened in
2018. The engine uses 1 January 2018, the earliest day the trial could have dosed anyone: an
elranatamab therapy start before it cannot be elranatamab. (The exact first-patient date was not
confirmed from a stored source; an earlier bound only lets fewer impossible dates through to the
other checks, never pends a true one.)"""

RESTART_AFTER_DELAY: Final[dict[str, tuple[tuple[int, tuple[int, ...]], ...]]] = {
    # last dose given -> ((up to N days since it, step-up doses given again before 76 mg), ...);
    # past the last threshold: restart at step-up dose 1 (12 mg, then 32 mg)
    "step_up_1": ((14, (32,)),),
    "step_up_2": ((14, ()), (28, (32,))),
    "treatment": ((42, ()), (84, (32,))),
}
"""Label section 2.4, "Restarting ELREXFIO After Dosage Delay" (Table 2 of the 2023 label, as
Drugs.com and Davis's Drug Guide 2024 reproduce it): after step-up dose 1, up to 14 days restart at
step-up dose 2 (32 mg), more than 14 days at step-up dose 1; after step-up dose 2, up to 14 days at
76 mg, more than 2 and up to 4 weeks at 32 mg, more than 4 weeks at 12 mg; after any 76 mg dose, up
to 6 weeks at 76 mg, more than 6 and up to 12 weeks at 32 mg, more than 12 weeks at 12 mg. The
7/2025 revision of section 2.4 could not be read from a stored source (INTERPRETATION.md, R37)."""
RESTART_FROM_STEP_UP_1: Final = (12, 32)


def restart_doses(last_dose: str, days_since: int) -> tuple[int, ...]:
    """The step-up doses (mg) given again before the next 76 mg dose, after a delay of ``days_since``
    days since ``last_dose`` (``step_up_1``, ``step_up_2`` or ``treatment``).

    >>> restart_doses("treatment", 42), restart_doses("treatment", 43), restart_doses("treatment", 85)
    ((), (32,), (12, 32))
    """
    for limit, doses in RESTART_AFTER_DELAY[last_dose]:
        if days_since <= limit:
            return doses
    return RESTART_FROM_STEP_UP_1


RESTART_32_TO_76_DAYS: Final[dict[str, int]] = {"step_up_1": 4, "step_up_2": 7, "treatment": 7}
"""Label 2.4, a restart at step-up dose 2 (32 mg), by the last dose given: after step-up dose 1 (up to 14
days), 76 mg 4 days after the 32 mg dose, as on the label's own grid (day 4, day 8; the 2023 table as
Drugs.com reproduces it); after step-up dose 2 (more than 14 and up to 28 days) or after a 76 mg dose
(more than 6 and up to 12 weeks), 76 mg one week after it. A restart at step-up dose 1 follows the grid:
12 mg, 32 mg 3 days later, 76 mg 4 days after that (:data:`STEP_UP_DOSES`)."""

MIN_GAP_DAYS: Final[dict[str, int]] = {"step_up_1": 2, "step_up_2": 3, "treatment": 6}
"""The fewest days between the last dose given (by kind) and the next (label, 2024 text): dose 2 at
least 2 days after dose 1, the first treatment dose at least 3 days after dose 2, weekly doses at
least 6 days apart. A restart never comes sooner after the last dose."""


def restart_sequence(last_dose: str, days_since: int) -> tuple[tuple[int, int], ...]:
    """The doses of the restart after a delay of ``days_since`` days since ``last_dose``: (days after
    the restart's first dose, mg), ending with its first 76 mg dose; ``()`` when the table resumes at
    76 mg (no step-up dose again). The patient's schedule goes on from that 76 mg dose.

    >>> restart_sequence("treatment", 42), restart_sequence("treatment", 43)
    ((), ((0, 32), (7, 76)))
    >>> restart_sequence("step_up_1", 10), restart_sequence("treatment", 85)
    (((0, 32), (4, 76)), ((0, 12), (3, 32), (7, 76)))
    """
    doses = restart_doses(last_dose, days_since)
    if not doses:
        return ()
    if doses == RESTART_FROM_STEP_UP_1:
        first = STEP_UP_DOSES[0][0]
        return tuple([(day - first, mg) for day, mg in STEP_UP_DOSES])
    return ((0, doses[0]), (RESTART_32_TO_76_DAYS[last_dose], TREATMENT_DOSE_MG))


def last_dose_kind(therapy_day: int) -> str:
    """Which dose falls on ``therapy_day`` of the labeled grid: step-up dose 1 (days 1-3),
    step-up dose 2 (days 4-7), or a treatment dose (day 8 on)."""
    if therapy_day < STEP_UP_DOSES[1][0]:
        return "step_up_1"
    if therapy_day < STEP_UP_DOSES[2][0]:
        return "step_up_2"
    return "treatment"
