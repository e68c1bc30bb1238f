"""The catalogue of findings: one stable code per finding, with its criterion, outcome, meaning and
the sentence a letter prints, in English and Spanish.

A criterion's check returns a code and its *facts* (typed values: ISO dates, counts, thresholds,
codes, the names that were not recognised). :func:`render_both` builds the sentences from those facts
alone, so a letter system can rebuild or restyle it from ``criteria[].code`` and
``criteria[].facts`` without parsing text, and every date and number in the sentence is a fact.

Sentences are written for the member and the prescriber (issue #23): short sentences and common
words (median Flesch-Kincaid grade at most 8, Szigriszt-Pazos/INFLESZ at least 55 over the golden
cases, ``tests/policy/test_readability.py``), "we" for the plan, abbreviations explained, drug names in
their standard form, quantities as doses and milligrams, and, when something is missing, what to send
(the fact and its date, never a qualifying value). Where the rule comes from is not in the sentence
but in its own field (:func:`citation_both`: the policy's criterion, the FDA label, or the MMM plan's
own rule, a setting, never presented as the policy's text). A reason is three separable parts
(:class:`Entry`): the finding, the ask, the next step; :func:`final_both` keeps the finding alone for
a reviewer's final determination. Information requests add when the answer is needed, in the plan's
local time, and what happens if nothing arrives (:func:`request_text_both`).

The Spanish is written for readers in Puerto Rico (42 CFR 422.2267(a)(2)), not mapped word for word
from the English; the glossary (:data:`GLOSSARY`) keeps the terms consistent. ``python -m
tests.policy.reasons_doc`` writes ``policy/REASONS.md`` (catalogue and glossary) for the letter and
claims teams.
"""

from __future__ import annotations

import re
import string
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from functools import lru_cache
from typing import Final, Literal

from contracts.models import CriterionId, CriterionOutcome, DocumentType

Lang = Literal["en", "es"]
FactValue = str | int | bool | list[str] | list[int] | None
Facts = Mapping[str, FactValue]

MAX_SENTENCE: Final = 420

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
        # what the myeloma does, as the predicate of "The myeloma ..." / "El mieloma ..."
        "relapsed": ("came back after treatment (relapsed)", "regresó después del tratamiento (en recaída)"),
        "refractory": (
            "no longer responds to treatment (refractory)",
            "ya no responde al tratamiento (refractario)",
        ),
        "relapsed_and_refractory": (
            "came back and no longer responds to treatment (relapsed and refractory)",
            "regresó y ya no responde al tratamiento (en recaída y refractario)",
        ),
        "newly_diagnosed": ("is newly diagnosed", "es recién diagnosticado"),
        "in_remission": ("is in remission", "está en remisión"),
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
        "weekly": ("weekly", "cada semana"),
        "every_2_weeks": ("every 2 weeks", "cada 2 semanas"),
        "every_4_weeks": ("every 4 weeks", "cada 4 semanas"),
    },
    "document": {
        # one entry of the request's documents, as a letter names it before "dated ..." / "con fecha del ..."
        "chart_notes": ("office notes", "notas de consulta"),
        "lab_results": ("lab results", "resultados de laboratorio"),
        "pathology_report": ("a pathology report", "un informe de patología"),
        "imaging": ("an imaging study", "un estudio de imagen"),
        "oncology_note": ("an oncology note", "una nota de oncología"),
        "other": ("a document of type other", "un documento de tipo otro"),
    },
}


@dataclass(frozen=True, slots=True)
class Entry:
    """One finding: what it means and how a letter says it.

    A criterion's ``reason`` is built from three separable parts, in this order: the **finding**
    (``en``/``es``: what the request shows), the **ask** (``ask_en``/``ask_es``: what to send, for a
    ``missing`` finding; always starts with :data:`ASK_EN` / :data:`ASK_ES`), and the **next step**
    (``next_en``/``next_es``: a decision to come, for a ``not_met`` finding on a pend). A final
    determination keeps only the finding (:func:`final_both`); an automated denial drops the next step.
    """

    code: str
    criterion: CriterionId
    outcome: CriterionOutcome
    meaning: str
    en: str
    """The finding, in English (a template over the facts)."""
    es: str
    send_en: str | None = None
    """For ``missing``: what to send, as a document in plain words (English)."""
    send_es: str | None = None
    accepted_types: tuple[DocumentType, ...] = ()
    """For ``missing``: the document types that would answer it."""
    ask_en: str | None = None
    """What to send, as a sentence of the reason (starts with :data:`ASK_EN`)."""
    ask_es: str | None = None
    next_en: str | None = None
    """The sentence that promises a decision to come (a pend's ``not_met``), or ``None``."""
    next_es: str | None = None
    cite_en: str = ""
    """Where the rule comes from: the policy's criterion, the FDA label, or the plan's own rule."""
    cite_es: str = ""


ASK_EN: Final = "Please send"
ASK_ES: Final = "Favor de enviar"
"""Every ask starts with these words, and no finding holds them: :func:`final_both` cuts there."""

REVIEW_EN: Final = "A clinical reviewer will decide."
REVIEW_ES: Final = "Un revisor clínico tomará la decisión."

POLICY_EN: Final = "Policy MP-RX-FP-120-24"
POLICY_ES: Final = "Política MP-RX-FP-120-24"
PLAN_RULE_EN: Final = "MMM plan rule"
PLAN_RULE_ES: Final = "Regla del plan MMM"

CITES: Final[dict[str, tuple[str, str]]] = {
    "LOB": (f"{POLICY_EN}: scope and billing code", f"{POLICY_ES}: alcance y código de facturación"),
    "A.i": (f"{POLICY_EN}, criterion A.i", f"{POLICY_ES}, criterio A.i"),
    "A.ii": (f"{POLICY_EN}, criterion A.ii", f"{POLICY_ES}, criterio A.ii"),
    "A.iii": (f"{POLICY_EN}, criterion A.iii", f"{POLICY_ES}, criterio A.iii"),
    "A.docs": (f"{POLICY_EN}, section A: documentation", f"{POLICY_ES}, sección A: documentación"),
    "B.i": (f"{POLICY_EN}, criterion B.i", f"{POLICY_ES}, criterio B.i"),
    "B.docs.A": (f"{POLICY_EN}, criterion B.i, item A", f"{POLICY_ES}, criterio B.i, inciso A"),
    "B.docs.B": (f"{POLICY_EN}, criterion B.i, item B", f"{POLICY_ES}, criterio B.i, inciso B"),
    "QL": (
        f"{POLICY_EN}, quantity limits (FDA label dosing), with the MMM plan's rules for counting doses",
        f"{POLICY_ES}, límites de cantidad (dosis de la etiqueta de la FDA), con las reglas del plan MMM para "
        "contar las dosis",
    ),
}
"""How each criterion is cited by default: the policy's own numbering, never an internal id. A
finding whose rule is the FDA label's or the plan's own names that source instead (:data:`_SOURCES`)."""

_CURRENCY: Final = (
    f"; {PLAN_RULE_EN}: how recent a record must be",
    "; regla del plan MMM: qué tan reciente debe ser un documento",
)
"""The 30/60/90-day windows of "current" are the plan's settings, not the policy's text."""
_START_WINDOW: Final = (f"{PLAN_RULE_EN}: requested start window", f"{PLAN_RULE_ES}: plazo de la fecha de inicio")
_PERIOD_DATES: Final = (
    f"{PLAN_RULE_EN}: dates of the approval period",
    f"{PLAN_RULE_ES}: fechas del período de aprobación",
)
_ADULTS: Final = ("FDA label for Elrexfio: use in adults", "Etiqueta de la FDA de Elrexfio: uso en adultos")
_RESTART: Final = (
    "FDA label for Elrexfio, section 2.4: restarting after a dose delay",
    "Etiqueta de la FDA de Elrexfio, sección 2.4: reinicio después de un retraso en la dosis",
)
_INDICATION: Final = (
    f"{POLICY_EN}, criterion B.i (an indication in section A)",
    f"{POLICY_ES}, criterio B.i (una indicación de la sección A)",
)
_QL_POLICY: Final = (
    f"{POLICY_EN}, quantity limits (FDA label dosing)",
    f"{POLICY_ES}, límites de cantidad (dosis de la etiqueta de la FDA)",
)


