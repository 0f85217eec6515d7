"""Python's cyclic garbage collector, seen and tamed: its pauses measured, and what a
worker loads before it serves (the catalogue, the item facts) kept out of its passes."""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable
from typing import Any

from stream.metrics import Metrics

__all__ = ["freeze_loaded", "measure_gc_pauses"]

log = logging.getLogger(__name__)


GcCallback = Callable[[str, dict[str, Any]], None]


def measure_gc_pauses(metrics: Metrics) -> GcCallback:
    """Observe every collection's duration in ``stream_gc_pause_seconds`` (by generation)
    from now on: the collector calls back around each collection. Returns the callback
    (``gc.callbacks.remove`` it to stop)."""
    started: list[float] = [0.0]

    def callback(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            metrics.gc_pause.labels(str(info["generation"])).observe(
                time.perf_counter() - started[0])

    gc.callbacks.append(callback)
    return callback


def freeze_loaded() -> int:
    """Collect once, then move every object alive now out of the collector's reach
    (``gc.freeze``): what a worker loaded before serving (Faust and its app, the catalogue,
    caught-up item statistics) lives as long as the process and holds no garbage, but a
    collection of the oldest generation would walk all of it, a pause of 100 ms and more in
    the middle of a batch. Objects made afterwards are collected as usual. Returns how many
    objects were frozen."""
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.info("%d objects loaded before serving are out of the garbage collector's passes",
             frozen)
    return frozen
