"""The catalogue of findings: one stable code per finding, with its criterion, outcome, meaning and
the sentence a letter prints, in English and Spanish.

A criterion's check returns a code and its *facts* (typed values: ISO dates, counts, thresholds,
codes, the names that were not recognised). :func:`render_both` builds the sentences from those facts
alone, so a letter system can rebuild or restyle it from ``criteria[].code`` and
``criteria[].facts`` without parsing text, and every date and number in the sentence is a fact.

Sentences are written for the member and the prescriber: plain words, the policy cited by name and
criterion, abbreviations spelled out, drug names in their standard form, quantities as doses and
milligrams, and, when something is missing, what to send. The Spanish is written for readers in
Puerto Rico (42 CFR 422.2267(a)(2)), not mapped word for word from the English; the glossary
(:data:`GLOSSARY`) keeps the terms consistent. ``python -m tests.policy.reasons_doc`` writes
``policy/REASONS.md`` (catalogue and glossary) for the letter and claims teams.
"""

from __future__ import annotations

import re
import string
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Final, Literal

from contracts.models import CriterionId, CriterionOutcome, DocumentType

Lang = Literal["en", "es"]
FactValue = str | int | bool | list[str] | list[int] | None
Facts = Mapping[str, FactValue]

POLICY_EN: Final = "Policy MP-RX-FP-120-24 (Elrexfio)"
POLICY_ES: Final = "Política MP-RX-FP-120-24 (Elrexfio)"
MAX_SENTENCE: Final = 420

CITES: Final[dict[str, tuple[str, str]]] = {
    "LOB": ("scope", "alcance"),
    "A.i": ("criterion A.i", "criterio A.i"),
    "A.ii": ("criterion A.ii", "criterio A.ii"),
    "A.iii": ("criterion A.iii", "criterio A.iii"),
    "A.docs": ("section A, documentation", "sección A, documentación"),
    "B.i": ("criterion B.i", "criterio B.i"),
    "B.docs.A": ("criterion B.i, item A", "criterio B.i, inciso A"),
    "B.docs.B": ("criterion B.i, item B", "criterio B.i, inciso B"),
    "QL": ("quantity limits", "límites de cantidad"),
}
"""How a sentence cites each criterion: the policy's own numbering, never an internal id."""

_MONTHS_EN: Final = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_MONTHS_ES: Final = (
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
)

WORDS: Final[dict[str, dict[str, tuple[str, str]]]] = {
    "status": {
        "relapsed": ("relapsed", "en recaída"),
        "refractory": ("refractory (no longer responding to treatment)", "refractario (ya no responde al tratamiento)"),
        "relapsed_and_refractory": ("relapsed and refractory", "en recaída y refractario"),
        "newly_diagnosed": ("newly diagnosed", "recién diagnosticado"),
        "in_remission": ("in remission", "en remisión"),
    },
    "response": {
        "sCR": ("stringent complete response", "respuesta completa estricta"),
        "CR": ("complete response", "respuesta completa"),
        "VGPR": ("very good partial response", "muy buena respuesta parcial"),
        "PR": ("partial response", "respuesta parcial"),
        "MR": ("minimal response", "respuesta mínima"),
        "SD": ("stable disease", "enfermedad estable"),
        "PD": ("progressive disease", "enfermedad progresiva"),
    },
    "class": {
        "anti_cd38": (
            "an anti-CD38 antibody (such as daratumumab)",
            "un anticuerpo anti-CD38 (como daratumumab)",
        ),
        "proteasome_inhibitor": (
            "a proteasome inhibitor (such as bortezomib)",
            "un inhibidor del proteasoma (como bortezomib)",
        ),
        "immunomodulatory": (
            "an immunomodulatory drug (such as lenalidomide)",
            "un medicamento inmunomodulador (como lenalidomida)",
        ),
    },
    "agent_class": {
        "anti_cd38": ("an anti-CD38 antibody", "un anticuerpo anti-CD38"),
        "proteasome_inhibitor": ("a proteasome inhibitor", "un inhibidor del proteasoma"),
        "immunomodulatory": ("an immunomodulatory drug", "un medicamento inmunomodulador"),
    },
    "agent": {
        "lenalidomide": ("lenalidomide", "lenalidomida"),
        "pomalidomide": ("pomalidomide", "pomalidomida"),
        "thalidomide": ("thalidomide", "talidomida"),
    },
    "problem": {
        "progression": ("disease progression", "progresión de la enfermedad"),
        "toxicity": ("unacceptable side effects (toxicity)", "efectos secundarios inaceptables (toxicidad)"),
        "progressive_disease": (
            "a best response of progressive disease",
            "una mejor respuesta de enfermedad progresiva",
        ),
    },
    "dosing": {
        "weekly": ("weekly", "semanal"),
        "every_2_weeks": ("every 2 weeks", "cada 2 semanas"),
        "every_4_weeks": ("every 4 weeks", "cada 4 semanas"),
    },
}


@dataclass(frozen=True, slots=True)
class Entry:
    """One finding: what it means and how a letter says it."""

    code: str
    criterion: CriterionId
    outcome: CriterionOutcome
    meaning: str
    en: str
    es: str
    send_en: str | None = None
    """For ``missing``: what to send, as a document in plain words (English)."""
    send_es: str | None = None
    accepted_types: tuple[DocumentType, ...] = ()
    """For ``missing``: the document types that would answer it."""


def _e(
    code: str,
    criterion: CriterionId,
    outcome: CriterionOutcome,
    meaning: str,
    en: str,
    es: str,
    send: tuple[str, str] | None = None,
    accepted: tuple[DocumentType, ...] = (),
) -> Entry:
    send_en, send_es = send if send is not None else (None, None)
    return Entry(code, criterion, outcome, meaning, en, es, send_en, send_es, accepted)


_ECOG_EN = "Eastern Cooperative Oncology Group (ECOG) performance status"
_ECOG_ES = "estado funcional según la escala del Eastern Cooperative Oncology Group (ECOG)"
_SUPPORT_EN = "medical records (office notes, lab results, pathology reports, imaging studies or an oncology note)"
_SUPPORT_ES = (
    "el expediente médico (notas de consulta, resultados de laboratorio, informes de patología, estudios de "
    "imagen o una nota de oncología)"
)
_NOTE_EN = "oncology note describing the response to treatment"
_NOTE_ES = "nota de oncología que describa la respuesta al tratamiento"
_MEASURES_EN = "imaging studies or lab results showing whether the disease has progressed"
_MEASURES_ES = "estudios de imagen o resultados de laboratorio que muestren si la enfermedad ha progresado"
_ECOG_SEND: Final = (
    f"A current {_ECOG_EN} assessment, dated on or after {{dated_on_or_after}}",
    f"Una evaluación actual del {_ECOG_ES}, con fecha del {{dated_on_or_after}} en adelante",
)
_REVIEW_EN = "A clinical reviewer will decide."
_REVIEW_ES = "Un revisor clínico tomará la decisión."

_DOCS: Final[dict[str, dict[str, str]]] = {
    # prefix: the words each sentence needs, English and Spanish
    "supporting_documents": {
        "cid": "A.docs",
        "one_en": "medical record",
        "one_es": "documento del expediente médico",
        "art_es": "el",
        "all_en": _SUPPORT_EN,
        "all_es": _SUPPORT_ES,
        "short_en": "medical records",
        "short_es": "documentos del expediente médico",
        "none_es": "ningún documento del expediente médico (notas de consulta, resultados de laboratorio, informes "
        "de patología, estudios de imagen o nota de oncología)",
    },
    "oncology_note": {
        "cid": "B.docs.A",
        "one_en": "oncology note",
        "one_es": "nota de oncología",
        "art_es": "la",
        "all_en": "an oncology note describing the response to treatment",
        "all_es": "una nota de oncología que describa la respuesta al tratamiento",
        "short_en": "an oncology note",
        "short_es": "una nota de oncología",
        "none_es": "ninguna nota de oncología que describa la respuesta al tratamiento",
    },
    "objective_measures": {
        "cid": "B.docs.B",
        "one_en": "imaging study or lab result",
        "one_es": "estudio de imagen o resultado de laboratorio",
        "art_es": "el",
        "all_en": "imaging studies or lab results showing whether the disease has progressed",
        "all_es": "estudios de imagen o resultados de laboratorio que muestren si la enfermedad ha progresado",
        "short_en": "imaging studies or lab results",
        "short_es": "estudios de imagen o resultados de laboratorio",
        "none_es": "ningún estudio de imagen ni resultado de laboratorio que muestre si la enfermedad ha progresado",
    },
}
_DOC_TYPES: Final[dict[str, tuple[DocumentType, ...]]] = {
    "supporting_documents": ("chart_notes", "lab_results", "pathology_report", "imaging", "oncology_note"),
    "oncology_note": ("oncology_note",),
    "objective_measures": ("imaging", "lab_results"),
}


