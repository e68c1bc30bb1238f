"""One record in, output records out, without a broker: DLQ classes, headers, original bytes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from contracts import PADetermination
from policy import DEFAULT_SETTINGS
from worker import handler as handler_module
from worker.app import request_handler
from worker.config import Settings
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


# -- a request received in the future (issue #22, item 10) ----------------------------------------

TOLERANCE = timedelta(seconds=Settings.model_fields["future_received_at_tolerance_seconds"].default)


def _received(at: datetime) -> bytes:
    data = json.loads((EXAMPLES / "valid" / "initial_approved.json").read_text())
    data["received_at"] = at.isoformat().replace("+00:00", "Z")
    return json.dumps(data).encode()


def test_the_tolerance_defaults_to_five_minutes() -> None:
    assert TOLERANCE == timedelta(seconds=300) == RequestHandler(DEFAULT_SETTINGS, Topics(), 65_536).future_tolerance


@pytest.mark.parametrize("ahead", [timedelta(seconds=1), TOLERANCE], ids=["1s", "tolerance"])
def test_a_request_ahead_of_the_clock_within_the_tolerance_is_evaluated_at_its_receipt(
    handler: RequestHandler, ahead: timedelta
) -> None:
    h = handler.handle(b"k", _received(NOW + ahead), SOURCE)
    assert isinstance(h, Published) and h.determination is not None
    assert h.determination.decision == "approved"
    assert h.determination.decided_at == h.determination.received_at == NOW + ahead, "never decided before receipt"


def test_a_request_ahead_of_the_clock_beyond_the_tolerance_is_dead_lettered(handler: RequestHandler) -> None:
    value = _received(NOW + TOLERANCE + timedelta(seconds=1))
    h = handler.handle(b"M00012345", value, SOURCE)
    assert isinstance(h, DeadLettered) and h.error_class == "received_in_future"
    (rec,) = h.records
    assert (rec.topic, rec.key, rec.value) == ("pa.requests.dlq.v1", b"M00012345", value), "original bytes kept"
    headers = _headers(rec)
    assert headers["pa_error_class"] == "received_in_future"
    assert headers["pa_error_fields"] == "received_at"
    message = headers["pa_error_message"]
    assert "300 s" in message and "PA_FUTURE_RECEIVED_AT_TOLERANCE_SECONDS" in message
    assert "2026" not in message and "M00012345" not in message, "the message never echoes input values"


def test_the_worker_reads_its_tolerance_from_the_settings() -> None:
    """``pa-worker run``'s handler (worker.app.request_handler) takes PA_FUTURE_RECEIVED_AT_TOLERANCE_SECONDS."""
    strict = request_handler(Settings(future_received_at_tolerance_seconds=0), clock=lambda: NOW)
    h = strict.handle(b"k", _received(NOW + timedelta(seconds=1)), SOURCE)
    assert isinstance(h, DeadLettered) and h.error_class == "received_in_future"
    assert isinstance(strict.handle(b"k", _received(NOW), SOURCE), Published)
    lenient = request_handler(Settings(future_received_at_tolerance_seconds=3600), clock=lambda: NOW)
    assert isinstance(lenient.handle(b"k", _received(NOW + timedelta(minutes=59)), SOURCE), Published)


def test_a_request_received_in_the_past_is_evaluated_on_the_clock(handler: RequestHandler) -> None:
    h = handler.handle(b"k", _received(NOW - timedelta(days=1)), SOURCE)
    assert isinstance(h, Published) and h.determination is not None and h.determination.decided_at == NOW
