"""The cheap array operations give what the numpy calls they replace give, bit for bit."""

from __future__ import annotations

import numpy as np

from stream.models.arrays import distinct, distinct_positions, norm


def test_norm_is_numpys_bit_for_bit() -> None:
    rng = np.random.default_rng(3)
    for size in (0, 1, 7, 256, 1000):
        for scale in (1e-30, 1.0, 1e30):
            vector = rng.standard_normal(size) * scale
            vector[rng.random(size) < 0.5] = 0.0
            assert norm(vector) == float(np.linalg.norm(vector))


def test_distinct_positions_is_distinct_and_searchsorted() -> None:
    rng = np.random.default_rng(3)
    for size in (0, 1, 2, 17, 1000, 2047, 2048, 5000):
        values = rng.integers(0, max(size // 3, 1), size=size).astype(np.int64)
        union, at = distinct_positions(values)
        expected = distinct(values)
        assert union.tolist() == expected.tolist()
        assert at.tolist() == np.searchsorted(expected, values).tolist()
        assert at.dtype == np.intp


def test_distinct_positions_of_large_keys() -> None:
    # many keys too large for one tagged sort take numpy's stable sort: the same result
    values = np.tile(np.array([2**61, 5, 2**61, -3], dtype=np.int64), 1000)
    union, at = distinct_positions(values)
    assert union.tolist() == [-3, 5, 2**61]
    assert at.tolist() == [2, 1, 2, 0] * 1000
