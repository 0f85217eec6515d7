"""Builds the Faust app from the settings and runs the worker."""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass

import faust
from prometheus_client import CollectorRegistry, start_http_server

from stream.agents.feed import register_feed_agents
from stream.metrics import Metrics
from stream.pipeline import FeedPipeline
from stream.recommender import build_recommender
from stream.settings import Settings

__all__ = ["Worker", "create_app", "run_worker"]

log = logging.getLogger(__name__)


@dataclass
class Worker:
    """The Faust app and what its agents share."""

    app: faust.App
    settings: Settings
    metrics: Metrics
    pipeline: FeedPipeline


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
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.topic_replication_factor,
        consumer_auto_offset_reset="earliest",
        web_enabled=settings.web_enabled,
        web_bind=settings.web_host,
        web_host=settings.web_host,
        web_port=settings.web_port,
        autodiscover=False,
    )
    metrics = Metrics(registry)
    pipeline = FeedPipeline(settings, build_recommender(settings), metrics)
    register_feed_agents(app, settings, pipeline)
    return Worker(app=app, settings=settings, metrics=metrics, pipeline=pipeline)


def run_worker(settings: Settings, loglevel: str | None = None) -> int:
    """Run a worker until it is stopped (SIGINT/SIGTERM); returns the exit code."""
    worker = create_app(settings)
    if settings.metrics_port:
        start_http_server(
            settings.metrics_port, addr=settings.metrics_host, registry=worker.metrics.registry
        )
        log.info("metrics on http://%s:%d/metrics", settings.metrics_host, settings.metrics_port)
    faust_worker = faust.Worker(worker.app, loglevel=loglevel or settings.log_level)
    faust_worker.execute_from_commandline()
    return 0
