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
    all scores is one vector operation. The sum and the largest of all scores are kept as
    they change (:meth:`total`, :meth:`top`): reading them costs nothing per item.

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
        #: the sum of the stored values, kept as they change
        self._sum = 0.0
        #: the index of the largest stored value (-1: to be found again, after the largest
        #: went down)
        self._top = -1

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
            self._sum = float(self._values.sum())
            self._t_ref = ts
            exponent = 0.0
        return math.pow(2.0, exponent)

    def _raised(self, index: int, weight: float) -> None:
        """Item ``index`` changed by ``weight`` (stored units): the top follows."""
        top = self._top
        if weight >= 0:
            if top >= 0 and self._values[index] > self._values[top]:
                self._top = index
        elif index == top:
            self._top = -1

    def update(self, index: int, ts: float, weight: float = 1.0) -> None:
        """Count one interaction with item ``index`` at time ``ts``."""
        factor = self._prepare(index, ts, weight)
        amount = weight * factor
        self._values[index] += amount
        self._sum += amount
        self._raised(index, amount)

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

    def add_at(self, indexes: NDArray[np.int64], amounts: NDArray[np.float64], ts: float
               ) -> None:
        """Add ``amounts`` (weights as of ``ts``) to ``indexes`` (repeats add again) in one
        scatter-add: what a record of item facts changes (see
        :func:`~stream.models.facts.record_facts`); :meth:`update` of each in turn, up to
        rounding."""
        if indexes.size == 0:
            return
        factor = self._prepare(int(indexes.max()), ts, float(amounts.min()))
        stored = amounts * factor
        np.add.at(self._values, indexes, stored)
        self._sum += float(stored.sum())
        if self._top >= 0 and bool(np.any(stored < 0)) and bool(np.any(indexes == self._top)):
            self._top = -1
        elif self._top >= 0:
            best = int(indexes[int(np.argmax(self._values[indexes]))])
            if self._values[best] > self._values[self._top]:
                self._top = best

    def at(self, indexes: NDArray[np.int64], now: float) -> NDArray[np.float64]:
        """Decayed counts of ``indexes`` as of ``now``: ``scores(now, n)[indexes]`` bit for
        bit, without the whole catalogue."""
        if self._t_ref is None or not indexes.size:
            return np.zeros(indexes.size, dtype=np.float64)
        held = indexes < self._values.shape[0]
        if held.all():  # the usual case: no masks
            out: NDArray[np.float64] = self._values[indexes] / self._factor(now)
            return out
        out = np.zeros(indexes.size, dtype=np.float64)
        out[held] = self._values[indexes[held]] / self._factor(now)
        return out

    def top(self, now: float) -> float:
        """``max(scores(now, n).max(), 0)`` over every item, bit for bit: division by the
        (positive) decay factor is monotone under rounding, so the largest stored value gives
        the largest score. Found again only after the largest went down (a forget, an
        expiry); otherwise kept as counts grow."""
        if self._t_ref is None:
            return 0.0
        if self._top < 0:
            self._top = int(np.argmax(self._values))
        return max(float(self._values[self._top]) / self._factor(now), 0.0)

    def total(self, now: float) -> float:
        """The sum of every item's decayed count as of ``now`` (kept as counts change: equal
        to summing :meth:`scores` up to rounding)."""
        if self._t_ref is None:
            return 0.0
        return self._sum / self._factor(now)

    def reset(self, index: int) -> None:
        """Forget item ``index`` (its slot is about to be reused)."""
        if index < self._values.shape[0]:
            self._sum -= float(self._values[index])
            self._values[index] = 0.0
            if index == self._top:
                self._top = -1

    def value(self, index: int, now: float) -> float:
        """The decayed count of item ``index`` as of ``now``."""
        if self._t_ref is None or index >= self._values.shape[0]:
            return 0.0
        return float(self._values[index]) / self._factor(now)
