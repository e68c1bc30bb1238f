"""Properties over any valid request (hypothesis): the engine never raises, its output passes the
contract strictly, it is deterministic, and it never leaks patient identifiers."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts import PADetermination, PARequest
from policy import DEFAULT_SETTINGS, evaluate
from policy.criteria import clear_memo
from tests.strategies import pa_request_dicts, pa_requests

INITIAL = ["LOB", "A.i", "A.ii", "A.iii", "A.docs", "QL"]
CONTINUATION = ["LOB", "A.i", "B.i", "B.docs.A", "B.docs.B", "QL"]
DENIALS = DEFAULT_SETTINGS.replace(allow_automated_denials=True)
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(pa_requests(), st.booleans())
def test_never_raises_and_output_is_strictly_valid(request: PARequest, denials: bool) -> None:
    det = evaluate(request, request.received_at, DENIALS if denials else DEFAULT_SETTINGS)
    raw = det.model_dump_json()
    again = PADetermination.model_validate_json(raw)  # strict, extra=forbid, consistency validator
    assert again.model_dump_json() == raw
    assert [c.id for c in det.criteria] == (INITIAL if request.request_type == "initial" else CONTINUATION)
    results = {c.result for c in det.criteria}
    if results == {"met"}:
        assert det.decision == "approved" and det.authorization is not None
        # the schedule lists the doses the units cover, never more (R53)
        assert sum(d.units for d in det.authorization.schedule) <= det.authorization.max_units
        requested = request.drug.requested_units
        assert requested is None or det.authorization.max_units == requested
    elif "not_met" in results:
        denied = denials and request.line_of_business not in ("MMM_MA", "MMM_MULTIHEALTH")  # never for MA
        assert (det.decision, det.pend_reason) == (("denied", None) if denied else ("pended", "clinical_review"))
    else:
        assert (det.decision, det.pend_reason) == ("pended", "missing_information")


@PROPERTY
@given(pa_request_dicts())
def test_no_patient_identifiers_in_reasons_or_evidence(data: dict[str, Any]) -> None:
    request = PARequest.model_validate_json(json.dumps(data))
    det = evaluate(request, request.received_at)
    member = data["member"]
    secrets = [member["member_id"], member["date_of_birth"], member.get("first_name"), member.get("last_name")]
    text = " ".join(c.reason + " " + " ".join(c.evidence) for c in det.criteria)
    for secret in filter(None, secrets):
        assert secret not in text


@PROPERTY
@given(pa_requests(), st.integers(0, 10_000))
def test_deterministic_and_ids_independent_of_now(request: PARequest, minutes: int) -> None:
    first = evaluate(request, request.received_at)
    assert evaluate(request, request.received_at).model_dump_json() == first.model_dump_json()
    try:
        later_now = request.received_at + timedelta(minutes=minutes)
    except OverflowError:
        return
    later = evaluate(request, later_now)
    assert later.determination_id == first.determination_id


@settings(max_examples=60, deadline=None)
@given(st.lists(pa_requests(), min_size=2, max_size=6))
def test_memo_is_invisible(requests: list[PARequest]) -> None:
    """Memoized criterion results equal freshly computed ones, whatever came before."""
    warm = [evaluate(r, r.received_at).model_dump_json() for r in requests]
    cold = []
    for r in requests:
        clear_memo()
        cold.append(evaluate(r, r.received_at).model_dump_json())
    assert warm == cold


@settings(max_examples=100, deadline=None)
@given(pa_requests(), pa_requests())
def test_different_requests_have_different_ids(a: PARequest, b: PARequest) -> None:
    if a.model_dump_json() != b.model_dump_json():
        assert evaluate(a, a.received_at).determination_id != evaluate(b, b.received_at).determination_id


def _at(received_at: str, **drug: Any) -> PARequest:
    from tests.policy.factory import change, initial, set_

    data = change(initial(), set_("received_at", received_at), set_("drug", {"hcpcs": "J1323", **drug}))
    if received_at.startswith("9999"):  # an adult then, so only the evidence's age decides (R36)
        lines = [{"line": e["line"], "regimen": e["regimen"]} for e in data["prior_lines"]]  # undated
        data = change(data, set_("member.date_of_birth", "9940-01-01"), set_("prior_lines", lines))
    return PARequest.model_validate_json(json.dumps(data))


def test_ends_of_the_calendar() -> None:
    # The example's evidence (2026) is stale in 9999: missing information, except where a start the
    # day before the local receipt date is retroactive (R3: clinical review). In year 1 its prior lines
    # (2021-2024) start after receipt and are not prior lines (R13): clinical review.
    cases = [
        (_at("9999-12-31T23:00:00Z"), ("pended", "missing_information")),
        (_at("9999-12-31T23:00:00Z", requested_start_date="9999-12-30"), ("pended", "clinical_review")),
        (_at("0001-01-01T00:30:00+01:00"), ("pended", "clinical_review")),
        (_at("0001-01-01T00:30:00+01:00", requested_start_date="0001-01-01"), ("pended", "clinical_review")),
    ]
    for request, expected in cases:
        det = evaluate(request, request.received_at)
        assert PADetermination.model_validate_json(det.model_dump_json()) == det
        assert (det.decision, det.pend_reason) == expected, [c.reason for c in det.criteria if c.result != "met"]
