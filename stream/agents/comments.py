"""Agents of the comment path: comments in, sentiment scores out; labels validated.

What the scorer learns from moderators' labels is learned by every worker, from the whole
labels topic (one partition: one order), by a group-less reader (see
:mod:`stream.agents.followers`): every worker holds the same scorer, and a worker that starts
or restarts rebuilds it by reading the labels again, so what it learned survives a restart
without a checkpoint. The group's labels agent only validates them (dead letters once, not
once per worker).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import faust

from stream.agents.common import Health, Publisher, batched_agent, raw_topic
from stream.comments import CommentPipeline
from stream.messages import Outgoing, RawMessage
from stream.settings import Settings

__all__ = ["register_comment_agents"]


def register_comment_agents(
    app: faust.App,
    settings: Settings,
    comments: CommentPipeline,
    processed: dict[Any, int],
    health: Health,
    publisher: Publisher | None = None,
    labels_learned: asyncio.Event | None = None,
) -> None:
    """Declare the comment agent and the labels' validating agent; comments wait for
    ``labels_learned`` (the labels topic read to where it was at start)."""

    def validate_labels(batch: Sequence[RawMessage]) -> list[Outgoing]:
        return comments.handle_labels(batch)

    m = comments.metrics
    app.agent(raw_topic(app, settings, settings.topic_comments), name="stream.agents.comments")(
        batched_agent(
            app,
            settings,
            m,
            "comments",
            comments.handle_comments,
            processed,
            health,
            publisher=publisher,
            after_ready=[labels_learned] if labels_learned is not None else (),
        )
    )
    labels = raw_topic(app, settings, settings.topic_comment_labels)
    app.agent(labels, name="stream.agents.labels")(
        batched_agent(app, settings, m, "labels", validate_labels, processed, health,
                      publisher=publisher)
    )
