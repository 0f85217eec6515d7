"""The cost model of item facts in a cluster, fitted to measured workers: pure arithmetic,
no broker, no processes (those are :mod:`stream.bench.cluster`'s).

Every worker spends ``p`` CPU seconds per event it owns (consuming it, learning, ranking,
publishing: everything but the item facts) and ``a`` per event of the whole cluster whose
facts it applies (every worker applies every worker's, its own included). A worker's CPU
over a run is then ``own p + applied a``; with ``n`` workers each owning ``r`` events/s,
``r (p + n a) = 1``, so the cluster handles ``n / (p + n a)`` events/s, never more than
``1 / a`` however many workers are added.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MODEL_SIZES",
    "WorkerCpu",
    "cluster_rate",
    "cost_model",
    "counter_costs",
    "least_squares_costs",
]

#: cluster sizes the report gives the model's throughput for
MODEL_SIZES = (2, 10, 100)


@dataclass(frozen=True, slots=True)
class WorkerCpu:
    """What one worker did over a timed window, from its counters."""

    #: interactions it consumed (its own partitions' events)
    own_events: float
    #: events whose item facts it applied (every worker's, its own included)
    facts_events: float
    #: its process's CPU seconds (user and system)
    cpu_seconds: float
    #: the part of them spent applying item facts
    facts_cpu_seconds: float

    def predicted_cpu(self, p: float, a: float) -> float:
        """The CPU seconds the model gives this worker: ``own p + applied a``.

        >>> WorkerCpu(1000, 3000, 0.0, 0.0).predicted_cpu(p=4e-4, a=5e-5)
        0.55
        """
        return self.own_events * p + self.facts_events * a


def counter_costs(workers: Iterable[WorkerCpu]) -> tuple[float, float]:
    """``(p, a)`` from the workers' counters: the CPU not spent on facts per own event, and
    the facts' CPU per event applied (NaN where there was none).

    >>> counter_costs([WorkerCpu(1000, 2000, 0.5, 0.1), WorkerCpu(3000, 2000, 1.3, 0.1)])
    (0.0004, 5e-05)
    """
    own = applied = cpu = facts = 0.0
    for w in workers:
        own += w.own_events
        applied += w.facts_events
        cpu += w.cpu_seconds
        facts += w.facts_cpu_seconds
    return ((cpu - facts) / own if own > 0 else math.nan,
            facts / applied if applied > 0 else math.nan)


def least_squares_costs(workers: Sequence[WorkerCpu]) -> tuple[float, float] | None:
    """``(p, a)`` that best fit ``cpu = own p + applied a`` over the workers (least squares on
    their whole CPU, the facts counter unused); None when the workers cannot tell ``p`` from
    ``a`` (own and applied events in the same proportion for all, e.g. single workers only).

    Every worker of a cluster applies the same facts, so ``applied`` differs between runs of
    different sizes only through the workload: CPU that grows with neither own nor applied
    events (idle polling, the facts topic's fetches) lands in ``a`` here.

    >>> workers = [WorkerCpu(2000, 2000, 1.1, 0.0), WorkerCpu(1000, 2000, 0.6, 0.0)]
    >>> [round(x, 6) for x in least_squares_costs(workers)]
    [0.0005, 5e-05]
    >>> least_squares_costs([WorkerCpu(2000, 2000, 1.1, 0.1)]) is None
    True
    """
    soo = soa = saa = soc = sac = 0.0
    for w in workers:
        soo += w.own_events * w.own_events
        soa += w.own_events * w.facts_events
        saa += w.facts_events * w.facts_events
        soc += w.own_events * w.cpu_seconds
        sac += w.facts_events * w.cpu_seconds
    det = soo * saa - soa * soa
    # proportional columns: the determinant vanishes up to rounding
    if det <= 1e-9 * soo * saa or soo == 0.0:
        return None
    return (soc * saa - sac * soa) / det, (sac * soo - soc * soa) / det


def cluster_rate(p: float, a: float, workers: int, cores: int | None = None) -> float:
    """Events/s of a cluster of ``workers`` by the model: ``n / (p + n a)``; with ``cores``,
    workers beyond the cores share them, ``min(n, cores) / (p + n a)``.

    >>> round(cluster_rate(4e-4, 5e-5, 10)), round(cluster_rate(4e-4, 5e-5, 3, cores=2))
    (11111, 3636)
    """
    running = workers if cores is None else min(workers, cores)
    return running / (p + workers * a)


def cost_model(runs: Mapping[int, Sequence[WorkerCpu]], cores: int | None = None,
               sizes: Sequence[int] = MODEL_SIZES) -> dict[str, Any]:
    """The model fitted to measured clusters (``runs``: workers by cluster size) and checked
    against them.

    ``p`` and ``a`` come from the counters of the smallest cluster; each worker of every
    run gets its CPU predicted from them, next to what it measured (``excess_ratio``:
    measured over predicted, less 1). Also: ``p`` and ``a``
    from each run's own counters, the least-squares fit over every worker of every run,
    the throughput the model gives at ``sizes`` workers and its cap ``1 / a``, and, with
    ``cores``, the events/s it allows each measured size on a machine of that many cores.

    >>> one = [WorkerCpu(3000, 2000, 1.3, 0.1)]
    >>> two = [WorkerCpu(1600, 2000, 0.76, 0.1), WorkerCpu(1400, 2000, 0.7, 0.11)]
    >>> m = cost_model({1: one, 2: two}, sizes=(2, 10))
    >>> m["own_us_per_event"], m["facts_us_per_event"], m["cap_events_per_second"]
    (400.0, 50.0, 20000.0)
    >>> m["runs"][1]["workers"][0]["predicted_cpu_seconds"], m["cluster_events_per_second"]
    (0.74, {'2': 4000.0, '10': 11111.1})
    """
    if not runs:
        raise ValueError("no runs to fit the model to")
    base = min(runs)
    p, a = counter_costs(runs[base])
    out: dict[str, Any] = {
        "base_workers": base,
        "own_us_per_event": _us(p),
        "facts_us_per_event": _us(a),
        "cap_events_per_second": round(1 / a, 1) if a > 0 else None,
        "cluster_events_per_second": {str(n): round(cluster_rate(p, a, n), 1) for n in sizes},
        "runs": [],
    }
    everyone: list[WorkerCpu] = []
    for n in sorted(runs):
        workers = runs[n]
        everyone += workers
        run_p, run_a = counter_costs(workers)
        rows = []
        for w in workers:
            predicted = w.predicted_cpu(p, a)
            rows.append({
                "predicted_cpu_seconds": round(predicted, 3),
                "cpu_seconds": round(w.cpu_seconds, 3),
                # above 0: the worker spent more than the model gives it
                "excess_ratio": (round(w.cpu_seconds / predicted - 1, 4)
                                 if predicted > 0 else None),
            })
        run: dict[str, Any] = {"workers_in_cluster": n, "own_us_per_event": _us(run_p),
                               "facts_us_per_event": _us(run_a), "workers": rows}
        if cores is not None:
            run["model_events_per_second_here"] = round(cluster_rate(p, a, n, cores), 1)
        out["runs"].append(run)
    fitted = least_squares_costs(everyone)
    out["least_squares"] = None if fitted is None else {
        "own_us_per_event": _us(fitted[0]), "facts_us_per_event": _us(fitted[1]),
        "rms_error_seconds": round(math.sqrt(sum(
            (w.predicted_cpu(*fitted) - w.cpu_seconds) ** 2 for w in everyone) / len(everyone)),
            4),
        "workers": len(everyone),
    }
    return out


def _us(seconds: float) -> float | None:
    """Seconds per event as µs, rounded; None for NaN."""
    return None if math.isnan(seconds) else round(seconds * 1e6, 2)
