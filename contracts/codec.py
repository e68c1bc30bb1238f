"""The determination's wire bytes, fast: pydantic's own serializer, each shared part serialized once.

``determination_json(det)`` returns exactly ``PADetermination.__pydantic_serializer__.to_json(det)``
(``bench/identical.py`` and ``tests/contracts/test_codec.py`` compare them byte for byte). Pydantic
stays the only definition of the wire format: every byte still comes from its serializers; what
changes is how often they run.

Most of a determination's bytes are its criteria (about 5 KB of 6.9 KB on the bench mix: two
sentences, a citation in two languages and the facts, for each of six criteria). The engine
memoizes the criterion results whose inputs repeat (scope, diagnosis, prior lines, ECOG) and hands
the *same frozen instance* to every determination with that finding; it tells this module so
(:func:`share`), and such a result's JSON is computed once and kept, keyed by identity, for as long
as the result lives (a weak reference removes the entry with it, so an id is never reused). Any other
criterion is serialized from its field values by ``pydantic_core.to_json``, which gives the same
bytes as the model's serializer for this model's value types (str, int, bool, None, lists and dicts
of them) about a third faster. The determination's other fields are serialized by pydantic with an
empty ``criteria`` list, and the criteria's bytes are put in its place: ``"criteria":[]`` occurs once
in that output, since a JSON string cannot hold an unescaped quote and no other field is named
``criteria``.
"""

from __future__ import annotations

import weakref
from typing import Final

import pydantic_core

from contracts._build import build
from contracts.models import CriterionResult, PADetermination

__all__ = ["criterion_json", "determination_json", "share"]

_DUMP: Final = PADetermination.__pydantic_serializer__.to_json
_PLAIN: Final = pydantic_core.to_json
_EMPTY: Final = b'"criteria":[]'
_SHARED: dict[int, tuple[weakref.ref[CriterionResult], bytes | None]] = {}
"""The shared results, by identity: each entry lives exactly as long as its result (a weak reference
whose callback removes it), so the table is bounded by the engine's own memo tables."""


def share(result: CriterionResult) -> CriterionResult:
    """Note that ``result`` is handed to many determinations: its JSON is then computed once."""
    key = id(result)

    def forget(_: weakref.ref[CriterionResult]) -> None:
        _SHARED.pop(key, None)

    _SHARED[key] = (weakref.ref(result, forget), None)
    return result


def criterion_json(result: CriterionResult) -> bytes:
    """``CriterionResult.__pydantic_serializer__.to_json(result)``; once per shared instance."""
    key = id(result)
    hit = _SHARED.get(key)
    if hit is None or hit[0]() is not result:
        return _PLAIN(result.__dict__)
    data = hit[1]
    if data is None:
        data = _PLAIN(result.__dict__)
        _SHARED[key] = (hit[0], data)
    return data


def determination_json(det: PADetermination) -> bytes:
    """``PADetermination.__pydantic_serializer__.to_json(det)``, each shared criterion's bytes reused."""
    criteria = det.criteria
    if not criteria:
        return _DUMP(det)
    out = _DUMP(build(PADetermination, {**det.__dict__, "criteria": []}))
    return out.replace(_EMPTY, b'"criteria":[' + b",".join([criterion_json(c) for c in criteria]) + b"]", 1)
