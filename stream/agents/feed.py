"""Agents of the feed: items, rules and interactions in, recommendations and dead letters
out."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import faust

from stream.agents.common import (
    DurableTable,
    Health,
    InFlight,
    Publisher,
    batched_agent,
    raw_topic,
)
from stream.feed import FeedPipeline
from stream.settings import Settings

__all__ = ["register_feed_agents"]


def register_feed_agents(
    app: faust.App,
    settings: Settings,
    pipeline: FeedPipeline,
    processed: dict[Any, int],
    health: Health,
    publisher: Publisher | None = None,
    users: DurableTable | None = None,
    after_ready: Sequence[asyncio.Event] = (),
    deliveries: InFlight | None = None,
) -> Any:
    """Declare the item, rule and interaction agents on ``app``; returns the interactions
    topic.

    ``processed`` receives the last processed offset of every (topic, partition) pair, for
    the consumer-lag gauge; ``users`` is the table of user checkpoints, whose writes are
    delivered before a batch of interactions is acknowledged; interactions wait for every
    event of ``after_ready`` (the catalogue, the item facts and the rules read at start),
    and hand their batches to ``deliveries``, which the retraction republisher shares (see
    :func:`~stream.agents.followers.republisher`).
    """
    m = pipeline.metrics
    items_topic = raw_topic(app, settings, settings.topic_items)
    interactions_topic = raw_topic(app, settings, settings.topic_interactions)
    rules_topic = raw_topic(app, settings, settings.topic_rules)
    # validation and dead letters only: every worker learns every item (catalog_reader)
    app.agent(items_topic, name="stream.agents.items")(
        batched_agent(
            app,
            settings,
            m,
            "items",
            pipeline.handle_items,
            processed,
            health,
            publisher=publisher,
        )
    )
    app.agent(interactions_topic, name="stream.agents.interactions")(
        batched_agent(
            app,
            settings,
            m,
            "interactions",
            pipeline.handle_interactions,
            processed,
            health,
            checkpoint=pipeline.write_checkpoints,
            publisher=publisher,
            store=users,
            after_ready=after_ready,
            deliveries=deliveries,
        )
    )
    # validation and dead letters only: every worker applies every rule (rules_reader)
    app.agent(rules_topic, name="stream.agents.rules")(
        batched_agent(app, settings, m, "rules", pipeline.editorial.validate_rules, processed,
                      health, publisher=publisher)
    )
    return interactions_topic
