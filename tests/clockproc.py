"""Test-only entry point: ``pa-worker`` with a fixed clock and an optional crash window.

    TEST_NOW=2027-07-01T00:00:00Z python -m tests.clockproc [run args...]

With ``TEST_PAUSE_BEFORE_REMINDER_COMMIT=1`` the scheduler prints ``REMINDER-TXN-OPEN`` after
it has sent a reminder and its ``sent`` mark inside a transaction, then waits before the
commit, so a test can kill -9 the process exactly between "due" and "sent".
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import datetime

from aiokafka import AIOKafkaProducer

from worker import logs
from worker.app import serve
from worker.config import load


def main() -> int:
    now = datetime.fromisoformat(os.environ["TEST_NOW"])
    if os.environ.get("TEST_PAUSE_BEFORE_REMINDER_COMMIT") == "1":
        original = AIOKafkaProducer.commit_transaction

        async def paused_commit(self: AIOKafkaProducer) -> None:
            tid = self._txn_manager.transactional_id if self._txn_manager else ""
            if "-reauth-" in (tid or ""):
                print("REMINDER-TXN-OPEN", flush=True)
                await asyncio.sleep(3600)
            await original(self)

        AIOKafkaProducer.commit_transaction = paused_commit  # type: ignore[method-assign]
    settings = load()
    logs.configure(settings.log_format, settings.log_level)
    args = sys.argv[1:]
    return asyncio.run(
        serve(
            settings, requests="--scheduler-only" not in args, scheduler="--no-scheduler" not in args, clock=lambda: now
        )
    )


if __name__ == "__main__":
    raise SystemExit(main())
