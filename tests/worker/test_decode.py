"""``pa-worker run`` and ``pa-worker evaluate`` reject the same input for the same reason: both
classify through ``worker.handler.decode_request``."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from offline.evaluate import ERROR_KIND, run_evaluate
from policy import DEFAULT_SETTINGS
from worker.handler import Rejection, RequestHandler, Source, Topics, decode_request
from worker.records import DeadLettered

EXAMPLES = Path(__file__).resolve().parents[2] / "contracts" / "examples"
VALID = (EXAMPLES / "valid" / "initial_approved.json").read_bytes()
LIMIT = 65_536


def _one_line(data: bytes) -> bytes:
    return json.dumps(json.loads(data)).encode()


def _padded() -> bytes:
    doc = json.loads(VALID)
    doc["x_padding"] = "p" * LIMIT  # ignored field: a valid request, only too large
    return json.dumps(doc).encode()


CASES = {
    **{p.name: p.read_bytes() for p in sorted((EXAMPLES / "invalid").glob("*"))},
    "number": b"42",  # (an array is a list of requests to evaluate, by design: not compared here)
    "string": b'"hello"',
    "too_large": _padded(),
    "schema_version_2": _one_line(VALID).replace(b'"schema_version": "1"', b'"schema_version": "2"'),
}


@pytest.mark.parametrize("name", list(CASES))
def test_run_and_evaluate_classify_alike(name: str) -> None:
    value = CASES[name]
    rejection = decode_request(value, LIMIT)
    assert isinstance(rejection, Rejection), name
    handled = RequestHandler(DEFAULT_SETTINGS, Topics(), LIMIT).handle(b"k", value, Source("t", 0, 0))
    assert isinstance(handled, DeadLettered) and handled.error_class == rejection.error_class
    out, err = io.StringIO(), io.StringIO()
    rc = run_evaluate(io.BytesIO(value), out, err, now=None, settings=DEFAULT_SETTINGS, max_message_bytes=LIMIT)
    (error,) = [json.loads(x) for x in err.getvalue().splitlines()]
    assert (rc, out.getvalue()) == (1, "")
    assert error["error"] == ERROR_KIND[rejection.error_class]
    assert [e["field"] for e in error["errors"]] == [e.field for e in rejection.errors]


def test_a_request_over_the_limit_is_rejected_by_evaluate_as_by_run() -> None:
    """Before the shared decoder, ``evaluate`` determined a request the worker dead-letters as too_large."""
    assert isinstance(decode_request(_padded(), LIMIT), Rejection)
    assert not isinstance(decode_request(_padded(), 2 * LIMIT), Rejection)


def test_the_schema_version_is_its_own_class() -> None:
    rejection = decode_request(CASES["schema_version_2"], LIMIT)
    assert isinstance(rejection, Rejection)
    assert (rejection.error_class, rejection.fields) == ("unknown_schema_version", ("schema_version",))
