"""Reauthorization-due reminders, with their state in Kafka.

State: the compacted topic ``pa.authorizations.v1``. The determination worker writes an
approved authorization there (status ``scheduled``) in the same transaction as the
determination; the record's partition follows ``member_id``, so one member's authorizations
share a partition.

The scheduler is a consumer group over that topic, on the shared runtime (``worker.runtime``).
On assignment the partition is paused and registered; the loop then opens the partition's
writer (``{group}-{topic}-{partition}``; ``init_transactions`` fences a previous owner and
settles its open transaction), restores the partition's :class:`~worker.reminders.ReminderBook`
by reading it from the beginning to its last stable offset, and resumes it from there. Only
then does it act, on a clock it is given: each tick the book's plan for today (supersede, due
reminders, replay guard, expiry; see :mod:`worker.reminders`) is written in ONE transaction:
the ``pa.reauth_due`` events with the ``sent`` marks.

So a reminder is sent exactly once: killed before the commit, nothing is visible and the
next owner sends it; killed after, the ``sent`` mark is in the log it rebuilds from.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from datetime import time as dtime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from policy import DEFAULT_SETTINGS, PolicySettings
from policy.reauth import build_reauth_due
from worker import metrics as m
from worker.config import Settings
from worker.handler import CE_TYPE_REAUTH_DUE, cloudevent_headers
from worker.kafka import (
    PartitionListener,
    changelog_reader,
    group_consumer_kwargs,
    producer_kwargs,
    refresh_metadata,
    request_rejoin,
    require_topics,
)
from worker.logs import get_logger
from worker.reminders import Applied, Plan, ReminderBook
from worker.runtime import (
    POLL_STALE_SECONDS,
    ChangelogReader,
    ChangelogStore,
    PartitionLost,
    PartitionWriter,
    Transaction,
    TransactionAborted,
)

log = get_logger("pa_worker.scheduler")

Clock = Callable[[], datetime]


@dataclass
class _Partition:
    tp: TopicPartition
    writer: PartitionWriter
    store: ChangelogStore[ReminderBook]
    task: asyncio.Task[None] | None = None
    """The restore in progress."""
    end_at_assignment: int | None = None
    """Records from here on are new since this instance took the partition (counted as scheduled)."""

    @property
    def book(self) -> ReminderBook:
        return self.store.state

    @property
    def ready(self) -> bool:
        return self.store.restored and self.writer.is_open


class ReauthScheduler:
    def __init__(
        self,
        settings: Settings,
        clock: Clock = lambda: datetime.now(UTC),
        policy_settings: PolicySettings = DEFAULT_SETTINGS,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.policy_settings = policy_settings
        self.lead_days = settings.reauth_lead_days
        self.group_id = settings.reauth_group_id
        self.topic = settings.topic_authorizations
        self.lock = asyncio.Lock()
        self.parts: dict[TopicPartition, _Partition] = {}
        self.consumer: AIOKafkaConsumer | None = None
        self.restorer: ChangelogReader | None = None
        self.listener: PartitionListener | None = None
        self.last_poll = 0.0

    @property
    def ready(self) -> bool:
        return (
            self.listener is not None
            and self.listener.joined
            and (time.monotonic() - self.last_poll) < POLL_STALE_SECONDS
        )

    async def start(self) -> None:
        self.consumer = AIOKafkaConsumer(
            # no offsets committed: state is restored from the start of the log on every assignment
            **group_consumer_kwargs(self.settings, self.group_id)
        )
        await self.consumer.start()
        reader = None
        try:
            await require_topics(self.consumer, [self.topic, self.settings.topic_reauth_due])
            reader = changelog_reader(self.settings)
            await reader.start()
        except KafkaError:
            await self.consumer.stop()
            self.consumer = None
            raise
        self.restorer = ChangelogReader(reader, lambda: refresh_metadata(reader))
        self.listener = PartitionListener(self.lock, self.acquire, self.release, self.refresh_gauges)
        self.consumer.subscribe([self.topic], listener=self.listener)

    async def stop(self) -> None:
        if self.consumer is not None:
            try:
                await self.consumer.stop()
            finally:
                async with self.lock:
                    await asyncio.gather(*(self.release(tp) for tp in list(self.parts)))
                self.refresh_gauges()
                if self.restorer is not None:
                    await self.restorer.reader.stop()  # type: ignore[attr-defined]

    def _writer(self, tp: TopicPartition) -> PartitionWriter:
        def factory(tid: str) -> AIOKafkaProducer:
            return AIOKafkaProducer(**producer_kwargs(self.settings), transactional_id=tid)

        return PartitionWriter(tp, self.group_id, "reauth", factory, log_prefix="scheduler ")

    async def acquire(self, tp: TopicPartition) -> None:
        """Assigned: pause the partition and register its book; the loop restores it."""
        assert self.consumer is not None
        if tp in self.parts:
            return
        with contextlib.suppress(Exception):  # revoked meanwhile: nothing to pause
            self.consumer.pause(tp)
        grace = self.settings.reauth_state_grace_days
        store = ChangelogStore(tp, lambda: ReminderBook(self.lead_days, grace))
        part = self.parts[tp] = _Partition(tp, self._writer(tp), store)
        with contextlib.suppress(KafkaError):  # one offset lookup, for the metric only
            part.end_at_assignment = (await self.consumer.end_offsets([tp]))[tp]
        log.info("reauth partition assigned; rebuilding", partition=tp.partition)

    async def release(self, tp: TopicPartition) -> None:
        part = self.parts.pop(tp, None)
        if part is None:
            return
        if part.task is not None and not part.task.done():
            part.task.cancel()
            with contextlib.suppress(BaseException):
                await part.task
        await part.writer.close()

    async def _restore(self, part: _Partition) -> None:
        """Open the writer (fencing the previous owner), restore the book, resume the partition."""
        assert self.consumer is not None and self.restorer is not None
        await part.writer.backoff()
        try:
            if not part.writer.is_open:
                await part.writer.open()
            if not part.store.restored:
                await self.restorer.restore(part.store, functools.partial(self._count_new, part))
                async with self.lock:
                    if self.parts.get(part.tp) is not part:
                        return
                    self.consumer.seek(part.tp, part.store.restored_to)  # live records from here on
                    self.consumer.resume(part.tp)
                log.info(
                    "reauth partition rebuilt",
                    partition=part.tp.partition,
                    authorizations=len(part.book),
                    records=part.store.records_restored,
                    seconds=round(part.store.restore_seconds, 3),
                )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            part.writer.failures += 1
            log.error(
                "reauth partition not restored; will retry", partition=part.tp.partition, error=type(exc).__name__
            )

    @staticmethod
    def _count_new(part: _Partition, offset: int, applied: object) -> None:
        if applied is Applied.NEW and part.end_at_assignment is not None and offset >= part.end_at_assignment:
            m.REMINDERS_SCHEDULED.inc()  # new since this instance took the partition (not a rebuild)

    async def run(self, stop: asyncio.Event) -> None:
        assert self.consumer is not None, "start() first"
        next_tick = 0.0
        while not stop.is_set():
            for part in self.parts.values():  # restored in the loop, never in the rebalance callback
                if not part.ready and (part.task is None or part.task.done()):
                    part.task = asyncio.create_task(self._restore(part), name=f"restore-reauth-{part.tp.partition}")
            batch = await self.consumer.getmany(timeout_ms=200, max_records=2000)
            self.last_poll = time.monotonic()
            async with self.lock:
                for tp, msgs in batch.items():
                    live = self.parts.get(tp)
                    if live is None or not live.store.restored:
                        continue  # fetched before the pause: the restore reads them
                    for msg in msgs:
                        if msg.offset < live.store.restored_to:
                            continue
                        applied = live.book.apply(msg.key, msg.value)
                        if applied is Applied.NEW:
                            m.REMINDERS_SCHEDULED.inc()  # new since this instance took the partition
                        elif applied is Applied.UNREADABLE:
                            log.error("unreadable authorization state record skipped", partition=tp.partition)
                now_mono = time.monotonic()
                if now_mono >= next_tick:  # O(authorizations owned): on the tick, not on every poll
                    next_tick = now_mono + self.settings.scheduler_interval_seconds
                    for part in list(self.parts.values()):
                        if part.ready:
                            await self._act(part)
                    self.refresh_gauges()

    async def _act(self, part: _Partition) -> None:
        """Write today's plan in one transaction; apply it to the book once committed."""
        plan = part.book.plan(self.clock().astimezone(UTC).date())
        if not plan:
            return
        try:
            async with part.writer.transaction() as txn:
                await self._write(txn, part.tp, plan)
        except PartitionLost:
            # Not taken up again until the group assigns it again (the rejoin settles who owns it).
            self.parts.pop(part.tp, None)
            if self.consumer is not None:
                request_rejoin(self.consumer)
            return
        except TransactionAborted:
            return  # the next tick opens a new producer (the book holds only what committed)
        for key, value in plan.records():
            part.book.apply(key, value)
        for st in plan.cancel:
            m.REMINDERS_CANCELLED.inc()
            log.info("reminder cancelled: superseded", authorization_id=st.authorization_id)
        for st in plan.send:
            m.REMINDERS_EMITTED.inc()
            log.info("reauth reminder sent", authorization_id=st.authorization_id)
        if plan.expire:
            log.info("authorization states deleted: past valid_through and grace", count=len(plan.expire))

    async def _write(self, txn: Transaction, tp: TopicPartition, plan: Plan) -> None:
        """The plan as records: each reminder with its ``sent`` mark, every state to ``tp``."""
        for st in plan.send:
            assert st.reauth_due_on is not None
            event = build_reauth_due(
                authorization_id=st.authorization_id,
                member_id=st.member_id,
                prescriber_npi=st.prescriber_npi,
                valid_through=st.valid_through,
                reauth_due_on=st.reauth_due_on,
                determination_id=st.determination_id,
                settings=self.policy_settings,
            )
            await txn.send(
                self.settings.topic_reauth_due,
                event.model_dump_json().encode(),
                key=st.member_id.encode(),
                headers=cloudevent_headers(
                    event.event_id,
                    CE_TYPE_REAUTH_DUE,
                    self.clock(),
                    [("pa_authorization_id", st.authorization_id.encode())],
                ),
            )
        for key, value in plan.records():
            headers = [("content-type", b"application/json")] if value is not None else []
            await txn.send(tp.topic, value, key=key, partition=tp.partition, headers=headers)

    def refresh_gauges(self) -> None:
        today = self.clock().astimezone(UTC).date()
        pending = due = 0
        next_due = None
        for part in self.parts.values():
            p, d, n = part.book.outlook(today)
            pending += p
            due += d
            if n is not None and (next_due is None or n < next_due):
                next_due = n
        m.REMINDERS_PENDING.set(pending)
        m.REMINDERS_DUE.set(due)
        m.NEXT_REMINDER.set(datetime.combine(next_due, dtime(), UTC).timestamp() if next_due else 0)
        m.ASSIGNED_PARTITIONS.labels("reauth").set(len(self.parts))
