"""Deduplication of requests: the request processor's store and the rule it applies to a batch.

A request submitted again with the same ``request_id`` and the same content has the same
determination id: it publishes nothing (:class:`~worker.records.Duplicate`). Different content
under the same request_id (a correction) is determined again. What one input partition has
published is its :class:`RequestIndex`, a changelog-backed store (``pa.request-index.v1``, the
same partition number as the input): each new determination adds an index record to the same
transaction, and the in-memory index learns it only once that transaction has committed.
"""

from __future__ import annotations

from collections.abc import Sequence

from worker.records import Duplicate, Published, Result


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


def deduplicate(
    index: RequestIndex, results: Sequence[Result], *, drop: bool = True
) -> tuple[list[Result], list[tuple[bytes, bytes]]]:
    """One batch's results against ``index``: a repeat (in the index or earlier in the batch) with
    the same determination id becomes a :class:`~worker.records.Duplicate`; returns the results
    and the index records (request_id -> determination_id) of the new determinations, which the
    request processor puts into the store. The index is not changed.

    ``drop=False`` (the test-only ``PA_TEST_DISABLE_REQUEST_DEDUPE``) still writes the index and
    never consults it, so fault tests see a replay as a duplicate publication."""
    seen = index.seen
    added: dict[str, str] = {}
    out: list[Result] = []
    records: list[tuple[bytes, bytes]] = []
    for result in results:
        det = result.determination if isinstance(result, Published) else None
        if det is None:
            out.append(result)
            continue
        before = added.get(det.request_id) or seen.get(det.request_id)
        if before == det.determination_id and drop:
            out.append(Duplicate(det))
            continue
        added[det.request_id] = det.determination_id
        out.append(result)
        records.append((det.request_id.encode(), det.determination_id.encode()))
    return out, records
