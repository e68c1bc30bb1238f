"""One record in, output records out, without a broker: DLQ classes, headers, original bytes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from contracts import PADetermination
from policy import DEFAULT_SETTINGS
from worker import handler as handler_module
from worker.handler import RequestHandler, Source, Topics
from worker.records import DeadLettered, Published

EXAMPLES = Path(__file__).resolve().parents[2] / "contracts" / "examples"
SOURCE = Source("pa.requests.v1", 3, 42, 1_700_000_000_000)
NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)


@pytest.fixture
def handler() -> RequestHandler:
    return RequestHandler(DEFAULT_SETTINGS, Topics(), max_message_bytes=65_536, clock=lambda: NOW)


def _headers(rec) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {k: v.decode() for k, v in rec.headers}


def test_approval_publishes_the_determination_only(handler: RequestHandler) -> None:
    """The authorization's state is not the handler's to write: the reauth scheduler, the only
    writer of the authorizations topic, derives it from the determination."""
    value = (EXAMPLES / "valid" / "initial_approved.json").read_bytes()
    h = handler.handle(b"M00012345", value, SOURCE)
    assert isinstance(h, Published) and h.determination is not None
    (det_rec,) = h.records
    assert det_rec.topic == Topics().determinations
    det = PADetermination.model_validate_json(det_rec.value)
    assert det.decision == "approved" and det.authorization is not None and det_rec.key == b"M00012345"
    headers = _headers(det_rec)
    assert headers["ce_id"] == det.determination_id and headers["ce_specversion"] == "1.0"
    assert headers["ce_time"].endswith("Z") and headers["content-type"] == "application/json"
    assert headers["pa_decision"] == "approved"
    # Published bytes are exactly what the models themselves serialize (the handler skips
    # re-validation and the str detour): re-reading and re-serializing changes nothing.
    assert det_rec.value == det.model_dump_json().encode() == h.determination.model_dump_json().encode()


@pytest.mark.parametrize(
    ("value", "error_class", "field"),
    [
        (b"", "not_json", ""),
        (b"\xff\xfe garbage", "not_json", ""),
        (b"[1, 2]", "schema_invalid", "$"),
        (json.dumps({"schema_version": "2"}).encode(), "unknown_schema_version", "schema_version"),
        ((EXAMPLES / "invalid" / "bad_npi_check_digit.json").read_bytes(), "schema_invalid", "prescriber.npi"),
        (b"{" + b" " * 70_000 + b"}", "too_large", ""),
    ],
)
def test_bad_input_is_dead_lettered_with_reason_and_original_bytes(
    handler: RequestHandler, value: bytes, error_class: str, field: str
) -> None:
    h = handler.handle(b"k", value, SOURCE)
    assert isinstance(h, DeadLettered) and h.error_class == error_class
    (rec,) = h.records
    assert rec.topic == "pa.requests.dlq.v1" and rec.value == value and rec.key == b"k"
    headers = _headers(rec)
    assert headers["pa_error_class"] == error_class
    assert headers["pa_error_message"]
    if field:
        assert field in headers["pa_error_fields"].split(",")
    else:  # no field to name: the header is present and empty (`"" in s` holds for any s)
        assert headers["pa_error_fields"] == ""
    assert (headers["pa_source_topic"], headers["pa_source_partition"], headers["pa_source_offset"]) == (
        "pa.requests.v1",
        "3",
        "42",
    )


def test_an_engine_bug_is_dead_lettered_as_evaluation_error(
    handler: RequestHandler, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> PADetermination:
        raise ZeroDivisionError("bug")

    monkeypatch.setattr(handler_module, "evaluate", broken)
    value = (EXAMPLES / "valid" / "initial_approved.json").read_bytes()
    h = handler.handle(b"k", value, SOURCE)
    assert isinstance(h, DeadLettered) and h.error_class == "evaluation_error"
    (rec,) = h.records
    assert rec.value == value
    assert _headers(rec)["pa_error_message"] == "policy evaluation failed: ZeroDivisionError"


def test_error_messages_never_echo_input_values(handler: RequestHandler) -> None:
    data = json.loads((EXAMPLES / "valid" / "initial_approved.json").read_text())
    data["member"]["date_of_birth"] = "Quinones-1951"
    data["ecog"]["score"] = "Rosa"
    h = handler.handle(b"k", json.dumps(data).encode(), SOURCE)
    message = _headers(h.records[0])["pa_error_message"]
    assert "Quinones" not in message and "Rosa" not in message
    assert "member.date_of_birth" in message and "ecog.score" in message
