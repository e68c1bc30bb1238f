"""pa-worker report: the computation against figures worked out by hand, the CSV and HTML output,
colour contrast, and the CLI on JSON Lines files. The Chromium rendering is in
test_report_chromium.py, the topics in tests/integration/test_report_topic.py."""

from __future__ import annotations

import csv
import hashlib
import json
import re
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pytest

from offline.report import (
    BACKGROUNDS,
    GRAPHIC_COLOURS,
    OUTCOME_SERIES,
    SECTIONS,
    TEXT_COLOURS,
    WHITE,
    CriterionRow,
    DeciderRow,
    DeterminationCounts,
    NoticeCounts,
    OutcomeRow,
    Report,
    TimelinessRow,
    compute,
    parse_lines,
    parse_notices,
    policy_effective_date,
    render_html,
    write_csv,
    write_report,
)
from policy import DEFAULT_SETTINGS, POLICY_ID
from tests.worker.report_data import (
    ENGINE,
    MD,
    MEMBER_ID,
    NPI,
    as_jsonl,
    as_models,
    as_notices,
    det,
    notice,
    november,
    november_notices,
)

NOV_1, NOV_30 = date(2026, 11, 1), date(2026, 11, 30)

# Worked out by hand from tests/worker/report_data.py. San Juan is UTC-4; the default as-of time is
# the end of the range, 00:00 AST on 1 December = 2026-12-01T04:00Z. MA lines: MMM_MA, MMM_MULTIHEALTH.
#
#   R1  standard  MA  engine approved (older data: no decided_by/final/adverse) after 2 h; no notice
#   R2  standard  MA  engine pend clinical_review, MD approves after 24 h; member mail at 26 h (clock 72 h)
#   R3  expedited MH  pend (older data), MD denies after 30 h (clock 24 h: late); member mail at 32 h (late)
#   R4  standard  MA  pend missing_information, due 23 Nov 15:00Z: open past due
#   R5  expedited MA  engine pend, RN asks for information (not final), due 26 Nov 12:00Z: open past due;
#                     a prescriber notice of the information request (a pend: not measured)
#   R6  expedited MA  engine approved after 1.5 h; member portal at 2 h (first), member mail later
#   R7  standard  MA  received 23:59 30 Nov AST (in range); decided 01:59 1 Dec AST, after the as-of time:
#                     open, due 4 Dec, not past due; its notice is after the as-of time too
#   R8                received 23:59 31 Oct AST: out of range
#   R9  standard  MA  received 00:00 1 Nov AST (in range); engine approved after 8 h; no notice
#   R10 standard  COMMERCIAL  engine denial after 0.5 h: excluded (and no banner: not an MA line)
#   R11 standard  MA  engine pend, MD partial approval (988 of 1,988 units) after 24 h; member mail at 48 h
#                     (sent twice, one notice_id), prescriber fax at 25 h (not the member's)
#   R12 expedited MA  engine pend, MD denies after 10 h (within 24 h); member phone at 26 h: notified late
#
# In scope: standard R1 R2 R4 R7 R9 R11 (6), expedited R3 R5 R6 R12 (4); excluded R10.
#   standard  approved R1 R2 R9 = 3, partially R11 = 1, denied 0, open R4 R7 = 2 (R4 past due); decided 4
#   expedited approved R6 = 1, partially 0, denied R3 R12 = 2, open R5 = 1 (past due); decided 3
#   all       4, 1, 2, open 3 (2 past due); decided 7


@pytest.fixture(scope="module")
def report() -> Report:
    return compute(as_models(november()), NOV_1, NOV_30, notices=as_notices(november_notices()))


def test_partial_approvals_are_counted_apart_as_adverse(report: Report) -> None:
    assert report.outcomes == [
        OutcomeRow("standard", requests=6, approved=3, partially_approved=1, denied=0, open=2, open_past_due=1),
        OutcomeRow("expedited", requests=4, approved=1, partially_approved=0, denied=2, open=1, open_past_due=1),
        OutcomeRow("all", requests=10, approved=4, partially_approved=1, denied=2, open=3, open_past_due=2),
    ]
    standard, expedited, everything = report.outcomes
    assert (standard.decided, standard.adverse) == (4, 1)  # R11 is adverse
    assert (expedited.decided, expedited.adverse) == (3, 2)
    assert (everything.decided, everything.adverse) == (7, 3)
    page = render_html(report)
    # percentages with numerator and denominator: approved 3/4 = 75.0 %, partially 1/4 = 25.0 %,
    # expedited denied 2/3 = 66.7 %, all adverse 3/7 = 42.9 %, all approved 4/7 = 57.1 %
    for cell in ("3 / 4 (75.0%)", "1 / 4 (25.0%)", "2 / 3 (66.7%)", "3 / 7 (42.9%)", "4 / 7 (57.1%)"):
        assert f'<td class="n">{cell}</td>' in page


