"""``pa-worker``: run the worker, the scheduler, the offline evaluator or the report; export the contracts."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, date, datetime
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
    run.add_argument(
        "--no-reviews", action="store_true", help="do not run the review stage (pa.reviews.v1, decision clocks) here"
    )
    sched = sub.add_parser(
        "scheduler",
        help="run only the reauthorization-due scheduler",
        epilog=env_help,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sched.add_argument("--create-topics", action="store_true", help="create missing topics at start")
    revs = sub.add_parser(
        "reviews",
        help="run only the review stage: pa.reviews.v1 in, final determinations and decision clocks out",
        epilog=env_help,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    revs.add_argument("--create-topics", action="store_true", help="create missing topics at start")
    ev = sub.add_parser(
        "evaluate",
        help="evaluate pa.request JSON Lines offline (no Kafka); determinations to stdout",
        description="Reads pa.request JSON Lines (or one JSON document) from FILE or stdin and writes one "
        "pa.determination JSON line per valid request to stdout, in input order. Each invalid line gives one "
        "JSON error object on stderr. Exit status 1 if any line was rejected. Reads the worker's settings "
        "as `pa-worker run` does: PA_ALLOW_AUTOMATED_DENIALS, PA_MAX_MESSAGE_BYTES and (with --now) "
        "PA_FUTURE_RECEIVED_AT_TOLERANCE_SECONDS.",
    )
    ev.add_argument("file", nargs="?", default="-", help="input file, or - for stdin (default)")
    ev.add_argument(
        "--now",
        type=_timestamp,
        default=None,
        help="evaluation time (default: each request's received_at, so output is reproducible); a request "
        "received later than it beyond PA_FUTURE_RECEIVED_AT_TOLERANCE_SECONDS is an error (received_in_future)",
    )
    ev.add_argument(
        "--allow-automated-denials",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="emit 'denied' instead of pending for clinical review (not for Medicare Advantage); "
        "default: PA_ALLOW_AUTOMATED_DENIALS, as `pa-worker run` reads it",
    )
    con = sub.add_parser("contracts", help="export or check the JSON Schema and AsyncAPI files")
    con.add_argument("action", choices=["export", "check"])
    _add_report_parser(sub)
    return parser


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def _as_of(value: str) -> datetime:
    try:
        return _timestamp(value)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError("--as-of must be an RFC 3339 timestamp with offset") from None


def _add_report_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rep = sub.add_parser(
        "report",
        help="compliance report (HTML with charts, and CSV) over the determinations of a date range",
        description="Reads pa.determination events from a JSON Lines file or from the topic (read_committed, "
        "up to its end) and writes report.html (self-contained: inline CSS and SVG) and one CSV per table into "
        "--out: requests approved, denied and still open by priority and line of business; time to final "
        "decision and the share within the clock; criteria not met or missing; pend reasons; engine and reviewer "
        "decisions. Requests are selected by the date they were received, in America/Puerto_Rico time. Exit "
        "status 1 if a record could not be read (the report is still written, and says how many).",
    )
    src = rep.add_mutually_exclusive_group(required=True)
    src.add_argument("--input", type=Path, help="determinations as JSON Lines (- for stdin)")
    src.add_argument("--topic", help="read this topic instead, e.g. pa.determinations.v1")
    rep.add_argument(
        "--bootstrap", default=None, help="brokers for --topic (default: KAFKA_BOOTSTRAP_SERVERS; TLS/SASL from PA_*)"
    )
    rep.add_argument("--from", dest="start", type=_date, required=True, help="first day received (YYYY-MM-DD)")
    rep.add_argument("--to", dest="end", type=_date, required=True, help="last day received, included")
    rep.add_argument("--out", type=Path, default=Path("pa-report"), help="output directory (default: pa-report)")
    rep.add_argument(
        "--as-of",
        dest="as_of",
        type=_as_of,
        default=None,
        help="count still-open requests past due at this RFC 3339 time (default: now)",
    )


def _report(args: argparse.Namespace) -> int:
    from worker.report import compute, parse_lines, write_report

    if args.end < args.start:
        print(f"pa-worker report: --to {args.end} is before --from {args.start}", file=sys.stderr)
        return 2
    if args.topic is not None:
        from aiokafka.errors import KafkaError

        from worker.config import load
        from worker.report_kafka import TopicReadError, read_topic

        settings = load()
        if args.bootstrap:
            settings = settings.model_copy(update={"bootstrap_servers": args.bootstrap})
        try:
            lines = asyncio.run(read_topic(settings.kafka_kwargs(), args.topic))
        except (TopicReadError, KafkaError) as exc:
            print(f"pa-worker report: {exc}", file=sys.stderr)
            return 2
    elif str(args.input) == "-":
        lines = sys.stdin.buffer.readlines()
    elif not args.input.is_file():
        print(f"pa-worker report: no such file: {args.input}", file=sys.stderr)
        return 2
    else:
        lines = args.input.read_bytes().splitlines()
    dets, errors = parse_lines(lines)
    for err in errors:
        print(f"pa-worker report: record {err.line} not read: {err.message}", file=sys.stderr)
    as_of = args.as_of or datetime.now(UTC)
    report = compute(dets, args.start, args.end, as_of=as_of, unreadable=len(errors))
    page, csvs = write_report(report, args.out)
    print(f"{page} ({report.requests} requests, {report.determinations} determinations); {len(csvs)} CSV files")
    return 1 if errors else 0


def _evaluate(args: argparse.Namespace) -> int:
    """``pa-worker evaluate``: the policy settings ``pa-worker run`` would use (the environment, through
    :func:`worker.config.policy_settings`), the command line's switch overriding the environment's."""
    from datetime import timedelta
    from typing import BinaryIO

    from worker.config import load, policy_settings
    from worker.evaluate import run_evaluate

    settings = load()
    if args.allow_automated_denials is not None:
        settings = settings.model_copy(update={"allow_automated_denials": args.allow_automated_denials})

    def run(infile: BinaryIO) -> int:
        return run_evaluate(
            infile,
            sys.stdout,
            sys.stderr,
            now=args.now,
            settings=policy_settings(settings),
            max_message_bytes=settings.max_message_bytes,
            future_tolerance=timedelta(seconds=settings.future_received_at_tolerance_seconds),
        )

    if args.file == "-":
        return run(sys.stdin.buffer)
    path = Path(args.file)
    if not path.is_file():
        print(f"pa-worker evaluate: no such file: {path}", file=sys.stderr)
        return 2
    with path.open("rb") as fh:
        return run(fh)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "evaluate":
        return _evaluate(args)
    if args.command == "contracts":
        from contracts.export import main as export_main

        return export_main(["--check"] if args.action == "check" else [])
    if args.command == "report":
        return _report(args)

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
                reviews=settings.reviews_enabled and not args.no_reviews,
                create_topics=args.create_topics,
            )
        )
    if args.command == "reviews":
        return asyncio.run(
            serve(settings, requests=False, scheduler=False, reviews=True, create_topics=args.create_topics)
        )
    return asyncio.run(serve(settings, requests=False, scheduler=True, reviews=False, create_topics=args.create_topics))


if __name__ == "__main__":
    raise SystemExit(main())
