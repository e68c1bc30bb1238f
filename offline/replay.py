"""``pa-worker replay``: what another engine or settings version decides differently (issue #26 item 2).

    python -m offline.replay --requests requests.jsonl --published determinations.jsonl --out replay/
    python -m offline.replay --requests requests.jsonl --candidate candidate.toml --out replay/
    python -m offline.replay --requests-topic pa.requests.v1 --from 2026-11-01 --to 2026-11-30 \\
        --published-topic pa.determinations.v1 --bootstrap 127.0.0.1:9092 --out replay/

Each request is evaluated by **this** engine at its own ``received_at``
(``policy.evaluate(request, request.received_at, settings)``) and compared with either

* **published**: the engine determinations already published for the same ``request_id`` (a JSON
  Lines file, or the determinations topic read with read_committed). A reviewer's determination
  (``decided_by.kind`` reviewer) is not the engine's and is skipped, counted; or
* **a version**: the same request evaluated under the *baseline* settings (the version in effect on
  its receipt date, :data:`policy.versions.DEFAULT_VERSIONS`, or ``--baseline FILE``).

The *after* side's settings: the version in effect on the receipt date, or a candidate version file
(``--candidate``, TOML or JSON, :func:`policy.versions.parse_version_file`), applied to every request
(``--candidate-applies all``, the default: what the candidate *would* decide for these requests) or
only to requests received on or after its ``effective_from`` in the plan's calendar
(``from-effective-date``, :meth:`policy.versions.Versions.for_receipt`). The automated-denial switch
is the worker's (``PA_ALLOW_AUTOMATED_DENIALS``, or ``--allow-automated-denials``), applied to both
sides' settings.

The diff (:class:`Diff`)
------------------------
* decision transitions with counts, by request type (approved -> pended, pended -> approved, ...);
* pend-reason transitions: a request's *state* is ``approved``, ``denied`` or ``pended/<reason>``;
* criteria whose results changed, by criterion and finding code (``A.ii met prior_lines_met ->
  not_met prior_lines_not_read``), and, for the requests whose state changed, which of those moved
  them (the "drivers");
* unit and period changes between two approvals (``authorization.max_units``, ``valid_from``,
  ``valid_through``);
* up to ``examples`` examples per transition, criterion change, unit and period change: the
  requests with the smallest hashes, so the same input gives the same examples in any order.

Requests appear **only as** :func:`offline.report.request_hash` (the first 16 hex characters of
sha256 over the ``request_id``) and their input position (line number, or partition and offset).
No member, prescriber or raw request id reaches an output; the temporary join files hold the hashes
only.

Streaming, linear, bounded
--------------------------
Requests are read, evaluated and dropped one at a time: only counters and the bounded examples are
kept. Against a *version*, each request is compared as it is read: constant memory. Against
*published* determinations the two streams are joined by ``request_id`` with a hash-partitioned
(grace) join: each side's compact summary (hashed id, decision, reason, criteria results and codes,
units, period, as a :mod:`marshal` row: about 0.4 KB) is appended to one of ``buckets`` temporary
files by the hash; at the end each bucket is joined on its own. Time: linear (every record is written
and read once more). Disk: about 0.4 KB per request and per published determination. Memory: one
bucket's published summaries, at most about (published determinations / ``buckets``) x 2 KB (200,000
determinations in 64 buckets: ~6 MB), plus the examples. ``cold`` (``--cold``) empties the engine's
memo tables before each evaluation: each request decided as if it were the first. The first
determination published for a ``request_id`` is compared; later ones are counted as duplicates (the
worker publishes one per ``request_id``); a request repeated in the input is compared once (the
first).

Bad input
---------
A line (record) that cannot be read is counted and named (its position and why, never its
content) in ``unreadable.csv`` and the report, and the run goes on: requests are classified by the
worker's own :func:`worker.handler.decode_request` (``not_json``, ``validation_error``), published
determinations by the fields the diff reads (``not_json``, ``not_a_determination``).

Outputs: ``report.html`` (one self-contained page with charts, :mod:`offline.replay_report`),
``meta.csv``, one CSV per table, ``examples.csv`` and ``unreadable.csv`` in ``--out``. Exit status:
**0** written; **1** written, but some input could not be read; **2** nothing written (bad arguments,
a missing file or topic, a version file that does not validate); **3** written, but no request was
compared.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import gzip
import hashlib
import marshal
import shlex
import struct
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import IO, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contracts import PADetermination, PARequest
from offline.evaluate import ERROR_KIND, MAX_MESSAGE_BYTES
from offline.report import HASH_CHARS
from policy import evaluate
from policy.criteria import clear_memo
from policy.settings import PolicySettings, zone
from policy.versions import DEFAULT_VERSIONS, ENGINE_VERSION, PolicyVersion, VersionError, Versions, parse_version_file
from worker.handler import Rejection, decode_request

Side = Literal["requests", "published"]
Applies = Literal["all", "from-effective-date"]

EXIT_OK: Final = 0
EXIT_UNREADABLE: Final = 1
EXIT_NOTHING_WRITTEN: Final = 2
EXIT_EMPTY: Final = 3

DEFAULT_BUCKETS: Final = 64
DEFAULT_EXAMPLES: Final = 5
UNREADABLE_KEPT: Final = 50
"""Unreadable records named in the report itself; ``unreadable.csv`` names every one."""
ABSENT: Final = "absent"
"""The result of a criterion one side does not have (another request type, or a criterion added)."""

_LENGTH: Final = struct.Struct("<I")

CRITERION_ORDER: Final = ("LOB", "A.i", "A.ii", "A.iii", "A.docs", "B.i", "B.docs.A", "B.docs.B", "QL")

# --- what is compared ----------------------------------------------------------------------------

Criterion = tuple[str, str, str]
"""(criterion id, result, finding code or "")."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a replay compares of one determination: no ids, no texts."""

    decision: str
    pend_reason: str | None
    criteria: tuple[Criterion, ...]
    units: int | None
    valid_from: str | None
    valid_through: str | None
    version: str
    """``policy.version``: the settings version that decided it."""
    engine: str | None
    """The engine code's version (``policy.engine_version``; None in determinations of engines before it
    was published)."""

    @property
    def state(self) -> str:
        """``approved``, ``denied`` or ``pended/<pend reason>``."""
        return f"pended/{self.pend_reason}" if self.decision == "pended" else self.decision

    def as_row(self) -> tuple[Any, ...]:
        """The fields as plain tuples, strings, ints and None (what :mod:`marshal` writes)."""
        return (
            self.decision,
            self.pend_reason,
            self.criteria,
            self.units,
            self.valid_from,
            self.valid_through,
            self.version,
            self.engine,
        )

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Outcome:
        decision, reason, criteria, units, vfrom, vthrough, version, engine = row
        return cls(decision, reason, tuple(tuple(c) for c in criteria), units, vfrom, vthrough, version, engine)


