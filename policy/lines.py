"""Prior lines of therapy as IMWG counts them: episodes in time, not line numbers.

IMWG (Rajkumar et al., Blood 2015): a line of therapy is one or more complete cycles of a single
agent, a combination, or a planned sequence (induction, transplant, consolidation, maintenance); a
new line starts when the plan changes because of progression, relapse or toxicity. The contract says
"one entry is one line of therapy, however many agents it combines", so entries are separate lines
unless the request itself shows they are one:

* **one line** (merged, the reading is certain): the same regimen entered twice (same number, or
  the same dates); one combination split over entries that start on the same day, or share a number
  and overlap; a transplant, conditioning, consolidation or maintenance entry after its induction
  (no relapse marked in between), and single-agent maintenance after a transplant; bridging or
  lymphodepletion before the CAR-T or transplant that follows it;
* **a new line**: distinct regimens in sequence (even if numbered alike); the same regimen again in
  a later, separately numbered entry that starts after the earlier one ended;
* **may be one line** (merged for the count, named to the reviewer when the count then falls short):
  distinct regimens whose dates overlap; entries sharing a number with no dates to separate them;
  the same regimen under two numbers without dates to tell a repeat from a duplicate.

Only entries that name an anti-myeloma agent other than a corticosteroid, a transplant or CAR-T
make a line. Supportive care and placeholders are read and never counted; an entry with text the
engine cannot read, a corticosteroid alone, or bridging with nothing after it is *uncertain*: never
counted, named verbatim when the count needs it. Dates that contradict each other (a line that ends
before it starts, line numbers and dates in opposite orders, a line before the member's birth) are
reported, never resolved. The count is the conservative one: an approval rests only on lines the
request positively shows.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from typing import Final, Literal

from contracts.models import PriorLine
from policy.agents import (
    CELL_THERAPIES,
    CLASS_OF,
    STEROIDS,
    TRANSPLANTS,
    AgentReading,
    DrugClass,
    Role,
    read_agent,
)

Kind = Literal["therapy", "requested_drug", "unread", "steroid_only", "supportive", "placeholder"]
Join = Literal["same_line", "split_combination", "planned_sequence", "bridging", "overlap", "undated"]
Contradiction = Literal["ends_before_start", "order", "before_birth", "ends_after_start"]

MAINTENANCE_AGENTS: Final = frozenset(
    {"lenalidomide", "thalidomide", "bortezomib", "ixazomib", "carfilzomib", "daratumumab"}
)
"""Agents given as maintenance after a transplant (IMWG: part of the transplant's line)."""
MAINTENANCE_GAP: Final = timedelta(days=180)
"""Single-agent maintenance starts within months of the transplant; a later start is a new line."""
CERTAIN_JOINS: Final = frozenset({"same_line", "split_combination", "planned_sequence", "bridging"})


@dataclass(frozen=True, slots=True)
class EntryReading:
    """One prior-line entry as read."""

    position: int
    """Its index in the request's ``prior_lines``."""
    line: int
    start: date | None
    end: date | None
    items: tuple[str, ...]
    readings: tuple[AgentReading, ...]
    kind: Kind
    agents: tuple[str, ...]
    roles: frozenset[Role]

    @property
    def unread_items(self) -> tuple[str, ...]:
        return tuple(" ".join(i.split()) for i, r in zip(self.items, self.readings, strict=True) if r.unread)

    @property
    def supportive(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s for r in self.readings for s in r.supportive))


