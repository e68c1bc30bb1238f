"""Reauthorization-due reminders, with their state in Kafka.

State: the compacted topic ``pa.authorizations.v1``. The determination worker writes an
approved authorization there (status ``scheduled``) in the same transaction as the
determination; the record's partition follows ``member_id``, so one member's authorizations
share a partition.

The scheduler is a consumer group over that topic. On assignment of a partition it opens a
transactional producer (``{group}-{topic}-{partition}``; ``init_transactions`` fences a
previous owner and settles its open transaction), then rebuilds the partition's state by
reading it from the beginning to its last stable offset. Only then does it act, on a clock
it is given:

- an authorization superseded by a later approval of the same member (ordered by
  ``decided_at``) that is still ``scheduled`` is marked ``cancelled``;
- an authorization whose reminder is due (``valid_through - lead`` or, when the approval
  is already inside the window, at once) gets its ``pa.reauth_due`` event and its
  ``sent`` mark in ONE transaction.

So a reminder is sent exactly once: killed before the commit, nothing is visible and the
next owner sends it; killed after, the ``sent`` mark is in the log it rebuilds from.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from datetime import time as dtime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError, ProducerFenced
from pydantic import ValidationError

from contracts.internal import AuthorizationState
from policy import DEFAULT_SETTINGS, PolicySettings
from policy.reauth import build_reauth_due, reauth_due_on
from worker import metrics as m
from worker.config import Settings
from worker.handler import CE_TYPE_REAUTH_DUE, cloudevent_headers
from worker.kafka import METADATA_MAX_AGE_MS, PartitionListener, producer_kwargs, require_topics
from worker.logs import get_logger

log = get_logger("pa_worker.scheduler")

Clock = Callable[[], datetime]


@dataclass
class _Partition:
    tp: TopicPartition
    producer: AIOKafkaProducer
    end_at_assignment: int
    caught_up: bool = False
    auths: dict[str, AuthorizationState] = field(default_factory=dict)
    restore: dict[str, AuthorizationState] = field(default_factory=dict)
    """Terminal states to write again: a replayed approval must not outlive them in compaction."""


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
        self.last_poll = 0.0
        self.fenced: set[TopicPartition] = set()
        """Partitions another instance took over: not taken up again until the group assigns them."""

    @property
    def ready(self) -> bool:
        return self.consumer is not None and (time.monotonic() - self.last_poll) < 60.0

    async def start(self) -> None:
        self.consumer = AIOKafkaConsumer(
            **self.settings.kafka_kwargs(),
            group_id=self.group_id,
            enable_auto_commit=False,  # state is rebuilt from the start of the log on every assignment
            isolation_level="read_committed",
            auto_offset_reset="earliest",
            session_timeout_ms=self.settings.kafka_session_timeout_ms,
            heartbeat_interval_ms=max(1_000, self.settings.kafka_session_timeout_ms // 10),
            rebalance_timeout_ms=60_000,
            metadata_max_age_ms=METADATA_MAX_AGE_MS,
        )
        await self.consumer.start()
        try:
            await require_topics(self.consumer, [self.topic, self.settings.topic_reauth_due])
        except KafkaError:
            await self.consumer.stop()
            self.consumer = None
            raise
        self.consumer.subscribe(
            [self.topic], listener=PartitionListener(self.lock, self.acquire, self.release, self.refresh_gauges)
        )

    async def stop(self) -> None:
        if self.consumer is not None:
            try:
                await self.consumer.stop()
            finally:
                async with self.lock:
                    await asyncio.gather(*(self.release(tp) for tp in list(self.parts)))
                self.refresh_gauges()

    async def acquire(self, tp: TopicPartition) -> None:
        assert self.consumer is not None
        self.fenced.discard(tp)
        if tp in self.parts:
            return
        tid = f"{self.group_id}-{tp.topic}-{tp.partition}"
        producer = AIOKafkaProducer(**producer_kwargs(self.settings), transactional_id=tid)
        await producer.start()  # fences the previous owner and settles its open transaction
        end = (await self.consumer.end_offsets([tp]))[tp]
        await self.consumer.seek_to_beginning(tp)
        part = _Partition(tp, producer, end, caught_up=(end == 0))
        self.parts[tp] = part
        log.info("reauth partition assigned; rebuilding", partition=tp.partition, end_offset=end)

    async def release(self, tp: TopicPartition) -> None:
        part = self.parts.pop(tp, None)
        if part is None:
            return
        try:
            await part.producer.stop()
        except Exception as exc:
            log.warning("scheduler producer close failed", partition=tp.partition, error=type(exc).__name__)

    async def run(self, stop: asyncio.Event) -> None:
        assert self.consumer is not None, "start() first"
        next_tick = 0.0
        while not stop.is_set():
            batch = await self.consumer.getmany(timeout_ms=200, max_records=2000)
            self.last_poll = time.monotonic()
            async with self.lock:
                for tp, msgs in batch.items():
                    part = self.parts.get(tp)
                    if part is None:
                        continue
                    for msg in msgs:
                        self._apply(part, msg.key, msg.value, msg.offset)
                    if not part.caught_up and msgs[-1].offset + 1 >= part.end_at_assignment:
                        part.caught_up = True
                        log.info("reauth partition rebuilt", partition=tp.partition, authorizations=len(part.auths))
                for part in self.parts.values():
                    if not part.caught_up:
                        position = await self.consumer.position(part.tp)
                        if position >= part.end_at_assignment:
                            part.caught_up = True
                now_mono = time.monotonic()
                if now_mono >= next_tick:  # O(authorizations owned): on the tick, not on every poll
                    next_tick = now_mono + self.settings.scheduler_interval_seconds
                    for tp in self.consumer.assignment() - set(self.parts) - self.fenced:
                        try:  # dropped after a failure: take it up again (rebuilds from the log)
                            await self.acquire(tp)
                        except Exception as exc:
                            log.error(
                                "reauth partition not reopened; will retry",
                                partition=tp.partition,
                                error=type(exc).__name__,
                            )
                    for part in list(self.parts.values()):
                        if part.caught_up:
                            await self._act(part)
                    self.refresh_gauges()

    # -- state -----------------------------------------------------------------------------

    def _apply(self, part: _Partition, key: bytes | None, value: bytes | None, offset: int) -> None:
        if key is None:
            return
        auth_id = key.decode("utf-8", "replace")
        if value is None:
            part.auths.pop(auth_id, None)  # tombstone
            return
        try:
            state = AuthorizationState.model_validate_json(value)
        except ValidationError:
            log.error("unreadable authorization state record skipped", partition=part.tp.partition)
            return
        previous = part.auths.get(auth_id)
        if previous is not None and previous.status != "scheduled" and state.status == "scheduled":
            # A replayed approval (the same request submitted again) never re-opens a reminder
            # already sent or cancelled; re-assert the terminal state so compaction keeps it.
            part.restore[auth_id] = previous
            return
        part.restore.pop(auth_id, None)
        if previous is None and state.status == "scheduled" and offset >= part.end_at_assignment:
            m.REMINDERS_SCHEDULED.inc()  # new since this instance took the partition (not a rebuild)
        part.auths[auth_id] = state

    def due_on(self, state: AuthorizationState) -> date:
        return reauth_due_on(state.valid_through, state.approved_on, self.lead_days)

    def _latest_by_member(self, part: _Partition) -> dict[str, str]:
        latest: dict[str, AuthorizationState] = {}
        for st in part.auths.values():
            cur = latest.get(st.member_id)
            if cur is None or (st.decided_at, st.authorization_id) > (cur.decided_at, cur.authorization_id):
                latest[st.member_id] = st
        return {member: st.authorization_id for member, st in latest.items()}

    async def _act(self, part: _Partition) -> None:
        today = self.clock().astimezone(UTC).date()
        latest = self._latest_by_member(part)
        cancel: list[AuthorizationState] = []
        send: list[AuthorizationState] = []
        for st in part.auths.values():
            if st.status != "scheduled":
                continue
            if latest.get(st.member_id) != st.authorization_id:
                cancel.append(st)
            elif self.due_on(st) <= today:
                send.append(st)
        restore = list(part.restore.values())
        if not cancel and not send and not restore:
            return
        producer = part.producer
        try:
            await producer.begin_transaction()
            try:
                futures: list[asyncio.Future[object]] = []
                for st in restore:
                    futures.append(await self._send_state(producer, part.tp, st))
                for st in cancel:
                    updated = st.model_copy(update={"status": "cancelled"})
                    futures.append(await self._send_state(producer, part.tp, updated))
                for st in send:
                    due = self.due_on(st)
                    event = build_reauth_due(
                        authorization_id=st.authorization_id,
                        member_id=st.member_id,
                        prescriber_npi=st.prescriber_npi,
                        valid_through=st.valid_through,
                        reauth_due_on=due,
                        determination_id=st.determination_id,
                        settings=self.policy_settings,
                    )
                    futures.append(
                        await producer.send(
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
                    )
                    updated = st.model_copy(update={"status": "sent", "reauth_due_on": due})
                    futures.append(await self._send_state(producer, part.tp, updated))
                await asyncio.gather(*futures)
                await producer.commit_transaction()
            except ProducerFenced:
                raise
            except BaseException:
                with contextlib.suppress(Exception):
                    await producer.abort_transaction()
                raise
        except ProducerFenced:
            m.TRANSACTIONS.labels("aborted").inc()
            log.warning("scheduler producer fenced: partition owned elsewhere", partition=part.tp.partition)
            self.fenced.add(part.tp)
            await self.release(part.tp)
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            m.TRANSACTIONS.labels("aborted").inc()
            log.error(
                "reminder transaction aborted; rebuilding the partition with a new producer",
                partition=part.tp.partition,
                error=type(exc).__name__,
            )
            # The producer may be unusable after a failed transaction (e.g. across a broker
            # restart): drop it; the next tick takes the partition up again and rebuilds it.
            await self.release(part.tp)
            return
        m.TRANSACTIONS.labels("committed").inc()
        for st in restore:
            if part.restore.get(st.authorization_id) is st:
                del part.restore[st.authorization_id]
        for st in cancel:
            part.auths[st.authorization_id] = st.model_copy(update={"status": "cancelled"})
            m.REMINDERS_CANCELLED.inc()
            log.info("reminder cancelled: superseded", authorization_id=st.authorization_id)
        for st in send:
            part.auths[st.authorization_id] = st.model_copy(update={"status": "sent", "reauth_due_on": self.due_on(st)})
            m.REMINDERS_EMITTED.inc()
            log.info("reauth reminder sent", authorization_id=st.authorization_id)

    async def _send_state(
        self, producer: AIOKafkaProducer, tp: TopicPartition, st: AuthorizationState
    ) -> asyncio.Future[object]:
        fut: asyncio.Future[object] = await producer.send(
            tp.topic,
            st.model_dump_json().encode(),
            key=st.authorization_id.encode(),
            partition=tp.partition,
            headers=[("content-type", b"application/json")],
        )
        return fut

    def refresh_gauges(self) -> None:
        today = self.clock().astimezone(UTC).date()
        pending = due = 0
        next_due: date | None = None
        for part in self.parts.values():
            latest = self._latest_by_member(part)
            for st in part.auths.values():
                if st.status != "scheduled" or latest.get(st.member_id) != st.authorization_id:
                    continue
                pending += 1
                d = self.due_on(st)
                if d <= today:
                    due += 1
                if next_due is None or d < next_due:
                    next_due = d
        m.REMINDERS_PENDING.set(pending)
        m.REMINDERS_DUE.set(due)
        m.NEXT_REMINDER.set(datetime.combine(next_due, dtime(), UTC).timestamp() if next_due else 0)
        m.ASSIGNED_PARTITIONS.labels("reauth").set(len(self.parts))
