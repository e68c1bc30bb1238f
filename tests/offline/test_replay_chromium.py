"""The replay's page as a browser renders it: headless Chromium dumps the DOM and takes a screenshot, as
tests/worker/test_report_chromium.py does for the compliance report (its helpers are used here). Every
section's heading must be there, every charted section's chart with its bars, and the screenshot must
show the bars' colours. Under CI or REQUIRE_KAFKA=1 a missing Chromium fails; elsewhere it skips."""

from __future__ import annotations

from pathlib import Path

import pytest

from offline.replay import Comparison, candidate_choice, replay_files
from offline.replay_report import CHARTED, SECTIONS, write_outputs
from offline.report import BLUE, ORANGE, PURPLE, TEAL
from policy import DEFAULT_SETTINGS
from tests.offline.replay_data import determination_json, line, published_case, request, write_lines
from tests.worker.test_report_chromium import _chromium, _dom, _png_pixels, _rgb, _run

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("replay-page")
    requests, published = published_case(tmp)
    # and a pend whose reason changes: ECOG 2 with stale documents (missing information) published by a
    # parameter set that read ECOG 2 as above its range (clinical review)
    stale = [{**doc, "date": "2026-06-01"} for doc in request("initial_approved", "x")["documents"]]
    extra = request("initial_approved", "PAGE-1", ecog__score=2, documents=stale)
    strict = DEFAULT_SETTINGS.replace(version="2025-12-11.0", max_ecog=1)
    write_lines(requests, [*requests.read_text().splitlines(), line(extra)])
    write_lines(published, [*published.read_text().splitlines(), determination_json(extra, strict)])
    result = replay_files(requests, Comparison(candidate_choice(None, "all", False)), published=published)
    path, _ = write_outputs(result, tmp / "out", ROOT / "policy" / "INTERPRETATION.md")
    return path


@pytest.fixture(scope="module")
def empty_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("replay-empty")
    empty = write_lines(tmp / "empty.jsonl", [])
    result = replay_files(empty, Comparison(candidate_choice(None, "all", False)), published=empty)
    path, _ = write_outputs(result, tmp / "out")
    return path


def test_every_section_and_chart_renders_in_chromium(page: Path) -> None:
    sections = _dom(_chromium(), page)
    assert list(sections) == [sid for sid, _ in SECTIONS]
    for sid, title in SECTIONS:
        assert str(sections[sid]["h2"]).strip() == title
        svgs = sections[sid]["svgs"]
        assert isinstance(svgs, list)
        if sid in CHARTED:
            assert svgs and all(n > 0 for n in svgs), (sid, svgs)
        else:
            assert svgs == [], sid
    # decisions: approved -> pended; pend states: approved -> pended (missing information) and pended (clinical
    # review) -> pended (missing information); criteria: A.iii on each of those two; units: 1944 -> 1988
    assert sections["decisions"]["svgs"] == [1]
    assert sections["pend-reasons"]["svgs"] == [2]
    assert sections["criteria"]["svgs"] == [2]
    assert sections["units"]["svgs"] == [1]


def test_the_empty_replay_renders_its_sections_without_bars(empty_page: Path) -> None:
    sections = _dom(_chromium(), empty_page)
    assert list(sections) == [sid for sid, _ in SECTIONS]
    for sid in CHARTED:
        assert sections[sid]["svgs"] == [0], sid  # the chart says there is no change


def test_screenshot_shows_the_charts(page: Path, tmp_path: Path) -> None:
    exe = _chromium()
    shot = tmp_path / "replay.png"
    res = _run(
        exe,
        "--window-size=1100,3600",
        "--force-device-scale-factor=0.5",
        f"--screenshot={shot}",
        page.resolve().as_uri(),
    )
    assert res.returncode == 0, res.stderr[-2000:]
    width, height, rows = _png_pixels(shot.read_bytes())
    assert (width, height) == (550, 1800)

    def count(colour: str) -> int:
        want = _rgb(colour)
        return sum(1 for r in rows for i in range(0, len(r), 3) if all(abs(r[i + k] - want[k]) <= 6 for k in range(3)))

    # decisions orange, criteria blue, units teal: solid bars; the pend states' bars are striped purple (half
    # of their pixels blend with white at half scale)
    counts = {name: count(c) for name, c in (("blue", BLUE), ("orange", ORANGE), ("purple", PURPLE), ("teal", TEAL))}
    assert counts["blue"] > 1_000 and counts["orange"] > 1_000 and counts["teal"] > 1_000, counts
    assert counts["purple"] > 100, counts
