"""Agents of the comment path: comments in, sentiment scores out; labels teach the scorer.

The scorer's state is checkpointed as JSON (never a pickle; compressed and split into chunks
under a manifest, since a trained scorer is megabytes) in a changelog-backed table after
every batch of labels, and restored from it when the worker starts, so what it learned
survives a restart.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import faust

from stream.agents.common import Publisher, batched_agent, raw_table, raw_topic
from stream.checkpoint import join_checkpoint, split_checkpoint
from stream.comments import CommentPipeline
from stream.pipeline import Outgoing, RawMessage
from stream.sentiment.model import SentimentModel
from stream.settings import Settings

__all__ = ["MODEL_KEY", "register_comment_agents"]

log = logging.getLogger(__name__)

#: key of the scorer's state in the ``sentiment`` table
MODEL_KEY = b"model"


def register_comment_agents(
    app: faust.App,
    settings: Settings,
    comments: CommentPipeline,
    processed: dict[Any, int],
    publisher: Publisher | None = None,
) -> None:
    """Declare the comment and label agents and the table of the scorer's state."""
    state = raw_table(app, "sentiment", settings.partitions)
    restored = False

    def restore() -> None:
        nonlocal restored
        if restored:
            return
        restored = True
        try:
            saved = join_checkpoint(MODEL_KEY, state.get)
            if saved is not None:
                comments.model = SentimentModel.from_bytes(saved)
                log.info(
                    "restored the sentiment model (%s labels learned)", comments.model.n_learned
                )
        except ValueError as exc:  # corrupt, or written by an incompatible version
            log.warning("cannot restore the sentiment model, starting from its defaults: %s", exc)

    def handle_comments(batch: Sequence[RawMessage]) -> list[Outgoing]:
        restore()
        return comments.handle_comments(batch)

    def handle_labels(batch: Sequence[RawMessage]) -> list[Outgoing]:
        restore()
        return comments.handle_labels(batch)

    def checkpoint() -> None:
        if comments.unsaved_labels:
            # the manifest is written last: a reader never takes a half-written checkpoint
            for key, value in split_checkpoint(MODEL_KEY, comments.model.to_bytes()):
                state[key] = value
            comments.unsaved_labels = 0

    m = comments.metrics
    app.agent(raw_topic(app, settings, settings.topic_comments), name="stream.agents.comments")(
        batched_agent(app, settings, m, "comments", handle_comments, processed, publisher=publisher)
    )
    app.agent(raw_topic(app, settings, settings.topic_comment_labels), name="stream.agents.labels")(
        batched_agent(
            app,
            settings,
            m,
            "labels",
            handle_labels,
            processed,
            after=checkpoint,
            publisher=publisher,
            stores=[state],
        )
    )
