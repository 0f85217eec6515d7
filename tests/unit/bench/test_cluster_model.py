"""The cost model of item facts in a cluster: ``p`` and ``a`` recovered from workers whose
CPU follows the model, predictions, the least-squares fit and the modelled throughput."""

from __future__ import annotations

import math
import random

import pytest

from stream.bench.cluster_model import (
    WorkerCpu,
    cluster_rate,
    cost_model,
    counter_costs,
    least_squares_costs,
)

P, A = 450e-6, 40e-6  # CPU s per own event, per event's facts applied
EVENTS = 20_000


def _cluster(n: int, p: float = P, a: float = A, overhead: float = 0.0,
             noise: float = 0.0, seed: int = 0) -> list[WorkerCpu]:
    """``n`` workers splitting ``EVENTS`` unevenly, each applying every event's facts, their
    CPU ``own p + applied a`` (+ a fixed ``overhead`` and relative ``noise``)."""
    rng = random.Random(seed)
    shares = [1.0 + 0.2 * i for i in range(n)]
    owns = [EVENTS * s / sum(shares) for s in shares]
    out = []
    for own in owns:
        facts_cpu = EVENTS * a
        cpu = (own * p + facts_cpu + overhead) * (1 + rng.uniform(-noise, noise))
        out.append(WorkerCpu(own, EVENTS, cpu, facts_cpu))
    return out


def test_the_counters_give_p_and_a_of_any_cluster() -> None:
    for n in (1, 2, 3):
        p, a = counter_costs(_cluster(n))
        assert p == pytest.approx(P) and a == pytest.approx(A)
    assert all(math.isnan(x) for x in counter_costs([WorkerCpu(0, 0, 1.0, 0.0)]))


def test_least_squares_recovers_p_and_a_across_cluster_sizes() -> None:
    workers = _cluster(1) + _cluster(2) + _cluster(3)
    fitted = least_squares_costs(workers)
    assert fitted is not None
    assert fitted[0] == pytest.approx(P) and fitted[1] == pytest.approx(A)
    # with noise the fit stays close
    noisy = _cluster(1, noise=0.02, seed=1) + _cluster(2, noise=0.02, seed=2) + _cluster(
        3, noise=0.02, seed=3)
    fitted = least_squares_costs(noisy)
    assert fitted is not None
    assert fitted[0] == pytest.approx(P, rel=0.1) and fitted[1] == pytest.approx(A, rel=0.5)


def test_least_squares_puts_a_fixed_cost_per_worker_into_a() -> None:
    # every worker applies the same facts: CPU that grows with nothing looks like facts
    workers = _cluster(1, overhead=0.4) + _cluster(2, overhead=0.4) + _cluster(3, overhead=0.4)
    fitted = least_squares_costs(workers)
    assert fitted is not None
    assert fitted[0] == pytest.approx(P) and fitted[1] == pytest.approx(A + 0.4 / EVENTS)


def test_least_squares_needs_workers_that_tell_p_from_a() -> None:
    assert least_squares_costs([]) is None
    assert least_squares_costs(_cluster(1)) is None
    # two single-worker runs of different sizes: still own = applied in both
    assert least_squares_costs([WorkerCpu(1000, 1000, 0.5, 0.05),
                                WorkerCpu(3000, 3000, 1.5, 0.15)]) is None


def test_the_model_rate_grows_with_workers_towards_its_cap() -> None:
    rates = [cluster_rate(P, A, n) for n in (1, 2, 10, 100, 10_000)]
    assert rates == sorted(rates) and rates[-1] < 1 / A
    assert rates[-1] == pytest.approx(1 / A, rel=0.01)
    assert cluster_rate(P, A, 1) == pytest.approx(1 / (P + A))
    # workers beyond the cores only add facts to apply
    assert cluster_rate(P, A, 3, cores=2) < cluster_rate(P, A, 2, cores=2)


def test_cost_model_predicts_each_worker_from_the_smallest_cluster() -> None:
    runs = {1: _cluster(1), 2: _cluster(2), 3: _cluster(3, overhead=0.1)}
    model = cost_model(runs, cores=2)
    assert model["base_workers"] == 1
    assert model["own_us_per_event"] == pytest.approx(P * 1e6)
    assert model["facts_us_per_event"] == pytest.approx(A * 1e6)
    assert model["cap_events_per_second"] == pytest.approx(1 / A, rel=1e-3)
    assert set(model["cluster_events_per_second"]) == {"2", "10", "100"}
    assert model["cluster_events_per_second"]["10"] == pytest.approx(
        cluster_rate(P, A, 10), rel=1e-3)
    assert [r["workers_in_cluster"] for r in model["runs"]] == [1, 2, 3]
    for run in model["runs"][:2]:  # exactly the model: predicted = measured
        assert all(w["excess_ratio"] == pytest.approx(0.0, abs=1e-3) for w in run["workers"])
    three = model["runs"][2]
    assert len(three["workers"]) == 3
    # the overhead the model leaves out: measured above predicted, on every worker
    assert all(w["excess_ratio"] > 0 for w in three["workers"])
    assert three["model_events_per_second_here"] == pytest.approx(
        cluster_rate(P, A, 3, cores=2), rel=1e-3)
    ls = model["least_squares"]
    assert ls is not None and ls["workers"] == 6 and ls["rms_error_seconds"] >= 0


def test_cost_model_of_no_runs_is_an_error() -> None:
    with pytest.raises(ValueError, match="no runs"):
        cost_model({})