def test_timeliness_counts_open_past_due(report: Report) -> None:
    # decided within the clock / (decided + open past due):
    #   standard  R1 R2 R9 R11 on time = 4; open past due R4 -> 4 / 5 = 80.0 %; R7 open, not yet due
    #   expedited R6 R12 on time, R3 late = 2; open past due R5 -> 2 / 4 = 50.0 %
    #   all       6 / 9 = 66.7 %
    # notified (member's first notice, else the decision time):
    #   standard  R1 (2 h, none) R2 (26 h) R9 (8 h, none) R11 (48 h) -> 4 / 5; without a member notice: R1 R9
    #   expedited R3 (32 h, late) R6 (2 h) R12 (26 h, late) -> 1 / 4 = 25.0 %
    #   all       5 / 9 = 55.6 %
    assert report.timeliness == [
        TimelinessRow("standard", decided=4, open_past_due=1, open_not_due=1, decided_within_clock=4,
                      notified_within_clock=4, without_member_notice=2),
        TimelinessRow("expedited", decided=3, open_past_due=1, open_not_due=0, decided_within_clock=2,
                      notified_within_clock=1, without_member_notice=0),
        TimelinessRow("all", decided=7, open_past_due=2, open_not_due=1, decided_within_clock=6,
                      notified_within_clock=5, without_member_notice=2),
    ]  # fmt: skip
    everything = report.timeliness[-1]
    assert everything.decided_share == pytest.approx(6 / 9)
    assert everything.notified_share == pytest.approx(5 / 9)
    page = render_html(report)
    assert '<div class="kpi"><b>6 / 9 (66.7%)</b>decided within the clock</div>' in page
    assert '<div class="kpi"><b>5 / 9 (55.6%)</b>notified within the clock</div>' in page
    assert '<div class="kpi"><b>2</b>open past due</div>' in page
    assert '<div class="kpi"><b>2</b>final decisions with no member notice on record</div>' in page
    assert "100.0%" not in page.split("<main>")[0]  # the old, false headline


def test_time_to_decision_says_how_many_open_requests_it_excludes(report: Report) -> None:
    standard, expedited, everything = report.timing
    # standard: 2, 24, 8, 24 h -> mean 58 / 4 = 14.5, median (8 + 24) / 2 = 16; excludes R4 (past due), R7
    assert (standard.decided, standard.open_excluded, standard.open_excluded_past_due) == (4, 2, 1)
    assert standard.mean_hours == pytest.approx(14.5)
    assert standard.median_hours == pytest.approx(16.0)
    # expedited: 30, 1.5, 10 h -> mean 41.5 / 3, median 10; excludes R5
    assert (expedited.decided, expedited.open_excluded, expedited.open_excluded_past_due) == (3, 1, 1)
    assert expedited.mean_hours == pytest.approx(41.5 / 3)
    assert expedited.median_hours == pytest.approx(10.0)
    # all: 1.5, 2, 8, 10, 24, 24, 30 -> mean 99.5 / 7, median 10
    assert (everything.decided, everything.open_excluded, everything.open_excluded_past_due) == (7, 3, 2)
    assert everything.mean_hours == pytest.approx(99.5 / 7)
    assert everything.median_hours == pytest.approx(10.0)
    # hours to the member's first notice: standard R2 26, R11 48 -> 37; expedited R3 32, R6 2, R12 26 -> mean 20,
    # median 26; all 2, 26, 26, 32, 48 -> mean 134 / 5 = 26.8, median 26
    assert (standard.notified, standard.mean_hours_to_notice, standard.median_hours_to_notice) == (2, 37.0, 37.0)
    assert (expedited.notified, expedited.median_hours_to_notice) == (3, 26.0)
    assert expedited.mean_hours_to_notice == pytest.approx(20.0)
    assert (everything.notified, everything.median_hours_to_notice) == (5, 26.0)
    assert everything.mean_hours_to_notice == pytest.approx(26.8)
    assert "3 (2 past due)" in render_html(report)


def test_an_out_of_scope_line_is_in_the_excluded_row_only(report: Report) -> None:
    assert report.scope == ("MMM_MA", "MMM_MULTIHEALTH")
    assert report.excluded == OutcomeRow(
        "excluded (other lines)", requests=1, approved=0, partially_approved=0, denied=1, open=0, open_past_due=0,
        in_scope=False,
    )  # fmt: skip
    assert report.lines == [
        # MMM_MA: R1 R2 R6 R9 approved, R11 partially, R12 denied, R4 R5 R7 open (R4 R5 past due)
        OutcomeRow("MMM_MA", 9, approved=4, partially_approved=1, denied=1, open=3, open_past_due=2),
        OutcomeRow("MMM_MULTIHEALTH", 1, approved=0, partially_approved=0, denied=1, open=0, open_past_due=0),
        OutcomeRow("COMMERCIAL", 1, approved=0, partially_approved=0, denied=1, open=0, open_past_due=0,
                   in_scope=False),
    ]  # fmt: skip
    # the commercial engine denial is neither in the deciders nor in the criteria, and raises no banner
    assert report.deciders == [
        DeciderRow("engine", approved=3, partially_approved=0, denied=0),  # R1 R6 R9
        DeciderRow("reviewer (MD)", approved=1, partially_approved=1, denied=2),  # R2; R11; R3 R12
    ]
    assert report.engine_denials_ma == 0
    assert report.warnings() == []
    assert 'class="banner"' not in render_html(report)


