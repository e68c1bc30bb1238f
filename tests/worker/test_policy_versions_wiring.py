"""``pa-worker run`` decides each request with the policy version in effect on its local receipt date
(issue #26 item 1), and shadow mode's candidate decides every request (item 3). Without a broker: the
handler and the settings, as app.py wires them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from contracts import PADetermination
from policy import DEFAULT_SETTINGS
from policy.versions import VersionError
from tests.policy.factory import example
from worker.app import request_handler, shadow_processor
from worker.config import Settings, policy_versions, shadow_version
from worker.records import Published, Source

CANDIDATE = 'effective_from = 2026-12-15\nversion = "2026-12-10.1"\nstep_up_whole_vial_billing = false\n'
SOURCE = Source("pa.requests.v1", 0, 0)


def _request(received_at: str) -> bytes:
    data = example("initial_approved")
    data["received_at"] = received_at
    data["drug"]["requested_start_date"] = "2026-12-16"
    return json.dumps(data).encode()


def _decided(settings: Settings, value: bytes) -> PADetermination:
    handler = request_handler(settings, clock=lambda: datetime(2026, 12, 15, 12, tzinfo=UTC))
    result = handler.handle(b"k", value, SOURCE)
    assert isinstance(result, Published) and result.determination is not None
    return result.determination


def test_the_version_in_effect_on_the_local_receipt_date_decides(tmp_path: Path) -> None:
    path = tmp_path / "candidate.toml"
    path.write_text(CANDIDATE)
    settings = Settings(policy_version_files=str(path))
    # 23:30 in San Juan on 14 December (03:30 UTC on the 15th): the version before the candidate
    before = _decided(settings, _request("2026-12-15T03:30:00Z"))
    assert before.policy.version == DEFAULT_SETTINGS.version
    # the 15th in San Juan: the candidate, which bills the 12 and 32 mg step-up doses at the dose:
    # 12 + 32 + 76 + 24 x 76 = 1944 instead of 44 + 44 + 76 + 1824 = 1988 (R20)
    after = _decided(settings, _request("2026-12-15T04:30:00Z"))
    assert after.policy.version == "2026-12-10.1" and after.authorization is not None
    assert after.authorization.max_units == 1944
    assert before.authorization is not None and before.authorization.max_units == 1988
    assert after.policy.engine_version == before.policy.engine_version  # same code, other parameters


def test_a_bad_version_file_names_the_file_and_the_field(tmp_path: Path) -> None:
    path = tmp_path / "candidate.toml"
    path.write_text(CANDIDATE + "ecog_window_dayz = 45\n")
    with pytest.raises(VersionError, match=r"candidate\.toml: ecog_window_dayz"):
        policy_versions(Settings(policy_version_files=str(path)))
    with pytest.raises(VersionError, match=r"missing\.toml"):
        policy_versions(Settings(policy_version_files=str(tmp_path / "missing.toml")))


def test_the_workers_automated_denial_switch_applies_to_every_version(tmp_path: Path) -> None:
    path = tmp_path / "candidate.toml"
    path.write_text(CANDIDATE + "allow_automated_denials = true\n")
    versions = policy_versions(Settings(policy_version_files=str(path)))
    assert all(v.settings.allow_automated_denials is False for v in versions.versions)


def test_shadow_mode_decides_every_request_with_the_candidate_and_writes_only_its_topic(tmp_path: Path) -> None:
    path = tmp_path / "candidate.toml"
    path.write_text(CANDIDATE)
    settings = Settings(shadow_version_file=str(path))
    assert shadow_version(Settings()) is None and shadow_processor(Settings(), lambda: datetime.now(UTC)) is None
    shadow = shadow_processor(settings, lambda: datetime(2026, 11, 27, 16, tzinfo=UTC))
    assert shadow is not None
    assert (shadow.spec.role, shadow.spec.group_id, tuple(shadow.spec.outputs)) == (
        "shadow",
        "pa-worker-shadow",
        ("pa.determinations.shadow.v1",),
    )
    assert shadow.spec.store is None  # no request index: the live stage owns deduplication
    # a request received before the candidate's effective date: shadow mode applies it anyway
    result = shadow.handle(b"k", _request("2026-11-27T15:04:05Z"), SOURCE)
    assert isinstance(result, Published) and result.determination is not None
    assert result.determination.policy.version == "2026-12-10.1"
    assert {r.topic for r in result.records} == {"pa.determinations.shadow.v1"}
    # bad input is the live stage's to dead-letter: the shadow writes nothing for it
    assert shadow.handle(b"k", b"{not json", SOURCE) == Published(())


def test_a_review_is_decided_under_the_version_that_decided_its_pend(tmp_path: Path) -> None:
    from contracts import PARequest, PAReview
    from policy import evaluate
    from worker.pends import Decided, PendBook, inbox_record

    path = tmp_path / "candidate.toml"
    path.write_text(CANDIDATE.replace("2026-12-15", "2026-11-01"))  # in effect at the example's receipt
    versions = policy_versions(Settings(policy_version_files=str(path)))
    raw = json.dumps(example("pended_clinical_review_three_lines_ecog3")).encode()
    request = PARequest.model_validate_json(raw)
    pended = evaluate(request, request.received_at, versions.for_receipt(request.received_at))
    assert pended.decision == "pended" and pended.policy.version == "2026-12-10.1"
    book = PendBook()
    book.take_inbox(0, inbox_record(pended, raw).model_dump_json().encode())
    review = json.loads(
        (
            Path(__file__).resolve().parents[2] / "contracts/examples/pa.review/valid/approved_by_physician.json"
        ).read_text()
    )
    review.update(determination_id=pended.determination_id, request_id=pended.request_id, member_id=pended.member_id)
    result = book.review(PAReview.model_validate_json(json.dumps(review)), datetime(2026, 11, 28, tzinfo=UTC), versions)
    assert isinstance(result, Decided)
    final = result.determination
    # the candidate bills step-up doses at the dose: 1944 units for 2026-12-01..2027-05-31, not 1988 (R20)
    assert final.policy.version == "2026-12-10.1"
    assert final.authorization is not None and final.authorization.max_units == 1944
