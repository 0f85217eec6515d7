"""User state checkpoints: duplicates are not applied twice, a new worker restores exactly
what the last one checkpointed, and forget erases the checkpoint too."""

from __future__ import annotations

import orjson
from prometheus_client import CollectorRegistry

from stream.metrics import Metrics
from stream.pipeline import FeedPipeline, RawMessage
from stream.recommender import build_recommender
from stream.settings import Settings


def pipeline(store: dict[bytes, bytes]) -> FeedPipeline:
    s = Settings(dedupe_window=8)
    return FeedPipeline(s, build_recommender(s), Metrics(CollectorRegistry()),
                        clock=lambda: 2000.0, user_store=store)


def handle(p: FeedPipeline, batch: list[RawMessage]) -> None:
    """A batch as the worker runs it: learn, (publish,) then write the checkpoints."""
    p.handle_interactions(batch)
    p.write_checkpoints()


def raw(p: FeedPipeline, topic: str, value: dict[str, object], offset: int) -> RawMessage:
    return RawMessage(topic, 0, offset, b"k", orjson.dumps(value), 1999.0)


def items(p: FeedPipeline) -> None:
    p.handle_items([raw(p, p.settings.topic_items, {"item_id": f"i{n}", "title": f"Title {n}",
                                                     "tags": [f"t{n % 3}"], "published_at": 1},
                        n) for n in range(12)])


def clicks(p: FeedPipeline, user: str, ids: range) -> list[RawMessage]:
    return [raw(p, p.settings.topic_interactions,
                {"event_id": f"{user}-{n}", "type": "click", "user_id": user,
                 "item_id": f"i{n % 12}", "ts": 1000.0 + n}, n) for n in ids]


def test_redelivered_events_are_not_applied_twice() -> None:
    store: dict[bytes, bytes] = {}
    p = pipeline(store)
    items(p)
    handle(p, clicks(p, "u1", range(5)))
    once = p.user_checkpoint("u1")
    # a crash replays the last three events, then new ones arrive
    handle(p, clicks(p, "u1", range(2, 5)))
    assert p.user_checkpoint("u1") == once
    registry = p.metrics.registry
    assert registry.get_sample_value("stream_events_duplicate_total",
                                     {"topic": p.settings.topic_interactions}) == 3
    handle(p, clicks(p, "u1", range(5, 7)))
    assert p.user_checkpoint("u1")["applied"] == 7


def test_a_new_worker_restores_the_checkpoint() -> None:
    store: dict[bytes, bytes] = {}
    first = pipeline(store)
    items(first)
    handle(first, clicks(first, "u1", range(6)) + clicks(first, "u2", range(3)))
    saved = orjson.loads(store[b"u1"])
    assert saved["applied"] == 6 and saved["events"][-1] == "u1-5"
    assert saved["models"]["default"]["items"] == [f"i{n}" for n in range(6)]

    second = pipeline(store)  # a restarted worker: models empty, the store recovered
    items(second)
    # the redelivered tail is skipped, the new event is applied on top of the restored state
    handle(second, clicks(second, "u1", range(4, 7)))
    state = second.user_checkpoint("u1")
    assert state["applied"] == 7
    assert state["models"]["default"]["items"] == [f"i{n}" for n in range(7)]
    recs = {r.item_id for r in second.recommender.recommend("u1", 12, 2000.0)}
    assert not recs & {f"i{n}" for n in range(7)}  # restored history still filters seen items


def test_forget_removes_the_checkpoint() -> None:
    store: dict[bytes, bytes] = {}
    p = pipeline(store)
    items(p)
    handle(p, clicks(p, "u1", range(3)) + clicks(p, "u2", range(2)))
    assert b"u1" in store
    handle(p, [raw(p, p.settings.topic_interactions,
                               {"event_id": "f", "type": "forget", "user_id": "u1", "ts": 1500},
                               9)])
    assert b"u1" not in store and b"u2" in store
    assert "u1" not in p.applied and p.last_lists.get("u1") is None
    assert p.user_checkpoint("u1")["models"]["default"] is None


def test_released_partitions_are_restored_from_checkpoints_not_memory() -> None:
    store: dict[bytes, bytes] = {}
    p = pipeline(store)
    items(p)
    handle(p, clicks(p, "u1", range(3)))
    # another worker owned the partition for a while and applied two more events
    other = pipeline(store)
    items(other)
    handle(other, clicks(other, "u1", range(3, 5)))
    assert p.release_partitions({0}) == 1
    assert "u1" not in p.applied
    assert p.recommender.export_user("u1") is None  # type: ignore[attr-defined]
    # the partition comes back: the user is restored with the other worker's events
    handle(p, clicks(p, "u1", range(4, 6)))
    state = p.user_checkpoint("u1")
    assert state["applied"] == 6
    assert state["models"]["default"]["items"] == [f"i{n}" for n in range(6)]


def test_users_beyond_the_cap_leave_every_structure_and_their_checkpoint() -> None:
    store: dict[bytes, bytes] = {}
    s = Settings(dedupe_window=8, user_cap=3)
    p = FeedPipeline(s, build_recommender(s), Metrics(CollectorRegistry()),
                     clock=lambda: 2000.0, user_store=store)
    p.recommender.housekeeping_interval = 5.0  # type: ignore[attr-defined]
    items(p)
    # ten users, one after another, a minute apart: the least recent leave as others come
    for n in range(10):
        handle(p, [raw(p, p.settings.topic_interactions,
                                   {"event_id": f"e{n}", "type": "click", "user_id": f"u{n}",
                                    "item_id": f"i{n}", "ts": 1000.0 + 60 * n}, n)])
    model_users = set(p.recommender.users.index)  # type: ignore[attr-defined]
    assert len(model_users) <= 4  # the cap, plus the user who arrived since housekeeping
    assert set(p.applied) == model_users
    assert {k.decode() for k in store} == model_users
    assert "u9" in model_users and "u0" not in model_users
    evicted = p.metrics.registry.get_sample_value("stream_users_evicted_total")
    assert evicted == 10 - len(model_users)
