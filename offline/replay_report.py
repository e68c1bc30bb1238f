"""The replay's outputs: ``report.html`` (one self-contained page: inline CSS and SVG, no script, nothing
fetched), one CSV per table, ``meta.csv`` and ``examples.csv`` (``unreadable.csv`` is written by
:mod:`offline.replay` as the run goes), and a one-screen text summary.

The page uses the compliance report's style (:mod:`offline.report`): its CSS, its colours (WCAG 2.1 AA:
text 4.5:1, bars 3:1 on white) and its fill patterns. Every bar has its label and value written beside
it and a ``<title>``; a change is told by its words (``approved -> pended``), never by hue alone.

A finding code is linked to the rows of ``policy/INTERPRETATION.md`` that name it
(:func:`interpretation_rows`), so a reader can see which reading of the policy explains a change.
"""

from __future__ import annotations

import csv
import html
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Final

from offline.replay import UNREADABLE_KEPT, CriterionChange, ReplayResult, describe_change
from offline.report import (
    _CSS,
    BLUE,
    HASH_DEFINITION,
    ORANGE,
    PURPLE,
    TEAL,
    WHITE,
    Fill,
    _note,
    _pattern,
    _table,
)

STATE_LABEL: Final = {
    "approved": "approved",
    "denied": "denied",
    "pended/clinical_review": "pended: clinical review",
    "pended/missing_information": "pended: missing information",
}

SECTIONS: Final = (
    ("decisions", "Decision transitions"),
    ("pend-reasons", "Pend-reason transitions"),
    ("criteria", "Criteria whose results changed"),
    ("drivers", "What moved each changed decision"),
    ("units", "Unit and period changes"),
    ("examples", "Examples"),
    ("method", "Method and data"),
)
"""(anchor id, heading) of every section, in order; the Chromium test checks each."""
CHARTED: Final = frozenset({"decisions", "pend-reasons", "criteria", "units"})
"""The sections with a chart."""
CHART_ROWS: Final = 15
"""A chart shows the most frequent changes, at most this many; its table has them all."""

ARROW: Final = " → "


def state_label(state: str) -> str:
    return STATE_LABEL.get(state, state.replace("/", ": ").replace("_", " "))


def _pct(n: int, d: int) -> str:
    return "–" if d == 0 else f"{100 * n / d:.1f}%"


def _n(v: int) -> str:
    return f"{v:,}"


# --- INTERPRETATION rows ---------------------------------------------------------------------------

_ROW = re.compile(r"^\|\s*(R\d+)\s*\|")
_CODE = re.compile(r"`([a-z][a-z0-9_]+)`")


def interpretation_rows(path: Path | None) -> dict[str, list[str]]:
    """Finding code -> the rows (``R30``, ...) of ``policy/INTERPRETATION.md`` whose text names it in
    backticks, in row order. Empty without the file."""
    if path is None or not path.is_file():
        return {}
    out: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        m = _ROW.match(line)
        if m is None:
            continue
        for code in dict.fromkeys(_CODE.findall(line)):
            out.setdefault(code, []).append(m.group(1))
    return out


def rows_for(change: CriterionChange, rows: Mapping[str, list[str]]) -> str:
    """The rows naming the change's after code, then those naming its before code."""
    found: list[str] = []
    for code in (change[4], change[2]):
        for r in rows.get(code, []):
            if r not in found:
                found.append(r)
    return ", ".join(sorted(found, key=lambda r: int(r[1:])))


# --- tables (shared by the page and the CSV files) --------------------------------------------------


def decision_rows(result: ReplayResult) -> list[list[str]]:
    """before, after, requests, % of compared, initial, continuation; changed first, most frequent first."""
    d = result.diff
    by_type: Counter[tuple[str, str, str]] = Counter()
    for (rtype, b, a), n in d.states.items():
        by_type[(rtype, b.split("/")[0], a.split("/")[0])] += n
    return _transition_rows(d.decisions().items(), by_type, d.compared)


