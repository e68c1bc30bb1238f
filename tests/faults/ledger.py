"""Every output record traced back to the input record it came from, and counted.

Exactly once is a statement about source records: each input record (topic, partition, offset)
has exactly one determination (valid request) or one DLQ record (anything else), one
request-index entry per determination and, once the reauth scheduler (the only writer of the
authorizations topic) has read every determination on a day on which every approval still valid
is due (:func:`scheduler_day`), one ``scheduled`` authorization state and one
reauthorization-due event per approval still valid that day (none for an approval already past
its ``valid_through``). Without that day the authorization states are checked for doubles and
strays only: a scheduler may not have run, or not to the end.
Counting by source offset instead of by request id means a replay shows up as a duplicate even
with request-id deduplication off (``PA_TEST_DISABLE_REQUEST_DEDUPE``), so a broken offset
commit cannot hide behind it.

Tracing, each from what the contract or the DLQ headers carry (never from worker internals):
a DLQ record names its source in ``pa_source_partition``/``pa_source_offset``; a determination,
an authorization state and an index entry name their ``request_id`` (the tests give every
source record its own); a reauth-due event names its ``authorization_id``, whose state names
the request.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

from aiokafka import AIOKafkaConsumer, TopicPartition

from contracts import PADetermination, PAReauthDue
from contracts.internal import AuthorizationState
from offline.readback import Read
from worker.config import Settings

Src = tuple[int, int]
"""(partition, offset) of a record of the input topic."""


@dataclass
class Ledger:
    requests: dict[Src, str | None]
    """Each input record: its request_id when it is a valid request, else None (dead-lettered)."""
    counts: dict[str, Counter[Src]] = field(default_factory=dict)
    """Output topic (short name) -> records per source record."""
    approved: set[Src] = field(default_factory=set)
    """Source records whose (visible) determination is an approval."""
    scheduled: set[Src] | None = None
    """Approvals the scheduler schedules and reminds (still valid on its day); ``None``: no
    scheduler day given, so the authorization states are not checked for missing ones."""
    unknown: Counter[str] = field(default_factory=Counter)
    """Output records that trace back to no input record, per output."""

    def expected(self, output: str) -> set[Src]:
        valid = {s for s, rid in self.requests.items() if rid is not None}
        if output in ("determinations", "request_index"):
            return valid
        if output == "dlq":
            return {s for s, rid in self.requests.items() if rid is None}
        return set(self.approved if self.scheduled is None else self.scheduled)  # authorizations, reauth_due

    def complete(self, output: str) -> bool:
        """Whether every expected source must have its record (else: at most one, none stray)."""
        return output != "authorizations" or self.scheduled is not None

    def report(self, what: str) -> str:
        parts = []
        for output, counts in self.counts.items():
            want = self.expected(output)
            parts.append(
                f"{output}: {sum(counts.values())} records for {len(want)} sources, "
                f"doubled={sum(1 for s in want if counts[s] > 1)} "
                f"missing={sum(1 for s in want if counts[s] == 0) if self.complete(output) else '-'} "
                f"stray={sum(c for s, c in counts.items() if s not in want) + self.unknown[output]}"
            )
        return f"[{what}] input={len(self.requests)} " + "; ".join(parts)

    def assert_exactly_once(self, what: str) -> None:
        print(self.report(what))
        for output, counts in self.counts.items():
            want = self.expected(output)
            doubled = sorted((s, counts[s]) for s in want if counts[s] > 1)
            missing = sorted(s for s in want if counts[s] == 0) if self.complete(output) else []
            stray = sorted(s for s in counts if s not in want)
            assert not doubled, f"{what}: {output}: source records published more than once: {doubled[:8]}"
            assert not missing, f"{what}: {output}: source records never published: {missing[:8]}"
            assert not stray and not self.unknown[output], (
                f"{what}: {output}: records for no expected source: {stray[:8]}, untraceable: {self.unknown[output]}"
            )


def index_input(records: list[Read]) -> dict[Src, str | None]:
    out: dict[Src, str | None] = {}
    for r in records:
        try:
            rid = json.loads(r.value)["request_id"]
        except Exception:
            rid = None
        out[(r.partition, r.offset)] = rid if isinstance(rid, str) else None
    return out


def build(
    requests: dict[Src, str | None],
    *,
    determinations: list[Read],
    dlq: list[Read],
    authorizations: list[Read],
    request_index: list[Read],
    reauth_due: list[Read] | None = None,
    valid_rejected: set[Src] = frozenset(),  # type: ignore[assignment]
    scheduler_day: date | None = None,
) -> Ledger:
    """``valid_rejected``: source records with a request_id that the contract still rejects.
    ``scheduler_day``: the reauth scheduler has run on this day (see the module)."""
    requests = {s: (None if s in valid_rejected else rid) for s, rid in requests.items()}
    by_request: dict[str, Src] = {}
    for src, rid in requests.items():
        if rid is not None:
            assert rid not in by_request, f"request_id {rid} is on two source records: the test must not resubmit"
            by_request[rid] = src
    ledger = Ledger(requests)

    def count(output: str, srcs: list[Src | None]) -> None:
        c: Counter[Src] = Counter()
        for s in srcs:
            if s is None:
                ledger.unknown[output] += 1
            else:
                c[s] += 1
        ledger.counts[output] = c

    dets = [PADetermination.model_validate_json(r.value) for r in determinations]
    count("determinations", [by_request.get(d.request_id) for d in dets])
    ledger.approved = {
        by_request[d.request_id] for d in dets if d.decision == "approved" and d.request_id in by_request
    }
    if scheduler_day is not None:
        ledger.scheduled = {
            by_request[d.request_id]
            for d in dets
            if d.authorization is not None
            and d.authorization.valid_through >= scheduler_day
            and d.request_id in by_request
        }
    count(
        "dlq",
        [
            (int(r.headers["pa_source_partition"]), int(r.headers["pa_source_offset"]))
            if "pa_source_offset" in r.headers
            else None
            for r in dlq
        ],
    )
    states = [AuthorizationState.model_validate_json(r.value) for r in authorizations if r.value]
    # The scheduler writes each approval it schedules once as `scheduled`; its `sent`/`cancelled` marks follow.
    count("authorizations", [by_request.get(s.request_id) for s in states if s.status == "scheduled"])
    count("request_index", [by_request.get(r.key.decode()) if r.key else None for r in request_index if r.value])
    if reauth_due is not None:
        auth_source = {s.authorization_id: by_request.get(s.request_id) for s in states}
        count(
            "reauth_due",
            [auth_source.get(PAReauthDue.model_validate_json(r.value).authorization_id) for r in reauth_due],
        )
    return ledger


async def read_to_end(
    bootstrap: str, topic: str, timeout: float = 60.0, isolation_level: str = "read_committed"
) -> list[Read]:
    """Every committed record of ``topic`` up to its end offsets (last stable offsets) taken at start
    (with ``read_uncommitted``: every record, aborted ones too, up to the high watermark)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, isolation_level=isolation_level, enable_auto_commit=False)
    await consumer.start()
    out: list[Read] = []
    try:
        parts = consumer.partitions_for_topic(topic)
        while not parts:
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(topic)
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        deadline = time.monotonic() + timeout
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            assert time.monotonic() < deadline, f"{topic} not read to its end within {timeout:.0f} s"
            batch = await consumer.getmany(timeout_ms=200, max_records=10_000)
            for msgs in batch.values():
                out.extend(Read(r.key, r.value, dict(r.headers), r.partition, r.offset) for r in msgs)
    finally:
        await consumer.stop()
    return out