def outcome_of(det: PADetermination, engine: str | None = ENGINE_VERSION) -> Outcome:
    """The compared fields of a determination this engine made."""
    auth = det.authorization
    return Outcome(
        det.decision,
        det.pend_reason,
        tuple((c.id, c.result, c.code or "") for c in det.criteria),
        None if auth is None else auth.max_units,
        None if auth is None else auth.valid_from.isoformat(),
        None if auth is None else auth.valid_through.isoformat(),
        det.policy.version,
        det.policy.engine_version or engine,
    )


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Criterion(_Loose):
    id: str = Field(min_length=1, max_length=40)
    result: Literal["met", "not_met", "missing"]
    code: str | None = Field(default=None, max_length=80)


class _Authorization(_Loose):
    valid_from: date
    valid_through: date
    max_units: int


class _Policy(_Loose):
    id: str
    version: str = Field(max_length=60)
    engine_version: str | None = Field(default=None, max_length=60)


class _DecidedBy(_Loose):
    kind: str


class PublishedView(_Loose):
    """The fields of a published ``pa.determination`` the diff reads, and no more: determinations of
    older engine versions (fewer fields, codes since renamed) are read as they are."""

    request_id: str = Field(min_length=1, max_length=128)
    request_type: Literal["initial", "continuation"]
    decision: Literal["approved", "pended", "denied"]
    pend_reason: str | None = None
    criteria: list[_Criterion] = Field(max_length=40)
    authorization: _Authorization | None = None
    policy: _Policy
    decided_by: _DecidedBy | None = None

    def outcome(self) -> Outcome:
        auth = self.authorization
        return Outcome(
            self.decision,
            self.pend_reason if self.decision == "pended" else None,
            tuple((c.id, c.result, c.code or "") for c in self.criteria),
            None if auth is None else auth.max_units,
            None if auth is None else auth.valid_from.isoformat(),
            None if auth is None else auth.valid_through.isoformat(),
            self.policy.version,
            self.policy.engine_version,
        )


def digest(request_id: str) -> str:
    """sha256 of the UTF-8 ``request_id``, hex: its first :data:`~offline.report.HASH_CHARS` characters
    are :func:`offline.report.request_hash`; its first 32 join the two sides."""
    return hashlib.sha256(request_id.encode("utf-8")).hexdigest()


# --- the diff ------------------------------------------------------------------------------------


def _criteria_map(criteria: Iterable[Criterion]) -> dict[str, tuple[str, str]]:
    return {cid: (result, code) for cid, result, code in criteria}


def _order(cid: str) -> tuple[int, str]:
    return (CRITERION_ORDER.index(cid) if cid in CRITERION_ORDER else len(CRITERION_ORDER), cid)


CriterionChange = tuple[str, str, str, str, str]
"""(criterion, before result, before code, after result, after code); codes "" when none."""


def criterion_changes(before: Outcome, after: Outcome) -> list[CriterionChange]:
    """Every criterion whose result or finding code differs, in the policy's order."""
    if before.criteria == after.criteria:
        return []
    b, a = _criteria_map(before.criteria), _criteria_map(after.criteria)
    out: list[CriterionChange] = []
    for cid in sorted(b.keys() | a.keys(), key=_order):
        was, now = b.get(cid, (ABSENT, "")), a.get(cid, (ABSENT, ""))
        if was != now:
            out.append((cid, was[0], was[1], now[0], now[1]))
    return out


