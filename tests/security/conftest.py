"""The secure broker (SASL_SSL, SCRAM-SHA-512, deny-by-default ACLs) for tests/security.

Started by this fixture when it is not running, and stopped at the end if started here. With
CI=true or REQUIRE_KAFKA=1 a broker (or Java, openssl, keytool) that cannot start fails the run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.broker import ROOT, SecureBroker, secure_kafka_broker
from tests.conftest import REQUIRE_KAFKA

USED: list[SecureBroker] = []
OUTCOMES: dict[str, int] = {}


@pytest.fixture(scope="session")
def secure_broker() -> Iterator[SecureBroker]:
    try:
        cm = secure_kafka_broker()
        b = cm.__enter__()
    except Exception as exc:
        if REQUIRE_KAFKA:
            pytest.fail(f"secure Kafka broker required (CI/REQUIRE_KAFKA) but could not start: {exc}", pytrace=False)
        pytest.skip(f"no secure Kafka broker: {exc}")
    USED.append(b)
    print(f"\n[kafka-secure] security tests use the project's broker with SASL_SSL at {b.bootstrap_servers}")
    try:
        yield b
    finally:
        cm.__exit__(None, None, None)


@pytest.fixture(scope="session")
def mtls_broker(secure_broker: SecureBroker) -> Iterator[SecureBroker]:
    """A second instance of the secure broker with ``KAFKA_SECURE_MTLS=required``: its own CA,
    passwords and data in ``.kafka-secure/mtls-test/`` (kept between runs, like the first one's),
    on 127.0.0.1:9194 (controller 9195; ``KAFKA_SECURE_MTLS_PORT`` and ``_CONTROLLER_PORT``).
    Requested only by the mutual-TLS test; stopped at the end if started here."""
    port = int(os.environ.get("KAFKA_SECURE_MTLS_PORT", "9194"))
    cport = int(os.environ.get("KAFKA_SECURE_MTLS_CONTROLLER_PORT", "9195"))
    home = secure_broker.home / "mtls-test"
    try:
        cm = secure_kafka_broker(home=home, port=port, controller_port=cport, mtls="required")
        b = cm.__enter__()
    except Exception as exc:
        if REQUIRE_KAFKA:
            pytest.fail(
                f"secure Kafka broker with mutual TLS required (CI/REQUIRE_KAFKA) but could not start: {exc}",
                pytrace=False,
            )
        pytest.skip(f"no secure Kafka broker with mutual TLS: {exc}")
    USED.append(b)
    where = home.relative_to(ROOT) if home.is_relative_to(ROOT) else home
    print(f"\n[kafka-secure] mutual-TLS tests use a second instance at {b.bootstrap_servers} ({where})")
    try:
        yield b
    finally:
        cm.__exit__(None, None, None)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and "tests/security/" in report.nodeid:
        OUTCOMES[report.outcome] = OUTCOMES.get(report.outcome, 0) + 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if USED:
        counts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(OUTCOMES.items())) or "none ran"
        terminalreporter.write_line(
            f"[kafka-secure] security tests on the project's SASL_SSL broker at {USED[0].bootstrap_servers}: {counts}"
        )