def test_criteria_pend_reasons_and_reviewers(report: Report) -> None:
    # the answer's criteria: R2 R5 R12 A.ii; R3 A.iii ECOG 3; R4 ECOG missing; R11 QL; R7 has none yet
    assert report.criteria == [
        CriterionRow("A.ii", "too_few_prior_lines", not_met=3, missing=0),
        CriterionRow("A.iii", "ecog_above_threshold", not_met=1, missing=0),
        CriterionRow("A.iii", "ecog_missing", not_met=0, missing=1),
        CriterionRow("QL", "quantity_above_maximum", not_met=1, missing=0),
    ]
    assert report.pend_reasons == [
        # R2 approved, R11 partially, R3 R12 denied, R5 open past due
        OutcomeRow("clinical_review", 5, approved=1, partially_approved=1, denied=2, open=1, open_past_due=1),
        OutcomeRow("missing_information", 2, approved=0, partially_approved=0, denied=0, open=2, open_past_due=2),
    ]
    # engine clinical-review pends: R2 R3 R5 R11 R12; decided by a reviewer: R2 R3 R11 R12
    assert (report.clinical_review_pended, report.clinical_review_reviewed) == (5, 4)
    assert (report.clinical_review_approved, report.clinical_review_partial) == (1, 1)
    assert report.reviewer_approval_rate == pytest.approx(0.25)
    assert "reviewers approved 1 / 4 (25.0%) in full, 1 / 4 (25.0%) in part and denied 2 / 4 (50.0%)" in (
        render_html(report)
    )


def test_records_read_unreadable_and_out_of_range(report: Report) -> None:
    # 18 records: D1 twice; D8 out of range; D7 after the as-of time; 18 - 1 - 1 - 1 = 15 counted, D10 excluded
    assert report.determinations == DeterminationCounts(
        read=18, unreadable=0, duplicates=1, out_of_range=1, after_as_of=1, counted=15, counted_excluded=1
    )
    # 11 notices: N11M twice; N7 after the as-of time; first member notices N2 N3 N6A N11M N12 = 5;
    # other N5 (a pend's, to the prescriber) N6B (later) N10 (excluded line) N11P (prescriber) = 4
    assert report.notices == NoticeCounts(
        source="", read=11, unreadable=0, duplicates=1, after_as_of=1, first_member=5, other=4
    )
    with_errors = compute(as_models(november()), NOV_1, NOV_30, unreadable=2, notices=[], notices_unreadable=1)
    assert (with_errors.determinations.read, with_errors.determinations.unreadable) == (20, 2)
    assert with_errors.notices is not None and (with_errors.notices.read, with_errors.notices.unreadable) == (1, 1)
    assert "2 determination record(s) could not be read" in " ".join(with_errors.warnings())


def test_the_as_of_time_defaults_to_the_end_of_the_range_in_ast(report: Report) -> None:
    assert report.as_of == datetime.fromisoformat("2026-12-01T04:00:00+00:00")
    assert report.as_of_default
    page = render_html(report)
    assert "as of 2026-12-01 00:00 AST (UTC-04:00)" in page
    assert "2026-12-01 00:00 AST (UTC-04:00): the end of the range (the default)" in page


def test_a_later_as_of_time_sees_r7_decided() -> None:
    # as of 5 Dec 00:00Z: D7 (approved after 2 h) and N7 (3 h 1 min) count; R4, R5 still open past due
    #   standard: decided R1 R2 R7 R9 R11 = 5, all on time, + R4 past due -> 5 / 6; notified 5 / 6
    #   all: decided 8, on time 7 (R3 late), + 2 past due -> 7 / 10; notified R3 R12 late -> 6 / 10
    r = compute(
        as_models(november()),
        NOV_1,
        NOV_30,
        notices=as_notices(november_notices()),
        as_of=datetime.fromisoformat("2026-12-05T00:00:00+00:00"),
    )
    assert not r.as_of_default
    standard, _, everything = r.timeliness
    assert (standard.decided_within_clock, standard.denominator, standard.notified_within_clock) == (5, 6, 5)
    assert (everything.decided_within_clock, everything.denominator, everything.notified_within_clock) == (7, 10, 6)
    assert (r.determinations.after_as_of, r.determinations.counted) == (0, 16)
    assert r.notices is not None and (r.notices.after_as_of, r.notices.first_member, r.notices.other) == (0, 6, 4)


def test_an_earlier_as_of_time_counts_later_records_apart() -> None:
    # as of 16 Nov 00:00Z (15 Nov 20:00 AST): R4 R5 R7 R12 not yet received (6 records, with D8: 7 out of
    # range); R11's pend known, its partial approval (16 Nov 12:00Z) after: R11 open, due 18 Nov, not past due.
    # In scope R9 R1 R2 R11 standard, R6 R3 expedited; decided 5, on time 4 (R3 late), none past due -> 4 / 5
    r = compute(as_models(november()), NOV_1, NOV_30, as_of=datetime.fromisoformat("2026-11-16T00:00:00+00:00"))
    assert r.determinations == DeterminationCounts(
        read=18, unreadable=0, duplicates=1, out_of_range=7, after_as_of=1, counted=9, counted_excluded=1
    )
    assert r.received_after_as_of == 4
    assert r.outcomes[-1] == OutcomeRow("all", 6, approved=4, partially_approved=0, denied=1, open=1, open_past_due=0)
    assert (r.timeliness[-1].decided_within_clock, r.timeliness[-1].denominator) == (4, 5)
    assert r.notices is None  # no notices source
    page = render_html(r)
    assert "not measured" in page and "Notified timeliness is not measured" in page


