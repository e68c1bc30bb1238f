"""Security on the project's own broker (issue 16): SASL_SSL with SCRAM-SHA-512, host-name
verified TLS, deny-by-default ACLs from deploy/kafka-acls/acls.txt.

The topics here carry their production names (the ACLs are literal, least privilege as
written): the module deletes and creates them afresh on the secure broker, which no other test
uses. Every worker is a real subprocess with its JSON log in one folder; the last test reads
all of them, the broker's log and the outputs of --help and a failed start, and fails on any
password, private key or patient identifier.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaError,
    TopicAuthorizationFailedError,
    TransactionalIdAuthorizationFailed,
)

from tests.broker import SecureBroker
from tests.faults.ledger import build, index_input
from tests.faults.logwatch import log_events, wait_for_log
from tests.kafkautil import ROOT, WorkerProcess, encode, make_requests
from worker.config import Settings
from worker.kafka import ensure_topics
from worker.readback import Read

pytestmark = pytest.mark.kafka

REVIEWS = "pa.reviews.v1"
LOGS: list[Path] = []
PATIENT: set[str] = set()


def settings_as(b: SecureBroker, user: str, **overrides: Any) -> Settings:
    """A client of ``user``: SASL_SSL, SCRAM-SHA-512, the password from its file, the broker's CA."""
    base: dict[str, Any] = {
        "bootstrap_servers": b.bootstrap_servers,
        "kafka_security_protocol": "SASL_SSL",
        "kafka_sasl_mechanism": "SCRAM-SHA-512",
        "kafka_sasl_username": user,
        "kafka_sasl_password_file": str(b.password_file(user)),
        "kafka_ssl_cafile": str(b.cafile),
        "metrics_host": "127.0.0.1",
        "metrics_port": 0,
        "batch_timeout_ms": 50,
        "topic_partitions": 3,
        "scheduler_interval_seconds": 0.5,
        "shutdown_timeout_seconds": 15,
        "kafka_session_timeout_ms": 6000,
    }
    base.update(overrides)
    return Settings(**base)


