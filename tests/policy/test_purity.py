"""``policy`` is pure: no I/O, no clock, no Kafka, no logging (checked on the source)."""

from __future__ import annotations

import ast
from pathlib import Path

import policy

SOURCES = sorted(Path(policy.__file__).parent.glob("*.py"))
FORBIDDEN_MODULES = {
    "logging",
    "structlog",
    "aiokafka",
    "kafka",
    "os",
    "sys",
    "io",
    "socket",
    "subprocess",
    "time",
    "random",
    "pathlib",
    "shutil",
    "asyncio",
    "threading",
    "urllib",
    "http",
    "requests",
    "worker",
    "secrets",
}
FORBIDDEN_CALLS = {"now", "today", "utcnow", "time", "open", "print", "input", "getenv"}


def test_policy_imports_no_io_modules() -> None:
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in FORBIDDEN_MODULES, f"{path.name} imports {name}"


def test_policy_reads_no_clock_and_does_no_io() -> None:
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
                assert name not in FORBIDDEN_CALLS, f"{path.name}:{node.lineno} calls {name}()"
