"""Decayed statistics never overflow on timestamps far apart (an event stamped 1970 next to
one stamped today): found by the pipeline fuzz test, an OverflowError while serving."""

from __future__ import annotations

import numpy as np

from stream.models.covisitation import CoVisitation
from stream.models.popularity import DecayedPopularity


def test_popularity_far_apart_in_time() -> None:
    pop = DecayedPopularity(half_life=3600.0)
    pop.update(0, 0.0, 1.0)
    assert (pop.scores(1.7e9, 2) < 1e-300).all()  # decayed to nothing, no overflow
    assert pop.value(0, 1.7e9) < 1e-300
    assert np.isfinite(pop.scores(-1.7e9, 1)).all()  # asked about a time long before


def test_covisitation_far_apart_in_time() -> None:
    cv = CoVisitation(neighbors=4, half_life=3600.0)
    cv.add(0, np.array([1]), 1.0, 1.7e9)
    assert np.isfinite(cv.decay_to(0.0))  # long before: clamped, finite
    assert cv.decay_to(1.7e12) < 1e-300  # long after: nothing left
