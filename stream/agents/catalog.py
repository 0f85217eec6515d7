"""Every worker reads the whole items topic: the catalogue is item-level state that all
workers need, whichever users' partitions they own.

A plain Kafka consumer without a consumer group, assigned every partition of the items topic
and started from the beginning (the topic is compacted: the latest version of each item),
feeds the models of this worker. Validation and dead letters stay with the group's items
agent, so a bad item is dead-lettered once, not once per worker.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from stream.pipeline import FeedPipeline, RawMessage
from stream.settings import Settings

__all__ = ["CatalogReader"]

log = logging.getLogger(__name__)


class CatalogReader:
    """Follows every partition of the items topic into the pipeline's models."""

    def __init__(self, settings: Settings, pipeline: FeedPipeline) -> None:
        self.settings = settings
        self.pipeline = pipeline
        #: set once everything that was in the topic at start has been learned
        self.caught_up = asyncio.Event()
        self.learned = 0

    async def run(self, should_stop: Any) -> None:
        """Read until ``should_stop()`` is true."""
        s = self.settings
        consumer = AIOKafkaConsumer(
            bootstrap_servers=s.bootstrap_servers,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=s.fetch_max_wait_ms,
            **s.kafka_client_options(),
        )
        await consumer.start()
        try:
            partitions = [TopicPartition(s.topic_items, p) for p in range(s.partitions)]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            end = await consumer.end_offsets(partitions)
            while not should_stop():
                batches = await consumer.getmany(timeout_ms=200, max_records=s.batch_max)
                raw = [
                    RawMessage(m.topic, m.partition, m.offset, m.key, m.value, m.timestamp / 1000.0)
                    for messages in batches.values()
                    for m in messages
                ]
                if raw:
                    self.learned += self.pipeline.learn_catalog(raw)
                if not self.caught_up.is_set():
                    positions = [await consumer.position(tp) for tp in partitions]
                    if all(pos >= end[tp] for pos, tp in zip(positions, partitions, strict=True)):
                        log.info("catalogue caught up: %d items learned", self.learned)
                        self.caught_up.set()
        finally:
            await consumer.stop()
