"""The criteria of policy MP-RX-FP-120-24, each with its id, the policy's own words, and its check.

Every check returns a :class:`Finding`: ``met``, ``not_met`` or ``missing``, a stable ``code`` for
what was found, the typed ``facts`` it rests on, and the evidence references. :meth:`Criterion.evaluate`
turns it into a ``CriterionResult`` whose ``reason`` (English) and ``reason_es`` (Spanish) are built
from the code and the facts alone (:mod:`policy.reasons`, the catalogue), so each sentence is fit
for a letter and says nothing the facts do not.

Reasons, facts and evidence never carry the member's name, date of birth or member id: evidence holds
document ids and dates, ICD-10-CM codes, line numbers and assessment dates only.

Every calendar date is a local date of the plan (``PolicySettings.timezone``, America/Puerto_Rico):
``Facts.received_on`` is the local date of ``received_at``. Each rule, the policy's words it reads
and the test that pins it are listed in ``policy/INTERPRETATION.md``.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from typing import Final, NamedTuple

from contracts import CriterionResult, Document, PARequest
from contracts._build import build
from contracts.codec import share
from contracts.models import CriterionId, CriterionOutcome, DocumentType
from policy import label
from policy.agents import CLASS_ORDER, CLASS_SHORT, fold
from policy.evidence import currency
from policy.lines import EntryReading, LinesReading, lines_key, read_lines, read_regimen
from policy.reasons import ENTRIES, FactValue, citation_both, quoted_entry, render_both
from policy.schedule import QuantityPlan, add_months
from policy.settings import PolicySettings, line_of_business_code

MAX_EVIDENCE_ITEMS: Final = 50
MAX_EVIDENCE_CHARS: Final = 200

MM_CODES: Final = frozenset({"C9000", "C9001", "C9002"})
"""ICD-10-CM C90.00 (not having achieved remission), C90.01 (in remission), C90.02 (in relapse):
the policy's "C90.00-C90.02", compared without the dot and case-insensitively."""
MM_CATEGORY: Final = "C900"
"""C90.0, the multiple myeloma subcategory itself (the policy history summarises the codes as
"C90.0-C90.02"): myeloma, written without its billable fifth character."""
RELAPSED_OR_REFRACTORY: Final = frozenset({"relapsed", "refractory", "relapsed_and_refractory"})
SUPPORTING_DOCUMENTS: Final[tuple[DocumentType, ...]] = (
    "chart_notes",
    "lab_results",
    "pathology_report",
    "imaging",
    "oncology_note",
)
"""A.docs: the policy's "office chart notes, lab results, pathology reports, imaging studies" plus
oncology notes. A document typed ``other`` does not show what it is, so it never satisfies A.docs
on its own (a reviewer still sees it)."""
OBJECTIVE_MEASURES: Final[tuple[DocumentType, ...]] = ("imaging", "lab_results")

DOC_NAMES: Final[dict[str, str]] = {
    "chart_notes": "chart notes",
    "lab_results": "lab results",
    "pathology_report": "pathology report",
    "imaging": "imaging study",
    "oncology_note": "oncology note",
    "other": "document of type other",
}


_DOC_PREFIX: Final = {kind: f"{name} " for kind, name in DOC_NAMES.items()}


class Finding(NamedTuple):
    outcome: CriterionOutcome
    code: str
    """Stable code of what was found (:data:`policy.reasons.CATALOGUE`)."""
    facts: dict[str, FactValue]
    """The typed values the sentence is built from."""
    evidence: list[str]


CODES: Final[dict[str, tuple[CriterionOutcome, str]]] = {e.code: (e.outcome, e.meaning) for e in ENTRIES}
"""Every finding code, its outcome and its meaning."""


@dataclass(frozen=True, slots=True)
class Facts:
    """What every check may read: the request, the settings, and the dates derived once."""

    request: PARequest
    settings: PolicySettings
    received_on: date
    """Local date (plan's time zone) of ``received_at``: evidence and the requested period are
    measured from it."""
    decided_on: date
    """Local date of the evaluation time ``now``."""
    plan: QuantityPlan
    requested_start: date | None = field(default=None)
    """``drug.requested_start_date`` as submitted (``None``: the period starts on the decision date, or
    the day after the current authorization ends)."""
    restart: Restart | None = field(default=None)
    """A continuation's restart after a dosage delay (label 2.4), when it gives ``last_dose_date``."""
    automated: bool = field(default=False)
    """An unmet criterion is denied without a person (never on a Medicare Advantage line):
    ``settings.denies_automatically(request.line_of_business)``, computed once by ``facts_for``."""
    document_conflicts: tuple[tuple[Document, ...], ...] = field(default=())
    """The request's documents that share an id but not its type and date (R55, :func:`id_conflicts`),
    computed once by ``facts_for`` for every document check."""


class Restart(NamedTuple):
    """The step-up doses a continuation repeats after a dosage delay (label section 2.4).

    The quantity plan already lays them out (:mod:`policy.schedule`): they take the place of the
    period's first doses and are part of its maximum, never added to it."""

    last_dose: date
    last_dose_kind: str
    """``step_up_1``, ``step_up_2`` or ``treatment`` (:func:`policy.label.last_dose_kind`)."""
    days_since: int
    """Days from the last dose to the first day of the period."""
    doses_mg: tuple[int, ...]
    """The step-up doses given again before the next 76 mg dose (:func:`policy.label.restart_doses`)."""
    units: int
    """Their billed units (44 each with whole-vial billing): already in the plan's maximum."""


