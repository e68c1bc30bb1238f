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
import ssl
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

from contracts import PADetermination
from offline.readback import Read
from tests.broker import SecureBroker
from tests.faults.ledger import build, index_input
from tests.faults.logwatch import log_events, wait_for_log
from tests.kafkautil import ROOT, WorkerProcess, encode, example, make_requests
from worker.config import Settings
from worker.kafka import KafkaSecurityError, check_access, ensure_topics
from worker.pends import PendBook

pytestmark = pytest.mark.kafka

REVIEWS = "pa.reviews.v1"
NOTICES = "pa.notices.v1"
NOTICES_DLQ = "pa.notices.dlq.v1"
LOGS: list[Path] = []
PATIENT: set[str] = set()
TEST_KEYS: list[Path] = []
"""Private keys the tests generated (certificates for the listener in front of the broker)."""
BROKERS: list[SecureBroker] = []
"""Other secure broker instances the tests used (mutual TLS): their secrets are scanned too."""


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
        admin_settings.topic_reviews,
        admin_settings.topic_reviews_dlq,
        admin_settings.topic_decision_clock,
        admin_settings.topic_pends,
        admin_settings.topic_pend_store,
        admin_settings.topic_notices,
        admin_settings.topic_notices_dlq,
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
        # issue #23: the review system reads its queue and writes reviews only; the letter system
        # writes notices only; the worker reads them and writes their DLQ only
        "review writes determinations": await _denied(
            write(review, "pa.determinations.v1"), TopicAuthorizationFailedError
        ),
        "review writes requests": await _denied(write(review, "pa.requests.v1"), TopicAuthorizationFailedError),
        "review writes notices": await _denied(write(review, NOTICES), TopicAuthorizationFailedError),
        "review reads the pend inbox": await _denied(read(review, "pa.pends.v1"), TopicAuthorizationFailedError),
        "review reads the pend store": await _denied(read(review, "pa.pend-store.v1"), TopicAuthorizationFailedError),
        "review joins the review stage's group": await _denied(
            read(review, "pa.determinations.v1", group="pa-worker-reviews"), GroupAuthorizationFailedError
        ),
        "letters writes determinations": await _denied(
            write(letters, "pa.determinations.v1"), TopicAuthorizationFailedError
        ),
        "letters writes the notices DLQ": await _denied(write(letters, NOTICES_DLQ), TopicAuthorizationFailedError),
        "intake writes notices": await _denied(write(intake, NOTICES), TopicAuthorizationFailedError),
        "worker writes notices": await _denied(write(worker, NOTICES), TopicAuthorizationFailedError),
    }
    print(f"[acl] denied as expected: {results}")
    # What they are allowed: the same clients succeed on their own resources.
    await read(letters, "pa.determinations.v1", group="pa-letters")
    await read(letters, "pa.reauth-due.v1", group="pa-letters")
    await write(review, REVIEWS)
    await read(review, "pa.determinations.v1", group="pa-review")
    await read(review, "pa.requests.v1", group="pa-review")
    await write(letters, NOTICES)
    await read(letters, NOTICES_DLQ, group="pa-letters")
    await read(worker, NOTICES)  # group-less, as the review stage reads them
    await write(worker, NOTICES_DLQ)
    print(
        "[acl] allowed as listed: letters reads determinations and reminders in pa-letters, writes notices and "
        "reads their DLQ; review writes reviews and reads determinations and requests in pa-review; the worker "
        "reads notices and writes their DLQ"
    )


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
    assert any(e.get("event") == "notices are read" for e in log_events(log))  # the worker's notice ACLs suffice


