"""Prometheus metrics of the worker and the reauthorization scheduler.

Naming follows Prometheus conventions (``_total`` counters, ``_seconds`` units). Labels are
bounded enums only: never a member, request or authorization identifier.
"""

from __future__ import annotations

import platform
from collections import Counter as CounterOf
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, disable_created_metrics

from contracts.channels import DLQ_ERROR_CLASSES
from worker.records import DeadLettered, Duplicate, Published, Result

# The *_created series double the exposition for no dashboard use.
disable_created_metrics()  # type: ignore[no-untyped-call]

REGISTRY = CollectorRegistry(auto_describe=True)

# Sub-second buckets for the hot path, then buckets around the regulatory deadlines
# (expedited 24 h, standard 72 h) so dashboards can show "how close to the clock".
DECISION_LATENCY_BUCKETS = (
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    300.0,
    900.0,
    3600.0,
    4 * 3600.0,
    12 * 3600.0,
    20 * 3600.0,
    24 * 3600.0,
    48 * 3600.0,
    66 * 3600.0,
    72 * 3600.0,
    96 * 3600.0,
)
BATCH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

KNOWN_LINES_OF_BUSINESS = frozenset({"MMM_MA", "MMM_MULTIHEALTH"})


def lob_label(line_of_business: str) -> str:
    """Bound the line-of-business label: in-scope values as-is, anything else ``other``."""
    return line_of_business if line_of_business in KNOWN_LINES_OF_BUSINESS else "other"


BUILD_INFO = Info(
    "pa_worker_build",
    "Build of the running worker (value is always 1).",
    registry=REGISTRY,
)

DETERMINATIONS = Counter(
    "pa_worker_determinations_total",
    "Determinations published, by decision, pend reason, request type, priority and line of business.",
    ["decision", "pend_reason", "request_type", "priority", "line_of_business"],
    registry=REGISTRY,
)
DECISION_LATENCY = Histogram(
    "pa_worker_decision_latency_seconds",
    "Time from the request's received_at to the commit of its determination.",
    ["priority"],
    buckets=DECISION_LATENCY_BUCKETS,
    registry=REGISTRY,
)
BATCH_SECONDS = Histogram(
    "pa_worker_batch_processing_seconds",
    "Wall time to evaluate and commit one partition batch (one transaction).",
    buckets=BATCH_BUCKETS,
    registry=REGISTRY,
)
BATCH_RECORDS = Histogram(
    "pa_worker_batch_records",
    "Input records per transaction.",
    buckets=(1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500),
    registry=REGISTRY,
)
DUPLICATES = Counter(
    "pa_worker_duplicate_requests_total",
    "Requests submitted again with the same request_id and content: not determined twice.",
    registry=REGISTRY,
)
PAST_DEADLINE = Counter(
    "pa_worker_requests_past_deadline_total",
    "Determinations published after their decision_due_by.",
    ["priority"],
    registry=REGISTRY,
)
DLQ = Counter(
    "pa_worker_dlq_messages_total",
    "Input messages dead-lettered, by error class.",
    ["error_class"],
    registry=REGISTRY,
)
IN_FLIGHT = Gauge(
    "pa_worker_in_flight_requests",
    "Input records fetched from Kafka and not yet committed or aborted: queued for their partition's "
    "transaction or in it.",
    registry=REGISTRY,
)
LAST_PROCESSED = Gauge(
    "pa_worker_last_processed_timestamp_seconds",
    "Unix time of the last committed transaction of input records.",
    registry=REGISTRY,
)
TRANSACTIONS = Counter(
    "pa_worker_transactions_total",
    "Kafka transactions finished, by outcome (committed, aborted).",
    ["outcome"],
    registry=REGISTRY,
)
CONSUMER_LAG = Gauge(
    "pa_worker_consumer_lag_messages",
    "Records between the consumer position and the partition's last stable offset.",
    ["topic", "partition"],
    registry=REGISTRY,
)
ASSIGNED_PARTITIONS = Gauge(
    "pa_worker_assigned_partitions",
    "Input partitions currently assigned to this worker.",
    ["role"],
    registry=REGISTRY,
)
READY = Gauge(
    "pa_worker_ready",
    "1 when the worker is assigned partitions and consuming, else 0.",
    registry=REGISTRY,
)

REMINDERS_SCHEDULED = Counter(
    "pa_worker_reauth_reminders_scheduled_total",
    "Reauthorization reminders scheduled (approved authorizations seen by the scheduler).",
    registry=REGISTRY,
)
REMINDERS_EMITTED = Counter(
    "pa_worker_reauth_reminders_emitted_total",
    "pa.reauth_due events committed.",
    registry=REGISTRY,
)
REMINDERS_CANCELLED = Counter(
    "pa_worker_reauth_reminders_cancelled_total",
    "Pending reminders cancelled because a later approval superseded the authorization.",
    registry=REGISTRY,
)
REMINDERS_PENDING = Gauge(
    "pa_worker_reauth_reminders_pending",
    "Reminders scheduled and not yet sent, on the partitions this instance owns.",
    registry=REGISTRY,
)
REMINDERS_DUE = Gauge(
    "pa_worker_reauth_reminders_due",
    "Reminders whose due date has come and that are not yet sent.",
    registry=REGISTRY,
)
NEXT_REMINDER = Gauge(
    "pa_worker_reauth_next_due_timestamp_seconds",
    "Unix time of the next pending reminder (0 when none).",
    registry=REGISTRY,
)


