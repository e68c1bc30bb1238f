"""The reminder book: what the reauthorization scheduler knows and decides, with no Kafka and no clock.

One book per partition of ``pa.authorizations.v1``. :meth:`ReminderBook.apply` takes the
partition's records in log order (restore and live alike; a ``None`` value is a tombstone);
:meth:`ReminderBook.plan` says, for a given day, which state records to write:

- **supersede**: an authorization still ``scheduled`` while a later approval of the same member
  (ordered by ``decided_at``, then id) exists is ``cancelled``;
- **due**: the latest ``scheduled`` authorization of a member whose reminder is due
  (``valid_through - lead`` or at once when approved inside the window) is ``sent`` with its due
  date; the scheduler publishes its ``pa.reauth_due`` in the same transaction;
- **replay guard**: an approval replayed after its reminder was sent or cancelled never re-opens
  it: the terminal state is written again, so compaction cannot keep the replay instead;
- **expiry**: an authorization sent or cancelled and past ``valid_through + grace_days`` is
  deleted (a tombstone), so the topic's live keys, the book's memory and a restore's length stay
  bounded by the traffic of one validity period plus the grace, not by every approval ever made.
  One still ``scheduled`` that late (the scheduler was down) is first sent or cancelled as
  usual, and deleted at a later tick: a reminder is never dropped unsent. The replay guard
  holds while the state is kept: keep ``valid_through + grace`` beyond the request index's
  retention (``PA_DEDUPE_RETENTION_DAYS``), within which a replay is not determined again.

The scheduler writes the plan in one transaction and, once committed, applies the same records
to the book (they come back through its consumer too; applying them again changes nothing).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

from pydantic import ValidationError

from contracts.internal import AuthorizationState
from policy.reauth import reauth_due_on

_STATE_JSON = AuthorizationState.__pydantic_serializer__


class Applied(enum.Enum):
    NEW = "new"
    """A scheduled authorization the book did not hold."""
    UPDATED = "updated"
    REPLAY_BLOCKED = "replay_blocked"
    """A scheduled record for an authorization already sent or cancelled: ignored, re-asserted."""
    DELETED = "deleted"
    IGNORED = "ignored"
    """No key, or a tombstone of an unknown key."""
    UNREADABLE = "unreadable"


@dataclass(frozen=True)
class Plan:
    restore: tuple[AuthorizationState, ...] = ()
    """Terminal states written again (replay guard)."""
    cancel: tuple[AuthorizationState, ...] = ()
    """Superseded authorizations, status ``cancelled``."""
    send: tuple[AuthorizationState, ...] = ()
    """Due reminders, status ``sent`` with ``reauth_due_on``: one ``pa.reauth_due`` each."""
    expire: tuple[str, ...] = ()
    """Authorization ids to delete (tombstones)."""

    def __bool__(self) -> bool:
        return bool(self.restore or self.cancel or self.send or self.expire)

    def records(self) -> Iterator[tuple[bytes, bytes | None]]:
        """The state records (key, value; ``None`` for a tombstone) this plan writes, in order."""
        for st in (*self.restore, *self.cancel, *self.send):
            yield st.authorization_id.encode(), _STATE_JSON.to_json(st)
        for auth_id in self.expire:
            yield auth_id.encode(), None


@dataclass
class ReminderBook:
    lead_days: int
    grace_days: int | None = None
    """Delete authorizations this many days past ``valid_through`` (None: never)."""
    auths: dict[str, AuthorizationState] = field(default_factory=dict)
    pending_restore: dict[str, AuthorizationState] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.auths)

    def due_on(self, st: AuthorizationState) -> date:
        return reauth_due_on(st.valid_through, st.approved_on, self.lead_days)

    def apply(self, key: bytes | None, value: bytes | None) -> Applied:
        if key is None:
            return Applied.IGNORED
        auth_id = key.decode("utf-8", "replace")
        if value is None:
            self.pending_restore.pop(auth_id, None)
            return Applied.DELETED if self.auths.pop(auth_id, None) is not None else Applied.IGNORED
        try:
            state = AuthorizationState.model_validate_json(value)
        except ValidationError:
            return Applied.UNREADABLE
        previous = self.auths.get(auth_id)
        if previous is not None and previous.status != "scheduled" and state.status == "scheduled":
            self.pending_restore[auth_id] = previous
            return Applied.REPLAY_BLOCKED
        self.pending_restore.pop(auth_id, None)
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
        gone = set(expire)
        restore = [st for auth_id, st in self.pending_restore.items() if auth_id not in gone]
        return Plan(tuple(restore), tuple(cancel), tuple(send), tuple(expire))

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