@dataclass(frozen=True, slots=True)
class LinesReading:
    """The prior lines of one request, as IMWG counts them."""

    entries: tuple[EntryReading, ...]
    count: int
    """Lines the request positively shows (uncertain entries left out, may-be-one-line entries merged)."""
    count_if_separate: int
    """The count if every may-be-one-line pair were separate lines."""
    episodes: tuple[tuple[int, ...], ...]
    """The positions of the entries of each counted line, in time order."""
    classes: dict[DrugClass, tuple[str, int]]
    """Each A.ii class found in a counted entry: its first agent and the entry's line number."""
    requested_drug_lines: tuple[int, ...]
    future_lines: tuple[int, ...]
    not_therapy: tuple[EntryReading, ...]
    """Supportive care and placeholders: read, never lines."""
    uncertain: tuple[EntryReading, ...]
    """Never counted: unread text, a corticosteroid alone, bridging with nothing after it."""
    contradictions: tuple[tuple[Contradiction, tuple[int, ...]], ...]
    joins: tuple[tuple[Join, tuple[int, ...]], ...]
    """Entries counted as one line, and why (line numbers)."""
    unread_names: tuple[str, ...] = field(default=())
    """Every item, in any entry, that was not read (verbatim)."""


def _kind(readings: Sequence[AgentReading]) -> Kind:
    if any(r.requested_drug for r in readings):
        return "requested_drug"
    if any(r.therapy for r in readings):
        return "therapy"
    if any(r.unread for r in readings):
        return "unread"
    if any(r.agents for r in readings):
        return "steroid_only"
    if any(r.supportive for r in readings):
        return "supportive"
    return "placeholder"


def read_entry(position: int, entry: PriorLine) -> EntryReading:
    regimen = tuple(entry.regimen)
    readings, kind, agents, roles = read_regimen(regimen)
    return EntryReading(position, entry.line, entry.start_date, entry.end_date, regimen, readings, kind, agents, roles)


@lru_cache(maxsize=8192)
def read_regimen(
    regimen: tuple[str, ...],
) -> tuple[tuple[AgentReading, ...], Kind, tuple[str, ...], frozenset[Role]]:
    """What an entry's names alone say (dates aside): each item's reading, the entry's kind, its agents
    (in order, no repeats) and roles. Memoized: regimens repeat across requests ("VRd", "Dara-Rd")."""
    readings = tuple(read_agent(name) for name in regimen)
    agents = tuple(dict.fromkeys(a for r in readings for a in r.agents))
    roles = frozenset(role for r in readings for role in r.roles)
    return readings, _kind(readings), agents, roles


def lines_key(
    lines: Sequence[PriorLine], received_on: date, born_on: date | None, therapy_from: date | None = None
) -> Hashable:
    """Every input :func:`read_lines` reads, with each date as its distance in days from ``received_on``.

    :func:`read_lines` compares dates with each other and measures the gaps between them, and never
    reads a date in any other way, nor prints one: two requests whose prior lines differ only by a
    shift of every date (and of the receipt and treatment start with them) read alike. The date of
    birth enters only through the comparisons :func:`read_lines` makes with it (a line dated before
    it, a birth date after receipt), so members of different ages share a key. A change to
    :func:`read_lines` that reads a date otherwise must change this key with it
    (``tests/policy/test_determinism.py`` pins both)."""
    rows = []
    earliest = date.max
    for e in lines:
        start, end = e.start_date, e.end_date
        if start is not None and start < earliest:
            earliest = start
        if end is not None and end < earliest:
            earliest = end
        rows.append(
            (
                e.line,
                None if start is None else (start - received_on).days,
                None if end is None else (end - received_on).days,
                *e.regimen,
            )
        )
    born: tuple[bool, ...] | None = None
    if born_on is not None and born_on <= received_on and earliest < born_on:
        # as read_lines reads it: which entries have a date before the birth (none: no tuple)
        born = tuple([any(d is not None and d < born_on for d in (e.start_date, e.end_date)) for e in lines])
    return (None if therapy_from is None else (therapy_from - received_on).days, born, tuple(rows))


class _Groups:
    """Union-find over entry positions."""

    def __init__(self, positions: Sequence[int]) -> None:
        self.parent = {p: p for p in positions}

    def find(self, p: int) -> int:
        while self.parent[p] != p:
            self.parent[p] = self.parent[self.parent[p]]
            p = self.parent[p]
        return p

    def union(self, a: int, b: int) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        self.parent[max(ra, rb)] = min(ra, rb)
        return True

    def count(self) -> int:
        return len({self.find(p) for p in self.parent})


