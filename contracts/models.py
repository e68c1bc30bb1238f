"""Pydantic v2 models of the PA events, version 1 (``../shared/contracts/pa-events-v1.md``).

These models are the wire format: the JSON Schema files and the AsyncAPI document in
``contracts/schemas`` are generated from them (``pa-worker contracts export``).

Inbound ``pa.request`` is validated strictly (no type coercion: ``"5"`` is not an ECOG
score) and tolerantly (unknown fields are ignored, so intake may add optional fields
without breaking us). Outbound events forbid unknown fields, so our own mistakes fail fast.
Every string and list has an upper bound so a hostile message cannot exhaust memory.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)
from pydantic.json_schema import WithJsonSchema

SCHEMA_VERSION = "1"

# --- scalar types ------------------------------------------------------------------------

RFC3339_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
"""RFC 3339 ``date-time`` (section 5.6: ``T`` or ``t`` between date and time, ``Z``/``z`` or ``±hh:mm``),
at most 9 fraction digits. Also the ``pattern`` of every timestamp in the published schema."""

_RFC3339 = re.compile(RFC3339_PATTERN)


def _rfc3339(value: Any) -> Any:
    if isinstance(value, str):
        if not _RFC3339.match(value):
            raise ValueError("must be an RFC 3339 timestamp with a UTC offset, e.g. 2026-01-05T14:30:00Z")
        # RFC 3339 allows lower-case t and z; Python 3.11's fromisoformat only upper-case.
        return datetime.fromisoformat(value.upper())
    return value


Timestamp = Annotated[
    AwareDatetime,
    BeforeValidator(_rfc3339),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": RFC3339_PATTERN}),
]
"""RFC 3339 date-time with an explicit offset (``Z`` or ``±hh:mm``)."""

Id = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]
"""Identifier: 1-64 chars of ``A-Z a-z 0-9 . _ : -``."""

ShortText = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Code = Annotated[str, StringConstraints(min_length=1, max_length=16, pattern=r"^[A-Za-z0-9.\-]+$")]
IcdCode = Annotated[
    str, StringConstraints(min_length=3, max_length=8, pattern=r"^[A-Za-z][0-9][0-9A-Za-z](\.?[0-9A-Za-z]{1,4})?$")
]
Agent = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Sentence = Annotated[str, StringConstraints(min_length=1, max_length=1000)]


_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)


@lru_cache(maxsize=8192)
def npi_is_valid(npi: str) -> bool:
    """NPI check digit: Luhn over the 9-digit base prefixed with 80840 (CMS NPI standard).

    Cached: a plan's requests come from a bounded set of prescribers."""
    if len(npi) != 10 or not npi.isascii() or not npi.isdigit():
        return False
    d = [ord(c) - 48 for c in npi]
    # The prefix 80840 contributes 24; npi[0], [2], [4], [6], [8] are the doubled positions.
    total = 24 + d[1] + d[3] + d[5] + d[7] + sum(_DOUBLED[d[i]] for i in (0, 2, 4, 6, 8))
    return (10 - total % 10) % 10 == d[9]


def _check_npi(value: str) -> str:
    if not npi_is_valid(value):
        raise ValueError("must be a 10-digit NPI with a valid check digit")
    return value


Npi = Annotated[
    str, StringConstraints(min_length=10, max_length=10, pattern=r"^[0-9]{10}$"), AfterValidator(_check_npi)
]

# --- rules JSON Schema cannot express ----------------------------------------------------
# Published in each generated schema under the keyword ``x-semantic-rules`` (and in the AsyncAPI
# document): a message that passes the schema but breaks one of these is still dead-lettered
# (with the rule's ``dlq_error_class``). Every rule JSON Schema can express is in the schema itself.

SEMANTIC_RULES_KEYWORD = "x-semantic-rules"

NPI_CHECK_DIGIT: dict[str, Any] = {
    "id": "npi-check-digit",
    "fields": ["prescriber.npi"],
    "dlq_error_class": "schema_invalid",
    "rule": "The NPI's tenth digit is its check digit: the Luhn mod-10 check over the nine-digit base "
    "prefixed with 80840 (CMS NPI standard). 1234567893 is valid, 1234567890 is not.",
    "why_not_json_schema": "JSON Schema has no arithmetic over the characters of a string. A regular "
    "expression accepting exactly the valid NPIs exists in principle (a finite set is regular), but written "
    "out directly it branches ten ways per digit (on the order of 10^10 characters), beyond any validator "
    "or reviewer.",
}

