"""Every metric the dashboard and the Prometheus rules query must be one the worker exports.

The worker's registry (worker.metrics.REGISTRY) is served with prometheus_client's own HTTP
server on a free loopback port and scraped over HTTP, exactly as Prometheus would. Names are
checked against the `# HELP` / `# TYPE` lines. No Kafka involved.
"""

from __future__ import annotations

import json
import socket
import sys
import urllib.request
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, start_http_server

import worker.metrics

ROOT = Path(__file__).resolve().parents[2]

DASHBOARD = ROOT / "deploy" / "grafana" / "pa-worker-dashboard.json"
RULES = ROOT / "deploy" / "prometheus" / "rules.yml"
# Series Prometheus itself creates; no exporter serves them.
PROMETHEUS_GENERATED = {"up", "ALERTS", "ALERTS_FOR_STATE"}


sys.path.insert(0, str(ROOT / "deploy" / "checks"))
from pa_deploy_checks import promql  # noqa: E402  (deploy/checks is not an installed package)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _scrape(registry: CollectorRegistry) -> str:
    """Serve `registry` on a free loopback port, GET /metrics, stop the server."""
    port = _free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            assert response.status == 200
            return response.read().decode("utf-8")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _families(exposition: str) -> dict[str, str]:
    """{family name: type} from the # HELP / # TYPE lines of a text exposition."""
    helps: set[str] = set()
    types: dict[str, str] = {}
    for line in exposition.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] == "#" and parts[1] == "HELP":
            helps.add(parts[2])
        elif len(parts) >= 4 and parts[0] == "#" and parts[1] == "TYPE":
            types[parts[2]] = parts[3]
    assert set(types) == helps, f"HELP without TYPE or the reverse: {set(types) ^ helps}"
    return types


@pytest.fixture(scope="module")
def exported() -> dict[str, str]:
    types = _families(_scrape(worker.metrics.REGISTRY))
    # Older client versions print a counter's TYPE line without the _total suffix.
    for name, kind in list(types.items()):
        if kind == "counter" and not name.endswith("_total"):
            types[f"{name}_total"] = kind
    return types


@pytest.fixture(scope="module")
def rules() -> dict:
    return yaml.safe_load(RULES.read_text())


@pytest.fixture(scope="module")
def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def _unexported(names: set[str], exported: dict[str, str], recorded: set[str]) -> list[str]:
    missing = []
    for name in sorted(names):
        if name in PROMETHEUS_GENERATED:
            continue
        if promql.is_recording_rule_name(name):
            if name not in recorded:
                missing.append(f"{name} (no such recording rule)")
            continue
        if name in exported:
            continue
        base = promql.base_metric_name(name)
        if base != name and exported.get(base) in {"histogram", "summary"}:
            continue
        missing.append(name)
    return missing


def test_labelled_metrics_without_children_expose_help_and_type() -> None:
    """prometheus_client prints HELP/TYPE for a labelled metric before any label value is used,
    so a name check against a fresh worker process is meaningful."""
    registry = CollectorRegistry()
    Counter("probe_events_total", "Labelled counter, never incremented.", ["kind"], registry=registry)
    Gauge("probe_level", "Labelled gauge, never set.", ["topic", "partition"], registry=registry)
    Histogram("probe_latency_seconds", "Labelled histogram, never observed.", ["priority"], registry=registry)
    Info("probe_build", "Info, never set.", registry=registry)

    text = _scrape(registry)
    types = _families(text)

    assert types["probe_events_total"] == "counter"
    assert types["probe_level"] == "gauge"
    assert types["probe_latency_seconds"] == "histogram"
    assert types["probe_build_info"] == "gauge"  # Info "x" is exposed as gauge x_info
    sample_lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert not any(line.startswith(("probe_events", "probe_level", "probe_latency")) for line in sample_lines), (
        "labelled metrics without children must have no samples"
    )


