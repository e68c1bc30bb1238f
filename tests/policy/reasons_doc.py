"""``python -m tests.policy.reasons_doc`` writes ``policy/REASONS.md`` (the finding codes, their
English and Spanish texts, and the glossary) from :mod:`policy.reasons`; ``--check`` fails when it
is out of date (``make test`` runs the check)."""

from __future__ import annotations

import sys
from pathlib import Path

from policy.reasons import catalogue_markdown

DOCUMENT = Path(__file__).resolve().parents[2] / "policy" / "REASONS.md"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = catalogue_markdown()
    if "--check" in args:
        if DOCUMENT.read_text() != text:
            print("policy/REASONS.md is out of date: run python -m tests.policy.reasons_doc", file=sys.stderr)
            return 1
        return 0
    DOCUMENT.write_text(text)
    print(f"wrote {DOCUMENT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
