"""Series a dashboard or an alert reads exist before their first event."""

from __future__ import annotations

import math

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from stream.app import create_app
from stream.metrics import Metrics
from stream.settings import Settings

QUALITY_COUNTERS = (
    "stream_quality_clicks_total",
    "stream_quality_hits_total",
    "stream_quality_reciprocal_rank_total",
    "stream_quality_ndcg_total",
)
QUALITY_GAUGES = (
    "stream_quality_hit_rate_ratio",
    "stream_quality_ndcg_ratio",
    "stream_quality_mrr_ratio",
)


def samples(registry: CollectorRegistry) -> dict[tuple[str, str], float]:
    """(sample name, variant label) -> value, of the samples with a variant label."""
    text = generate_latest(registry).decode()
    return {(s.name, s.labels["variant"]): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples if "variant" in s.labels}


def test_quality_series_of_every_variant_exist_at_start() -> None:
    metrics = Metrics(CollectorRegistry())
    metrics.initialise(("in",), ("out",), ("control", "popularity"))
    found = samples(metrics.registry)
    for variant in ("control", "popularity"):
        for name in QUALITY_COUNTERS:
            assert found[(name, variant)] == 0.0
        for name in QUALITY_GAUGES:  # unknown until a click is scored, not 0
            assert math.isnan(found[(name, variant)])


def test_the_worker_initialises_the_variants_it_serves() -> None:
    """As ``stream worker`` builds it: a scrape before the first click sees every variant."""
    registry = CollectorRegistry()
    variants = {"control": 0.4, "diverse": 0.4, "popularity": 0.2}
    create_app(Settings(variants=variants,
                        variant_overrides={"popularity": {"use_content": False}}),
               registry=registry)
    found = samples(registry)
    for variant in variants:
        assert found[("stream_quality_clicks_total", variant)] == 0.0
    assert {v for _, v in found} == set(variants)
