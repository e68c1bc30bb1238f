"""The review stage's notice intake (issue #23 item 7) on the in-memory fakes (tests/worker/fakes.py).

The stage runs its real loop (start, run, ticks, stop) over the fakes: the test plays the group
coordinator (``FakeConsumer.assign``), makes a commit fail (``FakeCluster.fail_next_commit``) and
waits for states with ``FakeCluster.wait_until``. What must hold: each notice is kept exactly once
(the same notice_id twice, an aborted transaction, a rebalance to another instance, a fenced
owner), bad notices go to the notices DLQ once with their class and original bytes, and the
member's notice is measured against the pend's decision_due_by. The same on the real broker:
tests/integration/test_notices.py.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import KafkaConnectionError

from contracts import PADetermination
from tests.worker.fakes import FakeCluster, FakeConsumer, FakeKafka
from tests.worker.test_pend_book import _inbox, _pend
from worker import metrics as m
from worker.config import Settings
from worker.pends import NOTICE_KEY_PREFIX, PendBook
from worker.runtime import StageRuntime
from worker.stages import reviews
from worker.stages.reviews import ReviewProcessor

ReviewStage = StageRuntime[PendBook]
Consumer = FakeConsumer

REVIEWS = Path(__file__).resolve().parents[2] / "contracts" / "examples" / "pa.review" / "valid"
NOTICES = Path(__file__).resolve().parents[2] / "contracts" / "examples" / "pa.notice" / "valid"
GROUP = "g"
TOPICS = {
    "topic_reviews": "rv",
    "topic_pends": "pe",
    "topic_pend_store": "ps",
    "topic_determinations": "de",
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


@dataclass
class Rig:
    cluster: FakeCluster
    clock: Clock
    stages: list[tuple[ReviewStage, Consumer, asyncio.Task[None], asyncio.Event]] = field(default_factory=list)

    @property
    def settings(self) -> Settings:
        return Settings(group_id=GROUP, decision_clock_interval_seconds=0.02, batch_max_records=3, **TOPICS)

    async def start(self, **overrides: Any) -> tuple[ReviewStage, Consumer]:
        settings = self.settings.model_copy(update=overrides)
        kafka = FakeKafka(self.cluster)
        stage = StageRuntime(
            ReviewProcessor(settings, clock=self.clock),
            kafka.clients(),
            batch_max_records=settings.batch_max_records,
            batch_timeout_ms=200,
            clock=self.clock,
        )
        await stage.start()
        stop = asyncio.Event()
        task = asyncio.create_task(stage.run(stop))
        self.stages.append((stage, kafka.consumer, task, stop))
        return stage, kafka.consumer

    async def take(self, consumer: Consumer, stage: ReviewStage) -> None:
        """The group assigns review partition 0 to ``consumer``; wait until restored."""
        await consumer.assign(TopicPartition("rv", 0))
        await self.cluster.wait_until(lambda: stage.ready)

    async def stop(self, stage: ReviewStage) -> None:
        for i, (s, _consumer, task, stop) in enumerate(self.stages):
            if s is stage:
                stop.set()
                self.cluster.notify()
                await asyncio.wait_for(task, 5)
                await stage.stop()
                del self.stages[i]
                return

    def book(self) -> PendBook:
        """Partition 0's book as its changelog holds it (committed records only)."""
        book = PendBook()
        for r in self.cluster.records("ps", 0):
            book.apply(r.key, r.value)
        return book

    def dead(self) -> list[tuple[bytes | None, str]]:
        """The notices DLQ: (original bytes, error class) of every committed record."""
        return [(r.value, dict(r.headers)["pa_error_class"].decode()) for r in self.cluster.records("nod", 0)]


@asynccontextmanager
async def rig(notices_partitions: int | None = 1, dlq: bool = True) -> AsyncIterator[Rig]:
    cluster = FakeCluster()
    for name in ("rv", "pe", "ps", "de", "dc", "rvd"):
        cluster.topic(name, 1)
    if notices_partitions is not None:
        cluster.topic("no", notices_partitions)
    if dlq:
        cluster.topic("nod", 1)
    r = Rig(cluster, Clock(datetime.fromisoformat("2026-11-27T16:00:00+00:00")))
    try:
        yield r
    finally:
        for stage, *_ in list(r.stages):
            await r.stop(stage)


def _review(pended: PADetermination, review_id: str = "REV-1") -> bytes:
    data = json.loads((REVIEWS / "denied_by_pharmacist.json").read_text())
    data.update(
        review_id=review_id,
        determination_id=pended.determination_id,
        request_id=pended.request_id,
        member_id=pended.member_id,
    )
    return json.dumps(data).encode()


