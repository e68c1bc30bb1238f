"""Structured logging (structlog): JSON lines in production, readable in a terminal.

``scrub_patient_data`` runs on every event, last before rendering: it drops any key that can
carry a patient identifier (names, date of birth, member id), however deep, and masks
member-id-shaped values that slipped into free text. Request and determination ids stay.

Library logs (aiokafka's, through the standard library) go through the same scrubber and the
same renderer: JSON lines in production, like the worker's own.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

PATIENT_KEYS = frozenset(
    {
        "member",
        "member_id",
        "first_name",
        "last_name",
        "name",
        "full_name",
        "date_of_birth",
        "dob",
        "birth_date",
        "patient",
        "patient_name",
        "key",  # Kafka message keys are member ids
        "value",  # raw message bytes may hold anything
        "payload",
        "raw",
    }
)
REDACTED = "[redacted]"


def _scrub(obj: Any, depth: int = 0) -> Any:
    if depth > 8:
        return REDACTED
    if isinstance(obj, dict):
        return {
            k: (REDACTED if isinstance(k, str) and k.lower() in PATIENT_KEYS else _scrub(v, depth + 1))
            for k, v in obj.items()
        }
    if isinstance(obj, list | tuple):
        return [_scrub(v, depth + 1) for v in obj]
    if isinstance(obj, bytes | bytearray):
        return f"<{len(obj)} bytes>"
    return obj


class PatientDataScrubber:
    """structlog processor removing patient identifiers from every event."""

    def __init__(self, extra_patterns: list[re.Pattern[str]] | None = None) -> None:
        self.patterns = extra_patterns or []

    def __call__(self, logger: Any, method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        for k in list(event.keys()):
            if k.lower() in PATIENT_KEYS:
                event[k] = REDACTED
            elif k != "event":
                event[k] = _scrub(event[k])
        msg = event.get("event")
        if isinstance(msg, str):
            for pattern in self.patterns:
                msg = pattern.sub(REDACTED, msg)
            event["event"] = msg
        return event


scrub_patient_data = PatientDataScrubber()


def configure(fmt: str = "auto", level: str = "info", stream: Any = None) -> None:
    stream = stream or sys.stderr
    if fmt == "auto":
        fmt = "console" if getattr(stream, "isatty", lambda: False)() else "json"
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=getattr(stream, "isatty", lambda: False)())
        if fmt == "console"
        else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            scrub_patient_data,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
    # aiokafka (and any other library) logs through the standard library: the same renderer (JSON in
    # production), the same timestamp and level keys, and the same patient-data scrubber, at warning
    # and up. ``extra`` fields become keys, so the scrubber sees them too.
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.stdlib.add_log_level,
                structlog.stdlib.add_logger_name,
                structlog.stdlib.ExtraAdder(),
                structlog.processors.TimeStamper(fmt="iso", utc=True),
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                scrub_patient_data,
                renderer,
            ],
        )
    )
    setattr(handler, _OURS, True)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _OURS, False)]:
        root.removeHandler(old)  # configured again (tests, entry points): one handler, never two
    root.addHandler(handler)
    root.setLevel(logging.WARNING)


_OURS = "_pa_worker_handler"


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
