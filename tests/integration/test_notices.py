"""Notices on the real broker (issue #23 item 7): the letter system's pa.notice events kept by the
review stage as state, exactly once.

Expected values come from the issue and the contract: a pended determination decided by a review,
then notified; the same notice sent twice is kept once, across a restart and across a kill -9
inside the transaction that takes it; a bad notice goes to pa.notices.dlq.v1 once with its class
and original bytes; the member's first notice is measured against decision_due_by (72 hours
after received_at for a standard request), and a final decision with no member notice by then
is counted once.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from contracts import PADetermination
from tests.faults.logwatch import wait_for_log
from tests.kafkautil import Read, WorkerProcess, create_topics, encode, example, produce, read_all, settings_for
from worker import metrics as m
from worker.app import serve
from worker.config import Settings
from worker.pends import NOTICE_KEY_PREFIX, PendBook

pytestmark = pytest.mark.kafka

ROOT = Path(__file__).resolve().parents[2]
REVIEWS = ROOT / "contracts" / "examples" / "pa.review" / "valid"
NOTICES = ROOT / "contracts" / "examples" / "pa.notice" / "valid"
RECEIVED = datetime(2026, 11, 27, 15, 4, 5, tzinfo=UTC)
"""received_at of the pended examples; standard priority: decision due 72 hours later."""
DUE = RECEIVED + timedelta(hours=72)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def _settings(bootstrap: str, unique: str) -> Settings:
    settings = settings_for(
        bootstrap, unique, topic_notices=f"pa.notices.{unique}", topic_notices_dlq=f"pa.notices.dlq.{unique}"
    )
    await create_topics(settings)
    return settings


def _request(name: str, tag: str) -> dict[str, Any]:
    req = copy.deepcopy(example(name))
    req["request_id"] = f"{tag}-{req['request_id']}"
    req["member"]["member_id"] = f"{tag}{req['member']['member_id']}"[:64]
    return req


def _review(name: str, pended: PADetermination, review_id: str) -> tuple[bytes, bytes]:
    data = json.loads((REVIEWS / f"{name}.json").read_text())
    data.update(
        review_id=review_id,
        determination_id=pended.determination_id,
        request_id=pended.request_id,
        member_id=pended.member_id,
    )
    return pended.member_id.encode(), json.dumps(data).encode()


def _notice(final: PADetermination, notice_id: str, **changes: Any) -> tuple[bytes, bytes]:
    data = json.loads((NOTICES / "denial_by_mail_to_member.json").read_text())
    data.update(
        notice_id=notice_id,
        determination_id=final.determination_id,
        request_id=final.request_id,
        member_id=final.member_id,
    )
    data.update(changes)
    return final.member_id.encode(), json.dumps(data).encode()


async def _determinations(bootstrap: str, topic: str, expect: int) -> list[PADetermination]:
    reads = await read_all(bootstrap, topic, expect=expect, timeout=60, idle=2)
    return [PADetermination.model_validate_json(r.value) for r in reads]


def _books(store: list[Read]) -> dict[int, PendBook]:
    """Each partition's book, as its changelog (committed records, in order) holds it."""
    books: dict[int, PendBook] = {}
    for r in sorted(store, key=lambda r: (r.partition, r.offset)):
        books.setdefault(r.partition, PendBook()).apply(r.key, r.value)
    return books


