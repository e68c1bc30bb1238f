"""Deduplication of requests: a stage of its own between the handler and the transaction.

A request submitted again with the same ``request_id`` and the same content has the same
determination id: it publishes nothing (:class:`~worker.records.Duplicate`). Different content
under the same request_id (a correction) is determined again. What one input partition has
published is its :class:`RequestIndex`, a changelog-backed store (``pa.request-index.v1``, the
same partition number as the input): each new determination adds an index record to the same
transaction, and the in-memory index learns it only once that transaction has committed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from worker.records import Duplicate, OutRecord, Published, Result


class RequestIndex:
    """request_id -> determination_id of what one input partition already published: the state
    of one partition of the request-index changelog (a tombstone or empty value deletes)."""

    def __init__(self) -> None:
        self.seen: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self.seen)

    def apply(self, key: bytes | None, value: bytes | None) -> None:
        if key is None:
            return
        if value:
            self.seen[key.decode()] = value.decode()
        else:
            self.seen.pop(key.decode(), None)


@dataclass(frozen=True, slots=True)
class StageOutput:
    """What a stage makes of one batch's results."""

    results: list[Result]
    records: list[OutRecord]
    """Records the stage adds to the batch's transaction (its changelog)."""
    commit: Callable[[], None]
    """Applies the stage's state change; called only after the transaction committed."""


class Deduplicate:
    """The deduplication stage over a partition's :class:`RequestIndex`.

    ``drop=False`` (the test-only ``PA_TEST_DISABLE_REQUEST_DEDUPE``) still writes the index and
    never consults it, so fault tests see a replay as a duplicate publication."""

    def __init__(self, index_topic: str, *, drop: bool = True) -> None:
        self.changelog_topic = index_topic
        self.drop = drop

    def new_state(self) -> RequestIndex:
        return RequestIndex()

    def __call__(self, index: RequestIndex, partition: int, results: Sequence[Result]) -> StageOutput:
        seen = index.seen
        added: dict[str, str] = {}
        out: list[Result] = []
        records: list[OutRecord] = []
        for result in results:
            det = result.determination if isinstance(result, Published) else None
            if det is None:
                out.append(result)
                continue
            before = added.get(det.request_id) or seen.get(det.request_id)
            if before == det.determination_id and self.drop:
                out.append(Duplicate(det))
                continue
            added[det.request_id] = det.determination_id
            out.append(result)
            records.append(
                OutRecord(
                    self.changelog_topic,
                    det.request_id.encode(),
                    det.determination_id.encode(),
                    [],
                    partition=partition,
                )
            )
        return StageOutput(out, records, lambda: seen.update(added))
