"""The offline evaluator behind ``pa-worker evaluate [FILE|-] [--now TS]``: no Kafka.

Input is either JSON Lines (one ``pa.request`` per line, blank lines skipped), one JSON
document holding a request object or an array of them (a pretty-printed file such as
``contracts/examples/valid/*.json``), or pretty-printed objects one after the other
(``cat contracts/examples/valid/*.json | pa-worker evaluate -``; positions are start lines).
Each valid request gives one ``pa.determination`` JSON line on ``out``, in input order; each
rejected one gives one JSON error object on ``err``::

    {"line": 3, "error": "validation_error", "errors": [{"field": "prescriber.npi", "message": "..."}]}

``error`` is ``validation_error`` (the contract's rules), ``not_json`` (field ``"$"``) or
``evaluation_error`` (an engine bug; never expected). Array items also carry ``"item"`` (1-based).
Messages never echo input values (they may hold patient data).

The evaluation time is each request's ``received_at`` unless ``now`` is given, so the same input
always gives byte-identical output. Exit status: 1 if any input was rejected, else 0.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any, BinaryIO, TextIO

from pydantic import ValidationError

from contracts import PARequest
from policy import PolicySettings, evaluate


def _field(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc) or "$"


def _error(position: dict[str, int], kind: str, errors: list[dict[str, str]]) -> str:
    return json.dumps({**position, "error": kind, "errors": errors}, ensure_ascii=False)


def _stream(data: bytes) -> list[tuple[int, bytes]] | None:
    """(start line, bytes) of each JSON value when the input is a concatenation of pretty-printed
    JSON values (``cat examples/*.json``); None when it is not (then it is JSON Lines)."""
    try:
        text = data.decode()
    except UnicodeDecodeError:
        return None
    decoder = json.JSONDecoder()
    out: list[tuple[int, bytes]] = []
    pos, multiline = 0, False
    while True:
        while pos < len(text) and text[pos] in " \t\r\n":
            pos += 1
        if pos == len(text):
            break
        try:
            _, end = decoder.raw_decode(text, pos)
        except ValueError:
            return None
        chunk = text[pos:end]
        multiline = multiline or "\n" in chunk
        out.append((text.count("\n", 0, pos) + 1, chunk.encode()))
        pos = end
    return out if multiline else None


def _documents(data: bytes) -> Iterator[tuple[dict[str, int], bytes]]:
    """(position, JSON bytes of one request) for every request in the input."""
    head = data.lstrip()[:1]
    if head in (b"{", b"["):
        try:
            whole: Any = json.loads(data)
        except ValueError:
            stream = _stream(data)
            if stream is not None:
                for start, chunk in stream:
                    yield {"line": start}, chunk
                return
        else:
            if isinstance(whole, list):
                for i, item in enumerate(whole, start=1):
                    yield {"line": 1, "item": i}, json.dumps(item).encode()
                return
            if isinstance(whole, dict):
                yield {"line": 1}, data
                return
    for number, raw in enumerate(data.split(b"\n"), start=1):
        line = raw.strip()
        if line:
            yield {"line": number}, line


def run_evaluate(infile: BinaryIO, out: TextIO, err: TextIO, *, now: datetime | None, settings: PolicySettings) -> int:
    """Evaluate every request of ``infile``; determinations to ``out``, rejections to ``err``."""
    if now is not None and now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    rejected = False
    for position, document in _documents(infile.read()):
        try:
            request = PARequest.model_validate_json(document)
        except ValidationError as exc:
            rejected = True
            errors = exc.errors(include_url=False, include_input=False, include_context=False)
            if any(e["type"] == "json_invalid" for e in errors):
                err.write(_error(position, "not_json", [{"field": "$", "message": errors[0]["msg"]}]) + "\n")
            else:
                details = [{"field": _field(e["loc"]), "message": e["msg"]} for e in errors]
                err.write(_error(position, "validation_error", details) + "\n")
            continue
        try:
            determination = evaluate(request, now or request.received_at, settings)
        except Exception as exc:  # an engine bug must not hide the other lines' results
            rejected = True
            message = f"policy evaluation failed: {type(exc).__name__}"
            err.write(_error(position, "evaluation_error", [{"field": "$", "message": message}]) + "\n")
            continue
        out.write(determination.model_dump_json() + "\n")
    return 1 if rejected else 0
