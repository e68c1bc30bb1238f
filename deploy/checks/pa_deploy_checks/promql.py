"""Extract the metric names that PromQL expressions select.

A small lexer, not a full PromQL parser: enough for the expressions in
deploy/prometheus/rules.yml and deploy/grafana/pa-worker-dashboard.json. It drops string
literals, label matchers ``{...}``, range/subquery brackets ``[...]``, Grafana variables
(``$job``, ``${DS_PROMETHEUS}``, ``$__rate_interval``), numbers and durations, the label lists
of ``by``/``without``/``on``/``ignoring``/``group_left``/``group_right``, keywords and function
names. What is left is the metric names. Grafana's ``label_values(metric, label)`` template
query is understood too.

Standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

KEYWORDS = frozenset(
    {
        "and",
        "or",
        "unless",
        "bool",
        "offset",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "inf",
        "nan",
        "atan2",
        "start",
        "end",
    }
)
GROUPING = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
# Aggregation operators may be followed by `by (...)` instead of `(`, e.g. `sum by (x) (...)`.
AGGREGATORS = frozenset(
    {
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "count_values",
        "bottomk",
        "topk",
        "quantile",
        "limitk",
        "limit_ratio",
    }
)

_STRING = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')
_GRAFANA_VAR = re.compile(r"\$\{[^}]*\}|\$\w+|\[\[\w+\]\]")
# Grafana: label_values(metric{matchers}, label) or label_values(label).
_LABEL_VALUES = re.compile(
    r"^\s*label_values\s*\(\s*(?:([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?:\{[^}]*\})?\s*,)?\s*\w+\s*\)\s*$"
)
_TOKEN = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[a-zA-Z]*|\S")

HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def _strip_brackets(expr: str, opening: str, closing: str) -> str:
    out: list[str] = []
    depth = 0
    for ch in expr:
        if ch == opening:
            depth += 1
            out.append(" ")
        elif ch == closing and depth:
            depth -= 1
            out.append(" ")
        elif depth:
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out)


def selected_names(expr: str) -> set[str]:
    """Metric names selected by one PromQL expression (or Grafana label_values query)."""
    match = _LABEL_VALUES.match(expr)
    if match:
        return {match.group(1)} if match.group(1) else set()
    text = _GRAFANA_VAR.sub(" 1 ", expr)
    text = _STRING.sub(" ", text)
    text = re.sub(r"#[^\n]*", " ", text)  # PromQL comments
    text = _strip_brackets(text, "{", "}")
    text = _strip_brackets(text, "[", "]")
    tokens = _TOKEN.findall(text)

    names: set[str] = set()
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if tok.lower() in GROUPING and nxt == "(":
            # Skip the label list: by (a, b)
            j = i + 2
            while j < len(tokens) and tokens[j] != ")":
                j += 1
            i = j + 1
            continue
        if re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*", tok):
            if tok.lower() in KEYWORDS or tok in AGGREGATORS or nxt == "(":
                i += 1
                continue
            names.add(tok)
        i += 1
    return names


def base_metric_name(name: str) -> str:
    """pa_worker_x_seconds_bucket -> pa_worker_x_seconds (likewise _sum and _count)."""
    for suffix in HISTOGRAM_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def is_recording_rule_name(name: str) -> bool:
    """Recording rules follow level:metric:operations, so they contain a colon."""
    return ":" in name


def names_in(exprs: Iterable[str]) -> set[str]:
    found: set[str] = set()
    for expr in exprs:
        found |= selected_names(expr)
    return found


def dashboard_expressions(dashboard: dict[str, Any]) -> list[str]:
    """Every PromQL expression of a Grafana dashboard: panel targets (rows and nested panels
    included), annotation queries and query-type template variables."""
    exprs: list[str] = []

    def walk(panels: list[dict[str, Any]]) -> None:
        for panel in panels:
            for target in panel.get("targets", []) or []:
                if target.get("expr"):
                    exprs.append(target["expr"])
            walk(panel.get("panels", []) or [])

    walk(dashboard.get("panels", []) or [])
    for annotation in dashboard.get("annotations", {}).get("list", []):
        if annotation.get("expr"):
            exprs.append(annotation["expr"])
    for var in dashboard.get("templating", {}).get("list", []):
        if var.get("type") == "query":
            query = var.get("query")
            if isinstance(query, dict):
                query = query.get("query", "")
            if query:
                exprs.append(query)
    return exprs


def rules_expressions(rules: dict[str, Any]) -> list[str]:
    return [rule["expr"] for group in rules.get("groups", []) for rule in group.get("rules", [])]


def recorded_names(rules: dict[str, Any]) -> set[str]:
    return {rule["record"] for group in rules.get("groups", []) for rule in group.get("rules", []) if "record" in rule}
