"""The pure pipeline the agents call: dead letters, one list per user per batch, forget."""

from __future__ import annotations

import orjson
import pytest
from prometheus_client import CollectorRegistry

from stream.feed import FeedPipeline
from stream.feed.quality import score_click
from stream.messages import RawMessage
from tests.pipelines import handle, learn_items, lone_worker


def make_pipeline() -> tuple[FeedPipeline, CollectorRegistry]:
    registry = CollectorRegistry()
    return lone_worker(registry=registry), registry


def msg(topic: str, value: bytes, key: bytes = b"k", offset: int = 0) -> RawMessage:
    return RawMessage(topic=topic, partition=1, offset=offset, key=key, value=value,
                      timestamp=999.5)


def items(p: FeedPipeline) -> None:
    batch = [
        msg(p.settings.topic_items, orjson.dumps({"item_id": f"i{n}", "title": title,
                                                   "tags": [tag], "published_at": 900}))
        for n, (title, tag) in enumerate([("Rates rise", "economy"), ("Rates fall", "economy"),
                                          ("Cup final", "sport"), ("Derby win", "sport")])
    ]
    assert learn_items(p, batch) == []


def click(p: FeedPipeline, user: str, item: str, n: int, kind: str = "click") -> RawMessage:
    return msg(p.settings.topic_interactions, orjson.dumps(
        {"event_id": f"e{n}", "type": kind, "user_id": user, "item_id": item, "ts": 999.0 + n}),
        key=user.encode(), offset=n)


def test_one_list_per_touched_user_after_the_whole_batch() -> None:
    p, registry = make_pipeline()
    items(p)
    out = handle(p, [click(p, "u1", "i0", 1), click(p, "u2", "i2", 2),
                                 click(p, "u1", "i1", 3, "read"),
                                 click(p, "u3", "i3", 4, "impression")])
    recs = [o for o in out if o.topic == p.settings.topic_recommendations]
    assert len(recs) == 2  # one per user with a click or read, however many events
    profiles = {o.key: orjson.loads(o.value or b"") for o in out
                if o.topic == p.settings.topic_user_profiles}
    assert set(profiles) == {b"u1", b"u2"}  # their interests changed: published
    assert profiles[b"u1"]["interests"][0]["topic"] == "economy"
    lists = {o.key: orjson.loads(o.value or b"") for o in recs}
    assert set(lists) == {b"u1", b"u2"}  # impressions alone publish nothing
    u1 = lists[b"u1"]
    assert u1["event_ts"] == 1002.0 and u1["emitted_ts"] == 1000.0 and u1["model"]
    assert {i["item_id"] for i in u1["items"]} == {"i2", "i3"}  # read and clicked are gone
    assert registry.get_sample_value("stream_recommendations_published_total") == 2
    assert registry.get_sample_value("stream_event_to_recommendation_latency_seconds_count") == 2
    assert registry.get_sample_value(
        "stream_events_consumed_total",
        {"topic": p.settings.topic_interactions, "type": "impression"}) == 1


def test_bad_messages_are_dead_lettered_and_the_batch_goes_on() -> None:
    p, registry = make_pipeline()
    items(p)
    bad = msg(p.settings.topic_interactions, b"{oops", key=b"u9", offset=41)
    out = handle(p, [bad, click(p, "u1", "i0", 1)])
    dlq, rec = (o for o in out if o.topic not in (p.settings.topic_user_profiles,
                                                  p.settings.topic_item_facts))
    assert dlq.topic == p.settings.topic_interactions + ".dlq"
    assert dlq.key == b"u9" and dlq.value == b"{oops"
    headers = dict(dlq.headers)
    assert headers["stream-dlq-reason"] == b"not_json"
    assert headers["stream-dlq-offset"] == b"41" and headers["stream-dlq-partition"] == b"1"
    assert headers["stream-dlq-topic"] == p.settings.topic_interactions.encode()
    assert rec.key == b"u1"
    assert registry.get_sample_value(
        "stream_events_dead_lettered_total",
        {"topic": p.settings.topic_interactions, "reason": "not_json"}) == 1


def test_a_model_failure_is_dead_lettered_not_raised() -> None:
    p, _ = make_pipeline()

    def broken(event: object) -> None:
        raise RuntimeError("model bug")

    p.recommender.learn_one_sharing = broken  # type: ignore[method-assign]
    out = handle(p, [click(p, "u1", "i0", 1)])
    assert len(out) == 1 and dict(out[0].headers)["stream-dlq-reason"] == b"processing_error"


def test_forget_publishes_tombstones_and_erases_the_user() -> None:
    p, _ = make_pipeline()
    items(p)
    handle(p, [click(p, "u1", "i0", 1)])
    forget = msg(p.settings.topic_interactions, orjson.dumps(
        {"event_id": "f", "type": "forget", "user_id": "u1", "ts": 999.9}), key=b"u1")
    out = handle(p, [click(p, "u1", "i1", 2), forget])
    # (the item facts go first: the click's, and the forget's taking back both reads)
    assert [(o.topic, o.key, o.value) for o in out
            if o.topic != p.settings.topic_item_facts] == [
        (p.settings.topic_recommendations, b"u1", None),
        (p.settings.topic_user_profiles, b"u1", None),
    ]
    # a forgotten user is a cold-start user again: nothing they clicked is excluded any more
    recs = p.recommender.recommend("u1", 10, 1000.0)
    assert {r.item_id for r in recs} == {"i0", "i1", "i2", "i3"}


def test_clicks_are_scored_against_the_list_last_published() -> None:
    p, registry = make_pipeline()
    items(p)
    catalogue = [f"i{n}" for n in range(4)]
    handle(p, [click(p, "u1", "i0", 1)])  # publishes the first list
    expected = []
    for n in range(2, 6):
        found = p.last_lists.ids("u1", catalogue)
        assert found is not None
        last = [i for i in found if i is not None]
        assert len(last) == len(found) >= 1  # every id found in the catalogue
        clicked = last[1] if n % 2 == 0 else "i0"  # the list's second item, or one not in it
        expected.append(score_click(last, clicked, p.settings.top_k))
        handle(p, [click(p, "u1", clicked, n)])  # scored, then a new list

    def sample(name: str) -> float:
        return registry.get_sample_value(name, {"variant": "default"}) or 0.0

    assert [o.rank for o in expected] == [2, None, 2, None]
    assert sample("stream_quality_clicks_total") == 4
    assert sample("stream_quality_hits_total") == 2
    assert sample("stream_quality_reciprocal_rank_total") == pytest.approx(1.0)
    assert sample("stream_quality_ndcg_total") == pytest.approx(sum(o.ndcg for o in expected))
