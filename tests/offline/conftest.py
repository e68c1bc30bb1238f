"""Every test here starts and ends with the engine's memo tables empty: a replay's outcome must not depend on
what another test evaluated before it (see test_replay.py::test_a_warm_replay_decides_as_a_cold_one)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from policy.criteria import clear_memo


@pytest.fixture(autouse=True)
def _cold_memo() -> Iterator[None]:
    clear_memo()
    yield
    clear_memo()
