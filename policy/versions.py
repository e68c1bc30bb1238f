"""Policy versions with effective dates (issue #26): which parameter set decides a request.

The plan reviews the policy every year and may change the engine's parameters in between; a
request is decided by the version **in effect on its receipt date** (the plan's calendar,
America/Puerto_Rico), whatever code happens to read it later, and the determination names it
(``policy.version``).

* :class:`PolicyVersion`: a :class:`~policy.settings.PolicySettings` and the local date it takes
  effect.
* :class:`Versions`: the registry; :meth:`Versions.for_receipt` picks the version of a receipt
  time. The earliest version also decides what was received before its date (a replay of old
  requests needs an answer, and no earlier parameter set is kept).
* :func:`parse_version_file`: a candidate version written as TOML or JSON, validated by one
  pydantic model built from :class:`PolicySettings`' own fields (unknown or mistyped fields are
  named in the error), then by the settings' own checks. Pure: the caller reads the bytes.

``ENGINE_VERSION`` names the engine's code, apart from the settings: a replay that changes the
settings and keeps the code, or the reverse, can tell which of the two moved a decision.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from policy.evidence import local_date
from policy.settings import DEFAULT_SETTINGS, PolicySettings, zone

ENGINE_VERSION: Final = "2026-12-05.2"
"""The engine code's version: ``<date of the change>.<revision>``, raised with every change of
``policy/`` code that can change an output for the same request and settings (a new reading, a
new finding, a text). The settings' own ``version`` names the parameters."""

DEFAULT_EFFECTIVE_FROM: Final = date(2025, 12, 11)
"""The UM/CMPC approval of the annual review of 11/17/2025 (P&T 12/3/2025): when the policy's
current revision, and so the default parameter set, took effect."""


@dataclass(frozen=True, slots=True)
class PolicyVersion:
    effective_from: date
    """The first local date (the plan's calendar) on which this version decides requests."""
    settings: PolicySettings


class VersionError(ValueError):
    """A version file or a registry that cannot be used; the message names the field."""


class Versions:
    """Versions by effective date; :meth:`for_receipt` picks the one in effect."""

    __slots__ = ("_dates", "_versions", "_zone")

    def __init__(self, versions: Iterable[PolicyVersion]) -> None:
        ordered = sorted(versions, key=lambda v: v.effective_from)
        if not ordered:
            raise VersionError("no policy version")
        dates = [v.effective_from for v in ordered]
        if len(set(dates)) != len(dates):
            raise VersionError("two policy versions take effect on the same date")
        names = [v.settings.version for v in ordered]
        if len(set(names)) != len(names):
            raise VersionError("two policy versions share a version name")
        zones = {v.settings.timezone for v in ordered}
        if len(zones) != 1:
            raise VersionError("policy versions must share the plan's time zone")
        self._versions = tuple(ordered)
        self._dates = tuple(dates)
        self._zone = zone(ordered[0].settings.timezone)

    @property
    def versions(self) -> tuple[PolicyVersion, ...]:
        return self._versions

    def for_date(self, day: date) -> PolicySettings:
        """The settings in effect on the local date ``day`` (the earliest version before its date)."""
        chosen = self._versions[0]
        for v in self._versions:
            if v.effective_from <= day:
                chosen = v
            else:
                break
        return chosen.settings

    def for_receipt(self, received_at: datetime) -> PolicySettings:
        """The settings in effect on ``received_at``'s local date in the plan's time zone: a request
        received at 23:30 in San Juan on the day before a version takes effect (03:30 UTC on its
        first day) is decided by the earlier version."""
        return self.for_date(local_date(received_at, self._zone))

    def with_candidate(self, candidate: PolicyVersion) -> Versions:
        """These versions and ``candidate`` (replacing one with the same effective date)."""
        kept = [v for v in self._versions if v.effective_from != candidate.effective_from]
        return Versions([*kept, candidate])


DEFAULT_VERSIONS: Final = Versions([PolicyVersion(DEFAULT_EFFECTIVE_FROM, DEFAULT_SETTINGS)])
"""The versions this code knows: the current parameter set, in effect since 12/11/2025."""


# --- version files ----------------------------------------------------------------------------


@cache
def _file_model() -> type[BaseModel]:
    """One pydantic model with ``effective_from``, ``version`` (both required) and every other
    field of :class:`PolicySettings` (optional: the default of this code), unknown fields refused,
    types strict as JSON gives them (a list for a set, no "30" for 30)."""
    hints = typing.get_type_hints(PolicySettings)
    fields: dict[str, Any] = {"effective_from": (date, ...), "version": (str, ...)}
    for f in dataclasses.fields(PolicySettings):
        if not f.init or f.name == "version":
            continue
        fields[f.name] = (hints[f.name] | None, None)
    model: type[BaseModel] = create_model(
        "PolicyVersionFile", __config__=ConfigDict(extra="forbid", strict=True), **fields
    )
    return model


def parse_version_file(content: bytes | str, fmt: Literal["toml", "json"]) -> PolicyVersion:
    """A candidate version from a settings file's content (TOML or JSON): ``effective_from`` (a
    date), ``version`` and any :class:`PolicySettings` field; the others keep this code's defaults.
    Raises :class:`VersionError` naming every field that is unknown, mistyped or out of range."""
    text = content.decode("utf-8") if isinstance(content, bytes) else content
    try:
        raw = tomllib.loads(text) if fmt == "toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise VersionError(f"not {fmt.upper()}: {e}") from None
    if not isinstance(raw, dict):
        raise VersionError("a version file holds one table (object) of settings")
    try:  # through JSON, so TOML's and JSON's types meet one strict model (dates as ISO strings)
        parsed = _file_model().model_validate_json(json.dumps(raw, default=str))
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc']) or '(file)'}: {err['msg']}" for err in e.errors())
        raise VersionError(problems) from None
    values = {k: v for k, v in parsed.model_dump().items() if v is not None and k != "effective_from"}
    for name, value in values.items():
        if isinstance(value, (set, list)):
            values[name] = frozenset(value)
    try:
        settings = PolicySettings(**values)
    except (TypeError, ValueError) as e:
        raise VersionError(str(e)) from None
    effective = parsed.model_dump()["effective_from"]
    assert isinstance(effective, date)
    return PolicyVersion(effective, settings)
