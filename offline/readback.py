"""Read a topic back as a downstream consumer would (read_committed), for the demo and tests."""

from __future__ import annotations

import time
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition


@dataclass
class Read:
    key: bytes | None
    value: bytes
    headers: dict[str, bytes]
    partition: int
    offset: int


async def read_all(
    bootstrap: str, topic: str, *, expect: int | None = None, timeout: float = 60.0, idle: float = 2.0
) -> list[Read]:
    """Everything committed on ``topic`` (read_committed, no group), until ``expect`` records
    arrived and ``idle`` seconds passed with nothing new, or ``timeout``."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        isolation_level="read_committed",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    out: list[Read] = []
    try:
        parts = consumer.partitions_for_topic(topic)
        deadline = time.monotonic() + 10
        while not parts and time.monotonic() < deadline:
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(topic)
        tps = [TopicPartition(topic, p) for p in sorted(parts or [])]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        deadline = time.monotonic() + timeout
        last_new = time.monotonic()
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200, max_records=5000)
            got = [r for msgs in batch.values() for r in msgs]
            if got:
                last_new = time.monotonic()
                out.extend(Read(r.key, r.value, {k: v for k, v in r.headers}, r.partition, r.offset) for r in got)
            if expect is not None and len(out) >= expect and time.monotonic() - last_new >= idle:
                break
            if expect is None and time.monotonic() - last_new >= idle:
                break
    finally:
        await consumer.stop()
    return out
