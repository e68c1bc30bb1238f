"""Topics for ``pa-worker replay``: a range of the requests topic and the determinations topic, read
with read_committed, no group (nothing committed, no one's offsets move), record by record.

A range is given by record timestamps (a date in the plan's calendar or an RFC 3339 time; the broker's
``offsets_for_times``) or by offsets (``N`` for every partition, or ``P:N,...``): from the first offset
(included) to the stop offset (excluded), never past the last stable offset each partition had when
the read began, so the read ends while producers keep writing. Aborted transactions' records are
never seen (read_committed). Positions are ``partition P offset O``.

The determinations topic is read to its end as it was at the start; with a start time, from the
first determination timestamped at or after it (a determination is published after its request).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from offline.replay import Replay

STALL_SECONDS = 120.0
"""A read that moves no partition's position forward for this long fails (TopicReadError)."""


class TopicReadError(RuntimeError):
    """The topic does not exist, or its read stalled."""


@dataclass(frozen=True)
class TopicRange:
    topic: str
    start: datetime | None = None
    """Records timestamped at or after this (None: from the first offset, or ``from_offsets``)."""
    end: datetime | None = None
    """Records timestamped before this (None: to the end, or ``to_offsets``)."""
    from_offsets: dict[int, int] | int | None = None
    to_offsets: dict[int, int] | int | None = None


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _offset(spec: dict[int, int] | int | None, partition: int) -> int | None:
    if spec is None or isinstance(spec, int):
        return spec
    return spec.get(partition)


async def read_range(kafka_kwargs: dict[str, Any], rng: TopicRange) -> AsyncGenerator[tuple[str, bytes | None], None]:
    """(position, value) of every committed record of ``rng``, partition by partition as fetched."""
    consumer = AIOKafkaConsumer(
        **kafka_kwargs,
        isolation_level="read_committed",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=4 * 1_048_576,
    )
    await consumer.start()
    try:
        parts = consumer.partitions_for_topic(rng.topic)
        deadline = time.monotonic() + 10
        while not parts and time.monotonic() < deadline:
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(rng.topic)
        if not parts:
            raise TopicReadError(f"topic {rng.topic} not found")
        tps = [TopicPartition(rng.topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        begins: dict[TopicPartition, int] = await consumer.beginning_offsets(tps)
        ends: dict[TopicPartition, int] = await consumer.end_offsets(tps)
        starts = {tp: begins[tp] for tp in tps}
        stops = {tp: ends[tp] for tp in tps}
        if rng.start is not None:
            found = await consumer.offsets_for_times({tp: _ms(rng.start) for tp in tps})
            starts = {tp: ends[tp] if found.get(tp) is None else found[tp].offset for tp in tps}
        if rng.end is not None:
            found = await consumer.offsets_for_times({tp: _ms(rng.end) for tp in tps})
            stops = {tp: ends[tp] if found.get(tp) is None else min(found[tp].offset, ends[tp]) for tp in tps}
        for tp in tps:
            first, stop = _offset(rng.from_offsets, tp.partition), _offset(rng.to_offsets, tp.partition)
            if first is not None:
                starts[tp] = max(begins[tp], first)
            if stop is not None:
                stops[tp] = min(stops[tp], stop)
        pending = {tp for tp in tps if starts[tp] < stops[tp]}
        for tp in pending:
            consumer.seek(tp, starts[tp])
        moved = time.monotonic()
        while pending:
            if time.monotonic() - moved > STALL_SECONDS:
                raise TopicReadError(f"topic {rng.topic}: no progress for {STALL_SECONDS:.0f} s")
            batch = await consumer.getmany(*pending, timeout_ms=500, max_records=2000)
            for tp, records in batch.items():
                for r in records:
                    if r.offset < stops[tp]:
                        yield f"partition {tp.partition} offset {r.offset}", r.value
                moved = time.monotonic()
            for tp in list(pending):
                if await consumer.position(tp) >= stops[tp]:
                    pending.discard(tp)
                    moved = time.monotonic()
    finally:
        await consumer.stop()


async def feed_topics(
    replay: Replay,
    kafka_kwargs: dict[str, Any],
    *,
    requests: TopicRange | None,
    published_topic: str | None,
    published_from: datetime | None = None,
) -> None:
    """Read the published determinations (when a topic is given), then the range of requests (when
    given), into ``replay``."""
    if published_topic is not None:
        rng = TopicRange(published_topic, start=published_from)
        async with contextlib.aclosing(read_range(kafka_kwargs, rng)) as records:
            async for position, value in records:
                replay.add_published(position, value)
    if requests is not None:
        async with contextlib.aclosing(read_range(kafka_kwargs, requests)) as records:
            async for position, value in records:
                replay.add_request(position, value)
