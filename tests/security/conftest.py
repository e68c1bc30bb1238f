"""The secure broker (SASL_SSL, SCRAM-SHA-512, deny-by-default ACLs) for tests/security.

Started by this fixture when it is not running, and stopped at the end if started here. With
CI=true or REQUIRE_KAFKA=1 a broker (or Java, openssl, keytool) that cannot start fails the run.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.broker import SecureBroker, secure_kafka_broker
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


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and "tests/security/" in report.nodeid:
        OUTCOMES[report.outcome] = OUTCOMES.get(report.outcome, 0) + 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if USED:
        counts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(OUTCOMES.items())) or "none ran"
        terminalreporter.write_line(
            f"[kafka-secure] security tests on the project's SASL_SSL broker at {USED[0].bootstrap_servers}: {counts}"
        )
