"""What a stage is to the runtime: its declaration, its processor, and the context it is given.

Modelled on Kafka Streams' ``Topology`` (the declaration), ``Processor`` (``process`` and the
punctuations a processor registers) and ``ProcessorContext`` (``forward``, ``getStateStore``, the
time). A stage module declares a :class:`StageSpec` and implements a :class:`Processor`; the
runtime (:class:`~worker.runtime.task.StageRuntime`) owns everything else: the group, the
partitions' tasks, their writers and stores, the clock's punctuations, readiness.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from aiokafka import TopicPartition

from worker.records import OutRecord

Commit = Callable[[], None] | None
"""What a processor does once its transaction committed (metrics, logs); ``None``: nothing."""


class State(Protocol):
    def apply(self, key: bytes | None, value: bytes | None) -> object:
        """One changelog record (a ``None`` value is a tombstone): the restore, and every record
        the processor put, once its transaction committed."""
        ...

    def __len__(self) -> int: ...


S = TypeVar("S", bound=State)


@dataclass(frozen=True)
class StoreSpec(Generic[S]):
    """A stage's store: partition ``p`` of ``changelog`` holds the state of input partition ``p``."""

    changelog: str
    fresh: Callable[[], S]
    """An empty state: every restore starts from one."""
    content_type: bool = True
    """Values carry ``content-type: application/json`` (tombstones carry no header)."""


@dataclass(frozen=True)
class StageSpec(Generic[S]):
    """The declaration of a stage: its input and group, its store, its outputs."""

    role: str
    """The stage's name in metrics (``pa_worker_assigned_partitions{role}``) and logs."""
    group_id: str
    input: str
    outputs: Sequence[str] = ()
    """Topics the stage writes: like the input, they must exist before the group is joined."""
    store: StoreSpec[S] | None = None
    copartitioned: Sequence[str] = ()
    """Side inputs read by input partition ``p`` at their partition ``p`` (with the store's changelog:
    the co-partitioning check at start)."""
    punctuate_seconds: float | None = None
    """Run :meth:`Processor.punctuate` on every restored partition this often (None: never)."""
    writer_topic: str | None = None
    """Name partition ``p``'s transactional id after this topic's partition ``p`` (default: the input)."""
    log_prefix: str = ""
    """Prefix of the writer's log lines (``scheduler producer fenced ...``)."""
    side_reader: bool = False
    """The processor reads side inputs with a group-less read_committed reader (:meth:`Processor.open`)."""
    batch_metrics: bool = False
    """Count batch time and size, lag, in-flight records and the last commit (the request processor's)."""
    events: TaskEvents = field(default_factory=lambda: TaskEvents())


@dataclass(frozen=True)
class TaskEvents:
    """The log events of a partition's life cycle (the fault tests read them)."""

    assigned: str | None = None
    """Logged when the group assigns the partition (before its restore)."""
    restored: str = "partition assigned"
    released: str = "partition released"


class NotCoPartitioned(Exception):
    """A store's changelog or a side input does not have the input's partition count. Not a
    ``KafkaError``: a start that raises it is not retried."""


def copartition_problem(input_topic: str, counts: dict[str, int]) -> str | None:
    """Why ``counts`` (topic -> partitions, the input's among them) are not co-partitioned:
    every count equal to the input's, and none zero (``None``: they are)."""
    n = counts[input_topic]
    wrong = {t: c for t, c in counts.items() if t != input_topic and (c != n or c == 0)}
    if n and not wrong:
        return None
    others = ", ".join(f"{t} has {c}" for t, c in (wrong or counts).items() if t != input_topic)
    return (
        f"{others} partitions, {input_topic} has {n}: input partition p keeps its state and reads its side "
        "inputs at partition p, so they need the same (non-zero) partition count"
    )


class Context(Generic[S]):
    """All a processor gets of one input partition: :meth:`emit`, its :attr:`store` (and
    :meth:`put` to change it), :meth:`now`. One per assigned partition."""

    def __init__(self, tp: TopicPartition, store: Any, clock: Callable[[], datetime]) -> None:
        self.tp = tp
        self.partition = tp.partition
        self._store = store
        self.now = clock
        self.emitted: list[OutRecord] = []
        self.puts: list[tuple[bytes, bytes | None]] = []

    @property
    def store(self) -> S:
        """The partition's state as of the last commit (restored, and every committed put applied)."""
        assert self._store is not None, "the stage declares no store"
        state: S = self._store.state
        return state

    def emit(self, *records: OutRecord) -> None:
        """Records for this transaction. Partition: ``partition``, else murmur2 of
        ``partition_key`` or ``key`` (the Java client's), else the input partition modulo the count."""
        self.emitted.extend(records)

    def put(self, key: bytes, value: bytes | None) -> None:
        """A changelog record of the store (``None``: a tombstone) for this transaction; applied to
        the store once it committed. After an abort the store is restored from its changelog."""
        self.puts.append((key, value))

    def clear(self) -> None:
        self.emitted.clear()
        self.puts.clear()


class Processor(Generic[S]):
    """A stage's domain: what to make of a batch of input records and of the clock. Every method
    but :meth:`process` has a default that does nothing."""

    spec: StageSpec[S]

    async def process(self, ctx: Context[S], records: Sequence[Any]) -> Commit:
        """One batch of one partition's records (consumed records: topic, partition, offset,
        timestamp, key, value, headers), in offset order: emit and put; committed as one
        transaction with the input offsets."""
        raise NotImplementedError

    async def punctuate(self, ctx: Context[S]) -> Commit:
        """The clock's turn on a restored partition: what it emits and puts is one transaction
        (none when it emits and puts nothing)."""
        return None

    async def open(self, reader: Any, refresh: Callable[[], Awaitable[None]]) -> None:
        """At start, with the side reader (``spec.side_reader``, else ``None``) and a call that
        refreshes its metadata."""

    def gauges(self, contexts: Sequence[Context[S]]) -> None:
        """After an assignment change and after each round of punctuations."""
