"""What the dev tools read from a running worker and how they summarise it: its ``/metrics``
samples summed, and percentiles of latencies."""

from __future__ import annotations

import math
import urllib.request
from collections.abc import Sequence

from prometheus_client.parser import text_string_to_metric_families

__all__ = ["TOLD_APART", "percentile", "scrape"]

#: labels the demo and the tests tell samples apart by: event type, dead-letter reason and
#: A/B variant (every other label, e.g. topic and partition, is summed away)
TOLD_APART = ("type", "reason", "variant")


def scrape(port: int, labels: Sequence[str] = ()) -> dict[str, float]:
    """The ``stream_*`` samples of the worker's ``/metrics`` on ``port``, summed by name and
    the ``labels`` named, e.g. ``stream_events_consumed_total{type=click}`` with
    ``labels=("type",)``; with none, every label is summed away."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:
        text = resp.read().decode()
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if not sample.name.startswith("stream_") or sample.name.endswith("_created"):
                continue
            kept = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()) if k in labels)
            key = f"{sample.name}{{{kept}}}" if kept else sample.name
            out[key] = out.get(key, 0.0) + sample.value
    return out


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) by the nearest-rank method; NaN when empty.

    >>> percentile([4.0, 1.0, 3.0, 2.0], 0.5), percentile([4.0, 1.0, 3.0, 2.0], 0.99)
    (2.0, 4.0)
    """
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]
