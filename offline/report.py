"""``pa-worker report``: the compliance report over ``pa.determination`` and ``pa.notice`` events
(issue #15 item 4; issue #23 items 1, 7 and 8).

Pure: no I/O but :func:`write_csv` and :func:`write_report`, no clock (the as-of time is passed in,
or is the end of the range).

* :func:`parse_lines` / :func:`parse_notices` read JSON Lines (bytes), keeping unreadable lines as
  errors (line number and message, never the content) instead of failing.
* :func:`compute` selects the requests first received from ``start`` to ``end`` (both included, in the
  plan's time zone, America/Puerto_Rico) and gives each its state **as of** the as-of time (default:
  the end of the range, 00:00 of the next day in the plan's zone): only determinations decided and
  notices sent at or before it count; later records are counted in "Method and data". A request's
  answer is its final determination (``final`` true; a reviewer's supersedes the engine's pend); a
  request with none is *still open*, and *open past due* once its ``decision_due_by`` (72 h standard,
  24 h expedited from receipt) is before the as-of time. A final ``approved`` with ``adverse`` true is
  a *partial approval*, counted apart and as adverse; a final approval without ``adverse`` (older
  data) is a full approval.
* Scope: the Medicare Advantage lines (``PolicySettings.medicare_advantage_lines``) unless told
  otherwise; requests on other lines are counted in an "excluded" row only.
* Timeliness = requests decided (or notified) within the clock / (requests decided + open past due).
  *Notified* is measured at the member's first notice (``recipient`` member) of the request's final
  determination where one is on record, else at the decision (and the report says how many final
  decisions have no member notice). Notices are deduplicated by ``notice_id``.
* :func:`render_html` writes one self-contained page (inline CSS, inline SVG bar charts, no script,
  nothing fetched); :func:`write_csv` one CSV per table, ``meta.csv`` (how the report was made) and
  ``requests.csv`` (one row per request, its id hashed: :func:`request_hash`) so every figure can be
  recomputed.

No patient data reaches the report: no member, prescriber or request ids; requests appear only as
the truncated sha256 of their id.
"""

from __future__ import annotations

import csv
import hashlib
import html
import re
import statistics
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Final, Literal, TypeVar
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from contracts.models import PADetermination, PANotice
from policy import DEFAULT_SETTINGS, POLICY_ID, PolicySettings
from policy.label import HCPCS_DESCRIPTION
from policy.settings import zone

PRIORITIES: Final = ("standard", "expedited")
Status = Literal["approved", "partially_approved", "denied", "open"]
HASH_CHARS: Final = 16
"""``request_hash``: this many hex characters (64 bits) of sha256 over the UTF-8 ``request_id``."""

APPROVED_AFTER_APPEAL: Final = (
    "not available in this system: appeals (reconsiderations) and their outcomes are not recorded here"
)
EXTENDED: Final = (
    "not applicable to Part B drug requests: the plan may not extend their decision timeframe (CMS-4180-F)"
)


def request_hash(request_id: str) -> str:
    """The request's id in ``requests.csv``: sha256 of its UTF-8 bytes, the first :data:`HASH_CHARS` hex
    characters. Not a secret: whoever holds the determinations can match them; it keeps raw ids out."""
    return hashlib.sha256(request_id.encode("utf-8")).hexdigest()[:HASH_CHARS]


def end_of_range(end: date, settings: PolicySettings = DEFAULT_SETTINGS) -> datetime:
    """The default as-of time: 00:00 of the day after ``end`` in the plan's time zone."""
    return datetime.combine(end + timedelta(days=1), time(0), tzinfo=zone(settings.timezone))


def policy_effective_date(settings: PolicySettings = DEFAULT_SETTINGS) -> date | None:
    """The UM/CMPC approval date of the policy revision in force: the date ``PolicySettings.version``
    starts with (``2025-12-11.3`` -> 2025-12-11), None when the version does not start with one."""
    try:
        return date.fromisoformat(settings.version[:10])
    except ValueError:
        return None


# --- per request --------------------------------------------------------------------------


def is_final(det: PADetermination) -> bool:
    """``final`` when set; older engine determinations without it are final unless pended."""
    return det.final if det.final is not None else det.decision != "pended"


def decider(det: PADetermination) -> Literal["engine", "reviewer"]:
    return det.decided_by.kind if det.decided_by is not None else "engine"


def decider_label(det: PADetermination) -> str:
    by = det.decided_by
    return "engine" if by is None or by.kind == "engine" else f"reviewer ({by.credential or 'unknown'})"


def status_of(final: PADetermination | None) -> Status:
    """A final approval with ``adverse`` true is a partial approval; without ``adverse`` a full one."""
    if final is None:
        return "open"
    if final.decision == "approved":
        return "partially_approved" if final.adverse else "approved"
    return "denied" if final.decision == "denied" else "open"


