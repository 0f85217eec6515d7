"""Live recommendation quality and A/B variant assignment (pure, no Faust).

For every click we ask: was the clicked item in the last list we published to that user, and
at which rank? That is prequential evaluation on live traffic: HR@k, NDCG@k and MRR, per
variant, as counters (for PromQL over any window) and as rolling gauges.
"""

from __future__ import annotations

import math
import zlib
from array import array
from collections import deque
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

_T = TypeVar("_T", bound=np.generic)

__all__ = [
    "ClickOutcome",
    "LastLists",
    "RollingQuality",
    "assign_variant",
    "item_hash",
    "score_click",
]


def assign_variant(user_id: str, weights: Mapping[str, float]) -> str:
    """A stable variant for the user: the same user always lands in the same variant.

    The user id is hashed (CRC-32, the same in every process and worker) to a point in
    [0, 1) and the variants split that interval by their weights, in name order.

    >>> assign_variant("alice", {"control": 1.0})
    'control'
    >>> weights = {"a": 0.5, "b": 0.5}
    >>> assign_variant("alice", weights) == assign_variant("alice", dict(reversed(weights.items())))
    True
    """
    if not weights:
        raise ValueError("at least one variant is needed")
    total = sum(weights.values())
    if total <= 0:
        raise ValueError("variant weights must add up to more than 0")
    point = zlib.crc32(user_id.encode("utf-8")) / 2**32 * total
    acc = 0.0
    names = sorted(weights)
    for name in names:
        acc += weights[name]
        if point < acc:
            return name
    return names[-1]


@dataclass(frozen=True, slots=True)
class ClickOutcome:
    """How one click scored against the last published list (rank is 1-based, or None)."""

    rank: int | None
    k: int

    @property
    def hit(self) -> bool:
        """The clicked item was in the top k."""
        return self.rank is not None and self.rank <= self.k

    @property
    def reciprocal_rank(self) -> float:
        """1/rank, 0 when the item was not in the list."""
        return 1.0 / self.rank if self.rank is not None else 0.0

    @property
    def ndcg(self) -> float:
        """NDCG@k of a single relevant item: 1/log2(rank+1) within the top k, else 0."""
        return 1.0 / math.log2(self.rank + 1) if self.hit and self.rank is not None else 0.0


def score_click(last_list: Sequence[str] | None, item_id: str, k: int) -> ClickOutcome:
    """Score a click against a list of item ids (the worker scores against the hashes
    :class:`LastLists` keeps, with :meth:`LastLists.rank_of`, to the same outcome)."""
    if last_list:
        try:
            return ClickOutcome(last_list.index(item_id) + 1, k)
        except ValueError:
            pass
    return ClickOutcome(None, k)


def item_hash(item_id: str) -> int:
    """The 32-bit hash (CRC-32 of the UTF-8 id) under which :class:`LastLists` holds an item.

    >>> item_hash("n00001") == zlib.crc32(b"n00001")
    True
    """
    return zlib.crc32(item_id.encode("utf-8"))


def _grown(a: NDArray[_T], rows: int) -> NDArray[_T]:
    """``a`` with ``rows`` rows, the new ones zero."""
    out = np.zeros((rows, *a.shape[1:]), dtype=a.dtype)
    out[:a.shape[0]] = a
    return out


