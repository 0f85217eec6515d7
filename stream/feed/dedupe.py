"""Which events each user has had applied: the dedupe windows behind at-least-once delivery."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterator, Sequence

import numpy as np

from stream.models.rings import Rings

__all__ = ["DedupeWindows", "event_hash"]

#: the record field holding an event hash
_HASH = 0


def event_hash(event_id: str) -> int:
    """A 64-bit hash of an event id, the same in every process (unlike ``hash``), so that
    checkpoints written by one worker dedupe in another."""
    return int.from_bytes(hashlib.blake2b(event_id.encode(), digest_size=8).digest(), "little")


class DedupeWindows:
    """Per user: hashes of the ids of their last ``size`` applied events, and how many events
    were applied in all. An event whose id is in its user's window is a duplicate.

    Hashes, not ids: 8 bytes per event in :class:`~stream.models.rings.Rings` (memory follows
    how many events a user has had, 4 to ``size``) instead of a string of about 60 bytes in a
    deque of about 600. The price is a false duplicate when a new id shares the 64-bit hash of
    one of the at most ``size`` ids in its user's window: about ``size * 2**-64`` per event
    (3.5e-18 for 64), which at a million events a second is once in ten thousand years.

    Examples
    --------
    >>> seen = DedupeWindows(size=2)
    >>> row = seen.add_user("u1")
    >>> for event_id in ("e1", "e2", "e3"):
    ...     seen.record(row, event_hash(event_id))
    >>> seen.seen(row, event_hash("e3")), seen.seen(row, event_hash("e1"))
    (True, False)
    >>> seen.window("u1") == ([event_hash("e2"), event_hash("e3")], 3)
    True
    """

    def __init__(self, size: int, capacity: int = 1024) -> None:
        self.size = size
        self.index: dict[str, int] = {}
        # per row: the count of applied events, and the input partition the user's events
        # come from (their state follows it; -1 until known), an array field instead of a
        # dict of its own (about 32 bytes per user less)
        self._rings = Rings(size, {"hash": (np.uint64, 0)},
                            {"applied": (np.int64, 0), "partition": (np.int32, -1)},
                            capacity=capacity)

    def __len__(self) -> int:
        return len(self.index)

    def __contains__(self, user_id: object) -> bool:
        return user_id in self.index

    def __iter__(self) -> Iterator[str]:
        return iter(self.index)

    def row(self, user_id: str) -> int | None:
        """The user's row, or ``None`` when they are not held."""
        return self.index.get(user_id)

    def add_user(self, user_id: str, hashes: Sequence[int] = (), applied: int = 0) -> int:
        """Hold a user (replacing what was held) with the hashes of their last events, oldest
        first (only the last ``size`` are kept), and their count of applied events."""
        self.pop(user_id)
        row = self._rings.add()
        self.index[user_id] = row
        kept = list(hashes)[-self.size:]
        if kept:
            self._rings.replace(row, [np.array(kept, dtype=np.uint64)])
        self._rings.row_field("applied")[row] = applied
        return row

    def pop(self, user_id: str, default: int | None = None) -> int | None:
        """Drop a user; returns the row they had, or ``default``."""
        row = self.index.pop(user_id, None)
        if row is None:
            return default
        self._rings.remove(row)
        return row

    def set_partition(self, row: int, partition: int) -> None:
        """Record the input partition the events of the user at ``row`` come from."""
        self._rings.row_field("partition")[row] = partition

    def users_in(self, partitions: Collection[int]) -> list[str]:
        """The users held whose events come from one of ``partitions``.

        >>> seen = DedupeWindows(size=4)
        >>> for user, partition in (("u1", 0), ("u2", 3), ("u3", 0)):
        ...     seen.set_partition(seen.add_user(user), partition)
        >>> seen.users_in({0}), seen.users_in({1, 3}), seen.users_in(set())
        (['u1', 'u3'], ['u2'], [])
        """
        if not self.index or not partitions:
            return []
        users = list(self.index)
        rows = np.fromiter(self.index.values(), dtype=np.int64, count=len(users))
        hit = np.isin(self._rings.row_field("partition")[rows],
                      np.fromiter(partitions, dtype=np.int64))
        return [users[i] for i in np.flatnonzero(hit).tolist()]

    def seen(self, row: int, event: int) -> bool:
        """Whether the event hash is in the window of the user at ``row``."""
        # (a list of Python ints: comparing a uint64 array with a scalar costs more than
        # the search on the few dozen hashes of a window)
        return event in self._rings.values(row, _HASH)

    def record(self, row: int, event: int) -> None:
        """Add an applied event's hash (the oldest leaves a full window) and count it."""
        self._rings.append(row, event)
        self._rings.row_field("applied")[row] += 1

    def record_new(self, row: int, event: int) -> bool:
        """:meth:`record` the event hash unless it is in the window of the user at ``row``
        (:meth:`seen`); whether it was recorded (False: a duplicate).

        >>> seen = DedupeWindows(size=4)
        >>> row = seen.add_user("u1")
        >>> [seen.record_new(row, event_hash(e)) for e in ("e1", "e2", "e1")]
        [True, True, False]
        >>> seen.window("u1") == ([event_hash("e1"), event_hash("e2")], 2)
        True
        """
        if self.seen(row, event):
            return False
        self.record(row, event)
        return True

    def window(self, user_id: str) -> tuple[list[int], int] | None:
        """The user's event hashes, oldest first, and applied count; ``None`` if not held."""
        row = self.index.get(user_id)
        if row is None:
            return None
        hashes: list[int] = self._rings.record_lists(row)[_HASH]
        return hashes, int(self._rings.row_field("applied")[row])
