"""``pa-worker replay`` is offline.replay behind the worker's CLI (issue #26 item 2)."""

from __future__ import annotations

from pathlib import Path

from tests.policy.factory import EXAMPLES
from worker import cli


def test_pa_worker_replay_runs_the_offline_replay(tmp_path: Path) -> None:
    requests = tmp_path / "requests.jsonl"
    requests.write_text(
        "".join(p.read_text().replace("\n", " ") + "\n" for p in sorted((EXAMPLES / "valid").glob("*.json")))
    )
    candidate = tmp_path / "candidate.toml"
    candidate.write_text('effective_from = 2026-12-15\nversion = "2026-12-10.1"\necog_window_days = 45\n')
    out = tmp_path / "out"
    status = cli.main(["replay", "--requests", str(requests), "--candidate", str(candidate), "--out", str(out)])
    assert status == 0
    assert (out / "report.html").is_file()
