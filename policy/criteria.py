"""The criteria of policy MP-RX-FP-120-24, each with its id, the policy's own words, and its check.

Every check returns a :class:`Finding`: ``met``, ``not_met`` or ``missing``, a stable ``code`` for
what was found (:data:`CODES`), a clause, and the evidence it rests on.
:meth:`Criterion.evaluate` turns the finding into one plain sentence fit for a letter::

    Criterion A.ii of policy MP-RX-FP-120-24 requires <requirement>; <finding>, so <verdict>.

Reasons and evidence never carry the member's name, date of birth or member id: evidence holds
document ids and dates, ICD-10-CM codes, line numbers and assessment dates only.

Every calendar date is a local date of the plan (``PolicySettings.timezone``, America/Puerto_Rico):
``Facts.received_on`` is the local date of ``received_at``. Each rule, the policy's words it reads
and the test that pins it are listed in ``policy/INTERPRETATION.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import date
from typing import Final, NamedTuple

from contracts import CriterionResult, PARequest
from contracts.models import CriterionId, CriterionOutcome, DocumentType
from policy import label
from policy._build import build
from policy.agents import (
    CLASS_NAMES,
    CLASS_NOUNS,
    CLASS_OF,
    CLASS_ORDER,
    CLASS_SHORT,
    AgentReading,
    DrugClass,
    fold,
    read_agent,
)
from policy.evidence import Dated, currency, describe_not_current
from policy.schedule import QuantityPlan, add_months
from policy.settings import POLICY_ID, PolicySettings

MAX_REASON: Final = 1000
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
_NUMBER_WORDS: Final = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


class Finding(NamedTuple):
    outcome: CriterionOutcome
    code: str
    """Stable code of what was found (:data:`CODES`)."""
    clause: str
    evidence: list[str]


CODES: Final[dict[str, tuple[CriterionOutcome, str]]] = {
    # code: (outcome, meaning)
    "in_scope": ("met", "line of business and HCPCS code in the policy's scope"),
    "out_of_scope": ("not_met", "line of business or HCPCS code outside the policy's scope"),
    "diagnosis_code_missing": ("missing", "no ICD-10-CM code submitted"),
    "not_multiple_myeloma": ("not_met", "no submitted code identifies multiple myeloma"),
    "disease_status_missing": ("missing", "myeloma documented, relapsed or refractory status not stated"),
    "not_relapsed_or_refractory": ("not_met", "initial request: myeloma newly diagnosed or in remission"),
    "relapsed_or_refractory_myeloma": ("met", "initial request: relapsed or refractory multiple myeloma"),
    "continuation_indication_contradicted": ("not_met", "continuation: myeloma described as newly diagnosed"),
    "continuation_indication_myeloma": ("met", "continuation: multiple myeloma, status not re-tested"),
    "prior_lines_missing": ("missing", "no prior line of therapy documented"),
    "too_few_prior_lines": ("not_met", "fewer prior lines than the policy requires"),
    "prior_class_not_identified": ("not_met", "a required class not identified; some names not recognised"),
    "prior_class_missing": ("not_met", "a required class absent from every prior line"),
    "prior_lines_met": ("met", "enough prior lines with all three classes"),
    "ecog_missing": ("missing", "no ECOG performance status submitted"),
    "ecog_future_dated": ("missing", "ECOG assessed after the request was received"),
    "ecog_not_current": ("missing", "ECOG assessed before the currency window"),
    "ecog_above_threshold": ("not_met", "current ECOG above the policy's maximum"),
    "ecog_met": ("met", "current ECOG within the policy's range"),
    "documents_current": ("met", "a current document of the required kind"),
    "documents_not_current": ("missing", "documents of the required kind, none current"),
    "documents_missing": ("missing", "no document of the required kind"),
    "documents_other_only": ("missing", "only documents of type other"),
    "continuation_details_missing": ("missing", "continuation details absent"),
    "therapy_not_started": ("not_met", "continuation whose therapy start date is after receipt"),
    "response_before_therapy_start": ("not_met", "response dated before the therapy began"),
    "response_date_after_receipt": ("not_met", "response dated after the request was received"),
    "progression_or_toxicity": ("not_met", "progression, unacceptable toxicity or progressive disease"),
    "no_progression_or_toxicity": ("met", "no progression and no unacceptable toxicity"),
    "start_date_retroactive": ("not_met", "requested start before the receipt date"),
    "start_date_too_far_ahead": ("not_met", "requested start beyond the forward window"),
    "period_ended_before_decision": ("not_met", "the period ends before the decision date"),
    "no_labeled_dose_in_period": ("not_met", "no labeled dose falls in the period"),
    "quantity_above_maximum": ("not_met", "requested units above the labeled maximum"),
    "quantity_within_maximum": ("met", "requested units within the labeled maximum"),
    "quantity_labeled_maximum": ("met", "no units requested: the labeled maximum is authorized"),
}
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
    """``drug.requested_start_date`` as submitted (``None``: the period starts on the decision date)."""


@dataclass(frozen=True, slots=True)
class Criterion:
    """One criterion as the policy states it."""

    id: CriterionId
    cite: str
    """How a letter cites it, e.g. ``"Criterion A.ii of policy MP-RX-FP-120-24"``."""
    policy_text: str
    """The policy's words."""
    requirement: Callable[[PolicySettings], str]
    """The requirement in one clause, with this parameter set's thresholds."""
    check: Callable[[Facts], Finding]
    memo_key: Callable[[Facts], Hashable] | None = None
    """When set: every input ``check`` reads, as a hashable key. Equal keys (under equal settings)
    give an identical result, so the result is memoized in a bounded table and the same frozen
    ``CriterionResult`` instance is shared by determinations. Not set for checks that read
    per-request identifiers (document ids), which would never repeat."""

    def lead(self, settings: PolicySettings) -> str:
        key = (self.id, settings.fingerprint)
        text = _LEADS.get(key)
        if text is None:
            text = f"{self.cite} requires {self.requirement(settings)}"
            if len(_LEADS) >= MEMO_LIMIT:
                _LEADS.clear()
            _LEADS[key] = text
        return text

    def evaluate(self, facts: Facts) -> CriterionResult:
        return self.evaluate_with_code(facts)[0]

    def evaluate_with_code(self, facts: Facts) -> tuple[CriterionResult, str]:
        """The result and the finding's code."""
        memo_key = self.memo_key
        if memo_key is None:
            return self._evaluate(facts)
        key = (self.id, facts.settings.fingerprint, memo_key(facts))
        found = _MEMO.get(key)
        if found is None:
            found = self._evaluate(facts)
            if len(_MEMO) >= MEMO_LIMIT:
                _MEMO.clear()
            _MEMO[key] = found
        return found

    def _evaluate(self, facts: Facts) -> tuple[CriterionResult, str]:
        outcome, code, finding, evidence = self.check(facts)
        reason = f"{self.lead(facts.settings)}; {finding}, so {_VERDICT[outcome]}."
        if len(reason) > MAX_REASON:
            reason = reason[: MAX_REASON - 3] + "..."
        if len(evidence) > MAX_EVIDENCE_ITEMS:
            evidence = [*evidence[: MAX_EVIDENCE_ITEMS - 1], f"and {len(evidence) - MAX_EVIDENCE_ITEMS + 1} more"]
        for i, e in enumerate(evidence):
            if len(e) > MAX_EVIDENCE_CHARS:
                evidence[i] = e[: MAX_EVIDENCE_CHARS - 3] + "..."
        result = build(CriterionResult, {"id": self.id, "result": outcome, "reason": reason, "evidence": evidence})
        return result, code


