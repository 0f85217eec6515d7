"""Parsing and validation of retractions (items topic) and editors' rules (rules topic)."""

from __future__ import annotations

import orjson
import pytest

from stream.errors import InvalidEvent
from stream.events import (
    EventLimits,
    Item,
    Rule,
    RuleDeletion,
    Withdrawal,
    parse_catalog,
    parse_rule,
)


def dumps(**fields: object) -> bytes:
    return orjson.dumps(fields)


def catalog_reason(key: bytes | None, raw: bytes | None) -> str:
    with pytest.raises(InvalidEvent) as info:
        parse_catalog(key, raw)
    return info.value.reason


def rule_reason(key: bytes | None, raw: bytes | None) -> str:
    with pytest.raises(InvalidEvent) as info:
        parse_rule(key, raw)
    return info.value.reason


def test_a_tombstone_or_withdrawn_true_retracts_the_item() -> None:
    assert parse_catalog(b"n1", None) == Withdrawal("n1")
    assert parse_catalog(None, dumps(item_id="n2", withdrawn=True)) == Withdrawal("n2")
    # a withdrawal needs nothing but the id (an editor's tool may know nothing else)
    assert parse_catalog(b"n3", dumps(item_id="n3", withdrawn=True, title=5)) == Withdrawal("n3")
    item = parse_catalog(b"n4", dumps(item_id="n4", title="Back", published_at=1,
                                      withdrawn=False))
    assert isinstance(item, Item) and item.item_id == "n4"


@pytest.mark.parametrize(
    ("key", "raw", "reason"),
    [
        (None, None, "empty"),  # a tombstone without a key names no item
        ("\xff".encode("latin-1"), None, "bad_value"),
        (b"  ", None, "empty_id"),
        (b"x" * 300, None, "too_large"),
        (b"n1", dumps(item_id="n1", withdrawn="yes"), "wrong_type"),
        (b"n1", dumps(withdrawn=True), "missing_field"),
        (b"n1", dumps(item_id="n1", published_at=1), "missing_field"),  # an item needs a title
    ],
)
def test_bad_retractions_say_why(key: bytes | None, raw: bytes | None, reason: str) -> None:
    assert catalog_reason(key, raw) == reason


def test_rules_of_every_kind() -> None:
    assert parse_rule(b"r1", dumps(action="block", tag=" Sport ")) == Rule(
        "r1", "block_tag", "sport")
    assert parse_rule(b"r2", dumps(action="block", item_id="n9", expires_at=50)) == Rule(
        "r2", "block_item", "n9", 50.0)
    pin = parse_rule(b"r3", dumps(action="pin", item_id="n1", expires_at=10.5, topic="Economy",
                                  lang="EN", variant="control", rule_id="r3"))
    assert pin == Rule("r3", "pin", "n1", 10.5, 1, "economy", "en", "control")
    boost = parse_rule(b"r4", dumps(action="boost", item_id="n1", expires_at=1, position=5))
    assert boost == Rule("r4", "boost", "n1", 1.0, 5)
    assert parse_rule(b"r5", dumps(action="boost", item_id="n1", expires_at=1)) == Rule(
        "r5", "boost", "n1", 1.0, 3)
    assert parse_rule(b"r6", None) == RuleDeletion("r6")
    # an expiry in the past is a rule that no longer holds, not a bad message: a compacted
    # topic keeps it, and a worker reads it again at every start
    old = parse_rule(b"r7", dumps(action="pin", item_id="n1", expires_at=0))
    assert isinstance(old, Rule) and not old.active(1.0) and old.active(-1.0)
    assert Rule("r8", "block_tag", "x").active(1e12)


@pytest.mark.parametrize(
    ("key", "raw", "reason"),
    [
        (None, dumps(action="block", tag="x"), "missing_field"),  # the key is the rule id
        (None, None, "missing_field"),
        (b"r", b"[]", "not_object"),
        (b"r", b"{", "not_json"),
        (b"r", dumps(tag="x"), "missing_field"),
        (b"r", dumps(action=1, tag="x"), "wrong_type"),
        (b"r", dumps(action="delete", item_id="n1"), "unknown_type"),
        (b"r", dumps(action="block"), "bad_value"),
        (b"r", dumps(action="block", tag="x", item_id="n1"), "bad_value"),
        (b"r", dumps(action="block", tag="x", topic="sport"), "bad_value"),
        (b"r", dumps(action="block", tag=""), "empty_id"),
        (b"r", dumps(action="pin", expires_at=1), "missing_field"),
        (b"r", dumps(action="pin", item_id="n1"), "missing_field"),  # a pin must expire
        (b"r", dumps(action="boost", item_id="n1"), "missing_field"),
        (b"r", dumps(action="pin", item_id="n1", expires_at="soon"), "wrong_type"),
        (b"r", dumps(action="pin", item_id="n1", expires_at=-1), "bad_value"),
        (b"r", dumps(action="pin", item_id="n1", expires_at=1, position=0), "bad_value"),
        (b"r", dumps(action="pin", item_id="n1", expires_at=1, position=65), "bad_value"),
        (b"r", dumps(action="pin", item_id="n1", expires_at=1, position=True), "wrong_type"),
        (b"r", dumps(action="pin", item_id="n1", expires_at=1, lang=5), "wrong_type"),
        (b"r", dumps(action="pin", item_id="n1", expires_at=1, variant=""), "empty_id"),
        (b"r", dumps(action="pin", item_id="n1", expires_at=1, rule_id="other"), "bad_value"),
    ],
)
def test_bad_rules_say_why(key: bytes | None, raw: bytes | None, reason: str) -> None:
    assert rule_reason(key, raw) == reason


def test_rules_are_bounded_like_every_event() -> None:
    limits = EventLimits(max_bytes=100, max_id_chars=8)
    with pytest.raises(InvalidEvent) as info:
        parse_rule(b"r", dumps(action="block", tag="x" * 200), limits)
    assert info.value.reason == "too_large"
    with pytest.raises(InvalidEvent) as info:
        parse_rule(b"r" * 9, None, limits)
    assert info.value.reason == "too_large"
