"""The sum and the top of the decayed counts, kept as counts change, equal what the whole
catalogue's scores give, through growth, negative weights (forgets), resets (expiry) and
the rebasing of the reference time."""

from __future__ import annotations

import numpy as np
import pytest

from stream.models.popularity import DecayedPopularity


def test_total_and_top_follow_every_kind_of_change() -> None:
    rng = np.random.default_rng(3)
    pop = DecayedPopularity(half_life=60.0, capacity=4)
    ts = 0.0
    for step in range(3000):
        ts += float(rng.exponential(5.0))  # 3000 steps: far past a rebase (60 half-lives)
        kind = rng.random()
        index = int(rng.integers(0, 200))
        if kind < 0.6:
            pop.update(index, ts, float(rng.uniform(0.5, 2.0)))
        elif kind < 0.8:
            # a record of item facts: repeats, and takings back among the additions
            pop.add_at(rng.integers(0, 200, size=8), rng.uniform(-0.5, 2.0, size=8), ts)
        elif kind < 0.9:
            pop.update(index, ts, -float(rng.uniform(0.1, 1.0)))  # a forget takes back
        else:
            pop.reset(index)  # an expiry
        scores = pop.scores(ts, 200)
        assert pop.total(ts) == pytest.approx(float(scores.sum()), rel=1e-9, abs=1e-9), step
        assert pop.top(ts) == max(float(scores.max()), 0.0), step


def test_an_empty_counter_has_nothing() -> None:
    pop = DecayedPopularity(half_life=60.0)
    assert pop.total(10.0) == 0.0 and pop.top(10.0) == 0.0


def test_counts_at_items_past_the_array_are_zero() -> None:
    pop = DecayedPopularity(half_life=3600.0, capacity=4)
    pop.update(1, ts=0.0, weight=2.0)
    assert pop.at(np.array([1, 0]), 3600.0).tolist() == [1.0, 0.0]
    assert pop.at(np.array([1, 9]), 3600.0).tolist() == [1.0, 0.0]
    assert pop.at(np.zeros(0, dtype=np.int64), 3600.0).size == 0
