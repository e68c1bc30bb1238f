"""The partition writer: one object owns one input partition's transactional producer.

Modelled on Kafka Streams' ``StreamsProducer``. aiokafka has no KIP-447 (aio-libs/aiokafka#844,
#920), so the only fencing there is the transactional id: one producer per input partition,
``transactional.id`` = ``{group}-{topic}-{partition}``. Opening the writer (``InitProducerId``)
fences every older producer with that id and settles the transaction it left open, so a zombie
can never commit output or offsets for the partition.

Used as::

    async with writer.transaction({tp: next_offset}) as txn:
        await txn.send(topic, value, key=key)

Everything a transaction needs to get right lives here once: begin, the offsets, waiting for
every send, commit; abort on any error (a failed abort is logged, never hidden); fencing turned
into :class:`PartitionLost`; any other failure into :class:`TransactionAborted` with the producer
closed (aiokafka may leave it in a fatal state, e.g. across a broker restart); the outcome
counted once in ``pa_worker_transactions_total`` (a cancelled transaction is aborted), and the
backoff between failed attempts.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import ProducerFenced

from worker import metrics as m
from worker.logs import get_logger
from worker.runtime.ports import ProducerPort, RecordBatch

log = get_logger("pa_worker.runtime")

POLL_STALE_SECONDS = 30.0
"""Readiness, for every stage alike: in its group and polled within this many seconds."""


class PartitionLost(Exception):
    """The partition's producer was fenced: another instance owns the partition now. Stop
    working on it; it is not taken up again until the group assigns it again."""

    def __init__(self, tp: TopicPartition) -> None:
        super().__init__(f"{tp.topic}-{tp.partition} fenced: owned by another instance")
        self.tp = tp


class TransactionAborted(Exception):
    """The transaction was aborted (any error but fencing) and the producer closed. Nothing of
    it is visible; start over from the last committed state after :meth:`PartitionWriter.backoff`."""


def transactional_id(group_id: str, tp: TopicPartition) -> str:
    return f"{group_id}-{tp.topic}-{tp.partition}"


class Transaction:
    """The open transaction handed to the body of :meth:`PartitionWriter.transaction`."""

    def __init__(self, producer: ProducerPort, partition_counts: dict[str, int]) -> None:
        self._producer = producer
        self._counts = partition_counts
        self.futures: list[asyncio.Future[Any]] = []

    async def send(
        self,
        topic: str,
        value: bytes | None,
        *,
        key: bytes | None = None,
        partition: int | None = None,
        headers: Iterable[tuple[str, bytes]] = (),
    ) -> None:
        self.futures.append(
            await self._producer.send(topic, value, key=key, partition=partition, headers=list(headers))
        )

    def create_batch(self) -> RecordBatch:
        return self._producer.create_batch()

    async def send_batch(self, batch: RecordBatch, topic: str, partition: int) -> None:
        self.futures.append(await self._producer.send_batch(batch, topic, partition=partition))

    async def partitions(self, topic: str) -> int:
        """Partition count of ``topic`` (cached for the writer's life)."""
        n = self._counts.get(topic)
        if n is None:
            n = self._counts[topic] = len(await self._producer.partitions_for(topic))
        return n


ProducerFactory = Callable[[str], ProducerPort]


class PartitionWriter:
    """Owns the transactional producer of one input partition ``tp`` of a stage (``role``)."""

    def __init__(
        self,
        tp: TopicPartition,
        group_id: str,
        role: str,
        factory: ProducerFactory,
        *,
        log_prefix: str = "",
    ) -> None:
        self.tp = tp
        self.group_id = group_id
        self.role = role
        self.transactional_id = transactional_id(group_id, tp)
        self._factory = factory
        self._log_prefix = log_prefix
        self._producer: ProducerPort | None = None
        self._counts: dict[str, int] = {}
        self.failures = 0
        """Failed attempts in a row (open or transaction); reset by a commit."""

    @property
    def is_open(self) -> bool:
        return self._producer is not None

    async def open(self) -> None:
        """A new producer (the old one, if any, closed first); ``InitProducerId`` fences older
        producers with this transactional id and settles their open transaction."""
        await self.close()
        producer = self._factory(self.transactional_id)
        try:
            await producer.start()
        except BaseException:
            self.failures += 1
            await _stop_quietly(producer, self.tp)
            raise
        self._producer = producer

    async def close(self) -> None:
        """Close the producer; an open transaction is aborted by the close. Never raises."""
        producer, self._producer = self._producer, None
        if producer is not None:
            await _stop_quietly(producer, self.tp)

    async def backoff(self) -> None:
        """Wait before the next attempt: 0.4 s doubling up to 5 s with the failures in a row."""
        if self.failures:
            await asyncio.sleep(min(5.0, 0.2 * 2 ** min(self.failures, 5)))

    @asynccontextmanager
    async def transaction(self, offsets: Mapping[TopicPartition, int] | None = None) -> AsyncIterator[Transaction]:
        """One transaction: the body's sends, then ``offsets`` for the writer's group, then commit.

        Raises :class:`PartitionLost` when fenced, :class:`TransactionAborted` on any other
        failure (the producer is closed: :meth:`open` before the next transaction). A cancelled
        transaction is aborted and counted as such, and the cancellation goes on."""
        producer = self._producer
        if producer is None:
            raise TransactionAborted(f"{self.transactional_id}: producer not open")
        try:
            await producer.begin_transaction()
            try:
                txn = Transaction(producer, self._counts)
                yield txn
                if offsets:
                    await producer.send_offsets_to_transaction(dict(offsets), self.group_id)
                await asyncio.gather(*txn.futures)
                await producer.commit_transaction()
            except ProducerFenced:
                raise
            except BaseException:
                await self._abort(producer)
                raise
        except ProducerFenced as exc:
            m.TRANSACTIONS.labels("aborted").inc()
            log.warning(
                f"{self._log_prefix}producer fenced: partition now owned elsewhere",
                role=self.role,
                topic=self.tp.topic,
                partition=self.tp.partition,
            )
            await self.close()
            raise PartitionLost(self.tp) from exc
        except asyncio.CancelledError:
            m.TRANSACTIONS.labels("aborted").inc()
            raise
        except Exception as exc:
            m.TRANSACTIONS.labels("aborted").inc()
            self.failures += 1
            log.error(
                "transaction aborted; new producer, starting over from the last commit",
                role=self.role,
                topic=self.tp.topic,
                partition=self.tp.partition,
                error=type(exc).__name__,
                detail=str(exc)[:300],
            )
            await self.close()
            raise TransactionAborted(type(exc).__name__) from exc
        m.TRANSACTIONS.labels("committed").inc()
        self.failures = 0

    async def _abort(self, producer: ProducerPort) -> None:
        try:
            await producer.abort_transaction()
        except Exception as exc:  # the close that follows aborts it broker-side in any case
            log.warning(
                "abort failed",
                role=self.role,
                topic=self.tp.topic,
                partition=self.tp.partition,
                error=type(exc).__name__,
            )


async def _stop_quietly(producer: ProducerPort, tp: TopicPartition) -> None:
    try:
        await producer.stop()
    except Exception as exc:  # a fenced producer may fail to close cleanly; it is gone either way
        log.warning("producer close failed", topic=tp.topic, partition=tp.partition, error=type(exc).__name__)