def _document_entries() -> list[Entry]:
    out: list[Entry] = []
    for prefix, w in _DOCS.items():
        cid: CriterionId = w["cid"]  # type: ignore[assignment]
        types = _DOC_TYPES[prefix]
        art = w["art_es"]
        mas = "más reciente"
        send = (
            f"{w['all_en'][0].upper()}{w['all_en'][1:]}, dated on or after {{dated_on_or_after}}",
            f"{w['all_es'][0].upper()}{w['all_es'][1:]}, con fecha del {{dated_on_or_after}} en adelante",
        )
        out += [
            _e(
                f"{prefix}_current",
                cid,
                "met",
                f"a current document ({', '.join(types)})",
                f"the {w['one_en']} dated {{dated}}, {{age_days}} before the request, is current.",
                f"{art} {w['one_es']} con fecha del {{dated}}, {{age_days}} antes de la solicitud, está vigente.",
            ),
            _e(
                f"{prefix}_not_current",
                cid,
                "missing",
                "documents of this kind were sent, none current",
                f"the most recent {w['one_en']} is dated {{dated}}, {{age_days}} before the request was "
                "received on {received_on}; it must be no more than {window_days} old. Please send "
                f"{w['short_en']} dated on or after {{dated_on_or_after}}.",
                f"{art} {w['one_es']} {mas} tiene fecha del {{dated}}, {{age_days}} antes de recibir la "
                "solicitud el {received_on}; no debe tener más de {window_days}. Favor de enviar "
                f"{w['short_es']} con fecha del {{dated_on_or_after}} en adelante.",
                send,
                types,
            ),
            _e(
                f"{prefix}_future_dated",
                cid,
                "missing",
                "documents of this kind were sent, all dated after receipt",
                f"the {w['one_en']} is dated {{dated}}, after the request was received on {{received_on}}, so it "
                f"cannot be accepted. Please send {w['short_en']} dated on or after {{dated_on_or_after}}.",
                f"{art} {w['one_es']} tiene fecha del {{dated}}, posterior al recibo de la solicitud el "
                "{received_on}, y no puede aceptarse. Favor de enviar "
                f"{w['short_es']} con fecha del {{dated_on_or_after}} en adelante.",
                send,
                types,
            ),
            _e(
                f"{prefix}_missing",
                cid,
                "missing",
                "no document of this kind",
                f"the request includes no {w['all_en'].removeprefix('an ')}. Please send {w['short_en']} dated on "
                "or after {dated_on_or_after}.",
                f"la solicitud no incluye {w['none_es']}. Favor de enviar {w['short_es']} con fecha del "
                "{dated_on_or_after} en adelante.",
                send,
                types,
            ),
        ]
    return out


def _before_start_entries() -> list[Entry]:
    """Continuation documents dated before Elrexfio began (B.i.A, B.i.B): they cannot show the response."""
    out: list[Entry] = []
    for prefix in ("oncology_note", "objective_measures"):
        w, types = _DOCS[prefix], _DOC_TYPES[prefix]
        cid: CriterionId = w["cid"]  # type: ignore[assignment]
        art = w["art_es"]
        out.append(
            _e(
                f"{prefix}_before_therapy_start",
                cid,
                "missing",
                "documents of this kind were sent, all dated before treatment began",
                f"the {w['one_en']} dated {{dated}} is from before Elrexfio treatment started on {{therapy_start}}, "
                f"so it cannot show the response to this treatment. Please send {w['short_en']} dated on or after "
                "{dated_on_or_after}.",
                f"{art} {w['one_es']} con fecha del {{dated}} es de antes de que comenzara el tratamiento con "
                f"Elrexfio el {{therapy_start}}, así que no puede mostrar la respuesta a este tratamiento. Favor de "
                f"enviar {w['short_es']} con fecha del {{dated_on_or_after}} en adelante.",
                (
                    f"{w['all_en'][0].upper()}{w['all_en'][1:]}, dated on or after {{dated_on_or_after}}",
                    f"{w['all_es'][0].upper()}{w['all_es'][1:]}, con fecha del {{dated_on_or_after}} en adelante",
                ),
                types,
            )
        )
    return out


