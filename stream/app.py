"""Builds the Faust app from the settings and runs the worker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import faust
from prometheus_client import CollectorRegistry, start_http_server

from stream import __version__
from stream.agents.comments import register_comment_agents
from stream.agents.common import Health, InFlight, OutputProducer, publish, raw_table
from stream.agents.faust_fixes import (
    QuietWorker,
    fetch_only_active_partitions,
    never_commit_past_unacked,
    recover_to_the_end,
    resume_streams_after_seek,
    use_fetch_wait,
)
from stream.agents.feed import register_feed_agents
from stream.agents.followers import (
    TopicFollower,
    catalog_reader,
    facts_reader,
    labels_reader,
    republisher,
    rules_reader,
    scores_reader,
)
from stream.agents.web import check_exposure, register_views, view_middlewares
from stream.comments import CommentPipeline
from stream.feed import FeedPipeline
from stream.gcpauses import freeze_loaded, measure_gc_pauses
from stream.metrics import Metrics
from stream.models import FeedModel, SentimentSource, StreamRecommender
from stream.settings import Settings
from stream.topics import create_topics, topic_specs

__all__ = ["Worker", "create_app", "run_worker", "use_event_loop"]

log = logging.getLogger(__name__)


@dataclass
class Worker:
    """The Faust app and what its agents share."""

    app: faust.App
    settings: Settings
    metrics: Metrics
    pipeline: FeedPipeline
    comments: CommentPipeline | None
    #: what the liveness probe reports (a batch whose output can never be delivered)
    health: Health


def _credentials(settings: Settings) -> object | None:
    if settings.security_protocol == "PLAINTEXT":
        return None
    context = None
    if settings.security_protocol.endswith("SSL"):
        context = ssl.create_default_context(
            cafile=str(settings.ssl_cafile) if settings.ssl_cafile else None
        )
    if settings.security_protocol.startswith("SASL"):
        password = settings.sasl_password.get_secret_value() if settings.sasl_password else ""
        return faust.SASLCredentials(
            username=settings.sasl_username or "",
            password=password,
            ssl_context=context,
            mechanism=settings.sasl_mechanism,
        )
    return faust.SSLCredentials(context)


def create_app(settings: Settings, registry: CollectorRegistry | None = None) -> Worker:
    """A Faust app wired to the pipeline, with every agent declared."""
    use_fetch_wait(settings.fetch_max_wait_ms)
    resume_streams_after_seek()
    fetch_only_active_partitions()
    never_commit_past_unacked()
    recover_to_the_end(settings.bootstrap_servers, settings.kafka_client_options(),
                       settings.fetch_max_wait_ms)
    app = faust.App(
        settings.app_id,
        broker=settings.broker,
        broker_credentials=_credentials(settings),
        store=settings.store,
        datadir=str(settings.data_dir),
        processing_guarantee=settings.processing_guarantee,
        producer_max_batch_size=settings.producer_max_batch_size,
        broker_session_timeout=settings.broker_session_timeout,
        broker_heartbeat_interval=settings.broker_heartbeat_interval,
        broker_commit_interval=settings.commit_interval_seconds,
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.topic_replication_factor,
        consumer_auto_offset_reset="earliest",
        web_enabled=settings.web_enabled,
        web_bind=settings.web_host,
        web_host=settings.web_host,
        web_port=settings.web_port,
        web_application_options={"middlewares": view_middlewares(settings)},
        canonical_url=settings.web_canonical_url
        or f"http://{settings.web_host}:{settings.web_port}",
        autodiscover=False,
    )
    metrics = Metrics(registry, process=registry is None)
    metrics.initialise(
        settings.input_topics,
        (settings.topic_recommendations, settings.topic_user_profiles),
        tuple(settings.variants),
    )
    comments = (
        CommentPipeline(settings, metrics)
        if settings.sentiment_enabled
        else None
    )
    feature: SentimentSource | None = None
    if comments is not None and settings.sentiment_use in ("feature", "both"):
        feature = comments.item_sentiment
    publisher = None
    if settings.processing_guarantee == "at_least_once":
        # output through a batching producer, flushed before each batch is acknowledged;
        # with exactly_once everything goes through the app's transactional producer
        output = OutputProducer(settings)
        publisher = output.publish

        @app.on_before_shutdown.connect  # type: ignore[arg-type]
        async def stop_output(app: faust.App, **kwargs: Any) -> None:
            await output.stop()

    # user state follows the user's partition: a table co-partitioned with interactions,
    # its checkpoints written through the batching producer too (recovery reads a changelog
    # to its end however it was written: recover_to_the_end)
    users = raw_table(app, settings, "users", publisher)
    pipeline = FeedPipeline(
        settings,
        build_variants(settings, feature),
        metrics,
        sentiment=comments.item_sentiment if comments is not None else None,
        user_store=users,
    )
    processed: dict[Any, int] = {}
    health = Health()
    send = publisher if publisher is not None else (lambda out: publish(app, out))
    # the interactions agent's batches in flight; the lists a retraction or a block makes
    # due are handed over to them too, behind any batch of lists ranked before (see
    # republisher)
    deliveries = InFlight(settings.batches_in_flight, send, metrics, health, "interactions",
                          write_state=users.write)
    due = republisher(pipeline, deliveries)
    # every worker reads the whole of these topics, from the beginning: item-level state,
    # the rules and the scorer are the same on every worker whichever users and comments it
    # owns
    catalog, facts = catalog_reader(settings, pipeline, due), facts_reader(settings, pipeline)
    rules = rules_reader(settings, pipeline, due)
    followers = [catalog, facts, rules]
    labels = None
    if comments is not None:
        labels = labels_reader(settings, comments)
        followers += [scores_reader(settings, comments), labels]
    for follower in followers:
        app.task(_follow(app, follower))

    @app.task  # type: ignore[untyped-decorator]
    async def freeze_when_caught_up() -> None:
        """Once the catalogue, item facts and rules are read to where they were at start,
        what was loaded leaves the garbage collector's passes (see :func:`freeze_loaded`)."""
        for follower in followers:
            await follower.caught_up.wait()
        freeze_loaded()

    interactions_topic = register_feed_agents(
        app, settings, pipeline, processed, health, publisher, users,
        after_ready=[catalog.caught_up, facts.current, rules.caught_up],
        deliveries=deliveries,
    )

    def drop_partition_gauges(tp: Any) -> None:
        """Take a partition's lag and position gauges away (it is another worker's now)."""
        for gauge in (metrics.consumer_lag, metrics.consumer_position):
            with contextlib.suppress(KeyError):  # never measured here
                gauge.remove(tp.topic, str(tp.partition))

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def release_users(app: faust.App, revoked: set[Any], **kwargs: Any) -> None:
        """Users of revoked interaction partitions leave this worker's memory, and the
        partitions' lag and position leave its metrics (they are another worker's now)."""
        for tp in revoked:
            processed.pop((tp.topic, tp.partition), None)  # another worker's from now on
            drop_partition_gauges(tp)
        partitions = {tp.partition for tp in revoked if tp.topic == settings.topic_interactions}
        if partitions:
            dropped = pipeline.release_partitions(partitions)
            log.info("released %d users of partitions %s", dropped, sorted(partitions))

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]
    async def facts_before_takeover(app: faust.App, assigned: set[Any], **kwargs: Any) -> None:
        """Before the interactions agent handles a batch of partitions just assigned, the item
        facts are read to where the topic ends now: a worker that had them may have published
        the facts of events this one is about to process again, and it publishes none for
        events whose facts it applied (see :meth:`FeedPipeline.learn_facts
        <stream.feed.FeedPipeline.learn_facts>`)."""
        if any(tp.topic == settings.topic_interactions for tp in assigned):
            facts.catch_up_again()

    if comments is not None:
        register_comment_agents(
            app, settings, comments, processed, health, publisher,
            labels_learned=labels.caught_up if labels is not None else None,
        )

    def is_ready() -> bool:
        """Started, not rebalancing, every table recovered, and every followed topic (the
        catalogue, item facts, rules, comment scores, labels) read to where it was at
        start."""
        recovery = app.tables.recovery  # type: ignore[attr-defined]
        return bool(
            app.started
            and not app.rebalancing
            and recovery.completed.is_set()
            and all(f.caught_up.is_set() for f in followers)
        )

    register_views(
        app,
        settings,
        pipeline,
        interactions_topic,
        is_ready,
        health,
        item_sentiment=comments.item_sentiment_view if comments is not None else None,
    )

    inputs = set(settings.input_topics)

    #: the input partitions whose lag and position gauges the lag timer set last
    measured: set[Any] = set()

    @app.timer(settings.lag_interval_seconds, name="stream.measure_lag")  # type: ignore[untyped-decorator]
    async def measure_lag() -> None:
        """Consumer lag per assigned input partition: high watermark minus what we processed.

        Only the input topics: Faust's own (the users changelog, which an active worker
        writes and does not read after recovery, and the assignor's topic) would show a lag
        that grows by design and page someone for nothing."""
        model = pipeline.recommender
        pipeline.editorial.update_gauges()  # rules expire between two changes
        metrics.users_in_state.set(model.n_users)
        metrics.items_in_state.set(model.n_items)
        if comments is not None:
            comments.update_gauges()
        consumer = app.consumer
        if app.rebalancing:  # the assignment the consumer reports is about to change
            return
        assigned = {tp for tp in consumer.assignment() if tp.topic in inputs}
        for tp in measured - assigned:  # handed over: another worker's gauges now
            drop_partition_gauges(tp)
        measured.clear()
        measured.update(assigned)
        for tp in assigned:
            highwater = consumer.highwater(tp)
            if highwater is None:
                continue
            done = processed.get((tp.topic, tp.partition))
            if done is not None:
                position = done + 1
            else:
                position = await consumer.position(tp) or 0
                if tp not in consumer.assignment():  # revoked meanwhile: its gauges are gone
                    continue
            metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(
                max(highwater - position, 0)
            )
            metrics.consumer_position.labels(tp.topic, str(tp.partition)).set(position)

    return Worker(app=app, settings=settings, metrics=metrics, pipeline=pipeline,
                  comments=comments, health=health)


