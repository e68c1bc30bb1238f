"""``make demo``: the whole path on a local broker, in under two minutes.

Starts the local Kafka broker (unless one answers already), creates the topics, starts the
worker with its scheduler, publishes every example request (valid and invalid), then prints
each determination, the dead-lettered messages, the reauthorization-due events and the key
metrics, and stops what it started.

Each run re-dates the examples so they were received a minute ago (and stay inside their
evidence windows; the one example decided five months after receipt keeps that gap) and gives
them fresh request ids, so every run shows a full, new set. One missing-information pend is
printed as a letter system receives it: each criterion's code, its reason in English and Spanish,
and the information requests.
``DEMO_HOLD_SECONDS=60 make demo`` keeps the worker up that long at the end, for ``curl
localhost:9108/metrics``.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table

from contracts import PADecisionClock, PADetermination, PAReauthDue

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "contracts" / "examples"
_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(.*)$")
EXAMPLES_DECIDED_ON = date(2026, 11, 27)
"""The examples are written to be decided on this day; the demo moves them to today."""

console = Console(width=160)


def _shift(obj: Any, days: int, key: str = "") -> Any:
    if isinstance(obj, dict):
        return {k: _shift(v, days, k) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_shift(v, days, key) for v in obj]
    if isinstance(obj, str) and key != "date_of_birth":
        match = _DATE.match(obj)
        if match:
            try:
                shifted = date.fromisoformat(match.group(1)) + timedelta(days=days)
            except ValueError:
                return obj
            return shifted.isoformat() + match.group(2)
    return obj


def demo_requests(run: str, now: datetime) -> tuple[list[tuple[str, bytes, bytes]], list[tuple[str, bytes, bytes]]]:
    valid = []
    for path in sorted((EXAMPLES / "valid").glob("*.json")):
        req = json.loads(path.read_text())
        received = datetime.fromisoformat(req["received_at"])
        req = _shift(req, (now.date() - EXAMPLES_DECIDED_ON).days)
        if received.date() >= EXAMPLES_DECIDED_ON:
            req["received_at"] = (now - timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
        # else: an example received earlier and decided late (initial_approved_reauth_due_now keeps
        # its five months between receipt and decision, so its reminder falls due at once)
        req["request_id"] = f"{req['request_id']}-{run}"
        valid.append((path.stem, req["member"]["member_id"].encode(), json.dumps(req).encode()))
    invalid = [(p.stem, b"demo-invalid", p.read_bytes()) for p in sorted((EXAMPLES / "invalid").glob("*"))]
    return valid, invalid


def _kafka(cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(ROOT / "scripts" / "kafka.sh"), cmd], capture_output=True, text=True, check=False)


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return str(r.read().decode())


def _reason_text(det: PADetermination) -> str:
    if det.decision == "approved" and det.authorization is not None:
        a = det.authorization
        return (
            f"All criteria met. {a.hcpcs} up to {a.max_units} units, {a.valid_from} to {a.valid_through} "
            f"({len(a.schedule)} doses)."
        )
    return "\n".join(f"[{c.id}] {c.reason}" for c in det.criteria if c.result != "met")


def _print_letter(det: PADetermination) -> None:
    """One pended case as a letter system receives it: each criterion's code and its reason in English
    and Spanish, then what to send (information requests)."""
    t = Table(title=f"{det.request_id}: reasons for the letter (pended, {det.pend_reason})", show_lines=True)
    for col, kw in (
        ("criterion", {"no_wrap": True}),
        ("code", {}),
        ("English", {"ratio": 1}),
        ("Spanish", {"ratio": 1}),
    ):
        t.add_column(col, **kw)
    for c in det.criteria:
        t.add_row(f"{c.id} ({c.result})", c.code or "", c.reason, c.reason_es or "")
    console.print(t)
    t = Table(title=f"{det.request_id}: information requests", show_lines=True)
    for col in ("criterion", "send (English)", "send (Spanish)", "accepted types", "dated on or after", "needed by"):
        t.add_column(col)
    for i in det.information_requests:
        t.add_row(
            i.criterion,
            i.document,
            i.document_es,
            ", ".join(i.accepted_types),
            str(i.dated_on_or_after or ""),
            i.needed_by.isoformat(),
        )
    console.print(t)


async def main_async() -> int:
    from offline.readback import read_all
    from worker import logs
    from worker.app import serve
    from worker.config import Settings

    t0 = time.monotonic()
    started_kafka = _kafka("status").returncode != 0
    if started_kafka:
        console.print("[bold]Starting the local Kafka broker[/] (scripts/kafka.sh up)...")
        res = _kafka("up")
        if res.returncode != 0:
            console.print(res.stdout + res.stderr)
            return 1
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    run = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    settings = Settings(
        bootstrap_servers=bootstrap,
        metrics_host="127.0.0.1",
        metrics_port=int(os.environ.get("PA_METRICS_PORT", "9108")),
        batch_timeout_ms=50,
        scheduler_interval_seconds=0.5,
        decision_clock_interval_seconds=0.5,
        log_level="warning",
        create_topics=True,
        topic_partitions=3,
    )
    log_file = ROOT / ".demo" / "worker.log"
    log_file.parent.mkdir(exist_ok=True)
    log_stream = log_file.open("a")
    logs.configure("json", "warning", stream=log_stream)
    stop = asyncio.Event()
    ports: list[int] = []
    clock = DemoClock()
    worker = asyncio.create_task(serve(settings, stop=stop, install_signals=False, on_ready=ports.append, clock=clock))
    try:
        while not ports:
            if worker.done():
                console.print("[red]worker failed to start[/]; see .demo/worker.log")
                return 1
            await asyncio.sleep(0.1)
        console.print(
            f"Worker up: metrics, health and readiness on http://127.0.0.1:{ports[0]}/metrics /healthz /readyz"
        )
        from aiokafka import AIOKafkaProducer

        valid, invalid = demo_requests(run, datetime.now(UTC))
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            for _, key, value in valid + invalid:
                await producer.send_and_wait(settings.topic_requests, value, key=key)
        finally:
            await producer.stop()
        console.print(f"Published {len(valid)} valid and {len(invalid)} invalid requests to {settings.topic_requests}.")
        want = {json.loads(v)["request_id"] for _, _, v in valid}
        dets_all = await read_all(bootstrap, settings.topic_determinations, expect=None, timeout=60, idle=1.5)
        deadline = time.monotonic() + 60
        while {json.loads(d.value)["request_id"] for d in dets_all} < want and time.monotonic() < deadline:
            dets_all = await read_all(bootstrap, settings.topic_determinations, timeout=10, idle=1)
        dets = [PADetermination.model_validate_json(d.value) for d in dets_all]
        dets = [d for d in dets if d.request_id in want]
        dlq = [
            r
            for r in await read_all(bootstrap, settings.topic_dlq, timeout=20, idle=1)
            if r.key == b"demo-invalid" and int(r.headers.get("pa_source_offset", b"-1")) >= 0
        ]
        dlq = dlq[-len(invalid) :]
        auth_ids = {d.authorization.authorization_id for d in dets if d.authorization}
        events: list[PAReauthDue] = []
        deadline = time.monotonic() + 20
        while not events and time.monotonic() < deadline:
            events = [
                PAReauthDue.model_validate_json(r.value)
                for r in await read_all(bootstrap, settings.topic_reauth_due, timeout=10, idle=1)
            ]
            events = [e for e in events if e.authorization_id in auth_ids]
        loop = await _review_loop(bootstrap, settings, dets, clock)
        replayed = _replay_summary([v for _, _, v in valid], [d.model_dump_json().encode() for d in dets])
        scraped = await asyncio.to_thread(_scrape, ports[0])

        table = Table(title="pa.determinations.v1", show_lines=True, expand=True)
        for col, kw in (
            ("request", {"no_wrap": True}),
            ("type", {}),
            ("priority", {}),
            ("decision", {}),
            ("pend reason", {}),
            ("reasons", {"ratio": 1}),
        ):
            table.add_column(col, **kw)
        order = {json.loads(v)["request_id"]: i for i, (_, _, v) in enumerate(valid)}
        for d in sorted(dets, key=lambda d: order.get(d.request_id, 0)):
            colour = {"approved": "green", "pended": "yellow", "denied": "red"}[d.decision]
            table.add_row(
                d.request_id,
                d.request_type,
                d.priority,
                f"[{colour}]{d.decision}[/]",
                d.pend_reason or "",
                _reason_text(d),
            )
        console.print(table)

        letter = next((d for d in dets if d.pend_reason == "missing_information"), None)
        if letter is not None:
            _print_letter(letter)

        t2 = Table(title="pa.requests.dlq.v1 (original bytes kept)", expand=True)
        for col in ("error class", "fields", "message"):
            t2.add_column(col)
        for r in dlq:
            t2.add_row(
                r.headers["pa_error_class"].decode(),
                r.headers.get("pa_error_fields", b"").decode(),
                r.headers["pa_error_message"].decode()[:110],
            )
        console.print(t2)

        t3 = Table(title="pa.reauth-due.v1", expand=True)
        for col in ("authorization", "valid through", "reauth due on", "required documents"):
            t3.add_column(col)
        for e in events:
            t3.add_row(e.authorization_id, str(e.valid_through), str(e.reauth_due_on), ", ".join(e.required_documents))
        console.print(t3)

        console.print("[bold]Key metrics[/] (GET /metrics):")
        keep = (
            "pa_worker_determinations_total{",
            "pa_worker_dlq_messages_total{",
            "pa_worker_transactions_total{",
            "pa_worker_decision_latency_seconds_count",
            "pa_worker_decision_latency_seconds_sum",
            "pa_worker_requests_past_deadline_total",
            "pa_worker_reauth_reminders_",
            "pa_worker_reviews_total{",
            "pa_worker_final_decisions_total{",
            "pa_worker_decision_clock_events_total{",
            "pa_worker_open_pends{",
            "pa_worker_consumer_lag",
            "pa_worker_build_info",
        )
        for line in scraped.splitlines():
            if line.startswith(keep):
                console.print("  " + line, highlight=False)
        approved = sum(1 for d in dets if d.decision == "approved")
        console.print(
            f"Approval rate this run: {approved}/{len(dets)} "
            '(PromQL: sum(rate(pa_worker_determinations_total{decision="approved"}[1h])) / '
            "sum(rate(pa_worker_determinations_total[1h])))",
            highlight=False,
        )
        ok = (
            len(dets) == len(valid)
            and len(dlq) == len(invalid)
            and len(events) >= 1
            and letter is not None
            and bool(letter.information_requests)
            and loop.ok
            and replayed
        )
        hold = float(os.environ.get("DEMO_HOLD_SECONDS", "0"))
        if hold > 0:
            console.print(f"Holding for {hold:.0f}s: curl http://127.0.0.1:{ports[0]}/metrics")
            await asyncio.sleep(hold)
        console.print(
            f"Demo {'complete' if ok else 'INCOMPLETE'} in {time.monotonic() - t0:.1f}s: "
            f"{len(dets)}/{len(valid)} determinations, {len(dlq)}/{len(invalid)} dead-lettered, "
            f"{len(events)} reauth-due event(s); {len(loop.finals)} reviewer decision(s), "
            f"{len(loop.warnings)} decision-clock warning(s), report {loop.report}."
        )
        return 0 if ok else 1
    finally:
        stop.set()
        try:
            await asyncio.wait_for(worker, 30)
        finally:
            log_stream.close()
            if started_kafka:
                _kafka("down")
                console.print("Stopped the local Kafka broker.")


CANDIDATE_VERSION = """\
# a what-if for the P&T committee: step-up doses billed at the dose (12 and 32 units), not as whole
# 44 mg vials, and an ECOG assessment accepted up to 90 days old instead of 30
effective_from = 2026-12-15
version = "demo-what-if"
step_up_whole_vial_billing = false
ecog_window_days = 90
"""


def _replay_summary(requests: list[bytes], published: list[bytes]) -> bool:
    """``pa-worker replay`` on this run: the requests against the determinations just published, under a
    candidate version (issue #26); prints its one-screen summary."""
    from offline.replay import Comparison, candidate_choice, replay_files
    from offline.replay_report import summary_text, write_outputs
    from policy.versions import parse_version_file

    work = ROOT / ".demo" / "replay"
    work.mkdir(parents=True, exist_ok=True)
    (work / "requests.jsonl").write_bytes(b"".join(r + b"\n" for r in requests))
    (work / "published.jsonl").write_bytes(b"".join(d + b"\n" for d in published))
    candidate = parse_version_file(CANDIDATE_VERSION, "toml")
    result = replay_files(
        work / "requests.jsonl",
        Comparison(candidate_choice(candidate, "all")),
        published=work / "published.jsonl",
        out_dir=work / "out",
    )
    write_outputs(result, work / "out")
    console.print("[bold]pa-worker replay[/]: what billing step-ups at the dose and a 90-day ECOG window would change")
    console.print(summary_text(result), highlight=False)
    console.print(f"Replay report written: {(work / 'out' / 'report.html').relative_to(ROOT)}")
    return result.diff.compared == len(requests)


def _local(ts: datetime) -> str:
    """``ts`` on the plan's calendar (America/Puerto_Rico), to the minute."""
    return ts.astimezone(ZoneInfo("America/Puerto_Rico")).strftime("%Y-%m-%d %H:%M AST")


class DemoClock:
    """The worker's clock: real time, plus however far the demo moved it ahead."""

    def __init__(self) -> None:
        self.ahead = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.ahead


@dataclass
class LoopResult:
    finals: list[PADetermination]
    warnings: list[PADecisionClock]
    reminders: list[PAReauthDue]
    report: Path | None
    notified: int = 0
    """Final decisions whose member notice the report measured."""

    @property
    def ok(self) -> bool:
        partial = any(d.denied_portion is not None for d in self.finals)
        return (
            len(self.finals) == 3
            and partial
            and bool(self.warnings)
            and bool(self.reminders)
            and self.report is not None
            and self.notified >= 1
        )


def _review(pended: PADetermination, review_id: str, outcome: str, now: datetime) -> bytes:
    """A reviewer's decision on ``pended``, as the plan's review system would publish it."""
    extra: dict[str, Any] = {}
    if outcome == "approved":
        reviewer, rationale = (
            {"id": "MD-0042", "credential": "MD"},
            "The oncology note documents four prior lines and an ECOG of 2 at the visit of record; "
            "approved as requested.",
        )
    elif outcome == "partially_approved":
        reviewer, rationale = (
            {"id": "MD-0042", "credential": "MD"},
            "Approved for three months, to review the response before the rest of the period.",
        )
        extra["rationale_es"] = "Se aprobó por tres meses, para revisar la respuesta antes del resto del período."
        start = now.astimezone(ZoneInfo("America/Puerto_Rico")).date()
        extra["approved"] = {
            "max_units": 988,
            "valid_from": start.isoformat(),
            "valid_through": (start + timedelta(days=89)).isoformat(),
        }
    else:
        reviewer, rationale = (
            {"id": "MD-0107", "credential": "MD"},
            "Denied: the documented diagnosis is not multiple myeloma, the only indication the policy covers.",
        )
    return json.dumps(
        {
            "schema_version": "1",
            "review_id": review_id,
            "request_id": pended.request_id,
            "determination_id": pended.determination_id,
            "member_id": pended.member_id,
            "reviewer": reviewer,
            "outcome": outcome,
            "rationale": rationale,
            "criteria_notes": [],
            "decided_at": now.isoformat().replace("+00:00", "Z"),
            **extra,
        }
    ).encode()


def _notice(final: PADetermination, kind: str, channel: str, sent_at: datetime) -> bytes:
    """The letter system's record of the member's notice of ``final`` (``pa.notice``)."""
    return json.dumps(
        {
            "schema_version": "1",
            "notice_id": f"LTR-{final.determination_id[-16:]}",
            "determination_id": final.determination_id,
            "request_id": final.request_id,
            "member_id": final.member_id,
            "kind": kind,
            "channel": channel,
            "recipient": "member",
            "sent_at": sent_at.isoformat().replace("+00:00", "Z"),
        }
    ).encode()


async def _review_loop(bootstrap: str, settings: Any, dets: list[PADetermination], clock: DemoClock) -> LoopResult:
    """A reviewer approves one pend and a physician denies another; the clock is moved ahead to
    show a decision-clock warning and the approval's reminder; then the report is written."""
    from aiokafka import AIOKafkaProducer

    from offline.readback import read_all
    from offline.report import compute, write_report
    from worker.reminders import PLAN_ZONE

    # the three-lines/ECOG 3 pend: a physician approves it on the oncology note; the out-of-scope
    # pend (the diagnosis is not multiple myeloma): a physician denies it
    by_example = {d.request_id.rsplit("-", 1)[0]: d for d in dets if d.pend_reason == "clinical_review"}
    approve, deny = by_example.get("REQ-2026-000104"), by_example.get("REQ-2026-000106")
    # a missing-information pend: a physician approves three months of it (a partial approval, adverse)
    part = next((d for d in dets if d.pend_reason == "missing_information"), None)
    if approve is None or deny is None or part is None:
        console.print("[red]the clinical-review and missing-information pends of the examples are missing[/]")
        return LoopResult([], [], [], None)
    now = clock()
    reviews = [
        (approve, _review(approve, f"REV-{approve.request_id}", "approved", now)),
        (deny, _review(deny, f"REV-{deny.request_id}", "denied", now)),
        (part, _review(part, f"REV-{part.request_id}", "partially_approved", now)),
    ]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for pended, value in reviews:
            await producer.send_and_wait(settings.topic_reviews, value, key=pended.member_id.encode())
    finally:
        await producer.stop()
    wanted = {approve.determination_id, deny.determination_id, part.determination_id}
    finals: list[PADetermination] = []
    deadline = time.monotonic() + 60
    while len(finals) < 3 and time.monotonic() < deadline:
        finals = [
            d
            for d in (
                PADetermination.model_validate_json(r.value)
                for r in await read_all(bootstrap, settings.topic_determinations, timeout=10, idle=1)
            )
            if d.supersedes in wanted
        ]
    table = Table(title="Reviewers' final determinations (pa.determinations.v1, final: true)", expand=True)
    for col in ("request", "supersedes", "decided by", "decision", "adverse", "authorization", "rationale"):
        table.add_column(col, ratio=2 if col == "rationale" else None)
    for d in finals:
        auth = d.authorization
        label = "approved, partial" if d.denied_portion is not None else d.decision
        table.add_row(
            d.request_id,
            "..." + (d.supersedes or "")[-12:],
            f"{d.decided_by.kind} {d.decided_by.credential}" if d.decided_by else "",
            f"[{'green' if not d.adverse else 'red'}]{label}[/]",
            "yes, appeal rights" if d.adverse else "no",
            f"{auth.hcpcs} x {auth.max_units} units, {auth.valid_from} to {auth.valid_through}" if auth else "",
            d.rationale or "",
        )
    console.print(table)
    for d in finals:
        if d.denied_portion is not None:
            console.print(f"  Partial approval, as the letter says it: {d.denied_portion.summary}", highlight=False)
            console.print(f"  {d.denied_portion.summary_es}", highlight=False)
        if d.decision == "denied" and d.criteria:
            shown = next((c for c in d.criteria if c.result != "met"), None)
            if shown is not None:
                console.print(f"  Final denial, a reason as the letter says it: {shown.reason}", highlight=False)
        if d.translation_needed:
            console.print(f"  Spanish to translate before a Spanish letter: {', '.join(d.translation_needed)}")

    # The letter system notifies the members of the denial (mail) and of the partial approval (a phone
    # call), an hour after the decisions, and reports each notice on pa.notices.v1.
    sent = clock() + timedelta(hours=1)
    notices = [
        (d, _notice(d, "denial" if d.decision == "denied" else "partial_approval", channel, sent))
        for d, channel in (
            (next((d for d in finals if d.decision == "denied"), None), "mail"),
            (next((d for d in finals if d.denied_portion is not None), None), "phone"),
        )
        if d is not None
    ]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for final, value in notices:
            await producer.send_and_wait(settings.topic_notices, value, key=final.member_id.encode())
    finally:
        await producer.stop()
    console.print(f"Letter system: {len(notices)} member notice(s) published to {settings.topic_notices}.")

    # Decision clocks: 55 hours on, the pends still open have used more than 75% of a 72-hour clock.
    clock.ahead = timedelta(hours=55)
    console.print("[bold]Demo clock moved 55 hours ahead[/]: open standard pends pass 75% of their 72-hour clock.")
    open_ids = {d.determination_id for d in dets if d.decision == "pended"} - wanted
    warnings: list[PADecisionClock] = []
    deadline = time.monotonic() + 30
    while not warnings and time.monotonic() < deadline:
        warnings = [
            e
            for e in (
                PADecisionClock.model_validate_json(r.value)
                for r in await read_all(bootstrap, settings.topic_decision_clock, timeout=5, idle=1)
            )
            if e.determination_id in open_ids and e.threshold == "warning"
        ]
    t = Table(title="pa.decision-clock.v1 (warning)", expand=True)
    for col in ("determination", "priority", "pend reason", "received", "due by", "75% reached at"):
        t.add_column(col)
    for e in warnings[:3]:
        t.add_row(
            "..." + e.determination_id[-12:],
            e.priority,
            e.pend_reason,
            _local(e.received_at),
            _local(e.decision_due_by),
            _local(e.threshold_at),
        )
    console.print(t)

    # The reviewer's approval gets its reauthorization reminder like an engine approval.
    approved = next((d for d in finals if d.authorization is not None), None)
    reminders: list[PAReauthDue] = []
    if approved is not None and approved.authorization is not None:
        due = approved.authorization.valid_through - timedelta(days=settings.reauth_lead_days)
        # The scheduler's days are the plan's local dates: the due date begins at local midnight.
        clock.ahead = max(clock.ahead, datetime.combine(due, datetime.min.time(), PLAN_ZONE) - datetime.now(UTC))
        console.print(f"[bold]Demo clock moved to {due}[/]: the reviewer's approval is due for reauthorization.")
        deadline = time.monotonic() + 30
        while not reminders and time.monotonic() < deadline:
            reminders = [
                ev
                for ev in (
                    PAReauthDue.model_validate_json(r.value)
                    for r in await read_all(bootstrap, settings.topic_reauth_due, timeout=5, idle=1)
                )
                if ev.authorization_id == approved.authorization.authorization_id
            ]
        for reminder in reminders:
            console.print(
                f"  pa.reauth-due.v1: {reminder.authorization_id} valid through {reminder.valid_through}, "
                f"reauthorization due on {reminder.reauth_due_on}",
                highlight=False,
            )

    # The compliance report over today's determinations, finals included, and the members' notices.
    from offline.report import parse_lines, parse_notices

    records = [r.value for r in await read_all(bootstrap, settings.topic_determinations, timeout=10, idle=1)]
    parsed, _errors = parse_lines(records)
    notice_records = [r.value for r in await read_all(bootstrap, settings.topic_notices, timeout=10, idle=1)]
    parsed_notices, _notice_errors = parse_notices(notice_records)
    today = datetime.now(UTC).date()
    report = compute(
        parsed, today - timedelta(days=1), today + timedelta(days=1), notices=parsed_notices, as_of=clock()
    )
    page, csvs = write_report(report, ROOT / ".demo" / "report")
    console.print(f"Report written: {page.relative_to(ROOT)} and {len(csvs)} CSV files (pa-worker report).")
    for row in report.timeliness:
        console.print(
            f"  {row.priority}: decided within the clock {row.decided_within_clock}/{row.denominator}, "
            f"notified within the clock {row.notified_within_clock}/{row.denominator}, "
            f"open past due {row.open_past_due}, final decisions without a member notice {row.without_member_notice}",
            highlight=False,
        )
    notified = report.notices.first_member if report.notices is not None else 0
    return LoopResult(finals, warnings, reminders, page, notified)


def main() -> int:
    return asyncio.run(main_async())


if __name__ == "__main__":
    sys.exit(main())