async def _find(s: Settings, topic: str, group: str, match: Any, timeout: float = 90.0) -> bytes:
    """The value of the first committed record of ``topic`` whose JSON ``match``es, read as ``s`` in ``group``."""
    consumer = AIOKafkaConsumer(
        topic,
        **s.kafka_kwargs(),
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
            for msgs in batch.values():
                for r in msgs:
                    if r.value and match(json.loads(r.value)):
                        return bytes(r.value)
        raise AssertionError(f"no matching record on {topic} as {s.kafka_sasl_username} within {timeout:.0f} s")
    finally:
        await consumer.stop()


def _example(kind: str, name: str) -> dict[str, Any]:
    return dict(json.loads((ROOT / "contracts" / "examples" / kind / "valid" / f"{name}.json").read_text()))


async def test_the_review_system_works_its_queue_and_the_letter_system_notice_is_kept_once(
    secure_broker: SecureBroker, topics: Settings, logdir: Path
) -> None:
    """Issue #23 items 6 and 7 over SASL_SSL, each system as its own principal: pa-review reads a
    pended determination (its reasons) and the request it answers (the evidence) in its own group
    and publishes a review; the worker publishes the final decision; pa-letters reads it and
    publishes its notice to the member twice; the worker's store keeps the notice once."""
    b = secure_broker
    admin = topics
    intake, review, letters = (settings_as(b, u) for u in ("pa-intake", "pa-review", "pa-letters"))
    worker = settings_as(b, "pa-worker")
    req = example("pended_clinical_review_out_of_scope")
    tag = os.urandom(4).hex()
    rid = req["request_id"] = f"SECQ-{tag}"
    req["member"]["member_id"] = f"MSQ{tag}"
    PATIENT.update({req["member"]["member_id"], req["member"]["date_of_birth"]})
    log = logdir / "review-queue-worker.log"
    LOGS.append(log)
    w = WorkerProcess(worker, log_path=log, env=security_env(worker)).start()
    try:
        await produce_as(intake, worker.topic_requests, [encode(req)])
        # the review system's queue: the pended determination and the request it answers
        value = await _find(
            review, "pa.determinations.v1", "pa-review", lambda d: (d["request_id"], d["decision"]) == (rid, "pended")
        )
        pended = PADetermination.model_validate_json(value)
        request = json.loads(await _find(review, "pa.requests.v1", "pa-review", lambda r: r.get("request_id") == rid))
        assert pended.pend_reason == "clinical_review" and any(c.reason for c in pended.criteria)
        assert request["documents"] and request["diagnosis"]  # the evidence the reviewer decides on
        decision = _example("pa.review", "denied_by_pharmacist")
        decision.update(review_id=f"REV-SEC-{tag}", determination_id=pended.determination_id, request_id=rid)
        decision.update(member_id=pended.member_id)
        await produce_as(review, REVIEWS, [(pended.member_id.encode(), json.dumps(decision).encode())])
        # the letter system reads the final decision and reports its notice, twice
        value = await _find(
            letters, "pa.determinations.v1", "pa-letters", lambda d: d.get("supersedes") == pended.determination_id
        )
        final = PADetermination.model_validate_json(value)
        notice = _example("pa.notice", "denial_by_mail_to_member")
        notice.update(notice_id=f"LTR-SEC-{tag}", determination_id=final.determination_id, request_id=rid)
        notice.update(member_id=final.member_id)
        sent = (final.member_id.encode(), json.dumps(notice).encode())
        await produce_as(letters, NOTICES, [sent, sent])
        deadline = time.monotonic() + 90
        while True:
            books: dict[int, PendBook] = {}
            for r in await read_to_end_as(admin, "pa.pend-store.v1"):
                books.setdefault(r.partition, PendBook()).apply(r.key, r.value)
            if sum(bk.notices_position for bk in books.values()) >= 2:
                break
            assert w.alive(), log.read_text()[-3000:]
            assert time.monotonic() < deadline, "the worker did not take the notices within 90 s"
            await asyncio.sleep(0.5)
    finally:
        code = w.terminate()
    assert code == 0
    kept = [bk.notices[final.determination_id] for bk in books.values() if final.determination_id in bk.notices]
    assert [[n.notice_id for n in k.notices] for k in kept] == [[f"LTR-SEC-{tag}"]]
    assert kept[0].member_notified_at is not None
    # nothing of this flow was rejected (the DLQ holds the ACL test's probes only)
    assert [r for r in await read_to_end_as(admin, NOTICES_DLQ) if tag.encode() in (r.value or b"")] == []
    print(f"[review queue] pend {pended.determination_id} read by pa-review, decided, notified once by pa-letters")


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


def _openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)


