"""The worker on a real broker: plain Kafka clients in, recommendations and dead letters out."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from stream.dev.broker import EmbeddedBroker
from tests.helpers import produce, read_topics, wait_metrics, worker_process, worker_settings

pytestmark = [pytest.mark.integration]

ITEMS = [
    ("e1", "Central bank raises interest rates again", ["economy", "rates"]),
    ("e2", "Interest rates rise as inflation bites", ["economy", "rates"]),
    ("e3", "Stock markets fall on interest rate fears", ["economy", "markets"]),
    ("s1", "Home side wins the cup final on penalties", ["sport", "football"]),
    ("s2", "Teenage striker scores twice in the derby", ["sport", "football"]),
    ("s3", "Marathon runners break a world record", ["sport", "athletics"]),
]


def item_msg(topic: str, item_id: str, title: str, tags: list[str]) -> tuple[str, bytes, bytes]:
    value = {"item_id": item_id, "title": title, "tags": tags, "published_at": time.time()}
    return topic, item_id.encode(), orjson.dumps(value)


def click_msg(topic: str, event_id: str, user: str, item: str, kind: str = "click",
              **extra: Any) -> tuple[str, bytes, bytes]:
    value = {"event_id": event_id, "type": kind, "user_id": user, "item_id": item,
             "ts": time.time(), **extra}
    return topic, user.encode(), orjson.dumps(value)


def test_click_is_reflected_in_the_next_list(broker: EmbeddedBroker, tmp_path: Path) -> None:
    settings = worker_settings(broker)
    items = [item_msg(settings.topic_items, *it) for it in ITEMS]
    with worker_process(settings, tmp_path):
        asyncio.run(produce(broker.bootstrap, items))
        wait_metrics(settings.metrics_port,
                     lambda m: m.get("stream_catalog_items_learned_total", 0) >= len(ITEMS))
        # the reader first clicks sport, then economy: economy items must move up
        asyncio.run(produce(broker.bootstrap,
                            [click_msg(settings.topic_interactions, "c1", "alice", "s1")]))
        first = asyncio.run(read_topics(broker.bootstrap, [settings.topic_recommendations],
                                        settings.partitions, lambda r: len(r) >= 1))
        read_ts = time.time()
        asyncio.run(produce(broker.bootstrap,
                            [click_msg(settings.topic_interactions, "c2", "alice", "e1",
                                       ts=read_ts - 1.0),
                             click_msg(settings.topic_interactions, "c3", "alice", "e1",
                                       kind="read", dwell_seconds=90.0, ts=read_ts)]))
        # the click and the read may be taken in one batch or in two: wait for the list
        # that reflects the read (its event_ts), not merely for a second list
        records = asyncio.run(read_topics(
            broker.bootstrap, [settings.topic_recommendations], settings.partitions,
            lambda r: any(orjson.loads(x.value)["event_ts"] == read_ts for x in r)))
    assert len(first) == 1
    assert first[0].key == b"alice"
    before = [i["item_id"] for i in orjson.loads(first[0].value)["items"]]
    after_rec = orjson.loads(records[-1].value)
    after = [i["item_id"] for i in after_rec["items"]]
    assert "s1" not in before and "s1" not in after  # a clicked item never comes back
    assert "e1" not in after
    assert after_rec["user_id"] == "alice"
    assert after_rec["emitted_ts"] >= after_rec["event_ts"]
    assert all(i["reason"] for i in after_rec["items"])
    # after the economy click, the other economy articles lead the list and moved up
    assert set(after[:2]) == {"e2", "e3"}
    assert after.index("e2") < before.index("e2")
    assert after.index("e3") < before.index("e3")


MALFORMED: list[tuple[bytes, str]] = [
    (b"{not json", "not_json"),
    (b"\xff\xfe\x00garbage", "not_json"),
    (b"", "empty"),
    (b'["a", "list"]', "not_object"),
    (b'{"event_id": "m1", "type": "click", "item_id": "e1", "ts": 1}', "missing_field"),
    (b'{"event_id": "m2", "type": "click", "user_id": "", "item_id": "e1", "ts": 1}', "empty_id"),
    (b'{"event_id": "m3", "type": "like", "user_id": "u", "item_id": "e1", "ts": 1}',
     "unknown_type"),
    (b'{"event_id": "m4", "type": "click", "user_id": "u", "item_id": "e1", "ts": "now"}',
     "wrong_type"),
    (b'{"event_id": "m5", "type": "click", "user_id": "u", "item_id": "e1", "ts": -1}',
     "bad_value"),
    (b'{"event_id": "m6", "type": "click", "user_id": 42, "item_id": "e1", "ts": 1}',
     "wrong_type"),
    (b'{"event_id": "m7", "type": "click", "user_id": "u", "item_id": "e1", "ts": NaN}',
     "not_json"),
    (b'{"event_id": "m8", "type": "click", "user_id": "u", "item_id": "e1", "ts": 1, "x": "'
     + b"y" * 70000 + b'"}', "too_large"),
]


def test_malformed_events_go_to_the_dead_letter_topic(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    settings = worker_settings(broker)
    topic = settings.topic_interactions
    valid_users = [f"reader-{i}" for i in range(8)]
    messages: list[tuple[str, bytes | None, bytes]] = [
        item_msg(settings.topic_items, *it) for it in ITEMS
    ]
    # bad items too: every input topic has its dead-letter topic
    bad_item = b'{"item_id": "x", "title": 5, "published_at": 1}'
    messages.append((settings.topic_items, b"bad", bad_item))
    for i, user in enumerate(valid_users):
        messages.append(click_msg(topic, f"ok-{i}", user, ITEMS[i % len(ITEMS)][0]))
        bad, _ = MALFORMED[i % len(MALFORMED)]
        messages.append((topic, f"bad-{i}".encode(), bad))
    for i in range(len(valid_users), len(MALFORMED)):
        messages.append((topic, f"bad-{i}".encode(), MALFORMED[i][0]))
    asyncio.run(produce(broker.bootstrap, messages))

    with worker_process(settings, tmp_path):
        metrics = wait_metrics(
            settings.metrics_port,
            lambda m: m.get("stream_recommendations_published_total", 0) >= len(valid_users)
            and sum(v for k, v in m.items()
                    if k.startswith("stream_events_dead_lettered_total")) >= len(MALFORMED) + 1,
        )
        dlq = asyncio.run(read_topics(
            broker.bootstrap, [settings.dlq(topic), settings.dlq(settings.topic_items)],
            settings.partitions, lambda r: len(r) >= len(MALFORMED) + 1))
        recs = asyncio.run(read_topics(broker.bootstrap, [settings.topic_recommendations],
                                       settings.partitions,
                                       lambda r: len(r) >= len(valid_users)))

    by_key = {r.key: r for r in dlq}
    assert len(dlq) == len(MALFORMED) + 1
    for i, (raw, reason) in enumerate(MALFORMED):
        record = by_key[f"bad-{i}".encode()]
        headers = dict(record.headers)
        assert headers["stream-dlq-reason"].decode() == reason, (i, headers)
        assert record.value == raw  # the original bytes, untouched
        assert headers["stream-dlq-topic"].decode() == topic
        assert 0 <= int(headers["stream-dlq-partition"]) < settings.partitions
        assert int(headers["stream-dlq-offset"]) >= 0
        assert headers["stream-dlq-detail"]
    item_dlq = dict(by_key[b"bad"].headers)
    assert item_dlq["stream-dlq-reason"] == b"wrong_type"
    assert item_dlq["stream-dlq-topic"].decode() == settings.topic_items
    # every valid event was processed: one list per valid click, for each user
    assert sorted({r.key.decode() for r in recs}) == sorted(valid_users)
    assert metrics["stream_events_consumed_total{type=click}"] == len(valid_users)
    assert metrics["stream_events_consumed_total{type=invalid}"] == len(MALFORMED) + 1
