"""A fixed corpus of bad inputs, each with the dead-letter reason it must get.

Used by the fuzz tests and by anyone who wants to check a deployment's dead-letter path:
truncated and non-UTF-8 bytes, wrong types, NaN and Infinity, huge strings and arrays, deep
nesting, NUL bytes, duplicate keys, empty ids, future and negative timestamps, unknown types.
"""

from __future__ import annotations

import orjson

__all__ = ["bad_interactions"]


def _event(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "event_id": "ev-1",
        "type": "click",
        "user_id": "reader-1",
        "item_id": "n1",
        "ts": 1_700_000_000.0,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not _DROP}


_DROP = object()


def bad_interactions(max_bytes: int = 65536, now: float = 1_700_000_000.0) -> list[
    tuple[str, bytes, str]
]:
    """(name, raw value, expected reason) for every malformed interaction in the corpus."""
    good = orjson.dumps(_event())
    out: list[tuple[str, bytes, str]] = []

    def add(name: str, raw: bytes, reason: str) -> None:
        out.append((name, raw, reason))

    for cut in (1, 5, 17, len(good) // 2, len(good) - 1):
        add(f"truncated_{cut}", good[:cut], "not_json")
    add("non_utf8", b'{"event_id": "\xc3\x28", "type": "click"}', "not_json")
    add("latin1", '{"user_id": "café"}'.encode("latin-1"), "not_json")
    add("bom_only", b"\xef\xbb\xbf", "not_json")
    add("null_json", b"null", "not_object")
    add("number_json", b"42", "not_object")
    add("array_json", b"[]", "not_object")
    add("string_json", b'"click"', "not_object")
    add("empty", b"", "empty")
    add("whitespace", b"   ", "not_json")
    for value in (b"NaN", b"Infinity", b"-Infinity", b"1e400"):
        add(f"ts_{value.decode()}", good.replace(b"1700000000.0", value), "not_json")
    add("huge_string", orjson.dumps(_event(pad="x" * (max_bytes + 1))), "too_large")
    add("huge_array", orjson.dumps(_event(type="impression", item_id=_DROP,
                                          item_ids=[f"n{i}" for i in range(5000)])),
        "too_large")
    add("deep_nesting", b'{"event_id": ' + b"[" * 2000 + b"]" * 2000 + b"}", "not_json")
    add("nul_in_id", orjson.dumps(_event(user_id="reader\x00one")), "bad_value")
    add("duplicate_keys_last_empty", good[:-1] + b', "user_id": ""}', "empty_id")
    for field in ("event_id", "user_id", "item_id", "ts", "type"):
        add(f"missing_{field}", orjson.dumps(_event(**{field: _DROP})), "missing_field")
        add(f"null_{field}", orjson.dumps(_event(**{field: None})), "missing_field")
    for field in ("event_id", "user_id", "item_id"):
        add(f"empty_{field}", orjson.dumps(_event(**{field: ""})), "empty_id")
        add(f"blank_{field}", orjson.dumps(_event(**{field: " \t"})), "empty_id")
        add(f"int_{field}", orjson.dumps(_event(**{field: 7})), "wrong_type")
        add(f"list_{field}", orjson.dumps(_event(**{field: ["x"]})), "wrong_type")
        add(f"long_{field}", orjson.dumps(_event(**{field: "x" * 300})), "too_large")
    add("ts_string", orjson.dumps(_event(ts="2024-01-01")), "wrong_type")
    add("ts_bool", orjson.dumps(_event(ts=True)), "wrong_type")
    add("ts_negative", orjson.dumps(_event(ts=-1)), "bad_value")
    add("ts_far_future", orjson.dumps(_event(ts=now + 10 * 86400)), "bad_value")
    add("type_unknown", orjson.dumps(_event(type="share")), "unknown_type")
    add("type_upper", orjson.dumps(_event(type="CLICK")), "unknown_type")
    add("type_int", orjson.dumps(_event(type=1)), "wrong_type")
    add("position_negative", orjson.dumps(_event(position=-2)), "bad_value")
    add("position_float", orjson.dumps(_event(position=1.5)), "wrong_type")
    add("dwell_string", orjson.dumps(_event(type="read", dwell_seconds="10s")), "wrong_type")
    add("dwell_negative", orjson.dumps(_event(type="read", dwell_seconds=-3)), "bad_value")
    add("impression_empty_list", orjson.dumps(_event(type="impression", item_id=_DROP,
                                                     item_ids=[])), "empty_id")
    add("impression_mixed_list", orjson.dumps(_event(type="impression", item_id=_DROP,
                                                     item_ids=["a", 3])), "wrong_type")
    add("forget_without_user", orjson.dumps(_event(type="forget", user_id=_DROP)),
        "missing_field")
    return out