def _hours(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() / 3600


@dataclass(frozen=True)
class RequestOutcome:
    """One request's state as of the as-of time (its id only as :func:`request_hash`)."""

    request_hash: str
    priority: str
    line_of_business: str
    in_scope: bool
    received_at: datetime
    due_by: datetime
    """The earliest ``decision_due_by`` of its determinations (they all carry the same one)."""
    status: Status
    final: PADetermination | None
    latest: PADetermination | None
    """The final determination, else the latest one decided by the as-of time (None: none yet)."""
    past_due: bool
    """Still open and due before the as-of time."""
    member_notice_at: datetime | None
    """Sent time of the member's first notice of the final determination (None: none on record)."""
    pend_reasons: frozenset[str]
    engine_clinical_review: bool
    engine_denial: bool
    """A determination denied by the engine alone (decided_by engine, decision denied)."""
    finals: int

    @property
    def decided(self) -> bool:
        return self.status != "open"

    @property
    def hours_to_decision(self) -> float | None:
        return None if self.final is None or not self.decided else _hours(self.received_at, self.final.decided_at)

    @property
    def hours_to_member_notice(self) -> float | None:
        return None if self.member_notice_at is None else _hours(self.received_at, self.member_notice_at)

    @property
    def decided_within_clock(self) -> bool | None:
        return None if self.final is None or not self.decided else self.final.decided_at <= self.due_by

    @property
    def notified_at(self) -> datetime | None:
        """When the member was notified for the clock: the first member notice, never before the decision;
        the decision time when no member notice is on record."""
        if self.final is None or not self.decided:
            return None
        if self.member_notice_at is None:
            return self.final.decided_at
        return max(self.member_notice_at, self.final.decided_at)

    @property
    def notified_within_clock(self) -> bool | None:
        at = self.notified_at
        return None if at is None else at <= self.due_by


def outcome(
    dets: Sequence[PADetermination],
    *,
    as_of: datetime,
    in_scope: bool,
    member_notices: Mapping[str, datetime],
) -> RequestOutcome:
    """One request's state as of ``as_of`` from all its determinations (at least one; those decided
    after ``as_of`` give only its receipt, due time, priority and line)."""
    by_time = sorted(dets, key=lambda d: (d.decided_at, d.determination_id))
    known = [d for d in by_time if d.decided_at <= as_of]
    finals = [d for d in known if is_final(d)]
    superseded = {d.supersedes for d in known if d.supersedes is not None}
    # the answer: a final determination nothing supersedes (the latest of them, should there be two)
    standing = [d for d in finals if d.determination_id not in superseded] or finals
    final = standing[-1] if standing else None
    latest = final if final is not None else (known[-1] if known else None)
    head = latest if latest is not None else by_time[0]
    status = status_of(final)
    due = min(d.decision_due_by for d in dets)
    return RequestOutcome(
        request_hash=request_hash(head.request_id),
        priority=head.priority,
        line_of_business=head.line_of_business,
        in_scope=in_scope,
        received_at=min(d.received_at for d in dets),
        due_by=due,
        status=status,
        final=final if status != "open" else None,
        latest=latest,
        past_due=status == "open" and due < as_of,
        member_notice_at=member_notices.get(final.determination_id) if final is not None else None,
        pend_reasons=frozenset(d.pend_reason for d in known if d.pend_reason is not None),
        engine_clinical_review=any(
            d.decision == "pended" and d.pend_reason == "clinical_review" and decider(d) == "engine" for d in known
        ),
        engine_denial=any(d.decision == "denied" and decider(d) == "engine" for d in known),
        finals=len({d.determination_id for d in finals}),
    )


# --- the report ---------------------------------------------------------------------------


def _share(n: int, d: int) -> float | None:
    return n / d if d else None


@dataclass(frozen=True)
class OutcomeRow:
    """Requests by their state; percentages of approved, partially approved and denied are of ``decided``."""

    key: str
    requests: int
    approved: int
    partially_approved: int
    denied: int
    open: int
    open_past_due: int
    in_scope: bool = True

    @property
    def decided(self) -> int:
        return self.approved + self.partially_approved + self.denied

    @property
    def adverse(self) -> int:
        return self.partially_approved + self.denied


def outcome_row(key: str, outs: Iterable[RequestOutcome], in_scope: bool = True) -> OutcomeRow:
    outs = list(outs)
    c = Counter(o.status for o in outs)
    return OutcomeRow(
        key,
        len(outs),
        c["approved"],
        c["partially_approved"],
        c["denied"],
        c["open"],
        sum(o.past_due for o in outs),
        in_scope,
    )


@dataclass(frozen=True)
class TimelinessRow:
    """Timeliness = within the clock / (decided + open past due)."""

    priority: str
    decided: int
    open_past_due: int
    open_not_due: int
    decided_within_clock: int
    notified_within_clock: int
    without_member_notice: int
    """Final decisions with no member notice on record (measured on the decision time)."""

    @property
    def denominator(self) -> int:
        return self.decided + self.open_past_due

    @property
    def decided_share(self) -> float | None:
        return _share(self.decided_within_clock, self.denominator)

    @property
    def notified_share(self) -> float | None:
        return _share(self.notified_within_clock, self.denominator)


def _timeliness(priority: str, outs: Sequence[RequestOutcome]) -> TimelinessRow:
    return TimelinessRow(
        priority,
        decided=sum(o.decided for o in outs),
        open_past_due=sum(o.past_due for o in outs),
        open_not_due=sum(o.status == "open" and not o.past_due for o in outs),
        decided_within_clock=sum(o.decided_within_clock is True for o in outs),
        notified_within_clock=sum(o.notified_within_clock is True for o in outs),
        without_member_notice=sum(o.decided and o.member_notice_at is None for o in outs),
    )


@dataclass(frozen=True)
class TimingRow:
    """Hours from receipt to the final decision (decided requests only: ``open_excluded`` are not in it),
    and to the member's first notice where one is on record."""

    priority: str
    decided: int
    mean_hours: float | None
    median_hours: float | None
    open_excluded: int
    open_excluded_past_due: int
    notified: int
    mean_hours_to_notice: float | None
    median_hours_to_notice: float | None


def _timing(priority: str, outs: Sequence[RequestOutcome]) -> TimingRow:
    hours = [h for o in outs if (h := o.hours_to_decision) is not None]
    notice = [h for o in outs if o.decided and (h := o.hours_to_member_notice) is not None]
    return TimingRow(
        priority,
        len(hours),
        statistics.fmean(hours) if hours else None,
        statistics.median(hours) if hours else None,
        sum(o.status == "open" for o in outs),
        sum(o.past_due for o in outs),
        len(notice),
        statistics.fmean(notice) if notice else None,
        statistics.median(notice) if notice else None,
    )


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
    partially_approved: int
    denied: int

    @property
    def total(self) -> int:
        return self.approved + self.partially_approved + self.denied


@dataclass(frozen=True)
class DeterminationCounts:
    """Determination records: read = unreadable + duplicates + out_of_range + after_as_of + counted."""

    read: int
    unreadable: int
    duplicates: int
    """The same determination_id again."""
    out_of_range: int
    """Of requests first received outside the range (or after the as-of time)."""
    after_as_of: int
    """Of requests in the range, decided after the as-of time."""
    counted: int
    counted_excluded: int
    """... of ``counted``, on lines outside the scope."""


@dataclass(frozen=True)
class NoticeCounts:
    """Notice records: read = unreadable + duplicates + after_as_of + first_member + other."""

    source: str
    read: int
    unreadable: int
    duplicates: int
    """The same notice_id again (the first one read counts)."""
    after_as_of: int
    first_member: int
    """The member's first notice of the final determination of a request in scope: the ones measured."""
    other: int
    """Prescriber notices, later member notices, notices of pends, of other lines or other ranges."""


@dataclass(frozen=True)
class Items:
    """The items requiring prior authorization under this policy (from the policy settings)."""

    hcpcs: str
    description: str
    policy_id: str
    effective: date | None
    parameter_set: str


@dataclass(frozen=True)
class Report:
    start: date
    end: date
    as_of: datetime
    as_of_default: bool
    timezone: str
    scope: tuple[str, ...]
    medicare_advantage_lines: tuple[str, ...]
    standard_hours: int
    expedited_hours: int
    items: Items
    determinations_source: str
    determinations: DeterminationCounts
    notices: NoticeCounts | None
    """None when no notices source was given: notified timeliness is then not measured."""
    requests: tuple[RequestOutcome, ...]
    """Every request of the range received by the as-of time, in scope or not, by receipt."""
    received_after_as_of: int
    outcomes: list[OutcomeRow]
    """standard, expedited, all (in scope)."""
    excluded: OutcomeRow
    timeliness: list[TimelinessRow]
    timing: list[TimingRow]
    lines: list[OutcomeRow]
    criteria: list[CriterionRow]
    pend_reasons: list[OutcomeRow]
    deciders: list[DeciderRow]
    clinical_review_pended: int
    """Requests in scope the engine pended for clinical review."""
    clinical_review_reviewed: int
    """... of which a reviewer made the final decision,"""
    clinical_review_approved: int
    """... approving in full,"""
    clinical_review_partial: int
    """... approving in part."""
    engine_denials_ma: int
    """Requests of the range on a Medicare Advantage line with a denial by the engine alone."""
    multiple_finals: int
    """Requests with more than one final determination (a data-quality flag; the latest standing one counts)."""
    policy_versions: tuple[str, ...]
    """Policy id and parameter-set version of the determinations counted in scope."""

    @property
    def in_scope(self) -> list[RequestOutcome]:
        return [o for o in self.requests if o.in_scope]

    @property
    def totals(self) -> OutcomeRow:
        return self.outcomes[-1]

    @property
    def empty(self) -> bool:
        """Nothing read, or no request in scope received in the range."""
        return self.determinations.read == 0 or self.totals.requests == 0

    @property
    def reviewer_approval_rate(self) -> float | None:
        return _share(self.clinical_review_approved, self.clinical_review_reviewed)

    def warnings(self) -> list[str]:
        """The banner's warnings, most serious first (plain text)."""
        out = []
        if self.determinations.read == 0:
            out.append("No determination was read: the input is empty. This report has no figures.")
        elif self.totals.requests == 0:
            later = (
                f" ({self.received_after_as_of} received in the range after the as-of time)"
                if self.received_after_as_of
                else ""
            )
            out.append(
                f"No request in scope was received from {self.start} to {self.end}{later}: the range is empty. "
                "This report has no figures."
            )
        if self.engine_denials_ma:
            out.append(
                f"{self.engine_denials_ma} request(s) on a Medicare Advantage line were denied by the engine alone "
                "(decided_by engine, decision denied). 42 CFR 422.566(d) requires a physician or other appropriate "
                "health care professional to make an adverse decision: review these at once."
            )
        if self.determinations.unreadable:
            out.append(
                f"{self.determinations.unreadable} determination record(s) could not be read and are not counted."
            )
        if self.notices is not None and self.notices.unreadable:
            out.append(f"{self.notices.unreadable} notice record(s) could not be read and are not counted.")
        if self.multiple_finals:
            out.append(
                f"{self.multiple_finals} request(s) have more than one final determination; "
                "the latest one not superseded is counted."
            )
        return out


def local_date(ts: datetime, tz: ZoneInfo | None = None) -> date:
    return ts.astimezone(tz or zone(DEFAULT_SETTINGS.timezone)).date()


def compute(
    dets: Iterable[PADetermination],
    start: date,
    end: date,
    *,
    notices: Iterable[PANotice] | None = None,
    as_of: datetime | None = None,
    unreadable: int = 0,
    notices_unreadable: int = 0,
    scope: Collection[str] | None = None,
    settings: PolicySettings = DEFAULT_SETTINGS,
    determinations_source: str = "",
    notices_source: str = "",
) -> Report:
    """The report over the requests first received from ``start`` to ``end`` (plan time zone, inclusive),
    as of ``as_of`` (default: :func:`end_of_range`). ``notices`` None: no notices source (notified
    timeliness not measured). ``scope``: the lines counted (default: the Medicare Advantage lines)."""
    if end < start:
        raise ValueError(f"the range ends ({end}) before it starts ({start})")
    tz = zone(settings.timezone)
    as_of_default = as_of is None
    at = as_of if as_of is not None else end_of_range(end, settings)
    ma_lines = settings.medicare_advantage_lines
    lines_in_scope = frozenset(scope) if scope is not None else ma_lines

    read = 0
    seen: dict[str, PADetermination] = {}
    for d in dets:
        read += 1
        seen.setdefault(d.determination_id, d)
    by_request: dict[str, list[PADetermination]] = {}
    for d in seen.values():
        by_request.setdefault(d.request_id, []).append(d)

    # notices: deduplicated by notice_id; the member's first notice of each determination
    notice_list = list(notices) if notices is not None else None
    kept: dict[str, PANotice] = {}
    for n in notice_list or ():
        kept.setdefault(n.notice_id, n)
    notices_after = [n for n in kept.values() if n.sent_at > at]
    member_first: dict[str, datetime] = {}
    for n in kept.values():
        if n.sent_at <= at and n.recipient == "member":
            prev = member_first.get(n.determination_id)
            member_first[n.determination_id] = n.sent_at if prev is None else min(prev, n.sent_at)

    outs: list[RequestOutcome] = []
    versions: set[str] = set()
    out_of_range = after_as_of = counted = counted_excluded = received_after = 0
    for group in by_request.values():
        received = min(d.received_at for d in group)
        if not start <= local_date(received, tz) <= end or received > at:
            out_of_range += len(group)
            received_after += start <= local_date(received, tz) <= end
            continue
        late = sum(d.decided_at > at for d in group)
        after_as_of += late
        counted += len(group) - late
        lob = min(group, key=lambda d: (d.decided_at, d.determination_id)).line_of_business
        o = outcome(group, as_of=at, in_scope=lob in lines_in_scope, member_notices=member_first)
        if o.in_scope:
            versions.update(f"{d.policy.id} {d.policy.version}" for d in group if d.decided_at <= at)
        else:
            counted_excluded += len(group) - late
        outs.append(o)
    outs.sort(key=lambda o: (o.received_at, o.request_hash))
    scoped = [o for o in outs if o.in_scope]

    by_priority: dict[str, list[RequestOutcome]] = {p: [] for p in PRIORITIES}
    for o in scoped:
        by_priority.setdefault(o.priority, []).append(o)
    groups = [*by_priority.items(), ("all", scoped)]

    by_lob: dict[tuple[bool, str], list[RequestOutcome]] = {}
    for o in outs:
        by_lob.setdefault((not o.in_scope, o.line_of_business), []).append(o)
    lines = [outcome_row(lob, g, not excluded) for (excluded, lob), g in sorted(by_lob.items())]

    criteria: Counter[tuple[str, str, str]] = Counter()
    for o in scoped:
        if o.latest is not None:
            criteria.update({(c.id, c.code or "(none)", c.result) for c in o.latest.criteria if c.result != "met"})
    criterion_rows = sorted(
        (
            CriterionRow(cid, code, criteria[(cid, code, "not_met")], criteria[(cid, code, "missing")])
            for cid, code in {(k[0], k[1]) for k in criteria}
        ),
        key=lambda r: (-r.total, r.criterion, r.code),
    )

    pend_groups: dict[str, list[RequestOutcome]] = {r: [] for r in ("clinical_review", "missing_information")}
    for o in scoped:
        for reason in sorted(o.pend_reasons):
            pend_groups.setdefault(reason, []).append(o)

    decider_counts: Counter[tuple[str, str]] = Counter()
    for o in scoped:
        if o.final is not None:
            decider_counts[(decider_label(o.final), o.status)] += 1
    labels = sorted({k[0] for k in decider_counts} | {"engine"}, key=lambda s: (s != "engine", s))
    deciders = [
        DeciderRow(
            lab,
            decider_counts[(lab, "approved")],
            decider_counts[(lab, "partially_approved")],
            decider_counts[(lab, "denied")],
        )
        for lab in labels
    ]

    cr = [o for o in scoped if o.engine_clinical_review]
    cr_reviewed = [o for o in cr if o.final is not None and decider(o.final) == "reviewer"]

    notice_counts = None
    if notice_list is not None:
        finals_in_scope = {o.final.determination_id for o in scoped if o.final is not None}
        first_member = sum(det_id in member_first for det_id in finals_in_scope)
        before = len(kept) - len(notices_after)
        notice_counts = NoticeCounts(
            source=notices_source,
            read=len(notice_list) + notices_unreadable,
            unreadable=notices_unreadable,
            duplicates=len(notice_list) - len(kept),
            after_as_of=len(notices_after),
            first_member=first_member,
            other=before - first_member,
        )

    return Report(
        start=start,
        end=end,
        as_of=at,
        as_of_default=as_of_default,
        timezone=settings.timezone,
        scope=tuple(sorted(lines_in_scope)),
        medicare_advantage_lines=tuple(sorted(ma_lines)),
        standard_hours=settings.standard_decision_hours,
        expedited_hours=settings.expedited_decision_hours,
        items=Items(
            hcpcs=settings.hcpcs,
            description=HCPCS_DESCRIPTION,
            policy_id=POLICY_ID,
            effective=policy_effective_date(settings),
            parameter_set=settings.version,
        ),
        determinations_source=determinations_source,
        determinations=DeterminationCounts(
            read=read + unreadable,
            unreadable=unreadable,
            duplicates=read - len(seen),
            out_of_range=out_of_range,
            after_as_of=after_as_of,
            counted=counted,
            counted_excluded=counted_excluded,
        ),
        notices=notice_counts,
        requests=tuple(outs),
        received_after_as_of=received_after,
        outcomes=[outcome_row(k, g) for k, g in groups],
        excluded=outcome_row("excluded (other lines)", (o for o in outs if not o.in_scope), in_scope=False),
        timeliness=[_timeliness(k, g) for k, g in groups],
        timing=[_timing(k, g) for k, g in groups],
        lines=lines,
        criteria=criterion_rows,
        pend_reasons=[outcome_row(k, g) for k, g in pend_groups.items()],
        deciders=deciders,
        clinical_review_pended=len(cr),
        clinical_review_reviewed=len(cr_reviewed),
        clinical_review_approved=sum(o.status == "approved" for o in cr_reviewed),
        clinical_review_partial=sum(o.status == "partially_approved" for o in cr_reviewed),
        engine_denials_ma=sum(o.engine_denial and o.line_of_business in ma_lines for o in outs),
        multiple_finals=sum(o.finals > 1 for o in scoped),
        policy_versions=tuple(sorted(versions)),
    )


# --- input --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParseError:
    line: int
    message: str


M = TypeVar("M", PADetermination, PANotice)


def _parse(lines: Iterable[bytes], model: type[M]) -> tuple[list[M], list[ParseError]]:
    items: list[M] = []
    errors: list[ParseError] = []
    for n, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            items.append(model.model_validate_json(raw))
        except ValidationError as exc:
            first = exc.errors(include_input=False, include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"]) or "(document)"
            errors.append(ParseError(n, f"{where}: {first['msg']}"))
    return items, errors


def parse_lines(lines: Iterable[bytes]) -> tuple[list[PADetermination], list[ParseError]]:
    """Determinations from JSON Lines; blank lines skipped, an unreadable line kept as an error
    (its line number and the first problem, never its content)."""
    return _parse(lines, PADetermination)


def parse_notices(lines: Iterable[bytes]) -> tuple[list[PANotice], list[ParseError]]:
    """Notices from JSON Lines, as :func:`parse_lines`."""
    return _parse(lines, PANotice)


# --- tables (CSV) ---------------------------------------------------------------------------


def _fmt_hours(v: float | None) -> str:
    return "" if v is None else f"{v:.1f}"


def _pct(n: int, d: int) -> str:
    """A percentage of ``d`` to one decimal, empty when ``d`` is 0."""
    return f"{100 * n / d:.1f}" if d else ""


def fraction(n: int, d: int) -> str:
    """``n / d (p%)``: a percentage with its numerator and denominator."""
    return f"{n} / {d} ({_pct(n, d)}%)" if d else f"{n} / 0 (n/a)"


def _yes(v: bool | None) -> str:
    return "" if v is None else "yes" if v else "no"


def local_iso(ts: datetime | None, tz: str = DEFAULT_SETTINGS.timezone) -> str:
    return "" if ts is None else ts.astimezone(zone(tz)).isoformat(timespec="seconds")


def local_text(ts: datetime, tz: str = DEFAULT_SETTINGS.timezone) -> str:
    """``2026-12-01 00:00 AST (UTC-04:00)``: the plan's local time with its abbreviation and offset."""
    t = ts.astimezone(zone(tz))
    offset = t.strftime("%z")
    return f"{t:%Y-%m-%d %H:%M} {t.tzname()} (UTC{offset[:3]}:{offset[3:]})"


def _outcome_cells(r: OutcomeRow) -> list[str]:
    d = r.decided
    return [
        str(r.requests),
        str(d),
        str(r.approved),
        _pct(r.approved, d),
        str(r.partially_approved),
        _pct(r.partially_approved, d),
        str(r.denied),
        _pct(r.denied, d),
        str(r.adverse),
        _pct(r.adverse, d),
        str(r.open),
        str(r.open_past_due),
    ]


OUTCOME_HEADER: Final = [
    "requests",
    "decided",
    "approved",
    "percent_approved",
    "partially_approved",
    "percent_partially_approved",
    "denied",
    "percent_denied",
    "adverse",
    "percent_adverse",
    "still_open",
    "open_past_due",
]
STATE_HEADER: Final = ["requests", "approved", "partially_approved", "denied", "still_open", "open_past_due"]


def _state_cells(r: OutcomeRow) -> list[str]:
    return [str(v) for v in (r.requests, r.approved, r.partially_approved, r.denied, r.open, r.open_past_due)]


def tables(report: Report) -> dict[str, tuple[list[str], list[list[str]]]]:
    """Each table as (header, rows) of strings, keyed by the CSV file's stem."""
    measured = report.notices is not None
    excluded = [r for r in report.lines if not r.in_scope]
    return {
        "timeliness": (
            [
                "priority",
                "decided",
                "open_past_due",
                "decided_plus_open_past_due",
                "decided_within_clock",
                "percent_decided_within_clock",
                "notified_within_clock",
                "percent_notified_within_clock",
                "final_decisions_without_member_notice",
                "open_not_yet_due",
            ],
            [
                [
                    t.priority,
                    str(t.decided),
                    str(t.open_past_due),
                    str(t.denominator),
                    str(t.decided_within_clock),
                    _pct(t.decided_within_clock, t.denominator),
                    str(t.notified_within_clock) if measured else "",
                    _pct(t.notified_within_clock, t.denominator) if measured else "",
                    str(t.without_member_notice) if measured else "",
                    str(t.open_not_due),
                ]
                for t in report.timeliness
            ],
        ),
        "outcomes": (
            ["priority", *OUTCOME_HEADER],
            [[r.key, *_outcome_cells(r)] for r in [*report.outcomes, report.excluded]],
        ),
        "time_to_decision": (
            [
                "priority",
                "decided",
                "mean_hours",
                "median_hours",
                "open_excluded",
                "open_excluded_past_due",
                "member_notices",
                "mean_hours_to_member_notice",
                "median_hours_to_member_notice",
            ],
            [
                [
                    t.priority,
                    str(t.decided),
                    _fmt_hours(t.mean_hours),
                    _fmt_hours(t.median_hours),
                    str(t.open_excluded),
                    str(t.open_excluded_past_due),
                    str(t.notified) if measured else "",
                    _fmt_hours(t.mean_hours_to_notice),
                    _fmt_hours(t.median_hours_to_notice),
                ]
                for t in report.timing
            ],
        ),
        "lines_of_business": (
            ["line_of_business", "scope", *STATE_HEADER],
            [[r.key, "in scope" if r.in_scope else "excluded", *_state_cells(r)] for r in report.lines]
            + [["all in scope", "in scope", *_state_cells(report.totals)]]
            + [["all excluded", "excluded", *_state_cells(_sum_rows("all excluded", excluded))]],
        ),
        "criteria_not_met_or_missing": (
            ["criterion", "code", "not_met", "missing", "requests"],
            [[c.criterion, c.code, str(c.not_met), str(c.missing), str(c.total)] for c in report.criteria],
        ),
        "pend_reasons": (
            ["pend_reason", *STATE_HEADER],
            [[r.key, *_state_cells(r)] for r in report.pend_reasons],
        ),
        "decisions_by_decider": (
            ["decided_by", "approved", "partially_approved", "denied", "final_decisions"],
            [
                [d.decider, str(d.approved), str(d.partially_approved), str(d.denied), str(d.total)]
                for d in report.deciders
            ],
        ),
        "items_requiring_prior_authorization": (
            ["hcpcs", "description", "policy", "policy_revision_effective", "parameter_set"],
            [
                [
                    report.items.hcpcs,
                    report.items.description,
                    report.items.policy_id,
                    str(report.items.effective or ""),
                    report.items.parameter_set,
                ]
            ],
        ),
    }


def _sum_rows(key: str, rows: Sequence[OutcomeRow]) -> OutcomeRow:
    return OutcomeRow(
        key,
        sum(r.requests for r in rows),
        sum(r.approved for r in rows),
        sum(r.partially_approved for r in rows),
        sum(r.denied for r in rows),
        sum(r.open for r in rows),
        sum(r.open_past_due for r in rows),
        in_scope=False,
    )


TIMELINESS_DEFINITION: Final = (
    "requests decided (or notified) at or before decision_due_by / (requests decided + requests still open "
    "whose decision_due_by is before the as-of time)"
)
NOTIFIED_DEFINITION: Final = (
    "the member's first notice (recipient member) of the request's final determination, sent at or before the "
    "as-of time, notices deduplicated by notice_id; a notice dated before the decision counts at the decision; "
    "a final decision with no member notice on record is measured at its decision time and counted apart"
)
HASH_DEFINITION: Final = (
    f"request_hash = the first {HASH_CHARS} hex characters of sha256 over the UTF-8 bytes of request_id "
    "(python: hashlib.sha256(request_id.encode()).hexdigest()[:16])"
)


def meta(report: Report) -> list[tuple[str, str]]:
    """``meta.csv``: how the report was made, and the counts of "Method and data"."""
    d, n = report.determinations, report.notices
    excluded_lines = sorted({r.key for r in report.lines if not r.in_scope})
    rows = [
        ("report", f"prior authorization compliance report, {report.items.hcpcs}, {report.items.policy_id}"),
        ("range_from", str(report.start)),
        ("range_to", str(report.end)),
        ("range_basis", f"date of first receipt (received_at) in {report.timezone}, both dates included"),
        ("timezone", report.timezone),
        ("as_of", local_iso(report.as_of, report.timezone)),
        ("as_of_basis", "end of the range (default)" if report.as_of_default else "given (--as-of)"),
        ("scope_lines", " ".join(report.scope)),
        ("medicare_advantage_lines", " ".join(report.medicare_advantage_lines)),
        ("excluded_lines_seen", " ".join(excluded_lines)),
        ("standard_clock_hours", str(report.standard_hours)),
        ("expedited_clock_hours", str(report.expedited_hours)),
        ("clock", "from receipt to the determination's decision_due_by"),
        ("timeliness", TIMELINESS_DEFINITION),
        ("notified", NOTIFIED_DEFINITION if n is not None else "not measured: no notices source given"),
        ("percent_denominator", "percentages of approved, partially approved, denied and adverse are of decided"),
        ("partial_approval", "a final decision 'approved' with adverse true; adverse, counted apart from approvals"),
        ("request_hash", HASH_DEFINITION),
        ("determinations_source", report.determinations_source),
        ("determination_records_read", str(d.read)),
        ("determination_records_unreadable", str(d.unreadable)),
        ("determination_records_duplicate", str(d.duplicates)),
        ("determination_records_out_of_range", str(d.out_of_range)),
        ("determination_records_after_as_of", str(d.after_as_of)),
        ("determination_records_counted", str(d.counted)),
        ("determination_records_counted_excluded_lines", str(d.counted_excluded)),
        ("requests_in_range_received_after_as_of", str(report.received_after_as_of)),
        ("requests_in_scope", str(report.totals.requests)),
        ("requests_excluded", str(report.excluded.requests)),
        ("notices_source", n.source if n is not None else "none given"),
    ]
    if n is not None:
        rows += [
            ("notice_records_read", str(n.read)),
            ("notice_records_unreadable", str(n.unreadable)),
            ("notice_records_duplicate", str(n.duplicates)),
            ("notice_records_after_as_of", str(n.after_as_of)),
            ("notice_records_first_member_notice", str(n.first_member)),
            ("notice_records_other", str(n.other)),
        ]
    rows += [
        ("approved_after_appeal", APPROVED_AFTER_APPEAL),
        ("extended_timeframe", EXTENDED),
        ("hcpcs", f"{report.items.hcpcs} ({report.items.description})"),
        ("policy", report.items.policy_id),
        ("policy_revision_effective", str(report.items.effective or "not recorded in the settings")),
        ("parameter_set", report.items.parameter_set),
        ("policy_versions_in_data", "; ".join(report.policy_versions)),
        ("warnings", " | ".join(report.warnings())),
    ]
    return rows


REQUESTS_HEADER: Final = [
    "request_hash",
    "priority",
    "line_of_business",
    "scope",
    "received_at",
    "decision_due_by",
    "status",
    "open_past_due",
    "decided_at",
    "decided_by",
    "hours_to_decision",
    "decided_within_clock",
    "member_notice_at",
    "hours_to_member_notice",
    "notified_at",
    "notified_within_clock",
    "pend_reasons",
    "engine_clinical_review",
    "engine_denial",
    "final_determinations",
    "findings",
]


def request_rows(report: Report) -> list[list[str]]:
    """``requests.csv``: one row per request (in scope or excluded), every field a figure rests on."""
    tz = report.timezone
    measured = report.notices is not None
    out = []
    for o in report.requests:
        f = o.final
        findings = (
            ";".join(
                sorted({f"{c.id}:{c.code or '(none)'}:{c.result}" for c in o.latest.criteria if c.result != "met"})
            )
            if o.latest is not None
            else ""
        )
        out.append(
            [
                o.request_hash,
                o.priority,
                o.line_of_business,
                "in scope" if o.in_scope else "excluded",
                local_iso(o.received_at, tz),
                local_iso(o.due_by, tz),
                o.status,
                _yes(o.past_due),
                local_iso(f.decided_at if f else None, tz),
                decider_label(f) if f else "",
                "" if (h := o.hours_to_decision) is None else f"{h:.2f}",
                _yes(o.decided_within_clock),
                local_iso(o.member_notice_at, tz),
                "" if (h := o.hours_to_member_notice) is None else f"{h:.2f}",
                local_iso(o.notified_at, tz) if measured else "",
                _yes(o.notified_within_clock) if measured else "",
                ";".join(sorted(o.pend_reasons)),
                _yes(o.engine_clinical_review),
                _yes(o.engine_denial),
                str(o.finals),
                findings,
            ]
        )
    return out


def _write(path: Path, header: Sequence[str], rows: Iterable[Sequence[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def write_csv(report: Report, directory: Path) -> list[Path]:
    """One CSV per table, ``meta.csv`` and ``requests.csv`` in ``directory`` (created if missing)."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = [_write(directory / f"{stem}.csv", h, rows) for stem, (h, rows) in tables(report).items()]
    paths.append(_write(directory / "meta.csv", ["key", "value"], meta(report)))
    paths.append(_write(directory / "requests.csv", REQUESTS_HEADER, request_rows(report)))
    return paths


# --- colours (WCAG 2.1 AA: text 4.5:1, graphics 3:1 on every background they are drawn on) --------

TEXT: Final = "#1b1b1b"
MUTED: Final = "#4a4a4a"
WHITE: Final = "#ffffff"
HEAD_BG: Final = "#f0f0f0"
TOTAL_BG: Final = "#f7f7f7"
BANNER_BG: Final = "#fdecea"
BORDER: Final = "#767676"
GREEN: Final = "#2e7d32"
RED: Final = "#c62828"
PURPLE: Final = "#6a1b9a"
ORANGE: Final = "#a34700"
SLATE: Final = "#546e7a"
BLUE: Final = "#1565c0"
TEAL: Final = "#00695c"

TEXT_COLOURS: Final = (TEXT, MUTED)
"""Every colour text is written in."""
BACKGROUNDS: Final = (WHITE, HEAD_BG, TOTAL_BG, BANNER_BG)
"""Every background text or a graphic is drawn on."""
GRAPHIC_COLOURS: Final = (BORDER, GREEN, RED, PURPLE, ORANGE, SLATE, BLUE, TEAL)
"""Bars (outline and pattern) and borders. Charts are drawn on white; each bar has a gap of white
around it, so no two bar colours touch."""

Fill = Literal["solid", "diagonal", "vertical", "cross", "hollow"]


@dataclass(frozen=True)
class Series:
    """One kind of bar: its name is written beside every bar, and its fill pattern differs from the
    other series' in the chart, so the outcome is never told by hue alone."""

    name: str
    colour: str
    values: list[float]
    fill: Fill = "solid"
    labels: list[str] | None = None
    """The text after each bar's name (default: the value and unit)."""


OUTCOME_SERIES: Final[tuple[tuple[str, str, Fill], ...]] = (
    ("approved", GREEN, "solid"),
    ("partially approved", PURPLE, "vertical"),
    ("denied", RED, "diagonal"),
    ("open past due", ORANGE, "cross"),
    ("open, not yet due", SLATE, "hollow"),
)


def _pattern(pid: str, fill: Fill, colour: str) -> str:
    if fill == "diagonal":
        body = f'<rect width="3" height="6" fill="{colour}"/>'
        return (
            f'<pattern id="{pid}" patternUnits="userSpaceOnUse" width="6" height="6" '
            f'patternTransform="rotate(45)"><rect width="6" height="6" fill="{WHITE}"/>{body}</pattern>'
        )
    if fill == "vertical":
        return (
            f'<pattern id="{pid}" patternUnits="userSpaceOnUse" width="5" height="5">'
            f'<rect width="5" height="5" fill="{WHITE}"/><rect width="2.5" height="5" fill="{colour}"/></pattern>'
        )
    if fill == "cross":
        return (
            f'<pattern id="{pid}" patternUnits="userSpaceOnUse" width="6" height="6">'
            f'<rect width="6" height="6" fill="{WHITE}"/>'
            f'<path d="M0 0L6 6M6 0L0 6" stroke="{colour}" stroke-width="1.5"/></pattern>'
        )
    return ""


def _chart_id(title: str) -> str:
    return "c-" + re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def bar_chart(
    title: str,
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    unit: str = "",
    maximum: float | None = None,
) -> str:
    """A horizontal grouped bar chart as inline SVG: per category one bar per series, each bar written
    ``name: value`` at its end. Every bar, a zero too, is a ``<rect class="bar">`` with a ``<title>``; a
    zero is drawn 2 px wide (class ``zero``). Without categories the chart says so."""
    e = html.escape
    cid = _chart_id(title)
    peak = max((v for s in series for v in s.values), default=0.0)
    scale_max = maximum if maximum is not None else peak
    label_w = min(300, max(90, 16 + 7.2 * max((len(c) for c in categories), default=0)))

    def text_of(s: Series, i: int) -> str:
        shown = s.labels[i] if s.labels is not None else f"{s.values[i]:g}{unit}"
        return f"{s.name}: {shown}"

    longest = max((len(text_of(s, i)) for s in series for i in range(len(categories))), default=0)
    bar_w, bar_h, gap, group_gap, top = 340, 14, 4, 14, 28
    group_h = len(series) * (bar_h + gap) + group_gap
    width = int(label_w + bar_w + 16 + 6.8 * longest)
    height = top + max(1, len(categories)) * group_h + 4
    defs = "".join(_pattern(f"{cid}-{j}", s.fill, s.colour) for j, s in enumerate(series))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{cid}" role="img" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" aria-label="{e(title)}">',
        f"<title>{e(title)}</title>",
        f"<defs>{defs}</defs>" if defs else "",
        f'<text x="0" y="16" class="chart-title">{e(title)}</text>',
    ]
    if not categories:
        parts.append(f'<text x="0" y="{top + 14}" class="value">none in this range</text>')
    for i, cat in enumerate(categories):
        y0 = top + i * group_h
        mid = y0 + (len(series) * (bar_h + gap)) / 2 + 4
        parts.append(f'<text x="{label_w - 8}" y="{mid:.1f}" text-anchor="end">{e(cat)}</text>')
        for j, s in enumerate(series):
            v = s.values[i]
            y = y0 + j * (bar_h + gap)
            w = bar_w * min(v, scale_max) / scale_max if scale_max > 0 else 0.0
            zero = v <= 0 or w < 2
            w = max(w, 2.0)
            fill = s.colour if s.fill == "solid" else WHITE if s.fill == "hollow" else f"url(#{cid}-{j})"
            label = text_of(s, i)
            parts.append(
                f'<rect class="bar{" zero" if zero else ""}" x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" '
                f'fill="{fill}" stroke="{s.colour}" stroke-width="1.5"><title>{e(cat)}, {e(label)}</title></rect>'
            )
            parts.append(f'<text x="{label_w + w + 6:.1f}" y="{y + bar_h - 3}" class="value">{e(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _outcome_chart(title: str, rows: Sequence[OutcomeRow]) -> str:
    def pct_of_decided(n: Sequence[int], rows: Sequence[OutcomeRow]) -> list[str]:
        return [
            f"{v} ({_pct(v, r.decided)}% of {r.decided} decided)" if r.decided else str(v)
            for v, r in zip(n, rows, strict=True)
        ]

    values = [
        [r.approved for r in rows],
        [r.partially_approved for r in rows],
        [r.denied for r in rows],
        [r.open_past_due for r in rows],
        [r.open - r.open_past_due for r in rows],
    ]
    return bar_chart(
        title,
        [r.key for r in rows],
        [
            Series(name, colour, [float(v) for v in vs], fill, pct_of_decided(vs, rows) if k < 3 else None)
            for k, ((name, colour, fill), vs) in enumerate(zip(OUTCOME_SERIES, values, strict=True))
        ],
    )


# --- HTML -----------------------------------------------------------------------------------

SECTIONS: Final = (
    ("timeliness", "Timeliness"),
    ("outcomes", "Approved, partially approved and denied"),
    ("time-to-decision", "Time to decision"),
    ("lines-of-business", "Scope: lines of business"),
    ("criteria", "Criteria most often not met or missing"),
    ("pend-reasons", "Pend reasons"),
    ("deciders", "Engine and reviewer decisions"),
    ("items", "Items requiring prior authorization"),
    ("method", "Method and data"),
)
"""(anchor id, heading) of every section, in order; the Chromium test checks each."""
CHARTED: Final = frozenset(sid for sid, _ in SECTIONS[:7])
"""The sections with a chart."""

_CSS = f"""
body{{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:2rem auto;max-width:68rem;
color:{TEXT};background:{WHITE};padding:0 1rem;line-height:1.4}}
h1{{font-size:1.6rem;margin-bottom:.2rem}}h2{{font-size:1.25rem;margin-top:2.2rem;border-bottom:2px solid {BORDER}}}
.meta{{margin:.2rem 0}}.note{{color:{MUTED};font-size:.92rem}}
table{{border-collapse:collapse;margin:.8rem 0;font-size:.92rem}}
th,td{{border:1px solid {BORDER};padding:.3rem .6rem;text-align:left}}th{{background:{HEAD_BG}}}
td.n{{text-align:right;white-space:nowrap}}
tr.total td{{font-weight:600;background:{TOTAL_BG}}}tr.excluded td{{font-style:italic}}
caption{{text-align:left;font-weight:600;padding:.2rem 0}}
.kpis{{display:flex;flex-wrap:wrap;gap:.8rem;margin:1rem 0}}
.kpi{{border:1px solid {BORDER};border-radius:6px;padding:.5rem .9rem;min-width:9rem;max-width:16rem}}
.kpi b{{display:block;font-size:1.3rem}}
.banner{{background:{BANNER_BG};color:{TEXT};border:2px solid {RED};border-left-width:8px;padding:.6rem .9rem;
margin:.8rem 0;font-weight:600}}
svg.chart{{display:block;margin:.6rem 0;font-size:12px}}svg.chart text{{fill:{TEXT}}}
svg.chart .chart-title{{font-weight:600;font-size:13px}}
dl.method dt{{font-weight:600;margin-top:.5rem}}dl.method dd{{margin-left:1.2rem}}
@media print{{h2{{break-before:auto}}section{{break-inside:avoid}}}}
"""

_NUMERIC = re.compile(r"^[0-9][0-9., /()%a-z]*$")


def _table(
    header: Sequence[str], rows: Sequence[Sequence[str]], classes: Sequence[str] | None = None, caption: str = ""
) -> str:
    e = html.escape
    head = "".join(f'<th scope="col">{e(h)}</th>' for h in header)
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{classes[i]}"' if classes is not None and classes[i] else ""
        cells = "".join(
            f'<th scope="row">{e(c)}</th>'
            if k == 0
            else f'<td class="n">{e(c)}</td>'
            if _NUMERIC.match(c)
            else f"<td>{e(c)}</td>"
            for k, c in enumerate(row)
        )
        body.append(f"<tr{cls}>{cells}</tr>")
    if not rows:
        body.append(f'<tr><td colspan="{len(header)}">none in this range</td></tr>')
    cap = f"<caption>{e(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _note(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


def _section_timeliness(report: Report) -> str:
    measured = report.notices is not None
    rows = [
        [
            t.priority,
            fraction(t.decided_within_clock, t.denominator),
            fraction(t.notified_within_clock, t.denominator) if measured else "not measured",
            str(t.open_past_due),
            str(t.decided),
            str(t.without_member_notice) if measured else "not measured",
            str(t.open_not_due),
        ]
        for t in report.timeliness
    ]
    series = [
        Series(
            "decided within the clock",
            BLUE,
            [100 * (t.decided_share or 0.0) for t in report.timeliness],
            "solid",
            [fraction(t.decided_within_clock, t.denominator) for t in report.timeliness],
        )
    ]
    if measured:
        series.append(
            Series(
                "notified within the clock",
                TEAL,
                [100 * (t.notified_share or 0.0) for t in report.timeliness],
                "diagonal",
                [fraction(t.notified_within_clock, t.denominator) for t in report.timeliness],
            )
        )
    notified = (
        "Notified: at the member's first notice of the request's final determination (recipient member, notices "
        "deduplicated by notice_id; 42 CFR 422.568(b), 422.572(a)), where one is on record; a final decision with no "
        "member notice on record is measured at its decision time and counted in its own column."
        if measured
        else "Notified timeliness is not measured: no notices source was given (--notices or --notices-topic)."
    )
    return (
        _note(
            "Timeliness = requests decided (or notified) within the clock ÷ (requests decided + requests still open "
            f"past due), as of {local_text(report.as_of, report.timezone)}. The clock runs from receipt to the "
            f"determination's decision_due_by: {report.standard_hours} hours standard, {report.expedited_hours} hours "
            "expedited (CMS-4180-F, Part B drugs). Decided: at the final decision. " + notified
        )
        + _table(
            [
                "priority",
                "decided within the clock",
                "notified within the clock",
                "open past due",
                "decided",
                "final decisions with no member notice on record",
                "still open, not yet due (not counted)",
            ],
            rows,
            ["", "", "total"],
        )
        + bar_chart(
            "Timeliness by priority (percent of decided + open past due)",
            [t.priority for t in report.timeliness],
            series,
            maximum=100.0,
        )
    )


def _section_outcomes(report: Report) -> str:
    def cells(r: OutcomeRow) -> list[str]:
        d = r.decided
        return [
            r.key,
            str(r.requests),
            str(d),
            fraction(r.approved, d),
            fraction(r.partially_approved, d),
            fraction(r.denied, d),
            fraction(r.adverse, d),
            str(r.open),
            str(r.open_past_due),
        ]

    rows = [*report.outcomes, report.excluded]
    return (
        _note(
            "Requests in scope by their state as of the as-of time, standard and expedited separately. Percentages "
            "are of the requests decided. A partial approval (approved with fewer units or a shorter period than "
            "asked: adverse true) is adverse and counted apart from the approvals; a final approval without the "
            "adverse field (older data) is a full approval. Requests on lines outside the scope are in the "
            "excluded row only, in no other figure."
        )
        + _table(
            [
                "priority",
                "requests",
                "decided",
                "approved",
                "partially approved",
                "denied",
                "adverse (partially approved + denied)",
                "still open",
                "open past due",
            ],
            [cells(r) for r in rows],
            ["", "", "total", "excluded"],
        )
        + _table(
            ["measure", "value"],
            [["approved after appeal", APPROVED_AFTER_APPEAL], ["extended timeframe", EXTENDED]],
            caption="Other CMS-0057-F measures",
        )
        + _outcome_chart("Requests in scope by priority and state", report.outcomes)
    )


def _section_timing(report: Report) -> str:
    measured = report.notices is not None
    rows = [
        [
            t.priority,
            str(t.decided),
            _fmt_hours(t.mean_hours) or "n/a",
            _fmt_hours(t.median_hours) or "n/a",
            f"{t.open_excluded} ({t.open_excluded_past_due} past due)",
            str(t.notified) if measured else "not measured",
            _fmt_hours(t.mean_hours_to_notice) or "n/a",
            _fmt_hours(t.median_hours_to_notice) or "n/a",
        ]
        for t in report.timing
    ]
    timing = report.timing
    return (
        _note(
            "Hours from receipt (received_at) to the final decision (decided_at), over the requests decided: the "
            "requests still open are not in these figures, and each row says how many it excludes. Hours to the "
            "member's first notice over the decided requests with one on record."
        )
        + _table(
            [
                "priority",
                "decided",
                "mean hours to decision",
                "median hours to decision",
                "open requests excluded",
                "member notices on record",
                "mean hours to member notice",
                "median hours to member notice",
            ],
            rows,
            ["", "", "total"],
        )
        + bar_chart(
            "Hours to final decision, by priority (decided requests only)",
            [f"{r.priority} ({r.open_excluded} open excluded)" for r in timing],
            [
                Series("mean", BLUE, [round(r.mean_hours or 0.0, 1) for r in timing], "solid"),
                Series("median", TEAL, [round(r.median_hours or 0.0, 1) for r in timing], "diagonal"),
            ],
            unit=" h",
        )
    )


def _section_lines(report: Report) -> str:
    header, rows = tables(report)["lines_of_business"]
    classes = ["" if r.in_scope else "excluded" for r in report.lines] + ["total", "total excluded"]
    return (
        _note(
            f"In scope: {', '.join(report.scope)} (the Medicare Advantage lines of the policy settings, "
            "medicare_advantage_lines, unless --scope says otherwise). Other lines are excluded: counted here and "
            "in the excluded row, in no other figure."
        )
        + _table([h.replace("_", " ") for h in header], rows, classes)
        + _outcome_chart(
            "Requests by line of business and state",
            [
                r if r.in_scope else OutcomeRow(f"{r.key} (excluded)", *_state_values(r), in_scope=False)
                for r in report.lines
            ],
        )
    )


def _state_values(r: OutcomeRow) -> tuple[int, int, int, int, int, int]:
    return (r.requests, r.approved, r.partially_approved, r.denied, r.open, r.open_past_due)


def _section_criteria(report: Report) -> str:
    h, rows = tables(report)["criteria_not_met_or_missing"]
    top = report.criteria[:15]
    return (
        _note(
            "Requests in scope whose answer (the final determination, or the latest pend of a request still open) "
            "has the criterion not met or missing, by criterion id and finding code (policy/REASONS.md)."
        )
        + _table([c.replace("_", " ") for c in h], rows)
        + bar_chart(
            "Criteria not met or missing (requests)",
            [f"{c.criterion} {c.code}" for c in top],
            [
                Series("not met", RED, [float(c.not_met) for c in top], "diagonal"),
                Series("missing", ORANGE, [float(c.missing) for c in top], "cross"),
            ],
        )
    )


def _section_pends(report: Report) -> str:
    h, rows = tables(report)["pend_reasons"]
    return (
        _note("Requests in scope pended at least once for each reason, and where they stand now.")
        + _table([c.replace("_", " ") for c in h], rows)
        + _outcome_chart("Pended requests by pend reason and state", report.pend_reasons)
    )


def _section_deciders(report: Report) -> str:
    h, rows = tables(report)["decisions_by_decider"]
    n = report.clinical_review_reviewed
    if n:
        denied = n - report.clinical_review_approved - report.clinical_review_partial
        cr_text = (
            f"Of the {n} requests the engine pended for clinical review that a reviewer decided, reviewers approved "
            f"{fraction(report.clinical_review_approved, n)} in full, {fraction(report.clinical_review_partial, n)} "
            f"in part and denied {fraction(denied, n)}."
        )
    else:
        cr_text = "No request the engine pended for clinical review has a reviewer's final decision in this range."
    awaiting = report.clinical_review_pended - report.clinical_review_reviewed
    ds = report.deciders
    return (
        _note(
            "Final decisions on requests in scope by who made them: the engine (approvals only under Medicare "
            "Advantage) or a clinical reviewer, by credential."
        )
        + _table([c.replace("_", " ") for c in h], rows)
        + f'<p id="reviewer-approval-rate">{html.escape(cr_text)} Engine clinical-review pends in range: '
        f"{report.clinical_review_pended}; not decided by a reviewer: {awaiting}.</p>"
        + bar_chart(
            "Final decisions by decider",
            [d.decider for d in ds],
            [
                Series(name, colour, [float(v) for v in vs], fill)
                for (name, colour, fill), vs in zip(
                    OUTCOME_SERIES[:3],
                    ([d.approved for d in ds], [d.partially_approved for d in ds], [d.denied for d in ds]),
                    strict=True,
                )
            ],
        )
    )


def _section_items(report: Report) -> str:
    it = report.items
    effective = (
        f"{it.effective} (UM/CMPC approval of the revision in force)"
        if it.effective is not None
        else "not recorded in the settings"
    )
    versions = ", ".join(report.policy_versions) or "none"
    return _table(
        ["HCPCS", "description", "policy", "policy revision in effect since", "parameter set"],
        [[it.hcpcs, it.description, it.policy_id, effective, it.parameter_set]],
    ) + _note(f"Policy versions of the determinations counted in scope: {versions}.")


def _section_method(report: Report) -> str:
    e = html.escape
    d, n = report.determinations, report.notices
    tz = report.timezone
    basis = "the end of the range (the default)" if report.as_of_default else "given with --as-of"
    det_text = (
        f"{d.read} read from {report.determinations_source or 'the input'}: {d.unreadable} unreadable, "
        f"{d.duplicates} duplicate (same determination_id), {d.out_of_range} of requests received outside the range"
        f" or after the as-of time, {d.after_as_of} decided after the as-of time; {d.counted} counted "
        f"({d.counted_excluded} of them on excluded lines)."
    )
    if n is None:
        notice_text = "No notices source was given: notified timeliness is not measured."
    else:
        notice_text = (
            f"{n.read} read from {n.source or 'the input'}: {n.unreadable} unreadable, {n.duplicates} duplicate "
            f"(same notice_id: the first read counts), {n.after_as_of} sent after the as-of time; {n.first_member} "
            f"used as the member's first notice of a final decision in scope; {n.other} other (prescriber "
            "notices, later member notices, notices of pends, of excluded lines or of requests outside the range)."
        )
    items = [
        (
            "As of",
            f"{local_text(report.as_of, tz)}: {basis}. Determinations decided and notices sent after it are "
            "not counted; a request without a final decision by then is still open.",
        ),
        (
            "Range",
            f"Requests first received {report.start} to {report.end}, both included, by their date in {tz}. "
            f"Requests in scope: {report.totals.requests}; excluded (other lines): {report.excluded.requests}."
            + (
                f" Received in the range but after the as-of time: {report.received_after_as_of}."
                if report.received_after_as_of
                else ""
            ),
        ),
        ("Determination records", det_text),
        ("Notice records", notice_text),
        (
            "A request's answer",
            "Its final determination (final true; a reviewer's supersedes the engine's pend "
            "through supersedes); older engine determinations without decided_by/final count as the engine's, final "
            "unless pended. Status: approved, partially approved (approved with adverse true), denied, or still open.",
        ),
        (
            "Files",
            "meta.csv: how this report was made and every count above. requests.csv: one row per request "
            f"(in scope or excluded) with every field a figure rests on; {HASH_DEFINITION}. One CSV per table.",
        ),
        (
            "No patient data",
            "No member, prescriber or raw request ids: counts, criterion ids, finding codes and "
            "hashed request ids only.",
        ),
    ]
    return '<dl class="method">' + "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in items) + "</dl>"


def render_html(report: Report) -> str:
    """The whole report as one HTML document: inline CSS and SVG, no script, no external resource."""
    e = html.escape
    measured = report.notices is not None
    everything = report.timeliness[-1]
    kpis = [
        ("decided within the clock", fraction(everything.decided_within_clock, everything.denominator)),
        (
            "notified within the clock",
            fraction(everything.notified_within_clock, everything.denominator) if measured else "not measured",
        ),
        ("open past due", str(everything.open_past_due)),
        (
            "final decisions with no member notice on record",
            str(everything.without_member_notice) if measured else "not measured",
        ),
        ("requests in scope", str(report.totals.requests)),
        ("excluded (other lines)", str(report.excluded.requests)),
    ]
    banners = "".join(f'<div class="banner" role="alert">Warning: {e(w)}</div>' for w in report.warnings())
    renderers = {
        "timeliness": _section_timeliness,
        "outcomes": _section_outcomes,
        "time-to-decision": _section_timing,
        "lines-of-business": _section_lines,
        "criteria": _section_criteria,
        "pend-reasons": _section_pends,
        "deciders": _section_deciders,
        "items": _section_items,
        "method": _section_method,
    }
    body = "".join(
        f'<section id="{sid}"><h2>{e(title)}</h2>{renderers[sid](report)}</section>' for sid, title in SECTIONS
    )
    kpi_html = "".join(f'<div class="kpi"><b>{e(v)}</b>{e(k)}</div>' for k, v in kpis)
    it = report.items
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Prior authorization report {report.start} to {report.end}</title><style>{_CSS}</style></head>"
        f"<body><header><h1>Prior authorization compliance report: {e(it.description)} ({e(it.hcpcs)}), "
        f"policy {e(it.policy_id)}</h1>"
        f'<p class="meta">Requests received {report.start} to {report.end} (both included, {e(report.timezone)} '
        f"time), as of {e(local_text(report.as_of, report.timezone))}. Scope: {e(', '.join(report.scope))}; "
        f"other lines excluded.</p>"
        f'{banners}<div class="kpis">{kpi_html}</div></header><main>{body}</main></body></html>\n'
    )


def write_report(report: Report, directory: Path) -> tuple[Path, list[Path]]:
    """``report.html`` and the CSV files in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    page = directory / "report.html"
    page.write_text(render_html(report), encoding="utf-8")
    return page, write_csv(report, directory)
