"""Behaviour of the full stack: cold start, seen filter, TTL, forget, reasons, MMR, rules,
interests, state round trips, Chinese content."""

from __future__ import annotations

import base64
import zlib

import numpy as np
import orjson
import pytest

from stream.events import Forget, Interaction, Item
from stream.models import ModelSettings, Recommender, StreamRecommender
from stream.models.impressions import Impression, features_from_text, features_to_text
from stream.settings import Settings

DAY = 86400.0


def click(user: str, item: str, ts: float, n: int = 0) -> Interaction:
    return Interaction(f"{user}-{item}-{ts}-{n}", "click", user, item, ts)


@pytest.fixture
def news() -> StreamRecommender:
    rec = StreamRecommender(ModelSettings(chinese_segmentation="bigrams", diversity=0.0))
    titles = {
        "e1": ("Central bank raises interest rates", "economy"),
        "e2": ("Interest rates rise as inflation bites", "economy"),
        "e3": ("Bank rates and inflation outlook", "economy"),
        "s1": ("Striker scores twice in cup final", "sport"),
        "s2": ("Cup final goes to penalties", "sport"),
        "s3": ("League coach sacked after defeat", "sport"),
    }
    for item_id, (title, tag) in titles.items():
        rec.learn_item(Item(item_id=item_id, title=title, tags=(tag,), published_at=0.0))
    return rec


def ids(recs: list) -> list[str]:  # type: ignore[type-arg]
    return [r.item_id for r in recs]


def test_the_worker_settings_build_the_stream_stack_following_the_protocol() -> None:
    rec = StreamRecommender(Settings().recommender)
    assert isinstance(rec, Recommender) and rec.name == "stream"


def test_new_user_gets_trending_and_first_click_steers(news: StreamRecommender) -> None:
    for n in range(5):
        news.learn_one(click(f"x{n}", "s2", ts=DAY + n))
    first = news.recommend("new", k=3, now=DAY + 10)
    assert first[0].item_id == "s2" and first[0].reason == "trending in sport"
    news.learn_one(click("new", "e1", ts=DAY + 20))
    after = news.recommend("new", k=2, now=DAY + 20)
    assert set(ids(after)) == {"e2", "e3"}


def test_new_item_enters_through_its_content(news: StreamRecommender) -> None:
    news.learn_one(click("u", "e1", ts=DAY))
    news.learn_one(click("u", "e2", ts=DAY + 1))
    news.learn_item(Item(item_id="e9", title="Inflation and interest rates surprise markets",
                         tags=("economy",), published_at=DAY + 2))
    recs = news.recommend("u", k=2, now=DAY + 3)
    assert "e9" in ids(recs)
    assert next(r.reason for r in recs if r.item_id == "e9") == \
        "new in economy, a topic you follow"


def test_clicked_and_read_items_are_never_recommended(news: StreamRecommender) -> None:
    news.learn_one(click("u", "e1", ts=DAY))
    news.learn_one(Interaction("r", "read", "u", "s1", ts=DAY + 1, dwell_seconds=30.0))
    assert not {"e1", "s1"} & set(ids(news.recommend("u", k=10, now=DAY + 2)))


def test_stale_news_leaves_the_pool_after_its_ttl() -> None:
    rec = StreamRecommender(ModelSettings(
        chinese_segmentation="bigrams", item_ttl_seconds=2 * DAY,
        housekeeping_interval_seconds=60.0))
    rec.learn_item(Item(item_id="old", title="Old story", published_at=0.5 * DAY))
    rec.learn_one(click("r", "old", ts=0.5 * DAY))  # news arrives as it is published
    rec.learn_item(Item(item_id="new", title="New story", published_at=3 * DAY))
    assert ids(rec.recommend("u", k=5, now=3 * DAY)) == ["new"]
    rec.learn_one(click("v", "new", ts=3 * DAY))
    rec.learn_one(click("w", "new", ts=3 * DAY + 120))  # housekeeping runs on the clock
    assert "old" not in rec.pool.catalog.index and "new" in rec.pool.catalog.index


def test_items_read_for_long_outlive_the_ttl_and_news_does_not() -> None:
    """The TTL stretches to as long as an item had lived by its last reader: a back catalogue
    and an evergreen piece stay through quiet weeks; a story read for a day still leaves."""
    rec = StreamRecommender(ModelSettings(
        chinese_segmentation="bigrams", item_ttl_seconds=2 * DAY,
        housekeeping_interval_seconds=60.0))
    rec.learn_item(Item(item_id="film", title="A film from long ago", published_at=DAY))
    start = 100 * DAY
    rec.learn_one(click("a", "film", ts=start))  # the stream starts 99 days after the film
    for name in ("guide", "story", "unread"):
        rec.learn_item(Item(item_id=name, title=f"The {name}", published_at=start))
    reads = [(1.5 * n, "guide") for n in range(11)]  # readers keep coming for 15 days
    reads += [(0.5, "story"), (16.0, "other"), (25.0, "other")]
    for n, (day, item) in enumerate(sorted(reads)):
        rec.learn_one(click(f"r{n}", item, ts=start + day * DAY))
    assert {"film", "guide"} <= set(rec.pool.catalog.index)
    assert not {"story", "unread"} & set(rec.pool.catalog.index)
    rec.learn_one(click("y", "other", ts=start + 31 * DAY))  # 16 days without a reader
    assert "guide" not in rec.pool.catalog.index and "film" in rec.pool.catalog.index


