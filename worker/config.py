"""Configuration from the environment (pydantic-settings). Invalid settings fail at start."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any, Literal

from aiokafka.errors import KafkaError
from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts import channels as ch
from policy import DEFAULT_SETTINGS, PolicySettings
from policy.versions import DEFAULT_EFFECTIVE_FROM, PolicyVersion, VersionError, Versions, parse_version_file


class Settings(BaseSettings):
    """Every setting is an environment variable: ``PA_`` + the upper-case name, except
    ``KAFKA_BOOTSTRAP_SERVERS``."""

    model_config = SettingsConfigDict(
        env_prefix="PA_", extra="ignore", frozen=True, validate_default=True, populate_by_name=True
    )

    bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "PA_BOOTSTRAP_SERVERS"),
        description="Kafka bootstrap servers, comma-separated (env KAFKA_BOOTSTRAP_SERVERS).",
    )
    group_id: str = Field("pa-worker", min_length=1, description="Consumer group of the determination workers.")
    topic_requests: str = Field(ch.REQUESTS.topic, min_length=1, description="Input topic of pa.request events.")
    topic_determinations: str = Field(ch.DETERMINATIONS.topic, min_length=1, description="Output: pa.determination.")
    topic_reauth_due: str = Field(ch.REAUTH_DUE.topic, min_length=1, description="Output: pa.reauth_due.")
    topic_dlq: str = Field(ch.DLQ.topic, min_length=1, description="Rejected input, original bytes kept.")
    topic_authorizations: str = Field(
        ch.AUTHORIZATIONS.topic, min_length=1, description="Internal compacted topic: approved authorizations' state."
    )
    topic_request_index: str = Field(
        ch.REQUEST_INDEX.topic,
        min_length=1,
        description="Internal topic: request_id -> determination_id per input partition, so a request "
        "submitted again is not determined twice.",
    )
    topic_reviews: str = Field(
        ch.REVIEWS.topic, min_length=1, description="Input: pa.review events of the review system."
    )
    topic_reviews_dlq: str = Field(
        ch.REVIEWS_DLQ.topic, min_length=1, description="Rejected reviews, original bytes kept."
    )
    topic_notices: str = Field(
        ch.NOTICES.topic, min_length=1, description="Input: pa.notice events of the letter system."
    )
    topic_notices_dlq: str = Field(
        ch.NOTICES_DLQ.topic, min_length=1, description="Rejected notices, original bytes kept."
    )
    topic_decision_clock: str = Field(
        ch.DECISION_CLOCK.topic, min_length=1, description="Output: pa.decision_clock (warning and breach)."
    )
    topic_pends: str = Field(
        ch.PENDS.topic, min_length=1, description="Internal topic: the pend inbox the request processor writes."
    )
    topic_pend_store: str = Field(
        ch.PEND_STORE.topic, min_length=1, description="Internal compacted topic: the review stage's pend store."
    )
    reviews_enabled: bool = Field(True, description="Run the review stage (pa.reviews.v1) inside `pa-worker run`.")
    reviews_group_id: str | None = Field(None, description="Review stage consumer group (default: GROUP_ID-reviews).")
    decision_clock_warning_share: float = Field(
        0.75,
        gt=0,
        lt=1,
        description="Share of a pend's decision clock (received_at to decision_due_by) after which a "
        "pa.decision_clock warning is emitted.",
    )
    decision_clock_interval_seconds: float = Field(
        10.0, gt=0, le=3600, description="How often open pends' decision clocks are checked."
    )
    pend_state_grace_days: int = Field(
        45,
        ge=1,
        le=3650,
        description="Keep a closed pend this many days after it closed (a repeated review is recognised as a "
        "duplicate meanwhile), then delete it from the pend store.",
    )
    notices_max_per_determination: int = Field(
        20,
        ge=1,
        le=200,
        description="Distinct notices (notice_id) the review stage keeps per determination; a further one is "
        "dead-lettered (too_many_notices).",
    )
    pends_retention_days: int = Field(
        30, ge=1, le=3650, description="Retention of the pend inbox topic (pa.pends.v1) when created at start."
    )
    dedupe_retention_days: int = Field(
        30, ge=1, le=3650, description="How long a request_id is remembered (retention of the index topic)."
    )
    batch_max_records: int = Field(
        500, ge=1, le=10_000, description="Max records per fetch, and per transaction of one partition."
    )
    batch_timeout_ms: int = Field(100, ge=1, le=60_000, description="Max wait for a batch to fill.")
    max_message_bytes: int = Field(
        65_536, ge=1024, le=10_485_760, description="Larger input values are dead-lettered (too_large)."
    )
    future_received_at_tolerance_seconds: float = Field(
        300.0,
        ge=0,
        le=86_400,
        description="A request whose received_at is later than the worker's clock by more than this is "
        "dead-lettered (received_in_future), not evaluated; one ahead by less is evaluated at its received_at.",
    )
    metrics_host: str = Field("0.0.0.0", description="Bind address of /metrics, /healthz, /readyz.")  # noqa: S104
    metrics_port: int = Field(9108, ge=0, le=65535, description="Port of /metrics, /healthz, /readyz (0 = any).")
    log_format: Literal["auto", "json", "console"] = Field(
        "auto", description="json in production; console is for terminals; auto picks by tty."
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field("info", description="Log level.")

    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="Kafka security protocol."
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        None, description="SASL mechanism when the protocol is SASL_*."
    )
    kafka_sasl_username: str | None = Field(None, description="SASL user name.")
    kafka_sasl_password: SecretStr | None = Field(None, description="SASL password (never logged).")
    kafka_sasl_password_file: str | None = Field(
        None,
        description="File holding the SASL password (a mounted Secret), instead of PA_KAFKA_SASL_PASSWORD; "
        "read again at every connection attempt, so a corrected or rotated file needs no restart.",
    )
    kafka_ssl_cafile: str | None = Field(
        None,
        description="CA bundle (PEM) the brokers' certificates must chain to (SSL, SASL_SSL; default: the system's).",
    )
    kafka_ssl_certfile: str | None = Field(None, description="Client certificate (PEM) for mutual TLS.")
    kafka_ssl_keyfile: str | None = Field(None, description="Client key (PEM) for mutual TLS.")
    kafka_ssl_key_password_file: str | None = Field(
        None, description="File holding the password of an encrypted PA_KAFKA_SSL_KEYFILE."
    )

    allow_automated_denials: bool = Field(
        False,
        description="Opt-in for automated 'denied'. Keep false for Medicare Advantage: a physician or other "
        "appropriate professional must review adverse decisions (42 CFR 422.566(d)).",
    )
    policy_version_files: str = Field(
        "",
        description="Policy versions with effective dates beside the code's own (issue #26): TOML or JSON files "
        "(policy/versions.py: effective_from, version, any PolicySettings field), comma-separated. The version in "
        "effect on a request's local receipt date decides it. A file that does not validate stops the start, "
        "naming the field.",
    )
    shadow_version_file: str | None = Field(
        None,
        description="Shadow mode (issue #26): a candidate version file; `pa-worker run` then also decides every "
        "request under it, in its own group (GROUP_ID-shadow), and publishes to PA_TOPIC_SHADOW_DETERMINATIONS only: "
        "no letter, claims or review system reads that topic; nothing else is written (no dead letters, index or "
        "pend inbox).",
    )
    topic_shadow_determinations: str = Field(
        ch.SHADOW_DETERMINATIONS.topic,
        min_length=1,
        description="Output of shadow mode: the candidate version's determinations, for SREs to compare.",
    )
    reauth_lead_days: int = Field(
        DEFAULT_SETTINGS.reauth_lead_days,
        ge=0,
        le=3650,
        description="Reauthorization reminder lead before valid_through.",
    )
    scheduler_enabled: bool = Field(True, description="Run the reauthorization scheduler inside `pa-worker run`.")
    scheduler_group_id: str | None = Field(None, description="Scheduler consumer group (default: GROUP_ID-reauth).")
    scheduler_interval_seconds: float = Field(5.0, gt=0, le=3600, description="How often due reminders are checked.")
    reauth_state_grace_days: int | None = Field(
        90,
        ge=0,
        le=3650,
        description="Delete an authorization's state (a tombstone in the compacted authorizations topic) this "
        "many days after its valid_through, so that state stays bounded; unset: keep it forever.",
    )

    kafka_session_timeout_ms: int = Field(
        30_000,
        ge=3_000,
        le=300_000,
        description="Consumer session timeout: how fast a dead instance's partitions move.",
    )

    create_topics: bool = Field(False, description="Create missing topics at start (also --create-topics).")
    topic_partitions: int = Field(6, ge=1, le=1000, description="Partitions of topics created at start.")
    topic_replication_factor: int = Field(1, ge=1, le=10, description="Replication of topics created at start.")
    shutdown_timeout_seconds: float = Field(20.0, gt=0, le=600, description="Bound on graceful shutdown.")
    test_disable_request_dedupe: bool = Field(
        False,
        description="TEST ONLY, never in production: publish a request submitted again instead of dropping it "
        "(the request index is still written, never consulted), so fault tests see a replay caused by an "
        "offset-commit bug as a duplicate instead of having deduplication absorb it.",
    )
    gc_gen0_threshold: int = Field(
        50_000,
        ge=0,
        le=10_000_000,
        description="Allocations between young-generation garbage collections (Python's default is 700; "
        "0 keeps Python's defaults). See worker/runtime/gc.py.",
    )

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _security_is_complete(self) -> Settings:
        if self.kafka_sasl_password is not None and self.kafka_sasl_password_file:
            raise ValueError("set PA_KAFKA_SASL_PASSWORD or PA_KAFKA_SASL_PASSWORD_FILE, not both")
        if self.kafka_security_protocol.startswith("SASL") and not (
            self.kafka_sasl_mechanism
            and self.kafka_sasl_username
            and (self.kafka_sasl_password is not None or self.kafka_sasl_password_file)
        ):
            raise ValueError(
                "PA_KAFKA_SECURITY_PROTOCOL=SASL_* needs PA_KAFKA_SASL_MECHANISM, "
                "PA_KAFKA_SASL_USERNAME and PA_KAFKA_SASL_PASSWORD (or PA_KAFKA_SASL_PASSWORD_FILE)"
            )
        if self.kafka_ssl_keyfile and not self.kafka_ssl_certfile:
            raise ValueError("PA_KAFKA_SSL_KEYFILE needs PA_KAFKA_SSL_CERTFILE")
        topics = [
            self.topic_requests,
            self.topic_determinations,
            self.topic_reauth_due,
            self.topic_dlq,
            self.topic_authorizations,
            self.topic_request_index,
            self.topic_reviews,
            self.topic_reviews_dlq,
            self.topic_decision_clock,
            self.topic_pends,
            self.topic_pend_store,
            self.topic_notices,
            self.topic_notices_dlq,
            self.topic_shadow_determinations,
        ]
        if len(set(topics)) != len(topics):
            raise ValueError("topic names must be distinct")
        return self

    @property
    def reauth_group_id(self) -> str:
        return self.scheduler_group_id or f"{self.group_id}-reauth"

    @property
    def review_group_id(self) -> str:
        return self.reviews_group_id or f"{self.group_id}-reviews"

    @property
    def shadow_group_id(self) -> str:
        return f"{self.group_id}-shadow"

    def kafka_kwargs(self) -> dict[str, Any]:
        """Connection settings shared by every aiokafka client.

        Secret and TLS files are read here, at every call: each client (re)start sees the files
        as they are now, so a corrected password file or a renewed certificate is picked up
        without a restart. An unreadable file raises :class:`SecretFileError` (a ``KafkaError``:
        the start is retried), naming the variable and the path, never a secret."""
        kw: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "security_protocol": self.kafka_security_protocol,
        }
        if self.kafka_security_protocol in ("SSL", "SASL_SSL"):
            kw["ssl_context"] = self.ssl_context()
        if self.kafka_security_protocol.startswith("SASL"):
            kw["sasl_mechanism"] = self.kafka_sasl_mechanism
            kw["sasl_plain_username"] = self.kafka_sasl_username
            kw["sasl_plain_password"] = self.sasl_password()
        return kw

    def sasl_password(self) -> str | None:
        if self.kafka_sasl_password_file:
            return _read_secret("PA_KAFKA_SASL_PASSWORD_FILE", self.kafka_sasl_password_file)
        return self.kafka_sasl_password.get_secret_value() if self.kafka_sasl_password is not None else None

    def ssl_context(self) -> ssl.SSLContext:
        """TLS 1.2+, the broker's certificate verified against PA_KAFKA_SSL_CAFILE (or the system's
        CAs) and its host name or IP checked against the certificate (always on)."""
        try:
            ctx = ssl.create_default_context(cafile=self.kafka_ssl_cafile)
        except (OSError, ssl.SSLError) as exc:
            raise SecretFileError(_file_problem("PA_KAFKA_SSL_CAFILE", self.kafka_ssl_cafile, exc)) from None
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.kafka_ssl_certfile:
            key_password = (
                _read_secret("PA_KAFKA_SSL_KEY_PASSWORD_FILE", self.kafka_ssl_key_password_file)
                if self.kafka_ssl_key_password_file
                else None
            )
            try:
                ctx.load_cert_chain(self.kafka_ssl_certfile, self.kafka_ssl_keyfile, password=key_password)
            except (OSError, ssl.SSLError) as exc:
                raise SecretFileError(
                    _file_problem(
                        "PA_KAFKA_SSL_CERTFILE/PA_KAFKA_SSL_KEYFILE",
                        f"{self.kafka_ssl_certfile}, {self.kafka_ssl_keyfile or '(key in the certificate file)'}",
                        exc,
                    )
                ) from None
        return ctx


class SecretFileError(KafkaError):  # type: ignore[misc]
    """A secret or TLS file cannot be read or used. The message names the variable and the path,
    never the content; the start that raised it is retried."""


def _file_problem(var: str, path: str | None, exc: BaseException) -> str:
    if isinstance(exc, OSError):
        why = exc.strerror or type(exc).__name__
    else:  # ssl.SSLError: reason is OpenSSL's short code (e.g. NO_CERTIFICATE_OR_CRL_FOUND), no content
        why = getattr(exc, "reason", None) or type(exc).__name__
    return f"{var}: cannot use {path}: {why}"


def _read_secret(var: str, path: str) -> str:
    try:
        with open(path, encoding="utf-8") as fh:
            value = fh.read()
    except OSError as exc:
        raise SecretFileError(_file_problem(var, path, exc)) from None
    except UnicodeDecodeError:
        raise SecretFileError(f"{var}: cannot use {path}: not UTF-8 text") from None
    value = value.rstrip("\r\n")  # `kubectl create secret --from-file` keeps a final newline
    if not value:
        raise SecretFileError(f"{var}: {path} is empty")
    return value


def _version_file(path: str, settings: Settings) -> PolicyVersion:
    fmt: Literal["toml", "json"] = "json" if path.endswith(".json") else "toml"
    try:
        content = Path(path).read_bytes()
    except OSError as exc:
        raise VersionError(f"{path}: {exc.strerror or exc}") from None
    try:
        version = parse_version_file(content, fmt)
    except VersionError as exc:
        raise VersionError(f"{path}: {exc}") from None
    if settings.allow_automated_denials != version.settings.allow_automated_denials:
        version = PolicyVersion(
            version.effective_from, version.settings.replace(allow_automated_denials=settings.allow_automated_denials)
        )
    return version


def policy_versions(settings: Settings) -> Versions:
    """The versions ``pa-worker run`` decides with: the code's own (with the worker's automated-denial
    switch, :func:`policy_settings`) and those of ``policy_version_files``, by effective date. Raises
    :class:`policy.versions.VersionError` naming the file and the field."""
    versions = Versions([PolicyVersion(DEFAULT_EFFECTIVE_FROM, policy_settings(settings))])
    for path in filter(None, (p.strip() for p in settings.policy_version_files.split(","))):
        versions = versions.with_candidate(_version_file(path, settings))
    return versions


def shadow_version(settings: Settings) -> Versions | None:
    """Shadow mode's candidate, applied to every request whatever its effective date (a rollout
    compares live traffic before switching), or ``None``."""
    if settings.shadow_version_file is None:
        return None
    return Versions([_version_file(settings.shadow_version_file, settings)])


def policy_settings(settings: Settings) -> PolicySettings:
    """The policy's settings with the worker's overrides (the automated-denial switch): the one
    conversion of ``pa-worker run`` (request handler, review stage, scheduler) and ``pa-worker evaluate``."""
    if settings.allow_automated_denials != DEFAULT_SETTINGS.allow_automated_denials:
        return DEFAULT_SETTINGS.replace(allow_automated_denials=settings.allow_automated_denials)
    return DEFAULT_SETTINGS


BOOTSTRAP_ENV = "KAFKA_BOOTSTRAP_SERVERS"


def env_name(field: str) -> str:
    """The environment variable of the setting ``field``: ``PA_`` + upper case, except the bootstrap servers."""
    return BOOTSTRAP_ENV if field == "bootstrap_servers" else f"PA_{field.upper()}"


ENV_NAMES: dict[str, str] = {name: env_name(name) for name in Settings.model_fields}
"""Setting -> environment variable, for every setting: the only list of the worker's variables."""


