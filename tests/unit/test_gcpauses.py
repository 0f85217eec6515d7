"""The worker's garbage-collector pauses are measured, and what it loaded can be frozen out
of the collector's passes."""

from __future__ import annotations

import gc

from prometheus_client import CollectorRegistry

from stream.gcpauses import freeze_loaded, measure_gc_pauses
from stream.metrics import Metrics


def test_every_collection_is_timed_by_generation() -> None:
    metrics = Metrics(CollectorRegistry())
    callback = measure_gc_pauses(metrics)
    try:
        gc.collect(0)
        gc.collect()
    finally:
        gc.callbacks.remove(callback)
    registry = metrics.registry
    for generation in ("0", "2"):
        count = registry.get_sample_value("stream_gc_pause_seconds_count",
                                          {"generation": generation})
        assert count is not None and count >= 1
    total = registry.get_sample_value("stream_gc_pause_seconds_sum", {"generation": "2"})
    assert total is not None and total > 0


def test_what_was_loaded_is_frozen_and_later_objects_are_not() -> None:
    try:
        frozen = freeze_loaded()
        assert frozen == gc.get_freeze_count() > 1000  # the interpreter, pytest, stream
        later = [[n] for n in range(100)]
        assert gc.get_freeze_count() == frozen and gc.is_tracked(later[0])
    finally:
        gc.unfreeze()
    assert gc.get_freeze_count() == 0
