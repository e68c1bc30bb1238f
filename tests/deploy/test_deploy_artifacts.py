"""Structure of the deploy/ artifacts: dashboard panels, alert annotations and runbook anchors,
rule-test coverage, the generated PrometheusRule, Dockerfile, compose file and the example
Secret. Pure Python (no promtool, kubectl or Docker: scripts/deploy-check.sh runs those)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"

REQUIRED_ALERTS = {
    "PaWorkerConsumerLagGrowing",
    "PaWorkerDecisionNearDeadline",
    "PaWorkerRequestsPastDeadline",
    "PaWorkerDlqSpike",
    "PaWorkerTransactionAborts",
    "PaWorkerDown",
    "PaWorkerNotReady",
    "PaWorkerReauthRemindersStuck",
    "PaWorkerAutomatedDenialIssued",
    "PaWorkerPendsNearDecisionDeadline",
    "PaWorkerPendDecisionDeadlineBreached",
}


sys.path.insert(0, str(DEPLOY / "checks"))
import pa_deploy_checks as checks  # noqa: E402  (deploy/checks is not an installed package)


@pytest.fixture(scope="module")
def dashboard() -> dict:
    return json.loads((DEPLOY / "grafana" / "pa-worker-dashboard.json").read_text())


@pytest.fixture(scope="module")
def rules() -> dict:
    return yaml.safe_load((DEPLOY / "prometheus" / "rules.yml").read_text())


def _panels(panels: list[dict]) -> Iterator[dict]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []) or [])


def _exprs(panel: dict) -> str:
    return " ".join(t.get("expr", "") for t in panel.get("targets", []))


def _find(dashboard: dict, *needles: str) -> list[dict]:
    return [p for p in _panels(dashboard["panels"]) if all(n in _exprs(p) for n in needles)]


# ------------------------------------------------------------------------------ dashboard


def test_dashboard_uses_the_prometheus_datasource_variable(dashboard: dict) -> None:
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    assert variables["DS_PROMETHEUS"]["query"] == "prometheus"
    for panel in _panels(dashboard["panels"]):
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] in {"${DS_PROMETHEUS}", "prometheus"}, panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] in {"${DS_PROMETHEUS}", "prometheus"}, panel["title"]


def test_dashboard_panel_ids_and_layout(dashboard: dict) -> None:
    panels = list(_panels(dashboard["panels"]))
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    for panel in panels:
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24, panel["title"]
    cells: dict[tuple[int, int], str] = {}
    for panel in panels:
        pos = panel["gridPos"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"{panel['title']!r} overlaps {cells[(x, y)]!r}"
                cells[(x, y)] = panel["title"]


@pytest.mark.parametrize(
    ("what", "needles"),
    [
        ("determinations per minute by decision", ("sum by (decision)", "pa_worker_determinations_total", "* 60")),
        ("approval rate", ('decision="approved"', "pa_worker_determinations_total")),
        ("pend reasons", ("sum by (pend_reason)", 'decision="pended"')),
        ("requests past deadline", ("pa_worker_requests_past_deadline_total",)),
        ("DLQ rate by error class", ("sum by (error_class)", "pa_worker_dlq_messages_total")),
        ("consumer lag", ("pa_worker_consumer_lag_messages",)),
        ("transaction aborts", ("pa_worker_transactions_total", 'outcome="aborted"')),
        ("reminders scheduled", ("pa_worker_reauth_reminders_scheduled_total",)),
        ("reminders emitted", ("pa_worker_reauth_reminders_emitted_total",)),
        ("reminders cancelled", ("pa_worker_reauth_reminders_cancelled_total",)),
        ("reminders due", ("pa_worker_reauth_reminders_due",)),
        ("open pends by priority and pend reason", ("sum by (priority, pend_reason)", "pa_worker_open_pends{")),
        (
            "time to final decision p50/p90 by priority and decider",
            (
                "histogram_quantile(0.50",
                "histogram_quantile(0.90",
                "by (priority, decider, le)",
                "pa_worker_time_to_final_decision_seconds_bucket",
            ),
        ),
        ("approval rate of final decisions", ('pa_worker_final_decisions_total{decision="approved"',)),
        ("engine share of final decisions", ('pa_worker_final_decisions_total{decider="engine"',)),
        (
            "reviewer approval of clinical-review pends",
            (
                'decider="reviewer", pend_reason="clinical_review", decision="approved"',
                'decider="reviewer", pend_reason="clinical_review", namespace',
            ),
        ),
        ("pends past warning and breach", ("sum by (threshold)", "pa_worker_open_pends_past_threshold")),
        ("deadlines missed", ("pa_worker_decision_deadlines_missed_total",)),
        ("nearest deadline", ("pa_worker_nearest_decision_deadline_seconds",)),
        ("reviews by result", ("sum by (result)", "pa_worker_reviews_total")),
    ],
)
def test_dashboard_has_panel(dashboard: dict, what: str, needles: tuple[str, ...]) -> None:
    assert _find(dashboard, *needles), f"no panel for {what}"


def test_latency_panel_draws_the_regulatory_deadlines(dashboard: dict) -> None:
    panels = _find(dashboard, "histogram_quantile", "pa_worker_decision_latency_seconds_bucket")
    assert panels
    for panel in panels:
        quantiles = {t["expr"].split("(", 2)[1].split(",")[0] for t in panel["targets"]}
        assert "0.99" in quantiles and len(quantiles) >= 2, quantiles
        defaults = panel["fieldConfig"]["defaults"]
        assert defaults["unit"] == "s"
        steps = {step["value"] for step in defaults["thresholds"]["steps"]}
        assert {86400, 259200} <= steps  # 24 h expedited, 72 h standard
        assert defaults["custom"]["thresholdsStyle"]["mode"] in {"line", "dashed", "line+area", "dashed+area"}


def test_dashboard_check_passes() -> None:
    assert checks.main(["dashboard"]) == 0


# ------------------------------------------------------------------------------ rules


def _alerts(rules: dict) -> list[dict]:
    return [r for g in rules["groups"] for r in g["rules"] if "alert" in r]


def test_required_alerts_exist(rules: dict) -> None:
    assert {r["alert"] for r in _alerts(rules)} >= REQUIRED_ALERTS


def test_every_alert_is_annotated_and_its_runbook_anchor_exists(rules: dict) -> None:
    anchors = checks.runbook_anchors()
    for rule in _alerts(rules):
        annotations = rule["annotations"]
        assert annotations["summary"] and annotations["description"], rule["alert"]
        path, _, anchor = annotations["runbook_url"].partition("#")
        assert path == "deploy/RUNBOOK.md", rule["alert"]
        assert anchor == rule["alert"].lower() and anchor in anchors, rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]


def test_runbook_covers_operations() -> None:
    assert checks.main(["runbook"]) == 0
    anchors = checks.runbook_anchors()
    assert {"scaling", "graceful-shutdown", "dlq-replay", "logs-and-patient-identifiers"} <= anchors


def test_rule_tests_fire_and_silence_every_alert(rules: dict) -> None:
    suite = yaml.safe_load((DEPLOY / "prometheus" / "rules_test.yml").read_text())
    assert suite["rule_files"] == ["rules.yml"]
    fired: set[str] = set()
    silent: set[str] = set()
    for test in suite["tests"]:
        for case in test.get("alert_rule_test", []):
            (fired if case.get("exp_alerts") else silent).add(case["alertname"])
    names = {r["alert"] for r in _alerts(rules)}
    assert names - fired == set(), "alerts never tested firing"
    assert names - silent == set(), "alerts never tested silent"
    recorded = {r["record"] for g in rules["groups"] for r in g["rules"] if "record" in r}
    tested = " ".join(case["expr"] for test in suite["tests"] for case in test.get("promql_expr_test", []))
    assert any(name in tested for name in recorded)


def test_generated_prometheusrule_is_in_sync() -> None:
    assert checks.main(["prometheusrule"]) == 0


# ------------------------------------------------------------------------------ image, compose, secret


def test_dockerfile_structure() -> None:
    assert checks.main(["dockerfile"]) == 0


def test_build_context_is_only_what_the_image_needs() -> None:
    """deploy/Dockerfile.dockerignore (read by BuildKit for `-f deploy/Dockerfile`) sends only the
    files the builder copies: no .venv, .git, .kafka, tests or byte code. Matching semantics are
    docker-py's implementation of .dockerignore."""
    from docker.utils.build import exclude_paths

    lines = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    sent = exclude_paths(str(ROOT), patterns)
    assert {path.split("/")[0] for path in sent} == {
        "pyproject.toml",
        "README.md",
        "constraints.txt",
        "worker",
        "contracts",
        "policy",
        "offline",
    }
    assert "worker/metrics.py" in sent and "worker/cli.py" in sent
    assert not [path for path in sent if "__pycache__" in path or path.endswith((".pyc", ".pyo"))]