def security_env(s: Settings) -> dict[str, str]:
    return {
        "PA_KAFKA_SECURITY_PROTOCOL": s.kafka_security_protocol,
        "PA_KAFKA_SASL_MECHANISM": str(s.kafka_sasl_mechanism),
        "PA_KAFKA_SASL_USERNAME": str(s.kafka_sasl_username),
        "PA_KAFKA_SASL_PASSWORD_FILE": str(s.kafka_sasl_password_file),
        "PA_KAFKA_SSL_CAFILE": str(s.kafka_ssl_cafile),
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


async def _wait_http(port: int, status: int, timeout: float, what: str) -> str:
    deadline = time.monotonic() + timeout
    got: tuple[int, str] = (0, "")
    while time.monotonic() < deadline:
        got = await asyncio.to_thread(_get, port, "/readyz")
        if got[0] == status:
            return got[1]
        await asyncio.sleep(0.3)
    raise AssertionError(f"{what}: /readyz gave {got} after {timeout:.0f} s, wanted {status}")


async def produce_as(s: Settings, topic: str, records: Iterable[tuple[bytes | None, bytes]], rate: float = 0) -> int:
    producer = AIOKafkaProducer(**s.kafka_kwargs(), acks="all", linger_ms=5, max_request_size=4_194_304)
    await producer.start()
    n = 0
    try:
        futures = []
        start = time.monotonic()
        for key, value in records:
            if rate:
                delay = start + n / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            futures.append(await producer.send(topic, value, key=key))
            n += 1
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return n


async def read_to_end_as(s: Settings, topic: str, timeout: float = 60.0) -> list[Read]:
    """Every committed record of ``topic`` up to its last stable offsets (read_committed)."""
    consumer = AIOKafkaConsumer(**s.kafka_kwargs(), isolation_level="read_committed", enable_auto_commit=False)
    await consumer.start()
    out: list[Read] = []
    try:
        parts = consumer.partitions_for_topic(topic)
        while not parts:
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(topic)
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        deadline = time.monotonic() + timeout
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            assert time.monotonic() < deadline, f"{topic} not read to its end within {timeout:.0f} s"
            batch = await consumer.getmany(timeout_ms=200, max_records=10_000)
            for msgs in batch.values():
                out.extend(Read(r.key, r.value, dict(r.headers), r.partition, r.offset) for r in msgs)
    finally:
        await consumer.stop()
    return out


async def _wait_for_offsets(s: Settings, topic: str, at_least: int, timeout: float, alive: Any) -> int:
    """Until the end offsets of ``topic`` add up to ``at_least`` (progress, aborted records included)."""
    consumer = AIOKafkaConsumer(**s.kafka_kwargs(), enable_auto_commit=False)
    await consumer.start()
    try:
        while not (parts := consumer.partitions_for_topic(topic)):
            await consumer._client.force_metadata_update()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        deadline = time.monotonic() + timeout
        while (seen := sum((await consumer.end_offsets(tps)).values())) < at_least:
            assert alive(), "the worker exited"
            assert time.monotonic() < deadline, f"{topic}: end offsets add up to {seen} of {at_least} after {timeout} s"
            await asyncio.sleep(0.2)
        return seen
    finally:
        await consumer.stop()


@pytest.fixture(scope="module")
def logdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("security-logs")


@pytest.fixture(scope="module")
async def topics(secure_broker: SecureBroker) -> Settings:
    """The production topics, deleted and created afresh by the admin (the only principal that may)."""
    admin_settings = settings_as(secure_broker, "admin")
    names = [
        admin_settings.topic_requests,
        admin_settings.topic_determinations,
        admin_settings.topic_reauth_due,
        admin_settings.topic_dlq,
        admin_settings.topic_authorizations,
        admin_settings.topic_request_index,
        REVIEWS,
    ]
    admin = AIOKafkaAdminClient(**admin_settings.kafka_kwargs())
    await admin.start()
    try:
        doomed = [t for t in names if t in set(await admin.list_topics())]
        if doomed:
            await admin.delete_topics(doomed)
            deadline = time.monotonic() + 60
            while set(doomed) & set(await admin.list_topics()):
                assert time.monotonic() < deadline, "topics not deleted within 60 s"
                await asyncio.sleep(0.3)
        for attempt in range(20):
            try:
                await ensure_topics(admin_settings)
                if REVIEWS not in set(await admin.list_topics()):
                    await admin.create_topics([NewTopic(REVIEWS, 3, 1)])
                break
            except KafkaError:
                if attempt == 19:
                    raise
                await asyncio.sleep(0.5)
    finally:
        await admin.close()
    return admin_settings


async def _denied(coro: Any, *errors: type[BaseException]) -> str:
    try:
        await asyncio.wait_for(coro, timeout=30)
    except errors as exc:
        return type(exc).__name__
    raise AssertionError(f"allowed, but the ACLs should deny it (expected {[e.__name__ for e in errors]})")


async def test_each_principal_may_do_only_what_the_acl_file_lists(
    secure_broker: SecureBroker, topics: Settings
) -> None:
    b = secure_broker
    intake, letters, worker, review = (settings_as(b, u) for u in ("pa-intake", "pa-letters", "pa-worker", "pa-review"))

    async def read(s: Settings, topic: str, group: str | None = None) -> None:
        consumer = AIOKafkaConsumer(topic, **s.kafka_kwargs(), group_id=group, auto_offset_reset="earliest")
        try:
            await consumer.start()
            await consumer.getmany(timeout_ms=3000)
        finally:
            await consumer.stop()

    async def write(s: Settings, topic: str) -> None:
        await produce_as(s, topic, [(b"acl-probe", b"{}")])

    async def transactional(s: Settings, transactional_id: str) -> None:
        producer = AIOKafkaProducer(**s.kafka_kwargs(), transactional_id=transactional_id)
        try:
            await producer.start()
        finally:
            await producer.stop()

    results = {
        "intake reads determinations": await _denied(
            read(intake, "pa.determinations.v1"), TopicAuthorizationFailedError
        ),
        "letters writes requests": await _denied(write(letters, "pa.requests.v1"), TopicAuthorizationFailedError),
        "worker writes requests": await _denied(write(worker, "pa.requests.v1"), TopicAuthorizationFailedError),
        "worker writes reviews": await _denied(write(worker, REVIEWS), TopicAuthorizationFailedError),
        "worker uses a foreign transactional id": await _denied(
            transactional(worker, "pa-letters-1"), TransactionalIdAuthorizationFailed
        ),
        "letters joins the worker's group": await _denied(
            read(letters, "pa.determinations.v1", group="pa-worker"), GroupAuthorizationFailedError
        ),
    }
    print(f"[acl] denied as expected: {results}")
    # What they are allowed: the same clients succeed on their own resources.
    await read(letters, "pa.determinations.v1", group="pa-letters")
    await read(letters, "pa.reauth-due.v1", group="pa-letters")
    await write(review, REVIEWS)
    print("[acl] allowed as listed: letters reads determinations and reminders in pa-letters, review writes reviews")


async def test_exactly_once_over_sasl_ssl_with_a_kill9(
    secure_broker: SecureBroker, topics: Settings, logdir: Path
) -> None:
    b = secure_broker
    admin, intake = topics, settings_as(b, "pa-intake")
    worker = settings_as(b, "pa-worker", batch_max_records=100)
    requests = make_requests(3000, prefix="SEC")
    for r in requests:
        PATIENT.update({r["member"]["member_id"], r["member"]["date_of_birth"]})
        PATIENT.update(r["member"].get(k) or "" for k in ("first_name", "last_name"))
    feeder = asyncio.create_task(produce_as(intake, worker.topic_requests, [encode(r) for r in requests], rate=1500))
    log = logdir / "pipeline-worker.log"
    LOGS.append(log)
    started = time.monotonic()
    w = WorkerProcess(worker, log_path=log, env=security_env(worker)).start()
    try:
        seen = await _wait_for_offsets(admin, worker.topic_determinations, 600, 90, w.alive)
    finally:
        w.kill9()
    print(f"[secure kill-9] killed with {seen} determination offsets written of {len(requests)} requests")
    w = WorkerProcess(worker, log_path=log, env=security_env(worker)).start()
    try:
        await feeder
        deadline = time.monotonic() + 120
        while len(dets := await read_to_end_as(admin, worker.topic_determinations)) < len(requests):
            assert w.alive(), log.read_text()[-3000:]
            assert time.monotonic() < deadline, f"{len(dets)} of {len(requests)} determinations after 120 s"
            await asyncio.sleep(1)
    finally:
        code = w.terminate()
    assert code == 0
    ledger = build(
        index_input(await read_to_end_as(admin, worker.topic_requests)),
        determinations=await read_to_end_as(admin, worker.topic_determinations),
        dlq=await read_to_end_as(admin, worker.topic_dlq),
        authorizations=await read_to_end_as(admin, worker.topic_authorizations),
        request_index=await read_to_end_as(admin, worker.topic_request_index),
    )
    ledger.assert_exactly_once(f"secure kill-9 ({time.monotonic() - started:.0f} s)")
    assert len(ledger.requests) == len(requests)
    assert any(e.get("event") == "partition assigned" for e in log_events(log))


def _other_ca(tmp: Path) -> Path:
    """A CA that signed nothing the broker holds."""
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-days", "2", "-subj", "/CN=some other CA", "-keyout", str(tmp / "other-ca.key"),
            "-out", str(tmp / "other-ca.crt"),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return tmp / "other-ca.crt"


async def test_unknown_ca_then_wrong_password_keep_the_worker_not_ready_until_the_files_are_fixed(
    secure_broker: SecureBroker, topics: Settings, logdir: Path, tmp_path: Path
) -> None:
    """One worker, never restarted: an unknown CA, then a wrong password, then the right one.
    Each cause is named in its log without the secret; retries back off; the fixed files are read
    on the next retry and the worker becomes ready."""
    b = secure_broker
    ca, pw = tmp_path / "ca.crt", tmp_path / "password"
    ca.write_bytes(_other_ca(tmp_path).read_bytes())
    pw.write_text(b.password_file("pa-worker").read_text())
    port = _free_port()
    worker = settings_as(b, "pa-worker", kafka_ssl_cafile=str(ca), kafka_sasl_password_file=str(pw), metrics_port=port)
    log = logdir / "not-ready-worker.log"
    LOGS.append(log)
    t0 = time.monotonic()
    w = WorkerProcess(worker, log_path=log, env=security_env(worker)).start()
    try:
        await wait_for_log(log, r"unknown CA: PA_KAFKA_SSL_CAFILE", timeout=30)
        assert (await asyncio.to_thread(_get, port, "/readyz"))[0] == 503
        print(f"[not ready] unknown CA named after {time.monotonic() - t0:.1f} s")

        wrong = "not-the-password-" + os.urandom(6).hex()
        pw.write_text(wrong + "\n")
        ca.write_bytes(b.cafile.read_bytes())
        await wait_for_log(log, r"authentication of user 'pa-worker' failed", timeout=30)
        assert (await asyncio.to_thread(_get, port, "/readyz"))[0] == 503
        metrics = (await asyncio.to_thread(_get, port, "/metrics"))[1]
        assert "pa_worker_ready 0.0" in metrics
        assert wrong not in metrics and b.password_file("pa-worker").read_text().strip() not in metrics
        print(f"[not ready] wrong password named after {time.monotonic() - t0:.1f} s")

        pw.write_text(b.password_file("pa-worker").read_text())
        fixed = time.monotonic()
        detail = await _wait_http(port, 200, timeout=45, what="after the password file was corrected")
        print(f"[not ready] ready {time.monotonic() - fixed:.1f} s after the file was corrected: {detail.strip()}")
        assert w.alive()
    finally:
        code = w.terminate()
    assert code == 0
    text = log.read_text()
    assert wrong not in text
    retries = [e for e in log_events(log) if e.get("event") == "kafka not ready; retrying"]
    delays = [float(e["retry_in"]) for e in retries]
    print(f"[not ready] {len(retries)} retry lines in {fixed - t0:.0f} s, delays {delays}")
    assert all(e.get("error") in ("KafkaSecurityError",) for e in retries), retries
    # Backoff, not a hot loop: the delay doubles from 0.5 s up to 10 s between attempts.
    assert delays and delays[0] == 0.5
    assert all(later == min(2 * earlier, 10.0) for earlier, later in itertools.pairwise(delays)), delays


async def test_missing_acl_keeps_the_worker_not_ready_and_says_so(
    secure_broker: SecureBroker, topics: Settings, logdir: Path
) -> None:
    """A worker running as a principal without the worker's ACLs (pa-letters) is not ready and says
    which topics it may not use, instead of 'topics not found'."""
    port = _free_port()
    worker = settings_as(secure_broker, "pa-letters", metrics_port=port)
    log = logdir / "missing-acl-worker.log"
    LOGS.append(log)
    w = WorkerProcess(worker, "--no-scheduler", log_path=log, env=security_env(worker)).start()
    try:
        lines = await wait_for_log(log, r"not authorized \(missing ACL for this principal\)", timeout=30)
        assert "pa.requests.v1" in lines[0]
        assert (await asyncio.to_thread(_get, port, "/readyz"))[0] == 503
    finally:
        assert w.terminate() == 0
    print(f"[missing ACL] {json.loads(lines[0])['reason']}")


def test_no_secret_in_help_or_in_a_failed_start(secure_broker: SecureBroker, logdir: Path) -> None:
    secret = secure_broker.password_file("pa-worker").read_text().strip()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PA_")}
    env.update(PA_KAFKA_SASL_PASSWORD=secret, PA_KAFKA_SECURITY_PROTOCOL="SASL_SSL")
    out = logdir / "help-and-failed-start.log"
    LOGS.append(out)
    for args, extra in (
        (["run", "--help"], {}),
        # both the password and its file: refused at start, naming the variables only
        (["run"], {"PA_KAFKA_SASL_PASSWORD_FILE": str(secure_broker.password_file("pa-worker"))}),
        (["run"], {"PA_KAFKA_SASL_MECHANISM": "SCRAM-SHA-1"}),
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "worker.cli", *args],
            env={**env, **extra},
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
            check=False,
        )
        with out.open("a") as fh:
            fh.write(proc.stdout + proc.stderr)
        if args == ["run"]:
            assert proc.returncode != 0 and "invalid configuration" in proc.stderr, proc.stderr
    assert secret not in out.read_text()