INTEGER_LITERAL_WHY = (
    "JSON Schema sees parsed numbers, not their spelling: 1.0 and 1 are the same instance, and type "
    "integer accepts any number whose fractional part is zero."
)

MESSAGE_SIZE: dict[str, Any] = {
    "id": "message-size",
    "fields": [],
    "dlq_error_class": "too_large",
    "rule": "The message value is UTF-8 JSON of at most PA_MAX_MESSAGE_BYTES bytes (65,536 by default).",
    "why_not_json_schema": "JSON Schema constrains the parsed value, not the bytes it was read from, and the "
    "limit is a deployment setting, not part of the contract's data.",
}


PERIOD_ORDER: dict[str, Any] = {
    "id": "period-order",
    "fields": ["approved.valid_from", "approved.valid_through"],
    "rule": "approved.valid_through is on or after approved.valid_from.",
    "why_not_json_schema": "JSON Schema compares no two values of an instance with each other; format date only "
    "checks that each is a calendar date.",
    "dlq_error_class": "schema_invalid",
}


def integer_literal(fields: list[str]) -> dict[str, Any]:
    """The integer fields named must be written as integer literals (pydantic's strict mode)."""
    return {
        "id": "integer-literal",
        "fields": fields,
        "dlq_error_class": "schema_invalid",
        "rule": "Integers are written as integer literals: 1, not 1.0 or 1e0.",
        "why_not_json_schema": INTEGER_LITERAL_WHY,
    }


def _rule_note(rule: dict[str, Any]) -> str:
    return f"Semantic rule {rule['id']} (see {SEMANTIC_RULES_KEYWORD}): {rule['rule']}"


_SCHEMA_COMMENT = (
    "Validate with format assertion on (Draft 2020-12 treats format as an annotation by default): dates are "
    "calendar dates (format date), timestamps RFC 3339 date-times (format date-time and pattern). The keyword "
    f"{SEMANTIC_RULES_KEYWORD} lists the rules the worker also enforces that JSON Schema cannot express: id, "
    "fields (dotted paths, [] for every item), rule, why_not_json_schema, and dlq_error_class: a request that "
    "passes this schema but breaks one of them is dead-lettered with that pa_error_class. On the events the "
    "worker publishes, the rules are guarantees."
)

_INTEGER_NOTE = "Semantic rule integer-literal (see x-semantic-rules): written as an integer literal, 1 not 1.0."

Priority = Literal["standard", "expedited"]
RequestType = Literal["initial", "continuation"]
DiseaseStatus = Literal["relapsed", "refractory", "relapsed_and_refractory", "newly_diagnosed", "in_remission"]
DocumentType = Literal["chart_notes", "lab_results", "pathology_report", "imaging", "oncology_note", "other"]
ImwgResponse = Literal["sCR", "CR", "VGPR", "PR", "MR", "SD", "PD"]
Decision = Literal["approved", "pended", "denied"]
PendReason = Literal["clinical_review", "missing_information"]
CriterionId = Literal["LOB", "A.i", "A.ii", "A.iii", "A.docs", "B.i", "B.docs.A", "B.docs.B", "QL"]
CriterionOutcome = Literal["met", "not_met", "missing"]
FindingCode = Literal[
    "in_scope",
    "out_of_scope",
    "diagnosis_code_missing",
    "not_multiple_myeloma",
    "disease_status_missing",
    "not_relapsed_or_refractory",
    "relapsed_or_refractory_myeloma",
    "continuation_indication_contradicted",
    "continuation_indication_myeloma",
    "prior_lines_missing",
    "too_few_prior_lines",
    "prior_class_not_identified",
    "prior_class_missing",
    "prior_lines_met",
    "ecog_missing",
    "ecog_future_dated",
    "ecog_not_current",
    "ecog_above_threshold",
    "ecog_met",
    "supporting_documents_current",
    "supporting_documents_not_current",
    "supporting_documents_future_dated",
    "supporting_documents_missing",
    "supporting_documents_other_only",
    "oncology_note_current",
    "oncology_note_not_current",
    "oncology_note_future_dated",
    "oncology_note_missing",
    "objective_measures_current",
    "objective_measures_not_current",
    "objective_measures_future_dated",
    "objective_measures_missing",
    "continuation_details_missing",
    "therapy_not_started",
    "response_before_therapy_start",
    "response_date_after_receipt",
    "progression_or_toxicity",
    "no_progression_or_toxicity",
    "start_date_retroactive",
    "start_date_too_far_ahead",
    "period_ended_before_decision",
    "no_labeled_dose_in_period",
    "quantity_above_maximum",
    "quantity_within_maximum",
    "quantity_labeled_maximum",
    "member_under_18",
    "date_of_birth_not_plausible",
    "requested_drug_in_history",
    "prior_line_dates_contradict",
    "prior_lines_not_read",
    "prior_lines_structure_unclear",
    "oncology_note_before_therapy_start",
    "objective_measures_before_therapy_start",
    "therapy_start_before_trials",
    "performance_status_decline",
    "last_dose_date_inconsistent",
    "period_overlaps_current_authorization",
    "renewal_starts_too_far_ahead",
    "last_dose_date_missing",
    "last_dose_date_missing_after_lapse",
    "delay_reason_reports_toxicity",
    "renewal_start_before_receipt",
    "diagnosis_code_contradicts_status",
    "current_authorization_before_therapy",
    "supporting_documents_id_conflict",
    "oncology_note_id_conflict",
    "objective_measures_id_conflict",
]
"""Stable codes of the criterion findings (policy/REASONS.md documents each); new codes may be added in v1."""

