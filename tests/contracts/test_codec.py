"""``contracts.codec.determination_json`` gives pydantic's bytes, exactly, whatever it has cached."""

from __future__ import annotations

import gc
import json
from pathlib import Path

from contracts import CriterionResult, PADetermination, PARequest, codec
from policy import DEFAULT_SETTINGS, evaluate
from policy.criteria import clear_memo

ROOT = Path(__file__).resolve().parents[2]
DUMP = PADetermination.__pydantic_serializer__.to_json


def _requests() -> list[PARequest]:
    return [
        PARequest.model_validate_json(p.read_bytes())
        for p in sorted((ROOT / "contracts/examples/valid").glob("*.json"))
    ]


def test_the_bytes_are_pydantic_s_for_every_example_cold_and_warm() -> None:
    clear_memo()
    for settings in (DEFAULT_SETTINGS, DEFAULT_SETTINGS.replace(allow_automated_denials=True)):
        for _ in range(2):  # cold, then every shared result's bytes from the table
            for r in _requests():
                det = evaluate(r, r.received_at, settings)
                assert codec.determination_json(det) == DUMP(det)


def test_the_published_examples_serialize_as_pydantic_does() -> None:
    """Determinations the engine did not build (reviewers', examples): nothing shared, the same bytes."""
    paths = sorted((ROOT / "contracts/examples/pa.determination/valid").glob("*.json"))
    assert paths
    for p in paths:
        det = PADetermination.model_validate_json(p.read_bytes())
        assert codec.determination_json(det) == DUMP(det)
        assert json.loads(codec.determination_json(det)) == json.loads(DUMP(det))


def test_a_shared_result_leaves_the_table_with_the_result() -> None:
    clear_memo()
    r = _requests()[0]
    det = evaluate(r, r.received_at)
    shared = [id(c) for c in det.criteria if id(c) in codec._SHARED]
    assert shared, "the engine shares its memoized results"
    codec.determination_json(det)
    del det
    clear_memo()
    gc.collect()
    assert not any(key in codec._SHARED for key in shared)


def test_an_entry_for_another_object_at_the_same_address_is_never_used() -> None:
    r = _requests()[0]
    a, b = (c for c in evaluate(r, r.received_at).criteria[:2])
    codec.share(a)
    stale = codec.criterion_json(a)
    codec._SHARED[id(b)] = (codec._SHARED[id(a)][0], stale)  # as if b reused a's address
    assert codec.criterion_json(b) == CriterionResult.__pydantic_serializer__.to_json(b) != stale
    codec._SHARED.pop(id(b))


def test_a_result_not_shared_is_serialized_from_its_values() -> None:
    r = _requests()[0]
    det = evaluate(r, r.received_at)
    for c in det.criteria:
        assert codec.criterion_json(c) == CriterionResult.__pydantic_serializer__.to_json(c)
