"""``pa-worker evaluate`` on large JSON Lines input: linear time, output from the start.

    python bench/evaluate_stream.py [N ...]     # default: 20000 100000 (BENCH_EVAL_LINES)

For each N: N distinct requests, one per line, in a file: the offline bench's diverse two-week
stream (``bench/offline.py`` ``variants``: every request with its own ids, dates, spellings and
documents). ``pa-worker evaluate FILE`` runs as its own process. Reported: the time to the first
determination line on stdout, the whole process's time (start-up included) as lines per second and
microseconds per line, and the process's peak RSS. Linear time shows as the same microseconds per
line at every N; constant memory as the same RSS. Issue #25's goal: at least 20,000 lines/s at
100,000 lines.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.offline import variants  # noqa: E402


@dataclass
class EvalRun:
    lines: int
    first_output_s: float
    total_s: float
    us_per_line: float
    rss_mb: float

    @property
    def lines_per_s(self) -> float:
        return self.lines / self.total_s


def _write_input(path: Path, n: int) -> None:
    with path.open("wb") as fh:
        for line in variants(n, seed=25):
            fh.write(line + b"\n")


def run(n: int) -> EvalRun:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "requests.jsonl"
        _write_input(path, n)
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "worker.cli", "evaluate", str(path)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert proc.stdout is not None
        first = proc.stdout.readline()
        first_at = time.perf_counter() - started
        count = 1 if first else 0
        rss = _vm_hwm_mb(proc.pid)
        for _ in proc.stdout:
            count += 1
            if count % 5000 == 0:
                rss = max(rss, _vm_hwm_mb(proc.pid))
        _, status, _ = os.wait4(proc.pid, 0)
        total = time.perf_counter() - started
    if count != n:
        raise RuntimeError(f"pa-worker evaluate wrote {count} determinations for {n} lines (status {status})")
    return EvalRun(n, first_at, total, total * 1e6 / n, rss)


def _vm_hwm_mb(pid: int) -> float:
    """Peak RSS of the running process (not ``ru_maxrss``: that counts the forking parent's pages)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def main() -> int:
    sizes = [int(a) for a in sys.argv[1:]] or [
        int(x) for x in os.environ.get("BENCH_EVAL_LINES", "20000,100000").split(",")
    ]
    for n in sizes:
        r = run(n)
        print(
            f"evaluate {r.lines} lines: first output after {r.first_output_s:.2f} s, total {r.total_s:.1f} s, "
            f"{r.lines_per_s:,.0f} lines/s ({r.us_per_line:.0f} us/line), peak RSS {r.rss_mb:.0f} MB"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
