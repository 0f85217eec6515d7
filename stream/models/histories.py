"""Per-user state in preallocated arrays: a bounded history of what each user read."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["UserHistories"]


class UserHistories:
    """The last ``size`` items each user clicked or read, with when and how much.

    One row per user in fixed-width arrays: item indexes (``int32``, -1 when empty), event
    times (``float32`` seconds after :attr:`epoch`, about 2 s resolution over a year) and
    weights (``float16``). A user costs ``size * 10`` bytes plus a few scalars, however long
    they stay. Rows of forgotten or evicted users are reused.

    Examples
    --------
    >>> users = UserHistories(size=3)
    >>> row = users.ensure("u1", ts=0.0)
    >>> for item in (5, 6, 7, 8):
    ...     users.append(row, item, ts=float(item), weight=1.0)
    >>> users.items(row).tolist()
    [6, 7, 8]
    """

    def __init__(self, size: int = 200, capacity: int = 1024) -> None:
        self.size = size
        self.index: dict[str, int] = {}
        self.ids: list[str] = []
        self._free: list[int] = []
        self.epoch: float | None = None
        self.hist_items: NDArray[np.int32] = np.full((capacity, size), -1, dtype=np.int32)
        self.hist_ts: NDArray[np.float32] = np.zeros((capacity, size), dtype=np.float32)
        self.hist_weight: NDArray[np.float16] = np.zeros((capacity, size), dtype=np.float16)
        self.length: NDArray[np.int32] = np.zeros(capacity, dtype=np.int32)
        self.head: NDArray[np.int32] = np.zeros(capacity, dtype=np.int32)
        self.n_items: NDArray[np.int64] = np.zeros(capacity, dtype=np.int64)
        self.last_ts: NDArray[np.float64] = np.zeros(capacity, dtype=np.float64)

    def __len__(self) -> int:
        return len(self.index)

    def __contains__(self, user_id: object) -> bool:
        return user_id in self.index

    def _grow(self) -> None:
        cap = self.hist_items.shape[0] * 2

        def grown(a: NDArray[np.generic], fill: float) -> NDArray[np.generic]:
            out = np.full((cap, *a.shape[1:]), fill, dtype=a.dtype)
            out[: a.shape[0]] = a
            return out

        self.hist_items = grown(self.hist_items, -1)  # type: ignore[assignment]
        self.hist_ts = grown(self.hist_ts, 0)  # type: ignore[assignment]
        self.hist_weight = grown(self.hist_weight, 0)  # type: ignore[assignment]
        self.length = grown(self.length, 0)  # type: ignore[assignment]
        self.head = grown(self.head, 0)  # type: ignore[assignment]
        self.n_items = grown(self.n_items, 0)  # type: ignore[assignment]
        self.last_ts = grown(self.last_ts, 0)  # type: ignore[assignment]

    def ensure(self, user_id: str, ts: float) -> int:
        """The row of ``user_id``, creating an empty one if needed."""
        row = self.index.get(user_id)
        if row is not None:
            return row
        if self.epoch is None:
            self.epoch = ts
        if self._free:
            row = self._free.pop()
            self.ids[row] = user_id
        else:
            row = len(self.ids)
            if row >= self.hist_items.shape[0]:
                self._grow()
            self.ids.append(user_id)
        self.index[user_id] = row
        self._clear(row)
        self.last_ts[row] = ts
        return row

    def _clear(self, row: int) -> None:
        self.hist_items[row] = -1
        self.hist_ts[row] = 0.0
        self.hist_weight[row] = 0.0
        self.length[row] = 0
        self.head[row] = 0
        self.n_items[row] = 0
        self.last_ts[row] = 0.0

    def remove(self, user_id: str) -> int | None:
        """Erase a user's row; returns the freed row (or ``None`` if unknown)."""
        row = self.index.pop(user_id, None)
        if row is None:
            return None
        self._clear(row)
        self.ids[row] = ""
        self._free.append(row)
        return row

    def position(self, row: int, item: int) -> int:
        """The slot of ``item`` in the user's history, or -1."""
        hits = np.flatnonzero(self.hist_items[row] == item)
        return int(hits[0]) if hits.size else -1

    def append(self, row: int, item: int, ts: float, weight: float) -> None:
        """Add an item the user has not read yet (the oldest one drops out when full)."""
        assert self.epoch is not None
        slot = int(self.head[row])
        self.hist_items[row, slot] = item
        self.hist_ts[row, slot] = ts - self.epoch
        self.hist_weight[row, slot] = weight
        self.head[row] = (slot + 1) % self.size
        self.length[row] = min(int(self.length[row]) + 1, self.size)
        self.n_items[row] += 1
        self.last_ts[row] = max(float(self.last_ts[row]), ts)

    def _order(self, row: int) -> NDArray[np.int64]:
        n = int(self.length[row])
        start = (int(self.head[row]) - n) % self.size
        return (start + np.arange(n)) % self.size

    def items(self, row: int) -> NDArray[np.int32]:
        """Item indexes, oldest first."""
        out: NDArray[np.int32] = self.hist_items[row, self._order(row)]
        return out

    def entries(self, row: int) -> tuple[NDArray[np.int32], NDArray[np.float64],
                                         NDArray[np.float64]]:
        """Item indexes, absolute times and weights, oldest first."""
        order = self._order(row)
        epoch = self.epoch or 0.0
        return (self.hist_items[row, order],
                self.hist_ts[row, order].astype(np.float64) + epoch,
                self.hist_weight[row, order].astype(np.float64))

    def remove_items(self, items: NDArray[np.int64]) -> None:
        """Drop items (expired from the catalogue) from every history, keeping the order."""
        if items.size == 0 or not self.ids:
            return
        n_rows = len(self.ids)
        hit_rows = np.flatnonzero(np.isin(self.hist_items[:n_rows], items).any(axis=1))
        for row in hit_rows.tolist():
            got, ts, weight = self.entries(row)
            keep = ~np.isin(got, items)
            self.hist_items[row] = -1
            self.hist_ts[row] = 0.0
            self.hist_weight[row] = 0.0
            n = int(keep.sum())
            self.hist_items[row, :n] = got[keep]
            self.hist_ts[row, :n] = ts[keep] - (self.epoch or 0.0)
            self.hist_weight[row, :n] = weight[keep]
            self.length[row] = n
            self.head[row] = n % self.size

    def expired(self, now: float, ttl: float, cap: int) -> list[str]:
        """Users idle longer than ``ttl``, then the least recently active beyond ``cap``."""
        rows = np.fromiter(self.index.values(), dtype=np.int64, count=len(self.index))
        if rows.size == 0:
            return []
        last = self.last_ts[rows]
        out = rows[last < now - ttl]
        live = rows[last >= now - ttl]
        if live.size > cap:
            order = np.argsort(self.last_ts[live], kind="stable")
            out = np.concatenate([out, live[order[: live.size - cap]]])
        return [self.ids[r] for r in out.tolist()]
