"""The latency floor's bookkeeping: when the no-work agent has handled every event, and how
a floor reads in the report."""

from __future__ import annotations

import orjson

from stream.bench.floor import _handled
from stream.bench.processes import Record
from stream.bench.report import _floor_text


def _record(key: bytes, value: bytes | None) -> Record:
    return Record("sink", 0, 0, 0, 0, key, value, None, len(key), len(value or b""), ())


def _answer(user: str, count: int) -> Record:
    value = orjson.dumps({"user_id": user, "count": count, "event_ts": 1.0, "emitted_ts": 2.0})
    return _record(user.encode(), value)


def test_handled_once_every_users_last_answer_counts_all_their_events() -> None:
    sent = {"u1": 3, "u2": 1}
    assert not _handled([], sent)
    # u1's answers so far cover two of three events (answers may come in any order)
    partial = [_answer("u1", 2), _answer("u2", 1), _answer("u1", 1)]
    assert not _handled(partial, sent)
    assert _handled([*partial, _answer("u1", 3)], sent)
    # a tombstone (no value) is no answer
    assert _handled([*partial, _answer("u1", 3), _record(b"u3", None)], sent)


def test_floor_text_marks_what_was_not_kept_up() -> None:
    kept = {"p50_ms": 12.34, "p95_ms": 20.0, "p99_ms": 31.5, "sustained": True, "censored": 0}
    assert _floor_text(kept) == "12.3 / 20.0 / 31.5 ms"
    behind = {**kept, "sustained": False, "censored": 4}
    assert _floor_text(behind) == "≥ 12.3 / ≥ 20.0 / ≥ 31.5 ms (NOT sustained)"
    assert _floor_text({"error": "no answer"}) == "no answer"
    assert _floor_text(None) == "–"