def _overlap(a: EntryReading, b: EntryReading) -> bool:
    """Dated entries whose periods overlap (an entry with no end date ends when the next starts)."""
    assert a.start is not None and b.start is not None
    first, second = (a, b) if a.start <= b.start else (b, a)
    return first.end is not None and second.start is not None and second.start < first.end


def _same_regimen(a: EntryReading, b: EntryReading) -> bool:
    return set(a.agents) == set(b.agents)


def _pair_join(a: EntryReading, b: EntryReading) -> Join | None:
    """How two therapy entries join by number and dates alone, or ``None`` (separate lines)."""
    dated = a.start is not None and b.start is not None
    if a.line == b.line:
        if not dated:
            return "same_line" if _same_regimen(a, b) else "undated"
        if a.start == b.start or _overlap(a, b) or _same_regimen(a, b):
            return "same_line"
        return None  # distinct regimens in sequence, numbered alike: two lines
    if not dated:
        return "undated" if _same_regimen(a, b) else None
    if a.start == b.start:
        return "split_combination"
    if _overlap(a, b):
        return "same_line" if _same_regimen(a, b) else "overlap"
    if _same_regimen(a, b) and _contiguous(a, b):
        return "same_line"  # one uninterrupted course entered twice; a repeat after a pause is a new line
    return None


CONTIGUOUS: Final = timedelta(days=30)
"""The same regimen restarted within this many days of its end is one uninterrupted course; after a
longer treatment-free interval it is a new line (IMWG: the same regimen again after a relapse)."""


def _contiguous(a: EntryReading, b: EntryReading) -> bool:
    assert a.start is not None and b.start is not None
    first, second = (a, b) if a.start <= b.start else (b, a)
    assert second.start is not None
    return first.end is not None and second.start - first.end <= CONTIGUOUS


def _part_of(e: EntryReading, t: EntryReading) -> bool:
    """``e`` (no therapy of its own) is part of the line of ``t``: same number, and undated or overlapping."""
    if e.line != t.line:
        return False
    if e.start is None or t.start is None:
        return True
    return e.start == t.start or _overlap(e, t)


def _is_transplant_or_cell(e: EntryReading) -> bool:
    return any(a in TRANSPLANTS or a in CELL_THERAPIES for a in e.agents)


def _transplant_only(e: EntryReading) -> bool:
    """The entry is a transplant (with its conditioning), not an induction that ends in one."""
    given = {a for a in e.agents if a not in STEROIDS}
    return bool(given & TRANSPLANTS) and given <= TRANSPLANTS | {"melphalan"}


def _maintenance_after(previous: EntryReading, after_transplant: bool, e: EntryReading) -> bool:
    """Consolidation or single-agent maintenance (at most two agents, IMiD/PI/anti-CD38) soon after a
    line that included a transplant (IMWG: the same line)."""
    if not after_transplant or "relapse" in e.roles:
        return False
    given = [a for a in e.agents if a not in STEROIDS]
    if not given or len(given) > 2 or not set(given) <= MAINTENANCE_AGENTS:
        return False
    if e.start is None or previous.start is None:
        return True
    return e.start - (previous.end or previous.start) <= MAINTENANCE_GAP


