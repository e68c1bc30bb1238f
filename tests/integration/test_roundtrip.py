"""The smallest proof that Kafka is real: a transactional round trip validated by the models."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from contracts import PARequest

pytestmark = pytest.mark.kafka
EXAMPLE = Path(__file__).resolve().parents[2] / "contracts" / "examples" / "valid" / "initial_approved.json"


async def test_request_round_trip_read_committed(bootstrap: str, unique: str) -> None:
    topic = f"it.roundtrip.{unique}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()

    sent = PARequest.model_validate_json(EXAMPLE.read_bytes())
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, transactional_id=f"it-roundtrip-{unique}")
    await producer.start()
    try:
        async with producer.transaction():
            await producer.send(topic, sent.model_dump_json().encode(), key=sent.member.member_id.encode())
        # An aborted record must stay invisible to read_committed consumers.
        await producer.begin_transaction()
        await producer.send(topic, b"aborted", key=b"x")
        await producer.abort_transaction()
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"it-roundtrip-{unique}",
        isolation_level="read_committed",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        batch = await consumer.getmany(timeout_ms=10_000)
        values = [m.value for msgs in batch.values() for m in msgs]
    finally:
        await consumer.stop()

    assert len(values) == 1, values
    got = PARequest.model_validate_json(values[0])
    assert got == sent