def _notice(determination_id: str, of: PADetermination, notice_id: str, **changes: Any) -> bytes:
    data = json.loads((NOTICES / "denial_by_mail_to_member.json").read_text())
    data.update(
        notice_id=notice_id, determination_id=determination_id, request_id=of.request_id, member_id=of.member_id
    )
    data.update(changes)
    return json.dumps(data).encode()


async def _decided(r: Rig) -> tuple[ReviewStage, Consumer, PADetermination, str]:
    """A stage owning partition 0 with one pend a reviewer denied; returns the final's id."""
    raw, pend = _pend()
    r.cluster.append("pe", 0, pend.determination_id.encode(), _inbox(pend, raw))
    stage, consumer = await r.start()
    await r.take(consumer, stage)
    r.cluster.append("rv", 0, pend.member_id.encode(), _review(pend))
    await r.cluster.wait_until(lambda: len(r.cluster.records("de", 0)) == 1)
    final = PADetermination.model_validate_json(r.cluster.records("de", 0)[0].value or b"")
    assert final.supersedes == pend.determination_id and final.final
    return stage, consumer, pend, final.determination_id


def _notices_enabled(stage: ReviewStage) -> bool:
    processor = stage.processor
    assert isinstance(processor, ReviewProcessor)
    return processor.notices_enabled


def _count(result: str) -> float:
    return float(m.NOTICES.labels(result)._value.get())


async def test_a_notice_sent_twice_is_kept_once_and_bad_notices_are_dead_lettered_once() -> None:
    async with rig() as r:
        _stage, _consumer, pend, final_id = await _decided(r)
        before = {k: _count(k) for k in ("recorded", "duplicate", "untracked", "dead_lettered")}
        key = pend.member_id.encode()
        sent = (pend.decision_due_by - timedelta(hours=10)).isoformat()
        mail = _notice(final_id, pend, "LTR-1", sent_at=sent)
        bad = {
            b"{not json": "not_json",
            _notice(final_id, pend, "LTR-2", kind="letter"): "schema_invalid",
            _notice(final_id, pend, "LTR-3", schema_version="2"): "unknown_schema_version",
            _notice(pend.determination_id, pend, "LTR-4"): "notice_mismatch",  # a denial notice of the pend
            b" " * 70_000: "too_large",
        }
        other = _notice("DET-engine-approval-1", pend, "LTR-5", kind="approval")  # an engine decision
        fax = _notice(final_id, pend, "FAX-1", recipient="prescriber", channel="fax")
        for value in [mail, *bad, mail, other, fax]:
            r.cluster.append("no", 0, key, value)
        await r.cluster.wait_until(lambda: r.book().notices_position == 9)
        book = r.book()
        kept = book.notices[final_id]
        assert [n.notice_id for n in kept.notices] == ["LTR-1", "FAX-1"]
        assert kept.member_notified_at == datetime.fromisoformat(sent)
        assert sorted(r.dead(), key=lambda d: d[1]) == sorted(bad.items(), key=lambda d: d[1])
        assert {k: _count(k) - before[k] for k in before} == {
            "recorded": 2,
            "duplicate": 1,
            "untracked": 1,
            "dead_lettered": 5,
        }


async def test_an_aborted_transaction_keeps_nothing_and_the_notices_are_taken_again_once() -> None:
    async with rig() as r:
        stage, _consumer, pend, final_id = await _decided(r)
        tp = TopicPartition("rv", 0)
        aborted = m.TRANSACTIONS.labels("aborted")._value.get()
        r.cluster.fail_next_commit = KafkaConnectionError()
        key = pend.member_id.encode()
        r.cluster.append("no", 0, key, _notice(final_id, pend, "LTR-1"))
        r.cluster.append("no", 0, key, b"{not json")
        # the tick's transaction fails: the partition is restored from its changelog, then reads again
        await r.cluster.wait_until(lambda: r.cluster.fail_next_commit is None)
        assert m.TRANSACTIONS.labels("aborted")._value.get() - aborted == 1
        await r.cluster.wait_until(lambda: r.book().notices_position == 2)
        await r.cluster.wait_until(lambda: stage.tasks[tp].running)
        assert [n.notice_id for n in r.book().notices[final_id].notices] == ["LTR-1"]
        assert r.dead() == [(b"{not json", "not_json")]
        assert stage.tasks[tp].ctx.store.notices == r.book().notices
        r.cluster.append("no", 0, key, _notice(final_id, pend, "LTR-1"))  # and sent again
        await r.cluster.wait_until(lambda: r.book().notices_position == 3)
        assert len(r.book().notices[final_id].notices) == 1