def _days(a: str | None, b: str | None) -> int:
    if a is None or b is None:
        return 0
    return (date.fromisoformat(b) - date.fromisoformat(a)).days


def describe_change(change: CriterionChange) -> str:
    """``A.iii missing (ecog_not_current) -> met (ecog_met)``."""
    cid, br, bc, ar, ac = change
    return f"{cid} {br}{f' ({bc})' if bc else ''} -> {ar}{f' ({ac})' if ac else ''}"


@dataclass(frozen=True, slots=True)
class Example:
    request_hash: str
    position: str
    """Where the request was read: ``line 12``, or ``partition 3 offset 1200``."""
    detail: str
    """What changed, in criterion ids, results and finding codes only."""


ExampleKey = tuple[str, ...]


@dataclass
class Diff:
    """Counters over compared requests; memory bounded by the number of distinct transitions (finite
    sets of decisions, reasons, criteria and codes; units and period shifts) and ``examples`` per key."""

    examples_per_key: int = DEFAULT_EXAMPLES
    compared: int = 0
    changed: int = 0
    """Requests with any difference in decision, pend reason, a criterion's result or code, units or period."""
    states: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    """(request type, before state, after state) -> requests, every compared request."""
    criteria: Counter[CriterionChange] = field(default_factory=Counter)
    """Criterion changes -> requests, over every compared request."""
    drivers: Counter[tuple[str, str, CriterionChange]] = field(default_factory=Counter)
    """(before state, after state, criterion change) -> requests, for requests whose state changed."""
    approved_both: int = 0
    units: Counter[tuple[int, int]] = field(default_factory=Counter)
    """(before units, after units) -> requests approved on both sides with other units."""
    periods: Counter[tuple[int, int]] = field(default_factory=Counter)
    """(days valid_from moved, days valid_through moved) -> requests approved on both sides with another period."""
    before_versions: Counter[str] = field(default_factory=Counter)
    after_versions: Counter[str] = field(default_factory=Counter)
    examples: dict[ExampleKey, list[Example]] = field(default_factory=dict)

    def example(self, key: ExampleKey, ex: Example) -> None:
        """Keep the ``examples_per_key`` smallest hashes of ``key``: the same examples in any input order."""
        kept = self.examples.setdefault(key, [])
        if len(kept) >= self.examples_per_key and ex.request_hash >= kept[-1].request_hash:
            return
        kept.append(ex)
        kept.sort(key=lambda e: (e.request_hash, e.position))
        del kept[self.examples_per_key :]

    def add(self, before: Outcome, after: Outcome, request_type: str, request_hash: str, position: str) -> None:
        self.compared += 1
        self.before_versions[
            before.version if before.engine is None else f"{before.version} (engine {before.engine})"
        ] += 1
        self.after_versions[after.version if after.engine is None else f"{after.version} (engine {after.engine})"] += 1
        bs, as_ = before.state, after.state
        self.states[(request_type, bs, as_)] += 1
        changes = criterion_changes(before, after)
        for ch in changes:
            self.criteria[ch] += 1
        unit_change = period_change = False
        if before.decision == "approved" and after.decision == "approved":
            self.approved_both += 1
            if before.units != after.units and before.units is not None and after.units is not None:
                unit_change = True
                self.units[(before.units, after.units)] += 1
            shift = (_days(before.valid_from, after.valid_from), _days(before.valid_through, after.valid_through))
            if shift != (0, 0):
                period_change = True
                self.periods[shift] += 1
        if bs == as_ and not changes and not unit_change and not period_change:
            return
        self.changed += 1
        found = "; ".join(describe_change(c) for c in changes) or "no criterion changed"
        if bs != as_:
            for ch in changes:
                self.drivers[(bs, as_, ch)] += 1
            self.example(("state", bs, as_), Example(request_hash, position, found))
        for ch in changes:
            self.example(("criterion", *ch), Example(request_hash, position, f"{bs} -> {as_}; {found}"))
        if unit_change:
            detail = f"units {before.units} -> {after.units}; {found}"
            self.example(("units", str(before.units), str(after.units)), Example(request_hash, position, detail))
        if period_change:
            detail = (
                f"period {before.valid_from}..{before.valid_through} -> {after.valid_from}..{after.valid_through}"
                f"; {found}"
            )
            self.example(("period", *map(str, shift)), Example(request_hash, position, detail))

    # derived views

    def decisions(self) -> Counter[tuple[str, str]]:
        """(before decision, after decision) -> requests."""
        out: Counter[tuple[str, str]] = Counter()
        for (_, b, a), n in self.states.items():
            out[(b.split("/")[0], a.split("/")[0])] += n
        return out

    def state_pairs(self) -> Counter[tuple[str, str]]:
        out: Counter[tuple[str, str]] = Counter()
        for (_, b, a), n in self.states.items():
            out[(b, a)] += n
        return out