def test_notified_timeliness_from_the_members_first_notice() -> None:
    # one expedited request received 2 Nov 12:00Z (due 3 Nov 12:00Z), denied by an MD at 14:00Z (2 h)
    pend = det(
        "P",
        "RX",
        received="2026-11-02T12:00:00Z",
        decided="2026-11-02T12:00:00Z",
        decision="pended",
        pend_reason="clinical_review",
        priority="expedited",
        decided_by=ENGINE,
        final=False,
    )
    final = det("F", "RX", received="2026-11-02T12:00:00Z", decided="2026-11-02T14:00:00Z", decision="denied",
                priority="expedited", decided_by=MD, final=True, supersedes="P", adverse=True)  # fmt: skip
    dets = as_models([pend, final])
    late = notice("L1", "F", "RX", sent="2026-11-03T13:00:00Z", kind="denial")  # 25 h: late
    prescriber = notice("FX", "F", "RX", sent="2026-11-02T15:00:00Z", kind="denial", recipient="prescriber")
    of_pend = notice("PN", "P", "RX", sent="2026-11-02T12:30:00Z", kind="information_request")

    def notified(*items: dict[str, object]) -> tuple[int, int, int]:
        t = compute(dets, NOV_1, NOV_30, notices=as_notices(list(items))).timeliness[-1]
        return t.decided_within_clock, t.notified_within_clock, t.without_member_notice

    # a member notice 25 h after receipt: decided on time (1), notified late (0)
    assert notified(late) == (1, 0, 0)
    # the prescriber's notice and the pend's do not count for the member: measured at the decision
    assert notified(prescriber, of_pend) == (1, 1, 1)
    # the member's first notice counts: a phone call at 3 h, then the late letter
    phone = notice("C1", "F", "RX", sent="2026-11-02T15:00:00Z", kind="denial", channel="phone")
    assert notified(late, phone) == (1, 1, 0)
    # a notice dated before the decision counts at the decision (2 h, on time)
    early = notice("E1", "F", "RX", sent="2026-11-02T13:00:00Z", kind="denial")
    r = compute(dets, NOV_1, NOV_30, notices=as_notices([early]))
    assert r.requests[0].notified_at == datetime.fromisoformat("2026-11-02T14:00:00+00:00")


def test_duplicate_notices_count_once() -> None:
    # standard, received 2 Nov 12:00Z (due 5 Nov 12:00Z), engine approval at 13:00Z
    item = det("A", "RY", received="2026-11-02T12:00:00Z", decided="2026-11-02T13:00:00Z", decided_by=ENGINE,
               final=True, adverse=False)  # fmt: skip
    letter = notice("M1", "A", "RY", sent="2026-11-04T12:00:00Z")  # 48 h
    # the same notice_id three times, the third with another time (the first read counts)
    again = dict(letter, sent_at="2026-11-06T12:00:00Z")
    r = compute(as_models([item]), NOV_1, NOV_30, notices=as_notices([letter, letter, again]))
    assert r.notices == NoticeCounts(source="", read=3, unreadable=0, duplicates=2, after_as_of=0, first_member=1,
                                     other=0)  # fmt: skip
    assert r.requests[0].member_notice_at == datetime.fromisoformat("2026-11-04T12:00:00+00:00")
    assert r.timeliness[-1].notified_within_clock == 1
    assert r.timing[-1].mean_hours_to_notice == pytest.approx(48.0)


def test_engine_only_denial_on_an_ma_line_raises_the_banner() -> None:
    engine_denial = det("X", "RZ", received="2026-11-02T12:00:00Z", decided="2026-11-02T12:01:00Z",
                        decision="denied", decided_by=ENGINE, final=True, adverse=True)  # fmt: skip
    older = det("Y", "RW", received="2026-11-03T12:00:00Z", decided="2026-11-03T12:01:00Z", decision="denied")
    r = compute(as_models([engine_denial, older]), NOV_1, NOV_30)
    assert r.engine_denials_ma == 2  # the older one has no decided_by: the engine's
    page = render_html(r)
    assert (
        '<div class="banner" role="alert">Warning: 2 request(s) on a Medicare Advantage line were denied by the '
        in (page)
    )
    # on a commercial line, where the plan may allow it: no banner
    commercial = det("Z", "RV", received="2026-11-02T12:00:00Z", decided="2026-11-02T12:01:00Z",
                     decision="denied", decided_by=ENGINE, final=True, lob="COMMERCIAL")  # fmt: skip
    assert compute(as_models([commercial]), NOV_1, NOV_30).engine_denials_ma == 0