def _server_cert(b: SecureBroker, out: Path, name: str, san: str, *, expired: bool = False) -> tuple[Path, Path]:
    """A broker certificate signed by the secure broker's own CA, naming ``san``: only its dates
    or its names differ from the broker's. ``expired``: valid for one day of January 2024 only
    (``openssl ca -startdate/-enddate``; OpenSSL 3.0's ``x509 -req`` cannot backdate)."""
    ca, ca_key = b.home / "tls" / "ca.crt", b.home / "tls" / "ca.key"
    key, csr, crt, ext = (out / f"{name}.{suffix}" for suffix in ("key", "csr", "crt", "ext"))
    ext.write_text(f"subjectAltName={san}\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n")
    _openssl(
        "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", key, "-out", csr, "-subj", "/O=pa-worker-dev/CN=kafka-broker",
    )  # fmt: skip
    if expired:
        db = out / f"{name}-ca"
        db.mkdir()
        (db / "index.txt").write_text("")
        (db / "serial").write_text(os.urandom(8).hex() + "\n")
        (db / "ca.cnf").write_text(
            f"[ca]\ndefault_ca = test\n[test]\ndatabase = {db}/index.txt\nnew_certs_dir = {db}\n"
            f"serial = {db}/serial\ndefault_md = sha256\npolicy = any\nunique_subject = no\n"
            "copy_extensions = none\n[any]\ncommonName = supplied\norganizationName = optional\n"
        )
        _openssl(
            "ca", "-batch", "-notext", "-config", db / "ca.cnf", "-cert", ca, "-keyfile", ca_key, "-in", csr,
            "-out", crt, "-startdate", "20240101000000Z", "-enddate", "20240102000000Z", "-extfile", ext,
        )  # fmt: skip
    else:
        _openssl(
            "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-set_serial", "0x" + os.urandom(8).hex(),
            "-days", "2", "-sha256", "-out", crt, "-extfile", ext,
        )  # fmt: skip
    csr.unlink()
    TEST_KEYS.append(key)
    return crt, key


class _Front:
    """A listener in front of the secure broker, so the worker's own TLS handshake meets a
    certificate the test chose, and what follows the handshake is the broker's.

    With ``tls=None`` a plain TCP relay: the client's handshake is with the broker itself (its real
    certificate), reached under another address (``listen_host``). With a certificate the relay
    ends TLS with that certificate and opens its own TLS connection to the broker (verified
    against the broker's CA); :meth:`present` swaps the certificate for the next connections, as a
    broker does when its keystore is reloaded. SASL runs end to end, through it."""

    def __init__(self, b: SecureBroker, listen_host: str = "127.0.0.1", tls: tuple[Path, Path] | None = None) -> None:
        host, _, port = b.bootstrap_servers.rpartition(":")
        self.upstream = (host, int(port))
        self.upstream_tls = ssl.create_default_context(cafile=str(b.cafile))
        self.listen_host = listen_host
        self.tls: ssl.SSLContext | None = None
        if tls:
            self.present(*tls)
        self.handshakes = 0
        self.tasks: set[asyncio.Future[Any]] = set()

    def present(self, crt: Path, key: Path) -> None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(crt, key)
        self.tls = ctx

    async def __aenter__(self) -> _Front:
        self.server = await asyncio.start_server(self._client, self.listen_host, 0)
        self.port = int(self.server.sockets[0].getsockname()[1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()
        for t in list(self.tasks):
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.server.wait_closed()

    @property
    def address(self) -> str:
        return f"{self.listen_host}:{self.port}"

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        try:
            if self.tls is not None:
                self.handshakes += 1
                await writer.start_tls(self.tls)  # the client refuses the certificate here
            up_reader, up_writer = await asyncio.open_connection(
                *self.upstream, ssl=self.upstream_tls if self.tls is not None else None
            )
        except (OSError, ssl.SSLError, asyncio.IncompleteReadError):
            writer.close()
            return
        finally:
            self.tasks.discard(task)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (OSError, ssl.SSLError):
                pass
            finally:
                dst.close()

        relay = asyncio.ensure_future(asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer)))
        self.tasks.add(relay)
        relay.add_done_callback(self.tasks.discard)


