"""Wiring of ``pa-worker run`` and ``pa-worker scheduler``: each stage's processor on a
:class:`~worker.runtime.StageRuntime` with the Kafka clients of ``worker.kafka.clients`` (the one
place they are chosen); start, serve, stop within a bound."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import signal
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka.errors import KafkaError

from policy import DEFAULT_SETTINGS, POLICY_ID
from policy.versions import VersionError, Versions
from worker import __version__
from worker import metrics as m
from worker.config import Settings, policy_settings, policy_versions, shadow_version
from worker.handler import RequestHandler, Topics
from worker.http import HealthServer
from worker.kafka import clients, ensure_topics, start_checked
from worker.logs import get_logger
from worker.records import Published, Source
from worker.runtime import Clients, Processor, StageRuntime
from worker.stages.reauth import ReauthProcessor
from worker.stages.requests import RequestProcessor, with_pend_inbox
from worker.stages.reviews import ReviewProcessor

log = get_logger("pa_worker")

Clock = Callable[[], datetime]
Component = StageRuntime[Any]


def request_handler(
    settings: Settings, clock: Clock | None = None, *, versions: Versions | None = None, topics: Topics | None = None
) -> RequestHandler:
    """The request handler of ``settings`` (the live one by default: its policy versions and topics)."""
    return RequestHandler(
        versions or policy_versions(settings),
        topics or Topics(settings.topic_determinations, settings.topic_dlq, settings.topic_authorizations),
        settings.max_message_bytes,
        clock=clock or (lambda: datetime.now(UTC)),
        future_tolerance=timedelta(seconds=settings.future_received_at_tolerance_seconds),
    )


def request_processor(settings: Settings, clock: Clock) -> RequestProcessor:
    """``pa-worker run``'s request processor: handler (each determination with its pend inbox
    record), then deduplication against the request index, then one transaction per partition
    batch; metrics once committed."""
    if settings.test_disable_request_dedupe:
        log.warning("request-id deduplication disabled: PA_TEST_DISABLE_REQUEST_DEDUPE is a test-only setting")
    return RequestProcessor(
        settings,
        with_pend_inbox(request_handler(settings, clock).handle, settings.topic_pends, settings.topic_determinations),
        index_topic=settings.topic_request_index,
        drop=not settings.test_disable_request_dedupe,
        output_topics=(
            settings.topic_determinations,
            settings.topic_dlq,
            settings.topic_authorizations,
            settings.topic_pends,
        ),
        on_committed=m.committed_metrics,
    )


def shadow_processor(settings: Settings, clock: Clock) -> RequestProcessor | None:
    """Shadow mode (issue #26): every request decided again under the candidate version file, in its own
    group, published to the shadow topic only (no dead letters, no index, no pend inbox: bad input is
    the live stage's to report), so SREs compare live traffic before switching; ``None`` when off."""
    candidate = shadow_version(settings)
    if candidate is None:
        return None
    shadow_topic = settings.topic_shadow_determinations
    handler = request_handler(settings, clock, versions=candidate, topics=Topics(shadow_topic, shadow_topic))

    def handle(key: bytes | None, value: bytes | None, source: Source) -> Published:
        result = handler.handle(key, value, source)
        return result if isinstance(result, Published) else Published(())

    return RequestProcessor(
        settings,
        handle,
        output_topics=(settings.topic_shadow_determinations,),
        role="shadow",
        group_id=settings.shadow_group_id,
    )


def stages(
    settings: Settings,
    clock: Clock,
    *,
    requests: bool = True,
    scheduler: bool = True,
    reviews: bool = True,
    kafka: Clients | None = None,
) -> list[Component]:
    """The stages to run, each on its runtime, with ``kafka``'s clients (aiokafka's by default)."""
    kafka = kafka or clients(settings)
    policy = policy_settings(settings)
    shadow = shadow_processor(settings, clock) if requests else None
    processors: list[Processor[Any]] = [
        *([request_processor(settings, clock)] if requests else []),
        *([shadow] if shadow is not None else []),
        *([ReauthProcessor(settings, clock, policy)] if scheduler else []),
        *([ReviewProcessor(settings, clock, policy_versions(settings))] if reviews else []),
    ]
    return [
        StageRuntime(
            p,
            kafka,
            batch_max_records=settings.batch_max_records,
            batch_timeout_ms=settings.batch_timeout_ms,
            clock=clock,
        )
        for p in processors
    ]


async def _start_with_retry(start: Callable[[], object], what: str, stop: asyncio.Event) -> bool:
    delay = 0.5
    while not stop.is_set():
        try:
            await start()  # type: ignore[misc]
            return True
        except KafkaError as exc:
            log.warning(
                "kafka not ready; retrying", component=what, error=type(exc).__name__, reason=str(exc), retry_in=delay
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
            delay = min(delay * 2, 10.0)
    return False


async def serve(
    settings: Settings,
    *,
    requests: bool = True,
    scheduler: bool = True,
    reviews: bool = True,
    create_topics: bool = False,
    clock: Clock | None = None,
    stop: asyncio.Event | None = None,
    install_signals: bool = True,
    on_ready: Callable[[int], None] | None = None,
) -> int:
    """Run until SIGTERM/SIGINT (or ``stop``); returns the exit status."""
    clock = clock or (lambda: datetime.now(UTC))
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    if install_signals:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
    m.set_build_info(__version__, POLICY_ID, DEFAULT_SETTINGS.version)
    m.precreate_labels()

    if create_topics or settings.create_topics:
        created = await ensure_topics(settings)
        if created:
            log.info("topics created", topics=created)

    try:
        components = stages(settings, clock, requests=requests, scheduler=scheduler, reviews=reviews)
    except VersionError as exc:  # a policy version file that does not validate: nothing starts
        log.error("policy version file refused", reason=str(exc))
        return 2
    names = {"requests": "requests", "shadow": "shadow", "reauth": "reauth", "reviews": "review"}

    def readiness() -> tuple[bool, str]:
        ok = all(c.ready for c in components)
        parts = [f"{names[c.spec.role]} partitions={c.partitions}" for c in components]
        return ok, ("ready " if ok else "not ready ") + ", ".join(parts)

    m.READY.set_function(lambda: 1.0 if readiness()[0] else 0.0)

    http = HealthServer(settings.metrics_host, settings.metrics_port, readiness)
    port = await http.start()
    log.info(
        "pa-worker starting",
        version=__version__,
        policy_id=POLICY_ID,
        policy_version=DEFAULT_SETTINGS.version,
        http_port=port,
        group_id=settings.group_id,
        requests=requests,
        scheduler=scheduler,
        reviews=reviews,
        gc_gen0_threshold=gc.get_threshold()[0],
    )
    started: list[Component] = []
    tasks: list[asyncio.Task[None]] = []
    status = 0
    try:
        for c in components:
            if not await _start_with_retry(functools.partial(start_checked, settings, c.start), c.spec.role, stop):
                break
            started.append(c)
        if on_ready is not None:
            on_ready(port)
        tasks = [asyncio.create_task(_supervise(c, stop), name=c.spec.role) for c in started]
        stopper = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
        for t in done:
            if t is not stopper and t.exception() is not None:
                log.error("component failed", component=t.get_name(), error=type(t.exception()).__name__)
                status = 1
        stop.set()
        stopper.cancel()
    finally:
        log.info("pa-worker stopping", timeout_seconds=settings.shutdown_timeout_seconds)
        try:
            await asyncio.wait_for(_shutdown(tasks, started, http), timeout=settings.shutdown_timeout_seconds)
        except TimeoutError:
            log.error("shutdown exceeded its bound; exiting anyway")
            status = status or 1
        m.READY.set_function(lambda: 0.0)
    log.info("pa-worker stopped", status=status)
    return status


async def _supervise(component: Component, stop: asyncio.Event) -> None:
    """Run a component; transient Kafka errors restart its loop, never the process."""
    while not stop.is_set():
        try:
            await component.run(stop)
        except KafkaError as exc:
            log.warning("kafka error in loop; continuing", component=component.spec.role, error=type(exc).__name__)
            await asyncio.sleep(1.0)


async def _shutdown(tasks: list[asyncio.Task[None]], started: list[Component], http: HealthServer) -> None:
    # The loops see `stop` within one poll (<= batch timeout) and finish the batch in progress.
    if tasks:
        await asyncio.gather(*tasks, return_exceptions=True)
    for c in started:
        try:
            await c.stop()
        except Exception as exc:
            log.warning("stop failed", component=c.spec.role, error=type(exc).__name__)
    await http.stop()
