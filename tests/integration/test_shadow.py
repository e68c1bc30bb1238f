"""Shadow mode on the real broker (issue #26 item 3, "a broker test: replay ... from a shadow worker").

A worker with ``PA_SHADOW_VERSION_FILE`` decides every request twice: live, with the version in effect,
to pa.determinations.v1; and under the candidate (step-up doses billed at the dose, R20/R24), in its own
group, to the shadow topic only. Expected values from the label and R20: a first approval without
requested units is 44 + 44 + 76 + 24 x 76 = 1988 units live and 12 + 32 + 76 + 24 x 76 = 1944 in the
shadow. ``pa-worker replay`` then compares the shadow topic with the requests: under the same candidate
nothing changes; under the live version only those units do.
"""

from __future__ import annotations

import asyncio
import csv
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from contracts import PADetermination
from policy import DEFAULT_SETTINGS
from tests.kafkautil import VALID_EXAMPLES, WorkerProcess, create_topics, produce, read_all, settings_for
from tests.offline.replay_data import example, moved, version_file

pytestmark = pytest.mark.kafka


async def _replay(tmp: Path, *args: str) -> dict[str, str]:
    res = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "offline.replay", *args, "--out", str(tmp)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert res.returncode == 1, res.stderr  # written; the bad record named as unreadable
    assert "partition" in res.stderr and "not a request" not in res.stderr
    return dict(csv.reader((tmp / "meta.csv").open(newline="")))


async def test_a_shadow_worker_publishes_the_candidates_decisions_apart_and_replay_reads_them(
    bootstrap: str, unique: str, tmp_path: Path
) -> None:
    cand = version_file(tmp_path / "shadow.toml", "shadow-candidate", step_up_whole_vial_billing=False)
    settings = settings_for(
        bootstrap,
        unique,
        topic_partitions=3,
        shadow_version_file=str(cand),
        topic_shadow_determinations=f"pa.determinations.shadow.{unique}",
    )
    await create_topics(settings)
    now = datetime.now(UTC) - timedelta(minutes=1)
    requests = []
    for i in range(12):
        data = moved(example(VALID_EXAMPLES[i % len(VALID_EXAMPLES)]), now)
        data["request_id"] = f"S{unique[:4]}-{i:04d}"
        data["member"]["member_id"] = f"MS{unique[:4]}{i:05d}"
        requests.append(data)
    records = [(str(r["member"]["member_id"]).encode(), json.dumps(r).encode()) for r in requests]
    await produce(bootstrap, settings.topic_requests, [*records, (b"bad", b"{not a request")])

    worker = WorkerProcess(settings, "--no-scheduler", "--no-reviews", log_path=tmp_path / "worker.log").start()
    try:
        live = await read_all(bootstrap, settings.topic_determinations, expect=12, timeout=120)
        shadow = await read_all(bootstrap, settings.topic_shadow_determinations, expect=12, timeout=120, idle=2)
        dlq = await read_all(bootstrap, settings.topic_dlq, expect=1, timeout=60)
    finally:
        assert worker.terminate() == 0

    live_dets = {d.request_id: d for d in (PADetermination.model_validate_json(r.value) for r in live)}
    shadow_dets = {d.request_id: d for d in (PADetermination.model_validate_json(r.value) for r in shadow)}
    assert len(shadow) == 12 and set(shadow_dets) == set(live_dets) == {r["request_id"] for r in requests}
    assert len(dlq) == 1  # the bad record dead-lettered once, by the live stage only
    assert {d.policy.version for d in live_dets.values()} == {DEFAULT_SETTINGS.version}
    assert {d.policy.version for d in shadow_dets.values()} == {"shadow-candidate"}
    pairs = [
        (live_dets[k].authorization.max_units, shadow_dets[k].authorization.max_units)  # type: ignore[union-attr]
        for k in live_dets
        if live_dets[k].authorization is not None
    ]
    assert (1988, 1944) in pairs and all(a - b in (0, 44) for a, b in pairs)
    assert all(live_dets[k].decision == shadow_dets[k].decision for k in live_dets)  # billing moves units only

    common = ["--requests-topic", settings.topic_requests, "--bootstrap", bootstrap, "--no-allow-automated-denials"]
    common += ["--published-topic", settings.topic_shadow_determinations]
    same = await _replay(tmp_path / "same", *common, "--candidate", str(cand))
    assert (same["compared"], same["changed"]) == ("12", "0")
    live_version = await _replay(tmp_path / "live", *common)
    assert live_version["decisions_changed"] == "0"
    assert live_version["units_changed"] == str(sum(1 for a, b in pairs if a != b))
