"""Changelog-backed stores restored by the one reader, on in-memory fakes."""

from __future__ import annotations

import pytest
from aiokafka import TopicPartition

from tests.worker.fakes import FakeCluster, FakeReader
from worker.dedupe import RequestIndex
from worker.runtime import ChangelogMissing, ChangelogReader, ChangelogStore, read_to_end

TP = TopicPartition("pa.request-index", 1)


def _cluster() -> FakeCluster:
    c = FakeCluster()
    c.topic("pa.request-index", 2)
    for i in range(25):
        c.append("pa.request-index", 1, f"r{i % 10}".encode(), f"d{i}".encode())
    c.append("pa.request-index", 1, b"r3", None)  # tombstone
    c.append("pa.request-index", 0, b"other", b"x")
    return c


async def test_read_to_end_reads_every_record_of_the_partition_in_order() -> None:
    cluster = _cluster()
    seen: list[tuple[bytes | None, bytes | None]] = []
    end, n = await read_to_end(FakeReader(cluster), TP, lambda k, v: seen.append((k, v)))
    assert end == n == 26
    assert seen[0] == (b"r0", b"d0") and seen[-1] == (b"r3", None)


async def test_restore_rebuilds_the_request_index_from_a_fresh_state() -> None:
    cluster = _cluster()
    store = ChangelogStore(TP, RequestIndex)
    store.state.apply(b"stale", b"left over")
    observed: list[int] = []
    await ChangelogReader(FakeReader(cluster)).restore(store, lambda offset, _: observed.append(offset))
    assert store.restored and store.restored_to == 26 and store.records_restored == 26
    assert "stale" not in store.state.seen
    assert store.state.seen == {f"r{i}": f"d{20 + i}" if i < 5 else f"d{10 + i}" for i in range(10) if i != 3}
    assert observed == list(range(26))


async def test_a_partition_the_cached_metadata_lacks_is_looked_up_again() -> None:
    cluster = _cluster()
    reader = FakeReader(cluster, known={"pa.request-index": 1})  # metadata from before partition 1
    store = ChangelogStore(TP, RequestIndex)
    await ChangelogReader(reader, reader.refresh).restore(store)
    assert len(store.state) == 9


async def test_a_partition_that_does_not_exist_is_reported() -> None:
    reader = FakeReader(_cluster())
    store = ChangelogStore(TopicPartition("pa.request-index", 7), RequestIndex)
    with pytest.raises(ChangelogMissing):
        await ChangelogReader(reader, reader.refresh).restore(store)
    assert not store.restored