# --- settings of each side -----------------------------------------------------------------------


@dataclass(frozen=True)
class SettingsChoice:
    """Which settings decide a request, by its receipt time, and how the report names them."""

    label: str
    pick: Callable[[datetime], PolicySettings]
    versions: tuple[str, ...]


def _denials(settings: PolicySettings, denials: bool | None) -> PolicySettings:
    if denials is None or settings.allow_automated_denials == denials:
        return settings
    return settings.replace(allow_automated_denials=denials)


def registry_choice(versions: Versions, label: str, denials: bool | None = None) -> SettingsChoice:
    """The version in effect on each request's local receipt date."""
    adjusted = {id(v.settings): _denials(v.settings, denials) for v in versions.versions}

    def pick(received_at: datetime) -> PolicySettings:
        return adjusted[id(versions.for_receipt(received_at))]

    names = tuple(f"{v.settings.version} (from {v.effective_from})" for v in versions.versions)
    return SettingsChoice(label, pick, names)


def fixed_choice(version: PolicyVersion, label: str, denials: bool | None = None) -> SettingsChoice:
    """One version for every request, whatever its receipt date."""
    settings = _denials(version.settings, denials)
    return SettingsChoice(
        label, lambda _: settings, (f"{settings.version} (file; effective {version.effective_from})",)
    )


def candidate_choice(candidate: PolicyVersion | None, applies: Applies, denials: bool | None = None) -> SettingsChoice:
    """The *after* side: the versions this code knows, or a candidate applied to every request or from
    its effective date (the plan's calendar)."""
    if candidate is None:
        return registry_choice(DEFAULT_VERSIONS, "the version in effect on each receipt date", denials)
    if applies == "all":
        return fixed_choice(candidate, f"candidate {candidate.settings.version} for every request", denials)
    return registry_choice(
        DEFAULT_VERSIONS.with_candidate(candidate),
        f"candidate {candidate.settings.version} for requests received from {candidate.effective_from} "
        "(the plan's calendar), the version then in effect before",
        denials,
    )


@dataclass(frozen=True)
class Comparison:
    """Against ``published`` determinations, or against a ``before`` settings choice."""

    after: SettingsChoice
    before: SettingsChoice | None = None
    """None: compare against published determinations."""

    @property
    def kind(self) -> Literal["published", "version"]:
        return "published" if self.before is None else "version"


# --- the run -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Unreadable:
    side: Side
    position: str
    reason: str


@dataclass
class Counts:
    requests_read: int = 0
    requests_unreadable: int = 0
    requests_evaluated: int = 0
    requests_duplicate: int = 0
    """A request_id already read (published comparison: compared once, the first)."""
    requests_unpublished: int = 0
    """Requests with no engine determination published for their request_id."""
    published_read: int = 0
    published_unreadable: int = 0
    published_reviewer: int = 0
    """Reviewers' determinations: not the engine's, not compared."""
    published_duplicate: int = 0
    published_unmatched: int = 0
    """Engine determinations of requests not in the replayed input (normal for a range of a topic)."""


@dataclass
class ReplayResult:
    comparison: Literal["published", "version"]
    before_label: str
    after_label: str
    before_versions: tuple[str, ...]
    after_versions: tuple[str, ...]
    requests_source: str
    published_source: str | None
    diff: Diff
    counts: Counts
    unreadable: list[Unreadable]
    """The first :data:`UNREADABLE_KEPT`; ``unreadable.csv`` holds them all."""
    engine_version: str = ENGINE_VERSION
    buckets: int = DEFAULT_BUCKETS
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    command: str = ""
    started_at: datetime | None = None
    cold: bool = False
    """The engine's memo tables emptied before each evaluation (``--cold``)."""

    @property
    def unreadable_total(self) -> int:
        return self.counts.requests_unreadable + self.counts.published_unreadable

    @property
    def empty(self) -> bool:
        return self.diff.compared == 0


def _reason(exc: ValidationError) -> str:
    errors = exc.errors(include_input=False, include_url=False)
    if any(e["type"] == "json_invalid" for e in errors):
        return "not_json: not a JSON document"
    parts = [f"{'.'.join(str(p) for p in e['loc']) or '$'}: {e['msg']}" for e in errors[:3]]
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return "not_a_determination: " + "; ".join(parts) + more


def _rejection(rej: Rejection) -> str:
    kind = ERROR_KIND.get(rej.error_class, rej.error_class)
    parts = [f"{e.field}: {e.message}" for e in rej.errors[:3]]
    more = f" (and {len(rej.errors) - 3} more)" if len(rej.errors) > 3 else ""
    return f"{kind}: " + "; ".join(parts)[:400] + more


