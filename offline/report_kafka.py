"""Read a determinations topic for ``pa-worker report``: every committed record, then stop.

read_committed with no group (nothing is committed, no offset moves for anyone): each partition is
read from its beginning to its last stable offset as it was when the read began, so the report
sees exactly what downstream consumers see, and ends even while the worker keeps writing.
"""

from __future__ import annotations

import time
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition


class TopicReadError(RuntimeError):
    """The topic does not exist, or the read did not reach its end in time."""


async def read_topic(kafka_kwargs: dict[str, Any], topic: str, *, within: float = 120.0) -> list[bytes]:
    """The values of every committed record of ``topic`` up to its end offsets at the start."""
    consumer = AIOKafkaConsumer(
        **kafka_kwargs,
        isolation_level="read_committed",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=4 * 1_048_576,
    )
    try:
        await consumer.start()
        parts = consumer.partitions_for_topic(topic)
        deadline = time.monotonic() + 10
        while not parts and time.monotonic() < deadline:
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(topic)
        if not parts:
            raise TopicReadError(f"topic {topic} not found")
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends: dict[TopicPartition, int] = await consumer.end_offsets(tps)
        out: list[bytes] = []
        deadline = time.monotonic() + within
        pending = {tp for tp in tps if ends[tp] > 0}
        while pending:
            if time.monotonic() > deadline:
                raise TopicReadError(f"topic {topic}: not read to its end within {within:.0f} s")
            batch = await consumer.getmany(*pending, timeout_ms=500, max_records=5000)
            for tp, records in batch.items():
                out.extend(r.value for r in records if r.offset < ends[tp] and r.value is not None)
            for tp in list(pending):
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
        return out
    finally:
        await consumer.stop()
