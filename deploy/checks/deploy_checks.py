"""Static checks of the deploy/ artifacts, run by scripts/deploy-check.sh.

Each subcommand checks one thing, prints what it found and exits non-zero on a problem:

  k8s-schema FILE...          rendered manifests: core kinds against the Kubernetes OpenAPI
                              schemas (kubernetes-validate, strict); CRDs (ServiceMonitor,
                              PrometheusRule, ScaledObject, TriggerAuthentication) structurally
  k8s-policy FILE             one rendered overlay: security context, probes, resources,
                              grace period vs shutdown bound, KEDA vs ConfigMap vs partitions
  secret-example              deploy/k8s/base/secret.example.yaml: valid, placeholders, unused
  prometheusrule [--write]    deploy/k8s/base/prometheusrule.yaml is generated from
                              deploy/prometheus/rules.yml (--write regenerates it)
  settings (--k8s FILE | --compose)
                              the environment a worker container would get (ConfigMap + Secret
                              keys, or the compose service) passes the worker's own Settings
                              validation, and names no unknown PA_* variable
  dockerfile                  deploy/Dockerfile structure (dockerfile-parse)
  compose                     deploy/compose/compose.yaml structure and referenced files
  dashboard                   deploy/grafana/pa-worker-dashboard.json structure
  runbook                     every alert's runbook_url resolves to a RUNBOOK.md heading

Needs PyYAML, kubernetes-validate and dockerfile-parse (pinned in the project's dev deps).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
RULES = DEPLOY / "prometheus" / "rules.yml"
PROMETHEUSRULE = DEPLOY / "k8s" / "base" / "prometheusrule.yaml"
SECRET_EXAMPLE = DEPLOY / "k8s" / "base" / "secret.example.yaml"
DOCKERFILE = DEPLOY / "Dockerfile"
DOCKERIGNORE = DEPLOY / "Dockerfile.dockerignore"
COMPOSE = DEPLOY / "compose" / "compose.yaml"
DASHBOARD = DEPLOY / "grafana" / "pa-worker-dashboard.json"
RUNBOOK = DEPLOY / "RUNBOOK.md"

DEFAULT_K8S_VERSION = "1.31"
METRICS_PORT = 9108
SHUTDOWN_MARGIN_SECONDS = 10

# CRDs the manifests use and the kubernetes-validate schemas do not cover.
CRDS: dict[tuple[str, str], str] = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "servicemonitor",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "prometheusrule",
    ("keda.sh/v1alpha1", "ScaledObject"): "scaledobject",
    ("keda.sh/v1alpha1", "TriggerAuthentication"): "triggerauthentication",
}
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


class CheckFailed(Exception):
    pass


class Problems:
    """Collects every problem of one check instead of stopping at the first."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, message: str) -> None:
        self.items.append(message)

    def require(self, condition: object, message: str) -> None:
        if not condition:
            self.add(message)

    def finish(self, ok_message: str) -> None:
        if self.items:
            for item in self.items:
                print(f"  - {item}")
            raise CheckFailed(f"{len(self.items)} problem(s)")
        print(ok_message)


def load_promql_names():
    spec = importlib.util.spec_from_file_location("promql_names", Path(__file__).with_name("promql_names.py"))
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_docs(path: Path) -> list[dict[str, Any]]:
    with path.open() as fh:
        return [doc for doc in yaml.safe_load_all(fh) if doc]


def dig(obj: Any, *keys: Any, default: Any = None) -> Any:
    for key in keys:
        in_dict = isinstance(obj, dict) and key in obj
        in_list = isinstance(obj, list) and isinstance(key, int) and -len(obj) <= key < len(obj)
        if not (in_dict or in_list):
            return default
        obj = obj[key]
    return obj


def describe(doc: dict[str, Any]) -> str:
    return f"{doc.get('kind', '?')}/{dig(doc, 'metadata', 'name', default='?')}"


# ------------------------------------------------------------------------------ kubernetes