# --- pa.request --------------------------------------------------------------------------

_IN = ConfigDict(strict=True, extra="ignore", frozen=True, str_strip_whitespace=False)
_OUT = ConfigDict(strict=True, extra="forbid", frozen=True)


class Member(BaseModel):
    model_config = _IN
    member_id: Id
    date_of_birth: date
    first_name: Name | None = None
    last_name: Name | None = None


class Prescriber(BaseModel):
    model_config = _IN
    npi: Npi = Field(description="National Provider Identifier: 10 digits. " + _rule_note(NPI_CHECK_DIGIT))
    name: Name | None = None


class Drug(BaseModel):
    model_config = _IN
    hcpcs: Code
    ndc: Code | None = None
    requested_start_date: date | None = None
    requested_units: int | None = Field(default=None, ge=1, le=100_000, description=_INTEGER_NOTE)


class Diagnosis(BaseModel):
    model_config = _IN
    icd10_codes: list[IcdCode] = Field(max_length=25)
    disease_status: DiseaseStatus | None = None


class PriorLine(BaseModel):
    model_config = _IN
    line: int = Field(ge=1, le=99, description=_INTEGER_NOTE)
    regimen: list[Agent] = Field(min_length=1, max_length=12)
    start_date: date | None = None
    end_date: date | None = None


class Ecog(BaseModel):
    model_config = _IN
    score: int = Field(ge=0, le=5, description=_INTEGER_NOTE)
    assessed_on: date


class Document(BaseModel):
    model_config = _IN
    type: DocumentType
    date: date
    id: ShortText


class Continuation(BaseModel):
    model_config = _IN
    prior_authorization_id: ShortText
    therapy_start_date: date
    best_response: ImwgResponse
    response_since: date | None = None
    disease_progression: bool
    unacceptable_toxicity: bool
    last_dose_date: date | None = Field(
        default=None,
        description="Optional (added in v1): the date of the last elranatamab dose given. After a dosage delay "
        "the label (section 2.4) repeats step-up doses; the engine sizes the renewal's units from this date.",
    )
    delay_reason: ShortText | None = Field(
        default=None,
        description="Optional (added in v1): why dosing was paused, in the prescriber's words (shown to the "
        "reviewer; never parsed). Given without last_dose_date, the engine asks for the date.",
    )
    current_authorization_valid_through: date | None = Field(
        default=None,
        description="Optional (added in v1): the last day of the authorization this request renews "
        "(prior_authorization_id). Without a requested_start_date the renewal starts the day after it; a "
        "requested start on or before it overlaps the current authorization and is pended for review.",
    )


