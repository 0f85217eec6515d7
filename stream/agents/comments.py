"""Agents of the comment path: comments in, sentiment scores out; labels teach the scorer.

The scorer's state is checkpointed as JSON (never a pickle) in a changelog-backed table after
every batch of labels, and restored from it when the worker starts, so what it learned
survives a restart.
"""

from __future__ import annotations

import logging
from typing import Any

import faust

from stream.agents.common import publish, to_raw
from stream.comments import CommentPipeline
from stream.sentiment.model import SentimentModel
from stream.settings import Settings

__all__ = ["MODEL_KEY", "raw_table", "register_comment_agents"]

log = logging.getLogger(__name__)

#: key of the scorer's state in the ``sentiment`` table
MODEL_KEY = b"model"


def raw_table(app: faust.App, name: str, partitions: int) -> Any:
    """A table of raw bytes (JSON we encode ourselves, never pickles) with a compacted
    changelog; keys go to partitions by the Kafka partitioner, like producers' keys."""
    changelog = app.topic(
        f"{app.conf.id}-{name}-changelog",
        key_serializer="raw",
        value_serializer="raw",
        partitions=partitions,
        compacting=True,
        deleting=False,
    )
    table = app.Table(
        name,
        key_type=bytes,
        value_type=bytes,
        partitions=partitions,
        changelog_topic=changelog,
        use_partitioner=True,
    )
    table.key_serializer = "raw"  # type: ignore[attr-defined]
    table.value_serializer = "raw"  # type: ignore[attr-defined]
    return table


def register_comment_agents(
    app: faust.App, settings: Settings, comments: CommentPipeline, processed: dict[Any, int]
) -> None:
    """Declare the comment and label agents and the table of the scorer's state."""
    state = raw_table(app, "sentiment", settings.partitions)
    restored = False

    def restore() -> None:
        nonlocal restored
        if restored:
            return
        restored = True
        saved = state.get(MODEL_KEY)
        if saved:
            comments.model = SentimentModel.from_bytes(saved)
            log.info("restored the sentiment model (%s labels learned)", comments.model.n_learned)

    def raw_topic(name: str) -> Any:
        return app.topic(
            name, value_serializer="raw", key_serializer="raw", partitions=settings.partitions
        )

    def track(events: Any) -> None:
        for e in events:
            processed[(e.message.topic, e.message.partition)] = e.message.offset

    async def score_comments(stream: Any) -> None:
        async for events in stream.take_events(settings.batch_max, settings.batch_within):
            restore()
            await publish(app, comments.handle_comments([to_raw(e) for e in events]))
            track(events)

    async def learn_labels(stream: Any) -> None:
        async for events in stream.take_events(settings.batch_max, settings.batch_within):
            restore()
            out = comments.handle_labels([to_raw(e) for e in events])
            if comments.unsaved_labels:
                state[MODEL_KEY] = comments.model.to_bytes()
                comments.unsaved_labels = 0
            await publish(app, out)
            track(events)

    app.agent(raw_topic(settings.topic_comments), name="stream.agents.comments")(score_comments)
    app.agent(raw_topic(settings.topic_comment_labels), name="stream.agents.labels")(learn_labels)