ENTRIES: Final[tuple[Entry, ...]] = (
    # --- scope --------------------------------------------------------------------------------------
    _e(
        "in_scope",
        "LOB",
        "met",
        "plan and billing code within the policy's scope",
        "the request is for Elrexfio (elranatamab-bcmm, billing code {hcpcs}) under a plan this policy covers.",
        "la solicitud es para Elrexfio (elranatamab-bcmm, código de facturación {hcpcs}) bajo un plan que esta "
        "política cubre.",
    ),
    _e(
        "out_of_scope",
        "LOB",
        "not_met",
        "plan or billing code outside the policy's scope",
        "this policy covers Elrexfio (billing code {hcpcs}) for MMM Medicare Advantage and MMM Multihealth "
        "members; {scope_problem}. " + _REVIEW_EN,
        "esta política cubre Elrexfio (código de facturación {hcpcs}) para afiliados de MMM Medicare Advantage y "
        "MMM Multihealth; {scope_problem}. " + _REVIEW_ES,
    ),
    # --- A.i ----------------------------------------------------------------------------------------
    _e(
        "diagnosis_code_missing",
        "A.i",
        "missing",
        "no diagnosis code on the request",
        "the request has no diagnosis code. Please send the diagnosis of relapsed or refractory multiple myeloma "
        "(diagnosis codes C90.00 to C90.02).",
        "la solicitud no tiene código de diagnóstico. Favor de enviar el diagnóstico de mieloma múltiple en "
        "recaída o refractario (códigos de diagnóstico C90.00 a C90.02).",
        (
            "An office or oncology note with the diagnosis code",
            "Una nota de consulta u oncología con el código de diagnóstico",
        ),
        ("chart_notes", "oncology_note"),
    ),
    _e(
        "not_multiple_myeloma",
        "A.i",
        "not_met",
        "no diagnosis code identifies multiple myeloma",
        "the diagnosis codes on the request ({codes}) do not identify multiple myeloma (codes C90.00 to C90.02), "
        "the only condition this policy covers. " + _REVIEW_EN,
        "los códigos de diagnóstico de la solicitud ({codes}) no identifican mieloma múltiple (códigos C90.00 a "
        "C90.02), la única condición que cubre esta política. " + _REVIEW_ES,
    ),
    _e(
        "disease_status_missing",
        "A.i",
        "missing",
        "myeloma documented; relapsed or refractory status not stated",
        "the request shows multiple myeloma ({codes}) but not whether it has relapsed or stopped responding to "
        "treatment (refractory). Please send the oncology note that states it.",
        "la solicitud muestra mieloma múltiple ({codes}), pero no indica si está en recaída o si dejó de "
        "responder al tratamiento (refractario). Favor de enviar la nota de oncología que lo indique.",
        (
            "An oncology note stating whether the myeloma is relapsed or refractory",
            "Una nota de oncología que indique si el mieloma está en recaída o es refractario",
        ),
        ("oncology_note",),
    ),
    _e(
        "not_relapsed_or_refractory",
        "A.i",
        "not_met",
        "first request: myeloma newly diagnosed or in remission",
        "the request describes the multiple myeloma as {status}. For a first approval the policy requires myeloma "
        "that has relapsed or stopped responding to treatment. " + _REVIEW_EN,
        "la solicitud describe el mieloma múltiple como {status}. Para una primera aprobación, la política "
        "requiere mieloma en recaída o que haya dejado de responder al tratamiento. " + _REVIEW_ES,
    ),
    _e(
        "relapsed_or_refractory_myeloma",
        "A.i",
        "met",
        "first request: relapsed or refractory multiple myeloma",
        "the request documents {status} multiple myeloma ({codes}).",
        "la solicitud documenta mieloma múltiple {status} ({codes}).",
    ),
    _e(
        "continuation_indication_contradicted",
        "A.i",
        "not_met",
        "renewal: myeloma described as newly diagnosed",
        "the request describes the multiple myeloma as newly diagnosed, which does not match continuing a "
        "treatment approved for relapsed or refractory myeloma. " + _REVIEW_EN,
        "la solicitud describe el mieloma múltiple como recién diagnosticado, lo que no concuerda con continuar un "
        "tratamiento aprobado para mieloma en recaída o refractario. " + _REVIEW_ES,
    ),
    _e(
        "continuation_indication_myeloma",
        "A.i",
        "met",
        "renewal: multiple myeloma, the condition treatment was approved for",
        "the request documents multiple myeloma ({codes}), the condition for which treatment was approved. "
        "Response or remission is the goal of treatment and is not a reason to stop it.",
        "la solicitud documenta mieloma múltiple ({codes}), la condición para la cual se aprobó el tratamiento. La "
        "respuesta o la remisión es la meta del tratamiento y no es motivo para suspenderlo.",
    ),
    # --- A.ii ---------------------------------------------------------------------------------------
    _e(
        "prior_lines_missing",
        "A.ii",
        "missing",
        "no earlier treatment listed",
        "the request lists no earlier treatments. The policy requires at least {required} earlier lines of "
        "treatment, including an anti-CD38 antibody, a proteasome inhibitor and an immunomodulatory drug. Please "
        "send the treatment history.",
        "la solicitud no incluye tratamientos anteriores. La política requiere al menos {required} líneas de "
        "tratamiento anteriores, entre ellas un anticuerpo anti-CD38, un inhibidor del proteasoma y un "
        "medicamento inmunomodulador. Favor de enviar el historial de tratamiento.",
        (
            "The treatment history: each earlier line of treatment, its drugs and dates",
            "El historial de tratamiento: cada línea de tratamiento anterior, sus medicamentos y fechas",
        ),
        ("chart_notes", "oncology_note"),
    ),
    _e(
        "too_few_prior_lines",
        "A.ii",
        "not_met",
        "fewer earlier lines of treatment than the policy requires",
        "the request shows {lines}; the policy requires at least {required}.{excluded} " + _REVIEW_EN,
        "la solicitud muestra {lines}; la política requiere al menos {required}.{excluded} " + _REVIEW_ES,
    ),
    _e(
        "prior_class_not_identified",
        "A.ii",
        "not_met",
        "a required drug class not identified; some drug names not recognised",
        "no earlier treatment was identified as {missing_classes}, and these names were not recognised: "
        "{unrecognised}. " + _REVIEW_EN,
        "ningún tratamiento anterior se identificó como {missing_classes}, y estos nombres no se reconocieron: "
        "{unrecognised}. " + _REVIEW_ES,
    ),
    _e(
        "prior_class_missing",
        "A.ii",
        "not_met",
        "a required drug class absent from every earlier line",
        "none of the earlier treatments is {missing_classes}, and the policy requires one. " + _REVIEW_EN,
        "ninguno de los tratamientos anteriores es {missing_classes}, y la política lo requiere. " + _REVIEW_ES,
    ),
    _e(
        "prior_lines_met",
        "A.ii",
        "met",
        "enough earlier lines, with all three drug classes",
        "the request shows {lines}, including {agents}.",
        "la solicitud muestra {lines}, entre ellas {agents}.",
    ),
    # --- A.iii --------------------------------------------------------------------------------------
    _e(
        "ecog_missing",
        "A.iii",
        "missing",
        "no ECOG performance status",
        f"the request has no {_ECOG_EN}. Please send a score from {{min_ecog}} to {{max_ecog}} assessed on or "
        "after {dated_on_or_after}.",
        f"la solicitud no incluye el {_ECOG_ES}. Favor de enviar una puntuación de {{min_ecog}} a {{max_ecog}} "
        "evaluada del {dated_on_or_after} en adelante.",
        _ECOG_SEND,
        ("chart_notes", "oncology_note"),
    ),
    _e(
        "ecog_future_dated",
        "A.iii",
        "missing",
        "ECOG assessed after the request was received",
        f"the {_ECOG_EN} is dated {{assessed_on}}, after the request was received on {{received_on}}. Please "
        "send an assessment dated between {dated_on_or_after} and the date of the request.",
        f"el {_ECOG_ES} tiene fecha del {{assessed_on}}, posterior al recibo de la solicitud el {{received_on}}. "
        "Favor de enviar una evaluación con fecha entre el {dated_on_or_after} y la fecha de la solicitud.",
        _ECOG_SEND,
        ("chart_notes", "oncology_note"),
    ),
    _e(
        "ecog_not_current",
        "A.iii",
        "missing",
        "ECOG assessed before the currency window",
        f"the {_ECOG_EN} was assessed on {{assessed_on}}, {{age_days}} before the request was received on "
        "{received_on}; it must be no more than {window_days} old. Please send a current one.",
        f"el {_ECOG_ES} se evaluó el {{assessed_on}}, {{age_days}} antes de recibir la solicitud el "
        "{received_on}; no debe tener más de {window_days}. Favor de enviar una evaluación actual.",
        _ECOG_SEND,
        ("chart_notes", "oncology_note"),
    ),
    _e(
        "ecog_above_threshold",
        "A.iii",
        "not_met",
        "current ECOG above the policy's range",
        f"the {_ECOG_EN} is {{score}} (assessed on {{assessed_on}}); the policy requires a score from {{min_ecog}} "
        "to {max_ecog}. " + _REVIEW_EN,
        f"el {_ECOG_ES} es {{score}} (evaluado el {{assessed_on}}); la política requiere una puntuación de "
        "{min_ecog} a {max_ecog}. " + _REVIEW_ES,
    ),
    _e(
        "ecog_met",
        "A.iii",
        "met",
        "current ECOG within the policy's range",
        f"the {_ECOG_EN} is {{score}}, assessed on {{assessed_on}}, {{age_days}} before the request.",
        f"el {_ECOG_ES} es {{score}}, evaluado el {{assessed_on}}, {{age_days}} antes de la solicitud.",
    ),
    # --- documents (A.docs, B.docs.A, B.docs.B) -----------------------------------------------------
    *_document_entries(),
    _e(
        "supporting_documents_other_only",
        "A.docs",
        "missing",
        "only documents of an unspecified kind",
        f"the documents sent do not say what they are. Please send {_SUPPORT_EN}, dated on or after "
        "{dated_on_or_after}.",
        f"los documentos enviados no indican qué son. Favor de enviar {_SUPPORT_ES}, con fecha del "
        "{dated_on_or_after} en adelante.",
        (
            f"{_SUPPORT_EN[0].upper()}{_SUPPORT_EN[1:]}, dated on or after {{dated_on_or_after}}",
            f"{_SUPPORT_ES[0].upper()}{_SUPPORT_ES[1:]}, con fecha del {{dated_on_or_after}} en adelante",
        ),
        ("chart_notes", "lab_results", "pathology_report", "imaging", "oncology_note"),
    ),
    # --- B.i ----------------------------------------------------------------------------------------
    _e(
        "continuation_details_missing",
        "B.i",
        "missing",
        "renewal without its treatment details",
        "the renewal request does not say when treatment started or how the disease responded. Please send the "
        "oncology note.",
        "la solicitud de renovación no indica cuándo comenzó el tratamiento ni cómo respondió la enfermedad. Favor "
        "de enviar la nota de oncología.",
        (
            "An oncology note with the treatment start date and the response",
            "Una nota de oncología con la fecha de inicio del tratamiento y la respuesta",
        ),
        ("oncology_note",),
    ),
    _e(
        "therapy_not_started",
        "B.i",
        "not_met",
        "renewal whose treatment starts after the request was received",
        "the request gives {therapy_start} as the date Elrexfio treatment started, after the request was "
        "received on {received_on}{after_period_text}, so treatment has not started and this cannot be a renewal. "
        + _REVIEW_EN,
        "la solicitud indica que el tratamiento con Elrexfio comenzó el {therapy_start}, después de recibir la "
        "solicitud el {received_on}{after_period_text}; el tratamiento no ha comenzado y no puede tratarse de una "
        "renovación. " + _REVIEW_ES,
    ),
    _e(
        "response_before_therapy_start",
        "B.i",
        "not_met",
        "response dated before treatment began",
        "the response to treatment is dated {response_since}, before Elrexfio treatment started on "
        "{therapy_start}, so it cannot be a response to this treatment. " + _REVIEW_EN,
        "la respuesta al tratamiento tiene fecha del {response_since}, antes de que comenzara el tratamiento con "
        "Elrexfio el {therapy_start}; no puede ser una respuesta a este tratamiento. " + _REVIEW_ES,
    ),
    _e(
        "response_date_after_receipt",
        "B.i",
        "not_met",
        "response dated after the request was received",
        "the response to treatment is dated {response_since}, after the request was received on {received_on}. "
        + _REVIEW_EN,
        "la respuesta al tratamiento tiene fecha del {response_since}, posterior al recibo de la solicitud el "
        "{received_on}. " + _REVIEW_ES,
    ),
    _e(
        "progression_or_toxicity",
        "B.i",
        "not_met",
        "progression, unacceptable toxicity or progressive disease on treatment",
        "the request reports {problems} while on Elrexfio. The policy renews treatment only when there is none. "
        + _REVIEW_EN,
        "la solicitud informa {problems} durante el tratamiento con Elrexfio. La política renueva el tratamiento "
        "solo cuando no hay ninguno de estos. " + _REVIEW_ES,
    ),
    _e(
        "no_progression_or_toxicity",
        "B.i",
        "met",
        "no progression and no unacceptable toxicity",
        "Elrexfio treatment started on {therapy_start}, with no disease progression and no unacceptable side "
        "effects; the best response is {best_response}.",
        "el tratamiento con Elrexfio comenzó el {therapy_start}, sin progresión de la enfermedad ni efectos "
        "secundarios inaceptables; la mejor respuesta es {best_response}.",
    ),
    # --- QL -----------------------------------------------------------------------------------------
    _e(
        "start_date_retroactive",
        "QL",
        "not_met",
        "requested start before the date the request was received",
        "the requested start date, {requested_start}, is {days_before} before the request was received on "
        "{received_on}. Periods that began before the request are not approved automatically. " + _REVIEW_EN,
        "la fecha de inicio solicitada, {requested_start}, es {days_before} antes de recibir la solicitud el "
        "{received_on}. Los períodos que comenzaron antes de la solicitud no se aprueban automáticamente. "
        + _REVIEW_ES,
    ),
    _e(
        "start_date_too_far_ahead",
        "QL",
        "not_met",
        "requested start beyond the forward window",
        "the requested start date, {requested_start}, is {days_ahead} after the request was received on "
        "{received_on}, more than the {window_days} allowed, and the records sent may be out of date by "
        "then. " + _REVIEW_EN,
        "la fecha de inicio solicitada, {requested_start}, es {days_ahead} después de recibir la solicitud el "
        "{received_on}, más de los {window_days} permitidos, y los documentos enviados podrían no estar "
        "vigentes para entonces. " + _REVIEW_ES,
    ),
    _e(
        "period_ended_before_decision",
        "QL",
        "not_met",
        "the period ends before the decision date",
        "the requested period, {valid_from} to {valid_through}, ends before the decision date, {decided_on}. "
        + _REVIEW_EN,
        "el período solicitado, del {valid_from} al {valid_through}, termina antes de la fecha de la decisión, el "
        "{decided_on}. " + _REVIEW_ES,
    ),
    _e(
        "no_labeled_dose_in_period",
        "QL",
        "not_met",
        "no labeled dose falls in the period",
        "no dose of the labeled dosing schedule falls between {valid_from} and {valid_through} for treatment "
        "that starts on {therapy_start}. " + _REVIEW_EN,
        "ninguna dosis del esquema de la etiqueta de la FDA cae entre el {valid_from} y el {valid_through} para "
        "un tratamiento que comienza el {therapy_start}. " + _REVIEW_ES,
    ),
    _e(
        "quantity_above_maximum",
        "QL",
        "not_met",
        "requested units above the labeled maximum",
        "the request asks for {requested_units} billing units (1 unit = 1 mg); from {valid_from} to "
        "{valid_through} the labeled dosing allows at most {max_units} units, {doses} doses.{last_dose_note} "
        + _REVIEW_EN,
        "la solicitud pide {requested_units} unidades de facturación (1 unidad = 1 mg); del {valid_from} al "
        "{valid_through}, la etiqueta de la FDA permite como máximo {max_units} unidades, {doses} dosis."
        "{last_dose_note} " + _REVIEW_ES,
    ),
    _e(
        "quantity_within_maximum",
        "QL",
        "met",
        "requested units within the labeled maximum",
        "the request asks for {requested_units} billing units (1 unit = 1 mg) from {valid_from} to "
        "{valid_through}, within the labeled dosing of up to {doses} doses ({max_units} units).",
        "la solicitud pide {requested_units} unidades de facturación (1 unidad = 1 mg) del {valid_from} al "
        "{valid_through}, dentro de lo que permite la etiqueta de la FDA: hasta {doses} dosis ({max_units} unidades).",
    ),
    _e(
        "quantity_labeled_maximum",
        "QL",
        "met",
        "no quantity requested: the labeled maximum is authorized",
        "from {valid_from} to {valid_through} the labeled dosing allows up to {doses} doses: {dose_list}, "
        "dosed {dosing}. That is {max_units} billing units (1 unit = 1 mg{vials}).",
        "del {valid_from} al {valid_through}, la etiqueta de la FDA permite hasta {doses} dosis: "
        "{dose_list}, con dosificación {dosing}. Son {max_units} unidades de facturación (1 unidad = 1 mg{vials}).",
    ),
    # --- issue #22: approvals only on what the request positively shows -------------------------------
    _e(
        "member_under_18",
        "A.i",
        "not_met",
        "the member was under 18 on the date the request was received",
        "the member was {age_years} years old when the request was received. Elrexfio is approved for adults "
        "(18 and older). Its safety and how well it works in children are not known. " + _REVIEW_EN,
        "el afiliado tenía {age_years} años cuando se recibió la solicitud. Elrexfio está aprobado para adultos "
        "(18 años o más). No se sabe si es seguro ni si funciona en niños. " + _REVIEW_ES,
    ),
    _e(
        "date_of_birth_not_plausible",
        "A.i",
        "not_met",
        "a date of birth after receipt, or more than 120 years before it",
        "the date of birth on the request cannot be right for a request received on {received_on}. It is after "
        "that date, or more than {max_age_years} years before it. So the member's age cannot be confirmed. "
        + _REVIEW_EN,
        "la fecha de nacimiento en la solicitud no puede ser correcta para una solicitud recibida el "
        "{received_on}. Es posterior a esa fecha, o de más de {max_age_years} años antes. Por eso no se puede "
        "confirmar la edad del afiliado. " + _REVIEW_ES,
    ),
    _e(
        "requested_drug_in_history",
        "A.ii",
        "not_met",
        "first request whose treatment history already includes elranatamab",
        "the treatment history lists Elrexfio (elranatamab) in {requested_lines_text}. The request is filed as a "
        "first request. But the member may already have had Elrexfio, so this may be a restart or a treatment "
        "already under way. " + _REVIEW_EN,
        "el historial de tratamiento incluye Elrexfio (elranatamab) en {requested_lines_text}. La solicitud se "
        "presentó como primera solicitud. Pero es posible que el afiliado ya haya recibido Elrexfio, así que puede "
        "ser un reinicio o un tratamiento que ya comenzó. " + _REVIEW_ES,
    ),
    _e(
        "prior_line_dates_contradict",
        "A.ii",
        "not_met",
        "dates in the treatment history contradict each other",
        "the dates in the treatment history do not fit together: {contradiction_text}. So the number of earlier "
        "lines of treatment cannot be counted. " + _REVIEW_EN,
        "las fechas del historial de tratamiento no concuerdan: {contradiction_text}. Por eso no se puede contar "
        "cuántas líneas de tratamiento hubo antes. " + _REVIEW_ES,
    ),
    _e(
        "prior_lines_not_read",
        "A.ii",
        "not_met",
        "enough lines only if entries that could not be read are treatments",
        "the request shows {lines} that could be read; the policy requires at least {required}. These entries "
        "could not be read as a myeloma treatment: {uncertain_text}. A clinical reviewer will decide if they "
        "count.",
        "la solicitud muestra {lines} que se pudieron leer; la política requiere al menos {required}. Estas "
        "entradas no se pudieron leer como un tratamiento para el mieloma: {uncertain_text}. Un revisor clínico "
        "decidirá si cuentan.",
    ),
    _e(
        "prior_lines_structure_unclear",
        "A.ii",
        "not_met",
        "enough lines only if entries that may be one line are counted apart",
        "the request shows {lines} when entries that may be one line are counted once; the policy requires at "
        "least {required}. {unclear_text} A clinical reviewer will decide how many lines there were.",
        "la solicitud muestra {lines} si las entradas que pueden ser una sola línea se cuentan una vez; la "
        "política requiere al menos {required}. {unclear_text} Un revisor clínico decidirá cuántas líneas hubo.",
    ),
    *_before_start_entries(),
    _e(
        "diagnosis_code_contradicts_status",
        "A.i",
        "not_met",
        "first request: a code for myeloma in remission with a relapsed or refractory status",
        "the request describes the multiple myeloma as {status}, but its diagnosis codes ({codes}) include "
        "C90.01, the code for myeloma in remission. The two do not agree. " + _REVIEW_EN,
        "la solicitud describe el mieloma múltiple como {status}, pero sus códigos de diagnóstico ({codes}) "
        "incluyen C90.01, el código de mieloma en remisión. Los dos no concuerdan. " + _REVIEW_ES,
    ),
    _e(
        "current_authorization_before_therapy",
        "B.i",
        "not_met",
        "renewal whose current approval ended before treatment started",
        "the approval being renewed ended on {current_valid_through}, before Elrexfio treatment started on "
        "{therapy_start}. These dates do not fit together. " + _REVIEW_EN,
        "la aprobación que se renueva terminó el {current_valid_through}, antes de que comenzara el tratamiento "
        "con Elrexfio el {therapy_start}. Estas fechas no concuerdan. " + _REVIEW_ES,
    ),
    _e(
        "therapy_start_before_trials",
        "B.i",
        "not_met",
        "renewal whose treatment start predates the drug's first clinical trial",
        "the request gives {therapy_start} as the date Elrexfio treatment started. Elrexfio was first given to "
        "patients in a clinical trial in {first_trial_year}, so this date cannot be right. " + _REVIEW_EN,
        "la solicitud indica que el tratamiento con Elrexfio comenzó el {therapy_start}. Elrexfio se dio a "
        "pacientes por primera vez en un estudio clínico en {first_trial_year}, así que esa fecha no puede ser "
        "correcta. " + _REVIEW_ES,
    ),
    _e(
        "performance_status_decline",
        "B.i",
        "not_met",
        "renewal with a current ECOG of 3 or more",
        f"the current {_ECOG_EN} is {{ecog_score}} (assessed on {{ecog_assessed_on}}). At this level the "
        "member can do little or no self-care. This may be a sign of side effects or of decline during "
        "treatment. " + _REVIEW_EN,
        f"el {_ECOG_ES} actual es {{ecog_score}} (evaluado el {{ecog_assessed_on}}). En este nivel, el "
        "afiliado puede cuidarse poco o nada por sí mismo. Esto puede ser señal de efectos secundarios o de "
        "deterioro durante el tratamiento. " + _REVIEW_ES,
    ),
    _e(
        "last_dose_date_inconsistent",
        "B.i",
        "not_met",
        "last dose dated before treatment began or after receipt",
        "the date of the last Elrexfio dose, {last_dose_date}, does not fit the other dates. It must fall "
        "between the start of treatment on {therapy_start} and the date the request was received, "
        "{received_on}. " + _REVIEW_EN,
        "la fecha de la última dosis de Elrexfio, {last_dose_date}, no concuerda con las otras fechas. Debe "
        "estar entre el inicio del tratamiento el {therapy_start} y la fecha en que se recibió la solicitud, el "
        "{received_on}. " + _REVIEW_ES,
    ),
    _e(
        "period_overlaps_current_authorization",
        "QL",
        "not_met",
        "renewal period would overlap the current approval",
        "the new period would start on {valid_from}, but the current approval still runs through "
        "{current_valid_through}. The two periods would overlap. " + _REVIEW_EN,
        "el nuevo período comenzaría el {valid_from}, pero la aprobación actual sigue vigente hasta el "
        "{current_valid_through}. Los dos períodos se solaparían. " + _REVIEW_ES,
    ),
    _e(
        "renewal_starts_too_far_ahead",
        "QL",
        "not_met",
        "renewal would start more days after receipt than the plan's rule allows",
        "the current approval runs through {current_valid_through}, so the renewal would start on {valid_from}, "
        "{days_ahead} after the request was received. The plan's rule is to accept a renewal at most "
        "{window_days} before it starts. " + _REVIEW_EN,
        "la aprobación actual sigue vigente hasta el {current_valid_through}, así que la renovación comenzaría "
        "el {valid_from}, {days_ahead} después de recibir la solicitud. La regla del plan es aceptar una "
        "renovación como máximo {window_days} antes de que comience. " + _REVIEW_ES,
    ),
    _e(
        "last_dose_date_missing",
        "QL",
        "missing",
        "renewal says treatment was paused but not when the last dose was given",
        "the request says treatment was paused but does not give the date of the last Elrexfio dose. After a "
        "pause, the FDA label may call for the first, lower doses again. So the number of doses depends on that "
        "date. Please send it.",
        "la solicitud indica que el tratamiento se pausó, pero no da la fecha de la última dosis de Elrexfio. "
        "Después de una pausa, la etiqueta de la FDA puede requerir otra vez las primeras dosis, más bajas. Por "
        "eso el número de dosis depende de esa fecha. Favor de enviarla.",
        (
            "The date of the last Elrexfio dose given, from the medication record",
            "La fecha de la última dosis de Elrexfio administrada, según el registro de medicamentos",
        ),
        ("chart_notes", "oncology_note"),
    ),
)
"""Every finding, in criterion order."""

