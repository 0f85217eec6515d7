"""Bad input through a real broker: the worker keeps going, every bad message lands in the
right dead-letter topic with its reason, every valid event in the same stream is processed."""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

import orjson
import pytest

from stream.dev.broker import EmbeddedBroker
from stream.dev.corpus import bad_interactions
from tests.helpers import produce, read_topics, wait_metrics, worker_process, worker_settings
from tests.integration.test_worker_kafka import ITEMS, item_msg

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_corpus_and_random_garbage_are_dead_lettered(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    settings = worker_settings(broker)
    topic = settings.topic_interactions
    now = time.time()
    rng = random.Random(1234)
    bad = [(name, raw, reason) for name, raw, reason in bad_interactions(
        settings.max_event_bytes, now)]
    # seeded random garbage: arbitrary bytes never parse as a JSON object
    for i in range(100):
        raw = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 80)))
        bad.append((f"garbage_{i}", b"\x00" + raw, "not_json"))
    messages: list[tuple[str, bytes | None, bytes]] = [
        item_msg(settings.topic_items, *it) for it in ITEMS
    ]
    valid_users: set[str] = set()
    for i, (name, raw, _) in enumerate(bad):
        messages.append((topic, f"bad:{name}".encode(), raw))
        user = f"u{i % 40}"
        valid_users.add(user)
        event = {"event_id": f"ok-{i}", "type": "click", "user_id": user,
                 "item_id": ITEMS[i % len(ITEMS)][0], "ts": now}
        messages.append((topic, user.encode(), orjson.dumps(event)))

    with worker_process(settings, tmp_path) as proc:
        asyncio.run(produce(broker.bootstrap, messages))
        metrics = wait_metrics(
            settings.metrics_port,
            lambda m: m.get("stream_events_consumed_total{type=click}", 0) >= len(bad)
            and m.get("stream_events_consumed_total{type=invalid}", 0) >= len(bad),
            timeout=120,
        )
        dlq = asyncio.run(read_topics(broker.bootstrap, [settings.dlq(topic)],
                                      settings.partitions, lambda r: len(r) >= len(bad)))
        recs = asyncio.run(read_topics(
            broker.bootstrap, [settings.topic_recommendations], settings.partitions,
            lambda r: {x.key.decode() for x in r} >= valid_users))
        assert proc.poll() is None, "the worker stopped"

    assert metrics["stream_events_consumed_total{type=click}"] == len(bad)
    assert metrics["stream_events_consumed_total{type=invalid}"] == len(bad)
    assert len(dlq) == len(bad)
    got = {r.key.decode(): r for r in dlq}
    for name, raw, reason in bad:
        record = got[f"bad:{name}"]
        assert dict(record.headers)["stream-dlq-reason"].decode() == reason, name
        assert record.value == raw
    assert {r.key.decode() for r in recs} >= valid_users
    print(f"bad inputs tried: {len(bad)}, all dead-lettered; valid events: {len(bad)}, all "
          "processed")