def test_forget_erases_the_user_and_their_contributions(news: StreamRecommender) -> None:
    news.learn_one(click("u", "e1", ts=DAY))
    news.learn_one(click("u", "e2", ts=DAY + 1))
    news.learn_one(Interaction("i", "impression", "u", "", ts=DAY + 2, item_ids=("s1", "s2")))
    assert news.stats.covisit.row(news.pool.catalog.index["e1"], DAY + 2)
    assert news.interests_if_changed("u", DAY + 2)
    news.forget_user(Forget("f", "u", ts=DAY + 3))
    assert "u" not in news.users and news.export_user("u") is None
    assert not news.learner.impressions and not news.users.signature.any()
    for item in ("e1", "e2"):
        idx = news.pool.catalog.index[item]
        assert news.stats.covisit.row(idx, DAY + 3) == {}
        assert abs(news.stats.popularity.value(idx, DAY + 3)) < 1e-9
        assert abs(news.stats.degree.value(idx, DAY + 3)) < 1e-9
    assert news.recommend("u", k=2, now=DAY + 3)[0].reason.startswith(("new", "popular"))


def test_every_item_has_a_reason(news: StreamRecommender) -> None:
    for n in range(3):
        news.learn_one(click(f"x{n}", "s3", ts=DAY + n))
        news.learn_one(click(f"x{n}", "e3", ts=DAY + n + 0.5))
    news.learn_one(click("u", "e3", ts=DAY + 5))
    reasons = {r.item_id: r.reason for r in news.recommend("u", k=5, now=DAY + 6)}
    assert all(reasons.values())
    assert reasons["s3"] == "because you read “Bank rates and inflation outlook”"  # co-read
    assert reasons["e1"].startswith("because you read")


def test_mmr_spreads_topics() -> None:
    def build(diversity: float) -> StreamRecommender:
        rec = StreamRecommender(ModelSettings(
            chinese_segmentation="bigrams", diversity=diversity, popularity_weight=0.0,
            fresh_boost=0.0))
        for i in range(6):
            rec.learn_item(Item(item_id=f"a{i}", title=f"rates inflation bank story{i}",
                                tags=("economy",), published_at=0.0))
        rec.learn_item(Item(item_id="b", title="rates of the cup final", tags=("sport",),
                            published_at=0.0))
        rec.learn_item(Item(item_id="seed", title="rates inflation bank", tags=("economy",),
                            published_at=0.0))
        rec.learn_one(click("u", "seed", ts=DAY))
        return rec

    assert "b" not in ids(build(0.0).recommend("u", k=3, now=DAY))
    assert "b" in ids(build(0.7).recommend("u", k=3, now=DAY))


def test_excluded_tags_and_items_are_never_recommended() -> None:
    rec = StreamRecommender(ModelSettings(
        chinese_segmentation="bigrams", excluded_tags=("Sponsored",), excluded_items=("x2",)))
    for i, tags in enumerate([("sponsored",), ("news",), ("news",)]):
        rec.learn_item(Item(item_id=f"x{i}", title=f"story {i}", tags=tags, published_at=0.0))
    assert ids(rec.recommend("u", k=3, now=1.0)) == ["x1"]


def test_interests_are_weighted_tags_published_only_on_change(news: StreamRecommender) -> None:
    news.learn_one(click("u", "e1", ts=DAY))
    news.learn_one(Interaction("r", "read", "u", "s1", ts=DAY + 1, dwell_seconds=60.0))
    interests = news.interests("u", DAY + 1)
    assert [tag for tag, _ in interests] == ["sport", "economy"]  # the long read weighs more
    assert abs(sum(w for _, w in interests) - 1.0) < 1e-6
    assert news.interests_if_changed("u", DAY + 1) == interests
    assert news.interests_if_changed("u", DAY + 1) is None
    news.learn_one(click("u", "s2", ts=DAY + 2))
    assert news.interests_if_changed("u", DAY + 2) is not None
    assert news.interests("nobody", DAY) == []


