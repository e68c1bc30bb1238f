"""Profile the worker on a pre-loaded topic with pyinstrument (``make profile``).

Runs ``serve()`` in this process against the broker, drains N requests and prints the
call tree of where the time went (and writes .bench/profile.html).
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from pathlib import Path

from pyinstrument import Profiler

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.broker import kafka_broker  # noqa: E402
from tests.kafkautil import create_topics, encode, make_requests, produce, settings_for  # noqa: E402
from worker import metrics as m  # noqa: E402
from worker.app import serve  # noqa: E402
from worker.runtime import tune_gc  # noqa: E402


async def main() -> int:
    n = int(os.environ.get("BENCH_N", "20000"))
    with kafka_broker() as broker:
        settings = settings_for(
            broker.bootstrap_servers,
            uuid.uuid4().hex[:8],
            topic_partitions=6,
            batch_max_records=500,
            scheduler_enabled=False,
            reviews_enabled=False,
        )
        await create_topics(settings)
        tune_gc(settings.gc_gen0_threshold)  # as `pa-worker run` does
        await produce(broker.bootstrap_servers, settings.topic_requests, (encode(r) for r in make_requests(n)))
        stop = asyncio.Event()
        profiler = Profiler(async_mode="enabled")
        profiler.start()
        task = asyncio.create_task(serve(settings, stop=stop, install_signals=False, scheduler=False, reviews=False))
        while m.BATCH_RECORDS._sum.get() < n:
            await asyncio.sleep(0.05)
        profiler.stop()
        stop.set()
        await task
    out = ROOT / ".bench"
    out.mkdir(exist_ok=True)
    (out / "profile.html").write_text(profiler.output_html())
    print(profiler.output_text(unicode=True, color=False, show_all=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