def _retry_lines(log: Path) -> list[dict[str, Any]]:
    return [e for e in log_events(log) if e.get("event") == "kafka not ready; retrying"]


def _assert_backoff(retries: list[dict[str, Any]]) -> list[float]:
    delays = [float(e["retry_in"]) for e in retries]
    assert delays and delays[0] == 0.5, delays
    assert all(later == min(2 * earlier, 10.0) for earlier, later in itertools.pairwise(delays)), delays
    return delays


async def test_expired_broker_certificate_keeps_the_worker_not_ready_until_a_valid_one_is_presented(
    secure_broker: SecureBroker, topics: Settings, logdir: Path, tmp_path: Path
) -> None:
    """The worker bootstraps through a listener presenting a certificate of the broker's own CA
    that expired in 2024 (only its dates are wrong): one line per attempt names the expired
    certificate, retries back off, /readyz stays 503. Then the listener presents a renewed
    certificate (the broker reloading its keystore): the same worker process becomes ready."""
    b = secure_broker
    expired = _server_cert(b, tmp_path, "expired", "IP:127.0.0.1,DNS:localhost", expired=True)
    renewed = _server_cert(b, tmp_path, "renewed", "IP:127.0.0.1,DNS:localhost")
    port = _free_port()
    log = logdir / "expired-cert-worker.log"
    LOGS.append(log)
    async with _Front(b, tls=expired) as front:
        worker = settings_as(b, "pa-worker", bootstrap_servers=front.address, metrics_port=port)
        t0 = time.monotonic()
        w = WorkerProcess(worker, "--no-scheduler", log_path=log, env=security_env(worker)).start()
        try:
            lines = await wait_for_log(log, r"kafka not ready; retrying", timeout=30, count=3)
            assert (await asyncio.to_thread(_get, port, "/readyz"))[0] == 503
            reason = json.loads(lines[0])["reason"]
            print(f"[expired] named after {time.monotonic() - t0:.1f} s: {reason}")
            assert "certificate has expired" in reason and "renew the broker's certificate" in reason, reason
            assert front.address in reason

            front.present(*renewed)
            fixed = time.monotonic()
            detail = await _wait_http(port, 200, timeout=45, what="after the renewed certificate was presented")
            print(f"[expired] ready {time.monotonic() - fixed:.1f} s after the renewed certificate: {detail.strip()}")
            assert w.alive()
        finally:
            code = w.terminate()
    assert code == 0
    retries = _retry_lines(log)
    delays = _assert_backoff(retries)
    print(f"[expired] {len(retries)} retry lines, delays {delays}, {front.handshakes} handshakes at the listener")
    # One line per attempt, each naming the expired certificate; nothing else at warning or above
    # says anything about the certificate (no second line per attempt, no traceback).
    assert all("certificate has expired" in e["reason"] for e in retries), retries
    mentions = [e for e in log_events(log) if "expired" in json.dumps(e)]
    assert len(mentions) == len(retries), mentions
    assert "Traceback" not in log.read_text()