def check_crd_structure(doc: dict[str, Any], p: Problems) -> None:
    kind = CRDS[(doc["apiVersion"], doc["kind"])]
    spec = doc.get("spec")
    where = describe(doc)
    if not isinstance(spec, dict):
        p.add(f"{where}: spec must be a mapping")
        return
    if kind == "servicemonitor":
        p.require(isinstance(dig(spec, "selector", "matchLabels"), dict), f"{where}: spec.selector.matchLabels missing")
        endpoints = spec.get("endpoints")
        p.require(isinstance(endpoints, list) and endpoints, f"{where}: spec.endpoints must be a non-empty list")
        for i, ep in enumerate(endpoints or []):
            p.require(
                isinstance(ep, dict) and (ep.get("port") or ep.get("targetPort")),
                f"{where}: endpoints[{i}] needs port or targetPort",
            )
    elif kind == "prometheusrule":
        groups = spec.get("groups")
        p.require(isinstance(groups, list) and groups, f"{where}: spec.groups must be a non-empty list")
        for group in groups or []:
            p.require(isinstance(group.get("name"), str), f"{where}: every group needs a name")
            for rule in group.get("rules", []):
                p.require(("record" in rule) != ("alert" in rule), f"{where}: rule needs exactly one of record/alert")
                p.require(
                    isinstance(rule.get("expr"), str),
                    f"{where}: rule {rule.get('record') or rule.get('alert')} has no expr",
                )
    elif kind == "scaledobject":
        target = spec.get("scaleTargetRef")
        p.require(isinstance(target, dict) and target.get("name"), f"{where}: spec.scaleTargetRef.name missing")
        for field in ("minReplicaCount", "maxReplicaCount", "pollingInterval", "cooldownPeriod"):
            if field in spec:
                p.require(
                    isinstance(spec[field], int) and spec[field] >= 0,
                    f"{where}: spec.{field} must be a non-negative integer",
                )
        triggers = spec.get("triggers")
        p.require(isinstance(triggers, list) and triggers, f"{where}: spec.triggers must be a non-empty list")
        for i, trig in enumerate(triggers or []):
            p.require(isinstance(trig.get("type"), str), f"{where}: triggers[{i}].type missing")
            meta = trig.get("metadata")
            p.require(isinstance(meta, dict), f"{where}: triggers[{i}].metadata must be a mapping")
            for key, value in (meta or {}).items():
                p.require(
                    isinstance(value, str),
                    f"{where}: triggers[{i}].metadata.{key} must be a string (KEDA metadata is map[string]string)",
                )
    elif kind == "triggerauthentication":
        refs = spec.get("secretTargetRef")
        p.require(isinstance(refs, list) and refs, f"{where}: spec.secretTargetRef must be a non-empty list")
        for i, ref in enumerate(refs or []):
            for field in ("parameter", "name", "key"):
                p.require(
                    isinstance(ref.get(field), str) and ref.get(field), f"{where}: secretTargetRef[{i}].{field} missing"
                )


