"""pa-worker report: the computation against values worked out by hand, the CSV and HTML output,
and the CLI on a JSON Lines file. The Chromium rendering is in test_report_chromium.py."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pytest

from tests.worker.report_data import ENGINE, MD, MEMBER_ID, NPI, as_jsonl, as_models, det, november
from worker.report import (
    SECTIONS,
    CountRow,
    CriterionRow,
    DeciderRow,
    Report,
    compute,
    parse_lines,
    render_html,
    write_csv,
)

NOV_1, NOV_30 = date(2026, 11, 1), date(2026, 11, 30)
AS_OF = datetime.fromisoformat("2026-12-01T00:00:00+00:00")

# Worked out by hand from tests/worker/report_data.py (San Juan is UTC-4):
#   R1 standard MMM_MA        engine approved (older data: no decided_by/final) after 2 h
#   R2 standard MMM_MA        engine pend clinical_review, MD approves after 24 h (clock 72 h)
#   R3 expedited MULTIHEALTH  engine pend clinical_review (older data), MD denies after 30 h (clock 24 h: late)
#   R4 standard MMM_MA        engine pend missing_information, due 23 Nov: open, past due on 1 Dec
#   R5 expedited MMM_MA       engine pend clinical_review, RN asks for information (not final), due 26 Nov: open
#   R6 expedited MMM_MA       engine approved after 1.5 h
#   R7 standard MMM_MA        received 23:59 30 Nov local (03:59Z 1 Dec): in; approved after 2 h
#   R8                        received 23:59 31 Oct local: out
#   R9 standard MMM_MA        received 00:00 1 Nov local: in; approved after 8 h


@pytest.fixture(scope="module")
def report() -> Report:
    return compute(as_models(november()), NOV_1, NOV_30, as_of=AS_OF)


def test_requests_by_priority_and_line_of_business(report: Report) -> None:
    assert report.requests == 8
    assert report.determinations == 12  # 13 lines, D1 twice
    assert report.by_priority == [
        CountRow("standard", requests=5, approved=4, denied=0, open=1),  # R1 R2 R7 R9 approved, R4 open
        CountRow("expedited", requests=3, approved=1, denied=1, open=1),  # R6, R3, R5
    ]
    assert report.by_line_of_business == [
        CountRow("MMM_MA", requests=7, approved=5, denied=0, open=2),
        CountRow("MMM_MULTIHEALTH", requests=1, approved=0, denied=1, open=0),
    ]
    assert report.totals == CountRow("all", 8, 5, 1, 2)


def test_time_to_final_decision_and_the_clock(report: Report) -> None:
    standard, expedited, everything = report.timing
    assert (standard.priority, standard.decided, standard.within_clock) == ("standard", 4, 4)
    assert standard.mean_hours == pytest.approx((2 + 24 + 2 + 8) / 4)  # 9.0
    assert standard.median_hours == pytest.approx((2 + 8) / 2)  # 2, 2, 8, 24
    assert (expedited.decided, expedited.within_clock) == (2, 1)  # R3 decided after 30 h of 24
    assert expedited.mean_hours == pytest.approx((30 + 1.5) / 2)
    assert expedited.median_hours == pytest.approx(15.75)
    assert expedited.share_within_clock == pytest.approx(0.5)
    assert (everything.priority, everything.decided, everything.within_clock) == ("all", 6, 5)
    assert everything.mean_hours == pytest.approx(67.5 / 6)
    assert everything.median_hours == pytest.approx(5.0)  # 1.5, 2, 2, 8, 24, 30


def test_criteria_pend_reasons_and_deciders(report: Report) -> None:
    # per request, from its answer: R2 (final, engine's criteria kept), R5 (reviewer's pend), R3, R4
    assert report.criteria == [
        CriterionRow("A.ii", "too_few_prior_lines", not_met=2, missing=0),
        CriterionRow("A.iii", "ecog_above_threshold", not_met=1, missing=0),
        CriterionRow("A.iii", "ecog_missing", not_met=0, missing=1),
    ]
    assert report.pend_reasons == [
        CountRow("clinical_review", requests=3, approved=1, denied=1, open=1),  # R2, R3, R5
        CountRow("missing_information", requests=2, approved=0, denied=0, open=2),  # R4, R5 (the RN's pend)
    ]
    assert report.deciders == [
        DeciderRow("engine", approved=4, denied=0),  # R1 R6 R7 R9
        DeciderRow("reviewer (MD)", approved=1, denied=1),  # R2, R3
    ]
    assert (report.clinical_review_pended, report.clinical_review_reviewed, report.clinical_review_approved) == (
        3,
        2,
        1,
    )
    assert report.reviewer_approval_rate == pytest.approx(0.5)
    assert report.open_past_due == 2  # R4 due 23 Nov, R5 due 26 Nov
    assert report.multiple_finals == 0


def test_range_is_inclusive_in_the_plan_time_zone() -> None:
    dets = as_models(november())
    only_first = compute(dets, NOV_1, NOV_1)
    assert only_first.requests == 1  # R9 at 00:00 local; R8 at 23:59 on 31 Oct is not
    assert compute(dets, date(2026, 10, 31), date(2026, 10, 31)).requests == 1  # R8
    assert compute(dets, date(2026, 12, 1), date(2026, 12, 31)).requests == 0  # R7 is 30 Nov locally
    assert only_first.open_past_due is None  # no as_of, not computed
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
    second = det(
        "F2",
        "RX",
        received="2026-11-02T12:00:00Z",
        decided="2026-11-04T12:00:00Z",
        decided_by=MD,
        final=True,
        supersedes="F1",
    )
    r = compute(as_models([second, pend, first]), NOV_1, NOV_30)
    assert r.totals == CountRow("all", 1, 1, 0, 0)
    assert r.timing[0].mean_hours == pytest.approx(48.0)
    assert r.multiple_finals == 1


def test_empty_range_renders_with_no_data() -> None:
    r = compute([], NOV_1, NOV_30)
    assert r.totals == CountRow("all", 0, 0, 0, 0)
    assert r.reviewer_approval_rate is None
    page = render_html(r)
    assert page.count("no data in this range") == 7  # every chart
    assert '<rect class="bar"' not in page


def test_parse_lines_keeps_errors_without_content() -> None:
    good = as_jsonl(november()[:1]).encode()
    dets, errors = parse_lines([good.strip(), b"", b'{"member_id": "MBR-SECRET-77"}', b"not json"])
    assert len(dets) == 1
    assert [e.line for e in errors] == [3, 4]
    assert all(MEMBER_ID not in e.message for e in errors)


def test_csv_files(report: Report, tmp_path: Path) -> None:
    paths = write_csv(report, tmp_path)
    assert sorted(p.name for p in paths) == [
        "criteria_not_met_or_missing.csv",
        "decisions_by_decider.csv",
        "pend_reasons.csv",
        "requests_by_line_of_business.csv",
        "requests_by_priority.csv",
        "time_to_final_decision.csv",
    ]

    def rows(name: str) -> list[list[str]]:
        with (tmp_path / name).open(newline="") as fh:
            return list(csv.reader(fh))

    assert rows("requests_by_priority.csv") == [
        ["priority", "requests", "approved", "denied", "still_open"],
        ["standard", "5", "4", "0", "1"],
        ["expedited", "3", "1", "1", "1"],
        ["all", "8", "5", "1", "2"],
    ]
    assert rows("time_to_final_decision.csv")[1:] == [
        ["standard", "4", "9.0", "5.0", "4", "100.0"],
        ["expedited", "2", "15.8", "15.8", "1", "50.0"],
        ["all", "6", "11.2", "5.0", "5", "83.3"],
    ]
    assert rows("decisions_by_decider.csv")[1:] == [["engine", "4", "0", "4"], ["reviewer (MD)", "1", "1", "2"]]


def test_html_is_self_contained_and_has_no_patient_data(report: Report) -> None:
    page = render_html(report)
    for sid, title in SECTIONS:
        assert f'<section id="{sid}"><h2>{title}</h2>' in page
    assert page.count("<svg") == 7
    assert "<script" not in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page)
    assert "@import" not in page and "url(" not in page
    for secret in (MEMBER_ID, NPI, "R2", "D2P", "REV-1", "AUTH-"):
        assert secret not in page
    assert "Reviewers approved 1 of the 2 requests the engine pended for clinical review" in page


def test_html_escapes_line_of_business() -> None:
    item = det("DX", "RX", received="2026-11-02T12:00:00Z", decided="2026-11-02T13:00:00Z", lob="<b>&LOB")
    page = render_html(compute(as_models([item]), NOV_1, NOV_30))
    assert "<b>&LOB" not in page and "&lt;b&gt;&amp;LOB" in page


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


def test_cli_on_a_json_lines_file(tmp_path: Path) -> None:
    src = tmp_path / "dets.jsonl"
    src.write_text(as_jsonl(november()))
    out = tmp_path / "out"
    res = _cli(
        "--input",
        str(src),
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-30",
        "--out",
        str(out),
        "--as-of",
        "2026-12-01T00:00:00Z",
    )
    assert res.returncode == 0, res.stderr
    assert "8 requests" in res.stdout
    page = (out / "report.html").read_text()
    assert "still open past due" in page
    with (out / "requests_by_line_of_business.csv").open(newline="") as fh:
        assert list(csv.reader(fh))[1:] == [
            ["MMM_MA", "7", "5", "0", "2"],
            ["MMM_MULTIHEALTH", "1", "0", "1", "0"],
            ["all", "8", "5", "1", "2"],
        ]
    for f in out.iterdir():
        text = f.read_text()
        assert MEMBER_ID not in text and NPI not in text


def test_cli_reports_unreadable_records_and_exits_1(tmp_path: Path) -> None:
    src = tmp_path / "dets.jsonl"
    src.write_text(as_jsonl(november()[:3]) + json.dumps({"member_id": MEMBER_ID}) + "\n")
    out = tmp_path / "out"
    res = _cli("--input", str(src), "--from", "2026-11-01", "--to", "2026-11-30", "--out", str(out))
    assert res.returncode == 1
    assert "record 4 not read" in res.stderr and MEMBER_ID not in res.stderr
    assert "1 record(s) could not be read" in (out / "report.html").read_text()


def test_cli_stdin_and_argument_errors(tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = _cli(
        "--input", "-", "--from", "2026-11-01", "--to", "2026-11-30", "--out", str(out), stdin=as_jsonl(november())
    )
    assert res.returncode == 0, res.stderr
    assert (out / "requests_by_priority.csv").is_file()
    assert _cli("--input", "-", "--from", "2026-11-30", "--to", "2026-11-01").returncode == 2
    assert _cli("--input", str(tmp_path / "nope.jsonl"), "--from", "2026-11-01", "--to", "2026-11-30").returncode == 2
    res = _cli("--input", "-", "--from", "1 Nov", "--to", "2026-11-30")
    assert res.returncode == 2 and "not a date" in res.stderr
    assert _cli("--from", "2026-11-01", "--to", "2026-11-30").returncode == 2  # no source
