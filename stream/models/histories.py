"""Per-user state in preallocated arrays: a bounded history of what each user read."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from stream.models.rings import Rings

__all__ = ["UserHistories"]

#: record fields of a history entry
_ITEM, _TS, _WEIGHT = 0, 1, 2


class UserHistories:
    """The last ``size`` items each user clicked or read, with when and how much.

    Entries are item indexes (``int32``), event times (``float32`` seconds after
    :attr:`epoch`, about 2 s resolution over a year) and weights (``float16``): 10 bytes
    each, in :class:`~stream.models.rings.Rings`, so a user costs the entries they have
    (rounded up to 4, 16, 64, 256 or ``size``) plus about 40 bytes of per-user scalars and
    their entry in :attr:`index`, not ``size`` entries from the start. Rows of forgotten or
    evicted users are reused.

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
        self.epoch: float | None = None
        self._rings = Rings(
            size,
            {"item": (np.int32, -1), "ts": (np.float32, 0.0), "weight": (np.float16, 0.0)},
            {
                "n_items": (np.int64, 0),
                "last_ts": (np.float64, 0.0),
                # a fingerprint of the interests last published (0: none yet)
                "signature": (np.int64, 0),
            },
            capacity=capacity,
        )

    def __len__(self) -> int:
        return len(self.index)

    def __contains__(self, user_id: object) -> bool:
        return user_id in self.index

    @property
    def n_items(self) -> NDArray[np.int64]:
        """Per row: how many distinct items the user read in all (beyond the history too)."""
        return self._rings.row_field("n_items")

    @property
    def last_ts(self) -> NDArray[np.float64]:
        """Per row: the time of the user's latest event."""
        return self._rings.row_field("last_ts")

    @property
    def signature(self) -> NDArray[np.int64]:
        """Per row: a fingerprint of the interests last published for the user (0: none)."""
        return self._rings.row_field("signature")

    def ensure(self, user_id: str, ts: float) -> int:
        """The row of ``user_id``, creating an empty one if needed."""
        row = self.index.get(user_id)
        if row is not None:
            return row
        if self.epoch is None:
            self.epoch = ts
        row = self._rings.add()
        if row == len(self.ids):
            self.ids.append(user_id)
        else:
            self.ids[row] = user_id
        self.index[user_id] = row
        self.last_ts[row] = ts
        return row

    def remove(self, user_id: str) -> int | None:
        """Erase a user's row; returns the freed row (or ``None`` if unknown)."""
        row = self.index.pop(user_id, None)
        if row is None:
            return None
        self._rings.remove(row)
        self.ids[row] = ""
        return row

    def position(self, row: int, item: int) -> int:
        """The slot of ``item`` in the user's history (for :meth:`weight`), or -1."""
        return self._rings.find(row, _ITEM, item)

    def weight(self, row: int, pos: int) -> float:
        """The weight of the entry at slot ``pos`` (see :meth:`position`)."""
        return float(self._rings.get(row, _WEIGHT, pos))

    def set_weight(self, row: int, pos: int, weight: float) -> None:
        """Change the weight of the entry at slot ``pos``."""
        self._rings.put(row, _WEIGHT, pos, weight)

    def append(self, row: int, item: int, ts: float, weight: float) -> None:
        """Add an item the user has not read yet (the oldest one drops out when full)."""
        assert self.epoch is not None
        self._rings.append(row, item, ts - self.epoch, weight)
        self.n_items[row] += 1
        self.last_ts[row] = max(float(self.last_ts[row]), ts)

    def length(self, row: int) -> int:
        """Entries in the user's history."""
        return int(self._rings.length[row])

    def items(self, row: int) -> NDArray[np.int32]:
        """Item indexes, oldest first."""
        out: NDArray[np.int32] = self._rings.field(row, _ITEM)
        return out

    def entries(self, row: int) -> tuple[NDArray[np.int32], NDArray[np.float64],
                                         NDArray[np.float64]]:
        """Item indexes, absolute times and weights, oldest first."""
        items, ts, weights = self._rings.records(row)
        # (widened and moved to the epoch in one pass)
        return items, np.add(ts, self.epoch or 0.0, dtype=np.float64), weights.astype(np.float64)

    def entry_lists(self, row: int) -> tuple[list[int], list[float], list[float]]:
        """:meth:`entries` as lists of Python scalars (what an export writes), the same values.

        >>> users = UserHistories(size=2)
        >>> row = users.ensure("u1", 10.0)
        >>> for item in (5, 6, 7):
        ...     users.append(row, item, ts=10.0 + item, weight=0.5)
        >>> users.entry_lists(row) == tuple(a.tolist() for a in users.entries(row))
        True
        """
        items, ts, weights = self._rings.record_lists(row)
        epoch = self.epoch or 0.0
        # (a float32 time widened to a double, then the epoch added in double: as entries())
        return items, [t + epoch for t in ts], weights

    def remove_items(self, items: NDArray[np.int64]) -> None:
        """Drop items (expired from the catalogue) from every history, keeping the order."""
        if items.size == 0 or not self.index:
            return
        for row in self._rings.rows_with(_ITEM, items).tolist():
            got, ts, weight = self._rings.records(row)
            keep = ~np.isin(got, items)
            self._rings.replace(row, [got[keep], ts[keep], weight[keep]])

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
