"""What every check shares: the artifacts' paths, the problem list and YAML helpers."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
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

Doc = dict[str, Any]


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


def load_docs(path: Path) -> list[Doc]:
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


def describe(doc: Doc) -> str:
    return f"{doc.get('kind', '?')}/{dig(doc, 'metadata', 'name', default='?')}"


def service_env(service: Doc) -> dict[str, str]:
    """A compose service's environment as a mapping (it may be written as a list)."""
    raw = service.get("environment", {})
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    return {k: str(v) for k, v in raw.items()}


def import_worker() -> None:
    """Make the repository's packages (worker, contracts) importable: the checks read the
    worker's own settings and the registry of channels instead of copies of them."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
