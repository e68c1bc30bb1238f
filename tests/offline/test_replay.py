"""``offline.replay`` on small inputs whose transitions are worked out by hand from the policy.

The base request is ``initial_approved`` (golden ``initial-meets-every-criterion``): received
2026-11-27T15:04:05Z (11:04 in San Juan), ECOG 1 of 2026-11-20, an oncology note, labs and pathology
within 90 days, start 2026-12-01: approved, 1988 units (R24: the 12 mg and 32 mg step-up doses billed as
44 units each, 88, and 25 weekly doses of 76 mg from day 8 to day 176 of the 182-day period, 1900).
``continuation_approved`` (golden ``continuation-meets-every-criterion``): approved, 988 units, no
step-up dose.
"""

from __future__ import annotations

import csv
import random
from collections import Counter
from pathlib import Path

import pytest

from offline.replay import (
    Comparison,
    candidate_choice,
    digest,
    main,
    registry_choice,
    replay_files,
)
from offline.report import request_hash
from policy import DEFAULT_SETTINGS
from policy.criteria import clear_memo
from policy.versions import DEFAULT_VERSIONS, ENGINE_VERSION, parse_version_file
from tests.offline.replay_data import determination_json, line, published_case, request, version_file, write_lines

BASELINE = registry_choice(DEFAULT_VERSIONS, "the version in effect", False)
NOW = f"{DEFAULT_SETTINGS.version} (engine {ENGINE_VERSION})"


def _versions(tmp_path: Path, **fields: object) -> Comparison:
    path = version_file(tmp_path / "candidate.toml", "candidate-1", **fields)
    candidate = parse_version_file(path.read_bytes(), "toml")
    return Comparison(candidate_choice(candidate, "all", False), BASELINE)


def _requests(tmp_path: Path, *docs: dict[str, object]) -> Path:
    return write_lines(tmp_path / "requests.jsonl", [line(d) for d in docs])


def test_whole_vial_billing_off_takes_44_units_from_a_first_approval_only(tmp_path: Path) -> None:
    # R24: 12 + 32 mg billed at dose (44 units) instead of two 44 mg vials (88): 1988 -> 1944.
    # The continuation has no step-up dose: 988 either way.
    reqs = _requests(tmp_path, request("initial_approved", "HW-A1"), request("continuation_approved", "HW-A2"))
    result = replay_files(reqs, _versions(tmp_path, step_up_whole_vial_billing=False))
    d = result.diff
    assert d.compared == 2 and d.changed == 1
    assert d.decisions() == Counter({("approved", "approved"): 2})
    assert d.units == Counter({(1988, 1944): 1})
    assert d.periods == Counter() and d.criteria == Counter()
    assert d.approved_both == 2
    [ex] = d.examples[("units", "1988", "1944")]
    assert ex.request_hash == request_hash("HW-A1") and ex.position == "line 1"


def test_a_longer_ecog_window_approves_an_ecog_of_40_days_only(tmp_path: Path) -> None:
    # R2: current = at most ecog_window_days before the local receipt date (2026-11-27).
    # 40 days old (2026-10-18): missing at 30, met at 45. 50 days: missing at both. 30 days: met at both.
    reqs = _requests(
        tmp_path,
        request("initial_approved", "HW-B1", ecog__assessed_on="2026-10-18"),
        request("initial_approved", "HW-B2", ecog__assessed_on="2026-10-08"),
        request("initial_approved", "HW-B3", ecog__assessed_on="2026-10-28"),
    )
    d = replay_files(reqs, _versions(tmp_path, ecog_window_days=45)).diff
    assert d.states == Counter(
        {
            ("initial", "pended/missing_information", "approved"): 1,
            ("initial", "pended/missing_information", "pended/missing_information"): 1,
            ("initial", "approved", "approved"): 1,
        }
    )
    change = ("A.iii", "missing", "ecog_not_current", "met", "ecog_met")
    assert d.criteria == Counter({change: 1})
    assert d.drivers == Counter({("pended/missing_information", "approved", change): 1})
    assert d.decisions() == Counter({("pended", "approved"): 1, ("pended", "pended"): 1, ("approved", "approved"): 1})
    assert d.units == Counter()  # the one approved on both sides keeps 1988
    assert [e.request_hash for e in d.examples[("state", "pended/missing_information", "approved")]] == [
        request_hash("HW-B1")
    ]


