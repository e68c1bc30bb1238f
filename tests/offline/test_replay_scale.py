"""``pa-worker replay`` on 200,000 requests against 200,000 published determinations: linear, streaming,
bounded memory, at the evaluator's speed, and every count right.

The requests vary ``contracts/examples/valid/*.json``: 2,240 shapes (10 examples x 28 receipt days, the
clinical dates moved with them, x 8 variants: an ECOG 7 or 22 days old, requested units or not, the last
prior line or not), each request a shape with its own request and member ids. The published determinations
are what an earlier parameter set decided (a 20-day ECOG window, step-up doses billed at dose), shape by
shape with the ids put in. A few lines are broken on purpose, a few requests have no determination.

The replay runs as ``python -m offline.replay`` in a child process, on 20,000 and on 200,000 requests; its
own peak RSS and CPU time come from ``wait4``. The expected diff is computed here by evaluating each shape
under both parameter sets and counting each request once.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from contracts import PARequest
from offline.replay import Diff, PublishedView, digest, outcome_of
from policy import DEFAULT_SETTINGS, evaluate
from tests.kafkautil import VALID_EXAMPLES
from tests.offline.replay_data import example, moved

pytestmark = pytest.mark.slow
_PEAK_REPORTING = (
    "import atexit, runpy, sys\n"
    "def _peak():\n"
    "    with open('/proc/self/status') as f:\n"
    "        kib = next(line.split()[1] for line in f if line.startswith('VmHWM:'))\n"
    "    sys.stderr.write(f'replay-peak-rss-kib {kib}\\n')\n"
    "atexit.register(_peak)\n"
    "sys.argv[0] = 'offline.replay'\n"
    "runpy.run_module('offline.replay', run_name='__main__', alter_sys=True)\n"
)
"""The replay as ``python -m offline.replay``, reporting its own peak RSS as it exits: VmHWM of its
memory after exec. ``wait4``'s ``ru_maxrss`` would also count the pages of the pytest process it was
forked from (the high-water mark survives exec), 1.7 GB late in a full ``make test`` run."""
REPLAY = (sys.executable, "-c", _PEAK_REPORTING, "--no-allow-automated-denials")

N = 200_000
SMALL = 20_000
DAYS = 28
VARIANTS = 8
OLD = DEFAULT_SETTINGS.replace(version="2025-12-11.1-scale", ecog_window_days=20, step_up_whole_vial_billing=False)
RID, MID = "SCALE-00000000", "MSCALE00000000"
BROKEN_REQUESTS = {50_000: "not json", 100_000: '{"schema_version": "1"}', 150_000: "[]", 199_999: "{"}
BROKEN_PUBLISHED = {70_000: "<html>", 140_000: '{"request_id": "x"}'}
UNPUBLISHED = {10, 60_010, 120_010, 180_010, 199_990}


def _shape(base: str, day: int, variant: int) -> dict[str, Any]:
    received = datetime(2026, 11, 2, 15, 4, 5, tzinfo=UTC) + timedelta(days=day, hours=(variant * 5) % 9)
    data = moved(example(base), received)
    data["request_id"], data["member"]["member_id"] = RID, MID
    if "ecog" in data:
        age = 22 if variant & 1 else 7
        data["ecog"]["assessed_on"] = (received.date() - timedelta(days=age)).isoformat()
    if variant & 2:
        data["drug"]["requested_units"] = 1500
    if variant & 4 and len(data["prior_lines"]) > 1:
        data["prior_lines"].pop()
    return data


def _ids(i: int) -> tuple[str, str]:
    return f"SCALE-{i:08d}", f"MSCALE{i:08d}"


def _shape_index(i: int) -> int:
    return (i * 7919) % (len(VALID_EXAMPLES) * DAYS * VARIANTS)  # every shape, spread over the file


def _write(directory: Path, n: int, shapes: list[tuple[str, str, Any, Any, str]]) -> tuple[Path, Path, Diff]:
    """The requests and published files of ``n`` requests, and the diff they must give."""
    requests, published = directory / "requests.jsonl", directory / "published.jsonl"
    expected = Diff()
    with requests.open("w") as rf, published.open("w") as pf:
        for i in range(n):
            req_line, pub_line, before, after, rtype = shapes[_shape_index(i)]
            rid, mid = _ids(i)
            if i in BROKEN_REQUESTS:
                rf.write(BROKEN_REQUESTS[i] + "\n")
            else:
                rf.write(req_line.replace(RID, rid).replace(MID, mid) + "\n")
            if i in BROKEN_PUBLISHED:
                pf.write(BROKEN_PUBLISHED[i] + "\n")
            elif i not in UNPUBLISHED:
                pf.write(pub_line.replace(RID, rid).replace(MID, mid) + "\n")
            if i not in BROKEN_REQUESTS and i not in BROKEN_PUBLISHED and i not in UNPUBLISHED:
                expected.add(before, after, rtype, digest(rid)[:16], f"line {i + 1}")
    return requests, published, expected


def _run(requests: Path, published: Path, out: Path) -> tuple[int, float, float, int, str]:
    """Exit status, wall seconds, CPU seconds and peak RSS (KiB) of the replay as a child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [*REPLAY, "--requests", str(requests), "--published", str(published), "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert proc.stderr is not None
    err = proc.stderr.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    peaks = [int(line.split()[1]) for line in err.splitlines() if line.startswith("replay-peak-rss-kib ")]
    assert peaks, err
    return proc.returncode, wall, usage.ru_utime + usage.ru_stime, peaks[-1], err


def _meta(out: Path) -> dict[str, str]:
    with (out / "meta.csv").open(newline="") as f:
        return dict(csv.reader(f))


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="") as f:
        return list(csv.reader(f))[1:]