def as_env(settings: Settings) -> dict[str, str]:
    """``settings`` as the environment variables that load them again (for a worker subprocess).

    Settings that are unset (``None`` by default) are left out; a secret is written as its value."""
    env: dict[str, str] = {}
    for name, var in ENV_NAMES.items():
        value = getattr(settings, name)
        if value is None:
            if Settings.model_fields[name].default is not None:
                raise ValueError(f"{var}: None cannot be written as an environment variable")
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        env[var] = str(value)
    return env


def describe() -> str:
    """The settings as help text: env var, default, meaning."""
    lines = []
    for name, field in Settings.model_fields.items():
        default = field.default if not isinstance(field.default, SecretStr) else "***"
        lines.append(f"  {ENV_NAMES[name]:<34} {field.description} [default: {default}]")
    return "\n".join(lines)


def load() -> Settings:
    """Settings from the environment; raises ``SystemExit`` with one clear line when invalid."""
    from pydantic import ValidationError

    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{_env_name(err['loc'])}: {err['msg']}" if err["loc"] else err["msg"] for err in exc.errors()
        )
        raise SystemExit(f"pa-worker: invalid configuration: {problems}") from None


def _env_name(loc: tuple[Any, ...]) -> str:
    name = str(loc[0])
    if name in ("bootstrap_servers", BOOTSTRAP_ENV):
        return BOOTSTRAP_ENV
    return name if name.startswith("PA_") else env_name(name)