def test_compose_structure() -> None:
    assert checks.main(["compose"]) == 0


def test_secret_example_holds_only_placeholders() -> None:
    assert checks.main(["secret-example"]) == 0


def _env_file(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#"))


@pytest.mark.parametrize("overlay", ["staging", "production"])
def test_overlay_config_is_accepted_by_the_worker(overlay: str) -> None:
    """Base config.env merged with the overlay's configMapGenerator literals, plus the SASL keys
    the Secret provides, must pass worker.config validation (the same check deploy-check.sh runs
    on the kustomize output)."""
    env = _env_file(DEPLOY / "k8s" / "base" / "config.env")
    kustomization = yaml.safe_load((DEPLOY / "k8s" / "overlays" / overlay / "kustomization.yaml").read_text())
    for generator in kustomization.get("configMapGenerator", []):
        assert generator["name"] == "pa-worker-config" and generator["behavior"] == "merge"
        env.update(literal.split("=", 1) for literal in generator.get("literals", []))
    env.update(PA_KAFKA_SASL_USERNAME="placeholder", PA_KAFKA_SASL_PASSWORD="placeholder")
    problems = checks.Problems()
    checks.settings_problems(env, problems)
    assert problems.items == []


def test_compose_worker_config_is_accepted_by_the_worker() -> None:
    assert checks.main(["settings", "--compose"]) == 0


def test_base_config_keeps_automated_denials_off() -> None:
    config = _env_file(DEPLOY / "k8s" / "base" / "config.env")
    assert config["PA_ALLOW_AUTOMATED_DENIALS"] == "false"
    assert int(config["PA_SHUTDOWN_TIMEOUT_SECONDS"]) == 20
    deployment = yaml.safe_load((DEPLOY / "k8s" / "base" / "deployment.yaml").read_text())
    assert deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > 20