class Replay:
    """Feed requests (:meth:`add_request`) and published determinations (:meth:`add_published`), in
    any order and interleaving, then :meth:`finish`. ``unreadable_out``, when given, receives every
    unreadable record as a CSV row as it is found (the run keeps only the first few)."""

    def __init__(
        self,
        comparison: Comparison,
        *,
        requests_source: str = "requests",
        published_source: str | None = None,
        buckets: int = DEFAULT_BUCKETS,
        examples: int = DEFAULT_EXAMPLES,
        work_dir: Path | None = None,
        unreadable_out: IO[str] | None = None,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        command: str = "",
        cold: bool = False,
    ) -> None:
        if buckets < 1:
            raise ValueError("buckets must be at least 1")
        self.comparison = comparison
        self.requests_source = requests_source
        self.published_source = published_source
        self.buckets = buckets
        self.diff = Diff(examples_per_key=examples)
        self.counts = Counts()
        self.unreadable: list[Unreadable] = []
        self.max_message_bytes = max_message_bytes
        self.command = command
        self.cold = cold
        self._writer = csv.writer(unreadable_out) if unreadable_out is not None else None
        if self._writer is not None:
            self._writer.writerow(["side", "position", "reason"])
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._files: dict[tuple[str, int], IO[bytes]] = {}
        if comparison.kind == "published":
            self._tmp = tempfile.TemporaryDirectory(prefix="pa-replay-", dir=work_dir)
        self._started = datetime.now().astimezone()
        self._t0, self._c0 = time.perf_counter(), time.process_time()

    # input

    def _bad(self, side: Side, position: str, reason: str) -> None:
        if side == "requests":
            self.counts.requests_unreadable += 1
        else:
            self.counts.published_unreadable += 1
        item = Unreadable(side, position, reason)
        if len(self.unreadable) < UNREADABLE_KEPT:
            self.unreadable.append(item)
        if self._writer is not None:
            self._writer.writerow([side, position, reason])

    def _evaluate(self, request: PARequest, choice: SettingsChoice) -> Outcome:
        if self.cold:
            clear_memo()
        at = request.received_at
        return outcome_of(evaluate(request, at, choice.pick(at)))

    def add_request(self, position: str, value: bytes | None) -> None:
        """One ``pa.request`` record: evaluated now, compared now (version) or spilled for the join."""
        self.counts.requests_read += 1
        decoded = decode_request(value, self.max_message_bytes)
        if isinstance(decoded, Rejection):
            self._bad("requests", position, _rejection(decoded))
            return
        try:
            after = self._evaluate(decoded, self.comparison.after)
            before = None if self.comparison.before is None else self._evaluate(decoded, self.comparison.before)
        except Exception as exc:  # an engine bug must not stop the replay of the other requests
            self._bad("requests", position, f"evaluation_error: policy evaluation failed: {type(exc).__name__}")
            return
        self.counts.requests_evaluated += 1
        hexd = digest(decoded.request_id)
        if before is not None:
            self.diff.add(before, after, decoded.request_type, hexd[:HASH_CHARS], position)
            return
        self._spill("new", hexd, (hexd[:32], decoded.request_type, position, after.as_row()))

    def add_published(self, position: str, value: bytes | None) -> None:
        """One published ``pa.determination`` record (published comparison only)."""
        if self.comparison.before is not None:
            raise ValueError("published determinations given to a comparison of two versions")
        self.counts.published_read += 1
        if not value:
            self._bad("published", position, "not_json: empty record")
            return
        try:
            view = PublishedView.model_validate_json(value)
        except ValidationError as exc:
            self._bad("published", position, _reason(exc))
            return
        if view.decided_by is not None and view.decided_by.kind != "engine":
            self.counts.published_reviewer += 1
            return
        hexd = digest(view.request_id)
        self._spill("pub", hexd, (hexd[:32], view.request_type, position, view.outcome().as_row()))

    def _spill(self, side: str, hexd: str, row: tuple[Any, ...]) -> None:
        """Append ``row`` to its bucket's file: a 4-byte length and the row in :mod:`marshal`'s format (the
        files are this run's own, read back by :meth:`_bucket_rows` and deleted)."""
        bucket = int(hexd[:8], 16) % self.buckets
        f = self._files.get((side, bucket))
        if f is None:
            assert self._tmp is not None
            path = Path(self._tmp.name) / f"{side}-{bucket:04d}.bin"
            f = self._files[(side, bucket)] = path.open("ab", buffering=1 << 16)
        data = marshal.dumps(row)
        f.write(_LENGTH.pack(len(data)) + data)

    # the join

    def _bucket_rows(self, side: str, bucket: int) -> Iterator[tuple[Any, ...]]:
        assert self._tmp is not None
        path = Path(self._tmp.name) / f"{side}-{bucket:04d}.bin"
        if not path.exists():
            return
        with path.open("rb") as f:
            while head := f.read(_LENGTH.size):
                (size,) = _LENGTH.unpack(head)
                yield marshal.loads(f.read(size))  # noqa: S302 (this run's own files, in its 0700 temporary directory)

    def _join(self) -> None:
        for f in self._files.values():
            f.close()
        self._files.clear()
        for bucket in range(self.buckets):
            published: dict[str, tuple[Any, ...]] = {}
            for row in self._bucket_rows("pub", bucket):
                if row[0] in published:
                    self.counts.published_duplicate += 1
                else:
                    published[row[0]] = row
            seen: set[str] = set()
            for key, request_type, position, after in self._bucket_rows("new", bucket):
                if key in seen:
                    self.counts.requests_duplicate += 1
                    continue
                seen.add(key)
                pub = published.pop(key, None)
                if pub is None:
                    self.counts.requests_unpublished += 1
                    self.diff.example(
                        ("unpublished",), Example(key[:HASH_CHARS], position, "no engine determination published")
                    )
                    continue
                self.diff.add(
                    Outcome.from_row(pub[3]), Outcome.from_row(after), request_type, key[:HASH_CHARS], position
                )
            self.counts.published_unmatched += len(published)

    def finish(self) -> ReplayResult:
        if self.comparison.kind == "published":
            self._join()
        self.close()
        c = self.comparison
        before_label = "published determinations" if c.before is None else c.before.label
        return ReplayResult(
            comparison=c.kind,
            before_label=before_label,
            after_label=f"this engine ({ENGINE_VERSION}), {c.after.label}",
            before_versions=() if c.before is None else c.before.versions,
            after_versions=c.after.versions,
            requests_source=self.requests_source,
            published_source=self.published_source,
            diff=self.diff,
            counts=self.counts,
            unreadable=self.unreadable,
            buckets=self.buckets,
            seconds=time.perf_counter() - self._t0,
            cpu_seconds=time.process_time() - self._c0,
            command=self.command,
            started_at=self._started,
            cold=self.cold,
        )

    def close(self) -> None:
        for f in self._files.values():
            f.close()
        self._files.clear()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


