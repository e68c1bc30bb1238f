"""The worker's internal topic ``pa.authorizations.v1`` (compacted): one record per authorization.

Key: ``authorization_id``. Partition: chosen from ``member_id`` (the same murmur2 partitioner
Kafka uses for keys), so all of one member's authorizations share a partition and the
scheduler that owns it sees every supersession in log order. Not part of the public contract.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

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
