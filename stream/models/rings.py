"""Bounded per-row rings of records whose memory follows how much each row holds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

__all__ = ["Rings"]

#: the narrowest width, and the factor between one width and the next
FIRST_WIDTH = 4
WIDTH_STEP = 4


def _grown(a: NDArray[Any], rows: int, fill: Any) -> NDArray[Any]:
    """``a`` with ``rows`` rows, the new ones filled with ``fill``."""
    out = np.full((rows, *a.shape[1:]), fill, dtype=a.dtype)
    out[: a.shape[0]] = a
    return out


class Rings:
    """Per row, the last ``size`` records of a few fixed-dtype fields, in memory that follows
    how many records the row holds rather than ``size``.

    Rows are stored in preallocated arrays of a few widths (4, 16, 64, ... and ``size``). A
    row takes a slot of the narrowest width on its first record and moves to the next width
    when that one is full; only at ``size`` does it wrap around, the newest record taking the
    place of the oldest. So a row of three records costs 4 records and a few scalars however
    large ``size`` is, and a row never moves more than a few times. Freed slots and rows are
    reused; the arrays grow by half when full and never shrink (their high-water mark is the
    memory bound).

    Records sit at positions ``0 .. length-1`` of their slot while a row holds fewer than its
    width (positions beyond hold each field's fill value); a full row is a ring starting at
    ``head``. :meth:`find`, :meth:`get` and :meth:`put` use those slot positions;
    :meth:`records` returns the records oldest first.

    Parameters
    ----------
    size
        Most records a row holds.
    fields
        Per field of a record: its dtype and the fill value of empty positions.
    row_fields
        Per-row scalars kept alongside (dtype, initial value): attributes such as a count or
        a time, read and written through :meth:`row_field`.
    capacity
        Rows preallocated at first.

    Examples
    --------
    >>> rings = Rings(6, {"item": (np.int32, -1)}, {"count": (np.int64, 0)})
    >>> row = rings.add()
    >>> for item in range(8):
    ...     rings.append(row, item)
    >>> rings.records(row)[0].tolist(), rings.width(row)
    ([2, 3, 4, 5, 6, 7], 6)
    >>> rings.find(row, 0, 1), rings.contains(row, 0, 7)
    (-1, True)
    """

    def __init__(self, size: int, fields: Mapping[str, tuple[DTypeLike, float]],
                 row_fields: Mapping[str, tuple[DTypeLike, float]] | None = None,
                 capacity: int = 1024) -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        self.size = size
        widths = []
        w = FIRST_WIDTH
        while w < size:
            widths.append(w)
            w *= WIDTH_STEP
        widths.append(size)
        self.widths: tuple[int, ...] = tuple(widths)
        self.fields = tuple(fields)
        self._dtypes = [np.dtype(d) for d, _ in fields.values()]
        self._fills = [fill for _, fill in fields.values()]
        capacity = max(capacity, 1)
        # per width: one (slots, width) array per field, the row owning each slot (-1: free),
        # slots ever used, and freed slots to reuse
        self._data: list[list[NDArray[Any]]] = [
            [np.full((16, w), fill, dtype=d) for d, fill in zip(self._dtypes, self._fills,
                                                                 strict=True)]
            for w in self.widths]
        self._owner: list[NDArray[np.int32]] = [np.full(16, -1, dtype=np.int32)
                                                for _ in self.widths]
        self._used = [0] * len(self.widths)
        self._free_slots: list[list[int]] = [[] for _ in self.widths]
        # per row: which width (-1: no record yet), which slot, how many records, next write
        # (read with item(), a Python int without the NumPy scalar that int() would convert:
        # appends and searches read several per call)
        self.tier: NDArray[np.int8] = np.full(capacity, -1, dtype=np.int8)
        self.slot: NDArray[np.int32] = np.zeros(capacity, dtype=np.int32)
        self.length: NDArray[np.int32] = np.zeros(capacity, dtype=np.int32)
        self.head: NDArray[np.int32] = np.zeros(capacity, dtype=np.int32)
        self._row_fields = {name: (np.dtype(d), init)
                            for name, (d, init) in (row_fields or {}).items()}
        self._scalars: dict[str, NDArray[Any]] = {
            name: np.full(capacity, init, dtype=d) for name, (d, init) in
            self._row_fields.items()}
        self._rows = 0
        self._free_rows: list[int] = []
        self._live = 0

    def __len__(self) -> int:
        """Rows in use."""
        return self._live

    @property
    def rows(self) -> int:
        """Rows ever used (the high-water mark: row numbers are below it)."""
        return self._rows

    @property
    def nbytes(self) -> int:
        """Bytes of every array, the preallocated room included."""
        arrays = [a for tier in self._data for a in tier] + self._owner + [
            self.tier, self.slot, self.length, self.head, *self._scalars.values()]
        return sum(a.nbytes for a in arrays)

    def slots(self, width: int) -> int:
        """Slots of the ``width``-th width ever used (its arrays' high-water mark)."""
        return self._used[width]

    def row_field(self, name: str) -> NDArray[Any]:
        """The per-row scalars ``name`` (an array indexed by row; it is replaced when the
        rows grow, so take it again after :meth:`add`)."""
        return self._scalars[name]

    def width(self, row: int) -> int:
        """The width of the row's slot (0 before its first record)."""
        t = self.tier.item(row)
        return self.widths[t] if t >= 0 else 0

    # --- rows ---------------------------------------------------------------------------------

    def add(self) -> int:
        """A new, empty row (a freed one if any)."""
        if self._free_rows:
            row = self._free_rows.pop()
        else:
            row = self._rows
            if row >= self.tier.shape[0]:
                self._grow_rows(row + 1)
            self._rows += 1
        self.tier[row] = -1
        self.slot[row] = 0
        self.length[row] = 0
        self.head[row] = 0
        for name, (_, init) in self._row_fields.items():
            self._scalars[name][row] = init
        self._live += 1
        return row

    def remove(self, row: int) -> None:
        """Free a row and its slot."""
        self._release(row)
        self.tier[row] = -1
        self.length[row] = 0
        self.head[row] = 0
        for name, (_, init) in self._row_fields.items():
            self._scalars[name][row] = init
        self._free_rows.append(row)
        self._live -= 1

    def _grow_rows(self, at_least: int) -> None:
        n = max(at_least, self.tier.shape[0] + self.tier.shape[0] // 2 + 1)
        self.tier = _grown(self.tier, n, -1)
        self.slot = _grown(self.slot, n, 0)
        self.length = _grown(self.length, n, 0)
        self.head = _grown(self.head, n, 0)
        for name, (_, init) in self._row_fields.items():
            self._scalars[name] = _grown(self._scalars[name], n, init)

    # --- slots --------------------------------------------------------------------------------

    def _take(self, t: int, row: int) -> int:
        """A slot of width ``t`` for ``row``, filled with the fill values."""
        free = self._free_slots[t]
        if free:
            s = free.pop()
        else:
            s = self._used[t]
            owner = self._owner[t]
            if s >= owner.shape[0]:
                n = owner.shape[0] + owner.shape[0] // 2 + 1
                self._owner[t] = _grown(owner, n, -1)
                self._data[t] = [_grown(a, n, fill) for a, fill in zip(self._data[t],
                                                                         self._fills,
                                                                         strict=True)]
            self._used[t] = s + 1
        for a, fill in zip(self._data[t], self._fills, strict=True):
            a[s] = fill
        self._owner[t][s] = row
        return s

    def _release(self, row: int) -> None:
        t = self.tier.item(row)
        if t >= 0:
            s = self.slot.item(row)
            for a, fill in zip(self._data[t], self._fills, strict=True):
                a[s] = fill
            self._owner[t][s] = -1
            self._free_slots[t].append(s)

    def _place(self, row: int, t: int, records: Sequence[NDArray[Any]]) -> None:
        """Put ``records`` (oldest first, at most width ``t``) in a fresh slot of width ``t``."""
        s = self._take(t, row)
        self._release(row)
        n = int(records[0].shape[0]) if records else 0
        if n:
            for a, values in zip(self._data[t], records, strict=True):
                a[s, :n] = values
        self.tier[row] = t
        self.slot[row] = s
        self.length[row] = n
        self.head[row] = n % self.widths[t]

    # --- records ------------------------------------------------------------------------------

    def append(self, row: int, *values: Any) -> None:
        """Add a record (one value per field, in order); the oldest goes when the row holds
        ``size`` already."""
        t = self.tier.item(row)
        n = self.length.item(row)
        if t < 0:
            t = 0
            self._place(row, 0, [])
        elif n == self.widths[t] and t + 1 < len(self.widths):
            t += 1
            self._place(row, t, self.records(row))
        w = self.widths[t]
        s = self.slot.item(row)
        pos = self.head.item(row)
        for a, v in zip(self._data[t], values, strict=True):
            a[s, pos] = v
        self.head[row] = (pos + 1) % w
        if n < w:
            self.length[row] = n + 1

    def _order(self, row: int, t: int) -> NDArray[np.int64] | slice:
        n = self.length.item(row)
        w = self.widths[t]
        if n < w:
            return slice(0, n)
        return (self.head.item(row) + np.arange(w)) % w

    def records(self, row: int) -> list[NDArray[Any]]:
        """Every field of the row's records, oldest first (copies)."""
        t = self.tier.item(row)
        if t < 0:
            return [np.zeros(0, dtype=d) for d in self._dtypes]
        order = self._order(row, t)
        s = self.slot.item(row)
        return [np.array(a[s, order]) for a in self._data[t]]

    def record_lists(self, row: int) -> list[list[Any]]:
        """Every field of the row's records, oldest first, as lists of Python scalars: what
        :meth:`records` and ``tolist`` give, without the arrays in between (for exports).

        >>> rings = Rings(3, {"id": (np.int32, -1), "w": (np.float16, 0.0)})
        >>> row = rings.add()
        >>> for value in range(5):
        ...     rings.append(row, value, value / 4)
        >>> rings.record_lists(row), rings.record_lists(rings.add())
        ([[2, 3, 4], [0.5, 0.75, 1.0]], [[], []])
        """
        t = self.tier.item(row)
        if t < 0:
            return [[] for _ in self._dtypes]
        s = self.slot.item(row)
        n = self.length.item(row)
        lists: list[list[Any]] = [a[s, :n].tolist() for a in self._data[t]]
        head = self.head.item(row)
        if n == self.widths[t] and head:  # a full ring: the oldest record is at its head
            lists = [values[head:] + values[:head] for values in lists]
        return lists

    def field(self, row: int, field: int) -> NDArray[Any]:
        """One field of the row's records, oldest first (a copy)."""
        t = self.tier.item(row)
        if t < 0:
            return np.zeros(0, dtype=self._dtypes[field])
        return np.array(self._data[t][field][self.slot.item(row), self._order(row, t)])

    def replace(self, row: int, records: Sequence[NDArray[Any]]) -> None:
        """Make ``records`` (oldest first, at most ``size``) the row's records, in the
        narrowest width that holds them."""
        n = int(records[0].shape[0])
        if n > self.size:
            raise ValueError(f"{n} records do not fit in rings of {self.size}")
        if n == 0:
            self._release(row)
            self.tier[row] = -1
            self.length[row] = 0
            self.head[row] = 0
            return
        t = next(i for i, w in enumerate(self.widths) if w >= n)
        self._place(row, t, records)

    def find(self, row: int, field: int, value: Any) -> int:
        """The slot position of the first record whose ``field`` is ``value``, or -1."""
        t = self.tier.item(row)
        if t < 0:
            return -1
        n = self.length.item(row)
        hits = np.flatnonzero(self._data[t][field][self.slot.item(row), :n] == value)
        return int(hits[0]) if hits.size else -1

    def values(self, row: int, field: int) -> list[Any]:
        """One field of the row's records as Python scalars, in slot order (oldest first only
        while the row has not wrapped): for integer fields, where it agrees with :meth:`contains`,
        a membership test on this list is cheaper than the array comparison on short rows.

        >>> rings = Rings(3, {"id": (np.uint64, 0)})
        >>> row = rings.add()
        >>> for value in (5, 6, 7, 2**64 - 1):
        ...     rings.append(row, value)
        >>> rings.values(row, 0), rings.values(rings.add(), 0)
        ([18446744073709551615, 6, 7], [])
        """
        t = self.tier.item(row)
        if t < 0:
            return []
        values: list[Any] = self._data[t][field][self.slot.item(row),
                                                 :self.length.item(row)].tolist()
        return values

    def contains(self, row: int, field: int, value: Any) -> bool:
        """Whether a record of the row has ``value`` in ``field``."""
        return self.find(row, field, value) >= 0

    def get(self, row: int, field: int, pos: int) -> Any:
        """``field`` of the record at slot position ``pos``."""
        return self._data[self.tier.item(row)][field][self.slot.item(row), pos]

    def put(self, row: int, field: int, pos: int, value: Any) -> None:
        """Set ``field`` of the record at slot position ``pos``."""
        self._data[self.tier.item(row)][field][self.slot.item(row), pos] = value

    def rows_with(self, field: int, values: NDArray[Any]) -> NDArray[np.int32]:
        """The rows holding a record whose ``field`` is among ``values``."""
        found = []
        for t in range(len(self.widths)):
            used = self._used[t]
            if not used:
                continue
            hit = np.isin(self._data[t][field][:used], values).any(axis=1)
            owners = self._owner[t][:used][hit]
            found.append(owners[owners >= 0])
        return np.concatenate(found) if found else np.zeros(0, dtype=np.int32)