def test_logs_of_all_security_runs_hold_no_secret_and_no_patient_data(secure_broker: SecureBroker) -> None:
    assert LOGS, "run with the other security tests"
    logs = [p for p in LOGS if p.exists()] + [secure_broker.home / "server.log"]
    text = "\n".join(p.read_text(errors="replace") for p in logs)
    secrets: dict[str, str] = {}
    for f in secure_broker.secret_files():
        if f.suffix == ".password":
            secrets[f.name] = f.read_text().strip()
        elif f.suffix == ".key":  # every line of the PEM body of each private key
            for i, line in enumerate(f.read_text().splitlines()):
                if line and not line.startswith("-----"):
                    secrets[f"{f.name}:{i}"] = line
    leaked = sorted(name for name, value in secrets.items() if value and value in text)
    patient = {s for s in PATIENT if len(s) >= 4}
    leaked_patient = sorted(s for s in patient if s in text)
    print(
        f"[security logs] {len(logs)} files, {len(text)} bytes; {len(secrets)} secrets and "
        f"{len(patient)} patient identifiers checked; leaked: {len(leaked)} secrets, {len(leaked_patient)} identifiers"
    )
    assert len(text) > 1000 and patient, "the runs wrote logs and used patient data"
    assert "PRIVATE KEY" not in text
    assert not leaked, f"secrets in logs: {leaked}"
    assert not leaked_patient, f"patient identifiers in logs: {leaked_patient[:5]}"