# --- files ---------------------------------------------------------------------------------------


def read_lines(path: Path | str) -> Iterator[tuple[str, bytes]]:
    """(``line N``, bytes) of every non-blank line of a JSON Lines file (``.gz`` read as gzip; ``-`` is
    stdin), one at a time."""
    if str(path) == "-":
        yield from _numbered(sys.stdin.buffer)
        return
    p = Path(path)
    if p.suffix == ".gz":
        with gzip.open(p, "rb") as gz:
            yield from _numbered(gz)
        return
    with p.open("rb") as f:
        yield from _numbered(f)


def _numbered(f: Iterable[bytes]) -> Iterator[tuple[str, bytes]]:
    for number, raw in enumerate(f, start=1):
        line = raw.strip()
        if line:
            yield f"line {number}", line


def replay_files(
    requests: Path | str,
    comparison: Comparison,
    *,
    published: Path | str | None = None,
    out_dir: Path | None = None,
    buckets: int = DEFAULT_BUCKETS,
    examples: int = DEFAULT_EXAMPLES,
    work_dir: Path | None = None,
    command: str = "",
    cold: bool = False,
) -> ReplayResult:
    """Replay a JSON Lines file of requests against a JSON Lines file of published determinations (or,
    without ``published``, against ``comparison.before``). With ``out_dir``, ``unreadable.csv`` is
    written there as the run goes (the report: :func:`offline.replay_report.write_outputs`)."""
    if (published is None) != (comparison.before is not None):
        raise ValueError("give published determinations exactly when the comparison is against them")
    sink: IO[str] | None = None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        sink = (out_dir / "unreadable.csv").open("w", encoding="utf-8", newline="")
    try:
        run = Replay(
            comparison,
            requests_source=_source_name(requests),
            published_source=None if published is None else _source_name(published),
            buckets=buckets,
            examples=examples,
            work_dir=work_dir,
            unreadable_out=sink,
            command=command,
            cold=cold,
        )
        try:
            if published is not None:
                for position, value in read_lines(published):
                    run.add_published(position, value)
            for position, value in read_lines(requests):
                run.add_request(position, value)
            return run.finish()
        finally:
            run.close()
    finally:
        if sink is not None:
            sink.close()


def _source_name(path: Path | str) -> str:
    return "stdin" if str(path) == "-" else f"file {Path(path).name}"


# --- command line --------------------------------------------------------------------------------


def _moment(value: str, *, end: bool) -> datetime:
    """A date (the plan's calendar: its start, or for an end the start of the next day) or an RFC 3339
    timestamp with offset."""
    tz = zone(DEFAULT_VERSIONS.versions[-1].settings.timezone)
    try:
        day = date.fromisoformat(value)
    except ValueError:
        pass
    else:
        return datetime.combine(day + timedelta(days=1 if end else 0), datetime.min.time(), tzinfo=tz)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD) or an RFC 3339 timestamp: {value!r}") from None
    if moment.utcoffset() is None:
        raise argparse.ArgumentTypeError(f"a timestamp needs its UTC offset: {value!r}")
    return moment


