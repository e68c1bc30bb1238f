"""CloudEvents headers and the validation of incoming messages, shared by every stage.

- :func:`cloudevent_headers`: the binary-mode CloudEvents headers of an event the worker publishes;
- :func:`classify`: a pydantic ``ValidationError`` as a :class:`Rejection` (a DLQ error class and a
  message that never echoes input values);
- :func:`parse`: an input message's bytes as a contract model, or its dead letter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

from pydantic import BaseModel, ValidationError

from contracts import channels as ch
from contracts.channels import CE_SOURCE, DlqErrorClass
from worker.records import JSON_CONTENT, DeadLettered, Headers, Source, dead_letter

CE_TYPE_DETERMINATION = ch.DETERMINATIONS.ce_type or ""
CE_TYPE_REAUTH_DUE = ch.REAUTH_DUE.ce_type or ""
CE_TYPE_DECISION_CLOCK = ch.DECISION_CLOCK.ce_type or ""

M = TypeVar("M", bound=BaseModel)


_SPECVERSION: Final = ("ce_specversion", b"1.0")
_SOURCE: Final = ("ce_source", CE_SOURCE.encode())
_TYPES: dict[str, tuple[str, bytes]] = {}


def cloudevent_headers(ce_id: str, ce_type: str, time: datetime, extra: Headers | None = None) -> Headers:
    kind = _TYPES.get(ce_type)
    if kind is None:
        kind = _TYPES[ce_type] = ("ce_type", ce_type.encode())
    headers: Headers = [
        _SPECVERSION,
        ("ce_id", ce_id.encode()),
        _SOURCE,
        kind,
        ("ce_time", time.astimezone(UTC).isoformat().replace("+00:00", "Z").encode()),
        JSON_CONTENT,
    ]
    if extra:
        headers.extend(extra)
    return headers


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


def parse(
    model: type[M], value: bytes | None, max_bytes: int, dlq: str, key: bytes | None, source: Source
) -> M | DeadLettered:
    """``value`` as ``model``, or its dead letter to ``dlq`` (empty, too large, not valid)."""
    if not value:
        return dead_letter(dlq, key, b"", source, "not_json", "empty message value")
    if len(value) > max_bytes:
        return dead_letter(
            dlq, key, value, source, "too_large", f"message is {len(value)} bytes; the limit is {max_bytes}"
        )
    try:
        return model.model_validate_json(value)
    except ValidationError as exc:
        rejection = classify(exc)
        return dead_letter(dlq, key, value, source, rejection.error_class, rejection.message, rejection.fields)