class LastLists:
    """The last list published to each user, bounded: the least recently updated go first;
    and which users' lists hold an item (:meth:`holders`), for retractions.

    Each list is a row of a matrix of the :func:`item_hash` of its items (unsigned 32-bit
    integers; a row as wide as the longest list, the unused slots repeating the last item),
    with its length, the index of its variant, and a bitmask of the slots an editor's rule
    filled (:meth:`is_pinned`). A user's row is found through a dict, which keeps the users
    in the order their lists were last updated. The users whose list holds an item are found
    by one vectorised comparison over the matrix rather than through an inverted index: an
    index of sets would cost several times the list itself per list, for an operation
    editors do a few times a day, while the scan reads ``4 * width`` bytes per list, once
    per batch of retractions (``tests/unit/test_last_lists.py`` measures both, and the bytes
    per list of the cache, which is the whole index).

    Collisions: a click on an item that is not in the list counts as a hit only if its hash
    equals one of the list's k hashes, about k / 2**32 per click (2.3e-9 for k = 10: a few
    wrong hits in a billion clicks); two items of one list with one hash (about k² / 2**33
    per list) give the later one the earlier one's rank; a retraction re-publishes the lists
    of an item whose hash collides with its own (a list ranked again, nothing lost). CRC-32
    differs for ids of one length that differ within any 4 bytes, and item ids come from the
    catalogue, not from readers.

    >>> lists = LastLists(capacity=2)
    >>> lists.put("alice", "control", ["n1", "n2", "n3"], pinned=[0])
    >>> lists.rank_of("alice", "n2"), lists.rank_of("alice", "n9"), lists.rank_of("bob", "n1")
    (('control', 2), ('control', None), None)
    >>> lists.ids("alice", ["n3", "n1", "n2"])
    ['n1', 'n2', 'n3']
    >>> lists.holders(["n3"]), lists.is_pinned("alice", 1), lists.is_pinned("alice", 2)
    (['alice'], True, False)
    """

    def __init__(self, capacity: int, width: int = 10) -> None:
        self.capacity = capacity
        #: user -> row of the matrices, least recently updated first
        self._rows: dict[str, int] = {}
        #: row -> user ("" for a free row), and the free rows
        self._users: list[str] = []
        self._free: list[int] = []
        self._hashes: NDArray[np.uint32] = np.zeros((0, max(width, 1)), dtype=np.uint32)
        self._lengths: NDArray[np.uint16] = np.zeros(0, dtype=np.uint16)
        self._variant: NDArray[np.uint8] = np.zeros(0, dtype=np.uint8)
        self._pinned: NDArray[np.uint64] = np.zeros(0, dtype=np.uint64)
        #: variant names by their index in ``_variant``
        self._variants: list[str] = []

    def __len__(self) -> int:
        return len(self._rows)

    def _variant_index(self, variant: str) -> int:
        try:
            return self._variants.index(variant)  # a handful of variants
        except ValueError:
            if len(self._variants) == 256:
                raise ValueError("at most 256 variants have published lists") from None
            self._variants.append(variant)
            return len(self._variants) - 1

    def _new_row(self) -> int:
        if self._free:
            return self._free.pop()
        row = len(self._users)
        if row >= self._lengths.shape[0]:  # half as much again, up to the capacity
            size = min(max(row + row // 2, 1024), self.capacity + 1)
            size = max(size, row + 1)
            self._hashes = _grown(self._hashes, size)
            self._lengths = _grown(self._lengths, size)
            self._variant = _grown(self._variant, size)
            self._pinned = _grown(self._pinned, size)
        self._users.append("")
        return row

    def _release(self, user_id: str) -> None:
        row = self._rows.pop(user_id, None)
        if row is not None:
            self._users[row] = ""
            self._lengths[row] = 0
            self._free.append(row)

    def put(self, user_id: str, variant: str, item_ids: Iterable[str],
            pinned: Iterable[int] = ()) -> None:
        """Remember the list just published to the user (``pinned``: the 0-based slots an
        editor's rule filled). Beyond the capacity the least recently updated lists go, a
        sixteenth of the capacity at once."""
        hashes = [item_hash(i) for i in item_ids]
        index = self._variant_index(variant)
        rows = self._rows
        row = rows.pop(user_id, None)  # inserted again: last in the order, the most recent
        if row is None:
            row = self._new_row()
        rows[user_id] = row
        self._users[row] = user_id
        if len(hashes) > self._hashes.shape[1]:
            wider = np.zeros((self._hashes.shape[0], len(hashes)), dtype=np.uint32)
            wider[:, :self._hashes.shape[1]] = self._hashes
            wider[:, self._hashes.shape[1]:] = self._hashes[:, -1:]
            self._hashes = wider
        if hashes:  # (one assignment: the padding repeats the last item)
            self._hashes[row] = hashes + hashes[-1:] * (self._hashes.shape[1] - len(hashes))
        self._lengths[row] = len(hashes)
        self._variant[row] = index
        mask = 0
        for slot in pinned:
            if slot < 64:
                mask |= 1 << slot
        self._pinned[row] = mask
        if len(rows) > self.capacity:
            # a plain dict keeps insertion order at 38 bytes an entry where an OrderedDict
            # takes 91, but finding its oldest key walks past the keys removed before it:
            # one walk for many evictions keeps a put O(1) on average
            excess = len(rows) - self.capacity + self.capacity // 16
            for oldest in list(islice(rows, excess)):
                self._release(oldest)

    def get(self, user_id: str) -> tuple[str, array[int]] | None:
        """(variant, the :func:`item_hash` of each item in rank order) of the last list, or
        None."""
        row = self._rows.get(user_id)
        if row is None:
            return None
        hashes = array("I")
        hashes.frombytes(self._hashes[row, :int(self._lengths[row])].tobytes())
        return self._variants[int(self._variant[row])], hashes

    def rank_of(self, user_id: str, item_id: str) -> tuple[str, int | None] | None:
        """(variant, 1-based rank of ``item_id`` in the last list or None), or None when no
        list was published to the user."""
        row = self._rows.get(user_id)
        if row is None:
            return None
        variant = self._variants[int(self._variant[row])]
        try:
            hashes = self._hashes[row, :int(self._lengths[row])].tolist()
            return variant, hashes.index(item_hash(item_id)) + 1
        except ValueError:
            return variant, None

    def is_pinned(self, user_id: str, rank: int) -> bool:
        """Whether an editor's rule filled the slot ``rank`` (1-based) of the user's last
        list."""
        row = self._rows.get(user_id)
        return row is not None and 1 <= rank <= 64 and bool(
            (int(self._pinned[row]) >> (rank - 1)) & 1)

    def ids(self, user_id: str, candidates: Iterable[str]) -> list[str | None] | None:
        """The item ids of the last list, found among ``candidates`` by their hashes (read
        until every one is found; None for an item not among them), or None when no list
        was published to the user."""
        last = self.get(user_id)
        if last is None:
            return None
        found: dict[int, str | None] = dict.fromkeys(last[1])
        missing = len(found)
        for item_id in candidates:
            if missing == 0:
                break
            if not item_id:  # a catalogue's free slot
                continue
            h = item_hash(item_id)
            if h in found and found[h] is None:
                found[h] = item_id
                missing -= 1
        return [found[h] for h in last[1]]

    def holders(self, item_ids: Collection[str]) -> list[str]:
        """The users whose last list holds one of ``item_ids`` (by hash: see the class)."""
        n = len(self._users)
        if not item_ids or not self._rows:
            return []
        wanted = np.array([item_hash(i) for i in item_ids], dtype=np.uint32)
        block = self._hashes[:n]
        # (the unused slots of a row repeat its last item: they hold nothing more)
        hit = (block == wanted[0]) if wanted.size == 1 else np.isin(block, wanted)
        rows = np.flatnonzero(hit.any(axis=1) & (self._lengths[:n] > 0))
        users = self._users
        return [users[r] for r in rows.tolist()]

    def forget(self, user_id: str) -> None:
        """Drop the user's list."""
        self._release(user_id)


class RollingQuality:
    """HR@k, NDCG@k and MRR over the last ``window`` clicks of one variant (O(1) per click:
    running sums, corrected as clicks leave the window)."""

    def __init__(self, window: int = 1000) -> None:
        self._outcomes: deque[ClickOutcome] = deque(maxlen=window)
        self._hits = 0
        self._ndcg = 0.0
        self._rr = 0.0

    def _add(self, outcome: ClickOutcome, sign: int) -> None:
        self._hits += sign * outcome.hit
        self._ndcg += sign * outcome.ndcg
        self._rr += sign * outcome.reciprocal_rank

    def update(self, outcome: ClickOutcome) -> None:
        """Add one click's outcome."""
        if len(self._outcomes) == self._outcomes.maxlen:
            self._add(self._outcomes[0], -1)
        self._outcomes.append(outcome)
        self._add(outcome, +1)

    def get(self) -> dict[str, float]:
        """The rolling figures (NaN before the first click)."""
        n = len(self._outcomes)
        if n == 0:
            return {"hr": math.nan, "ndcg": math.nan, "mrr": math.nan}
        return {
            "hr": self._hits / n,
            "ndcg": max(self._ndcg, 0.0) / n,
            "mrr": max(self._rr, 0.0) / n,
        }
