"""``python deploy/checks/deploy_checks.py SUBCOMMAND``: one check per subcommand; prints what
it found and exits non-zero on a problem."""

from __future__ import annotations

import argparse
import subprocess

import yaml

import pa_deploy_checks
from pa_deploy_checks.channels import cmd_channels
from pa_deploy_checks.compose import cmd_compose
from pa_deploy_checks.core import DEFAULT_K8S_VERSION, CheckFailed
from pa_deploy_checks.dashboard import cmd_dashboard
from pa_deploy_checks.dockerfile import cmd_dockerfile
from pa_deploy_checks.k8s import cmd_k8s_policy, cmd_k8s_schema, cmd_secret_example
from pa_deploy_checks.prometheus import cmd_prometheusrule, cmd_runbook
from pa_deploy_checks.settings import cmd_settings


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        description=pa_deploy_checks.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = top.add_subparsers(dest="command", required=True)
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
        ("channels", cmd_channels),
        ("dockerfile", cmd_dockerfile),
        ("compose", cmd_compose),
        ("dashboard", cmd_dashboard),
        ("runbook", cmd_runbook),
    ):
        sub.add_parser(name).set_defaults(func=func)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        args.func(args)
    except CheckFailed as exc:
        print(f"  {exc}")
        return 1
    except (OSError, ValueError, KeyError, TypeError, ImportError, subprocess.SubprocessError, yaml.YAMLError) as exc:
        print(f"  error: {type(exc).__name__}: {exc}")
        return 1
    return 0
