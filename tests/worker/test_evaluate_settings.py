"""``pa-worker evaluate`` reads the worker's settings as ``pa-worker run`` does (issue #22, items 9
and 10): the automated-denial switch from ``PA_ALLOW_AUTOMATED_DENIALS`` through the one conversion
``worker.config.policy_settings`` (the command line's switch overriding it), and, with ``--now``,
the worker's rule for a request received in the future."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from offline import evaluate as evaluate_module
from offline.evaluate import ERROR_KIND, run_evaluate
from policy import DEFAULT_SETTINGS, PolicySettings
from worker import cli
from worker.app import request_handler
from worker.config import Settings, load, policy_settings
from worker.handler import Source, evaluation_time
from worker.records import DeadLettered, Published

VALID = Path(__file__).resolve().parents[2] / "contracts" / "examples" / "valid"
# Line of business COMMERCIAL_PPO: out of scope (LOB not met), so denied when automated denials
# are allowed. Outside MMM_MA / MMM_MULTIHEALTH, where automated denials are never issued.
OUT_OF_SCOPE = VALID / "pended_clinical_review_out_of_scope.json"
NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
NOW_ARG = "2026-11-28T12:00:00Z"
SOURCE = Source("pa.requests.v1", 0, 0)


@pytest.fixture(autouse=True)
def _no_worker_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("PA_ALLOW_AUTOMATED_DENIALS", "PA_MAX_MESSAGE_BYTES", "PA_FUTURE_RECEIVED_AT_TOLERANCE_SECONDS"):
        monkeypatch.delenv(var, raising=False)


def _evaluate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict[str, Any]], list[dict[str, Any]]]:
    rc = cli.main(["evaluate", *args])
    captured = capsys.readouterr()
    return rc, [json.loads(x) for x in captured.out.splitlines()], [json.loads(x) for x in captured.err.splitlines()]


def _run_handler(value: bytes) -> dict[str, Any]:
    """What ``pa-worker run``'s handler publishes for ``value`` on a clock at NOW, settings from the environment."""
    h = request_handler(load(), clock=lambda: NOW).handle(b"k", value, SOURCE)
    assert isinstance(h, Published) and h.determination is not None
    return json.loads(h.determination.model_dump_json())