CATALOGUE: Final[dict[str, Entry]] = {e.code: e for e in ENTRIES}
CODES: Final[tuple[str, ...]] = tuple(CATALOGUE)

# --- rendering --------------------------------------------------------------------------------------


@lru_cache(maxsize=8192)
def format_date(iso: str, lang: Lang) -> str:
    """``2026-11-27`` as ``November 27, 2026`` or ``27 de noviembre de 2026``."""
    d = date.fromisoformat(iso)
    if lang == "en":
        return f"{_MONTHS_EN[d.month - 1]} {d.day}, {d.year}"
    return f"{d.day} de {_MONTHS_ES[d.month - 1]} de {d.year}"


def join(items: Sequence[str], lang: Lang, conj: str | None = None) -> str:
    word = conj or ("and" if lang == "en" else "y")
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {word} " + items[-1]


def _word(kind: str, key: str, lang: Lang) -> str:
    en, es = WORDS[kind][key]
    return en if lang == "en" else es


_ISO_DATE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PLAIN: Final = re.compile(r"[^A-Za-z0-9ÁÉÍÓÚÑÜáéíóúñü .\-]")


def quoted_name(name: str) -> str:
    """An unrecognised name as it may appear in a letter: at most 40 characters, letters, digits,
    spaces, dots and hyphens only."""
    plain = _plain(name)[:40]
    return f"“{plain}”" if plain else "“?”"


