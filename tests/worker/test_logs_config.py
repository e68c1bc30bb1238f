"""Logging never carries patient data; configuration fails fast with one clear line."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
import structlog

from worker import logs
from worker.config import ENV_NAMES, Settings, describe, load


@pytest.fixture
def captured() -> io.StringIO:
    stream = io.StringIO()
    logs.configure("json", "debug", stream=stream)
    yield stream
    structlog.reset_defaults()


def test_scrubber_removes_patient_identifiers_everywhere(captured: io.StringIO) -> None:
    log = logs.get_logger("t")
    log.info(
        "evaluated",
        request_id="REQ-1",
        determination_id="DET-1",
        member_id="M00012345",
        first_name="Rosa",
        last_name="Quinones",
        date_of_birth="1951-03-14",
        member={"member_id": "M00012345", "date_of_birth": "1951-03-14"},
        nested={"request": {"member": {"first_name": "Rosa"}, "dob": "1951-03-14"}},
        key=b"M00012345",
    )
    out = captured.getvalue()
    for secret in ("M00012345", "Rosa", "Quinones", "1951-03-14"):
        assert secret not in out
    event = json.loads(out)
    assert event["request_id"] == "REQ-1"
    assert event["determination_id"] == "DET-1"
    assert event["member_id"] == logs.REDACTED


def test_console_format_is_readable() -> None:
    stream = io.StringIO()
    logs.configure("console", "info", stream=stream)
    logs.get_logger("t").info("hello", request_id="R1", last_name="Quinones")
    structlog.reset_defaults()
    text = stream.getvalue()
    assert "hello" in text and "R1" in text and "Quinones" not in text


def test_defaults_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "broker:9093")
    monkeypatch.setenv("PA_BATCH_MAX_RECORDS", "250")
    s = load()
    assert s.bootstrap_servers == "broker:9093"
    assert s.batch_max_records == 250
    assert s.allow_automated_denials is False
    assert s.reauth_lead_days == 30
    assert s.metrics_port == 9108


def test_sasl_needs_credentials() -> None:
    with pytest.raises(ValueError, match="PA_KAFKA_SASL_MECHANISM"):
        Settings(kafka_security_protocol="SASL_SSL")
    s = Settings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="u",
        kafka_sasl_password="p",
    )  # type: ignore[arg-type]
    kw = s.kafka_kwargs()
    assert kw["sasl_mechanism"] == "SCRAM-SHA-512" and kw["sasl_plain_password"] == "p"
    assert "ssl_context" in kw
    assert "**********" in repr(s.kafka_sasl_password)


def test_invalid_configuration_fails_with_one_clear_line() -> None:
    env = {"PATH": "/usr/bin:/bin", "PA_BATCH_MAX_RECORDS": "lots", "PA_METRICS_PORT": "99999"}
    proc = subprocess.run(
        [sys.executable, "-m", "worker.cli", "run"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "PA_BATCH_MAX_RECORDS" in lines[0] and "PA_METRICS_PORT" in lines[0]


def test_run_help_documents_every_setting() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "worker.cli", "run", "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0
    for env in ENV_NAMES.values():
        assert env in proc.stdout, env
    assert describe() in proc.stdout


def test_library_logs_are_json_and_scrubbed_like_the_workers_own() -> None:
    """aiokafka logs through the standard library: in production its lines are JSON too, with
    the level, the logger's name and a timestamp, and patient data passed as ``extra`` is
    redacted by the same scrubber."""
    import io
    import json
    import logging

    stream = io.StringIO()
    try:
        logs.configure("json", "info", stream=stream)
        logs.configure("json", "info", stream=stream)  # configured twice: still one line per record
        logging.getLogger("aiokafka.consumer.group_coordinator").warning(
            "Heartbeat failed for group %s", "pa-worker", extra={"member_id": "MBR-123456", "partition": 3}
        )
        logging.getLogger("aiokafka").info("below warning: not shown")
    finally:
        logs.configure("json", "info")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1, lines
    event = json.loads(lines[0])
    assert event["event"] == "Heartbeat failed for group pa-worker"
    assert event["level"] == "warning"
    assert event["logger"] == "aiokafka.consumer.group_coordinator"
    assert "timestamp" in event and event["partition"] == 3
    assert event["member_id"] == logs.REDACTED
    assert "MBR-123456" not in lines[0]