def parse_offsets(value: str) -> dict[int, int] | int:
    """``N`` (every partition) or ``P:N,P:N`` (those partitions)."""
    value = value.strip()
    try:
        if ":" not in value:
            n = int(value)
            if n < 0:
                raise ValueError
            return n
        out: dict[int, int] = {}
        for part in value.split(","):
            p, n = (int(x) for x in part.split(":"))
            if p < 0 or n < 0:
                raise ValueError
            out[p] = n
        return out
    except ValueError:
        raise argparse.ArgumentTypeError(f"offsets are N or P:N,P:N (non-negative integers): {value!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``pa-worker replay`` (``python -m offline.replay``)."""
    src = parser.add_argument_group("requests (one of)")
    src.add_argument("--requests", metavar="FILE", help="pa.request JSON Lines (.gz read as gzip; - for stdin)")
    src.add_argument("--requests-topic", metavar="TOPIC", help="read the requests from this topic (read_committed)")
    rng = parser.add_argument_group("a topic range (with --requests-topic)")
    rng.add_argument(
        "--from",
        dest="start",
        metavar="DATE|TS",
        help="records timestamped from this date (00:00 in the plan's time zone, America/Puerto_Rico) or time",
    )
    rng.add_argument(
        "--to", dest="end", metavar="DATE|TS", help="records timestamped up to this date (included) or before this time"
    )
    rng.add_argument("--from-offset", type=parse_offsets, metavar="N|P:N,...", help="first offset read (included)")
    rng.add_argument(
        "--to-offset", type=parse_offsets, metavar="N|P:N,...", help="offset where reading stops (excluded)"
    )
    cmp_ = parser.add_argument_group("compare with (one of)")
    cmp_.add_argument("--published", metavar="FILE", help="published pa.determination JSON Lines (.gz read as gzip)")
    cmp_.add_argument(
        "--published-topic", metavar="TOPIC", help="the determinations topic (read_committed, to its end at the start)"
    )
    cmp_.add_argument(
        "--baseline",
        metavar="FILE",
        type=Path,
        help="a version file (TOML or JSON) as the before side; without it and without published determinations, "
        "the version in effect on each receipt date",
    )
    parser.add_argument(
        "--candidate",
        metavar="FILE",
        type=Path,
        help="a candidate version file (TOML or JSON: effective_from, version and any PolicySettings field) as the "
        "after side; default: the version in effect on each receipt date",
    )
    parser.add_argument(
        "--candidate-applies",
        choices=("all", "from-effective-date"),
        default="all",
        help="the candidate decides every request (default), or those received from its effective_from on",
    )
    parser.add_argument(
        "--allow-automated-denials",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="the worker's automated-denial switch for both sides (default: PA_ALLOW_AUTOMATED_DENIALS)",
    )
    parser.add_argument("--out", type=Path, default=Path("pa-replay"), help="output directory (default: pa-replay)")
    parser.add_argument("--bootstrap", help="Kafka bootstrap servers (default: KAFKA_BOOTSTRAP_SERVERS)")
    parser.add_argument(
        "--buckets", type=int, default=DEFAULT_BUCKETS, help=f"join partitions on disk (default {DEFAULT_BUCKETS})"
    )
    parser.add_argument(
        "--examples", type=int, default=DEFAULT_EXAMPLES, help=f"examples per change (default {DEFAULT_EXAMPLES})"
    )
    parser.add_argument("--work-dir", type=Path, default=None, help="where the temporary join files go")
    parser.add_argument(
        "--cold",
        action="store_true",
        help="empty the engine's memo tables before each evaluation (slower): each request decided as if it "
        "were the first, whatever was evaluated before it; a difference from a run without it is an engine defect",
    )
    parser.add_argument(
        "--interpretation",
        type=Path,
        default=None,
        help="policy/INTERPRETATION.md, to name the rows each finding code is explained by (default: the one "
        "beside this code, when present)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pa-worker replay",
        description="Replay pa.request events through this engine, each at its received_at, and report what it "
        "decides differently from the published determinations or from another settings version: decision and "
        "pend-reason transitions, criteria whose results changed, unit and period changes, examples (hashed ids). "
        "Writes report.html and CSV files.",
        epilog="exit status: 0 written; 1 written, but some input could not be read (named in unreadable.csv and "
        "the report); 2 nothing written (bad arguments, a missing file or topic, a version file that does not "
        "validate); 3 written, but no request was compared",
    )
    add_arguments(parser)
    return parser


def _version_file(path: Path) -> PolicyVersion:
    fmt: Literal["toml", "json"] = "json" if path.suffix.lower() == ".json" else "toml"
    return parse_version_file(path.read_bytes(), fmt)


def _fail(message: str) -> int:
    print(f"pa-worker replay: {message}", file=sys.stderr)
    return EXIT_NOTHING_WRITTEN


def run(args: argparse.Namespace, argv: Sequence[str] | None = None) -> int:
    """``pa-worker replay`` with parsed ``args`` (:func:`add_arguments`)."""
    from offline.replay_report import summary_text, write_outputs

    if (args.requests is None) == (args.requests_topic is None):
        return _fail("give one of --requests FILE or --requests-topic TOPIC")
    given = [x for x in (args.published, args.published_topic, args.baseline) if x is not None]
    if len(given) > 1:
        return _fail("give at most one of --published, --published-topic and --baseline")
    published_mode = args.published is not None or args.published_topic is not None
    if not published_mode and args.candidate is None:
        return _fail("comparing two versions needs --candidate FILE (or compare with --published / --published-topic)")
    ranged = any(x is not None for x in (args.start, args.end, args.from_offset, args.to_offset))
    if ranged and args.requests_topic is None:
        return _fail("--from, --to, --from-offset and --to-offset select a range of --requests-topic")
    if (args.start is not None or args.end is not None) and (
        args.from_offset is not None or args.to_offset is not None
    ):
        return _fail("give a range by dates (--from/--to) or by offsets (--from-offset/--to-offset), not both")
    if args.buckets < 1 or args.examples < 0:
        return _fail("--buckets must be at least 1 and --examples at least 0")
    for path in (args.requests, args.published):
        if path is not None and path != "-" and not Path(path).is_file():
            return _fail(f"no such file: {path}")
    if args.requests == "-" and args.published == "-":
        return _fail("--requests and --published cannot both be stdin")
    try:
        start = None if args.start is None else _moment(args.start, end=False)
        end = None if args.end is None else _moment(args.end, end=True)
    except argparse.ArgumentTypeError as exc:
        return _fail(str(exc))
    if start is not None and end is not None and end <= start:
        return _fail("--to is before --from")
    denials = args.allow_automated_denials
    worker_settings = None
    if denials is None or args.requests_topic is not None or args.published_topic is not None:
        from worker.config import load

        worker_settings = load()
        if args.bootstrap:
            worker_settings = worker_settings.model_copy(update={"bootstrap_servers": args.bootstrap})
        if denials is None:
            denials = worker_settings.allow_automated_denials
    try:
        candidate = None if args.candidate is None else _version_file(args.candidate)
        baseline = None if args.baseline is None else _version_file(args.baseline)
        after = candidate_choice(candidate, args.candidate_applies, denials)
    except (OSError, VersionError) as exc:
        return _fail(f"version file: {exc}")
    if published_mode:
        comparison = Comparison(after)
    elif baseline is not None:
        comparison = Comparison(after, fixed_choice(baseline, f"baseline {baseline.settings.version}", denials))
    else:
        comparison = Comparison(
            after, registry_choice(DEFAULT_VERSIONS, "the version in effect on each receipt date", denials)
        )
    command = "pa-worker replay " + shlex.join(sys.argv[1:] if argv is None else list(argv))
    args.out.mkdir(parents=True, exist_ok=True)
    with (args.out / "unreadable.csv").open("w", encoding="utf-8", newline="") as sink:
        replay = Replay(
            comparison,
            requests_source=_source_name(args.requests) if args.requests else f"topic {args.requests_topic}",
            published_source=(
                _source_name(args.published)
                if args.published
                else f"topic {args.published_topic}"
                if args.published_topic
                else None
            ),
            buckets=args.buckets,
            examples=args.examples,
            work_dir=args.work_dir,
            unreadable_out=sink,
            command=command,
            cold=args.cold,
        )
        try:
            if args.requests_topic is not None or args.published_topic is not None:
                assert worker_settings is not None
                from aiokafka.errors import KafkaError

                from offline.replay_kafka import TopicRange, TopicReadError, feed_topics

                topic_range = (
                    None
                    if args.requests_topic is None
                    else TopicRange(args.requests_topic, start, end, args.from_offset, args.to_offset)
                )
                try:
                    asyncio.run(
                        feed_topics(
                            replay,
                            worker_settings.kafka_kwargs(),
                            requests=topic_range,
                            published_topic=args.published_topic,
                            published_from=start,
                        )
                    )
                except (TopicReadError, KafkaError, OSError) as exc:
                    return _fail(str(exc))
            if args.published is not None:
                for position, value in read_lines(args.published):
                    replay.add_published(position, value)
            if args.requests is not None:
                for position, value in read_lines(args.requests):
                    replay.add_request(position, value)
            result = replay.finish()
        finally:
            replay.close()
    interpretation = args.interpretation or DEFAULT_INTERPRETATION
    page, csvs = write_outputs(result, args.out, interpretation if interpretation.is_file() else None)
    print(summary_text(result), file=sys.stderr)
    print(f"pa-worker replay: wrote {page} and {len(csvs)} CSV files", file=sys.stderr)
    for bad in result.unreadable[:20]:
        print(f"pa-worker replay: {bad.side} {bad.position} not read: {bad.reason}", file=sys.stderr)
    if result.unreadable_total > 20:
        print(f"pa-worker replay: ... {result.unreadable_total - 20} more in unreadable.csv", file=sys.stderr)
    if result.empty:
        return EXIT_EMPTY
    return EXIT_UNREADABLE if result.unreadable_total else EXIT_OK


DEFAULT_INTERPRETATION: Final = Path(__file__).resolve().parents[1] / "policy" / "INTERPRETATION.md"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m offline.replay [options]`` (``pa-worker replay``)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    with contextlib.suppress(BrokenPipeError):
        return run(args, argv)
    return EXIT_NOTHING_WRITTEN


if __name__ == "__main__":
    raise SystemExit(main())