@dataclass(frozen=True, slots=True)
class Criterion:
    """One criterion as the policy states it."""

    id: CriterionId
    policy_text: str
    """The policy's words."""
    check: Callable[[Facts], Finding]
    memo_key: Callable[[Facts], Hashable] | None = None
    """When set: every input ``check`` reads, as a hashable key. Equal keys (under equal settings)
    give an identical result, so the result is memoized in a bounded table and the same frozen
    ``CriterionResult`` instance is shared by determinations. Not set for checks that read
    per-request identifiers (document ids), which would never repeat."""
    shape: Callable[[Facts], tuple[Hashable, Sequence[Document], Callable[[], DocShape]]] | None = None
    """For the document checks: the documents the check reads (those of its types, in request
    order), the key the finding depends on (the receipt date and each of those documents' type and
    date), and the finding with every document id left out (documents named by their position in
    that list). The shape, its facts and both sentences (which never print an id) are memoized on
    the key; the ids are attached per request (:meth:`_assemble`). ``check`` gives the same
    finding, unmemoized."""

    def evaluate(self, facts: Facts) -> CriterionResult:
        return self.evaluate_with_code(facts)[0]

    def evaluate_with_code(self, facts: Facts) -> tuple[CriterionResult, str]:
        """The result and the finding's code."""
        memo_key = self.memo_key
        if memo_key is None:
            if self.shape is not None:
                return self._assemble(facts)
            return self._evaluate(facts)
        table = _MEMO[self.id]
        key = (facts.settings.fingerprint, facts.automated, memo_key(facts))
        found = table.get(key)
        if found is None:
            found = self._evaluate(facts)
            share(found[0])  # handed to every determination of this key: its JSON is computed once
            if len(table) >= MEMO_LIMIT:
                table.clear()
            table[key] = found
        return found

    def _evaluate(self, facts: Facts) -> tuple[CriterionResult, str]:
        outcome, code, values, evidence = self.check(facts)
        if outcome == "not_met" and facts.automated:
            values = {**values, "automated": True}
        reason, reason_es = render_both(code, values, self.id)
        return _result(self.id, outcome, code, values, reason, reason_es, evidence), code

    def _assemble(self, facts: Facts) -> tuple[CriterionResult, str]:
        """A document check: the memoized shape (and its sentences), the request's ids attached.

        The same values, in the same order, as :meth:`_evaluate` of ``check``: the shape's facts,
        then ``document_ids`` when the finding names documents, then ``automated`` for a
        ``not_met`` under automated denials."""
        assert self.shape is not None
        key_part, documents, compute = self.shape(facts)
        settings = facts.settings
        table = _SHAPES[self.id]
        key = (settings.fingerprint, facts.automated, key_part)
        memo = table.get(key)
        if memo is None:
            shape = compute()
            automated = shape.outcome == "not_met" and facts.automated
            values: dict[str, FactValue] = dict(shape.facts)
            if shape.ids is not None:
                values["document_ids"] = []  # never read by a sentence: the ids are not printed
            if automated:
                values["automated"] = True
            reason, reason_es = render_both(shape.code, values, self.id)
            memo = (shape, automated, reason, reason_es)
            if len(table) >= MEMO_LIMIT:
                table.clear()
            table[key] = memo
        shape, automated, reason, reason_es = memo
        values = dict(shape.facts)
        if shape.ids is not None:
            values["document_ids"] = [documents[i].id for i in shape.ids]
        if automated:
            values["automated"] = True
        evidence = [before + shown_id(documents[i].id) + after for before, i, after in shape.evidence]
        return _result(self.id, shape.outcome, shape.code, values, reason, reason_es, evidence), shape.code


def _result(
    criterion: CriterionId,
    outcome: CriterionOutcome,
    code: str,
    values: dict[str, FactValue],
    reason: str,
    reason_es: str,
    evidence: list[str],
) -> CriterionResult:
    if len(evidence) > MAX_EVIDENCE_ITEMS:
        evidence = [*evidence[: MAX_EVIDENCE_ITEMS - 1], f"and {len(evidence) - MAX_EVIDENCE_ITEMS + 1} more"]
    for i, e in enumerate(evidence):
        if len(e) > MAX_EVIDENCE_CHARS:
            evidence[i] = e[: MAX_EVIDENCE_CHARS - 3] + "..."
    citation, citation_es = citation_both(code)
    return build(
        CriterionResult,
        {
            "id": criterion,
            "result": outcome,
            "reason": reason,
            "evidence": evidence,
            "code": code,
            "facts": values,
            "reason_es": reason_es,
            "citation": citation,
            "citation_es": citation_es,
        },
    )


MEMO_LIMIT: Final = 2048
"""Bound of each criterion's memo table (cleared when full): a few MB of shared results. One
table per criterion, so a criterion whose keys seldom repeat (the period's dates, every
document's date) never evicts the results of one whose keys do (scope, diagnosis, prior lines)."""
_MEMO: defaultdict[str, dict[tuple[str, bool, Hashable], tuple[CriterionResult, str]]] = defaultdict(dict)
_SHAPES: defaultdict[str, dict[tuple[str, bool, Hashable], tuple[DocShape, bool, str, str]]] = defaultdict(dict)
"""The document checks' shapes and sentences (bounded like ``_MEMO``)."""


def clear_memo() -> None:
    """Forget every memoized criterion result (tests compare cold and warm evaluations)."""
    for tables in (_MEMO, _SHAPES):
        for table in tables.values():
            table.clear()


def _dotted(code: str) -> str:
    c = code.upper().replace(".", "")
    return f"{c[:3]}.{c[3:]}" if len(c) > 3 else c


def _iso(d: date) -> str:
    return d.isoformat()


def _floor(received_on: date, window: int) -> str:
    """The earliest date a document may carry to be current at receipt."""
    try:
        return _iso(received_on - timedelta(days=window))
    except OverflowError:
        return _iso(date.min)


# --- LOB -----------------------------------------------------------------------------------------


def check_lob(f: Facts) -> Finding:
    """In scope: ``line_of_business`` is one of the settings' lines and the HCPCS code is J1323
    (both compared case-insensitively, surrounding whitespace ignored: R50)."""
    r, s = f.request, f.settings
    lob, code = r.line_of_business, r.drug.hcpcs
    evidence = [f"line_of_business {lob}", f"hcpcs {code}"]
    plan_ok = line_of_business_code(lob) in s.lines_of_business
    code_ok = code.strip().upper() == s.hcpcs
    facts: dict[str, FactValue] = {"hcpcs": s.hcpcs, "plan_in_scope": plan_ok, "hcpcs_in_scope": code_ok}
    if plan_ok and code_ok:
        return Finding("met", "in_scope", facts, evidence)
    return Finding("not_met", "out_of_scope", facts, evidence)


# --- A.i -----------------------------------------------------------------------------------------


def check_a_i(f: Facts) -> Finding:
    """Initial request: relapsed or refractory multiple myeloma, i.e. a myeloma code (C90.00-C90.02,
    or the subcategory C90.0 written without its fifth character) and ``disease_status`` relapsed,
    refractory or relapsed_and_refractory. No code, or a myeloma code without a status: ``missing``;
    only other codes, or newly diagnosed / in remission: ``not_met``.

    Continuation: "an indication listed in Section A" was established when therapy began; remission
    or response is the goal of therapy and is not re-tested. A myeloma code is enough; only a status
    of newly diagnosed contradicts the indication (``not_met``, a reviewer confirms it)."""
    age = _age_finding(f)
    if age is not None:
        return age
    dx = f.request.diagnosis
    codes = [_dotted(c) for c in dx.icd10_codes]
    mm = [c for c in codes if c.replace(".", "") in MM_CODES or c.replace(".", "") == MM_CATEGORY]
    status = dx.disease_status
    evidence = [f"ICD-10-CM {c}" for c in codes]
    if status is not None:
        evidence.append(f"disease_status {status}")
    if not codes:
        return Finding("missing", "diagnosis_code_missing", {}, evidence)
    if not mm:
        return Finding("not_met", "not_multiple_myeloma", {"codes": codes[:10]}, evidence)
    facts: dict[str, FactValue] = {"codes": mm[:10], "status": status}
    if f.request.request_type == "continuation":
        if status == "newly_diagnosed":
            return Finding("not_met", "continuation_indication_contradicted", facts, evidence)
        return Finding("met", "continuation_indication_myeloma", facts, evidence)
    if status is None:
        return Finding("missing", "disease_status_missing", facts, evidence)
    if status not in RELAPSED_OR_REFRACTORY:
        return Finding("not_met", "not_relapsed_or_refractory", facts, evidence)
    if any(c.replace(".", "") == IN_REMISSION_CODE for c in mm):
        return Finding("not_met", "diagnosis_code_contradicts_status", facts, evidence)
    return Finding("met", "relapsed_or_refractory_myeloma", facts, evidence)


