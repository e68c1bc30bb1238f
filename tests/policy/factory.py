"""Requests for the policy tests: the contract's valid examples, changed one field at a time."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from contracts import CriterionResult, PADetermination, PARequest
from policy import DEFAULT_SETTINGS, PolicySettings, evaluate

EXAMPLES = Path(__file__).resolve().parents[2] / "contracts" / "examples"
RECEIVED_AT = datetime(2026, 11, 27, 15, 4, 5, tzinfo=UTC)
RECEIVED_ON = date(2026, 11, 27)
"""Every example is received at 2026-11-27T15:04:05Z."""

Mutator = Callable[[dict[str, Any]], None]


def example(name: str) -> dict[str, Any]:
    return dict(json.loads((EXAMPLES / "valid" / f"{name}.json").read_text()))


def initial() -> dict[str, Any]:
    """Initial request that meets every criterion (start 2026-12-01, no quantity requested)."""
    return example("initial_approved")


def continuation() -> dict[str, Any]:
    """Continuation that meets every criterion (therapy since 2026-06-15, VGPR since 2026-08-01)."""
    return example("continuation_approved")


def days_before(n: int, of: date = RECEIVED_ON) -> str:
    """The ISO date ``n`` days before the receipt date (negative: after it)."""
    return (of - timedelta(days=n)).isoformat()


def parse(data: dict[str, Any]) -> PARequest:
    """Through JSON, as the worker sees it (strict mode validates dates from JSON strings)."""
    return PARequest.model_validate_json(json.dumps(data))


def change(data: dict[str, Any], *mutators: Mutator) -> dict[str, Any]:
    out = copy.deepcopy(data)
    for m in mutators:
        m(out)
    return out


def set_(path: str, value: Any) -> Mutator:
    """Set a dotted path (``"ecog.score"``); list items by index (``"documents.0.date"``)."""

    def apply(d: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = d
        for p in parents:
            node = node[int(p)] if isinstance(node, list) else node.setdefault(p, {})
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return apply


def drop(path: str) -> Mutator:
    def apply(d: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = d
        for p in parents:
            node = node[int(p)] if isinstance(node, list) else node[p]
        if isinstance(node, list):
            del node[int(last)]
        else:
            node.pop(last, None)

    return apply


def run(
    data: dict[str, Any], now: datetime | None = None, settings: PolicySettings = DEFAULT_SETTINGS
) -> PADetermination:
    request = parse(data)
    return evaluate(request, now or request.received_at, settings)


def criterion(det: PADetermination, cid: str) -> CriterionResult:
    (found,) = [c for c in det.criteria if c.id == cid]
    return found


def strictly_valid(det: PADetermination) -> PADetermination:
    """The determination survives the contract's strict validation, unchanged."""
    raw = det.model_dump_json()
    again = PADetermination.model_validate_json(raw)
    assert again.model_dump_json() == raw
    return again
