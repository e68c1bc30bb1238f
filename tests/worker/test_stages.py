"""Every stage on the one runtime, on the in-memory fakes (tests/worker/fakes.py).

The same life-cycle tests run for the request processor, the reauthorization scheduler and the
review stage: lanes (a slow commit holds only its own partition), abort -> restore (the store is
restored from its changelog and nothing is lost or doubled), fencing -> rejoin (the task is dropped,
the member asks the group to rejoin, and a new assignment takes the partition up again), readiness
during restore, and a failed start that closes what it opened. The two clock-driven stages also
get punctuation across a restart: what fired is in the store, so a new owner does not fire it again.
"""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import KafkaConnectionError, KafkaError

from contracts import PADetermination
from policy import DEFAULT_SETTINGS
from tests.worker.fakes import FakeCluster, FakeKafka, FakeProducer, connection_error
from tests.worker.test_pend_book import _inbox, _pend
from tests.worker.test_reminder_book import _determination
from worker.app import stages
from worker.config import Settings
from worker.handler import RequestHandler, Topics
from worker.runtime import NotCoPartitioned, Processor, StageRuntime
from worker.stages.reauth import ReauthProcessor
from worker.stages.requests import RequestProcessor
from worker.stages.reviews import ReviewProcessor

EXAMPLES = Path(__file__).resolve().parents[2] / "contracts" / "examples"
REVIEWS = EXAMPLES / "pa.review" / "valid"
NOW = datetime(2026, 11, 27, 16, 0, tzinfo=UTC)
GROUP = "g"
TOPICS = {
    "topic_requests": "rq",
    "topic_request_index": "ix",
    "topic_determinations": "de",
    "topic_dlq": "dlq",
    "topic_pends": "pe",
    "topic_authorizations": "au",
    "topic_reauth_due": "du",
    "topic_reviews": "rv",
    "topic_pend_store": "ps",
    "topic_decision_clock": "dc",
    "topic_reviews_dlq": "rvd",
    "topic_notices": "no",
    "topic_notices_dlq": "nod",
}


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def settings(**overrides: Any) -> Settings:
    return Settings(
        group_id=GROUP,
        batch_max_records=10,
        batch_timeout_ms=50,
        scheduler_interval_seconds=0.02,
        decision_clock_interval_seconds=0.02,
        **{**TOPICS, **overrides},
    )


@dataclass
class Case:
    """One stage: its processor, how to feed one input that makes one output, and where that goes."""

    name: str
    make: Callable[[Settings, Clock], Processor[Any]]
    feed: Callable[[FakeCluster, int, int], None]
    """Append the ``i``-th input of partition ``p``."""
    output: str
    """The topic each input makes one record on."""


def _request(cluster: FakeCluster, p: int, i: int) -> None:
    doc = json.loads((EXAMPLES / "valid" / "initial_approved.json").read_bytes())
    doc["request_id"] = f"REQ-{p}-{i}"
    cluster.append("rq", p, b"k", json.dumps(doc).encode())


def _requests(s: Settings, clock: Clock) -> Processor[Any]:
    handler = RequestHandler(DEFAULT_SETTINGS, Topics("de", "dlq", "au"), 65_536, clock=clock)
    return RequestProcessor(s, handler.handle, index_topic="ix", output_topics=("de", "dlq"))


def _approval(cluster: FakeCluster, p: int, i: int) -> None:
    det = _determination(f"AUTH-{p}-{i}", f"M-{p}-{i}", NOW.date(), 400)
    cluster.append("de", p, det.member_id.encode(), det.model_dump_json().encode())


def _pend_and_review(cluster: FakeCluster, p: int, i: int) -> None:
    raw, pend = _pend(request_id=f"REQ-{p}-{i}")
    cluster.append("pe", p, pend.determination_id.encode(), _inbox(pend, raw))
    cluster.append("rv", p, pend.member_id.encode(), _review(pend, f"REV-{p}-{i}"))


def _review(pended: PADetermination, review_id: str) -> bytes:
    data = json.loads((REVIEWS / "denied_by_pharmacist.json").read_text())
    data.update(
        review_id=review_id,
        determination_id=pended.determination_id,
        request_id=pended.request_id,
        member_id=pended.member_id,
    )
    return json.dumps(data).encode()


CASES = [
    Case("requests", _requests, _request, "de"),
    Case("reauth", lambda s, c: ReauthProcessor(s, c), _approval, "au"),
    Case("reviews", lambda s, c: ReviewProcessor(s, c), _pend_and_review, "de"),
]


def _cluster(partitions: int = 2) -> FakeCluster:
    cluster = FakeCluster()
    for topic in TOPICS.values():
        cluster.topic(topic, partitions)
    return cluster


