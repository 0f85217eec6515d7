"""Online item-to-item co-visitation with time decay and a bounded neighbour list per item."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

__all__ = ["CoVisitation"]


class CoVisitation:
    """Decayed co-visitation counts ``C[i, j]`` kept as the top ``neighbors`` entries per row.

    Each row holds a fixed number of (neighbour, weight) slots in two preallocated arrays, so an
    update is a handful of vectorised comparisons and memory is ``capacity * neighbors * 8``
    bytes. A pair not yet in a full row takes the slot of the row's weakest neighbour: heavy
    pairs stay, rare ones churn at the tail (a space-saving approximation of the top-M).

    Weights halve every ``half_life`` seconds. Like :class:`~stream.models.DecayedPopularity`,
    they are stored relative to a reference time so an update never touches other entries.

    Parameters
    ----------
    neighbors
        Slots per item.
    half_life
        Half-life of a co-visit, seconds.
    capacity
        Initial number of item rows (grows by doubling).

    Examples
    --------
    >>> cv = CoVisitation(neighbors=4, half_life=86400.0)
    >>> cv.add(2, np.array([0, 1]), weight=1.0, ts=0.0)
    >>> cv.add(1, np.array([0]), weight=1.0, ts=0.0)
    >>> cv.row(0, now=0.0)
    {2: 1.0, 1: 1.0}
    """

    def __init__(self, neighbors: int = 200, half_life: float = 30 * 86400.0,
                 capacity: int = 1024) -> None:
        self.neighbors = neighbors
        self.half_life = half_life
        self.nbr: NDArray[np.int32] = np.full((capacity, neighbors), -1, dtype=np.int32)
        self.weight: NDArray[np.float32] = np.zeros((capacity, neighbors), dtype=np.float32)
        self.t_ref: float | None = None
        #: zeros between calls: where :meth:`scores_at` sums the slots it reads
        self._scratch: NDArray[np.float64] = np.zeros(capacity, dtype=np.float64)
        #: scratch of :meth:`scores_at` too: a position in the slots read, per column
        self._last: NDArray[np.int64] = np.zeros(capacity, dtype=np.int64)

    # --- time reference ---------------------------------------------------------------------

    def scale(self, ts: float) -> float:
        """The factor that turns a weight at time ``ts`` into stored units."""
        if self.t_ref is None:
            self.t_ref = ts
        exponent = (ts - self.t_ref) / self.half_life
        if exponent > 40.0:  # rebase before float32 loses its range
            self.weight *= np.float32(math.pow(2.0, -exponent))
            self.t_ref = ts
            exponent = 0.0
        return math.pow(2.0, exponent)

    def decay_to(self, now: float) -> float:
        """The factor that turns stored units into weights as of ``now``."""
        if self.t_ref is None:
            return 1.0
        # clamped like DecayedPopularity: a bad timestamp must not overflow
        return math.pow(2.0, min(max(-(now - self.t_ref) / self.half_life, -1000.0), 1000.0))

    def ensure_capacity(self, rows: int) -> None:
        """Grow the arrays to hold at least ``rows`` items."""
        cap = self.nbr.shape[0]
        if rows <= cap:
            return
        new_cap = max(rows, cap * 2)
        nbr = np.full((new_cap, self.neighbors), -1, dtype=np.int32)
        nbr[:cap] = self.nbr
        weight = np.zeros((new_cap, self.neighbors), dtype=np.float32)
        weight[:cap] = self.weight
        self.nbr, self.weight = nbr, weight

    # --- updates ----------------------------------------------------------------------------

    def add(self, item: int, others: NDArray[np.int64] | NDArray[np.int32], weight: float,
            ts: float) -> None:
        """Count a co-visit of ``item`` with each of ``others`` (both directions): one read
        (:meth:`add_pairs` of its pairs)."""
        others = others.astype(np.int64)
        self.add_pairs(np.full(others.size, item, dtype=np.int64), others,
                       np.full(others.size, weight), ts)

    def add_pairs(self, a: NDArray[np.int64], b: NDArray[np.int64],
                  amounts: NDArray[np.float64], ts: float) -> None:
        """Count co-visits of each ``a[k]`` with ``b[k]`` (both directions) of ``amounts``
        (weights as of ``ts``; a pair named again adds again), all at once: what a record of
        item facts adds (see :func:`~stream.models.facts.record_facts`).

        A pair a row holds grows; the new neighbours of a row take the slots of its lightest
        held ones, the heaviest new ones first when they are more than the row holds. One
        :meth:`add` per read does the same but that, in a full row, a neighbour new in the
        batch may take a slot another new one took before it.

        >>> cv = CoVisitation(neighbors=4, half_life=86400.0)
        >>> cv.add_pairs(np.array([2, 2, 1]), np.array([0, 1, 0]), np.ones(3), ts=0.0)
        >>> sorted(cv.row(0, now=0.0).items())
        [(1, 1.0), (2, 1.0)]
        """
        keep = a != b
        if not keep.all():
            a, b, amounts = a[keep], b[keep], amounts[keep]
        if a.size == 0:
            return
        self.ensure_capacity(int(max(a.max(), b.max())) + 1)
        n = self.nbr.shape[0]
        scale = self.scale(ts)
        # both directions, each (row, column) once
        keys, inverse = np.unique(np.concatenate([a * n + b, b * n + a]), return_inverse=True)
        stored = np.bincount(inverse, weights=np.concatenate([amounts, amounts]) * scale
                             ).astype(np.float32)
        rows, cols = keys // n, (keys % n).astype(np.int32)
        # where each row holds the column (the first slot if it does not: checked)
        slot = (self.nbr[rows] == cols[:, None]).argmax(axis=1)
        found = self.nbr[rows, slot] == cols
        if found.any():
            self.weight[rows[found], slot[found]] += stored[found]
        missing = ~found
        if not missing.any():
            return
        rows, cols, stored = rows[missing], cols[missing], stored[missing]
        order = np.lexsort((-stored, rows))  # by row, the heaviest first
        rows, cols, stored = rows[order], cols[order], stored[order]
        held, start, count = np.unique(rows, return_index=True, return_counts=True)
        rank = np.arange(rows.size) - np.repeat(start, count)
        fits = rank < self.neighbors
        # each row's lightest slots (empty slots weigh 0: taken first), as many as it takes
        # new neighbours: the lightest alone for a row with one (most rows)
        weights = self.weight[held]
        slots_of = np.empty((held.size, self.neighbors), dtype=np.intp)
        one = count == 1
        slots_of[one, 0] = weights[one].argmin(axis=1)
        for m in np.unique(count[~one]).tolist():  # rows taking m new neighbours
            group = np.flatnonzero(count == m)
            if m < self.neighbors:
                slots_of[group, :m] = np.argpartition(weights[group], m - 1, axis=1)[:, :m]
            else:
                slots_of[group] = np.arange(self.neighbors)
        at = np.repeat(np.arange(held.size), count)[fits]
        slots = slots_of[at, rank[fits]]
        self.nbr[rows[fits], slots] = cols[fits]
        self.weight[rows[fits], slots] = stored[fits]

    def subtract(self, item: int, others: NDArray[np.int64] | NDArray[np.int32],
                 amount: float) -> None:
        """Remove ``amount`` stored units of the co-visits of ``item`` with ``others`` (both
        directions), as far as the slots still hold them; emptied slots are freed."""
        for a, b in ((item, others), (others, item)):
            rows = np.atleast_1d(np.asarray(a, dtype=np.int64))
            cols = np.atleast_1d(np.asarray(b, dtype=np.int64))
            rows, cols = np.broadcast_arrays(rows, cols)
            match = self.nbr[rows] == cols[:, None]
            hit = match.any(axis=1)
            r, s = rows[hit], match[hit].argmax(axis=1)
            self.weight[r, s] -= np.float32(amount)
            dead = self.weight[r, s] <= np.float32(amount) * 1e-3
            self.weight[r[dead], s[dead]] = 0.0
            self.nbr[r[dead], s[dead]] = -1

    def clear_item(self, item: int) -> None:
        """Drop an item's row and every reference to it (its slot is about to be reused)."""
        if item >= self.nbr.shape[0]:
            return
        self.nbr[item] = -1
        self.weight[item] = 0.0
        where = self.nbr == item
        self.nbr[where] = -1
        self.weight[where] = 0.0

    # --- reading ----------------------------------------------------------------------------

    def scores(self, rows: NDArray[np.int64], row_weights: NDArray[np.float64], n: int
               ) -> NDArray[np.float64]:
        """``sum_r row_weights[r] * C[rows[r], :]`` over the first ``n`` items (stored units)."""
        out = np.zeros(n, dtype=np.float64)
        if rows.size == 0:
            return out
        cols, values = self._slots(rows, row_weights, n)
        out += np.bincount(cols, weights=values, minlength=n)[:n]
        return out

    def _slots(self, rows: NDArray[np.int64], row_weights: NDArray[np.float64], n: int
               ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """The neighbours below ``n`` that ``rows`` hold, row by row in slot order, and their
        weights times their row's weight (stored units): what :meth:`scores` sums."""
        inside = rows < self.nbr.shape[0]  # rows never co-visited hold nothing
        if not inside.all():
            rows, row_weights = rows[inside], row_weights[inside]
        nbr = self.nbr[rows]
        # 0 <= neighbour < n in one comparison: read as unsigned, an empty slot's -1 is the
        # largest value there is
        valid = nbr.view(np.uint32) < n
        values: NDArray[np.float64] = (self.weight[rows] * row_weights[:, None])[valid]
        return nbr[valid].astype(np.int64), values

    def held(self, rows: NDArray[np.int64]
             ) -> tuple[NDArray[np.intp], NDArray[np.int64], NDArray[np.float32]]:
        """The slots ``rows`` hold, row by row and in slot order (the order :meth:`scores`
        adds them in): for each, the position in ``rows`` of its row, its neighbour and its
        weight (stored units). A cost that follows the slots read, not the catalogue.

        >>> cv = CoVisitation(neighbors=4, half_life=86400.0)
        >>> cv.add(2, np.array([0, 1]), weight=1.0, ts=0.0)
        >>> at, cols, weights = cv.held(np.array([1, 2, 7]))
        >>> at.tolist(), cols.tolist(), weights.tolist()
        ([0, 1, 1], [2, 0, 1], [1.0, 1.0, 1.0])
        """
        inside = rows < self.nbr.shape[0]
        at = np.flatnonzero(inside)
        held = rows[inside]
        nbr = self.nbr[held]
        valid = nbr >= 0
        which = np.repeat(at, np.count_nonzero(valid, axis=1))
        return which, nbr[valid].astype(np.int64), self.weight[held][valid]

    def scores_at(self, rows: NDArray[np.int64], row_weights: NDArray[np.float64], n: int,
                  items: NDArray[np.int64],
                  column_scale: Callable[[NDArray[np.int64]], NDArray[np.float64]]
                  ) -> tuple[NDArray[np.float64], float]:
        """``(scores(rows, row_weights, n) * column_scale)`` at ``items``, and its maximum
        over every column (0 at least), bit for bit, at a cost that follows the slots read:
        the sums go into a scratch array that only the touched columns are read from and
        reset in (a pass over ``n`` items only where they are not many more than the
        slots). ``column_scale`` must be finite: a column no slot touches scores 0 whatever
        its scale, and is not asked for it.

        >>> cv = CoVisitation(neighbors=4, half_life=86400.0)
        >>> cv.add(2, np.array([0, 1]), weight=1.0, ts=0.0)
        >>> at, top = cv.scores_at(np.array([0, 1]), np.array([1.0, 0.5]), 3,
        ...                        np.array([2, 0]), lambda cols: np.ones(cols.size))
        >>> at.tolist(), top
        ([1.5, 0.0], 1.5)
        """
        cols, values = self._slots(rows, row_weights, n)
        if cols.size == 0:
            return np.zeros(items.size, dtype=np.float64), 0.0
        if 2 * cols.size >= n:  # a pass over the catalogue costs less than the scratch
            sums: NDArray[np.float64] = np.bincount(cols, weights=values,
                                                    minlength=n)[:n].astype(np.float64, copy=False)
            hit = np.flatnonzero(sums)  # (only co-visited columns need scaling)
            sums[hit] *= column_scale(hit)
            return sums[items], max(float(sums.max()), 0.0)
        if self._scratch.shape[0] < n:
            size = max(n, 2 * self._scratch.shape[0])
            self._scratch = np.zeros(size, dtype=np.float64)
            self._last = np.zeros(size, dtype=np.int64)
        acc, last = self._scratch, self._last
        np.add.at(acc, cols, values)
        # each column once, without sorting: where a column occurs last (an assignment to
        # a repeated index leaves the last value)
        order = np.arange(cols.size)
        last[cols] = order
        touched = cols[last[cols] == order]
        try:
            # scaled in place, once: ``items`` read their scores from the touched columns
            # (the others hold 0, as 0 times a finite scale is)
            scaled = acc[touched] * column_scale(touched)
            acc[touched] = scaled
            top = float(scaled.max())
            at: NDArray[np.float64] = acc[items]
        finally:
            acc[touched] = 0.0
        return at, max(top, 0.0)

    def row(self, item: int, now: float) -> dict[int, float]:
        """The neighbours of ``item`` and their weights as of ``now``."""
        if item >= self.nbr.shape[0]:
            return {}
        factor = self.decay_to(now)
        valid = self.nbr[item] >= 0
        return {int(j): round(float(w) * factor, 6)
                for j, w in zip(self.nbr[item][valid], self.weight[item][valid], strict=True)}