def validate_docs(docs: list[dict[str, Any]], k8s_version: str, p: Problems) -> dict[str, int]:
    import kubernetes_validate

    counts = {"core": 0, "crd": 0}
    for doc in docs:
        api_version, kind = doc.get("apiVersion"), doc.get("kind")
        meta = doc.get("metadata")
        if not isinstance(api_version, str) or not isinstance(kind, str):
            p.add(f"document without apiVersion/kind: {str(doc)[:80]}")
            continue
        if not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
            p.add(f"{kind}: metadata.name missing")
            continue
        where = describe(doc)
        p.require(
            DNS1123_SUBDOMAIN.match(meta["name"]) and len(meta["name"]) <= 253,
            f"{where}: metadata.name is not a DNS-1123 subdomain",
        )
        for field in ("labels", "annotations"):
            if field in meta:
                values = meta[field]
                p.require(
                    isinstance(values, dict) and all(isinstance(v, str) for v in values.values()),
                    f"{where}: metadata.{field} values must be strings",
                )
        if (api_version, kind) in CRDS:
            counts["crd"] += 1
            p.require(
                set(doc) <= {"apiVersion", "kind", "metadata", "spec"},
                f"{where}: unexpected top-level fields {sorted(set(doc) - {'apiVersion', 'kind', 'metadata', 'spec'})}",
            )
            check_crd_structure(doc, p)
            continue
        counts["core"] += 1
        try:
            kubernetes_validate.validate(doc, k8s_version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            p.add(f"{where}: no schema for {api_version} {kind} in Kubernetes {k8s_version} and not a known CRD")
        except kubernetes_validate.ValidationError as exc:
            path = "/".join(str(part) for part in exc.path) or "(root)"
            p.add(f"{where}: {path}: {exc.message}")
    return counts


def cmd_k8s_schema(args: argparse.Namespace) -> None:
    p = Problems()
    total = {"core": 0, "crd": 0}
    for name in args.files:
        docs = load_docs(Path(name))
        p.require(docs, f"{name}: no documents")
        counts = validate_docs(docs, args.kubernetes_version, p)
        for key in total:
            total[key] += counts[key]
    p.finish(
        f"{total['core']} core resources valid against Kubernetes {args.kubernetes_version} (strict), "
        f"{total['crd']} CRD resources structurally valid"
    )


def parse_cpu(value: str) -> float:
    return float(value[:-1]) / 1000 if str(value).endswith("m") else float(value)


def cmd_k8s_policy(args: argparse.Namespace) -> None:
    docs = load_docs(Path(args.file))
    p = Problems()
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], []).append(doc)

    def one(kind: str) -> dict[str, Any]:
        items = by_kind.get(kind, [])
        if len(items) != 1:
            raise CheckFailed(f"expected exactly one {kind}, found {len(items)}")
        return items[0]

    p.require("Secret" not in by_kind, "a Secret is rendered: credentials must not live in the repository")
    namespaces = {dig(d, "metadata", "namespace") for d in docs}
    if args.require_namespace:
        p.require(
            len(namespaces) == 1 and None not in namespaces, f"all resources need one namespace, found {namespaces}"
        )

    deploy, cm, svc = one("Deployment"), one("ConfigMap"), one("Service")
    pdb, smon, so, ta = (
        one("PodDisruptionBudget"),
        one("ServiceMonitor"),
        one("ScaledObject"),
        one("TriggerAuthentication"),
    )
    one("PrometheusRule")
    config: dict[str, str] = cm.get("data", {})
    pod = deploy["spec"]["template"]
    pod_spec = pod["spec"]
    pod_labels = pod["metadata"]["labels"]

    # Regulatory guard.
    p.require(
        config.get("PA_ALLOW_AUTOMATED_DENIALS") == "false",
        "PA_ALLOW_AUTOMATED_DENIALS must be 'false' for Medicare Advantage, "
        f"got {config.get('PA_ALLOW_AUTOMATED_DENIALS')!r}",
    )

    # Replicas belong to KEDA.
    p.require("replicas" not in deploy["spec"], "Deployment sets spec.replicas; KEDA owns the replica count")

    # Graceful shutdown.
    shutdown = int(config.get("PA_SHUTDOWN_TIMEOUT_SECONDS", "20"))
    grace = pod_spec.get("terminationGracePeriodSeconds", 30)
    p.require(
        grace >= shutdown + SHUTDOWN_MARGIN_SECONDS,
        f"terminationGracePeriodSeconds {grace} must exceed PA_SHUTDOWN_TIMEOUT_SECONDS {shutdown} "
        f"by >= {SHUTDOWN_MARGIN_SECONDS}s",
    )

    # Pod security.
    pod_sc = pod_spec.get("securityContext", {})
    p.require(pod_spec.get("automountServiceAccountToken") is False, "automountServiceAccountToken must be false")
    p.require(not pod_spec.get("hostNetwork") and not pod_spec.get("hostPID"), "no host namespaces")
    containers = pod_spec.get("containers", [])
    p.require(len(containers) == 1, f"expected one container, found {len(containers)}")
    for c in containers:
        name = c.get("name")
        sc = c.get("securityContext", {})
        p.require(sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True, f"{name}: runAsNonRoot must be true")
        p.require(sc.get("runAsUser", pod_sc.get("runAsUser", 1)) != 0, f"{name}: must not run as uid 0")
        p.require(sc.get("readOnlyRootFilesystem") is True, f"{name}: readOnlyRootFilesystem must be true")
        p.require(sc.get("allowPrivilegeEscalation") is False, f"{name}: allowPrivilegeEscalation must be false")
        p.require("ALL" in dig(sc, "capabilities", "drop", default=[]), f"{name}: capabilities.drop must include ALL")
        p.require(not sc.get("privileged"), f"{name}: must not be privileged")

        image = c.get("image", "")
        p.require(
            "/" in image and (":" in image.rsplit("/", 1)[-1] or "@sha256:" in image),
            f"{name}: image {image!r} must be a registry reference with a tag or digest (set it in the overlay)",
        )
        p.require(not image.endswith(":latest"), f"{name}: image must not use :latest")

        ports = {port.get("name"): port.get("containerPort") for port in c.get("ports", [])}
        p.require(ports.get("metrics") == METRICS_PORT, f"{name}: needs containerPort {METRICS_PORT} named metrics")
        p.require(
            str(METRICS_PORT) == config.get("PA_METRICS_PORT"), "PA_METRICS_PORT must match the metrics containerPort"
        )

        for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            get = dig(c, probe, "httpGet", default={})
            port = get.get("port")
            port = ports.get(port, port) if isinstance(port, str) else port
            p.require(
                get.get("path") == path and port == METRICS_PORT,
                f"{name}: {probe} must GET {path} on port {METRICS_PORT}",
            )

        req = dig(c, "resources", "requests", default={})
        lim = dig(c, "resources", "limits", default={})
        p.require("cpu" in req and "memory" in req, f"{name}: cpu and memory requests required")
        p.require("memory" in lim, f"{name}: memory limit required")
        if "cpu" in req:
            p.require(parse_cpu(req["cpu"]) >= 0.25, f"{name}: cpu request below 250m")

        cm_refs = [dig(e, "configMapRef", "name") for e in c.get("envFrom", [])]
        p.require(
            cm["metadata"]["name"] in cm_refs, f"{name}: envFrom must reference ConfigMap {cm['metadata']['name']}"
        )
        secret_env = {
            e["name"]: dig(e, "valueFrom", "secretKeyRef")
            for e in c.get("env", [])
            if dig(e, "valueFrom", "secretKeyRef")
        }
        p.require(
            "PA_KAFKA_SASL_USERNAME" in secret_env, f"{name}: PA_KAFKA_SASL_USERNAME must come from a secretKeyRef"
        )
        for var in ("PA_KAFKA_SASL_USERNAME", "PA_KAFKA_SASL_PASSWORD"):
            p.require(var not in config, f"{var} must not be in the ConfigMap")
        plain_env = {e["name"]: e["value"] for e in c.get("env", []) if "value" in e}
        p.require(
            not plain_env.keys() & {"PA_KAFKA_SASL_PASSWORD", "PA_KAFKA_SASL_USERNAME"},
            f"{name}: SASL credentials as plain env values",
        )
        # The password: a file of a mounted Secret (preferred), or a secretKeyRef.
        secret_volumes = {
            v["name"]: dig(v, "secret", "secretName") for v in pod_spec.get("volumes", []) if dig(v, "secret")
        }
        password_file = plain_env.get("PA_KAFKA_SASL_PASSWORD_FILE") or config.get("PA_KAFKA_SASL_PASSWORD_FILE")
        if password_file:
            mounts = [
                m for m in c.get("volumeMounts", []) if password_file.startswith(m["mountPath"].rstrip("/") + "/")
            ]
            p.require(
                len(mounts) == 1 and mounts[0]["name"] in secret_volumes and mounts[0].get("readOnly") is True,
                f"{name}: PA_KAFKA_SASL_PASSWORD_FILE={password_file} must lie in a read-only mount of a Secret volume",
            )
            file_secrets = {secret_volumes[m["name"]] for m in mounts if m["name"] in secret_volumes}
            p.require(
                "PA_KAFKA_SASL_PASSWORD" not in secret_env, f"{name}: both PA_KAFKA_SASL_PASSWORD and its _FILE set"
            )
        else:
            file_secrets = set()
            p.require(
                "PA_KAFKA_SASL_PASSWORD" in secret_env,
                f"{name}: the SASL password must come from a Secret (PA_KAFKA_SASL_PASSWORD_FILE or a secretKeyRef)",
            )

    secret_names = ({ref["name"] for ref in secret_env.values()} | file_secrets) if containers else set()

    # Service / ServiceMonitor / PDB wiring.
    svc_ports = {port.get("name"): port.get("port") for port in svc["spec"].get("ports", [])}
    p.require(svc_ports.get("metrics") == METRICS_PORT, f"Service needs port {METRICS_PORT} named metrics")
    p.require(
        svc["metadata"]["name"] == "pa-worker",
        'Service must be named pa-worker: it becomes job="pa-worker" that the alerts use',
    )
    for what, selector in (
        ("Service", svc["spec"].get("selector", {})),
        ("PodDisruptionBudget", dig(pdb, "spec", "selector", "matchLabels", default={})),
    ):
        p.require(
            selector and all(pod_labels.get(k) == v for k, v in selector.items()),
            f"{what} selector does not match the pod labels",
        )
    svc_labels = svc["metadata"].get("labels", {})
    p.require(
        all(svc_labels.get(k) == v for k, v in dig(smon, "spec", "selector", "matchLabels", default={}).items()),
        "ServiceMonitor selector does not match the Service labels",
    )
    p.require(
        any(ep.get("port") == "metrics" for ep in smon["spec"].get("endpoints", [])),
        "ServiceMonitor must scrape port metrics",
    )

    # KEDA.
    target = so["spec"]["scaleTargetRef"]
    p.require(
        target.get("kind", "Deployment") == "Deployment" and target["name"] == deploy["metadata"]["name"],
        "ScaledObject must target the Deployment",
    )
    minimum, maximum = so["spec"].get("minReplicaCount", 0), so["spec"].get("maxReplicaCount", 100)
    partitions = int(config.get("PA_TOPIC_PARTITIONS", "0"))
    p.require(minimum >= 1, "minReplicaCount must be >= 1: the reauth scheduler needs a running worker")
    p.require(
        maximum <= partitions, f"maxReplicaCount {maximum} exceeds the {partitions} partitions of the request topic"
    )
    p.require(minimum <= maximum, "minReplicaCount above maxReplicaCount")
    kafka = [t for t in so["spec"]["triggers"] if t.get("type") == "kafka"]
    p.require(len(kafka) == 1, "ScaledObject needs exactly one kafka trigger")
    for trig in kafka:
        meta = trig["metadata"]
        for key, var in (
            ("bootstrapServers", "KAFKA_BOOTSTRAP_SERVERS"),
            ("consumerGroup", "PA_GROUP_ID"),
            ("topic", "PA_TOPIC_REQUESTS"),
        ):
            p.require(
                meta.get(key) == config.get(var),
                f"kafka trigger {key}={meta.get(key)!r} differs from {var}={config.get(var)!r}",
            )
        p.require(
            meta.get("consumerGroup") == "pa-worker" and meta.get("topic") == "pa.requests.v1",
            "kafka trigger must watch group pa-worker on pa.requests.v1",
        )
        p.require(str(meta.get("lagThreshold", "")).isdigit(), "kafka trigger needs a numeric lagThreshold")
        p.require(meta.get("allowIdleConsumers", "false") == "false", "allowIdleConsumers must stay false")
        p.require(
            dig(trig, "authenticationRef", "name") == ta["metadata"]["name"],
            "kafka trigger must use the TriggerAuthentication",
        )
    ta_secrets = {ref["name"] for ref in ta["spec"]["secretTargetRef"]}
    ta_params = {ref["parameter"] for ref in ta["spec"]["secretTargetRef"]}
    p.require(
        ta_secrets == secret_names, f"TriggerAuthentication reads {ta_secrets}, the Deployment reads {secret_names}"
    )
    p.require({"sasl", "username", "password"} <= ta_params, "TriggerAuthentication needs sasl, username and password")

    p.finish(
        f"policy ok: namespace {', '.join(sorted(str(n) for n in namespaces))}; "
        f"replicas {minimum}-{maximum} of {partitions} partitions; grace {grace}s > shutdown {shutdown}s; "
        f"automated denials disabled"
    )