class PARequest(BaseModel):
    """``pa.request``: one prior-authorization submission (value on ``pa.requests.v1``)."""

    model_config = ConfigDict(
        strict=True,
        extra="ignore",
        frozen=True,
        title="pa.request",
        json_schema_extra={
            "$id": "https://schemas.mmm.example/pa/pa.request.v1.json",
            "$comment": _SCHEMA_COMMENT,
            # _continuation_iff_continuation, below
            "if": {"properties": {"request_type": {"const": "continuation"}}, "required": ["request_type"]},
            "then": {"properties": {"continuation": {"type": "object"}}, "required": ["continuation"]},
            "else": {"properties": {"continuation": {"type": "null"}}},
            SEMANTIC_RULES_KEYWORD: [
                NPI_CHECK_DIGIT,
                integer_literal(["ecog.score", "prior_lines[].line", "drug.requested_units"]),
                MESSAGE_SIZE,
            ],
        },
    )
    schema_version: Literal["1"]
    request_id: Id
    received_at: Timestamp
    priority: Priority
    request_type: RequestType
    line_of_business: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    member: Member
    prescriber: Prescriber
    drug: Drug
    diagnosis: Diagnosis
    prior_lines: list[PriorLine] = Field(max_length=40)
    ecog: Ecog | None = None
    documents: list[Document] = Field(max_length=100)
    continuation: Continuation | None = Field(
        default=None,
        description="Present exactly when request_type is 'continuation' (absent or null for 'initial'); "
        "the schema's if/then/else says so.",
    )

    @model_validator(mode="after")
    def _continuation_iff_continuation(self) -> PARequest:
        if self.request_type == "continuation" and self.continuation is None:
            raise ValueError("continuation is required when request_type is 'continuation'")
        if self.request_type != "continuation" and self.continuation is not None:
            raise ValueError("continuation must be absent when request_type is 'initial'")
        return self


# --- pa.determination --------------------------------------------------------------------


FactValue = Annotated[
    str | int | bool | list[Annotated[str, StringConstraints(max_length=200)]] | list[int] | None,
    Field(description="An ISO date, a count, a threshold, a code, a flag, or a list of them."),
]


class CriterionResult(BaseModel):
    model_config = _OUT
    id: CriterionId
    result: CriterionOutcome
    reason: Sentence = Field(
        description="One plain English sentence for a letter, citing the policy and the criterion, built from "
        "`code` and `facts`."
    )
    evidence: list[Annotated[str, StringConstraints(max_length=200)]] = Field(
        default_factory=list,
        max_length=50,
        description="Optional: references to the evidence the result rests on (document ids, dates, codes). "
        "Never patient identifiers.",
    )
    code: FindingCode | None = Field(
        default=None,
        description="Optional (added in v1): the stable code of the finding; policy/REASONS.md documents each "
        "code's criterion, outcome, meaning and English and Spanish text.",
    )
    facts: dict[Annotated[str, StringConstraints(max_length=40)], FactValue] | None = Field(
        default=None,
        max_length=30,
        description="Optional (added in v1): the typed values `reason` and `reason_es` are built from (ISO dates, "
        "counts, thresholds, codes, the names not recognised). Never patient identifiers.",
    )
    reason_es: Sentence | None = Field(
        default=None, description="Optional (added in v1): the same finding in Spanish, for member letters."
    )
    citation: Annotated[str, StringConstraints(max_length=200)] | None = Field(
        default=None,
        description="Optional (added in v1): where the rule comes from, in English: the policy and its criterion "
        "(\"Policy MP-RX-FP-120-24, criterion A.ii\"), or the plan's own rule when the rule is the plan's "
        "setting and not the policy's text. When set, `reason` does not repeat it.",
    )
    citation_es: Annotated[str, StringConstraints(max_length=200)] | None = Field(
        default=None, description="Optional (added in v1): `citation` in Spanish."
    )


class InformationRequest(BaseModel):
    """One piece of information a ``missing_information`` pend needs (added in v1, optional)."""

    model_config = _OUT
    criterion: CriterionId | None = Field(
        description="The criterion it answers (null when a reviewer's request names none)."
    )
    code: FindingCode | None = Field(description="The finding's code (null for a reviewer's own request).")
    document: Sentence = Field(description="What to send, as a document in plain English.")
    document_es: Sentence | None = Field(
        description="What to send, in Spanish. Null only when a reviewer wrote the request without a Spanish "
        "text: `translation_needed` is then true, and English is never copied here."
    )
    accepted_types: list[DocumentType] = Field(
        default_factory=list, max_length=6, description="Document types that answer it."
    )
    dated_on_or_after: date | None = Field(
        default=None, description="The earliest date the document may carry to be current."
    )
    needed_by: Timestamp = Field(
        description="When the plan needs it: before the decision deadline (decision_due_by) by the plan's review "
        "time for the request's priority, so a reviewer can read it before deciding."
    )
    translation_needed: bool | None = Field(
        default=None,
        description="Optional (added in v1): true when `document_es` is null because the reviewer gave no "
        "Spanish text; the letter system has it translated before it writes a Spanish letter.",
    )