def quoted_entry(items: Sequence[str]) -> str | None:
    """A prior-line entry as a letter may quote it: its items as :func:`quoted_name` cleans them, joined
    by commas, at most 80 characters; ``None`` when nothing printable is left."""
    plain = ", ".join(p for p in (_plain(i, _ENTRY_PLAIN) for i in items) if p)[:80]
    return f"“{plain}”" if plain else None


def _plain(text: str, pattern: re.Pattern[str] = _PLAIN) -> str:
    return " ".join(pattern.sub(" ", text).split())


_ENTRY_PLAIN: Final = re.compile(r"[^A-Za-z0-9ÁÉÍÓÚÑÜáéíóúñü .\-/]")
"""An entry may also keep its slashes ("N/A", "Rev/Dex")."""


def _value(key: str, value: FactValue, facts: Facts, lang: Lang) -> str:
    if key == "status" and isinstance(value, str):
        return _word("status", value, lang)
    if key == "best_response" and isinstance(value, str):
        words = _word("response", value, lang)
        since = facts.get("response_since")
        if isinstance(since, str):
            return (
                f"{words}, since {format_date(since, lang)}"
                if lang == "en"
                else (f"{words}, desde el {format_date(since, lang)}")
            )
        return words
    if key == "missing_classes" and isinstance(value, list):
        return join([_word("class", str(v), lang) for v in value], lang, "or" if lang == "en" else "ni")
    if key == "problems" and isinstance(value, list):
        return join([_word("problem", str(v), lang) for v in value], lang)
    if key == "unrecognised" and isinstance(value, list):
        shown = [quoted_name(str(v)) for v in value[:5]]
        more = facts.get("unrecognised_not_shown")
        if isinstance(more, int) and more:
            shown.append(f"{more} more" if lang == "en" else f"{more} más")
        return join(shown, lang)
    if key == "codes" and isinstance(value, list):
        return join([str(v) for v in value], lang)
    if key == "dosing" and isinstance(value, list):
        return join([_word("dosing", str(v), lang) for v in value], lang, "then" if lang == "en" else "y luego")
    if key == "lines" and isinstance(value, int) and not isinstance(value, bool):
        if lang == "en":
            return f"{value} earlier line of treatment" if value == 1 else f"{value} earlier lines of treatment"
        return f"{value} línea de tratamiento anterior" if value == 1 else f"{value} líneas de tratamiento anteriores"
    if (key.endswith("_days") or key.startswith("days_")) and isinstance(value, int) and not isinstance(value, bool):
        if lang == "en":
            return f"{value} day" if value == 1 else f"{value} days"
        return f"{value} día" if value == 1 else f"{value} días"
    if isinstance(value, str) and _ISO_DATE.match(value):
        return format_date(value, lang)
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, list):
        return join([str(v) for v in value], lang)
    return str(value)


