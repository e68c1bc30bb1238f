"""The corpus of ``bench/identical.py`` (the offline bench's stream, the hypothesis draws and the golden
cases: 21,000+ requests) as JSON Lines, for a replay (issue #26 item 4).

    .venv/bin/python -m tests.offline.identical_corpus /tmp/replay/requests.jsonl [--bench 15000] [--hypothesis 3000]

Each request is written once, as drawn, with one change: its ``request_id`` is replaced by a unique one
(``IDENT-<source>-<n>``), since the draws repeat ids and a replay joins the two sides on them. A draw the
contract refuses is written too (the replay names it as unreadable). The corpus is seeded: the same
command writes the same file.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path


def write_corpus(path: Path, n_bench: int = 15000, n_hypothesis: int = 3000) -> Counter[str]:
    from bench.identical import corpus

    counts: Counter[str] = Counter()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for source, request, _ in corpus(n_bench, n_hypothesis):
            counts[source] += 1
            try:
                doc = json.loads(request)
            except ValueError:
                doc = None
            if isinstance(doc, dict) and "request_id" in doc:
                doc["request_id"] = f"IDENT-{source}-{counts[source]:06d}"
                line = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
            else:
                line = request.decode("utf-8", "replace").replace("\n", " ")
            f.write(line + "\n")
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--bench", type=int, default=15000)
    parser.add_argument("--hypothesis", type=int, default=3000)
    args = parser.parse_args(argv)
    counts = write_corpus(args.out, args.bench, args.hypothesis)
    print(f"wrote {sum(counts.values())} requests to {args.out}: {dict(counts)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
