"""QL: the labeled maximum of J1323 units for an authorization period, checked by hand.

Therapy day 1 = step-up dose 1; week n starts on day 7(n-1)+1. Labeled doses (policy Limits B):
days 1 (12 mg -> 44 units), 4 (32 mg -> 44 units), 8 (76); weekly 15..162 (weeks 3-24);
responders every 2 weeks 169, 183, ..., 323 (weeks 25-48) and every 4 weeks from 337 (week 49);
non-responders weekly throughout. Every 76 mg dose is 76 units.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from policy import DEFAULT_SETTINGS
from policy.schedule import add_months, authorization_period, labeled_doses
from tests.policy.factory import change, continuation, criterion, drop, initial, run, set_, strictly_valid


def _continuation_at(
    therapy_start: str, valid_from: str, best_response: str = "VGPR", response_since: str | None = "2026-03-01"
) -> dict[str, object]:
    data = change(
        continuation(),
        set_("continuation.therapy_start_date", therapy_start),
        set_("drug.requested_start_date", valid_from),
        set_("continuation.best_response", best_response),
    )
    if response_since is None:
        return change(data, drop("continuation.response_since"))
    return change(data, set_("continuation.response_since", response_since))


def test_initial_six_month_period_from_day_1() -> None:
    # Period 2026-12-01 .. 2027-05-31 = therapy days 1..182.
    #   step-up:        44 (day 1, 12 mg from a 44 mg vial) + 44 (day 4, 32 mg) + 76 (day 8)  =  164
    #   weekly:         days 15, 22, ..., 162 -> (162 - 15) / 7 + 1 = 22 doses x 76          = 1672
    #   every 2 weeks:  day 169 (week 25); day 183 falls after day 182 -> 1 x 76             =   76
    #   total                                                                                = 1912
    det = strictly_valid(run(initial()))
    auth = det.authorization
    assert auth is not None
    assert (auth.valid_from, auth.valid_through) == (date(2026, 12, 1), date(2027, 5, 31))
    assert 44 + 44 + 76 + 22 * 76 + 1 * 76 == 1912
    assert auth.max_units == 1912
    assert sum(d.units for d in auth.schedule) == 1912
    first = [(d.date, d.therapy_day, d.phase, d.dose_mg, d.units) for d in auth.schedule[:4]]
    assert first == [
        (date(2026, 12, 1), 1, "step_up", 12, 44),
        (date(2026, 12, 4), 4, "step_up", 32, 44),
        (date(2026, 12, 8), 8, "step_up", 76, 76),
        (date(2026, 12, 15), 15, "weekly", 76, 76),
    ]
    last = auth.schedule[-1]
    assert (last.date, last.therapy_day, last.phase) == (date(2027, 5, 18), 169, "every_2_weeks")
    assert [d.phase for d in auth.schedule].count("weekly") == 22
    reason = criterion(det, "QL").reason
    assert (
        "allows 1912 units (step-up 44 + 44 + 76 = 164; weekly 22 x 76 = 1672; every 2 weeks 1 x 76 = 76; "
        "total 1912)" in reason
    )


def test_initial_184_day_period_holds_a_second_every_2_weeks_dose() -> None:
    # 2026-07-01 .. 2026-12-31 = days 1..184: every-2-weeks doses on days 169 and 183.
    #   164 + 22 x 76 + 2 x 76 = 164 + 1672 + 152 = 1988
    det = run(change(initial(), set_("drug.requested_start_date", "2026-07-01")))
    assert det.authorization is not None
    assert det.authorization.valid_through == date(2026, 12, 31)
    assert det.authorization.max_units == 164 + 22 * 76 + 2 * 76 == 1988


def test_step_up_billed_at_dose_when_whole_vial_billing_is_off() -> None:
    # 12 + 32 + 76 + 22 x 76 + 76 = 1868 (44 units fewer than whole vials: 88 - 44)
    det = run(initial(), settings=DEFAULT_SETTINGS.replace(step_up_whole_vial_billing=False))
    assert det.authorization is not None
    assert det.authorization.max_units == 12 + 32 + 76 + 22 * 76 + 76 == 1868


def test_continuation_week_20_crosses_into_every_2_weeks() -> None:
    # Therapy start 2026-01-05; valid_from 2026-05-18 = day 134 (week 20); valid_through 2026-11-17 = day 317.
    # Responder (VGPR since 2026-03-01, > 2 months before valid_from):
    #   weekly:        days 134, 141, 148, 155, 162          = 5 doses
    #   every 2 weeks: days 169, 183, ..., 309 (169 + 14k, k = 0..10; 323 > 317) = 11 doses
    #   (5 + 11) x 76 = 1216
    det = strictly_valid(run(_continuation_at("2026-01-05", "2026-05-18")))
    auth = det.authorization
    assert auth is not None and auth.valid_through == date(2026, 11, 17)
    assert [d.therapy_day for d in auth.schedule] == [134, 141, 148, 155, 162, *range(169, 310, 14)]
    assert auth.max_units == (5 + 11) * 76 == 1216
    assert "therapy day 134 (week 20)" in criterion(det, "QL").reason


def test_continuation_week_45_crosses_into_every_4_weeks() -> None:
    # Therapy start 2026-01-05; valid_from 2026-11-09 = day 309 (week 45); valid_through 2027-05-08 = day 489.
    # Responder:
    #   every 2 weeks: days 309, 323                        = 2 doses
    #   every 4 weeks: days 337, 365, 393, 421, 449, 477    = 6 doses (505 > 489)
    #   (2 + 6) x 76 = 608
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


def test_non_responder_stays_weekly() -> None:
    # Same period, best response SD (not PR or better): weekly days 309, 316, ..., 484
    #   (484 - 309) / 7 + 1 = 26 doses x 76 = 1976
    det = run(_continuation_at("2026-01-05", "2026-11-09", best_response="SD"))
    auth = det.authorization
    assert auth is not None
    assert {d.phase for d in auth.schedule} == {"weekly"}
    assert auth.max_units == 26 * 76 == 1976
    assert "best response of SD (not PR or better) keeps weekly dosing" in criterion(det, "QL").reason


def test_responder_without_response_date_is_dosed_weekly() -> None:
    # Documented choice: without response_since the 2 months cannot be shown -> weekly (the larger quantity).
    det = run(_continuation_at("2026-01-05", "2026-11-09", response_since=None))
    assert det.authorization is not None and det.authorization.max_units == 1976
    assert "without the date it was reached" in criterion(det, "QL").reason


def test_response_not_yet_held_two_months_is_dosed_weekly() -> None:
    # PR since 2026-09-10: 2 months later is 2026-11-10, after valid_from 2026-11-09 -> weekly.
    det = run(_continuation_at("2026-01-05", "2026-11-09", best_response="PR", response_since="2026-09-10"))
    assert det.authorization is not None and det.authorization.max_units == 1976
    # Exactly 2 months (2026-09-09 + 2 months = 2026-11-09 = valid_from) is enough: responder, 608.
    det = run(_continuation_at("2026-01-05", "2026-11-09", best_response="PR", response_since="2026-09-09"))
    assert det.authorization is not None and det.authorization.max_units == 608


def test_continuation_restarting_inside_the_period_repeats_the_step_up() -> None:
    # Therapy start 2026-12-20, 5 days after valid_from 2026-12-15: days 1, 4, 8 fall in the period.
    det = run(change(continuation(), set_("continuation.therapy_start_date", "2026-12-20")))
    auth = det.authorization
    assert auth is not None
    assert [(d.date, d.phase, d.units) for d in auth.schedule[:3]] == [
        (date(2026, 12, 20), "step_up", 44),
        (date(2026, 12, 23), "step_up", 44),
        (date(2026, 12, 27), "step_up", 76),
    ]
    assert "inside the period" in criterion(det, "QL").reason


def test_therapy_starting_after_the_period_has_nothing_to_authorize() -> None:
    det = run(change(continuation(), set_("continuation.therapy_start_date", "2028-01-01")))
    ql = criterion(det, "QL")
    assert ql.result == "not_met"
    assert "no labeled quantity to authorize" in ql.reason


def test_requested_units_above_the_maximum_is_not_met_with_the_arithmetic() -> None:
    # 2000 requested, 1912 allowed: 2000 - 1912 = 88 too many.
    det = run(change(initial(), set_("drug.requested_units", 2000)))
    ql = criterion(det, "QL")
    assert ql.result == "not_met"
    assert "allows 1912 units" in ql.reason and "asks for 2000 units, 88 more than that maximum" in ql.reason
    assert "requested_units 2000" in ql.evidence and "max_units 1912" in ql.evidence
    assert (det.decision, det.pend_reason, det.authorization) == ("pended", "clinical_review", None)


def test_authorization_carries_the_requested_units_when_within_the_maximum() -> None:
    det = run(change(initial(), set_("drug.requested_units", 1500)))
    assert det.authorization is not None
    assert det.authorization.max_units == 1500
    assert sum(d.units for d in det.authorization.schedule) == 1912  # the labeled doses the units cover


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
    responder = labeled_doses(1, 400, True, True).doses
    days = [d.therapy_day for d in responder]
    assert days[:3] == [1, 4, 8]
    assert days[3:25] == list(range(15, 163, 7))  # weekly, weeks 3-24
    assert days[25:37] == list(range(169, 324, 14))  # every 2 weeks, weeks 25-47
    assert days[37:] == [337, 365, 393]  # every 4 weeks from week 49
    weekly = labeled_doses(1, 400, False, True).doses
    assert [d.therapy_day for d in weekly][3:] == list(range(15, 401, 7))