def test_a_stricter_ecog_moves_a_pend_from_missing_information_to_clinical_review(tmp_path: Path) -> None:
    # ECOG 2 is within 0-2 (met), documents dated 2026-06-01 are 179 days old, beyond the 90-day window
    # (A.docs missing): pended for missing information. With max_ecog 1, A.iii is not met, and a not_met
    # wins over a missing (engine.decide): pended for clinical review.
    stale = [{**doc, "date": "2026-06-01"} for doc in request("initial_approved", "x")["documents"]]
    reqs = _requests(tmp_path, request("initial_approved", "HW-C1", ecog__score=2, documents=stale))
    d = replay_files(reqs, _versions(tmp_path, max_ecog=1)).diff
    assert d.states == Counter({("initial", "pended/missing_information", "pended/clinical_review"): 1})
    assert d.decisions() == Counter({("pended", "pended"): 1})
    change = ("A.iii", "met", "ecog_met", "not_met", "ecog_above_threshold")
    assert d.criteria == Counter({change: 1})
    assert d.drivers == Counter({("pended/missing_information", "pended/clinical_review", change): 1})


def test_a_wider_start_window_approves_a_start_35_days_ahead(tmp_path: Path) -> None:
    # R4: an initial request may start at most 30 days after receipt; 2027-01-01 is 35 days after 2026-11-27.
    reqs = _requests(tmp_path, request("initial_approved", "HW-D1", drug__requested_start_date="2027-01-01"))
    d = replay_files(reqs, _versions(tmp_path, start_max_days_ahead_initial=40)).diff
    assert d.states == Counter({("initial", "pended/clinical_review", "approved"): 1})
    assert d.criteria == Counter({("QL", "not_met", "start_date_too_far_ahead", "met", "quantity_labeled_maximum"): 1})


def test_from_its_effective_date_a_candidate_decides_by_the_san_juan_calendar(tmp_path: Path) -> None:
    # Effective 2026-12-01: 03:30 UTC on the 1st is 23:30 on 30 November in San Juan (the baseline decides);
    # 04:30 UTC is 00:30 on the 1st (the candidate: whole-vial billing off, 1988 -> 1944).
    reqs = _requests(
        tmp_path,
        request("initial_approved", "HW-E1", received_at="2026-12-01T03:30:00Z"),
        request("initial_approved", "HW-E2", received_at="2026-12-01T04:30:00Z"),
    )
    path = version_file(tmp_path / "c.toml", "candidate-e", "2026-12-01", step_up_whole_vial_billing=False)
    candidate = parse_version_file(path.read_bytes(), "toml")
    dated = replay_files(reqs, Comparison(candidate_choice(candidate, "from-effective-date", False), BASELINE)).diff
    assert dated.units == Counter({(1988, 1944): 1})
    assert [e.position for e in dated.examples[("units", "1988", "1944")]] == ["line 2"]
    assert dated.after_versions == Counter({NOW: 1, f"candidate-e (engine {ENGINE_VERSION})": 1})
    every = replay_files(reqs, Comparison(candidate_choice(candidate, "all", False), BASELINE)).diff
    assert every.units == Counter({(1988, 1944): 2})


# --- against published determinations --------------------------------------------------------------


def test_against_published_determinations_of_an_earlier_parameter_set(tmp_path: Path) -> None:
    requests, published = published_case(tmp_path)
    out = tmp_path / "out"
    result = replay_files(requests, Comparison(candidate_choice(None, "all", False)), published=published, out_dir=out)
    c, d = result.counts, result.diff
    # PUB-1: 1944 units then (billed at dose), 1988 now. PUB-2: ECOG 40 days old, current in a 45-day window
    # (approved then), not in today's 30 (pended for missing information). PUB-3: 988 both.
    assert d.compared == 3
    assert d.states == Counter(
        {
            ("initial", "approved", "approved"): 1,
            ("initial", "approved", "pended/missing_information"): 1,
            ("continuation", "approved", "approved"): 1,
        }
    )
    assert d.units == Counter({(1944, 1988): 1})
    assert d.criteria == Counter({("A.iii", "met", "ecog_met", "missing", "ecog_not_current"): 1})
    assert d.before_versions == Counter({f"2025-12-11.1 (engine {ENGINE_VERSION})": 3})
    assert d.after_versions == Counter({NOW: 3})
    assert (c.requests_read, c.requests_unreadable, c.requests_evaluated) == (6, 1, 5)
    assert (c.requests_duplicate, c.requests_unpublished) == (1, 1)
    assert (c.published_read, c.published_unreadable, c.published_reviewer) == (8, 2, 1)
    assert (c.published_duplicate, c.published_unmatched) == (1, 1)
    assert [e.request_hash for e in d.examples[("unpublished",)]] == [request_hash("PUB-4")]
    [ex] = d.examples[("state", "approved", "pended/missing_information")]
    assert (ex.request_hash, ex.position) == (request_hash("PUB-2"), "line 2")
    assert ex.detail == "A.iii met (ecog_met) -> missing (ecog_not_current)"
    with (out / "unreadable.csv").open() as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["side", "position", "reason"]
    named = {(r[0], r[1]): r[2] for r in rows[1:]}
    assert set(named) == {("published", "line 7"), ("published", "line 8"), ("requests", "line 6")}
    assert named[("published", "line 7")].startswith("not_json")
    assert named[("published", "line 8")] == "not_a_determination: criteria: Field required"
    assert named[("requests", "line 6")].startswith("validation_error: prescriber")


