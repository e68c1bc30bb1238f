"""Deterministic output and identifiers."""

from __future__ import annotations

import re
from datetime import timedelta

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
