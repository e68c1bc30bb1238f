"""The worker's internal topic ``pa.authorizations.v1`` (compacted): one record per authorization.

Key: ``authorization_id``. Partition: chosen from ``member_id`` (the same murmur2 partitioner
Kafka uses for keys), so all of one member's authorizations share a partition and the
scheduler that owns it sees every supersession in log order. Not part of the public contract.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from contracts.models import PADetermination, PARequest

AuthorizationStatus = Literal["scheduled", "sent", "cancelled"]


class AuthorizationState(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True, title="pa.authorization_state")

    schema_version: Literal["1"] = "1"
    status: AuthorizationStatus
    authorization_id: str
    member_id: str
    prescriber_npi: str
    valid_from: date
    valid_through: date
    approved_on: date
    decided_at: datetime
    determination_id: str
    request_id: str
    request_type: Literal["initial", "continuation"]
    prior_authorization_id: str | None = None
    policy_version: str
    reauth_due_on: date | None = None
    """Set when status is ``sent``: the due date the emitted reminder carried."""


# --- the review stage's topics (issue #15) ------------------------------------------------
#
# ``pa.pends.v1`` (the pend inbox, cleanup.policy=delete): written only by the request
# processor, in the same transaction as the determination it describes. Key: determination_id;
# partition: murmur2 of member_id, so it is co-partitioned with ``pa.reviews.v1`` (key member_id,
# same partition count, checked at start).
#
# ``pa.pend-store.v1`` (compacted): the changelog of the review stage's store, written only by
# the review stage. Key: determination_id (a :class:`PendState`), plus one key per partition,
# :data:`INBOX_POSITION_KEY`, whose value is the next offset of the inbox partition to read: the
# inbox is read exactly once because its position commits in the same transactions as the state
# it produced.

INBOX_POSITION_KEY = b"~inbox-position"


class PendInboxRecord(BaseModel):
    """One determination, as the review stage needs it. A pend carries the pended determination
    and its request (to build a reviewer's approval); any other decision only its ids, so that a
    later determination of the same request (a resubmission) closes the pend it answers."""

    model_config = ConfigDict(strict=False, extra="ignore", frozen=True, title="pa.pend_inbox")

    schema_version: Literal["1"] = "1"
    determination_id: str
    request_id: str
    member_id: str
    decision: Literal["approved", "pended", "denied"]
    decided_at: datetime
    pended: PADetermination | None = None
    request: PARequest | None = None


PendStatus = Literal["open", "final", "superseded"]


class PendState(BaseModel):
    """A pend and its decision clock (one record per determination in ``pa.pend-store.v1``)."""

    model_config = ConfigDict(strict=False, extra="ignore", frozen=True, title="pa.pend_state")

    schema_version: Literal["1"] = "1"
    status: PendStatus
    determination_id: str
    request_id: str
    member_id: str
    priority: Literal["standard", "expedited"]
    pend_reason: Literal["clinical_review", "missing_information"]
    received_at: datetime
    decision_due_by: datetime
    warned: bool = False
    """The warning event was emitted."""
    breached: bool = False
    """The breach event was emitted."""
    pended: PADetermination | None = None
    """The pended determination; dropped once closed."""
    request: PARequest | None = None
    """Its request; dropped once closed."""
    closed_by: str | None = None
    """The determination that closed it (a reviewer's, or a later one of the same request)."""
    review_id: str | None = None
    review_digest: str | None = None
    """sha256 of the review that closed it, as applied: the same review again is a duplicate."""
    closed_at: datetime | None = None