def test_the_join_gives_the_same_diff_for_any_bucket_count_and_input_order(tmp_path: Path) -> None:
    requests, published = published_case(tmp_path)
    comparison = Comparison(candidate_choice(None, "all", False))
    base = replay_files(requests, comparison, published=published).diff
    rng = random.Random(7)
    for buckets in (1, 3, 64, 257):
        for shuffled in (False, True):
            req, pub = requests, published
            if shuffled:
                req, pub = tmp_path / "r-shuffled.jsonl", tmp_path / "p-shuffled.jsonl"
                r_lines, p_lines = requests.read_text().splitlines(), published.read_text().splitlines()
                # keep each side's duplicate behind its first (the first is the one compared)
                head_r, tail_r = r_lines[:-1], r_lines[-1:]
                rng.shuffle(head_r)
                write_lines(req, head_r + tail_r)
                head_p = p_lines[2:]
                rng.shuffle(head_p)
                write_lines(pub, p_lines[:2] + head_p)
            d = replay_files(req, comparison, published=pub, buckets=buckets).diff
            assert (d.states, d.criteria, d.drivers, d.units, d.periods) == (
                base.states,
                base.criteria,
                base.drivers,
                base.units,
                base.periods,
            )
            assert {k: [e.request_hash for e in v] for k, v in d.examples.items()} == {
                k: [e.request_hash for e in v] for k, v in base.examples.items()
            }


def test_examples_keep_the_smallest_hashes(tmp_path: Path) -> None:
    ids = [f"EX-{i}" for i in range(12)]
    reqs = _requests(tmp_path, *(request("initial_approved", i) for i in ids))
    d = replay_files(reqs, _versions(tmp_path, step_up_whole_vial_billing=False)).diff
    assert d.units == Counter({(1988, 1944): 12})
    kept = [e.request_hash for e in d.examples[("units", "1988", "1944")]]
    assert kept == sorted(request_hash(i) for i in ids)[:5]
    assert digest("EX-1")[:16] == request_hash("EX-1")


def test_unreadable_lines_are_counted_and_named_never_fatal(tmp_path: Path) -> None:
    good = request("initial_approved", "UR-1")
    future_schema = {**request("initial_approved", "UR-2"), "schema_version": "2"}
    big = request("initial_approved", "UR-3", prescriber__name="x" * 2_000_000)
    reqs = write_lines(
        tmp_path / "r.jsonl",
        ["", "not json at all MSECRET1", "[1, 2]", line(future_schema), line(big), "   ", line(good)],
    )
    out = tmp_path / "out"
    result = replay_files(reqs, _versions(tmp_path, step_up_whole_vial_billing=False), out_dir=out)
    assert result.counts.requests_read == 5 and result.counts.requests_unreadable == 4
    assert result.diff.compared == 1 and result.diff.units == Counter({(1988, 1944): 1})
    positions = [(u.position, u.reason.split(":")[0]) for u in result.unreadable]
    assert positions == [
        ("line 2", "not_json"),
        ("line 3", "validation_error"),
        ("line 4", "validation_error"),
        ("line 5", "validation_error"),
    ]
    text = (out / "unreadable.csv").read_text()
    assert "MSECRET1" not in text and "xxxx" not in text
    assert "too large" in text or "bytes; the limit" in text


# --- the command line -------------------------------------------------------------------------------