def _derived(code: str, facts: Facts, lang: Lang) -> dict[str, str]:
    out: dict[str, str] = {}
    if code == "out_of_scope":
        parts = []
        if facts.get("plan_in_scope") is False:
            parts.append(
                "the member's plan on the request is not one of these"
                if lang == "en"
                else "el plan del afiliado en la solicitud no es uno de estos"
            )
        if facts.get("hcpcs_in_scope") is False:
            parts.append(
                "the billing code on the request is not the one for Elrexfio"
                if lang == "en"
                else "el código de facturación de la solicitud no es el de Elrexfio"
            )
        out["scope_problem"] = join(parts, lang)
    if code == "therapy_not_started":
        end = facts.get("valid_through")
        if facts.get("after_period") and isinstance(end, str):
            out["after_period_text"] = (
                f" and after the requested period ends on {format_date(end, lang)}"
                if lang == "en"
                else f" y después de que termina el período solicitado, el {format_date(end, lang)}"
            )
        else:
            out["after_period_text"] = ""
    if code == "too_few_prior_lines":
        notes = []
        if facts.get("requested_drug_lines"):
            notes.append(
                " A line that includes Elrexfio itself does not count as an earlier treatment."
                if lang == "en"
                else " Una línea que incluye Elrexfio no cuenta como tratamiento anterior."
            )
        if facts.get("future_lines"):
            notes.append(
                " A line that had not started when the request was received does not count."
                if lang == "en"
                else " Una línea que no había comenzado al recibir la solicitud no cuenta."
            )
        notes += _line_notes(facts, lang)
        out["excluded"] = "".join(notes)
    if code == "requested_drug_in_history":
        out["requested_lines_text"] = _lines_text(facts.get("requested_drug_lines"), lang)
    if code == "prior_line_dates_contradict":
        parts = []
        for key, en, es in _CONTRADICTIONS:
            lines = facts.get(key)
            if isinstance(lines, list) and lines:
                parts.append((en if lang == "en" else es).format(lines=_lines_text(lines, lang, article=False)))
        out["contradiction_text"] = join(parts, lang)
    if code == "prior_lines_not_read":
        out["uncertain_text"] = _uncertain_text(facts, lang)
    if code == "prior_lines_structure_unclear":
        lines = facts.get("unclear_lines")
        if isinstance(lines, list) and lines:
            text = _lines_text(lines, lang, article=False)
            out["unclear_text"] = (
                f"{text[0].upper()}{text[1:]} overlap in time or cannot be told apart by their dates."
                if lang == "en"
                else f"{text[0].upper()}{text[1:]} se solapan en el tiempo o sus fechas no permiten distinguirlas."
            )
        else:
            out["unclear_text"] = ""
    if code == "quantity_above_maximum":
        out["last_dose_note"] = (
            (
                " If treatment was paused, send the date of the last dose."
                if lang == "en"
                else " Si el tratamiento se pausó, envíe la fecha de la última dosis."
            )
            if facts.get("ask_last_dose")
            else ""
        )
    if code == "prior_lines_met":
        agents = facts.get("agents")
        classes = facts.get("agent_classes")
        if isinstance(agents, list) and isinstance(classes, list):
            out["agents"] = join(
                [
                    f"{_agent(str(a), lang)} ({_word('agent_class', str(c), lang)})"
                    for a, c in zip(agents, classes, strict=True)
                ],
                lang,
            )
    if code == "quantity_labeled_maximum":
        step = facts.get("step_up_doses_mg")
        n = facts.get("treatment_doses")
        parts = []
        if isinstance(step, list) and step:
            mg = join([f"{x} mg" for x in step], lang)
            parts.append(f"step-up doses of {mg}" if lang == "en" else f"dosis de escalonamiento de {mg}")
        if isinstance(n, int) and n:
            parts.append(f"{n} doses of 76 mg" if lang == "en" else f"{n} dosis de 76 mg")
        out["dose_list"] = join(parts, lang)
        whole = facts.get("whole_vials_mg")
        if isinstance(whole, list) and whole:
            mg = join([f"{x} mg" for x in whole], lang)
            out["vials"] = (
                f"; the {mg} doses are billed as full 44 mg vials"
                if lang == "en"
                else f"; las dosis de {mg} se facturan como viales completos de 44 mg"
            )
        else:
            out["vials"] = ""
    return out  # fmt: skip


