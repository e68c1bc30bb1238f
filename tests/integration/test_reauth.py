"""Reauthorization-due events on the real broker: once per approval, durable, superseded."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from contracts import PADetermination, PAReauthDue
from contracts.internal import AuthorizationState
from tests.faults.ledger import wait_scheduler_read_all
from tests.kafkautil import (
    ROOT,
    WorkerProcess,
    create_topics,
    encode,
    env_for,
    example,
    make_requests,
    produce,
    read_all,
    settings_for,
    wait_for_count,
)
from worker import metrics as m
from worker.app import serve, stages
from worker.runtime import NotCoPartitioned

pytestmark = pytest.mark.kafka


class Clock:
    def __init__(self, iso: str) -> None:
        self.now = datetime.fromisoformat(iso)

    def __call__(self) -> datetime:
        return self.now


def _approved(dets: list) -> dict[str, PADetermination]:
    out = {}
    for d in dets:
        det = PADetermination.model_validate_json(d.value)
        if det.decision == "approved":
            assert det.authorization is not None
            out[det.authorization.authorization_id] = det
    return out


async def test_one_reminder_per_approval_none_for_pended(bootstrap: str, unique: str) -> None:
    settings = settings_for(bootstrap, unique)
    await create_topics(settings)
    requests = make_requests(27, prefix=f"ra{unique[:4]}")
    await produce(bootstrap, settings.topic_requests, (encode(r) for r in requests))
    clock = Clock("2026-11-28T12:00:00+00:00")
    stop = asyncio.Event()
    scheduled0, emitted0 = m.REMINDERS_SCHEDULED._value.get(), m.REMINDERS_EMITTED._value.get()
    task = asyncio.create_task(serve(settings, stop=stop, install_signals=False, clock=clock))
    try:
        dets = await read_all(bootstrap, settings.topic_determinations, expect=len(requests), timeout=60)
        approved = _approved(dets)
        assert approved and len(approved) < len(dets), "the mix holds approvals and pends"
        # Only the approvals already inside the 30-day window are due now.
        due_now = {
            a
            for a, d in approved.items()
            if d.authorization and (d.authorization.valid_through - clock.now.date()).days <= 30
        }
        assert due_now, "the examples include an approval inside the reauthorization window"
        first = await read_all(bootstrap, settings.topic_reauth_due, expect=len(due_now), timeout=30)
        assert {PAReauthDue.model_validate_json(r.value).authorization_id for r in first} == due_now
        assert len(first) == len(due_now)
        # Move the clock past every authorization: each approval gets exactly one reminder.
        clock.now = datetime(2027, 12, 1, tzinfo=UTC)
        events = await read_all(bootstrap, settings.topic_reauth_due, expect=len(approved), timeout=60, idle=3)
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 30) == 0
    counts = Counter(PAReauthDue.model_validate_json(r.value).authorization_id for r in events)
    print(f"[reauth] approvals={len(approved)} pended={len(dets) - len(approved)} reminders={len(events)}")
    assert set(counts) == set(approved)
    assert all(c == 1 for c in counts.values()), counts
    assert m.REMINDERS_SCHEDULED._value.get() - scheduled0 == len(approved)
    assert m.REMINDERS_EMITTED._value.get() - emitted0 == len(approved)
    for r in events:
        ev = PAReauthDue.model_validate_json(r.value)
        det = approved[ev.authorization_id]
        assert r.key == det.member_id.encode()
        assert r.headers["ce_type"] == b"org.mmm.pa.reauth_due.v1"
        assert r.headers["ce_id"] == ev.event_id.encode()
        assert ev.valid_through == det.authorization.valid_through  # type: ignore[union-attr]
        assert "oncology_note" in ev.required_documents


async def test_continuation_supersedes_pending_reminder(bootstrap: str, unique: str) -> None:
    settings = settings_for(bootstrap, unique)
    await create_topics(settings)
    member = f"MSUP{unique}"
    initial = example("initial_approved")
    initial["request_id"] = f"sup-initial-{unique}"
    initial["member"]["member_id"] = member
    cont = example("continuation_approved")
    cont["request_id"] = f"sup-cont-{unique}"
    cont["member"]["member_id"] = member
    clock = Clock("2026-11-28T12:00:00+00:00")
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, stop=stop, install_signals=False, clock=clock))
    try:
        await produce(bootstrap, settings.topic_requests, [encode(initial)])
        await wait_for_count(bootstrap, settings.topic_determinations, 1)
        clock.now = datetime(2026, 11, 29, 12, tzinfo=UTC)
        await produce(bootstrap, settings.topic_requests, [encode(cont)])
        dets = await read_all(bootstrap, settings.topic_determinations, expect=2, timeout=30)
        await asyncio.sleep(1.5)  # let the scheduler see both
        clock.now = datetime(2028, 1, 1, tzinfo=UTC)
        events = await read_all(bootstrap, settings.topic_reauth_due, expect=1, timeout=30, idle=3)
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 30) == 0
    approved = _approved(dets)
    assert len(approved) == 2
    cont_auth = next(a for a, d in approved.items() if d.request_type == "continuation")
    ids = [PAReauthDue.model_validate_json(r.value).authorization_id for r in events]
    print(f"[supersede] reminders={ids} continuation={cont_auth}")
    assert ids == [cont_auth], "the superseded initial authorization must not be reminded"


def _spawn(settings, now: str, log: Path, *args: str, pause: bool = False) -> subprocess.Popen[bytes]:  # type: ignore[no-untyped-def]
    env = env_for(settings)
    env["TEST_NOW"] = now
    if pause:
        env["TEST_PAUSE_BEFORE_REMINDER_COMMIT"] = "1"
    return subprocess.Popen(
        [sys.executable, "-m", "tests.clockproc", *args],
        env=env,
        cwd=ROOT,
        stdout=open(log, "ab"),
        stderr=subprocess.STDOUT,
    )


async def _wait_marker(log: Path, marker: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and marker in log.read_text(errors="replace"):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{marker} not seen in {log}:\n{log.read_text(errors='replace')[-3000:]}")


async def test_kill_between_due_and_sent_then_takeover(bootstrap: str, unique: str, tmp_path: Path) -> None:
    """The scheduler dies with a reminder sent but not committed; another instance takes its
    partitions, rebuilds from the log and sends each reminder exactly once."""
    settings = settings_for(bootstrap, unique)
    await create_topics(settings)
    requests = make_requests(18, prefix=f"kd{unique[:4]}")
    await produce(bootstrap, settings.topic_requests, (encode(r) for r in requests))
    # The worker decides on today's clock; the schedulers' clock is past every due date
    # (an approval without a requested start date runs from its decision date).
    now = "2031-01-01T00:00:00+00:00"
    worker = WorkerProcess(settings, "--no-scheduler", log_path=tmp_path / "worker.log").start()
    first = second = None
    try:
        dets = await read_all(bootstrap, settings.topic_determinations, expect=len(requests), timeout=60)
        approved = _approved(dets)
        # A scheduler takes every approval in on the eve of the decisions (nothing is due yet) and
        # stops, so that the first transaction of the next one is a reminder's.
        eve = min(d.decided_at for d in approved.values()).date() - timedelta(days=1)
        intake = _spawn(settings, f"{eve.isoformat()}T00:00:00+00:00", tmp_path / "intake.log", "--scheduler-only")
        try:
            await wait_scheduler_read_all(bootstrap, settings, timeout=60)
        finally:
            intake.terminate()
            assert intake.wait(30) == 0
        assert await read_all(bootstrap, settings.topic_reauth_due, timeout=3, idle=1) == []
        first = _spawn(settings, now, tmp_path / "first.log", "--scheduler-only", pause=True)
        await _wait_marker(tmp_path / "first.log", "REMINDER-TXN-OPEN")
        first.kill()  # SIGKILL between "due" (event sent in the open transaction) and "sent" (commit)
        first.wait(10)
        assert await read_all(bootstrap, settings.topic_reauth_due, timeout=3, idle=1) == []
        second = _spawn(settings, now, tmp_path / "second.log", "--scheduler-only")
        events = await read_all(bootstrap, settings.topic_reauth_due, expect=len(approved), timeout=90, idle=4)
        # A third instance joining later (rebalance, rebuild) must not send anything again.
        third = _spawn(settings, now, tmp_path / "third.log", "--scheduler-only")
        await asyncio.sleep(8)
        third.terminate()
        third.wait(30)
        events = await read_all(bootstrap, settings.topic_reauth_due, expect=len(approved), timeout=30, idle=2)
    finally:
        worker.ensure_dead()
        for p in (first, second):
            if p is not None and p.poll() is None:
                p.terminate()
                p.wait(30)
    counts = Counter(PAReauthDue.model_validate_json(r.value).authorization_id for r in events)
    print(f"[reauth-crash] approvals={len(approved)} reminders={len(events)} distinct={len(counts)}")
    assert set(counts) == set(approved)
    assert all(c == 1 for c in counts.values()), counts
    assert json.loads(events[0].value)["schema_version"] == "1"
    states = [
        AuthorizationState.model_validate_json(r.value)
        for r in await read_all(bootstrap, settings.topic_authorizations, timeout=10, idle=1)
        if r.value
    ]
    scheduled = Counter(s.authorization_id for s in states if s.status == "scheduled")
    assert set(scheduled) == set(approved) and set(scheduled.values()) == {1}, "one state per approval, once"


def _determination(auth: str, member: str, decided: datetime, valid_days: int) -> PADetermination:
    raw = json.loads((ROOT / "contracts/examples/pa.determination/valid/initial_approved.json").read_text())
    raw.update(member_id=member, determination_id=f"DET-{auth}", request_id=f"REQ-{auth}")
    raw["decided_at"] = raw["received_at"] = decided.isoformat().replace("+00:00", "Z")
    raw["authorization"].update(
        authorization_id=auth,
        valid_from=decided.date().isoformat(),
        valid_through=(decided.date() + timedelta(days=valid_days)).isoformat(),
    )
    return PADetermination.model_validate_json(json.dumps(raw))


async def test_a_replayed_approval_reminds_once_across_restarts_and_an_expired_one_never(
    bootstrap: str, unique: str
) -> None:
    """The scheduler reads determinations (the engine's or a reviewer's): the same approval read
    again, before and after a restart (the book rebuilt from its changelog, the input resumed at
    its committed offset), never re-opens its reminder; an approval already past its
    valid_through is never scheduled. Only the scheduler writes the authorizations topic."""
    settings = settings_for(bootstrap, unique, topic_partitions=2)
    await create_topics(settings)
    clock = Clock("2026-11-28T12:00:00+00:00")
    member = f"MRPL{unique}"
    fresh = _determination(f"AUTH-N-{unique}", member, clock.now - timedelta(days=1), 20)  # due at once
    old = _determination(f"AUTH-O-{unique}", f"{member}-old", datetime(2025, 1, 2, 12, tzinfo=UTC), 180)

    def record(det: PADetermination) -> tuple[bytes, bytes]:
        return det.member_id.encode(), det.model_dump_json().encode()

    scheduled0 = m.REMINDERS_SCHEDULED._value.get()
    await produce(bootstrap, settings.topic_determinations, [record(fresh), record(old)])
    for run in range(2):
        stop = asyncio.Event()
        task = asyncio.create_task(serve(settings, requests=False, stop=stop, install_signals=False, clock=clock))
        try:
            events = await read_all(bootstrap, settings.topic_reauth_due, expect=1, timeout=60, idle=2)
            await produce(bootstrap, settings.topic_determinations, [record(fresh), record(old)])  # replays
            await asyncio.sleep(3)
            events = await read_all(bootstrap, settings.topic_reauth_due, expect=1, timeout=10, idle=2)
        finally:
            stop.set()
            assert await asyncio.wait_for(task, 30) == 0
        ids = [PAReauthDue.model_validate_json(r.value).authorization_id for r in events]
        print(f"[reauth-replay] run {run + 1}: reminders={ids}")
        assert ids == [fresh.authorization.authorization_id]  # type: ignore[union-attr]
    states = [
        AuthorizationState.model_validate_json(r.value)
        for r in await read_all(bootstrap, settings.topic_authorizations, timeout=10, idle=1)
        if r.value
    ]
    assert [(s.authorization_id, s.status) for s in states] == [
        (fresh.authorization.authorization_id, "scheduled"),  # type: ignore[union-attr]
        (fresh.authorization.authorization_id, "sent"),  # type: ignore[union-attr]
    ]
    assert m.REMINDERS_SCHEDULED._value.get() - scheduled0 == 1


async def test_start_fails_unless_the_authorizations_topic_is_co_partitioned(bootstrap: str, unique: str) -> None:
    settings = settings_for(bootstrap, unique)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(settings.topic_determinations, 4, 1),
                NewTopic(settings.topic_authorizations, 2, 1),
                NewTopic(settings.topic_reauth_due, 1, 1),
            ]
        )
    finally:
        await admin.close()
    (scheduler,) = stages(settings, lambda: datetime.now(UTC), requests=False, reviews=False)
    deadline = time.monotonic() + 30
    with pytest.raises(NotCoPartitioned, match=r"has 2 partitions, .* has 4"):
        while True:  # a KafkaError (topics not in the metadata yet) is retried, as serve() does
            try:
                await scheduler.start()
            except KafkaError:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.5)
    assert scheduler.consumer is None
