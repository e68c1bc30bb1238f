"""The criteria of policy MP-RX-FP-120-24, each with its id, the policy's own words, and its check.

Every check returns ``met``, ``not_met`` or ``missing`` with a finding; :meth:`Criterion.evaluate`
turns the finding into one plain sentence fit for a letter::

    Criterion A.ii of policy MP-RX-FP-120-24 requires <requirement>; <finding>, so <verdict>.

Reasons and evidence never carry the member's name, date of birth or member id: evidence holds
document ids and dates, ICD-10-CM codes, line numbers and assessment dates only.

Outcomes, in short (the docstring of each check has the details):

* ``LOB``: line of business in scope and HCPCS J1323, else ``not_met``.
* ``A.i``: a C90.00-C90.02 code and a relapsed/refractory status: ``met``; only other codes, or a
  status of newly diagnosed / in remission: ``not_met``; no code at all, or no status: ``missing``.
* ``A.ii``: at least four lines and all three classes: ``met``; lines documented but too few or a
  class absent: ``not_met``; no prior line at all: ``missing``.
* ``A.iii``: current ECOG 0-2 ``met``, current 3-5 ``not_met``, absent/stale/future ``missing``.
* ``A.docs``: a current clinical document (not type ``other``): ``met``, else ``missing``.
* ``B.i``: progression, unacceptable toxicity or best response PD: ``not_met``, else ``met``.
* ``B.docs.A``: current oncology note ``met``, else ``missing``.
* ``B.docs.B``: current imaging or lab results ``met``, else ``missing``.
* ``QL``: no quantity requested or within the labeled maximum ``met``; above it (or no labeled
  dose in the period) ``not_met``.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import date
from typing import Final

from contracts import CriterionResult, PARequest
from contracts.models import CriterionId, CriterionOutcome, DocumentType
from policy import label
from policy._build import build
from policy.agents import CLASS_NAMES, CLASS_NOUNS, CLASS_ORDER, CLASS_SHORT, DrugClass, classes_of
from policy.evidence import Dated, currency, describe_not_current
from policy.schedule import QuantityPlan, add_months
from policy.settings import POLICY_ID, PolicySettings

MAX_REASON: Final = 1000
MAX_EVIDENCE_ITEMS: Final = 50
MAX_EVIDENCE_CHARS: Final = 200

MM_CODES: Final = frozenset({"C9000", "C9001", "C9002"})
"""ICD-10-CM C90.00 (not having achieved remission), C90.01 (in remission), C90.02 (in relapse):
the policy's "C90.00-C90.02", compared without the dot and case-insensitively."""
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

Finding = tuple[CriterionOutcome, str, list[str]]
"""(outcome, finding clause, evidence references)."""


@dataclass(frozen=True, slots=True)
class Facts:
    """What every check may read: the request, the settings, and the dates derived once."""

    request: PARequest
    settings: PolicySettings
    received_on: date
    """UTC date of ``received_at``: evidence currency is measured against it."""
    decided_on: date
    """UTC date of the evaluation time ``now``."""
    plan: QuantityPlan


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
        memo_key = self.memo_key
        if memo_key is None:
            return self._evaluate(facts)
        key = (self.id, facts.settings.fingerprint, memo_key(facts))
        result = _MEMO.get(key)
        if result is None:
            result = self._evaluate(facts)
            if len(_MEMO) >= MEMO_LIMIT:
                _MEMO.clear()
            _MEMO[key] = result
        return result

    def _evaluate(self, facts: Facts) -> CriterionResult:
        outcome, finding, evidence = self.check(facts)
        reason = f"{self.lead(facts.settings)}; {finding}, so {_VERDICT[outcome]}."
        if len(reason) > MAX_REASON:
            reason = reason[: MAX_REASON - 3] + "..."
        if len(evidence) > MAX_EVIDENCE_ITEMS:
            evidence = [*evidence[: MAX_EVIDENCE_ITEMS - 1], f"and {len(evidence) - MAX_EVIDENCE_ITEMS + 1} more"]
        for i, e in enumerate(evidence):
            if len(e) > MAX_EVIDENCE_CHARS:
                evidence[i] = e[: MAX_EVIDENCE_CHARS - 3] + "..."
        return build(CriterionResult, {"id": self.id, "result": outcome, "reason": reason, "evidence": evidence})


MEMO_LIMIT: Final = 4096
"""Bound of the memo table (cleared when full): a few MB of shared results."""
_MEMO: dict[tuple[str, str, Hashable], CriterionResult] = {}
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


