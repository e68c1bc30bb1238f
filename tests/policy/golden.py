"""The golden clinical cases (``golden_cases.yaml``): load, run, and render them as a table.

``python -m tests.policy.golden`` rewrites ``tests/policy/GOLDEN.md`` from the YAML file (the
expected values, never the engine's output); ``--check`` fails when the table is out of date.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from contracts import PADetermination
from policy import DEFAULT_SETTINGS, PolicySettings
from policy.engine import evaluate, findings
from tests.policy.factory import example, parse

HERE = Path(__file__).resolve().parent
CASES_FILE = HERE / "golden_cases.yaml"
TABLE_FILE = HERE / "GOLDEN.md"
DROP = "__drop__"
INITIAL = ("LOB", "A.i", "A.ii", "A.iii", "A.docs", "QL")
CONTINUATION = ("LOB", "A.i", "B.i", "B.docs.A", "B.docs.B", "QL")


@dataclass(frozen=True)
class Case:
    name: str
    rule: list[str]
    base: str
    decision: str
    why: str
    set: dict[str, Any] = field(default_factory=dict)
    now: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    pend_reason: str | None = None
    not_met: dict[str, str] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    max_units: int | None = None
    valid_from: str | None = None
    valid_through: str | None = None
    reason: dict[str, list[str]] = field(default_factory=dict)

    def request_data(self) -> dict[str, Any]:
        data = copy.deepcopy(example(self.base))
        for path, value in self.set.items():
            _apply(data, path, value)
        return data

    def policy_settings(self) -> PolicySettings:
        return DEFAULT_SETTINGS.replace(**self.settings) if self.settings else DEFAULT_SETTINGS

    def expected_results(self, request_type: str) -> dict[str, tuple[str, str | None]]:
        """Criterion -> (result, code or None when only ``met`` is expected)."""
        ids = INITIAL if request_type == "initial" else CONTINUATION
        out: dict[str, tuple[str, str | None]] = {cid: ("met", None) for cid in ids}
        for cid, code in self.not_met.items():
            out[cid] = ("not_met", code)
        for cid, code in self.missing.items():
            out[cid] = ("missing", code)
        return out


def _apply(data: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node: Any = data
    for p in parents:
        node = node[int(p)] if isinstance(node, list) else node.setdefault(p, {})
    if isinstance(node, list):
        i = int(last)
        if value == DROP:
            del node[i]
        elif i == len(node):
            node.append(value)
        else:
            node[i] = value
    elif value == DROP:
        node.pop(last, None)
    else:
        node[last] = value


def load() -> list[Case]:
    raw = yaml.safe_load(CASES_FILE.read_text())
    cases = [Case(**item) for item in raw]
    names = [c.name for c in cases]
    assert len(names) == len(set(names)), "case names must be unique"
    return cases


@dataclass(frozen=True)
class Outcome:
    determination: PADetermination
    codes: dict[str, str]


def run(case: Case) -> Outcome:
    request = parse(case.request_data())
    now = datetime.fromisoformat(case.now) if case.now else request.received_at
    settings = case.policy_settings()
    det = evaluate(request, now, settings)
    codes = {result.id: code for result, code in findings(request, now, settings)}
    return Outcome(det, codes)


# --- the table ------------------------------------------------------------------------------------


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _changes(case: Case) -> str:
    if not case.set and not case.now and not case.settings:
        return "(as the example)"
    parts = [
        f"`{k}` {'removed' if v == DROP else '= ' + _cell(repr(v) if not isinstance(v, str) else v)}"
        for k, v in case.set.items()
    ]
    if case.now:
        parts.append(f"decided at {case.now}")
    parts.extend(f"setting `{k}` = {v}" for k, v in case.settings.items())
    return "; ".join(parts)


def render(cases: list[Case]) -> str:
    lines = [
        "# Golden clinical cases, policy MP-RX-FP-120-24",
        "",
        "Generated from `tests/policy/golden_cases.yaml` by `python -m tests.policy.golden`; do not edit.",
        "Each row is a contract example changed in the fields shown. The expected outcome comes from the",
        "policy and the label as `policy/INTERPRETATION.md` reads them (column Rule); `make test` checks",
        "that the engine gives exactly this outcome, every other criterion met.",
        "",
        f"{len(cases)} cases. Every request is received at 2026-11-27T15:04:05Z (11:04 in San Juan) unless",
        "the row changes `received_at`.",
        "",
        "| # | Case | Rule | Starts from | Changes | Decision | Criteria not met / missing | Units, period | Why |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for i, c in enumerate(cases, 1):
        decision = c.decision + (f" ({c.pend_reason})" if c.pend_reason else "")
        findings_ = [f"{k} not met: `{v}`" for k, v in c.not_met.items()]
        findings_ += [f"{k} missing: `{v}`" for k, v in c.missing.items()]
        units = []
        if c.max_units is not None:
            units.append(f"{c.max_units} units")
        if c.valid_from or c.valid_through:
            units.append(f"{c.valid_from or '…'} to {c.valid_through or '…'}")
        lines.append(
            f"| {i} | {c.name} | {', '.join(c.rule)} | {c.base} | {_changes(c)} | {decision} | "
            f"{'; '.join(findings_) or 'all met'} | {', '.join(units)} | {_cell(c.why)} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if GOLDEN.md is out of date")
    parser.add_argument(
        "--requests",
        action="store_true",
        help="print, as JSON Lines, the request of every case decided at its receipt time under the default "
        "settings (for `pa-worker evaluate -`)",
    )
    args = parser.parse_args(argv)
    if args.requests:
        for case in load():
            if case.now is None and not case.settings:
                print(json.dumps(case.request_data(), ensure_ascii=False))
        return 0
    text = render(load())
    if args.check:
        if TABLE_FILE.read_text() != text:
            print("tests/policy/GOLDEN.md is out of date: run python -m tests.policy.golden", file=sys.stderr)
            return 1
        return 0
    TABLE_FILE.write_text(text)
    print(f"wrote {TABLE_FILE.relative_to(Path.cwd()) if TABLE_FILE.is_relative_to(Path.cwd()) else TABLE_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
