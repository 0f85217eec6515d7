"""HTTP views of the worker: a user's current list, an item's statistics and sentiment,
health, metrics.

All answers are JSON (``/metrics`` excepted). A user's list is answered by the worker that
owns the user's partition: Faust forwards the request there (``topic_route``). Item
statistics are the same on every worker (item facts), so any worker answers.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import chain
from typing import Any

import faust
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from stream.agents.common import Health
from stream.feed import FeedPipeline
from stream.settings import Settings

__all__ = ["register_views"]


def _error(web: Any, status: int, message: str) -> Any:
    return web.json({"error": message, "status": status}, status=status)


def register_views(
    app: faust.App,
    settings: Settings,
    pipeline: FeedPipeline,
    interactions_topic: Any,
    is_ready: Callable[[], bool],
    health: Health,
    item_sentiment: Callable[[str, float], dict[str, Any] | None] | None = None,
) -> None:
    """Declare the HTTP views on ``app``."""

    def valid_id(value: str) -> bool:
        return bool(value.strip()) and len(value) <= settings.max_id_chars and "\x00" not in value

    @app.page("/users/{user_id}/recommendations")
    @app.topic_route(topic=interactions_topic, match_info="user_id")
    async def user_recommendations(web: Any, request: Any, user_id: str) -> Any:
        if not valid_id(user_id):
            return _error(web, 400, f"user_id must be 1 to {settings.max_id_chars} characters")
        if pipeline.last_lists.get(user_id) is None:
            return _error(web, 404, f"no list published for user {user_id!r} on this worker")
        now = pipeline.clock()
        variant = pipeline.variant_of(user_id)
        model = pipeline.recommenders[variant]
        recs = model.recommend(user_id, settings.top_k, now)
        # the list cache holds hashes of the ids: they are found among the fresh list's ids
        # (usually all there), then the catalogue's; an item that left it shows as null
        last = pipeline.last_lists.ids(user_id, chain((r.item_id for r in recs),
                                                      model.item_ids()))
        return web.json(
            {
                "user_id": user_id,
                "variant": variant,
                "items": [
                    {"item_id": r.item_id, "score": r.score, "reason": r.reason} for r in recs
                ],
                "last_published": last,
                "ts": now,
            }
        )

    @app.page("/items/{item_id}")
    async def item_statistics(web: Any, request: Any, item_id: str) -> Any:
        if not valid_id(item_id):
            return _error(web, 400, f"item_id must be 1 to {settings.max_id_chars} characters")
        variant = request.query.get("variant", next(iter(pipeline.recommenders)))
        model = pipeline.recommenders.get(variant)
        if model is None:
            return _error(web, 404, f"no variant {variant!r}")
        state = model.export_item(item_id)
        if state is None:
            return _error(web, 404, f"item {item_id!r} is not in this worker's catalogue")
        for internal in ("terms", "vector"):  # hashed text and raw vector bytes: not for people
            state.pop(internal, None)
        return web.json({"variant": variant, "facts_applied": pipeline.facts_applied, **state})

    @app.page("/items/{item_id}/sentiment")
    async def sentiment_of_item(web: Any, request: Any, item_id: str) -> Any:
        if not valid_id(item_id):
            return _error(web, 400, f"item_id must be 1 to {settings.max_id_chars} characters")
        if item_sentiment is None:
            return _error(web, 404, "comment sentiment is not enabled on this worker")
        found = item_sentiment(item_id, pipeline.clock())
        if found is None:
            return _error(web, 404, f"no scored comments for item {item_id!r}")
        return web.json({"item_id": item_id, **found})

    @app.page("/health")
    async def health_view(web: Any, request: Any) -> Any:
        probe = request.query.get("probe", "ready")
        if probe not in ("live", "ready"):
            return _error(web, 400, "probe must be 'live' or 'ready'")
        live = health.live
        ready = live and is_ready()
        body: dict[str, Any] = {"live": live, "ready": ready}
        if not live:
            body["failure"] = health.failure
        ok = live if probe == "live" else ready
        return web.json(body, status=200 if ok else 503)

    @app.page("/metrics")
    async def metrics(web: Any, request: Any) -> Any:
        return web.bytes(
            generate_latest(pipeline.metrics.registry),
            content_type=CONTENT_TYPE_LATEST.split(";")[0],
        )
