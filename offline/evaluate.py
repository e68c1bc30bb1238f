"""The offline evaluator behind ``pa-worker evaluate [FILE|-] [--now TS]``: no Kafka.

Input is either JSON Lines (one ``pa.request`` per line, blank lines skipped), one JSON
document holding a request object or an array of them (a pretty-printed file such as
``contracts/examples/valid/*.json``), or pretty-printed objects one after the other
(``cat contracts/examples/valid/*.json | pa-worker evaluate -``; positions are start lines).
Input is read and output written line by line, in constant memory and linear time: the first
determination is out before the second line is read (JSON Lines), or before the second document
is (pretty-printed). Each valid request gives one ``pa.determination`` JSON line on ``out``, in input order; each
rejected one gives one JSON error object on ``err``::

    {"line": 3, "error": "validation_error", "errors": [{"field": "prescriber.npi", "message": "..."}]}

``error`` is ``validation_error`` (the contract's rules: schema_invalid, unknown_schema_version or
too_large in ``pa-worker run``'s DLQ classes), ``not_json`` (field ``"$"``), ``received_in_future``
(only with ``now``; field ``"received_at"``) or ``evaluation_error`` (an engine bug; never expected).
Input is classified by the worker's own ``decode_request``, so
what ``pa-worker run`` would dead-letter is rejected here too. Array items also carry ``"item"`` (1-based).
Messages never echo input values (they may hold patient data).

The evaluation time is each request's ``received_at`` unless ``now`` is given, so the same input
always gives byte-identical output. With ``now``, the worker's rule applies
(:func:`worker.handler.evaluation_time`): a request received later than ``now`` by more than
``future_tolerance`` (the worker's ``PA_FUTURE_RECEIVED_AT_TOLERANCE_SECONDS``) is rejected as
``received_in_future``, and one ahead by less is evaluated at its ``received_at``. Exit status: 1
if any input was rejected, else 0.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any, BinaryIO, TextIO

from contracts.channels import DlqErrorClass
from contracts.codec import determination_json
from policy import PolicySettings, evaluate
from policy.versions import Versions
from worker.config import Settings
from worker.handler import FUTURE_TOLERANCE, Rejection, decode_request, evaluation_time

MAX_MESSAGE_BYTES: int = Settings.model_fields["max_message_bytes"].default

ERROR_KIND: dict[DlqErrorClass, str] = {
    "not_json": "not_json",
    "schema_invalid": "validation_error",
    "unknown_schema_version": "validation_error",
    "too_large": "validation_error",
    "evaluation_error": "evaluation_error",
    "received_in_future": "received_in_future",
}
"""The DLQ error class of a rejection -> the ``error`` this command reports (its coarser, documented kinds)."""


def _error(position: dict[str, int], kind: str, errors: list[dict[str, str]]) -> str:
    return json.dumps({**position, "error": kind, "errors": errors}, ensure_ascii=False)


_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[][{}]')
"""JSON strings (skipped whole: brackets inside them do not count) and brackets. A JSON string
never spans lines (a newline in it must be escaped), so lines are scanned one at a time."""


def _depth_change(line: bytes) -> int:
    """Brackets opened minus brackets closed on ``line``, strings skipped."""
    depth = 0
    for match in _TOKENS.finditer(line):
        tok = match.group()
        if tok in (b"{", b"["):
            depth += 1
        elif tok in (b"}", b"]"):
            depth -= 1
    return depth


def _documents(lines: Iterable[bytes]) -> Iterator[tuple[dict[str, int], bytes]]:
    """(position, JSON bytes of one request) for every request, read line by line.

    The first document decides the layout. When it ends on its own line, the input is JSON
    Lines: every non-blank line is one document, on its own (a malformed line is one error and
    the next line starts afresh). When it spans lines, the input is pretty-printed JSON values
    one after the other (``cat examples/*.json``): a document ends on the line where its
    brackets close, and its position is its start line. A top-level array is expanded into its
    items (``"item"``: 1-based). Memory: one document; time: linear in the input.
    """
    pretty: bool | None = None
    held: tuple[int, bytes] | None = None
    """JSON Lines: a first line holding an array, expanded only if it is the whole input."""
    buf: list[bytes] = []
    start = depth = 0
    for number, raw in enumerate(lines, start=1):
        if pretty is None or not pretty:
            line = raw.strip()
            if not line:
                continue
            if pretty is None:
                opened = _depth_change(line) if line[:1] in (b"{", b"[") else 0
                if opened > 0:
                    pretty = True
                    buf, start, depth = [raw], number, opened
                    continue
                pretty = False
                if line[:1] == b"[":
                    held = (number, line)
                    continue
            if held is not None:
                yield {"line": held[0]}, held[1]
                held = None
            yield {"line": number}, line
            continue
        if not buf:
            if not raw.strip():
                continue
            start, depth = number, 0
        buf.append(raw)
        depth += _depth_change(raw)
        if depth <= 0:
            yield from _pretty_document(start, b"".join(buf))
            buf = []
    if held is not None:
        yield from _pretty_document(held[0], held[1])
    if buf:
        yield {"line": start}, b"".join(buf)  # never closed: reported as not JSON


def _pretty_document(start: int, chunk: bytes) -> Iterator[tuple[dict[str, int], bytes]]:
    if chunk.lstrip()[:1] == b"[":
        try:
            items: Any = json.loads(chunk)
        except ValueError:
            items = None
        if isinstance(items, list):
            for i, item in enumerate(items, start=1):
                yield {"line": start, "item": i}, json.dumps(item).encode()
            return
    yield {"line": start}, chunk


def run_evaluate(
    infile: BinaryIO,
    out: TextIO,
    err: TextIO,
    *,
    now: datetime | None,
    settings: PolicySettings | Versions,
    max_message_bytes: int = MAX_MESSAGE_BYTES,
    future_tolerance: timedelta = FUTURE_TOLERANCE,
) -> int:
    """Evaluate every request of ``infile``; determinations to ``out``, rejections to ``err``.

    A document is decoded and classified by :func:`worker.handler.decode_request`, as
    ``pa-worker run`` does: what the worker would dead-letter is rejected here (``max_message_bytes``
    is the worker's ``PA_MAX_MESSAGE_BYTES``). With ``now``, the evaluation time is the worker's
    (:func:`worker.handler.evaluation_time`, ``future_tolerance`` its
    ``PA_FUTURE_RECEIVED_AT_TOLERANCE_SECONDS``); without, each request's ``received_at``."""
    if now is not None and now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    if isinstance(settings, Versions) and len(settings.versions) == 1:
        settings = settings.versions[0].settings  # one version: no choice to make per request
    # the determinations' bytes go to the stream's binary buffer when it has one (stdout): the same
    # bytes without decoding them to text and encoding them back
    buffer: BinaryIO | None = getattr(out, "buffer", None)
    if buffer is not None:
        out.flush()
    rejected = False
    for position, document in _documents(infile):
        decoded = decode_request(document, max_message_bytes)
        if isinstance(decoded, Rejection):
            rejected = True
            details = [{"field": e.field, "message": e.message} for e in decoded.errors]
            err.write(_error(position, ERROR_KIND[decoded.error_class], details) + "\n")
            continue
        request = decoded
        at = request.received_at if now is None else evaluation_time(request, now, future_tolerance)
        if isinstance(at, Rejection):
            rejected = True
            details = [{"field": e.field, "message": e.message} for e in at.errors]
            err.write(_error(position, ERROR_KIND[at.error_class], details) + "\n")
            continue
        try:
            chosen = settings.for_receipt(request.received_at) if isinstance(settings, Versions) else settings
            determination = evaluate(request, at, chosen)
        except Exception as exc:  # an engine bug must not hide the other lines' results
            rejected = True
            message = f"policy evaluation failed: {type(exc).__name__}"
            err.write(_error(position, "evaluation_error", [{"field": "$", "message": message}]) + "\n")
            continue
        if buffer is not None:
            buffer.write(determination_json(determination) + b"\n")
        else:
            out.write(determination_json(determination).decode() + "\n")
    return 1 if rejected else 0
