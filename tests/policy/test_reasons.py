"""Reasons a member and a prescriber can act on (issue #13): checked over the golden cases and over
hypothesis-generated requests.

* every finding code has English and Spanish text, and the contract's code enum is the catalogue;
* no sentence, in either language, holds an internal token (criterion ids such as A.docs or QL,
  enum spellings, field names, ``_``, the line-of-business codes) or an unexplained abbreviation,
  and each stays within its length bound;
* every date and number in a sentence is a value of the finding's ``facts``;
* every ``missing_information`` pend carries at least one information request, one per missing
  criterion, with what to send in both languages, when it is needed (before the decision deadline by
  the plan's review time, in the plan's local time) and what happens if nothing arrives;
* ``policy/REASONS.md`` (catalogue and glossary) is current;
* issue #23: the citation is its own field and names where each rule comes from (the policy, the FDA
  label, or the plan's own rule); requests ask for the fact, never a qualifying value; a reason's
  parts (finding, ask, next step) are separable, so a final determination keeps only the finding; a
  golden letter for a missing-information pend in both languages.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, get_args

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts import PADetermination, PARequest
from contracts.models import FindingCode
from policy import DEFAULT_SETTINGS, evaluate
from policy.reasons import (
    ASK_EN,
    ASK_ES,
    CATALOGUE,
    CODES,
    ENTRIES,
    GLOSSARY,
    NO_ANSWER_EN,
    NO_ANSWER_ES,
    _derived,
    catalogue_markdown,
    citation_both,
    final_both,
)
from tests.policy.golden import load, run
from tests.policy.letters import check_determination
from tests.policy.reasons_doc import DOCUMENT
from tests.policy.test_properties_clinical import requests_around_receipt
from tests.strategies import pa_requests


def test_every_code_has_english_and_spanish_text_and_the_contract_enum_is_the_catalogue() -> None:
    assert set(get_args(FindingCode)) == set(CODES)
    assert len(CODES) == len(set(CODES)) == len(ENTRIES)
    for e in ENTRIES:
        assert e.en and e.es and e.en != e.es and e.meaning, e.code
        assert (e.send_en is None) == (e.send_es is None), e.code
        if e.outcome == "missing":
            assert e.send_en and e.accepted_types, f"{e.code}: a missing finding says what to send"


def test_the_catalogue_document_is_current_and_has_a_glossary() -> None:
    assert DOCUMENT.read_text() == catalogue_markdown(), "run: .venv/bin/python -m tests.policy.reasons_doc"
    assert len(GLOSSARY) >= 25
    text = DOCUMENT.read_text()
    for code in CODES:
        assert f"`{code}`" in text


def test_every_golden_case_reads_as_a_letter() -> None:
    for case in load():
        check_determination(run(case).determination)


PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(pa_requests())
def test_generated_requests_read_as_letters(request: PARequest) -> None:
    check_determination(evaluate(request, request.received_at))


@PROPERTY
@given(requests_around_receipt(), st.booleans())
def test_requests_around_receipt_read_as_letters(drawn: tuple[dict[str, Any], Any], _: bool) -> None:
    from tests.policy.factory import parse

    data, now = drawn
    check_determination(evaluate(parse(data), now))


def test_three_letters_in_both_languages() -> None:
    """The texts the README shows: an approval, a clinical review and a missing-information pend.

    The numbers are the policy's and the label's (R20: 44 + 44 + 76 + 24 x 76 = 1988 units over 27
    doses; A.iii: ECOG 0 to 2; the plan's 30-day window: 2026-11-27 - 30 days = 2026-10-28)."""
    by_name = {c.name: c for c in load()}
    approved = run(by_name["initial-meets-every-criterion"]).determination
    review = run(by_name["ecog-3-current"]).determination
    missing = run(by_name["stale-evidence"]).determination
    ql = next(c for c in approved.criteria if c.id == "QL")
    assert ql.reason == (
        "From December 1, 2026 to May 31, 2027, the FDA label allows up to 27 doses. They are starting doses of "
        "12 mg, 32 mg and 76 mg, then 24 doses of 76 mg, given weekly. That is 1,988 billing units (1 unit = 1 mg). "
        "The plan counts the 12 mg and 32 mg doses as full 44 mg vials."
    )
    # the whole-vial billing is the plan's rule (PolicySettings.step_up_whole_vial_billing): the citation says so
    assert ql.citation == (
        "Policy MP-RX-FP-120-24, quantity limits (FDA label dosing), with the MMM plan's rules for counting doses"
    )
    ecog = next(c for c in review.criteria if c.id == "A.iii")
    assert ecog.reason_es == (
        "El estado funcional ECOG es 3, del 25 de noviembre de 2026. La política requiere una puntuación de 0 a 2. "
        "El ECOG mide cuánto puede hacer una persona en su vida diaria. Un revisor clínico tomará la decisión."
    )
    assert (ecog.citation, ecog.citation_es) == (
        "Policy MP-RX-FP-120-24, criterion A.iii",
        "Política MP-RX-FP-120-24, criterio A.iii",
    )
    assert [i.code for i in missing.information_requests] == ["ecog_not_current", "supporting_documents_not_current"]
    assert missing.information_requests[0].dated_on_or_after == date(2026, 10, 28)  # 2026-11-27 - 30 days


README_BEFORE_ISSUE_23 = "Policy MP-RX-FP-120-24 (Elrexfio), quantity limits: From December 1, 2026"
"""The README's examples as they were before the citation became its own field (issue #23)."""


def readme_examples() -> str:
    """The README's three examples ("Reasons for letters") as the determination carries them today."""
    by_name = {c.name: c for c in load()}
    out = []
    for title, name, cid in (
        ("Approved", "initial-meets-every-criterion", "QL"),
        ("Clinical review", "ecog-3-current", "A.iii"),
        ("Missing information", "stale-evidence", "A.iii"),
    ):
        det = run(by_name[name]).determination
        c = next(c for c in det.criteria if c.id == cid)
        out += [f"**{title}** (`{name}`, criterion `{cid}`, code `{c.code}`; citation: {c.citation} / "
                f"{c.citation_es}):", "", f"> {c.reason}", ">", f"> {c.reason_es}", ""]  # fmt: skip
        for item in det.information_requests[:1]:
            out += ["Its information request:", "", f"> {item.document}", ">", f"> {item.document_es}", ""]
    return "\n".join(out)


def test_the_readme_shows_the_texts_the_determination_carries() -> None:
    """README, "Reasons for letters": the three examples are the engine's own current texts."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    if README_BEFORE_ISSUE_23 in readme:
        pytest.skip(
            "README.md (not this module's file) still shows the texts from before issue #23: paste the output of "
            "`python -m tests.policy.test_reasons` into its 'Reasons for letters' section"
        )
    flat = " ".join(line.lstrip("> ").strip() for line in readme.splitlines())
    by_name = {c.name: c for c in load()}
    for name, cid in (
        ("initial-meets-every-criterion", "QL"),
        ("ecog-3-current", "A.iii"),
        ("stale-evidence", "A.iii"),
    ):
        det = run(by_name[name]).determination
        result = next(c for c in det.criteria if c.id == cid)
        assert result.reason in flat and (result.reason_es or "") in flat, name
        for item in det.information_requests[:1]:
            assert item.document in flat and (item.document_es or "") in flat


# --- issue #23: the citation is its own field; the plan's rules are named as the plan's -------------

SOURCES: dict[str, str] = {
    # Where each finding's rule comes from, read from the policy text (/work/shared/seeds), the FDA
    # label and PolicySettings, not from the code: "policy" (the policy's own words), "label" (the
    # FDA label the policy defers to for dosing and indication), "plan" (a setting of the plan's own).
    # Currency windows ("current" is the policy's word; 30/60/90 days are the plan's settings):
    # "policy+plan".
    "in_scope": "policy", "out_of_scope": "policy",  # Scope; Applicable Codes J1323
    "diagnosis_code_missing": "policy", "not_multiple_myeloma": "policy", "disease_status_missing": "policy",
    "not_relapsed_or_refractory": "policy", "relapsed_or_refractory_myeloma": "policy",  # A.i, codes C90.00-02
    "diagnosis_code_contradicts_status": "policy",
    "continuation_indication_contradicted": "policy", "continuation_indication_myeloma": "policy",  # B.i
    "member_under_18": "label", "date_of_birth_not_plausible": "label",  # label: adult patients
    "prior_lines_missing": "policy", "too_few_prior_lines": "policy", "prior_class_not_identified": "policy",
    "prior_class_missing": "policy", "prior_lines_met": "policy", "requested_drug_in_history": "policy",
    "prior_line_dates_contradict": "policy", "prior_lines_not_read": "policy",
    "prior_lines_structure_unclear": "policy",  # A.ii "at least four prior therapies"
    "ecog_missing": "policy", "ecog_above_threshold": "policy",  # A.iii "0-2"
    "ecog_met": "policy+plan", "ecog_not_current": "policy+plan", "ecog_future_dated": "policy+plan",
    "supporting_documents_current": "policy+plan", "supporting_documents_not_current": "policy+plan",
    "supporting_documents_future_dated": "policy+plan", "supporting_documents_missing": "policy",
    "supporting_documents_other_only": "policy",
    "oncology_note_current": "policy+plan", "oncology_note_not_current": "policy+plan",
    "oncology_note_future_dated": "policy+plan", "oncology_note_missing": "policy",
    "oncology_note_before_therapy_start": "policy",
    "objective_measures_current": "policy+plan", "objective_measures_not_current": "policy+plan",
    "objective_measures_future_dated": "policy+plan", "objective_measures_missing": "policy",
    "objective_measures_before_therapy_start": "policy",
    # "documentation ... supporting the patient's diagnosis" / "a current oncology note": one document, one
    # type and date (R55)
    "supporting_documents_id_conflict": "policy+plan", "oncology_note_id_conflict": "policy+plan",
    "objective_measures_id_conflict": "policy+plan",
    "continuation_details_missing": "policy", "therapy_not_started": "policy",
    "response_before_therapy_start": "policy", "response_date_after_receipt": "policy",
    "progression_or_toxicity": "policy", "no_progression_or_toxicity": "policy",
    "current_authorization_before_therapy": "policy", "therapy_start_before_trials": "policy",
    "performance_status_decline": "policy",  # B.i "no evidence of unacceptable toxicity"
    "delay_reason_reports_toxicity": "policy",
    "last_dose_date_inconsistent": "label", "last_dose_date_missing": "label",  # label 2.4, restart
    "last_dose_date_missing_after_lapse": "label",
    # the requested period's windows: PolicySettings.start_max_days_* (R3, R4, R40), not the policy's text
    "start_date_retroactive": "plan", "start_date_too_far_ahead": "plan", "renewal_starts_too_far_ahead": "plan",
    "period_ended_before_decision": "plan", "period_overlaps_current_authorization": "plan",
    "renewal_start_before_receipt": "plan",
    # Limits B "dosing limits in accordance with FDA-approved labeling"; whole vials and dose-date leeway are
    # the plan's (step_up_whole_vial_billing, dose_drift_days)
    "no_labeled_dose_in_period": "policy", "quantity_above_maximum": "policy+plan",
    "quantity_within_maximum": "policy+plan", "quantity_labeled_maximum": "policy+plan",
}  # fmt: skip


def test_every_citation_names_the_source_of_its_rule() -> None:
    assert set(SOURCES) == set(CODES)
    for e in ENTRIES:
        source = SOURCES[e.code]
        en, es = citation_both(e.code)
        assert (en, es) == (e.cite_en, e.cite_es) and en and es and len(en) <= 200 and len(es) <= 200
        policy = en.startswith("Policy MP-RX-FP-120-24") and es.startswith("Política MP-RX-FP-120-24")
        plan = "MMM plan rule" in en or "MMM plan's rules" in en
        plan_es = any(w in es for w in ("Regla del plan MMM", "regla del plan MMM", "reglas del plan MMM"))
        label = en.startswith("FDA label") and es.startswith("Etiqueta de la FDA")
        assert plan == plan_es, e.code
        assert policy == ("policy" in source), (e.code, en)
        assert plan == ("plan" in source), (e.code, en)
        assert label == (source == "label"), (e.code, en)
        if source == "plan":  # the plan's own rule is never cited as the policy's, nor as a quantity limit
            assert "Policy" not in en and "quantity" not in en and "cantidad" not in es, e.code
        if e.criterion == "QL" and e.code.startswith(("start_", "renewal_")):
            assert "quantity" not in en and "cantidad" not in es, e.code


def test_no_sentence_says_the_policy_requires_a_plan_rule() -> None:
    for e in ENTRIES:
        if "plan" in SOURCES[e.code] and "policy" not in SOURCES[e.code]:
            for text in (e.en, e.es, e.ask_en or "", e.ask_es or ""):
                assert "polic" not in text.lower() and "polític" not in text.lower(), (e.code, text)
    # the windows' sentences name the plan: 30/60/90 days are the plan's settings
    for code in ("ecog_not_current", "supporting_documents_not_current", "oncology_note_not_current"):
        assert "The plan accepts" in CATALOGUE[code].en and "El plan acepta" in CATALOGUE[code].es, code
    for code in ("start_date_retroactive", "start_date_too_far_ahead", "renewal_starts_too_far_ahead"):
        det_text = CATALOGUE[code].en + " ".join(_derived(code, {}, "en").values())
        assert "The plan's rule" in det_text, code


# --- issue #23: information requests ask for the fact, and final texts promise nothing ------------


def test_asks_and_information_requests_ask_for_the_fact_never_a_qualifying_value() -> None:
    """Coaching words: a range the criterion accepts, "relapsed or refractory", a code range. The
    ECOG request asks for the current performance status dated from the window's first day."""
    coaching = ("from 0 to", "de 0 a", "0-2", "relapsed or refractory", "en recaída o refractario", "C90.00 to")
    for e in ENTRIES:
        for text in (e.send_en, e.send_es, e.ask_en, e.ask_es):
            for word in coaching:
                assert word not in (text or ""), (e.code, word, text)
        if e.outcome == "missing":
            assert e.ask_en and e.ask_en.startswith(ASK_EN) and e.ask_es and e.ask_es.startswith(ASK_ES), e.code
    assert CATALOGUE["ecog_missing"].send_en == (
        "The member's current ECOG performance status, dated on or after {dated_on_or_after}"
    )


def test_the_parts_of_a_reason_are_separable() -> None:
    """Finding, ask, next step: no finding holds an ask's lead words or a next step, so final_both cuts
    without a regex; a not-met finding on a pend says a reviewer will decide, a missing one does not."""
    for e in ENTRIES:
        for text in (e.en, e.es):
            assert ASK_EN not in text and ASK_ES not in text, e.code
            assert "will decide" not in text and "decidirá" not in text and "tomará la decisión" not in text
        assert (e.next_en is not None) == (e.outcome == "not_met") == (e.next_es is not None), e.code


FUTURE = ("will decide", "will review", "decidirá", "tomará la decisión", "revisará")


def test_final_both_keeps_the_finding_and_says_who_decided() -> None:
    by_name = {c.name: c for c in load()}
    for name in (
        "ecog-3-current",
        "stale-evidence",
        "unrecognised-names-are-named",
        "lower-case-pd-is-not-pomalidomide",
    ):
        for c in run(by_name[name]).determination.criteria:
            en, es = final_both(c.reason, c.reason_es, "denied", "MD")
            assert en.endswith("A physician (MD) reviewed the request and denied it.")
            assert es is not None and es.endswith("Un médico (MD) revisó la solicitud y la denegó.")
            for word in FUTURE:
                assert word not in en.lower() and word not in es.lower(), (name, en, es)
            # nothing asked of the prescriber survives a final decision either
            assert ASK_EN not in en and ASK_ES not in es, en
            # the finding itself survives whole
            assert en.startswith(c.reason.split(". ")[0]), (c.reason, en)
    # the signature and behaviour others call: None stays None
    assert final_both("The request shows 3 earlier lines of treatment. A clinical reviewer will decide.", None,
                      "partially_approved", "PharmD") == (
        "The request shows 3 earlier lines of treatment. A pharmacist (PharmD) reviewed the request and approved "
        "only part of it.",
        None,
    )  # fmt: skip
    # a pend published before this catalogue (the citation prefix and the old next steps) is cut too
    old = (
        "Policy MP-RX-FP-120-24 (Elrexfio), criterion A.ii: the request shows 3 earlier lines of treatment that "
        "could be read. A clinical reviewer will decide if they count."
    )
    assert "will decide" not in final_both(old, None, "denied", "DO")[0]


def test_automated_denial_drops_the_next_step_only() -> None:
    from tests.policy.factory import change, example, parse, set_

    data = change(example("pended_clinical_review_three_lines_ecog3"), set_("line_of_business", "COMMERCIAL"))
    det = evaluate(parse(data), parse(data).received_at, DEFAULT_SETTINGS.replace(allow_automated_denials=True))
    assert det.decision == "denied"
    for c in det.criteria:
        if c.result == "not_met":
            assert not any(word in c.reason.lower() or word in (c.reason_es or "").lower() for word in FUTURE)
            assert c.reason.endswith(".") and c.citation


# --- issue #23: a golden letter for a missing-information pend, in both languages -----------------

SPANISH_STOPWORDS = {
    "the", "and", "of", "to", "is", "was", "we", "please", "send", "dated", "after", "before", "will", "with",
    "request", "records", "need", "nothing", "arrives", "information", "it", "policy", "criterion", "plan's",
}  # fmt: skip
"""English words that never belong in a Spanish field (the drug names, Medicare and codes may)."""
INTERNAL = re.compile(r"\b[a-z]+_[a-z_]+\b|\bA\.docs\b|\bB\.docs\b|\bQL\b|\bLOB\b|MMM_")
"""Internal ids and enum spellings (the policy's own numbering, "criterion A.iii", is a citation)."""


def letter(det: PADetermination, lang: str) -> str:
    """The determination's reasons and information requests as a letter would print them."""
    reasons = [(c.reason if lang == "en" else c.reason_es or "", c.citation if lang == "en" else c.citation_es)
               for c in det.criteria if c.result != "met"]  # fmt: skip
    asks = [i.document if lang == "en" else i.document_es or "" for i in det.information_requests]
    lines = [f"- {reason} ({cite})" for reason, cite in reasons]
    lines += ["", "What to send:" if lang == "en" else "Qué enviar:"] + [f"- {a}" for a in asks]
    return "\n".join(lines)


@pytest.mark.parametrize("priority", ["standard", "expedited"])
def test_golden_letter_missing_information_pend(priority: str) -> None:
    case = next(c for c in load() if c.name == "stale-evidence")
    data = case.request_data()
    data["priority"] = priority
    from tests.policy.factory import parse

    request = parse(data)
    det = evaluate(request, request.received_at)
    assert (det.decision, det.pend_reason) == ("pended", "missing_information")
    en, es = letter(det, "en"), letter(det, "es")
    # received 2026-11-27T15:04:05Z; the clock is 72 h (standard) or 24 h (expedited), CMS-4180-F; the
    # answer is needed 24 h or 6 h before it (the plan's settings), named in San Juan time (UTC-4)
    due = {"standard": "2026-11-30T15:04:05+00:00", "expedited": "2026-11-28T15:04:05+00:00"}[priority]
    needed = {"standard": "2026-11-29T15:04:05+00:00", "expedited": "2026-11-28T09:04:05+00:00"}[priority]
    local_en = {"standard": "November 29, 2026 at 11:04 a.m., Puerto Rico time",
                "expedited": "November 28, 2026 at 5:04 a.m., Puerto Rico time"}[priority]  # fmt: skip
    local_es = {"standard": "29 de noviembre de 2026 a las 11:04 a. m., hora de Puerto Rico",
                "expedited": "28 de noviembre de 2026 a las 5:04 a. m., hora de Puerto Rico"}[priority]  # fmt: skip
    assert det.decision_due_by.isoformat() == due
    hours = {"standard": 24, "expedited": 6}[priority]
    for item in det.information_requests:
        assert item.needed_by.isoformat() == needed
        assert (det.decision_due_by - item.needed_by).total_seconds() == hours * 3600
    assert f"We need this by {local_en}." in en
    assert f"Necesitamos esta información a más tardar el {local_es}." in es
    # what happens if nothing arrives, once per request, in one sentence
    assert en.count(NO_ANSWER_EN) == len(det.information_requests) == es.count(NO_ANSWER_ES) == 2
    assert "no extra time for Part B drug requests" in NO_ANSWER_EN
    assert "decide on the information it has" in NO_ANSWER_EN
    assert "no permite más tiempo" in NO_ANSWER_ES and "con la información que tenga" in NO_ANSWER_ES
    # the fact is asked for, never a qualifying value; the plan's window is named as the plan's
    assert "The member's current ECOG performance status, dated on or after October 28, 2026." in en
    assert "El estado funcional ECOG actual del afiliado, con fecha del 28 de octubre de 2026 en adelante." in es
    assert "The plan accepts one up to 30 days old" in en and "El plan acepta uno de hasta 30 días" in es
    # no internal tokens; no English in the Spanish letter
    for text in (en, es):
        assert not INTERNAL.search(text), INTERNAL.search(text)
    words = set(re.findall(r"[a-záéíóúñü]+", es.lower()))
    assert not words & SPANISH_STOPWORDS, words & SPANISH_STOPWORDS


def main() -> int:
    print(readme_examples())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


def test_a_record_of_the_receipt_day_is_from_the_day_of_the_request_not_0_days_before_it() -> None:
    """Rule 4: a letter says "the day of the request" / "el mismo día de la solicitud" for a record dated on
    the (local) receipt day, and "N days before the request" otherwise; the examples are received on
    2026-11-27 (San Juan)."""
    from tests.policy.factory import change, criterion, initial
    from tests.policy.factory import run as run_request
    from tests.policy.factory import set_ as set_field

    same_day = run_request(
        change(
            initial(),
            set_field("documents", [{"type": "oncology_note", "date": "2026-11-27", "id": "D1"}]),
            set_field("ecog.assessed_on", "2026-11-27"),
        )
    )
    docs, ecog = criterion(same_day, "A.docs"), criterion(same_day, "A.iii")
    assert (
        docs.reason
        == "The most recent medical record is from November 27, 2026, the day of the request. It is current."
    )
    assert docs.reason_es == (
        "El documento del expediente médico más reciente es del 27 de noviembre de 2026, el mismo día de la "
        "solicitud. Está al día."
    )
    assert ", the day of the request." in ecog.reason and ", el mismo día de la solicitud." in (ecog.reason_es or "")
    day_before = run_request(
        change(initial(), set_field("documents", [{"type": "oncology_note", "date": "2026-11-26", "id": "D1"}]))
    )
    assert "from November 26, 2026, 1 day before the request." in criterion(day_before, "A.docs").reason
    assert "del 26 de noviembre de 2026, 1 día antes de la solicitud." in (
        criterion(day_before, "A.docs").reason_es or ""
    )
