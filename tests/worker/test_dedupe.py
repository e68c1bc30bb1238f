"""The deduplication stage on its own: no Kafka, no processor."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from policy import DEFAULT_SETTINGS
from worker.dedupe import RequestIndex, deduplicate
from worker.handler import RequestHandler, Source, Topics
from worker.records import DeadLettered, Duplicate, Published, Result

EXAMPLES = Path(__file__).resolve().parents[2] / "contracts" / "examples"
VALUE = (EXAMPLES / "valid" / "initial_approved.json").read_bytes()
HANDLER = RequestHandler(DEFAULT_SETTINGS, Topics(), 65_536, clock=lambda: datetime(2026, 11, 28, tzinfo=UTC))


def _handle(value: bytes, offset: int = 0) -> Result:
    return HANDLER.handle(b"k", value, Source("pa.requests.v1", 2, offset))


def _corrected() -> bytes:
    doc = json.loads(VALUE)
    doc["prescriber"]["name"] = "Dr. Ana M. Rivera"
    return json.dumps(doc).encode()


def test_a_repeat_in_the_batch_or_in_the_index_is_a_duplicate() -> None:
    index = RequestIndex()
    first, again, bad = _handle(VALUE, 0), _handle(VALUE, 1), _handle(b"{", 2)
    assert isinstance(first, Published) and first.determination is not None
    results = [first, again, bad]
    out, records = deduplicate(index, results)
    assert out == [first, Duplicate(first.determination), bad]
    assert results == [first, again, bad]  # the handler's output is not edited
    assert records == [(first.determination.request_id.encode(), first.determination.determination_id.encode())]
    assert len(index) == 0  # nothing learnt before the transaction commits (the runtime applies it then)
    for key, value in records:
        index.apply(key, value)
    assert index.seen == {first.determination.request_id: first.determination.determination_id}
    replay, records = deduplicate(index, [_handle(VALUE, 3)])
    assert [type(r) for r in replay] == [Duplicate] and records == []


def _learn(index: RequestIndex, results: list[Result]) -> None:
    for key, value in deduplicate(index, results)[1]:
        index.apply(key, value)


def test_a_correction_under_the_same_request_id_is_published_again() -> None:
    index = RequestIndex()
    _learn(index, [_handle(VALUE)])
    corrected = _handle(_corrected())
    assert isinstance(corrected, Published) and corrected.determination is not None
    out, records = deduplicate(index, [corrected])
    assert out == [corrected] and len(records) == 1


def test_without_dropping_the_index_is_written_and_never_consulted() -> None:
    index = RequestIndex()
    _learn(index, [_handle(VALUE)])
    out, records = deduplicate(index, [_handle(VALUE), _handle(VALUE)], drop=False)
    assert [type(r) for r in out] == [Published, Published] and len(records) == 2


def test_dead_letters_and_passthrough_records_pass_unchanged() -> None:
    bad = _handle(b"not json")
    assert isinstance(bad, DeadLettered)
    copied = Published(bad.records)  # no determination: bytes copied as they are
    out, records = deduplicate(RequestIndex(), [bad, copied])
    assert out == [bad, copied] and records == []