MEMO_LIMIT: Final = 4096
"""Bound of the memo table (cleared when full): a few MB of shared results."""
_MEMO: dict[tuple[str, str, Hashable], tuple[CriterionResult, str]] = {}
_LEADS: dict[tuple[str, str], str] = {}
_VERDICT: Final[dict[str, str]] = {
    "met": "this criterion is met",
    "not_met": "this criterion is not met",
    "missing": "the information this criterion needs is missing",
}


def clear_memo() -> None:
    """Forget every memoized criterion result (tests compare cold and warm evaluations)."""
    _MEMO.clear()
    _LEADS.clear()


def _cite(cid: str, where: str = "") -> str:
    return f"Criterion {cid} ({where}, policy {POLICY_ID})" if where else f"Criterion {cid} of policy {POLICY_ID}"


def _words(n: int) -> str:
    return _NUMBER_WORDS[n] if 0 <= n < len(_NUMBER_WORDS) else str(n)


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _days(n: int) -> str:
    return _plural(n, "day", "days")


def _join(items: list[str], conj: str = "and") -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {conj} " + items[-1]


def _review(f: Facts, question: str) -> str:
    """``"; a reviewer must decide <question>"``, or nothing when automated denials are on (then
    no reviewer sees the request)."""
    return "" if f.settings.allow_automated_denials else f"; a reviewer must decide {question}"


def _dotted(code: str) -> str:
    c = code.upper().replace(".", "")
    return f"{c[:3]}.{c[3:]}" if len(c) > 3 else c


# --- LOB -----------------------------------------------------------------------------------------


def _lob_requirement(s: PolicySettings) -> str:
    return (
        f"a request from a line of business in its scope ({_join(sorted(s.lines_of_business), 'or')}) "
        f"for HCPCS {s.hcpcs} ({label.HCPCS_DESCRIPTION.lower()})"
    )


