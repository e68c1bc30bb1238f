"""Every valid contract example, evaluated: its file name says the expected outcome."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contracts import PADetermination
from tests.policy.factory import EXAMPLES, run, strictly_valid

VALID = sorted((EXAMPLES / "valid").glob("*.json"))


def expected(name: str) -> tuple[str, str | None]:
    if "_approved" in name or name.startswith("approved"):
        return "approved", None
    if "missing_information" in name:
        return "pended", "missing_information"
    if "pended" in name:  # pended_clinical_review_*, continuation_pended_progression
        return "pended", "clinical_review"
    raise AssertionError(f"cannot tell the expected outcome from {name}")


@pytest.mark.parametrize("path", VALID, ids=[p.stem for p in VALID])
def test_example(path: Path) -> None:
    det = run(json.loads(path.read_text()))
    assert isinstance(strictly_valid(det), PADetermination)
    decision, pend_reason = expected(path.stem)
    assert (det.decision, det.pend_reason) == (decision, pend_reason), [
        (c.id, c.result, c.reason) for c in det.criteria if c.result != "met"
    ]


def test_examples_cover_every_outcome() -> None:
    outcomes = {expected(p.stem) for p in VALID}
    assert outcomes == {("approved", None), ("pended", "clinical_review"), ("pended", "missing_information")}
