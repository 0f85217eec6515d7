"""A feed pipeline run as a lone worker runs it, for in-process tests: items validated by the
group's agent and learned from the catalogue, and each batch's item facts applied once the
batch is handled, as the worker's item-facts reader applies them from the topic."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from prometheus_client import CollectorRegistry

from stream.feed import FeedPipeline, StateStore
from stream.messages import Outgoing, RawMessage
from stream.metrics import Metrics
from stream.models import ModelSettings, StreamRecommender
from stream.settings import Settings


def model_settings(**knobs: Any) -> ModelSettings:
    """The recommender's default settings with ``knobs`` changed."""
    return ModelSettings(**knobs)


def with_knobs(settings: Settings, **knobs: Any) -> Settings:
    """``settings`` with some of the recommender's knobs changed."""
    return settings.model_copy(
        update={"recommender": settings.recommender.model_copy(update=knobs)})


def lone_worker(settings: Settings | None = None, *, clock: Callable[[], float] = lambda: 1000.0,
                user_store: StateStore | None = None,
                registry: CollectorRegistry | None = None) -> FeedPipeline:
    """A pipeline over one model built from ``settings``, as ``stream worker`` builds it."""
    s = settings if settings is not None else Settings()
    return FeedPipeline(s, StreamRecommender(s.recommender),
                        Metrics(registry if registry is not None else CollectorRegistry()),
                        clock=clock, user_store=user_store)


def facts_of(out: Sequence[Outgoing], settings: Settings) -> list[RawMessage]:
    """The item-facts messages among a batch's output, as the facts reader consumes them."""
    return [RawMessage(o.topic, 0, n, o.key, o.value, 0.0)
            for n, o in enumerate(out) if o.topic == settings.topic_item_facts]


def handle(pipeline: FeedPipeline, batch: Sequence[RawMessage]) -> list[Outgoing]:
    """Handle a batch of interactions, apply its item facts, then write the checkpoints: what
    one worker does with a batch (the facts are delivered first, and its facts reader
    applies them while the checkpoints are written)."""
    out = pipeline.handle_interactions(batch)
    pipeline.learn_facts(facts_of(out, pipeline.settings))
    pipeline.write_checkpoints()
    return out


def learn_items(pipeline: FeedPipeline, batch: Sequence[RawMessage]) -> list[Outgoing]:
    """Validate items (returns the dead letters) and learn the valid ones from the catalogue."""
    dead = pipeline.handle_items(batch)
    pipeline.learn_catalog(batch)
    return dead