async def test_a_host_name_the_broker_certificate_does_not_name_is_refused(
    secure_broker: SecureBroker, topics: Settings, logdir: Path
) -> None:
    """The broker's own certificate (SAN IP:127.0.0.1, DNS:localhost, DNS:kafka-secure), its own
    handshake, reached as 127.0.0.2 through a plain TCP relay: refused by host-name verification,
    which is on without any setting, and named as such; the same client by 127.0.0.1 connects."""
    b = secure_broker
    default = settings_as(b, "pa-worker")
    ctx = default.ssl_context()
    assert ctx.check_hostname and ctx.verify_mode == ssl.CERT_REQUIRED
    assert not {f for f in Settings.model_fields if "hostname" in f or "verify" in f}, "no switch to turn it off"
    await check_access(default)  # by a name the certificate holds: connects

    port = _free_port()
    log = logdir / "host-name-worker.log"
    LOGS.append(log)
    async with _Front(b, listen_host="127.0.0.2") as relay:
        other = settings_as(b, "pa-worker", bootstrap_servers=relay.address, metrics_port=port)
        with pytest.raises(KafkaSecurityError) as refused:
            await check_access(other)
        print(f"[host name] pre-start check: {refused.value}")
        assert "mismatch" in str(refused.value) and "does not name 127.0.0.2" in str(refused.value)

        w = WorkerProcess(other, "--no-scheduler", log_path=log, env=security_env(other)).start()
        try:
            lines = await wait_for_log(log, r"kafka not ready; retrying", timeout=30, count=2)
            assert (await asyncio.to_thread(_get, port, "/readyz"))[0] == 503
        finally:
            assert w.terminate() == 0
    reasons = [e["reason"] for e in _retry_lines(log)]
    print(f"[host name] worker: {json.loads(lines[0])['reason']}")
    assert all(
        "certificate is not valid for '127.0.0.2'" in r and "check KAFKA_BOOTSTRAP_SERVERS" in r for r in reasons
    )
    _assert_backoff(_retry_lines(log))


async def test_mutual_tls_required_admits_a_client_certificate_and_refuses_a_client_without(
    mtls_broker: SecureBroker, logdir: Path
) -> None:
    """A second instance of the secure broker with KAFKA_SECURE_MTLS=required: the worker's
    client with the generated certificate (tls/client-pa-worker.crt/.key) connects, authenticates
    and reads metadata; the same client without a certificate is refused in the handshake, and
    the pre-start check says so."""
    b = mtls_broker
    LOGS.append(b.home / "server.log")
    BROKERS.append(b)
    tls = b.home / "tls"
    with_cert = settings_as(
        b,
        "pa-worker",
        kafka_ssl_certfile=str(tls / "client-pa-worker.crt"),
        kafka_ssl_keyfile=str(tls / "client-pa-worker.key"),
    )
    without = settings_as(b, "pa-worker")

    await check_access(with_cert)
    consumer = AIOKafkaConsumer(**with_cert.kafka_kwargs(), enable_auto_commit=False)
    await consumer.start()
    try:
        topics_seen = await consumer.topics()
    finally:
        await consumer.stop()
    print(f"[mTLS] with the client certificate: connected as pa-worker, metadata of {len(topics_seen)} topics")

    with pytest.raises(KafkaSecurityError) as refused:
        await check_access(without)
    print(f"[mTLS] without: {refused.value}")
    assert "the broker ended the handshake" in str(refused.value)
    assert "client certificate rejected" in str(refused.value)
    plain = AIOKafkaConsumer(**without.kafka_kwargs(), enable_auto_commit=False, request_timeout_ms=10_000)
    with pytest.raises(KafkaError):
        await asyncio.wait_for(plain.start(), timeout=30)
    await plain.stop()


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
    files = [f for broker in (secure_broker, *BROKERS) for f in broker.secret_files()] + TEST_KEYS
    for f in files:
        if f.suffix == ".password":
            secrets[str(f)] = f.read_text().strip()
        elif f.suffix == ".key":  # every line of the PEM body of each private key
            for i, line in enumerate(f.read_text().splitlines()):
                if line and not line.startswith("-----"):
                    secrets[f"{f}:{i}"] = line
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
