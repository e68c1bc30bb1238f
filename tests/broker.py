"""Find or start the Kafka broker the integration tests run against.

Order: ``KAFKA_BOOTSTRAP_SERVERS`` when set; else a testcontainers Kafka when a Docker engine
answers; else the project's local broker (``scripts/kafka.sh``, Apache Kafka from Maven
Central), started here and stopped at the end if this process started it.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KAFKA_SH = ROOT / "scripts" / "kafka.sh"


@dataclass(frozen=True)
class Broker:
    bootstrap_servers: str
    kind: str  # "env", "testcontainers" or "local"


def _docker_answers() -> bool:
    try:
        import docker  # type: ignore[import-untyped]

        client = docker.from_env(timeout=3)
        client.ping()
        return True
    except Exception:
        return False


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


@contextmanager
def kafka_broker() -> Iterator[Broker]:
    env = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if env:
        yield Broker(env, "env")
        return
    if _docker_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer("apache/kafka:4.1.1").with_kraft() as kafka:
            yield Broker(kafka.get_bootstrap_server(), "testcontainers")
        return
    status = subprocess.run([str(KAFKA_SH), "status"], capture_output=True, text=True, check=False)
    started_here = status.returncode != 0
    if started_here:
        proc = subprocess.run([str(KAFKA_SH), "up"], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"local Kafka broker did not start:\n{proc.stdout}\n{proc.stderr}")
    try:
        yield Broker("127.0.0.1:" + os.environ.get("KAFKA_PORT", "9092"), "local")
    finally:
        if started_here and not os.environ.get("PA_KEEP_KAFKA"):
            subprocess.run([str(KAFKA_SH), "down"], capture_output=True, check=False)


KAFKA_SECURE_SH = ROOT / "scripts" / "kafka-secure.sh"


@dataclass(frozen=True)
class SecureBroker:
    """The project's broker with security on (``scripts/kafka-secure.sh``): SASL_SSL, SCRAM-SHA-512,
    deny-by-default ACLs from ``deploy/kafka-acls/acls.txt``."""

    bootstrap_servers: str
    home: Path

    @property
    def cafile(self) -> Path:
        return self.home / "tls" / "ca.crt"

    def password_file(self, user: str) -> Path:
        return self.home / "secrets" / f"{user}.password"

    def secret_files(self) -> list[Path]:
        """Every generated secret: SCRAM passwords, keystore passwords, private keys, client configs."""
        return sorted((self.home / "secrets").glob("*")) + sorted((self.home / "tls").glob("*.key"))


@contextmanager
def secure_kafka_broker(
    home: Path | None = None, port: int | None = None, controller_port: int | None = None, mtls: str | None = None
) -> Iterator[SecureBroker]:
    """The secure local broker, started here (and stopped at the end) unless already running.

    Without arguments the one of ``make kafka-up-secure`` (``KAFKA_SECURE_*`` from the
    environment); with them another instance of the same script: its own folder (CA, passwords,
    data), ports and ``KAFKA_SECURE_MTLS``."""
    env = dict(os.environ)
    if home is not None:
        env["KAFKA_SECURE_HOME_DIR"] = str(home)
    if port is not None:
        env["KAFKA_SECURE_PORT"] = str(port)
    if controller_port is not None:
        env["KAFKA_SECURE_CONTROLLER_PORT"] = str(controller_port)
    if mtls is not None:
        env["KAFKA_SECURE_MTLS"] = mtls
    home = Path(env.get("KAFKA_SECURE_HOME_DIR", ROOT / ".kafka-secure"))
    port_ = env.get("KAFKA_SECURE_PORT", "9192")

    def script(command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(KAFKA_SECURE_SH), command], capture_output=True, text=True, check=False, env=env)

    started_here = script("status").returncode != 0
    if started_here:
        proc = script("up")
        if proc.returncode != 0:
            raise RuntimeError(f"secure Kafka broker did not start:\n{proc.stdout}\n{proc.stderr}")
    try:
        yield SecureBroker(f"127.0.0.1:{port_}", home)
    finally:
        if started_here and not os.environ.get("PA_KEEP_KAFKA"):
            script("down")
