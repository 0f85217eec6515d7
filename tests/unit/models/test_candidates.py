"""The first stage's candidate sources (topic lists, co-visitation) and the batched second
stage: what they hold, that they follow the catalogue's changes, that the first stage finds
the whole catalogue's best by the prior where its lists hold every item, and that a batch
ranks each reader as they would be ranked alone."""

from __future__ import annotations

import numpy as np
import pytest

from stream.bench.workload import Workload
from stream.events import Forget, Interaction, Item
from stream.models import ModelSettings, StreamRecommender
from stream.models.candidates import EVERYTHING
from stream.models.discovery import limit_discovery, limit_discovery_rows
from stream.models.scoring import F
from stream.settings import Settings

DAY = 86400.0
T0 = 1_000_000.0


def click(user: str, item: str, ts: float) -> Interaction:
    return Interaction(f"{user}-{item}-{ts}", "click", user, item, ts)


def news(size: int, **overrides: object) -> StreamRecommender:
    rec = StreamRecommender(ModelSettings(chinese_segmentation="bigrams", topic_list_size=size,
                                          **overrides))
    for i in range(12):
        tag = ("economy", "sport")[i % 2]
        rec.learn_item(Item(item_id=f"{tag[0]}{i}", title=f"{tag} story {i}", tags=(tag,),
                            lang="en", published_at=DAY + i))
    return rec


def members(rec: StreamRecommender, name: tuple[str, str]) -> set[str]:
    rec.topics.refresh(rec.clock)
    ids = rec.pool.catalog.ids
    return {ids[j] for j in rec.topics.members[rec.topics.topic(name)].tolist()}


def test_a_topic_holds_its_most_read_and_its_newest_items() -> None:
    rec = news(size=2)
    for n in range(3):
        rec.learn_one(click(f"x{n}", "e0", 2 * DAY + n))
    rec.learn_one(click("y", "e2", 2 * DAY + 5))
    topics = rec.topics
    economy = topics.topic(("tag", "economy"))
    topics.refresh(2 * DAY + 5)
    ids = rec.pool.catalog.ids
    assert [ids[j] for j in topics.trending[economy].tolist()] == ["e0", "e2"]
    assert {ids[j] for j in topics.fresh[economy].tolist()} == {"e10", "e8"}
    assert members(rec, ("tag", "sport")) == {"s11", "s9", "s1", "s3"}  # newest, then index
    assert len(topics.members[EVERYTHING]) == 4


def test_lists_follow_new_items_exclusions_and_retags() -> None:
    rec = news(size=2)
    assert "e10" in members(rec, ("tag", "economy"))
    rec.learn_item(Item(item_id="e99", title="late economy story", tags=("economy",),
                        lang="en", published_at=DAY + 50))
    assert "e99" in members(rec, ("tag", "economy"))
    rec.withdraw("e99")
    assert "e99" not in members(rec, ("tag", "economy"))
    rec.learn_item(Item(item_id="e99", title="late economy story", tags=("sport",),
                        lang="en", published_at=DAY + 50))
    assert "e99" not in members(rec, ("tag", "economy"))
    assert "e99" in members(rec, ("tag", "sport")) and "e99" in members(rec, ("lang", "en"))
    rec.set_rules([], now=DAY)  # no change of blocks: nothing to take in
    assert not rec.pool.catalog.changed


def test_a_refresh_takes_in_only_what_changed() -> None:
    rec = news(size=2)
    rec.topics.refresh(DAY)
    before = [m.copy() for m in rec.topics.members]
    cat = rec.pool.catalog
    assert not cat.changed and not cat.read
    rec.topics.refresh(DAY + 1)  # nothing changed: nothing moves
    assert all(np.array_equal(a, b) for a, b in zip(before, rec.topics.members, strict=True))


def test_reads_move_the_popular_once_a_refresh_interval_new_items_at_once() -> None:
    """What reads change in popularity is taken in once ``topic_refresh_seconds`` of event
    time have passed since it last was (a merge costs the same for one read as for many);
    an item that arrives joins its topics at the next refresh whatever the time."""
    rec = news(size=1, topic_refresh_seconds=60.0)
    topics = rec.topics
    economy = topics.topic(("tag", "economy"))
    ids = rec.pool.catalog.ids
    rec.learn_one(click("x", "e0", 2 * DAY))
    topics.refresh(2 * DAY)  # the first refresh takes everything in
    assert [ids[j] for j in topics.trending[economy].tolist()] == ["e0"]
    for n in range(3):  # e2 overtakes e0, within the interval
        rec.learn_one(click(f"y{n}", "e2", 2 * DAY + 1 + n))
    topics.refresh(2 * DAY + 10)
    assert [ids[j] for j in topics.trending[economy].tolist()] == ["e0"]
    rec.learn_item(Item(item_id="e99", title="late economy story", tags=("economy",),
                        lang="en", published_at=2 * DAY + 10))
    topics.refresh(2 * DAY + 11)  # a new item joins at once (the newest of its topic)
    assert [ids[j] for j in topics.fresh[economy].tolist()] == ["e99"]
    topics.refresh(2 * DAY + 60)  # the interval is over: the reads are taken in
    assert [ids[j] for j in topics.trending[economy].tolist()] == ["e2"]