def check_lob(f: Facts) -> Finding:
    """In scope: ``line_of_business`` is one of the settings' lines and the HCPCS code is J1323
    (compared case-insensitively, surrounding whitespace ignored)."""
    r, s = f.request, f.settings
    lob, code = r.line_of_business, r.drug.hcpcs
    evidence = [f"line_of_business {lob}", f"hcpcs {code}"]
    problems: list[str] = []
    if lob not in s.lines_of_business:
        problems.append(f"line of business {lob}, which is outside the policy's scope")
    if code.strip().upper() != s.hcpcs:
        problems.append(f"HCPCS {code}, which is not the code this policy covers")
    if problems:
        return Finding("not_met", "out_of_scope", "the request is for " + _join(problems), evidence)
    return Finding("met", "in_scope", f"the request is for line of business {lob} and HCPCS {s.hcpcs}", evidence)


# --- A.i -----------------------------------------------------------------------------------------


def check_a_i(f: Facts) -> Finding:
    """Initial request: relapsed or refractory multiple myeloma, i.e. a myeloma code (C90.00-C90.02,
    or the subcategory C90.0 written without its fifth character) and ``disease_status`` relapsed,
    refractory or relapsed_and_refractory. No code, or a myeloma code without a status: ``missing``;
    only other codes, or newly diagnosed / in remission: ``not_met``.

    Continuation: "an indication listed in Section A" was established when therapy began; remission
    or response is the goal of therapy and is not re-tested. A myeloma code is enough; only a status
    of newly diagnosed contradicts the indication (``not_met``, a reviewer confirms it)."""
    dx = f.request.diagnosis
    codes = [_dotted(c) for c in dx.icd10_codes]
    mm = [c for c in codes if c.replace(".", "") in MM_CODES or c.replace(".", "") == MM_CATEGORY]
    status = dx.disease_status
    evidence = [f"ICD-10-CM {c}" for c in codes]
    if status is not None:
        evidence.append(f"disease_status {status}")
    if not codes:
        return Finding("missing", "diagnosis_code_missing", "no ICD-10-CM diagnosis code was submitted", evidence)
    if not mm:
        return Finding(
            "not_met",
            "not_multiple_myeloma",
            f"the diagnosis {_plural(len(codes), 'code', 'codes')} submitted ({_join(codes)}) "
            f"{'does' if len(codes) == 1 else 'do'} not identify multiple myeloma (C90.00-C90.02)",
            evidence,
        )
    shown = _join(mm)
    if any(c.replace(".", "") == MM_CATEGORY for c in mm) and not any(c.replace(".", "") in MM_CODES for c in mm):
        shown += ", the multiple myeloma subcategory written without its fifth character"
    if f.request.request_type == "continuation":
        if status == "newly_diagnosed":
            return Finding(
                "not_met",
                "continuation_indication_contradicted",
                f"the request documents multiple myeloma ({shown}) but describes it as newly diagnosed, which "
                "contradicts continuing a therapy approved for relapsed or refractory disease"
                + _review(f, "whether the indication still holds"),
                evidence,
            )
        now = "" if status is None else f", now {_STATUS_WORDS[status]}"
        return Finding(
            "met",
            "continuation_indication_myeloma",
            f"the request documents multiple myeloma ({shown}){now}, the indication for which therapy was "
            "approved; response or remission on therapy is its goal and is not re-tested",
            evidence,
        )
    if status is None:
        return Finding(
            "missing",
            "disease_status_missing",
            f"the request documents multiple myeloma ({shown}) but not whether it is relapsed or refractory",
            evidence,
        )
    if status not in RELAPSED_OR_REFRACTORY:
        return Finding(
            "not_met",
            "not_relapsed_or_refractory",
            f"the request documents multiple myeloma ({shown}) described as {_STATUS_WORDS[status]}, "
            "not relapsed or refractory",
            evidence,
        )
    return Finding(
        "met",
        "relapsed_or_refractory_myeloma",
        f"the request documents {_STATUS_WORDS[status]} multiple myeloma ({shown})",
        evidence,
    )


_STATUS_WORDS: Final[dict[str, str]] = {
    "relapsed": "relapsed",
    "refractory": "refractory",
    "relapsed_and_refractory": "relapsed and refractory",
    "newly_diagnosed": "newly diagnosed",
    "in_remission": "in remission",
}


# --- A.ii ----------------------------------------------------------------------------------------


def _a_ii_requirement(s: PolicySettings) -> str:
    return (
        f"at least {_words(s.min_prior_lines)} prior lines of therapy, including an anti-CD38 monoclonal "
        "antibody, a proteasome inhibitor and an immunomodulatory agent (one line is one regimen, however "
        "many agents it combines)"
    )


