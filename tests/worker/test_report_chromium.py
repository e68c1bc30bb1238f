"""The report as a browser renders it: headless Chromium (Debian's ``chromium``) dumps the DOM and
takes a screenshot. Every section's heading must be there, every charted section's chart with bars
(zero values too, in the empty report), and the screenshot must show the bars' colours. Under CI
or REQUIRE_KAFKA=1 a missing Chromium fails the test (``make test`` installs it via ``make
chromium``); elsewhere it skips."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest

from offline.report import BLUE, CHARTED, GREEN, RED, SECTIONS, compute, write_report
from tests.worker.report_data import as_models, as_notices, november, november_notices

REQUIRED = os.environ.get("CI", "").lower() == "true" or os.environ.get("REQUIRE_KAFKA") == "1"


def _chromium() -> str:
    exe = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        if REQUIRED:
            pytest.fail("chromium is required under CI/REQUIRE_KAFKA=1 (make chromium installs it)", pytrace=False)
        pytest.skip("no chromium on PATH (make chromium installs it)")
    return exe


def _run(exe: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


class _Sections(HTMLParser):
    """Per <section id>: its <h2> text, and for each <svg> inside it the number of <rect class="bar">."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: dict[str, dict[str, object]] = {}
        self._section: str | None = None
        self._in_h2 = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "section":
            self._section = a.get("id") or ""
            self.sections[self._section] = {"h2": "", "svgs": []}
        elif self._section is None:
            return
        elif tag == "h2":
            self._in_h2 = True
        elif tag == "svg":
            self._svgs().append(0)
        elif tag == "rect" and "bar" in (a.get("class") or "").split():
            self._svgs()[-1] += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "h2":
            self._in_h2 = False
        elif tag == "section":
            self._section = None

    def handle_data(self, data: str) -> None:
        if self._in_h2 and self._section is not None:
            self.sections[self._section]["h2"] = str(self.sections[self._section]["h2"]) + data

    def _svgs(self) -> list[int]:
        assert self._section is not None
        svgs = self.sections[self._section]["svgs"]
        assert isinstance(svgs, list)
        return svgs


def _png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and RGB(A) rows of an 8-bit RGB or RGBA, non-interlaced PNG (what Chromium writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    height = bpp = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour, interlace)
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 0xFF
            elif f == 2:
                line[i] = (line[i] + b) & 0xFF
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pred) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, height, [bytes(r) if bpp == 3 else bytes(v for j, v in enumerate(r) if j % 4 != 3) for r in rows]


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return int(hex_colour[1:3], 16), int(hex_colour[3:5], 16), int(hex_colour[5:7], 16)


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report")
    report = compute(
        as_models(november()), date(2026, 11, 1), date(2026, 11, 30), notices=as_notices(november_notices())
    )
    path, _ = write_report(report, out)
    return path


@pytest.fixture(scope="module")
def empty_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path, _ = write_report(compute([], date(2026, 11, 1), date(2026, 11, 30)), tmp_path_factory.mktemp("empty"))
    return path


def _dom(exe: str, page: Path) -> dict[str, dict[str, object]]:
    res = _run(exe, "--dump-dom", page.resolve().as_uri())
    assert res.returncode == 0, res.stderr[-2000:]
    parser = _Sections()
    parser.feed(res.stdout)
    return parser.sections


def test_every_section_and_chart_renders_in_chromium(page: Path) -> None:
    sections = _dom(_chromium(), page)
    assert list(sections) == [sid for sid, _ in SECTIONS]
    for sid, title in SECTIONS:
        section = sections[sid]
        assert str(section["h2"]).strip() == title
        svgs = section["svgs"]
        assert isinstance(svgs, list)
        if sid in CHARTED:
            assert svgs, f"{sid}: no chart"
            assert all(n > 0 for n in svgs), f"{sid}: a chart without bars {svgs}"


def test_the_empty_report_draws_its_zero_bars(empty_page: Path) -> None:
    sections = _dom(_chromium(), empty_page)
    # 3 priorities x 2 series (decided, no notices source); 3 priorities x 5 states; 3 x mean and median
    assert sections["timeliness"]["svgs"] == [3]
    assert sections["outcomes"]["svgs"] == [15]
    assert sections["time-to-decision"]["svgs"] == [6]
    assert sections["pend-reasons"]["svgs"] == [10]  # 2 pend reasons x 5 states
    assert sections["deciders"]["svgs"] == [3]  # the engine: approved, partially approved, denied


def test_screenshot_shows_the_charts(page: Path, tmp_path: Path) -> None:
    exe = _chromium()
    shot = tmp_path / "report.png"
    # half scale: a quarter of the pixels for the pure-Python PNG decoder below
    res = _run(
        exe,
        "--window-size=1100,6000",
        "--force-device-scale-factor=0.5",
        f"--screenshot={shot}",
        page.resolve().as_uri(),
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert shot.is_file() and shot.stat().st_size > 5_000
    width, height, rows = _png_pixels(shot.read_bytes())
    assert (width, height) == (550, 3000)
    white = bytes((255, 255, 255))
    painted = sum(1 for r in rows for i in range(0, len(r), 3) if r[i : i + 3] != white)
    assert painted > width * height // 50, f"only {painted} non-white pixels: blank page?"

    def count(colour: str) -> int:
        want = _rgb(colour)
        return sum(1 for r in rows for i in range(0, len(r), 3) if all(abs(r[i + k] - want[k]) <= 6 for k in range(3)))

    # the approved (solid) and timeliness (solid) bars, each a few bars' worth of pixels; the denied bars
    # are striped, half of their pixels blend with white at half scale: their outlines stay red
    counts = {name: count(colour) for name, colour in (("green", GREEN), ("red", RED), ("blue", BLUE))}
    assert counts["green"] > 1_000, counts
    assert counts["red"] > 100, counts
    assert counts["blue"] > 500, counts
