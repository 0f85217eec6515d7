"""The baselines follow the Recommender protocol, exclude seen items, and are deterministic."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
import pytest

from stream.evaluate.baselines import PopularityBaseline, RandomBaseline, RiverMFBaseline
from stream.events import Forget, Interaction, Item
from stream.models.base import Recommender

from .synthetic import planted_taste


def feed(model: Recommender, n_events: int = 400) -> None:
    data = planted_taste(n_users=20, items_per_topic=10, clicks_per_user=20)
    for item in data.items:
        model.learn_item(item)
    for event in data.time_ordered()[:n_events]:
        assert isinstance(event, Interaction)
        model.learn_one(event)


ALL_TIME = partial(PopularityBaseline, half_life=None)


@pytest.mark.parametrize("factory", [PopularityBaseline, ALL_TIME, RandomBaseline,
                                     RiverMFBaseline])
def test_protocol_and_seen_items_excluded(factory: Callable[[], Recommender]) -> None:
    model = factory()
    assert isinstance(model, Recommender)
    feed(model)
    clicked = {"football-0", "football-1"}
    for n, item_id in enumerate(sorted(clicked)):
        model.learn_one(Interaction(f"x{n}", "click", "fresh-user", item_id, ts=200_000.0))
    recs = model.recommend("fresh-user", k=100, now=200_000.0)
    assert len(recs) == 38  # 40 items, 2 of them clicked
    assert not clicked & {r.item_id for r in recs}
    assert len({r.item_id for r in recs}) == 38
    scores = model.score("fresh-user", ["football-2", "unknown-item"], now=200_000.0)
    assert scores.shape == (2,) and np.all(np.isfinite(scores))
    model.forget_user(Forget("f", "fresh-user", ts=200_001.0))
    after = {r.item_id for r in model.recommend("fresh-user", k=100, now=200_001.0)}
    assert after >= clicked  # forgotten: nothing is excluded any more


def test_popularity_decays_with_time() -> None:
    model = PopularityBaseline(half_life=10.0)
    for n in range(3):
        model.learn_one(Interaction(f"a{n}", "click", f"u{n}", "old", ts=0.0))
    model.learn_one(Interaction("b", "click", "u9", "new", ts=100.0))
    assert [r.item_id for r in model.recommend("x", k=2, now=100.0)] == ["new", "old"]
    slow = PopularityBaseline(half_life=1000.0)
    for event in [Interaction(f"a{n}", "click", f"u{n}", "old", ts=0.0) for n in range(3)]:
        slow.learn_one(event)
    slow.learn_one(Interaction("b", "click", "u9", "new", ts=100.0))
    assert [r.item_id for r in slow.recommend("x", k=2, now=100.0)] == ["old", "new"]


def test_all_time_popularity_ranks_often_clicked_long_ago_above_recent() -> None:
    day = 86_400.0
    # "classic": five clicks and reads a month ago; "hit": two clicks an hour ago
    events = [Interaction(f"c{n}", "click" if n % 2 else "read", f"u{n}", "classic",
                          ts=n * 60.0) for n in range(5)]
    events += [Interaction(f"h{n}", "click", f"v{n}", "hit", ts=30 * day - 3600.0)
               for n in range(2)]
    # impressions make items known but count for nothing
    events.append(Interaction("i", "impression", "u0", "", ts=30 * day,
                              item_ids=("hit", "classic", "shown-only")))
    decayed, all_time = PopularityBaseline(), PopularityBaseline(half_life=None)
    for model in (decayed, all_time):
        for event in events:
            model.learn_one(event)
    now = 30 * day
    assert [r.item_id for r in decayed.recommend("x", k=3, now=now)] == [
        "hit", "classic", "shown-only"]
    recs = all_time.recommend("x", k=3, now=now)
    assert [(r.item_id, r.score) for r in recs] == [
        ("classic", 5.0), ("hit", 2.0), ("shown-only", 0.0)]
    assert all_time.name == "popularity-all-time" and decayed.name == "popularity"
    # counts stay exact over any span of time, and do not depend on when they are read
    all_time.learn_one(Interaction("late", "click", "w", "hit", ts=1e9))
    assert all_time.score("x", ["classic", "hit", "nope"], now=2e9).tolist() == [5.0, 3.0, 0.0]
    # the user's own clicks and reads are excluded, as in the decayed model
    assert [r.item_id for r in all_time.recommend("u0", k=3, now=now)] == ["hit", "shown-only"]


@pytest.mark.parametrize("factory", [RandomBaseline, RiverMFBaseline])
def test_same_seed_same_lists(factory: type) -> None:
    lists = []
    for _ in range(2):
        model = factory(seed=3)
        feed(model)
        lists.append([r.item_id for r in model.recommend("u1", k=10, now=1e6)])
    assert lists[0] == lists[1]


def test_river_mf_vectorised_scores_equal_predict_one() -> None:
    model = RiverMFBaseline(seed=5)
    feed(model, n_events=400)
    rng = np.random.default_rng(0)
    users = sorted(str(u) for u in model.model.u_latents)
    trained = sorted(str(i) for i in model.model.i_latents)
    assert len(users) > 5 and len(trained) > 20
    for user in rng.choice(users, size=5, replace=False):
        all_scores = model.scores_all(str(user))
        for item in rng.choice(trained, size=20, replace=False):
            expected = model.model.predict_one(str(user), str(item))  # type: ignore[no-untyped-call]
            got = all_scores[model._items.index[str(item)]]
            assert got == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_item_known_from_metadata_only_is_rankable() -> None:
    for model in (PopularityBaseline(), ALL_TIME(), RandomBaseline(), RiverMFBaseline()):
        model.learn_item(Item(item_id="only", title="t", published_at=0.0))
        assert [r.item_id for r in model.recommend("u", k=5, now=0.0)] == ["only"]
