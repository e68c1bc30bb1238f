"""The review stage on the real broker (issue #15): reviewers' decisions in, final determinations,
dead letters and decision clocks out, exactly once.

Expected values come from the issue and the contract: a final determination supersedes the pend
and says who decided; an adverse review by a nurse, a review of an unknown determination and a
message that is not a review are dead-lettered with their reason and original bytes; the same
review twice publishes once; the 75% warning and the breach of a pend's clock (received_at to
decision_due_by: 72 hours for a standard request) fire once each; a reviewer's approval gets its
reauthorization reminder like an engine approval.
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

from contracts import PADecisionClock, PADetermination, PAReauthDue
from tests.faults.logwatch import wait_for_log
from tests.kafkautil import (
    WorkerProcess,
    create_topics,
    encode,
    example,
    produce,
    read_all,
    settings_for,
)
from worker import metrics as m
from worker.app import serve

pytestmark = pytest.mark.kafka

ROOT = Path(__file__).resolve().parents[2]
REVIEWS = ROOT / "contracts" / "examples" / "pa.review" / "valid"
RECEIVED = datetime(2026, 11, 27, 15, 4, 5, tzinfo=UTC)
"""received_at of the pended examples; standard priority: decision due 72 hours later."""
DUE = RECEIVED + timedelta(hours=72)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _pended_requests(tag: str) -> dict[str, dict[str, Any]]:
    """Three pends with this test's own request and member ids."""
    out = {}
    for name in (
        "pended_clinical_review_three_lines_ecog3",
        "pended_clinical_review_out_of_scope",
        "pended_missing_information_no_ecog",
    ):
        req = copy.deepcopy(example(name))
        req["request_id"] = f"{tag}-{req['request_id']}"
        req["member"]["member_id"] = f"{tag}{req['member']['member_id']}"[:64]
        out[name] = req
    return out


def _review(name: str, pended: PADetermination, review_id: str, **changes: Any) -> tuple[bytes, bytes]:
    data = json.loads((REVIEWS / f"{name}.json").read_text())
    data.update(
        review_id=review_id,
        determination_id=pended.determination_id,
        request_id=pended.request_id,
        member_id=pended.member_id,
    )
    data.update(changes)
    return pended.member_id.encode(), json.dumps(data).encode()


async def _pends(bootstrap: str, topic: str, requests: dict[str, dict[str, Any]]) -> dict[str, PADetermination]:
    reads = await read_all(bootstrap, topic, expect=len(requests), timeout=60)
    by_request = {d.request_id: d for d in (PADetermination.model_validate_json(r.value) for r in reads)}
    out = {name: by_request[req["request_id"]] for name, req in requests.items()}
    assert all(d.decision == "pended" and d.final is False for d in out.values())
    return out