def cmd_secret_example(args: argparse.Namespace) -> None:
    import kubernetes_validate

    p = Problems()
    docs = load_docs(SECRET_EXAMPLE)
    p.require(len(docs) == 1 and docs[0].get("kind") == "Secret", "secret.example.yaml must hold exactly one Secret")
    secret = docs[0]
    try:
        kubernetes_validate.validate(secret, args.kubernetes_version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        p.add(f"schema: {exc.message}")
    data = secret.get("stringData", {})
    p.require("data" not in secret, "use stringData with placeholders, not base64 data")
    for key in ("username", "password", "ca.crt"):
        p.require("REPLACE_ME" in str(data.get(key, "")), f"{key} must be a REPLACE_ME placeholder")
    p.require(data.get("sasl") in {"plaintext", "scram_sha256", "scram_sha512"}, "sasl must be a KEDA SASL mode")
    p.require(data.get("tls") in {"enable", "disable"}, "tls must be enable or disable")
    p.require("EXAMPLE ONLY" in SECRET_EXAMPLE.read_text(), "file must be marked EXAMPLE ONLY")
    for kustomization in (DEPLOY / "k8s").rglob("kustomization.yaml"):
        p.require(
            "secret.example.yaml" not in (load_docs(kustomization)[0].get("resources") or []),
            f"{kustomization.relative_to(ROOT)} must not include secret.example.yaml",
        )
    p.finish("example Secret valid, placeholders only, referenced by no kustomization")


# ------------------------------------------------------------------------------ worker settings

# Exactly what the container does at start: worker.config.load() exits with one clear line
# when a variable is invalid.
_LOAD_SETTINGS = """
from worker.config import load
s = load()
print(f"valid: {s.kafka_security_protocol}, group {s.group_id}, log {s.log_format}/{s.log_level}, "
      f"automated denials {'ENABLED' if s.allow_automated_denials else 'disabled'}")
"""


def settings_problems(env: dict[str, str], p: Problems) -> None:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from worker.config import Settings

    known = {"KAFKA_BOOTSTRAP_SERVERS"} | {f"PA_{name.upper()}" for name in Settings.model_fields}
    for key in sorted(env):
        p.require(key in known, f"{key} is not a worker setting (typo? the worker ignores unknown PA_* variables)")
    clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT), **env}
    result = subprocess.run(  # noqa: S603 - fixed argv: this interpreter and a constant script
        [sys.executable, "-c", _LOAD_SETTINGS], env=clean, capture_output=True, text=True, timeout=60, check=False
    )
    output = (result.stdout + result.stderr).strip()
    if result.returncode != 0:
        p.add(output.splitlines()[-1] if output else f"worker settings failed (exit {result.returncode})")
    else:
        print(output)
        p.require("automated denials disabled" in output, "the worker would allow automated denials")


