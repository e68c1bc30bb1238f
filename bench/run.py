"""``make bench``: what the worker costs, every figure from this one run on one broker.

1. Throughput: the worker draining a pre-loaded topic of N requests, against the passthrough
   baseline (same consumer, transactional producers and batch settings; copies bytes).
   Reports both rates and worker/passthrough.
2. Latency under load: the same steady offered rate, to the passthrough and then to the worker;
   produce -> output visible to a read_committed consumer; p50, p99, max, and the worker's p99
   over the passthrough's (goal <= 1.5). After 3 seconds at the same rate, not measured.
3. Offline evaluator: parse + evaluate + serialize per request on one core.
4. Memory: peak RSS (VmHWM) of the worker process in the throughput run.
5. ``pa-worker evaluate`` on JSON Lines (bench/evaluate_stream.py): time to first output, lines per
   second and microseconds per line at 20,000 and 100,000 diverse lines (linear time: the same per line).
6. Outputs: ``bench/identical.py --check`` against a record of the tree issue #25 started from
   (``BENCH_IDENTICAL_RECORD``, default ``.bench/identical.jsonl.gz``; without one the row says so).

The table's first rows are issue #25's, each with its goal.

Bench history goes to bench/RESULTS.md.

First a warm-up the worker drains, not measured: a broker just started is still compiling its hot
paths (its CPU per record measured several times that of a warm broker).

Environment: BENCH_N (default 40000), BENCH_RATE (500/s), BENCH_SECONDS (30), BENCH_PARTITIONS (6),
BENCH_WARMUP (20000 requests; 0 to skip), BENCH_EVAL_LINES (20000,100000), BENCH_IDENTICAL_RECORD.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import CoordinatorLoadInProgressError, GroupCoordinatorNotAvailableError
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import evaluate_stream  # noqa: E402
from bench.offline import PYDANTIC_FLOOR  # noqa: E402
from tests.broker import kafka_broker  # noqa: E402
from tests.kafkautil import create_topics, encode, env_for, make_requests, settings_for  # noqa: E402

console = Console()
LATENCY_WARMUP_SECONDS = 3


async def preload(bootstrap: str, topic: str, n: int, prefix: str) -> int:
    reqs = make_requests(n, prefix=prefix)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20, max_batch_size=1_048_576)
    await producer.start()
    size = 0
    try:
        futs = []
        for r in reqs:
            k, v = encode(r)
            size += len(v)
            futs.append(await producer.send(topic, v, key=k))
        await asyncio.gather(*futs)
    finally:
        await producer.stop()
    return size // n


async def committed_total(admin: AIOKafkaAdminClient, group: str) -> int:
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    except (GroupCoordinatorNotAvailableError, CoordinatorLoadInProgressError):
        return 0  # a fresh broker creates its offsets topic on first use: ask again
    return sum(meta.offset for meta in offsets.values() if meta.offset >= 0)


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds of ``pid`` so far (NaN when it cannot be read)."""
    if pid is None:
        return float("nan")
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def broker_pid() -> int | None:
    """The local broker's pid (``scripts/kafka.sh`` writes it), else None."""
    try:
        return int((ROOT / ".kafka" / "broker.pid").read_text())
    except (OSError, ValueError):
        return None


def peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


@dataclass
class Drain:
    rate: float
    """records/s over the steady part (first commit to last)"""
    rss_mb: float
    cpu_us: float
    """CPU microseconds of the draining process per record, over the same part"""
    broker_cpu_us: float
    """CPU microseconds of the broker per record (NaN unless the broker is local)"""