def check_a_ii(f: Facts) -> Finding:
    """Prior lines are counted by distinct ``line`` number (two entries with the same number are one
    line; agents of one regimen never count as separate lines). Names are read by
    :func:`policy.agents.read_agent` (English and Spanish names, brands, regimen abbreviations).

    Not prior lines: a line containing elranatamab (the drug requested is not a prior line) and a
    line whose ``start_date`` is after the receipt date. No entry at all: ``missing``. Too few lines,
    or a class absent: ``not_met``; when names were not recognised the reason lists them instead
    of asserting that the class was never given."""
    entries: dict[int, list[str]] = {}
    starts: dict[int, date] = {}
    for e in f.request.prior_lines:
        entries.setdefault(e.line, []).extend(e.regimen)
        if e.start_date is not None and (e.line not in starts or e.start_date < starts[e.line]):
            starts[e.line] = e.start_date
    if not entries:
        return Finding("missing", "prior_lines_missing", "no prior line of therapy is documented", [])
    counted: list[int] = []
    requested: list[int] = []
    future: list[int] = []
    unrecognised: list[str] = []
    first_seen: dict[DrugClass, str] = {}
    evidence: list[str] = []
    for n in sorted(entries):
        readings = [(name, read_agent(name)) for name in entries[n]]
        tagged: list[str] = []
        for name, reading in readings:
            tagged.append(_agent_evidence(name, reading))
        if any(reading.requested_drug for _, reading in readings):
            requested.append(n)
            evidence.append(f"line {n}: " + ", ".join(tagged) + " (the requested drug: not a prior line)")
            continue
        start = starts.get(n)
        if start is not None and start > f.received_on:
            future.append(n)
            evidence.append(f"line {n}: " + ", ".join(tagged) + f" (starts {start.isoformat()}, after receipt)")
            continue
        counted.append(n)
        evidence.append(f"line {n}: " + ", ".join(tagged))
        for name, reading in readings:
            if not reading.recognised and name.strip() not in unrecognised:
                unrecognised.append(name.strip())
            for agent in reading.agents:
                c = CLASS_OF.get(agent)
                if c is not None:
                    first_seen.setdefault(c, f"{agent}, line {n}")
    count = len(counted)
    listed = ""
    if count:
        listed = f" (line {counted[0]})" if count == 1 else " (lines " + ", ".join(map(str, counted)) + ")"
    documented = f"the request documents {_plural(count, 'prior line', 'prior lines')}{listed}"
    excluded: list[str] = []
    if requested:
        lines = _join([str(n) for n in requested])
        excluded.append(
            f"line {lines} {'contains' if len(requested) == 1 else 'contain'} elranatamab, the drug being "
            "requested, and is not a prior line"
            if len(requested) == 1
            else f"lines {lines} contain elranatamab, the drug being requested, and are not prior lines"
        )
    if future:
        lines = _join([str(n) for n in future])
        excluded.append(
            f"line {lines} starts after the request was received and is not a prior line"
            if len(future) == 1
            else f"lines {lines} start after the request was received and are not prior lines"
        )
    if excluded:
        documented += " (" + "; ".join(excluded) + ")"
    absent = [c for c in CLASS_ORDER if c not in first_seen]
    enough = count >= f.settings.min_prior_lines
    if enough and not absent:
        found = _join([f"{CLASS_NAMES[c]} ({first_seen[c]})" for c in CLASS_ORDER])
        return Finding("met", "prior_lines_met", f"{documented}, including {found}", evidence)
    problems: list[str] = []
    if not enough:
        problems.append(f"fewer than the {_words(f.settings.min_prior_lines)} required")
    if absent:
        nouns = _join([CLASS_NOUNS[c] for c in absent], "or")
        if unrecognised:
            shown = _join([f'"{u[:40]}"' for u in unrecognised[:5]]) + (" and others" if len(unrecognised) > 5 else "")
            problems.append(
                f"no {nouns} was identified among the recognised agents, and {shown} "
                f"{'was' if len(unrecognised) == 1 else 'were'} not recognised"
                + _review(f, f"what {'it is' if len(unrecognised) == 1 else 'they are'}")
            )
        else:
            problems.append(f"no {nouns} in any prior line")
    code = (
        "too_few_prior_lines"
        if not enough
        else ("prior_class_not_identified" if unrecognised else "prior_class_missing")
    )
    return Finding("not_met", code, f"{documented}: {_join(problems)}", evidence)


def _agent_evidence(name: str, reading: AgentReading) -> str:
    """The name as submitted, how it was read, and its classes: ``"VRd (bortezomib, lenalidomide,
    dexamethasone) [PI/IMiD]"``, ``"Revlimid (lenalidomide) [IMiD]"``, ``"XYZ (not recognised)"``."""
    shown = " ".join(name.split())
    if reading.requested_drug:
        shown += " (elranatamab, the requested drug)"
    elif not reading.agents:
        shown += " (not recognised)"
    elif fold(name) != " ".join(reading.agents):
        shown += f" ({', '.join(reading.agents)})"
    if reading.classes:
        shown += f" [{'/'.join(CLASS_SHORT[c] for c in CLASS_ORDER if c in reading.classes)}]"
    return shown


# --- A.iii ---------------------------------------------------------------------------------------


def _a_iii_requirement(s: PolicySettings) -> str:
    return (
        f"a current ECOG performance status of 0-{s.max_ecog} (assessed within {s.ecog_window_days} days "
        "before the request was received)"
    )