def _follow(app: faust.App, follower: TopicFollower) -> Callable[[], Awaitable[None]]:
    """A task body that follows ``follower``'s topic until the app stops."""

    async def follow() -> None:
        await follower.run(lambda: app.should_stop)

    follow.__name__ = f"follow_{follower.what.replace(' ', '_')}"
    return follow


def build_variants(
    settings: Settings, sentiment: SentimentSource | None = None
) -> dict[str, FeedModel]:
    """One model per A/B variant, each built from the settings plus its overrides."""
    return {name: StreamRecommender(knobs, sentiment=sentiment)
            for name, knobs in settings.variant_models().items()}


def use_event_loop(name: str) -> str:
    """Make ``name`` ("uvloop" or "asyncio") the event loop of every loop created from now on
    (Faust's worker creates its own); returns the one in use: asyncio's own where uvloop is
    asked for but not installed."""
    if name == "uvloop":
        try:
            import uvloop
        except ImportError:
            log.warning("uvloop is not installed: the worker runs on asyncio's own loop")
        else:
            asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
            return "uvloop"
    asyncio.set_event_loop_policy(asyncio.DefaultEventLoopPolicy())
    return "asyncio"


def run_worker(settings: Settings, loglevel: str | None = None) -> int:
    """Run a worker until it is stopped (SIGINT/SIGTERM); returns the exit code.

    Every topic, state changelogs included, is created first with the configured partition
    count: a broker that auto-creates topics would pick its own count, and a changelog with
    another count than its input breaks co-partitioning.

    Raises :class:`~stream.errors.UnprotectedViews`, before anything else, when the HTTP
    views would be readable by anyone beyond this machine (see ``check_exposure``).
    """
    check_exposure(settings)
    loop = use_event_loop(settings.event_loop)
    asyncio.run(
        create_topics(
            settings.bootstrap_servers,
            topic_specs(settings),
            settings.topic_replication_factor,
            settings.kafka_client_options(),
        )
    )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    worker = create_app(settings)
    measure_gc_pauses(worker.metrics)
    worker.metrics.build_info.info({"version": __version__, "event_loop": loop})
    if settings.metrics_port and settings.metrics_port != settings.web_port:
        start_http_server(
            settings.metrics_port, addr=settings.metrics_host, registry=worker.metrics.registry
        )
        log.info("metrics on http://%s:%d/metrics", settings.metrics_host, settings.metrics_port)


    faust_worker = QuietWorker(worker.app, loglevel=loglevel or settings.log_level)
    faust_worker.execute_from_commandline()
    return 0
