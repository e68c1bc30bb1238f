"""One input record in, a tagged result out: decode, validate, evaluate, encode.

No Kafka here, so the whole path is testable without a broker. ``handle`` returns
:class:`~worker.records.Published` or :class:`~worker.records.DeadLettered`; deduplication is a
stage of its own (``worker.dedupe``), and the stage runtime (``worker.runtime``) wraps a batch of
one partition's results in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError

from contracts import PADetermination, PARequest
from contracts import channels as ch
from contracts.channels import DlqErrorClass
from contracts.codec import determination_json
from policy import PolicySettings, evaluate
from policy.versions import Versions
from worker.config import Settings
from worker.events import (
    CE_TYPE_DETERMINATION,
    CE_TYPE_REAUTH_DUE,
    FieldError,
    Rejection,
    classify,
    cloudevent_headers,
)
from worker.records import DeadLettered, OutRecord, Published, Source, dead_letter, internal_error

__all__ = [
    "CE_TYPE_DETERMINATION",
    "CE_TYPE_REAUTH_DUE",
    "FieldError",
    "Rejection",
    "RequestHandler",
    "Source",
    "Topics",
    "cloudevent_headers",
    "decode_request",
    "evaluation_time",
    "internal_error",
]


FUTURE_TOLERANCE = timedelta(seconds=Settings.model_fields["future_received_at_tolerance_seconds"].default)
"""The default of ``PA_FUTURE_RECEIVED_AT_TOLERANCE_SECONDS``."""


@dataclass(frozen=True, slots=True)
class Topics:
    determinations: str = ch.DETERMINATIONS.topic
    dlq: str = ch.DLQ.topic
    authorizations: str = ch.AUTHORIZATIONS.topic
    """Not written by the handler: the reauth scheduler is the only writer of the authorizations
    topic (``worker.stages.reauth``). Kept so that the wiring naming the worker's topics stays as it is."""


class RequestHandler:
    """Turns one ``pa.request`` message into its output records."""

    def __init__(
        self,
        settings: PolicySettings | Versions,
        topics: Topics,
        max_message_bytes: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        future_tolerance: timedelta = FUTURE_TOLERANCE,
    ) -> None:
        """``settings``: one parameter set, or the policy versions by effective date (the version in
        effect on each request's local receipt date decides it, issue #26)."""
        if isinstance(settings, Versions):
            self.versions: Versions | None = settings if len(settings.versions) > 1 else None
            self.settings = settings.versions[-1].settings
        else:
            self.versions, self.settings = None, settings
        self.topics = topics
        self.max_message_bytes = max_message_bytes
        self.clock = clock
        self.future_tolerance = future_tolerance

    def handle(self, key: bytes | None, value: bytes | None, source: Source) -> Published | DeadLettered:
        decoded = decode_request(value, self.max_message_bytes)
        if isinstance(decoded, Rejection):
            return self._dead(key, value or b"", source, decoded.error_class, decoded.message, decoded.fields)
        request = decoded
        at = evaluation_time(request, self.clock(), self.future_tolerance)
        if isinstance(at, Rejection):
            return self._dead(key, value or b"", source, at.error_class, at.message, at.fields)
        try:
            versions = self.versions
            settings = self.settings if versions is None else versions.for_receipt(request.received_at)
            determination = evaluate(request, at, settings)
        except Exception as exc:  # an engine bug must not stop the partition
            return self._dead(
                key,
                value or b"",
                source,
                "evaluation_error",
                f"policy evaluation failed: {type(exc).__name__}",
            )
        return self._publish(determination)

    def _publish(self, det: PADetermination) -> Published:
        member_key = det.member_id.encode()
        out = [
            OutRecord(
                self.topics.determinations,
                member_key,
                determination_json(det),
                cloudevent_headers(
                    det.determination_id,
                    CE_TYPE_DETERMINATION,
                    det.decided_at,
                    [("pa_request_id", det.request_id.encode()), ("pa_decision", det.decision.encode())],
                ),
            )
        ]
        return Published(tuple(out), det)

    def _dead(
        self,
        key: bytes | None,
        value: bytes,
        source: Source,
        error_class: DlqErrorClass,
        message: str,
        fields: tuple[str, ...] = (),
    ) -> DeadLettered:
        return dead_letter(self.topics.dlq, key, value, source, error_class, message, fields)


def decode_request(value: bytes | None, max_message_bytes: int) -> PARequest | Rejection:
    """The request in ``value``, or why it is rejected: the one decoder of ``run`` and ``evaluate``."""
    if not value:
        return Rejection("not_json", "empty message value", (), (FieldError("$", "empty message value"),))
    if len(value) > max_message_bytes:
        message = f"message is {len(value)} bytes; the limit is {max_message_bytes}"
        return Rejection("too_large", message, (), (FieldError("$", message),))
    try:
        return PARequest.model_validate_json(value)
    except ValidationError as exc:
        return classify(exc)


def evaluation_time(request: PARequest, now: datetime, tolerance: timedelta) -> datetime | Rejection:
    """When to evaluate ``request`` on a clock reading ``now``: the one rule of ``run`` and ``evaluate --now``.

    ``now`` when the request was received at or before it. A ``received_at`` ahead of ``now`` by at
    most ``tolerance`` (clocks drift) is evaluated at ``received_at``, so a decision is never dated
    before its receipt. Further ahead, the request is not evaluated as if it were past: it is
    rejected as ``received_in_future`` (the sender's clock or UTC offset is wrong). The message
    names the tolerance, never the timestamp."""
    if request.received_at <= now:
        return now
    if request.received_at - now <= tolerance:
        return request.received_at
    seconds = f"{tolerance.total_seconds():g}"
    message = (
        f"received_at is more than {seconds} s (PA_FUTURE_RECEIVED_AT_TOLERANCE_SECONDS) later than the "
        "evaluation time (the worker's clock; pa-worker evaluate: --now): a request cannot be received in "
        "the future; check the sender's clock and UTC offset, then replay it"
    )
    return Rejection("received_in_future", message, ("received_at",), (FieldError("received_at", message),))
