"""``pa-worker report``: the compliance report over ``pa.determination`` events (issue #15, item 4).

Pure: no I/O but :func:`write_csv` and :func:`write_report`, no clock (``as_of`` is passed in).

* :func:`parse_lines` reads determinations from JSON Lines (bytes), keeping unreadable lines as
  errors (line number and message) instead of failing.
* :func:`compute` groups determinations by ``request_id`` and gives each request its answer: the
  determination with ``final`` true (a reviewer's determination supersedes the engine's pend via
  ``supersedes``); a request with only pends is *still open*. Older engine determinations without
  ``decided_by``/``final`` count as the engine's, and final unless pended. Requests are selected by
  the date of their first ``received_at`` in the plan's time zone (America/Puerto_Rico), both ends
  of the range included.
* :func:`render_html` writes one self-contained page (inline CSS, inline SVG bar charts, no script,
  nothing fetched); :func:`write_csv` one CSV per table.

The model is the CMS-0057-F public-reporting set (42 CFR 422.122(c)): requests approved, denied and
still open; average and median time from receipt to final decision by priority, and the share decided
within the clock (``decision_due_by``). No patient data reaches the report: no member, prescriber or
request ids, only counts, criterion ids and finding codes.
"""

from __future__ import annotations

import csv
import html
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Final, Literal
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from contracts.models import PADetermination

PLAN_TZ: Final = ZoneInfo("America/Puerto_Rico")
PRIORITIES: Final = ("standard", "expedited")
Status = Literal["approved", "denied", "open"]


# --- per request --------------------------------------------------------------------------


def is_final(det: PADetermination) -> bool:
    """``final`` when set; older engine determinations without it are final unless pended."""
    return det.final if det.final is not None else det.decision != "pended"


def decider(det: PADetermination) -> Literal["engine", "reviewer"]:
    return det.decided_by.kind if det.decided_by is not None else "engine"


@dataclass(frozen=True)
class RequestOutcome:
    """One request's answer (no identifiers beyond what the computation needs)."""

    priority: str
    line_of_business: str
    received_at: datetime
    status: Status
    final: PADetermination | None
    latest: PADetermination
    pend_reasons: frozenset[str]
    engine_clinical_review: bool
    finals: int

    @property
    def hours_to_final(self) -> float | None:
        if self.final is None:
            return None
        return (self.final.decided_at - self.received_at).total_seconds() / 3600

    @property
    def within_clock(self) -> bool | None:
        return None if self.final is None else self.final.decided_at <= self.final.decision_due_by


def outcome(dets: Sequence[PADetermination]) -> RequestOutcome:
    """The answer to one request from all its determinations (at least one)."""
    by_time = sorted(dets, key=lambda d: (d.decided_at, d.determination_id))
    finals = [d for d in by_time if is_final(d)]
    superseded = {d.supersedes for d in dets if d.supersedes is not None}
    # the final answer: a final determination nothing supersedes (the latest of them, should there be two)
    standing = [d for d in finals if d.determination_id not in superseded] or finals
    final = standing[-1] if standing else None
    answer = final if final is not None else by_time[-1]
    status: Status = "open"
    if final is not None:
        status = "approved" if final.decision == "approved" else "denied" if final.decision == "denied" else "open"
    return RequestOutcome(
        priority=answer.priority,
        line_of_business=answer.line_of_business,
        received_at=min(d.received_at for d in dets),
        status=status,
        final=final,
        latest=answer,
        pend_reasons=frozenset(d.pend_reason for d in dets if d.pend_reason is not None),
        engine_clinical_review=any(
            d.decision == "pended" and d.pend_reason == "clinical_review" and decider(d) == "engine" for d in dets
        ),
        finals=len({d.determination_id for d in finals}),
    )


# --- the report ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CountRow:
    key: str
    requests: int
    approved: int
    denied: int
    open: int


@dataclass(frozen=True)
class TimingRow:
    priority: str
    decided: int
    mean_hours: float | None
    median_hours: float | None
    within_clock: int

    @property
    def share_within_clock(self) -> float | None:
        return self.within_clock / self.decided if self.decided else None