def test_cli_writes_the_report_and_exits_by_what_it_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    requests, published = published_case(tmp_path)
    out = tmp_path / "report"
    code = main(
        ["--requests", str(requests), "--published", str(published), "--out", str(out), "--no-allow-automated-denials"]
    )
    assert code == 1  # written, but three records could not be read
    err = capsys.readouterr().err
    assert "Decisions changed: 1 of 3" in err and "requests line 6 not read: validation_error" in err
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(
        [
            "report.html",
            "meta.csv",
            "decisions.csv",
            "pend_reasons.csv",
            "criteria.csv",
            "drivers.csv",
            "units.csv",
            "periods.csv",
            "examples.csv",
            "unreadable.csv",
        ]
    )
    meta = dict(csv.reader((out / "meta.csv").open()))
    assert meta["compared"] == "3" and meta["decisions_changed"] == "1" and meta["units_changed"] == "1"
    assert meta["command"].startswith("pa-worker replay --requests ")
    for path in out.iterdir():  # no raw ids anywhere
        text = path.read_text()
        for raw in ("PUB-1", "PUB-2", "PUB-BAD", "MSECRET9876", "MPUB", "1234567893", "REQ-2026"):
            assert raw not in text, (path.name, raw)

    good = write_lines(tmp_path / "good.jsonl", [line(request("initial_approved", "CLI-1"))])
    cand = version_file(tmp_path / "cand.toml", "cli-candidate", step_up_whole_vial_billing=False)
    assert (
        main(
            [
                "--requests",
                str(good),
                "--candidate",
                str(cand),
                "--out",
                str(tmp_path / "v"),
                "--no-allow-automated-denials",
            ]
        )
        == 0
    )
    empty = write_lines(tmp_path / "empty.jsonl", [])
    assert (
        main(
            [
                "--requests",
                str(empty),
                "--candidate",
                str(cand),
                "--out",
                str(tmp_path / "e"),
                "--no-allow-automated-denials",
            ]
        )
        == 3
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--requests", "REQ"], "needs --candidate FILE"),
        (["--candidate", "CAND"], "give one of --requests FILE or --requests-topic TOPIC"),
        (["--requests", "nowhere.jsonl", "--candidate", "CAND"], "no such file: nowhere.jsonl"),
        (["--requests", "REQ", "--candidate", "BAD"], "ecog_window_days"),
        (["--requests", "REQ", "--candidate", "UNKNOWN"], "ecog_windw_days"),
        (["--requests", "REQ", "--candidate", "CAND", "--from", "2026-11-01"], "select a range of --requests-topic"),
        (["--requests", "REQ", "--published", "REQ", "--baseline", "CAND"], "at most one of"),
    ],
)
def test_cli_refuses_what_it_cannot_do_naming_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    files = {
        "REQ": write_lines(tmp_path / "r.jsonl", [line(request("initial_approved", "CLI-2"))]),
        "CAND": version_file(tmp_path / "c.toml", "c-1", ecog_window_days=45),
        "BAD": version_file(tmp_path / "bad.toml", "c-2", ecog_window_days="forty"),
        "UNKNOWN": version_file(tmp_path / "unknown.toml", "c-3", ecog_windw_days=45),
    }
    args = [str(files[a]) if a in files else a for a in argv]
    out = tmp_path / "out"
    assert main([*args, "--out", str(out), "--no-allow-automated-denials"]) == 2
    assert message in capsys.readouterr().err
    assert not (out / "report.html").exists()


# --- the engine's memo tables -----------------------------------------------------------------------


def _order_case(tmp_path: Path) -> tuple[Path, Path]:
    """Two first requests with the same receipt date, date of birth and treatment history: A asks to start
    on 2026-09-15, before its fourth line ends (2026-10-01: R49, A.ii not met, and R3, retroactive); B on
    2026-12-01 (golden initial-meets-every-criterion: approved). Published: each decided on its own."""
    a = request("initial_approved", "ORDER-A", drug__requested_start_date="2026-09-15")
    b = request("initial_approved", "ORDER-B")
    published = []
    for data in (a, b):
        clear_memo()
        published.append(determination_json(data))
    return _requests(tmp_path, a, b), write_lines(tmp_path / "published.jsonl", published)


def test_cold_decides_each_request_as_if_it_were_the_first(tmp_path: Path) -> None:
    requests, published = _order_case(tmp_path)
    clear_memo()
    result = replay_files(requests, Comparison(candidate_choice(None, "all", False)), published=published, cold=True)
    assert result.cold and result.diff.compared == 2 and result.diff.changed == 0


def test_a_warm_replay_decides_as_a_cold_one(tmp_path: Path) -> None:
    requests, published = _order_case(tmp_path)
    clear_memo()
    result = replay_files(requests, Comparison(candidate_choice(None, "all", False)), published=published)
    assert result.diff.changed == 0, result.diff.states
