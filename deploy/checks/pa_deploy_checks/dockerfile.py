"""deploy/Dockerfile: what is specific to this project. Generic Dockerfile practice (exec-form
JSON, ``USER root`` last, apt pinning and cleanup, ...) is hadolint's job (``hadolint
deploy/Dockerfile`` runs in scripts/deploy-check.sh) and is not repeated here."""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

from pa_deploy_checks.core import DEPLOY, DOCKERFILE, DOCKERIGNORE, METRICS_PORT, ROOT, Problems, dig, load_docs

Stage = dict[str, Any]


def stages_of(structure: list[dict[str, Any]]) -> list[Stage]:
    """The build stages (image with global ARGs substituted, alias, instructions)."""
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for ins in structure:
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
    return stages


def _pod_uid() -> int | None:
    deployment = load_docs(DEPLOY / "k8s" / "base" / "deployment.yaml")[0]
    uid = dig(deployment, "spec", "template", "spec", "securityContext", "runAsUser")
    return uid if isinstance(uid, int) else None


def cmd_dockerfile(args: argparse.Namespace) -> None:
    from dockerfile_parse import DockerfileParser

    p = Problems()
    stages = stages_of(DockerfileParser(path=str(DOCKERFILE)).structure)
    p.require(len(stages) >= 2, f"multi-stage build expected, found {len(stages)} stage(s)")
    if not stages:
        p.finish("")
    final = stages[-1]

    def values(name: str) -> list[str]:
        return [i["value"] for i in final["instructions"] if i["instruction"] == name]

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

    # The runtime image is the builder's venv on a clean base: no toolchain, no package manager.
    copies = values("COPY") + values("ADD")
    p.require(
        copies and all(c.startswith("--from=") for c in copies),
        f"final stage may only copy from the builder stage, found: {copies}",
    )
    p.require(any("/opt/venv" in c for c in copies), "final stage must copy the venv")
    final_runs = " ".join(values("RUN"))
    for tool in ("apt-get install", "gcc", "build-essential", "pip install", "apk add"):
        p.require(tool not in final_runs, f"final stage installs build tools or packages ({tool!r})")

    # The image's user is the uid Kubernetes runs it as (runAsNonRoot can only verify a number).
    users = values("USER")
    uid = _pod_uid()
    user = users[-1].split(":")[0] if users else None
    p.require(
        user is not None and user.isdigit() and int(user) == uid,
        f"final USER {user} must be the numeric uid the Deployment runs as (runAsUser {uid})",
    )

    # Liveness on the metrics port, with what the slim image has (python, not curl).
    health = values("HEALTHCHECK")
    p.require(
        health
        and "urllib" in health[-1]
        and "127.0.0.1" in health[-1]
        and "/healthz" in health[-1]
        and str(METRICS_PORT) in health[-1],
        f"HEALTHCHECK must use python urllib on http://127.0.0.1:{METRICS_PORT}/healthz",
    )
    p.require(any(str(METRICS_PORT) in e for e in values("EXPOSE")), f"EXPOSE {METRICS_PORT} missing")

    def exec_form(name: str) -> Any:
        vals = values(name)
        try:
            return json.loads(vals[-1]) if vals else None
        except json.JSONDecodeError:
            return None

    p.require(exec_form("ENTRYPOINT") == ["pa-worker"], f'ENTRYPOINT must be ["pa-worker"], is {values("ENTRYPOINT")}')
    p.require(exec_form("CMD") == ["run"], f'CMD must be ["run"], is {values("CMD")}')
    p.finish(
        f"{len(stages)} stages; final FROM {final['image']} as USER {users[-1] if users else '?'} (runAsUser {uid}); "
        "HEALTHCHECK, ENTRYPOINT and CMD in place"
    )