@dataclass(frozen=True)
class CriterionRow:
    criterion: str
    code: str
    not_met: int
    missing: int

    @property
    def total(self) -> int:
        return self.not_met + self.missing


@dataclass(frozen=True)
class DeciderRow:
    decider: str
    approved: int
    denied: int

    @property
    def total(self) -> int:
        return self.approved + self.denied


@dataclass(frozen=True)
class Report:
    start: date
    end: date
    as_of: datetime | None
    determinations: int
    """Determinations read (distinct ids), in and out of the range."""
    unreadable: int
    requests: int
    by_priority: list[CountRow]
    by_line_of_business: list[CountRow]
    timing: list[TimingRow]
    criteria: list[CriterionRow]
    pend_reasons: list[CountRow]
    deciders: list[DeciderRow]
    clinical_review_pended: int
    """Requests in range the engine pended for clinical review."""
    clinical_review_reviewed: int
    """... of which a reviewer made the final decision."""
    clinical_review_approved: int
    """... of which the reviewer approved."""
    open_past_due: int | None
    """Still-open requests whose decision_due_by passed before ``as_of`` (None without ``as_of``)."""
    multiple_finals: int
    """Requests with more than one final determination (a data-quality flag; the latest standing one counts)."""
    totals: CountRow = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "totals", _total("all", self.by_priority))

    @property
    def reviewer_approval_rate(self) -> float | None:
        if not self.clinical_review_reviewed:
            return None
        return self.clinical_review_approved / self.clinical_review_reviewed


def _total(key: str, rows: Iterable[CountRow]) -> CountRow:
    rows = list(rows)
    return CountRow(
        key,
        sum(r.requests for r in rows),
        sum(r.approved for r in rows),
        sum(r.denied for r in rows),
        sum(r.open for r in rows),
    )


def _count_rows(groups: dict[str, list[RequestOutcome]]) -> list[CountRow]:
    return [
        CountRow(
            key,
            len(outs),
            sum(o.status == "approved" for o in outs),
            sum(o.status == "denied" for o in outs),
            sum(o.status == "open" for o in outs),
        )
        for key, outs in groups.items()
    ]


def _timing(priority: str, outs: Sequence[RequestOutcome]) -> TimingRow:
    hours = [h for o in outs if (h := o.hours_to_final) is not None]
    return TimingRow(
        priority,
        len(hours),
        statistics.fmean(hours) if hours else None,
        statistics.median(hours) if hours else None,
        sum(o.within_clock is True for o in outs),
    )


def local_date(ts: datetime) -> date:
    return ts.astimezone(PLAN_TZ).date()


