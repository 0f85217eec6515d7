"""The cheap array operations give what the numpy calls they replace give, bit for bit."""

from __future__ import annotations

import numpy as np

from stream.models.arrays import norm


def test_norm_is_numpys_bit_for_bit() -> None:
    rng = np.random.default_rng(3)
    for size in (0, 1, 7, 256, 1000):
        for scale in (1e-30, 1.0, 1e30):
            vector = rng.standard_normal(size) * scale
            vector[rng.random(size) < 0.5] = 0.0
            assert norm(vector) == float(np.linalg.norm(vector))