async def test_after_a_rebalance_the_next_owner_restores_the_notices_and_dedupes() -> None:
    async with rig() as r:
        stage, _consumer, pend, final_id = await _decided(r)
        key = pend.member_id.encode()
        r.cluster.append("no", 0, key, _notice(final_id, pend, "LTR-1"))
        await r.cluster.wait_until(lambda: r.book().notices_position == 1)
        await r.stop(stage)  # revoked: the group moves partition 0 to another instance
        duplicates = _count("duplicate")
        r.cluster.append("no", 0, key, _notice(final_id, pend, "LTR-1"))
        r.cluster.append("no", 0, key, _notice(final_id, pend, "CALL-1", channel="phone"))
        other, consumer = await r.start()
        await r.take(consumer, other)
        await r.cluster.wait_until(lambda: r.book().notices_position == 3)
        assert [n.notice_id for n in r.book().notices[final_id].notices] == ["LTR-1", "CALL-1"]
        assert _count("duplicate") - duplicates == 1
        records = [rec for rec in r.cluster.records("ps", 0) if rec.key == NOTICE_KEY_PREFIX + final_id.encode()]
        assert len(records) == 2  # one state record per notice kept, none for the duplicate


async def test_a_fenced_owner_gives_the_partition_up_and_the_new_owner_keeps_each_notice_once() -> None:
    async with rig() as r:
        first, first_consumer, pend, final_id = await _decided(r)
        key = pend.member_id.encode()
        second, second_consumer = await r.start()
        await r.take(second_consumer, second)  # opens the same transactional id: the first is fenced
        r.cluster.append("no", 0, key, _notice(final_id, pend, "LTR-1"))
        await r.cluster.wait_until(lambda: TopicPartition("rv", 0) not in first.tasks)
        assert first_consumer._coordinator.rejoins >= 1  # it asks the group for a new assignment
        await r.cluster.wait_until(lambda: r.book().notices_position == 1)
        assert [n.notice_id for n in r.book().notices[final_id].notices] == ["LTR-1"]
        assert {t.tid for t in r.cluster.transactions} == {f"{GROUP}-reviews-rv-0"}


async def test_a_final_decision_not_notified_by_its_deadline_is_counted_once() -> None:
    async with rig() as r:
        stage, _consumer, pend, final_id = await _decided(r)
        missed = m.NOTICE_DEADLINES_MISSED.labels(pend.priority)._value.get()
        await r.cluster.wait_until(lambda: r.book().notices_since is not None)
        r.clock.now = pend.decision_due_by + timedelta(minutes=1)
        await r.cluster.wait_until(lambda: final_id in r.book().notices and r.book().notices[final_id].overdue)
        stage.assignment_changed()
        assert m.FINALS_NOT_NOTIFIED.labels("yes")._value.get() == 1
        # later ticks report nothing more; a late notice is the member's first, not timely
        late = m.MEMBER_NOTICES.labels(pend.priority, "no")._value.get()
        sent = (pend.decision_due_by + timedelta(seconds=30)).isoformat()
        r.cluster.append("no", 0, pend.member_id.encode(), _notice(final_id, pend, "LTR-1", sent_at=sent))
        await r.cluster.wait_until(lambda: r.book().notices_position == 1)
        assert m.NOTICE_DEADLINES_MISSED.labels(pend.priority)._value.get() - missed == 1
        assert m.MEMBER_NOTICES.labels(pend.priority, "no")._value.get() - late == 1
        stage.assignment_changed()
        assert m.FINALS_NOT_NOTIFIED.labels("yes")._value.get() == 0


async def test_without_the_notice_topic_or_its_partitions_the_stage_still_decides_reviews() -> None:
    for partitions, dlq in ((None, True), (2, True), (1, False)):
        async with rig(notices_partitions=partitions, dlq=dlq) as r:
            stage, _consumer, _pend_det, _final = await _decided(r)
            assert _notices_enabled(stage) is False
            assert m.NOTICE_INTAKE._value.get() == 0
            assert r.book().notices_since is None
    async with rig() as r:
        stage, *_ = await _decided(r)
        assert _notices_enabled(stage) is True and m.NOTICE_INTAKE._value.get() == 1


async def test_a_notice_topic_created_later_is_taken_up_without_a_restart(monkeypatch: Any) -> None:
    monkeypatch.setattr(reviews, "NOTICE_RECHECK_SECONDS", 0.05)
    async with rig(notices_partitions=None, dlq=False) as r:
        stage, _consumer, pend, final_id = await _decided(r)
        assert _notices_enabled(stage) is False
        r.cluster.topic("no", 1)
        r.cluster.topic("nod", 1)
        r.cluster.append("no", 0, pend.member_id.encode(), _notice(final_id, pend, "LTR-1"))
        await r.cluster.wait_until(lambda: r.book().notices_position == 1)
        assert _notices_enabled(stage) is True and m.NOTICE_INTAKE._value.get() == 1
        assert [n.notice_id for n in r.book().notices[final_id].notices] == ["LTR-1"]