def test_range_is_inclusive_in_the_plan_time_zone() -> None:
    dets = as_models(november())
    only_first = compute(dets, NOV_1, NOV_1)
    assert only_first.totals.requests == 1  # R9 at 00:00 local; R8 at 23:59 on 31 Oct is not
    assert compute(dets, date(2026, 10, 31), date(2026, 10, 31)).totals.requests == 1  # R8
    assert compute(dets, date(2026, 12, 1), date(2026, 12, 31)).totals.requests == 0  # R7 is 30 Nov locally
    with pytest.raises(ValueError, match="before it starts"):
        compute(dets, NOV_30, NOV_1)


def test_two_final_determinations_count_once_and_are_flagged() -> None:
    pend = det(
        "P",
        "RX",
        received="2026-11-02T12:00:00Z",
        decided="2026-11-02T12:00:00Z",
        decision="pended",
        pend_reason="clinical_review",
        decided_by=ENGINE,
        final=False,
    )
    first = det(
        "F1",
        "RX",
        received="2026-11-02T12:00:00Z",
        decided="2026-11-03T12:00:00Z",
        decision="denied",
        decided_by=MD,
        final=True,
        supersedes="P",
    )
    # a later final that supersedes the denial (e.g. reopened): it is the answer, 48 h after receipt
    second = det("F2", "RX", received="2026-11-02T12:00:00Z", decided="2026-11-04T12:00:00Z", decided_by=MD,
                 final=True, supersedes="F1")  # fmt: skip
    r = compute(as_models([second, pend, first]), NOV_1, NOV_30)
    assert r.totals == OutcomeRow("all", 1, approved=1, partially_approved=0, denied=0, open=0, open_past_due=0)
    assert r.timing[-1].mean_hours == pytest.approx(48.0)
    assert r.multiple_finals == 1


def test_empty_input_and_empty_range_warn_and_still_draw_zero_bars() -> None:
    empty = compute([], NOV_1, NOV_30)
    assert empty.empty and empty.determinations.read == 0
    assert empty.warnings()[0] == "No determination was read: the input is empty. This report has no figures."
    assert empty.totals == OutcomeRow("all", 0, 0, 0, 0, 0, 0)
    page = render_html(empty)
    assert "0 / 0 (n/a)" in page
    assert "no data" not in page
    # every chart with categories draws a bar for every value, zeros too (2 px wide)
    assert page.count('<rect class="bar zero"') == page.count('<rect class="bar')
    assert page.count('<rect class="bar zero"') >= 3 * 5  # the outcome chart: 3 priorities x 5 states
    no_range = compute(as_models(november()), date(2026, 12, 2), date(2026, 12, 31))
    assert no_range.empty and no_range.determinations.read == 18
    assert no_range.warnings()[0].startswith("No request in scope was received from 2026-12-02 to 2026-12-31")
    # an as-of time before every receipt: R1 ... R12 (11 requests in the range, R8 not) not received yet
    before = compute(as_models(november()), NOV_1, NOV_30, as_of=datetime.fromisoformat("2026-10-01T00:00:00Z"))
    assert before.empty and before.received_after_as_of == 11
    assert "(11 received in the range after the as-of time)" in before.warnings()[0]
    # only an excluded line in the range: nothing in scope, empty too
    only_excluded = compute(as_models([november()[13]]), NOV_1, NOV_30)
    assert only_excluded.excluded.requests == 1 and only_excluded.empty


def test_zero_values_are_drawn_with_their_labels(report: Report) -> None:
    page = render_html(report)
    chart = page.split('id="c-requests-in-scope-by-priority-and-state"')[1].split("</svg>")[0]
    # 3 rows x 5 states, zeros included: standard denied 0, expedited partially 0, expedited open not due 0
    assert chart.count('<rect class="bar') == 15
    assert chart.count('<rect class="bar zero"') == 3
    assert ">denied: 0 (0.0% of 4 decided)</text>" in chart  # standard
    assert ">partially approved: 0 (0.0% of 3 decided)</text>" in chart  # expedited
    assert ">open, not yet due: 0</text>" in chart  # expedited


def test_outcome_is_not_told_by_hue_alone(report: Report) -> None:
    fills = [fill for _, _, fill in OUTCOME_SERIES]
    assert len(set(fills)) == len(fills)  # each state its own pattern
    page = render_html(report)
    names = tuple(f">{name}: " for name, _, _ in OUTCOME_SERIES)
    chart = page.split('id="c-requests-in-scope-by-priority-and-state"')[1].split("</svg>")[0]
    labels = re.findall(r'<text [^>]*class="value">[^<]*</text>', chart)
    assert len(labels) == 15 and all(any(n in lab for n in names) for lab in labels)
    # every bar is written with its series' name beside it, in every chart
    for svg in re.findall(r"<svg .*?</svg>", page):
        assert svg.count('<rect class="bar') == svg.count('class="value"'), svg[:200]


# --- WCAG 2.1 AA contrast, computed here from the colours the page uses -------------------------


