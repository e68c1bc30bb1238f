"""Process-wide runtime tuning (worker/runtime.py)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from worker.config import Settings
from worker.runtime import tune_gc


@pytest.fixture
def restore_gc() -> Iterator[None]:
    before = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


@pytest.mark.usefixtures("restore_gc")
def test_tune_gc_spaces_young_collections_and_freezes_startup_objects() -> None:
    gc.unfreeze()
    _, gen1, gen2 = gc.get_threshold()
    tune_gc(50_000)
    assert gc.get_threshold() == (50_000, gen1, gen2)
    assert gc.get_freeze_count() > 0
    assert gc.isenabled()  # cycles are still collected


@pytest.mark.usefixtures("restore_gc")
def test_zero_keeps_python_defaults() -> None:
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    tune_gc(0)
    assert gc.get_threshold() == (700, 10, 10)
    assert gc.get_freeze_count() == 0


def test_setting_defaults_and_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().gc_gen0_threshold == 50_000
    monkeypatch.setenv("PA_GC_GEN0_THRESHOLD", "0")
    assert Settings().gc_gen0_threshold == 0
    monkeypatch.setenv("PA_GC_GEN0_THRESHOLD", "-1")
    with pytest.raises(ValueError, match="gc_gen0_threshold"):
        Settings()
