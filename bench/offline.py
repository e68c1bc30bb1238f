"""Offline throughput of the hot path on one core: parse + evaluate + serialize.

    .venv/bin/python bench/offline.py [--seconds 2] [--rounds 3] [--variants 5000] [--profile | --stages]

Per request: ``PARequest.model_validate_json(bytes)`` -> ``evaluate(request, received_at)`` ->
the determination's JSON bytes (``contracts.codec.determination_json``, what the worker publishes). The input is
a realistic mix built from ``contracts/examples/valid``: a two-week stream of requests
(``received_at`` spread over 14 days, every clinical date moved with it), each with a new
request id, member id and document ids, jittered ECOG, document, start and therapy dates, one of
three agent spellings (generic, brand, upper case) and ICD-10 formats, sometimes a requested
quantity, sometimes no ECOG or one prior line fewer: approvals, pends for clinical review and for
missing information all occur. Seeded: every run measures the same mix. The process runs
with the worker's runtime tuning (``worker/runtime/gc.py``, ``PA_GC_GEN0_THRESHOLD``).

``--stages`` prints what each stage costs on its own (best of five passes over the mix), the
engine's parts too (each criterion timed over the requests it applies to, memo tables warm):
where a request's time goes, and what pydantic's parse and serialization cost whatever the
engine does.

Each round reports wall-clock and CPU-time rates: on a shared, noisy machine the CPU-time rate
(requests per second of this process's CPU) is the steadier figure of what one core does.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Final

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from contracts import PARequest  # noqa: E402
from contracts.codec import determination_json  # noqa: E402
from policy import DEFAULT_SETTINGS, evaluate  # noqa: E402
from policy.criteria import CONTINUATION_CRITERIA, INITIAL_CRITERIA  # noqa: E402
from policy.engine import facts_for  # noqa: E402
from policy.ids import canonical_request  # noqa: E402
from worker.config import Settings  # noqa: E402
from worker.runtime import tune_gc  # noqa: E402

EXAMPLES = sorted((ROOT / "contracts" / "examples" / "valid").glob("*.json"))
DATE_FIELDS = (
    "requested_start_date",
    "start_date",
    "end_date",
    "assessed_on",
    "date",
    "therapy_start_date",
    "response_since",
)
STREAM_START = datetime(2026, 11, 16, tzinfo=UTC)
STREAM_DAYS = 14
"""Requests are received over two weeks, as a worker sees them: ``received_at`` is close to now."""

# How intake systems spell agents: one style per request (a system is consistent with itself).
BRANDS = {
    "bortezomib": "Velcade",
    "lenalidomide": "Revlimid",
    "pomalidomide": "Pomalyst",
    "isatuximab": "Sarclisa",
    "Darzalex Faspro": "daratumumab and hyaluronidase-fihj",
    "Kyprolis": "carfilzomib",
    "Pomalyst": "pomalidomide",
}
STYLES: tuple[Callable[[str], str], ...] = (
    lambda a: a,
    lambda a: BRANDS.get(a, a),
    lambda a: a.upper(),
)
ICD_STYLES: tuple[Callable[[str], str], ...] = (lambda c: c, lambda c: c.replace(".", ""), lambda c: c.lower())


def _shift(node: Any, days: int) -> Any:
    """Every clinical date in ``node`` moved by ``days`` (dates of birth and received_at stay)."""
    if isinstance(node, dict):
        return {
            k: (date.fromisoformat(v) + timedelta(days=days)).isoformat()
            if k in DATE_FIELDS and isinstance(v, str)
            else _shift(v, days)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_shift(v, days) for v in node]
    return node


def _jitter(value: str, rng: random.Random, lo: int, hi: int) -> str:
    return (date.fromisoformat(value) + timedelta(days=rng.randint(lo, hi))).isoformat()


def variants(n: int, seed: int = 20251211) -> list[bytes]:
    """``n`` distinct requests as a two-week stream would bring them (see the module doc)."""
    rng = random.Random(seed)
    bases = [json.loads(p.read_bytes()) for p in EXAMPLES]
    out: list[bytes] = []
    for i in range(n):
        base = rng.choice(bases)
        old = datetime.fromisoformat(base["received_at"])
        received = STREAM_START + timedelta(days=rng.randrange(STREAM_DAYS), seconds=rng.randrange(86400))
        req = _shift(base, (received.date() - old.date()).days)
        req["received_at"] = received.isoformat().replace("+00:00", "Z")
        req["request_id"] = f"REQ-BENCH-{i:07d}"
        req["member"] = {"member_id": f"M{rng.randrange(10**8):08d}", "date_of_birth": "1950-01-01"}
        style = rng.choice(STYLES)
        for line in req["prior_lines"]:
            line["regimen"] = [style(a) for a in line["regimen"]]
        icd = rng.choice(ICD_STYLES)
        req["diagnosis"]["icd10_codes"] = [icd(c) for c in req["diagnosis"]["icd10_codes"]]
        for doc in req["documents"]:
            doc["id"] = f"DOC-{rng.randrange(10**9):09d}"
            doc["date"] = _jitter(doc["date"], rng, -20, 0)
        if "ecog" in req:
            req["ecog"]["assessed_on"] = _jitter(req["ecog"]["assessed_on"], rng, -12, 0)
        if "requested_start_date" in req["drug"]:
            req["drug"]["requested_start_date"] = _jitter(req["drug"]["requested_start_date"], rng, 0, 20)
        if req.get("continuation"):
            c = req["continuation"]
            c["therapy_start_date"] = _jitter(c["therapy_start_date"], rng, -120, 60)
            if c.get("response_since"):
                c["response_since"] = _jitter(c["response_since"], rng, -30, 60)
        roll = rng.random()
        if roll < 0.05:
            req.pop("ecog", None)
        elif roll < 0.10 and req["prior_lines"]:
            req["prior_lines"].pop()
        if rng.random() < 0.3:
            req["drug"]["requested_units"] = rng.choice([1000, 1500, 1900, 1912, 2000])
        else:
            req["drug"].pop("requested_units", None)
        out.append(json.dumps(req, separators=(",", ":")).encode())
    return out


@dataclass
class Round:
    done: int
    wall: float
    cpu: float
    outcomes: Counter[str]


def run(payloads: list[bytes], seconds: float) -> Round:
    """Parse + evaluate + serialize, cycling through ``payloads``, for at least ``seconds`` of wall time."""
    validate = PARequest.model_validate_json
    dump = determination_json  # the worker's bytes (contracts/codec.py)
    settings = DEFAULT_SETTINGS
    outcomes: Counter[str] = Counter()
    done = 0
    size = len(payloads)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    deadline = wall0 + seconds
    while True:
        for _ in range(1000):
            request = validate(payloads[done % size])
            determination = evaluate(request, request.received_at, settings)
            dump(determination)
            done += 1
            if done <= size:
                outcomes[f"{determination.decision}/{determination.pend_reason}"] += 1
        if time.perf_counter() >= deadline:
            break
    return Round(done, time.perf_counter() - wall0, time.process_time() - cpu0, outcomes)


def stages(payloads: list[bytes]) -> list[tuple[str, float]]:
    """Microseconds per request of each stage on its own, best of five passes over ``payloads``."""
    validate = PARequest.model_validate_json
    dump = determination_json
    requests = [validate(p) for p in payloads]
    determinations = [evaluate(r, r.received_at) for r in requests]

    def best(f: Callable[[Any], object], items: list[Any]) -> float:
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            for x in items:
                f(x)
            times.append(time.perf_counter() - t0)
        return min(times) * 1e6 / len(items)

    facts = [facts_for(r, r.received_at) for r in requests]
    criteria = {c.id: c for c in (*INITIAL_CRITERIA, *CONTINUATION_CRITERIA)}.values()
    per_criterion = []
    for c in criteria:
        using = [
            f
            for f in facts
            if c in (INITIAL_CRITERIA if f.request.request_type == "initial" else CONTINUATION_CRITERIA)
        ]
        share = len(using) / len(facts)
        per_criterion.append((f"  criterion {c.id} (in {share:.0%} of requests)", best(c.evaluate, using)))
    parse, canonical, serialize = (
        best(validate, payloads),
        best(canonical_request, requests),
        best(dump, determinations),
    )
    floor = parse + canonical + serialize
    return [
        ("parse: PARequest.model_validate_json", parse),
        ("evaluate: policy engine", best(lambda r: evaluate(r, r.received_at), requests)),
        ("  dates and quantity plan (facts_for)", best(lambda r: facts_for(r, r.received_at), requests)),
        *per_criterion,
        ("  the request's canonical JSON (hashed for the id)", canonical),
        ("serialize: the determination's JSON", serialize),
        (PYDANTIC_FLOOR, floor),
        ("  left of issue #25's 50 us for the rest of the engine", 50 - floor),
    ]


PYDANTIC_FLOOR: Final = "pydantic alone: parse + the id's canonical JSON + serialize"
"""The part of a request's time that pydantic takes whatever the engine does (the contract's models
stay the wire format's source, issue #25): ``bench/run.py`` prints it beside the goals."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=2.0, help="wall seconds per round (default 2)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the median is the figure (default 3)")
    parser.add_argument("--variants", type=int, default=5000, help="distinct requests in the mix (default 5000)")
    parser.add_argument("--profile", action="store_true", help="one round under cProfile, top functions")
    parser.add_argument("--stages", action="store_true", help="what each stage costs on its own")
    args = parser.parse_args()

    payloads = variants(args.variants)
    tune_gc(Settings().gc_gen0_threshold)  # the worker's runtime tuning (worker/runtime/gc.py)
    run(payloads, 0.5)  # warm up caches and the interpreter
    if args.stages:
        for name, us in stages(payloads):
            print(f"{name:<55} {us:6.1f} us")
        return 0
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        run(payloads, args.seconds)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        return 0
    rounds = [run(payloads, args.seconds) for _ in range(args.rounds)]
    outcomes = rounds[0].outcomes
    print(f"mix of {len(payloads)} requests: " + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())))
    for i, r in enumerate(rounds, start=1):
        print(
            f"round {i}: {r.done} requests in {r.wall:.2f} s wall / {r.cpu:.2f} s CPU: "
            f"{r.done / r.wall:,.0f} requests/s wall, {r.done / r.cpu:,.0f} requests/s per CPU second"
        )
    wall = statistics.median(r.done / r.wall for r in rounds)
    cpu = statistics.median(r.done / r.cpu for r in rounds)
    print(
        f"median: {wall:,.0f} requests/s wall ({1e6 / wall:.1f} us each), {cpu:,.0f} requests/s per CPU second "
        f"({1e6 / cpu:.1f} us each) on one core"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
