"""Clinical properties of the engine (hypothesis), each read independently of the engine's code.

* The quantity maximum covers the label's own dosing grid with the therapy start moved by up to
  three days: routine drift never costs a whole dose (INTERPRETATION.md R23).
* No approval has a period that starts before the plan's local receipt date or ends before the
  decision date (R3, R5).
* No reason contradicts the facts it cites: day counts equal the date arithmetic they describe,
  every date it names is a date of the request or of the decision, a continuation's diagnosis is
  never called "not relapsed or refractory", a therapy start after the period is never "inside".
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from contracts import PADetermination, PARequest
from policy import DEFAULT_SETTINGS, evaluate
from policy.schedule import labeled_doses
from tests.policy.factory import example, parse
from tests.policy.letters import check_determination
from tests.strategies import pa_requests

SAN_JUAN = ZoneInfo("America/Puerto_Rico")
PROPERTY = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- the label's grid, written out independently -------------------------------------------------


def label_grid(q2w_from: int | None, last: int) -> list[tuple[int, int]]:
    """(therapy day, units) of every labeled dose up to day ``last``: step-up days 1, 4, 8 (44, 44,
    76 units), then 76 mg from day 15, weekly; every 2 weeks from the first dose on or after
    ``q2w_from`` (not before week 25, day 169); every 4 weeks from the first dose on or after
    ``q2w_from`` + 24 weeks."""
    doses = [(1, 44), (4, 44), (8, 76)]
    q2w = None if q2w_from is None else max(q2w_from, 169)
    q4w = None if q2w is None else q2w + 24 * 7
    day = 15
    while day <= last:
        doses.append((day, 76))
        if q4w is not None and day >= q4w:
            day += 28
        elif q2w is not None and day >= q2w:
            day += 14
        else:
            day += 7
    return doses


def grid_units(first_day: int, last_day: int, q2w_from: int | None) -> int:
    return sum(u for d, u in label_grid(q2w_from, last_day) if first_day <= d <= last_day)


@PROPERTY
@given(
    first_day=st.integers(min_value=-40, max_value=700),
    length=st.integers(min_value=28, max_value=366),
    q2w_from=st.one_of(st.none(), st.integers(min_value=100, max_value=600)),
    shift=st.integers(min_value=-3, max_value=3),
)
def test_the_maximum_covers_the_labeled_schedule_drifted_by_up_to_three_days(
    first_day: int, length: int, q2w_from: int | None, shift: int
) -> None:
    last_day = first_day + length - 1
    # A period holding step-up dose 1 (therapy starting in it) never moves therapy before the period.
    assume(not (first_day <= 1 and first_day - shift > 1))
    maximum = labeled_doses(first_day, last_day, q2w_from, True, DEFAULT_SETTINGS.dose_drift_days).max_units
    drifted = grid_units(first_day - shift, last_day - shift, q2w_from)
    assert maximum >= drifted, (first_day, last_day, q2w_from, shift, maximum, drifted)


@PROPERTY
@given(
    phase=st.sampled_from(["weekly", "every_2_weeks", "every_4_weeks"]),
    offset=st.integers(min_value=0, max_value=400),
    length=st.integers(min_value=28, max_value=366),
    shift=st.sampled_from([-3, -2, -1, 1, 2, 3]),
)
def test_shifting_therapy_start_by_one_to_three_days_never_removes_a_whole_dose(
    phase: str, offset: int, length: int, shift: int
) -> None:
    """Moving ``therapy_start_date`` by 1-3 days moves the period's therapy days by as much. Inside
    one dosing phase nothing but the alignment of the doses changes, and the maximum does not
    change at all. (Across an interval change or the step-up, moving the start moves labeled doses
    in or out of the period, which is the label, not drift; the property above covers those.)"""
    q2w_from = {"weekly": None, "every_2_weeks": 169, "every_4_weeks": 169}[phase]
    lo = {"weekly": 20, "every_2_weeks": 175, "every_4_weeks": 343}[phase]
    hi = {"weekly": 10**6, "every_2_weeks": 330, "every_4_weeks": 10**6}[phase]
    first_day = lo + offset
    last_day = first_day + length - 1
    assume(last_day <= hi and first_day - shift >= lo and last_day - shift <= hi)
    drift = DEFAULT_SETTINGS.dose_drift_days
    before = labeled_doses(first_day, last_day, q2w_from, True, drift).max_units
    moved = labeled_doses(first_day - shift, last_day - shift, q2w_from, True, drift).max_units
    assert moved == before, (phase, first_day, last_day, shift, before, moved)


# --- requests around the receipt date ------------------------------------------------------------


@st.composite
def requests_around_receipt(draw: st.DrawFn) -> tuple[dict[str, Any], datetime]:
    """An approvable example with its receipt time, requested start, therapy start, response date
    and decision time drawn around the receipt date (every hour of the San Juan day)."""
    base = draw(st.sampled_from(["initial_approved", "continuation_approved", "initial_expedited_approved"]))
    data = copy.deepcopy(example(base))
    local_day = date(2026, 11, 27) + timedelta(days=draw(st.integers(min_value=-3, max_value=3)))
    local_time = time(draw(st.integers(0, 23)), draw(st.integers(0, 59)), draw(st.integers(0, 59)))
    received = datetime.combine(local_day, local_time, SAN_JUAN)
    data["received_at"] = received.astimezone(UTC).isoformat().replace("+00:00", "Z")
    start = draw(st.one_of(st.none(), st.integers(min_value=-40, max_value=60)))
    if start is None:
        data["drug"].pop("requested_start_date", None)
    else:
        data["drug"]["requested_start_date"] = (local_day + timedelta(days=start)).isoformat()
    if draw(st.booleans()):
        data["drug"]["requested_units"] = draw(st.integers(min_value=1, max_value=2200))
    if data.get("continuation"):
        c = data["continuation"]
        c["therapy_start_date"] = (local_day - timedelta(days=draw(st.integers(-20, 500)))).isoformat()
        c["best_response"] = draw(st.sampled_from(["sCR", "CR", "VGPR", "PR", "MR", "SD"]))
        if draw(st.booleans()):
            c["response_since"] = (local_day - timedelta(days=draw(st.integers(-10, 400)))).isoformat()
        else:
            c.pop("response_since", None)
    now = received + timedelta(hours=draw(st.integers(min_value=-30, max_value=24 * 400)))
    return data, now


def _local(moment: datetime) -> date:
    return moment.astimezone(SAN_JUAN).date()


@PROPERTY
@given(requests_around_receipt())
def test_no_approval_starts_before_receipt_or_ends_before_the_decision(drawn: tuple[dict[str, Any], datetime]) -> None:
    data, now = drawn
    det = evaluate(parse(data), now)
    if det.decision != "approved":
        return
    auth = det.authorization
    assert auth is not None
    assert auth.valid_from >= _local(det.received_at), (auth.valid_from, det.received_at)
    assert auth.valid_through >= _local(det.decided_at), (auth.valid_through, det.decided_at)
    assert sum(d.units for d in auth.schedule) <= auth.max_units  # the doses the units cover (R53)
    assert all(auth.valid_from <= d.date <= auth.valid_through for d in auth.schedule)


def test_the_generator_draws_approvals_and_continuation_approvals() -> None:
    """The property above is not vacuous: the draws include approvals of both request types."""
    seen: set[str] = set()

    @settings(max_examples=300, deadline=None, database=None)
    @given(requests_around_receipt())
    def collect(drawn: tuple[dict[str, Any], datetime]) -> None:
        data, now = drawn
        det = evaluate(parse(data), now)
        if det.decision == "approved":
            seen.add(det.request_type)

    collect()
    assert seen == {"initial", "continuation"}


# --- reasons against their facts ------------------------------------------------------------------


def check_reasons(det: PADetermination, data: dict[str, Any]) -> None:
    """The facts each sentence is built from are true of the request (read here, not from the
    engine), and the sentences say nothing but those facts (:func:`tests.policy.letters.check_determination`)."""
    check_determination(det)
    received_on = _local(det.received_at)
    by_id = {c.id: c for c in det.criteria}
    for c in det.criteria:
        f = dict(c.facts or {})
        if "received_on" in f:
            assert f["received_on"] == received_on.isoformat(), (c.id, f)
        if "age_days" in f and "dated" in f:
            assert (received_on - date.fromisoformat(f["dated"])).days == f["age_days"], (c.id, f)
        if "age_days" in f and "assessed_on" in f:
            assert (received_on - date.fromisoformat(f["assessed_on"])).days == f["age_days"], (c.id, f)
        if "assessed_on" in f:
            assert f["assessed_on"] == data["ecog"]["assessed_on"]
        if "days_before" in f:
            assert (received_on - date.fromisoformat(f["requested_start"])).days == f["days_before"] > 0
        if "days_ahead" in f:
            assert (date.fromisoformat(f["requested_start"]) - received_on).days == f["days_ahead"] > f["window_days"]
        if "requested_start" in f:
            assert f["requested_start"] == data["drug"]["requested_start_date"]
        if c.id == "B.i" and "therapy_start" in f:
            assert f["therapy_start"] == data["continuation"]["therapy_start_date"]
        if c.id == "A.ii" and "lines" in f:
            assert f["lines"] <= len({line["line"] for line in data["prior_lines"]})
    if det.request_type == "continuation":
        assert by_id["A.i"].code != "not_relapsed_or_refractory"
    auth = det.authorization
    ql = dict(by_id["QL"].facts or {})
    if auth is not None:
        assert (ql["valid_from"], ql["valid_through"]) == (auth.valid_from.isoformat(), auth.valid_through.isoformat())
        assert auth.max_units == min(ql["max_units"], data["drug"].get("requested_units") or ql["max_units"])
        assert len(auth.schedule) <= ql["doses"]  # the doses the units cover (R53)
        assert len(auth.schedule) == ql["doses"] or sum(d.units for d in auth.schedule) + 76 > auth.max_units


@PROPERTY
@given(requests_around_receipt())
def test_no_reason_contradicts_the_facts_it_cites(drawn: tuple[dict[str, Any], datetime]) -> None:
    data, now = drawn
    check_reasons(evaluate(parse(data), now), data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(["initial_approved", "continuation_approved", "pended_missing_information_stale_evidence"]),
    st.integers(min_value=-5, max_value=200),
    st.integers(min_value=-5, max_value=200),
)
def test_evidence_day_counts_in_reasons(base: str, ecog_age: int, doc_age: int) -> None:
    data = copy.deepcopy(example(base))
    received_on = date(2026, 11, 27)
    if data.get("ecog"):
        data["ecog"]["assessed_on"] = (received_on - timedelta(days=ecog_age)).isoformat()
    for d in data["documents"]:
        d["date"] = (received_on - timedelta(days=doc_age)).isoformat()
    det = evaluate(parse(data), datetime(2026, 11, 27, 15, 4, 5, tzinfo=UTC))
    check_reasons(det, data)


# --- issue #22: an approval rests only on what the request positively shows ------------------------

_NOT_A_LINE = st.sampled_from(
    ["N/A", "none", "ninguno", "observación", "unknown", "zoledronic acid", "Xgeva", "radiation", "filgrastim",
     "IVIG", "acyclovir", "dexamethasone", "CC-220", "iberdomide", "mezigdomide", "felzartamab", "PD"]
) | st.from_regex(r"\A(?:ZX|QK|JNJ|TAK|GSK|REGN|ABBV|CC)-[0-9]{3,6}\Z")  # fmt: skip
_ELRANATAMAB = st.sampled_from(
    ["elranatamab", "Elranatamab-bcmm", "ELREXFIO", "Elrexfio®", "Elrexio", "PF-06863135", "pf 06863135"]
)


def _initial_with(entry: list[str]) -> PARequest:
    from tests.policy.factory import change, initial, set_

    return PARequest.model_validate_json(json.dumps(change(initial(), set_("prior_lines.3.regimen", entry))))


@settings(max_examples=150, deadline=None)
@given(_NOT_A_LINE)
def test_no_approval_counts_what_it_did_not_read(name: str) -> None:
    """A placeholder, supportive care or a name the engine cannot read never completes the four lines."""
    request = _initial_with([name])
    assert evaluate(request, request.received_at).decision != "approved"


@settings(max_examples=100, deadline=None)
@given(_ELRANATAMAB, st.integers(0, 3))
def test_no_approval_of_an_initial_request_with_elranatamab_in_its_history(name: str, at: int) -> None:
    from tests.policy.factory import change, initial, set_

    data = change(initial(), set_(f"prior_lines.{at}", {"line": at + 1, "regimen": [name, "dexamethasone"]}))
    request = PARequest.model_validate_json(json.dumps(data))
    assert evaluate(request, request.received_at).decision != "approved"


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 17 * 365 + 4))
def test_no_approval_for_a_member_under_18(days_old: int) -> None:
    from tests.policy.factory import change, initial, set_

    born = date(2026, 11, 27) - timedelta(days=days_old)  # the example is received on 2026-11-27 in San Juan
    data = change(initial(), set_("member.date_of_birth", born.isoformat()))
    request = PARequest.model_validate_json(json.dumps(data))
    det = evaluate(request, request.received_at)
    assert det.decision != "approved"
    assert any(c.code == "member_under_18" for c in det.criteria)


@settings(max_examples=200, deadline=None)
@given(pa_requests())
def test_every_met_names_its_evidence(request: PARequest) -> None:
    det = evaluate(request, request.received_at)
    for c in det.criteria:
        if c.result == "met":
            assert c.evidence, (c.id, c.code)
