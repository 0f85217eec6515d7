"""Retractions and rules through the feed pipeline, as the worker's readers and agents call
it: what is dead-lettered, which lists become due again, what they hold, what is counted."""

from __future__ import annotations

from typing import Any

import orjson
from prometheus_client import CollectorRegistry

from stream.feed import FeedPipeline
from stream.messages import Outgoing, RawMessage
from stream.metrics import Metrics
from stream.models import StreamRecommender
from stream.settings import Settings
from tests.pipelines import handle, learn_items, lone_worker

TAGS = {"e0": "economy", "e1": "economy", "e2": "economy", "e3": "economy",
        "s0": "sport", "s1": "sport", "s2": "sport", "s3": "sport"}


def raw(topic: str, key: bytes | None, value: bytes | None, offset: int = 0,
        ts: float = 999.5) -> RawMessage:
    return RawMessage(topic, 0, offset, key, value, ts)


def item_value(item_id: str, **extra: Any) -> bytes:
    return orjson.dumps({"item_id": item_id, "title": f"Story {item_id}",
                         "tags": [TAGS.get(item_id, "news")], "published_at": 900, **extra})


def setup(settings: Settings | None = None) -> tuple[FeedPipeline, CollectorRegistry]:
    registry = CollectorRegistry()
    p = lone_worker(settings, registry=registry)
    topic = p.settings.topic_items
    assert learn_items(p, [raw(topic, i.encode(), item_value(i), n)
                           for n, i in enumerate(TAGS)]) == []
    return p, registry


def click(p: FeedPipeline, user: str, item: str, n: int) -> RawMessage:
    return raw(p.settings.topic_interactions, user.encode(), orjson.dumps(
        {"event_id": f"{user}-{n}", "type": "click", "user_id": user, "item_id": item,
         "ts": 999.0}), offset=n)


def lists_of(p: FeedPipeline, out: list[Outgoing]) -> dict[str, dict[str, Any]]:
    return {(o.key or b"").decode(): orjson.loads(o.value or b"") for o in out
            if o.topic == p.settings.topic_recommendations}


def item_ids(found: dict[str, Any]) -> list[str]:
    return [i["item_id"] for i in found["items"]]


def published(p: FeedPipeline, *users: str) -> dict[str, list[str]]:
    """Each user clicks once; returns the lists published to them."""
    out = handle(p, [click(p, u, "e0" if n % 2 else "s0", n) for n, u in enumerate(users)])
    return {u: item_ids(v) for u, v in lists_of(p, out).items()}


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


def test_a_retraction_publishes_again_every_list_that_held_the_item() -> None:
    p, registry = setup(Settings(top_k=4))
    before = published(p, "u0", "u1", "u2", "u3")
    target = before["u1"][0]
    holders = {u for u, ids in before.items() if target in ids}
    assert holders
    tombstone = raw(p.settings.topic_items, target.encode(), None, ts=1234.5)
    assert p.handle_items([tombstone]) == []  # a retraction, not a dead letter
    assert sample(registry, "stream_events_consumed_total", topic=p.settings.topic_items,
                  type="withdrawal") == 1
    p.learn_catalog([tombstone])
    assert p.editorial.due == len(holders)
    again = lists_of(p, p.editorial.drain())
    assert set(again) == holders and p.editorial.drain() == []
    for found in again.values():
        assert target not in item_ids(found) and len(found["items"]) == 4
        assert found["event_ts"] == 1234.5  # the retraction's time
    assert p.last_lists.holders([target]) == []
    assert sample(registry, "stream_retractions_total") == 1
    assert sample(registry, "stream_lists_republished_total", cause="retraction") == len(holders)
    # every later list leaves it out, until an item event without a withdrawal
    assert all(target not in ids for ids in published(p, "u0", "u1", "u5").values())
    p.learn_catalog([raw(p.settings.topic_items, target.encode(), item_value(target))])
    assert target in [r.item_id for r in p.recommender.recommend("u9", 8, 1000.0)]


def test_withdrawn_true_is_a_retraction_and_a_keyless_tombstone_a_dead_letter() -> None:
    p, _ = setup()
    target = published(p, "u0")["u0"][0]
    withdrawn = raw(p.settings.topic_items, None, orjson.dumps(
        {"item_id": target, "withdrawn": True}))
    keyless = raw(p.settings.topic_items, None, None, offset=1)
    dead = p.handle_items([withdrawn, keyless])
    assert [(o.topic, dict(o.headers)["stream-dlq-reason"]) for o in dead] == [
        (p.settings.dlq(p.settings.topic_items), b"empty")]
    p.learn_catalog([withdrawn, keyless])
    assert target not in item_ids(lists_of(p, p.editorial.drain())["u0"])


def test_a_retraction_of_an_item_nobody_was_given_publishes_nothing() -> None:
    p, _ = setup(Settings(top_k=2))
    lists = published(p, "u0")
    spare = next(i for i in TAGS if i not in lists["u0"])
    p.learn_catalog([raw(p.settings.topic_items, spare.encode(), None),
                     raw(p.settings.topic_items, b"never-seen", None)])
    assert p.editorial.due == 0 and p.editorial.drain() == []


