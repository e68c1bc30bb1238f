"""Alerting: the PrometheusRule generated from rules.yml, and every alert's runbook section."""

from __future__ import annotations

import argparse
import re

import yaml

from pa_deploy_checks.core import PROMETHEUSRULE, ROOT, RULES, RUNBOOK, CheckFailed, Problems


def render_prometheusrule() -> str:
    text = RULES.read_text()
    start = re.search(r"^groups:\s*$", text, flags=re.MULTILINE)
    if not start:
        raise CheckFailed("rules.yml has no top-level 'groups:'")
    body = "\n".join(("  " + line) if line.strip() else "" for line in text[start.start() :].splitlines())
    return (
        "# GENERATED from deploy/prometheus/rules.yml - do not edit by hand.\n"
        "# Regenerate: python deploy/checks/deploy_checks.py prometheusrule --write\n"
        "# The `release` label must match the ruleSelector of the cluster's Prometheus.\n"
        "apiVersion: monitoring.coreos.com/v1\n"
        "kind: PrometheusRule\n"
        "metadata:\n"
        "  name: pa-worker\n"
        "  labels:\n"
        "    app.kubernetes.io/name: pa-worker\n"
        "    app.kubernetes.io/component: worker\n"
        "    release: kube-prometheus-stack\n"
        "spec:\n"
        f"{body}\n"
    )


def cmd_prometheusrule(args: argparse.Namespace) -> None:
    wanted = render_prometheusrule()
    if args.write:
        PROMETHEUSRULE.write_text(wanted)
        print(f"wrote {PROMETHEUSRULE.relative_to(ROOT)}")
        return
    p = Problems()
    current = PROMETHEUSRULE.read_text() if PROMETHEUSRULE.exists() else ""
    p.require(
        current == wanted,
        f"{PROMETHEUSRULE.relative_to(ROOT)} is out of date: run "
        "python deploy/checks/deploy_checks.py prometheusrule --write",
    )
    if current:
        spec = yaml.safe_load(current).get("spec")
        p.require(spec == yaml.safe_load(RULES.read_text()), "PrometheusRule spec differs from rules.yml")
    p.finish("PrometheusRule matches rules.yml")


def github_slug(heading: str) -> str:
    slug = heading.strip().lower()
    slug = re.sub(r"[^\w\- ]", "", slug)
    return slug.replace(" ", "-")


def runbook_anchors() -> set[str]:
    anchors: set[str] = set()
    in_code = False
    for line in RUNBOOK.read_text().splitlines():
        if line.startswith("```"):
            in_code = not in_code
        if in_code:
            continue
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if match:
            anchors.add(github_slug(match.group(1)))
        anchors.update(re.findall(r'<a\s+(?:id|name)="([^"]+)"', line))
    return anchors


def cmd_runbook(args: argparse.Namespace) -> None:
    dlq_headers = ("pa_error_class", "pa_error_message", "pa_source_topic", "pa_source_partition", "pa_source_offset")
    p = Problems()
    rules = yaml.safe_load(RULES.read_text())
    anchors = runbook_anchors()
    alerts = [r for g in rules["groups"] for r in g["rules"] if "alert" in r]
    for rule in alerts:
        ann = rule.get("annotations", {})
        for key in ("summary", "description", "runbook_url"):
            p.require(ann.get(key), f"{rule['alert']}: annotation {key} missing")
        url = ann.get("runbook_url", "")
        path, _, fragment = url.partition("#")
        p.require(
            path.endswith("deploy/RUNBOOK.md"),
            f"{rule['alert']}: runbook_url must point to deploy/RUNBOOK.md, is {url}",
        )
        p.require(fragment == rule["alert"].lower(), f"{rule['alert']}: anchor should be #{rule['alert'].lower()}")
        p.require(fragment in anchors, f"{rule['alert']}: RUNBOOK.md has no heading for #{fragment}")
        p.require(
            rule.get("labels", {}).get("severity") in {"critical", "warning", "info"},
            f"{rule['alert']}: severity label",
        )
    text = RUNBOOK.read_text().lower()
    for topic in ("scaling", "graceful shutdown", "dlq replay", "patient identifiers"):
        p.require(topic in text, f"RUNBOOK.md has no section on {topic}")
    for header in dlq_headers:
        p.require(header in text, f"RUNBOOK.md DLQ procedure does not mention header {header}")
    p.finish(f"{len({r['alert'] for r in alerts})} alerts, every runbook_url resolves")