async def test_reviews_give_final_determinations_dead_letters_and_no_duplicates(bootstrap: str, unique: str) -> None:
    settings = settings_for(bootstrap, unique)
    await create_topics(settings)
    requests = _pended_requests(f"rv{unique[:4]}")
    clock = Clock(RECEIVED + timedelta(hours=1))
    duplicates0 = m.REVIEWS.labels("duplicate")._value.get()
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, stop=stop, install_signals=False, clock=clock))
    try:
        await produce(bootstrap, settings.topic_requests, (encode(r) for r in requests.values()))
        pends = await _pends(bootstrap, settings.topic_determinations, requests)
        ecog3, scope, no_ecog = (
            pends["pended_clinical_review_three_lines_ecog3"],
            pends["pended_clinical_review_out_of_scope"],
            pends["pended_missing_information_no_ecog"],
        )
        approval = _review("approved_by_physician", ecog3, f"REV-{unique[:6]}-1")
        nurse_denial = _review(
            "denied_by_pharmacist", no_ecog, f"REV-{unique[:6]}-3", reviewer={"id": "RN-7", "credential": "RN"}
        )
        unknown = _review("approved_by_physician", ecog3, f"REV-{unique[:6]}-4", determination_id="DET-unknown-0")
        partial = _review("partially_approved_by_physician", no_ecog, f"REV-{unique[:6]}-5")
        reviews = [
            approval,
            _review("denied_by_pharmacist", scope, f"REV-{unique[:6]}-2"),
            nurse_denial,
            unknown,
            approval,  # the same review again
            (ecog3.member_id.encode(), b"{not json"),
            partial,  # after the nurse's denial was dead-lettered, the pend is still open
        ]
        await produce(bootstrap, settings.topic_reviews, reviews)
        dets = await read_all(bootstrap, settings.topic_determinations, expect=6, timeout=60, idle=4)
        dlq = await read_all(bootstrap, settings.topic_reviews_dlq, expect=3, timeout=30, idle=2)
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 30) == 0

    finals = [PADetermination.model_validate_json(r.value) for r in dets]
    finals = [d for d in finals if d.supersedes is not None]
    assert len(finals) == 3, [d.determination_id for d in finals]
    by_pend = {d.supersedes: d for d in finals}
    approved, denied = by_pend[ecog3.determination_id], by_pend[scope.determination_id]
    # the partial approval (issue #23): published as approved, marked adverse with appeal rights, the
    # authorization for the granted portion only. Asked: 2026-12-01..2027-05-31 (182 days), no units, so
    # the labeled maximum 1988 (R20); granted 988 units over 2026-12-15..2027-06-14: 1000 units and the
    # 14 days 2026-12-01..14 not approved
    part = by_pend[no_ecog.determination_id]
    assert (part.decision, part.final, part.adverse, part.appeal_rights) == ("approved", True, True, True)
    assert part.authorization is not None and part.denied_portion is not None
    assert (part.authorization.max_units, str(part.authorization.valid_from)) == (988, "2026-12-15")
    dp = part.denied_portion
    assert (dp.requested_units, dp.granted_units, dp.denied_units, dp.denied_days) == (1988, 988, 1000, 14)
    assert (approved.adverse, approved.appeal_rights, approved.denied_portion) == (False, False, None)
    assert (approved.decision, approved.final, approved.decided_by and approved.decided_by.credential) == (
        "approved",
        True,
        "MD",
    )
    assert approved.authorization is not None and approved.authorization.hcpcs == "J1323"
    assert approved.authorization.max_units >= 1
    assert (denied.decision, denied.final, denied.decided_by and denied.decided_by.credential) == (
        "denied",
        True,
        "PharmD",
    )
    # the specific reasons and the policy: the pend's findings, and nothing promising a decision to come
    assert denied.rationale and [(c.id, c.code, c.facts) for c in denied.criteria] == [
        (c.id, c.code, c.facts) for c in scope.criteria
    ]
    assert (denied.adverse, denied.appeal_rights) == (True, True)
    assert not any("will decide" in c.reason or "decidirá" in (c.reason_es or "") for c in denied.criteria)
    rec = next(r for r in dets if r.headers["ce_id"] == approved.determination_id.encode())
    assert rec.headers["ce_type"] == b"org.mmm.pa.determination.v1" and rec.key == approved.member_id.encode()

    classes = Counter(r.headers["pa_error_class"].decode() for r in dlq)
    assert classes == Counter({"credential_not_allowed": 1, "unknown_determination": 1, "not_json": 1}), classes
    values = {r.headers["pa_error_class"].decode(): r.value for r in dlq}
    assert values["credential_not_allowed"] == nurse_denial[1]  # the original bytes
    assert values["unknown_determination"] == unknown[1]
    assert m.REVIEWS.labels("duplicate")._value.get() - duplicates0 == 1


async def test_decision_clock_warning_and_breach_fire_once_each(bootstrap: str, unique: str) -> None:
    settings = settings_for(bootstrap, unique, decision_clock_interval_seconds=0.2)
    await create_topics(settings)
    requests = _pended_requests(f"dc{unique[:4]}")
    clock = Clock(RECEIVED + timedelta(hours=1))
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, stop=stop, install_signals=False, clock=clock))
    try:
        await produce(bootstrap, settings.topic_requests, (encode(r) for r in requests.values()))
        pends = await _pends(bootstrap, settings.topic_determinations, requests)
        await asyncio.sleep(2)  # several ticks before the threshold: nothing
        assert await read_all(bootstrap, settings.topic_decision_clock, timeout=2, idle=1) == []
        clock.now = RECEIVED + timedelta(hours=55)  # past 75% of 72 hours (54 h)
        warnings = await read_all(bootstrap, settings.topic_decision_clock, expect=3, timeout=30, idle=2)
        # one pend is decided after its warning: it never breaches
        decided = pends["pended_clinical_review_three_lines_ecog3"]
        await produce(
            bootstrap, settings.topic_reviews, [_review("approved_by_physician", decided, f"REV-{unique[:6]}-c")]
        )
        await read_all(bootstrap, settings.topic_determinations, expect=4, timeout=30, idle=2)
        clock.now = DUE + timedelta(minutes=1)
        events = await read_all(bootstrap, settings.topic_decision_clock, expect=5, timeout=30, idle=3)
        await asyncio.sleep(2)  # more ticks past the deadline
        events = await read_all(bootstrap, settings.topic_decision_clock, expect=5, timeout=10, idle=2)
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 30) == 0

    assert len(warnings) == 3
    parsed = [(r, PADecisionClock.model_validate_json(r.value)) for r in events]
    counts = Counter((e.determination_id, e.threshold) for _, e in parsed)
    expected = {(d.determination_id, "warning") for d in pends.values()} | {
        (d.determination_id, "breach") for name, d in pends.items() if d is not decided
    }
    assert set(counts) == expected and all(n == 1 for n in counts.values()), counts
    for r, e in parsed:
        assert r.key == e.member_id.encode() and r.headers["ce_type"] == b"org.mmm.pa.decision_clock.v1"
        assert r.headers["ce_id"] == e.event_id.encode()
        assert e.decision_due_by == DUE and e.received_at == RECEIVED
        if e.threshold == "warning":
            assert (e.clock_share, e.threshold_at) == (0.75, RECEIVED + timedelta(hours=54))
        else:
            assert (e.clock_share, e.threshold_at) == (1.0, DUE)