def _join(items: list[str], conj: str = "and") -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {conj} " + items[-1]


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
        return "not_met", "the request is for " + _join(problems), evidence
    return "met", f"the request is for line of business {lob} and HCPCS {s.hcpcs}", evidence


# --- A.i -----------------------------------------------------------------------------------------


def check_a_i(f: Facts) -> Finding:
    """Relapsed or refractory multiple myeloma: an ICD-10-CM code in C90.00-C90.02 (with or without
    the dot, any case) and ``disease_status`` relapsed, refractory or relapsed_and_refractory.

    No diagnosis code, or a myeloma code without a disease status: ``missing``. Only other codes,
    or a status of newly diagnosed or in remission: ``not_met``."""
    dx = f.request.diagnosis
    codes = [_dotted(c) for c in dx.icd10_codes]
    mm = [c for c in codes if c.replace(".", "") in MM_CODES]
    status = dx.disease_status
    evidence = [f"ICD-10-CM {c}" for c in codes]
    if status is not None:
        evidence.append(f"disease_status {status}")
    if not codes:
        return "missing", "no ICD-10-CM diagnosis code was submitted", evidence
    if not mm:
        return (
            "not_met",
            f"the diagnosis {_plural(len(codes), 'code', 'codes')} submitted ({_join(codes)}) "
            f"{'is' if len(codes) == 1 else 'are'} not multiple myeloma (C90.00-C90.02)",
            evidence,
        )
    shown = _join(mm)
    if status is None:
        return (
            "missing",
            f"the request documents multiple myeloma ({shown}) but not whether it is relapsed or refractory",
            evidence,
        )
    if status not in RELAPSED_OR_REFRACTORY:
        return (
            "not_met",
            f"the request documents multiple myeloma ({shown}) that is {status.replace('_', ' ')}, "
            "not relapsed or refractory",
            evidence,
        )
    return "met", f"the request documents {status.replace('_', ' ')} multiple myeloma ({shown})", evidence


# --- A.ii ----------------------------------------------------------------------------------------


def _a_ii_requirement(s: PolicySettings) -> str:
    return (
        f"at least {_words(s.min_prior_lines)} prior lines of therapy, including an anti-CD38 monoclonal "
        "antibody, a proteasome inhibitor and an immunomodulatory agent (one line is one regimen, however "
        "many agents it combines)"
    )


def check_a_ii(f: Facts) -> Finding:
    """Prior lines are counted by distinct ``line`` number (two entries with the same number are one
    line; agents of one regimen never count as separate lines). Every agent counts toward its line,
    known or not; the classes come from :func:`policy.agents.classes_of`.

    No prior line at all: ``missing`` (nothing documented). Lines documented but fewer than the
    minimum, or a class absent from every line: ``not_met``."""
    lines: dict[int, list[str]] = {}
    for entry in f.request.prior_lines:
        lines.setdefault(entry.line, []).extend(entry.regimen)
    if not lines:
        return "missing", "no prior line of therapy is documented", []
    numbers = sorted(lines)
    first_seen: dict[DrugClass, str] = {}
    evidence: list[str] = []
    for n in numbers:
        tagged: list[str] = []
        for agent in lines[n]:
            classes = classes_of(agent)
            if classes:
                tagged.append(f"{agent} [{'/'.join(CLASS_SHORT[c] for c in CLASS_ORDER if c in classes)}]")
                for c in classes:
                    first_seen.setdefault(c, f"line {n}: {agent}")
            else:
                tagged.append(agent)
        evidence.append(f"line {n}: " + ", ".join(tagged))
    count = len(numbers)
    listed = f"line {numbers[0]}" if count == 1 else "lines " + ", ".join(str(n) for n in numbers)
    documented = f"the request documents {_plural(count, 'prior line', 'prior lines')} ({listed})"
    absent = [CLASS_NOUNS[c] for c in CLASS_ORDER if c not in first_seen]
    enough = count >= f.settings.min_prior_lines
    if enough and not absent:
        found = _join([f"{CLASS_NAMES[c]} ({first_seen[c]})" for c in CLASS_ORDER])
        return "met", f"{documented}, including {found}", evidence
    problems: list[str] = []
    if not enough:
        problems.append(f"fewer than the {_words(f.settings.min_prior_lines)} required")
    if absent:
        problems.append(f"no {_join(absent, 'or')} in any line")
    return "not_met", f"{documented}: {_join(problems)}", evidence


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
        return "missing", "no ECOG performance status was submitted", []
    on = ecog.assessed_on.isoformat()
    evidence = [f"ECOG {ecog.score} assessed {on}"]
    state, age = currency(ecog.assessed_on, f.received_on, s.ecog_window_days)
    received = f.received_on.isoformat()
    if state == "future":
        return (
            "missing",
            f"the ECOG assessment is dated {on}, after the request was received on {received}; "
            "future-dated evidence cannot be accepted",
            evidence,
        )
    if state == "stale":
        return (
            "missing",
            f"the ECOG assessment dated {on} is {age} days old when the request was received on {received}, "
            f"outside the {s.ecog_window_days}-day window",
            evidence,
        )
    when = f"assessed on {on}, {_plural(age, 'day', 'days')} before the request was received"
    if ecog.score <= s.max_ecog:
        return "met", f"the ECOG performance status is {ecog.score}, {when}", evidence
    return "not_met", f"the current ECOG performance status is {ecog.score}, {when}", evidence


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
            f"the {latest[1]}, {_plural(latest[2], 'day', 'days')} before the request was received, is current "
            f"(within the {window}-day window){also}"
        )
        return "met", finding, current
    evidence = [f"{d.label} ({'stale' if d.state == 'stale' else 'future-dated'})" for d in others]
    if others:
        return "missing", describe_not_current(others, received_on, window, what), evidence
    return "missing", f"no {what} was submitted", evidence


