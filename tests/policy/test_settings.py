"""PolicySettings: one frozen, versioned, fingerprinted place for every parameter."""

from __future__ import annotations

import dataclasses

import pytest

from policy import DEFAULT_SETTINGS, PolicySettings


def test_defaults() -> None:
    s = DEFAULT_SETTINGS
    assert s.version == "2025-12-11.4"
    assert s.timezone == "America/Puerto_Rico"
    assert (s.start_max_days_before_receipt, s.start_max_days_ahead_initial) == (0, 30)
    assert s.start_max_days_ahead_continuation == 45 >= s.reauth_lead_days
    assert s.dose_drift_days == 3
    assert (s.ecog_window_days, s.oncology_note_window_days, s.objective_measures_window_days) == (30, 60, 90)
    assert s.supporting_docs_window_days == 90
    assert (s.authorization_months, s.standard_decision_hours, s.expedited_decision_hours) == (6, 72, 24)
    assert s.lines_of_business == frozenset({"MMM_MA", "MMM_MULTIHEALTH"})
    assert (s.hcpcs, s.min_prior_lines, s.max_ecog) == ("J1323", 4, 2)
    assert s.step_up_whole_vial_billing is True
    assert s.reauth_lead_days == 30
    assert s.allow_automated_denials is False
    # issue #23: information is needed 24 h (standard) / 6 h (expedited) before the decision deadline
    assert (s.information_review_hours_standard, s.information_review_hours_expedited) == (24, 6)


def test_frozen_and_hashable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_SETTINGS.ecog_window_days = 45  # type: ignore[misc]
    assert hash(DEFAULT_SETTINGS) == hash(PolicySettings())
    assert PolicySettings() == DEFAULT_SETTINGS


def test_fingerprint_covers_every_setting() -> None:
    changes = {
        "version": "2025-12-11.9",
        "timezone": "America/New_York",
        "start_max_days_before_receipt": 3,
        "start_max_days_ahead_initial": 14,
        "start_max_days_ahead_continuation": 60,
        "dose_drift_days": 2,
        "adverse_review_credentials": frozenset({"MD", "DO"}),
        "ecog_window_days": 31,
        "oncology_note_window_days": 61,
        "objective_measures_window_days": 91,
        "supporting_docs_window_days": 120,
        "authorization_months": 5,
        "reauth_lead_days": 14,
        "standard_decision_hours": 48,
        "expedited_decision_hours": 12,
        "lines_of_business": frozenset({"MMM_MA"}),
        "hcpcs": "J9999",
        "min_prior_lines": 3,
        "max_ecog": 1,
        "step_up_whole_vial_billing": False,
        "allow_automated_denials": True,
        "medicare_advantage_lines": frozenset({"MMM_MA", "MMM_MULTIHEALTH", "OTHER_MA"}),
        "information_review_hours_standard": 12,
        "information_review_hours_expedited": 4,
    }
    fields = {f.name for f in dataclasses.fields(PolicySettings)} - {"fingerprint"}
    assert set(changes) == fields, "a new setting needs a case here"
    prints = {DEFAULT_SETTINGS.replace(**{k: v}).fingerprint for k, v in changes.items()}
    assert len(prints) == len(changes)
    assert DEFAULT_SETTINGS.fingerprint not in prints
    assert PolicySettings().fingerprint == DEFAULT_SETTINGS.fingerprint  # stable across instances


@pytest.mark.parametrize(
    "bad",
    [
        {"authorization_months": 0},
        {"authorization_months": 13},
        {"ecog_window_days": -1},
        {"version": ""},
        {"version": "has space"},
        {"lines_of_business": frozenset()},
        {"max_ecog": 6},
        {"allow_automated_denials": "yes"},
        {"medicare_advantage_lines": frozenset({"MMM_MA"})},  # the plan's MA lines may never be taken out
        {"hcpcs": ""},
        {"min_prior_lines": 1.5},
        {"timezone": "Mars/Olympus_Mons"},
        {"timezone": ""},
        {"start_max_days_ahead_continuation": 29},  # below reauth_lead_days (30)
        {"dose_drift_days": 8},
        {"start_max_days_before_receipt": -1},
        {"information_review_hours_standard": 72},  # would leave the prescriber no time at all
        {"information_review_hours_expedited": 24},
        {"information_review_hours_expedited": -1},
        {"expedited_decision_hours": 6},  # the review time (6 h) must stay inside the clock
    ],
)
def test_invalid_settings_are_rejected(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="invalid PolicySettings"):
        DEFAULT_SETTINGS.replace(**bad)


def test_as_dict_is_json_ready() -> None:
    d = DEFAULT_SETTINGS.as_dict()
    assert d["lines_of_business"] == ["MMM_MA", "MMM_MULTIHEALTH"]
    assert "fingerprint" not in d
