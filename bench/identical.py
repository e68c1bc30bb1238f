"""Proof that an engine change leaves every determination byte-identical.

    .venv/bin/python bench/identical.py --record /tmp/identical.jsonl.gz   # before the change
    .venv/bin/python bench/identical.py --check  /tmp/identical.jsonl.gz   # after it

``--record`` builds a corpus and writes, for each request, its JSON bytes, the evaluation times
and settings it is evaluated at, and the determination bytes (``contracts.codec.determination_json``,
what the worker publishes: pydantic's ``to_json`` of ``PADetermination``) for each. ``--check``
re-evaluates the stored requests with the engine of the working tree, twice (in order, then in
reverse order with the memo tables warm and filled differently), and fails on the first
determination that differs by one byte.

The corpus: the offline bench's stream (``bench/offline.py`` ``variants``), requests drawn with a
fixed seed from the hypothesis strategies of ``tests/strategies.py`` (``approvable_request_dicts``
and ``biased_request_dicts``), and the golden cases of ``tests/policy/golden_cases.yaml`` (with
their own evaluation times and settings). Each request is evaluated at several fixed times
(receipt, receipt + 2 days 7 hours, receipt + 200 days) and under the default settings and with
automated denials on.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from contracts import PARequest  # noqa: E402
from contracts.codec import determination_json  # noqa: E402
from policy import DEFAULT_SETTINGS, PolicySettings, evaluate  # noqa: E402

SETTINGS: dict[str, PolicySettings] = {
    "default": DEFAULT_SETTINGS,
    "denials": DEFAULT_SETTINGS.replace(allow_automated_denials=True),
}
OFFSETS = (timedelta(0), timedelta(days=2, hours=7), timedelta(days=200))


def _hypothesis(strategy: Any, n: int, seed: int) -> list[dict[str, Any]]:
    from hypothesis import HealthCheck, Phase, given
    from hypothesis import seed as hseed
    from hypothesis import settings as hsettings

    out: list[dict[str, Any]] = []

    @hseed(seed)
    @hsettings(
        max_examples=n,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        deadline=None,
    )
    @given(strategy)
    def collect(d: dict[str, Any]) -> None:
        out.append(d)

    collect()
    return out


def corpus(n_bench: int, n_hypothesis: int) -> Iterator[tuple[str, bytes, list[tuple[str, str]]]]:
    """(source, request JSON bytes, [(now ISO, settings name or overrides JSON), ...])."""
    from bench.offline import variants

    default = [("+" + str(o.total_seconds()), name) for o in OFFSETS for name in SETTINGS]
    for p in variants(n_bench, seed=20251211):
        yield "bench", p, default

    from tests.strategies import approvable_request_dicts, biased_request_dicts

    for name, strategy, seed in (
        ("approvable", approvable_request_dicts(), 1),
        ("biased", biased_request_dicts(), 2),
    ):
        for d in _hypothesis(strategy, n_hypothesis, seed):
            yield name, json.dumps(d, separators=(",", ":")).encode(), default

    from tests.policy.golden import load

    for case in load():
        now = case.now or "+0.0"
        yield "golden", json.dumps(case.request_data()).encode(), [(now, json.dumps(case.settings, sort_keys=True))]


def _settings(name: str) -> PolicySettings:
    if name in SETTINGS:
        return SETTINGS[name]
    overrides = json.loads(name)
    return DEFAULT_SETTINGS.replace(**overrides) if overrides else DEFAULT_SETTINGS


def determinations(request_bytes: bytes, at: list[tuple[str, str]]) -> list[str]:
    dump = determination_json  # what the worker publishes (contracts/codec.py)
    try:
        request = PARequest.model_validate_json(request_bytes)
    except Exception as e:  # a drawn request the contract refuses: recorded as such
        return [f"INVALID {type(e).__name__}"] * len(at)
    out = []
    for now_text, settings_name in at:
        try:
            if now_text.startswith("+"):
                now = request.received_at + timedelta(seconds=float(now_text[1:]))
            else:
                now = datetime.fromisoformat(now_text)
        except OverflowError:  # received at the end of the calendar: no later evaluation time
            out.append("NO EVALUATION TIME")
            continue
        try:
            out.append(dump(evaluate(request, now, _settings(settings_name))).decode())
        except Exception as e:  # the engine's exceptions are output too
            out.append(f"RAISED {type(e).__name__}: {e}")
    return out


def record(path: Path, n_bench: int, n_hypothesis: int) -> int:
    t0 = time.perf_counter()
    count = evaluations = 0
    sources: dict[str, int] = {}
    with gzip.open(path, "wt") as f:
        for source, req, at in corpus(n_bench, n_hypothesis):
            outs = determinations(req, at)
            f.write(json.dumps({"source": source, "request": req.decode(), "at": at, "out": outs}) + "\n")
            count += 1
            evaluations += len(at)
            sources[source] = sources.get(source, 0) + 1
    print(f"recorded {count} requests ({sources}), {evaluations} determinations, in {time.perf_counter() - t0:.1f} s")
    return 0


def check(path: Path) -> int:
    t0 = time.perf_counter()
    with gzip.open(path, "rt") as f:
        rows = [json.loads(line) for line in f]
    evaluations = 0
    for order, items in (("in order", rows), ("reversed", rows[::-1])):
        for row in items:
            outs = determinations(row["request"].encode(), [tuple(a) for a in row["at"]])
            for (now, settings), want, got in zip(row["at"], row["out"], outs, strict=True):
                evaluations += 1
                if want != got:
                    print(f"DIFFERENT ({order}): {row['source']} request at {now} settings {settings}")
                    print(f"  request: {row['request'][:300]}")
                    for i, (a, b) in enumerate(zip(want, got, strict=False)):
                        if a != b:
                            print(f"  first difference at byte {i}:\n  want ...{want[max(0, i - 150) : i + 150]}")
                            print(f"  got  ...{got[max(0, i - 150) : i + 150]}")
                            break
                    else:
                        print(f"  lengths {len(want)} / {len(got)}")
                    return 1
    invalid = sum(1 for r in rows if r["out"][0].startswith("INVALID"))
    print(
        f"identical: {len(rows)} requests ({invalid} refused by the contract), {evaluations} determinations "
        f"(two passes), byte for byte, in {time.perf_counter() - t0:.1f} s"
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--record", type=Path, help="write the corpus and its determinations here")
    group.add_argument("--check", type=Path, help="compare the working tree's determinations with this record")
    parser.add_argument("--bench", type=int, default=15000, help="requests from bench/offline.py (default 15000)")
    parser.add_argument("--hypothesis", type=int, default=3000, help="draws per strategy (default 3000)")
    args = parser.parse_args()
    if args.record:
        return record(args.record, args.bench, args.hypothesis)
    return check(args.check)


if __name__ == "__main__":
    raise SystemExit(main())