def cmd_settings(args: argparse.Namespace) -> None:
    p = Problems()
    if args.k8s:
        docs = load_docs(Path(args.k8s))
        configmaps = [d for d in docs if d["kind"] == "ConfigMap"]
        deployments = [d for d in docs if d["kind"] == "Deployment"]
        if len(configmaps) != 1 or len(deployments) != 1:
            raise CheckFailed("expected one ConfigMap and one Deployment")
        env = dict(configmaps[0].get("data", {}))
        for container in deployments[0]["spec"]["template"]["spec"]["containers"]:
            for item in container.get("env", []):
                if "value" in item:
                    env[item["name"]] = item["value"]
                elif dig(item, "valueFrom", "secretKeyRef"):
                    env[item["name"]] = f"placeholder-from-secret-{item['name'].lower()}"
        source = f"ConfigMap {configmaps[0]['metadata']['name']} + Secret keys"
    else:
        compose = yaml.safe_load(COMPOSE.read_text())
        raw = dig(compose, "services", "worker", "environment", default={})
        if isinstance(raw, list):
            raw = dict(item.split("=", 1) for item in raw)
        env = {k: str(v) for k, v in raw.items()}
        source = "compose service worker"
    settings_problems(env, p)
    p.finish(f"{len(env)} variables from {source} accepted by worker.config")


