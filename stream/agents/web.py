"""HTTP views of the worker: a user's current list, an item's statistics and sentiment,
the editors' rules, health, metrics.

All answers are JSON (``/metrics`` excepted). A user's list is answered by the worker that
owns the user's partition: Faust forwards the request there (``topic_route``), with the
request's headers, so the token reaches that worker too. Item statistics and the rules are the
same on every worker (item facts, the rules topic read whole), so any worker answers.

Who may read them: with ``STREAM_WEB_TOKEN`` set, every path of the web server but
``/health`` (the probes) answers 401 unless the request carries ``Authorization: Bearer
<token>``. It is an aiohttp middleware, so it also covers what Faust itself serves on that
port (``/``, ``/router``, ``/table``, which reads table keys). ``/metrics`` on
``STREAM_METRICS_PORT`` is another server (prometheus-client) and is not affected.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from itertools import chain
from typing import Any

import faust
from aiohttp import web as aiohttp_web
from aiohttp.typedefs import Handler, Middleware
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import SecretStr

from stream.agents.common import Health
from stream.errors import UnprotectedViews
from stream.feed import FeedPipeline
from stream.settings import Settings

__all__ = [
    "OPEN_PATHS",
    "bearer_token_matches",
    "check_exposure",
    "register_views",
    "view_middlewares",
]

#: the paths answered without a token: the liveness and readiness probes (kubelet, Docker's
#: HEALTHCHECK) carry no credentials, and they reveal nothing about a reader
OPEN_PATHS = frozenset({"/health"})


def bearer_token_matches(authorization: str | None, token: SecretStr) -> bool:
    """Whether an ``Authorization`` header value carries ``token`` as a bearer token.

    The scheme is case-insensitive (RFC 7235); the token is compared in constant time, so
    the time an answer takes says nothing about how much of a guess was right.

    >>> bearer_token_matches("bearer s3cret", SecretStr("s3cret"))
    True
    >>> bearer_token_matches("Bearer guess", SecretStr("s3cret"))
    False
    >>> bearer_token_matches(None, SecretStr("s3cret"))
    False
    """
    if authorization is None:
        return False
    scheme, _, credentials = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    # bytes: compare_digest refuses str with non-ASCII characters
    return hmac.compare_digest(
        credentials.strip().encode("utf-8"), token.get_secret_value().encode("utf-8")
    )


def view_middlewares(settings: Settings) -> list[Middleware]:
    """The aiohttp middlewares of the web server: the token check when a token is set."""
    token = settings.web_token
    if token is None:
        return []

    @aiohttp_web.middleware
    async def require_token(
        request: aiohttp_web.Request, handler: Handler
    ) -> aiohttp_web.StreamResponse:
        if request.path in OPEN_PATHS or bearer_token_matches(
            request.headers.get("Authorization"), token
        ):
            return await handler(request)
        # the same answer for a missing and a wrong token; nothing logged (the header holds
        # a guess, or a mistyped token, and the path a reader's id)
        return aiohttp_web.json_response(
            {"error": "this view needs 'Authorization: Bearer <token>'", "status": 401},
            status=401,
            headers={"WWW-Authenticate": 'Bearer realm="stream"'},
        )

    return [require_token]


def check_exposure(settings: Settings) -> None:
    """Refuse views that anyone beyond this machine could read: bound to a non-loopback
    address, with no token, and no setting saying the network is trusted.

    Raises :class:`~stream.errors.UnprotectedViews` with what to set.
    """
    if (
        not settings.web_enabled
        or settings.web_token is not None
        or settings.web_trusted_network
        or settings.web_loopback_only
    ):
        return
    raise UnprotectedViews(
        f"the HTTP views would listen on {settings.web_host}:{settings.web_port} "
        "(STREAM_WEB_HOST) with no token, so anyone who reaches that port could read every "
        "reader's recommendations. Set STREAM_WEB_TOKEN to a secret (for example the output "
        "of `openssl rand -hex 32`; clients send 'Authorization: Bearer <token>'), or set "
        "STREAM_WEB_TRUSTED_NETWORK=true if a firewall or network policy already keeps "
        "untrusted clients away from the port, or set STREAM_WEB_HOST=127.0.0.1."
    )


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
                    {"item_id": r.item_id, "score": r.score, "reason": r.reason}
                    | ({"pinned": True} if r.pinned else {})
                    for r in recs
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

    @app.page("/rules")
    async def rules(web: Any, request: Any) -> Any:
        now = pipeline.clock()
        editorial = pipeline.editorial
        return web.json({"rules": editorial.describe(now), "active": editorial.active(now),
                         "ts": now})

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