def check_a_iii(f: Facts) -> Finding:
    """Current ECOG 0-2: ``met``; current 3-5: ``not_met``; absent, stale or future-dated: ``missing``."""
    ecog, s = f.request.ecog, f.settings
    if ecog is None:
        return Finding("missing", "ecog_missing", "no ECOG performance status was submitted", [])
    on = ecog.assessed_on.isoformat()
    evidence = [f"ECOG {ecog.score} assessed {on}"]
    state, age = currency(ecog.assessed_on, f.received_on, s.ecog_window_days)
    received = f.received_on.isoformat()
    if state == "future":
        return Finding(
            "missing",
            "ecog_future_dated",
            f"the ECOG assessment is dated {on}, after the request was received on {received}; "
            "future-dated evidence cannot be accepted",
            evidence,
        )
    if state == "stale":
        return Finding(
            "missing",
            "ecog_not_current",
            f"the ECOG assessment dated {on} is {age} days old when the request was received on {received}, "
            f"outside the {s.ecog_window_days}-day window",
            evidence,
        )
    when = f"assessed on {on}, {_days(age)} before the request was received on {received}"
    if ecog.score <= s.max_ecog:
        return Finding("met", "ecog_met", f"the ECOG performance status is {ecog.score}, {when}", evidence)
    return Finding(
        "not_met", "ecog_above_threshold", f"the current ECOG performance status is {ecog.score}, {when}", evidence
    )


# --- documents -----------------------------------------------------------------------------------


def _documents(f: Facts, types: tuple[DocumentType, ...], window: int, what: str) -> Finding:
    """``met`` when a document of ``types`` is current (the most recent is named), else ``missing``."""
    received_on = f.received_on
    current: list[str] = []
    latest: tuple[date, str, int] | None = None
    others: list[Dated] = []
    for d in f.request.documents:
        if d.type not in types:
            continue
        state, age = currency(d.date, received_on, window)
        text = f"{DOC_NAMES[d.type]} {d.id} dated {d.date.isoformat()}"
        if state == "current":
            current.append(text)
            if latest is None or d.date > latest[0]:
                latest = (d.date, text, age)
        else:
            others.append(Dated(text, d.date, state, age))
    if latest is not None:
        n = len(current) - 1
        also = f", and so {'is' if n == 1 else 'are'} {_plural(n, 'other document', 'other documents')}" if n else ""
        finding = (
            f"the {latest[1]}, {_days(latest[2])} before the request was received on {received_on.isoformat()}, "
            f"is current (within the {window}-day window){also}"
        )
        return Finding("met", "documents_current", finding, current)
    evidence = [f"{d.label} ({'stale' if d.state == 'stale' else 'future-dated'})" for d in others]
    if others:
        return Finding(
            "missing", "documents_not_current", describe_not_current(others, received_on, window, what), evidence
        )
    return Finding("missing", "documents_missing", f"no {what} was submitted", evidence)


def _a_docs_requirement(s: PolicySettings) -> str:
    return (
        "documentation supporting the diagnosis and the approval criteria, such as chart notes, lab results, "
        f"pathology reports, imaging studies or an oncology note, dated within {s.supporting_docs_window_days} "
        "days before the request was received"
    )


def check_a_docs(f: Facts) -> Finding:
    """At least one current chart note, lab result, pathology report, imaging study or oncology note
    (``supporting_docs_window_days``): ``met``; otherwise ``missing``. Type ``other`` alone: ``missing``."""
    window = f.settings.supporting_docs_window_days
    found = _documents(f, SUPPORTING_DOCUMENTS, window, "supporting clinical documentation")
    if found.code == "documents_missing":
        others = [d for d in f.request.documents if d.type == "other"]
        if others:
            return Finding(
                "missing",
                "documents_other_only",
                f"only {_plural(len(others), 'document', 'documents')} of type other "
                f"{'was' if len(others) == 1 else 'were'} submitted, which does not show chart notes, lab "
                "results, a pathology report, imaging or an oncology note",
                [f"other {d.id} dated {d.date.isoformat()}" for d in others],
            )
    return found


def _b_docs_a_requirement(s: PolicySettings) -> str:
    return (
        "a current oncology note, dated within "
        f"{s.oncology_note_window_days} days before the request was received, documenting the response to "
        "treatment and showing no progression of disease"
    )


def check_b_docs_a(f: Facts) -> Finding:
    """Current oncology note (``oncology_note_window_days``): ``met``; otherwise ``missing``."""
    return _documents(f, ("oncology_note",), f.settings.oncology_note_window_days, "oncology note")


def _b_docs_b_requirement(s: PolicySettings) -> str:
    return (
        "current imaging studies and other objective measures, as appropriate (imaging or lab results dated "
        f"within {s.objective_measures_window_days} days before the request was received), showing no "
        "progression of disease"
    )


def check_b_docs_b(f: Facts) -> Finding:
    """Current imaging or lab results (``objective_measures_window_days``): ``met``; else ``missing``."""
    return _documents(f, OBJECTIVE_MEASURES, f.settings.objective_measures_window_days, "imaging study or lab result")


