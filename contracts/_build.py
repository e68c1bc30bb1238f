"""Building outbound models without re-validating them: the hot path's constructor.

``BaseModel.model_construct`` costs about 5 us per instance in pydantic 2.14 (it walks aliases and
defaults); the engine builds eight or more models per request. :func:`build` does what
``model_construct`` does for a model whose fields are all given, without the walk: it fills
``__dict__``, ``__pydantic_fields_set__``, ``__pydantic_extra__`` and ``__pydantic_private__``, the
same four slots ``model_construct`` fills (pydantic v2's documented ``model_construct`` behaviour).

Only for values the caller built itself, with every field given: the policy engine's outbound
models, and :mod:`contracts.codec`'s copy of a determination with its criteria left out. The tests
validate strictly every kind of determination the engine produces
(``PADetermination.model_validate_json`` of its dump), so a wrong type here fails the tests, never
silently the wire.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

_set = object.__setattr__
_FIELDS: dict[type[BaseModel], frozenset[str]] = {}


def build(cls: type[M], values: dict[str, Any]) -> M:
    """An instance of ``cls`` holding ``values`` (every field of ``cls``, already the right types)."""
    m = cls.__new__(cls)
    _set(m, "__dict__", values)
    fields = _FIELDS.get(cls)
    if fields is None:
        fields = _FIELDS[cls] = frozenset(cls.model_fields)
    _set(m, "__pydantic_fields_set__", set(fields))
    _set(m, "__pydantic_extra__", None)
    _set(m, "__pydantic_private__", None)
    return m
