"""Deterministic output and identifiers."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta
from typing import Any

from policy import DEFAULT_SETTINGS
from policy.criteria import clear_memo
from tests.policy.factory import RECEIVED_AT, change, continuation, initial, run, set_

ID = re.compile(r"^DET-2025-12-11\.4-[0-9a-f]{8}-[0-9a-f]{32}$")


def test_same_request_same_output() -> None:
    assert run(initial()).model_dump_json() == run(initial()).model_dump_json()
    assert run(continuation()).model_dump_json() == run(continuation()).model_dump_json()


def test_cold_and_warm_caches_give_the_same_output() -> None:
    warm = [run(d).model_dump_json() for d in (initial(), continuation(), initial())]
    cold = []
    for d in (initial(), continuation(), initial()):
        clear_memo()
        cold.append(run(d).model_dump_json())
    assert warm == cold


def test_determination_id_format_and_version() -> None:
    det = run(initial())
    assert ID.match(det.determination_id), det.determination_id
    assert det.determination_id.startswith(f"DET-{DEFAULT_SETTINGS.version}-{DEFAULT_SETTINGS.fingerprint[:8]}-")


def test_ids_do_not_depend_on_now() -> None:
    a = run(initial(), now=RECEIVED_AT)
    b = run(initial(), now=RECEIVED_AT + timedelta(days=3, hours=5))
    assert a.determination_id == b.determination_id
    assert a.authorization is not None and b.authorization is not None
    assert a.authorization.authorization_id == b.authorization.authorization_id
    assert a.decided_at != b.decided_at


def test_any_changed_field_changes_the_determination_id() -> None:
    base = run(initial()).determination_id
    variants = [
        set_("request_id", "REQ-2026-999999"),
        set_("member.first_name", "Rosalia"),
        set_("member.date_of_birth", "1951-03-15"),
        set_("prescriber.name", "Dr. A. Rivera"),
        set_("drug.ndc", "0069-1948-02"),
        set_("documents.2.id", "DOC-88124"),
        set_("prior_lines.0.end_date", "2022-01-16"),
        set_("received_at", "2026-11-27T15:04:06Z"),
        set_("priority", "expedited"),
    ]
    ids = {run(change(initial(), v)).determination_id for v in variants}
    assert len(ids) == len(variants)
    assert base not in ids


def test_unknown_input_fields_and_formatting_do_not_change_the_id() -> None:
    data = change(initial(), set_("intake_system", "portal-7"))  # ignored by the contract
    assert run(data).determination_id == run(initial()).determination_id


def test_changed_settings_never_reuse_ids() -> None:
    base = run(initial())
    wider = run(initial(), settings=DEFAULT_SETTINGS.replace(ecog_window_days=31))
    assert wider.policy.version == base.policy.version  # same version string...
    assert wider.determination_id != base.determination_id  # ...but another fingerprint, another id
    assert wider.authorization is not None and base.authorization is not None
    assert wider.authorization.authorization_id != base.authorization.authorization_id
    bumped = run(initial(), settings=DEFAULT_SETTINGS.replace(version="2025-12-11.9"))
    assert bumped.determination_id.startswith("DET-2025-12-11.9-")
    assert bumped.policy.version == "2025-12-11.9"


def test_ids_carry_no_patient_identifiers() -> None:
    det = run(initial())
    assert det.authorization is not None
    for identifier in ("M00012345", "Rosa", "Quinones", "1951", "1234567893"):
        assert identifier not in det.determination_id
        assert identifier not in det.authorization.authorization_id


def test_a_result_remembered_for_one_request_is_never_handed_to_another_that_differs_in_its_start() -> None:
    """The replay of issue #26 found A.ii's memo key missing the requested start that R49 reads: a request
    inherited "line 4 ends after the new treatment would start" from an earlier one. Each request here is
    evaluated warm after its twin, and must decide as it does alone."""
    import copy
    import json

    from contracts import PARequest
    from policy import evaluate
    from policy.criteria import clear_memo
    from tests.policy.factory import example

    base = example("initial_approved")  # line 4 ends 2026-10-01
    early = copy.deepcopy(base)
    early["drug"]["requested_start_date"] = "2026-09-15"  # before line 4 ends: A.ii not met (R49)
    early["received_at"] = base["received_at"]
    for first, second in ((early, base), (base, early)):
        clear_memo()
        alone = evaluate(*(lambda r: (r, r.received_at))(PARequest.model_validate_json(json.dumps(second))))
        clear_memo()
        r1 = PARequest.model_validate_json(json.dumps(first))
        evaluate(r1, r1.received_at)
        r2 = PARequest.model_validate_json(json.dumps(second))
        warm = evaluate(r2, r2.received_at)
        assert [(c.id, c.result, c.code) for c in warm.criteria] == [(c.id, c.result, c.code) for c in alone.criteria]


def _shifted(data: dict[str, Any], days: int) -> dict[str, Any]:
    """``data`` with the receipt, the requested start and every prior-line date moved by ``days``."""
    import copy

    out = copy.deepcopy(data)
    out["received_at"] = (datetime.fromisoformat(out["received_at"]) + timedelta(days=days)).isoformat()
    if out["drug"].get("requested_start_date"):
        start = date.fromisoformat(out["drug"]["requested_start_date"]) + timedelta(days=days)
        out["drug"]["requested_start_date"] = start.isoformat()
    for line in out["prior_lines"]:
        for k in ("start_date", "end_date"):
            if line.get(k):
                line[k] = (date.fromisoformat(line[k]) + timedelta(days=days)).isoformat()
    return out


def test_a_ii_is_shared_between_requests_whose_prior_lines_differ_by_a_shift_of_every_date() -> None:
    """A.ii's memo key holds each date as days from receipt (``policy.lines.lines_key``): its finding reads
    dates only against each other. A request shifted by 400 days gets, warm, A.ii's result as it would
    alone, and the two requests' A.ii results are the same."""
    from contracts import PARequest
    from policy import evaluate
    from tests.policy.factory import example

    base = example("initial_approved")
    shifted = _shifted(base, 400)
    clear_memo()
    r = PARequest.model_validate_json(json.dumps(shifted))
    alone = evaluate(r, r.received_at).criteria[2]
    clear_memo()
    b = PARequest.model_validate_json(json.dumps(base))
    first = evaluate(b, b.received_at).criteria[2]
    warm = evaluate(r, r.received_at).criteria[2]
    assert first.id == warm.id == "A.ii" and first.result == "met"
    assert warm.model_dump() == alone.model_dump() == first.model_dump()


def test_a_ii_is_not_shared_when_a_shift_crosses_the_member_s_birth_date() -> None:
    """The date of birth is in the key through the comparisons read_lines makes: a line dated before the
    member's birth (a contradiction, R35) is never handed the result of a line dated after it."""
    from contracts import PARequest
    from policy import evaluate
    from tests.policy.factory import example

    base = example("initial_approved")
    born = date.fromisoformat(base["member"]["date_of_birth"])
    first_start = min(date.fromisoformat(x["start_date"]) for x in base["prior_lines"])
    # move the lines (and the receipt) back until the first line starts a day before the member's birth
    early = _shifted(base, -((first_start - born).days + 1))
    clear_memo()
    e = PARequest.model_validate_json(json.dumps(early))
    alone = evaluate(e, e.received_at).criteria[2]
    assert alone.result == "not_met" and alone.code == "prior_line_dates_contradict"
    clear_memo()
    b = PARequest.model_validate_json(json.dumps(base))
    evaluate(b, b.received_at)
    warm = evaluate(e, e.received_at).criteria[2]
    assert warm.model_dump() == alone.model_dump()
