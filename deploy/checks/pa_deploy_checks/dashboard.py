"""deploy/grafana/pa-worker-dashboard.json: structure, and the metrics its panels must show."""

from __future__ import annotations

import argparse
import json
from typing import Any

from pa_deploy_checks import promql
from pa_deploy_checks.core import DASHBOARD, Problems, dig

REQUIRED_METRICS = (
    "pa_worker_determinations_total",
    "pa_worker_decision_latency_seconds_bucket",
    "pa_worker_requests_past_deadline_total",
    "pa_worker_dlq_messages_total",
    "pa_worker_consumer_lag_messages",
    "pa_worker_transactions_total",
    "pa_worker_reauth_reminders_scheduled_total",
    "pa_worker_reauth_reminders_emitted_total",
    "pa_worker_reauth_reminders_cancelled_total",
    "pa_worker_reauth_reminders_due",
    "pa_worker_open_pends",
    "pa_worker_open_pends_past_threshold",
    "pa_worker_nearest_decision_deadline_seconds",
    "pa_worker_decision_deadlines_missed_total",
    "pa_worker_time_to_final_decision_seconds_bucket",
    "pa_worker_final_decisions_total",
    "pa_worker_reviews_total",
)
"""What an operator must see (that every name the dashboard queries is exported is
tests/deploy/test_deploy_metric_names.py's job, against worker.metrics)."""


def dashboard_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def walk(panels: list[dict[str, Any]]) -> None:
        for panel in panels:
            out.append(panel)
            walk(panel.get("panels", []) or [])

    walk(dashboard.get("panels", []))
    return out


def cmd_dashboard(args: argparse.Namespace) -> None:
    p = Problems()
    dashboard = json.loads(DASHBOARD.read_text())
    p.require(dashboard.get("uid") and dashboard.get("title"), "dashboard needs uid and title")
    panels = [pl for pl in dashboard_panels(dashboard) if pl.get("type") != "row"]
    ids = [pl.get("id") for pl in dashboard_panels(dashboard)]
    p.require(len(ids) == len(set(ids)), "panel ids must be unique")
    variables = {v["name"]: v for v in dashboard.get("templating", {}).get("list", [])}
    p.require(
        dig(variables, "DS_PROMETHEUS", "type") == "datasource", "templating needs datasource variable DS_PROMETHEUS"
    )
    for panel in panels:
        ds_uid = dig(panel, "datasource", "uid")
        p.require(
            ds_uid in {"${DS_PROMETHEUS}", "prometheus"}, f"panel {panel.get('title')!r}: datasource uid {ds_uid!r}"
        )
        p.require(panel.get("targets"), f"panel {panel.get('title')!r} has no queries")
        for target in panel.get("targets", []):
            p.require(
                promql.selected_names(target.get("expr", "")), f"panel {panel.get('title')!r}: query selects no metric"
            )
    exprs = " ".join(promql.dashboard_expressions(dashboard))
    for metric in REQUIRED_METRICS:
        p.require(metric in exprs, f"no panel queries {metric}")
    latency = [
        pl
        for pl in panels
        if "pa_worker_decision_latency_seconds_bucket" in json.dumps(pl.get("targets"))
        and "histogram_quantile" in json.dumps(pl.get("targets"))
    ]
    p.require(latency, "no decision latency percentile panel")
    for panel in latency:
        steps = {s.get("value") for s in dig(panel, "fieldConfig", "defaults", "thresholds", "steps", default=[])}
        p.require({86400, 259200} <= steps, f"panel {panel['title']!r}: thresholds at 86400 and 259200 required")
        p.require(
            dig(panel, "fieldConfig", "defaults", "custom", "thresholdsStyle", "mode")
            in {"line", "line+area", "dashed", "dashed+area"},
            f"panel {panel['title']!r}: thresholds must be drawn as lines",
        )
    p.finish(f"{len(panels)} panels, {len(variables)} variables, deadline thresholds drawn")
