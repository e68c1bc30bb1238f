"""The throughput baseline: the worker's own consumer, transactional producers and batch
settings (``RequestProcessor`` on ``StageRuntime``, no store) and its runtime tuning, copying bytes without parsing or
evaluating.

    python -m bench.passthrough   # configured by the same PA_* environment as the worker
"""

from __future__ import annotations

import asyncio
import signal

from worker.config import load
from worker.kafka import clients
from worker.records import OutRecord, Published, Source
from worker.runtime import StageRuntime, tune_gc
from worker.stages.requests import RequestProcessor


async def main() -> int:
    settings = load()
    tune_gc(settings.gc_gen0_threshold)  # as the worker's entry point does
    out_topic = settings.topic_determinations

    def copy(key: bytes | None, value: bytes | None, source: Source) -> Published:
        return Published((OutRecord(out_topic, key, value or b"", []),))

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    proc = StageRuntime(
        RequestProcessor(settings, copy, output_topics=(out_topic,)),
        clients(settings),
        batch_max_records=settings.batch_max_records,
        batch_timeout_ms=settings.batch_timeout_ms,
    )
    await proc.start()
    try:
        await proc.run(stop)
    finally:
        await proc.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
