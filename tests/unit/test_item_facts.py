"""Item-level statistics shared through item facts: two workers that each own half the users
and apply every worker's facts in one order end with the same item statistics, equal to one
model that saw every event; a fact published twice (a batch reprocessed after a crash)
counts once; a forget on one worker takes the user's contributions away on both."""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest

from stream.events import parse_interaction
from stream.feed import FeedPipeline
from stream.messages import Outgoing, RawMessage
from stream.settings import Settings
from tests.pipelines import handle, learn_items, lone_worker

SETTINGS = Settings()
ITEMS = [(f"i{n}", f"Story {n} about {['rates', 'cup', 'vote', 'film'][n % 4]}",
          ["economy", "sport", "politics", "culture"][n % 4]) for n in range(24)]
STATS = ("popularity", "shown", "clicked", "degree", "first_read", "last_seen")


def pipeline() -> FeedPipeline:
    p = lone_worker(SETTINGS, clock=lambda: 5000.0)
    learn_items(p, [RawMessage(SETTINGS.topic_items, 0, n, i.encode(), orjson.dumps(
        {"item_id": i, "title": t, "tags": [tag], "published_at": 900}), 0.0)
        for n, (i, t, tag) in enumerate(ITEMS)])
    return p


def events(seed: int, n: int, impressions: bool) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for k in range(n):
        user = f"u{rng.randrange(12)}"
        kinds = ["click", "click", "read"] + (["impression"] if impressions else [])
        kind = rng.choice(kinds)
        e: dict[str, Any] = {"event_id": f"e{k}", "type": kind, "user_id": user,
                             "ts": 1000.0 + 7 * k}
        if kind == "impression":
            e["item_ids"] = rng.sample([i for i, _, _ in ITEMS], 4)
        else:
            e["item_id"] = ITEMS[min(int(rng.paretovariate(1.2)) - 1, 23)][0]
            if kind == "read":
                e["dwell_seconds"] = rng.uniform(5, 90)
        out.append(e)
    return out


def partition_of(user: str) -> int:
    return int(user[1:]) % 2


def facts_of(out: list[Outgoing]) -> list[RawMessage]:
    return [RawMessage(o.topic, 0, 0, o.key, o.value or b"", 0.0) for o in out
            if o.topic == SETTINGS.topic_item_facts]


def item_stats(p: FeedPipeline) -> dict[str, dict[str, Any]]:
    model: Any = p.recommender
    out = {}
    for item_id, _, _ in ITEMS:
        state = model.export_item(item_id)
        out[item_id] = {k: state[k] for k in STATS} | {"neighbors": dict(state["neighbors"])}
    return out


def run_two_workers(evs: list[dict[str, Any]], batch: int = 10
                    ) -> tuple[FeedPipeline, FeedPipeline, list[RawMessage], list[dict[str, Any]]]:
    """Workers A (partition 0) and B (partition 1) take turns with a batch each; the facts
    log is what they published, in order; the applied order of events is returned too."""
    workers = [pipeline(), pipeline()]
    log: list[RawMessage] = []
    order: list[dict[str, Any]] = []
    offsets = [0, 0]
    queues: list[list[dict[str, Any]]] = [[], []]
    for e in evs:
        queues[partition_of(e["user_id"])].append(e)
    while any(queues):
        for part, worker in enumerate(workers):
            chunk, queues[part] = queues[part][:batch], queues[part][batch:]
            msgs = []
            for e in chunk:
                msgs.append(RawMessage(SETTINGS.topic_interactions, part, offsets[part],
                                       e["user_id"].encode(), orjson.dumps(e), 0.0))
                offsets[part] += 1
            out = worker.handle_interactions(msgs)
            worker.write_checkpoints()
            log += facts_of(out)
            order += chunk
    for worker in workers:
        worker.learn_facts(log)
    return workers[0], workers[1], log, order


