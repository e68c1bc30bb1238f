"""A JVM client on the real broker: what a letter or claims system on Java sees of the worker.

tests/jvm is a small Java program (Maven; kafka-clients 4.1.1, as the broker's jars, and the
networknt JSON Schema validator). Built once per content of its pom and sources (the checksum
is kept in tests/jvm/target, which git ignores), it validates the requests against the published
schema as an intake system would, produces them keyed with the Java client's default partitioner,
and reads determinations, reauth-due events and DLQ records with read_committed, checking
headers, schemas and partitions (see its javadoc). It prints a JSON summary; this test asserts on
it, with the expected counts taken from the contract and the examples' names.
"""

from __future__ import annotations

import base64
import calendar
import copy
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REQUIRE_KAFKA
from tests.contracts.test_schema_independent import SEMANTIC_ONLY
from tests.kafkautil import EXAMPLES, ROOT, create_topics, env_for, settings_for

pytestmark = pytest.mark.kafka

JVM = ROOT / "tests" / "jvm"
TARGET = JVM / "target"
STAMP = TARGET / ".sources.sha256"
MAIN_CLASS = "org.mmm.pa.jvmclient.JvmClient"
NOW = datetime.fromisoformat("2026-11-28T12:00:00+00:00")  # the worker's clock (tests/clockproc.py)
COPIES = 3  # members per valid example
PARTITIONS = 6
REAUTH_LEAD_DAYS = 30


