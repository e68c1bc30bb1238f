"""Property tests with an oracle (issue #17): each criterion checked against an independent reading
of the policy written here, never against ``policy.criteria``; the generators are biased so that
approvals, continuation approvals and requested quantities are common, and some requests come at
the contract's maximum sizes (100 documents, 40 lines, 25 codes, 12 agents a regimen).

The oracle reads dates on the plan's calendar (San Juan, UTC-4 all year: America/Puerto_Rico has
had no daylight saving since 1945), the windows of INTERPRETATION.md (ECOG 30 days, oncology note
60, imaging or labs 90, supporting documents 90; start 0 days before and 30 or 45 after receipt),
and the agent classes of the regimens the generator writes (tests.strategies.APPROVABLE_LINES).
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings

from contracts import PADetermination, PARequest
from policy import evaluate
from tests.strategies import APPROVABLE_LINES, biased_request_dicts

PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SAN_JUAN_OFFSET = timedelta(hours=-4)
SCOPE = {"MMM_MA", "MMM_MULTIHEALTH"}
MYELOMA = {"C9000", "C9001", "C9002", "C900"}
RR = {"relapsed", "refractory", "relapsed_and_refractory"}
CLASSES_OF_REGIMEN = {tuple(regimen): classes for regimen, classes in APPROVABLE_LINES}


def local_day(moment: datetime) -> date:
    return (moment.astimezone(UTC) + SAN_JUAN_OFFSET).date()


def current(on: date, received: date, window: int) -> bool:
    return 0 <= (received - on).days <= window


def oracle(data: dict[str, Any], now: datetime) -> dict[str, str | None]:
    """Criterion -> expected result (None: the oracle does not judge it for this request)."""
    try:
        received = local_day(datetime.fromisoformat(data["received_at"].replace("Z", "+00:00")))
        decided = local_day(now)
    except OverflowError:
        return {}  # the ends of the calendar: tests/policy/test_properties.py::test_ends_of_the_calendar
    out: dict[str, str | None] = {}
    lob_ok = data["line_of_business"] in SCOPE and data["drug"]["hcpcs"].strip().upper() == "J1323"
    out["LOB"] = "met" if lob_ok else "not_met"

    codes = {c.upper().replace(".", "") for c in data["diagnosis"]["icd10_codes"]}
    status = data["diagnosis"].get("disease_status")
    cont = data.get("continuation")
    if not codes:
        out["A.i"] = "missing"
    elif not codes & MYELOMA:
        out["A.i"] = "not_met"
    elif cont is not None:
        out["A.i"] = "not_met" if status == "newly_diagnosed" else "met"
    else:
        out["A.i"] = "missing" if status is None else ("met" if status in RR else "not_met")
        if out["A.i"] == "met" and "C9001" in codes:
            out["A.i"] = "not_met"  # C90.01 is "in remission": it contradicts a relapsed/refractory status
    born = date.fromisoformat(data["member"]["date_of_birth"])
    age = received.year - born.year - ((received.month, received.day) < (born.month, born.day))
    if born > received or not 18 <= age <= 120:
        out["A.i"] = "not_met"  # the label is for adults; a birth date after receipt cannot be right

    # one id given with two types or two dates: none of its entries is used (INTERPRETATION.md R55). Ids are
    # compared as a reader sees them; the generated ids are ASCII letters, digits and . _ : - (no space), so
    # "DOC-a" and "DOC-A" are one id and case is all there is to fold
    told: dict[str, set[tuple[str, str]]] = {}
    for d in data["documents"]:
        told.setdefault(d["id"].lower(), set()).add((d["type"], d["date"]))
    docs = [(d["type"], date.fromisoformat(d["date"])) for d in data["documents"] if len(told[d["id"].lower()]) == 1]
    if cont is None:
        ecog = data.get("ecog")
        if ecog is None or not current(date.fromisoformat(ecog["assessed_on"]), received, 30):
            out["A.iii"] = "missing"
        else:
            out["A.iii"] = "met" if ecog["score"] <= 2 else "not_met"
        supporting = {"chart_notes", "lab_results", "pathology_report", "imaging", "oncology_note"}
        out["A.docs"] = "met" if any(t in supporting and current(d, received, 90) for t, d in docs) else "missing"
        out["A.ii"] = _a_ii(data, received)
    else:
        start = date.fromisoformat(cont["therapy_start_date"])
        since = cont.get("response_since")
        since_d = None if since is None else date.fromisoformat(since)
        ecog = data.get("ecog")
        declined = (
            ecog is not None and ecog["score"] > 2 and current(date.fromisoformat(ecog["assessed_on"]), received, 30)
        )
        bad = (
            declined
            or start < date(2018, 1, 1)
            or start > received
            or (since_d is not None and (since_d < start or since_d > received))
            or cont["disease_progression"]
            or cont["unacceptable_toxicity"]
            or cont["best_response"] == "PD"
        )
        out["B.i"] = "not_met" if bad else "met"
        # issue #22: evidence of the response is dated on or after the therapy start
        note = any(t == "oncology_note" and current(d, received, 60) and d >= start for t, d in docs)
        out["B.docs.A"] = "met" if note else "missing"
        measures = {"imaging", "lab_results"}
        found = any(t in measures and current(d, received, 90) and d >= start for t, d in docs)
        out["B.docs.B"] = "met" if found else "missing"

    requested_start = data["drug"].get("requested_start_date")
    ahead = 45 if cont is not None else 30
    if requested_start is not None:
        s = date.fromisoformat(requested_start)
        if s < received or (s - received).days > ahead:
            out["QL"] = "not_met"
        else:
            out["QL"] = _quantity(data, s, decided, cont)
    else:
        out["QL"] = _quantity(data, max(decided, received), decided, cont)
    return out


def _a_ii(data: dict[str, Any], received: date) -> str | None:
    if not data["prior_lines"]:
        return "missing"
    by_line: dict[int, list[str]] = {}
    for e in data["prior_lines"]:
        if e.get("start_date") and date.fromisoformat(e["start_date"]) > received:
            return None  # lines starting after receipt: judged by the golden cases, not here
        by_line.setdefault(e["line"], []).extend(e["regimen"])
    classes: set[str] = set()
    for e in data["prior_lines"]:
        regimen = tuple(e["regimen"])
        known = CLASSES_OF_REGIMEN.get(regimen) or CLASSES_OF_REGIMEN.get(regimen[: len(regimen) // 4 or 1])
        if known is None and not _repeats_a_known_regimen(regimen):
            return None  # a name the oracle's table does not read: the golden cases judge names
        classes |= known if known is not None else _repeats_a_known_regimen(regimen) or set()
    undated = [tuple(e["regimen"]) for e in data["prior_lines"] if not e.get("start_date")]
    if len(undated) != len(set(undated)) or len(data["prior_lines"]) != len(by_line):
        return None  # the same regimen undated twice, or a number shared: IMWG structure, golden cases
    if len(by_line) < 4:
        return "not_met"
    return "met" if classes >= {"cd38", "pi", "imid"} else "not_met"


def _repeats_a_known_regimen(regimen: tuple[str, ...]) -> set[str] | None:
    for known, classes in CLASSES_OF_REGIMEN.items():
        if regimen and all(a == known[i % len(known)] for i, a in enumerate(regimen)):
            return classes
    return None


def _quantity(data: dict[str, Any], start: date, decided: date, cont: dict[str, Any] | None) -> str | None:
    try:
        end = date(start.year + (start.month + 5) // 12, (start.month + 5) % 12 + 1, 1)
    except ValueError:
        return None
    if end <= decided:
        return None  # a period over before the decision: golden cases
    if cont is not None and date.fromisoformat(cont["therapy_start_date"]) > start + timedelta(days=180):
        return None
    units = data["drug"].get("requested_units")
    if units is None or units <= 500:
        return "met"  # every 6-month period holds at least 7 doses of 76 mg (532 units)
    return None


def decision_of(results: dict[str, str]) -> tuple[str, str | None]:
    values = set(results.values())
    if "not_met" in values:
        return "pended", "clinical_review"
    if "missing" in values:
        return "pended", "missing_information"
    return "approved", None


def _evaluate(data: dict[str, Any]) -> tuple[PADetermination, datetime]:
    request = PARequest.model_validate_json(json.dumps(data))
    now = request.received_at
    return evaluate(request, now), now


@PROPERTY
@given(biased_request_dicts())
def test_each_criterion_agrees_with_an_independent_reading(data: dict[str, Any]) -> None:
    det, now = _evaluate(data)
    got = {c.id: c.result for c in det.criteria}
    expected = oracle(data, now)
    for cid, result in expected.items():
        if result is not None:
            assert got[cid] == result, (cid, got[cid], next(c.reason for c in det.criteria if c.id == cid))
    assert (det.decision, det.pend_reason) == decision_of(got)
    if det.decision == "approved":
        assert all(r == "met" for r in got.values())


def test_the_generator_is_biased_toward_approvals_and_quantities() -> None:
    """At least a quarter of the draws each: approvals, continuation approvals among continuations,
    requests with requested units; and the maximum sizes are drawn."""
    counts: Counter[str] = Counter()

    # derandomized: a measure of the generator, the same 400 draws every run (a random run once drew 159
    # examples, 31 approvals, and failed while the generator was unchanged)
    @settings(
        max_examples=400,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(biased_request_dicts())
    def collect(data: dict[str, Any]) -> None:
        det, _ = _evaluate(data)
        counts["all"] += 1
        counts[det.decision] += 1
        if det.request_type == "continuation":
            counts["continuations"] += 1
            counts["continuation_approved"] += det.decision == "approved"
        counts["units"] += data["drug"].get("requested_units") is not None
        counts["max_sizes"] += len(data["documents"]) == 100 and len(data["prior_lines"]) in (4, 40)

    collect()
    assert counts["approved"] >= counts["all"] / 4, counts
    assert counts["continuation_approved"] >= counts["continuations"] / 4, counts
    assert counts["units"] >= counts["all"] / 4, counts
    assert counts["max_sizes"] >= 10, counts