def compute(
    dets: Iterable[PADetermination],
    start: date,
    end: date,
    *,
    as_of: datetime | None = None,
    unreadable: int = 0,
) -> Report:
    """The report over the requests first received from ``start`` to ``end`` (plan time zone, inclusive)."""
    if end < start:
        raise ValueError(f"the range ends ({end}) before it starts ({start})")
    seen: dict[str, PADetermination] = {}
    for d in dets:
        seen.setdefault(d.determination_id, d)
    by_request: dict[str, list[PADetermination]] = {}
    for d in seen.values():
        by_request.setdefault(d.request_id, []).append(d)
    outs = [o for o in map(outcome, by_request.values()) if start <= local_date(o.received_at) <= end]

    by_priority: dict[str, list[RequestOutcome]] = {p: [] for p in PRIORITIES}
    by_lob: dict[str, list[RequestOutcome]] = {}
    for o in outs:
        by_priority.setdefault(o.priority, []).append(o)
        by_lob.setdefault(o.line_of_business, []).append(o)

    criteria: Counter[tuple[str, str, str]] = Counter()
    for o in outs:
        criteria.update({(c.id, c.code or "(none)", c.result) for c in o.latest.criteria if c.result != "met"})
    criterion_rows = sorted(
        (
            CriterionRow(cid, code, criteria[(cid, code, "not_met")], criteria[(cid, code, "missing")])
            for cid, code in {(k[0], k[1]) for k in criteria}
        ),
        key=lambda r: (-r.total, r.criterion, r.code),
    )

    pend_groups: dict[str, list[RequestOutcome]] = {r: [] for r in ("clinical_review", "missing_information")}
    for o in outs:
        for reason in o.pend_reasons:
            pend_groups.setdefault(reason, []).append(o)

    decider_counts: Counter[tuple[str, str]] = Counter()
    for o in outs:
        if o.final is not None and o.status != "open":
            by = o.final.decided_by
            label = "engine" if by is None or by.kind == "engine" else f"reviewer ({by.credential or 'unknown'})"
            decider_counts[(label, o.status)] += 1
    labels = sorted({k[0] for k in decider_counts} | {"engine"}, key=lambda s: (s != "engine", s))
    deciders = [DeciderRow(lab, decider_counts[(lab, "approved")], decider_counts[(lab, "denied")]) for lab in labels]

    cr = [o for o in outs if o.engine_clinical_review]
    cr_reviewed = [o for o in cr if o.final is not None and decider(o.final) == "reviewer" and o.status != "open"]
    return Report(
        start=start,
        end=end,
        as_of=as_of,
        determinations=len(seen),
        unreadable=unreadable,
        requests=len(outs),
        by_priority=_count_rows(by_priority),
        by_line_of_business=_count_rows(dict(sorted(by_lob.items()))),
        timing=[_timing(p, g) for p, g in by_priority.items()] + [_timing("all", outs)],
        criteria=criterion_rows,
        pend_reasons=_count_rows(pend_groups),
        deciders=deciders,
        clinical_review_pended=len(cr),
        clinical_review_reviewed=len(cr_reviewed),
        clinical_review_approved=sum(o.status == "approved" for o in cr_reviewed),
        open_past_due=None
        if as_of is None
        else sum(o.status == "open" and o.latest.decision_due_by < as_of for o in outs),
        multiple_finals=sum(o.finals > 1 for o in outs),
    )


# --- input --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParseError:
    line: int
    message: str