def _a_docs_requirement(s: PolicySettings) -> str:
    return (
        "documentation supporting the diagnosis and the approval criteria, such as chart notes, lab results, "
        f"pathology reports, imaging studies or an oncology note, dated within {s.supporting_docs_window_days} "
        "days before the request was received"
    )


def check_a_docs(f: Facts) -> Finding:
    """At least one current chart note, lab result, pathology report, imaging study or oncology note
    (``supporting_docs_window_days``): ``met``; otherwise ``missing``. Type ``other`` alone: ``missing``."""
    outcome, finding, evidence = _documents(
        f, SUPPORTING_DOCUMENTS, f.settings.supporting_docs_window_days, "supporting clinical documentation"
    )
    if outcome == "missing" and not evidence:
        others = [d for d in f.request.documents if d.type == "other"]
        if others:
            finding = (
                f"only {_plural(len(others), 'document', 'documents')} of type other "
                f"{'was' if len(others) == 1 else 'were'} submitted, which does not show chart notes, lab "
                "results, a pathology report, imaging or an oncology note"
            )
            evidence = [f"other {d.id} dated {d.date.isoformat()}" for d in others]
    return outcome, finding, evidence


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
    """No unacceptable toxicity and no progression: ``disease_progression`` or
    ``unacceptable_toxicity`` true, or best response PD: ``not_met``; otherwise ``met`` (stable
    disease is not progression). The label sets no maximum duration (treat until progression or
    unacceptable toxicity), so the policy's "maximum duration" clause cannot fail."""
    c = f.request.continuation
    if c is None:  # the contract forbids it; kept so the engine never raises
        return "missing", "the continuation details are absent", []
    evidence = [
        f"best_response {c.best_response}",
        f"disease_progression {str(c.disease_progression).lower()}",
        f"unacceptable_toxicity {str(c.unacceptable_toxicity).lower()}",
    ]
    if c.response_since is not None:
        evidence.insert(1, f"response_since {c.response_since.isoformat()}")
    problems: list[str] = []
    if c.disease_progression:
        problems.append("disease progression")
    if c.unacceptable_toxicity:
        problems.append("unacceptable toxicity")
    if c.best_response == "PD":
        problems.append("a best response of progressive disease (PD)")
    if problems:
        return "not_met", f"the request reports {_join(problems)} on the current regimen", evidence
    since = f" since {c.response_since.isoformat()}" if c.response_since else ""
    return (
        "met",
        f"the request reports no disease progression and no unacceptable toxicity, with a best response of "
        f"{c.best_response}{since}, and the label sets no maximum duration of therapy",
        evidence,
    )


# --- QL ------------------------------------------------------------------------------------------


def _ql_requirement(s: PolicySettings) -> str:
    billing = (
        "whole 44 mg vials for the 12 mg and 32 mg step-up doses"
        if s.step_up_whole_vial_billing
        else ("units equal to the dose")
    )
    return (
        f"that the {s.hcpcs} units for the authorization period stay within the FDA-labeled dosing schedule "
        f"(1 unit = 1 mg, {billing})"
    )


