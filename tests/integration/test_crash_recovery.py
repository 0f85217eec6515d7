"""SIGKILL the worker at random moments while events flow, restart it, and compare the
recovered user state with a reference replay of the same events: no update lost, none
applied twice (the dedupe window removes what at-least-once redelivers). An item is retracted
half way: it changes no user state and no item statistics, and no list published once the
worker had time to apply it holds the item, whichever worker process published it."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from stream.dev.broker import EmbeddedBroker
from stream.dev.processes import stop_process
from stream.feed import decode_checkpoint
from stream.messages import RawMessage
from stream.settings import Settings
from tests.helpers import produce, read_topics, start_worker, wait_metrics, worker_settings
from tests.integration.test_http_views import get
from tests.integration.test_worker_kafka import ITEMS, item_msg
from tests.pipelines import handle, learn_items, lone_worker

pytestmark = [pytest.mark.integration, pytest.mark.slow]

USERS = 30
EVENTS_PER_USER = 40


def events(now: float) -> list[dict[str, Any]]:
    rng = random.Random(99)
    out = []
    for n in range(EVENTS_PER_USER):
        for u in range(USERS):
            kind = rng.choice(["click", "click", "read", "impression"])
            event: dict[str, Any] = {"event_id": f"u{u}-{n}", "type": kind, "user_id": f"u{u}",
                                     "ts": now + n}
            if kind == "impression":
                event["item_ids"] = rng.sample([i[0] for i in ITEMS], 3)
            else:
                event["item_id"] = rng.choice(ITEMS)[0]
                if kind == "read":
                    event["dwell_seconds"] = rng.uniform(5, 100)
            out.append(event)
    return out


def log_order(broker: EmbeddedBroker, settings: Settings, n: int) -> list[dict[str, Any]]:
    """The interactions as the log holds them (the order within each partition is what
    every consumer sees; the producer may retry a batch and reorder what it sent)."""
    records = asyncio.run(read_topics(broker.bootstrap, [settings.topic_interactions],
                                      settings.partitions, lambda r: len(r) >= n))
    records.sort(key=lambda r: (r.partition, r.offset))
    return [orjson.loads(r.value) for r in records]


#: item statistics compared with the reference (the ranker is not: its training examples
#: carry features taken from item statistics, which a worker holds a few ms later than a
#: single in-process model would)
ITEM_STATS = ("popularity", "degree", "clicked", "shown", "first_read", "last_seen", "as_of")


def item_stats(state: dict[str, Any]) -> dict[str, Any]:
    return {k: state[k] for k in ITEM_STATS} | {"neighbors": dict(state["neighbors"])}


def reference(settings: Settings, items: list[tuple[str, bytes, bytes]],
              evs: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The same events through the same pipeline once, in-process, in log order: the users'
    checkpoints and the items' statistics."""
    store: dict[bytes, bytes] = {}
    p = lone_worker(settings, clock=time.time, user_store=store)
    learn_items(p, [RawMessage(settings.topic_items, 0, i, None, value, 0.0)
                    for i, (_, _, value) in enumerate(items)])
    handle(p, [RawMessage(settings.topic_interactions, 0, i, None, orjson.dumps(e), 0.0)
               for i, e in enumerate(evs)])
    model: Any = p.recommender
    stats = {i[0]: item_stats(model.export_item(i[0])) for i in ITEMS}
    return {k.decode(): decode_checkpoint(v) for k, v in store.items()}, stats


def recovered(
    broker: EmbeddedBroker, settings: Settings, done: Any, timeout: float = 120.0
) -> tuple[dict[str, Any], bool]:
    """The latest checkpoint of every user in the changelog, once ``done(latest)`` holds or
    ``timeout`` passed; and whether it held."""
    topic = f"{settings.app_id}-users-changelog"
    latest: dict[str, Any] = {}

    def until(records: list[Any]) -> bool:
        latest.clear()
        for r in records:
            latest[r.key.decode()] = decode_checkpoint(r.value) if r.value is not None else None
        return bool(done(latest))

    asyncio.run(read_topics(broker.bootstrap, [topic], settings.partitions, until,
                            timeout=timeout))
    return latest, bool(done(latest))


def log_tail(path: Path, lines: int = 25) -> str:
    """The last lines a worker logged before it was told to stop (its shutdown says little)."""
    logged = path.read_text(errors="replace").splitlines()
    stop = next((i for i, line in enumerate(logged) if "Signal received" in line), len(logged))
    return "\n".join(logged[max(stop - lines, 0):stop])


