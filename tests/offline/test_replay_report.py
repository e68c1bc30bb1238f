"""The replay's page and CSV files: sections, charts with every bar labelled, the compliance report's
colours only, no raw ids, finding codes linked to INTERPRETATION rows."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from offline.replay import Comparison, ReplayResult, candidate_choice, replay_files
from offline.replay_report import (
    CHARTED,
    SECTIONS,
    interpretation_rows,
    render_html,
    summary_text,
    write_outputs,
)
from offline.report import BACKGROUNDS, GRAPHIC_COLOURS, TEXT_COLOURS, WHITE
from tests.offline.replay_data import published_case

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> ReplayResult:
    tmp = tmp_path_factory.mktemp("replay")
    requests, published = published_case(tmp)
    return replay_files(requests, Comparison(candidate_choice(None, "all", False)), published=published)


def _sections(page: str) -> dict[str, str]:
    return dict(re.findall(r'<section id="([^"]+)">(.*?)</section>', page, flags=re.S))


def test_every_section_in_order_and_every_bar_labelled(result: ReplayResult) -> None:
    page = render_html(result, interpretation_rows(ROOT / "policy" / "INTERPRETATION.md"))
    sections = _sections(page)
    assert list(sections) == [sid for sid, _ in SECTIONS]
    for sid, title in SECTIONS:
        assert f"<h2>{title}</h2>" in sections[sid]
        svgs = re.findall(r"<svg .*?</svg>", sections[sid], flags=re.S)
        assert bool(svgs) == (sid in CHARTED), sid
        for svg in svgs:
            bars = re.findall(r'<rect class="bar[^"]*"[^>]*><title>([^<]+)</title></rect>', svg)
            values = re.findall(r'<text [^>]*class="value">([^<]+)</text>', svg)
            assert bars and len(bars) == len(values), sid  # every bar's value is written beside it
            assert 'role="img"' in svg and "aria-label=" in svg
    assert "approved → pended" in sections["decisions"]
    assert "1944 → 1988 units (+44)" in sections["units"]


def test_only_the_compliance_reports_colours(result: ReplayResult) -> None:
    page = render_html(result)
    used = {c.lower() for c in re.findall(r"#[0-9a-fA-F]{6}\b", page)}
    allowed = {c.lower() for c in (*TEXT_COLOURS, *BACKGROUNDS, *GRAPHIC_COLOURS, WHITE)}
    assert used and used <= allowed, used - allowed


def test_no_raw_ids_and_nothing_fetched(result: ReplayResult, tmp_path: Path) -> None:
    page, csvs = write_outputs(result, tmp_path, ROOT / "policy" / "INTERPRETATION.md")
    html = page.read_text()
    assert "<script" not in html and "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in html and "<link" not in html and "<img" not in html
    for path in [page, *csvs]:
        text = path.read_text()
        for raw in ("PUB-1", "PUB-2", "PUB-4", "MSECRET9876", "1234567893", "Dr. Ana Rivera", "Quinones"):
            assert raw not in text, (path.name, raw)


def test_finding_codes_link_to_the_interpretation_rows_that_name_them() -> None:
    rows = interpretation_rows(ROOT / "policy" / "INTERPRETATION.md")
    assert rows["start_date_too_far_ahead"][:1] == ["R4"]
    assert "R30" in rows["prior_lines_not_read"]
    assert "R38" in rows["oncology_note_before_therapy_start"]
    assert interpretation_rows(None) == {} and interpretation_rows(ROOT / "nowhere.md") == {}


def test_summary_fits_one_screen(result: ReplayResult) -> None:
    text = summary_text(result)
    assert len(text.splitlines()) <= 24 and max(len(x) for x in text.splitlines()) <= 120
    assert "approved -> pended" in text and "A.iii met (ecog_met) -> missing (ecog_not_current)" in text


def test_an_empty_replay_says_so(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    res = replay_files(empty, Comparison(candidate_choice(None, "all", False)), published=empty)
    assert res.empty and res.diff.decisions() == Counter()
    page = render_html(res)
    assert "No decision changed." in page and "No criterion changed." in page
