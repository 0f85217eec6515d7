"""User state checkpoints: duplicates are not applied twice, a new worker restores exactly
what the last one checkpointed, and forget erases the checkpoint too."""

from __future__ import annotations

import logging
import zlib
from typing import Any

import orjson
import pytest

from stream.errors import CorruptCheckpoint
from stream.feed import FeedPipeline, decode_checkpoint, encode_checkpoint
from stream.feed.dedupe import event_hash
from stream.messages import RawMessage
from stream.settings import Settings
from tests.pipelines import handle, learn_items, lone_worker, with_knobs


def pipeline(store: dict[bytes, bytes]) -> FeedPipeline:
    return lone_worker(Settings(dedupe_window=8), clock=lambda: 2000.0, user_store=store)


def capped(store: dict[bytes, bytes], cap: int, now: float) -> FeedPipeline:
    """A pipeline with the catalogue learned, whose model holds at most ``cap`` users and
    sweeps every 5 s of event time."""
    s = with_knobs(Settings(dedupe_window=8), user_cap=cap, housekeeping_interval_seconds=5.0)
    p = lone_worker(s, clock=lambda: now, user_store=store)
    items(p)
    return p


def raw(p: FeedPipeline, topic: str, value: dict[str, object], offset: int) -> RawMessage:
    return RawMessage(topic, 0, offset, b"k", orjson.dumps(value), 1999.0)


