"""Reauthorization-due reminders: a stateful stage with its state in Kafka, in Kafka Streams' shape.

Input: ``pa.determinations.v1`` (read_committed), in the scheduler's own consumer group, its
offsets committed only inside its transactions. Store: one
:class:`~worker.reminders.ReminderBook` per input partition ``p``, whose changelog is partition
``p`` of the compacted ``pa.authorizations.v1`` (key ``authorization_id``). The scheduler is the
ONLY writer of that topic, so the book is authoritative. Determinations are keyed by
``member_id``, so one member's approvals share an input partition and thus a book, and the
supersession of one member's authorizations is decided in one place. The two topics must be
co-partitioned: :meth:`ReauthScheduler.start` fails unless ``pa.authorizations.v1`` has at least
as many partitions as ``pa.determinations.v1``.

On assignment the input partition is paused and registered; the loop then opens the
partition's writer (transactional id ``{group}-pa.authorizations.v1-{p}``, named after the
store's partition as it was when the store was the input; ``init_transactions`` fences a previous
owner and settles its open transaction), restores the book from the changelog partition from its
beginning to its last stable offset (:class:`~worker.runtime.ChangelogReader`), positions the
input partition at its committed offset and resumes it. Only then does it act, and one
partition's transactions run one at a time (the loop runs them in turn, under one lock):

- **intake**: each fetched batch of a partition is ONE transaction: the ``scheduled`` state of
  every approval (engine approvals and reviewers' final approvals alike) the book does not hold
  yet and whose ``valid_through`` is not past, to changelog partition ``p``, with the input
  offsets; the book applies the states once committed. An authorization the book already holds
  (any status) is never written again, so a replayed approval cannot re-open a reminder;
- **tick**, on a clock it is given: the book's plan for today, the clock's local date in the plan's
  time zone (``PolicySettings.timezone``; supersede, due reminders, expiry; see
  :mod:`worker.reminders`) in ONE transaction: the ``pa.reauth_due`` events with the
  ``sent`` marks (and ``cancelled`` marks, tombstones).

So a reminder is sent exactly once: killed before the commit, nothing is visible and the
next owner sends it; killed after, the ``sent`` mark is in the log it rebuilds from. An aborted
transaction leaves the book as it was (it holds only what committed); the partition is rewound
to its committed offset with a new producer.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from datetime import time as dtime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import ConsumerRecord
from pydantic import ValidationError

from contracts import PADetermination
from policy import DEFAULT_SETTINGS, PolicySettings
from policy.reauth import build_reauth_due
from policy.settings import zone
from worker import metrics as m
from worker.config import Settings
from worker.handler import CE_TYPE_REAUTH_DUE, cloudevent_headers
from worker.kafka import (
    PartitionListener,
    TopicsMissing,
    changelog_reader,
    group_consumer_kwargs,
    producer_kwargs,
    refresh_metadata,
    request_rejoin,
    require_topics,
)
from worker.logs import get_logger
from worker.reminders import Plan, ReminderBook, plan_date, state_record
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

_STATE_HEADERS = [("content-type", b"application/json")]


class NotCoPartitioned(Exception):
    """The store's changelog topic has fewer partitions than the input topic. Not a
    :class:`KafkaError`: a start that raises it is not retried."""


@dataclass
class _Partition:
    tp: TopicPartition
    """The input partition (``pa.determinations.v1``)."""
    writer: PartitionWriter
    store: ChangelogStore[ReminderBook]
    """Restored from the same partition of ``pa.authorizations.v1``."""
    task: asyncio.Task[None] | None = None
    """The restore in progress."""
    positioned: bool = False
    """The input partition was sought to its committed offset and resumed since the last abort."""
    next_offset: int = 0
    """The next input offset due: anything below it is done (committed)."""

    @property
    def book(self) -> ReminderBook:
        return self.store.state

    @property
    def ready(self) -> bool:
        return self.store.restored and self.writer.is_open and self.positioned


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
        self.tz = zone(policy_settings.timezone)
        """Days are the plan's local dates: "today" and an approval's date."""
        self.lead_days = settings.reauth_lead_days
        self.group_id = settings.reauth_group_id
        self.topic = settings.topic_determinations
        self.changelog_topic = settings.topic_authorizations
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
        self.consumer = AIOKafkaConsumer(**group_consumer_kwargs(self.settings, self.group_id))
        await self.consumer.start()
        reader = None
        try:
            await require_topics(self.consumer, [self.topic, self.changelog_topic, self.settings.topic_reauth_due])
            await self._check_copartitioned(self.consumer)
            reader = changelog_reader(self.settings)
            await reader.start()
        except BaseException:
            await self.consumer.stop()
            self.consumer = None
            raise
        self.restorer = ChangelogReader(reader, lambda: refresh_metadata(reader))
        self.listener = PartitionListener(self.lock, self.acquire, self.release, self.refresh_gauges)
        self.consumer.subscribe([self.topic], listener=self.listener)

    async def _check_copartitioned(self, consumer: AIOKafkaConsumer) -> None:
        """Input partition ``p``'s store is changelog partition ``p``: the changelog needs at least
        as many partitions as the input (Kafka Streams checks the same)."""

        def counts() -> tuple[int, int]:
            return (
                len(consumer.partitions_for_topic(self.topic) or ()),
                len(consumer.partitions_for_topic(self.changelog_topic) or ()),
            )

        inputs, stores = counts()
        if not (inputs and stores):  # topics just created: their partitions may not be in the metadata yet
            await refresh_metadata(consumer)
            inputs, stores = counts()
        if not (inputs and stores):
            raise TopicsMissing(f"no partitions known yet for {self.topic} or {self.changelog_topic}")
        if stores < inputs:
            message = (
                f"{self.changelog_topic} has {stores} partitions, {self.topic} has {inputs}: the reauth "
                f"scheduler keeps the state of input partition p in partition p of {self.changelog_topic}, "
                f"so it needs at least as many (create both topics with the same partition count)"
            )
            log.error("reauth topics not co-partitioned", input=inputs, changelog=stores)
            raise NotCoPartitioned(message)

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

        # Named after the store's partition (the same p): transactional ids are unchanged from when
        # the changelog was the input, so a rolling update fences the previous version's scheduler.
        store_tp = TopicPartition(self.changelog_topic, tp.partition)
        return PartitionWriter(store_tp, self.group_id, "reauth", factory, log_prefix="scheduler ")

    def today(self) -> date:
        """The clock's local date in the plan's time zone: the day reminders are planned for."""
        return plan_date(self.clock(), self.tz)

    async def acquire(self, tp: TopicPartition) -> None:
        """Assigned: pause the partition and register its book; the loop restores it."""
        assert self.consumer is not None
        if tp in self.parts:
            return
        with contextlib.suppress(Exception):  # revoked meanwhile: nothing to pause
            self.consumer.pause(tp)
        grace = self.settings.reauth_state_grace_days
        store = ChangelogStore(
            TopicPartition(self.changelog_topic, tp.partition), lambda: ReminderBook(self.lead_days, grace, tz=self.tz)
        )
        self.parts[tp] = _Partition(tp, self._writer(tp), store)
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
        """Open the writer (fencing the previous owner), restore the book, position the input
        partition at its committed offset and resume it."""
        assert self.consumer is not None and self.restorer is not None
        await part.writer.backoff()
        try:
            if not part.writer.is_open:
                await part.writer.open()
            rebuilt = not part.store.restored
            if rebuilt:
                await self.restorer.restore(part.store)
            committed = await self.consumer.committed(part.tp)
            if committed is None:
                committed = (await self.consumer.beginning_offsets([part.tp]))[part.tp]
            async with self.lock:
                if self.parts.get(part.tp) is not part:
                    return
                # No await from here on: fetched records below `committed` are skipped, and the
                # fetch goes on from the committed offset.
                self.consumer.seek(part.tp, committed)
                self.consumer.resume(part.tp)
                part.next_offset, part.positioned = committed, True
            if rebuilt:
                log.info(
                    "reauth partition rebuilt",
                    partition=part.tp.partition,
                    authorizations=len(part.book),
                    records=part.store.records_restored,
                    seconds=round(part.store.restore_seconds, 3),
                    offset=committed,
                )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            part.writer.failures += 1
            log.error(
                "reauth partition not restored; will retry", partition=part.tp.partition, error=type(exc).__name__
            )

    async def run(self, stop: asyncio.Event) -> None:
        assert self.consumer is not None, "start() first"
        next_tick = 0.0
        while not stop.is_set():
            for part in self.parts.values():  # restored in the loop, never in the rebalance callback
                if not part.ready and (part.task is None or part.task.done()):
                    part.task = asyncio.create_task(self._restore(part), name=f"restore-reauth-{part.tp.partition}")
            batch = await self.consumer.getmany(timeout_ms=200, max_records=2000)
            self.last_poll = time.monotonic()
            async with self.lock:  # one transaction at a time: never two of one partition at once
                for tp, msgs in batch.items():
                    live = self.parts.get(tp)
                    if live is None or not live.ready:
                        continue  # fetched before the pause: read again from the committed offset
                    await self._intake(live, msgs)
                now_mono = time.monotonic()
                if now_mono >= next_tick:  # O(authorizations owned): on the tick, not on every poll
                    next_tick = now_mono + self.settings.scheduler_interval_seconds
                    for part in list(self.parts.values()):
                        if part.ready:
                            await self._act(part)
                    self.refresh_gauges()

    def _approvals(self, tp: TopicPartition, msgs: Sequence[ConsumerRecord[bytes, bytes]]) -> list[PADetermination]:
        out = []
        for msg in msgs:
            decision = next((v for k, v in msg.headers if k == "pa_decision"), None)
            if decision is not None and decision != b"approved":
                continue  # the determination says what it is: no need to parse a pend or a denial
            try:
                out.append(PADetermination.model_validate_json(msg.value or b""))
            except ValidationError:
                log.error("unreadable determination skipped", partition=tp.partition, offset=msg.offset)
        return out

    async def _intake(self, part: _Partition, msgs: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        """One batch of determinations: the states of new approvals and the input offsets, in one
        transaction; applied to the book once committed."""
        msgs = [msg for msg in msgs if msg.offset >= part.next_offset]
        if not msgs:
            return
        states = part.book.intake(self._approvals(part.tp, msgs), self.today())
        records = [state_record(st) for st in states]
        next_offset = msgs[-1].offset + 1
        try:
            async with part.writer.transaction({part.tp: next_offset}) as txn:
                for key, value in records:
                    await txn.send(
                        self.changelog_topic, value, key=key, partition=part.tp.partition, headers=_STATE_HEADERS
                    )
        except PartitionLost:
            self._lost(part)
            return
        except TransactionAborted:
            self._aborted(part)
            return
        part.next_offset = next_offset
        for key, value in records:
            part.book.apply(key, value)
            m.REMINDERS_SCHEDULED.inc()

    def _lost(self, part: _Partition) -> None:
        """Fenced: not taken up again until the group assigns it again (the rejoin settles who owns it)."""
        self.parts.pop(part.tp, None)
        if self.consumer is not None:
            with contextlib.suppress(Exception):
                self.consumer.pause(part.tp)
            request_rejoin(self.consumer)

    def _aborted(self, part: _Partition) -> None:
        """A new producer and the committed offset at the next restore (the book holds only what committed)."""
        part.positioned = False
        if self.consumer is not None:
            with contextlib.suppress(Exception):
                self.consumer.pause(part.tp)

    async def _act(self, part: _Partition) -> None:
        """Write today's plan in one transaction; apply it to the book once committed."""
        plan = part.book.plan(self.today())
        if not plan:
            return
        try:
            async with part.writer.transaction() as txn:
                await self._write(txn, part.tp.partition, plan)
        except PartitionLost:
            self._lost(part)
            return
        except TransactionAborted:
            self._aborted(part)
            return
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

    async def _write(self, txn: Transaction, partition: int, plan: Plan) -> None:
        """The plan as records: each reminder with its ``sent`` mark, every state to changelog ``partition``."""
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
            headers = _STATE_HEADERS if value is not None else []
            await txn.send(self.changelog_topic, value, key=key, partition=partition, headers=headers)

    def refresh_gauges(self) -> None:
        today = self.today()
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
        # The next due date's local midnight: when the reminder falls due.
        m.NEXT_REMINDER.set(datetime.combine(next_due, dtime(), self.tz).timestamp() if next_due else 0)
        m.ASSIGNED_PARTITIONS.labels("reauth").set(len(self.parts))