# --- B.i -----------------------------------------------------------------------------------------


def check_b_i(f: Facts) -> Finding:
    """A continuation of therapy under way, with no unacceptable toxicity and no progression.

    ``not_met`` (a reviewer decides), first match wins for the code, every problem in the reason:

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
        return Finding("missing", "continuation_details_missing", "the continuation details are absent", [])
    received = f.received_on.isoformat()
    start = c.therapy_start_date
    evidence = [
        f"therapy_start_date {start.isoformat()}",
        f"best_response {c.best_response}",
        f"disease_progression {str(c.disease_progression).lower()}",
        f"unacceptable_toxicity {str(c.unacceptable_toxicity).lower()}",
    ]
    if c.response_since is not None:
        evidence.insert(2, f"response_since {c.response_since.isoformat()}")
    problems: list[tuple[str, str]] = []
    if start > f.received_on:
        after_period = (
            f" and after the requested period ends on {f.plan.valid_through.isoformat()}"
            if start > f.plan.valid_through
            else ""
        )
        problems.append(
            (
                "therapy_not_started",
                f"the therapy start date {start.isoformat()} is after the request was received on {received}"
                f"{after_period}, so therapy has not started and this is not a continuation"
                + _review(f, "whether it is an initial request"),
            )
        )
    if c.response_since is not None and c.response_since < start:
        problems.append(
            (
                "response_before_therapy_start",
                f"the response is dated {c.response_since.isoformat()}, before therapy began on {start.isoformat()}, "
                "so it cannot be a response to this therapy",
            )
        )
    if c.response_since is not None and c.response_since > f.received_on:
        problems.append(
            (
                "response_date_after_receipt",
                f"the response is dated {c.response_since.isoformat()}, after the request was received on {received}",
            )
        )
    clinical: list[str] = []
    if c.disease_progression:
        clinical.append("disease progression")
    if c.unacceptable_toxicity:
        clinical.append("unacceptable toxicity")
    if c.best_response == "PD":
        clinical.append("a best response of progressive disease (PD)")
    if clinical:
        problems.append(("progression_or_toxicity", f"the request reports {_join(clinical)} on the current regimen"))
    if problems:
        return Finding("not_met", problems[0][0], "; ".join(text for _, text in problems), evidence)
    since = f" since {c.response_since.isoformat()}" if c.response_since else ""
    return Finding(
        "met",
        "no_progression_or_toxicity",
        f"therapy began on {start.isoformat()} and the request reports no disease progression and no unacceptable "
        f"toxicity, with a best response of {_RESPONSE_WORDS[c.best_response]}{since}; the label sets no maximum "
        "duration of therapy",
        evidence,
    )


_RESPONSE_WORDS: Final[dict[str, str]] = {
    "sCR": "stringent complete response (sCR)",
    "CR": "complete response (CR)",
    "VGPR": "very good partial response (VGPR)",
    "PR": "partial response (PR)",
    "MR": "minimal response (MR)",
    "SD": "stable disease (SD)",
    "PD": "progressive disease (PD)",
}


# --- QL ------------------------------------------------------------------------------------------


def _ql_requirement(s: PolicySettings) -> str:
    billing = (
        "whole 44 mg vials for the 12 mg and 32 mg step-up doses"
        if s.step_up_whole_vial_billing
        else ("units equal to the dose")
    )
    return (
        f"a period starting between the receipt date and {s.start_max_days_ahead_initial} days after it "
        f"({s.start_max_days_ahead_continuation} for a continuation) and {s.hcpcs} units within the FDA-labeled "
        f"dosing for that period (1 unit = 1 mg, {billing})"
    )


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


def dosing_basis(f: Facts) -> str:
    """Why the schedule keeps or lengthens its interval, for the QL reason."""
    r, plan = f.request, f.plan
    c = r.continuation
    if c is None:
        return (
            "therapy day 1 is the first day; with no response documented yet, weekly dosing continues after week 24 "
            "as the label keeps patients without a maintained response"
        )
    response = _RESPONSE_WORDS[c.best_response]
    if c.best_response not in label.RESPONDER_RESPONSES:
        return f"a best response of {response}, less than a partial response, keeps weekly dosing"
    if c.response_since is None:
        return (
            f"a best response of {response} without the date it was reached cannot show the 2 months the label "
            "requires before a longer interval, so weekly dosing is assumed"
        )
    since = c.response_since.isoformat()
    if plan.q2w_from is None:
        if c.response_since < plan.therapy_start or c.response_since > f.received_on:
            return f"the response date {since} is inconsistent, so weekly dosing is assumed"
        return (
            f"a best response of {response} since {since}, not yet held 2 months when the request was received on "
            f"{f.received_on.isoformat()}, keeps weekly dosing"
        )
    q4w = plan.q2w_from + 168
    return (
        f"a best response of {response} since {since}, held 2 months: every 2 weeks from therapy day "
        f"{plan.q2w_from} (week {(plan.q2w_from - 1) // 7 + 1}), every 4 weeks from day {q4w}"
    )


def _period_problem(f: Facts) -> tuple[str, str] | None:
    """The requested period's dates against the receipt and decision dates (local)."""
    s, plan = f.settings, f.plan
    received = f.received_on
    start = f.requested_start
    if start is not None:
        before = (received - start).days
        if before > s.start_max_days_before_receipt:
            allowed = (
                "the engine never authorizes a period that began before the request was received"
                if s.start_max_days_before_receipt == 0
                else f"the engine authorizes at most {_days(s.start_max_days_before_receipt)} before receipt"
            )
            return (
                "start_date_retroactive",
                f"the requested start date {start.isoformat()} is {_days(before)} before the request was received "
                f"on {received.isoformat()}, and {allowed}" + _review(f, "whether to cover the period retroactively"),
            )
        ahead = (start - received).days
        continuation = f.request.request_type == "continuation"
        limit = s.start_max_days_ahead_continuation if continuation else s.start_max_days_ahead_initial
        if ahead > limit:
            kind = "a continuation" if continuation else "an initial request"
            return (
                "start_date_too_far_ahead",
                f"the requested start date {start.isoformat()} is {_days(ahead)} after the request was received on "
                f"{received.isoformat()}, beyond the {limit}-day window for {kind}, so the submitted evidence may no "
                "longer be current when the period begins" + _review(f, "whether to authorize it now"),
            )
    if plan.valid_through < f.decided_on:
        return (
            "period_ended_before_decision",
            f"the period {plan.valid_from.isoformat()} through {plan.valid_through.isoformat()} ends before the "
            f"decision date {f.decided_on.isoformat()}" + _review(f, "what period to authorize"),
        )
    return None


