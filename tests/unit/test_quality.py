"""Live quality: click scoring, rolling windows, stable variant assignment."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest

from stream.quality import LastLists, RollingQuality, assign_variant, score_click


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
    lists.put("c", "v", ["4"])
    assert lists.get("b") is None and lists.get("a") == ("v", ["3"]) and len(lists) == 2
