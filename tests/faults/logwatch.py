"""Reading a worker subprocess's own JSON log: markers, partitions it owns, events."""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path


def log_events(log: Path) -> list[dict]:  # type: ignore[type-arg]
    events = []
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                events.append(json.loads(line))
            except ValueError:
                continue
    return events


async def wait_for_log(log: Path, pattern: str, timeout: float, count: int = 1) -> list[str]:
    """Lines of ``log`` matching ``pattern`` once there are ``count``; fails the test at ``timeout``."""
    rx = re.compile(pattern)
    deadline = time.monotonic() + timeout
    while True:
        lines = [ln for ln in (log.read_text(errors="replace") if log.exists() else "").splitlines() if rx.search(ln)]
        if len(lines) >= count:
            return lines
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"
            raise AssertionError(
                f"{pattern!r} seen {len(lines)}x, wanted {count}, in {log} after {timeout:.0f} s:\n{tail}"
            )
        await asyncio.sleep(0.1)


def assigned_partitions(log: Path, event: str = "partition assigned") -> list[int]:
    return [e["partition"] for e in log_events(log) if e.get("event") == event]


def owned_partitions(log: Path) -> set[int]:
    """The input partitions a worker owns now, from its own log (assigned, then released)."""
    owned: set[int] = set()
    for e in log_events(log):
        if e.get("event") == "partition assigned":
            owned.add(e["partition"])
        elif e.get("event") == "partition released":
            owned.discard(e["partition"])
    return owned
