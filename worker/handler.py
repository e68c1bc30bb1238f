"""One input record in, the records to publish out: decode, validate, evaluate, encode.

No Kafka here, so the whole path is testable without a broker. The service wraps a batch of
one partition's ``handle`` results in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from contracts import PADetermination, PARequest
from contracts import channels as ch
from contracts.channels import CE_SOURCE, DlqErrorClass
from contracts.internal import AuthorizationState
from policy import PolicySettings, evaluate
from policy._build import build

CE_TYPE_DETERMINATION = ch.DETERMINATIONS.ce_type or ""
CE_TYPE_REAUTH_DUE = ch.REAUTH_DUE.ce_type or ""
MAX_ERROR_MESSAGE = 1000

Headers = list[tuple[str, bytes]]


# ``model_dump_json().encode()`` without the detour through str: the same bytes, one copy fewer.
_DETERMINATION_JSON = PADetermination.__pydantic_serializer__
_STATE_JSON = AuthorizationState.__pydantic_serializer__


@dataclass(frozen=True, slots=True)
class Source:
    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None = None


@dataclass(frozen=True, slots=True)
class OutRecord:
    topic: str
    key: bytes | None
    value: bytes
    headers: Headers
    partition_key: bytes | None = None
    """When set, the partition is chosen from this key instead of ``key``."""
    partition: int | None = None
    """When set, the record goes to this partition."""


@dataclass(frozen=True, slots=True)
class Summary:
    """What metrics need of a determination (small, cheap to pass between processes)."""

    decision: str
    pend_reason: str | None
    request_type: str
    priority: str
    line_of_business: str
    received_at: datetime
    decision_due_by: datetime


@dataclass(slots=True)
class Handled:
    records: list[OutRecord] = field(default_factory=list)
    determination: PADetermination | None = None
    error_class: str | None = None
    error_fields: list[str] = field(default_factory=list)
    summary: Summary | None = None
    duplicate: bool = False
    """The same request (same determination id) was determined before: nothing is published."""


@dataclass(frozen=True, slots=True)
class Topics:
    determinations: str = ch.DETERMINATIONS.topic
    dlq: str = ch.DLQ.topic
    authorizations: str = ch.AUTHORIZATIONS.topic


def cloudevent_headers(ce_id: str, ce_type: str, time: datetime, extra: Headers | None = None) -> Headers:
    headers: Headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", ce_id.encode()),
        ("ce_source", CE_SOURCE.encode()),
        ("ce_type", ce_type.encode()),
        ("ce_time", time.astimezone(UTC).isoformat().replace("+00:00", "Z").encode()),
        ("content-type", b"application/json"),
    ]
    if extra:
        headers.extend(extra)
    return headers


class RequestHandler:
    """Turns one ``pa.request`` message into its output records."""

    def __init__(
        self,
        settings: PolicySettings,
        topics: Topics,
        max_message_bytes: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.topics = topics
        self.max_message_bytes = max_message_bytes
        self.clock = clock

    def handle(self, key: bytes | None, value: bytes | None, source: Source) -> Handled:
        decoded = decode_request(value, self.max_message_bytes)
        if isinstance(decoded, Rejection):
            return self._dead(key, value or b"", source, decoded.error_class, decoded.message, list(decoded.fields))
        request = decoded
        try:
            determination = evaluate(request, self.clock(), self.settings)
        except Exception as exc:  # an engine bug must not stop the partition
            return self._dead(
                key,
                value or b"",
                source,
                "evaluation_error",
                f"policy evaluation failed: {type(exc).__name__}",
                [],
            )
        return self._publish(request, determination)

    def _publish(self, request: PARequest, det: PADetermination) -> Handled:
        member_key = det.member_id.encode()
        out = [
            OutRecord(
                self.topics.determinations,
                member_key,
                _DETERMINATION_JSON.to_json(det),
                cloudevent_headers(
                    det.determination_id,
                    CE_TYPE_DETERMINATION,
                    det.decided_at,
                    [("pa_request_id", det.request_id.encode()), ("pa_decision", det.decision.encode())],
                ),
            )
        ]
        auth = det.authorization
        if auth is not None:
            # Built from an already validated determination: no re-validation (the engine's
            # constructor; every field given, in the model's order).
            state = build(
                AuthorizationState,
                {
                    "schema_version": "1",
                    "status": "scheduled",
                    "authorization_id": auth.authorization_id,
                    "member_id": det.member_id,
                    "prescriber_npi": det.prescriber_npi,
                    "valid_from": auth.valid_from,
                    "valid_through": auth.valid_through,
                    "approved_on": det.decided_at.astimezone(UTC).date(),
                    "decided_at": det.decided_at,
                    "determination_id": det.determination_id,
                    "request_id": det.request_id,
                    "request_type": det.request_type,
                    "prior_authorization_id": (
                        request.continuation.prior_authorization_id if request.continuation else None
                    ),
                    "policy_version": det.policy.version,
                    "reauth_due_on": None,
                },
            )
            out.append(
                OutRecord(
                    self.topics.authorizations,
                    auth.authorization_id.encode(),
                    _STATE_JSON.to_json(state),
                    [("content-type", b"application/json")],
                    partition_key=member_key,
                )
            )
        summary = Summary(
            det.decision,
            det.pend_reason,
            det.request_type,
            det.priority,
            det.line_of_business,
            det.received_at,
            det.decision_due_by,
        )
        return Handled(records=out, determination=det, summary=summary)

    def _dead(
        self,
        key: bytes | None,
        value: bytes,
        source: Source,
        error_class: DlqErrorClass,
        message: str,
        fields: list[str],
    ) -> Handled:
        return dead_letter(self.topics.dlq, key, value, source, error_class, message, fields)


def dead_letter(
    dlq: str,
    key: bytes | None,
    value: bytes,
    source: Source,
    error_class: DlqErrorClass,
    message: str,
    fields: list[str],
) -> Handled:
    """The original bytes and key to ``dlq``, with the reason and the source coordinates in headers."""
    headers: Headers = [
        ("pa_error_class", error_class.encode()),
        ("pa_error_message", message[:MAX_ERROR_MESSAGE].encode()),
        ("pa_error_fields", ",".join(fields)[:MAX_ERROR_MESSAGE].encode()),
        ("pa_source_topic", source.topic.encode()),
        ("pa_source_partition", str(source.partition).encode()),
        ("pa_source_offset", str(source.offset).encode()),
    ]
    if source.timestamp_ms is not None:
        headers.append(("pa_source_timestamp_ms", str(source.timestamp_ms).encode()))
    return Handled(records=[OutRecord(dlq, key, value, headers)], error_class=error_class, error_fields=fields)


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    """Dotted path of the offending field; ``$`` is the whole message."""
    message: str


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a message is not a valid ``pa.request``: the DLQ error class of ``pa-worker run`` and
    the error of ``pa-worker evaluate``. Messages never echo input values (they may hold patient
    data): pydantic's ``msg`` does not."""

    error_class: DlqErrorClass
    message: str
    """One readable line (the DLQ's ``pa_error_message``)."""
    fields: tuple[str, ...] = ()
    """Paths of the offending fields (the DLQ's ``pa_error_fields``); none when the bytes are not a message."""
    errors: tuple[FieldError, ...] = ()
    """Every problem found, field by field."""


