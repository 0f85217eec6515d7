"""Agents of the feed: items and interactions in, recommendations and dead letters out."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import faust

from stream.agents.common import publish, to_raw
from stream.pipeline import FeedPipeline, Outgoing, RawMessage
from stream.settings import Settings

__all__ = ["register_feed_agents"]


def register_feed_agents(
    app: faust.App, settings: Settings, pipeline: FeedPipeline, processed: dict[Any, int]
) -> Any:
    """Declare the item and interaction agents on ``app``; returns the interactions topic.

    ``processed`` receives the last processed offset of every (topic, partition) pair, for
    the consumer-lag gauge.
    """
    metrics = pipeline.metrics

    def raw_topic(name: str) -> Any:
        return app.topic(
            name, value_serializer="raw", key_serializer="raw", partitions=settings.partitions
        )

    def batched_agent(
        agent_name: str, handle: Callable[[Sequence[RawMessage]], list[Outgoing]]
    ) -> Callable[[Any], Any]:
        async def agent(stream: Any) -> None:
            async for events in stream.take_events(settings.batch_max, settings.batch_within):
                start = time.perf_counter()
                try:
                    out = handle([to_raw(e) for e in events])
                finally:
                    elapsed = time.perf_counter() - start
                    metrics.batch_processing.labels(agent_name).observe(elapsed)
                    metrics.batch_size.labels(agent_name).observe(len(events))
                await publish(app, out)
                for e in events:
                    processed[(e.message.topic, e.message.partition)] = e.message.offset

        return agent

    items_topic = raw_topic(settings.topic_items)
    interactions_topic = raw_topic(settings.topic_interactions)
    app.agent(items_topic, name="stream.agents.items")(
        batched_agent("items", pipeline.handle_items)
    )
    app.agent(interactions_topic, name="stream.agents.interactions")(
        batched_agent("interactions", pipeline.handle_interactions)
    )
    return interactions_topic