_CONTRADICTIONS: Final = (
    ("ends_before_start_lines", "{lines} ends before it starts", "{lines} termina antes de comenzar"),
    (
        "order_lines",
        "{lines} are numbered in one order and dated in the other",
        "{lines} están numeradas en un orden y fechadas en el otro",
    ),
    ("before_birth_lines", "{lines} is dated before the member was born", "{lines} tiene fecha anterior al nacimiento"),
)


def _lines_text(lines: FactValue, lang: Lang, article: bool = True) -> str:
    """``line 3`` / ``lines 3 and 4``; Spanish ``la línea 3`` / ``las líneas 3 y 4`` (without article: ``línea 3``)."""
    numbers = [str(n) for n in lines] if isinstance(lines, list) else []
    if lang == "en":
        return ("line " if len(numbers) == 1 else "lines ") + join(numbers, lang)
    if len(numbers) == 1:
        return ("la línea " if article else "línea ") + numbers[0]
    return ("las líneas " if article else "líneas ") + join(numbers, lang)


def _uncertain_text(facts: Facts, lang: Lang) -> str:
    entries, lines = facts.get("uncertain_entries"), facts.get("uncertain_lines")
    if not isinstance(entries, list) or not isinstance(lines, list):
        return ""
    word = "line" if lang == "en" else "línea"
    return join([f"{e} ({word} {n})" for e, n in zip(entries, lines, strict=False)], lang)


def _line_notes(facts: Facts, lang: Lang) -> list[str]:
    """What ``too_few_prior_lines`` adds: entries that are not treatments, planned sequences, unread entries."""
    notes = []
    not_therapy = facts.get("not_therapy")
    if isinstance(not_therapy, list) and not_therapy:
        names = join([str(n) for n in not_therapy], lang)
        notes.append(
            f" These entries are not myeloma treatments and do not count: {names}."
            if lang == "en"
            else f" Estas entradas no son tratamientos para el mieloma y no cuentan: {names}."
        )
    if facts.get("planned_sequence_lines"):
        notes.append(
            " A transplant, and treatment given as part of the same plan (consolidation, maintenance or bridging), "
            "counts as one line with the treatment it belongs to."
            if lang == "en"
            else " Un trasplante, y el tratamiento dado como parte del mismo plan (consolidación, mantenimiento o "
            "puente), cuenta como una sola línea junto con el tratamiento al que pertenece."
        )
    uncertain = _uncertain_text(facts, lang)
    if uncertain:
        notes.append(
            f" These entries could not be read as a myeloma treatment: {uncertain}."
            if lang == "en"
            else f" Estas entradas no se pudieron leer como un tratamiento para el mieloma: {uncertain}."
        )
    return notes


def _agent(agent: str, lang: Lang) -> str:
    return _word("agent", agent, lang) if agent in WORDS["agent"] else agent


def render_both(code: str, facts: Facts, criterion: str) -> tuple[str, str]:
    """The English and Spanish sentences for ``code``, built from ``facts`` alone.

    Memoized on the facts the sentences read (their placeholders and the inputs of their derived
    phrases), in a bounded table: most sentences repeat across requests (the same windows, codes
    and dates), and a document id the sentences do not print never defeats the memo."""
    read = _READS.get(code)
    if read is None:
        read = _reads(CATALOGUE[code])
    table = _RENDERED[criterion]
    key = (code, tuple([tuple(v) if isinstance(v, list) else v for v in map(facts.get, read)]))
    pair = table.get(key)
    if pair is None:
        entry = CATALOGUE[code]
        pair = (
            _render(entry, entry.en, facts, read, criterion, "en"),
            _render(entry, entry.es, facts, read, criterion, "es"),
        )
        if len(table) >= _RENDER_LIMIT:
            table.clear()
        table[key] = pair
    return pair


def _render(entry: Entry, template: str, facts: Facts, read: tuple[str, ...], criterion: str, lang: Lang) -> str:
    code = entry.code
    values = {k: _value(k, facts[k], facts, lang) for k in read if k in facts}
    values.update(_derived(code, facts, lang))
    body = template.format_map(_Strict(values, code))
    if facts.get("automated"):  # automated denials on: no reviewer sees the request
        body = body.replace(" " + (_REVIEW_EN if lang == "en" else _REVIEW_ES), "")
    cite_en, cite_es = CITES[criterion]
    head = f"{POLICY_EN}, {cite_en}: " if lang == "en" else f"{POLICY_ES}, {cite_es}: "
    text = head + body[0].upper() + body[1:] if body else head
    return text if len(text) <= 1000 else text[:997] + "..."



# --- a reviewer's final determination ---------------------------------------------------

_FUTURE: Final = re.compile(
    r"\s*[^.]*(?:will decide|will review|decidirá|tomará la decisión|revisará)[^.]*\.",
    re.IGNORECASE,
)
"""A sentence that promises a decision to come: true on a pend, false on a final determination."""

CREDENTIALS: Final[dict[str, tuple[str, str]]] = {
    "MD": ("A physician (MD)", "Un médico (MD)"),
    "DO": ("A physician (DO)", "Un médico (DO)"),
    "PharmD": ("A pharmacist (PharmD)", "Un farmacéutico (PharmD)"),
    "RPh": ("A pharmacist (RPh)", "Un farmacéutico (RPh)"),
    "RN": ("A registered nurse (RN)", "Un profesional de enfermería (RN)"),
    "NP": ("A nurse practitioner (NP)", "Un profesional de enfermería practicante (NP)"),
    "PA": ("A physician assistant (PA)", "Un asistente médico (PA)"),
}
"""Who decided, by credential, as a letter says it."""

_DECIDED: Final[dict[str, tuple[str, str]]] = {
    "approved": ("reviewed the request and approved it.", "revisó la solicitud y la aprobó."),
    "partially_approved": (
        "reviewed the request and approved only part of it.",
        "revisó la solicitud y aprobó solo una parte.",
    ),
    "denied": ("reviewed the request and denied it.", "revisó la solicitud y la denegó."),
}


def decided_by_both(outcome: str, credential: str) -> tuple[str, str]:
    """The sentence a final determination ends its reasons with: who decided, and what."""
    who_en, who_es = CREDENTIALS[credential]
    done_en, done_es = _DECIDED[outcome]
    return f"{who_en} {done_en}", f"{who_es} {done_es}"


def final_both(reason: str, reason_es: str | None, outcome: str, credential: str) -> tuple[str, str | None]:
    """A criterion's reasons on a reviewer's final determination: the finding as the engine read it,
    without any sentence that promises a decision to come, and then who decided what."""
    en, es = decided_by_both(outcome, credential)
    out_en = f"{_FUTURE.sub('', reason).rstrip()} {en}"
    out_es = None if reason_es is None else f"{_FUTURE.sub('', reason_es).rstrip()} {es}"
    return out_en[:1000], None if out_es is None else out_es[:1000]


_RENDER_LIMIT: Final = 2048
_RENDERED: defaultdict[str, dict[tuple[object, ...], tuple[str, str]]] = defaultdict(dict)
"""One bounded table per criterion (cleared when full): the quantity sentences, which name the
period's dates and seldom repeat, never evict the documents' and the ECOG's, which do."""
_READS: dict[str, tuple[str, ...]] = {}
_DERIVED_INPUTS: Final[dict[str, tuple[str, ...]]] = {
    "out_of_scope": ("plan_in_scope", "hcpcs_in_scope"),
    "therapy_not_started": ("after_period", "valid_through"),
    "too_few_prior_lines": (
        "requested_drug_lines",
        "future_lines",
        "not_therapy",
        "planned_sequence_lines",
        "uncertain_entries",
        "uncertain_lines",
    ),
    "requested_drug_in_history": ("requested_drug_lines",),
    "prior_line_dates_contradict": ("ends_before_start_lines", "order_lines", "before_birth_lines"),
    "prior_lines_not_read": ("uncertain_entries", "uncertain_lines"),
    "prior_lines_structure_unclear": ("unclear_lines",),
    "quantity_above_maximum": ("ask_last_dose",),
    "prior_lines_met": ("agents", "agent_classes"),
    "quantity_labeled_maximum": ("step_up_doses_mg", "treatment_doses", "whole_vials_mg"),
}
_ALWAYS_READ: Final = ("automated", "response_since", "unrecognised_not_shown")