# -- reviews and decision clocks (issue #15) ----------------------------------------------------
OPEN_PENDS = Gauge(
    "pa_worker_open_pends",
    "Pended determinations without a final decision, on the review partitions this instance owns.",
    ["priority", "pend_reason"],
    registry=REGISTRY,
)
PENDS_PAST_THRESHOLD = Gauge(
    "pa_worker_open_pends_past_threshold",
    "Open pends that have used at least the warning share of their decision clock (threshold=warning) "
    "or passed their decision_due_by (threshold=breach).",
    ["threshold"],
    registry=REGISTRY,
)
NEAREST_DEADLINE = Gauge(
    "pa_worker_nearest_decision_deadline_seconds",
    "Seconds from now to the earliest decision_due_by of an open pend (negative once passed; "
    "absent from the value when there are no open pends: then 0 and pa_worker_open_pends is 0).",
    registry=REGISTRY,
)
DEADLINES_MISSED = Counter(
    "pa_worker_decision_deadlines_missed_total",
    "Pends whose decision_due_by passed without a final decision (counted once, at the breach event).",
    ["priority"],
    registry=REGISTRY,
)
CLOCK_EVENTS = Counter(
    "pa_worker_decision_clock_events_total",
    "pa.decision-clock.v1 events committed, by threshold (warning, breach).",
    ["threshold"],
    registry=REGISTRY,
)
TIME_TO_FINAL = Histogram(
    "pa_worker_time_to_final_decision_seconds",
    "Time from the request's received_at to its final decision (engine approval or denial, or a "
    "reviewer's decision), by priority and decider (engine, reviewer).",
    ["priority", "decider"],
    buckets=DECISION_LATENCY_BUCKETS,
    registry=REGISTRY,
)
FINAL_DECISIONS = Counter(
    "pa_worker_final_decisions_total",
    "Final decisions published, by decision (approved, denied), decider (engine, reviewer) and, for "
    "a reviewer's decision, the engine's pend reason it resolved (none for the engine's own).",
    ["decision", "decider", "pend_reason"],
    registry=REGISTRY,
)
REVIEWS = Counter(
    "pa_worker_reviews_total",
    "Reviews consumed from pa.reviews.v1, by result (approved, partially_approved, denied, "
    "information_requested, dead_lettered, duplicate).",
    ["result"],
    registry=REGISTRY,
)

# -- notices (issue #23): the letter system's pa.notice events, kept by the review stage ---------
NOTICES = Counter(
    "pa_worker_notices_total",
    "pa.notice events read from pa.notices.v1 by the review stage, by result: recorded (kept with its "
    "determination), duplicate (the same notice_id again), untracked (a determination the stage does not "
    "keep: an engine's immediate decision), dead_lettered.",
    ["result"],
    registry=REGISTRY,
)
MEMBER_NOTICES = Counter(
    "pa_worker_member_notices_total",
    "Reviewers' final decisions whose member got a first notice, by priority and whether it was sent by "
    "the decision_due_by (timely: yes, no).",
    ["priority", "timely"],
    registry=REGISTRY,
)
TIME_TO_MEMBER_NOTICE = Histogram(
    "pa_worker_time_to_member_notice_seconds",
    "Time from the request's received_at to the sent_at of the first notice to the member of its "
    "reviewer's final decision (the clock of 42 CFR 422.568(b) and 422.572(a) runs to it).",
    ["priority"],
    buckets=DECISION_LATENCY_BUCKETS,
    registry=REGISTRY,
)
NOTICE_DEADLINES_MISSED = Counter(
    "pa_worker_notice_deadlines_missed_total",
    "Reviewers' final decisions whose member had no notice sent by their decision_due_by, counted once "
    "(at the first decision-clock check past it that found none).",
    ["priority"],
    registry=REGISTRY,
)
FINALS_NOT_NOTIFIED = Gauge(
    "pa_worker_final_decisions_not_notified",
    "Reviewers' final decisions without a notice to the member yet, on the review partitions this "
    "instance owns, by whether their decision_due_by has passed (past_due: yes, no).",
    ["past_due"],
    registry=REGISTRY,
)
NOTICE_INTAKE = Gauge(
    "pa_worker_notice_intake",
    "1 when the review stage reads pa.notices.v1 (the topic and its DLQ exist, with the partition count "
    "of pa.reviews.v1), else 0: notices wait in their topic, nothing is lost.",
    registry=REGISTRY,
)
NOTICE_RESULTS = ("recorded", "duplicate", "untracked", "dead_lettered")