class ScheduledDose(BaseModel):
    """One labeled dose covered by the authorization's units."""

    model_config = _OUT
    date: date
    therapy_day: int = Field(ge=1, description="Day of therapy, day 1 = step-up dose 1. " + _INTEGER_NOTE)
    phase: Literal["step_up", "weekly", "every_2_weeks", "every_4_weeks"]
    dose_mg: int = Field(ge=1, description=_INTEGER_NOTE)
    units: int = Field(
        ge=1, description="Billable J1323 units (1 mg each), whole vials for step-up doses. " + _INTEGER_NOTE
    )


class Authorization(BaseModel):
    model_config = _OUT
    authorization_id: ShortText
    hcpcs: Code
    valid_from: date
    valid_through: date
    max_units: int = Field(ge=0, description=_INTEGER_NOTE)
    schedule: list[ScheduledDose] = Field(max_length=60)


class PolicyRef(BaseModel):
    model_config = _OUT
    id: Literal["MP-RX-FP-120-24"]
    version: ShortText = Field(
        description="The parameter set that decided: the version in effect on the request's local receipt date."
    )
    engine_version: ShortText | None = Field(
        default=None,
        description="Optional (added in v1): the engine code's version, apart from the parameter set, so a "
        "replay can tell a change of code from a change of settings.",
    )


Credential = Literal["MD", "DO", "PharmD", "RPh", "RN", "NP", "PA"]
"""A reviewer's professional credential."""


class DecidedBy(BaseModel):
    """Who made a determination (added in v1, optional): the engine, or a clinical reviewer."""

    model_config = _OUT
    kind: Literal["engine", "reviewer"]
    reviewer_id: ShortText | None = None
    credential: Credential | None = None


class DeniedPortion(BaseModel):
    """What a partial approval did not grant: asked against granted (added in v1, optional)."""

    model_config = _OUT
    requested_units: int = Field(
        ge=0,
        description="The units asked: the request's requested_units, or, when it gave none, the labeled "
        "maximum of the requested period. " + _INTEGER_NOTE,
    )
    granted_units: int = Field(ge=0, description="The units authorized (authorization.max_units). " + _INTEGER_NOTE)
    denied_units: int = Field(ge=0, description="requested_units minus granted_units, at least 0. " + _INTEGER_NOTE)
    requested_valid_from: date
    requested_valid_through: date
    granted_valid_from: date
    granted_valid_through: date
    denied_days: int = Field(
        ge=0, description="Days of the requested period the authorization does not cover. " + _INTEGER_NOTE
    )
    summary: Sentence = Field(description="What was approved and what was not, in plain English, for the letter.")
    summary_es: Sentence = Field(description="The same, in Spanish.")


