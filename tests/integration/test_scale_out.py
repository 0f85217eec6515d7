"""Two workers in one consumer group share the partitions; kill one and the other takes
over its users with their state, from the changelog."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from stream.dev.broker import EmbeddedBroker, free_port
from stream.dev.processes import stop_process
from stream.dev.simulate import Simulator
from tests.helpers import produce, read_topics, start_worker, wait_metrics, worker_settings
from tests.integration.test_http_views import get

pytestmark = [pytest.mark.integration, pytest.mark.slow]

USERS = 40


def click(topic: str, user: str, item: str, n: int) -> tuple[str, bytes, bytes]:
    event = {"event_id": f"{user}-{n}", "type": "click", "user_id": user, "item_id": item,
             "ts": time.time()}
    return topic, user.encode(), orjson.dumps(event)


def published(metrics: dict[str, float]) -> float:
    return metrics.get("stream_recommendations_published_total", 0.0)


def test_two_workers_share_and_one_takes_over(broker: EmbeddedBroker, tmp_path: Path) -> None:
    a_settings = worker_settings(broker, partitions=4)
    b_settings = a_settings.model_copy(update={"metrics_port": free_port(),
                                               "web_port": free_port()})
    sim = Simulator(n_items=40, seed=3)
    items = [(a_settings.topic_items, e.key, e.value) for e in sim.catalogue(time.time())]
    asyncio.run(produce(broker.bootstrap, items))
    item_ids = [i.item_id for i in sim.items]
    users = [f"reader-{u}" for u in range(USERS)]
    first = {u: item_ids[i % 40] for i, u in enumerate(users)}
    second = {u: item_ids[(i + 7) % 40] for i, u in enumerate(users)}
    t = a_settings.topic_interactions
    a = start_worker(a_settings, tmp_path, "a")
    b = start_worker(b_settings, tmp_path, "b")
    try:
        for s in (a_settings, b_settings):
            wait_metrics(s.metrics_port, lambda m: m.get(
                "stream_catalog_items_learned_total", 0) >= 40, timeout=90)
        asyncio.run(produce(broker.bootstrap, [click(t, u, first[u], 1) for u in users]))
        ma = wait_metrics(a_settings.metrics_port, lambda m: published(m) > 0, timeout=60)
        mb = wait_metrics(b_settings.metrics_port,
                          lambda m: published(m) + published(ma) >= USERS, timeout=60)
        ma = wait_metrics(a_settings.metrics_port, lambda m: True)
        shares = (published(ma), published(mb))
        assert sum(shares) == USERS and min(shares) > 0, shares  # both own some users
        # item statistics: each worker saw only its users' clicks, both hold all of them
        for s in (a_settings, b_settings):
            wait_metrics(s.metrics_port, lambda m: m.get(
                "stream_item_facts_applied_total", 0) >= USERS, timeout=60)
        clicks_on = {i: sum(1 for u in users if first[u] == i) for i in item_ids}
        for item_id in item_ids:
            stats = []
            for s in (a_settings, b_settings):
                status, _, body = get(s.web_port, f"/items/{item_id}")
                assert status == 200, body
                stats.append(orjson.loads(body))
            for key in ("popularity", "degree", "clicked", "shown", "as_of"):
                assert stats[0][key] == pytest.approx(stats[1][key]), (item_id, key)
            assert dict(stats[0]["neighbors"]) == pytest.approx(dict(stats[1]["neighbors"]))
            # every click counted once (a click weighs 1; minutes of decay at most)
            assert stats[0]["popularity"] == pytest.approx(clicks_on[item_id], rel=1e-3)

        os.killpg(a.pid, signal.SIGKILL)
        killed_at = time.time()
        asyncio.run(produce(broker.bootstrap, [click(t, u, second[u], 2) for u in users]))

        def all_served_twice(records: list[Any]) -> bool:
            after = {r.key for r in records if r.timestamp / 1000.0 >= killed_at}
            return len(after) >= USERS

        records = asyncio.run(read_topics(broker.bootstrap, [a_settings.topic_recommendations],
                                          a_settings.partitions, all_served_twice, timeout=120))
    finally:
        stop_process(a)
        stop_process(b)
    latest: dict[str, Any] = {}
    after_kill: list[float] = []
    for r in records:
        latest[r.key.decode()] = orjson.loads(r.value)
        if r.timestamp / 1000.0 >= killed_at:
            after_kill.append(r.timestamp / 1000.0)
    served_again = {r.key.decode() for r in records if r.timestamp / 1000.0 >= killed_at}
    missing = sorted(set(users) - served_again)
    assert not missing, (missing, (tmp_path / "b.log").read_text()[-4000:])
    takeover = max(after_kill) - killed_at
    print(f"lists before the kill: worker A {shares[0]:.0f}, worker B {shares[1]:.0f}; "
          f"every user served again {takeover:.1f}s after worker A was killed")
    for u in users:
        ids = [i["item_id"] for i in latest[u]["items"]]
        assert len(ids) == 10
        # the history survived the take-over: neither click comes back
        assert first[u] not in ids and second[u] not in ids, u
