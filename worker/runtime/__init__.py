"""The stage runtime: the one life cycle of every stage (request processor, reauth scheduler,
review stage), in Kafka Streams' shape.

- :mod:`worker.runtime.stage`: what a stage is: :class:`StageSpec` (input and group, store,
  outputs, punctuation), :class:`Processor` (process a batch, punctuate) and :class:`Context`
  (emit, store, put, now);
- :mod:`worker.runtime.task`: :class:`StageRuntime` (``StreamTask`` and ``TaskManager``): one task
  per assigned partition, assigned, restoring, running, revoked or fenced; readiness; the
  co-partitioning check; punctuation;
- :mod:`worker.runtime.writer`: :class:`PartitionWriter` (``StreamsProducer``): one partition's
  transactional producer, fencing as :class:`PartitionLost`;
- :mod:`worker.runtime.changelog`: :class:`ChangelogStore` and :class:`ChangelogReader`
  (``StoreChangelogReader``);
- :mod:`worker.runtime.ports`: the slice of the Kafka client it uses, as Protocols, and
  :class:`Clients`, the factories ``worker.app`` injects (aiokafka's: ``worker.kafka.clients``);
- :mod:`worker.runtime.gc`: process-wide garbage-collector tuning.
"""

from aiokafka import TopicPartition

from worker.runtime.changelog import ChangelogMissing, ChangelogReader, ChangelogStore, read_range, read_to_end
from worker.runtime.gc import tune_gc
from worker.runtime.ports import Clients
from worker.runtime.stage import (
    Commit,
    Context,
    NotCoPartitioned,
    Processor,
    StageSpec,
    StoreSpec,
    TaskEvents,
    copartition_problem,
)
from worker.runtime.task import StageRuntime, partition_for
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
    "Clients",
    "Commit",
    "Context",
    "NotCoPartitioned",
    "PartitionLost",
    "PartitionWriter",
    "Processor",
    "StageRuntime",
    "StageSpec",
    "StoreSpec",
    "TaskEvents",
    "TopicPartition",
    "Transaction",
    "TransactionAborted",
    "copartition_problem",
    "partition_for",
    "read_range",
    "read_to_end",
    "transactional_id",
    "tune_gc",
]