class PADetermination(BaseModel):
    """``pa.determination``: the outcome of one request (value on ``pa.determinations.v1``)."""

    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        frozen=True,
        title="pa.determination",
        json_schema_extra={
            "$id": "https://schemas.mmm.example/pa/pa.determination.v1.json",
            "$comment": _SCHEMA_COMMENT,
            # _consistent, below
            "allOf": [
                {
                    "if": {"properties": {"decision": {"const": "pended"}}, "required": ["decision"]},
                    "then": {"properties": {"pend_reason": {"type": "string"}}},
                    "else": {"properties": {"pend_reason": {"type": "null"}}},
                },
                {
                    "if": {"properties": {"decision": {"const": "approved"}}, "required": ["decision"]},
                    "then": {"properties": {"authorization": {"type": "object"}}},
                    "else": {"properties": {"authorization": {"type": "null"}}},
                },
                {  # a partial approval: approved, adverse, and what was not granted
                    "if": {"properties": {"denied_portion": {"type": "object"}}, "required": ["denied_portion"]},
                    "then": {"properties": {"decision": {"const": "approved"}, "adverse": {"const": True}}},
                },
                {
                    "if": {
                        "properties": {"decision": {"const": "approved"}, "adverse": {"const": True}},
                        "required": ["decision", "adverse"],
                    },
                    "then": {"properties": {"denied_portion": {"type": "object"}}, "required": ["denied_portion"]},
                },
            ],
            SEMANTIC_RULES_KEYWORD: [
                integer_literal(
                    [
                        "authorization.max_units",
                        "authorization.schedule[].therapy_day",
                        "authorization.schedule[].dose_mg",
                        "authorization.schedule[].units",
                    ]
                )
            ],
        },
    )
    schema_version: Literal["1"] = "1"
    determination_id: ShortText
    request_id: Id
    request_type: RequestType
    priority: Priority
    line_of_business: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    member_id: Id
    prescriber_npi: Annotated[str, StringConstraints(min_length=10, max_length=10)]
    decision: Decision
    pend_reason: PendReason | None = Field(description="Set exactly when decision is 'pended', else null.")
    criteria: list[CriterionResult] = Field(max_length=20)
    authorization: Authorization | None = Field(description="Present exactly when decision is 'approved', else null.")
    policy: PolicyRef
    received_at: Timestamp
    decided_at: Timestamp
    decision_due_by: Timestamp
    information_requests: list[InformationRequest] = Field(
        default_factory=list,
        max_length=20,
        description="Optional (added in v1): one item per missing piece of information, on every pend with a "
        "criterion whose result is 'missing'; empty otherwise.",
    )
    decided_by: DecidedBy | None = Field(
        default=None, description="Optional (added in v1): the engine, or the reviewer and their credential."
    )
    final: bool | None = Field(
        default=None,
        description="Optional (added in v1): true when this is the plan's final decision on the request "
        "(an approval, a denial, a reviewer's decision); false for a pend.",
    )
    supersedes: ShortText | None = Field(
        default=None, description="Optional (added in v1): the pended determination this one resolves."
    )
    review_id: Id | None = Field(default=None, description="Optional (added in v1): the review that decided it.")
    rationale: Sentence | None = Field(
        default=None, description="Optional (added in v1): the reviewer's rationale, plain text for the letter."
    )
    rationale_es: Sentence | None = Field(
        default=None,
        description="Optional (added in v1): the reviewer's rationale in Spanish, as the reviewer wrote it. Null "
        "when the reviewer gave none: `translation_needed` then says so; English is never copied here.",
    )
    adverse: bool | None = Field(
        default=None,
        description="Optional (added in v1): true for a final decision that is adverse to the member, in whole "
        "(denied) or in part (approved with fewer units or a shorter period than asked: a partial approval, "
        "whose `denied_portion` says what was not granted). The letter system sends an adverse notice with "
        "appeal rights for it. False for a full approval; null for a pend (no decision yet).",
    )
    denied_portion: DeniedPortion | None = Field(
        default=None,
        description="Optional (added in v1): on a partial approval (decision 'approved', adverse true), the "
        "units and dates asked against those granted. `authorization` carries the granted portion only.",
    )
    appeal_rights: bool | None = Field(
        default=None,
        description="Optional (added in v1): true when the member (and the prescriber) may appeal this decision "
        "(a reconsideration, 42 CFR 422.578-422.582): every adverse final decision. False for a full approval; "
        "null for a pend.",
    )
    translation_needed: list[Annotated[str, StringConstraints(max_length=60)]] | None = Field(
        default=None,
        max_length=25,
        description="Optional (added in v1): the Spanish fields left null because a reviewer wrote no Spanish "
        'text for them ("rationale_es", "information_requests[0].document_es"); the letter system '
        "has them translated before it writes a Spanish letter. Absent or empty: nothing to translate.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> PADetermination:
        if (self.decision == "pended") != (self.pend_reason is not None):
            raise ValueError("pend_reason is set exactly when decision is 'pended'")
        if (self.decision == "approved") != (self.authorization is not None):
            raise ValueError("authorization is present exactly when decision is 'approved'")
        if self.denied_portion is not None and not (self.decision == "approved" and self.adverse):
            raise ValueError("denied_portion is set only on a partial approval (decision 'approved', adverse true)")
        if self.adverse and self.decision == "approved" and self.denied_portion is None:
            raise ValueError("an adverse approval (a partial approval) carries its denied_portion")
        return self


# --- pa.reauth_due -----------------------------------------------------------------------


class RequiredDocument(BaseModel):
    model_config = _OUT
    criterion: CriterionId
    accepted_types: list[DocumentType] = Field(min_length=1, max_length=6)
    description: Sentence


class PAReauthDue(BaseModel):
    """``pa.reauth_due``: reauthorization of an approval falls due (value on ``pa.reauth-due.v1``)."""

    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        frozen=True,
        title="pa.reauth_due",
        json_schema_extra={
            "$id": "https://schemas.mmm.example/pa/pa.reauth_due.v1.json",
            "$comment": _SCHEMA_COMMENT,
            SEMANTIC_RULES_KEYWORD: [],
        },
    )
    schema_version: Literal["1"] = "1"
    event_id: ShortText
    authorization_id: ShortText
    member_id: Id
    prescriber_npi: Annotated[str, StringConstraints(min_length=10, max_length=10)]
    valid_through: date
    reauth_due_on: date
    required_documents: list[DocumentType] = Field(
        min_length=1,
        max_length=6,
        description="Document types the continuation request must carry: oncology_note, and imaging "
        "(or lab_results as other objective measures).",
    )
    required_documents_detail: list[RequiredDocument] = Field(
        default_factory=list,
        max_length=6,
        description="Optional: per policy criterion, the accepted document types and a sentence for the letter.",
    )
    policy: PolicyRef
    determination_id: ShortText | None = Field(default=None, description="Optional: the approving determination.")


