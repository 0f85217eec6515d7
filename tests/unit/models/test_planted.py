"""Generated data with a planted structure: each component must earn its place (switching it
off lowers the metric it is there for)."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from stream.events import Interaction, Item
from stream.models import ModelSettings, StreamRecommender

from .synthetic import TOPICS, hit_rate, make_world, reading_sessions

DAY = 86400.0


def _model(**overrides: object) -> StreamRecommender:
    options: dict[str, object] = {"chinese_segmentation": "bigrams", "diversity": 0.0}
    options.update(overrides)
    return StreamRecommender(ModelSettings.model_validate(options))


def _holdout_hit_rate(**overrides: object) -> float:
    world = make_world(seed=1)
    events = reading_sessions(world, n_users=120, reads=8, seed=2)
    last: dict[str, Interaction] = {}
    for event in events:
        last[event.user_id] = event
    held = {id(e) for e in last.values()}
    model = _model(**overrides)
    for item in world.items:
        model.learn_item(item)
    for event in events:
        if id(event) not in held:
            model.learn_one(event)
    now = max(e.ts for e in events)
    recs = model.recommend_many(list(last), k=5, now=now)
    return hit_rate({u: [r.item_id for r in rs] for u, rs in recs.items()},
                    {u: {e.item_id} for u, e in last.items()})


def test_collaborative_finds_the_taste_cluster_content_cannot_see() -> None:
    with_collab = _holdout_hit_rate()
    without = _holdout_hit_rate(use_collab=False)
    assert with_collab > without + 0.1, (with_collab, without)


def test_content_brings_new_items_to_the_readers_of_their_topic() -> None:
    def run(use_content: bool) -> float:
        world = make_world(seed=3, published_at=-2 * DAY)
        events = reading_sessions(world, n_users=80, reads=6, seed=4)
        # without co-visitation (it cannot know new items anyway), only the fresh boost and
        # content separate the new items: the fresh boost alone picks one of 12 at random
        model = _model(use_content=use_content, popularity_weight=0.0, use_collab=False)
        for item in world.items:
            model.learn_item(item)
        for event in events:
            model.learn_one(event)
        now = max(e.ts for e in events) + 60.0
        rng = np.random.default_rng(5)
        new_by_topic: dict[str, set[str]] = defaultdict(set)
        for topic, words in TOPICS.items():
            for j in range(3):  # three brand-new articles per topic, nobody has read them
                item_id = f"new-{topic}-{j}"
                model.learn_item(Item(item_id=item_id, tags=(topic,), published_at=now,
                                      title=" ".join(rng.choice(words, 4, replace=False))))
                new_by_topic[topic].add(item_id)
        recs = model.recommend_many(list(world.users), k=1, now=now)
        return hit_rate({u: [r.item_id for r in rs] for u, rs in recs.items()},
                        {u: new_by_topic[world.users[u][0]] for u in world.users})

    with_content, without = run(True), run(False)
    assert with_content > without + 0.3, (with_content, without)


def test_trending_serves_new_users() -> None:
    def run(popularity_weight: float) -> float:
        world = make_world(seed=6)
        model = _model(popularity_weight=popularity_weight)
        for item in world.items:
            model.learn_item(item)
        hot = [world.items[i].item_id for i in (3, 40, 77)]
        ts = 3 * DAY
        for n in range(60):  # the last hours: everyone reads one of three stories
            ts += 60.0
            model.learn_one(Interaction(f"h{n}", "click", f"old{n}", hot[n % 3], ts))
        newcomers = [f"new{n}" for n in range(20)]
        recs = model.recommend_many(newcomers, k=3, now=ts)
        return hit_rate({u: [r.item_id for r in rs] for u, rs in recs.items()},
                        {u: set(hot) for u in newcomers})

    assert run(0.15) == 1.0 and run(0.0) < 0.5


def test_short_term_profile_follows_a_change_of_interest() -> None:
    def run(short_term_weight: float) -> float:
        world = make_world(seed=7)
        model = _model(short_term_weight=short_term_weight, use_collab=False,
                       item_ttl_seconds=30 * DAY)
        for item in world.items:
            model.learn_item(item)
        by_topic: dict[str, list[str]] = defaultdict(list)
        for item in world.items:
            by_topic[world.topic[item.item_id]].append(item.item_id)
        targets = {}
        for u in range(30):
            user = f"u{u}"
            for j in range(10):  # days ago: economy, a lot
                model.learn_one(Interaction(f"{u}a{j}", "click", user, by_topic["economy"][j],
                                            DAY + j * 3600.0))
            for j in range(2):  # just now: two sport stories
                model.learn_one(Interaction(f"{u}b{j}", "click", user, by_topic["sport"][j],
                                            10 * DAY + j * 60.0))
            targets[user] = set(by_topic["sport"][2:])
        recs = model.recommend_many(list(targets), k=3, now=10 * DAY + 180.0)
        return hit_rate({u: [r.item_id for r in rs] for u, rs in recs.items()}, targets)

    assert run(0.6) > run(0.0)


def test_ranker_learns_which_generator_predicts_clicks_despite_position_bias() -> None:
    """Readers click stories of their own topic (content) and ignore popularity; the prior is
    set to trust popularity. Lists are ordered by popularity and a reader examines position
    ``p`` with probability ``0.8 ** p``. Trained on skip-above labels (items shown above a
    click, not clicked), the ranker must learn to trust content for readers it never saw."""
    topics = list(TOPICS)

    def run(use_ranker: bool) -> float:
        model = _model(use_ranker=use_ranker, use_collab=False, ranker_min_examples=30,
                       popularity_weight=1.0, content_weight=0.05, fresh_boost=0.0)
        rng = np.random.default_rng(9)
        items: list[tuple[str, str]] = []
        for t, words in TOPICS.items():
            for j in range(10):
                item_id = f"{t}-{j}"
                model.learn_item(Item(item_id=item_id, tags=(t,), published_at=0.0,
                                      title=" ".join(rng.choice(words, 4, replace=False))))
                items.append((item_id, t))
        appeal = rng.random(len(items))  # popularity unrelated to what readers want
        ts = 0.0
        for n, (item_id, _) in enumerate(items):
            for _ in range(int(appeal[n] * 10)):
                ts += 1.0
                model.learn_one(Interaction(f"p{n}-{ts}", "click", f"crowd{ts}", item_id, ts))
        for n in range(300):
            user, topic = f"u{n}", topics[n % len(topics)]
            ts += 10.0
            model.learn_one(Interaction(f"s{n}", "click", user, f"{topic}-9", ts))
            by_popularity = np.argsort(-appeal)
            shown = [i for i in by_popularity.tolist() if items[i][0] != f"{topic}-9"]
            shown = shown[int(rng.integers(0, 20)):][:8]
            model.learn_one(Interaction(f"imp{n}", "impression", user, "", ts,
                                        item_ids=tuple(items[i][0] for i in shown)))
            for pos, i in enumerate(shown):
                wanted = 0.6 if items[i][1] == topic else 0.02
                if rng.random() < 0.8 ** pos and rng.random() < wanted:
                    model.learn_one(Interaction(f"c{n}-{pos}", "click", user, items[i][0], ts,
                                                position=pos))
        aucs = []
        for t in topics:
            model.learn_one(Interaction(f"new-{t}", "click", f"new-{t}", f"{t}-8", ts))
            ids = [i for i, _ in items if i != f"{t}-8"]
            scores = model.score(f"new-{t}", ids, ts)
            good = np.array([i.startswith(t) for i in ids])
            pairs = scores[good][:, None] - scores[~good][None, :]
            aucs.append(float(np.mean((pairs > 0) + 0.5 * (pairs == 0))))
        return float(np.mean(aucs))

    with_ranker, without = run(True), run(False)
    assert with_ranker > 0.9 and with_ranker > without + 0.2, (with_ranker, without)