def _reads(entry: Entry) -> tuple[str, ...]:
    """The facts a finding's sentences read: placeholders, derived phrases' inputs, the flags."""
    cached = _READS.get(entry.code)
    if cached is None:
        names = [name for t in (entry.en, entry.es) for _, name, _, _ in _FORMATTER.parse(t) if name]
        cached = tuple(dict.fromkeys([*names, *_DERIVED_INPUTS.get(entry.code, ()), *_ALWAYS_READ]))
        _READS[entry.code] = cached
    return cached


def _hashable(value: FactValue) -> object:
    return tuple(value) if isinstance(value, list) else value


_FORMATTER: Final = string.Formatter()


def send_text(code: str, facts: Facts, lang: Lang) -> str | None:
    """For a ``missing`` finding: what to send, in plain words."""
    return send_both(code, facts)[0 if lang == "en" else 1]


def send_both(code: str, facts: Facts) -> tuple[str | None, str | None]:
    """:func:`send_text` in English and Spanish, memoized (bounded) on the facts the two texts read."""
    read = _SEND_READS.get(code)
    if read is None:
        read = _send_reads(CATALOGUE[code])
    key = (code, tuple([_hashable(facts[k]) if k in facts else _ABSENT for k in read]))
    pair = _SENT.get(key)
    if pair is None:
        entry = CATALOGUE[code]
        pair = (_send(entry, entry.send_en, facts, read, "en"), _send(entry, entry.send_es, facts, read, "es"))
        if len(_SENT) >= _RENDER_LIMIT:
            _SENT.clear()
        _SENT[key] = pair
    return pair


def _send(entry: Entry, template: str | None, facts: Facts, read: tuple[str, ...], lang: Lang) -> str | None:
    if template is None:
        return None
    values = {k: _value(k, facts[k], facts, lang) for k in read if k in facts}
    return template.format_map(_Strict(values, entry.code))


_ABSENT: Final = object()
_SENT: dict[tuple[object, ...], tuple[str | None, str | None]] = {}
_SEND_READS: dict[str, tuple[str, ...]] = {}


def _send_reads(entry: Entry) -> tuple[str, ...]:
    """The facts the texts of what to send read: their placeholders, and the facts
    :func:`_value` reads besides the one it formats."""
    cached = _SEND_READS.get(entry.code)
    if cached is None:
        names = [name for t in (entry.send_en, entry.send_es) if t for _, name, _, _ in _FORMATTER.parse(t) if name]
        cached = tuple(dict.fromkeys([*names, *_ALWAYS_READ]))
        _SEND_READS[entry.code] = cached
    return cached


class _Strict(dict[str, str]):
    def __init__(self, values: dict[str, str], code: str) -> None:
        super().__init__(values)
        self.code = code

    def __missing__(self, key: str) -> str:
        raise KeyError(f"finding {self.code} has no fact {key!r}")


# --- the glossary and the catalogue document --------------------------------------------------------

GLOSSARY: Final[tuple[tuple[str, str, str], ...]] = (
    ("prior authorization", "autorización previa", "approval the plan gives before the drug is given"),
    ("renewal (reauthorization)", "renovación (reautorización)", "a request to continue a treatment already approved"),
    ("clinical reviewer", "revisor clínico", "a physician or pharmacist of the plan who decides what the engine pends"),
    ("multiple myeloma", "mieloma múltiple", "ICD-10-CM C90.00 to C90.02"),
    ("relapsed", "en recaída", "the disease came back after a period of improvement"),
    ("refractory", "refractario", "the disease no longer responds to treatment"),
    ("in remission", "en remisión", "no detectable disease for now"),
    ("line of treatment", "línea de tratamiento", "one regimen, however many drugs it combines (IMWG)"),
    ("anti-CD38 antibody", "anticuerpo anti-CD38", "daratumumab, isatuximab"),
    ("proteasome inhibitor", "inhibidor del proteasoma", "bortezomib, carfilzomib, ixazomib"),
    ("immunomodulatory drug", "medicamento inmunomodulador", "lenalidomide/lenalidomida, pomalidomide/pomalidomida, "
     "thalidomide/talidomida"),
    ("Eastern Cooperative Oncology Group (ECOG) performance status", "estado funcional según la escala del Eastern "
     "Cooperative Oncology Group (ECOG)", "0 fully active ... 5 dead; the policy requires 0 to 2"),
    ("oncology note", "nota de oncología", "the oncologist's note"),
    ("imaging studies", "estudios de imagen", "PET, CT, MRI, X-ray"),
    ("lab results", "resultados de laboratorio", "e.g. serum protein electrophoresis, free light chains"),
    ("medical records", "expediente médico", "office notes, lab results, pathology reports, imaging"),
    ("disease progression", "progresión de la enfermedad", "the myeloma grew on treatment"),
    ("unacceptable side effects (toxicity)", "efectos secundarios inaceptables (toxicidad)", ""),
    ("stringent complete response", "respuesta completa estricta", "IMWG sCR"),
    ("complete response", "respuesta completa", "IMWG CR"),
    ("very good partial response", "muy buena respuesta parcial", "IMWG VGPR"),
    ("partial response", "respuesta parcial", "IMWG PR"),
    ("minimal response", "respuesta mínima", "IMWG MR"),
    ("stable disease", "enfermedad estable", "IMWG SD"),
    ("progressive disease", "enfermedad progresiva", "IMWG PD"),
    ("step-up doses", "dosis de escalonamiento", "12 mg on day 1, 32 mg on day 4, 76 mg on day 8"),
    ("billing code", "código de facturación", "HCPCS J1323, 1 unit = 1 mg"),
    ("billing unit", "unidad de facturación", "1 mg of elranatamab-bcmm"),
    ("vial", "vial", "single-dose vials of 44 mg and 76 mg"),
    ("dosing schedule", "esquema de dosificación", "the FDA label's schedule, as the policy's Limits B copies it"),
    ("retroactive", "retroactivo", "a period that began before the plan received the request"),
)  # fmt: skip
"""English term, Spanish term, note."""


def catalogue_markdown() -> str:
    """``policy/REASONS.md``: every code with its criterion, outcome, meaning and both texts, and the glossary."""
    lines = [
        "# Finding codes and letter texts, policy MP-RX-FP-120-24",
        "",
        "Generated by `python -m tests.policy.reasons_doc` from `policy/reasons.py`; do not edit.",
        "",
        "Each criterion of a determination carries `code` (one of these), `facts` (the typed values the",
        "sentence is built from) and `reason` (English) and `reason_es` (Spanish). Letter systems can key",
        "their templates on `code` and fill them from `facts`. Placeholders below are fact names; dates are",
        "ISO dates in `facts` and written out in the sentence. Each sentence starts with the citation",
        f'"{POLICY_EN}, <criterion>: " / "{POLICY_ES}, <criterio>: ".',
        "",
        "| Code | Criterion | Outcome | Meaning | English | Spanish | What to send (missing) |",
        "|---|---|---|---|---|---|---|",
    ]
    for e in ENTRIES:
        send = f"{e.send_en} / {e.send_es}" if e.send_en else ""
        lines.append(
            f"| `{e.code}` | {e.criterion} ({CITES[e.criterion][0]}) | {e.outcome} | {e.meaning} | "
            f"{_md(e.en)} | {_md(e.es)} | {_md(send)} |"
        )
    lines += ["", "## Glossary", "", "| English | Spanish | Note |", "|---|---|---|"]
    lines += [f"| {en} | {es} | {_md(note)} |" for en, es, note in GLOSSARY]
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|")