def test_full_state_round_trips_through_json(news: StreamRecommender) -> None:
    for n in range(4):
        news.learn_one(click(f"x{n}", "e1", ts=DAY + n))
        news.learn_one(click(f"x{n}", "s1", ts=DAY + n + 0.5))
    news.learn_one(click("u", "e1", ts=DAY + 9))
    news.learn_one(Interaction("i", "impression", "u", "", ts=DAY + 9, item_ids=("e2", "s2")))
    state = orjson.loads(orjson.dumps(news.export_state()))
    restored = StreamRecommender(ModelSettings(chinese_segmentation="bigrams", diversity=0.0))
    restored.import_state(state)
    for user in ("u", "x1", "someone"):
        assert news.recommend(user, k=5, now=DAY + 10) == \
            restored.recommend(user, k=5, now=DAY + 10)
    assert restored.export_user("u") == news.export_user("u")


def test_user_state_is_capped() -> None:
    rec = StreamRecommender(ModelSettings(
        chinese_segmentation="bigrams", user_cap=10, housekeeping_interval_seconds=1.0))
    rec.learn_item(Item(item_id="a", title="a story", published_at=0.0))
    for n in range(50):
        rec.learn_one(click(f"u{n}", "a", ts=float(n) * 2))
    assert len(rec.users) <= 11  # the cap, plus at most one user since the last sweep


@pytest.mark.parametrize("chinese", ["jieba", "bigrams"])
def test_chinese_reader_gets_chinese_articles_on_the_topic(chinese: str) -> None:
    rng = np.random.default_rng(0)
    vocab = {  # Chinese words are joined without spaces: the tokenizer must find them
        "zh-econ": ("央行", "加息", "通货膨胀", "股市", "利率", "投资者", "经济", "银行", "房贷"),
        "zh-sport": ("足球", "比赛", "球队", "冠军", "世界杯", "教练", "球迷", "进球", "联赛"),
        "en-econ": ("bank", "rates", "inflation", "stocks", "investors", "economy", "mortgage",
                    "growth", "prices"),
        "en-sport": ("football", "match", "team", "champions", "cup", "coach", "fans", "goal",
                     "league"),
    }
    rec = StreamRecommender(ModelSettings(chinese_segmentation=chinese,
                            popularity_weight=0.0, fresh_boost=0.0, diversity=0.0))
    for group, words in vocab.items():
        sep = "" if group.startswith("zh") else " "
        for i in range(8):
            title = sep.join(rng.choice(words, size=4, replace=False))
            body = sep.join(rng.choice(words, size=12))
            rec.learn_item(Item(item_id=f"{group}-{i}", title=title, body=body,
                                published_at=0.0, lang=group[:2]))
    for i in range(3):
        rec.learn_one(click("reader", f"zh-econ-{i}", ts=DAY + i))
    top = ids(rec.recommend("reader", k=5, now=DAY + 5))
    assert len(top) == 5 and all(i.startswith("zh-econ") for i in top)


def test_pending_lists_pack_exactly() -> None:
    rng = np.random.default_rng(1)
    features = rng.random((5, 8)).astype(np.float32)
    features[:, 2] = 0.0
    pending = Impression(np.array([3, 1, 4, 1, 5]), np.zeros(5, dtype=bool),
                          np.zeros(5, dtype=bool), 123.25, features)
    raw = pending.pack()
    # head 16, indexes int32, two flags, features as float16 (deflate adds its few bytes)
    assert len(raw) <= 16 + 5 * (4 + 2) + 5 * 8 * 2 + 25
    back = Impression.unpack(raw)
    assert back.ts == 123.25 and back.items.tolist() == [3, 1, 4, 1, 5]
    # features come back exactly as float16 holds them, as float32
    half = features.astype(np.float16).astype(np.float32)
    assert back.features is not None and back.features.dtype == np.float32
    assert np.array_equal(back.features, half)
    assert np.abs(back.features - features).max() <= 2**-11  # values in [0, 1)
    back.clicked[1] = back.labelled[0] = back.labelled[1] = True
    flagged = Impression.unpack(back.pack())  # packed again: the float16 features as they were
    assert flagged.clicked.tolist() == [False, True, False, False, False]
    assert flagged.labelled.tolist() == [True, True, False, False, False]
    assert flagged.features is not None and np.array_equal(flagged.features, half)
    bare = Impression(np.array([7]), np.ones(1, dtype=bool), np.ones(1, dtype=bool), 1.0, None)
    assert Impression.unpack(bare.pack()).features is None


def test_checkpoint_features_round_trip_as_float16() -> None:
    features = np.array([0.5, 0.25, 0.0, 1.0 / 3.0], dtype=np.float32)
    half = zlib.compress(features.astype(np.float16).tobytes())
    assert features_to_text(half).startswith("zlib16:")
    assert np.array_equal(features_from_text(features_to_text(half)),
                          features.astype(np.float16).astype(np.float32))
    with pytest.raises(ValueError):
        features_from_text("zlib:" + base64.b64encode(zlib.compress(features.tobytes())).decode())
