"""``pa-worker``: run the worker, the scheduler, the offline evaluator, or export the contracts."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime
from pathlib import Path

from worker.config import describe


def _timestamp(value: str) -> datetime:
    from contracts.models import _RFC3339

    if not _RFC3339.match(value):
        raise argparse.ArgumentTypeError("--now must be an RFC 3339 timestamp with offset, e.g. 2026-11-27T15:00:00Z")
    return datetime.fromisoformat(value)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pa-worker",
        description="Prior-authorization worker for elranatamab-bcmm (Elrexfio), policy MP-RX-FP-120-24.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    env_help = "configuration (environment variables):\n" + describe()
    run = sub.add_parser(
        "run",
        help="consume pa.requests.v1, publish determinations (and reauth reminders) exactly once",
        description="Consume pa.request events, evaluate them against the policy and publish "
        "pa.determination events under Kafka transactions; serve /metrics, /healthz, /readyz.",
        epilog=env_help,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("--create-topics", action="store_true", help="create missing topics at start")
    run.add_argument("--no-scheduler", action="store_true", help="do not run the reauthorization scheduler here")
    sched = sub.add_parser(
        "scheduler",
        help="run only the reauthorization-due scheduler",
        epilog=env_help,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sched.add_argument("--create-topics", action="store_true", help="create missing topics at start")
    ev = sub.add_parser(
        "evaluate",
        help="evaluate pa.request JSON Lines offline (no Kafka); determinations to stdout",
        description="Reads pa.request JSON Lines (or one JSON document) from FILE or stdin and writes one "
        "pa.determination JSON line per valid request to stdout, in input order. Each invalid line gives one "
        "JSON error object on stderr. Exit status 1 if any line was rejected.",
    )
    ev.add_argument("file", nargs="?", default="-", help="input file, or - for stdin (default)")
    ev.add_argument(
        "--now",
        type=_timestamp,
        default=None,
        help="evaluation time (default: each request's received_at, so output is reproducible)",
    )
    ev.add_argument(
        "--allow-automated-denials",
        action="store_true",
        help="emit 'denied' instead of pending for clinical review (not for Medicare Advantage)",
    )
    con = sub.add_parser("contracts", help="export or check the JSON Schema and AsyncAPI files")
    con.add_argument("action", choices=["export", "check"])
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "evaluate":
        from policy import DEFAULT_SETTINGS
        from worker.evaluate import run_evaluate

        policy_settings = DEFAULT_SETTINGS
        if args.allow_automated_denials:
            policy_settings = policy_settings.replace(allow_automated_denials=True)
        if args.file == "-":
            return run_evaluate(sys.stdin.buffer, sys.stdout, sys.stderr, now=args.now, settings=policy_settings)
        path = Path(args.file)
        if not path.is_file():
            print(f"pa-worker evaluate: no such file: {path}", file=sys.stderr)
            return 2
        with path.open("rb") as fh:
            return run_evaluate(fh, sys.stdout, sys.stderr, now=args.now, settings=policy_settings)
    if args.command == "contracts":
        from contracts.export import main as export_main

        return export_main(["--check"] if args.action == "check" else [])

    from worker import logs
    from worker.app import serve
    from worker.config import load
    from worker.runtime import tune_gc

    settings = load()
    logs.configure(settings.log_format, settings.log_level)
    tune_gc(settings.gc_gen0_threshold)
    if args.command == "run":
        return asyncio.run(
            serve(
                settings,
                scheduler=settings.scheduler_enabled and not args.no_scheduler,
                create_topics=args.create_topics,
            )
        )
    return asyncio.run(serve(settings, requests=False, scheduler=True, create_topics=args.create_topics))


if __name__ == "__main__":
    raise SystemExit(main())
