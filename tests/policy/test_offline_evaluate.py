"""``offline.evaluate.run_evaluate``: the offline evaluator behind ``pa-worker evaluate``."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from contracts import PADetermination
from offline.evaluate import run_evaluate
from policy import DEFAULT_SETTINGS
from tests.policy.factory import EXAMPLES, change, continuation, initial, set_

VALID = sorted((EXAMPLES / "valid").glob("*.json"))
INVALID = sorted((EXAMPLES / "invalid").glob("*"))
# The field each invalid example's error must name (as in tests/contracts).
EXPECTED_FIELD = {
    "bad_npi_check_digit.json": "prescriber.npi",
    "continuation_missing.json": "$",
    "timestamp_without_offset.json": "received_at",
    "request_id_bad_charset.json": "request_id",
    "ecog_out_of_range.json": "ecog.score",
    "ecog_score_string.json": "ecog.score",
    "unknown_schema_version.json": "schema_version",
    "priority_not_in_enum.json": "priority",
    "member_id_missing.json": "member.member_id",
    "not_json.txt": "$",
}


def _line(data: dict[str, Any]) -> bytes:
    return json.dumps(data).encode()


def _run(data: bytes, now: datetime | None = None) -> tuple[int, list[dict[str, Any]], list[dict[str, Any]], str]:
    out, err = io.StringIO(), io.StringIO()
    rc = run_evaluate(io.BytesIO(data), out, err, now=now, settings=DEFAULT_SETTINGS)
    dets = [json.loads(x) for x in out.getvalue().splitlines()]
    errors = [json.loads(x) for x in err.getvalue().splitlines()]
    return rc, dets, errors, out.getvalue()


def test_json_lines_mixed_valid_and_invalid() -> None:
    bad_npi = change(initial(), set_("prescriber.npi", "1234567890"))
    data = (
        b"\n".join(
            [
                _line(initial()),
                b"",
                b"{not json",
                _line(bad_npi),
                b"   ",
                _line(continuation()),
            ]
        )
        + b"\n"
    )
    rc, dets, errors, _ = _run(data)
    assert rc == 1
    assert [d["request_id"] for d in dets] == ["REQ-2026-000101", "REQ-2026-000107"]  # input order
    for d in dets:
        PADetermination.model_validate_json(json.dumps(d))
    assert errors == [
        {"line": 3, "error": "not_json", "errors": [{"field": "$", "message": errors[0]["errors"][0]["message"]}]},
        {
            "line": 4,
            "error": "validation_error",
            "errors": [
                {"field": "prescriber.npi", "message": "Value error, must be a 10-digit NPI with a valid check digit"},
            ],
        },
    ]


def test_all_valid_exits_0() -> None:
    rc, dets, errors, _ = _run(_line(initial()) + b"\n" + _line(continuation()))
    assert (rc, len(dets), errors) == (0, 2, [])


def test_byte_identical_reruns() -> None:
    data = b"\n".join(_line(json.loads(p.read_text())) for p in VALID)
    first, second = _run(data), _run(data)
    assert first[3] == second[3]
    assert len(first[1]) == len(VALID)


def test_decided_at_is_received_at_unless_now_given() -> None:
    _, (det,), _, _ = _run(_line(initial()))
    assert det["decided_at"] == det["received_at"] == "2026-11-27T15:04:05Z"
    now = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
    _, (later,), _, _ = _run(_line(initial()), now=now)
    assert later["decided_at"] == "2026-11-28T08:00:00Z"
    assert later["determination_id"] == det["determination_id"]


def test_pretty_printed_single_request_file() -> None:
    path = EXAMPLES / "valid" / "initial_approved.json"
    rc, dets, errors, _ = _run(path.read_bytes())
    assert (rc, errors) == (0, [])
    assert [(d["request_id"], d["decision"]) for d in dets] == [("REQ-2026-000101", "approved")]


def test_json_array_of_requests() -> None:
    bad = change(initial(), set_("priority", "urgent"))
    data = json.dumps([initial(), bad, continuation()], indent=2).encode()
    rc, dets, errors, _ = _run(data)
    assert rc == 1
    assert [d["request_id"] for d in dets] == ["REQ-2026-000101", "REQ-2026-000107"]
    assert [(e["line"], e["item"], e["errors"][0]["field"]) for e in errors] == [(1, 2, "priority")]


@pytest.mark.parametrize("path", INVALID, ids=[p.name for p in INVALID])
def test_each_invalid_example_gives_one_error_naming_the_field(path: Path) -> None:
    rc, dets, errors, _ = _run(path.read_bytes())
    assert (rc, dets) == (1, [])
    assert len(errors) == 1
    (error,) = errors
    assert error["line"] == 1
    assert EXPECTED_FIELD[path.name] in [e["field"] for e in error["errors"]]
    assert error["error"] == ("not_json" if path.suffix == ".txt" else "validation_error")


def test_errors_never_echo_input_values() -> None:
    bad = change(initial(), set_("prescriber.npi", "9876543210"), set_("member.first_name", ""))
    _, _, errors, _ = _run(_line(bad))
    text = json.dumps(errors)
    assert "9876543210" not in text and "Quinones" not in text
    assert {e["field"] for e in errors[0]["errors"]} == {"prescriber.npi", "member.first_name"}


def test_empty_input() -> None:
    assert _run(b"") == (0, [], [], "")
    assert _run(b"\n\n  \n") == (0, [], [], "")


def test_concatenated_pretty_printed_files() -> None:
    """``cat contracts/examples/valid/*.json | pa-worker evaluate -``: positions are start lines."""
    first = (EXAMPLES / "valid" / "initial_approved.json").read_bytes()
    bad = (EXAMPLES / "invalid" / "bad_npi_check_digit.json").read_bytes()
    data = first + b"\n" + bad + continuation_bytes()
    rc, dets, errors, _ = _run(data)
    assert rc == 1
    assert [d["request_id"] for d in dets] == ["REQ-2026-000101", "REQ-2026-000107"]
    assert [(e["line"], e["errors"][0]["field"]) for e in errors] == [(first.count(b"\n") + 2, "prescriber.npi")]


def continuation_bytes() -> bytes:
    return json.dumps(continuation(), indent=2).encode()
