"""The wire format: examples, validation rules, and drift of the generated schema files."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from contracts import PARequest, npi_is_valid
from contracts.export import drift, generate

EXAMPLES = Path(__file__).resolve().parents[2] / "contracts" / "examples"
VALID = sorted((EXAMPLES / "valid").glob("*.json"))
INVALID = sorted((EXAMPLES / "invalid").glob("*"))

# For each invalid example, the field its error must name.
EXPECTED_FIELD = {
    "bad_npi_check_digit.json": "prescriber.npi",
    "continuation_missing.json": "continuation",
    "timestamp_without_offset.json": "received_at",
    "request_id_bad_charset.json": "request_id",
    "ecog_out_of_range.json": "ecog.score",
    "ecog_score_string.json": "ecog.score",
    "unknown_schema_version.json": "schema_version",
    "priority_not_in_enum.json": "priority",
    "member_id_missing.json": "member.member_id",
    "not_json.txt": "JSON",
}


def _described(err: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())


def test_examples_cover_every_outcome() -> None:
    names = {p.stem for p in VALID}
    assert any("approved" in n for n in names)
    assert any("missing_information" in n for n in names)
    assert any("clinical_review" in n for n in names)
    assert any(n.startswith("continuation") for n in names)
    assert set(EXPECTED_FIELD) == {p.name for p in INVALID}


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid_examples_validate(path: Path) -> None:
    req = PARequest.model_validate_json(path.read_bytes())
    assert req.schema_version == "1"
    # Round trip: what we serialize, we accept back unchanged.
    assert PARequest.model_validate_json(req.model_dump_json()) == req


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_examples_are_rejected_naming_the_field(path: Path) -> None:
    with pytest.raises(ValidationError) as info:
        PARequest.model_validate_json(path.read_bytes())
    assert EXPECTED_FIELD[path.name] in _described(info.value)


@pytest.mark.parametrize(
    ("npi", "ok"),
    [("1234567893", True), ("1234567890", False), ("123456789", False), ("12345678a3", False)],
)
def test_npi_check_digit(npi: str, ok: bool) -> None:
    assert npi_is_valid(npi) is ok


def _base() -> dict[str, object]:
    data: dict[str, object] = json.loads((EXAMPLES / "valid" / "initial_approved.json").read_text())
    return data


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d.update(received_at="2026-11-27"), "received_at"),
        (lambda d: d.update(received_at=1764255845), "received_at"),
        (lambda d: d.update(received_at="2026-11-27 15:04:05Z"), "received_at"),  # RFC 3339 5.6: T, not space
        (lambda d: d.update(received_at="2026-11-27T15:04:05.1234567891Z"), "received_at"),
        (lambda d: d.update(request_id="x" * 65), "request_id"),
        (lambda d: d.update(request_id=""), "request_id"),
        (lambda d: d["member"].update(first_name="y" * 101), "member.first_name"),
        (lambda d: d["diagnosis"].update(icd10_codes=["C90.02"] * 26), "diagnosis.icd10_codes"),
        (lambda d: d["diagnosis"].update(disease_status="smouldering"), "diagnosis.disease_status"),
        (lambda d: d.update(prior_lines=d["prior_lines"] * 11), "prior_lines"),
        (lambda d: d["prior_lines"][0].update(regimen=["x" * 101]), "prior_lines.0.regimen.0"),
        (lambda d: d.update(documents=[{"type": "fax", "date": "2026-11-01", "id": "D"}]), "documents.0.type"),
        (lambda d: d.update(continuation={"prior_authorization_id": "A"}), "continuation"),
        (lambda d: d["drug"].update(requested_units="100"), "drug.requested_units"),
        (lambda d: d["ecog"].update(score=-1), "ecog.score"),
    ],
)
def test_rules_reject_with_field(mutate, field: str) -> None:  # type: ignore[no-untyped-def]
    data = _base()
    mutate(data)
    with pytest.raises(ValidationError) as info:
        PARequest.model_validate_json(json.dumps(data))
    assert field in _described(info.value)


def test_unknown_fields_are_ignored_for_forward_compatibility() -> None:
    data = _base()
    data["new_optional_field"] = {"anything": 1}
    assert PARequest.model_validate_json(json.dumps(data)).request_id == data["request_id"]


def test_lower_case_t_and_z_are_accepted_as_rfc_3339_allows() -> None:
    data = _base()
    data["received_at"] = "2026-11-27t15:04:05z"
    assert PARequest.model_validate_json(json.dumps(data)).received_at.isoformat() == "2026-11-27T15:04:05+00:00"


def test_offsets_other_than_utc_are_accepted() -> None:
    data = _base()
    data["received_at"] = "2026-11-27T11:04:05.123-04:00"
    received = PARequest.model_validate_json(json.dumps(data)).received_at
    assert received.utcoffset() == timedelta(hours=-4)  # San Juan's offset, kept as sent
    assert received.astimezone(UTC) == datetime(2026, 11, 27, 15, 4, 5, 123000, tzinfo=UTC)


def test_committed_schema_files_match_the_models() -> None:
    assert drift() == [], "run `make contracts` and commit contracts/schemas"


def test_asyncapi_document_names_every_topic() -> None:
    doc = json.loads(generate()["asyncapi.json"])
    assert doc["asyncapi"].startswith("3.")
    addresses = {c["address"] for c in doc["channels"].values()}
    assert addresses == {
        "pa.requests.v1",
        "pa.determinations.v1",
        "pa.reauth-due.v1",
        "pa.requests.dlq.v1",
        "pa.reviews.v1",  # the review system publishes, the worker receives (#15)
        "pa.reviews.dlq.v1",
        "pa.decision-clock.v1",
        "pa.notices.v1",  # the letter system publishes, the worker receives (#23)
        "pa.notices.dlq.v1",
    }
