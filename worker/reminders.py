"""The reminder book: what the reauthorization scheduler knows and decides, with no Kafka and no clock.

One book per input partition ``p`` of ``pa.determinations.v1``; its changelog is partition ``p``
of the compacted ``pa.authorizations.v1``, which only the scheduler writes (one writer per key,
as a Kafka Streams store's changelog). The book is therefore authoritative: what it holds is
what the log holds.

- :meth:`ReminderBook.intake` turns a batch of determinations into the ``scheduled`` states to
  write: one per approval with an authorization (the engine's and a reviewer's final approval
  alike) whose ``authorization_id`` the book does not hold yet, in any status, and whose
  ``valid_through`` is not already past. An approval read again (a replay, a determinations
  consumer rewound, a determination published twice) is therefore never written again and never
  re-opens a reminder already sent or cancelled; one whose state already expired (below) is past
  its ``valid_through`` too, so re-reading old determinations cannot send ancient reminders.
- :meth:`ReminderBook.apply` takes the changelog's records in log order (the restore, then the
  scheduler's own committed writes; a ``None`` value is a tombstone): the last record of a key wins.
- :meth:`ReminderBook.plan` says, for a given day (the plan's local date, see below), which state
  records to write:

  - **supersede**: an authorization still ``scheduled`` while a later approval of the same member
    (ordered by ``decided_at``, then id) exists is ``cancelled``;
  - **due**: the latest ``scheduled`` authorization of a member whose reminder is due
    (``valid_through - lead`` or at once when approved inside the window) is ``sent`` with its due
    date; the scheduler publishes its ``pa.reauth_due`` in the same transaction;
  - **expiry**: an authorization sent or cancelled and past ``valid_through + grace_days`` is
    deleted (a tombstone), so the topic's live keys, the book's memory and a restore's length stay
    bounded by the traffic of one validity period plus the grace, not by every approval ever made.
    One still ``scheduled`` that late (the scheduler was down) is first sent or cancelled as
    usual, and deleted at a later tick: a reminder the book holds is never dropped unsent.

The scheduler writes the intake and each plan in one transaction each (with the input offsets
for the intake) and, once committed, applies the same records to the book.

Days are the plan's local dates (``PolicySettings.timezone``, America/Puerto_Rico), as the
engine's are: an approval decided at 22:30 in San Juan (02:30 UTC the next day) was approved on
that day, and a reminder due on a date falls due at local midnight, not at 20:00 the evening
before (UTC midnight). The scheduler reads "today" with :func:`plan_date` on its clock.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Final

from pydantic import ValidationError

from contracts import PADetermination
from contracts.internal import AuthorizationState
from policy import DEFAULT_SETTINGS
from policy.evidence import local_date
from policy.reauth import reauth_due_on
from policy.settings import zone

_STATE_JSON = AuthorizationState.__pydantic_serializer__

PLAN_ZONE: Final[tzinfo] = zone(DEFAULT_SETTINGS.timezone)
"""The plan's time zone (``PolicySettings.timezone``): the calendar reminders fall due on."""


def plan_date(moment: datetime, tz: tzinfo = PLAN_ZONE) -> date:
    """The plan's local date of the aware ``moment`` (``today`` for a scheduler clock reading it)."""
    return local_date(moment, tz)


class Applied(enum.Enum):
    NEW = "new"
    """A scheduled authorization the book did not hold."""
    UPDATED = "updated"
    DELETED = "deleted"
    IGNORED = "ignored"
    """No key, or a tombstone of an unknown key."""
    UNREADABLE = "unreadable"


def scheduled_state(det: PADetermination, tz: tzinfo = PLAN_ZONE) -> AuthorizationState | None:
    """The ``scheduled`` state of an approval with an authorization, else ``None``.

    Every field comes from the determination; ``approved_on`` is the local date of ``decided_at``
    in ``tz`` (the plan's time zone), as ``valid_from`` is. ``prior_authorization_id`` (the continued
    authorization) is in the request, not in the determination, and nothing reads it from the
    state (supersession orders a member's approvals by ``decided_at``): ``None`` here."""
    auth = det.authorization
    if det.decision != "approved" or auth is None:
        return None
    return AuthorizationState(
        status="scheduled",
        authorization_id=auth.authorization_id,
        member_id=det.member_id,
        prescriber_npi=det.prescriber_npi,
        valid_from=auth.valid_from,
        valid_through=auth.valid_through,
        approved_on=plan_date(det.decided_at, tz),
        decided_at=det.decided_at,
        determination_id=det.determination_id,
        request_id=det.request_id,
        request_type=det.request_type,
        prior_authorization_id=None,
        policy_version=det.policy.version,
        reauth_due_on=None,
    )