async def _notices_taken(bootstrap: str, settings: Settings, n: int, timeout: float = 60) -> list[Read]:
    """The pend store once its books have read ``n`` notices in all (their positions add up to ``n``)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        store = await read_all(bootstrap, settings.topic_pend_store, timeout=5, idle=0.5)
        taken = sum(b.notices_position for b in _books(store).values())
        if taken >= n:
            return store
        assert asyncio.get_running_loop().time() < deadline, f"{taken} of {n} notices taken after {timeout:.0f} s"
        await asyncio.sleep(0.3)


def _value(metric: Any) -> float:
    return float(metric._value.get())


async def test_a_notice_end_to_end_kept_once_across_a_resend_and_a_restart(bootstrap: str, unique: str) -> None:
    settings = await _settings(bootstrap, unique)
    tag = f"nt{unique[:4]}"
    approved_req = _request("pended_clinical_review_three_lines_ecog3", tag)
    denied_req = _request("pended_clinical_review_out_of_scope", tag)
    clock = Clock(RECEIVED + timedelta(hours=1))
    timely0 = _value(m.MEMBER_NOTICES.labels("standard", "yes"))
    late0 = _value(m.MEMBER_NOTICES.labels("standard", "no"))
    waited0 = m.TIME_TO_MEMBER_NOTICE.labels("standard")._sum.get()
    missed0 = _value(m.NOTICE_DEADLINES_MISSED.labels("standard"))
    duplicates0 = _value(m.NOTICES.labels("duplicate"))

    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, stop=stop, install_signals=False, clock=clock))
    try:
        await produce(bootstrap, settings.topic_requests, [encode(approved_req), encode(denied_req)])
        pends = {d.request_id: d for d in await _determinations(bootstrap, settings.topic_determinations, 2)}
        to_approve, to_deny = pends[approved_req["request_id"]], pends[denied_req["request_id"]]
        assert to_approve.decision == to_deny.decision == "pended"
        await produce(
            bootstrap,
            settings.topic_reviews,
            [
                _review("approved_by_physician", to_approve, f"REV-{unique[:6]}-1"),
                _review("denied_by_pharmacist", to_deny, f"REV-{unique[:6]}-2"),
            ],
        )
        finals = {d.supersedes: d for d in await _determinations(bootstrap, settings.topic_determinations, 4)}
        denial, approval = finals[to_deny.determination_id], finals[to_approve.determination_id]
        assert (denial.decision, denial.final, approval.decision) == ("denied", True, "approved")

        sent = RECEIVED + timedelta(hours=30)
        mail = _notice(denial, f"LTR-{unique[:6]}", sent_at=sent.isoformat())
        fax = _notice(denial, f"FAX-{unique[:6]}", recipient="prescriber", channel="fax")
        bad = (denial.member_id.encode(), b'{"schema_version": "1", "notice_id": "half a notice"')
        await produce(bootstrap, settings.topic_notices, [mail, mail, fax, bad])  # the letter system sent it twice
        await _notices_taken(bootstrap, settings, 4)
        clock.now = DUE + timedelta(minutes=1)  # the approval's member was never notified
        await wait_until(lambda: _value(m.NOTICE_DEADLINES_MISSED.labels("standard")) > missed0)
        before = await read_all(bootstrap, settings.topic_pend_store, timeout=5, idle=1)
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 30) == 0

    # restarted: the same notice a third time, and more ticks past the deadline
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, stop=stop, install_signals=False, clock=clock))
    try:
        await produce(bootstrap, settings.topic_notices, [mail])
        store = await _notices_taken(bootstrap, settings, 5)
        await asyncio.sleep(1.5)  # several ticks
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 30) == 0

    books = _books(store)
    kept = [b.notices[denial.determination_id] for b in books.values() if denial.determination_id in b.notices]
    assert len(kept) == 1
    assert [n.notice_id for n in kept[0].notices] == [f"LTR-{unique[:6]}", f"FAX-{unique[:6]}"]
    assert (kept[0].member_notified_at, kept[0].final, kept[0].pend_id) == (sent, True, to_deny.determination_id)
    overdue = [b.notices[approval.determination_id] for b in books.values() if approval.determination_id in b.notices]
    assert [(n.overdue, n.notices) for n in overdue] == [(True, ())]
    # after the restart, the notice sent a third time and the ticks past the deadline wrote no state
    # (the store's only new record is the notice position)
    new = Counter(r.key for r in store) - Counter(r.key for r in before)
    assert new == Counter({b"~notices-position": 1}), new
    dlq = await read_all(bootstrap, settings.topic_notices_dlq, expect=1, timeout=10, idle=1)
    assert [(r.value, r.headers["pa_error_class"]) for r in dlq] == [(bad[1], b"not_json")]
    # timeliness on notice: the member's first notice, 30 hours after receipt, within the 72 hours
    assert _value(m.MEMBER_NOTICES.labels("standard", "yes")) - timely0 == 1
    assert _value(m.MEMBER_NOTICES.labels("standard", "no")) - late0 == 0
    assert m.TIME_TO_MEMBER_NOTICE.labels("standard")._sum.get() - waited0 == pytest.approx(30 * 3600)
    assert _value(m.NOTICE_DEADLINES_MISSED.labels("standard")) - missed0 == 1
    assert _value(m.NOTICES.labels("duplicate")) - duplicates0 == 2


async def wait_until(pred: Any, timeout: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not pred():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)


async def test_kill9_inside_the_transaction_that_takes_a_notice(bootstrap: str, unique: str, tmp_path: Path) -> None:
    """The review stage is killed with the transaction that takes two notices open (their state,
    the dead letter and the new notice position sent, not committed); the next worker keeps each
    exactly once."""
    settings = await _settings(bootstrap, unique)
    req = _request("pended_clinical_review_out_of_scope", f"k9{unique[:4]}")
    now = {"TEST_NOW": (RECEIVED + timedelta(hours=1)).isoformat()}
    first = WorkerProcess(settings, log_path=tmp_path / "first.log", module="tests.faults.proc", env=now).start()
    try:
        await produce(bootstrap, settings.topic_requests, [encode(req)])
        (pended,) = await _determinations(bootstrap, settings.topic_determinations, 1)
        await produce(bootstrap, settings.topic_reviews, [_review("denied_by_pharmacist", pended, f"REV-{unique[:6]}")])
        dets = await _determinations(bootstrap, settings.topic_determinations, 2)
        final = next(d for d in dets if d.supersedes == pended.determination_id)
        await asyncio.sleep(2)  # its ticks: the store is up to date, nothing left to write
        assert first.terminate() == 0
    finally:
        first.ensure_dead()
    mail = _notice(final, f"LTR-{unique[:6]}")
    bad = _notice(final, f"INFO-{unique[:6]}", kind="information_request")  # not a notice of a final decision
    await produce(bootstrap, settings.topic_notices, [mail, bad, mail])
    hold = {**now, "TEST_TXN_HOLD": "open", "TEST_TXN_ROLE": "reviews", "TEST_TXN_AFTER": "1"}
    log = tmp_path / "held.log"
    held = WorkerProcess(settings, log_path=log, module="tests.faults.proc", env=hold).start()
    try:
        await wait_for_log(log, "TXN-HOLD open", timeout=90)
    finally:
        held.kill9()
    assert await read_all(bootstrap, settings.topic_notices_dlq, timeout=3, idle=1) == []
    last = WorkerProcess(settings, log_path=tmp_path / "last.log", module="tests.faults.proc", env=now).start()
    try:
        store = await _notices_taken(bootstrap, settings, 3, timeout=90)
        dlq = await read_all(bootstrap, settings.topic_notices_dlq, expect=1, timeout=30, idle=2)
        assert last.terminate() == 0
    finally:
        last.ensure_dead()
    books = _books(store)
    kept = [b.notices[final.determination_id] for b in books.values() if final.determination_id in b.notices]
    assert [[n.notice_id for n in k.notices] for k in kept] == [[f"LTR-{unique[:6]}"]]
    versions = [r for r in store if r.key == NOTICE_KEY_PREFIX + final.determination_id.encode()]
    assert len(versions) == 1
    assert [(r.value, r.headers["pa_error_class"]) for r in dlq] == [(bad[1], b"notice_mismatch")]
