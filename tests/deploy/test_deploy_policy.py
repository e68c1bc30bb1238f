"""The project-specific policy checks of ``pa_deploy_checks`` catch what they exist for: a
rendered overlay broken in one place fails ``k8s-policy`` with a message naming it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "deploy" / "checks"))
import pa_deploy_checks as checks  # noqa: E402  (deploy/checks is not an installed package)

Docs = list[dict[str, Any]]


@pytest.fixture(scope="module")
def production() -> Docs:
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl (kustomize) not installed")
    out = subprocess.run(
        ["kubectl", "kustomize", str(ROOT / "deploy" / "k8s" / "overlays" / "production")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def _of(docs: Docs, kind: str) -> dict[str, Any]:
    (doc,) = [d for d in docs if d["kind"] == kind]
    return doc


def _container(docs: Docs) -> dict[str, Any]:
    return _of(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]


def _denials_on(docs: Docs) -> None:
    _of(docs, "ConfigMap")["data"]["PA_ALLOW_AUTOMATED_DENIALS"] = "true"


def _grace_too_short(docs: Docs) -> None:
    _of(docs, "Deployment")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 21


def _password_in_plain_env(docs: Docs) -> None:
    _container(docs).setdefault("env", []).append({"name": "PA_KAFKA_SASL_PASSWORD", "value": "hunter2"})


def _password_in_configmap(docs: Docs) -> None:
    _of(docs, "ConfigMap")["data"]["PA_KAFKA_SASL_PASSWORD"] = "hunter2"


def _keda_on_another_topic(docs: Docs) -> None:
    _of(docs, "ScaledObject")["spec"]["triggers"][0]["metadata"]["topic"] = "pa.requests.v2"


def _metrics_port_moved(docs: Docs) -> None:
    _of(docs, "ConfigMap")["data"]["PA_METRICS_PORT"] = "9109"


BREAKS: dict[str, tuple[Callable[[Docs], None], str]] = {
    "denials": (_denials_on, "PA_ALLOW_AUTOMATED_DENIALS must be 'false'"),
    "grace": (_grace_too_short, "terminationGracePeriodSeconds 21 must exceed PA_SHUTDOWN_TIMEOUT_SECONDS"),
    "plain password": (_password_in_plain_env, "SASL credentials as plain env values"),
    "configmap password": (_password_in_configmap, "PA_KAFKA_SASL_PASSWORD must not be in the ConfigMap"),
    "keda topic": (_keda_on_another_topic, "kafka trigger topic='pa.requests.v2' differs from PA_TOPIC_REQUESTS"),
    "metrics port": (_metrics_port_moved, "PA_METRICS_PORT must match the metrics containerPort"),
}


def _policy(docs: Docs, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    path = tmp_path / "overlay.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    rc = checks.main(["k8s-policy", "--require-namespace", str(path)])
    return rc, capsys.readouterr().out


def test_the_rendered_overlay_passes(production: Docs, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _policy(production, tmp_path, capsys)[0] == 0


@pytest.mark.parametrize("name", list(BREAKS))
def test_each_break_is_named(name: str, production: Docs, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    docs = yaml.safe_load(yaml.safe_dump(production))  # a deep copy
    breaks, message = BREAKS[name]
    breaks(docs)
    rc, out = _policy(docs, tmp_path, capsys)
    assert rc == 1 and message in out, out


def test_topics_and_acls_match_the_registry(capsys: pytest.CaptureFixture[str]) -> None:
    assert checks.main(["channels"]) == 0, capsys.readouterr().out


def test_a_missing_worker_acl_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pa_deploy_checks import channels

    acls = tmp_path / "acls.txt"
    lines = channels.ACLS.read_text().splitlines()
    acls.write_text("\n".join(x for x in lines if x.split()[:2] != ["User:pa-worker", "Write"] or "reauth" not in x))
    monkeypatch.setattr(channels, "ACLS", acls)
    assert checks.main(["channels"]) == 1
    assert "User:pa-worker lacks Write on pa.reauth-due.v1" in capsys.readouterr().out
