"""Retractions and editors' rules inside the model: withdraw and restore, blocks, pins and
boosts with their scopes, expiry, and no cost without rules."""

from __future__ import annotations

import math

from stream.events import Interaction, Item, Rule
from stream.models import ModelSettings, StreamRecommender
from stream.models.rules import EDITORS_PICK

NOW = 10_000.0
STORIES = [("e0", "Rates rise", "economy", "en"), ("e1", "Rates fall", "economy", "en"),
           ("e2", "Banks merge", "economy", "en"), ("s0", "Cup final", "sport", "en"),
           ("s1", "Derby win", "sport", "en"), ("z0", "经济新闻", "economy", "zh")]


def model(**knobs: object) -> StreamRecommender:
    rec = StreamRecommender(ModelSettings(chinese_segmentation="bigrams", **knobs))
    for item_id, title, tag, lang in STORIES:
        rec.learn_item(item(item_id, title, tag, lang))
    return rec


def item(item_id: str, title: str = "Story", tag: str = "economy", lang: str = "en") -> Item:
    return Item(item_id=item_id, title=title, tags=(tag,), lang=lang, published_at=NOW - 60)


def ids(rec: StreamRecommender, user: str = "u", k: int = 10, now: float = NOW) -> list[str]:
    return [r.item_id for r in rec.recommend(user, k, now)]


def read(rec: StreamRecommender, user: str, item_id: str, n: int) -> None:
    rec.learn_one(Interaction(f"{user}-{n}", "read", user, item_id, ts=NOW - 30 + n,
                              dwell_seconds=60.0))


def test_a_withdrawn_item_leaves_every_list_and_comes_back_with_its_next_event() -> None:
    rec = model()
    read(rec, "u", "e0", 1)
    assert "e1" in ids(rec)
    before = rec.export_item("e1")
    assert rec.withdraw("e1") and not rec.withdraw("never-seen")
    assert "e1" not in ids(rec) and "e1" not in ids(rec, "new-reader")
    # kept in the pool, with what it had learned, for its return
    assert rec.export_item("e1") == before and "e1" in set(rec.item_ids())
    read(rec, "v", "e1", 2)  # read meanwhile (an old link): still withdrawn
    assert "e1" not in ids(rec)
    rec.learn_item(item("e1", "Rates fall, corrected"))
    assert "e1" in ids(rec)


def test_a_withdrawn_item_whose_slot_is_reused_does_not_withdraw_the_next() -> None:
    rec = model(item_ttl_seconds=10.0, item_ttl_stretch=0.0)
    rec.withdraw("e1")
    rec.housekeeping(NOW + 1e6)  # every item expired: their slots are free
    rec.learn_item(Item(item_id="fresh", title="Fresh", tags=("news",),
                        published_at=NOW + 1e6))
    assert ids(rec, now=NOW + 1e6) == ["fresh"]


def test_blocks_by_tag_and_item_hold_until_they_expire_or_are_replaced() -> None:
    rec = model()
    taken = rec.set_rules([Rule("r1", "block_tag", "sport", expires_at=NOW + 100),
                           Rule("r2", "block_item", "e2")], NOW)
    assert sorted(taken) == ["e2", "s0", "s1"]
    assert set(ids(rec)) == {"e0", "e1", "z0"}
    assert set(ids(rec, now=NOW + 100)) == {"e0", "e1", "s0", "s1", "z0"}  # r1 ended
    assert rec.set_rules([], NOW + 100) == []
    assert len(ids(rec, now=NOW + 100)) == 6
    # a block also holds for an item learned after it, and the settings' exclusions stay
    rec = model(excluded_items=("e0",))
    rec.set_rules([Rule("r1", "block_tag", "culture")], NOW)
    rec.learn_item(item("c0", "Opera night", "Culture"))
    assert set(ids(rec)) == {"e1", "e2", "s0", "s1", "z0"}
    rec.set_rules([], NOW)
    assert "c0" in ids(rec) and "e0" not in ids(rec)
    # a withdrawn item stays out when a block on it ends
    rec.withdraw("e1")
    rec.set_rules([Rule("r", "block_item", "e1")], NOW)
    rec.set_rules([], NOW)
    assert "e1" not in ids(rec)


