"""Changelog-backed state stores and the one reader that restores them.

Modelled on Kafka Streams' ``StoreChangelogReader``: a store's state is whatever its changelog
partition says, read from its start to its end (read_committed: to the last stable offset, after
the partition's writer has settled any transaction a previous owner left open). The stage's loop
restores a newly assigned partition's store and only then resumes the partition; the rebalance
callback only pauses it and registers the store.

The request index (request_id -> determination_id, per input partition) and the reminder book
(the authorizations of one partition of ``pa.authorizations.v1``) are both such stores.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from aiokafka import TopicPartition

from worker.runtime.ports import ReaderPort


class State(Protocol):
    def apply(self, key: bytes | None, value: bytes | None) -> object:
        """One changelog record (a ``None`` value is a tombstone)."""
        ...

    def __len__(self) -> int: ...


S = TypeVar("S", bound=State)


@dataclass
class ChangelogStore(Generic[S]):
    """``state`` as of ``changelog``: restored once, then kept up to date by its stage."""

    changelog: TopicPartition
    fresh: Callable[[], S]
    """An empty state: every restore starts from one (a failed restore leaves nothing half-read)."""
    state: S = field(init=False)
    restored: bool = False
    restored_to: int = 0
    """The changelog's end offset when the restore finished (records below it were read)."""
    records_restored: int = 0
    restore_seconds: float = 0.0

    def __post_init__(self) -> None:
        self.state = self.fresh()


class ChangelogMissing(Exception):
    """The changelog topic has no such partition (not even after a metadata refresh)."""


async def read_to_end(
    reader: ReaderPort,
    tp: TopicPartition,
    apply: Callable[[bytes | None, bytes | None], object],
    *,
    limit_seconds: float = 120.0,
    observe: Callable[[int, object], None] | None = None,
) -> tuple[int, int]:
    """Every committed record of ``tp`` from its start to its end offset at the call (the last
    stable offset, read_committed), in order, through ``apply``. Returns (end offset, records).
    ``observe(offset, result)``, when given, sees what ``apply`` returned for each record.
    Public consumer API only; ``reader`` must know the partition (see :class:`ChangelogReader`)."""
    return await read_range(reader, tp, None, apply, limit_seconds=limit_seconds, observe=observe)


async def read_range(
    reader: ReaderPort,
    tp: TopicPartition,
    start: int | None,
    apply: Callable[[bytes | None, bytes | None], object],
    *,
    limit_seconds: float = 120.0,
    observe: Callable[[int, object], None] | None = None,
) -> tuple[int, int]:
    """:func:`read_to_end` from offset ``start`` (``None``: the partition's start) instead."""
    reader.assign([tp])
    end = (await reader.end_offsets([tp]))[tp]
    if start is None:
        await reader.seek_to_beginning(tp)
    elif start >= end:
        return end, 0
    else:
        reader.seek(tp, start)
    deadline = time.monotonic() + limit_seconds
    n = 0
    while await reader.position(tp) < end:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{tp.topic}-{tp.partition} not read to its end ({end}) within {limit_seconds:.0f} s")
        batch = await reader.getmany(tp, timeout_ms=1000, max_records=10_000)
        for msg in batch.get(tp, ()):
            if msg.offset >= end:
                break
            result = apply(msg.key, msg.value)
            if observe is not None:
                observe(msg.offset, result)
            n += 1
    return end, n


class ChangelogReader:
    """Restores stores one at a time with one group-less read_committed consumer."""

    def __init__(
        self,
        reader: ReaderPort,
        refresh_metadata: Callable[[], Awaitable[object]] | None = None,
        *,
        timeout: float = 120.0,
    ) -> None:
        self.reader = reader
        self._refresh = refresh_metadata
        self.timeout = timeout
        self._lock = asyncio.Lock()

    async def restore(self, store: ChangelogStore[S], observe: Callable[[int, object], None] | None = None) -> None:
        """Read ``store``'s changelog partition from its start to its end into ``store.state``.

        Raises :class:`ChangelogMissing` when the topic has no such partition."""
        tp = store.changelog
        async with self._lock:
            parts = self.reader.partitions_for_topic(tp.topic) or set()
            if tp.partition not in parts and self._refresh is not None:
                await self._refresh()  # the cached metadata may predate partitions just added
                parts = self.reader.partitions_for_topic(tp.topic) or set()
            if tp.partition not in parts:
                raise ChangelogMissing(f"{tp.topic} has no partition {tp.partition}")
            started = time.monotonic()
            state = store.fresh()
            end, n = await read_to_end(self.reader, tp, state.apply, limit_seconds=self.timeout, observe=observe)
        store.state = state
        store.restored, store.restored_to, store.records_restored = True, end, n
        store.restore_seconds = time.monotonic() - started