IN_REMISSION_CODE: Final = "C9001"
"""C90.01, multiple myeloma in remission: on a first request described as relapsed or refractory, the
code and the status contradict each other."""


def _age_years(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _age_band(f: Facts) -> tuple[str, int] | None:
    """``None`` for an adult; ``("minor", age)`` under 18 on the local receipt date; ``("implausible", 0)``
    for a date of birth after receipt or more than 120 years before it."""
    born = f.request.member.date_of_birth
    if born > f.received_on:
        return ("implausible", 0)
    age = _age_years(born, f.received_on)
    if age > MAX_AGE_YEARS:
        return ("implausible", 0)
    return ("minor", age) if age < label.ADULT_AGE_YEARS else None


def _age_key(f: Facts) -> tuple[tuple[str, int], date] | None:
    """What A.i's age finding reads: ``None`` for an adult, else the band and the receipt date."""
    band = _age_band(f)
    return None if band is None else (band, f.received_on)


def _age_finding(f: Facts) -> Finding | None:
    """The label's indication is for adults: a member under 18 on the receipt date, or a date of birth
    that cannot be true, is ``not_met`` for a reviewer (the date of birth itself is never repeated)."""
    band = _age_band(f)
    if band is None:
        return None
    if band[0] == "implausible":
        facts: dict[str, FactValue] = {"received_on": _iso(f.received_on), "max_age_years": MAX_AGE_YEARS}
        return Finding("not_met", "date_of_birth_not_plausible", facts, ["date_of_birth: not plausible at receipt"])
    facts = {"age_years": band[1], "adult_age_years": label.ADULT_AGE_YEARS}
    return Finding("not_met", "member_under_18", facts, [f"member aged {band[1]} on the receipt date"])


MAX_AGE_YEARS: Final = 120


# --- A.ii ----------------------------------------------------------------------------------------


def check_a_ii(f: Facts) -> Finding:
    """At least ``min_prior_lines`` prior lines as IMWG counts them (:mod:`policy.lines`), with an
    anti-CD38 antibody, a proteasome inhibitor and an immunomodulatory agent among them.

    An approval rests only on what the request positively shows. ``not_met`` (a reviewer decides),
    the first that applies giving the code, the others in ``other_findings``:

    * ``requested_drug_in_history``: elranatamab under any name in an earlier line of a first request
      (a restart, a re-treatment or an ongoing course filed as initial);
    * ``prior_line_dates_contradict``: a line that ends before it starts, numbers and dates in
      opposite orders, a line dated before the member's birth, a line of a first request that ends
      after the requested treatment would start (concurrent, or a planned date: not prior to it);
    * ``prior_lines_not_read``: too few lines unless entries the engine could not read (unknown or
      investigational names, a corticosteroid alone, bridging with nothing after it) are lines;
    * ``prior_lines_structure_unclear``: too few lines unless entries that may be one line are two;
    * ``too_few_prior_lines``; ``prior_class_not_identified`` (a class absent and some names not read);
      ``prior_class_missing`` (a class absent, every name read).

    No entry at all: ``missing``. Supportive care and placeholders never count; a line whose start is
    after the receipt date is not a prior line."""
    required = f.settings.min_prior_lines
    if not f.request.prior_lines:
        return Finding("missing", "prior_lines_missing", {"required": required}, [])
    therapy_from = f.plan.valid_from if f.request.request_type == "initial" else None
    reading = read_lines(f.request.prior_lines, f.received_on, f.request.member.date_of_birth, therapy_from)
    joined = {n: how for how, group in reading.joins for n in group}
    evidence = [_entry_evidence(e, reading, joined) for e in reading.entries]
    count = reading.count
    facts: dict[str, FactValue] = {
        "lines": count,
        "required": required,
        "counted_lines": sorted({e.line for g in reading.episodes for e in reading.entries if e.position in g}),
        "requested_drug_lines": list(reading.requested_drug_lines),
        "future_lines": list(reading.future_lines),
    }
    shown = [q for q in (quoted_entry(e.items) for e in reading.not_therapy) if q is not None]
    if shown:
        facts["not_therapy"] = shown[:5]
    if any(how == "planned_sequence" or how == "bridging" for how, _ in reading.joins):
        facts["planned_sequence_lines"] = sorted(
            {n for how, group in reading.joins if how in ("planned_sequence", "bridging") for n in group}
        )
    codes: list[str] = []
    if reading.requested_drug_lines and f.request.request_type == "initial":
        codes.append("requested_drug_in_history")
    if reading.contradictions:
        codes.append("prior_line_dates_contradict")
        for kind, group in reading.contradictions:
            facts[f"{kind}_lines"] = list(group)
    absent = [c for c in CLASS_ORDER if c not in reading.classes]
    if count < required:
        if reading.uncertain and count + len(reading.uncertain) >= required:
            codes.append("prior_lines_not_read")
        elif reading.count_if_separate >= required:
            codes.append("prior_lines_structure_unclear")
            facts["unclear_lines"] = sorted(
                {n for how, group in reading.joins if how in ("overlap", "undated") for n in group}
            )
        else:
            codes.append("too_few_prior_lines")
        if reading.uncertain:
            facts["uncertain_entries"] = [quoted_entry(e.items) or "“?”" for e in reading.uncertain][:5]
            facts["uncertain_lines"] = [e.line for e in reading.uncertain][:5]
    if absent:
        facts["missing_classes"] = [str(c) for c in absent]
        unread = list(reading.unread_names)
        if unread:
            facts["unrecognised"] = unread[:5]
            facts["unrecognised_not_shown"] = max(0, len(unread) - 5)
            codes.append("prior_class_not_identified")
        else:
            codes.append("prior_class_missing")
    if codes:
        facts["other_findings"] = codes[1:]
        return Finding("not_met", codes[0], facts, evidence)
    facts["agents"] = [reading.classes[c][0] for c in CLASS_ORDER]
    facts["agent_classes"] = [str(c) for c in CLASS_ORDER]
    facts["agent_lines"] = [reading.classes[c][1] for c in CLASS_ORDER]
    return Finding("met", "prior_lines_met", facts, evidence)


_JOIN_NOTES: Final[dict[str, str]] = {
    "same_line": "one line with another entry",
    "split_combination": "one combination with another entry (same start)",
    "planned_sequence": "part of the planned sequence of the line before it",
    "bridging": "bridging, part of the line that follows it",
    "overlap": "overlaps another regimen: counted once",
    "undated": "may be the same line as another entry: counted once",
}
_KIND_NOTES: Final[dict[str, str]] = {
    "requested_drug": "elranatamab, the requested drug",
    "unread": "not read: a reviewer decides",
    "steroid_only": "a corticosteroid alone: not read as a line",
    "supportive": "supportive care: not a line",
    "placeholder": "no treatment named: not a line",
}


def _entry_evidence(e: EntryReading, reading: LinesReading, joined: Mapping[int, str]) -> str:
    """``"line 3: Dara-KRd (daratumumab, carfilzomib, lenalidomide, dexamethasone) [anti-CD38/PI/IMiD]"``,
    with what the entry was read as and how it was counted."""
    notes = []
    if e.kind != "therapy":
        notes.append(_KIND_NOTES[e.kind])
    if e.start is not None and e.line in reading.future_lines:
        notes.append("starts after receipt: not a prior line")
    if e.line in joined:
        notes.append(_JOIN_NOTES[joined[e.line]])
    return f"line {e.line}: " + _shown(e.items) + (f" ({'; '.join(notes)})" if notes else "")


@lru_cache(maxsize=8192)
def _shown(items: tuple[str, ...]) -> str:
    """An entry's items as the evidence shows them: each with the agents and classes it was read as."""
    shown = []
    for name, r in zip(items, read_regimen(items)[0], strict=True):
        text = " ".join(name.split())
        if r.unread:
            text += " (not read)"
        elif r.agents and fold(name) != " ".join(r.agents):
            text += f" ({', '.join(r.agents)})"
        if r.classes:
            text += f" [{'/'.join(CLASS_SHORT[c] for c in CLASS_ORDER if c in r.classes)}]"
        shown.append(text)
    return ", ".join(shown)


# --- A.iii ---------------------------------------------------------------------------------------


def check_a_iii(f: Facts) -> Finding:
    """Current ECOG 0-2: ``met``; current 3-5: ``not_met``; absent, stale or future-dated: ``missing``."""
    ecog, s = f.request.ecog, f.settings
    window = s.ecog_window_days
    facts: dict[str, FactValue] = {
        "min_ecog": 0,
        "max_ecog": s.max_ecog,
        "window_days": window,
        "received_on": _iso(f.received_on),
        "dated_on_or_after": _floor(f.received_on, window),
    }
    if ecog is None:
        return Finding("missing", "ecog_missing", facts, [])
    facts["assessed_on"] = _iso(ecog.assessed_on)
    facts["score"] = ecog.score
    evidence = [f"ECOG {ecog.score} assessed {ecog.assessed_on.isoformat()}"]
    state, age = currency(ecog.assessed_on, f.received_on, window)
    if state == "future":
        return Finding("missing", "ecog_future_dated", facts, evidence)
    facts["age_days"] = age
    if state == "stale":
        return Finding("missing", "ecog_not_current", facts, evidence)
    if ecog.score <= s.max_ecog:
        return Finding("met", "ecog_met", facts, evidence)
    return Finding("not_met", "ecog_above_threshold", facts, evidence)


# --- documents -----------------------------------------------------------------------------------


class DocShape(NamedTuple):
    """A document finding with the document ids left out: documents are named by their position
    in the list of the documents the check reads."""

    outcome: CriterionOutcome
    code: str
    facts: dict[str, FactValue]
    """Every fact but ``document_ids`` (never mutated: shared by the requests of one key)."""
    ids: tuple[int, ...] | None
    """The positions ``document_ids`` lists (``None``: the finding has no ``document_ids``)."""
    evidence: tuple[tuple[str, int, str], ...]
    """Each evidence item as (text before the id, position, text after it)."""

    def finding(self, documents: Sequence[Document]) -> Finding:
        facts = dict(self.facts)
        if self.ids is not None:
            facts["document_ids"] = [documents[i].id for i in self.ids]
        return Finding(
            self.outcome,
            self.code,
            facts,
            [before + shown_id(documents[i].id) + after for before, i, after in self.evidence],
        )


DatedTypes = tuple[tuple[DocumentType, date], ...]
"""Each document's type and date, in request order: all a document check reads besides the ids."""

Conflicts = tuple[frozenset[int], tuple[DatedTypes, ...]]
"""What a document check may not use (R55): the positions, among the documents it reads, of the
entries whose id another entry gives with a different type or date; and every such group of entries
(types and dates, in request order), to name them."""

_NO_CONFLICTS: Final[Conflicts] = (frozenset(), ())

_CONFLICTS_NAMED: Final = 2
"""How many of the entries not used (R55) a sentence names; the rest it counts (the evidence lists every one)."""

_NOT_USED: Final = " (its id is also on an entry with another type or date: not used)"


def same_id(document_id: str) -> str:
    """The id two entries share when they name one document (R55): compatibility forms folded
    (NFKC: a no-break space is a space, a full-width letter a letter), invisible format characters
    (zero-width spaces and joiners, Unicode category Cf) dropped, runs of whitespace made one space
    and the ends trimmed, and letter case folded. ``DOC-1``, ``doc-1``, ``DOC-1 `` and ``DOC\u200b-1``
    are one id; the engine never tells documents apart by what a reader cannot see."""
    if document_id.isascii() and document_id.isprintable() and " " not in document_id:
        return document_id.lower()  # the common id: NFKC leaves ASCII alone, and ASCII has no format character
    return _same_id(document_id)


@lru_cache(maxsize=1024)
def _same_id(document_id: str) -> str:
    folded = unicodedata.normalize("NFKC", document_id)
    visible = "".join([c for c in folded if unicodedata.category(c) != "Cf"])
    return " ".join(visible.split()).casefold()


def shown_id(document_id: str) -> str:
    """A document id as evidence prints it: itself, or, when it holds a character a reader cannot
    see (a space at either end, a control or format character), its escaped form in quotes
    (``'DOC-1\u200b'``), so two ids that look alike are told apart."""
    if document_id.isprintable() and document_id == document_id.strip():
        return document_id
    return repr(document_id)


def id_conflicts(documents: Sequence[Document]) -> tuple[tuple[Document, ...], ...]:
    """R55: the entries that share a document id (:func:`same_id`) but not its type and date, one
    group per id, in the order the ids first appear. One document has one type and one date: the
    engine cannot tell which entry of such a group is right, so none of them completes a criterion.
    The same entry given twice (same id, type and date) is not a conflict."""
    if len(documents) < 2:
        return ()
    ids = [same_id(d.id) for d in documents]
    if len(set(ids)) == len(ids):
        return ()
    groups: dict[str, list[Document]] = {}
    for key, d in zip(ids, documents, strict=True):
        groups.setdefault(key, []).append(d)
    return tuple(tuple(g) for g in groups.values() if len({(d.type, d.date) for d in g}) > 1)


def _read(f: Facts, types: frozenset[str]) -> tuple[DatedTypes, list[Document], Conflicts]:
    """The documents of ``types``, in request order, their types and dates, and what of them
    may not be used (``Facts.document_conflicts``)."""
    documents = [d for d in f.request.documents if d.type in types]
    docs = tuple([(d.type, d.date) for d in documents])
    groups = f.document_conflicts
    if not groups:
        return docs, documents, _NO_CONFLICTS
    shared = {id(d) for g in groups for d in g}
    unread = frozenset([i for i, d in enumerate(documents) if id(d) in shared])
    return docs, documents, (unread, tuple([tuple([(d.type, d.date) for d in g]) for g in groups]))


def _document_shape(
    docs: DatedTypes,
    received_on: date,
    types: tuple[DocumentType, ...],
    window: int,
    prefix: str,
    not_before: date | None = None,
    conflicts: Conflicts = _NO_CONFLICTS,
) -> DocShape:
    """``<prefix>_current`` when a document of ``types`` is current (the most recent is named),
    else ``_id_conflict`` (a document of ``types`` was sent, but its id is also on an entry with
    another type or date: not used, R55), ``_before_therapy_start`` (current, but older than
    ``not_before``: a continuation's note or imaging from before Elrexfio began cannot show the
    response to it), ``_not_current`` (stale), ``_future_dated`` or ``_missing``. Entries not used
    never complete the check; a current finding lists them after the documents it rests on."""
    unread, groups = conflicts
    floor = _floor(received_on, window)
    if not_before is not None and not_before.isoformat() > floor and not_before <= received_on:
        floor = not_before.isoformat()
    facts: dict[str, FactValue] = {
        "window_days": window,
        "received_on": _iso(received_on),
        "dated_on_or_after": floor,
    }
    current: list[tuple[date, int, int, str, str]] = []
    early: list[tuple[date, int, int, str, str]] = []
    stale: list[tuple[date, int, int, str, str]] = []
    future: list[tuple[date, int, int, str, str]] = []
    not_read: list[tuple[date, int, int, str, str]] = []
    for i, (kind, on) in enumerate(docs):
        if kind not in types:
            continue
        age = (received_on - on).days  # policy.evidence.currency, inline: future < 0, current <= window
        if i in unread:
            not_read.append((on, i, age, _DOC_PREFIX[kind], f" dated {on.isoformat()}{_NOT_USED}"))
            continue
        item = (on, i, age, _DOC_PREFIX[kind], f" dated {on.isoformat()}")
        if 0 <= age <= window and not_before is not None and on < not_before:
            early.append(item)
            continue
        (future if age < 0 else current if age <= window else stale).append(item)
    unread_evidence = [(x[3], x[1], x[4]) for x in not_read]
    if current:
        latest = max(current, key=lambda x: x[0])
        facts.update(dated=_iso(latest[0]), age_days=latest[2])
        ids = tuple([c[1] for c in current][:20])
        return DocShape(
            "met", f"{prefix}_current", facts, ids, (*[(c[3], c[1], c[4]) for c in current], *unread_evidence)
        )
    noted = [(x[3], x[1], f"{x[4]} (before therapy start)") for x in early]
    evidence = [(x[3], x[1], f"{x[4]} (stale)") for x in stale] + [
        (x[3], x[1], f"{x[4]} (future-dated)") for x in future
    ]
    if not_read:
        # each group's distinct types and dates (an entry given twice alike is named once), the check's own
        # types first (the sentence names the first two); the ids are in the evidence
        named = [e for g in groups if any(k in types for k, _ in g) for e in dict.fromkeys(g)]
        named = sorted(named, key=lambda e: e[0] not in types)[:20]
        facts["conflicting_types"] = [str(kind) for kind, _ in named]
        facts["conflicting_dates"] = [on.isoformat() for _, on in named]
        if len(named) > _CONFLICTS_NAMED:
            facts["conflicting_not_named"] = len(named) - _CONFLICTS_NAMED
        ids = tuple([x[1] for x in not_read][:20])
        return DocShape("missing", f"{prefix}_id_conflict", facts, ids, (*unread_evidence, *noted, *evidence))
    if early:
        latest = max(early, key=lambda x: x[0])
        assert not_before is not None
        facts.update(dated=_iso(latest[0]), therapy_start=_iso(not_before))
        ids = tuple([x[1] for x in early][:20])
        return DocShape("missing", f"{prefix}_before_therapy_start", facts, ids, tuple(noted))
    if stale:
        latest = max(stale, key=lambda x: x[0])
        facts.update(dated=_iso(latest[0]), age_days=latest[2])
        ids = tuple([x[1] for x in stale][:20])
        return DocShape("missing", f"{prefix}_not_current", facts, ids, tuple(evidence))
    if future:
        first = min(future, key=lambda x: x[0])
        facts.update(dated=_iso(first[0]))
        ids = tuple([x[1] for x in future][:20])
        return DocShape("missing", f"{prefix}_future_dated", facts, ids, tuple(evidence))
    return DocShape("missing", f"{prefix}_missing", facts, None, tuple(evidence))


def _a_docs_shape(docs: DatedTypes, received_on: date, window: int, conflicts: Conflicts = _NO_CONFLICTS) -> DocShape:
    found = _document_shape(
        docs, received_on, SUPPORTING_DOCUMENTS, window, "supporting_documents", conflicts=conflicts
    )
    if found.code == "supporting_documents_missing":
        others = [(i, on) for i, (kind, on) in enumerate(docs) if kind == "other"]
        if others:
            ids = tuple([i for i, _ in others][:20])
            evidence = tuple([("other ", i, f" dated {on.isoformat()}") for i, on in others])
            return DocShape("missing", "supporting_documents_other_only", dict(found.facts), ids, evidence)
    return found


_A_DOCS_READS: Final = frozenset([*SUPPORTING_DOCUMENTS, "other"])
_B_DOCS_A_READS: Final = frozenset(["oncology_note"])
_B_DOCS_B_READS: Final = frozenset(OBJECTIVE_MEASURES)


def _a_docs(f: Facts) -> tuple[Hashable, list[Document], Callable[[], DocShape]]:
    (docs, documents, conflicts), received_on = _read(f, _A_DOCS_READS), f.received_on
    window = f.settings.supporting_docs_window_days
    return (received_on, docs, conflicts), documents, lambda: _a_docs_shape(docs, received_on, window, conflicts)


def _therapy_start(f: Facts) -> date | None:
    c = f.request.continuation
    return None if c is None else c.therapy_start_date


def _b_docs_a(f: Facts) -> tuple[Hashable, list[Document], Callable[[], DocShape]]:
    (docs, documents, conflicts), received_on = _read(f, _B_DOCS_A_READS), f.received_on
    window, start = f.settings.oncology_note_window_days, _therapy_start(f)
    return (
        (received_on, start, docs, conflicts),
        documents,
        lambda: _document_shape(docs, received_on, ("oncology_note",), window, "oncology_note", start, conflicts),
    )


def _b_docs_b(f: Facts) -> tuple[Hashable, list[Document], Callable[[], DocShape]]:
    (docs, documents, conflicts), received_on = _read(f, _B_DOCS_B_READS), f.received_on
    window, start = f.settings.objective_measures_window_days, _therapy_start(f)
    return (
        (received_on, start, docs, conflicts),
        documents,
        lambda: _document_shape(docs, received_on, OBJECTIVE_MEASURES, window, "objective_measures", start, conflicts),
    )


def check_a_docs(f: Facts) -> Finding:
    """At least one current chart note, lab result, pathology report, imaging study or oncology note
    (``supporting_docs_window_days``): ``met``; otherwise ``missing``. Type ``other`` alone: ``missing``."""
    _, documents, compute = _a_docs(f)
    return compute().finding(documents)


def check_b_docs_a(f: Facts) -> Finding:
    """Current oncology note (``oncology_note_window_days``): ``met``; otherwise ``missing``."""
    _, documents, compute = _b_docs_a(f)
    return compute().finding(documents)


def check_b_docs_b(f: Facts) -> Finding:
    """Current imaging or lab results (``objective_measures_window_days``): ``met``; else ``missing``."""
    _, documents, compute = _b_docs_b(f)
    return compute().finding(documents)


# --- B.i -----------------------------------------------------------------------------------------


def check_b_i(f: Facts) -> Finding:
    """A continuation of therapy under way, with no unacceptable toxicity and no progression.

    ``not_met`` (a reviewer decides); the first match gives the code, ``other_findings`` lists the rest:

    * ``therapy_start_date`` after the receipt date: therapy has not started, so this is not a
      continuation (also when it is after the requested period);
    * ``response_since`` before ``therapy_start_date``: a response to elranatamab cannot predate it;
    * ``response_since`` after the receipt date: a response not yet observed;
    * ``disease_progression`` or ``unacceptable_toxicity`` true, or best response PD.

    Otherwise ``met`` (stable disease is not progression). The label sets no maximum duration
    (treat until progression or unacceptable toxicity), so the policy's "maximum duration" clause
    cannot fail."""
    c = f.request.continuation
    if c is None:  # the contract forbids it; kept so the engine never raises
        return Finding("missing", "continuation_details_missing", {}, [])
    start = c.therapy_start_date
    evidence = [
        f"therapy_start_date {start.isoformat()}",
        f"best_response {c.best_response}",
        f"disease_progression {str(c.disease_progression).lower()}",
        f"unacceptable_toxicity {str(c.unacceptable_toxicity).lower()}",
    ]
    if c.response_since is not None:
        evidence.insert(2, f"response_since {c.response_since.isoformat()}")
    facts: dict[str, FactValue] = {
        "therapy_start": _iso(start),
        "received_on": _iso(f.received_on),
        "best_response": c.best_response,
        "response_since": None if c.response_since is None else _iso(c.response_since),
    }
    codes: list[str] = []
    if start < label.FIRST_TRIAL_DATE:
        codes.append("therapy_start_before_trials")
        facts["first_trial_year"] = label.FIRST_TRIAL_DATE.year
    if start > f.received_on:
        codes.append("therapy_not_started")
        facts["after_period"] = start > f.plan.valid_through
        facts["valid_through"] = _iso(f.plan.valid_through)
    if c.response_since is not None and c.response_since < start:
        codes.append("response_before_therapy_start")
    if c.response_since is not None and c.response_since > f.received_on:
        codes.append("response_date_after_receipt")
    current_end = c.current_authorization_valid_through
    if current_end is not None and current_end < start:
        codes.append("current_authorization_before_therapy")
        facts["current_valid_through"] = _iso(current_end)
    if c.last_dose_date is not None:
        evidence.append(f"last_dose_date {c.last_dose_date.isoformat()}")
        if c.last_dose_date > f.received_on or c.last_dose_date < start:
            codes.append("last_dose_date_inconsistent")
            facts["last_dose_date"] = _iso(c.last_dose_date)
    problems: list[str] = []
    if c.disease_progression:
        problems.append("progression")
    if c.unacceptable_toxicity:
        problems.append("toxicity")
    if c.best_response == "PD":
        problems.append("progressive_disease")
    if problems:
        codes.append("progression_or_toxicity")
        facts["problems"] = problems
    if c.delay_reason is not None and not c.unacceptable_toxicity and _reports_toxicity(c.delay_reason):
        # the free text is read only to pend, never to approve (R51)
        codes.append("delay_reason_reports_toxicity")
        facts["severe_grade_from"] = 3
    ecog = f.request.ecog
    if ecog is not None and ecog.score > f.settings.max_ecog:
        state, _ = currency(ecog.assessed_on, f.received_on, f.settings.ecog_window_days)
        if state == "current":
            codes.append("performance_status_decline")
            facts["ecog_score"] = ecog.score
            facts["ecog_assessed_on"] = _iso(ecog.assessed_on)
            evidence.append(f"ECOG {ecog.score} assessed {ecog.assessed_on.isoformat()}")
    if codes:
        facts["other_findings"] = codes[1:]
        return Finding("not_met", codes[0], facts, evidence)
    return Finding("met", "no_progression_or_toxicity", facts, evidence)


# --- QL ------------------------------------------------------------------------------------------


def q2w_from(request: PARequest, therapy_start: date, received_on: date) -> int | None:
    """The therapy day from which dosing is every 2 weeks, or ``None`` (weekly throughout).

    Label (policy Limits B, "* Responders only week 25 onward"): at least 24 weeks of treatment and
    a response of PR or better maintained at least 2 months. The response must be documented as
    held 2 months by the receipt date (``response_since`` + 2 months <= receipt date), on or after
    the therapy start; the interval then changes on the later of day 169 (week 25) and the day the
    2 months were complete. Initial requests, responses below PR, an undated response and a response
    not yet held 2 months at receipt keep the label's weekly dosing: the maximum then covers a
    patient who does not respond."""
    c = request.continuation
    if c is None or c.best_response not in label.RESPONDER_RESPONSES or c.response_since is None:
        return None
    if c.response_since < therapy_start or c.response_since > received_on:
        return None
    held = add_months(c.response_since, label.RESPONSE_MAINTAINED_MONTHS)
    if held is None or held > received_on:
        return None
    return max((held - therapy_start).days + 1, label.week_start_day(label.Q2W_FROM_WEEK))


_TOXICITY: Final = re.compile(
    r"unacceptabl|inaceptabl|intolera|grade\s*[345]|grado\s*[345]|\bG[345]\b|life[- ]threatening"
    r"|potencialmente mortal|discontinu|suspend\w* (?:permanente|definitiv)|permanently",
    re.IGNORECASE,
)
"""Words in a delay reason that report a toxicity a reviewer must weigh: unacceptable or intolerable,
grade 3 to 5 (CTCAE and ASTCT grading of CRS and ICANS; the label discontinues on recurrent grade 3
or any grade 4 ICANS), life-threatening, or a permanent stop."""


def _reports_toxicity(text: str) -> bool:
    return _TOXICITY.search(text) is not None


def _period_problem(f: Facts) -> tuple[str, dict[str, FactValue]] | None:
    """The requested period's dates against the receipt and decision dates (local)."""
    s, plan = f.settings, f.plan
    received = f.received_on
    start = f.requested_start
    if start is not None:
        before = (received - start).days
        if before > s.start_max_days_before_receipt:
            return "start_date_retroactive", {
                "requested_start": _iso(start),
                "received_on": _iso(received),
                "days_before": before,
                "allowed_days_before": s.start_max_days_before_receipt,
            }
        ahead = (start - received).days
        continuation = f.request.request_type == "continuation"
        limit = s.start_max_days_ahead_continuation if continuation else s.start_max_days_ahead_initial
        if ahead > limit:
            return "start_date_too_far_ahead", {
                "requested_start": _iso(start),
                "received_on": _iso(received),
                "days_ahead": ahead,
                "window_days": limit,
            }
    current_end = _current_end(f)
    if start is None and current_end is not None:
        renews_on = current_end + timedelta(days=1)
        before = (received - renews_on).days
        if before > s.start_max_days_before_receipt:
            # the renewal the request asks for starts before receipt: approving from a later day would
            # be a partial approval, so a person decides (R40)
            return "renewal_start_before_receipt", {
                "renewal_start": _iso(renews_on),
                "current_valid_through": _iso(current_end),
                "received_on": _iso(received),
                "days_before": before,
                "allowed_days_before": s.start_max_days_before_receipt,
            }
    if current_end is not None and plan.valid_from <= current_end:
        return "period_overlaps_current_authorization", {
            "valid_from": _iso(plan.valid_from),
            "current_valid_through": _iso(current_end),
        }
    if start is None and current_end is not None:
        ahead = (plan.valid_from - received).days
        if ahead > s.start_max_days_ahead_continuation:
            return "renewal_starts_too_far_ahead", {
                "valid_from": _iso(plan.valid_from),
                "current_valid_through": _iso(current_end),
                "received_on": _iso(received),
                "days_ahead": ahead,
                "window_days": s.start_max_days_ahead_continuation,
            }
    if plan.valid_through < f.decided_on:
        return "period_ended_before_decision", {
            "valid_from": _iso(plan.valid_from),
            "valid_through": _iso(plan.valid_through),
            "decided_on": _iso(f.decided_on),
        }
    return None


def check_ql(f: Facts) -> Finding:
    """The requested period, then the quantity.

    Period (``not_met``, a reviewer decides): a ``requested_start_date`` more than
    ``start_max_days_before_receipt`` (0) days before the local receipt date, more than
    ``start_max_days_ahead_initial`` (30) / ``start_max_days_ahead_continuation`` (45) days after it,
    or a period that ends before the decision date.

    Quantity: the maximum is the fullest labeled layout of the period (:mod:`policy.schedule`); after
    a dosage delay (``last_dose_date``), the layout that starts with label 2.4's restart, whose doses
    are part of it (never added to it). No quantity requested or at most the maximum: ``met``; more:
    ``not_met``. A period with no labeled dose in it is ``not_met``. The evidence carries the
    arithmetic by phase; the facts name every dose the maximum counts (``step_up_doses_mg``, billed as
    ``whole_vials_mg`` says, and ``treatment_doses`` of 76 mg), so the units add up from them."""
    plan, r = f.plan, f.request
    requested = r.drug.requested_units
    vf, vt = plan.valid_from.isoformat(), plan.valid_through.isoformat()
    evidence = [f"valid_from {vf}", f"valid_through {vt}", f"max_units {plan.max_units}", plan.arithmetic[:200]]
    if r.continuation is not None:
        evidence.append(f"therapy_start_date {plan.therapy_start.isoformat()}")
        evidence.append(
            "dosing weekly throughout"
            if plan.q2w_from is None
            else f"every 2 weeks from therapy day {plan.q2w_from}, every 4 weeks from day {plan.q2w_from + 168}"
        )
    if requested is not None:
        evidence.append(f"requested_units {requested}")
    problem = _period_problem(f)
    if problem is not None:
        return Finding("not_met", problem[0], problem[1], evidence)
    doses = plan.dose_set  # the dose counts, phases and step-up doses are computed once per layout
    facts: dict[str, FactValue] = {
        "valid_from": vf,
        "valid_through": vt,
        "max_units": plan.max_units,
        "doses": len(doses.doses),
        "step_up_doses_mg": list(doses.step_up_doses_mg),
        "treatment_doses": doses.treatment_doses,
        "whole_vials_mg": list(doses.whole_vials_mg),
        "dosing": list(doses.phases) or ["weekly"],
        "therapy_start": plan.therapy_start.isoformat(),
        "drift_days": f.settings.dose_drift_days,
    }
    restart, c = f.restart, r.continuation
    maximum = plan.max_units  # a restart's doses are in the plan's layout, never added to it (R37)
    if restart is not None and restart.doses_mg:
        facts["restart_doses_mg"] = list(restart.doses_mg)
        facts["restart_units"] = restart.units
        facts["last_dose_date"] = _iso(restart.last_dose)
        facts["days_since_last_dose"] = restart.days_since
        evidence.append(
            f"restart after {restart.days_since} days since the last dose ({restart.last_dose_kind}): "
            f"step-up {'+'.join(str(d) for d in restart.doses_mg)} mg again, then 76 mg, then the schedule"
        )
    if plan.max_units == 0:
        return Finding("not_met", "no_labeled_dose_in_period", facts, evidence)
    asks_last_dose = c is not None and c.last_dose_date is None
    if requested is not None:
        facts["requested_units"] = requested
        if requested > maximum:
            facts["ask_last_dose"] = asks_last_dose
            return Finding("not_met", "quantity_above_maximum", facts, evidence)
    if asks_last_dose and c is not None and c.delay_reason is not None:
        return Finding("missing", "last_dose_date_missing", facts, evidence)
    end = _current_end(f)
    threshold = label.RESTART_AFTER_DELAY["treatment"][0][0]
    if asks_last_dose and end is not None and (plan.valid_from - end).days > threshold:
        # the authorization lapsed longer than label 2.4's restart threshold: the last dose decides
        # whether the step-up doses come again (R48)
        facts["current_valid_through"] = end.isoformat()
        facts["gap_days"] = (plan.valid_from - end).days
        facts["restart_threshold_days"] = threshold
        return Finding("missing", "last_dose_date_missing_after_lapse", facts, evidence)
    if requested is None:
        return Finding("met", "quantity_labeled_maximum", facts, evidence)
    return Finding("met", "quantity_within_maximum", facts, evidence)


def _current_end(f: Facts) -> date | None:
    """The last day of the authorization a continuation renews, when the request names it."""
    c = f.request.continuation
    return None if c is None else c.current_authorization_valid_through


# --- the criteria, as the policy numbers them ----------------------------------------------------

LOB: Final = Criterion(
    id="LOB",
    policy_text="Scope: MMM MA, MMM Multihealth. Applicable codes: J1323 Injection, elranatamab-bcmm, 1 mg.",
    check=check_lob,
    memo_key=lambda f: (f.request.line_of_business, f.request.drug.hcpcs),
)
A_I: Final = Criterion(
    id="A.i",
    policy_text="Individual has a diagnosis of relapsed or refractory multiple myeloma.",
    check=check_a_i,
    memo_key=lambda f: (
        f.request.request_type,
        tuple(f.request.diagnosis.icd10_codes),
        f.request.diagnosis.disease_status,
        _age_key(f),
    ),
)
A_II: Final = Criterion(
    id="A.ii",
    policy_text=(
        "Individual has had at least four prior therapies, including an anti-CD38 monoclonal antibody "
        "(e.g., daratumumab), a proteasome inhibitor (e.g., bortezomib, ixazomib, or carfilzomib), and an "
        "immunomodulatory agent (e.g., lenalidomide or pomalidomide)."
    ),
    check=check_a_ii,
    memo_key=lambda f: (
        f.request.request_type,
        # dates as days from receipt (lines_key); a first request's period start: a line ending after
        # it is not prior to it (R49)
        lines_key(
            f.request.prior_lines,
            f.received_on,
            f.request.member.date_of_birth,
            f.plan.valid_from if f.request.request_type == "initial" else None,
        ),
    ),
)
A_III: Final = Criterion(
    id="A.iii",
    policy_text="Individual has a current Eastern Cooperative Group (ECOG) performance status of 0-2.",
    check=check_a_iii,
    memo_key=lambda f: (
        f.received_on,
        None if f.request.ecog is None else (f.request.ecog.score, f.request.ecog.assessed_on),
    ),
)
A_DOCS: Final = Criterion(
    id="A.docs",
    policy_text=(
        "Provider must submit documentation [such as office chart notes, lab results, pathology reports, "
        "imaging studies, and any other pertinent clinical information] supporting the patient's diagnosis "
        "for the drug and confirming that the patient has met all approval criteria."
    ),
    check=check_a_docs,
    shape=_a_docs,
)
B_I: Final = Criterion(
    id="B.i",
    policy_text=(
        "Continuation of therapy is medically necessary for an indication listed in Section A when there is "
        "no evidence of unacceptable toxicity or disease progression while on the current regimen, and the "
        "maximum duration of therapy has not been exceeded."
    ),
    check=check_b_i,
    memo_key=lambda f: (
        None
        if f.request.continuation is None
        else (
            f.received_on,
            f.plan.valid_through,
            f.request.continuation.therapy_start_date,
            f.request.continuation.best_response,
            f.request.continuation.response_since,
            f.request.continuation.disease_progression,
            f.request.continuation.unacceptable_toxicity,
            f.request.continuation.last_dose_date,
            f.request.continuation.current_authorization_valid_through,
            None if f.request.ecog is None else (f.request.ecog.score, f.request.ecog.assessed_on),
            f.request.continuation.delay_reason is not None and _reports_toxicity(f.request.continuation.delay_reason),
        )
    ),
)
B_DOCS_A: Final = Criterion(
    id="B.docs.A",
    policy_text=(
        "A current oncology note documenting the patient's response to treatment showing no progression of disease."
    ),
    check=check_b_docs_a,
    shape=_b_docs_a,
)
B_DOCS_B: Final = Criterion(
    id="B.docs.B",
    policy_text=(
        "Current imaging studies and other objective measures, as appropriate, showing no progression of "
        "disease when compared with previous results."
    ),
    check=check_b_docs_b,
    shape=_b_docs_b,
)
QL: Final = Criterion(
    id="QL",
    policy_text=(
        "Approvals may be subject to dosing limits in accordance with FDA-approved labeling, accepted "
        "compendia, and/or evidence-based practice guidelines (step-up 12 mg day 1, 32 mg day 4, 76 mg day 8; "
        "76 mg weekly through week 24; every 2 weeks from week 25 for responders; every 4 weeks from week 49 "
        "in patients who have maintained the response following 24 weeks at the biweekly schedule). "
        "Initial and reauthorization approval duration: up to 6 months."
    ),
    check=check_ql,
    memo_key=lambda f: (
        f.plan.key,
        f.received_on,
        f.decided_on,
        f.requested_start,
        f.request.request_type,
        f.request.drug.requested_units,
        f.restart,
        None
        if f.request.continuation is None
        else (
            f.request.continuation.best_response,
            f.request.continuation.response_since,
            f.request.continuation.current_authorization_valid_through,
            f.request.continuation.last_dose_date is None,
            f.request.continuation.delay_reason is None,
        ),
    ),
)

INITIAL_CRITERIA: Final[tuple[Criterion, ...]] = (LOB, A_I, A_II, A_III, A_DOCS, QL)
"""Section A, Criteria For Initial Approval (plus scope and quantity)."""
CONTINUATION_CRITERIA: Final[tuple[Criterion, ...]] = (LOB, A_I, B_I, B_DOCS_A, B_DOCS_B, QL)
"""Section B, Criteria For Continuation of Therapy (plus scope, diagnosis and quantity)."""