def check_ql(f: Facts) -> Finding:
    """The requested period, then the quantity.

    Period (``not_met``, a reviewer decides): a ``requested_start_date`` more than
    ``start_max_days_before_receipt`` (0) days before the local receipt date, more than
    ``start_max_days_ahead_initial`` (30) / ``start_max_days_ahead_continuation`` (45) days after it,
    or a period that ends before the decision date.

    Quantity: the maximum is the fullest labeled layout of the period (:mod:`policy.schedule`). No
    quantity requested or at most the maximum: ``met``; more: ``not_met`` (the reason gives both
    numbers and the arithmetic). A period with no labeled dose in it is ``not_met``."""
    plan, r = f.plan, f.request
    requested = r.drug.requested_units
    vf, vt = plan.valid_from.isoformat(), plan.valid_through.isoformat()
    evidence = [f"valid_from {vf}", f"valid_through {vt}", f"max_units {plan.max_units}"]
    if r.continuation is not None:
        evidence.append(f"therapy_start_date {plan.therapy_start.isoformat()}")
    if requested is not None:
        evidence.append(f"requested_units {requested}")
    problem = _period_problem(f)
    if problem is not None:
        return Finding("not_met", problem[0], problem[1], evidence)
    if r.continuation is not None:
        ts = plan.therapy_start.isoformat()
        if plan.therapy_start > plan.valid_through:
            where = f"the therapy start date {ts} is after the period ends"
        elif plan.first_day < 1:
            where = f"the therapy start date {ts} is after the period begins"
        else:
            week = (plan.first_day - 1) // 7 + 1
            where = f"therapy started on {ts}, so the period begins on therapy day {plan.first_day} (week {week})"
        start = f"{where}; {dosing_basis(f)}"
    else:
        start = dosing_basis(f)
    drift = f" with {_days(f.settings.dose_drift_days)} of dose-date drift" if f.settings.dose_drift_days else ""
    allowed = (
        f"for the authorization period {vf} through {vt} ({start}) the labeled schedule allows at most "
        f"{plan.max_units} units{drift} ({plan.arithmetic})"
    )
    if plan.max_units == 0:
        return Finding(
            "not_met", "no_labeled_dose_in_period", f"{allowed}, so there is no labeled quantity to authorize", evidence
        )
    if requested is None:
        return Finding(
            "met",
            "quantity_labeled_maximum",
            f"{allowed}; no quantity was requested and the authorization carries that maximum",
            evidence,
        )
    if requested <= plan.max_units:
        return Finding(
            "met",
            "quantity_within_maximum",
            f"{allowed}; the request asks for {requested} units, within that maximum",
            evidence,
        )
    return Finding(
        "not_met",
        "quantity_above_maximum",
        f"{allowed}; the request asks for {requested} units, {requested - plan.max_units} more than that maximum",
        evidence,
    )


# --- the criteria, as the policy numbers them ----------------------------------------------------

