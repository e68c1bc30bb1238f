"""Static checks of the deploy/ artifacts, run by scripts/deploy-check.sh. Subcommands:

  k8s-schema FILE...          rendered manifests: core kinds against the Kubernetes OpenAPI
                              schemas (kubernetes-validate, strict); CRDs (ServiceMonitor,
                              PrometheusRule, ScaledObject, TriggerAuthentication) structurally
  k8s-policy FILE             one rendered overlay: automated denials off, grace period vs
                              shutdown bound, security context, credentials only from Secrets,
                              probes and metrics port, KEDA vs ConfigMap vs partitions
  secret-example              deploy/k8s/base/secret.example.yaml: valid, placeholders, unused
  prometheusrule [--write]    deploy/k8s/base/prometheusrule.yaml is generated from
                              deploy/prometheus/rules.yml (--write regenerates it)
  settings (--k8s FILE | --compose)
                              the environment a worker container would get (ConfigMap + Secret
                              keys, or the compose service) passes the worker's own Settings
                              validation, and names no unknown PA_* variable
  dockerfile                  deploy/Dockerfile: what hadolint cannot know (stages, the venv,
                              the uid Kubernetes runs, healthcheck port, entrypoint)
  compose                     deploy/compose/compose.yaml structure and referenced files
  dashboard                   deploy/grafana/pa-worker-dashboard.json structure and metrics
  runbook                     every alert's runbook_url resolves to a RUNBOOK.md heading
  channels                    compose topics, the secure broker's topics and the worker's ACLs
                              name the topics of the registry of channels (contracts.channels)

One module per artifact: k8s, settings, prometheus (PrometheusRule, runbook), dockerfile,
compose, dashboard (with promql, the metric-name lexer), channels; core holds what they share.
Needs PyYAML, kubernetes-validate and dockerfile-parse (pinned in the project's dev deps).
"""

from __future__ import annotations

from pa_deploy_checks.cli import main
from pa_deploy_checks.core import CheckFailed, Problems
from pa_deploy_checks.prometheus import runbook_anchors
from pa_deploy_checks.settings import settings_problems

__all__ = ["CheckFailed", "Problems", "main", "runbook_anchors", "settings_problems"]