def state_rows(result: ReplayResult) -> list[list[str]]:
    """Transitions where either side is pended (the pend reasons), changed first."""
    d = result.diff
    by_type: Counter[tuple[str, str, str]] = d.states
    shown = [(k, n) for k, n in d.state_pairs().items() if k[0].startswith("pended") or k[1].startswith("pended")]
    return _transition_rows(shown, by_type, d.compared)


def _transition_rows(
    pairs: Iterable[tuple[tuple[str, str], int]], by_type: Counter[tuple[str, str, str]], compared: int
) -> list[list[str]]:
    """One row per (before, after) transition, changed first, then by count: the count, its share of the
    compared requests, the counts by request type, and whether it changed."""
    ordered = sorted(pairs, key=lambda kv: (kv[0][0] == kv[0][1], -kv[1], kv[0]))
    return [
        [
            b,
            a,
            str(n),
            _pct(n, compared),
            str(by_type[("initial", b, a)]),
            str(by_type[("continuation", b, a)]),
            "changed" if b != a else "unchanged",
        ]
        for (b, a), n in ordered
    ]


def criteria_rows(result: ReplayResult, rows: Mapping[str, list[str]]) -> list[list[str]]:
    ordered = sorted(result.diff.criteria.items(), key=lambda kv: (-kv[1], kv[0]))
    return [[*ch, str(n), rows_for(ch, rows)] for ch, n in ordered]


def driver_rows(result: ReplayResult, rows: Mapping[str, list[str]]) -> list[list[str]]:
    ordered = sorted(result.diff.drivers.items(), key=lambda kv: (kv[0][0], kv[0][1], -kv[1], kv[0][2]))
    return [[b, a, *ch, str(n), rows_for(ch, rows)] for (b, a, ch), n in ordered]


def unit_rows(result: ReplayResult) -> list[list[str]]:
    ordered = sorted(result.diff.units.items(), key=lambda kv: (-kv[1], kv[0]))
    return [[str(b), str(a), f"{a - b:+d}", str(n)] for (b, a), n in ordered]


def period_rows(result: ReplayResult) -> list[list[str]]:
    ordered = sorted(result.diff.periods.items(), key=lambda kv: (-kv[1], kv[0]))
    return [[f"{f:+d}", f"{t:+d}", str(n)] for (f, t), n in ordered]


def example_rows(result: ReplayResult) -> list[list[str]]:
    out: list[list[str]] = []
    for key in sorted(result.diff.examples):
        kind, rest = key[0], key[1:]
        if kind == "state":
            change = f"{rest[0]} -> {rest[1]}"
        elif kind == "criterion":
            change = describe_change((rest[0], rest[1], rest[2], rest[3], rest[4]))
        elif kind == "units":
            change = f"units {rest[0]} -> {rest[1]}"
        elif kind == "period":
            change = f"valid_from {int(rest[0]):+d} days, valid_through {int(rest[1]):+d} days"
        else:
            change = "no engine determination published"
        for ex in result.diff.examples[key]:
            out.append([kind, change, ex.request_hash, ex.position, ex.detail])
    return out