def read_lines(
    lines: Sequence[PriorLine], received_on: date, born_on: date | None, therapy_from: date | None = None
) -> LinesReading:
    """Read a request's prior lines and count them as IMWG does (module doc). ``therapy_from``: the
    first day of the requested treatment (an initial request's period); a prior line that ends after
    it is not prior to it (``ends_after_start``: concurrent therapy, or a planned date)."""
    entries = tuple(read_entry(i, e) for i, e in enumerate(lines))
    future = tuple(sorted({e.line for e in entries if e.start is not None and e.start > received_on}))
    past = [e for e in entries if e.start is None or e.start <= received_on]
    requested = tuple(sorted({e.line for e in past if e.kind == "requested_drug"}))

    contradictions: list[tuple[Contradiction, tuple[int, ...]]] = []
    backwards = sorted({e.line for e in past if e.start and e.end and e.end < e.start})
    if backwards:
        contradictions.append(("ends_before_start", tuple(backwards)))
    if therapy_from is not None:
        late = sorted(
            {
                e.line
                for e in past
                if e.end is not None and e.end > therapy_from and e.kind not in ("supportive", "placeholder")
            }
        )
        if late:
            contradictions.append(("ends_after_start", tuple(late)))
    if born_on is not None and born_on <= received_on:
        early = sorted({e.line for e in past if any(d is not None and d < born_on for d in (e.start, e.end))})
        if early:
            contradictions.append(("before_birth", tuple(early)))
    ordered = [e for e in past if e.start is not None and e.kind not in ("supportive", "placeholder")]
    swapped: set[int] = set()
    for a in ordered:
        for b in ordered:
            if a.line < b.line and a.start is not None and b.start is not None and a.start > b.start:
                swapped.update((a.line, b.line))
    if swapped:
        contradictions.append(("order", tuple(sorted(swapped))))

    sequence = sorted([e for e in past if e.kind == "therapy"], key=lambda e: (e.line, e.start or date.max, e.position))
    # an unread or steroid-only entry numbered like a therapy entry, and not after it in time, is part
    # of that line (dexamethasone entered apart from its Kd); otherwise it is uncertain
    uncertain = [e for e in past if e.kind in ("unread", "steroid_only") and not any(_part_of(e, t) for t in sequence)]
    # bridging or lymphodepletion joins the line that follows it; with nothing after it, uncertain
    countable: list[EntryReading] = []
    for k, e in enumerate(sequence):
        if e.roles & {"bridging", "lymphodepletion"} and k == len(sequence) - 1 and not _is_transplant_or_cell(e):
            uncertain.append(e)
        else:
            countable.append(e)

    certain = _Groups([e.position for e in countable])
    loose = _Groups([e.position for e in countable])
    joins: list[tuple[Join, tuple[int, ...]]] = []

    def join(how: Join, a: EntryReading, b: EntryReading) -> None:
        if how in CERTAIN_JOINS:
            certain.union(a.position, b.position)
        if loose.union(a.position, b.position):
            joins.append((how, tuple(sorted({a.line, b.line}))))

    for i, a in enumerate(countable):
        for b in countable[i + 1 :]:
            how = _pair_join(a, b)
            if how is not None:
                join(how, a, b)
    by_position = {e.position: e for e in countable}
    for k in range(1, len(countable)):
        previous, e = countable[k - 1], countable[k]
        if previous.roles & {"bridging", "lymphodepletion"} and not _is_transplant_or_cell(previous):
            join("bridging" if _is_transplant_or_cell(e) else "overlap", previous, e)
        root = certain.find(previous.position)
        after_transplant = any(
            a in TRANSPLANTS for p, x in by_position.items() if certain.find(p) == root for a in x.agents
        )
        planned = e.roles & {"maintenance", "consolidation", "conditioning"} or _transplant_only(e)
        if "relapse" not in e.roles and (planned or _maintenance_after(previous, after_transplant, e)):
            join("planned_sequence", previous, e)

    groups: dict[int, list[int]] = {}
    for e in countable:
        groups.setdefault(loose.find(e.position), []).append(e.position)
    classes: dict[DrugClass, tuple[str, int]] = {}
    for e in countable:
        for agent in e.agents:
            c = CLASS_OF.get(agent)
            if c is not None and (c not in classes or e.line < classes[c][1]):
                classes[c] = (agent, e.line)
    unread_names = tuple(dict.fromkeys(n for e in past for n in e.unread_items))
    return LinesReading(
        entries=entries,
        count=loose.count(),
        count_if_separate=certain.count(),
        episodes=tuple(tuple(g) for g in groups.values()),
        classes=classes,
        requested_drug_lines=requested,
        future_lines=future,
        not_therapy=tuple(e for e in past if e.kind in ("supportive", "placeholder")),
        uncertain=tuple(sorted(uncertain, key=lambda e: e.position)),
        contradictions=tuple(contradictions),
        joins=tuple(joins),
        unread_names=unread_names,
    )
