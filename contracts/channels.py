"""The worker's channels, defined once: topics, CloudEvents types and DLQ error classes.

Everything else reads them from here: the worker's settings (the default topic names), the
handler and the scheduler (CloudEvents types), the metrics (DLQ error classes), the AsyncAPI
document (``contracts.export``) and the deploy checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from pydantic import BaseModel

from contracts.models import PADecisionClock, PADetermination, PANotice, PAReauthDue, PARequest, PAReview

CE_SOURCE = "urn:mmm:pa-worker"
"""``ce_source`` of every event the worker emits."""

DlqErrorClass = Literal[
    "not_json",
    "schema_invalid",
    "too_large",
    "unknown_schema_version",
    "evaluation_error",
    "received_in_future",
    "unknown_determination",
    "determination_not_pended",
    "review_mismatch",
    "credential_not_allowed",
    "notice_mismatch",
    "too_many_notices",
]
"""``pa_error_class`` of a dead-lettered message (and the ``error_class`` label of the DLQ metric).

The first five apply to requests and reviews alike. ``received_in_future`` only to requests: its
``received_at`` is later than the worker's clock by more than ``PA_FUTURE_RECEIVED_AT_TOLERANCE_SECONDS``
(a sender's clock or UTC offset is wrong; evaluating it would date the decision before the receipt).
The last four only to reviews: the review
names a determination the worker never pended (``unknown_determination``), one that already has
its final decision or was superseded (``determination_not_pended``), another request or member
than its determination's (``review_mismatch``), or is adverse and its reviewer's credential is
not allowed to make adverse decisions (``credential_not_allowed``, 42 CFR 422.566(d)).

Notices (``pa.notice``) take the first four, ``evaluation_error`` and two of their own:
``notice_mismatch`` (another request or member than the determination's it names, an
``information_request`` notice of a final decision, or a decision notice of a pended
determination) and ``too_many_notices`` (more distinct notices of one determination than the
review stage keeps, ``PA_NOTICES_MAX_PER_DETERMINATION``). A notice of a determination the review
stage does not keep (an engine's immediate decision) is valid: counted, not dead-lettered."""

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
    dead_letter_of: str | None = None
    """For a dead-letter topic: the id of the channel whose rejected messages it holds."""


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
    "A clinical reviewer's decision on a pended determination, published by the plan's review system. "
    "Key: member_id. Same partition count as pa.determinations.v1's pend inbox (the worker checks at start).",
    setting="topic_reviews",
    model=PAReview,
    ce_type="org.mmm.pa.review.v1",
    action="receive",
)
DECISION_CLOCK = Channel(
    "paDecisionClock",
    "pa.decision-clock.v1",
    "A pended determination used the warning share of its decision clock, or its decision_due_by passed "
    "without a final decision: at most one event per determination and threshold. Key: member_id.",
    setting="topic_decision_clock",
    model=PADecisionClock,
    ce_type="org.mmm.pa.decision_clock.v1",
    action="send",
)
DLQ = Channel(
    "paRequestsDlq",
    "pa.requests.dlq.v1",
    "Rejected input (not JSON, schema-invalid, too large, unknown schema_version, evaluation error, "
    "received_at later than the worker's clock beyond its tolerance).",
    setting="topic_dlq",
    action="send",
    dead_letter_of="paRequests",
)
REVIEWS_DLQ = Channel(
    "paReviewsDlq",
    "pa.reviews.dlq.v1",
    "Rejected reviews, original bytes kept: not JSON, schema-invalid, too large, unknown schema_version, "
    "unknown determination, determination not pended (already final or superseded), a mismatch with the "
    "determination, or an adverse outcome by a credential not allowed to make it.",
    setting="topic_reviews_dlq",
    action="send",
    dead_letter_of="paReviews",
)
NOTICES = Channel(
    "paNotices",
    "pa.notices.v1",
    "The letter system's record of each notice sent about a determination (member or prescriber, channel, "
    "sent time): the regulatory clocks run to notifying the member (42 CFR 422.568(b), 422.572(a)). "
    "Key: member_id. Same partition count as pa.reviews.v1.",
    setting="topic_notices",
    model=PANotice,
    ce_type="org.mmm.pa.notice.v1",
    action="receive",
)
NOTICES_DLQ = Channel(
    "paNoticesDlq",
    "pa.notices.dlq.v1",
    "Rejected notices, original bytes kept: not JSON, schema-invalid, too large, unknown schema_version, a "
    "mismatch with the determination it names (notice_mismatch), or more distinct notices of one "
    "determination than the worker keeps (too_many_notices).",
    setting="topic_notices_dlq",
    action="send",
    dead_letter_of="paNotices",
)
SHADOW_DETERMINATIONS = Channel(
    "paShadowDeterminations",
    "pa.determinations.shadow.v1",
    "Shadow mode (issue #26): the determinations a candidate policy version would publish for the same "
    "requests, in pa.determination's format, written only when a shadow version is configured, for SREs to "
    "compare with pa.determinations.v1 before a rollout. No letter, claims or review system reads it. Key: member_id.",
    setting="topic_shadow_determinations",
    public=False,
)
AUTHORIZATIONS = Channel(
    "paAuthorizations",
    "pa.authorizations.v1",
    "Internal compacted topic: approved authorizations' state, the changelog of the reauth scheduler's store "
    "and written only by it: partition p holds the state of pa.determinations.v1's partition p (at least as "
    "many partitions; the scheduler checks at start). Key: authorization_id.",
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

PENDS = Channel(
    "paPends",
    "pa.pends.v1",
    "Internal topic (the pend inbox): every determination as the review stage needs it, written by the "
    "request processor in the determination's transaction. Key: determination_id; partition: member_id.",
    setting="topic_pends",
    public=False,
)
PEND_STORE = Channel(
    "paPendStore",
    "pa.pend-store.v1",
    "Internal compacted topic: the review stage's store of pends and decision clocks (its changelog), "
    "written only by the review stage.",
    setting="topic_pend_store",
    public=False,
)

CHANNELS: tuple[Channel, ...] = (
    REQUESTS,
    DETERMINATIONS,
    REAUTH_DUE,
    REVIEWS,
    DECISION_CLOCK,
    DLQ,
    REVIEWS_DLQ,
    NOTICES,
    NOTICES_DLQ,
    SHADOW_DETERMINATIONS,
    AUTHORIZATIONS,
    REQUEST_INDEX,
    PENDS,
    PEND_STORE,
)
"""Every channel, public and internal."""

EVENT_CHANNELS: tuple[Channel, ...] = tuple(c for c in CHANNELS if c.public and c.model is not None)
"""The public channels whose value is a contract model (one schema file each)."""


def by_setting(setting: str) -> Channel:
    """The channel the worker setting ``setting`` (e.g. ``topic_requests``) names."""
    for channel in CHANNELS:
        if channel.setting == setting:
            return channel
    raise KeyError(setting)
