"""Agents of the feed: items and interactions in, recommendations and dead letters out."""

from __future__ import annotations

import time
from typing import Any

import faust

from stream.agents.common import publish, to_raw
from stream.pipeline import FeedPipeline
from stream.settings import Settings

__all__ = ["register_feed_agents"]


def register_feed_agents(app: faust.App, settings: Settings, pipeline: FeedPipeline) -> None:
    """Declare the item and interaction agents on ``app``."""
    items_topic = app.topic(
        settings.topic_items,
        value_serializer="raw",
        key_serializer="raw",
        partitions=settings.partitions,
    )
    interactions_topic = app.topic(
        settings.topic_interactions,
        value_serializer="raw",
        key_serializer="raw",
        partitions=settings.partitions,
    )
    metrics = pipeline.metrics

    async def update_items(stream: Any) -> None:
        async for events in stream.take_events(settings.batch_max, settings.batch_within):
            start = time.perf_counter()
            try:
                out = pipeline.handle_items([to_raw(e) for e in events])
            finally:
                metrics.batch_processing.labels("items").observe(time.perf_counter() - start)
                metrics.batch_size.labels("items").observe(len(events))
            await publish(app, out)

    async def update_and_recommend(stream: Any) -> None:
        async for events in stream.take_events(settings.batch_max, settings.batch_within):
            start = time.perf_counter()
            try:
                out = pipeline.handle_interactions([to_raw(e) for e in events])
            finally:
                metrics.batch_processing.labels("interactions").observe(time.perf_counter() - start)
                metrics.batch_size.labels("interactions").observe(len(events))
            await publish(app, out)

    app.agent(items_topic, name="stream.agents.items")(update_items)
    app.agent(interactions_topic, name="stream.agents.interactions")(update_and_recommend)