def _e(
    code: str,
    criterion: CriterionId,
    outcome: CriterionOutcome,
    meaning: str,
    en: str,
    es: str,
    send: tuple[str, str] | None = None,
    accepted: tuple[DocumentType, ...] = (),
    ask: tuple[str, str] | None = None,
    then: tuple[str, str] | None = None,
    cite: tuple[str, str] | None = None,
) -> Entry:
    """An entry; a ``not_met`` finding's next step is "A clinical reviewer will decide." unless ``then``
    says otherwise; the citation is the criterion's unless ``cite`` names another source."""
    send_en, send_es = send if send is not None else (None, None)
    ask_en, ask_es = ask if ask is not None else (None, None)
    if then is None and outcome == "not_met":
        then = (REVIEW_EN, REVIEW_ES)
    next_en, next_es = then if then is not None else (None, None)
    cite_en, cite_es = cite if cite is not None else CITES[criterion]
    return Entry(
        code, criterion, outcome, meaning, en, es, send_en, send_es, accepted, ask_en, ask_es, next_en, next_es,
        cite_en, cite_es,
    )  # fmt: skip


ECOG_EN: Final = "ECOG performance status"
ECOG_ES: Final = "estado funcional ECOG"
ECOG_NOTE_EN: Final = "ECOG is a rating of how well a person can do daily tasks."
ECOG_NOTE_ES: Final = "El ECOG mide cuánto puede hacer una persona en su vida diaria."
"""The plain-words explanation every sentence that names ECOG carries (the member does not know the
Eastern Cooperative Oncology Group; what the scale measures is what helps)."""
_SUPPORT_EN = "medical records (office notes, lab results, pathology reports, imaging studies or an oncology note)"
_SUPPORT_ES = (
    "documentos del expediente médico (notas de consulta, resultados de laboratorio, informes de patología, "
    "estudios de imagen o una nota de oncología)"
)
_ECOG_SEND: Final = (
    f"The member's current {ECOG_EN}, dated on or after {{dated_on_or_after}}",
    f"El {ECOG_ES} actual del afiliado, con fecha del {{dated_on_or_after}} en adelante",
)
_ECOG_TYPES: Final[tuple[DocumentType, ...]] = ("chart_notes", "oncology_note")

