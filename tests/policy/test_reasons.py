"""Reasons a member and a prescriber can act on (issue #13): checked over the golden cases and over
hypothesis-generated requests.

* every finding code has English and Spanish text, and the contract's code enum is the catalogue;
* no sentence, in either language, holds an internal token (criterion ids such as A.docs or QL,
  enum spellings, field names, ``_``, the line-of-business codes) or an unexplained abbreviation,
  and each stays within its length bound;
* every date and number in a sentence is a value of the finding's ``facts``;
* every ``missing_information`` pend carries at least one information request, one per missing
  criterion, with what to send in both languages and the decision deadline;
* ``policy/REASONS.md`` (catalogue and glossary) is current.
"""

from __future__ import annotations

from datetime import date
from typing import Any, get_args

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts import PARequest
from contracts.models import FindingCode
from policy import evaluate
from policy.reasons import CODES, ENTRIES, GLOSSARY, catalogue_markdown
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
    """The texts the README shows: an approval, a clinical review and a missing-information pend."""
    by_name = {c.name: c for c in load()}
    approved = run(by_name["initial-meets-every-criterion"]).determination
    review = run(by_name["ecog-3-current"]).determination
    missing = run(by_name["stale-evidence"]).determination
    ql = next(c for c in approved.criteria if c.id == "QL")
    assert ql.reason == (
        "Policy MP-RX-FP-120-24 (Elrexfio), quantity limits: From December 1, 2026 to May 31, 2027 the labeled "
        "dosing allows up to 27 doses: step-up doses of 12 mg, 32 mg and 76 mg and 24 doses of 76 mg, dosed "
        "weekly. That is 1988 billing units (1 unit = 1 mg; the 12 mg and 32 mg doses are billed as full 44 mg "
        "vials)."
    )
    ecog = next(c for c in review.criteria if c.id == "A.iii")
    assert ecog.reason_es == (
        "Política MP-RX-FP-120-24 (Elrexfio), criterio A.iii: El estado funcional según la escala del Eastern "
        "Cooperative Oncology Group (ECOG) es 3 (evaluado el 25 de noviembre de 2026); la política requiere una "
        "puntuación de 0 a 2. Un revisor clínico tomará la decisión."
    )
    assert [i.code for i in missing.information_requests] == ["ecog_not_current", "supporting_documents_not_current"]
    assert missing.information_requests[0].dated_on_or_after == date(2026, 10, 28)  # 2026-11-27 - 30 days


def test_the_readme_shows_the_texts_the_determination_carries() -> None:
    """README, "Reasons for letters": the three examples are the engine's own current texts."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
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
            assert item.document in readme and item.document_es in readme
