"""deploy/compose/compose.yaml: the services, the worker's build and shutdown bound, mounts."""

from __future__ import annotations

import argparse
import re

import yaml

from pa_deploy_checks.core import COMPOSE, DASHBOARD, DOCKERFILE, METRICS_PORT, ROOT, RULES, Problems, dig, service_env


def cmd_compose(args: argparse.Namespace) -> None:
    p = Problems()
    compose = yaml.safe_load(COMPOSE.read_text())
    base = COMPOSE.parent
    services = compose.get("services", {})
    for name in ("kafka", "worker", "prometheus", "grafana"):
        p.require(name in services, f"service {name} missing")
    if not {"kafka", "worker", "prometheus", "grafana"} <= set(services):
        p.finish("")

    kafka = services["kafka"]
    p.require(
        str(kafka.get("image", "")).startswith("apache/kafka:"),
        f"kafka image must be apache/kafka, is {kafka.get('image')}",
    )
    kenv = service_env(kafka)
    for key in (
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
    ):
        p.require(kenv.get(key) == "1", f"kafka: {key} must be 1 on a single node")
    p.require(
        kenv.get("KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS") == "0",
        "kafka: KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS must be 0",
    )
    p.require("controller" in kenv.get("KAFKA_PROCESS_ROLES", ""), "kafka: KRaft combined mode expected")

    worker = services["worker"]
    build = worker.get("build", {})
    context = (base / build.get("context", ".")).resolve()
    p.require(context == ROOT, f"worker build context must be the repository root, is {context}")
    p.require(
        (context / build.get("dockerfile", "Dockerfile")).resolve() == DOCKERFILE, "worker must build deploy/Dockerfile"
    )
    command = worker.get("command", [])
    command = command.split() if isinstance(command, str) else command
    p.require(
        "run" in command and "--create-topics" in command, f"worker command must be `run --create-topics`, is {command}"
    )
    wenv = service_env(worker)
    p.require(wenv.get("PA_ALLOW_AUTOMATED_DENIALS") == "false", "worker: PA_ALLOW_AUTOMATED_DENIALS must be false")
    p.require("kafka:" in wenv.get("KAFKA_BOOTSTRAP_SERVERS", ""), "worker must bootstrap from the kafka service")
    p.require(
        dig(worker, "depends_on", "kafka", "condition") == "service_healthy", "worker must wait for a healthy kafka"
    )
    grace = str(worker.get("stop_grace_period", "10s"))
    grace_s = int(re.sub(r"s$", "", grace)) if re.fullmatch(r"\d+s?", grace) else 0
    p.require(
        grace_s > int(wenv.get("PA_SHUTDOWN_TIMEOUT_SECONDS", "20")),
        f"worker stop_grace_period {grace} must exceed the shutdown bound",
    )

    prom_cmd = " ".join(services["prometheus"].get("command", []))
    p.require("--config.file" in prom_cmd, "prometheus needs --config.file")
    mounts = {
        name: [v for v in services[name].get("volumes", []) if isinstance(v, str) and v.startswith(".")]
        for name in services
    }
    for name, vols in mounts.items():
        for vol in vols:
            source = (base / vol.split(":", 1)[0]).resolve()
            p.require(source.exists(), f"{name}: bind-mount source {vol.split(':', 1)[0]} does not exist")
    prom_sources = {(base / v.split(":", 1)[0]).resolve() for v in mounts["prometheus"]}
    p.require(RULES in prom_sources, "prometheus must mount deploy/prometheus/rules.yml")
    prom_config = base / "prometheus.yml"
    if prom_config.exists():
        scrape = yaml.safe_load(prom_config.read_text())
        jobs = {job["job_name"]: job for job in scrape.get("scrape_configs", [])}
        targets = [t for sc in dig(jobs, "pa-worker", "static_configs", default=[]) for t in sc.get("targets", [])]
        p.require(
            f"worker:{METRICS_PORT}" in targets, f"prometheus.yml must scrape worker:{METRICS_PORT} as job pa-worker"
        )
    graf_sources = {(base / v.split(":", 1)[0]).resolve() for v in mounts["grafana"]}
    p.require(DASHBOARD.parent in graf_sources or DASHBOARD in graf_sources, "grafana must mount deploy/grafana")
    p.finish(f"services {', '.join(sorted(services))}; kafka {kafka.get('image')}; all bind mounts exist")