@dataclass
class Rig:
    cluster: FakeCluster
    kafka: FakeKafka
    rt: StageRuntime[Any]
    clock: Clock
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    @property
    def input(self) -> str:
        return self.rt.spec.input

    def tp(self, p: int) -> TopicPartition:
        return TopicPartition(self.input, p)

    def tid(self, p: int) -> str:
        return f"{self.rt.spec.group_id}-{self.rt.spec.writer_topic or self.input}-{p}"

    def committed(self, p: int) -> int | None:
        return self.cluster.committed_offsets.get((self.rt.spec.group_id, self.tp(p)))

    def count(self, topic: str, p: int | None = None) -> int:
        return sum(len(self.cluster.records(topic, q)) for q in ([p] if p is not None else range(2)))

    async def until(self, pred: Callable[[], bool]) -> None:
        await self.cluster.wait_until(pred)

    async def reassign(self, p: int) -> None:
        """The group gives partition ``p`` to this member again (after its rejoin)."""
        consumer = self.kafka.consumer
        consumer.assignment.remove(self.tp(p))
        await consumer.assign(self.tp(p))


@asynccontextmanager
async def running(
    case: Case, cluster: FakeCluster, *, assign: tuple[int, ...] = (0,), clock: Clock | None = None, ready: bool = True
) -> AsyncIterator[Rig]:
    clock = clock or Clock(NOW)
    kafka = FakeKafka(cluster)
    s = settings()
    rt = StageRuntime(case.make(s, clock), kafka.clients(), batch_max_records=10, batch_timeout_ms=50, clock=clock)
    await rt.start()
    r = Rig(cluster, kafka, rt, clock)
    r.task = asyncio.create_task(rt.run(r.stop))
    try:
        await kafka.consumer.assign(*(r.tp(p) for p in assign))
        if ready:
            await r.until(lambda: rt.ready)
        yield r
    finally:
        r.stop.set()
        if cluster.hold_reads is not None:
            cluster.hold_reads.set()
        for gate in cluster.gates.values():
            gate.open()
        cluster.notify()
        await asyncio.wait_for(r.task, 5)
        await rt.stop()


@pytest.fixture(params=CASES, ids=[c.name for c in CASES])
def case(request: pytest.FixtureRequest) -> Case:
    c: Case = request.param
    return c


async def test_lanes_a_slow_commit_holds_only_its_own_partition(case: Case) -> None:
    cluster = _cluster()
    async with running(case, cluster, assign=(0, 1)) as r:
        gate = cluster.gate(r.tid(0))
        case.feed(cluster, 0, 0)
        await r.until(lambda: gate.waiting == 1)
        case.feed(cluster, 1, 0)
        case.feed(cluster, 1, 1)
        await r.until(lambda: r.committed(1) == 2)
        assert r.count(case.output) == 2 and r.committed(0) is None  # partition 1's two, none of 0's
        gate.open()
        await r.until(lambda: r.committed(0) == 1)
        assert r.count(case.output) == 3


async def test_abort_restores_the_store_and_loses_or_doubles_nothing(case: Case) -> None:
    cluster = _cluster()
    async with running(case, cluster) as r:
        case.feed(cluster, 0, 0)
        await r.until(lambda: r.committed(0) == 1)
        cluster.fail_next_commit = connection_error()
        case.feed(cluster, 0, 1)
        await r.until(lambda: r.committed(0) == 2)
        assert r.count(case.output) == 2  # the aborted batch once, after the restore
        task = r.rt.tasks[r.tp(0)]
        assert task.store is not None and task.store.restored_to >= 1  # restored again from its changelog
        assert len([p for p in r.kafka.producers if p.tid == r.tid(0)]) == 2  # a new producer
        fresh = task.store.fresh()
        for rec in [*cluster.records(task.store.changelog.topic, 0)]:
            fresh.apply(rec.key, rec.value)
        assert len(task.store.state) == len(fresh)  # the store holds what the changelog holds
        assert r.rt.ready


async def test_a_fenced_task_is_dropped_the_member_rejoins_and_takes_it_up_again(case: Case) -> None:
    cluster = _cluster()
    async with running(case, cluster, assign=(0, 1)) as r:
        case.feed(cluster, 0, 0)
        await r.until(lambda: r.committed(0) == 1)
        await FakeProducer(cluster, r.tid(0)).start()  # another instance took partition 0
        case.feed(cluster, 0, 1)
        await r.until(lambda: r.kafka.consumer._coordinator.rejoins == 1)
        assert r.tp(0) not in r.rt.tasks and r.committed(0) == 1 and r.count(case.output) == 1
        case.feed(cluster, 1, 0)  # the other partition goes on
        await r.until(lambda: r.committed(1) == 1)
        await r.reassign(0)  # the rejoin gives partition 0 back: a new writer, the store restored
        await r.until(lambda: r.committed(0) == 2)
        assert r.count(case.output) == 3