LOB: Final = Criterion(
    id="LOB",
    cite=_cite("LOB", "scope"),
    policy_text="Scope: MMM MA, MMM Multihealth. Applicable codes: J1323 Injection, elranatamab-bcmm, 1 mg.",
    requirement=_lob_requirement,
    check=check_lob,
    memo_key=lambda f: (f.request.line_of_business, f.request.drug.hcpcs),
)
A_I: Final = Criterion(
    id="A.i",
    cite=_cite("A.i"),
    policy_text="Individual has a diagnosis of relapsed or refractory multiple myeloma.",
    requirement=lambda s: "a diagnosis of relapsed or refractory multiple myeloma (ICD-10-CM C90.00-C90.02)",
    check=check_a_i,
    memo_key=lambda f: (
        f.request.request_type,
        tuple(f.request.diagnosis.icd10_codes),
        f.request.diagnosis.disease_status,
    ),
)
A_II: Final = Criterion(
    id="A.ii",
    cite=_cite("A.ii"),
    policy_text=(
        "Individual has had at least four prior therapies, including an anti-CD38 monoclonal antibody "
        "(e.g., daratumumab), a proteasome inhibitor (e.g., bortezomib, ixazomib, or carfilzomib), and an "
        "immunomodulatory agent (e.g., lenalidomide or pomalidomide)."
    ),
    requirement=_a_ii_requirement,
    check=check_a_ii,
    memo_key=lambda f: (
        f.received_on,
        tuple([(e.line, e.start_date, *e.regimen) for e in f.request.prior_lines]),
    ),
)
A_III: Final = Criterion(
    id="A.iii",
    cite=_cite("A.iii"),
    policy_text="Individual has a current Eastern Cooperative Group (ECOG) performance status of 0-2.",
    requirement=_a_iii_requirement,
    check=check_a_iii,
    memo_key=lambda f: (
        None if f.request.ecog is None else (f.request.ecog.score, f.request.ecog.assessed_on, f.received_on)
    ),
)
A_DOCS: Final = Criterion(
    id="A.docs",
    cite=_cite("A.docs", "documentation required by section A"),
    policy_text=(
        "Provider must submit documentation [such as office chart notes, lab results, pathology reports, "
        "imaging studies, and any other pertinent clinical information] supporting the patient's diagnosis "
        "for the drug and confirming that the patient has met all approval criteria."
    ),
    requirement=_a_docs_requirement,
    check=check_a_docs,
)
B_I: Final = Criterion(
    id="B.i",
    cite=_cite("B.i"),
    policy_text=(
        "Continuation of therapy is medically necessary for an indication listed in Section A when there is "
        "no evidence of unacceptable toxicity or disease progression while on the current regimen, and the "
        "maximum duration of therapy has not been exceeded."
    ),
    requirement=lambda s: (
        "therapy already under way, with no evidence of unacceptable toxicity or disease progression on the "
        "current regimen, within the maximum duration of therapy"
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
        )
    ),
)
B_DOCS_A: Final = Criterion(
    id="B.docs.A",
    cite=_cite("B.docs.A", "section B.i, item A"),
    policy_text=(
        "A current oncology note documenting the patient's response to treatment showing no progression of disease."
    ),
    requirement=_b_docs_a_requirement,
    check=check_b_docs_a,
)
B_DOCS_B: Final = Criterion(
    id="B.docs.B",
    cite=_cite("B.docs.B", "section B.i, item B"),
    policy_text=(
        "Current imaging studies and other objective measures, as appropriate, showing no progression of "
        "disease when compared with previous results."
    ),
    requirement=_b_docs_b_requirement,
    check=check_b_docs_b,
)
QL: Final = Criterion(
    id="QL",
    cite=_cite("QL", "Limits B and section C"),
    policy_text=(
        "Approvals may be subject to dosing limits in accordance with FDA-approved labeling, accepted "
        "compendia, and/or evidence-based practice guidelines (step-up 12 mg day 1, 32 mg day 4, 76 mg day 8; "
        "76 mg weekly through week 24; every 2 weeks from week 25 for responders; every 4 weeks from week 49 "
        "in patients who have maintained the response following 24 weeks at the biweekly schedule). "
        "Initial and reauthorization approval duration: up to 6 months."
    ),
    requirement=_ql_requirement,
    check=check_ql,
    memo_key=lambda f: (
        f.plan.key,
        f.received_on,
        f.decided_on,
        f.requested_start,
        f.request.request_type,
        f.request.drug.requested_units,
        None
        if f.request.continuation is None
        else (f.request.continuation.best_response, f.request.continuation.response_since),
    ),
)

INITIAL_CRITERIA: Final[tuple[Criterion, ...]] = (LOB, A_I, A_II, A_III, A_DOCS, QL)
"""Section A, Criteria For Initial Approval (plus scope and quantity)."""
CONTINUATION_CRITERIA: Final[tuple[Criterion, ...]] = (LOB, A_I, B_I, B_DOCS_A, B_DOCS_B, QL)
"""Section B, Criteria For Continuation of Therapy (plus scope, diagnosis and quantity)."""