_DOCS: Final[dict[str, dict[str, str]]] = {
    # prefix: the words each sentence needs, English and Spanish
    "supporting_documents": {
        "cid": "A.docs",
        "one_en": "medical record",
        "the_one_es": "El documento del expediente médico",
        "all_en": _SUPPORT_EN,
        "all_es": _SUPPORT_ES,
        "send_en": "Medical records (office notes, lab results, pathology reports, imaging studies or an oncology "
        "note)",
        "send_es": "Documentos del expediente médico (notas de consulta, resultados de laboratorio, informes de "
        "patología, estudios de imagen o una nota de oncología)",
        "short_en": "medical records",
        "short_es": "documentos del expediente médico",
        "kind_en": "records",
        "kind_es": "documentos",
        "it_es": "aceptarlo",
        "none_en": "no medical records (office notes, lab results, pathology reports, imaging studies or an "
        "oncology note)",
        "none_es": "ningún documento del expediente médico (notas de consulta, resultados de laboratorio, informes "
        "de patología, estudios de imagen o nota de oncología)",
    },
    "oncology_note": {
        "cid": "B.docs.A",
        "one_en": "oncology note",
        "the_one_es": "La nota de oncología",
        "send_en": "An oncology note describing the response to treatment",
        "send_es": "Una nota de oncología que describa la respuesta al tratamiento",
        "short_en": "an oncology note",
        "short_es": "una nota de oncología",
        "kind_en": "notes",
        "kind_es": "notas",
        "it_es": "aceptarla",
        "none_en": "no oncology note describing the response to treatment",
        "none_es": "ninguna nota de oncología que describa la respuesta al tratamiento",
    },
    "objective_measures": {
        "cid": "B.docs.B",
        "one_en": "imaging study or lab result",
        "the_one_es": "El estudio de imagen o resultado de laboratorio",
        "send_en": "Imaging studies or lab results showing whether the disease has grown",
        "send_es": "Estudios de imagen o resultados de laboratorio que muestren si la enfermedad ha avanzado",
        "short_en": "imaging studies or lab results",
        "short_es": "estudios de imagen o resultados de laboratorio",
        "kind_en": "results",
        "kind_es": "estudios o resultados",
        "it_es": "aceptarlo",
        "none_en": "no imaging studies or lab results showing whether the disease has grown",
        "none_es": "ningún estudio de imagen ni resultado de laboratorio que muestre si la enfermedad ha avanzado",
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
        policy = CITES[cid]
        window = (policy[0] + _CURRENCY[0], policy[1] + _CURRENCY[1])
        send = (
            f"{w['send_en']}, dated on or after {{dated_on_or_after}}",
            f"{w['send_es']}, con fecha del {{dated_on_or_after}} en adelante",
        )
        ask = (
            f"{ASK_EN} {w['short_en']} dated on or after {{dated_on_or_after}}.",
            f"{ASK_ES} {w['short_es']} con fecha del {{dated_on_or_after}} en adelante.",
        )
        the_es = w["the_one_es"]
        out += [
            _e(
                f"{prefix}_current",
                cid,
                "met",
                f"a current document ({', '.join(types)})",
                f"The most recent {w['one_en']} is from {{dated}}, {{age_before_request}}. It is current.",
                f"{the_es} más reciente es del {{dated}}, {{age_before_request}}. Está al día.",
                cite=window,
            ),
            _e(
                f"{prefix}_not_current",
                cid,
                "missing",
                "documents of this kind were sent, none current",
                f"The most recent {w['one_en']} is from {{dated}}, {{age_days}} before we received the request on "
                f"{{received_on}}. The plan accepts {w['kind_en']} up to {{window_days}} old.",
                f"{the_es} más reciente es del {{dated}}, {{age_days}} antes de que recibiéramos la solicitud el "
                f"{{received_on}}. El plan acepta {w['kind_es']} de hasta {{window_days}} de antigüedad.",
                send,
                types,
                ask,
                cite=window,
            ),
            _e(
                f"{prefix}_future_dated",
                cid,
                "missing",
                "documents of this kind were sent, all dated after receipt",
                f"The {w['one_en']} is dated {{dated}}. That is after we received the request on {{received_on}}, "
                "so we cannot accept it.",
                f"{the_es} tiene fecha del {{dated}}. Esa fecha es posterior al día en que recibimos la solicitud, "
                f"el {{received_on}}, así que no podemos {w['it_es']}.",
                send,
                types,
                ask,
                cite=window,
            ),
            _e(
                f"{prefix}_missing",
                cid,
                "missing",
                "no document of this kind",
                f"The request includes {w['none_en']}.",
                f"La solicitud no incluye {w['none_es']}.",
                send,
                types,
                ask,
            ),
        ]
    return out


def _id_conflict_entries() -> list[Entry]:
    """Documents whose id another entry gives with a different type or date (R55): not used."""
    out: list[Entry] = []
    for prefix, w in _DOCS.items():
        cid: CriterionId = w["cid"]  # type: ignore[assignment]
        policy = CITES[cid]
        out.append(
            _e(
                f"{prefix}_id_conflict",
                cid,
                "missing",
                "documents of this kind sent under an id another entry gives with a different type or date",
                "Entries that share one document ID give different types or dates: {conflict_text}. We cannot "
                "tell which is right, so we did not use them.",
                "Hay entradas con igual identificador y distinto tipo o fecha: {conflict_text}. No sabemos cuál "
                "es la correcta y no las usamos.",
                (
                    f"{w['send_en']}, dated on or after {{dated_on_or_after}}, each document with its own ID",
                    f"{w['send_es']}, con fecha del {{dated_on_or_after}} en adelante, cada documento con su propio "
                    "identificador",
                ),
                _DOC_TYPES[prefix],
                (
                    f"{ASK_EN} {w['short_en']} dated on or after {{dated_on_or_after}}, each document with its own ID.",
                    f"{ASK_ES} {w['short_es']} con fecha del {{dated_on_or_after}} en adelante, cada documento con su "
                    "propio identificador.",
                ),
                cite=(policy[0] + _CURRENCY[0], policy[1] + _CURRENCY[1]),
            )
        )
    return out


def _before_start_entries() -> list[Entry]:
    """Continuation documents dated before Elrexfio began (B.i.A, B.i.B): they cannot show the response."""
    out: list[Entry] = []
    for prefix in ("oncology_note", "objective_measures"):
        w, types = _DOCS[prefix], _DOC_TYPES[prefix]
        cid: CriterionId = w["cid"]  # type: ignore[assignment]
        out.append(
            _e(
                f"{prefix}_before_therapy_start",
                cid,
                "missing",
                "documents of this kind were sent, all dated before treatment began",
                f"The {w['one_en']} dated {{dated}} is from before Elrexfio treatment started on {{therapy_start}}. "
                "So it cannot show how the disease responded to Elrexfio.",
                f"{w['the_one_es']} con fecha del {{dated}} es de antes de que comenzara el tratamiento con "
                "Elrexfio el {therapy_start}. Por eso no puede mostrar cómo respondió la enfermedad a Elrexfio.",
                (
                    f"{w['send_en']}, dated on or after {{dated_on_or_after}}",
                    f"{w['send_es']}, con fecha del {{dated_on_or_after}} en adelante",
                ),
                types,
                (
                    f"{ASK_EN} {w['short_en']} dated on or after {{dated_on_or_after}}.",
                    f"{ASK_ES} {w['short_es']} con fecha del {{dated_on_or_after}} en adelante.",
                ),
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
        "The request is for Elrexfio, billing code {hcpcs}. This policy covers the member's plan.",
        "La solicitud es para Elrexfio, código de facturación {hcpcs}. Esta política cubre el plan del afiliado.",
    ),
    _e(
        "out_of_scope",
        "LOB",
        "not_met",
        "plan or billing code outside the policy's scope",
        "This policy covers Elrexfio (billing code {hcpcs}) for members of MMM Medicare Advantage and MMM "
        "Multihealth. {scope_problem}",
        "Esta política cubre Elrexfio (código de facturación {hcpcs}) para afiliados de MMM Medicare Advantage y "
        "MMM Multihealth. {scope_problem}",
    ),
    # --- A.i ----------------------------------------------------------------------------------------
    _e(
        "diagnosis_code_missing",
        "A.i",
        "missing",
        "no diagnosis code on the request",
        "The request has no diagnosis code.",
        "La solicitud no tiene código de diagnóstico.",
        (
            "An office or oncology note with the member's diagnosis and its diagnosis code",
            "Una nota de consulta o de oncología con el diagnóstico del afiliado y su código de diagnóstico",
        ),
        ("chart_notes", "oncology_note"),
        (
            f"{ASK_EN} the member's diagnosis and its code.",
            f"{ASK_ES} el diagnóstico del afiliado y su código.",
        ),
    ),
    _e(
        "not_multiple_myeloma",
        "A.i",
        "not_met",
        "no diagnosis code identifies multiple myeloma",
        "The diagnosis codes on the request ({codes}) are not codes for multiple myeloma. This policy covers only "
        "multiple myeloma (codes C90.00 to C90.02).",
        "Los códigos de diagnóstico de la solicitud ({codes}) no son códigos de mieloma múltiple. Esta política "
        "cubre solo el mieloma múltiple (códigos C90.00 a C90.02).",
    ),
    _e(
        "disease_status_missing",
        "A.i",
        "missing",
        "myeloma documented; relapsed or refractory status not stated",
        "The request shows multiple myeloma ({codes}). It does not say how the disease is now: for example, "
        "newly found, in remission, back after treatment, or no longer responding to it.",
        "La solicitud muestra mieloma múltiple ({codes}). No dice cómo está la enfermedad ahora: por ejemplo, "
        "recién diagnosticada, en remisión, de vuelta tras el tratamiento o sin respuesta a él.",
        (
            "An oncology note that states the current status of the myeloma",
            "Una nota de oncología que indique el estado actual del mieloma",
        ),
        ("oncology_note",),
        (
            f"{ASK_EN} the oncology note that states it.",
            f"{ASK_ES} la nota de oncología que lo indique.",
        ),
    ),
    _e(
        "not_relapsed_or_refractory",
        "A.i",
        "not_met",
        "first request: myeloma newly diagnosed or in remission",
        "The request says the myeloma {status}. For a first approval, the policy requires myeloma that came "
        "back after treatment (relapsed) or no longer responds to it (refractory).",
        "La solicitud dice que el mieloma {status}. Para una primera aprobación, la política requiere un "
        "mieloma que regresó después del tratamiento (en recaída) o que ya no responde a él (refractario).",
    ),
    _e(
        "relapsed_or_refractory_myeloma",
        "A.i",
        "met",
        "first request: relapsed or refractory multiple myeloma",
        "The request shows multiple myeloma ({codes}). The myeloma {status}.",
        "La solicitud muestra mieloma múltiple ({codes}). El mieloma {status}.",
    ),
    _e(
        "continuation_indication_contradicted",
        "A.i",
        "not_met",
        "renewal: myeloma described as newly diagnosed",
        "The request says the myeloma is newly diagnosed. A renewal is for a treatment already approved for "
        "myeloma that came back or stopped responding. The two do not agree.",
        "La solicitud dice que el mieloma es recién diagnosticado. Una renovación es para un tratamiento ya "
        "aprobado para un mieloma que regresó o dejó de responder. Las dos cosas no concuerdan.",
        cite=_INDICATION,
    ),
    _e(
        "continuation_indication_myeloma",
        "A.i",
        "met",
        "renewal: multiple myeloma, the condition treatment was approved for",
        "The request shows multiple myeloma ({codes}). This is the condition the treatment was approved for. A "
        "response or remission is the goal of treatment. It is not a reason to stop it.",
        "La solicitud muestra mieloma múltiple ({codes}). Es la condición para la que se aprobó el tratamiento. "
        "La respuesta o la remisión es la meta del tratamiento. No es un motivo para dejarlo.",
        cite=_INDICATION,
    ),
    # --- A.ii ---------------------------------------------------------------------------------------
    _e(
        "prior_lines_missing",
        "A.ii",
        "missing",
        "no earlier treatment listed",
        "The request lists no earlier treatments for myeloma.",
        "La solicitud no incluye tratamientos anteriores para el mieloma.",
        (
            "The treatment history: each earlier line of treatment for myeloma, with its drugs and dates",
            "El historial de tratamiento: cada línea de tratamiento anterior para el mieloma, con sus medicamentos "
            "y fechas",
        ),
        ("chart_notes", "oncology_note"),
        (
            f"{ASK_EN} the treatment history, with each drug and its dates.",
            f"{ASK_ES} el historial de tratamiento, con cada medicamento y sus fechas.",
        ),
    ),
    _e(
        "too_few_prior_lines",
        "A.ii",
        "not_met",
        "fewer earlier lines of treatment than the policy requires",
        "The request shows {lines}. The policy requires at least {required}.{excluded}",
        "La solicitud muestra {lines}. La política requiere al menos {required}.{excluded}",
    ),
    _e(
        "prior_class_not_identified",
        "A.ii",
        "not_met",
        "a required drug class not identified; some drug names not recognised",
        "No earlier treatment was identified as {missing_classes}. We did not recognize these names: {unrecognised}.",
        "Ningún tratamiento anterior se identificó como {missing_classes}. No reconocimos estos nombres: "
        "{unrecognised}.",
    ),
    _e(
        "prior_class_missing",
        "A.ii",
        "not_met",
        "a required drug class absent from every earlier line",
        "None of the earlier treatments is {missing_classes}. The policy requires all three kinds of drugs among "
        "the earlier treatments.",
        "Ninguno de los tratamientos anteriores es {missing_classes}. La política requiere los tres tipos de "
        "medicamento entre los tratamientos anteriores.",
    ),
    _e(
        "prior_lines_met",
        "A.ii",
        "met",
        "enough earlier lines, with all three drug classes",
        "The request shows {lines}. They include {agents}.",
        "La solicitud muestra {lines}. Entre ellas están {agents}.",
    ),
    # --- A.iii --------------------------------------------------------------------------------------
    _e(
        "ecog_missing",
        "A.iii",
        "missing",
        "no ECOG performance status",
        f"The request has no {ECOG_EN}. {ECOG_NOTE_EN}",
        f"La solicitud no incluye el {ECOG_ES}. {ECOG_NOTE_ES}",
        _ECOG_SEND,
        _ECOG_TYPES,
        (
            f"{ASK_EN} the member's current {ECOG_EN}, dated on or after {{dated_on_or_after}}.",
            f"{ASK_ES} el {ECOG_ES} actual del afiliado, con fecha del {{dated_on_or_after}} en adelante.",
        ),
    ),
    _e(
        "ecog_future_dated",
        "A.iii",
        "missing",
        "ECOG assessed after the request was received",
        f"The {ECOG_EN} is dated {{assessed_on}}. That is after we received the request on {{received_on}}. "
        f"{ECOG_NOTE_EN}",
        f"El {ECOG_ES} tiene fecha del {{assessed_on}}. Esa fecha es posterior al día en que recibimos la "
        f"solicitud, el {{received_on}}. {ECOG_NOTE_ES}",
        _ECOG_SEND,
        _ECOG_TYPES,
        (
            f"{ASK_EN} one dated from {{dated_on_or_after}} to {{received_on}}.",
            f"{ASK_ES} uno con fecha del {{dated_on_or_after}} al {{received_on}}.",
        ),
        cite=(CITES["A.iii"][0] + _CURRENCY[0], CITES["A.iii"][1] + _CURRENCY[1]),
    ),
    _e(
        "ecog_not_current",
        "A.iii",
        "missing",
        "ECOG assessed before the currency window",
        f"The {ECOG_EN} is from {{assessed_on}}, {{age_days}} before we received the request on {{received_on}}. "
        f"The plan accepts one up to {{window_days}} old. {ECOG_NOTE_EN}",
        f"El {ECOG_ES} es del {{assessed_on}}, {{age_days}} antes de que recibiéramos la solicitud el "
        f"{{received_on}}. El plan acepta uno de hasta {{window_days}} de antigüedad. {ECOG_NOTE_ES}",
        _ECOG_SEND,
        _ECOG_TYPES,
        (
            f"{ASK_EN} a current one, dated on or after {{dated_on_or_after}}.",
            f"{ASK_ES} uno actual, con fecha del {{dated_on_or_after}} en adelante.",
        ),
        cite=(CITES["A.iii"][0] + _CURRENCY[0], CITES["A.iii"][1] + _CURRENCY[1]),
    ),
    _e(
        "ecog_above_threshold",
        "A.iii",
        "not_met",
        "current ECOG above the policy's range",
        f"The {ECOG_EN} is {{score}}, from {{assessed_on}}. The policy requires a score from {{min_ecog}} to "
        f"{{max_ecog}}. {ECOG_NOTE_EN}",
        f"El {ECOG_ES} es {{score}}, del {{assessed_on}}. La política requiere una puntuación de {{min_ecog}} a "
        f"{{max_ecog}}. {ECOG_NOTE_ES}",
    ),
    _e(
        "ecog_met",
        "A.iii",
        "met",
        "current ECOG within the policy's range",
        f"The {ECOG_EN} is {{score}}, from {{assessed_on}}, {{age_before_request}}. {ECOG_NOTE_EN}",
        f"El {ECOG_ES} es {{score}}, del {{assessed_on}}, {{age_before_request}}. {ECOG_NOTE_ES}",
        cite=(CITES["A.iii"][0] + _CURRENCY[0], CITES["A.iii"][1] + _CURRENCY[1]),
    ),
    # --- documents (A.docs, B.docs.A, B.docs.B) -----------------------------------------------------
    *_document_entries(),
    _e(
        "supporting_documents_other_only",
        "A.docs",
        "missing",
        "only documents of an unspecified kind",
        "The documents sent do not say what they are.",
        "Los documentos enviados no indican qué son.",
        (
            f"{_DOCS['supporting_documents']['send_en']}, dated on or after {{dated_on_or_after}}",
            f"{_DOCS['supporting_documents']['send_es']}, con fecha del {{dated_on_or_after}} en adelante",
        ),
        ("chart_notes", "lab_results", "pathology_report", "imaging", "oncology_note"),
        (
            f"{ASK_EN} {_SUPPORT_EN}, dated on or after {{dated_on_or_after}}.",
            f"{ASK_ES} {_SUPPORT_ES}, con fecha del {{dated_on_or_after}} en adelante.",
        ),
    ),
    # --- B.i ----------------------------------------------------------------------------------------
    _e(
        "continuation_details_missing",
        "B.i",
        "missing",
        "renewal without its treatment details",
        "The renewal request does not say when treatment started or how the disease responded.",
        "La solicitud de renovación no dice cuándo comenzó el tratamiento ni cómo respondió la enfermedad.",
        (
            "An oncology note with the date treatment started and how the disease responded",
            "Una nota de oncología con la fecha de inicio del tratamiento y cómo respondió la enfermedad",
        ),
        ("oncology_note",),
        (f"{ASK_EN} the oncology note.", f"{ASK_ES} la nota de oncología."),
    ),
    _e(
        "therapy_not_started",
        "B.i",
        "not_met",
        "renewal whose treatment starts after the request was received",
        "The request gives {therapy_start} as the date Elrexfio treatment started. That is after we received the "
        "request on {received_on}{after_period_text}. So treatment has not started, and this cannot be a renewal.",
        "La solicitud indica que el tratamiento con Elrexfio comenzó el {therapy_start}. Esa fecha es posterior "
        "al día en que recibimos la solicitud, el {received_on}{after_period_text}. Así que el tratamiento no ha "
        "comenzado y esto no puede ser una renovación.",
    ),
    _e(
        "response_before_therapy_start",
        "B.i",
        "not_met",
        "response dated before treatment began",
        "The response to treatment is dated {response_since}. That is before Elrexfio treatment started on "
        "{therapy_start}, so it cannot be a response to Elrexfio.",
        "La respuesta al tratamiento tiene fecha del {response_since}. Esa fecha es anterior al inicio del "
        "tratamiento con Elrexfio, el {therapy_start}, así que no puede ser una respuesta a Elrexfio.",
    ),
    _e(
        "response_date_after_receipt",
        "B.i",
        "not_met",
        "response dated after the request was received",
        "The response to treatment is dated {response_since}. That is after we received the request on {received_on}.",
        "La respuesta al tratamiento tiene fecha del {response_since}. Esa fecha es posterior al día en que "
        "recibimos la solicitud, el {received_on}.",
    ),
    _e(
        "progression_or_toxicity",
        "B.i",
        "not_met",
        "progression, unacceptable toxicity or progressive disease on treatment",
        "The request reports {problems} while on Elrexfio. The policy renews treatment only when there is none "
        "of these.",
        "La solicitud informa {problems} durante el tratamiento con Elrexfio. La política renueva el tratamiento "
        "solo cuando no hay ninguno de estos.",
    ),
    _e(
        "no_progression_or_toxicity",
        "B.i",
        "met",
        "no progression and no unacceptable toxicity",
        "Elrexfio treatment started on {therapy_start}. The request says the disease has not grown and there are "
        "no side effects too severe to go on. The best response is {best_response}.",
        "El tratamiento con Elrexfio comenzó el {therapy_start}. La solicitud dice que la enfermedad no ha "
        "avanzado y que no hay efectos secundarios tan graves que impidan seguir. La mejor respuesta es "
        "{best_response}.",
    ),
    # --- QL -----------------------------------------------------------------------------------------
    _e(
        "start_date_retroactive",
        "QL",
        "not_met",
        "requested start before the date the request was received",
        "The requested start date, {requested_start}, is {days_before} before we received the request on "
        "{received_on}. {allowed_text}",
        "La fecha de inicio solicitada, {requested_start}, es {days_before} antes de que recibiéramos la solicitud "
        "el {received_on}. {allowed_text}",
        cite=_START_WINDOW,
    ),
    _e(
        "start_date_too_far_ahead",
        "QL",
        "not_met",
        "requested start beyond the forward window",
        "The requested start date, {requested_start}, is {days_ahead} after we received the request on "
        "{received_on}. The plan's rule allows up to {window_days}. By then the records sent may be out of date.",
        "La fecha de inicio solicitada, {requested_start}, es {days_ahead} después de que recibimos la solicitud "
        "el {received_on}. La regla del plan permite hasta {window_days}. Para entonces, los documentos enviados "
        "podrían no estar al día.",
        cite=_START_WINDOW,
    ),
    _e(
        "period_ended_before_decision",
        "QL",
        "not_met",
        "the period ends before the decision date",
        "The requested period, {valid_from} to {valid_through}, ends before the decision date, {decided_on}.",
        "El período solicitado, del {valid_from} al {valid_through}, termina antes de la fecha de la decisión, el "
        "{decided_on}.",
        cite=_PERIOD_DATES,
    ),
    _e(
        "no_labeled_dose_in_period",
        "QL",
        "not_met",
        "no labeled dose falls in the period",
        "No dose of the FDA label's schedule falls between {valid_from} and {valid_through} for treatment that "
        "starts on {therapy_start}.",
        "Ninguna dosis del esquema de la etiqueta de la FDA cae entre el {valid_from} y el {valid_through} para un "
        "tratamiento que comienza el {therapy_start}.",
        cite=_QL_POLICY,
    ),
    _e(
        "quantity_above_maximum",
        "QL",
        "not_met",
        "requested units above the labeled maximum",
        "The request asks for {requested_units_text} (1 unit = 1 mg). From {valid_from} to {valid_through}, "
        "the FDA label's dosing allows at most {max_units_short}, {doses_text}.",
        "La solicitud pide {requested_units_text} (1 unidad = 1 mg). Del {valid_from} al {valid_through}, la "
        "etiqueta de la FDA permite como máximo {max_units_short}, {doses_text}.",
        ask=("{last_dose_ask}", "{last_dose_ask}"),
    ),
    _e(
        "quantity_within_maximum",
        "QL",
        "met",
        "requested units within the labeled maximum",
        "The request asks for {requested_units_text} (1 unit = 1 mg) from {valid_from} to {valid_through}. "
        "That is within the FDA label's dosing of up to {doses_text} ({max_units_short}).",
        "La solicitud pide {requested_units_text} (1 unidad = 1 mg) del {valid_from} al {valid_through}. Eso "
        "está dentro de lo que permite la etiqueta de la FDA: hasta {doses_text} ({max_units_short}).",
    ),
    _e(
        "quantity_labeled_maximum",
        "QL",
        "met",
        "no quantity requested: the labeled maximum is authorized",
        "From {valid_from} to {valid_through}, the FDA label allows up to {doses_text}. {dose_list}. That is "
        "{max_units_text} (1 unit = 1 mg).{vials}",
        "Del {valid_from} al {valid_through}, la etiqueta de la FDA permite hasta {doses_text}. {dose_list}. "
        "Son {max_units_text} (1 unidad = 1 mg).{vials}",
    ),
    # --- issue #22: approvals only on what the request positively shows -------------------------------
    _e(
        "member_under_18",
        "A.i",
        "not_met",
        "the member was under 18 on the date the request was received",
        "The member was {age_years} years old when we received the request. Elrexfio is approved for adults "
        "({adult_age_years} and older). It is not known if it is safe or works in children.",
        "El afiliado tenía {age_years} años cuando recibimos la solicitud. Elrexfio está aprobado para adultos "
        "({adult_age_years} años o más). No se sabe si es seguro ni si funciona en niños.",
        cite=_ADULTS,
    ),
    _e(
        "date_of_birth_not_plausible",
        "A.i",
        "not_met",
        "a date of birth after receipt, or more than 120 years before it",
        "The date of birth on the request cannot be right. It is after the day we received the request, "
        "{received_on}, or more than {max_age_years} years before it. So we cannot confirm the member's age.",
        "La fecha de nacimiento en la solicitud no puede ser correcta. Es posterior al día en que recibimos la "
        "solicitud, el {received_on}, o de más de {max_age_years} años antes. Por eso no podemos confirmar la edad "
        "del afiliado.",
        cite=_ADULTS,
    ),
    _e(
        "requested_drug_in_history",
        "A.ii",
        "not_met",
        "first request whose treatment history already includes elranatamab",
        "The treatment history lists Elrexfio (elranatamab) in {requested_lines_text}. But this is filed as a "
        "first request. The member may already have had Elrexfio, so this may be a restart or a treatment already "
        "under way.",
        "El historial de tratamiento incluye Elrexfio (elranatamab) en {requested_lines_text}. Pero esta es una "
        "primera solicitud. Es posible que el afiliado ya haya recibido Elrexfio. Así que puede ser un reinicio o "
        "un tratamiento que ya comenzó.",
    ),
    _e(
        "prior_line_dates_contradict",
        "A.ii",
        "not_met",
        "dates in the treatment history contradict each other",
        "The dates in the treatment history do not fit together: {contradiction_text}. So we cannot count the "
        "earlier lines of treatment.",
        "Las fechas del historial de tratamiento no concuerdan: {contradiction_text}. Por eso no podemos contar "
        "las líneas de tratamiento anteriores.",
    ),
    _e(
        "prior_lines_not_read",
        "A.ii",
        "not_met",
        "enough lines only if entries that could not be read are treatments",
        "We could read {lines}. The policy requires at least {required}. We could not read these entries as a "
        "myeloma treatment: {uncertain_text}.",
        "Pudimos leer {lines}. La política requiere al menos {required}. No pudimos leer estas entradas como un "
        "tratamiento para el mieloma: {uncertain_text}.",
        then=("A clinical reviewer will decide if they count.", "Un revisor clínico decidirá si cuentan."),
    ),
    _e(
        "prior_lines_structure_unclear",
        "A.ii",
        "not_met",
        "enough lines only if entries that may be one line are counted apart",
        "The request shows {lines} when entries that may be one line are counted once. The policy requires at "
        "least {required}. {unclear_text}",
        "La solicitud muestra {lines} si las entradas que pueden ser una sola línea se cuentan una vez. La "
        "política requiere al menos {required}. {unclear_text}",
        then=(
            "A clinical reviewer will decide how many lines there were.",
            "Un revisor clínico decidirá cuántas líneas hubo.",
        ),
    ),
    *_before_start_entries(),
    *_id_conflict_entries(),
    _e(
        "diagnosis_code_contradicts_status",
        "A.i",
        "not_met",
        "first request: a code for myeloma in remission with a relapsed or refractory status",
        "The request says the myeloma {status}. But its diagnosis codes ({codes}) include C90.01, the code for "
        "myeloma in remission. The two do not agree.",
        "La solicitud dice que el mieloma {status}. Pero sus códigos de diagnóstico ({codes}) incluyen "
        "C90.01, el código de mieloma en remisión. Las dos cosas no concuerdan.",
    ),
    _e(
        "current_authorization_before_therapy",
        "B.i",
        "not_met",
        "renewal whose current approval ended before treatment started",
        "The approval being renewed ended on {current_valid_through}. That is before Elrexfio treatment started "
        "on {therapy_start}. These dates do not fit together.",
        "La aprobación que se renueva terminó el {current_valid_through}. Eso fue antes de que comenzara el "
        "tratamiento con Elrexfio, el {therapy_start}. Estas fechas no concuerdan.",
    ),
    _e(
        "therapy_start_before_trials",
        "B.i",
        "not_met",
        "renewal whose treatment start predates the drug's first clinical trial",
        "The request gives {therapy_start} as the date Elrexfio treatment started. Elrexfio was first given to "
        "people in a clinical trial in {first_trial_year}. So this date cannot be right.",
        "La solicitud indica que el tratamiento con Elrexfio comenzó el {therapy_start}. Elrexfio se dio a "
        "personas por primera vez en un estudio clínico en {first_trial_year}. Así que esa fecha no puede ser "
        "correcta.",
    ),
    _e(
        "performance_status_decline",
        "B.i",
        "not_met",
        "renewal with a current ECOG of 3 or more",
        f"The current {ECOG_EN} is {{ecog_score}}, from {{ecog_assessed_on}}. {ECOG_NOTE_EN} At this level the "
        "member can do little or no self-care. This may be a sign of side effects or of decline during treatment.",
        f"El {ECOG_ES} actual es {{ecog_score}}, del {{ecog_assessed_on}}. {ECOG_NOTE_ES} En este nivel, el "
        "afiliado puede cuidarse poco o nada por sí mismo. Esto puede ser señal de efectos secundarios o de "
        "deterioro durante el tratamiento.",
    ),
    _e(
        "delay_reason_reports_toxicity",
        "B.i",
        "not_met",
        "renewal whose reason for a pause in treatment reports a severe side effect",
        "The request says treatment was paused. The reason it gives for the pause names a severe side effect "
        "(grade {severe_grade_from} or higher, or a side effect called too severe to go on). The policy renews "
        "only when there are no side effects too severe to go on.",
        "La solicitud dice que el tratamiento se pausó. La razón que da para la pausa menciona un efecto "
        "secundario grave (de grado {severe_grade_from} o más, o uno descrito como demasiado grave para seguir). "
        "La política renueva solo si no hay efectos secundarios tan graves que impidan seguir.",
    ),
    _e(
        "last_dose_date_inconsistent",
        "B.i",
        "not_met",
        "last dose dated before treatment began or after receipt",
        "The date of the last Elrexfio dose, {last_dose_date}, does not fit the other dates. It must fall between "
        "the start of treatment on {therapy_start} and the day we received the request, {received_on}.",
        "La fecha de la última dosis de Elrexfio, {last_dose_date}, no concuerda con las otras fechas. Debe estar "
        "entre el inicio del tratamiento, el {therapy_start}, y el día en que recibimos la solicitud, el "
        "{received_on}.",
        cite=_RESTART,
    ),
    _e(
        "period_overlaps_current_authorization",
        "QL",
        "not_met",
        "renewal period would overlap the current approval",
        "The new period would start on {valid_from}. But the current approval runs through "
        "{current_valid_through}, so the two would overlap.",
        "El nuevo período comenzaría el {valid_from}. Pero la aprobación actual sigue vigente hasta el "
        "{current_valid_through}, así que los dos períodos se solaparían.",
        cite=_PERIOD_DATES,
    ),
    _e(
        "renewal_starts_too_far_ahead",
        "QL",
        "not_met",
        "renewal would start more days after receipt than the plan's rule allows",
        "The current approval runs through {current_valid_through}. So the renewal would start on {valid_from}, "
        "{days_ahead} after we received the request. The plan's rule is to accept a renewal at most "
        "{window_days} before it starts.",
        "La aprobación actual sigue vigente hasta el {current_valid_through}. Así que la renovación comenzaría el "
        "{valid_from}, {days_ahead} después de que recibimos la solicitud. La regla del plan es aceptar una "
        "renovación como máximo {window_days} antes de que comience.",
        cite=_START_WINDOW,
    ),
    _e(
        "renewal_start_before_receipt",
        "QL",
        "not_met",
        "renewal whose current approval ended before the request was received",
        "The current approval ended on {current_valid_through}. So the renewal would start on {renewal_start}, "
        "{days_before} before we received the request on {received_on}. The plan's rule is not to approve dates "
        "before it receives a request.",
        "La aprobación actual terminó el {current_valid_through}. Así que la renovación comenzaría el "
        "{renewal_start}, {days_before} antes de que recibiéramos la solicitud el {received_on}. La regla del plan "
        "es no aprobar fechas anteriores al recibo de una solicitud.",
        cite=_START_WINDOW,
    ),
    _e(
        "last_dose_date_missing",
        "QL",
        "missing",
        "renewal says treatment was paused but not when the last dose was given",
        "The request says treatment was paused, but it does not give the date of the last Elrexfio dose. After a "
        "pause, the FDA label may call for the first, lower doses again. So the number of doses depends on that "
        "date.",
        "La solicitud dice que el tratamiento se pausó, pero no da la fecha de la última dosis de Elrexfio. "
        "Después de una pausa, la etiqueta de la FDA puede pedir otra vez las primeras dosis, más bajas. Por eso el "
        "número de dosis depende de esa fecha.",
        (
            "The date of the last Elrexfio dose given, from the medication record",
            "La fecha de la última dosis de Elrexfio que se administró, según el registro de medicamentos",
        ),
        ("chart_notes", "oncology_note"),
        (f"{ASK_EN} the date of the last dose.", f"{ASK_ES} la fecha de la última dosis."),
        cite=_RESTART,
    ),
    _e(
        "last_dose_date_missing_after_lapse",
        "QL",
        "missing",
        "renewal after a lapse longer than the label's restart threshold, without the last dose date",
        "The current approval ended on {current_valid_through}, {gap_days} before the new period starts. The "
        "request does not give the date of the last Elrexfio dose. After more than {restart_threshold_days} "
        "without a dose, the FDA label calls for the first, lower doses again. So the number of doses depends on "
        "that date.",
        "La aprobación actual terminó el {current_valid_through}, {gap_days} antes de que empiece el nuevo "
        "período. La solicitud no da la fecha de la última dosis de Elrexfio. Después de más de "
        "{restart_threshold_days} sin una dosis, la etiqueta de la FDA pide otra vez las primeras dosis, más "
        "bajas. Por eso el número de dosis depende de esa fecha.",
        (
            "The date of the last Elrexfio dose given, from the medication record",
            "La fecha de la última dosis de Elrexfio que se administró, según el registro de medicamentos",
        ),
        ("chart_notes", "oncology_note"),
        (f"{ASK_EN} the date of the last dose.", f"{ASK_ES} la fecha de la última dosis."),
        cite=_RESTART,
    ),
)
"""Every finding, in criterion order."""

CATALOGUE: Final[dict[str, Entry]] = {e.code: e for e in ENTRIES}
CODES: Final[tuple[str, ...]] = tuple(CATALOGUE)

_LEGACY_NEXT: Final = (
    # the next steps of earlier catalogue versions (parameter sets up to 2025-12-11.3), for a pend
    # published before an upgrade and decided after it
    ("A clinical reviewer will decide if they count.", "Un revisor clínico decidirá si cuentan."),
    ("A clinical reviewer will decide how many lines there were.", "Un revisor clínico decidirá cuántas líneas hubo."),
    (REVIEW_EN, REVIEW_ES),
)
_NEXT_EN: Final = tuple(dict.fromkeys([*(e.next_en for e in ENTRIES if e.next_en), *(n[0] for n in _LEGACY_NEXT)]))
_NEXT_ES: Final = tuple(dict.fromkeys([*(e.next_es for e in ENTRIES if e.next_es), *(n[1] for n in _LEGACY_NEXT)]))
"""Every sentence that promises a decision to come, as a reason ends with it."""

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


_AGE_BEFORE_REQUEST: Final = frozenset([*(f"{p}_current" for p in _DOCS), "ecog_met"])
"""Findings whose sentence says how long before the request a current record is dated: "10 days before the
request", or, dated on the receipt day, "the day of the request" (not "0 days before the request")."""


def _entry_text(kind: str, iso: str, lang: Lang) -> str:
    """A document entry, ``oncology_note`` and ``2026-07-20``, as ``an oncology note dated July 20, 2026``
    / ``una nota de oncología con fecha del 20 de julio de 2026``."""
    words = _word("document", kind, lang) if kind in WORDS["document"] else kind
    if not _ISO_DATE.match(iso):
        return words
    when = format_date(iso, lang)
    return f"{words} dated {when}" if lang == "en" else f"{words} con fecha del {when}"


def _derived(code: str, facts: Facts, lang: Lang) -> dict[str, str]:
    out: dict[str, str] = {}
    if code == "out_of_scope":
        parts = []
        if facts.get("plan_in_scope") is False:
            parts.append(
                "The member's plan on the request is not one of these."
                if lang == "en"
                else "El plan del afiliado en la solicitud no es uno de estos."
            )
        if facts.get("hcpcs_in_scope") is False:
            parts.append(
                "The billing code on the request is not the one for Elrexfio."
                if lang == "en"
                else "El código de facturación de la solicitud no es el de Elrexfio."
            )
        out["scope_problem"] = " ".join(parts)
    if code == "therapy_not_started":
        end = facts.get("valid_through")
        if facts.get("after_period") and isinstance(end, str):
            out["after_period_text"] = (
                f", and after the requested period ends on {format_date(end, lang)}"
                if lang == "en"
                else f", y después de que termina el período solicitado, el {format_date(end, lang)}"
            )
        else:
            out["after_period_text"] = ""
    if code == "too_few_prior_lines":
        notes = []
        if facts.get("requested_drug_lines"):
            notes.append(
                " A line with Elrexfio itself does not count as an earlier treatment."
                if lang == "en"
                else " Una línea con Elrexfio no cuenta como tratamiento anterior."
            )
        if facts.get("future_lines"):
            notes.append(
                " A line that had not started when we received the request does not count."
                if lang == "en"
                else " Una línea que no había comenzado cuando recibimos la solicitud no cuenta."
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
                parts.append((en if lang == "en" else es).format(lines=_lines_text(lines, lang)))
        out["contradiction_text"] = join(parts, lang)
    if code in _AGE_BEFORE_REQUEST:
        age = facts.get("age_days")
        if age == 0:
            out["age_before_request"] = "the day of the request" if lang == "en" else "el mismo día de la solicitud"
        else:
            days = _value("age_days", age, facts, lang)
            out["age_before_request"] = (
                f"{days} before the request" if lang == "en" else f"{days} antes de la solicitud"
            )
    if code.endswith("_id_conflict"):
        kinds, dates = facts.get("conflicting_types"), facts.get("conflicting_dates")
        pairs = list(zip(kinds, dates, strict=False)) if isinstance(kinds, list) and isinstance(dates, list) else []
        more = facts.get("conflicting_not_named")
        shown = len(pairs) - more if isinstance(more, int) and not isinstance(more, bool) and more > 0 else len(pairs)
        named = [_entry_text(str(k), str(d), lang) for k, d in pairs[:shown]]  # the evidence lists every entry
        if shown < len(pairs):
            if lang == "en":
                named.append(f"{more} more entry" if more == 1 else f"{more} more entries")
            else:
                named.append(f"{more} entrada más" if more == 1 else f"{more} entradas más")
        out["conflict_text"] = join(named, lang)
    if code == "prior_lines_not_read":
        out["uncertain_text"] = _uncertain_text(facts, lang)
    if code == "prior_lines_structure_unclear":
        lines = facts.get("unclear_lines")
        if isinstance(lines, list) and lines:
            text = _lines_text(lines, lang)
            out["unclear_text"] = (
                f"{text[0].upper()}{text[1:]} overlap in time or cannot be told apart by their dates."
                if lang == "en"
                else f"{text[0].upper()}{text[1:]} se solapan en el tiempo o sus fechas no permiten distinguirlas."
            )
        else:
            out["unclear_text"] = ""
    if code == "quantity_above_maximum":
        out["last_dose_ask"] = (
            (
                f"{ASK_EN} the date of the last dose if treatment was paused."
                if lang == "en"
                else f"{ASK_ES} la fecha de la última dosis si el tratamiento se pausó."
            )
            if facts.get("ask_last_dose")
            else ""
        )
    if code == "start_date_retroactive":
        allowed = facts.get("allowed_days_before")
        if isinstance(allowed, int) and not isinstance(allowed, bool) and allowed > 0:
            days = _days(allowed, lang)
            out["allowed_text"] = (
                f"The plan's rule does not allow an automatic approval of a period that starts more than {days} "
                "before that day."
                if lang == "en"
                else f"La regla del plan no permite aprobar automáticamente un período que comienza más de {days} "
                "antes de ese día."
            )
        else:
            out["allowed_text"] = (
                "The plan's rule does not allow an automatic approval of a period that starts before that day."
                if lang == "en"
                else "La regla del plan no permite aprobar automáticamente un período que comienza antes de ese día."
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
    if code.startswith("quantity_"):
        out.update(_quantities(facts, lang))
    if code == "quantity_labeled_maximum":
        out["dose_list"] = _dose_list(facts, lang)
        out["vials"] = _vials(facts, lang)
    return out  # fmt: skip


def format_number(n: int) -> str:
    """An integer as letters in Puerto Rico write it, in English and in Spanish alike: comma thousands
    (the US convention, period decimals): ``1,988``."""
    return f"{n:,}"


def _counted(n: int, one: str, many: str) -> str:
    return f"{format_number(n)} {one if n == 1 else many}"


def _quantities(facts: Facts, lang: Lang) -> dict[str, str]:
    """The quantity findings' numbers with their nouns: thousands separated, singular for 1 ("1 billing
    unit", "1 unidad de facturación", "1 dose")."""
    en = lang == "en"
    out: dict[str, str] = {}
    for key, one, many in (
        ("requested_units", "billing unit", "billing units"),
        ("max_units", "billing unit", "billing units"),
    ):
        value = facts.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            es_one, es_many = "unidad de facturación", "unidades de facturación"
            out[f"{key}_text"] = _counted(value, one, many) if en else _counted(value, es_one, es_many)
    units = facts.get("max_units")
    if isinstance(units, int) and not isinstance(units, bool):
        out["max_units_short"] = _counted(units, "unit", "units") if en else _counted(units, "unidad", "unidades")
    doses = facts.get("doses")
    if isinstance(doses, int) and not isinstance(doses, bool):
        out["doses_text"] = _counted(doses, "dose", "doses") if en else _counted(doses, "dosis", "dosis")
    return out


def _dose_list(facts: Facts, lang: Lang) -> str:
    """Every dose the labeled maximum counts, so the units add up from the sentence: the step-up doses
    (a restart's, after a dosage delay, with the date of the last dose), then the 76 mg doses."""
    en = lang == "en"
    step = facts.get("step_up_doses_mg")
    n = facts.get("treatment_doses")
    dosing = facts.get("dosing")
    restart = facts.get("restart_doses_mg")
    last = facts.get("last_dose_date")
    how = _value("dosing", dosing, facts, lang) if isinstance(dosing, list) and dosing else ""
    parts = []
    if isinstance(step, list) and step:
        mg = join([f"{x} mg" for x in step], lang)
        if restart:
            parts.append(mg)
        else:
            parts.append(f"starting doses of {mg}" if en else f"dosis iniciales de {mg}")
    if isinstance(n, int) and n:
        given = (f", given {how}" if en else f", {how}") if how else ""
        doses = _counted(n, "dose", "doses") if en else _counted(n, "dosis", "dosis")
        parts.append(f"{doses} of 76 mg{given}" if en else f"{doses} de 76 mg{given}")
    text = (", then " if en else ", y luego ").join(parts)
    if not text:
        return "No dose" if en else "Ninguna dosis"
    lead = "They are " if en else "Incluyen "
    if restart and isinstance(last, str):
        when = format_date(last, lang)
        lead = (
            f"The last dose was on {when}, so the doses restart with "
            if en
            else f"La última dosis fue el {when}, así que se reinicia con "
        )
    elif restart:
        lead = "The doses restart with " if en else "Se reinicia con "
    return lead + text


def _vials(facts: Facts, lang: Lang) -> str:
    """The plan's whole-vial billing of the 12 mg and 32 mg doses, when it applies."""
    whole = facts.get("whole_vials_mg")
    if not isinstance(whole, list) or not whole:
        return ""
    mg = join([f"{x} mg" for x in whole], lang)
    if len(whole) == 1:
        return (
            f" The plan counts the {mg} dose as a full 44 mg vial."
            if lang == "en"
            else f" El plan cuenta la dosis de {mg} como un vial completo de 44 mg."
        )
    return (
        f" The plan counts the {mg} doses as full 44 mg vials."
        if lang == "en"
        else f" El plan cuenta las dosis de {mg} como viales completos de 44 mg."
    )


_CONTRADICTIONS: Final = (
    ("ends_before_start_lines", "{lines} ends before it starts", "{lines} termina antes de comenzar"),
    (
        "order_lines",
        "{lines} are numbered in one order and dated in the other",
        "{lines} están numeradas en un orden y fechadas en el otro",
    ),
    ("before_birth_lines", "{lines} is dated before the member was born", "{lines} tiene fecha anterior al nacimiento"),
    (
        "ends_after_start_lines",
        "{lines} ends after the new treatment would start",
        "{lines} termina después de la fecha en que empezaría el nuevo tratamiento",
    ),
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
            " Treatment given as part of the same plan (such as a transplant, consolidation, maintenance or "
            "bridging) counts as one line."
            if lang == "en"
            else " El tratamiento dado como parte del mismo plan (como un trasplante, consolidación, mantenimiento o "
            "puente) cuenta como una sola línea."
        )
    uncertain = _uncertain_text(facts, lang)
    if uncertain:
        notes.append(
            f" We could not read these entries as a myeloma treatment: {uncertain}."
            if lang == "en"
            else f" No pudimos leer estas entradas como un tratamiento para el mieloma: {uncertain}."
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
        pair = (_render(entry, facts, read, "en"), _render(entry, facts, read, "es"))
        if len(table) >= _RENDER_LIMIT:
            table.clear()
        table[key] = pair
    return pair


def _render(entry: Entry, facts: Facts, read: tuple[str, ...], lang: Lang) -> str:
    """The reason: the finding, then the ask (what to send), then the next step (a decision to come),
    which an automated denial drops (no reviewer sees the request). A reason longer than the contract's
    1000 characters is cut in the finding, so the ask and the next step always end it whole."""
    code = entry.code
    values = {k: _value(k, facts[k], facts, lang) for k in read if k in facts}
    values.update(_derived(code, facts, lang))
    strict = _Strict(values, code)
    finding = (entry.en if lang == "en" else entry.es).format_map(strict).strip()
    finding = finding[0].upper() + finding[1:] if finding else finding
    ask_template = entry.ask_en if lang == "en" else entry.ask_es
    ask = ask_template.format_map(strict).strip() if ask_template else ""
    then = "" if facts.get("automated") else ((entry.next_en if lang == "en" else entry.next_es) or "")
    tail = " ".join(part for part in (ask, then) if part)
    room = _REASON_LIMIT - (len(tail) + 1 if tail else 0)
    if len(finding) > room:
        finding = finding[: room - 3] + "..."
    return f"{finding} {tail}" if tail else finding


_REASON_LIMIT: Final = 1000
"""The contract's bound on ``reason`` and ``reason_es``."""


def citation_both(code: str) -> tuple[str, str]:
    """Where the rule of finding ``code`` comes from, in English and Spanish: the policy and its
    criterion, the FDA label, or the MMM plan's own rule (a setting of :class:`policy.PolicySettings`)."""
    entry = CATALOGUE[code]
    return entry.cite_en, entry.cite_es


def _days(n: int, lang: Lang) -> str:
    if lang == "en":
        return f"{n} day" if n == 1 else f"{n} days"
    return f"{n} día" if n == 1 else f"{n} días"


# --- information requests ----------------------------------------------------------------------

NO_ANSWER_EN: Final = (
    "If nothing arrives by then, the plan will decide on the information it has, because Medicare allows no "
    "extra time for Part B drug requests."
)
NO_ANSWER_ES: Final = (
    "Si no llega nada para entonces, el plan decidirá con la información que tenga, porque Medicare no permite "
    "más tiempo para las solicitudes de medicamentos de la Parte B."
)
"""What happens if nothing arrives (issue #23): the plan decides on what it has; a Part B drug request's
clock cannot be extended (CMS-4180-F; 42 CFR 422.568(b), 422.572(b)). One sentence, in each information
request's text (``policy/INTERPRETATION.md`` R43 records why there)."""
_NEEDED_BY_EN: Final = "We need this by {needed_by}."
_NEEDED_BY_ES: Final = "Necesitamos esta información a más tardar el {needed_by}."
_ZONE_NAMES: Final[dict[str, tuple[str, str]]] = {"America/Puerto_Rico": ("Puerto Rico time", "hora de Puerto Rico")}


def local_moment_both(instant: datetime, zone: tzinfo, zone_name: str) -> tuple[str, str]:
    """``instant`` in the plan's local time, as a letter writes it: ``November 29, 2026 at 11:04 a.m.,
    Puerto Rico time`` / ``29 de noviembre de 2026 a las 11:04 a. m., hora de Puerto Rico``."""
    try:
        local = instant.astimezone(zone)
    except (OverflowError, ValueError):  # at the ends of the calendar: the instant's own offset
        local = instant
    day = local.date().isoformat()
    hour = local.hour % 12 or 12
    clock = f"{hour}:{local.minute:02d}"
    names = _ZONE_NAMES.get(zone_name)
    if names is None:
        abbreviation = local.tzname() or zone_name
        names = (f"{abbreviation} time", f"hora {abbreviation}")
    en = f"{format_date(day, 'en')} at {clock} {'a.m.' if local.hour < 12 else 'p.m.'}, {names[0]}"
    es = f"{format_date(day, 'es')} a las {clock} {'a. m.' if local.hour < 12 else 'p. m.'}, {names[1]}"
    return en, es


def request_text_both(send_en: str, send_es: str, needed_by_en: str, needed_by_es: str) -> tuple[str, str]:
    """An information request's text: what to send, when it is needed (local time), and what happens if
    nothing arrives."""
    return (
        f"{send_en}. {_NEEDED_BY_EN.format(needed_by=needed_by_en)} {NO_ANSWER_EN}",
        f"{send_es}. {_NEEDED_BY_ES.format(needed_by=needed_by_es)} {NO_ANSWER_ES}",
    )


# --- a reviewer's final determination ---------------------------------------------------

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


def finding_of(reason: str, lang: Lang) -> str:
    """The finding alone: ``reason`` without its next step (a decision to come) and without its ask
    (what to send), which are separable parts of every entry (:class:`Entry`). No regex: the next
    steps are the catalogue's own sentences (and those of earlier catalogue versions, for a pend
    published before an upgrade), and every ask starts with :data:`ASK_EN` / :data:`ASK_ES`."""
    text = reason.rstrip()
    nexts = _NEXT_EN if lang == "en" else _NEXT_ES
    stripped = True
    while stripped:
        stripped = False
        for sentence in nexts:
            if text.endswith(sentence):
                text = text.removesuffix(sentence).rstrip()
                stripped = True
    ask = f" {ASK_EN if lang == 'en' else ASK_ES} "
    at = text.find(ask)
    if at >= 0:
        text = text[:at]
    return text.rstrip()


def final_both(reason: str, reason_es: str | None, outcome: str, credential: str) -> tuple[str, str | None]:
    """A criterion's reasons on a reviewer's final determination: the finding as the engine read it,
    without the sentence that promises a decision to come or asks for more, and then who decided what."""
    en, es = decided_by_both(outcome, credential)
    out_en = f"{finding_of(reason, 'en')} {en}".lstrip()
    out_es = None if reason_es is None else f"{finding_of(reason_es, 'es')} {es}".lstrip()
    return out_en[:1000], None if out_es is None else out_es[:1000]


_RENDER_LIMIT: Final = 2048
_RENDERED: defaultdict[str, dict[tuple[object, ...], tuple[str, str]]] = defaultdict(dict)
"""One bounded table per criterion (cleared when full): the quantity sentences, which name the
period's dates and seldom repeat, never evict the documents' and the ECOG's, which do."""
_READS: dict[str, tuple[str, ...]] = {}
_DERIVED_INPUTS: Final[dict[str, tuple[str, ...]]] = {
    **{f"{p}_id_conflict": ("conflicting_types", "conflicting_dates", "conflicting_not_named") for p in _DOCS},
    **{code: ("age_days",) for code in _AGE_BEFORE_REQUEST},
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
    "prior_line_dates_contradict": (
        "ends_before_start_lines",
        "order_lines",
        "before_birth_lines",
        "ends_after_start_lines",
    ),
    "prior_lines_not_read": ("uncertain_entries", "uncertain_lines"),
    "prior_lines_structure_unclear": ("unclear_lines",),
    "quantity_above_maximum": ("ask_last_dose", "requested_units", "max_units", "doses"),
    "quantity_within_maximum": ("requested_units", "max_units", "doses"),
    "start_date_retroactive": ("allowed_days_before",),
    "prior_lines_met": ("agents", "agent_classes"),
    "quantity_labeled_maximum": (
        "max_units",
        "doses",
        "step_up_doses_mg",
        "treatment_doses",
        "whole_vials_mg",
        "dosing",
        "restart_doses_mg",
        "last_dose_date",
    ),
}
_ALWAYS_READ: Final = ("automated", "response_since", "unrecognised_not_shown")


def _reads(entry: Entry) -> tuple[str, ...]:
    """The facts a finding's sentences read: placeholders, derived phrases' inputs, the flags."""
    cached = _READS.get(entry.code)
    if cached is None:
        texts = [t for t in (entry.en, entry.es, entry.ask_en, entry.ask_es) if t]
        names = [name for t in texts for _, name, _, _ in _FORMATTER.parse(t) if name]
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
    ("ECOG performance status", "estado funcional ECOG", "the Eastern Cooperative Oncology Group scale of how well "
     "a person can do daily tasks: 0 fully active ... 5 dead; the policy requires 0 to 2"),
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
    ("starting (step-up) doses", "dosis iniciales (de escalonamiento)", "12 mg on day 1, 32 mg on day 4, 76 mg on "
     "day 8"),
    ("billing code", "código de facturación", "HCPCS J1323, 1 unit = 1 mg"),
    ("billing unit", "unidad de facturación", "1 mg of elranatamab-bcmm"),
    ("vial", "vial", "single-dose vials of 44 mg and 76 mg"),
    ("dosing schedule", "esquema de dosificación", "the FDA label's schedule, as the policy's Limits B copies it"),
    ("retroactive", "retroactivo", "a period that began before the plan received the request"),
)  # fmt: skip
"""English term, Spanish term, note."""


def catalogue_markdown() -> str:
    """``policy/REASONS.md``: every code with its criterion, outcome, meaning, citation and texts, and the glossary."""
    lines = [
        "# Finding codes and letter texts, policy MP-RX-FP-120-24",
        "",
        "Generated by `python -m tests.policy.reasons_doc` from `policy/reasons.py`; do not edit.",
        "",
        "Each criterion of a determination carries `code` (one of these), `facts` (the typed values the",
        "texts are built from), `reason` (English) and `reason_es` (Spanish), and `citation` /",
        "`citation_es`: where the rule comes from, the policy's criterion, the FDA label, or the MMM plan's",
        "own rule (a setting of the engine, never presented as the policy's text). Letter systems can key",
        "their templates on `code` and fill them from `facts`. Placeholders below are fact names; dates are",
        "ISO dates in `facts` and written out in the texts.",
        "",
        "A reason is built from three parts, in this order: the **finding**; the **ask** (what to send, for",
        f'a missing finding; it always starts with "{ASK_EN}" / "{ASK_ES}"); and the **next step** (for a',
        f'finding not met on a pend: "{REVIEW_EN}" / "{REVIEW_ES}", or the entry\'s own). An automated',
        "denial drops the next step; a reviewer's final determination keeps only the finding and adds who",
        "decided (`reasons.final_both`).",
        "",
        "Each information request (`information_requests[]`) carries what to send (column *What to send*),",
        "then when it is needed in the plan's local time, then one sentence on what happens if nothing",
        "arrives:",
        "",
        f"> {_NEEDED_BY_EN} {NO_ANSWER_EN}",
        ">",
        f"> {_NEEDED_BY_ES} {NO_ANSWER_ES}",
        "",
        "| Code | Criterion | Outcome | Meaning | Citation | Finding (English) | Finding (Spanish) "
        "| Ask, next step | What to send (missing) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for e in ENTRIES:
        send = f"{e.send_en} / {e.send_es}" if e.send_en else ""
        tail_en = " ".join(t for t in (e.ask_en, e.next_en) if t)
        tail_es = " ".join(t for t in (e.ask_es, e.next_es) if t)
        tail = f"{tail_en} / {tail_es}" if tail_en else ""
        lines.append(
            f"| `{e.code}` | {e.criterion} | {e.outcome} | {e.meaning} | {_md(e.cite_en)} / {_md(e.cite_es)} | "
            f"{_md(e.en)} | {_md(e.es)} | {_md(tail)} | {_md(send)} |"
        )
    lines += ["", "## Glossary", "", "| English | Spanish | Note |", "|---|---|---|"]
    lines += [f"| {en} | {es} | {_md(note)} |" for en, es, note in GLOSSARY]
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|")
