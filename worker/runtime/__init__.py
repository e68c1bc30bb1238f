"""The exactly-once runtime every stage shares (request processor, reauth scheduler).

- :mod:`worker.runtime.writer`: :class:`PartitionWriter`, one input partition's transactional
  producer (``StreamsProducer``): transactions, fencing as :class:`PartitionLost`, abort,
  backoff, their metrics and logs.
- :mod:`worker.runtime.changelog`: :class:`ChangelogStore` and :class:`ChangelogReader`
  (``StoreChangelogReader``): state restored in the stage's loop, not in the rebalance callback.
- :mod:`worker.runtime.ports`: the slice of the Kafka client the runtime uses, as Protocols.
- :mod:`worker.runtime.gc`: process-wide garbage-collector tuning.
"""

from worker.runtime.changelog import ChangelogMissing, ChangelogReader, ChangelogStore, read_range, read_to_end
from worker.runtime.gc import tune_gc
from worker.runtime.writer import (
    POLL_STALE_SECONDS,
    PartitionLost,
    PartitionWriter,
    Transaction,
    TransactionAborted,
    transactional_id,
)

__all__ = [
    "POLL_STALE_SECONDS",
    "ChangelogMissing",
    "ChangelogReader",
    "ChangelogStore",
    "PartitionLost",
    "PartitionWriter",
    "Transaction",
    "TransactionAborted",
    "read_range",
    "read_to_end",
    "transactional_id",
    "tune_gc",
]
