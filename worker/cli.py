"""``pa-worker``: run the worker, the scheduler, the offline evaluator or the report; export the contracts."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import date, datetime
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
    rp = sub.add_parser(
        "replay",
        add_help=False,  # offline.replay's own parser reads the options (and --help): imported only when run
        help="what a policy version would decide differently: requests against published determinations "
        "or a second version (HTML, CSV); pa-worker replay --help for its options",
    )
    rp.add_argument("options", nargs=argparse.REMAINDER)
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


REPORT_EXIT_EMPTY = 3
"""``pa-worker report``: the report was written with a warning, but nothing was read or no request in scope
was received in the range."""


def _add_report_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rep = sub.add_parser(
        "report",
        help="compliance report (HTML with charts, and CSV) over the determinations and notices of a date range",
        description="Reads pa.determination events, and optionally the letter system's pa.notice events, each from "
        "a JSON Lines file or from its topic (read_committed, up to its end), and writes report.html "
        "(self-contained: inline CSS and SVG), meta.csv, requests.csv (request ids hashed) and one CSV per table "
        "into --out. Requests are selected by the date they were first received, in America/Puerto_Rico time, and "
        "counted as of --as-of. Scope: the Medicare Advantage lines of the policy settings; other lines in an "
        "excluded row. Timeliness = decided (or notified) within the clock / (decided + still open past due); "
        "notified timeliness needs a notices source.",
        epilog="exit status: 0 report written; 1 report written, but some records could not be read (named on "
        "stderr, counted in the report); 2 nothing written: bad arguments, a missing file or topic, or the topic "
        f"not read to its end; {REPORT_EXIT_EMPTY} report written with a warning, but empty: no determination "
        "read, or no request in scope received in the range.",
    )
    src = rep.add_mutually_exclusive_group(required=True)
    src.add_argument("--input", type=Path, help="determinations as JSON Lines (- for stdin)")
    src.add_argument("--topic", help="read the determinations from this topic, e.g. pa.determinations.v1")
    notices = rep.add_mutually_exclusive_group()
    notices.add_argument(
        "--notices", type=Path, help="the letter system's pa.notice events as JSON Lines (- for stdin)"
    )
    notices.add_argument("--notices-topic", help="read the notices from this topic, e.g. pa.notices.v1")
    rep.add_argument(
        "--bootstrap",
        default=None,
        help="brokers for --topic and --notices-topic (default: KAFKA_BOOTSTRAP_SERVERS; TLS/SASL from PA_*)",
    )
    rep.add_argument("--from", dest="start", type=_date, required=True, help="first day received (YYYY-MM-DD)")
    rep.add_argument("--to", dest="end", type=_date, required=True, help="last day received, included")
    rep.add_argument("--out", type=Path, default=Path("pa-report"), help="output directory (default: pa-report)")
    rep.add_argument(
        "--as-of",
        dest="as_of",
        type=_as_of,
        default=None,
        help="count the state of each request at this RFC 3339 time: determinations decided and notices sent later "
        "are left out, open requests past due by then are late (default: the end of the range, 00:00 of the day "
        "after --to in America/Puerto_Rico)",
    )
    rep.add_argument(
        "--scope",
        type=_lines,
        default=None,
        help="comma-separated lines of business to report on (default: the Medicare Advantage lines, "
        "PolicySettings.medicare_advantage_lines); the others are counted in the excluded row",
    )


def _lines(value: str) -> frozenset[str]:
    lines = frozenset(v.strip() for v in value.split(",") if v.strip())
    if not lines:
        raise argparse.ArgumentTypeError("--scope needs at least one line of business")
    return lines


def _read_lines(path: Path, what: str) -> list[bytes] | None:
    if str(path) == "-":
        return sys.stdin.buffer.readlines()
    if not path.is_file():
        print(f"pa-worker report: no such {what} file: {path}", file=sys.stderr)
        return None
    return path.read_bytes().splitlines()


def _report(args: argparse.Namespace) -> int:
    from offline.report import compute, parse_lines, parse_notices, write_report

    if args.end < args.start:
        print(f"pa-worker report: --to {args.end} is before --from {args.start}", file=sys.stderr)
        return 2
    if args.notices is not None and str(args.notices) == "-" and str(args.input) == "-":
        print("pa-worker report: --input and --notices cannot both be stdin", file=sys.stderr)
        return 2
    topics = [t for t in (args.topic, args.notices_topic) if t is not None]
    from_topic: dict[str, list[bytes]] = {}
    if topics:
        from aiokafka.errors import KafkaError

        from offline.report_kafka import TopicReadError, read_topic
        from worker.config import load

        settings = load()
        if args.bootstrap:
            settings = settings.model_copy(update={"bootstrap_servers": args.bootstrap})

        async def read_all() -> None:
            for topic in topics:
                from_topic[topic] = await read_topic(settings.kafka_kwargs(), topic)

        try:
            asyncio.run(read_all())
        except (TopicReadError, KafkaError) as exc:
            print(f"pa-worker report: {exc}", file=sys.stderr)
            return 2
    if args.topic is not None:
        lines, det_source = from_topic[args.topic], f"topic {args.topic}"
    else:
        read = _read_lines(args.input, "determinations")
        if read is None:
            return 2
        lines, det_source = read, "stdin" if str(args.input) == "-" else f"file {args.input.name}"
    notice_lines: list[bytes] | None = None
    notice_source = ""
    if args.notices_topic is not None:
        notice_lines, notice_source = from_topic[args.notices_topic], f"topic {args.notices_topic}"
    elif args.notices is not None:
        notice_lines = _read_lines(args.notices, "notices")
        if notice_lines is None:
            return 2
        notice_source = "stdin" if str(args.notices) == "-" else f"file {args.notices.name}"

    dets, errors = parse_lines(lines)
    for err in errors:
        print(f"pa-worker report: determination record {err.line} not read: {err.message}", file=sys.stderr)
    notices, notice_errors = parse_notices(notice_lines) if notice_lines is not None else (None, [])
    for err in notice_errors:
        print(f"pa-worker report: notice record {err.line} not read: {err.message}", file=sys.stderr)
    report = compute(
        dets,
        args.start,
        args.end,
        notices=notices,
        as_of=args.as_of,
        unreadable=len(errors),
        notices_unreadable=len(notice_errors),
        scope=args.scope,
        determinations_source=det_source,
        notices_source=notice_source,
    )
    page, csvs = write_report(report, args.out)
    for warning in report.warnings():
        print(f"pa-worker report: warning: {warning}", file=sys.stderr)
    print(
        f"{page} ({report.totals.requests} requests in scope, {report.excluded.requests} excluded; "
        f"{report.determinations.read} determination records read); {len(csvs)} CSV files"
    )
    if report.empty:
        return REPORT_EXIT_EMPTY
    return 1 if errors or notice_errors else 0


def _evaluate(args: argparse.Namespace) -> int:
    """``pa-worker evaluate``: the policy versions ``pa-worker run`` would use (the environment, through
    :func:`worker.config.policy_versions`: the version files and the automated-denial switch), the command
    line's switch overriding the environment's."""
    from datetime import timedelta
    from typing import BinaryIO

    from offline.evaluate import run_evaluate
    from worker.config import load, policy_versions
    from worker.runtime import tune_gc

    settings = load()
    tune_gc(settings.gc_gen0_threshold)  # as `pa-worker run` does (worker/runtime/gc.py)
    if args.allow_automated_denials is not None:
        settings = settings.model_copy(update={"allow_automated_denials": args.allow_automated_denials})

    def run(infile: BinaryIO) -> int:
        return run_evaluate(
            infile,
            sys.stdout,
            sys.stderr,
            now=args.now,
            settings=policy_versions(settings),
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
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["replay"]:  # its options, --help included, are offline.replay's own
        from offline.replay import main as replay_main

        return replay_main(argv[1:])
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
