"""Shared fixtures. Integration tests (marker ``kafka``) run against a real broker, never a mock."""

from __future__ import annotations

import gc
import os
import uuid
from collections.abc import Iterator

import pytest

from tests.broker import Broker, kafka_broker

USED: list[Broker] = []
KAFKA_OUTCOMES: dict[str, int] = {}

REQUIRE_KAFKA = os.environ.get("CI", "").lower() == "true" or os.environ.get("REQUIRE_KAFKA") == "1"


@pytest.fixture(scope="session")
def broker() -> Iterator[Broker]:
    """A real Kafka broker for the whole session.

    With CI=true or REQUIRE_KAFKA=1 a broker that cannot start fails the run; elsewhere the
    Kafka tests are skipped with the reason, so a laptop without Java can still run unit tests.
    """
    try:
        cm = kafka_broker()
        b = cm.__enter__()
    except Exception as exc:
        if REQUIRE_KAFKA:
            pytest.fail(f"Kafka broker required (CI/REQUIRE_KAFKA) but could not start: {exc}", pytrace=False)
        pytest.skip(f"no Kafka broker: {exc}")
    print(f"\n[kafka] integration tests use a real broker: {b.kind} at {b.bootstrap_servers}")
    USED.append(b)
    try:
        yield b
    finally:
        cm.__exit__(None, None, None)


@pytest.fixture
def bootstrap(broker: Broker) -> str:
    return broker.bootstrap_servers


@pytest.fixture
def unique() -> str:
    """A suffix for topic and group names so tests never share state on the broker."""
    return uuid.uuid4().hex[:10]


def pytest_configure(config: pytest.Config) -> None:
    # CPython 3.11.0-3.11.7 (this machine has 3.11.7) can raise "SystemError: AST constructor
    # recursion depth mismatch" when a garbage-collection callback runs Python code while
    # ast.parse builds its tree (gh-106905, fixed in 3.11.8). pytest parses every test module to
    # rewrite its asserts; with the collector off while it does, no callback can interleave.
    gc.disable()


def pytest_collection_finish(session: pytest.Session) -> None:
    gc.enable()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and "kafka" in report.keywords:
        KAFKA_OUTCOMES[report.outcome] = KAFKA_OUTCOMES.get(report.outcome, 0) + 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say plainly whether the Kafka tests ran against a real broker."""
    counts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(KAFKA_OUTCOMES.items())) or "none ran"
    if USED:
        b = USED[0]
        terminalreporter.write_line(
            f"[kafka] integration and fault tests on a real {b.kind} broker at {b.bootstrap_servers}: {counts}"
        )
    else:
        terminalreporter.write_line("[kafka] no Kafka test ran in this session")