async def test_not_ready_until_every_assigned_partition_is_restored(case: Case) -> None:
    cluster = _cluster()
    case.feed(cluster, 0, 0)
    async with running(case, cluster, ready=False) as r:
        await r.until(lambda: r.rt.ready)  # nothing held yet: restored, ready
        cluster.hold_reads = asyncio.Event()
        polls = r.kafka.consumer.polls
        await r.kafka.consumer.assign(r.tp(1))  # restoring: held
        await r.until(lambda: r.kafka.consumer.polls > polls + 3)
        assert not r.rt.ready and not r.rt.tasks[r.tp(1)].running
        cluster.hold_reads.set()
        await r.until(lambda: r.rt.ready)
        assert r.rt.tasks[r.tp(1)].running


async def test_a_failed_start_closes_what_it_opened(case: Case) -> None:
    cluster = _cluster()
    kafka = FakeKafka(cluster, starts_fail=2)
    rt = StageRuntime(case.make(settings(), Clock(NOW)), kafka.clients(), batch_max_records=10, batch_timeout_ms=50)
    for _ in range(2):
        with pytest.raises(KafkaConnectionError):
            await rt.start()
    del cluster.partitions[rt.spec.outputs[0] if rt.spec.outputs else "de"]  # a topic missing: after the consumer
    with pytest.raises(KafkaError):
        await rt.start()
    assert len(kafka.consumers) == 3 and kafka.unclosed() == []


async def test_a_store_or_side_input_not_co_partitioned_refuses_to_start(case: Case) -> None:
    cluster = _cluster()
    spec = case.make(settings(), Clock(NOW)).spec
    assert spec.store is not None
    cluster.topic(spec.store.changelog, 3)
    kafka = FakeKafka(cluster)
    rt = StageRuntime(case.make(settings(), Clock(NOW)), kafka.clients(), batch_max_records=10, batch_timeout_ms=50)
    with pytest.raises(NotCoPartitioned, match=rf"{spec.store.changelog} has 3 partitions, {spec.input} has 2"):
        await rt.start()
    assert kafka.unclosed() == []
    cluster.topic(spec.store.changelog, 0)
    cluster.topic(spec.input, 0)  # equal, but zero: nothing to be co-partitioned
    with pytest.raises(NotCoPartitioned, match=rf"{spec.input} has 0"):
        await rt.start()
    cluster.topic(spec.input, 2)
    cluster.topic(spec.store.changelog, 2)
    for side in spec.copartitioned:
        cluster.topic(side, 0)
        with pytest.raises(NotCoPartitioned):
            await rt.start()
    assert kafka.unclosed() == []


def test_a_worker_without_a_broker_leaks_no_client_across_start_retries() -> None:
    """``KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9599 pa-worker run`` retried: each failed start closes its
    consumer (aiokafka reports an unclosed one through the loop's exception handler)."""
    unclosed: list[str] = []

    async def main() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda _loop, ctx: unclosed.append(ctx["message"]))
        s = Settings(bootstrap_servers="127.0.0.1:9599", group_id=GROUP)
        for rt in stages(s, lambda: NOW):
            for _ in range(2):
                with pytest.raises(KafkaError):
                    await rt.start()
        gc.collect()
        await asyncio.sleep(0)

    asyncio.run(main())
    gc.collect()
    assert [u for u in unclosed if "Unclosed" in u] == []


# -- punctuation across a restart ---------------------------------------------------------------


async def test_a_reminder_is_sent_once_even_when_the_owner_changes() -> None:
    cluster = _cluster()
    reauth = CASES[1]
    det = _determination("AUTH-1", "M-1", NOW.date(), 10)  # inside the lead window: due at once
    cluster.append("de", 0, b"M-1", det.model_dump_json().encode())
    async with running(reauth, cluster) as r:
        await r.until(lambda: r.count("du") == 1)
    marks = r.count("au")
    async with running(reauth, cluster) as r2:  # the next owner restores the sent mark
        rounds = r2.kafka.consumer.polls
        await r2.until(lambda: r2.kafka.consumer.polls > rounds + 10)
        assert r2.count("du") == 1 and r2.count("au") == marks
        r2.clock.now = NOW + timedelta(days=1)
        await r2.until(lambda: r2.kafka.consumer.polls > rounds + 20)
        assert r2.count("du") == 1


async def test_a_decision_clock_warning_is_emitted_once_even_when_the_owner_changes() -> None:
    cluster = _cluster()
    reviews = CASES[2]
    raw, pend = _pend()
    cluster.append("pe", 0, pend.determination_id.encode(), _inbox(pend, raw))
    clock = Clock(pend.received_at + (pend.decision_due_by - pend.received_at) * 0.8)
    async with running(reviews, cluster, clock=clock) as r:
        await r.until(lambda: r.count("dc") == 1)
    async with running(reviews, cluster, clock=clock) as r2:
        rounds = r2.kafka.consumer.polls
        await r2.until(lambda: r2.kafka.consumer.polls > rounds + 10)
        assert r2.count("dc") == 1
        clock.now = pend.decision_due_by + timedelta(minutes=1)  # the breach, once
        await r2.until(lambda: r2.count("dc") == 2)
        rounds = r2.kafka.consumer.polls
        await r2.until(lambda: r2.kafka.consumer.polls > rounds + 10)
        assert r2.count("dc") == 2