def reference(order: list[dict[str, Any]]) -> FeedPipeline:
    ref = pipeline()
    handle(ref, [RawMessage(SETTINGS.topic_interactions, 0, n, None, orjson.dumps(e), 0.0)
                 for n, e in enumerate(order)])
    return ref


def assert_close(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert a.keys() == b.keys()
    for item in a:
        for key in STATS:
            if a[item][key] is None or b[item][key] is None:
                assert a[item][key] == b[item][key], (item, key)
            else:
                assert a[item][key] == pytest.approx(b[item][key], rel=1e-9), (item, key)
        assert a[item]["neighbors"].keys() == b[item]["neighbors"].keys(), item
        for other, w in a[item]["neighbors"].items():
            assert w == pytest.approx(b[item]["neighbors"][other], rel=1e-5), (item, other)


def test_two_workers_share_item_statistics_equal_to_one_model_of_every_event() -> None:
    evs = events(1, 400, impressions=False)
    a, b, log, order = run_two_workers(evs)
    assert log, "the workers published facts"
    assert a.metrics.registry.get_sample_value("stream_item_facts_applied_total") == len(evs)
    stats = item_stats(a)
    assert stats["i0"]["popularity"] > 0 and stats["i0"]["neighbors"]
    assert_close(stats, item_stats(b))
    assert_close(stats, item_stats(reference(order)))
    # each worker keeps only its own users
    model_a: Any = a.recommender
    assert {partition_of(u) for u in model_a.users.index} == {0}


def test_ranker_and_click_through_rates_are_the_same_on_every_worker() -> None:
    a, b, _, _ = run_two_workers(events(2, 600, impressions=True))
    model_a: Any = a.recommender
    model_b: Any = b.recommender
    assert model_a.stats.ranker.n_positive > 5 and model_a.stats.ranker.n_negative > 5
    assert (model_b.stats.ranker.n_positive, model_b.stats.ranker.n_negative) == (
        model_a.stats.ranker.n_positive, model_a.stats.ranker.n_negative)
    assert model_a.stats.ranker.coefficients() == pytest.approx(model_b.stats.ranker.coefficients())
    assert_close(item_stats(a), item_stats(b))


def test_facts_published_twice_count_once() -> None:
    a, _b, log, _ = run_two_workers(events(3, 200, impressions=False))
    before = item_stats(a)
    assert a.learn_facts(log) == 0  # the whole log again: a worker reprocessed it all
    assert item_stats(a) == before


def test_forget_on_one_worker_removes_the_contributions_on_both() -> None:
    evs = events(4, 300, impressions=False)
    a, b, _log, order = run_two_workers(evs)
    before = item_stats(b)
    forget = {"event_id": "f1", "type": "forget", "user_id": "u2", "ts": 4990.0}
    out = a.handle_interactions([RawMessage(SETTINGS.topic_interactions, 0, 10_000, b"u2",
                                            orjson.dumps(forget), 0.0)])
    a.write_checkpoints()
    more = facts_of(out)
    assert more
    a.learn_facts(more)
    b.learn_facts(more)
    ref = reference(order)
    handle(ref, [RawMessage(SETTINGS.topic_interactions, 0, 10_000, b"u2",
                            orjson.dumps(forget), 0.0)])
    assert_close(item_stats(a), item_stats(b))
    assert_close(item_stats(a), item_stats(ref))
    after = item_stats(b)  # B never had u2, and still lost what u2 had added
    assert any(after[i]["popularity"] < before[i]["popularity"] - 1e-6 for i in after)


def interactions(part: int, evs: list[dict[str, Any]], first: int) -> list[RawMessage]:
    return [RawMessage(SETTINGS.topic_interactions, part, first + n, e["user_id"].encode(),
                       orjson.dumps(e), 0.0) for n, e in enumerate(evs)]


def replayed(p: FeedPipeline, outcome: str) -> float:
    return p.metrics.registry.get_sample_value(
        "stream_item_facts_replayed_total", {"outcome": outcome}) or 0.0


def test_a_batch_publishes_one_record_of_its_facts_summed_per_item() -> None:
    p = pipeline()
    evs = [e for e in events(5, 120, impressions=True) if partition_of(e["user_id"]) == 0]
    out = p.handle_interactions(interactions(0, evs, 0))
    (record,) = [orjson.loads(m.value or b"") for m in facts_of(out)]
    assert (record["partition"], record["first"], record["last"]) == (0, 0, len(evs) - 1)
    assert record["count"] == len(evs)
    (summed,) = record["variants"].values()
    assert len(summed["items"]) == len(set(summed["items"]))  # each item named once
    assert len(summed["popularity"][0]) == len(set(summed["popularity"][0]))


def test_a_worker_that_takes_over_publishes_no_facts_already_applied() -> None:
    """Worker C takes partition 0 over (A stopped before checkpointing) once it has read the
    facts topic: the events it processes again publish nothing, the ones after are
    published, and every statistic counts each event once."""
    evs = events(6, 300, impressions=True)
    a, _b, log, order = run_two_workers(evs)
    mine = [e for e in evs if partition_of(e["user_id"]) == 0]
    c = pipeline()
    c.learn_facts(log)  # caught up before the takeover
    before = item_stats(c)
    assert not facts_of(c.handle_interactions(interactions(0, mine, 0)))
    assert replayed(c, "not_published") > 0
    assert item_stats(c) == before
    more = [e for e in events(7, 80, impressions=False) if partition_of(e["user_id"]) == 0]
    out = c.handle_interactions(interactions(0, more, len(mine)))
    (record,) = [orjson.loads(m.value or b"") for m in facts_of(out)]
    assert record["first"] == len(mine)
    for worker in (a, c):
        worker.learn_facts(facts_of(out))
    assert_close(item_stats(c), item_stats(a))
    assert_close(item_stats(a), item_stats(reference(order + more)))


def test_a_record_partly_applied_already_is_applied_whole_and_counted() -> None:
    p, q = pipeline(), pipeline()
    evs = [e for e in events(8, 60, impressions=False) if partition_of(e["user_id"]) == 0]
    first = p.handle_interactions(interactions(0, evs[:10], 0))
    whole = q.handle_interactions(interactions(0, evs, 0))  # a worker cut off from the group
    applier = pipeline()
    applier.learn_facts(facts_of(first))
    assert applier.learn_facts(facts_of(whole)) == len(evs)
    assert replayed(applier, "overlapping") == 1
    assert applier.learn_facts(facts_of(whole)) == 0  # the same record again: skipped
    assert replayed(applier, "skipped") == 1


def test_records_of_one_entry_per_event_are_still_applied() -> None:
    """Records written before facts were summed per item (an older worker's, still in the
    topic) are applied event by event past the last offset applied."""
    evs = [e for e in events(9, 80, impressions=True) if partition_of(e["user_id"]) == 0]
    source = pipeline()
    (variant,) = source.recommenders
    model: Any = source.recommenders[variant]
    entries = []  # the old layout: [offset, {variant: the event's facts}] per event
    for offset, e in enumerate(evs):
        model.learn_one_sharing(parse_interaction(orjson.dumps(e), source.limits, 5000.0))
        entries.append([offset, {variant: model.drain_facts()}])
    old = RawMessage(SETTINGS.topic_item_facts, 0, 0, b"0",
                     orjson.dumps({"partition": 0, "events": entries}), 0.0)
    legacy = pipeline()
    assert legacy.learn_facts([old]) == len(evs)
    new = pipeline()
    new.learn_facts(facts_of(pipeline().handle_interactions(interactions(0, evs, 0))))
    assert_close(item_stats(legacy), item_stats(new))
    assert legacy.learn_facts([old]) == 0  # past the last offset applied only
