"""Currency of dated evidence (ECOG assessments, documents).

Contract: "current" evidence is dated on or before ``received_at`` and inside a window that is
a policy setting. Days are counted between calendar dates, with ``received_at`` taken as its
local date in the plan's time zone (``PolicySettings.timezone``, America/Puerto_Rico): a request
received at 21:30 in San Juan on the 27th (01:30 UTC on the 28th) was received on the 27th.

* ``age = receipt date - evidence date`` in days;
* ``age < 0``: dated after receipt, **future-dated**: not accepted (``missing``);
* ``0 <= age <= window``: **current** (evidence exactly ``window`` days old is still current);
* ``age > window``: **stale** (``window + 1`` days old is out of date): ``missing``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Literal

Currency = Literal["current", "stale", "future"]


def local_date(moment: datetime, zone: tzinfo) -> date:
    """The calendar date of an aware datetime in ``zone`` (its own date at the ends of the calendar)."""
    try:
        return moment.astimezone(zone).date()
    except (OverflowError, ValueError):
        return moment.date()


def currency(evidence_on: date, received_on: date, window_days: int) -> tuple[Currency, int]:
    """(currency, age in days) of evidence dated ``evidence_on`` for a request received on ``received_on``."""
    age = (received_on - evidence_on).days
    if age < 0:
        return "future", age
    return ("current" if age <= window_days else "stale"), age


@dataclass(frozen=True, slots=True)
class Dated:
    """One dated piece of evidence and its currency."""

    label: str
    """How a letter names it, e.g. ``"oncology note DOC-2201 dated 2026-11-10"``."""
    on: date
    state: Currency
    age: int


def describe_not_current(items: list[Dated], received_on: date, window_days: int, what: str) -> str:
    """The finding for evidence that exists but none of it is current (most recent first)."""
    stale = [d for d in items if d.state == "stale"]
    future = [d for d in items if d.state == "future"]
    parts: list[str] = []
    if stale:
        latest = max(stale, key=lambda d: d.on)
        more = f" (and {len(stale) - 1} older)" if len(stale) > 1 else ""
        parts.append(
            f"the most recent {latest.label}{more} is {latest.age} days old when the request was received "
            f"on {received_on.isoformat()}, outside the {window_days}-day window"
        )
    if future:
        first = min(future, key=lambda d: d.on)
        more = f" (and {len(future) - 1} more)" if len(future) > 1 else ""
        parts.append(
            f"the {first.label}{more} is future-dated, after the request was received on "
            f"{received_on.isoformat()}, and cannot be accepted"
        )
    return f"no current {what} was submitted: " + "; ".join(parts)