# --- pa.review ---------------------------------------------------------------------------


ReviewOutcome = Literal["approved", "partially_approved", "denied", "information_requested"]


class Reviewer(BaseModel):
    model_config = _IN
    id: ShortText
    credential: Credential


class ApprovedQuantity(BaseModel):
    """What a reviewer approved: required for ``partially_approved``, optional for ``approved``."""

    model_config = _IN
    max_units: int = Field(ge=1, le=100_000, description=_INTEGER_NOTE)
    valid_from: date
    valid_through: date


class RequestedInformation(BaseModel):
    model_config = _IN
    criterion: CriterionId | None = None
    document: Sentence = Field(description="What to send, in plain English.")
    document_es: Sentence | None = Field(default=None, description="What to send, in Spanish.")


class CriterionNote(BaseModel):
    model_config = _IN
    id: CriterionId
    note: Sentence


class PAReview(BaseModel):
    """``pa.review``: a clinical reviewer's decision on a pended determination (value on
    ``pa.reviews.v1``, published by the plan's review system). Key: ``member_id``."""

    model_config = ConfigDict(
        strict=True,
        extra="ignore",
        frozen=True,
        title="pa.review",
        json_schema_extra={
            "$id": "https://schemas.mmm.example/pa/pa.review.v1.json",
            "$comment": _SCHEMA_COMMENT,
            # _consistent, below
            "allOf": [
                {
                    "if": {"properties": {"outcome": {"const": "partially_approved"}}, "required": ["outcome"]},
                    "then": {"properties": {"approved": {"type": "object"}}, "required": ["approved"]},
                },
                {
                    "if": {"properties": {"outcome": {"const": "information_requested"}}, "required": ["outcome"]},
                    "then": {
                        "properties": {"information_requested": {"minItems": 1}},
                        "required": ["information_requested"],
                    },
                },
                {
                    "if": {
                        "properties": {"outcome": {"enum": ["denied", "information_requested"]}},
                        "required": ["outcome"],
                    },
                    "then": {"properties": {"approved": {"type": "null"}}},
                },
            ],
            SEMANTIC_RULES_KEYWORD: [integer_literal(["approved.max_units"]), PERIOD_ORDER, MESSAGE_SIZE],
        },
    )
    schema_version: Literal["1"]
    review_id: Id
    request_id: Id
    determination_id: ShortText = Field(description="The pended determination this review resolves.")
    member_id: Id
    reviewer: Reviewer
    outcome: ReviewOutcome
    approved: ApprovedQuantity | None = Field(
        default=None, description="Required for partially_approved (the units and dates actually approved)."
    )
    information_requested: list[RequestedInformation] = Field(
        default_factory=list, max_length=20, description="Required (at least one) for information_requested."
    )
    rationale: Sentence
    rationale_es: Sentence | None = Field(
        default=None,
        description="Optional (added in v1): the rationale in Spanish, written or checked by a person. Absent: "
        "the determination marks it for translation (translation_needed); English is never copied.",
    )
    criteria_notes: list[CriterionNote] = Field(default_factory=list, max_length=20)
    decided_at: Timestamp

    @model_validator(mode="after")
    def _consistent(self) -> PAReview:
        if self.outcome == "partially_approved" and self.approved is None:
            raise ValueError("approved (units and dates) is required when outcome is 'partially_approved'")
        if self.outcome == "information_requested" and not self.information_requested:
            raise ValueError("information_requested needs at least one item when outcome is 'information_requested'")
        if self.outcome in ("denied", "information_requested") and self.approved is not None:
            raise ValueError("approved must be absent when outcome is 'denied' or 'information_requested'")
        if self.approved is not None and self.approved.valid_through < self.approved.valid_from:
            raise ValueError("approved.valid_through is before approved.valid_from")
        return self