REVIEW_RESULTS = ("approved", "partially_approved", "denied", "information_requested", "dead_lettered", "duplicate")
PEND_REASONS = ("clinical_review", "missing_information")
PRIORITIES = ("standard", "expedited")


def set_build_info(version: str, policy_id: str, policy_version: str) -> None:
    BUILD_INFO.info(
        {
            "version": version,
            "policy_id": policy_id,
            "policy_version": policy_version,
            "python": platform.python_version(),
        }
    )


def precreate_labels() -> None:
    """Create the known label values at start, so rates and increase() see the first event."""
    for outcome in ("committed", "aborted"):
        TRANSACTIONS.labels(outcome)
    for priority in ("standard", "expedited"):
        PAST_DEADLINE.labels(priority)
        DECISION_LATENCY.labels(priority)
    for error_class in DLQ_ERROR_CLASSES:
        DLQ.labels(error_class)
    for role in ("requests", "reauth", "reviews"):
        ASSIGNED_PARTITIONS.labels(role)
    for threshold in ("warning", "breach"):
        CLOCK_EVENTS.labels(threshold)
        PENDS_PAST_THRESHOLD.labels(threshold)
    for priority in PRIORITIES:
        DEADLINES_MISSED.labels(priority)
        for decider in ("engine", "reviewer"):
            TIME_TO_FINAL.labels(priority, decider)
        for reason in PEND_REASONS:
            OPEN_PENDS.labels(priority, reason)
    for result in REVIEW_RESULTS:
        REVIEWS.labels(result)
    for result in NOTICE_RESULTS:
        NOTICES.labels(result)
    for priority in PRIORITIES:
        NOTICE_DEADLINES_MISSED.labels(priority)
        TIME_TO_MEMBER_NOTICE.labels(priority)
        for timely in ("yes", "no"):
            MEMBER_NOTICES.labels(priority, timely)
    for past_due in ("yes", "no"):
        FINALS_NOT_NOTIFIED.labels(past_due)


_CHILDREN: dict[tuple[object, tuple[str, ...]], Any] = {}


def child(metric: Any, *labels: str) -> Any:
    """``metric.labels(*labels)``, looked up once: ``labels()`` takes a lock and builds its key on
    every call, and the request path would call it several times per request. Children are never
    removed from these metrics, so a cached child stays the registry's."""
    key = (metric, labels)
    found = _CHILDREN.get(key)
    if found is None:
        found = _CHILDREN[key] = metric.labels(*labels)
    return found


def committed_metrics(results: Sequence[Result]) -> Callable[[float], None]:
    """The metrics of a batch of the request processor, read from ``results`` now and recorded by
    the function returned, once the batch has committed (so counts equal what downstream sees).

    Only a few fields per request are kept until the commit: the batch's records and determinations
    are freed as soon as the producer holds their bytes, not while the transaction completes (up to
    one batch per partition is in flight: with 500 records of 7 to 15 KB each, tens of MB)."""
    rows: list[tuple[str, str, str, str, str, datetime, datetime]] = []
    dlq: CounterOf[str] = CounterOf()
    duplicates = 0
    for result in results:
        if isinstance(result, Published):
            det = result.determination
            if det is not None:
                rows.append(
                    (
                        det.decision,
                        det.pend_reason or "none",
                        det.request_type,
                        det.priority,
                        det.line_of_business,
                        det.received_at,
                        det.decision_due_by,
                    )
                )
        elif isinstance(result, DeadLettered):
            dlq[result.error_class] += 1
        elif isinstance(result, Duplicate):
            duplicates += 1

    def record(committed_at: float) -> None:
        now = datetime.fromtimestamp(committed_at, UTC)
        counts: CounterOf[tuple[str, str, str, str, str]] = CounterOf()
        finals: CounterOf[str] = CounterOf()
        late: CounterOf[str] = CounterOf()
        for decided, reason, kind, prio, lob, received_at, due_by in rows:
            counts[(decided, reason, kind, prio, lob)] += 1
            waited = max(0.0, (now - received_at).total_seconds())
            child(DECISION_LATENCY, prio).observe(waited)
            if decided != "pended":  # the engine's own final answer
                finals[decided] += 1
                child(TIME_TO_FINAL, prio, "engine").observe(waited)
            if now > due_by:
                late[prio] += 1
        for (decided, reason, kind, prio, lob), n in counts.items():
            child(DETERMINATIONS, decided, reason, kind, prio, lob_label(lob)).inc(n)
        for decided, n in finals.items():
            child(FINAL_DECISIONS, decided, "engine", "none").inc(n)
        for prio, n in late.items():
            child(PAST_DEADLINE, prio).inc(n)
        for label, n in dlq.items():
            child(DLQ, label).inc(n)
        if duplicates:
            DUPLICATES.inc(duplicates)

    return record