def parse_lines(lines: Iterable[bytes]) -> tuple[list[PADetermination], list[ParseError]]:
    """Determinations from JSON Lines; blank lines skipped, an unreadable line kept as an error
    (its line number and the first problem, never its content)."""
    dets: list[PADetermination] = []
    errors: list[ParseError] = []
    for n, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            dets.append(PADetermination.model_validate_json(raw))
        except ValidationError as exc:
            first = exc.errors(include_input=False, include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"]) or "(document)"
            errors.append(ParseError(n, f"{where}: {first['msg']}"))
    return dets, errors


# --- tables (shared by HTML and CSV) --------------------------------------------------------


def _hours(v: float | None) -> str:
    return "" if v is None else f"{v:.1f}"


def _pct(v: float | None) -> str:
    return "" if v is None else f"{100 * v:.1f}"


def tables(report: Report) -> dict[str, tuple[list[str], list[list[str]]]]:
    """Each section's table as (header, rows) of strings, keyed by the CSV file's stem."""
    count_header = ["requests", "approved", "denied", "still_open"]

    def counts(rows: list[CountRow], total: bool = True) -> list[list[str]]:
        out = [[r.key, str(r.requests), str(r.approved), str(r.denied), str(r.open)] for r in rows]
        if total:
            t = _total("all", rows)
            out.append([t.key, str(t.requests), str(t.approved), str(t.denied), str(t.open)])
        return out

    return {
        "requests_by_priority": (["priority", *count_header], counts(report.by_priority)),
        "requests_by_line_of_business": (["line_of_business", *count_header], counts(report.by_line_of_business)),
        "time_to_final_decision": (
            ["priority", "decided", "mean_hours", "median_hours", "decided_within_clock", "percent_within_clock"],
            [
                [
                    t.priority,
                    str(t.decided),
                    _hours(t.mean_hours),
                    _hours(t.median_hours),
                    str(t.within_clock),
                    _pct(t.share_within_clock),
                ]
                for t in report.timing
            ],
        ),
        "criteria_not_met_or_missing": (
            ["criterion", "code", "not_met", "missing", "requests"],
            [[c.criterion, c.code, str(c.not_met), str(c.missing), str(c.total)] for c in report.criteria],
        ),
        "pend_reasons": (["pend_reason", *count_header], counts(report.pend_reasons, total=False)),
        "decisions_by_decider": (
            ["decided_by", "approved", "denied", "final_decisions"],
            [[d.decider, str(d.approved), str(d.denied), str(d.total)] for d in report.deciders],
        ),
    }


def write_csv(report: Report, directory: Path) -> list[Path]:
    """One CSV per table in ``directory`` (created if missing); returns the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for stem, (header, rows) in tables(report).items():
        path = directory / f"{stem}.csv"
        with path.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            w.writerows(rows)
        paths.append(path)
    return paths


# --- charts ---------------------------------------------------------------------------------

GREEN: Final = "#2e7d32"
RED: Final = "#c62828"
AMBER: Final = "#f9a825"
BLUE: Final = "#1565c0"
TEAL: Final = "#00838f"
GREY: Final = "#6d6d6d"


@dataclass(frozen=True)
class Series:
    name: str
    colour: str
    values: list[float]


def bar_chart(
    title: str,
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    stacked: bool = True,
    unit: str = "",
    maximum: float | None = None,
) -> str:
    """A horizontal bar chart as inline SVG: one row per category, its series stacked or side by side.
    Every bar is a ``<rect class="bar">`` with a ``<title>`` (the value); an empty chart says so."""
    e = html.escape
    if stacked:
        peak = max((sum(s.values[i] for s in series) for i in range(len(categories))), default=0.0)
    else:
        peak = max((v for s in series for v in s.values), default=0.0)
    scale_max = maximum if maximum is not None else peak
    if peak <= 0:
        categories = []  # nothing to draw: say so instead of a column of zeros
    label_w = min(360, max(90, 20 + 7.6 * max((len(c) for c in categories), default=0)))
    bar_w, row_h, top, legend_h = 460, 26 if stacked else 14 * len(series) + 12, 28, 24
    width = label_w + bar_w + 80
    height = top + max(1, len(categories)) * row_h + legend_h + 8
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-label="{e(title)}">',
        f'<text x="0" y="16" class="chart-title">{e(title)}</text>',
    ]
    if not categories:
        parts.append(f'<text x="{label_w}" y="{top + 16}" class="empty">no data in this range</text>')
    for i, cat in enumerate(categories):
        y = top + i * row_h
        parts.append(f'<text x="{label_w - 8}" y="{y + row_h / 2 + 4:.1f}" text-anchor="end">{e(cat)}</text>')
        x = float(label_w)
        for j, s in enumerate(series):
            v = s.values[i]
            w = bar_w * v / scale_max if scale_max > 0 else 0.0
            shown = f"{v:g}{unit}" if unit else f"{v:g}"
            if stacked:
                if v > 0:
                    parts.append(
                        f'<rect class="bar" x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" '
                        f'fill="{s.colour}"><title>{e(cat)}, {e(s.name)}: {shown}</title></rect>'
                    )
                x += w
            else:
                by = y + 4 + j * 14
                if v > 0:
                    parts.append(
                        f'<rect class="bar" x="{label_w}" y="{by}" width="{w:.1f}" height="12" '
                        f'fill="{s.colour}"><title>{e(cat)}, {e(s.name)}: {shown}</title></rect>'
                    )
                parts.append(f'<text x="{label_w + w + 4:.1f}" y="{by + 10}" class="value">{shown}</text>')
        if stacked:
            total = sum(s.values[i] for s in series)
            parts.append(f'<text x="{x + 4:.1f}" y="{y + row_h / 2 + 4:.1f}" class="value">{total:g}{unit}</text>')
    ly = height - legend_h + 6
    lx = float(label_w)
    for s in series:
        parts.append(f'<rect class="legend" x="{lx:.1f}" y="{ly}" width="12" height="12" fill="{s.colour}"/>')
        parts.append(f'<text x="{lx + 16:.1f}" y="{ly + 10}">{e(s.name)}</text>')
        lx += 24 + 7.5 * len(s.name)
    parts.append("</svg>")
    return "".join(parts)


def _status_chart(title: str, rows: Sequence[CountRow]) -> str:
    return bar_chart(
        title,
        [r.key for r in rows],
        [
            Series("approved", GREEN, [float(r.approved) for r in rows]),
            Series("denied", RED, [float(r.denied) for r in rows]),
            Series("still open", AMBER, [float(r.open) for r in rows]),
        ],
    )


# --- HTML -----------------------------------------------------------------------------------

SECTIONS: Final = (
    ("requests-by-priority", "Requests by priority"),
    ("requests-by-line-of-business", "Requests by line of business"),
    ("time-to-final-decision", "Time to final decision"),
    ("criteria", "Criteria most often not met or missing"),
    ("pend-reasons", "Pend reasons"),
    ("deciders", "Engine and reviewer decisions"),
)
"""(anchor id, heading) of every section, in order; the Chromium test checks each."""

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:2rem auto;max-width:64rem;
color:#1b1b1b;padding:0 1rem;line-height:1.4}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.25rem;margin-top:2.2rem;border-bottom:2px solid #ddd}
.meta{color:#555;margin:.2rem 0}.note{color:#555;font-size:.9rem}
table{border-collapse:collapse;margin:.8rem 0;font-size:.92rem}
th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}th{background:#f2f2f2}td.n{text-align:right}
tr.total td{font-weight:600;background:#fafafa}
.kpis{display:flex;flex-wrap:wrap;gap:.8rem;margin:1rem 0}
.kpi{border:1px solid #ddd;border-radius:6px;padding:.5rem .9rem;min-width:8rem}
.kpi b{display:block;font-size:1.4rem}
svg.chart{display:block;margin:.6rem 0;font-size:12px}svg.chart text{fill:#1b1b1b}
svg.chart .chart-title{font-weight:600;font-size:13px}svg.chart .value{fill:#444}svg.chart .empty{fill:#777}
.warn{color:#8a4b00;font-weight:600}
@media print{h2{break-before:auto}section{break-inside:avoid}}
"""


def _numeric(cell: str) -> bool:
    return cell.replace(".", "", 1).isdigit()


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], total_last: bool = False) -> str:
    e = html.escape
    head = "".join(f"<th>{e(h.replace('_', ' '))}</th>" for h in header)
    body = []
    for i, row in enumerate(rows):
        cls = ' class="total"' if total_last and i == len(rows) - 1 else ""
        cells = "".join(f'<td class="n">{e(c)}</td>' if _numeric(c) else f"<td>{e(c)}</td>" for c in row)
        body.append(f"<tr{cls}>{cells}</tr>")
    if not rows:
        body.append(f'<tr><td colspan="{len(header)}">none in this range</td></tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def render_html(report: Report) -> str:
    """The whole report as one HTML document: inline CSS and SVG, no script, no external resource."""
    e = html.escape
    t = tables(report)
    total = report.totals
    rate = report.reviewer_approval_rate
    decided = next(r for r in report.timing if r.priority == "all")
    kpis = [
        ("requests", str(total.requests)),
        ("approved", str(total.approved)),
        ("denied", str(total.denied)),
        ("still open", str(total.open)),
        ("decided within the clock", f"{_pct(decided.share_within_clock) or 'n/a'}{'%' if decided.decided else ''}"),
    ]
    if report.open_past_due is not None:
        kpis.append(("still open past due", str(report.open_past_due)))
    notes = []
    if report.unreadable:
        notes.append(f'<p class="warn">{report.unreadable} record(s) could not be read and are not counted.</p>')
    if report.multiple_finals:
        notes.append(
            f'<p class="warn">{report.multiple_finals} request(s) have more than one final determination; '
            "the latest one not superseded is counted.</p>"
        )
    as_of = (
        f" Still-open requests past due are counted as of {e(report.as_of.isoformat())}."
        if report.as_of is not None
        else ""
    )
    sec: dict[str, str] = {}
    h, rows = t["requests_by_priority"]
    sec["requests-by-priority"] = _table(h, rows, total_last=True) + _status_chart(
        "Requests by priority and outcome", report.by_priority
    )
    h, rows = t["requests_by_line_of_business"]
    sec["requests-by-line-of-business"] = _table(h, rows, total_last=True) + _status_chart(
        "Requests by line of business and outcome", report.by_line_of_business
    )
    h, rows = t["time_to_final_decision"]
    timing = report.timing
    sec["time-to-final-decision"] = (
        '<p class="note">Hours from receipt (received_at) to the final decision (decided_at), over requests with '
        "a final decision. Within the clock: decided at or before the determination's decision_due_by (72 hours "
        "standard, 24 hours expedited).</p>"
        + _table(h, rows, total_last=True)
        + bar_chart(
            "Hours to final decision, by priority",
            [r.priority for r in timing],
            [
                Series("mean", BLUE, [round(r.mean_hours or 0.0, 1) for r in timing]),
                Series("median", TEAL, [round(r.median_hours or 0.0, 1) for r in timing]),
            ],
            stacked=False,
            unit=" h",
        )
        + bar_chart(
            "Share of final decisions within the clock, by priority",
            [r.priority for r in timing],
            [Series("within the clock", GREEN, [round(100 * (r.share_within_clock or 0.0), 1) for r in timing])],
            stacked=False,
            unit="%",
            maximum=100.0,
        )
    )
    h, rows = t["criteria_not_met_or_missing"]
    top = report.criteria[:15]
    sec["criteria"] = (
        '<p class="note">Requests whose answer (the final determination, or the latest pend of a request still '
        "open) has the criterion not met or missing, by criterion id and finding code (policy/REASONS.md).</p>"
        + _table(h, rows)
        + bar_chart(
            "Criteria not met or missing (requests)",
            [f"{c.criterion} {c.code}" for c in top],
            [
                Series("not met", RED, [float(c.not_met) for c in top]),
                Series("missing", AMBER, [float(c.missing) for c in top]),
            ],
        )
    )
    h, rows = t["pend_reasons"]
    sec["pend-reasons"] = (
        '<p class="note">Requests pended at least once for each reason, and where they stand now.</p>'
        + _table(h, rows)
        + _status_chart("Pended requests by pend reason and outcome", report.pend_reasons)
    )
    h, rows = t["decisions_by_decider"]
    cr_text = (
        f"Reviewers approved {report.clinical_review_approved} of the {report.clinical_review_reviewed} requests the "
        f"engine pended for clinical review that they decided ({_pct(rate)}%)."
        if rate is not None
        else "No request the engine pended for clinical review has a reviewer's final decision in this range."
    )
    awaiting = report.clinical_review_pended - report.clinical_review_reviewed
    sec["deciders"] = (
        '<p class="note">Final decisions by who made them: the engine (approvals only under Medicare Advantage) '
        "or a clinical reviewer, by credential.</p>"
        + _table(h, rows)
        + f'<p id="reviewer-approval-rate">{e(cr_text)} Engine clinical-review pends in range: '
        f"{report.clinical_review_pended}; not decided by a reviewer: {awaiting}.</p>"
        + bar_chart(
            "Final decisions by decider",
            [d.decider for d in report.deciders],
            [
                Series("approved", GREEN, [float(d.approved) for d in report.deciders]),
                Series("denied", RED, [float(d.denied) for d in report.deciders]),
            ],
        )
    )
    body = "".join(f'<section id="{sid}"><h2>{e(title)}</h2>{sec[sid]}</section>' for sid, title in SECTIONS)
    kpi_html = "".join(f'<div class="kpi"><b>{e(v)}</b>{e(k)}</div>' for k, v in kpis)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Prior authorization report {report.start} to {report.end}</title><style>{_CSS}</style></head>"
        "<body><header><h1>Prior authorization report: elranatamab-bcmm (J1323), MP-RX-FP-120-24</h1>"
        f'<p class="meta">Requests received {report.start} to {report.end} (both included, America/Puerto_Rico '
        f"time), {report.requests} request(s) from {report.determinations} determination(s) read.{as_of}</p>"
        '<p class="note">Modelled on the CMS-0057-F public-reporting set (42 CFR 422.122(c)). A request\'s answer '
        "is its final determination (a reviewer's decision supersedes the engine's pend); a request with only pends "
        "is still open. Counts, criterion ids and finding codes only: no member, prescriber or request data.</p>"
        f'{"".join(notes)}<div class="kpis">{kpi_html}</div></header><main>{body}</main></body></html>\n'
    )


def write_report(report: Report, directory: Path) -> tuple[Path, list[Path]]:
    """``report.html`` and the CSV files in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    page = directory / "report.html"
    page.write_text(render_html(report), encoding="utf-8")
    return page, write_csv(report, directory)