async def drain(bootstrap: str, settings, n: int, cmd: list[str], bpid: int | None = None) -> Drain:  # type: ignore[no-untyped-def]
    """Start ``cmd`` on a pre-loaded topic and measure it until the group has committed ``n``
    (and the CPU of the broker process ``bpid`` meanwhile, when it is known)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    proc = subprocess.Popen(cmd, env=env_for(settings), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        t_first = first = None
        cpu0 = bcpu0 = float("nan")
        deadline = time.monotonic() + 600
        done = 0
        while time.monotonic() < deadline:
            done = await committed_total(admin, settings.group_id)
            now = time.monotonic()
            if first is None and done > 0:
                t_first, first = now, done
                cpu0, bcpu0 = cpu_seconds(proc.pid), cpu_seconds(bpid)
            if done >= n:
                break
            await asyncio.sleep(0.05)
        t_end = time.monotonic()
        cpu1, bcpu1 = cpu_seconds(proc.pid), cpu_seconds(bpid)
        rss = peak_rss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(30)
        await admin.close()
    if first is None or t_first is None or done < n:
        raise RuntimeError(f"{cmd[-1]} did not drain the topic ({done}/{n})")
    records = n - first
    return Drain(records / (t_end - t_first), rss, (cpu1 - cpu0) * 1e6 / records, (bcpu1 - bcpu0) * 1e6 / records)


async def latency(bootstrap: str, unique: str, rate: int, seconds: int, cmd: list[str]) -> list[float]:
    """``cmd`` (the worker or the passthrough: both write each request's output, keyed by its
    request_id, to the determinations topic) offered ``rate`` requests/s for ``seconds``."""
    settings = settings_for(bootstrap, unique)
    await create_topics(settings)
    proc = subprocess.Popen(
        cmd,
        env=env_for(settings),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    sent_at: dict[str, float] = {}
    seen: dict[str, float] = {}
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        isolation_level="read_committed",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    await producer.start()
    try:
        tps = [TopicPartition(settings.topic_determinations, p) for p in range(settings.topic_partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)

        async def reader() -> None:
            while True:
                batch = await consumer.getmany(timeout_ms=50)
                t = time.perf_counter()
                for msgs in batch.values():
                    for m in msgs:
                        seen.setdefault(json.loads(m.value)["request_id"], t)

        rtask = asyncio.create_task(reader())

        async def offer(reqs: list[dict[str, Any]], sent: dict[str, float]) -> None:
            """``reqs`` at ``rate`` per second, then wait until every one is visible."""
            interval = 1.0 / rate
            start = time.perf_counter()
            for i, r in enumerate(reqs):
                delay = start + i * interval - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                k, v = encode(r)
                sent[r["request_id"]] = time.perf_counter()
                await producer.send(settings.topic_requests, v, key=k)
            t_w = time.monotonic()
            while any(rid not in seen for rid in sent) and time.monotonic() - t_w < 60:
                await asyncio.sleep(0.1)

        # Warm-up at the same rate, not measured: the worker owns its partitions and each of its
        # transactional producers has written to its output partitions. Without it, on a new
        # broker, the 150 slowest of 15,000 requests all fell in the first second: p99 192 ms
        # over the whole run, 122 ms without its first 3 seconds.
        await offer(make_requests(rate * LATENCY_WARMUP_SECONDS, prefix=f"warm{unique[:4]}"), {})
        await offer(make_requests(rate * seconds, prefix=f"lat{unique[:4]}"), sent_at)
        rtask.cancel()
    finally:
        await producer.stop()
        await consumer.stop()
        proc.terminate()
        proc.wait(30)
    missing = [rid for rid in sent_at if rid not in seen]
    if missing:
        raise RuntimeError(f"latency run: {len(missing)} requests never determined")
    return sorted(seen[rid] - sent_at[rid] for rid in sent_at)


def offline() -> float:
    """The offline evaluator's median rate per CPU second (bench/offline.py, one core)."""
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "offline.py")], capture_output=True, text=True, check=True, cwd=ROOT
    )
    match = re.search(
        r"median: [\d,]+ requests/s wall \([\d.]+ us each\), ([\d,]+) requests/s per CPU second", out.stdout
    )
    if not match:
        raise RuntimeError(f"bench/offline.py printed no median:\n{out.stdout}")
    return float(match.group(1).replace(",", ""))


def pydantic_floor() -> float:
    """Microseconds per request that pydantic takes whatever the engine does: parse, the id's canonical
    JSON and serialize (``bench/offline.py --stages``, :data:`bench.offline.PYDANTIC_FLOOR`)."""
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "offline.py"), "--stages"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    match = re.search(re.escape(PYDANTIC_FLOOR) + r"\s+([\d.]+) us", out.stdout)
    if not match:
        raise RuntimeError(f"bench/offline.py --stages printed no floor:\n{out.stdout}")
    return float(match.group(1))