def _luminance(hex_colour: str) -> float:
    """WCAG 2.1 relative luminance."""

    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def _contrast(a: str, b: str) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_contrast_helper_matches_known_ratios() -> None:
    assert _contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert _contrast("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)  # the lightest AA grey on white
    assert _contrast("#f9a825", "#ffffff") < 3  # the old amber failed


def test_colours_meet_wcag_aa(report: Report) -> None:
    engine_denial = det("X", "RZ", received="2026-11-02T12:00:00Z", decided="2026-11-02T12:01:00Z", decision="denied")
    page = "".join(
        render_html(r) for r in (report, compute([], NOV_1, NOV_30), compute(as_models([engine_denial]), NOV_1, NOV_30))
    )  # the full report, the empty one, one with a banner
    assert not re.search(r"#[0-9a-fA-F]{3}\b", page), "a short colour"
    assert not re.search(r"""(?:fill|stroke|color|background)\s*[:=]\s*"?(?!#|url|none)[a-z]""", page, re.I)
    css = page.split("<style>")[1].split("</style>")[0]
    text = set(re.findall(r"(?<![-\w])color:(#[0-9a-f]{6})", css)) | set(re.findall(r"text\{fill:(#[0-9a-f]{6})", css))
    backgrounds = set(re.findall(r"background:(#[0-9a-f]{6})", css))
    borders = set(re.findall(r"border(?:-[a-z]+)?:[^;}]*?(#[0-9a-f]{6})", css))
    bars = set(re.findall(r'stroke="(#[0-9a-f]{6})"', page))
    used = set(re.findall(r"#[0-9a-f]{6}\b", page))
    assert text <= set(TEXT_COLOURS) and backgrounds <= set(BACKGROUNDS)
    assert used <= set(TEXT_COLOURS) | set(BACKGROUNDS) | set(GRAPHIC_COLOURS), used
    assert text and backgrounds and borders and bars
    for fg in TEXT_COLOURS:  # text: 4.5:1 on every background
        for bg in BACKGROUNDS:
            assert _contrast(fg, bg) >= 4.5, (fg, bg, _contrast(fg, bg))
    for g in borders | bars | set(GRAPHIC_COLOURS):  # non-text: 3:1 on every background
        for bg in BACKGROUNDS:
            assert _contrast(g, bg) >= 3.0, (g, bg, _contrast(g, bg))
    # the bars are drawn on white with white around them: their pattern's colour against white
    for g in bars:
        assert _contrast(g, WHITE) >= 3.0


# --- items, statements, no patient data ------------------------------------------------------


def test_items_requiring_pa_come_from_the_settings(report: Report) -> None:
    page = render_html(report)
    effective = policy_effective_date(DEFAULT_SETTINGS)
    assert effective is not None
    assert (
        f"<td>{DEFAULT_SETTINGS.hcpcs}</td><td>Injection, elranatamab-bcmm, 1 mg</td><td>{POLICY_ID}</td>"
        f"<td>{effective} (UM/CMPC approval of the revision in force)</td>"
        in page.replace('<th scope="row">', "<td>").replace("</th>", "</td>")
    )
    other = DEFAULT_SETTINGS.replace(version="2024-06-28.1")
    assert policy_effective_date(other) == date(2024, 6, 28)
    assert policy_effective_date(DEFAULT_SETTINGS.replace(version="local-test")) is None
    r = compute(as_models(november()), NOV_1, NOV_30, settings=other)
    assert "2024-06-28 (UM/CMPC approval" in render_html(r)


def test_statements_for_measures_not_available_or_not_applicable(report: Report) -> None:
    page = render_html(report)
    assert "approved after appeal</th><td>not available in this system" in page
    assert "extended timeframe</th><td>not applicable to Part B drug requests" in page


def test_html_is_self_contained_and_has_no_patient_data(report: Report) -> None:
    page = render_html(report)
    for sid, title in SECTIONS:
        assert f'<section id="{sid}"><h2>{title}</h2>' in page
    assert "<script" not in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page)
    assert "@import" not in page and "url(" not in page.split("</style>")[0]
    for secret in (MEMBER_ID, NPI, "REV-1", "REV-2", "AUTH-", "D2P", "D11F", "N11M"):
        assert secret not in page
    assert not re.search(r"\bR\d{1,2}\b", page)  # request ids R1..R12


def test_html_escapes_line_of_business() -> None:
    item = det("DX", "RX", received="2026-11-02T12:00:00Z", decided="2026-11-02T13:00:00Z", lob="<b>&LOB")
    page = render_html(compute(as_models([item]), NOV_1, NOV_30, scope={"<b>&LOB"}))
    assert "<b>&LOB" not in page and "&lt;b&gt;&amp;LOB" in page


def test_parse_lines_keeps_errors_without_content() -> None:
    good = as_jsonl(november()[:1]).encode()
    dets, errors = parse_lines([good.strip(), b"", b'{"member_id": "MBR-SECRET-77"}', b"not json"])
    assert len(dets) == 1
    assert [e.line for e in errors] == [3, 4]
    assert all(MEMBER_ID not in e.message for e in errors)
    notices, errors = parse_notices([as_jsonl(november_notices()[:1]).encode().strip(), b'{"member_id": "X"}'])
    assert len(notices) == 1 and [e.line for e in errors] == [2]