def test_a_user_let_go_before_the_drain_is_not_published_again() -> None:
    p, _ = setup()
    target = published(p, "u0")["u0"][0]
    p.learn_catalog([raw(p.settings.topic_items, target.encode(), None)])
    p.release_partitions({0})  # another worker's now: it publishes theirs
    assert p.editorial.drain() == []


def rule(p: FeedPipeline, rule_id: str, value: dict[str, Any] | None, offset: int = 0
         ) -> RawMessage:
    return raw(p.settings.topic_rules, rule_id.encode(),
               None if value is None else orjson.dumps(value), offset)


def test_bad_rules_are_dead_lettered_with_the_reason() -> None:
    p, registry = setup()
    batch = [rule(p, "ok", {"action": "block", "tag": "sport"}),
             rule(p, "gone", None, 1),
             rule(p, "bad", {"action": "pin", "item_id": "e1"}, 2),
             raw(p.settings.topic_rules, None, b"{}", 3)]
    dead = p.editorial.validate_rules(batch)
    assert [dict(o.headers)["stream-dlq-reason"] for o in dead] == [b"missing_field"] * 2
    assert {o.topic for o in dead} == {p.settings.dlq(p.settings.topic_rules)}
    assert sample(registry, "stream_events_dead_lettered_total", topic=p.settings.topic_rules,
                  reason="missing_field") == 2
    assert p.editorial.learn_rules(batch) == 2  # the valid ones; dead letters are skipped
    assert [r["rule_id"] for r in p.editorial.describe(1000.0)] == ["ok"]


def test_a_tag_block_publishes_again_and_a_tombstone_lifts_it() -> None:
    p, registry = setup(Settings(top_k=6))
    before = published(p, "u0", "u1")
    assert all(any(TAGS[i] == "sport" for i in ids) for ids in before.values())
    p.editorial.learn_rules([rule(p, "no-sport", {"action": "block", "tag": "Sport"})])
    again = lists_of(p, p.editorial.drain())
    assert set(again) == {"u0", "u1"}
    assert all(TAGS[i] != "sport" for found in again.values() for i in item_ids(found))
    assert sample(registry, "stream_lists_republished_total", cause="rule") == 2
    assert sample(registry, "stream_rules_active", kind="block_tag") == 1
    p.editorial.learn_rules([rule(p, "no-sport", None, 1)])
    assert sample(registry, "stream_rules_active", kind="block_tag") == 0
    assert any(TAGS[i] == "sport" for i in published(p, "u2")["u2"])


def test_pins_are_flagged_and_clicks_on_them_counted_apart() -> None:
    p, registry = setup(Settings(top_k=4))
    p.editorial.learn_rules([rule(p, "pick", {"action": "pin", "item_id": "e3",
                                              "expires_at": 2000.0, "position": 2})])
    assert p.editorial.active(1000.0)["pin"] == 1 and p.editorial.due == 0
    found = lists_of(p, handle(p, [click(p, "u0", "s0", 1)]))["u0"]
    assert found["items"][1] == {"item_id": "e3", "score": found["items"][1]["score"],
                                 "reason": "editor's pick", "pinned": True}
    assert all("pinned" not in i for n, i in enumerate(found["items"]) if n != 1)
    handle(p, [click(p, "u0", "e3", 2)])  # a click on the pinned slot: the editor's
    assert sample(registry, "stream_quality_pinned_clicks_total", variant="default") == 1
    assert sample(registry, "stream_quality_clicks_total", variant="default") == 0
    ranked = item_ids(lists_of(p, handle(p, [click(p, "u1", "s0", 3)]))["u1"])[0]
    handle(p, [click(p, "u1", ranked, 4)])  # a click on a ranked slot: the model's
    assert sample(registry, "stream_quality_hits_total", variant="default") == 1


def test_a_rule_for_a_variant_reaches_only_that_variants_model() -> None:
    settings = Settings(variants={"a": 0.5, "b": 0.5}, top_k=3)
    registry = CollectorRegistry()
    models = {v: StreamRecommender(s) for v, s in settings.variant_models().items()}
    p = FeedPipeline(settings, dict(models), Metrics(registry), clock=lambda: 1000.0)
    learn_items(p, [raw(settings.topic_items, i.encode(), item_value(i), n)
                    for n, i in enumerate(TAGS)])
    p.editorial.learn_rules([rule(p, "r", {"action": "pin", "item_id": "s3",
                                           "expires_at": 2000.0, "variant": "b"})])
    users = {v: next(u for u in (f"u{n}" for n in range(100)) if p.variant_of(u) == v)
             for v in ("a", "b")}
    lists = published(p, *users.values())
    assert lists[users["b"]][0] == "s3" and lists[users["a"]][0] != "s3"


def test_the_retraction_index_is_bounded_by_the_last_lists_capacity() -> None:
    p, _ = setup(Settings(last_lists_capacity=16, top_k=8))
    published(p, *(f"u{n}" for n in range(40)))
    assert len(p.last_lists) <= 16
    assert len(p.last_lists.holders(list(TAGS))) <= 16