def _evaluator_cpu_us(requests: Path, n: int = 5000) -> float:
    """CPU microseconds per request of parse + evaluate at receipt, on the first ``n`` lines of the file."""
    lines = []
    with requests.open("rb") as f:
        for raw in f:
            if len(lines) == n:
                break
            lines.append(raw)
    c0 = time.process_time()
    done = 0
    for raw in lines:
        try:
            req = PARequest.model_validate_json(raw)
        except ValueError:
            continue
        evaluate(req, req.received_at)
        done += 1
    return 1e6 * (time.process_time() - c0) / done


@pytest.fixture
def big_tmp(tmp_path: Path) -> Iterator[Path]:
    """``tmp_path``, its 1.5 GB of input files deleted afterwards (pytest keeps the last runs' directories)."""
    yield tmp_path
    for path in tmp_path.rglob("*.jsonl"):
        path.unlink()


def test_200000_requests_streamed_in_bounded_memory(big_tmp: Path) -> None:
    tmp_path = big_tmp
    shapes: list[tuple[str, str, Any, Any, str]] = []
    for base in VALID_EXAMPLES:
        for day in range(DAYS):
            for variant in range(VARIANTS):
                data = _shape(base, day, variant)
                req = PARequest.model_validate_json(json.dumps(data))
                old = evaluate(req, req.received_at, OLD)
                pub = old.model_dump_json()
                before = PublishedView.model_validate_json(pub).outcome()
                after = outcome_of(evaluate(req, req.received_at))
                shapes.append((json.dumps(data, separators=(",", ":")), pub, before, after, req.request_type))

    small_dir, big_dir = tmp_path / "small", tmp_path / "big"
    small_dir.mkdir()
    big_dir.mkdir()
    t0 = time.perf_counter()
    s_req, s_pub, _ = _write(small_dir, SMALL, shapes)
    b_req, b_pub, expected = _write(big_dir, N, shapes)
    written = time.perf_counter() - t0
    sizes = (b_req.stat().st_size, b_pub.stat().st_size)

    code, s_wall, s_cpu, s_rss, err = _run(s_req, s_pub, small_dir / "out")
    assert code == 0, err  # no broken line among the first 20,000
    code, wall, cpu, rss, err = _run(b_req, b_pub, big_dir / "out")
    assert code == 1, err  # written; the broken lines named
    evaluator = _evaluator_cpu_us(b_req)
    per_request = 1e6 * cpu / N
    print(
        f"\n[replay 200k] files {sizes[0] / 1e6:.0f} MB requests + {sizes[1] / 1e6:.0f} MB published, written in "
        f"{written:.1f} s; replay {wall:.1f} s wall, {cpu:.1f} s CPU ({per_request:.0f} µs CPU per request), peak RSS "
        f"{rss / 1024:.0f} MiB; 20k: {s_wall:.1f} s wall, {s_cpu:.1f} s CPU, peak RSS {s_rss / 1024:.0f} MiB; "
        f"evaluator alone (parse + evaluate, same mix) {evaluator:.0f} µs CPU per request"
    )

    meta = _meta(big_dir / "out")
    assert meta["requests_read"] == str(N) and meta["requests_unreadable"] == str(len(BROKEN_REQUESTS))
    assert meta["published_read"] == str(N - len(UNPUBLISHED))
    assert meta["published_unreadable"] == str(len(BROKEN_PUBLISHED))
    unpublished = len(UNPUBLISHED) + len(BROKEN_PUBLISHED)
    assert meta["requests_without_published_determination"] == str(unpublished)
    assert meta["compared"] == str(expected.compared) == str(N - len(BROKEN_REQUESTS) - unpublished)
    assert meta["changed"] == str(expected.changed)
    assert meta["units_changed"] == str(sum(expected.units.values()))
    decisions = Counter({(r[0], r[1]): int(r[2]) for r in _rows(big_dir / "out" / "decisions.csv")})
    assert decisions == expected.decisions()
    states = Counter({(r[0], r[1]): int(r[2]) for r in _rows(big_dir / "out" / "pend_reasons.csv")})
    assert states == Counter({k: n for k, n in expected.state_pairs().items() if "pended" in k[0] + k[1]})
    criteria = Counter({tuple(r[:5]): int(r[5]) for r in _rows(big_dir / "out" / "criteria.csv")})
    assert criteria == expected.criteria
    units = Counter({(int(r[0]), int(r[1])): int(r[3]) for r in _rows(big_dir / "out" / "units.csv")})
    assert units == expected.units
    # the mix moves: a 22-day ECOG approved now, step-up doses billed as vials again
    assert expected.decisions()[("pended", "approved")] > 10_000 and sum(expected.units.values()) > 1_000
    unreadable = {(r[0], r[1]) for r in _rows(big_dir / "out" / "unreadable.csv")}
    assert unreadable == {("requests", f"line {i + 1}") for i in BROKEN_REQUESTS} | {
        ("published", f"line {sum(1 for j in range(i) if j not in UNPUBLISHED) + 1}") for i in BROKEN_PUBLISHED
    }

    # streaming: ten times the requests, about the same memory; linear: about ten times the time
    assert rss < s_rss + 40 * 1024, (s_rss, rss)
    assert rss < 250 * 1024, rss
    assert cpu < 14 * s_cpu, (s_cpu, cpu)
    # at the evaluator's speed: the published side's parse and the join on disk cost less than the evaluation
    assert per_request < 2.5 * evaluator, (per_request, evaluator)
