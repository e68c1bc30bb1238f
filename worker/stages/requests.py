"""The request processor: ``pa.request`` in, a determination (or a dead letter) out, exactly once.

``handle`` maps one input record to a tagged result (``worker.records``; the request handler of
``worker.handler``, with each determination's pend inbox record, :func:`with_pend_inbox`); with a
store, the batch's results are deduplicated against the partition's request index
(``worker.dedupe``), whose new records go into the same transaction. ``on_committed`` sees what
committed. The benchmark's passthrough runs the very same processor with a copying ``handle`` and
no store.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from worker.config import Settings
from worker.dedupe import RequestIndex, deduplicate
from worker.pends import inbox_value
from worker.records import JSON_CONTENT, OutRecord, Published, Result, Source, internal_error
from worker.runtime.stage import Commit, Context, Processor, StageSpec, StoreSpec

Handle = Callable[[bytes | None, bytes | None, Source], Result]


class RequestProcessor(Processor[RequestIndex]):
    """``index_topic``: the request index's changelog (``None``: no deduplication, no store);
    ``drop=False`` writes the index and never consults it (``PA_TEST_DISABLE_REQUEST_DEDUPE``)."""

    def __init__(
        self,
        settings: Settings,
        handle: Handle,
        *,
        index_topic: str | None = None,
        drop: bool = True,
        output_topics: Sequence[str] = (),
        on_committed: Callable[[Sequence[Result]], Callable[[float], None]] | None = None,
        role: str = "requests",
        group_id: str | None = None,
    ) -> None:
        self.handle = handle
        self.dlq = settings.topic_dlq
        self.drop = drop
        self.on_committed = on_committed
        store = StoreSpec(index_topic, RequestIndex, content_type=False) if index_topic is not None else None
        self.spec = StageSpec(
            role=role,
            group_id=group_id or settings.group_id,
            input=settings.topic_requests,
            outputs=tuple(output_topics),
            store=store,
            batch_metrics=role == "requests",  # a shadow stage's batches are not the service's
        )

    async def process(self, ctx: Context[RequestIndex], records: Sequence[Any]) -> Commit:
        results: list[Result] = []
        handle = self.handle
        for msg in records:
            source = Source(msg.topic, msg.partition, msg.offset, msg.timestamp)
            try:
                results.append(handle(msg.key, msg.value, source))
            except Exception as exc:  # never let one record stop the partition
                results.append(internal_error(self.dlq, msg.key, msg.value, source, exc))
        if self.spec.store is not None:
            results, index_records = deduplicate(ctx.store, results, drop=self.drop)
            for key, value in index_records:
                ctx.put(key, value)
        for result in results:
            ctx.emit(*result.records)
        if self.on_committed is None:
            return None
        record = self.on_committed(results)  # a summary: the results themselves are freed after the send
        return lambda: record(time.time())


def with_pend_inbox(handle: Handle, topic: str, determinations_topic: str) -> Handle:
    """``handle`` with the pend inbox record of each determination added to its records.

    A pend's record carries the pended determination and its request (spliced from the
    determination's published bytes and the request's bytes as received: nothing is parsed or
    serialized again); any other decision only its ids. The record goes in the determination's
    transaction, keyed by determination id and partitioned by member id (co-partitioned with
    ``pa.reviews.v1``, which the review stage reads with the inbox)."""

    def with_inbox(key: bytes | None, value: bytes | None, source: Source) -> Result:
        result = handle(key, value, source)
        if isinstance(result, Published) and result.determination is not None:
            det = result.determination
            det_json = next(r.value for r in result.records if r.topic == determinations_topic)
            extra = OutRecord(
                topic,
                det.determination_id.encode(),
                inbox_value(det, det_json, value),
                [JSON_CONTENT],
                partition_key=det.member_id.encode(),
            )
            return Published((*result.records, extra), det)
        return result

    return with_inbox