@pytest.mark.parametrize("seed", [1, 2])
def test_sigkill_loses_nothing_and_doubles_nothing(
    broker: EmbeddedBroker, tmp_path: Path, seed: int
) -> None:
    # commits every 30 s: a killed worker leaves everything it did uncommitted, so the next
    # one is sure to get events redelivered that were applied already
    settings = worker_settings(broker, dedupe_window=256, commit_interval_seconds=30.0)
    now = time.time()
    evs = events(now)
    items = [item_msg(settings.topic_items, *it) for it in ITEMS]
    asyncio.run(produce(broker.bootstrap, items))
    rng = random.Random(seed)
    chunks = [evs[i:i + 100] for i in range(0, len(evs), 100)]
    kill_after = sorted(rng.sample(range(1, len(chunks) - 1), 3))
    worker = start_worker(settings, tmp_path, "worker-0")
    kills = 0
    retracted, retracted_at = ITEMS[0][0], float("inf")
    try:
        for i, chunk in enumerate(chunks):
            if i == len(chunks) // 2:
                asyncio.run(produce(broker.bootstrap, [
                    (settings.topic_items, retracted.encode(), None)]))
                retracted_at = time.time()
            asyncio.run(produce(broker.bootstrap, [
                (settings.topic_interactions, e["user_id"].encode(), orjson.dumps(e))
                for e in chunk]))
            time.sleep(rng.uniform(0.05, 0.4))
            if i in kill_after:
                # kill it while it works: once it has applied events, at a random moment
                wait_metrics(settings.metrics_port, lambda m: sum(
                    v for k, v in m.items() if k.startswith("stream_events_consumed_total{type=")
                    and "item" not in k) > 0, timeout=60)
                time.sleep(rng.uniform(0.0, 0.5))
                os.killpg(worker.pid, signal.SIGKILL)  # no goodbye: no commit, no flush
                worker.wait(10)
                kills += 1
                worker = start_worker(settings, tmp_path, f"worker-{kills}")
        got, caught_up = recovered(broker, settings, lambda latest: len(latest) == USERS and all(
            v is not None and v["applied"] >= EVENTS_PER_USER for v in latest.values()))
        # redelivered events the last worker skipped (what the dead ones skipped died with them)
        # the item statistics the last worker rebuilt from every worker's facts
        last = wait_metrics(settings.metrics_port, lambda m: m.get(
            "stream_item_facts_applied_total", 0) >= len(evs))
        skipped = last.get("stream_events_duplicate_total", 0.0)
        lists = asyncio.run(read_topics(broker.bootstrap, [settings.topic_recommendations],
                                        settings.partitions, lambda r: False, timeout=5))
        held = {}
        for item_id, *_ in ITEMS:
            status, _, body = get(settings.web_port, f"/items/{item_id}")
            assert status == 200, body
            held[item_id] = item_stats(orjson.loads(body))
    finally:
        stop_process(worker)
    # told apart in the failure: a worker still at work (lag > 0) from state really lost
    diagnosis = (
        f"caught up: {caught_up}; last worker's lag: "
        f"{ {k: v for k, v in last.items() if k.startswith('stream_consumer_lag_messages')} }"
        f"; its log ends:\n" + log_tail(tmp_path / f"worker-{kills}.log"))
    logged = log_order(broker, settings, len(evs))
    assert sorted(e["event_id"] for e in logged) == sorted(e["event_id"] for e in evs)
    want, want_items = reference(settings, items, logged)
    lost = sum(max(want[u]["applied"] - (got.get(u) or {"applied": 0})["applied"], 0)
               for u in want)
    doubled = sum(max((got.get(u) or {"applied": 0})["applied"] - want[u]["applied"], 0)
                  for u in want)
    print(f"seed {seed}: {kills} SIGKILLs, {len(evs)} events, lost {lost}, doubled {doubled}, "
          f"redelivered and skipped by the last worker {skipped:.0f}")
    assert kills == 3
    assert skipped > 0  # the dedupe window was exercised
    # every worker process read the retraction (the last one again at its start), and none
    # published the item once it had had the time to apply it
    assert last.get("stream_retractions_total", 0) >= 1
    late = [r for r in lists if r.timestamp / 1000.0 > retracted_at + 2.0]
    assert late and not [r.key for r in late if retracted in {
        i["item_id"] for i in orjson.loads(r.value)["items"]}]
    # every event's item facts applied exactly once: the same statistics as one replay
    facts = last.get("stream_item_facts_applied_total")
    assert facts == len(evs), f"item facts applied for {facts} events; {diagnosis}"
    for item_id, stats in want_items.items():
        for key in ITEM_STATS:
            assert held[item_id][key] == pytest.approx(stats[key], rel=1e-9, nan_ok=True), (
                item_id, key)
        assert held[item_id]["neighbors"] == pytest.approx(stats["neighbors"], rel=1e-5), item_id
    short = {u: (want[u]["applied"], (got.get(u) or {"applied": 0})["applied"]) for u in want
             if (got.get(u) or {"applied": 0})["applied"] != want[u]["applied"]}
    assert (lost, doubled) == (0, 0), f"users (want, got): {short}; {diagnosis}"
    reordered = []
    for user, state in want.items():
        mine, ref = got[user]["models"]["default"], state["models"]["default"]
        # the user's own state must be the reference's; what the pending impression derived
        # from item-level statistics ("features") is not user state and is not checkpointed
        for pending in (mine.get("impression"), ref.get("impression")):
            if pending:
                pending.pop("features", None)
        # every event applied exactly once, whatever else happened
        assert sorted(got[user]["events"]) == sorted(state["events"]), user
        history = sorted(zip(mine["items"], mine["ts"], mine["weights"], strict=True))
        assert history == sorted(zip(ref["items"], ref["ts"], ref["weights"], strict=True)), user
        if got[user]["events"] != state["events"]:
            reordered.append(user)
            continue
        diff = {k: (mine.get(k), v) for k, v in ref.items() if mine.get(k) != v}
        assert not diff, (user, diff)
    # every user's events applied in their log order (a worker that skipped ahead after its
    # recovery and came back applied some out of order: the Faust race faust_fixes.py closes)
    assert not reordered, (f"events applied out of log order for {len(reordered)} of {USERS} "
                           f"users (e.g. {reordered[0] if reordered else ''}); logs in {tmp_path}")