def meta_rows(result: ReplayResult) -> list[tuple[str, str]]:
    c, d = result.counts, result.diff
    rate = f"{1e6 * result.cpu_seconds / c.requests_read:.0f}" if c.requests_read else ""
    return [
        ("comparison", result.comparison),
        ("before", result.before_label),
        ("before_versions_configured", "; ".join(result.before_versions)),
        ("before_versions_seen", "; ".join(f"{v}: {n}" for v, n in sorted(d.before_versions.items()))),
        ("after", result.after_label),
        ("after_versions_configured", "; ".join(result.after_versions)),
        ("after_versions_seen", "; ".join(f"{v}: {n}" for v, n in sorted(d.after_versions.items()))),
        ("engine_version", result.engine_version),
        ("evaluation_time", "each request's received_at"),
        (
            "memo_tables",
            "emptied before each evaluation (--cold)" if result.cold else "kept across requests, as the worker's",
        ),
        ("requests_source", result.requests_source),
        ("published_source", result.published_source or ""),
        ("requests_read", str(c.requests_read)),
        ("requests_unreadable", str(c.requests_unreadable)),
        ("requests_evaluated", str(c.requests_evaluated)),
        ("requests_duplicate", str(c.requests_duplicate)),
        ("requests_without_published_determination", str(c.requests_unpublished)),
        ("published_read", str(c.published_read)),
        ("published_unreadable", str(c.published_unreadable)),
        ("published_reviewer_skipped", str(c.published_reviewer)),
        ("published_duplicate", str(c.published_duplicate)),
        ("published_without_request_in_input", str(c.published_unmatched)),
        ("compared", str(d.compared)),
        ("changed", str(d.changed)),
        ("decisions_changed", str(sum(n for (b, a), n in d.decisions().items() if b != a))),
        ("states_changed", str(sum(n for (b, a), n in d.state_pairs().items() if b != a))),
        ("approved_on_both_sides", str(d.approved_both)),
        ("units_changed", str(sum(d.units.values()))),
        ("periods_changed", str(sum(d.periods.values()))),
        ("join_buckets", str(result.buckets) if result.comparison == "published" else ""),
        ("seconds", f"{result.seconds:.1f}"),
        ("cpu_seconds", f"{result.cpu_seconds:.1f}"),
        ("cpu_microseconds_per_request_read", rate),
        ("started_at", result.started_at.isoformat(timespec="seconds") if result.started_at else ""),
        ("command", result.command),
        ("request_hash", HASH_DEFINITION),
    ]


def tables(result: ReplayResult, rows: Mapping[str, list[str]]) -> dict[str, tuple[list[str], list[list[str]]]]:
    """CSV name -> (header, rows)."""
    kinds = ["requests", "share_of_compared", "initial", "continuation", "changed"]
    change = ["criterion", "before_result", "before_code", "after_result", "after_code"]
    return {
        "decisions.csv": (["before_decision", "after_decision", *kinds], decision_rows(result)),
        "pend_reasons.csv": (["before_state", "after_state", *kinds], state_rows(result)),
        "criteria.csv": ([*change, "requests", "interpretation_rows"], criteria_rows(result, rows)),
        "drivers.csv": (
            ["before_state", "after_state", *change, "requests", "interpretation_rows"],
            driver_rows(result, rows),
        ),
        "units.csv": (["before_units", "after_units", "change", "requests"], unit_rows(result)),
        "periods.csv": (["valid_from_days", "valid_through_days", "requests"], period_rows(result)),
        "examples.csv": (["kind", "change", "request_hash", "position", "detail"], example_rows(result)),
    }


