"""QL: the labeled maximum of J1323 units for an authorization period, checked by hand.

Therapy day 1 = step-up dose 1; week n starts on day 7(n-1)+1. Labeled doses (policy Limits B):
days 1 (12 mg -> 44 units), 4 (32 mg -> 44 units), 8 (76); weekly 15..162 (weeks 3-24);
responders every 2 weeks 169, 183, ..., 323 (weeks 25-48) and every 4 weeks from 337 (week 49);
non-responders weekly throughout. Every 76 mg dose is 76 units.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from contracts import PADetermination, PARequest, PAReview
from policy import DEFAULT_SETTINGS, evaluate
from policy.engine import facts_for
from policy.review import final_determination
from policy.schedule import add_months, authorization_period, labeled_doses, quantity_plan
from tests.policy import golden
from tests.policy.factory import (
    EXAMPLES,
    change,
    continuation,
    criterion,
    drop,
    example,
    initial,
    parse,
    run,
    set_,
    strictly_valid,
)


def _continuation_at(
    therapy_start: str, valid_from: str, best_response: str = "VGPR", response_since: str | None = "2026-03-01"
) -> dict[str, object]:
    """The approved continuation example, received on ``valid_from`` (11:04 in San Juan) for a period
    starting that day, its evidence re-dated 5 days before."""
    evidence = (date.fromisoformat(valid_from) - timedelta(days=5)).isoformat()
    data = change(
        continuation(),
        set_("received_at", f"{valid_from}T15:04:05Z"),
        set_("continuation.therapy_start_date", therapy_start),
        set_("drug.requested_start_date", valid_from),
        set_("continuation.best_response", best_response),
        set_("documents.0.date", evidence),
        set_("documents.1.date", evidence),
    )
    if response_since is None:
        return change(data, drop("continuation.response_since"))
    return change(data, set_("continuation.response_since", response_since))


def test_initial_six_month_period_from_day_1() -> None:
    # Period 2026-12-01 .. 2027-05-31 = therapy days 1..182. No response can be documented before
    # therapy starts, and the label keeps a patient without a maintained response weekly, so:
    #   step-up:  44 (day 1, 12 mg from a 44 mg vial) + 44 (day 4, 32 mg) + 76 (day 8)      =  164
    #   weekly:   days 15, 22, ..., 176 (the next, 183, is after day 182) -> 24 doses x 76  = 1824
    #   total                                                                              = 1988
    det = strictly_valid(run(initial()))
    auth = det.authorization
    assert auth is not None
    assert (auth.valid_from, auth.valid_through) == (date(2026, 12, 1), date(2027, 5, 31))
    assert auth.max_units == 1988
    assert sum(d.units for d in auth.schedule) == 1988
    first = [(d.date, d.therapy_day, d.phase, d.dose_mg, d.units) for d in auth.schedule[:4]]
    assert first == [
        (date(2026, 12, 1), 1, "step_up", 12, 44),
        (date(2026, 12, 4), 4, "step_up", 32, 44),
        (date(2026, 12, 8), 8, "step_up", 76, 76),
        (date(2026, 12, 15), 15, "weekly", 76, 76),
    ]
    last = auth.schedule[-1]
    assert (last.date, last.therapy_day, last.phase) == (date(2027, 5, 25), 176, "weekly")
    assert [d.phase for d in auth.schedule].count("weekly") == 24
    ql = criterion(det, "QL")
    assert "up to 27 doses. They are starting doses of 12 mg, 32 mg and 76 mg, then 24 doses of 76 mg" in ql.reason
    assert "That is 1,988 billing units (1 unit = 1 mg)" in ql.reason
    assert "Son 1,988 unidades de facturación (1 unidad = 1 mg)" in (ql.reason_es or "")
    assert "step-up 44 + 44 + 76 = 164; weekly 24 x 76 = 1824; total 1988" in ql.evidence
    assert ql.facts is not None and (ql.facts["max_units"], ql.facts["doses"]) == (1988, 27)


def test_initial_184_day_period_holds_a_twenty_fifth_weekly_dose() -> None:
    # 2026-07-01 .. 2026-12-31 = days 1..184: weekly doses on days 15..183 (25 doses).
    #   164 + 25 x 76 = 164 + 1900 = 2064
    data = change(
        initial(),
        set_("drug.requested_start_date", "2026-07-01"),
        set_("received_at", "2026-06-25T15:04:05Z"),
        set_("prior_lines.3.end_date", "2026-06-01"),  # line 4 ended before this start (R49)
    )
    for i in range(3):
        data = change(data, set_(f"documents.{i}.date", "2026-06-20"))
    data = change(data, set_("ecog.assessed_on", "2026-06-20"))
    det = run(data)
    assert det.authorization is not None, [c.reason for c in det.criteria if c.result != "met"]
    assert det.authorization.valid_through == date(2026, 12, 31)
    assert det.authorization.max_units == 164 + 25 * 76 == 2064


def test_step_up_billed_at_dose_when_whole_vial_billing_is_off() -> None:
    # 12 + 32 + 76 + 24 x 76 = 1944, 44 units fewer than whole vials: (44 - 12) + (44 - 32) = 44
    det = run(initial(), settings=DEFAULT_SETTINGS.replace(step_up_whole_vial_billing=False))
    assert det.authorization is not None
    assert det.authorization.max_units == 12 + 32 + 76 + 24 * 76 == 1944


def test_continuation_week_20_crosses_into_every_2_weeks() -> None:
    # Therapy start 2026-01-05; valid_from 2026-05-18 = day 134 (week 20); valid_through 2026-11-17 = day 317.
    # Responder: VGPR since 2026-03-01, held 2 months on 2026-05-01 (day 117), before receipt, so dosing
    # is every 2 weeks from day 169 (week 25). On the recorded grid:
    #   weekly 134, 141, 148, 155, 162 (5) then every 2 weeks 169, 183, ..., 309 (11): 16 doses = 1216.
    # With the schedule one day later than recorded (drift +1), week 24 ends on recorded day 169, so
    #   weekly 134, 141, ..., 169 (6) then every 2 weeks 176 ... 316 (11): 17 doses = 1292, the maximum.
    det = strictly_valid(run(_continuation_at("2026-01-05", "2026-05-18")))
    auth = det.authorization
    assert auth is not None and auth.valid_through == date(2026, 11, 17)
    assert auth.max_units == 17 * 76 == 1292
    assert [d.phase for d in auth.schedule].count("weekly") == 6
    assert auth.schedule[0].date == date(2026, 5, 18)
    assert auth.schedule[-1].date <= date(2026, 11, 17)
    assert "every 2 weeks from therapy day 169, every 4 weeks from day 337" in criterion(det, "QL").evidence


def test_continuation_week_45_crosses_into_every_4_weeks() -> None:
    # Therapy start 2026-01-05; valid_from 2026-11-09 = day 309 (week 45); valid_through 2027-05-08 = day 489.
    # Every 2 weeks from day 169, every 4 weeks 24 weeks later, day 337 (week 49):
    #   every 2 weeks: days 309, 323                        = 2 doses
    #   every 4 weeks: days 337, 365, 393, 421, 449, 477    = 6 doses (505 > 489)
    #   (2 + 6) x 76 = 608; no shift of up to 3 days fits a ninth dose.
    det = strictly_valid(run(_continuation_at("2026-01-05", "2026-11-09")))
    auth = det.authorization
    assert auth is not None and auth.valid_through == date(2027, 5, 8)
    assert [(d.therapy_day, d.phase) for d in auth.schedule] == [
        (309, "every_2_weeks"),
        (323, "every_2_weeks"),
        *[(day, "every_4_weeks") for day in (337, 365, 393, 421, 449, 477)],
    ]
    assert auth.max_units == (2 + 6) * 76 == 608
    assert auth.schedule[2].date == date(2026, 1, 5) + timedelta(days=336)


def test_every_4_weeks_waits_24_weeks_after_every_2_weeks_began() -> None:
    # Therapy start 2026-01-05. PR reached late, on 2026-08-03 (day 211), held 2 months on 2026-10-03
    # (day 272): every 2 weeks from day 272, every 4 weeks only from day 272 + 168 = 440, not week 49.
    # Period from 2026-11-09 (day 309) to 2027-05-08 (day 489):
    #   every 2 weeks from 309: 309, 323, ..., 435 (10 doses); every 4 weeks 449, 477 (2): 12 x 76 = 912
    # A 3-day drift fits no extra dose (e.g. shift +3: 306..432 is 10 doses, then 446, 474: 12).
    det = run(_continuation_at("2026-01-05", "2026-11-09", best_response="PR", response_since="2026-08-03"))
    auth = det.authorization
    assert auth is not None
    phases = [d.phase for d in auth.schedule]
    assert phases.count("every_2_weeks") == 10 and phases.count("every_4_weeks") == 2
    assert auth.max_units == 12 * 76 == 912
    assert "every 2 weeks from therapy day 272, every 4 weeks from day 440" in criterion(det, "QL").evidence


def test_non_responder_stays_weekly() -> None:
    # Same period, best response SD (not PR or better): weekly days 309, 316, ..., 484
    #   (484 - 309) / 7 + 1 = 26 doses x 76 = 1976
    det = run(_continuation_at("2026-01-05", "2026-11-09", best_response="SD"))
    auth = det.authorization
    assert auth is not None
    assert {d.phase for d in auth.schedule} == {"weekly"}
    assert auth.max_units == 26 * 76 == 1976
    assert "dosing weekly throughout" in criterion(det, "QL").evidence
    assert "26 doses of 76 mg, given weekly" in criterion(det, "QL").reason


def test_responder_without_response_date_is_dosed_weekly() -> None:
    # Without response_since the 2 months cannot be shown -> weekly (the larger quantity).
    det = run(_continuation_at("2026-01-05", "2026-11-09", response_since=None))
    assert det.authorization is not None and det.authorization.max_units == 1976
    assert "dosing weekly throughout" in criterion(det, "QL").evidence


def test_response_not_yet_held_two_months_at_receipt_is_dosed_weekly() -> None:
    # Received 2026-11-09. PR since 2026-09-10: held 2 months only on 2026-11-10, after receipt -> weekly.
    det = run(_continuation_at("2026-01-05", "2026-11-09", best_response="PR", response_since="2026-09-10"))
    assert det.authorization is not None and det.authorization.max_units == 1976
    # Exactly 2 months (2026-09-09 + 2 months = 2026-11-09 = the receipt date, day 309) is enough: every
    # 2 weeks from day 309, every 4 weeks from 309 + 168 = 477. Period days 309..489. With the schedule
    # one day later than recorded (drift +1, shifted days 308..488): 308 is still weekly (before 309),
    # then every 2 weeks 315, 329, ..., 469 (12 doses), then every 4 weeks 483: 14 doses = 1064.
    # (On the recorded grid: 309, 323, ..., 463 (12) every 2 weeks + 477 every 4 weeks = 13 = 988.)
    det = run(_continuation_at("2026-01-05", "2026-11-09", best_response="PR", response_since="2026-09-09"))
    assert det.authorization is not None and det.authorization.max_units == 14 * 76 == 1064


def test_continuation_that_has_not_started_is_not_a_continuation() -> None:
    # Therapy start 2026-12-20, after receipt on 2026-11-27: B.i is not met, QL does not claim it is
    # "inside the period" as a continuation would.
    det = run(change(continuation(), set_("continuation.therapy_start_date", "2026-12-20")))
    assert (det.decision, det.pend_reason, det.authorization) == ("pended", "clinical_review", None)
    assert criterion(det, "B.i").result == "not_met"
    assert criterion(det, "B.i").code == "therapy_not_started"
    assert "treatment has not started, and this cannot be a renewal" in criterion(det, "B.i").reason


def test_therapy_starting_after_the_period_has_nothing_to_authorize() -> None:
    det = run(change(continuation(), set_("continuation.therapy_start_date", "2028-01-01")))
    ql = criterion(det, "QL")
    assert ql.result == "not_met"
    assert ql.code == "no_labeled_dose_in_period"
    assert "for treatment that starts on January 1, 2028" in ql.reason
    assert "after the requested period ends on June 14, 2027" in criterion(det, "B.i").reason


def test_requested_units_above_the_maximum_is_not_met_with_the_arithmetic() -> None:
    # 2100 requested, 1988 allowed: 2100 - 1988 = 112 too many.
    det = run(change(initial(), set_("drug.requested_units", 2100)))
    ql = criterion(det, "QL")
    assert ql.result == "not_met"
    assert "asks for 2,100 billing units" in ql.reason and "allows at most 1,988 units, 27 doses" in ql.reason
    assert "pide 2,100 unidades de facturación" in (ql.reason_es or "")
    assert "como máximo 1,988 unidades, 27 dosis" in (ql.reason_es or "")
    assert "requested_units 2100" in ql.evidence and "max_units 1988" in ql.evidence
    assert (det.decision, det.pend_reason, det.authorization) == ("pended", "clinical_review", None)


def test_authorization_carries_the_requested_units_when_within_the_maximum() -> None:
    # 1500 units of the 1988: the schedule lists the doses they cover, in date order: the step-up doses
    # (164), then 76 mg doses while the total stays within 1500: 164 + 17 x 76 = 1456 (18 would be
    # 1532). 20 doses, the last on day 15 + 16 x 7 = 127 (2027-04-06); 1500 - 1456 = 44 units name no
    # dose (R53).
    det = strictly_valid(run(change(initial(), set_("drug.requested_units", 1500))))
    auth = det.authorization
    assert auth is not None and auth.max_units == 1500
    assert sum(d.units for d in auth.schedule) == 164 + 17 * 76 == 1456
    assert len(auth.schedule) == 20
    assert (auth.schedule[-1].date, auth.schedule[-1].therapy_day) == (date(2027, 4, 6), 127)
    ql = criterion(det, "QL")
    assert "asks for 1,500 billing units" in ql.reason and "up to 27 doses (1,988 units)" in ql.reason
    assert "hasta 27 dosis (1,988 unidades)" in (ql.reason_es or "")


def test_one_unit_covers_no_dose() -> None:
    # 1 unit is within the maximum (QL met, approved for 1 unit, as asked); no dose is whole in it, so
    # the schedule lists none. The sentence says "1 billing unit" (singular) in both languages.
    det = strictly_valid(run(change(initial(), set_("drug.requested_units", 1))))
    auth = det.authorization
    assert auth is not None and (auth.max_units, auth.schedule) == (1, [])
    ql = criterion(det, "QL")
    assert ql.reason.startswith("The request asks for 1 billing unit (1 unit = 1 mg) from December 1, 2026")
    assert (ql.reason_es or "").startswith("La solicitud pide 1 unidad de facturación (1 unidad = 1 mg)")


def test_164_units_cover_the_three_step_up_doses() -> None:
    # 44 (12 mg) + 44 (32 mg) + 76 (76 mg, day 8) = 164: exactly the step-up doses.
    det = run(change(initial(), set_("drug.requested_units", 164)))
    auth = det.authorization
    assert auth is not None and auth.max_units == 164
    assert [(d.date, d.therapy_day, d.dose_mg, d.units) for d in auth.schedule] == [
        (date(2026, 12, 1), 1, 12, 44),
        (date(2026, 12, 4), 4, 32, 44),
        (date(2026, 12, 8), 8, 76, 76),
    ]
    # one unit fewer: the 76 mg dose of day 8 is only partly covered, so it is not listed
    fewer = run(change(initial(), set_("drug.requested_units", 163)))
    assert fewer.authorization is not None
    assert [d.dose_mg for d in fewer.authorization.schedule] == [12, 32]


def test_a_reviewers_partial_approval_lists_the_doses_its_units_cover() -> None:
    # The pended example (initial, ECOG 3) approved by a physician for 900 units over 2026-12-01 ..
    # 2027-02-28 (therapy days 1..90; labeled maximum 164 + 11 x 76 = 1000, weekly 15..85). 900 units
    # cover the step-up doses and 9 weekly doses: 164 + 9 x 76 = 848 (10 would be 924), the last on day
    # 15 + 8 x 7 = 71, 2027-02-09; 52 units name no dose.
    data = example("pended_clinical_review_three_lines_ecog3")
    pended = run(data)
    review = json.loads((EXAMPLES / "pa.review" / "valid" / "partially_approved_by_physician.json").read_text())
    review.update(determination_id=pended.determination_id, request_id=pended.request_id, member_id=pended.member_id)
    review["approved"] = {"max_units": 900, "valid_from": "2026-12-01", "valid_through": "2027-02-28"}
    final = strictly_valid(final_determination(parse(data), pended, PAReview.model_validate_json(json.dumps(review))))
    auth = final.authorization
    assert auth is not None and auth.max_units == 900
    assert sum(d.units for d in auth.schedule) == 164 + 9 * 76 == 848
    assert [d.therapy_day for d in auth.schedule] == [1, 4, 8, *range(15, 72, 7)]
    assert auth.schedule[-1].date == date(2027, 2, 9)


@pytest.mark.parametrize(
    ("start", "through"),
    [
        (date(2026, 12, 1), date(2027, 5, 31)),
        (date(2026, 1, 1), date(2026, 6, 30)),
        (date(2026, 8, 31), date(2027, 2, 27)),  # Aug 31 + 6 months = Feb 28 (clamped), minus 1 day
        (date(2027, 8, 31), date(2028, 2, 28)),  # leap year: Feb 29 - 1 day
        (date(9999, 7, 1), date.max),  # the end of the calendar clamps
    ],
)
def test_authorization_period_is_six_months_minus_a_day(start: date, through: date) -> None:
    assert authorization_period(start, 6) == (start, through)


def test_add_months() -> None:
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2026, 11, 30), 2) == date(2027, 1, 30)
    assert add_months(date(9999, 12, 1), 1) is None


def test_labeled_doses_table() -> None:
    # Responder from week 25 (q2w_from = 169): every 4 weeks from 169 + 168 = 337 (week 49).
    responder = labeled_doses(1, 400, 169, True, 0).doses
    days = [d.therapy_day for d in responder]
    assert days[:3] == [1, 4, 8]
    assert days[3:25] == list(range(15, 163, 7))  # weekly, weeks 3-24
    assert days[25:37] == list(range(169, 324, 14))  # every 2 weeks, weeks 25-47
    assert days[37:] == [337, 365, 393]  # every 4 weeks from week 49
    weekly = labeled_doses(1, 400, None, True, 0).doses
    assert [d.therapy_day for d in weekly][3:] == list(range(15, 401, 7))


# --- restart after a dosage delay (label 2.4), inside the quantity plan (R37) ----------------------
# The label's restart table (2023 text as Drugs.com reproduces it): after step-up dose 1, up to 14 days
# restart at 32 mg and 76 mg 4 days later; after step-up dose 2, more than 14 and up to 28 days, or
# after a 76 mg dose, more than 6 and up to 12 weeks, restart at 32 mg and 76 mg one week later;
# beyond those, restart at step-up dose 1 (12 mg day 1, 32 mg day 4, 76 mg day 8). Then the
# patient's schedule from that 76 mg dose. The 12 mg and 32 mg doses are 44-unit vials.


def _rows(auth: object) -> list[tuple[date, int, str, int, int]]:
    schedule = getattr(auth, "schedule")  # noqa: B009 - an Authorization
    return [(d.date, d.therapy_day, d.phase, d.dose_mg, d.units) for d in schedule]


def _check_layout(rows: list[tuple[date, int, str, int, int]], therapy_start: date) -> None:
    """Date order, one dose a day, each therapy day counted from the recorded start, and no 12 mg or
    32 mg dose after a 76 mg one."""
    dates = [r[0] for r in rows]
    assert dates == sorted(dates) and len(set(dates)) == len(dates), rows
    assert all((r[0] - therapy_start).days + 1 == r[1] for r in rows), rows
    first_76 = next((i for i, r in enumerate(rows) if r[3] == 76), len(rows))
    assert all(r[3] == 76 for r in rows[first_76:]), rows


def test_restart_after_6_to_12_weeks_replaces_the_first_doses() -> None:
    # Therapy start 2026-06-15; period 2026-12-15..2027-06-14 = days 184..365; VGPR since 2026-08-01,
    # held 2 months on 2026-10-01 (day 109): every 2 weeks from day 169, every 4 weeks from 337.
    # Last 76 mg dose 2026-10-15 (day 123), 61 days before the period: > 42, <= 84 -> 32 mg, then
    # 76 mg one week later:
    #   restart        day 184 (2026-12-15) 32 mg = 44; day 191 (2026-12-22) 76 mg = 76     =  120
    #   every 2 weeks  205, 219, 233, 247, 261, 275, 289, 303, 317, 331: 10 x 76            =  760
    #   every 4 weeks  345 (>= 337; 345 + 28 = 373 > 365): 1 x 76                          =   76
    #                                                                               total   =  956
    # Moving the phase boundaries up to 3 days changes nothing: 331 stays every 2 weeks (< 334) and
    # 345 every 4 weeks (>= 340). The old sum 988 + 44 = 1032 counted a 76 mg dose on day 184 too.
    det = strictly_valid(run(change(continuation(), set_("continuation.last_dose_date", "2026-10-15"))))
    auth = det.authorization
    assert auth is not None and auth.max_units == 44 + 76 + 10 * 76 + 76 == 956
    rows = _rows(auth)
    _check_layout(rows, date(2026, 6, 15))
    assert rows[:3] == [
        (date(2026, 12, 15), 184, "step_up", 32, 44),
        (date(2026, 12, 22), 191, "step_up", 76, 76),
        (date(2027, 1, 5), 205, "every_2_weeks", 76, 76),
    ]
    assert [r[1] for r in rows if r[2] == "every_2_weeks"] == list(range(205, 332, 14))
    assert rows[-1] == (date(2027, 5, 25), 345, "every_4_weeks", 76, 76)
    assert sum(r[4] for r in rows) == 956
    ql = criterion(det, "QL")
    assert ql.facts is not None
    assert (ql.facts["restart_doses_mg"], ql.facts["restart_units"], ql.facts["days_since_last_dose"]) == ([32], 44, 61)
    assert (ql.facts["doses"], ql.facts["step_up_doses_mg"], ql.facts["treatment_doses"]) == (13, [32, 76], 11)
    assert "restart 44 + 76 = 120; every 2 weeks 10 x 76 = 760; every 4 weeks 1 x 76 = 76; total 956" in ql.evidence
    assert "the doses restart with 32 mg and 76 mg, then 11 doses of 76 mg" in ql.reason
    assert "se reinicia con 32 mg y 76 mg, y luego 11 dosis de 76 mg" in (ql.reason_es or "")


def test_restart_after_more_than_12_weeks_starts_at_step_up_dose_1() -> None:
    # Last 76 mg dose 2026-09-01 (day 79), 105 days before the period (> 84): 12 mg day 184, 32 mg
    # day 187, 76 mg day 191, then every 2 weeks 205..331 (10) and every 4 weeks 345:
    #   44 + 44 + 76 + 11 x 76 = 164 + 836 = 1000
    det = run(change(continuation(), set_("continuation.last_dose_date", "2026-09-01")))
    auth = det.authorization
    assert auth is not None and auth.max_units == 44 + 44 + 76 + 11 * 76 == 1000
    rows = _rows(auth)
    _check_layout(rows, date(2026, 6, 15))
    assert rows[:4] == [
        (date(2026, 12, 15), 184, "step_up", 12, 44),
        (date(2026, 12, 18), 187, "step_up", 32, 44),
        (date(2026, 12, 22), 191, "step_up", 76, 76),
        (date(2027, 1, 5), 205, "every_2_weeks", 76, 76),
    ]
    assert "the 12 mg and 32 mg doses as full 44 mg vials" in criterion(det, "QL").reason


def test_restart_within_6_weeks_keeps_the_layout_without_a_restart() -> None:
    # 76 mg dose 42 days before the period: resume at 76 mg, the layout of a request without the date.
    with_date = run(change(continuation(), set_("continuation.last_dose_date", "2026-11-03")))
    without = run(continuation())
    assert with_date.authorization is not None and without.authorization is not None
    assert with_date.authorization.max_units == without.authorization.max_units == 988
    assert _rows(with_date.authorization) == _rows(without.authorization)
    assert "restart_doses_mg" not in (criterion(with_date, "QL").facts or {})


def test_restart_after_step_up_dose_1_within_14_days_gives_76_mg_four_days_after_32_mg() -> None:
    # Therapy start (12 mg) 2026-11-20, nothing since; period 2026-12-01..2027-05-31 = days 12..193,
    # 11 days after the 12 mg dose (<= 14): 32 mg day 12, 76 mg day 16, weekly 23, 30, ..., 191
    # ((191 - 23) / 7 + 1 = 25 doses; 198 > 193): 44 + 76 + 25 x 76 = 44 + 26 x 76 = 2020.
    plan = quantity_plan(date(2026, 11, 20), date(2026, 12, 1), date(2027, 5, 31), None, True, 3, date(2026, 11, 20))
    assert plan.max_units == 44 + 26 * 76 == 2020
    rows = [(d.date, d.therapy_day, d.phase, d.dose_mg, d.units) for d in plan.schedule]
    _check_layout(rows, date(2026, 11, 20))
    assert rows[:3] == [
        (date(2026, 12, 1), 12, "step_up", 32, 44),
        (date(2026, 12, 5), 16, "step_up", 76, 76),
        (date(2026, 12, 12), 23, "weekly", 76, 76),
    ]
    assert rows[-1][1] == 191 and len(rows) == 27


def test_restart_after_step_up_dose_2_gives_76_mg_a_week_after_32_mg() -> None:
    # 12 mg 2026-11-01 (day 1), 32 mg 2026-11-04 (day 4, the last dose); period 2026-11-27..2027-05-26
    # = days 27..207, 23 days after step-up dose 2 (> 14, <= 28): 32 mg day 27, 76 mg day 34, weekly
    # 41..202 ((202 - 41) / 7 + 1 = 24 doses; 209 > 207): 44 + 76 + 24 x 76 = 1944.
    plan = quantity_plan(date(2026, 11, 1), date(2026, 11, 27), date(2027, 5, 26), None, True, 3, date(2026, 11, 4))
    assert plan.max_units == 44 + 76 + 24 * 76 == 1944
    rows = [(d.date, d.therapy_day, d.phase, d.dose_mg, d.units) for d in plan.schedule]
    _check_layout(rows, date(2026, 11, 1))
    assert rows[:3] == [
        (date(2026, 11, 27), 27, "step_up", 32, 44),
        (date(2026, 12, 4), 34, "step_up", 76, 76),
        (date(2026, 12, 11), 41, "weekly", 76, 76),
    ]
    # 29 days after step-up dose 2 (> 28): restart at step-up dose 1. Period 2026-12-03..2027-06-02 =
    # days 33..214: 12 mg day 33, 32 mg day 36, 76 mg day 40, weekly 47..208 ((208 - 47) / 7 + 1 = 24;
    # 215 > 214): 44 + 44 + 76 + 24 x 76 = 164 + 1824 = 1988.
    later = quantity_plan(date(2026, 11, 1), date(2026, 12, 3), date(2027, 6, 2), None, True, 3, date(2026, 11, 4))
    assert [(d.therapy_day, d.dose_mg) for d in later.doses[:4]] == [(33, 12), (36, 32), (40, 76), (47, 76)]
    assert later.max_units == 44 + 44 + 76 + 24 * 76 == 1988


def test_restart_never_comes_sooner_than_the_labels_gap_after_the_last_dose() -> None:
    # 12 mg on 2026-12-01, the period's first day too (0 days since it): the 32 mg dose comes at the
    # earliest 2 days later (day 3), 76 mg 4 days after it (day 7), then weekly 14, 21, ..., 182
    # (25 doses; period 2026-12-01..2027-05-31 = days 1..182): 44 + 26 x 76 = 2020.
    plan = quantity_plan(date(2026, 12, 1), date(2026, 12, 1), date(2027, 5, 31), None, True, 3, date(2026, 12, 1))
    assert [(d.therapy_day, d.dose_mg) for d in plan.doses[:3]] == [(3, 32), (7, 76), (14, 76)]
    assert plan.max_units == 44 + 26 * 76 == 2020


def test_restart_billed_at_dose_without_whole_vial_billing() -> None:
    # The 6-to-12-weeks restart above with the 32 mg dose billed as 32 units: 32 + 76 + 11 x 76 = 944
    det = run(
        change(continuation(), set_("continuation.last_dose_date", "2026-10-15")),
        settings=DEFAULT_SETTINGS.replace(step_up_whole_vial_billing=False),
    )
    assert det.authorization is not None and det.authorization.max_units == 32 + 12 * 76 == 944


# --- therapy days on the recorded grid (R52) -------------------------------------------------------


def test_continuation_schedule_counts_therapy_days_from_the_recorded_start() -> None:
    # Therapy start 2026-06-15; period days 184..365; every 2 weeks from day 169, every 4 weeks from
    # 337. The fullest layout moves the phase boundaries 2 days later (every 4 weeks from day 339):
    # every 2 weeks 184, 198, ..., 338 (12 doses), every 4 weeks 352 (380 > 365): 13 x 76 = 988.
    # Each dose keeps its own therapy day: 2026-12-15 is day 184 (not 182).
    det = run(continuation())
    auth = det.authorization
    assert auth is not None and auth.max_units == 13 * 76 == 988
    rows = _rows(auth)
    _check_layout(rows, date(2026, 6, 15))
    assert [r[1] for r in rows] == [*range(184, 339, 14), 352]
    assert [r[2] for r in rows] == ["every_2_weeks"] * 12 + ["every_4_weeks"]
    assert rows[0][:2] == (date(2026, 12, 15), 184)


def test_every_approval_of_the_golden_and_adversarial_cases_lists_its_doses_in_order() -> None:
    for det, data in _approvals():
        auth = det.authorization
        assert auth is not None
        c = data.get("continuation")
        # an initial request's therapy (step-up dose 1) starts on the first day of its period
        start = date.fromisoformat(c["therapy_start_date"]) if c else auth.valid_from
        _check_layout(_rows(auth), start)


def test_every_approval_lists_the_doses_its_units_cover_and_no_more() -> None:
    """R53: the schedule is the labeled layout's doses in date order while their units, added up, stay
    within max_units; the next dose of the layout, if any, would pass it."""
    checked = 0
    for case in golden.load():
        outcome = golden.run(case)
        auth = outcome.determination.authorization
        if auth is None:
            continue
        request = parse(case.request_data())
        now = datetime.fromisoformat(case.now) if case.now else request.received_at
        layout = facts_for(request, now, case.policy_settings()).plan.schedule
        covered = sum(d.units for d in auth.schedule)
        assert list(auth.schedule) == list(layout[: len(auth.schedule)]) and covered <= auth.max_units, case.name
        if len(auth.schedule) < len(layout):
            assert covered + layout[len(auth.schedule)].units > auth.max_units, case.name
            checked += 1
    assert checked >= 2  # the golden cases hold approvals for fewer units than the maximum


# --- every QL text's numbers add up (issue: the letter's arithmetic) --------------------------------


def _approvals_and_pends() -> list[tuple[PADetermination, dict[str, Any]]]:
    out = []
    for case in golden.load():
        out.append((golden.run(case).determination, case.request_data()))
    for n in (3, 4):
        for line in (Path(__file__).parent / "adversarial" / f"round{n}_cases.jsonl").open():
            data = json.loads(line)["request"]
            request = PARequest.model_validate_json(json.dumps(data))
            out.append((evaluate(request, request.received_at), data))
    return out


def _approvals() -> list[tuple[PADetermination, dict[str, Any]]]:
    return [(d, data) for d, data in _approvals_and_pends() if d.authorization is not None]


def _units_from_facts(facts: dict[str, Any]) -> int:
    """The units of the doses the facts name: step-up doses (44 units for those billed as a whole vial),
    then 76 mg doses."""
    whole = list(facts["whole_vials_mg"])
    total = 0
    for mg in facts["step_up_doses_mg"]:
        if mg in whole:
            whole.remove(mg)
            total += 44
        else:
            total += mg
    assert whole == [], facts
    return total + 76 * facts["treatment_doses"]


_NUMBER = r"(\d{1,3}(?:,\d{3})+|\d+)"


def _int(text: str) -> int:
    return int(text.replace(",", ""))


def _units_from_text(text: str, lang: str) -> tuple[int, int, int]:
    """(doses, units added up from the doses the sentence lists, units the sentence states)."""
    en = lang == "en"
    doses = _int(re.search((r"allows up to " if en else r"permite hasta ") + _NUMBER, text)[1])  # type: ignore[index]
    lead = r"(?:starting doses of |restart with )" if en else r"(?:dosis iniciales de |reinicia con )"
    listed = re.search(lead + r"(.*?)(?:, then |, y luego |\. )", text)
    step = [int(mg) for mg in re.findall(r"(\d+) mg", listed[1])] if listed else []
    n76 = re.search(_NUMBER + (r" doses? of 76 mg" if en else r" dosis de 76 mg"), text)
    treatment = _int(n76[1]) if n76 else 0
    vials = re.search(r"counts the (.*?) doses? as" if en else r"cuenta las? dosis de (.*?) como", text)
    whole = [int(mg) for mg in re.findall(r"(\d+) mg", vials[1])] if vials else []
    added = sum(44 if mg in whole else mg for mg in step) + 76 * treatment
    stated = re.search((r"That is " if en else r"Son ") + _NUMBER, text)
    assert stated is not None, text
    assert len(step) + treatment == doses, text
    return doses, added, _int(stated[1])


def test_every_quantity_reason_adds_up() -> None:
    seen: set[str] = set()
    for det, _ in _approvals_and_pends():
        ql = criterion(det, "QL")
        if not ql.code or not ql.code.startswith("quantity_"):
            continue
        seen.add(ql.code)
        facts = dict(ql.facts or {})
        # the doses the facts name add up to the maximum, and the count of doses is theirs
        assert _units_from_facts(facts) == facts["max_units"], (det.request_id, facts)
        assert len(facts["step_up_doses_mg"]) + facts["treatment_doses"] == facts["doses"], facts
        if ql.code == "quantity_labeled_maximum":
            for text, lang in ((ql.reason, "en"), (ql.reason_es or "", "es")):
                doses, added, stated = _units_from_text(text, lang)
                assert (doses, added, stated) == (facts["doses"], facts["max_units"], facts["max_units"]), text
        else:  # "... up to 27 doses (1988 units)" / "at most 1988 units, 27 doses"
            numbers = [_int(n) for n in re.findall(_NUMBER, ql.reason)]
            assert facts["max_units"] in numbers and facts["doses"] in numbers, ql.reason
    assert seen == {"quantity_labeled_maximum", "quantity_within_maximum", "quantity_above_maximum"}
