"""Small replay inputs whose outcomes are worked out by hand from the policy (INTERPRETATION.md rows,
the golden cases), for tests/offline."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from contracts import PARequest
from policy import DEFAULT_SETTINGS, PolicySettings, evaluate

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "contracts" / "examples" / "valid"


def example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / f"{name}.json").read_text())
    return data


def request(name: str, request_id: str, **changes: Any) -> dict[str, Any]:
    """The example ``name`` with its ``request_id`` and member id replaced, and ``changes`` applied
    (``ecog__assessed_on="2026-10-18"`` sets ``ecog.assessed_on``)."""
    data = copy.deepcopy(example(name))
    data["request_id"] = request_id
    data["member"]["member_id"] = "M" + request_id.replace("-", "")[-12:]
    for path, value in changes.items():
        node = data
        *parents, leaf = path.split("__")
        for p in parents:
            node = node[p]
        node[leaf] = value
    return data


def line(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"))


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(x + "\n" for x in lines), encoding="utf-8")
    return path


def determination_json(data: dict[str, Any], settings: PolicySettings = DEFAULT_SETTINGS) -> str:
    """What the worker publishes for ``data`` under ``settings``, decided at its receipt."""
    req = PARequest.model_validate_json(line(data))
    return evaluate(req, req.received_at, settings).model_dump_json()


def version_file(path: Path, version: str, effective_from: str = "2026-12-01", **fields: Any) -> Path:
    """A candidate version file (TOML)."""
    body = [f"effective_from = {effective_from}", f'version = "{version}"']
    for name, value in fields.items():
        body.append(f"{name} = {json.dumps(value)}")
    path.write_text("\n".join(body) + "\n", encoding="utf-8")
    return path