def test_a_fresh_item_nobody_read_reaches_its_readers_in_a_large_catalogue() -> None:
    """The news case: an item no one co-visited yet, matched to the reader by its topic and
    text, is a candidate though the catalogue holds far more items than any list."""
    rec = StreamRecommender(ModelSettings(chinese_segmentation="bigrams", topic_list_size=20))
    for i in range(3000):
        tag = ("economy", "sport", "science")[i % 3]
        rec.learn_item(Item(item_id=f"old{i}", title=f"{tag} archive piece{i}", tags=(tag,),
                            published_at=DAY))
    rec.learn_one(click("u", "old0", 10 * DAY))  # economy
    rec.learn_item(Item(item_id="new", title="economy archive", tags=("economy",),
                        published_at=10 * DAY + 1))
    found = rec.lists.retrieve(["u"], 10, 10 * DAY + 2)
    ids = rec.pool.catalog.ids
    assert "new" in {ids[j] for j in found.items[0].tolist() if j >= 0}
    assert rec.recommend("u", k=3, now=10 * DAY + 2)[0].item_id == "new"


@pytest.fixture(scope="module")
def traffic() -> tuple[StreamRecommender, list[str], float]:
    """A model after some of the benchmark's traffic, with forgotten readers."""
    settings = Settings().recommender.model_copy(update={"topic_list_size": 400})
    rec = StreamRecommender(settings)
    workload = Workload(300, 80, seed=3)
    for item in workload.items(T0):
        rec.learn_item(item)
    events: list[Interaction | Forget] = [
        e.to_interaction(T0 + 60 + i) for i, e in enumerate(workload.events(2500))]
    events.insert(1200, Forget("f", events[1100].user_id, events[1199].ts))
    rec.learn_many(events)
    users = list(dict.fromkeys(e.user_id for e in events[-400:]))
    return rec, [*users, "nobody"], events[-1].ts


def test_the_first_stage_finds_the_whole_catalogues_best_where_lists_hold_everything(
        traffic: tuple[StreamRecommender, list[str], float]) -> None:
    """Lists larger than the catalogue hold every item: the candidates must then be the
    best by the prior over the whole catalogue, as a pass over every item finds them."""
    rec, users, now = traffic
    scorer, cat = rec.scorer, rec.pool.catalog
    n = len(cat)
    items = np.arange(n, dtype=np.int64)
    found = rec.lists.retrieve(users, 10, now)
    popularity, freshness = scorer.trend_terms(now, items)
    compared = 0
    for row, view in enumerate(found.views):
        content = (np.zeros(n) if view.query is None
                   else np.maximum(cat.matrix @ view.query, 0.0).astype(np.float64))
        raw, top = scorer._collab_raw(view, n, now)
        collab = raw / top if top > 0 else raw
        prior = scorer.prior(content, collab, popularity, freshness)
        allowed = rec.pool.allowed(items, now)
        allowed[view.seen] = False
        want = np.sort(prior[allowed])[::-1][: rec.settings.candidates]
        got = found.prior[row][found.items[row] >= 0]
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9)
        held = found.items[row][found.items[row] >= 0]
        assert not np.isin(held, view.seen).any()
        np.testing.assert_allclose(found.collab[row][found.items[row] >= 0], collab[held],
                                   rtol=1e-9, atol=1e-12)
        compared += 1
    assert compared == len(users)


def test_a_batch_ranks_each_reader_as_alone(
        traffic: tuple[StreamRecommender, list[str], float]) -> None:
    rec, users, now = traffic
    together = rec.recommend_many(users, 10, now)
    assert sum(len(v) for v in together.values()) >= 10 * (len(users) - 1)
    for user in users:
        assert rec.recommend(user, 10, now) == together[user], user


def test_the_discovery_limit_of_rows_is_that_of_each_list() -> None:
    rng = np.random.default_rng(1)
    settings = ModelSettings(discovery_share=0.3)
    x = np.zeros((60, len(F)))
    x[:, F["popularity"]] = rng.random(60)
    x[:, F["content"]] = rng.random(60) * (rng.random(60) < 0.4)
    rows = np.stack([rng.permutation(60)[:20] for _ in range(6)])
    rows[2, 12:] = -1
    order, dropped = limit_discovery_rows(settings, x, rows, k=10)
    for r in range(rows.shape[0]):
        ranked = rows[r][rows[r] >= 0]
        kept = limit_discovery(settings, x[ranked], 10)
        want = ranked if kept is None else ranked[kept]
        got = rows[r][order[r]][~dropped[r]]
        assert got.tolist() == want.tolist()


def test_the_batchs_views_are_each_readers_view(
        traffic: tuple[StreamRecommender, list[str], float]) -> None:
    rec, users, now = traffic
    rows = [rec.users.index.get(u) for u in users]
    for row, view in zip(rows, rec.scorer.user_views(rows, now), strict=True):
        alone = rec.scorer.user_view(row, now)
        assert view.row == alone.row
        assert np.array_equal(view.items, alone.items) and np.array_equal(view.seen, alone.seen)
        assert np.array_equal(view.weights, alone.weights)
        if alone.query is None:
            assert view.query is None
        else:
            assert view.query is not None
            np.testing.assert_allclose(view.query, alone.query, rtol=1e-5, atol=1e-7)


def test_a_batch_where_no_list_may_hold_anything_gets_empty_lists() -> None:
    # every item withdrawn: no reader of the batch has a candidate (the first stage once
    # failed there, and the batch's lists with it)
    rec = news(3)
    rec.learn_one(click("u1", "e0", 2 * DAY))
    for item_id in list(rec.item_ids()):
        rec.withdraw(item_id)
    assert rec.recommend_many(["u1", "u2"], 5, 2 * DAY + 1) == {"u1": [], "u2": []}
    # and the lists come back with the items
    rec.learn_item(Item(item_id="s1", title="sport story 1", tags=("sport",), lang="en",
                        published_at=DAY + 1))
    assert [r.item_id for r in rec.recommend("u1", 5, 2 * DAY + 2)] == ["s1"]
