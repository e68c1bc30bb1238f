"""Every criterion through met / not_met / missing, with the boundaries the policy turns on.

Each case starts from a request that meets every criterion (``initial`` or ``continuation`` in
:mod:`tests.policy.factory`, received 2026-11-27), changes what the case is about, and checks the
one criterion's result and the code of its finding.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.policy.factory import (
    Mutator,
    change,
    continuation,
    criterion,
    days_before,
    drop,
    initial,
    run,
    set_,
)


@dataclass(frozen=True)
class Case:
    id: str
    criterion: str
    result: str
    code: str
    """The finding's code (policy/REASONS.md)."""
    changes: tuple[Mutator, ...] = ()
    base: Callable[[], dict[str, Any]] = initial


def lines(*regimens: list[str]) -> Mutator:
    """Prior lines 1..n with these regimens."""
    return set_("prior_lines", [{"line": i, "regimen": r} for i, r in enumerate(regimens, start=1)])


def docs(*items: tuple[str, int]) -> Mutator:
    """Documents of (type, days before receipt)."""
    return set_("documents", [{"type": t, "date": days_before(n), "id": f"DOC-{i}"} for i, (t, n) in enumerate(items)])


VRD = ["bortezomib", "lenalidomide", "dexamethasone"]
DPD = ["daratumumab", "pomalidomide", "dexamethasone"]
KD = ["carfilzomib", "dexamethasone"]
ISA_PD = ["isatuximab", "pomalidomide", "dexamethasone"]