def decode_request(value: bytes | None, max_message_bytes: int) -> PARequest | Rejection:
    """The request in ``value``, or why it is rejected: the one decoder of ``run`` and ``evaluate``."""
    if not value:
        return Rejection("not_json", "empty message value", (), (FieldError("$", "empty message value"),))
    if len(value) > max_message_bytes:
        message = f"message is {len(value)} bytes; the limit is {max_message_bytes}"
        return Rejection("too_large", message, (), (FieldError("$", message),))
    try:
        return PARequest.model_validate_json(value)
    except ValidationError as exc:
        return classify(exc)


def classify(exc: ValidationError) -> Rejection:
    """The rejection of a request that failed validation."""
    raw: list[Any] = exc.errors(include_url=False, include_input=False, include_context=False)
    fields = [".".join(str(p) for p in e["loc"]) or "$" for e in raw]
    invalid_json = next((e for e in raw if e["type"] == "json_invalid"), None)
    if invalid_json is not None:
        return Rejection(
            "not_json", f"not valid JSON: {invalid_json['msg']}", (), (FieldError("$", invalid_json["msg"]),)
        )
    errors = tuple(FieldError(f, e["msg"]) for f, e in zip(fields, raw, strict=True))
    if any(e["type"] == "model_type" and not e["loc"] for e in raw):
        return Rejection("schema_invalid", "the message must be a JSON object", ("$",), errors)
    if any(e["loc"] == ("schema_version",) and e["type"] != "missing" for e in raw):
        return Rejection(
            "unknown_schema_version",
            "schema_version is not supported: this worker reads version '1'",
            ("schema_version",),
            errors,
        )
    parts = [f"{e.field}: {e.message}" for e in errors]
    shown = "; ".join(parts[:10]) + (f"; and {len(parts) - 10} more" if len(parts) > 10 else "")
    return Rejection("schema_invalid", shown, tuple(fields), errors)


def internal_error(dlq: str, key: bytes | None, value: bytes | None, source: Source, exc: Exception) -> Handled:
    """Dead-letter a record whose handling raised outside the policy engine (a bug): never stop."""
    return dead_letter(dlq, key, value or b"", source, "evaluation_error", f"internal error: {type(exc).__name__}", [])
