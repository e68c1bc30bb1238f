"""The reauthorization scheduler: approvals in, ``pa.reauth_due`` reminders out, exactly once.

Input: ``pa.determinations.v1`` in the scheduler's own group. Store: one
:class:`~worker.reminders.ReminderBook` per input partition ``p``, whose changelog is partition
``p`` of the compacted ``pa.authorizations.v1`` (key ``authorization_id``), which only the
scheduler writes, so the book is authoritative. Determinations are keyed by ``member_id``, so one
member's approvals share a book and their supersession is decided in one place. The writer of
partition ``p`` is named after the store's partition (``{group}-pa.authorizations.v1-{p}``), as
when the store was the input, so a rolling update fences the previous version's scheduler.

- **process** (a batch of determinations): the ``scheduled`` state of every approval the book does
  not hold yet and whose ``valid_through`` is not past, put into the store with the input offsets.
  An authorization the book holds (any status) is never written again, so a replay cannot re-open a
  reminder;
- **punctuate** (every ``scheduler_interval_seconds``): the book's plan for today, the clock's local
  date in the plan's time zone (supersede, due reminders, expiry; see :mod:`worker.reminders`): the
  ``pa.reauth_due`` events with their ``sent`` marks (and ``cancelled`` marks, tombstones).

So a reminder is sent exactly once: killed before the commit, nothing is visible and the next owner
sends it; killed after, the ``sent`` mark is in the log the book is restored from.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from datetime import time as dtime
from typing import Any

from pydantic import ValidationError

from contracts import PADetermination
from policy import DEFAULT_SETTINGS, PolicySettings
from policy.reauth import build_reauth_due
from policy.settings import zone
from worker import metrics as m
from worker.config import Settings
from worker.events import CE_TYPE_REAUTH_DUE, cloudevent_headers
from worker.logs import get_logger
from worker.records import OutRecord
from worker.reminders import ReminderBook, plan_date, state_record
from worker.runtime.stage import Commit, Context, Processor, StageSpec, StoreSpec, TaskEvents

log = get_logger("pa_worker.scheduler")

Clock = Callable[[], datetime]


class ReauthProcessor(Processor[ReminderBook]):
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
        lead, grace = settings.reauth_lead_days, settings.reauth_state_grace_days
        self.spec = StageSpec(
            role="reauth",
            group_id=settings.reauth_group_id,
            input=settings.topic_determinations,
            outputs=(settings.topic_reauth_due,),
            store=StoreSpec(settings.topic_authorizations, lambda: ReminderBook(lead, grace, tz=self.tz)),
            punctuate_seconds=settings.scheduler_interval_seconds,
            writer_topic=settings.topic_authorizations,
            log_prefix="scheduler ",
            events=TaskEvents(
                assigned="reauth partition assigned; rebuilding",
                restored="reauth partition rebuilt",
                released="reauth partition released",
            ),
        )

    def today(self) -> date:
        """The clock's local date in the plan's time zone: the day reminders are planned for."""
        return plan_date(self.clock(), self.tz)

    async def process(self, ctx: Context[ReminderBook], records: Sequence[Any]) -> Commit:
        states = ctx.store.intake(self._approvals(ctx.partition, records), self.today())
        for st in states:
            ctx.put(*state_record(st))
        if not states:
            return None
        return lambda: m.REMINDERS_SCHEDULED.inc(len(states))

    def _approvals(self, partition: int, msgs: Sequence[Any]) -> list[PADetermination]:
        out = []
        for msg in msgs:
            decision = next((v for k, v in msg.headers if k == "pa_decision"), None)
            if decision is not None and decision != b"approved":
                continue  # the determination says what it is: no need to parse a pend or a denial
            try:
                out.append(PADetermination.model_validate_json(msg.value or b""))
            except ValidationError:
                log.error("unreadable determination skipped", partition=partition, offset=msg.offset)
        return out

    async def punctuate(self, ctx: Context[ReminderBook]) -> Commit:
        """Today's plan: each due reminder with its ``sent`` mark, every state record."""
        plan = ctx.store.plan(self.today())
        if not plan:
            return None
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
            headers = cloudevent_headers(
                event.event_id,
                CE_TYPE_REAUTH_DUE,
                self.clock(),
                [("pa_authorization_id", st.authorization_id.encode())],
            )
            ctx.emit(
                OutRecord(
                    self.settings.topic_reauth_due, st.member_id.encode(), event.model_dump_json().encode(), headers
                )
            )
        for key, value in plan.records():
            ctx.put(key, value)

        def done() -> None:
            for st in plan.cancel:
                m.REMINDERS_CANCELLED.inc()
                log.info("reminder cancelled: superseded", authorization_id=st.authorization_id)
            for st in plan.send:
                m.REMINDERS_EMITTED.inc()
                log.info("reauth reminder sent", authorization_id=st.authorization_id)
            if plan.expire:
                log.info("authorization states deleted: past valid_through and grace", count=len(plan.expire))

        return done

    def gauges(self, contexts: Sequence[Context[ReminderBook]]) -> None:
        today = self.today()
        pending = due = 0
        next_due = None
        for ctx in contexts:
            p, d, n = ctx.store.outlook(today)
            pending += p
            due += d
            if n is not None and (next_due is None or n < next_due):
                next_due = n
        m.REMINDERS_PENDING.set(pending)
        m.REMINDERS_DUE.set(due)
        # The next due date's local midnight: when the reminder falls due.
        m.NEXT_REMINDER.set(datetime.combine(next_due, dtime(), self.tz).timestamp() if next_due else 0)
