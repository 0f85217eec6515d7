"""Time-decayed popularity per item: what is trending now."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

__all__ = ["DecayedPopularity"]


class DecayedPopularity:
    """Exponentially decayed interaction counts per item index.

    Each interaction adds ``weight`` that halves every ``half_life`` seconds. Scores are kept
    relative to a reference time and rescaled now and then, so an update is O(1) and reading
    all scores is one vector operation.

    Examples
    --------
    >>> pop = DecayedPopularity(half_life=3600.0)
    >>> pop.update(0, ts=0.0)
    >>> pop.update(1, ts=3600.0)
    >>> pop.scores(3600.0, 2).round(3).tolist()
    [0.5, 1.0]
    """

    def __init__(self, half_life: float, capacity: int = 1024) -> None:
        self.half_life = half_life
        self._values: NDArray[np.float64] = np.zeros(capacity, dtype=np.float64)
        self._t_ref: float | None = None
        #: whether every count is >= 0 (no negative weight was ever added), so that
        #: clipping the scores at 0 can be skipped
        self.nonnegative = True

    def _factor(self, ts: float) -> float:
        assert self._t_ref is not None
        # clamped: a time millennia of half-lives away (a bad timestamp) must not overflow;
        # 2**1000 already decays any count to nothing
        exponent = min(max((ts - self._t_ref) / self.half_life, -1000.0), 1000.0)
        return math.pow(2.0, exponent)

    def _prepare(self, top: int, ts: float, weight: float) -> float:
        """Room for item ``top``, the reference time set (rebased before ``2**exponent``
        overflows the float range), and the factor ``2**exponent`` that a count of ``weight``
        at ``ts`` is multiplied by."""
        if top >= self._values.shape[0]:
            self._values = np.concatenate(
                [self._values, np.zeros(max(top + 1, self._values.shape[0]), dtype=np.float64)]
            )
        if self._t_ref is None:
            self._t_ref = ts
        if not weight >= 0:
            self.nonnegative = False
        exponent = (ts - self._t_ref) / self.half_life
        if exponent > 60.0:
            self._values *= math.pow(2.0, -exponent)
            self._t_ref = ts
            exponent = 0.0
        return math.pow(2.0, exponent)

    def update(self, index: int, ts: float, weight: float = 1.0) -> None:
        """Count one interaction with item ``index`` at time ``ts``."""
        factor = self._prepare(index, ts, weight)
        self._values[index] += weight * factor

    def scores(self, now: float, n: int) -> NDArray[np.float64]:
        """Decayed counts of the first ``n`` items as of ``now``."""
        m = min(n, self._values.shape[0])
        if self._t_ref is not None and m == n:  # the usual case: one division, no copy
            out: NDArray[np.float64] = self._values[:n] / self._factor(now)
            return out
        out = np.zeros(n, dtype=np.float64)
        if self._t_ref is not None and m:
            out[:m] = self._values[:m] / self._factor(now)
        return out

    def update_many(self, indexes: NDArray[np.int64], ts: float, weight: float = 1.0) -> None:
        """Count one interaction with each of ``indexes`` (repeats count again) at ``ts``:
        :meth:`update` for each in turn, bit for bit, in a few vector operations."""
        if indexes.size == 0:
            return
        factor = self._prepare(int(indexes.max()), ts, weight)
        # unbuffered: a repeated index is added to as often as it occurs, in order
        np.add.at(self._values, indexes, weight * factor)

    def at(self, indexes: NDArray[np.int64], now: float) -> NDArray[np.float64]:
        """Decayed counts of ``indexes`` as of ``now``: ``scores(now, n)[indexes]`` bit for
        bit, without the whole catalogue."""
        out = np.zeros(indexes.size, dtype=np.float64)
        if self._t_ref is not None and indexes.size:
            held = indexes < self._values.shape[0]
            out[held] = self._values[indexes[held]] / self._factor(now)
        return out

    def top(self, now: float, n: int) -> float:
        """``max(scores(now, n).max(), 0)`` bit for bit: division by the (positive) decay
        factor is monotone under rounding, so the largest stored value gives the largest
        score, and the array is never divided."""
        m = min(n, self._values.shape[0])
        if self._t_ref is None or m == 0:
            return 0.0
        return max(float(self._values[:m].max()) / self._factor(now), 0.0)

    def reset(self, index: int) -> None:
        """Forget item ``index`` (its slot is about to be reused)."""
        if index < self._values.shape[0]:
            self._values[index] = 0.0

    def value(self, index: int, now: float) -> float:
        """The decayed count of item ``index`` as of ``now``."""
        if self._t_ref is None or index >= self._values.shape[0]:
            return 0.0
        return float(self._values[index]) / self._factor(now)