def is_responder(request: PARequest, valid_from: date) -> bool:
    """Whether the schedule follows the responder intervals (every 2 weeks from week 25, every 4
    weeks from week 49) in the period starting ``valid_from``.

    Initial requests: yes, the labeled schedule as the policy prints it (weekly to week 24, then
    every 2 weeks). Continuation: a best response of PR or better (sCR, CR, VGPR, PR) reached on
    ``response_since`` at least 2 months before ``valid_from``. Without ``response_since`` the
    2 months cannot be shown, so the label's weekly schedule applies: the larger quantity, so a
    genuine responder is never authorized too little.
    """
    c = request.continuation
    if c is None:
        return True
    if c.best_response not in label.RESPONDER_RESPONSES or c.response_since is None:
        return False
    held = add_months(c.response_since, label.RESPONSE_MAINTAINED_MONTHS)
    return held is not None and held <= valid_from


def responder_basis(request: PARequest, valid_from: date) -> str:
    """Why the schedule follows the intervals :func:`is_responder` chose, for the QL reason."""
    c = request.continuation
    if c is None:
        return "therapy day 1 is the first day of the period; weekly dosing through week 24, then every 2 weeks"
    if c.best_response not in label.RESPONDER_RESPONSES:
        return f"a best response of {c.best_response} (not PR or better) keeps weekly dosing"
    if c.response_since is None:
        return (
            f"a best response of {c.best_response} without the date it was reached cannot show the 2 months the "
            "label requires before a longer interval, so weekly dosing is assumed"
        )
    since = c.response_since.isoformat()
    if not is_responder(request, valid_from):
        return (
            f"a best response of {c.best_response} since {since}, not yet maintained 2 months on "
            f"{valid_from.isoformat()}, keeps weekly dosing"
        )
    return (
        f"a best response of {c.best_response} since {since}, maintained at least 2 months, moves dosing to every "
        "2 weeks from week 25 and every 4 weeks from week 49"
    )


def check_ql(f: Facts) -> Finding:
    """Maximum units = units of the labeled doses dated within the authorization period
    (:func:`policy.schedule.quantity_plan`). No quantity requested or at most the maximum: ``met``;
    more: ``not_met`` (the reason gives both numbers and the arithmetic). A period with no labeled
    dose in it (therapy starting after the period) is ``not_met``."""
    plan, r = f.plan, f.request
    requested = r.drug.requested_units
    vf, vt = plan.valid_from.isoformat(), plan.valid_through.isoformat()
    basis = responder_basis(r, plan.valid_from)
    if r.continuation is not None:
        if plan.first_day >= 1:
            week = (plan.first_day - 1) // 7 + 1
            start = (
                f"therapy started on {plan.therapy_start.isoformat()}, so the period begins on therapy day "
                f"{plan.first_day} (week {week}); {basis}"
            )
        else:
            start = f"therapy starts on {plan.therapy_start.isoformat()}, inside the period; {basis}"
    else:
        start = basis
    evidence = [f"valid_from {vf}", f"valid_through {vt}", f"max_units {plan.max_units}"]
    if r.continuation is not None:
        evidence.append(f"therapy_start_date {plan.therapy_start.isoformat()}")
    if requested is not None:
        evidence.append(f"requested_units {requested}")
    allowed = (
        f"for the authorization period {vf} through {vt} ({start}) the labeled schedule allows "
        f"{plan.max_units} units ({plan.arithmetic})"
    )
    if plan.max_units == 0:
        return "not_met", f"{allowed}, so there is no labeled quantity to authorize", evidence
    if requested is None:
        return "met", f"{allowed}; no quantity was requested and the authorization carries that maximum", evidence
    if requested <= plan.max_units:
        return "met", f"{allowed}; the request asks for {requested} units, within that maximum", evidence
    return (
        "not_met",
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
    memo_key=lambda f: (tuple(f.request.diagnosis.icd10_codes), f.request.diagnosis.disease_status),
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
    memo_key=lambda f: tuple([(e.line, *e.regimen) for e in f.request.prior_lines]),
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
        "no evidence of unacceptable toxicity or disease progression on the current regimen, within the "
        "maximum duration of therapy"
    ),
    check=check_b_i,
    memo_key=lambda f: (
        None
        if f.request.continuation is None
        else (
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
    cite=_cite("QL", "Limits B, quantity limitations"),
    policy_text=(
        "Approvals may be subject to dosing limits in accordance with FDA-approved labeling, accepted "
        "compendia, and/or evidence-based practice guidelines (step-up 12 mg day 1, 32 mg day 4, 76 mg day 8; "
        "76 mg weekly through week 24; every 2 weeks from week 25 for responders; every 4 weeks from week 49)."
    ),
    requirement=_ql_requirement,
    check=check_ql,
    memo_key=lambda f: (
        f.plan.key,
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
