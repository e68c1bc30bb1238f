"""The deploy artifacts name the topics of the registry of channels (``contracts.channels``):
the compose worker's topic variables, the topics the secure compose broker creates, and the
ACLs that let the worker read and write them."""

from __future__ import annotations

import argparse
import re

import yaml

from pa_deploy_checks.core import COMPOSE, DEPLOY, Problems, dig, import_worker, service_env

SECURE_START = DEPLOY / "compose" / "kafka-secure" / "start.sh"
ACLS = DEPLOY / "kafka-acls" / "acls.txt"
WORKER_PRINCIPAL = "User:pa-worker"


def worker_acls() -> set[tuple[str, str]]:
    """(operation, topic) of every literal topic ACL of the worker's principal."""
    grants: set[tuple[str, str]] = set()
    for line in ACLS.read_text().splitlines():
        fields = line.split()
        if len(fields) == 5 and not line.lstrip().startswith("#"):
            principal, operation, kind, pattern, name = fields
            if principal == WORKER_PRINCIPAL and kind == "topic" and pattern == "literal":
                grants.add((operation, name))
    return grants


def cmd_channels(args: argparse.Namespace) -> None:
    import_worker()
    from contracts.channels import CHANNELS
    from worker.config import ENV_NAMES

    p = Problems()
    used = [c for c in CHANNELS if c.setting is not None]
    env = service_env(dig(yaml.safe_load(COMPOSE.read_text()), "services", "worker", default={}))
    for channel in used:
        var = ENV_NAMES[str(channel.setting)]
        p.require(
            env.get(var, channel.topic) == channel.topic,
            f"compose worker: {var}={env.get(var)!r}, the registry's topic is {channel.topic}",
        )
    created = set(re.findall(r"pa\.[a-z0-9.-]+\.v\d+", SECURE_START.read_text()))
    for channel in CHANNELS:
        p.require(channel.topic in created, f"{SECURE_START.name} does not create {channel.topic}")
    grants = worker_acls()
    for channel in used:
        needs = {"receive": {"Read"}, "send": {"Write"}}.get(str(channel.action), {"Read", "Write"})
        for operation in sorted(needs):
            p.require(
                (operation, channel.topic) in grants,
                f"{ACLS.name}: {WORKER_PRINCIPAL} lacks {operation} on {channel.topic}",
            )
    p.finish(f"{len(CHANNELS)} channels: compose topics, secure broker topics and worker ACLs match the registry")