def test_a_pin_takes_its_slot_until_it_expires() -> None:
    rec = model()
    read(rec, "u", "e0", 1)
    organic = rec.recommend("u", 4, NOW)
    rec.set_rules([Rule("p", "pin", "s1", expires_at=NOW + 60, position=2)], NOW)
    pinned = rec.recommend("u", 4, NOW)
    assert [r.item_id for r in pinned].index("s1") == 1
    assert pinned[1].reason == EDITORS_PICK and pinned[1].pinned
    assert not any(r.pinned for r in pinned if r.item_id != "s1")
    assert [r.item_id for r in pinned if r.item_id != "s1"] == [
        r.item_id for r in organic if r.item_id != "s1"][:3]
    scores = [r.score for r in pinned]
    assert scores == sorted(scores, reverse=True)  # it takes the score of its slot
    assert ids(rec, k=4, now=NOW + 59.9)[1] == "s1"
    assert ids(rec, k=4, now=NOW + 60) == [r.item_id for r in organic]  # ended on time
    # never for a reader who read it; never when withdrawn; never beyond the list
    rec.set_rules([Rule("p", "pin", "e0", expires_at=NOW + 60)], NOW)
    assert "e0" not in ids(rec) and ids(rec, "other")[0] == "e0"
    rec.withdraw("e0")
    assert "e0" not in ids(rec, "other")
    rec.set_rules([Rule("p", "pin", "s1", expires_at=NOW + 60, position=5)], NOW)
    assert ids(rec, k=4) == [r.item_id for r in organic]


def test_a_boost_lifts_an_item_but_never_lowers_it() -> None:
    rec = model()
    read(rec, "u", "e0", 1)
    organic = ids(rec, k=5)
    low, high = organic[-1], organic[0]
    rec.set_rules([Rule("b1", "boost", low, expires_at=NOW + 60, position=2),
                   Rule("b2", "boost", high, expires_at=NOW + 60, position=3)], NOW)
    got = rec.recommend("u", 5, NOW)
    assert [r.item_id for r in got][:2] == [high, low]
    assert got[1].pinned and not got[0].pinned  # the model ranked the other that high
    assert got[0].reason != EDITORS_PICK


def test_two_pins_for_one_slot_take_the_next_ones() -> None:
    rec = model()
    rec.set_rules([Rule("a", "pin", "s0", expires_at=NOW + 60),
                   Rule("b", "pin", "s1", expires_at=NOW + 60)], NOW)
    assert ids(rec, k=3)[:2] == ["s0", "s1"]


def test_scopes_by_topic_and_language() -> None:
    rec = model()
    read(rec, "economist", "e0", 1)
    read(rec, "fan", "s0", 2)
    read(rec, "chinese", "z0", 3)
    rec.set_rules([Rule("t", "pin", "e2", expires_at=NOW + 60, topic="economy"),
                   Rule("l", "pin", "e1", expires_at=NOW + 60, position=2, lang="zh")], NOW)
    assert ids(rec, "economist", k=3)[0] == "e2"
    assert ids(rec, "fan", k=3)[0] != "e2"  # follows sport only
    assert ids(rec, "new-reader", k=3)[0] != "e2"  # follows nothing yet
    assert ids(rec, "chinese", k=3)[:2] == ["e2", "e1"]  # economy, and reads Chinese


def test_without_rules_ranking_is_untouched_and_costs_one_comparison() -> None:
    rec = model()
    read(rec, "u", "e0", 1)
    assert rec.rules.next_change == math.inf and rec.rules.placements == ()
    before = rec.recommend_many(["u", "v"], 3, NOW)
    rec.set_rules([], NOW)
    assert rec.recommend_many(["u", "v"], 3, NOW) == before
    assert rec.rules.next_change == math.inf and rec.rules.placements == ()
