"""Metric names the dashboard and the alert rules may use, and how to find them in PromQL.

``exported_metric_names()`` reads what ``stream.metrics.Metrics`` registers (the source of
truth). ``ISSUE7_METRICS`` lists, as exposed on ``/metrics``, the names that issue 7 adds or
that come from elsewhere (process collector, Prometheus's own ``up``): the test that scrapes a
running worker checks that every name the dashboard and the alerts use is really exported.
"""

from __future__ import annotations

import re

from prometheus_client import CollectorRegistry

from stream.metrics import Metrics

__all__ = ["ISSUE7_METRICS", "exported_metric_names", "known_metric_names", "promql_metric_names"]

#: Names as they appear on /metrics (counters with ``_total``, histograms by their series).
ISSUE7_METRICS: list[str] = [
    # consumer lag per topic and partition
    "stream_consumer_lag_messages",
    # live quality per variant: counters from which PromQL computes HR, MRR, NDCG over a window
    "stream_quality_clicks_total",
    "stream_quality_hits_total",
    "stream_quality_reciprocal_rank_total",
    "stream_quality_ndcg_total",
    # ... and rolling gauges
    "stream_quality_hit_rate_ratio",
    "stream_quality_ndcg_ratio",
    "stream_quality_mrr_ratio",
    # sentiment
    "stream_sentiment_scored_total",
    "stream_item_sentiment_items",
    # model update time (histogram)
    "stream_model_update_seconds_bucket",
    "stream_model_update_seconds_sum",
    "stream_model_update_seconds_count",
    # the process collector (prometheus_client.ProcessCollector on the worker's registry)
    "process_resident_memory_bytes",
    "process_cpu_seconds_total",
    # set by Prometheus for every target it scrapes
    "up",
]

_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "info": ("_info",),
}


def exported_metric_names() -> set[str]:
    """Every series name ``stream.metrics.Metrics`` exposes, labelled or not."""
    registry = CollectorRegistry()
    Metrics(registry)
    names: set[str] = set()
    for family in registry.collect():
        for suffix in _SUFFIXES.get(family.type, ("",)):
            names.add(family.name + suffix)
    return names


def known_metric_names() -> set[str]:
    """Names the deploy files may use: exported by stream/metrics.py or listed above."""
    return exported_metric_names() | set(ISSUE7_METRICS)


_KEYWORDS = frozenset(
    {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
     "bool", "offset", "inf", "nan", "atan2"}
)


def promql_metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression (or a Grafana query) reads.

    Strings, label matchers, range selectors, grouping clauses and Grafana variables are
    removed first; what remains that looks like an identifier and is not a function call or a
    keyword is a metric name. ``label_values(expr, label)`` (Grafana) reads ``expr``'s names.
    """
    s = re.sub(r"label_values\s*\((.*),\s*[a-zA-Z_]\w*\s*\)", r"(\1)", expr, flags=re.S)
    s = re.sub(r'"(?:\\.|[^"\\])*"', '""', s)
    s = re.sub(r"\{[^}]*\}", " ", s)
    s = re.sub(r"\[[^\]]*\]", " ", s)
    s = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    s = re.sub(r"\$\{?\w+\}?", " ", s)
    names: set[str] = set()
    for m in re.finditer(r"(?<![\w.:$])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", s):
        name, call = m.group(1), m.group(2)
        if call or name.lower() in _KEYWORDS:
            continue
        names.add(name)
    return names