def test_worker_registry_exports_the_documented_families(exported: dict[str, str]) -> None:
    expected = {
        "pa_worker_build_info": "gauge",
        "pa_worker_determinations_total": "counter",
        "pa_worker_decision_latency_seconds": "histogram",
        "pa_worker_batch_processing_seconds": "histogram",
        "pa_worker_batch_records": "histogram",
        "pa_worker_requests_past_deadline_total": "counter",
        "pa_worker_dlq_messages_total": "counter",
        "pa_worker_in_flight_requests": "gauge",
        "pa_worker_last_processed_timestamp_seconds": "gauge",
        "pa_worker_transactions_total": "counter",
        "pa_worker_consumer_lag_messages": "gauge",
        "pa_worker_assigned_partitions": "gauge",
        "pa_worker_ready": "gauge",
        "pa_worker_reauth_reminders_scheduled_total": "counter",
        "pa_worker_reauth_reminders_emitted_total": "counter",
        "pa_worker_reauth_reminders_cancelled_total": "counter",
        "pa_worker_reauth_reminders_pending": "gauge",
        "pa_worker_reauth_reminders_due": "gauge",
        "pa_worker_reauth_next_due_timestamp_seconds": "gauge",
    }
    for name, kind in expected.items():
        assert exported.get(name) == kind, f"{name}: expected {kind}, scraped {exported.get(name)}"


def test_every_dashboard_metric_is_exported_by_the_worker(
    dashboard: dict, rules: dict, exported: dict[str, str]
) -> None:
    names = promql.names_in(promql.dashboard_expressions(dashboard))
    assert len(names) >= 15, f"suspiciously few metric names extracted from the dashboard: {names}"
    assert _unexported(names, exported, promql.recorded_names(rules)) == []


def test_every_rule_metric_is_exported_by_the_worker(rules: dict, exported: dict[str, str]) -> None:
    names = promql.names_in(promql.rules_expressions(rules))
    assert len(names) >= 10, f"suspiciously few metric names extracted from the rules: {names}"
    assert _unexported(names, exported, promql.recorded_names(rules)) == []


def test_recording_rules_only_build_on_worker_metrics(rules: dict, exported: dict[str, str]) -> None:
    for group in rules["groups"]:
        for rule in group["rules"]:
            if "record" not in rule:
                continue
            assert rule["record"].startswith("pa_worker:"), rule["record"]
            raw = {n for n in promql.selected_names(rule["expr"]) if not promql.is_recording_rule_name(n)}
            assert raw, f"{rule['record']} selects no metric"
            assert _unexported(raw, exported, set()) == [], rule["record"]


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        (
            'sum by (decision) (rate(pa_worker_determinations_total{job=~"$job"}[$__rate_interval])) * 60',
            {"pa_worker_determinations_total"},
        ),
        ("histogram_quantile(0.99, sum(rate(a_seconds_bucket[5m])) by (le, priority))", {"a_seconds_bucket"}),
        ("x / ignoring(instance) group_left(version) y offset 1h", {"x", "y"}),
        ('max by (namespace) (foo{topic="by (bar)"}) and on (namespace) time() - baz > 3600', {"foo", "baz"}),
        ('absent(up{job="pa-worker"})', {"up"}),
        (
            "pa_worker:consumer_lag_messages:sum > 500 and deriv(pa_worker:consumer_lag_messages:sum[15m]) > 0",
            {"pa_worker:consumer_lag_messages:sum"},
        ),
        ('label_values(pa_worker_build_info{namespace=~"$namespace"}, instance)', {"pa_worker_build_info"}),
        ("label_values(namespace)", set()),
        ('min(next_due{instance=~"${instance}"} > 0) * 1e3', {"next_due"}),
    ],
)
def test_promql_name_extraction(expr: str, names: set[str]) -> None:
    assert promql.selected_names(expr) == names


def test_histogram_suffixes_are_stripped_only_for_histograms(exported: dict[str, str]) -> None:
    assert (
        _unexported(
            {
                "pa_worker_decision_latency_seconds_bucket",
                "pa_worker_batch_records_count",
                "pa_worker_batch_processing_seconds_sum",
            },
            exported,
            set(),
        )
        == []
    )
    # A gauge does not gain _bucket/_count series.
    assert _unexported({"pa_worker_ready_count"}, exported, set()) == ["pa_worker_ready_count"]
    assert _unexported({"pa_worker_no_such_metric"}, exported, set()) == ["pa_worker_no_such_metric"]
    assert _unexported({"pa_worker:no_such:rule"}, exported, set()) == [
        "pa_worker:no_such:rule (no such recording rule)"
    ]
