"""A forget event erases a user everywhere: the state table and its changelog, the published
list and profile (tombstones), the HTTP view, and the history the model kept."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import pytest

from stream.dev.broker import EmbeddedBroker
from tests.helpers import produce, read_topics, wait_metrics, worker_process, worker_settings
from tests.integration.test_worker_kafka import ITEMS, click_msg, item_msg

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def latest_by_key(records: list[Any]) -> dict[bytes, Any]:
    out: dict[bytes, Any] = {}
    for r in records:
        out[r.key] = r.value
    return out


def view(port: int, user: str) -> int:
    try:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/users/{user}/recommendations", timeout=5
        ) as resp:
            json.loads(resp.read())
            return int(resp.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


def test_forget_erases_the_user_everywhere(broker: EmbeddedBroker, tmp_path: Path) -> None:
    s = worker_settings(broker)
    t = s.topic_interactions
    state_topic = s.changelog("users")
    with worker_process(s, tmp_path):
        asyncio.run(produce(broker.bootstrap, [item_msg(s.topic_items, *it) for it in ITEMS]))
        wait_metrics(s.metrics_port,
                     lambda m: m.get("stream_catalog_items_learned_total", 0) >= len(ITEMS))
        asyncio.run(produce(broker.bootstrap, [click_msg(t, "c1", "alice", "e1"),
                                               click_msg(t, "c2", "bob", "s1")]))
        wait_metrics(s.metrics_port,
                     lambda m: m.get("stream_recommendations_published_total", 0) >= 2)
        assert view(s.web_port, "alice") == 200
        forget = {"event_id": "f1", "type": "forget", "user_id": "alice", "ts": time.time()}
        asyncio.run(produce(broker.bootstrap, [(t, b"alice", orjson.dumps(forget))]))
        wait_metrics(s.metrics_port,
                     lambda m: m.get("stream_events_consumed_total{type=forget}", 0) >= 1)
        assert view(s.web_port, "alice") == 404  # no list kept for her any more
        assert view(s.web_port, "bob") == 200

        def tombstoned(records: list[Any]) -> bool:
            latest = latest_by_key(records)
            return b"alice" in latest and latest[b"alice"] is None

        topics = {
            "state changelog": state_topic,
            "recommendations": s.topic_recommendations,
            "user profiles": s.topic_user_profiles,
        }
        found = {name: asyncio.run(read_topics(broker.bootstrap, [topic], s.partitions,
                                               tombstoned, timeout=30))
                 for name, topic in topics.items()}
        # she comes back: nothing of her old history is left, so e1 may be served again
        asyncio.run(produce(broker.bootstrap, [click_msg(t, "c3", "alice", "e2")]))
        recs = asyncio.run(read_topics(
            broker.bootstrap, [s.topic_recommendations], s.partitions,
            lambda r: (latest_by_key(r).get(b"alice") or b"").startswith(b"{")
            and r[-1].key == b"alice", timeout=30))
    for name, records in found.items():
        latest = latest_by_key(records)
        assert latest.get(b"alice", b"x") is None, f"{name}: not tombstoned"
        if name != "user profiles":
            assert latest.get(b"bob") is not None, f"{name}: bob was touched"
    again = orjson.loads(latest_by_key(recs)[b"alice"])
    assert "e1" in [i["item_id"] for i in again["items"]]