def _sources_digest() -> str:
    h = hashlib.sha256()
    for path in [JVM / "pom.xml", *sorted((JVM / "src").rglob("*"))]:
        if path.is_file():
            h.update(str(path.relative_to(JVM)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def _build() -> str:
    """``mvn -q -B package`` unless target/ holds a build of these exact sources; the classpath."""
    missing = [tool for tool in ("mvn", "java") if shutil.which(tool) is None]
    if missing:
        message = f"the JVM client test needs {' and '.join(missing)} (Java 17+ and Maven)"
        if REQUIRE_KAFKA:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    want = _sources_digest()
    classes, lib = TARGET / "classes", TARGET / "lib"
    built = STAMP.is_file() and STAMP.read_text().strip() == want and classes.is_dir() and lib.is_dir()
    if not built:
        shutil.rmtree(TARGET, ignore_errors=True)
        started = time.monotonic()
        proc = subprocess.run(
            ["mvn", "-q", "-B", "package"], cwd=JVM, capture_output=True, text=True, timeout=600, check=False
        )
        if proc.returncode != 0:
            pytest.fail(f"mvn package failed in tests/jvm:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
        STAMP.write_text(want + "\n")
        print(f"[jvm] built tests/jvm in {time.monotonic() - started:.1f} s")
    return f"{classes}{os.pathsep}{lib / '*'}"


def _add_months(d: date, months: int) -> date:
    month = d.month - 1 + months
    year, month = d.year + month // 12, month % 12 + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def _reminder_due_at_now(name: str, request: dict[str, Any]) -> bool:
    """Contract and README: approvals run from the requested start (else the decision date) for 6
    months less a day; the reminder is due 30 days before the end, at once if already inside."""
    if "approved" not in name:
        return False
    start = request["drug"].get("requested_start_date")
    valid_from = date.fromisoformat(start) if start else NOW.date()
    valid_through = _add_months(valid_from, 6) - timedelta(days=1)
    return valid_through - timedelta(days=REAUTH_LEAD_DAYS) <= NOW.date()


def _inputs(unique: str) -> tuple[list[dict[str, str]], dict[str, int]]:
    inputs: list[dict[str, str]] = []
    valid = reauth = 0
    for path in sorted((EXAMPLES / "valid").glob("*.json")):
        base = json.loads(path.read_text())
        for i in range(COPIES):
            req = copy.deepcopy(base)
            req["request_id"] = f"JVM-{unique}-{valid:03d}"
            req["member"]["member_id"] = f"MJVM{unique}{valid:03d}"
            inputs.append(
                {
                    "name": f"valid/{path.stem}#{i}",
                    "key": req["member"]["member_id"],
                    "value_b64": base64.b64encode(json.dumps(req).encode()).decode(),
                }
            )
            valid += 1
            reauth += _reminder_due_at_now(path.stem, req)
    invalid = sorted((EXAMPLES / "invalid").glob("*"))
    for i, path in enumerate(invalid):
        inputs.append(
            {
                "name": f"invalid/{path.name}",
                "key": f"MJVMBAD{unique}{i:03d}",
                "value_b64": base64.b64encode(path.read_bytes()).decode(),
            }
        )
    return inputs, {"determinations": valid, "reauth_due": reauth, "dlq": len(invalid)}


async def test_jvm_client_reads_what_the_contract_promises(bootstrap: str, unique: str, tmp_path: Path) -> None:
    classpath = _build()
    settings = settings_for(bootstrap, unique, topic_partitions=PARTITIONS)
    await create_topics(settings)
    inputs, expect = _inputs(unique)
    assert expect["reauth_due"] > 0, "the examples include an approval already inside the reminder window"
    config = {
        "bootstrap": bootstrap,
        "topics": {
            "requests": settings.topic_requests,
            "determinations": settings.topic_determinations,
            "reauth_due": settings.topic_reauth_due,
            "dlq": settings.topic_dlq,
        },
        "schemas_dir": str(ROOT / "contracts" / "schemas"),
        "inputs": inputs,
        "expect": expect,
        "timeout_ms": 90_000,
        "idle_ms": 2_000,
    }
    (tmp_path / "config.json").write_text(json.dumps(config))

    env = env_for(settings) | {"TEST_NOW": NOW.isoformat()}
    with open(tmp_path / "worker.log", "wb") as log:
        worker = subprocess.Popen([sys.executable, "-m", "tests.clockproc"], env=env, stdout=log, stderr=log, cwd=ROOT)
    try:
        started = time.monotonic()
        proc = subprocess.run(
            [
                "java",
                "-Xmx256m",
                "-XX:TieredStopAtLevel=1",
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                "-cp",
                classpath,
                MAIN_CLASS,
                str(tmp_path / "config.json"),
            ],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        elapsed = time.monotonic() - started
        assert worker.poll() is None, "the worker exited while the JVM client ran"
    finally:
        if worker.poll() is None:
            worker.terminate()
        code = worker.wait(timeout=30)
    assert proc.returncode == 0, f"JVM client failed:\n{proc.stderr[-4000:]}"
    summary = json.loads(proc.stdout)
    print(
        f"[jvm] {elapsed:.1f} s: produced {summary['produced']} over {summary['request_partitions']} partitions; "
        f"read {summary['read']} on partitions {summary['partitions_used']}; problems {len(summary['problems'])}"
    )
    assert code == 0, "the worker stops cleanly"

    assert summary["problems"] == [], "\n".join(summary["problems"][:30])
    assert summary["produced"] == len(inputs)
    assert summary["read"] == expect
    assert summary["request_partitions"] == PARTITIONS
    assert summary["partition_counts"] == {"determinations": PARTITIONS, "reauth_due": PARTITIONS, "dlq": PARTITIONS}
    assert summary["members_with_determinations"] == expect["determinations"]
    assert len(summary["partitions_used"]["determinations"]) >= 3, "members spread over partitions"
    assert summary["decisions"] == ["approved", "pended"]

    # The intake side: the published request schema, read by the Java validator.
    semantic_only = {name for (title, name) in SEMANTIC_ONLY if title == "pa.request"}
    for name, errors in summary["intake_schema_errors"].items():
        kind, _, file = name.partition("/")
        if kind == "valid":
            assert errors == [], f"{name}: {errors}"
        elif file.split("#")[0] in semantic_only:
            assert errors == [], f"{name} is semantic-only, yet the Java validator rejects it: {errors}"
        else:
            assert errors, f"{name} passes the published schema in the Java validator"