def items(p: FeedPipeline) -> None:
    learn_items(p, [raw(p, p.settings.topic_items, {"item_id": f"i{n}", "title": f"Title {n}",
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


def test_a_duplicate_within_one_batch_is_not_applied_twice() -> None:
    p = pipeline({})
    items(p)
    batch = clicks(p, "u1", range(3))
    out = handle(p, [*batch, batch[1], *clicks(p, "u1", range(3, 4)), batch[0]])
    assert p.user_checkpoint("u1")["applied"] == 4
    registry = p.metrics.registry
    topic = p.settings.topic_interactions
    assert registry.get_sample_value("stream_events_duplicate_total", {"topic": topic}) == 2
    assert registry.get_sample_value("stream_events_consumed_total",
                                     {"topic": topic, "type": "duplicate"}) == 2
    assert registry.get_sample_value("stream_events_consumed_total",
                                     {"topic": topic, "type": "click"}) == 4
    assert [o.topic for o in out].count(p.settings.topic_recommendations) == 1


def test_a_new_worker_restores_the_checkpoint() -> None:
    store: dict[bytes, bytes] = {}
    first = pipeline(store)
    items(first)
    handle(first, clicks(first, "u1", range(6)) + clicks(first, "u2", range(3)))
    saved = decode_checkpoint(store[b"u1"])
    assert saved["applied"] == 6 and saved["events"][-1] == event_hash("u1-5")
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
    assert p.recommender.export_user("u1") is None
    # the partition comes back: the user is restored with the other worker's events
    handle(p, clicks(p, "u1", range(4, 6)))
    state = p.user_checkpoint("u1")
    assert state["applied"] == 6
    assert state["models"]["default"]["items"] == [f"i{n}" for n in range(6)]


def test_users_beyond_the_cap_leave_every_structure_and_their_checkpoint() -> None:
    store: dict[bytes, bytes] = {}
    p = capped(store, 3, 2000.0)
    # ten users, one after another, a minute apart: the least recent leave as others come
    for n in range(10):
        handle(p, [raw(p, p.settings.topic_interactions,
                                   {"event_id": f"e{n}", "type": "click", "user_id": f"u{n}",
                                    "item_id": f"i{n}", "ts": 1000.0 + 60 * n}, n)])
    model: Any = p.recommender
    model_users = set(model.users.index)
    assert len(model_users) <= 4  # the cap, plus the user who arrived since housekeeping
    assert set(p.applied) == model_users
    assert {k.decode() for k in store} == model_users
    assert "u9" in model_users and "u0" not in model_users
    evicted = p.metrics.registry.get_sample_value("stream_users_evicted_total")
    assert evicted == 10 - len(model_users)


def test_the_dedupe_window_holds_the_last_events_only() -> None:
    s = Settings(dedupe_window=3)
    p = lone_worker(s, clock=lambda: 2000.0, user_store={})
    items(p)
    handle(p, clicks(p, "u1", range(6)))
    events, applied = p.applied.window("u1")  # type: ignore[misc]
    assert events == [event_hash(f"u1-{n}") for n in (3, 4, 5)] and applied == 6
    # ids in the window are duplicates; one that has left it is applied again (as before:
    # the window is how far back a redelivery is recognised)
    handle(p, clicks(p, "u1", range(4, 6)) + clicks(p, "u1", range(0, 1)))
    assert p.user_checkpoint("u1")["applied"] == 7
    assert p.metrics.registry.get_sample_value(
        "stream_events_duplicate_total", {"topic": s.topic_interactions}) == 2


def impression(p: FeedPipeline, user: str, n: int, offset: int, ts: float = 1100.0
               ) -> RawMessage:
    return raw(p, p.settings.topic_interactions,
               {"event_id": f"{user}-imp{n}", "type": "impression", "user_id": user,
                "item_ids": [f"i{(n + k) % 12}" for k in range(5)], "ts": ts + n}, offset)


def test_checkpoints_round_trip_exactly_with_a_pending_list() -> None:
    store: dict[bytes, bytes] = {}
    first = pipeline(store)
    items(first)
    handle(first, [*clicks(first, "u1", range(3)), impression(first, "u1", 1, 3)])
    # a click on the list's third position: labels and the click flag change
    handle(first, [raw(first, first.settings.topic_interactions,
                       {"event_id": "u1-c", "type": "click", "user_id": "u1",
                        "item_id": "i3", "ts": 1102.0}, 4)])
    saved = decode_checkpoint(store[b"u1"])
    pending = saved["models"]["default"]["impression"]
    assert pending["clicked"] == [0, 0, 1, 0, 0] and pending["features"].startswith("zlib16:")
    assert saved == first.user_checkpoint("u1")
    second = pipeline(store)
    items(second)
    handle(second, clicks(second, "u1", range(2, 3)))  # a redelivery: restores, skipped
    assert second.user_checkpoint("u1") == saved
    assert second.recommender.recommend("u1", 5, 2000.0) == \
        first.recommender.recommend("u1", 5, 2000.0)


def test_evictions_keep_every_per_user_structure_bounded() -> None:
    store: dict[bytes, bytes] = {}
    p = capped(store, 3, 9000.0)
    model: Any = p.recommender
    offset = 0
    for n in range(40):  # forty users, one after another, each with a list and clicks
        user = f"u{n}"
        batch = [impression(p, user, 0, offset, ts=1000.0 + 60 * n)] + [
            raw(p, p.settings.topic_interactions, {"event_id": f"{user}-{k}", "type": "click",
                                          "user_id": user, "item_id": f"i{(n + k) % 12}",
                                          "ts": 1001.0 + 60 * n + k}, offset + 1 + k)
            for k in range(6)]
        offset += len(batch)
        handle(p, batch)
    held = set(model.users.index)
    assert 3 <= len(held) <= 4  # the cap, plus the user who arrived since housekeeping
    assert set(p.applied) == held
    assert set(p.applied.users_in(range(p.settings.partitions))) == held
    assert {k.decode() for k in store} == held
    assert len(model.learner.impressions) <= len(held)
    assert len(p.last_lists) <= len(held)
    # rows and slots are reused: the arrays never grew past a handful of users
    for rings in (p.applied._rings, model.users._rings):
        assert rings.rows <= 5
        assert len(rings) == len(held)


def test_stored_checkpoints_take_their_length_not_the_encoder_buffer() -> None:
    import tracemalloc

    store: dict[bytes, bytes] = {}
    p = pipeline(store)
    items(p)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        p.user_checkpoint("warm-up")
        for n in range(200):
            p._dirty.add(f"nobody{n}")
        p.write_checkpoints()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(store) == 200
    held = sum(len(k) + len(v) + 2 * 40 for k, v in store.items())  # + object headers
    # orjson's own bytes keep a 4 KiB buffer each: 200 of them would be 800 KiB
    assert grown < 2 * held + 64 * 1024, (grown, held)


def test_a_user_evicted_and_back_within_one_batch_is_held_afresh() -> None:
    store: dict[bytes, bytes] = {}
    p = capped(store, 2, 9000.0)
    s = p.settings
    model: Any = p.recommender
    handle(p, clicks(p, "old", range(2)))  # at 1000 and 1001: the least recent
    handle(p, [raw(p, s.topic_interactions, {"event_id": f"{u}-0", "type": "click",
                                             "user_id": u, "item_id": "i5", "ts": 1500.0},
                   10 + n) for n, u in enumerate(("a", "b"))])
    # in one batch: a sweep at 2000 evicts "old" (three users, cap two), who then reads
    handle(p, [raw(p, s.topic_interactions, {"event_id": "c-0", "type": "click",
                                             "user_id": "c", "item_id": "i6", "ts": 2000.0}, 20),
               raw(p, s.topic_interactions, {"event_id": "old-9", "type": "click",
                                             "user_id": "old", "item_id": "i7", "ts": 2001.0},
                   21)])
    assert "old" in model.users and "old" in p.applied and b"old" in store
    assert decode_checkpoint(store[b"old"])["models"]["default"]["items"] == ["i7"]  # afresh
    assert p.last_lists.get("old") is not None
    assert set(p.applied) == set(model.users.index) == {k.decode() for k in store}


def test_checkpoints_are_stored_deflated_and_decode_exactly() -> None:
    store: dict[bytes, bytes] = {}
    p = pipeline(store)
    items(p)
    handle(p, [*clicks(p, "u1", range(3)), impression(p, "u1", 1, 3)])
    stored = store[b"u1"]
    plain = orjson.dumps(p.user_checkpoint("u1"))
    assert stored[:1] != b"{" and len(stored) < len(plain)
    assert decode_checkpoint(stored) == p.user_checkpoint("u1") == orjson.loads(plain)
    assert decode_checkpoint(encode_checkpoint(p.user_checkpoint("u1"))) == \
        p.user_checkpoint("u1")


@pytest.mark.parametrize("value", [
    b"\x00\x01garbage",
    encode_checkpoint({"events": [], "applied": 0, "models": {}})[:-6],  # truncated
    zlib.compress(b"not json"),
    zlib.compress(b"[1, 2]"),
    b'{"events": [], "applied": 0',  # plain JSON, cut short
    b'{"events": "e1", "applied": 0, "models": {}}',
    orjson.dumps({"user_id": "u1", "applied": 3, "models": {}}),
])
def test_a_corrupt_checkpoint_is_logged_and_the_user_starts_afresh(
    value: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(CorruptCheckpoint):
        decode_checkpoint(value)
    store: dict[bytes, bytes] = {b"u1-secret": value}
    p = pipeline(store)
    items(p)
    with caplog.at_level(logging.WARNING):
        out = p.handle_interactions(clicks(p, "u1-secret", range(2)))
    p.write_checkpoints()
    assert not [o for o in out if o.topic.endswith(".dlq")]  # applied, not dead-lettered
    assert p.user_checkpoint("u1-secret")["applied"] == 2
    assert decode_checkpoint(store[b"u1-secret"])["applied"] == 2  # a readable one replaces it
    warned = [r for r in caplog.records if "unreadable checkpoint" in r.getMessage()]
    assert len(warned) == 1 and "u1-secret" not in warned[0].getMessage()
