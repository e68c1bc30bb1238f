"""The golden clinical cases: each gives exactly the outcome the policy reading expects."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date

import pytest

from policy.criteria import CODES
from tests.policy.factory import strictly_valid
from tests.policy.golden import TABLE_FILE, Case, load, render, run

CASES = load()


def test_there_are_at_least_sixty_cases_and_the_table_is_current() -> None:
    assert len(CASES) >= 60
    assert TABLE_FILE.read_text() == render(CASES), "run: .venv/bin/python -m tests.policy.golden"


def test_every_code_in_the_cases_is_a_known_code() -> None:
    for case in CASES:
        for cid, code in {**case.not_met, **case.missing}.items():
            outcome = "not_met" if cid in case.not_met else "missing"
            assert code in CODES, (case.name, code)
            assert CODES[code][0] == outcome, (case.name, code)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_golden_case(case: Case) -> None:
    outcome = run(case)
    det = strictly_valid(outcome.determination)
    got = {c.id: (c.result, outcome.codes[c.id]) for c in det.criteria}
    expected = case.expected_results(det.request_type)
    assert set(got) == set(expected)
    for cid, (result, code) in expected.items():
        assert got[cid][0] == result, (cid, got[cid], next(c.reason for c in det.criteria if c.id == cid))
        if code is not None:
            assert got[cid][1] == code, (cid, got[cid])
    assert (det.decision, det.pend_reason) == (case.decision, case.pend_reason)
    auth = det.authorization
    if case.decision == "approved":
        assert auth is not None
        if case.max_units is not None:
            assert auth.max_units == case.max_units
        if case.valid_from is not None:
            assert auth.valid_from == date.fromisoformat(case.valid_from)
        if case.valid_through is not None:
            assert auth.valid_through == date.fromisoformat(case.valid_through)
    else:
        assert auth is None
        assert case.max_units is None and case.valid_from is None, "units and period are for approvals"
    for cid, phrases in case.reason.items():
        reason = next(c.reason for c in det.criteria if c.id == cid)
        for phrase in phrases:
            assert phrase in reason, (cid, phrase, reason)


def test_pa_worker_evaluate_gives_each_case_its_expected_answer() -> None:
    """The command line, as a reviewer would run it: `pa-worker evaluate -` on the cases' requests."""
    offline = [c for c in CASES if c.now is None and not c.settings]
    lines = "".join(json.dumps(c.request_data(), ensure_ascii=False) + "\n" for c in offline)
    proc = subprocess.run(
        [sys.executable, "-m", "worker.cli", "evaluate", "-"],
        input=lines.encode(),
        capture_output=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    dets = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert len(dets) == len(offline) >= 60
    for case, det in zip(offline, dets, strict=True):
        assert (det["decision"], det["pend_reason"]) == (case.decision, case.pend_reason), case.name
        if case.max_units is not None:
            assert det["authorization"]["max_units"] == case.max_units, case.name
