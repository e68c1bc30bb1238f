"""Small replay inputs whose outcomes are worked out by hand from the policy (INTERPRETATION.md rows,
the golden cases), for tests/offline."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from contracts import PARequest
from policy import DEFAULT_SETTINGS, PolicySettings, evaluate
from policy.evidence import local_date
from policy.settings import zone

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


OLD = DEFAULT_SETTINGS.replace(version="2025-12-11.1", ecog_window_days=45, step_up_whole_vial_billing=False)
"""An earlier parameter set, as a worker published it: a 45-day ECOG window, step-up doses billed at dose."""


def published_case(tmp_path: Path) -> tuple[Path, Path]:
    """Requests and published determinations of :data:`OLD` for the published comparison (see
    tests/offline/test_replay.py::test_against_published_determinations_of_an_earlier_parameter_set)."""
    p1 = request("initial_approved", "PUB-1")
    p2 = request("initial_approved", "PUB-2", ecog__assessed_on="2026-10-18")
    p3 = request("continuation_approved", "PUB-3")
    p4 = request("initial_approved", "PUB-4")
    p5 = request("initial_approved", "PUB-5")
    reviewer = json.loads(determination_json(p3, OLD))
    reviewer.update(decided_by={"kind": "reviewer", "reviewer_id": "RV-1", "credential": "MD"}, decision="denied")
    reviewer.update(authorization=None, pend_reason=None)
    no_criteria = json.loads(determination_json(p5, OLD))
    del no_criteria["criteria"]
    published = write_lines(
        tmp_path / "published.jsonl",
        [
            determination_json(p1, OLD),  # line 1
            determination_json(p1),  # line 2: a later duplicate, not compared
            json.dumps(reviewer),  # line 3: a reviewer's, skipped
            determination_json(p3, OLD),  # line 4
            determination_json(p2, OLD),  # line 5
            determination_json(p5, OLD),  # line 6: its request is not in the input
            "{not json",  # line 7
            json.dumps(no_criteria),  # line 8
        ],
    )
    bad = request("initial_approved", "PUB-BAD")
    bad["member"]["member_id"] = "MSECRET9876"
    del bad["prescriber"]
    requests = write_lines(
        tmp_path / "requests.jsonl",
        [line(p1), line(p2), line(p3), line(p4), "", line(bad), line(p2)],
    )
    return requests, published


_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def moved(data: dict[str, Any], received_at: datetime) -> dict[str, Any]:
    """``data`` received at ``received_at`` instead, every clinical date moved by the same number of local
    days (dates of birth stay): the request means what it meant, received on another day."""
    tz = zone(DEFAULT_SETTINGS.timezone)
    old = datetime.fromisoformat(data["received_at"].replace("Z", "+00:00"))
    days = (local_date(received_at, tz) - local_date(old, tz)).days

    def shift(node: Any, key: str = "") -> Any:
        if isinstance(node, dict):
            return {k: shift(v, k) for k, v in node.items()}
        if isinstance(node, list):
            return [shift(v, key) for v in node]
        if isinstance(node, str) and key != "date_of_birth" and _DAY.match(node):
            return (date.fromisoformat(node) + timedelta(days=days)).isoformat()
        return node

    out: dict[str, Any] = shift(copy.deepcopy(data))
    out["received_at"] = received_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return out
