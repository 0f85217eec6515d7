"""Table recovery reads a changelog to its end on Tansu too (ListOffsets there answers with
the last record batch's base offset plus one, a fetch's high watermark with the real end),
so the users changelog can be written by a batching producer: a restarted worker restores
every user from it."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from stream.agents.faust_fixes import _fetched_ends
from stream.dev.broker import EmbeddedBroker, free_port
from stream.dev.measure import scrape
from stream.dev.processes import stop_process
from stream.dev.simulate import Simulator
from stream.topics import TopicSpec, create_topics
from tests.helpers import produce, read_topics, start_worker, wait_metrics, worker_settings
from tests.integration.test_scale_out import click, published

pytestmark = [pytest.mark.integration]


async def _three_batches_of_ten(bootstrap: str, topic: str) -> None:
    await create_topics(bootstrap, [TopicSpec(topic, 2, compacted=True)])
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=50)
    await producer.start()
    try:
        for batch in range(3):
            for n in range(10):
                await producer.send(topic, b"v%d" % n, key=b"k%d" % (batch * 10 + n),
                                    partition=0)
            await producer.flush()
    finally:
        await producer.stop()


async def _list_offsets(bootstrap: str, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        return dict(await consumer.end_offsets(tps))
    finally:
        await consumer.stop()


def test_the_end_of_a_changelog_written_in_batches(broker: EmbeddedBroker) -> None:
    topic = f"ends-{uuid.uuid4().hex[:8]}"
    tps = [TopicPartition(topic, 0), TopicPartition(topic, 1)]

    async def scenario() -> tuple[dict[TopicPartition, int], dict[TopicPartition, int]]:
        await _three_batches_of_ten(broker.bootstrap, topic)
        listed = await _list_offsets(broker.bootstrap, tps)
        return listed, await _fetched_ends([broker.bootstrap], {}, 20, listed)

    listed, fetched = asyncio.run(scenario())
    assert fetched == {tps[0]: 30, tps[1]: 0}  # every record, and the empty partition as is
    # what Faust's recovery was given before: short of the last batch's last records on
    # Tansu (if a later Tansu answers right, this fix costs one fetch per recovery)
    assert listed[tps[0]] in (21, 30) and listed[tps[1]] == 0


def test_a_restarted_worker_restores_every_user_from_the_changelog(
        broker: EmbeddedBroker, tmp_path: Path) -> None:
    """Every user clicks once; the worker stops (committing those clicks) and another starts:
    only the changelog, written in batches, holds the users' history now."""
    users = [f"reader-{u}" for u in range(40)]
    settings = worker_settings(broker, partitions=4)
    sim = Simulator(n_items=40, seed=3)
    asyncio.run(produce(broker.bootstrap, [(settings.topic_items, e.key, e.value)
                                           for e in sim.catalogue(time.time())]))
    item_ids = [i.item_id for i in sim.items]
    first = {u: item_ids[i % 40] for i, u in enumerate(users)}
    second = {u: item_ids[(i + 7) % 40] for i, u in enumerate(users)}
    t = settings.topic_interactions

    def learned(port: int) -> None:
        wait_metrics(port, lambda m: m.get("stream_catalog_items_learned_total", 0) >= 40,
                     timeout=90)

    a = start_worker(settings, tmp_path, "a")
    try:
        learned(settings.metrics_port)
        asyncio.run(produce(broker.bootstrap, [click(t, u, first[u], 1) for u in users]))
        wait_metrics(settings.metrics_port, lambda m: published(m) >= len(users), timeout=60)
        time.sleep(1.0)  # the checkpoints on the broker, the batch acknowledged
    finally:
        stop_process(a)  # a clean stop commits what was acknowledged
    b_settings = settings.model_copy(update={"metrics_port": free_port(),
                                             "web_port": free_port()})
    b = start_worker(b_settings, tmp_path, "b")
    try:
        learned(b_settings.metrics_port)
        restarted_at = time.time()
        asyncio.run(produce(broker.bootstrap, [click(t, u, second[u], 2) for u in users]))

        def all_served(records: list[Any]) -> bool:
            return len({r.key for r in records if r.timestamp / 1000 >= restarted_at}) >= 40

        records = asyncio.run(read_topics(broker.bootstrap, [settings.topic_recommendations],
                                          settings.partitions, all_served, timeout=120))
        consumed = scrape(b_settings.metrics_port, ("topic",)).get(
            f"stream_events_consumed_total{{topic={t}}}", 0.0)
    finally:
        stop_process(b)
    # b had only the second clicks (the first were committed): the history below is the
    # changelog's
    assert consumed == len(users), (tmp_path / "b.log").read_text()[-4000:]
    latest = {r.key.decode(): orjson.loads(r.value) for r in records}
    for u in users:
        ids = [i["item_id"] for i in latest[u]["items"]]
        assert first[u] not in ids and second[u] not in ids, u