# --- CSV: every figure recomputed from requests.csv ------------------------------------------


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="") as fh:
        return list(csv.reader(fh))


def test_csv_files(report: Report, tmp_path: Path) -> None:
    paths = write_csv(report, tmp_path)
    assert sorted(p.name for p in paths) == [
        "criteria_not_met_or_missing.csv",
        "decisions_by_decider.csv",
        "items_requiring_prior_authorization.csv",
        "lines_of_business.csv",
        "meta.csv",
        "outcomes.csv",
        "pend_reasons.csv",
        "requests.csv",
        "time_to_decision.csv",
        "timeliness.csv",
    ]
    assert _rows(tmp_path / "outcomes.csv")[1:] == [
        ["standard", "6", "4", "3", "75.0", "1", "25.0", "0", "0.0", "1", "25.0", "2", "1"],
        ["expedited", "4", "3", "1", "33.3", "0", "0.0", "2", "66.7", "2", "66.7", "1", "1"],
        ["all", "10", "7", "4", "57.1", "1", "14.3", "2", "28.6", "3", "42.9", "3", "2"],
        ["excluded (other lines)", "1", "1", "0", "0.0", "0", "0.0", "1", "100.0", "1", "100.0", "0", "0"],
    ]
    assert _rows(tmp_path / "timeliness.csv")[1:] == [
        ["standard", "4", "1", "5", "4", "80.0", "4", "80.0", "2", "1"],
        ["expedited", "3", "1", "4", "2", "50.0", "1", "25.0", "0", "0"],
        ["all", "7", "2", "9", "6", "66.7", "5", "55.6", "2", "1"],
    ]
    assert _rows(tmp_path / "time_to_decision.csv")[1:] == [
        ["standard", "4", "14.5", "16.0", "2", "1", "2", "37.0", "37.0"],
        ["expedited", "3", "13.8", "10.0", "1", "1", "3", "20.0", "26.0"],
        ["all", "7", "14.2", "10.0", "3", "2", "5", "26.8", "26.0"],
    ]
    meta = dict(_rows(tmp_path / "meta.csv")[1:])
    assert meta["as_of"] == "2026-12-01T00:00:00-04:00"
    assert meta["as_of_basis"] == "end of the range (default)"
    assert meta["scope_lines"] == "MMM_MA MMM_MULTIHEALTH" and meta["excluded_lines_seen"] == "COMMERCIAL"
    assert (meta["determination_records_read"], meta["determination_records_out_of_range"]) == ("18", "1")
    assert (meta["notice_records_read"], meta["notice_records_duplicate"]) == ("11", "1")
    assert meta["approved_after_appeal"].startswith("not available in this system")
    assert meta["extended_timeframe"].startswith("not applicable to Part B drug requests")
    assert meta["request_hash"].startswith("request_hash = the first 16 hex characters of sha256")
    for f in tmp_path.iterdir():
        text = f.read_text()
        assert MEMBER_ID not in text and NPI not in text and "REV-1" not in text
        assert not re.search(r"\bR\d{1,2}\b", text)


def test_every_figure_recomputes_from_requests_csv(report: Report, tmp_path: Path) -> None:
    write_csv(report, tmp_path)
    header, *rows = _rows(tmp_path / "requests.csv")
    reqs = [dict(zip(header, r, strict=True)) for r in rows]
    # the hashed ids, computed here: sha256 of the request id, first 16 hex characters
    hashes = {r["request_hash"] for r in reqs}
    expected = {f"R{i}" for i in (1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12)}
    assert hashes == {hashlib.sha256(rid.encode()).hexdigest()[:16] for rid in expected}
    partial = hashlib.sha256(b"R11").hexdigest()[:16]
    assert next(r for r in reqs if r["request_hash"] == partial)["status"] == "partially_approved"
    # timeliness from the per-request rows
    for priority, row in zip(("standard", "expedited", None), report.timeliness, strict=True):
        mine = [r for r in reqs if r["scope"] == "in scope" and priority in (None, r["priority"])]
        decided = [r for r in mine if r["status"] != "open"]
        past_due = [r for r in mine if r["open_past_due"] == "yes"]
        assert len(decided) == row.decided and len(past_due) == row.open_past_due
        assert sum(r["decided_within_clock"] == "yes" for r in decided) == row.decided_within_clock
        assert sum(r["notified_within_clock"] == "yes" for r in decided) == row.notified_within_clock
        assert sum(r["member_notice_at"] == "" for r in decided) == row.without_member_notice
        # and within the clock means at or before decision_due_by, from the timestamps themselves
        assert (
            sum(
                datetime.fromisoformat(r["decided_at"]) <= datetime.fromisoformat(r["decision_due_by"]) for r in decided
            )
            == row.decided_within_clock
        )
    statuses = [r["status"] for r in reqs if r["scope"] == "in scope"]
    assert [statuses.count(s) for s in ("approved", "partially_approved", "denied", "open")] == [4, 1, 2, 3]


# --- the CLI ----------------------------------------------------------------------------------


def _cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "worker.cli", "report", *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=60,
        check=False,
    )


DATES = ("--from", "2026-11-01", "--to", "2026-11-30")


