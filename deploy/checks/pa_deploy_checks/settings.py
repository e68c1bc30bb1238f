"""The environment a worker container would get passes the worker's own ``Settings``."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import yaml

from pa_deploy_checks.core import COMPOSE, ROOT, CheckFailed, Problems, dig, import_worker, load_docs, service_env

# Exactly what the container does at start: worker.config.load() exits with one clear line
# when a variable is invalid.
_LOAD_SETTINGS = """
from worker.config import load
s = load()
print(f"valid: {s.kafka_security_protocol}, group {s.group_id}, log {s.log_format}/{s.log_level}, "
      f"automated denials {'ENABLED' if s.allow_automated_denials else 'disabled'}")
"""


def settings_problems(env: dict[str, str], p: Problems) -> None:
    """Every variable of ``env`` is a worker setting (named by ``worker.config.ENV_NAMES``), and
    the worker loads them, with automated denials off."""
    import_worker()
    from worker.config import ENV_NAMES

    known = set(ENV_NAMES.values())
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
        env = service_env(dig(compose, "services", "worker", default={}))
        source = "compose service worker"
    settings_problems(env, p)
    p.finish(f"{len(env)} variables from {source} accepted by worker.config")