# --- pa.decision_clock -------------------------------------------------------------------


ClockThreshold = Literal["warning", "breach"]


class PADecisionClock(BaseModel):
    """``pa.decision_clock``: a pended determination has used the warning share of its decision
    clock (``warning``), or its ``decision_due_by`` passed without a final decision (``breach``).
    Value on ``pa.decision-clock.v1``; key ``member_id``. At most one event per determination and
    threshold: a utilization-management system may escalate on each."""

    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        frozen=True,
        title="pa.decision_clock",
        json_schema_extra={
            "$id": "https://schemas.mmm.example/pa/pa.decision_clock.v1.json",
            "$comment": _SCHEMA_COMMENT,
            SEMANTIC_RULES_KEYWORD: [],
        },
    )
    schema_version: Literal["1"] = "1"
    event_id: ShortText = Field(description="Deterministic: the same pend and threshold always give the same id.")
    threshold: ClockThreshold
    determination_id: ShortText = Field(description="The open (pended) determination whose clock this is.")
    request_id: Id
    member_id: Id
    priority: Priority
    pend_reason: PendReason
    received_at: Timestamp
    decision_due_by: Timestamp
    clock_share: float = Field(
        ge=0,
        description="The share of the clock (received_at to decision_due_by) that the threshold stands for: "
        "the configured warning share (default 0.75) for warning, 1.0 for breach.",
    )
    threshold_at: Timestamp = Field(
        description="When the pend reached the threshold (received_at + the share of its clock)."
    )
    observed_at: Timestamp = Field(description="When the worker saw it (its clock at the tick that emitted the event).")
    policy: PolicyRef


# --- pa.notice ---------------------------------------------------------------------------


NoticeKind = Literal["approval", "denial", "partial_approval", "information_request"]
NoticeChannel = Literal["mail", "fax", "phone", "portal", "email", "in_person"]
NoticeRecipient = Literal["member", "prescriber"]


class PANotice(BaseModel):
    """``pa.notice``: the letter system notified someone of a determination (value on
    ``pa.notices.v1``, published by the letter system; key ``member_id``). The clocks of 42 CFR
    422.568(b) and 422.572(a) run to notifying the member, so timeliness is measured on the member's
    first notice where one exists."""

    model_config = ConfigDict(
        strict=True,
        extra="ignore",
        frozen=True,
        title="pa.notice",
        json_schema_extra={
            "$id": "https://schemas.mmm.example/pa/pa.notice.v1.json",
            "$comment": _SCHEMA_COMMENT,
            SEMANTIC_RULES_KEYWORD: [MESSAGE_SIZE],
        },
    )
    schema_version: Literal["1"]
    notice_id: Id = Field(description="The letter system's id of this notice: the same notice sent again keeps it.")
    determination_id: ShortText = Field(description="The determination the notice tells of.")
    request_id: Id
    member_id: Id
    kind: NoticeKind
    channel: NoticeChannel = Field(
        description="How it was sent. A phone notice of an expedited decision is followed by a written one "
        "(42 CFR 422.572(b)); each is its own event."
    )
    recipient: NoticeRecipient
    sent_at: Timestamp = Field(description="When it was sent (mailed, faxed, spoken, posted).")
