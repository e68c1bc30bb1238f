"""Policy versions with effective dates (issue #26 item 1): the version in effect on the request's
local receipt date (San Juan, UTC-4 all year) decides; version files are validated field by field.
Expected values come from the issue and the plan's calendar, not from the code."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from policy.settings import DEFAULT_SETTINGS
from policy.versions import (
    DEFAULT_EFFECTIVE_FROM,
    DEFAULT_VERSIONS,
    PolicyVersion,
    VersionError,
    Versions,
    parse_version_file,
)

AST = timezone(timedelta(hours=-4))
CANDIDATE = b"""
effective_from = 2026-12-15
version = "2026-12-10.1"
ecog_window_days = 45
"""


def _two() -> Versions:
    return DEFAULT_VERSIONS.with_candidate(parse_version_file(CANDIDATE, "toml"))


def test_the_default_version_is_in_effect_since_the_um_approval() -> None:
    assert date(2025, 12, 11) == DEFAULT_EFFECTIVE_FROM
    assert DEFAULT_VERSIONS.for_receipt(datetime(2026, 11, 27, 15, 4, 5, tzinfo=UTC)) is DEFAULT_SETTINGS
    # received before any version's date: the earliest decides (nothing earlier is kept)
    assert DEFAULT_VERSIONS.for_date(date(2024, 1, 1)) is DEFAULT_SETTINGS


def test_the_version_of_the_local_receipt_date_decides_at_the_san_juan_midnight_edge() -> None:
    versions = _two()
    # 23:30 in San Juan on 14 December is 03:30 UTC on the 15th: still the earlier version
    assert versions.for_receipt(datetime(2026, 12, 15, 3, 30, tzinfo=UTC)).version == "2025-12-11.4"
    assert versions.for_receipt(datetime(2026, 12, 14, 23, 59, 59, tzinfo=AST)).version == "2025-12-11.4"
    # 00:00 in San Juan on the 15th (04:00 UTC): the candidate
    assert versions.for_receipt(datetime(2026, 12, 15, 4, 0, tzinfo=UTC)).version == "2026-12-10.1"
    assert versions.for_receipt(datetime(2026, 12, 15, 0, 0, tzinfo=AST)).ecog_window_days == 45
    assert versions.for_receipt(datetime(2027, 6, 1, tzinfo=UTC)).version == "2026-12-10.1"


def test_a_version_file_keeps_the_defaults_it_does_not_name() -> None:
    v = parse_version_file(CANDIDATE, "toml")
    assert v.effective_from == date(2026, 12, 15)
    assert v.settings.ecog_window_days == 45 and v.settings.oncology_note_window_days == 60
    as_json = json.dumps({"effective_from": "2026-12-15", "version": "2026-12-10.1", "ecog_window_days": 45})
    assert parse_version_file(as_json, "json") == v
    sets = parse_version_file(CANDIDATE + b'adverse_review_credentials = ["MD", "DO"]\n', "toml")
    assert sets.settings.adverse_review_credentials == frozenset({"MD", "DO"})


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (b"ecog_window_dayz = 45\n", "ecog_window_dayz"),  # unknown field
        (b'max_ecog = "2"\n', "max_ecog"),  # a string for an integer: no coercion
        (b"max_ecog = 2.0\n", "max_ecog"),
        (b"authorization_months = 13\n", "authorization_months"),  # the settings' own range
        (b'timezone = "Mars/Olympus"\n', "timezone"),
        (b'medicare_advantage_lines = ["MMM_MA"]\n', "medicare_advantage_lines"),  # never shrunk
    ],
)
def test_a_bad_version_file_is_refused_naming_the_field(extra: bytes, named: str) -> None:
    with pytest.raises(VersionError, match=named):
        parse_version_file(CANDIDATE + extra, "toml")


@pytest.mark.parametrize(
    ("content", "named"),
    [
        (b'version = "x"\n', "effective_from"),
        (b"effective_from = 2026-12-15\n", "version"),
        (b"effective_from = [", "not TOML"),
    ],
)
def test_required_fields_and_syntax(content: bytes, named: str) -> None:
    with pytest.raises(VersionError, match=named):
        parse_version_file(content, "toml")


def test_a_registry_refuses_ambiguity() -> None:
    v = parse_version_file(CANDIDATE, "toml")
    with pytest.raises(VersionError, match="same date"):
        Versions([v, PolicyVersion(v.effective_from, DEFAULT_SETTINGS)])
    with pytest.raises(VersionError, match="version name"):
        Versions([PolicyVersion(date(2027, 1, 1), DEFAULT_SETTINGS), PolicyVersion(date(2026, 1, 1), DEFAULT_SETTINGS)])
    with pytest.raises(VersionError, match="no policy version"):
        Versions([])