IDENTICAL_RECORD = Path(os.environ.get("BENCH_IDENTICAL_RECORD", str(ROOT / ".bench" / "identical.jsonl.gz")))
"""``bench/identical.py --record`` of the tree the outputs must match (issue #25: the tree when it began,
745d1a7); the row says so when there is none."""


def identical() -> str:
    """``bench/identical.py --check`` against :data:`IDENTICAL_RECORD`: its verdict in a few words."""
    if not IDENTICAL_RECORD.is_file():
        return f"not checked: no record at {IDENTICAL_RECORD}"
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "identical.py"), "--check", str(IDENTICAL_RECORD)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    match = re.search(r"identical: (\d+) requests .*?, (\d+) determinations", out.stdout)
    if out.returncode == 0 and match:
        return f"identical: {int(match.group(2)):,} determinations of {int(match.group(1)):,} requests"
    return "DIFFERENT: " + (out.stdout.strip().splitlines() or ["(no output)"])[0][:80]


async def main() -> int:
    n = int(os.environ.get("BENCH_N", "40000"))
    rate = int(os.environ.get("BENCH_RATE", "500"))
    seconds = int(os.environ.get("BENCH_SECONDS", "30"))
    partitions = int(os.environ.get("BENCH_PARTITIONS", "6"))
    warmup = int(os.environ.get("BENCH_WARMUP", "20000"))
    with kafka_broker() as broker:
        bootstrap = broker.bootstrap_servers
        console.print(f"broker: {broker.kind} at {bootstrap}; N={n}, partitions={partitions}")
        results = {}
        bpid = broker_pid() if broker.kind == "local" else None  # the project's own broker only
        passthrough = [sys.executable, "-m", "bench.passthrough"]
        # the request processor alone, as in a deployment that runs the scheduler and the review
        # stage apart (`pa-worker scheduler`, `pa-worker reviews`)
        worker = [sys.executable, "-m", "worker.cli", "run", "--no-scheduler", "--no-reviews"]
        if warmup:  # a broker just started is still compiling its hot paths: not measured
            unique = uuid.uuid4().hex[:8]
            settings = settings_for(bootstrap, unique, topic_partitions=partitions, batch_max_records=500)
            await create_topics(settings)
            await preload(bootstrap, settings.topic_requests, warmup, prefix=f"w{unique[:4]}")
            console.print(f"warm-up: the worker drains {warmup} requests (not measured)...")
            await drain(bootstrap, settings, warmup, worker, bpid)
        for name, cmd in (("passthrough", passthrough), ("worker", worker)):
            unique = uuid.uuid4().hex[:8]
            settings = settings_for(bootstrap, unique, topic_partitions=partitions, batch_max_records=500)
            await create_topics(settings)
            size = await preload(bootstrap, settings.topic_requests, n, prefix=f"b{unique[:4]}")
            console.print(f"{name}: pre-loaded {n} requests (~{size} bytes each); draining...")
            results[name] = await drain(bootstrap, settings, n, cmd, bpid)
            d = results[name]
            console.print(
                f"{name}: {d.rate:,.0f} records/s, peak RSS {d.rss_mb:.0f} MB, CPU per record: "
                f"{d.cpu_us:.0f} us in the process, {d.broker_cpu_us:.0f} us in the broker"
            )
        lats = {}
        for name, cmd in (("passthrough", passthrough), ("worker", worker)):
            console.print(f"latency, {name}: offering {rate}/s for {seconds}s...")
            lats[name] = lat = await latency(bootstrap, uuid.uuid4().hex[:8], rate, seconds, cmd)
            console.print(f"latency, {name}: p50 {lat[len(lat) // 2] * 1000:.1f} ms, max {lat[-1] * 1000:.1f} ms")
        off = offline()
        floor = pydantic_floor()
    console.print("pa-worker evaluate on JSON Lines...")
    evals = [
        evaluate_stream.run(n) for n in (int(x) for x in os.environ.get("BENCH_EVAL_LINES", "20000,100000").split(","))
    ]
    console.print("outputs against the record (bench/identical.py --check)...")
    same = identical()

    def pct(lat: list[float], q: float) -> float:
        return lat[min(len(lat) - 1, int(len(lat) * q))] * 1000

    lat = lats["worker"]
    p50, p99, mx = pct(lat, 0.5), pct(lat, 0.99), lat[-1] * 1000
    pt_lat = lats["passthrough"]
    pt_p50, pt_p99, pt_mx = pct(pt_lat, 0.5), pct(pt_lat, 0.99), pt_lat[-1] * 1000
    pt, wk = results["passthrough"], results["worker"]
    ratio = wk.rate / pt.rate
    table = Table(title="make bench (one run, one broker; figures are of this machine, ratios are the claim)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("goal (#25)", justify="right")
    big = max(evals, key=lambda e: e.lines)
    table.add_row(
        f"pa-worker evaluate, whole process, {big.lines:,} diverse JSON Lines (lines/s)",
        f"{big.lines_per_s:,.0f}",
        ">= 20,000",
    )
    table.add_row("offline evaluator, bench mix, one core (requests/s per CPU second)", f"{off:,.0f}", ">= 20,000")
    table.add_row("  the same per request (us): parse, evaluate, serialize", f"{1e6 / off:.1f}", "<= 50")
    table.add_row("  of which pydantic alone (us): parse, the id's canonical JSON, serialize", f"{floor:.1f}", "")
    table.add_row("worker CPU per request, process (us)", f"{wk.cpu_us:.0f}", "<= 100")
    beyond = wk.cpu_us - 1e6 / off
    table.add_row("  of which beyond the offline evaluator's work (us): Kafka, records, metrics", f"{beyond:.0f}", "")
    table.add_row("  so left of 100 us for parse, evaluate, serialize (us)", f"{100 - beyond:.0f}", "")
    table.add_row("worker peak RSS, throughput run (MB)", f"{wk.rss_mb:.0f}", "< 150")
    table.add_row(f"worker p99 / passthrough p99 @ {rate}/s", f"{p99 / pt_p99:.2f}", "<= 1.5, 3 runs in a row")
    table.add_row("outputs (bench/identical.py)", same, "byte-identical")
    table.add_section()
    table.add_row("passthrough drain (records/s)", f"{pt.rate:,.0f}", "")
    table.add_row("worker drain (requests/s)", f"{wk.rate:,.0f}", "")
    table.add_row("worker / passthrough", f"{ratio:.2f}", "")
    # Per request the worker does at least the passthrough's Kafka work plus the offline
    # evaluator's CPU work, on one core: that bounds the ratio from above.
    ceiling = off / (off + pt.rate)
    table.add_row("  ceiling: offline / (offline + passthrough)", f"{ceiling:.2f}", "")
    table.add_row(
        "  CPU per record, passthrough: process / broker (us)", f"{pt.cpu_us:.0f} / {pt.broker_cpu_us:.0f}", ""
    )
    table.add_row("  CPU per request, worker: process / broker (us)", f"{wk.cpu_us:.0f} / {wk.broker_cpu_us:.0f}", "")
    table.add_row(f"latency p50 @ {rate}/s (ms)", f"{p50:.1f}", "")
    table.add_row(f"latency p99 @ {rate}/s (ms)", f"{p99:.1f}", "< 250")
    table.add_row(f"latency max @ {rate}/s (ms)", f"{mx:.1f}", "")
    table.add_row(
        f"passthrough latency p50 / p99 / max @ {rate}/s (ms)", f"{pt_p50:.1f} / {pt_p99:.1f} / {pt_mx:.1f}", ""
    )
    for e in evals:
        table.add_row(
            f"evaluate {e.lines:,} JSON Lines: first output / total (s), us per line, RSS (MB)",
            f"{e.first_output_s:.2f} / {e.total_s:.1f}, {e.us_per_line:.0f}, {e.rss_mb:.0f}",
            "",
        )
    console.print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
