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
    }