def test_cli_with_determinations_and_notices_files(tmp_path: Path) -> None:
    src, notices = tmp_path / "dets.jsonl", tmp_path / "notices.jsonl"
    src.write_text(as_jsonl(november()))
    notices.write_text(as_jsonl(november_notices()))
    out = tmp_path / "out"
    res = _cli("--input", str(src), "--notices", str(notices), *DATES, "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert "10 requests in scope, 1 excluded; 18 determination records read" in res.stdout
    page = (out / "report.html").read_text()
    assert "5 / 9 (55.6%)" in page
    meta = dict(_rows(out / "meta.csv")[1:])
    assert meta["determinations_source"] == "file dets.jsonl" and meta["notices_source"] == "file notices.jsonl"
    assert _rows(out / "lines_of_business.csv")[1:] == [
        ["MMM_MA", "in scope", "9", "4", "1", "1", "3", "2"],
        ["MMM_MULTIHEALTH", "in scope", "1", "0", "0", "1", "0", "0"],
        ["COMMERCIAL", "excluded", "1", "0", "0", "1", "0", "0"],
        ["all in scope", "in scope", "10", "4", "1", "2", "3", "2"],
        ["all excluded", "excluded", "1", "0", "0", "1", "0", "0"],
    ]
    for f in out.iterdir():
        text = f.read_text()
        assert MEMBER_ID not in text and NPI not in text


def test_cli_scope_and_as_of(tmp_path: Path) -> None:
    src = tmp_path / "dets.jsonl"
    src.write_text(as_jsonl(november()))
    out = tmp_path / "out"
    # scope MMM_MA and COMMERCIAL: MMM_MA 9 + COMMERCIAL 1 in scope, MMM_MULTIHEALTH (R3) excluded
    res = _cli("--input", str(src), *DATES, "--out", str(out), "--scope", "MMM_MA,COMMERCIAL",
               "--as-of", "2026-12-05T00:00:00Z")  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "10 requests in scope, 1 excluded" in res.stdout
    meta = dict(_rows(out / "meta.csv")[1:])
    assert (meta["as_of"], meta["as_of_basis"]) == ("2026-12-04T20:00:00-04:00", "given (--as-of)")
    assert meta["notices_source"] == "none given"


def test_cli_reports_unreadable_records_and_exits_1(tmp_path: Path) -> None:
    src = tmp_path / "dets.jsonl"
    src.write_text(as_jsonl(november()[:3]) + json.dumps({"member_id": MEMBER_ID}) + "\n")
    notices = tmp_path / "notices.jsonl"
    notices.write_text("not json\n")
    out = tmp_path / "out"
    res = _cli("--input", str(src), "--notices", str(notices), *DATES, "--out", str(out))
    assert res.returncode == 1
    assert "determination record 4 not read" in res.stderr and MEMBER_ID not in res.stderr
    assert "notice record 1 not read" in res.stderr
    page = (out / "report.html").read_text()
    assert "1 determination record(s) could not be read" in page
    assert "1 notice record(s) could not be read" in page


def test_cli_empty_input_or_range_warns_and_exits_3(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    res = _cli("--input", str(empty), *DATES, "--out", str(tmp_path / "a"))
    assert res.returncode == 3
    assert "warning: No determination was read: the input is empty" in res.stderr
    assert "the input is empty" in (tmp_path / "a" / "report.html").read_text()
    src = tmp_path / "dets.jsonl"
    src.write_text(as_jsonl(november()))
    res = _cli("--input", str(src), "--from", "2026-12-02", "--to", "2026-12-31", "--out", str(tmp_path / "b"))
    assert res.returncode == 3
    assert "warning: No request in scope was received from 2026-12-02 to 2026-12-31" in res.stderr


def test_cli_stdin_and_argument_errors(tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = _cli("--input", "-", *DATES, "--out", str(out), stdin=as_jsonl(november()))
    assert res.returncode == 0, res.stderr
    assert (out / "requests.csv").is_file()
    notices = tmp_path / "n.jsonl"
    notices.write_text(as_jsonl(november_notices()))
    res = _cli("--input", "-", "--notices", "-", *DATES, "--out", str(out), stdin="")
    assert res.returncode == 2 and "cannot both be stdin" in res.stderr
    assert _cli("--input", "-", "--from", "2026-11-30", "--to", "2026-11-01").returncode == 2
    assert _cli("--input", str(tmp_path / "nope.jsonl"), *DATES).returncode == 2
    res = _cli("--input", "-", "--notices", str(tmp_path / "nope.jsonl"), *DATES, stdin="")
    assert res.returncode == 2 and "no such notices file" in res.stderr
    res = _cli("--input", "-", "--from", "1 Nov", "--to", "2026-11-30")
    assert res.returncode == 2 and "not a date" in res.stderr
    assert _cli(*DATES).returncode == 2  # no source
    assert _cli("--input", "-", "--notices", str(notices), "--notices-topic", "t", *DATES).returncode == 2


def test_write_report_writes_the_page_and_the_csvs(report: Report, tmp_path: Path) -> None:
    page, csvs = write_report(report, tmp_path / "r")
    assert page.name == "report.html" and len(csvs) == 10
