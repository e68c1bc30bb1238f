"""The rendered Kubernetes overlays: schemas, and the project's policy (regulatory guard,
graceful shutdown, pod security, secrets, metrics wiring, KEDA against the ConfigMap)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from pa_deploy_checks.core import (
    DEPLOY,
    METRICS_PORT,
    ROOT,
    SECRET_EXAMPLE,
    SHUTDOWN_MARGIN_SECONDS,
    CheckFailed,
    Doc,
    Problems,
    describe,
    dig,
    import_worker,
    load_docs,
)

# CRDs the manifests use and the kubernetes-validate schemas do not cover.
CRDS: dict[tuple[str, str], str] = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "servicemonitor",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "prometheusrule",
    ("keda.sh/v1alpha1", "ScaledObject"): "scaledobject",
    ("keda.sh/v1alpha1", "TriggerAuthentication"): "triggerauthentication",
}
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")

# ------------------------------------------------------------------------------ schemas


def check_crd_structure(doc: Doc, p: Problems) -> None:
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


def validate_docs(docs: list[Doc], k8s_version: str, p: Problems) -> dict[str, int]:
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
            extra = sorted(set(doc) - {"apiVersion", "kind", "metadata", "spec"})
            p.require(not extra, f"{where}: unexpected top-level fields {extra}")
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


# ------------------------------------------------------------------------------ policy


def parse_cpu(value: str) -> float:
    return float(value[:-1]) / 1000 if str(value).endswith("m") else float(value)


def _container_security(c: Doc, pod_sc: Doc, p: Problems) -> None:
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
    req = dig(c, "resources", "requests", default={})
    lim = dig(c, "resources", "limits", default={})
    p.require("cpu" in req and "memory" in req, f"{name}: cpu and memory requests required")
    p.require("memory" in lim, f"{name}: memory limit required")
    if "cpu" in req:
        p.require(parse_cpu(req["cpu"]) >= 0.25, f"{name}: cpu request below 250m")


def _container_metrics(c: Doc, config: dict[str, str], p: Problems) -> None:
    name = c.get("name")
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
            get.get("path") == path and port == METRICS_PORT, f"{name}: {probe} must GET {path} on port {METRICS_PORT}"
        )


def _container_secrets(c: Doc, pod_spec: Doc, cm: Doc, p: Problems) -> set[str]:
    """Credentials only from Secrets: the user name from a secretKeyRef, the password from a file
    of a read-only Secret mount (preferred) or a secretKeyRef, never in the ConfigMap or as plain
    values. Returns the names of the Secrets the container reads."""
    name = c.get("name")
    config: dict[str, str] = cm.get("data", {})
    cm_refs = [dig(e, "configMapRef", "name") for e in c.get("envFrom", [])]
    p.require(cm["metadata"]["name"] in cm_refs, f"{name}: envFrom must reference ConfigMap {cm['metadata']['name']}")
    secret_env = {
        e["name"]: dig(e, "valueFrom", "secretKeyRef") for e in c.get("env", []) if dig(e, "valueFrom", "secretKeyRef")
    }
    p.require("PA_KAFKA_SASL_USERNAME" in secret_env, f"{name}: PA_KAFKA_SASL_USERNAME must come from a secretKeyRef")
    for var in ("PA_KAFKA_SASL_USERNAME", "PA_KAFKA_SASL_PASSWORD"):
        p.require(var not in config, f"{var} must not be in the ConfigMap")
    plain_env = {e["name"]: e["value"] for e in c.get("env", []) if "value" in e}
    p.require(
        not plain_env.keys() & {"PA_KAFKA_SASL_PASSWORD", "PA_KAFKA_SASL_USERNAME"},
        f"{name}: SASL credentials as plain env values",
    )
    secret_volumes = {
        v["name"]: dig(v, "secret", "secretName") for v in pod_spec.get("volumes", []) if dig(v, "secret")
    }
    password_file = plain_env.get("PA_KAFKA_SASL_PASSWORD_FILE") or config.get("PA_KAFKA_SASL_PASSWORD_FILE")
    file_secrets: set[str] = set()
    if password_file:
        mounts = [m for m in c.get("volumeMounts", []) if password_file.startswith(m["mountPath"].rstrip("/") + "/")]
        p.require(
            len(mounts) == 1 and mounts[0]["name"] in secret_volumes and mounts[0].get("readOnly") is True,
            f"{name}: PA_KAFKA_SASL_PASSWORD_FILE={password_file} must lie in a read-only mount of a Secret volume",
        )
        file_secrets = {secret_volumes[m["name"]] for m in mounts if m["name"] in secret_volumes}
        p.require("PA_KAFKA_SASL_PASSWORD" not in secret_env, f"{name}: both PA_KAFKA_SASL_PASSWORD and its _FILE set")
    else:
        p.require(
            "PA_KAFKA_SASL_PASSWORD" in secret_env,
            f"{name}: the SASL password must come from a Secret (PA_KAFKA_SASL_PASSWORD_FILE or a secretKeyRef)",
        )
    return {ref["name"] for ref in secret_env.values()} | file_secrets


def _wiring(svc: Doc, pdb: Doc, smon: Doc, pod_labels: dict[str, str], p: Problems) -> None:
    """Service, ServiceMonitor and PodDisruptionBudget select the worker's pods and metrics port."""
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