def state_record(st: AuthorizationState) -> tuple[bytes, bytes]:
    """The changelog record (key, value) of ``st``."""
    return st.authorization_id.encode(), _STATE_JSON.to_json(st)


@dataclass(frozen=True)
class Plan:
    cancel: tuple[AuthorizationState, ...] = ()
    """Superseded authorizations, status ``cancelled``."""
    send: tuple[AuthorizationState, ...] = ()
    """Due reminders, status ``sent`` with ``reauth_due_on``: one ``pa.reauth_due`` each."""
    expire: tuple[str, ...] = ()
    """Authorization ids to delete (tombstones)."""

    def __bool__(self) -> bool:
        return bool(self.cancel or self.send or self.expire)

    def records(self) -> Iterator[tuple[bytes, bytes | None]]:
        """The state records (key, value; ``None`` for a tombstone) this plan writes, in order."""
        for st in (*self.cancel, *self.send):
            yield state_record(st)
        for auth_id in self.expire:
            yield auth_id.encode(), None


@dataclass
class ReminderBook:
    lead_days: int
    grace_days: int | None = None
    """Delete authorizations this many days past ``valid_through`` (None: never)."""
    auths: dict[str, AuthorizationState] = field(default_factory=dict)
    tz: tzinfo = PLAN_ZONE
    """The plan's time zone: an approval's ``approved_on`` is its local date there."""

    def __len__(self) -> int:
        return len(self.auths)

    def due_on(self, st: AuthorizationState) -> date:
        return reauth_due_on(st.valid_through, st.approved_on, self.lead_days)

    def intake(self, determinations: Iterable[PADetermination], today: date) -> tuple[AuthorizationState, ...]:
        """The ``scheduled`` states to write for ``determinations`` (one batch, in log order):
        approvals the book does not hold, each once, none past its ``valid_through`` on ``today``
        (the plan's local date). The book is not changed: apply the records once they committed."""
        out: dict[str, AuthorizationState] = {}
        for det in determinations:
            st = scheduled_state(det, self.tz)
            if st is None or st.authorization_id in self.auths or st.authorization_id in out:
                continue
            if st.valid_through < today:
                continue  # expired already: no reminder (and its state may have been deleted long ago)
            out[st.authorization_id] = st
        return tuple(out.values())

    def apply(self, key: bytes | None, value: bytes | None) -> Applied:
        if key is None:
            return Applied.IGNORED
        auth_id = key.decode("utf-8", "replace")
        if value is None:
            return Applied.DELETED if self.auths.pop(auth_id, None) is not None else Applied.IGNORED
        try:
            state = AuthorizationState.model_validate_json(value)
        except ValidationError:
            return Applied.UNREADABLE
        previous = self.auths.get(auth_id)
        self.auths[auth_id] = state
        return Applied.NEW if previous is None and state.status == "scheduled" else Applied.UPDATED

    def _latest_by_member(self) -> dict[str, str]:
        latest: dict[str, AuthorizationState] = {}
        for st in self.auths.values():
            cur = latest.get(st.member_id)
            if cur is None or (st.decided_at, st.authorization_id) > (cur.decided_at, cur.authorization_id):
                latest[st.member_id] = st
        return {member: st.authorization_id for member, st in latest.items()}

    def _expired(self, st: AuthorizationState, today: date) -> bool:
        if self.grace_days is None:
            return False
        try:
            return today > st.valid_through + timedelta(days=self.grace_days)
        except OverflowError:
            return False

    def plan(self, today: date) -> Plan:
        latest = self._latest_by_member()
        cancel: list[AuthorizationState] = []
        send: list[AuthorizationState] = []
        expire: list[str] = []
        for auth_id, st in self.auths.items():
            if st.status != "scheduled":
                if self._expired(st, today):
                    expire.append(auth_id)
                continue
            if latest.get(st.member_id) != st.authorization_id:
                cancel.append(st.model_copy(update={"status": "cancelled"}))
            elif self.due_on(st) <= today:
                send.append(st.model_copy(update={"status": "sent", "reauth_due_on": self.due_on(st)}))
        return Plan(tuple(cancel), tuple(send), tuple(expire))

    def outlook(self, today: date) -> tuple[int, int, date | None]:
        """(pending, due, next due date) of the reminders still to send."""
        latest = self._latest_by_member()
        pending = due = 0
        next_due: date | None = None
        for st in self.auths.values():
            if st.status != "scheduled" or latest.get(st.member_id) != st.authorization_id:
                continue
            pending += 1
            d = self.due_on(st)
            if d <= today:
                due += 1
            if next_due is None or d < next_due:
                next_due = d
        return pending, due, next_due