@pytest.mark.parametrize("env", [None, "true", "false"])
def test_evaluate_gives_what_run_gives_under_the_same_environment(
    env: str | None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if env is not None:
        monkeypatch.setenv("PA_ALLOW_AUTOMATED_DENIALS", env)
    rc, (det,), errors = _evaluate(capsys, str(OUT_OF_SCOPE), "--now", NOW_ARG)
    assert (rc, errors) == (0, [])
    assert det == _run_handler(OUT_OF_SCOPE.read_bytes())
    assert det["decision"] == ("denied" if env == "true" else "pended")


@pytest.mark.parametrize(
    ("env", "flag", "decision"),
    [("false", "--allow-automated-denials", "denied"), ("true", "--no-allow-automated-denials", "pended")],
)
def test_the_command_line_switch_overrides_the_environment(
    env: str, flag: str, decision: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PA_ALLOW_AUTOMATED_DENIALS", env)
    rc, (det,), _ = _evaluate(capsys, str(OUT_OF_SCOPE), flag)
    assert (rc, det["decision"]) == (0, decision)


def test_evaluate_passes_run_s_settings(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The very objects: the policy settings of the one conversion, the size limit and the tolerance."""
    monkeypatch.setenv("PA_ALLOW_AUTOMATED_DENIALS", "true")
    monkeypatch.setenv("PA_MAX_MESSAGE_BYTES", "2048")
    monkeypatch.setenv("PA_FUTURE_RECEIVED_AT_TOLERANCE_SECONDS", "60")
    seen: dict[str, Any] = {}

    def spy(*args: Any, **kwargs: Any) -> int:
        seen.update(kwargs)
        return 0

    monkeypatch.setattr(evaluate_module, "run_evaluate", spy)
    assert cli.main(["evaluate", str(OUT_OF_SCOPE)]) == 0
    expected: PolicySettings = policy_settings(load())
    versions = seen["settings"]  # the policy versions run decides with (worker.config.policy_versions)
    assert [v.settings for v in versions.versions] == [expected] and expected == request_handler(load()).settings
    assert expected != DEFAULT_SETTINGS and expected.allow_automated_denials
    assert seen["max_message_bytes"] == 2048
    assert seen["future_tolerance"] == timedelta(seconds=60) == request_handler(load()).future_tolerance


def _received(at: datetime) -> bytes:
    data = json.loads((VALID / "initial_approved.json").read_text())
    data["received_at"] = at.isoformat().replace("+00:00", "Z")
    return json.dumps(data).encode()


def _offline(value: bytes, now: datetime | None) -> tuple[int, list[dict[str, Any]], list[dict[str, Any]]]:
    out, err = io.StringIO(), io.StringIO()
    tolerance = timedelta(seconds=Settings().future_received_at_tolerance_seconds)
    rc = run_evaluate(io.BytesIO(value), out, err, now=now, settings=DEFAULT_SETTINGS, future_tolerance=tolerance)
    return (
        rc,
        [json.loads(x) for x in out.getvalue().splitlines()],
        [json.loads(x) for x in err.getvalue().splitlines()],
    )


def test_with_now_a_request_received_in_the_future_is_an_error_as_in_run() -> None:
    tolerance = timedelta(seconds=300)
    late = _received(NOW + tolerance + timedelta(seconds=1))
    handled = request_handler(Settings(), clock=lambda: NOW).handle(b"k", late, SOURCE)
    assert isinstance(handled, DeadLettered) and handled.error_class == "received_in_future"
    rc, dets, (error,) = _offline(late, NOW)
    assert (rc, dets) == (1, [])
    assert error["error"] == ERROR_KIND["received_in_future"] == "received_in_future"
    assert [e["field"] for e in error["errors"]] == ["received_at"]
    assert error["errors"][0]["message"] == dict(handled.record.headers)["pa_error_message"].decode()


def test_with_now_a_request_ahead_within_the_tolerance_is_decided_at_its_receipt() -> None:
    soon = NOW + timedelta(seconds=1)
    rc, (det,), errors = _offline(_received(soon), NOW)
    assert (rc, errors) == (0, [])
    handled = request_handler(Settings(), clock=lambda: NOW).handle(b"k", _received(soon), SOURCE)
    assert isinstance(handled, Published) and handled.determination is not None
    assert det == json.loads(handled.determination.model_dump_json())
    assert det["decided_at"] == det["received_at"] == "2026-11-28T12:00:01Z"


def test_without_now_a_future_request_is_evaluated_at_its_receipt_as_before() -> None:
    far = NOW + timedelta(days=30)
    rc, (det,), errors = _offline(_received(far), None)
    assert (rc, errors) == (0, [])
    assert det["decided_at"] == det["received_at"]


def test_the_cli_reads_the_tolerance_only_with_now(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "soon.json"
    path.write_bytes(_received(NOW + timedelta(seconds=90)))
    rc, dets, errors = _evaluate(capsys, str(path), "--now", NOW_ARG)
    assert (rc, len(dets), errors) == (0, 1, [])
    monkeypatch.setenv("PA_FUTURE_RECEIVED_AT_TOLERANCE_SECONDS", "60")
    rc, dets, (error,) = _evaluate(capsys, str(path), "--now", NOW_ARG)
    assert (rc, dets, error["error"]) == (1, [], "received_in_future")
    rc, dets, errors = _evaluate(capsys, str(path))
    assert (rc, len(dets), errors) == (0, 1, [])


def test_evaluation_time_is_one_rule() -> None:
    from contracts import PARequest

    request = PARequest.model_validate_json(_received(NOW))
    tolerance = timedelta(seconds=300)
    assert evaluation_time(request, NOW + timedelta(hours=1), tolerance) == NOW + timedelta(hours=1)
    assert evaluation_time(request, NOW, tolerance) is NOW
    assert evaluation_time(request, NOW - tolerance, tolerance) is request.received_at
    rejected = evaluation_time(request, NOW - tolerance - timedelta(microseconds=1), tolerance)
    assert not isinstance(rejected, datetime) and rejected.error_class == "received_in_future"