# ------------------------------------------------------------------------------ prometheus


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


# ------------------------------------------------------------------------------ Dockerfile


def cmd_dockerfile(args: argparse.Namespace) -> None:
    from dockerfile_parse import DockerfileParser

    parser = DockerfileParser(path=str(DOCKERFILE))
    p = Problems()
    instructions = parser.structure

    global_args: dict[str, str] = {}
    stages: list[dict[str, Any]] = []
    for ins in instructions:
        name, value = ins["instruction"], ins["value"]
        if name == "ARG" and not stages:
            key, _, default = value.partition("=")
            global_args[key.strip()] = default.strip().strip('"')
        elif name == "FROM":
            parts = value.split()
            image = re.sub(r"\$\{?(\w+)\}?", lambda m: global_args.get(m.group(1), m.group(0)), parts[0])
            alias = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            stages.append({"image": image, "alias": alias, "instructions": []})
        elif stages:
            stages[-1]["instructions"].append(ins)

    p.require(len(stages) >= 2, f"multi-stage build expected, found {len(stages)} stage(s)")
    if not stages:
        p.finish("")
    final = stages[-1]
    final_ins = final["instructions"]

    def values(name: str) -> list[str]:
        return [i["value"] for i in final_ins if i["instruction"] == name]

    p.require(
        re.fullmatch(r"python:3\.11-slim(-[a-z]+)?(@sha256:[0-9a-f]{64})?", final["image"]),
        f"final stage must be FROM python:3.11-slim, is {final['image']}",
    )
    p.require(stages[0]["image"] == final["image"], "builder and runtime should share the base image (venv symlinks)")
    builder_text = " ".join(i["value"] for i in stages[0]["instructions"] if i["instruction"] == "RUN")
    p.require(
        "venv" in builder_text and ("pip wheel" in builder_text or "python -m build" in builder_text),
        "builder stage must build a wheel and install it into a venv",
    )

    # Context sources of the builder must survive the Dockerfile-specific ignore file.
    context_sources = [
        src.rstrip("/")
        for stage in stages
        for ins in stage["instructions"]
        if ins["instruction"] in {"COPY", "ADD"} and not ins["value"].startswith("--from=")
        for src in ins["value"].split()[:-1]
        if not src.startswith("--")
    ]
    if DOCKERIGNORE.exists():
        lines = [ln.strip() for ln in DOCKERIGNORE.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
        allowed = {ln[1:].rstrip("/") for ln in lines if ln.startswith("!")}
        p.require(lines[:1] == ["*"], f"{DOCKERIGNORE.name} should start with `*` (allow-list)")
        for src in context_sources:
            p.require(src in allowed, f"COPY source {src} is excluded by {DOCKERIGNORE.name}")
    else:
        p.add(f"{DOCKERIGNORE.relative_to(ROOT)} missing")

    copies = values("COPY") + values("ADD")
    p.require(
        copies and all(c.startswith("--from=") for c in copies),
        f"final stage may only copy from the builder stage, found: {copies}",
    )
    p.require(any("/opt/venv" in c for c in copies), "final stage must copy the venv")
    final_runs = " ".join(values("RUN"))
    for tool in ("apt-get install", "gcc", "build-essential", "pip install", "apk add"):
        p.require(tool not in final_runs, f"final stage installs build tools or packages ({tool!r})")

    users = values("USER")
    p.require(users, "final stage has no USER")
    if users:
        user = users[-1].split(":")[0]
        p.require(user not in {"root", "0"}, f"final USER is root ({users[-1]})")

    health = values("HEALTHCHECK")
    p.require(
        health
        and "urllib" in health[-1]
        and "127.0.0.1" in health[-1]
        and "/healthz" in health[-1]
        and "9108" in health[-1],
        "HEALTHCHECK must use python urllib on http://127.0.0.1:9108/healthz",
    )
    p.require(any(str(METRICS_PORT) in e for e in values("EXPOSE")), f"EXPOSE {METRICS_PORT} missing")

    def exec_form(name: str) -> list[str] | None:
        vals = values(name)
        try:
            return json.loads(vals[-1]) if vals else None
        except json.JSONDecodeError:
            return None

    p.require(exec_form("ENTRYPOINT") == ["pa-worker"], f'ENTRYPOINT must be ["pa-worker"], is {values("ENTRYPOINT")}')
    p.require(exec_form("CMD") == ["run"], f'CMD must be ["run"], is {values("CMD")}')
    p.finish(
        f"{len(stages)} stages; final FROM {final['image']} as USER {users[-1] if users else '?'}; "
        "HEALTHCHECK, ENTRYPOINT and CMD in place"
    )


# ------------------------------------------------------------------------------ compose


def cmd_compose(args: argparse.Namespace) -> None:
    p = Problems()
    compose = yaml.safe_load(COMPOSE.read_text())
    base = COMPOSE.parent
    services = compose.get("services", {})
    for name in ("kafka", "worker", "prometheus", "grafana"):
        p.require(name in services, f"service {name} missing")
    if not {"kafka", "worker", "prometheus", "grafana"} <= set(services):
        p.finish("")

    def env(service: dict[str, Any]) -> dict[str, str]:
        raw = service.get("environment", {})
        if isinstance(raw, list):
            raw = dict(item.split("=", 1) for item in raw)
        return {k: str(v) for k, v in raw.items()}

    kafka = services["kafka"]
    p.require(
        str(kafka.get("image", "")).startswith("apache/kafka:"),
        f"kafka image must be apache/kafka, is {kafka.get('image')}",
    )
    kenv = env(kafka)
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
    wenv = env(worker)
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
        p.require("worker:9108" in targets, "prometheus.yml must scrape worker:9108 as job pa-worker")
    graf_sources = {(base / v.split(":", 1)[0]).resolve() for v in mounts["grafana"]}
    p.require(DASHBOARD.parent in graf_sources or DASHBOARD in graf_sources, "grafana must mount deploy/grafana")
    p.finish(f"services {', '.join(sorted(services))}; kafka {kafka.get('image')}; all bind mounts exist")


# ------------------------------------------------------------------------------ dashboard


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
    names = load_promql_names()
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
                names.selected_names(target.get("expr", "")), f"panel {panel.get('title')!r}: query selects no metric"
            )
    exprs = " ".join(names.dashboard_expressions(dashboard))
    required = [
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
    ]
    for metric in required:
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


