"""R55: one document id given with two types or two dates is not used (DEVELOPERS.md rule 3).

The policy asks for documentation (section A) and, for a renewal, "a current oncology note" and
"current imaging studies and other objective measures" (section B). A document has one type and one
date; two entries of a request that share an id but differ in either contradict each other, and the
engine cannot tell which is right. Such entries never complete a document criterion: without
another current document the criterion is ``missing`` (an information request), with a reason that
names the entries by type and date and evidence that names each one by id. An entry given twice
alike (same id, type and date) is no contradiction. Found by the adversarial round of issue #25
(``same-id-on-note-and-imaging``), approved by engine 2026-12-05.1.

Expected values come from that reading: the request's own dates, the plan's windows (oncology
note 60 days, imaging or labs 90, supporting documents 90: INTERPRETATION.md) and the receipt date
of the examples (2026-11-27).
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from policy.criteria import clear_memo
from tests.policy.factory import change, continuation, criterion, initial, run, set_, strictly_valid

NOT_USED = " (its id is also on an entry with another type or date: not used)"


def documents(*items: tuple[str, str, str]) -> Any:
    """Documents of (type, date, id)."""
    return set_("documents", [{"type": t, "date": d, "id": i} for t, d, i in items])


def test_a_renewal_whose_note_and_imaging_share_an_id_is_pended_for_both_documents() -> None:
    det = strictly_valid(
        run(change(continuation(), documents(("oncology_note", "2026-07-20", "D1"), ("imaging", "2026-06-30", "D1"))))
    )
    assert (det.decision, det.pend_reason) == ("pended", "missing_information")
    note, imaging = criterion(det, "B.docs.A"), criterion(det, "B.docs.B")
    assert (note.result, note.code) == ("missing", "oncology_note_id_conflict")
    assert (imaging.result, imaging.code) == ("missing", "objective_measures_id_conflict")
    assert note.evidence == [f"oncology note D1 dated 2026-07-20{NOT_USED}"]
    assert imaging.evidence == [f"imaging study D1 dated 2026-06-30{NOT_USED}"]
    assert note.facts is not None
    assert note.facts["conflicting_types"] == ["oncology_note", "imaging"]
    assert note.facts["conflicting_dates"] == ["2026-07-20", "2026-06-30"]
    assert note.facts["document_ids"] == ["D1"]
    assert note.reason == (
        "Entries that share one document ID give different types or dates: an oncology note dated July 20, 2026 "
        "and an imaging study dated June 30, 2026. We cannot tell which is right, so we did not use them. Please "
        "send an oncology note dated on or after September 28, 2026, each document with its own ID."
    )
    assert note.reason_es == (
        "Hay entradas con igual identificador y distinto tipo o fecha: una nota de oncología con fecha del 20 "
        "de julio de 2026 y un estudio de imagen con fecha del 30 de junio de 2026. No sabemos cuál es la correcta "
        "y no las usamos. Favor de enviar una nota de oncología con fecha del 28 de septiembre de 2026 en "
        "adelante, cada documento con su propio identificador."
    )
    asked = {r.criterion: r for r in det.information_requests}
    assert set(asked) == {"B.docs.A", "B.docs.B"}
    assert asked["B.docs.A"].accepted_types == ["oncology_note"]
    assert str(asked["B.docs.A"].dated_on_or_after) == "2026-09-28"  # 60 days before 2026-11-27


def test_the_same_renewal_with_two_ids_is_approved() -> None:
    det = run(change(continuation(), documents(("oncology_note", "2026-11-10", "D1"), ("imaging", "2026-10-28", "D2"))))
    assert det.decision == "approved"


def test_an_initial_request_whose_only_records_share_an_id_with_two_dates_is_pended() -> None:
    det = run(change(initial(), documents(("chart_notes", "2026-11-20", "D1"), ("chart_notes", "2026-10-01", "D1"))))
    docs = criterion(det, "A.docs")
    assert (det.decision, det.pend_reason) == ("pended", "missing_information")
    assert (docs.result, docs.code) == ("missing", "supporting_documents_id_conflict")
    assert docs.evidence == [
        f"chart notes D1 dated 2026-11-20{NOT_USED}",
        f"chart notes D1 dated 2026-10-01{NOT_USED}",
    ]


def test_a_separate_current_record_still_meets_the_criterion_and_the_evidence_names_what_was_not_read() -> None:
    det = run(
        change(
            initial(),
            documents(
                ("oncology_note", "2026-11-20", "D1"),
                ("imaging", "2026-11-01", "D1"),
                ("lab_results", "2026-11-15", "D2"),
            ),
        )
    )
    docs = criterion(det, "A.docs")
    assert (docs.result, docs.code) == ("met", "supporting_documents_current")
    assert docs.facts is not None and docs.facts["document_ids"] == ["D2"]
    assert docs.facts["dated"] == "2026-11-15"  # the note of 2026-11-20 is not used: not the most recent
    assert docs.evidence == [
        "lab results D2 dated 2026-11-15",
        f"oncology note D1 dated 2026-11-20{NOT_USED}",
        f"imaging study D1 dated 2026-11-01{NOT_USED}",
    ]
    assert det.decision == "approved"


def test_an_entry_given_twice_alike_is_no_contradiction() -> None:
    det = run(change(initial(), documents(("chart_notes", "2026-11-20", "D1"), ("chart_notes", "2026-11-20", "D1"))))
    docs = criterion(det, "A.docs")
    assert (docs.result, docs.code) == ("met", "supporting_documents_current")
    assert det.decision == "approved"


def test_a_sentence_names_two_entries_and_counts_the_rest_and_the_evidence_names_every_one() -> None:
    det = run(
        change(
            initial(),
            documents(
                ("chart_notes", "2026-11-20", "D1"),
                ("chart_notes", "2026-11-20", "D1"),  # the same entry again: named once
                ("pathology_report", "2026-11-02", "D1"),
                ("other", "2026-10-05", "D1"),
            ),
        )
    )
    docs = criterion(det, "A.docs")
    assert docs.code == "supporting_documents_id_conflict"
    assert docs.facts is not None
    assert docs.facts["conflicting_types"] == ["chart_notes", "pathology_report", "other"]
    assert docs.facts["conflicting_not_named"] == 1
    assert docs.reason.startswith(
        "Entries that share one document ID give different types or dates: office notes dated November 20, 2026, "
        "a pathology report dated November 2, 2026 and 1 more entry. We cannot tell which is right, so we did not "
        "use them."
    )
    assert docs.reason_es is not None and docs.reason_es.startswith(
        "Hay entradas con igual identificador y distinto tipo o fecha: notas de consulta con fecha del 20 de "
        "noviembre de 2026, un informe de patología con fecha del 2 de noviembre de 2026 y 1 entrada más. No "
        "sabemos cuál es la correcta y no las usamos."
    )
    assert len(docs.evidence or []) == 3  # the supporting entries; the "other" entry is no supporting document


def test_what_the_engine_remembers_never_lends_a_reading_across_ids() -> None:
    """The document memo is keyed on types and dates; the ids that conflict are part of the key, so the
    same types and dates decide differently with one id and with two, in either order."""
    one = change(continuation(), documents(("oncology_note", "2026-11-10", "D1"), ("imaging", "2026-10-28", "D1")))
    two = change(continuation(), documents(("oncology_note", "2026-11-10", "D1"), ("imaging", "2026-10-28", "D2")))
    want = {id(one): "pended", id(two): "approved"}
    for order in ((one, two), (two, one), (one, two, one, two)):
        clear_memo()
        assert [run(r).decision for r in order] == [want[id(r)] for r in order]


def test_ids_a_reader_cannot_tell_apart_are_one_id() -> None:
    """Letter case, a space at either end, a no-break space, a zero-width character: the same id to a
    reader, so the same id to the engine (``policy.criteria.same_id``)."""
    for other in ("d1", "D1 ", " D1", "D\u200b1", "D1\u00a0", "Ｄ１"):
        det = run(
            change(continuation(), documents(("oncology_note", "2026-11-10", "D1"), ("imaging", "2026-10-28", other)))
        )
        assert (det.decision, det.pend_reason) == ("pended", "missing_information"), repr(other)
        assert criterion(det, "B.docs.B").code == "objective_measures_id_conflict", repr(other)
    spaced = run(
        change(
            continuation(),
            documents(("oncology_note", "2026-11-10", "DOC 1"), ("imaging", "2026-10-28", "DOC\u00a01")),
        )
    )
    assert criterion(spaced, "B.docs.A").code == "oncology_note_id_conflict"
    apart = run(
        change(continuation(), documents(("oncology_note", "2026-11-10", "D1"), ("imaging", "2026-10-28", "D-1")))
    )
    assert apart.decision == "approved"  # a hyphen is seen: two ids


def test_evidence_shows_an_id_with_an_invisible_character_escaped() -> None:
    det = run(
        change(continuation(), documents(("oncology_note", "2026-11-10", "D1"), ("imaging", "2026-10-28", "D1\u200b")))
    )
    assert criterion(det, "B.docs.B").evidence == [f"imaging study 'D1\\u200b' dated 2026-10-28{NOT_USED}"]
    assert criterion(det, "B.docs.A").evidence == [f"oncology note D1 dated 2026-11-10{NOT_USED}"]


def test_a_sentence_names_the_criterion_s_own_entries_first() -> None:
    det = run(
        change(
            continuation(),
            documents(
                ("oncology_note", "2026-11-10", "D1"),
                ("imaging", "2026-10-28", "D1"),
                ("lab_results", "2026-11-01", "D1"),
            ),
        )
    )
    measures = criterion(det, "B.docs.B")
    assert measures.facts is not None
    assert measures.facts["conflicting_types"] == ["imaging", "lab_results", "oncology_note"]
    assert measures.reason.startswith(
        "Entries that share one document ID give different types or dates: an imaging study dated October 28, "
        "2026, lab results dated November 1, 2026 and 1 more entry."
    )
    note = criterion(det, "B.docs.A")
    assert note.facts is not None and note.facts["conflicting_types"] == ["oncology_note", "imaging", "lab_results"]


@given(st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=40))
def test_the_fast_reading_of_a_plain_id_is_the_full_one(document_id: str) -> None:
    from policy.criteria import _same_id, same_id

    assert same_id(document_id) == _same_id(document_id)