async def test_a_reviewer_approval_gets_its_reauthorization_reminder(bootstrap: str, unique: str) -> None:
    settings = settings_for(bootstrap, unique)
    await create_topics(settings)
    requests = _pended_requests(f"ra{unique[:4]}")
    clock = Clock(RECEIVED + timedelta(hours=1))
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, stop=stop, install_signals=False, clock=clock))
    try:
        await produce(bootstrap, settings.topic_requests, (encode(r) for r in requests.values()))
        pends = await _pends(bootstrap, settings.topic_determinations, requests)
        pended = pends["pended_clinical_review_three_lines_ecog3"]
        await produce(
            bootstrap, settings.topic_reviews, [_review("approved_by_physician", pended, f"REV-{unique[:6]}")]
        )
        dets = await read_all(bootstrap, settings.topic_determinations, expect=4, timeout=60, idle=2)
        final = next(
            d for d in (PADetermination.model_validate_json(r.value) for r in dets) if d.supersedes is not None
        )
        assert final.authorization is not None
        clock.now = datetime.combine(final.authorization.valid_through, datetime.min.time(), UTC)
        reminders = await read_all(bootstrap, settings.topic_reauth_due, expect=1, timeout=60, idle=3)
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 30) == 0
    events = [PAReauthDue.model_validate_json(r.value) for r in reminders]
    assert [e.authorization_id for e in events] == [final.authorization.authorization_id]
    assert events[0].determination_id == final.determination_id


async def test_kill9_between_a_reviews_consumption_and_its_commit(bootstrap: str, unique: str, tmp_path: Path) -> None:
    """The review stage is killed with its transaction open (final determination, dead letter and
    offsets sent, not committed); the next worker publishes each exactly once."""
    settings = settings_for(bootstrap, unique)
    await create_topics(settings)
    requests = _pended_requests(f"k9{unique[:4]}")
    now = {"TEST_NOW": (RECEIVED + timedelta(hours=1)).isoformat()}
    first = WorkerProcess(settings, log_path=tmp_path / "first.log", module="tests.faults.proc", env=now).start()
    try:
        await produce(bootstrap, settings.topic_requests, (encode(r) for r in requests.values()))
        pends = await _pends(bootstrap, settings.topic_determinations, requests)
        await asyncio.sleep(3)  # its ticks take the pends from the inbox into the store
        assert first.terminate() == 0
    finally:
        first.ensure_dead()
    # The store holds the three pends and the inbox position: the held worker's first transaction
    # of the review stage can only be the reviews' (its ticks have nothing to write).
    store = await read_all(bootstrap, settings.topic_pend_store, timeout=10, idle=1)
    keys = {r.key for r in store}
    assert {d.determination_id.encode() for d in pends.values()} <= keys and b"~inbox-position" in keys
    reviews = [
        _review("approved_by_physician", pends["pended_clinical_review_three_lines_ecog3"], f"REV-{unique[:6]}-a"),
        _review(
            "denied_by_pharmacist",
            pends["pended_missing_information_no_ecog"],
            f"REV-{unique[:6]}-b",
            reviewer={"id": "RN-1", "credential": "RN"},
        ),
    ]
    await produce(bootstrap, settings.topic_reviews, reviews)
    hold = {**now, "TEST_TXN_HOLD": "open", "TEST_TXN_ROLE": "reviews", "TEST_TXN_AFTER": "1"}
    log = tmp_path / "held.log"
    held = WorkerProcess(settings, log_path=log, module="tests.faults.proc", env=hold).start()
    try:
        await wait_for_log(log, "TXN-HOLD open", timeout=90)
    finally:
        held.kill9()
    assert [r for r in await read_all(bootstrap, settings.topic_reviews_dlq, timeout=3, idle=1)] == []
    last = WorkerProcess(settings, log_path=tmp_path / "last.log", module="tests.faults.proc", env=now).start()
    try:
        dets = await read_all(bootstrap, settings.topic_determinations, expect=4, timeout=90, idle=4)
        dlq = await read_all(bootstrap, settings.topic_reviews_dlq, expect=1, timeout=30, idle=2)
        assert last.terminate() == 0
    finally:
        last.ensure_dead()
    finals = [d for d in (PADetermination.model_validate_json(r.value) for r in dets) if d.supersedes is not None]
    assert len(finals) == 1 and finals[0].decision == "approved", [d.determination_id for d in finals]
    assert [r.headers["pa_error_class"] for r in dlq] == [b"credential_not_allowed"]
