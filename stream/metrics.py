"""Prometheus metrics of the worker, built on a registry passed in (never at import time).

Names follow the Prometheus conventions: ``stream_<subsystem>_<name>_<unit>``, base units
(seconds), counters end in ``_total``; label values come from small known sets (topic names,
event types, dead-letter reasons), never user or item ids.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
)

from stream import __version__
from stream.errors import InvalidEvent
from stream.events import RULE_KINDS

__all__ = ["LATENCY_BUCKETS", "PROCESSING_BUCKETS", "Metrics", "QualitySeries"]

#: what a worker met again of the item facts (``stream_item_facts_replayed_total``)
FACTS_REPLAYED = ("not_published", "skipped", "overlapping")

#: event-to-recommendation latency: sub-millisecond to seconds
LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
#: per-batch processing time: our hot path is sub-millisecond per event
PROCESSING_BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
)


@dataclass(frozen=True, slots=True)
class QualitySeries:
    """The live-quality series of one variant (``stream_quality_*``), each taken once with
    ``labels()``, which costs several times the increment it is taken for on a path that
    scores every click."""

    clicks: Counter
    hits: Counter
    reciprocal_rank: Counter
    ndcg: Counter
    hit_rate: Gauge
    ndcg_ratio: Gauge
    mrr: Gauge
    pinned_clicks: Counter


class Metrics:
    """Every metric the worker exports, registered on ``registry``."""

    def __init__(self, registry: CollectorRegistry | None = None, process: bool = False) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self._quality: dict[str, QualitySeries] = {}
        r = self.registry
        if process:  # process_resident_memory_bytes, CPU, open fds; python_info
            ProcessCollector(registry=r)
            PlatformCollector(registry=r)
        self.build_info = Info(
            "stream_build", "Version of the stream worker (and its event loop).", registry=r
        )
        self.build_info.info({"version": __version__})
        self.events_consumed = Counter(
            "stream_events_consumed_total",
            "Messages consumed, by topic and event type ('invalid' when it did not parse).",
            ["topic", "type"],
            registry=r,
        )
        self.events_dead_lettered = Counter(
            "stream_events_dead_lettered_total",
            "Messages sent to a dead-letter topic, by source topic and reason.",
            ["topic", "reason"],
            registry=r,
        )
        self.events_duplicate = Counter(
            "stream_events_duplicate_total",
            "Events skipped because their event_id was applied already (at-least-once "
            "redelivery after a crash or rebalance), by topic.",
            ["topic"],
            registry=r,
        )
        self.catalog_items_learned = Counter(
            "stream_catalog_items_learned_total",
            "Item messages learned by this worker's catalogue reader (every worker reads every "
            "partition of the items topic).",
            registry=r,
        )
        self.recommendations_published = Counter(
            "stream_recommendations_published_total",
            "Recommendation lists published (tombstones for forgotten users not included).",
            registry=r,
        )
        self.tombstones_published = Counter(
            "stream_tombstones_published_total",
            "Tombstones published for forgotten users, by topic.",
            ["topic"],
            registry=r,
        )
        self.event_to_recommendation_latency = Histogram(
            "stream_event_to_recommendation_latency_seconds",
            "From the event's Kafka timestamp to the publication of the list that reflects it.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_processing = Histogram(
            "stream_batch_processing_seconds",
            "Time to validate, learn from and rank one batch, by agent.",
            ["agent"],
            buckets=PROCESSING_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            "stream_batch_size_events",
            "Events per processed batch, by agent.",
            ["agent"],
            buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000),
            registry=r,
        )
        self.batch_completion = Histogram(
            "stream_batch_completion_seconds",
            "From handing a batch over to acknowledging it (its output and state writes on "
            "the broker, and those of every batch before it), by agent.",
            ["agent"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.gc_pause = Histogram(
            "stream_gc_pause_seconds",
            "Time the worker stood still in Python's cyclic garbage collector, by "
            "generation: a collection of the oldest one delays every batch in hand.",
            ["generation"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.users_in_state = Gauge(
            "stream_users_in_state", "Users with state on this worker.", registry=r
        )
        self.publish_errors = Counter(
            "stream_publish_errors_total",
            "Batches whose recommendation lists could not be made (a model error, logged); "
            "their events are learned all the same.",
            registry=r,
        )
        self.output_retries = Counter(
            "stream_output_retries_total",
            "Times a batch's output could not be delivered and was sent again (the batch is "
            "held, not acknowledged, until it is delivered).",
            registry=r,
        )
        self.output_failures = Counter(
            "stream_output_failures_total",
            "Batches whose output could not be delivered for good (an error that sending "
            "again cannot mend): the batch is held and the worker reports itself not live "
            "(the error is in its log and its /health).",
            registry=r,
        )
        self.item_facts_applied = Counter(
            "stream_item_facts_applied_total",
            "Events whose item-level facts (from any worker) this worker applied.",
            registry=r,
        )
        self.item_facts_replayed = Counter(
            "stream_item_facts_replayed_total",
            "Item facts met again: of an event processed again whose facts this worker had "
            "applied (not_published), a record applied already (skipped), a record partly "
            "applied already, applied whole (overlapping).",
            ["outcome"],
            registry=r,
        )
        self.item_facts_cpu = Counter(
            "stream_item_facts_cpu_seconds_total",
            "CPU seconds this worker spent applying item facts (every worker's, its own "
            "included): with process_cpu_seconds_total, what the cluster's facts cost each "
            "worker against what its own events do.",
            registry=r,
        )
        self.users_evicted = Counter(
            "stream_users_evicted_total",
            "Users dropped from this worker's state and checkpoints by the user TTL or cap.",
            registry=r,
        )
        self.items_in_state = Gauge(
            "stream_items_in_state", "Items in this worker's catalogue.", registry=r
        )
        self.model_update = Histogram(
            "stream_model_update_seconds",
            "Time to learn one event in the model (validation excluded).",
            buckets=PROCESSING_BUCKETS,
            registry=r,
        )
        self.consumer_lag = Gauge(
            "stream_consumer_lag_messages",
            "Messages in the partition not yet consumed by this worker (high watermark minus "
            "position).",
            ["topic", "partition"],
            registry=r,
        )
        self.consumer_position = Gauge(
            "stream_consumer_position",
            "The next offset this worker will process in the partition (the offset after the "
            "last one processed); with the lag it tells a stalled partition from an idle one.",
            ["topic", "partition"],
            registry=r,
        )
        # live quality: did the user click something from the last list we published?
        self.quality_clicks = Counter(
            "stream_quality_clicks_total",
            "Clicks by users who had a published list, by variant.",
            ["variant"],
            registry=r,
        )
        self.quality_hits = Counter(
            "stream_quality_hits_total",
            "Clicks on an item of the last published top-k, by variant (HR@k = hits/clicks).",
            ["variant"],
            registry=r,
        )
        self.quality_reciprocal_rank = Counter(
            "stream_quality_reciprocal_rank_total",
            "Sum of 1/rank of clicked items in the last list (MRR = this/clicks), by variant.",
            ["variant"],
            registry=r,
        )
        self.quality_ndcg = Counter(
            "stream_quality_ndcg_total",
            "Sum of NDCG@k of clicks against the last list (NDCG = this/clicks), by variant.",
            ["variant"],
            registry=r,
        )
        self.quality_hit_rate = Gauge(
            "stream_quality_hit_rate_ratio",
            "HR@k over the last clicks (rolling window), by variant.",
            ["variant"],
            registry=r,
        )
        self.quality_ndcg_ratio = Gauge(
            "stream_quality_ndcg_ratio",
            "NDCG@k over the last clicks (rolling window), by variant.",
            ["variant"],
            registry=r,
        )
        self.quality_mrr = Gauge(
            "stream_quality_mrr_ratio",
            "MRR over the last clicks (rolling window), by variant.",
            ["variant"],
            registry=r,
        )
        self.quality_pinned_clicks = Counter(
            "stream_quality_pinned_clicks_total",
            "Clicks on a slot an editor's rule filled (a pin or a boost) in the last list, by "
            "variant: left out of the clicks, hits and ranks above, which judge the model.",
            ["variant"],
            registry=r,
        )
        self.retractions = Counter(
            "stream_retractions_total",
            "Items withdrawn (a tombstone or 'withdrawn': true on the items topic) that this "
            "worker's catalogue reader applied (every worker applies every retraction).",
            registry=r,
        )
        self.lists_republished = Counter(
            "stream_lists_republished_total",
            "Lists this worker published again because an item they held was taken out, by "
            "cause (retraction, rule).",
            ["cause"],
            registry=r,
        )
        self.rules_active = Gauge(
            "stream_rules_active",
            "Editors' rules from the rules topic that hold now on this worker, by kind.",
            ["kind"],
            registry=r,
        )
        self.sentiment_labels_learned = Counter(
            "stream_sentiment_labels_learned_total",
            "Moderators' labels this worker's scorer learned from (every worker learns all).",
            registry=r,
        )
        self.sentiment_scored = Counter(
            "stream_sentiment_scored_total",
            "Comments scored, by label (unscored included) and language.",
            ["label", "lang"],
            registry=r,
        )
        self.items_sentiment = Gauge(
            "stream_item_sentiment_items",
            "Items with comment sentiment, by the sign of their decayed mean.",
            ["label"],
            registry=r,
        )

    def quality(self, variant: str) -> QualitySeries:
        """The live-quality series of a variant (the same children every call).

        >>> m = Metrics()
        >>> m.quality("a").clicks.inc()
        >>> m.quality("a") is m.quality("a"), m.registry.get_sample_value(
        ...     "stream_quality_clicks_total", {"variant": "a"})
        (True, 1.0)
        """
        series = self._quality.get(variant)
        if series is None:
            series = self._quality[variant] = QualitySeries(
                self.quality_clicks.labels(variant), self.quality_hits.labels(variant),
                self.quality_reciprocal_rank.labels(variant), self.quality_ndcg.labels(variant),
                self.quality_hit_rate.labels(variant), self.quality_ndcg_ratio.labels(variant),
                self.quality_mrr.labels(variant), self.quality_pinned_clicks.labels(variant))
        return series

    def initialise(self, input_topics: tuple[str, ...], output_topics: tuple[str, ...],
                   variants: tuple[str, ...] = ()) -> None:
        """Create the known label combinations at 0, so rates and alerts see a series
        before the first event of its kind (e.g. the first dead letter, or a variant's first
        scored click)."""
        for topic in input_topics:
            for reason in sorted(InvalidEvent.REASONS):
                self.events_dead_lettered.labels(topic, reason)
        for topic in output_topics:
            self.tombstones_published.labels(topic)
        for variant in variants:
            for counter in (self.quality_clicks, self.quality_hits,
                            self.quality_reciprocal_rank, self.quality_ndcg):
                counter.labels(variant)
            # no click scored yet: NaN, not 0, so that a rolling ratio reads as unknown and
            # an alert on a low hit rate does not fire on a worker that just started
            for gauge in (self.quality_hit_rate, self.quality_ndcg_ratio, self.quality_mrr):
                gauge.labels(variant).set(math.nan)
        for kind in RULE_KINDS:
            self.rules_active.labels(kind)
        for cause in ("retraction", "rule"):
            self.lists_republished.labels(cause)
        for outcome in FACTS_REPLAYED:
            self.item_facts_replayed.labels(outcome)
