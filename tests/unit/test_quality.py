"""Live quality: click scoring, rolling windows, stable variant assignment."""

from __future__ import annotations

import math
import random
from array import array
from collections import Counter

import pytest

from stream.feed.quality import (
    LastLists,
    RollingQuality,
    assign_variant,
    item_hash,
    score_click,
)


def test_click_outcomes() -> None:
    hit = score_click(["a", "b", "c"], "b", k=10)
    assert hit.rank == 2 and hit.hit and hit.reciprocal_rank == 0.5
    assert hit.ndcg == pytest.approx(1 / math.log2(3))
    miss = score_click(["a"], "z", k=10)
    assert (miss.rank, miss.hit, miss.ndcg, miss.reciprocal_rank) == (None, False, 0.0, 0.0)
    assert score_click(None, "a", k=10).rank is None
    beyond = score_click([str(i) for i in range(20)], "15", k=10)
    assert beyond.rank == 16 and not beyond.hit and beyond.ndcg == 0.0


def test_rolling_window_equals_a_recount() -> None:
    rng = random.Random(3)
    rolling = RollingQuality(window=50)
    outcomes = []
    for _ in range(500):
        items = [str(i) for i in range(10)]
        outcome = score_click(items, str(rng.randrange(15)), k=10)
        rolling.update(outcome)
        outcomes.append(outcome)
    last = outcomes[-50:]
    got = rolling.get()
    assert got["hr"] == pytest.approx(sum(o.hit for o in last) / 50)
    assert got["ndcg"] == pytest.approx(sum(o.ndcg for o in last) / 50)
    assert got["mrr"] == pytest.approx(sum(o.reciprocal_rank for o in last) / 50)
    assert math.isnan(RollingQuality().get()["hr"])


def test_variants_are_stable_and_weighted() -> None:
    weights = {"control": 0.8, "test": 0.2}
    counts = Counter(assign_variant(f"user-{i}", weights) for i in range(20000))
    assert 0.77 < counts["control"] / 20000 < 0.83
    assert all(assign_variant(f"user-{i}", weights) == assign_variant(f"user-{i}", weights)
               for i in range(100))
    with pytest.raises(ValueError):
        assign_variant("u", {})


def test_last_lists_are_bounded() -> None:
    lists = LastLists(capacity=2)
    lists.put("a", "v", ["1"])
    lists.put("b", "v", ["2"])
    lists.put("a", "v", ["3"])
    lists.put("c", "w", ["4"])
    assert lists.get("b") is None and len(lists) == 2
    assert lists.get("a") == ("v", array("I", [item_hash("3")]))
    assert lists.get("c") == ("w", array("I", [item_hash("4")]))
    lists.forget("a")
    lists.forget("nobody")
    assert lists.get("a") is None and lists.rank_of("a", "3") is None and len(lists) == 1


def test_last_lists_rank_clicks_as_score_click_does() -> None:
    rng = random.Random(5)
    lists = LastLists(capacity=100)
    for n in range(2000):
        user = f"u{rng.randrange(50)}"
        published = [f"n{rng.randrange(40):05d}" for _ in range(rng.randrange(0, 15))]
        variant = rng.choice(["control", "test"])
        lists.put(user, variant, published)
        clicked = f"n{rng.randrange(40):05d}"
        rank = score_click(published, clicked, k=10).rank
        assert lists.rank_of(user, clicked) == (variant, rank), n


def test_last_lists_give_back_the_ids_found_among_candidates() -> None:
    lists = LastLists(capacity=10)
    lists.put("u", "v", ["a", "b", "c"])
    assert lists.ids("u", ["", "c", "x", "a", "b", "b"]) == ["a", "b", "c"]
    assert lists.ids("u", ["b"]) == [None, "b", None]  # a and c not among them
    assert lists.ids("nobody", ["a"]) is None


def test_last_lists_hold_at_most_256_variants() -> None:
    lists = LastLists(capacity=10)
    with pytest.raises(ValueError):
        for n in range(300):
            lists.put("u", f"variant{n}", ["a"])


def test_last_lists_beyond_a_large_capacity_evict_the_oldest_sixteenth_at_once() -> None:
    lists = LastLists(capacity=64)
    for n in range(64):
        lists.put(f"u{n}", "v", [str(n)])
    lists.put("u0", "v", ["again"])  # updated: now the most recent
    lists.put("u64", "v", ["64"])  # one over: it and 64 // 16 = 4 more of the oldest go
    assert len(lists) == 60
    assert all(lists.get(f"u{n}") is None for n in range(1, 6))  # the five least recent
    assert lists.get("u6") is not None and lists.get("u64") is not None
    assert lists.get("u0") == ("v", array("I", [item_hash("again")]))
