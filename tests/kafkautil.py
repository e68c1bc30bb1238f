"""Helpers for integration tests on the real broker: topics, producing, reading back."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from offline.readback import Read, read_all
from worker.config import Settings, as_env

__all__ = ["Read", "read_all"]

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "contracts" / "examples"


def settings_for(bootstrap: str, unique: str, **overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "group_id": f"pa-worker-{unique}",
        "topic_requests": f"pa.requests.{unique}",
        "topic_determinations": f"pa.determinations.{unique}",
        "topic_reauth_due": f"pa.reauth-due.{unique}",
        "topic_dlq": f"pa.requests.dlq.{unique}",
        "topic_authorizations": f"pa.authorizations.{unique}",
        "topic_request_index": f"pa.request-index.{unique}",
        "topic_reviews": f"pa.reviews.{unique}",
        "topic_reviews_dlq": f"pa.reviews.dlq.{unique}",
        "topic_decision_clock": f"pa.decision-clock.{unique}",
        "topic_pends": f"pa.pends.{unique}",
        "topic_pend_store": f"pa.pend-store.{unique}",
        "topic_notices": f"pa.notices.{unique}",
        "topic_notices_dlq": f"pa.notices.dlq.{unique}",
        "decision_clock_interval_seconds": 0.2,
        "metrics_port": 0,
        "metrics_host": "127.0.0.1",
        "batch_timeout_ms": 50,
        "topic_partitions": 4,
        "scheduler_interval_seconds": 0.2,
        "shutdown_timeout_seconds": 15,
        "kafka_session_timeout_ms": 6000,
    }
    base.update(overrides)
    return Settings(**base)


def env_for(settings: Settings) -> dict[str, str]:
    """The same settings as environment variables, for a worker subprocess."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PA_")}
    env.update(as_env(settings))  # every setting, named by worker.config (no list of names here)
    env["PA_LOG_FORMAT"] = "json"
    return env


async def create_topics(settings: Settings) -> None:
    from worker.kafka import ensure_topics

    await ensure_topics(settings)


async def produce(bootstrap: str, topic: str, records: Iterable[tuple[bytes | None, bytes]]) -> int:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=262_144, max_request_size=4_194_304
    )
    await producer.start()
    n = 0
    try:
        futures = []
        for key, value in records:
            futures.append(await producer.send(topic, value, key=key))
            n += 1
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return n


def example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / "valid" / f"{name}.json").read_text())
    return data


VALID_EXAMPLES = sorted(p.stem for p in (EXAMPLES / "valid").glob("*.json"))


def make_requests(n: int, prefix: str = "R") -> list[dict[str, Any]]:
    """``n`` distinct valid requests cycling through the examples (a realistic mix)."""
    bases = [example(name) for name in VALID_EXAMPLES]
    out = []
    for i in range(n):
        req = copy.deepcopy(bases[i % len(bases)])
        req["request_id"] = f"{prefix}-{i:07d}"
        req["member"]["member_id"] = f"M{prefix}{i:08d}"[:64]
        out.append(req)
    return out


def encode(req: dict[str, Any]) -> tuple[bytes, bytes]:
    return req["member"]["member_id"].encode(), json.dumps(req).encode()


class WorkerProcess:
    """``pa-worker run`` as a real subprocess (so tests can kill -9 it)."""

    def __init__(
        self,
        settings: Settings,
        *args: str,
        log_path: Path | None = None,
        module: str = "worker.cli",
        env: dict[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.args = list(args)
        self.log_path = log_path
        self.module = module
        """``worker.cli`` (``pa-worker run``) or ``tests.faults.proc`` (the same, with a hold in one transaction)."""
        self.env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        cmd = ["run"] if self.module == "worker.cli" else []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", self.module, *cmd, *self.args],
            env={**env_for(self.settings), **self.env},
            stdout=out,
            stderr=out,
            cwd=ROOT,
        )
        return self

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def terminate(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def ensure_dead(self) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.kill()
            self.proc.wait(timeout=10)


async def trickle(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]], rate: float) -> None:
    """Produce ``records`` at about ``rate`` per second (so faults land mid-stream)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        start = time.monotonic()
        futures = []
        for i, (key, value) in enumerate(records):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            futures.append(await producer.send(topic, value, key=key))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


class Tail:
    """A read_committed consumer following a topic from its beginning in the background."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.records: list[Read] = []
        self._task: asyncio.Task[None] | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._tps: list[TopicPartition] = []

    async def __aenter__(self) -> Tail:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            isolation_level="read_committed",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        parts = consumer.partitions_for_topic(self.topic)
        while not parts:
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(self.topic)
        tps = [TopicPartition(self.topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        self._consumer, self._tps = consumer, tps

        async def follow() -> None:
            try:
                while True:
                    batch = await consumer.getmany(timeout_ms=100, max_records=5000)
                    for msgs in batch.values():
                        self.records.extend(Read(r.key, r.value, dict(r.headers), r.partition, r.offset) for r in msgs)
            finally:
                await consumer.stop()

        self._task = asyncio.create_task(follow())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @property
    def count(self) -> int:
        return len(self.records)

    async def wait(self, at_least: int, timeout: float = 60.0) -> int:
        deadline = time.monotonic() + timeout
        while self.count < at_least and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return self.count

    async def reach(self, at_least: int, timeout: float, what: str) -> int:
        """Like :meth:`wait`, but a timeout fails the test, naming ``what`` was awaited."""
        seen = await self.wait(at_least, timeout)
        assert seen >= at_least, f"{what}: {seen} of {at_least} records on {self.topic} after {timeout:.0f} s"
        return seen

    async def settle(self, timeout: float = 30.0) -> list[Read]:
        """Every record committed so far, read: the end offsets (last stable offsets, read_committed)
        are taken now, and this returns once the tail's position has reached them. Call it after
        the producers are gone, for the final snapshot."""
        assert self._consumer is not None and self._tps
        consumer, tps = self._consumer, self._tps
        ends = await consumer.end_offsets(tps)
        deadline = time.monotonic() + timeout
        behind = tps
        while time.monotonic() < deadline:
            behind = [tp for tp in tps if await consumer.position(tp) < ends[tp]]
            if not behind:
                break
            await asyncio.sleep(0.1)
        assert not behind, f"{self.topic}: not read to its end within {timeout:.0f} s: {behind}"
        await asyncio.sleep(0.3)  # the fetch that moved the position has been appended
        return list(self.records)


async def wait_for_count(bootstrap: str, topic: str, at_least: int, timeout: float = 60.0) -> int:
    """Poll until ``topic`` holds at least ``at_least`` committed records; returns the count seen."""
    deadline = time.monotonic() + timeout
    seen = 0
    while time.monotonic() < deadline:
        seen = len(await read_all(bootstrap, topic, timeout=5, idle=0.3))
        if seen >= at_least:
            return seen
        await asyncio.sleep(0.3)
    return seen
