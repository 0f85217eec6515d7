"""Parsing and validation of every event of the contract."""

from __future__ import annotations

import orjson
import pytest

from stream.errors import InvalidEvent
from stream.events import (
    EventLimits,
    Forget,
    Interaction,
    parse_comment,
    parse_comment_label,
    parse_interaction,
    parse_item,
)


def dumps(**fields: object) -> bytes:
    return orjson.dumps(fields)


def reason_of(fn, raw: bytes, **kw: object) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidEvent) as info:
        fn(raw, **kw)
    return info.value.reason


def test_item_with_optional_fields_and_extras() -> None:
    item = parse_item(dumps(item_id="n1", title="Rates rise", body="Long text", tags=["economy"],
                            lang="EN", published_at=1700000000, extra={"ignored": True}))
    assert item.item_id == "n1" and item.tags == ("economy",) and item.lang == "en"
    assert item.published_at == 1700000000.0


def test_click_read_impression_and_forget() -> None:
    click = parse_interaction(dumps(event_id="e", type="click", user_id="u", item_id="i",
                                    ts=1.5, position=3))
    assert isinstance(click, Interaction) and click.position == 3 and click.type == "click"
    read = parse_interaction(dumps(event_id="e", type="read", user_id="u", item_id="i", ts=2,
                                   dwell_seconds=30.5))
    assert isinstance(read, Interaction) and read.dwell_seconds == 30.5
    shown = parse_interaction(dumps(event_id="e", type="impression", user_id="u",
                                    item_ids=["a", "b"], ts=3))
    assert isinstance(shown, Interaction) and shown.item_ids == ("a", "b") and shown.item_id == ""
    forget = parse_interaction(dumps(event_id="e", type="forget", user_id="u", ts=4))
    assert forget == Forget(event_id="e", user_id="u", ts=4.0)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty"),
        (b"{", "not_json"),
        (b"\xff\xfe", "not_json"),
        (b"[1]", "not_object"),
        (b'"text"', "not_object"),
        (b'{"type": "click", "user_id": "u", "item_id": "i", "ts": 1}', "missing_field"),
        (b'{"event_id": "e", "user_id": "u", "item_id": "i", "ts": 1}', "missing_field"),
        (b'{"event_id": "e", "type": "click", "user_id": " ", "item_id": "i", "ts": 1}',
         "empty_id"),
        (b'{"event_id": "e", "type": "click", "user_id": "u", "item_id": "", "ts": 1}',
         "empty_id"),
        (b'{"event_id": "e", "type": "share", "user_id": "u", "item_id": "i", "ts": 1}',
         "unknown_type"),
        (b'{"event_id": "e", "type": 7, "user_id": "u", "item_id": "i", "ts": 1}', "wrong_type"),
        (b'{"event_id": "e", "type": "click", "user_id": ["u"], "item_id": "i", "ts": 1}',
         "wrong_type"),
        (b'{"event_id": "e", "type": "click", "user_id": "u", "item_id": "i", "ts": true}',
         "wrong_type"),
        (b'{"event_id": "e", "type": "click", "user_id": "u", "item_id": "i", "ts": -3}',
         "bad_value"),
        (b'{"event_id": "e", "type": "click", "user_id": "u", "item_id": "i", "ts": 1e999}',
         "not_json"),
        (b'{"event_id": "e", "type": "click", "user_id": "u", "item_id": "i", "ts": Infinity}',
         "not_json"),
        (b'{"event_id": "e", "type": "click", "user_id": "u\\u0000", "item_id": "i", "ts": 1}',
         "bad_value"),
        (b'{"event_id": "e", "type": "click", "user_id": "u", "item_id": "i", "ts": 1, '
         b'"position": -1}', "bad_value"),
        (b'{"event_id": "e", "type": "read", "user_id": "u", "item_id": "i", "ts": 1, '
         b'"dwell_seconds": "long"}', "wrong_type"),
        (b'{"event_id": "e", "type": "impression", "user_id": "u", "item_ids": [], "ts": 1}',
         "empty_id"),
        (b'{"event_id": "e", "type": "impression", "user_id": "u", "item_ids": [1], "ts": 1}',
         "wrong_type"),
    ],
)
def test_bad_interactions_are_rejected_with_a_reason(raw: bytes, reason: str) -> None:
    assert reason_of(parse_interaction, raw) == reason


def test_limits_on_size_ids_lists_and_future() -> None:
    limits = EventLimits(max_bytes=200, max_id_chars=5, max_list_items=2, max_future_seconds=60)
    big = dumps(event_id="e", type="click", user_id="u", item_id="i", ts=1, pad="x" * 300)
    assert reason_of(parse_interaction, big, limits=limits) == "too_large"
    long_id = dumps(event_id="e", type="click", user_id="u" * 6, item_id="i", ts=1)
    assert reason_of(parse_interaction, long_id, limits=limits) == "too_large"
    many = dumps(event_id="e", type="impression", user_id="u", item_ids=["a", "b", "c"], ts=1)
    assert reason_of(parse_interaction, many, limits=limits) == "too_large"
    future = dumps(event_id="e", type="click", user_id="u", item_id="i", ts=1000)
    assert reason_of(parse_interaction, future, limits=limits, now=100.0) == "bad_value"
    assert parse_interaction(future, limits=limits, now=990.0).user_id == "u"


def test_items_and_comments_and_labels() -> None:
    assert reason_of(parse_item, dumps(item_id="n", published_at=1)) == "missing_field"
    assert reason_of(parse_item, dumps(item_id="n", title="t", published_at=1, tags="x")) == (
        "wrong_type"
    )
    comment = parse_comment(dumps(comment_id="c", user_id="u", item_id="i", text="好文章", ts=1,
                                  lang="zh-CN"))
    assert comment.text == "好文章" and comment.lang == "zh-cn"
    assert reason_of(parse_comment, dumps(comment_id="c", user_id="u", item_id="i", ts=1)) == (
        "missing_field"
    )
    label = parse_comment_label(dumps(text="great", label="positive"))
    assert label.label == "positive" and label.score is None
    assert parse_comment_label(dumps(text="meh", score=-0.25)).score == -0.25
    assert reason_of(parse_comment_label, dumps(text="x", score=2)) == "bad_value"
    assert reason_of(parse_comment_label, dumps(text="x", label="angry")) == "bad_value"
    assert reason_of(parse_comment_label, dumps(text="x")) == "missing_field"


def test_unknown_reason_codes_are_refused() -> None:
    with pytest.raises(ValueError):
        InvalidEvent("made_up", "x")