def scheduler_day(determinations: Iterable[PADetermination], lead_days: int) -> date:
    """A day on which the reminder of every approval still valid is due: the latest due date.
    Approvals already past their ``valid_through`` that day are never scheduled."""
    return max(d.authorization.valid_through for d in determinations if d.authorization) - timedelta(days=lead_days)


async def read_ledger(bootstrap: str, settings: Settings, *, scheduler_day: date | None = None) -> Ledger:
    """The ledger of every committed record of the worker's topics (read_committed, as downstream reads);
    with ``scheduler_day``, the reauth-due events too, and every authorization state checked."""
    return build(
        index_input(await read_to_end(bootstrap, settings.topic_requests)),
        determinations=await read_to_end(bootstrap, settings.topic_determinations),
        dlq=await read_to_end(bootstrap, settings.topic_dlq),
        authorizations=await read_to_end(bootstrap, settings.topic_authorizations),
        request_index=await read_to_end(bootstrap, settings.topic_request_index),
        reauth_due=await read_to_end(bootstrap, settings.topic_reauth_due) if scheduler_day else None,
        scheduler_day=scheduler_day,
    )


async def wait_scheduler_read_all(bootstrap: str, settings: Settings, timeout: float = 60.0) -> None:
    """Until the reauth scheduler's group has committed, on every partition of the determinations
    topic, the offset after its last committed record: every determination taken in."""
    last: dict[int, int] = {}
    for r in await read_to_end(bootstrap, settings.topic_determinations):
        last[r.partition] = max(last.get(r.partition, 0), r.offset + 1)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=settings.reauth_group_id, enable_auto_commit=False
    )
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout
        for p, end in sorted(last.items()):
            tp = TopicPartition(settings.topic_determinations, p)
            while (committed := await consumer.committed(tp)) is None or committed < end:
                assert time.monotonic() < deadline, f"{tp}: the scheduler committed {committed} of {end}"
                await asyncio.sleep(0.2)
    finally:
        await consumer.stop()


async def aborted_records(bootstrap: str, topic: str) -> int:
    """Records of ``topic`` a read_uncommitted reader sees and a read_committed one does not:
    written inside transactions that never committed (a zombie's, fenced)."""
    committed = await read_to_end(bootstrap, topic)
    everything = await read_to_end(bootstrap, topic, isolation_level="read_uncommitted")
    return len(everything) - len(committed)
