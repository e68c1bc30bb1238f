"""What a processor's handler returns for one input record: a tagged result.

- :class:`Published`: the records to publish (a determination and, for an approval, the
  authorization's state; or bytes copied as they are);
- :class:`DeadLettered`: the original bytes to the DLQ, with the reason in headers;
- :class:`Duplicate`: the same request was determined before; nothing is published. Only the
  deduplication stage (``worker.dedupe``) turns a ``Published`` into a ``Duplicate``.

Every result has ``records``: what goes into the partition's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts import PADetermination
from contracts.channels import DlqErrorClass

Headers = list[tuple[str, bytes]]
JSON_CONTENT: tuple[str, bytes] = ("content-type", b"application/json")
"""The header of every JSON record the worker writes."""
MAX_ERROR_MESSAGE = 1000


@dataclass(frozen=True, slots=True)
class Source:
    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None = None


@dataclass(frozen=True, slots=True)
class OutRecord:
    topic: str
    key: bytes | None
    value: bytes
    headers: Headers
    partition_key: bytes | None = None
    """When set, the partition is chosen from this key instead of ``key``."""
    partition: int | None = None
    """When set, the record goes to this partition."""


@dataclass(frozen=True, slots=True)
class Published:
    records: tuple[OutRecord, ...]
    determination: PADetermination | None = None
    """The determination the records carry; ``None`` for bytes copied as they are (the benchmark's passthrough)."""


@dataclass(frozen=True, slots=True)
class DeadLettered:
    record: OutRecord
    error_class: DlqErrorClass

    @property
    def records(self) -> tuple[OutRecord, ...]:
        return (self.record,)


@dataclass(frozen=True, slots=True)
class Duplicate:
    determination: PADetermination
    """The determination published before for the same request (same determination id)."""

    @property
    def records(self) -> tuple[OutRecord, ...]:
        return ()


Result = Published | DeadLettered | Duplicate


def dead_letter(
    dlq: str,
    key: bytes | None,
    value: bytes,
    source: Source,
    error_class: DlqErrorClass,
    message: str,
    fields: list[str] | tuple[str, ...] = (),
) -> DeadLettered:
    """The original bytes and key to ``dlq``, with the reason and the source coordinates in headers."""
    headers: Headers = [
        ("pa_error_class", error_class.encode()),
        ("pa_error_message", message[:MAX_ERROR_MESSAGE].encode()),
        ("pa_error_fields", ",".join(fields)[:MAX_ERROR_MESSAGE].encode()),
        ("pa_source_topic", source.topic.encode()),
        ("pa_source_partition", str(source.partition).encode()),
        ("pa_source_offset", str(source.offset).encode()),
    ]
    if source.timestamp_ms is not None:
        headers.append(("pa_source_timestamp_ms", str(source.timestamp_ms).encode()))
    return DeadLettered(OutRecord(dlq, key, value, headers), error_class)


def internal_error(dlq: str, key: bytes | None, value: bytes | None, source: Source, exc: Exception) -> DeadLettered:
    """Dead-letter a record whose handling raised outside the policy engine (a bug): never stop."""
    return dead_letter(dlq, key, value or b"", source, "evaluation_error", f"internal error: {type(exc).__name__}")
