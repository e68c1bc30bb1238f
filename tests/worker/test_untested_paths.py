"""Paths no other test reached (issue 17): the past-deadline metric, the automated-denial switch
of the worker and of ``pa-worker evaluate``, the HTTP 404. Expected values come from the policy
and the README (Medicare Advantage: never deny on its own; ``denied`` only behind the switch)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from contracts import PADetermination
from worker import metrics as m
from worker.app import request_handler
from worker.config import Settings
from worker.handler import Source
from worker.http import HealthServer
from worker.records import Published

ROOT = Path(__file__).resolve().parents[2]
VALID = ROOT / "contracts" / "examples" / "valid"
SOURCE = Source("pa.requests.v1", 0, 7)
# Three lines of therapy and ECOG 3: criteria A.ii and A.iii are not met (README, "The policy, as code").
NOT_MET = VALID / "pended_clinical_review_three_lines_ecog3.json"
# The same request outside MMM_MA / MMM_MULTIHEALTH, where the switch may deny at all (issue #22,
# item 9: never an automated denial there, 42 CFR 422.566(d)).
NOT_MET_COMMERCIAL = json.dumps({**json.loads(NOT_MET.read_text()), "line_of_business": "COMMERCIAL"}).encode()


def _published(priority: str, received_at: datetime, due: datetime) -> Published:
    value = (VALID / "initial_approved.json").read_bytes()
    h = request_handler(Settings(), clock=lambda: received_at).handle(b"k", value, SOURCE)
    assert isinstance(h, Published) and h.determination is not None
    det = h.determination.model_copy(update={"priority": priority, "received_at": received_at, "decision_due_by": due})
    return Published(h.records, det)


def test_past_deadline_counted_only_when_committed_after_the_due_time() -> None:
    committed = datetime(2026, 11, 30, 12, tzinfo=UTC)
    late = _published("expedited", committed - timedelta(hours=30), committed - timedelta(hours=6))
    on_time = _published("expedited", committed - timedelta(hours=1), committed + timedelta(hours=23))
    before = m.PAST_DEADLINE.labels("expedited")._value.get()
    m.committed_metrics([late, on_time])(committed.timestamp())
    assert m.PAST_DEADLINE.labels("expedited")._value.get() - before == 1


def test_a_batch_s_metrics_keep_neither_its_determinations_nor_its_records_until_commit() -> None:
    """``committed_metrics`` reads what it needs when the batch is processed: the determinations and the
    records' bytes are freed before the commit returns (issue #25: six batches of 500 in flight held tens
    of MB), and the figures are recorded only at commit."""
    import gc
    import weakref

    committed = datetime(2026, 11, 30, 12, tzinfo=UTC)
    late = _published("expedited", committed - timedelta(hours=30), committed - timedelta(hours=6))
    det_ref = weakref.ref(late.determination)  # held by the result, so by anything holding the result
    before = m.PAST_DEADLINE.labels("expedited")._value.get()
    record = m.committed_metrics([late])
    del late
    gc.collect()
    assert det_ref() is None
    assert m.PAST_DEADLINE.labels("expedited")._value.get() == before  # nothing counted before the commit
    record(committed.timestamp())
    assert m.PAST_DEADLINE.labels("expedited")._value.get() - before == 1


@pytest.mark.parametrize(
    ("allow", "decision", "pend_reason"), [(False, "pended", "clinical_review"), (True, "denied", None)]
)
def test_worker_denies_only_behind_its_switch(allow: bool, decision: str, pend_reason: str | None) -> None:
    handler = request_handler(Settings(allow_automated_denials=allow), clock=lambda: datetime(2026, 11, 28, tzinfo=UTC))
    h = handler.handle(b"k", NOT_MET_COMMERCIAL, SOURCE)
    assert isinstance(h, Published) and h.determination is not None
    assert (h.determination.decision, h.determination.pend_reason) == (decision, pend_reason)
    assert {c.result for c in h.determination.criteria} >= {"not_met"}


def test_worker_never_denies_missing_information_even_with_the_switch() -> None:
    handler = request_handler(Settings(allow_automated_denials=True))
    h = handler.handle(b"k", (VALID / "pended_missing_information_no_ecog.json").read_bytes(), SOURCE)
    assert isinstance(h, Published) and h.determination is not None
    assert (h.determination.decision, h.determination.pend_reason) == ("pended", "missing_information")


@pytest.mark.parametrize(("flag", "decision"), [((), "pended"), (("--allow-automated-denials",), "denied")])
def test_evaluate_cli_denies_only_with_the_flag(flag: tuple[str, ...], decision: str, tmp_path: Path) -> None:
    request = tmp_path / "not_met_commercial.json"
    request.write_bytes(NOT_MET_COMMERCIAL)
    env = {k: v for k, v in os.environ.items() if k != "PA_ALLOW_AUTOMATED_DENIALS"}
    proc = subprocess.run(
        [sys.executable, "-m", "worker.cli", "evaluate", str(request), *flag],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    (line,) = proc.stdout.splitlines()
    det = PADetermination.model_validate_json(line)
    assert det.decision == decision
    assert det.pend_reason == (None if decision == "denied" else "clinical_review")


async def test_unknown_path_answers_404() -> None:
    server = HealthServer("127.0.0.1", 0, lambda: (True, "ready"))
    port = await server.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 5)
        writer.close()
    finally:
        await server.stop()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 404 Not Found\r\n")
    assert body == b"not found\n"