CASES = [
    # --- LOB: line of business and HCPCS ------------------------------------------------------------
    Case("lob-ma", "LOB", "met", "in_scope"),
    Case("lob-multihealth", "LOB", "met", "in_scope", (set_("line_of_business", "MMM_MULTIHEALTH"),)),
    Case("lob-hcpcs-lower-case", "LOB", "met", "in_scope", (set_("drug.hcpcs", "j1323"),)),
    Case(
        "lob-commercial",
        "LOB",
        "not_met",
        "out_of_scope",
        (set_("line_of_business", "COMMERCIAL_PPO"),),
    ),
    Case(
        "lob-other-hcpcs",
        "LOB",
        "not_met",
        "out_of_scope",
        (set_("drug.hcpcs", "J9999"),),
    ),
    # --- A.i: relapsed or refractory multiple myeloma ------------------------------------------------
    Case("ai-c90.02-rr", "A.i", "met", "relapsed_or_refractory_myeloma"),
    Case(
        "ai-c90.00-refractory",
        "A.i",
        "met",
        "relapsed_or_refractory_myeloma",
        (set_("diagnosis", {"icd10_codes": ["C90.00"], "disease_status": "refractory"}),),
    ),
    Case(
        "ai-C9000-no-dot",
        "A.i",
        "met",
        "relapsed_or_refractory_myeloma",
        (set_("diagnosis", {"icd10_codes": ["C9000"], "disease_status": "relapsed"}),),
    ),
    Case(
        "ai-c90.02-lower-case",
        "A.i",
        "met",
        "relapsed_or_refractory_myeloma",
        (set_("diagnosis", {"icd10_codes": ["c90.02"], "disease_status": "relapsed"}),),
    ),
    Case(
        "ai-c90.01-relapsed-contradicts",  # C90.01 is "in remission": the code contradicts the status
        "A.i",
        "not_met",
        "diagnosis_code_contradicts_status",
        (set_("diagnosis", {"icd10_codes": ["C90.01"], "disease_status": "relapsed"}),),
    ),
    Case(
        "ai-other-code-besides-mm",
        "A.i",
        "met",
        "relapsed_or_refractory_myeloma",
        (set_("diagnosis", {"icd10_codes": ["D63.0", "C90.02"], "disease_status": "relapsed"}),),
    ),
    Case(
        "ai-C90.03-not-a-policy-code",
        "A.i",
        "not_met",
        "not_multiple_myeloma",
        (set_("diagnosis", {"icd10_codes": ["C90.03"], "disease_status": "relapsed"}),),
    ),
    Case(
        "ai-C91.00-leukemia",
        "A.i",
        "not_met",
        "not_multiple_myeloma",
        (set_("diagnosis", {"icd10_codes": ["C91.00"], "disease_status": "relapsed"}),),
    ),
    Case(
        "ai-C90.0-category-only",
        "A.i",
        "met",
        "relapsed_or_refractory_myeloma",
        (set_("diagnosis", {"icd10_codes": ["C90.0"], "disease_status": "relapsed"}),),
    ),
    Case(
        "ai-newly-diagnosed",
        "A.i",
        "not_met",
        "not_relapsed_or_refractory",
        (set_("diagnosis.disease_status", "newly_diagnosed"),),
    ),
    Case(
        "ai-in-remission",
        "A.i",
        "not_met",
        "not_relapsed_or_refractory",
        (set_("diagnosis.disease_status", "in_remission"),),
    ),
    Case(
        "ai-no-status",
        "A.i",
        "missing",
        "disease_status_missing",
        (drop("diagnosis.disease_status"),),
    ),
    Case(
        "ai-no-code",
        "A.i",
        "missing",
        "diagnosis_code_missing",
        (set_("diagnosis.icd10_codes", []),),
    ),
    # --- A.ii: four prior lines with the three classes --------------------------------------------------
    Case("aii-four-lines", "A.ii", "met", "prior_lines_met"),
    Case("aii-exactly-four", "A.ii", "met", "prior_lines_met", (lines(VRD, DPD, KD, ISA_PD),)),
    Case(
        "aii-three-lines",
        "A.ii",
        "not_met",
        "too_few_prior_lines",
        (lines(VRD, DPD, KD),),
    ),
    Case(
        "aii-agents-are-not-lines",
        "A.ii",
        "not_met",
        "too_few_prior_lines",
        (lines(["daratumumab", "bortezomib", "lenalidomide", "dexamethasone"], KD, ["pomalidomide"]),),
    ),
    Case(
        "aii-same-line-number-twice-is-one-line",
        "A.ii",
        "not_met",
        "too_few_prior_lines",
        (
            set_(
                "prior_lines",
                [
                    {"line": 1, "regimen": VRD},
                    {"line": 2, "regimen": DPD},
                    {"line": 3, "regimen": KD},
                    {"line": 3, "regimen": ["dexamethasone"]},
                ],
            ),
        ),
    ),
    Case(
        "aii-no-anti-cd38",
        "A.ii",
        "not_met",
        "prior_class_missing",
        (lines(VRD, KD, ["pomalidomide"], ["ixazomib", "lenalidomide"]),),
    ),
    Case(
        "aii-no-pi-no-imid",
        "A.ii",
        "not_met",
        "prior_class_missing",
        (lines(["daratumumab"], ["isatuximab"], ["melphalan"], ["cyclophosphamide"]),),
    ),
    Case(
        "aii-brand-names",
        "A.ii",
        "met",
        "prior_lines_met",
        (lines(["Velcade", "Revlimid"], ["Darzalex"], ["Kyprolis"], ["Ninlaro", "Thalomid"]),),
    ),
    Case(
        "aii-case-suffix-whitespace",
        "A.ii",
        "met",
        "prior_lines_met",
        (lines(["daratumumab and hyaluronidase-FIHJ"], ["  BORTEZOMIB  "], ["ISATUXIMAB-IRFC"], ["Pomalyst\u00ae"]),),
    ),
    Case(
        "aii-faspro-brand",
        "A.ii",
        "met",
        "prior_lines_met",
        (lines(["Darzalex  Faspro"], ["ixazomib"], ["thalidomide"], ["Sarclisa"]),),
    ),
    Case(
        "aii-unknown-agents-count-as-lines",
        "A.ii",
        "met",
        "prior_lines_met",
        (lines(VRD, DPD, KD, ["elotuzumab", "dexamethasone"]),),
    ),
    Case("aii-no-prior-lines", "A.ii", "missing", "prior_lines_missing", (set_("prior_lines", []),)),
    # --- A.iii: current ECOG 0-2 --------------------------------------------------------------------
    *[Case(f"aiii-ecog-{s}", "A.iii", "met", "ecog_met", (set_("ecog.score", s),)) for s in (0, 1, 2)],
    *[Case(f"aiii-ecog-{s}", "A.iii", "not_met", "ecog_above_threshold", (set_("ecog.score", s),)) for s in (3, 4, 5)],
    Case(
        "aiii-exactly-30-days",
        "A.iii",
        "met",
        "ecog_met",
        (set_("ecog.assessed_on", days_before(30)),),
    ),
    Case("aiii-same-day", "A.iii", "met", "ecog_met", (set_("ecog.assessed_on", days_before(0)),)),
    Case(
        "aiii-31-days-stale",
        "A.iii",
        "missing",
        "ecog_not_current",
        (set_("ecog.assessed_on", days_before(31)),),
    ),
    Case(
        "aiii-stale-ecog-3-is-missing",
        "A.iii",
        "missing",
        "ecog_not_current",
        (set_("ecog", {"score": 3, "assessed_on": days_before(45)}),),
    ),
    Case(
        "aiii-future-dated",
        "A.iii",
        "missing",
        "ecog_future_dated",
        (set_("ecog.assessed_on", days_before(-1)),),
    ),
    Case("aiii-absent", "A.iii", "missing", "ecog_missing", (drop("ecog"),)),
    # --- A.docs: current supporting documentation -------------------------------------------------------
    Case("adocs-current", "A.docs", "met", "supporting_documents_current"),
    Case(
        "adocs-exactly-90-days",
        "A.docs",
        "met",
        "supporting_documents_current",
        (docs(("chart_notes", 90)),),
    ),
    Case(
        "adocs-91-days-stale",
        "A.docs",
        "missing",
        "supporting_documents_not_current",
        (docs(("pathology_report", 91)),),
    ),
    Case("adocs-future-dated", "A.docs", "missing", "supporting_documents_future_dated", (docs(("imaging", -2)),)),
    Case("adocs-other-only", "A.docs", "missing", "supporting_documents_other_only", (docs(("other", 3)),)),
    Case(
        "adocs-none",
        "A.docs",
        "missing",
        "supporting_documents_missing",
        (set_("documents", []),),
    ),
    # --- B.i: no progression, no unacceptable toxicity --------------------------------------------------
    Case("bi-vgpr", "B.i", "met", "no_progression_or_toxicity", base=continuation),
    Case(
        "bi-stable-disease-is-not-progression",
        "B.i",
        "met",
        "no_progression_or_toxicity",
        (set_("continuation.best_response", "SD"),),
        continuation,
    ),
    Case(
        "bi-progression",
        "B.i",
        "not_met",
        "progression_or_toxicity",
        (set_("continuation.disease_progression", True),),
        continuation,
    ),
    Case(
        "bi-toxicity",
        "B.i",
        "not_met",
        "progression_or_toxicity",
        (set_("continuation.unacceptable_toxicity", True),),
        continuation,
    ),
    Case(
        "bi-best-response-pd",
        "B.i",
        "not_met",
        "progression_or_toxicity",
        (set_("continuation.best_response", "PD"),),
        continuation,
    ),
    # --- B.docs.A: current oncology note (60 days) ---------------------------------------------------
    Case("bdocsa-current", "B.docs.A", "met", "oncology_note_current", base=continuation),
    Case(
        "bdocsa-exactly-60-days",
        "B.docs.A",
        "met",
        "oncology_note_current",
        (docs(("oncology_note", 60), ("imaging", 1)),),
        continuation,
    ),
    Case(
        "bdocsa-61-days",
        "B.docs.A",
        "missing",
        "oncology_note_not_current",
        (docs(("oncology_note", 61), ("imaging", 1)),),
        continuation,
    ),
    Case(
        "bdocsa-future-dated",
        "B.docs.A",
        "missing",
        "oncology_note_future_dated",
        (docs(("oncology_note", -1), ("imaging", 1)),),
        continuation,
    ),
    Case(
        "bdocsa-none",
        "B.docs.A",
        "missing",
        "oncology_note_missing",
        (docs(("chart_notes", 1), ("imaging", 1)),),
        continuation,
    ),
    # --- B.docs.B: current imaging or other objective measures (90 days) ------------------------------
    Case("bdocsb-imaging", "B.docs.B", "met", "objective_measures_current", base=continuation),
    Case(
        "bdocsb-lab-results",
        "B.docs.B",
        "met",
        "objective_measures_current",
        (docs(("oncology_note", 1), ("lab_results", 5)),),
        continuation,
    ),
    Case(
        "bdocsb-exactly-90-days",
        "B.docs.B",
        "met",
        "objective_measures_current",
        (docs(("oncology_note", 1), ("imaging", 90)),),
        continuation,
    ),
    Case(
        "bdocsb-91-days",
        "B.docs.B",
        "missing",
        "objective_measures_not_current",
        (docs(("oncology_note", 1), ("imaging", 91)),),
        continuation,
    ),
    Case(
        "bdocsb-pathology-is-not-objective-measure",
        "B.docs.B",
        "missing",
        "objective_measures_missing",
        (docs(("oncology_note", 1), ("pathology_report", 1)),),
        continuation,
    ),
    # --- QL: requested units within the labeled maximum ---------------------------------------------------
    Case("ql-nothing-requested", "QL", "met", "quantity_labeled_maximum"),
    Case(
        "ql-exactly-the-maximum",
        "QL",
        "met",
        "quantity_within_maximum",
        (set_("drug.requested_units", 1988),),
    ),
    Case(
        "ql-one-above",
        "QL",
        "not_met",
        "quantity_above_maximum",
        (set_("drug.requested_units", 1989),),
    ),
    Case("ql-continuation", "QL", "met", "quantity_labeled_maximum", base=continuation),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_criterion(case: Case) -> None:
    det = run(change(case.base(), *case.changes))
    result = criterion(det, case.criterion)
    assert result.result == case.result, result.reason
    assert result.code == case.code, result.reason
    # the citation is its own field (issue #23): the reason does not repeat it
    assert result.citation and result.citation_es, result
    assert result.citation.startswith(("Policy MP-RX-FP-120-24", "MMM plan rule", "FDA label")), result.citation
    assert result.citation_es.startswith(("Política MP-RX-FP-120-24", "Regla del plan MMM", "Etiqueta de la FDA"))
    assert "MP-RX-FP-120-24" not in result.reason
    assert result.reason_es is not None and "MP-RX-FP-120-24" not in result.reason_es


def test_every_criterion_reaches_every_outcome_it_has() -> None:
    """The table covers met, not_met and missing for each criterion that can produce them."""
    seen: dict[str, set[str]] = {}
    for c in CASES:
        seen.setdefault(c.criterion, set()).add(c.result)
    assert seen == {
        "LOB": {"met", "not_met"},  # scope is known from any valid request: never missing
        "A.i": {"met", "not_met", "missing"},
        "A.ii": {"met", "not_met", "missing"},
        "A.iii": {"met", "not_met", "missing"},
        "A.docs": {"met", "missing"},  # documents are either current or missing: never not_met
        "B.i": {"met", "not_met"},  # progression and toxicity are required booleans
        "B.docs.A": {"met", "missing"},
        "B.docs.B": {"met", "missing"},
        "QL": {"met", "not_met"},
    }


def test_criteria_of_each_request_type_in_policy_order() -> None:
    assert [c.id for c in run(initial()).criteria] == ["LOB", "A.i", "A.ii", "A.iii", "A.docs", "QL"]
    assert [c.id for c in run(continuation()).criteria] == ["LOB", "A.i", "B.i", "B.docs.A", "B.docs.B", "QL"]


def test_evidence_references_without_patient_identifiers() -> None:
    det = run(initial())
    evidence = {c.id: c.evidence for c in det.criteria}
    assert evidence["A.i"] == ["ICD-10-CM C90.02", "disease_status relapsed_and_refractory"]
    line_2 = "line 2: Darzalex Faspro (daratumumab) [anti-CD38], pomalidomide [IMiD], dexamethasone"
    assert evidence["A.ii"][1] == line_2
    assert evidence["A.iii"] == ["ECOG 1 assessed 2026-11-20"]
    assert "oncology note DOC-88121 dated 2026-11-20" in evidence["A.docs"]
    text = det.model_dump_json()
    for identifier in ("M00012345", "Rosa", "Quinones", "1951-03-14"):
        assert identifier not in "".join(c.reason + "".join(c.evidence) for c in det.criteria)
    assert "M00012345" in text  # member_id is a field of the determination, only there


def test_stale_and_future_evidence_reasons_name_dates_and_window() -> None:
    data = change(initial(), set_("ecog.assessed_on", "2026-09-01"), docs(("oncology_note", 271), ("imaging", -3)))
    det = run(data)
    a_iii, a_docs = criterion(det, "A.iii"), criterion(det, "A.docs")
    # 2026-11-27 - 2026-09-01 = 87 days; the window is 30 days; a new one must be dated from 2026-10-28.
    assert "from September 1, 2026, 87 days before we received the request on November 27, 2026" in a_iii.reason
    # the 30 days are the plan's rule (PolicySettings.ecog_window_days), named as such (issue #23)
    assert "The plan accepts one up to 30 days old" in a_iii.reason
    assert "del 1 de septiembre de 2026, 87 días antes de que recibiéramos la solicitud el 27 de noviembre de 2026" in (
        a_iii.reason_es or ""
    )
    assert "policy" not in a_iii.reason.lower()
    # The stale note (271 days) is named, not the future-dated imaging; send one dated from 2026-08-29 (90 days).
    assert a_docs.code == "supporting_documents_not_current"
    assert "from March 1, 2026, 271 days before" in a_docs.reason
    assert "dated on or after August 29, 2026" in a_docs.reason
    assert a_docs.facts is not None and a_docs.facts["dated_on_or_after"] == "2026-08-29"
    assert a_docs.evidence == [
        "oncology note DOC-0 dated 2026-03-01 (stale)",
        "imaging study DOC-1 dated 2026-11-30 (future-dated)",
    ]
