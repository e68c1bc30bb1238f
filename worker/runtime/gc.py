"""Process-wide runtime tuning, applied once by the entry points (``pa-worker run`` and
``scheduler``, and the bench's passthrough so that the baseline runs the same way).

Garbage collection: CPython collects its young generation every 700 allocations of container
objects. A batch in flight holds a few thousand request, determination and record objects per
partition, so those collections keep rescanning live objects: with Python's defaults the
collector took ~12% of the worker's CPU per request (``make bench``'s drain: 141-149 us per
request with the defaults, 126-128 us with a threshold of 50,000, 124-126 us with the collector
off). The threshold only spaces the young collections out; reference cycles are still
collected, and the drain's peak RSS was the same (110-125 MB). :func:`gc.freeze` first moves
everything alive after start-up (modules, pydantic schemas, policy tables) out of the
collector's sight for good, so the older-generation collections no longer walk it.
"""

from __future__ import annotations

import gc


def tune_gc(gen0_threshold: int) -> None:
    """Freeze what start-up left alive and collect the young generation every ``gen0_threshold``
    allocations (0: leave Python's defaults)."""
    if gen0_threshold <= 0:
        return
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(gen0_threshold, gen1, gen2)