def _keda(
    so: Doc, ta: Doc, deploy: Doc, config: dict[str, str], secret_names: set[str], p: Problems
) -> tuple[int, int]:
    """The ScaledObject scales the Deployment on the lag of the worker's group on the request topic
    (the names of the registry of channels and the worker's settings), within the partitions."""
    import_worker()
    from contracts.channels import REQUESTS
    from worker.config import ENV_NAMES, Settings

    group = Settings.model_fields["group_id"].default
    target = so["spec"]["scaleTargetRef"]
    p.require(
        target.get("kind", "Deployment") == "Deployment" and target["name"] == deploy["metadata"]["name"],
        "ScaledObject must target the Deployment",
    )
    minimum, maximum = so["spec"].get("minReplicaCount", 0), so["spec"].get("maxReplicaCount", 100)
    partitions = int(config.get(ENV_NAMES["topic_partitions"], "0"))
    p.require(minimum >= 1, "minReplicaCount must be >= 1: the reauth scheduler needs a running worker")
    p.require(
        maximum <= partitions, f"maxReplicaCount {maximum} exceeds the {partitions} partitions of the request topic"
    )
    p.require(minimum <= maximum, "minReplicaCount above maxReplicaCount")
    kafka = [t for t in so["spec"]["triggers"] if t.get("type") == "kafka"]
    p.require(len(kafka) == 1, "ScaledObject needs exactly one kafka trigger")
    for trig in kafka:
        meta = trig["metadata"]
        for key, setting in (
            ("bootstrapServers", "bootstrap_servers"),
            ("consumerGroup", "group_id"),
            ("topic", REQUESTS.setting),
        ):
            var = ENV_NAMES[str(setting)]
            p.require(
                meta.get(key) == config.get(var),
                f"kafka trigger {key}={meta.get(key)!r} differs from {var}={config.get(var)!r}",
            )
        p.require(
            meta.get("consumerGroup") == group and meta.get("topic") == REQUESTS.topic,
            f"kafka trigger must watch group {group} on {REQUESTS.topic}",
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
    return minimum, maximum


def cmd_k8s_policy(args: argparse.Namespace) -> None:
    docs = load_docs(Path(args.file))
    p = Problems()
    by_kind: dict[str, list[Doc]] = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], []).append(doc)

    def one(kind: str) -> Doc:
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
    pod: dict[str, Any] = deploy["spec"]["template"]
    pod_spec: dict[str, Any] = pod["spec"]

    # Regulatory guard.
    p.require(
        config.get("PA_ALLOW_AUTOMATED_DENIALS") == "false",
        "PA_ALLOW_AUTOMATED_DENIALS must be 'false' for Medicare Advantage, "
        f"got {config.get('PA_ALLOW_AUTOMATED_DENIALS')!r}",
    )
    # Replicas belong to KEDA.
    p.require("replicas" not in deploy["spec"], "Deployment sets spec.replicas; KEDA owns the replica count")
    # Graceful shutdown: the orchestrator waits longer than the worker's own bound.
    shutdown = int(config.get("PA_SHUTDOWN_TIMEOUT_SECONDS", "20"))
    grace = pod_spec.get("terminationGracePeriodSeconds", 30)
    p.require(
        grace >= shutdown + SHUTDOWN_MARGIN_SECONDS,
        f"terminationGracePeriodSeconds {grace} must exceed PA_SHUTDOWN_TIMEOUT_SECONDS {shutdown} "
        f"by >= {SHUTDOWN_MARGIN_SECONDS}s",
    )
    # Pod security.
    p.require(pod_spec.get("automountServiceAccountToken") is False, "automountServiceAccountToken must be false")
    p.require(not pod_spec.get("hostNetwork") and not pod_spec.get("hostPID"), "no host namespaces")
    containers = pod_spec.get("containers", [])
    p.require(len(containers) == 1, f"expected one container, found {len(containers)}")
    secret_names: set[str] = set()
    for c in containers:
        _container_security(c, pod_spec.get("securityContext", {}), p)
        _container_metrics(c, config, p)
        secret_names = _container_secrets(c, pod_spec, cm, p)
    _wiring(svc, pdb, smon, pod["metadata"]["labels"], p)
    minimum, maximum = _keda(so, ta, deploy, config, secret_names, p)
    partitions = config.get("PA_TOPIC_PARTITIONS", "0")
    p.finish(
        f"policy ok: namespace {', '.join(sorted(str(n) for n in namespaces))}; "
        f"replicas {minimum}-{maximum} of {partitions} partitions; grace {grace}s > shutdown {shutdown}s; "
        f"automated denials disabled"
    )


# ------------------------------------------------------------------------------ example Secret


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