# ------------------------------------------------------------------------------ runbook


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
    for header in ("pa_error_class", "pa_error_message", "pa_source_topic", "pa_source_partition", "pa_source_offset"):
        p.require(header in text, f"RUNBOOK.md DLQ procedure does not mention header {header}")
    p.finish(f"{len({r['alert'] for r in alerts})} alerts, every runbook_url resolves")


# ------------------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    k = sub.add_parser("k8s-schema")
    k.add_argument("files", nargs="+")
    k.add_argument("--kubernetes-version", default=DEFAULT_K8S_VERSION)
    k.set_defaults(func=cmd_k8s_schema)
    k = sub.add_parser("k8s-policy")
    k.add_argument("file")
    k.add_argument("--require-namespace", action="store_true")
    k.set_defaults(func=cmd_k8s_policy)
    k = sub.add_parser("secret-example")
    k.add_argument("--kubernetes-version", default=DEFAULT_K8S_VERSION)
    k.set_defaults(func=cmd_secret_example)
    k = sub.add_parser("settings")
    where = k.add_mutually_exclusive_group(required=True)
    where.add_argument("--k8s", metavar="FILE", help="rendered overlay")
    where.add_argument("--compose", action="store_true", help="deploy/compose/compose.yaml")
    k.set_defaults(func=cmd_settings)
    k = sub.add_parser("prometheusrule")
    k.add_argument("--write", action="store_true")
    k.set_defaults(func=cmd_prometheusrule)
    for name, func in (
        ("dockerfile", cmd_dockerfile),
        ("compose", cmd_compose),
        ("dashboard", cmd_dashboard),
        ("runbook", cmd_runbook),
    ):
        sub.add_parser(name).set_defaults(func=func)
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except CheckFailed as exc:
        print(f"  {exc}")
        return 1
    except (OSError, ValueError, KeyError, TypeError, ImportError, subprocess.SubprocessError, yaml.YAMLError) as exc:
        print(f"  error: {type(exc).__name__}: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
