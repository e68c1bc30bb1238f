"""The adapter to aiokafka: client settings and factories (:func:`clients`), topic creation, key
partitioning, and the rebalance listener.

The only module that touches aiokafka's private API (``_client``, ``_coordinator``): aiokafka has
no public call to refresh metadata now (:func:`refresh_metadata`), to ask the group for a rejoin
(:func:`request_rejoin`), or to send a Metadata request naming topics (``_unauthorized``, which tells a
missing topic from a forbidden one). Kept here, behind :class:`~worker.runtime.ports.Clients`, so
an aiokafka upgrade that moves them breaks one file.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    KafkaError,
    SaslAuthenticationFailed,
    TopicAlreadyExistsError,
    TopicAuthorizationFailedError,
)

from worker.config import Settings
from worker.runtime.ports import Clients

METADATA_MAX_AGE_MS = 30_000
"""How often the group consumers refresh cluster metadata: partitions added to a topic are
taken up within this (aiokafka's default, 5 minutes, left them unread that long)."""


class TopicsMissing(KafkaError):  # type: ignore[misc]
    """Topics a component needs are not in the cluster's metadata (yet)."""


async def require_topics(consumer: AIOKafkaConsumer, topics: Sequence[str]) -> None:
    """Raise :class:`TopicsMissing` unless every topic of ``topics`` is in the cluster's metadata.

    A consumer that subscribes to a topic its metadata does not show yet joins the group with no
    partitions, looks ready, and notices the topic only at its next metadata refresh. Checked
    before subscribing, so a worker started ahead of its topics is not ready and retries."""
    missing = sorted(set(topics) - set(await consumer.topics()))
    if missing:
        # A topic this principal may not describe is left out of the all-topics metadata just
        # like one that does not exist; asked for by name, the broker says which it is.
        denied = await _unauthorized(consumer, missing)
        if denied:
            found = [t for t in missing if t not in denied]
            raise TopicsMissing(
                f"not authorized (missing ACL for this principal): {', '.join(denied)}"
                + (f"; topics not found: {', '.join(found)}" if found else "")
            )
        raise TopicsMissing(f"topics not found: {', '.join(missing)}")


async def _unauthorized(consumer: AIOKafkaConsumer, topics: list[str]) -> list[str]:
    from aiokafka.protocol.metadata import MetadataRequest

    client = consumer._client
    try:
        node = client.get_random_node()
        if node is None:
            return []
        resp = await client.send(node, MetadataRequest(topics=topics, allow_auto_topic_creation=False))
    except KafkaError:
        return []
    return sorted(t[1] for t in resp.topics if t[0] == TopicAuthorizationFailedError.errno)


class KafkaSecurityError(KafkaError):  # type: ignore[misc]
    """TLS or SASL keeps the worker from connecting: an unknown CA, an expired certificate, a
    host name the certificate does not name, a wrong password. The message names the cause,
    never a secret; the start that raised it is retried (and the secret files read again)."""


def _tls_cause(exc: ssl.SSLError, host: str) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        msg = exc.verify_message or exc.reason or "verification failed"
        if "expired" in msg:
            hint = "renew the broker's certificate"
        elif "mismatch" in msg:
            hint = f"the certificate does not name {host}: check KAFKA_BOOTSTRAP_SERVERS and the certificate's SAN"
        elif "issuer" in msg or "self-signed" in msg or "self signed" in msg:
            hint = "unknown CA: PA_KAFKA_SSL_CAFILE must hold the CA that signed the broker's certificate"
        else:
            hint = "check PA_KAFKA_SSL_CAFILE and the broker's certificate"
        return f"TLS: the broker's certificate was rejected: {msg} ({hint})"
    reason = exc.reason or type(exc).__name__
    if "ALERT" in str(reason).upper():
        return f"TLS: the broker ended the handshake: {reason} (client certificate rejected or TLS settings differ)"
    return f"TLS handshake failed: {reason}"


async def check_access(settings: Settings, timeout_ms: int = 10_000) -> None:
    """Connect and authenticate once, as every client of the worker will, and say why it fails.

    aiokafka logs a failed bootstrap connection and then raises a bare "Unable to bootstrap";
    this raises :class:`KafkaSecurityError` with the cause instead (TLS verification, handshake,
    SASL). A broker that does not answer at all is left to the clients' own error. No-op for
    PLAINTEXT."""
    if settings.kafka_security_protocol == "PLAINTEXT":
        return
    from aiokafka.conn import create_conn

    kw = settings.kafka_kwargs()  # SecretFileError when a file cannot be read
    causes: list[str] = []
    for server in settings.bootstrap_servers.split(","):
        host, _, port = server.strip().rpartition(":")
        host = host.strip("[]")
        try:
            conn = await create_conn(
                host,
                int(port),
                request_timeout_ms=timeout_ms,
                ssl_context=kw.get("ssl_context"),
                security_protocol=kw["security_protocol"],
                sasl_mechanism=kw.get("sasl_mechanism"),
                sasl_plain_username=kw.get("sasl_plain_username"),
                sasl_plain_password=kw.get("sasl_plain_password"),
            )
        except ssl.SSLError as exc:
            causes.append(f"{server}: {_tls_cause(exc, host)}")
        except SaslAuthenticationFailed as exc:
            causes.append(
                f"{server}: SASL {settings.kafka_sasl_mechanism} authentication of user "
                f"{settings.kafka_sasl_username!r} failed (wrong password or unknown user): {exc}"
            )
        except (KafkaError, OSError, TimeoutError) as exc:
            cause = exc.__cause__ or exc.__context__
            if isinstance(cause, ssl.SSLError):
                causes.append(f"{server}: {_tls_cause(cause, host)}")
            else:
                return  # unreachable or not a security problem: the clients report it themselves
        else:
            conn.close()
            return
    if causes:
        raise KafkaSecurityError("; ".join(causes))


async def start_checked(settings: Settings, start: Callable[[], Awaitable[None]]) -> None:
    """``start`` after :func:`check_access`: a failed start names its security cause."""
    await check_access(settings)
    await start()


def group_consumer_kwargs(settings: Settings, group_id: str) -> dict[str, Any]:
    """The one set of consumer settings of every stage's group consumer: offsets committed only
    inside transactions, read_committed, a new partition read from its start."""
    return {
        **settings.kafka_kwargs(),
        "group_id": group_id,
        "enable_auto_commit": False,
        "isolation_level": "read_committed",
        "auto_offset_reset": "earliest",
        "max_partition_fetch_bytes": max(1_048_576, settings.max_message_bytes * 2),
        "fetch_max_bytes": 16 * 1_048_576,
        "session_timeout_ms": settings.kafka_session_timeout_ms,
        "heartbeat_interval_ms": max(1_000, settings.kafka_session_timeout_ms // 10),
        "max_poll_interval_ms": 300_000,
        "rebalance_timeout_ms": 60_000,
        "metadata_max_age_ms": METADATA_MAX_AGE_MS,
    }


def changelog_reader(settings: Settings) -> AIOKafkaConsumer:
    """A group-less read_committed consumer for restoring state stores (``worker.runtime``).
    ``auto_offset_reset=earliest``: a newly assigned partition's own reset must never race the
    explicit seek to the beginning and land at the end."""
    return AIOKafkaConsumer(
        **settings.kafka_kwargs(),
        isolation_level="read_committed",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=max(1_048_576, settings.max_message_bytes * 2),
    )


async def refresh_metadata(consumer: AIOKafkaConsumer) -> None:
    """Fetch the cluster's metadata now (partitions just added). aiokafka has no public call for
    it: the one use of its private client in the runtime."""
    await consumer._client.force_metadata_update()


def request_rejoin(consumer: AIOKafkaConsumer) -> None:
    """Ask the group for a new assignment (Kafka Streams does the same on a fenced task: it is
    migrated, and the thread rejoins). A fenced producer does not always mean another member
    owns the partition: a transaction the coordinator aborted on timeout (a broker outage longer
    than ``transaction_timeout_ms``) bumps the epoch and fences the only owner too. The rejoin
    settles it either way: a member that still owns the partition gets it back (a new writer,
    state restored), a zombie learns it is no longer in the group. aiokafka has no public call
    for it."""
    with contextlib.suppress(Exception):
        consumer._coordinator.request_rejoin()


def clients(settings: Settings) -> Clients:
    """aiokafka's clients for every stage (``worker.app`` wires them; the unit tests the fakes')."""
    return Clients(
        consumer=lambda group_id: AIOKafkaConsumer(**group_consumer_kwargs(settings, group_id)),
        producer=lambda tid: AIOKafkaProducer(**producer_kwargs(settings), transactional_id=tid),
        reader=lambda: changelog_reader(settings),
        refresh=refresh_metadata,
        rejoin=request_rejoin,
        require_topics=require_topics,
    )


def producer_kwargs(settings: Settings) -> dict[str, Any]:
    return {
        **settings.kafka_kwargs(),
        "acks": "all",
        "linger_ms": 5,
        "max_batch_size": 262_144,
        "max_request_size": max(1_048_576, settings.max_message_bytes * 2),
        "transaction_timeout_ms": 30_000,
        "request_timeout_ms": 30_000,
        # A transaction's AddOffsetsToTxn that arrives while the coordinator is still writing the
        # previous transaction's markers is refused (CONCURRENT_TRANSACTIONS) and retried after
        # this backoff; aiokafka's 100 ms default put a 100 ms step into the latency tail.
        "retry_backoff_ms": 20,
    }


async def ensure_topics(settings: Settings) -> list[str]:
    """Create the worker's topics when missing; returns the names created."""
    replication = settings.topic_replication_factor
    wanted = [
        NewTopic(settings.topic_requests, settings.topic_partitions, settings.topic_replication_factor),
        NewTopic(settings.topic_determinations, settings.topic_partitions, settings.topic_replication_factor),
        NewTopic(settings.topic_reauth_due, settings.topic_partitions, settings.topic_replication_factor),
        NewTopic(settings.topic_dlq, settings.topic_partitions, settings.topic_replication_factor),
        NewTopic(
            settings.topic_authorizations,
            settings.topic_partitions,
            settings.topic_replication_factor,
            topic_configs={"cleanup.policy": "compact", "min.compaction.lag.ms": "3600000"},
        ),
        # One index partition per input partition (same count): request_id -> determination_id.
        NewTopic(
            settings.topic_request_index,
            settings.topic_partitions,
            settings.topic_replication_factor,
            topic_configs={
                "cleanup.policy": "compact,delete",
                "retention.ms": str(settings.dedupe_retention_days * 86_400_000),
            },
        ),
        # The review stage (issue #15): reviews, its DLQ and the decision-clock events are public;
        # the pend inbox must have the reviews' partition count (co-partitioned by member_id).
        NewTopic(settings.topic_reviews, settings.topic_partitions, settings.topic_replication_factor),
        NewTopic(settings.topic_reviews_dlq, settings.topic_partitions, settings.topic_replication_factor),
        NewTopic(settings.topic_decision_clock, settings.topic_partitions, settings.topic_replication_factor),
        # the letter system's notices and their DLQ (issue #23): co-partitioned with the reviews
        NewTopic(settings.topic_notices, settings.topic_partitions, settings.topic_replication_factor),
        NewTopic(settings.topic_notices_dlq, settings.topic_partitions, settings.topic_replication_factor),
        # shadow mode's output (issue #26), only when a shadow version is configured
        *(
            [NewTopic(settings.topic_shadow_determinations, settings.topic_partitions, replication)]
            if settings.shadow_version_file is not None
            else []
        ),
        NewTopic(
            settings.topic_pends,
            settings.topic_partitions,
            settings.topic_replication_factor,
            topic_configs={"cleanup.policy": "delete", "retention.ms": str(settings.pends_retention_days * 86_400_000)},
        ),
        NewTopic(
            settings.topic_pend_store,
            settings.topic_partitions,
            settings.topic_replication_factor,
            topic_configs={"cleanup.policy": "compact", "min.compaction.lag.ms": "3600000"},
        ),
    ]
    admin = AIOKafkaAdminClient(**settings.kafka_kwargs())
    await admin.start()
    created: list[str] = []
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in wanted if t.name not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another instance won the race
                await admin.create_topics(missing)
            created = [t.name for t in missing]
    finally:
        await admin.close()
    return created
