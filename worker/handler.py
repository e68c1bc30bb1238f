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
from contracts.internal import AuthorizationState
from policy import PolicySettings, evaluate
from policy._build import build

CE_SOURCE = "urn:mmm:pa-worker"
CE_TYPE_DETERMINATION = "org.mmm.pa.determination.v1"
CE_TYPE_REAUTH_DUE = "org.mmm.pa.reauth_due.v1"
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
    determinations: str = "pa.determinations.v1"
    dlq: str = "pa.requests.dlq.v1"
    authorizations: str = "pa.authorizations.v1"


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
        if value is None or len(value) == 0:
            return self._dead(key, value or b"", source, "not_json", "empty message value", [])
        if len(value) > self.max_message_bytes:
            return self._dead(
                key,
                value,
                source,
                "too_large",
                f"message is {len(value)} bytes; the limit is {self.max_message_bytes}",
                [],
            )
        try:
            request = PARequest.model_validate_json(value)
        except ValidationError as exc:
            error_class, message, fields = classify(exc)
            return self._dead(key, value, source, error_class, message, fields)
        try:
            determination = evaluate(request, self.clock(), self.settings)
        except Exception as exc:  # an engine bug must not stop the partition
            return self._dead(
                key,
                value,
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
        self, key: bytes | None, value: bytes, source: Source, error_class: str, message: str, fields: list[str]
    ) -> Handled:
        return dead_letter(self.topics.dlq, key, value, source, error_class, message, fields)


def dead_letter(
    dlq: str, key: bytes | None, value: bytes, source: Source, error_class: str, message: str, fields: list[str]
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


def classify(exc: ValidationError) -> tuple[str, str, list[str]]:
    """Error class, readable message and field paths of a rejected request.

    Messages never echo input values (they may hold patient data): pydantic's ``msg`` does not.
    """
    errors: list[Any] = exc.errors(include_url=False, include_input=False, include_context=False)
    fields = [".".join(str(p) for p in e["loc"]) or "$" for e in errors]
    if any(e["type"] == "json_invalid" for e in errors):
        first = next(e for e in errors if e["type"] == "json_invalid")
        return "not_json", f"not valid JSON: {first['msg']}", []
    if any(e["type"] == "model_type" and not e["loc"] for e in errors):
        return "schema_invalid", "the message must be a JSON object", ["$"]
    version_errors = [e for e in errors if e["loc"] == ("schema_version",) and e["type"] != "missing"]
    if version_errors:
        return (
            "unknown_schema_version",
            "schema_version is not supported: this worker reads version '1'",
            ["schema_version"],
        )
    parts = [f"{f}: {e['msg']}" for f, e in zip(fields, errors, strict=True)]
    shown = "; ".join(parts[:10]) + (f"; and {len(parts) - 10} more" if len(parts) > 10 else "")
    return "schema_invalid", shown, fields


def internal_error(dlq: str, key: bytes | None, value: bytes | None, source: Source, exc: Exception) -> Handled:
    """Dead-letter a record whose handling raised outside the policy engine (a bug): never stop."""
    return dead_letter(dlq, key, value or b"", source, "evaluation_error", f"internal error: {type(exc).__name__}", [])
