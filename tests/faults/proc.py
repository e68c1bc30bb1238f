"""Test-only entry point: ``pa-worker run`` (or the scheduler alone) with a hold inside one transaction.

    TEST_TXN_HOLD=open TEST_TXN_ROLE=requests python -m tests.faults.proc [--no-scheduler|--scheduler-only]

The worker runs unchanged; only ``AIOKafkaProducer.commit_transaction`` is wrapped, and only for
the producers of one role (``requests``: the request processor's, ``reauth``: the scheduler's,
``reviews``: the review stage's).
At the ``TEST_TXN_AFTER``-th commit of that role (default 1):

- ``TEST_TXN_HOLD=open``: prints ``TXN-HOLD open <transactional id>`` with every record and the
  offsets already sent in the open transaction, then holds before the commit;
- ``TEST_TXN_HOLD=committed``: commits, prints ``TXN-HOLD committed <transactional id>``, then
  holds before the code after the commit runs.

It holds until the file ``TEST_RESUME_FILE`` exists (then carries on as if nothing happened), or
forever without one: a test kill -9s the process (or SIGSTOPs it) at the marker, so the fault
lands exactly inside, or exactly after, a transaction. ``TEST_NOW`` fixes the clock (ISO 8601).
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaProducer

from worker import logs
from worker.app import serve
from worker.config import load
from worker.runtime import tune_gc


def _install_hold(role_marker: str, mode: str, after: int, resume: Path | None) -> None:
    original = AIOKafkaProducer.commit_transaction
    commits = 0

    async def hold(tid: str) -> None:
        print(f"TXN-HOLD {mode} {tid}", flush=True)
        while resume is None or not resume.exists():
            await asyncio.sleep(0.1)
        print(f"TXN-HOLD resumed {tid}", flush=True)

    async def commit_transaction(self: AIOKafkaProducer) -> None:
        nonlocal commits
        tid = (self._txn_manager.transactional_id if self._txn_manager is not None else "") or ""
        if role_marker not in tid:
            await original(self)
            return
        commits += 1
        if commits != after:
            await original(self)
            return
        if mode == "open":
            await hold(tid)
            await original(self)
        else:
            await original(self)
            await hold(tid)

    AIOKafkaProducer.commit_transaction = commit_transaction  # type: ignore[method-assign]


def main() -> int:
    settings = load()
    logs.configure(settings.log_format, settings.log_level)
    tune_gc(settings.gc_gen0_threshold)
    mode = os.environ.get("TEST_TXN_HOLD")
    if mode:
        assert mode in ("open", "committed"), mode
        role = os.environ.get("TEST_TXN_ROLE", "requests")
        marker = {
            "requests": f"-{settings.topic_requests}-",
            "reauth": "-reauth-",
            "reviews": f"-{settings.topic_reviews}-",
        }[role]
        resume = os.environ.get("TEST_RESUME_FILE")
        _install_hold(marker, mode, int(os.environ.get("TEST_TXN_AFTER", "1")), Path(resume) if resume else None)
    now = os.environ.get("TEST_NOW")
    fixed = datetime.fromisoformat(now) if now else None
    clock = (lambda: fixed) if fixed is not None else (lambda: datetime.now(UTC))
    args = sys.argv[1:]
    return asyncio.run(
        serve(settings, requests="--scheduler-only" not in args, scheduler="--no-scheduler" not in args, clock=clock)
    )


if __name__ == "__main__":
    raise SystemExit(main())
