"""The worker's channels, defined once: topics, CloudEvents types and DLQ error classes.

Everything else reads them from here: the worker's settings (the default topic names), the
handler and the scheduler (CloudEvents types), the metrics (DLQ error classes), the AsyncAPI
document (``contracts.export``) and the deploy checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from pydantic import BaseModel

from contracts.models import PADetermination, PAReauthDue, PARequest, PAReview

CE_SOURCE = "urn:mmm:pa-worker"
"""``ce_source`` of every event the worker emits."""

DlqErrorClass = Literal["not_json", "schema_invalid", "too_large", "unknown_schema_version", "evaluation_error"]
"""``pa_error_class`` of a dead-lettered request (and the ``error_class`` label of the DLQ metric)."""

DLQ_ERROR_CLASSES: tuple[DlqErrorClass, ...] = get_args(DlqErrorClass)


@dataclass(frozen=True, slots=True)
class Channel:
    id: str
    """The AsyncAPI channel id."""
    topic: str
    """The default topic name."""
    description: str
    setting: str | None = None
    """The worker setting that names the topic (``Settings`` field; env ``PA_`` + upper case);
    ``None``: the worker does not use this channel."""
    model: type[BaseModel] | None = None
    """The value's model; ``None``: not a contract message (DLQ: the original bytes)."""
    ce_type: str | None = None
    """The CloudEvents type of the message."""
    action: Literal["receive", "send"] | None = None
    """What the worker does on this channel (the AsyncAPI operation); ``None``: nothing yet."""
    public: bool = True
    """Part of the published contract (the AsyncAPI document); internal topics are not."""


REQUESTS = Channel(
    "paRequests",
    "pa.requests.v1",
    "Prior-authorization requests published by intake systems. Key: member.member_id.",
    setting="topic_requests",
    model=PARequest,
    ce_type="org.mmm.pa.request.v1",
    action="receive",
)
DETERMINATIONS = Channel(
    "paDeterminations",
    "pa.determinations.v1",
    "One determination per valid request, written transactionally (read with read_committed). Key: member_id.",
    setting="topic_determinations",
    model=PADetermination,
    ce_type="org.mmm.pa.determination.v1",
    action="send",
)
REAUTH_DUE = Channel(
    "paReauthDue",
    "pa.reauth-due.v1",
    "One reauthorization-due event per approved authorization. Key: member_id.",
    setting="topic_reauth_due",
    model=PAReauthDue,
    ce_type="org.mmm.pa.reauth_due.v1",
    action="send",
)
REVIEWS = Channel(
    "paReviews",
    "pa.reviews.v1",
    "A clinical reviewer's decision on a pended determination, published by the plan's review system "
    "(contract only in this version: the worker does not consume it yet). Key: member_id.",
    model=PAReview,
    ce_type="org.mmm.pa.review.v1",
)
DLQ = Channel(
    "paRequestsDlq",
    "pa.requests.dlq.v1",
    "Rejected input (not JSON, schema-invalid, too large, unknown schema_version, evaluation error).",
    setting="topic_dlq",
    action="send",
)
AUTHORIZATIONS = Channel(
    "paAuthorizations",
    "pa.authorizations.v1",
    "Internal compacted topic: approved authorizations' state.",
    setting="topic_authorizations",
    public=False,
)
REQUEST_INDEX = Channel(
    "paRequestIndex",
    "pa.request-index.v1",
    "Internal topic: request_id -> determination_id per input partition, so a request "
    "submitted again is not determined twice.",
    setting="topic_request_index",
    public=False,
)

CHANNELS: tuple[Channel, ...] = (REQUESTS, DETERMINATIONS, REAUTH_DUE, REVIEWS, DLQ, AUTHORIZATIONS, REQUEST_INDEX)
"""Every channel, public and internal."""

EVENT_CHANNELS: tuple[Channel, ...] = tuple(c for c in CHANNELS if c.public and c.model is not None)
"""The public channels whose value is a contract model (one schema file each)."""


def by_setting(setting: str) -> Channel:
    """The channel the worker setting ``setting`` (e.g. ``topic_requests``) names."""
    for channel in CHANNELS:
        if channel.setting == setting:
            return channel
    raise KeyError(setting)