def _write(path: Path, header: Sequence[str], rows: Iterable[Sequence[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def write_csv(result: ReplayResult, directory: Path, rows: Mapping[str, list[str]]) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = [_write(directory / "meta.csv", ["key", "value"], meta_rows(result))]
    for name, (header, body) in tables(result, rows).items():
        paths.append(_write(directory / name, header, body))
    return paths


# --- charts -----------------------------------------------------------------------------------------


def _chart_id(title: str) -> str:
    return "c-" + re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def bars(title: str, items: Sequence[tuple[str, int, str]], colour: str, fill: Fill, empty: str) -> str:
    """A horizontal bar chart as inline SVG, each bar's label written **above** it (labels here are
    long: a transition, a finding code change) and its value beside it. Every bar is a ``<rect
    class="bar">`` with a ``<title>``; a bar narrower than 2 px is drawn 2 px wide. ``items``: (label,
    value, value text)."""
    e = html.escape
    cid = _chart_id(title)
    peak = max((v for _, v, _ in items), default=0)
    bar_w, bar_h, label_h, gap, top = 560, 14, 16, 10, 28
    longest = max((len(t) for _, _, t in items), default=0)
    width = int(max(bar_w + 16 + 6.8 * longest, 7.0 * max((len(label) for label, _, _ in items), default=0), 420))
    row_h = label_h + bar_h + gap
    height = top + max(1, len(items)) * row_h + 4
    fill_ref = colour if fill == "solid" else WHITE if fill == "hollow" else f"url(#{cid}-0)"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{cid}" role="img" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" aria-label="{e(title)}">',
        f"<title>{e(title)}</title>",
        f"<defs>{_pattern(f'{cid}-0', fill, colour)}</defs>" if fill not in ("solid", "hollow") else "",
        f'<text x="0" y="16" class="chart-title">{e(title)}</text>',
    ]
    if not items:
        parts.append(f'<text x="0" y="{top + 14}" class="value">{e(empty)}</text>')
    for i, (label, value, text) in enumerate(items):
        y0 = top + i * row_h
        w = bar_w * value / peak if peak > 0 else 0.0
        zero = w < 2
        w = max(w, 2.0)
        parts.append(f'<text x="0" y="{y0 + 12}">{e(label)}</text>')
        parts.append(
            f'<rect class="bar{" zero" if zero else ""}" x="0" y="{y0 + label_h}" width="{w:.1f}" height="{bar_h}" '
            f'fill="{fill_ref}" stroke="{colour}" stroke-width="1.5"><title>{e(label)}: {e(text)}</title></rect>'
        )
        parts.append(f'<text x="{w + 6:.1f}" y="{y0 + label_h + bar_h - 3}" class="value">{e(text)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _finding(result: str, code: str) -> str:
    return f"{result} ({code})" if code else result


def _requests(n: int) -> str:
    return f"{n:,} request{'' if n == 1 else 's'}"


def _share_text(n: int, d: int) -> str:
    return f"{_requests(n)} ({_pct(n, d)} of compared)"


# --- sections ---------------------------------------------------------------------------------------


def _section_decisions(result: ReplayResult, rows: Mapping[str, list[str]]) -> str:
    return _transitions(
        result,
        decision_rows(result),
        str,
        f"Each of the {result.diff.compared:,} compared requests by its decision before ({result.before_label}) and "
        f"after ({result.after_label}). Initial and continuation requests are counted apart.",
        "Decision transitions (unchanged rows in italics)",
        ("Decisions that changed", ORANGE, "solid", "No decision changed."),
    )


def _section_pends(result: ReplayResult, rows: Mapping[str, list[str]]) -> str:
    return _transitions(
        result,
        state_rows(result),
        state_label,
        "A request's state is approved, denied, pended for clinical review or pended for missing information. "
        "Every transition where either side is pended, with the pend reason.",
        "Pend-reason transitions (unchanged rows in italics)",
        ("Pend states that changed", PURPLE, "vertical", "No pend state changed."),
    )


def _transitions(
    result: ReplayResult,
    body: list[list[str]],
    label: Callable[[str], str],
    note: str,
    caption: str,
    chart: tuple[str, str, Fill, str],
) -> str:
    """A transition table (before, after, requests, share, initial, continuation, changed) with a bar
    chart of the rows that changed: the decisions' section and the pend states' section."""
    compared = result.diff.compared
    changed = [r for r in body if r[-1] == "changed"][:CHART_ROWS]
    items = [(f"{label(r[0])}{ARROW}{label(r[1])}", int(r[2]), _share_text(int(r[2]), compared)) for r in changed]
    title, colour, style, empty = chart
    return (
        _note(note)
        + _table(
            ["before", "after", "requests", "share of compared", "initial", "continuation", ""],
            [[label(r[0]), label(r[1]), *r[2:]] for r in body],
            ["" if r[-1] == "changed" else "excluded" for r in body],
            caption=caption,
        )
        + bars(title, items, colour, style, empty)
    )


def _section_criteria(result: ReplayResult, rows: Mapping[str, list[str]]) -> str:
    body = criteria_rows(result, rows)
    items = [(describe_change((r[0], r[1], r[2], r[3], r[4])), int(r[5]), _requests(int(r[5]))) for r in body]
    note = (
        "Each criterion whose result or finding code differs, over every compared request (whatever the decision "
        "did). A criterion one side does not evaluate is 'absent'. Rows: the rows of policy/INTERPRETATION.md that "
        "name the finding code (the after code first)."
    )
    shown = [[r[0], _finding(r[1], r[2]), _finding(r[3], r[4]), r[5], r[6]] for r in body]
    return (
        _note(note)
        + _table(
            ["criterion", "before", "after", "requests", "INTERPRETATION rows"],
            shown,
            caption="Criteria whose results changed",
        )
        + bars(
            f"Criterion changes (at most {CHART_ROWS}, the most frequent first)",
            items[:CHART_ROWS],
            BLUE,
            "solid",
            "No criterion changed.",
        )
    )


def _section_drivers(result: ReplayResult, rows: Mapping[str, list[str]]) -> str:
    body = driver_rows(result, rows)
    shown = [
        [f"{state_label(r[0])}{ARROW}{state_label(r[1])}", r[2], _finding(r[3], r[4]), _finding(r[5], r[6]), *r[7:]]
        for r in body
    ]
    return _note(
        "For the requests whose state changed: the criterion changes they carry, by transition. A request with two "
        "changed criteria is counted under each; the decision follows from all of them (any not_met pends for "
        "clinical review, else any missing pends for missing information, else it is approved)."
    ) + _table(
        ["transition", "criterion", "before", "after", "requests", "INTERPRETATION rows"],
        shown,
        caption="Criterion changes of the requests whose state changed",
    )


def _section_units(result: ReplayResult, rows: Mapping[str, list[str]]) -> str:
    d = result.diff
    units = unit_rows(result)
    periods = period_rows(result)
    items = [(f"{r[0]}{ARROW}{r[1]} units ({r[2]})", int(r[3]), _requests(int(r[3]))) for r in units]
    return (
        _note(
            f"Requests approved on both sides: {d.approved_both:,}. Units are authorization.max_units (1 unit = 1 mg, "
            "J1323); the period is valid_from to valid_through. A request approved on one side only is a decision "
            "transition, not a unit change."
        )
        + _table(["before units", "after units", "change", "requests"], units, caption="Unit changes")
        + bars(
            f"Unit changes (at most {CHART_ROWS}, the most frequent first)",
            items[:CHART_ROWS],
            TEAL,
            "solid",
            "No unit change.",
        )
        + _table(
            ["valid_from moved (days)", "valid_through moved (days)", "requests"],
            periods,
            caption="Period changes",
        )
    )


def _section_examples(result: ReplayResult, rows: Mapping[str, list[str]]) -> str:
    body = example_rows(result)
    return _note(
        f"Up to {result.diff.examples_per_key} requests per change: those with the smallest hashes, so the same "
        f"input gives the same examples. {HASH_DEFINITION}. The position is where the request was read."
    ) + _table(["kind", "change", "request hash", "position", "what changed"], body, caption="Examples")


def _section_method(result: ReplayResult, rows: Mapping[str, list[str]]) -> str:
    e = html.escape
    c, d = result.counts, result.diff
    versions_seen = "; ".join(f"{v}: {n:,}" for v, n in sorted(d.before_versions.items())) or "none"
    after_seen = "; ".join(f"{v}: {n:,}" for v, n in sorted(d.after_versions.items())) or "none"
    inputs = (
        f"Requests: {result.requests_source}: {c.requests_read:,} read, {c.requests_unreadable:,} unreadable, "
        f"{c.requests_evaluated:,} evaluated."
    )
    if result.comparison == "published":
        inputs += (
            f" Published determinations: {result.published_source}: {c.published_read:,} read, "
            f"{c.published_unreadable:,} unreadable, {c.published_reviewer:,} by reviewers (not the engine's: not "
            f"compared), {c.published_duplicate:,} duplicates (a later determination for a request_id already read). "
            f"Requests with no published engine determination: {c.requests_unpublished:,}; repeated request ids "
            f"in the input: {c.requests_duplicate:,} (compared once); published determinations of requests not in "
            f"the input: {c.published_unmatched:,}."
        )
    items = [
        (
            "Comparison",
            f"Before: {result.before_label}"
            + (f" ({'; '.join(result.before_versions)})" if result.before_versions else "")
            + f". After: {result.after_label} ({'; '.join(result.after_versions)}). "
            f"Settings versions that decided the compared requests: before {versions_seen}; after {after_seen}.",
        ),
        (
            "Evaluation",
            "Each request is evaluated at its own received_at, with the settings version its side picks for it"
            + (
                ", the engine's memo tables emptied before each evaluation (--cold); "
                if result.cold
                else ", the engine's memo tables kept across requests as in the worker; "
            )
            + "the published determinations were decided when the worker read them (a request without a requested "
            "start date starts on its decision date: a late decision moves its period, not a policy change).",
        ),
        ("Inputs", inputs),
        (
            "What is compared",
            "The decision, the pend reason, each criterion's result and finding code, and, for approvals on both "
            "sides, the authorization's units and period. Texts (reasons, letters) are not compared.",
        ),
        (
            "Streaming",
            "Requests are read, evaluated and dropped one at a time. Against published determinations both sides' "
            f"summaries are joined by hashed request id through {result.buckets} temporary files on disk (a "
            "hash-partitioned join: memory for one partition's published summaries)."
            if result.comparison == "published"
            else "Requests are read, evaluated twice and dropped one at a time: constant memory.",
        ),
        (
            "Run",
            f"{result.seconds:,.1f} s, {result.cpu_seconds:,.1f} s of CPU"
            + (
                f", {1e6 * result.cpu_seconds / c.requests_read:,.0f} µs of CPU per request read"
                if c.requests_read
                else ""
            )
            + f". Engine {result.engine_version}.",
        ),
        ("Reproduce", result.command or "(library call)"),
        (
            "No patient data",
            "No member, prescriber or raw request ids: counts, criterion ids, finding codes, input positions and "
            "hashed request ids only. The temporary join files hold hashed ids only.",
        ),
    ]
    dl = '<dl class="method">' + "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in items) + "</dl>"
    bad = [[u.side, u.position, u.reason] for u in result.unreadable]
    more = result.unreadable_total - len(bad)
    caption = f"Unreadable records: {result.unreadable_total:,}" + (
        f" (the first {UNREADABLE_KEPT} here, every one in unreadable.csv)" if more > 0 else ""
    )
    return dl + _table(["input", "position", "why (never the content)"], bad, caption=caption)


RENDERERS: Final = {
    "decisions": _section_decisions,
    "pend-reasons": _section_pends,
    "criteria": _section_criteria,
    "drivers": _section_drivers,
    "units": _section_units,
    "examples": _section_examples,
    "method": _section_method,
}


def _seen(versions: Counter[str]) -> str:
    return "; ".join(f"{v}: {n:,}" for v, n in sorted(versions.items())) or "none"


def kpis(result: ReplayResult) -> list[tuple[str, str]]:
    d, c = result.diff, result.counts
    decisions = d.decisions()
    changed = sum(n for (b, a), n in decisions.items() if b != a)
    to_approved = sum(n for (b, a), n in decisions.items() if b != a and a == "approved")
    from_approved = sum(n for (b, a), n in decisions.items() if b != a and b == "approved")
    reason = sum(
        n for (b, a), n in d.state_pairs().items() if b != a and b.startswith("pended") and a.startswith("pended")
    )
    out = [
        ("requests compared", _n(d.compared)),
        ("decisions changed", f"{changed:,} ({_pct(changed, d.compared)})"),
        ("approved before, not after", _n(from_approved)),
        ("approved after, not before", _n(to_approved)),
        ("pend reason changed", _n(reason)),
        ("units changed (approved both)", _n(sum(d.units.values()))),
        ("unreadable records", _n(result.unreadable_total)),
    ]
    if result.comparison == "published":
        out.append(("requests with no published determination", _n(c.requests_unpublished)))
    return out


def render_html(result: ReplayResult, rows: Mapping[str, list[str]] | None = None) -> str:
    """The whole report as one HTML document: inline CSS and SVG, no script, no external resource."""
    e = html.escape
    rows = rows or {}
    body = "".join(
        f'<section id="{sid}"><h2>{e(title)}</h2>{RENDERERS[sid](result, rows)}</section>' for sid, title in SECTIONS
    )
    kpi_html = "".join(f'<div class="kpi"><b>{e(v)}</b>{e(k)}</div>' for k, v in kpis(result))
    banner = (
        f'<div class="banner" role="alert">Warning: {result.unreadable_total:,} input records could not be read: '
        "named in Method and data and unreadable.csv.</div>"
        if result.unreadable_total
        else ""
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Replay: what changes</title><style>{_CSS}</style></head>"
        "<body><header><h1>Replay of prior authorization requests: what changes, policy MP-RX-FP-120-24 "
        "(Elrexfio, J1323)</h1>"
        f'<p class="meta">Before: {e(result.before_label)}'
        f"{e(f' ({result.published_source})' if result.published_source else '')}. After: {e(result.after_label)}. "
        f"Requests: {e(result.requests_source)}; each evaluated at its own received_at"
        f"{', the memo tables emptied before each (--cold)' if result.cold else ''}.</p>"
        f'<p class="meta">Parameter sets (engine) that decided: before {e(_seen(result.diff.before_versions))}; '
        f"after {e(_seen(result.diff.after_versions))}.</p>"
        f'{banner}<div class="kpis">{kpi_html}</div></header><main>{body}</main></body></html>\n'
    )


def write_outputs(result: ReplayResult, directory: Path, interpretation: Path | None = None) -> tuple[Path, list[Path]]:
    """``report.html`` and the CSV files in ``directory`` (``unreadable.csv`` is the run's own)."""
    rows = interpretation_rows(interpretation)
    directory.mkdir(parents=True, exist_ok=True)
    page = directory / "report.html"
    page.write_text(render_html(result, rows), encoding="utf-8")
    csvs = write_csv(result, directory, rows)
    unreadable = directory / "unreadable.csv"
    if unreadable.exists():
        csvs.append(unreadable)
    return page, csvs


def summary_text(result: ReplayResult, top: int = 8) -> str:
    """One screen: what was compared, the decision and pend-reason transitions that changed, the most
    frequent criterion changes, units, periods, and what could not be read."""
    d, c = result.diff, result.counts
    lines = [
        f"Replay: {c.requests_read:,} requests read, {d.compared:,} compared.",
        f"  before: {result.before_label}",
        f"  after:  {result.after_label}",
    ]
    decisions = d.decisions()
    changed = sorted(((k, n) for k, n in decisions.items() if k[0] != k[1]), key=lambda kv: (-kv[1], kv[0]))
    total = sum(n for _, n in changed)
    lines.append(f"Decisions changed: {total:,} of {d.compared:,} ({_pct(total, d.compared)}).")
    lines += [f"  {b:>9} -> {a:<9} {n:>9,}" for (b, a), n in changed]
    reasons = sorted(
        (
            (k, n)
            for k, n in d.state_pairs().items()
            if k[0] != k[1] and k[0].startswith("pended") and k[1].startswith("pended")
        ),
        key=lambda kv: (-kv[1], kv[0]),
    )
    if reasons:
        lines.append("Pend reason changed:")
        lines += [f"  {state_label(b)} -> {state_label(a)}: {n:,}" for (b, a), n in reasons]
    crit = sorted(d.criteria.items(), key=lambda kv: (-kv[1], kv[0]))
    if crit:
        lines.append(f"Criteria changed (the {min(top, len(crit))} most frequent of {len(crit)}):")
        lines += [f"  {n:>9,}  {describe_change(ch)}" for ch, n in crit[:top]]
    lines.append(
        f"Approved on both sides: {d.approved_both:,}; units changed on {sum(d.units.values()):,}, "
        f"period on {sum(d.periods.values()):,}."
    )
    tail = f"Unreadable: {c.requests_unreadable:,} requests"
    if result.comparison == "published":
        tail += (
            f", {c.published_unreadable:,} published; no published determination: {c.requests_unpublished:,}; "
            f"reviewer determinations skipped: {c.published_reviewer:,}"
        )
    lines.append(tail + ".")
    return "\n".join(lines)
