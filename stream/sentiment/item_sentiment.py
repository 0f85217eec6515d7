"""Per-item comment sentiment: a time-decayed mean and count, bounded, forgettable."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

__all__ = ["ItemSentiment"]


class ItemSentiment:
    """Time-decayed mean sentiment and comment count per item.

    Each scored comment adds its score and a weight of 1 to its item; both halve every
    ``half_life`` seconds, so the mean follows the recent discussion and the count says how
    much of it there is now. Unscored comments are not added. At most ``max_items`` items are
    kept: the one updated longest ago goes first.

    Parameters
    ----------
    half_life
        Seconds after which a comment counts half.
    max_items
        Bound on the number of items held.

    Examples
    --------
    >>> items = ItemSentiment(half_life=3600.0)
    >>> items.update("a", 1.0, ts=0.0)
    >>> items.update("a", -1.0, ts=3600.0)
    >>> mean, count = items.get("a", now=3600.0)
    >>> round(mean, 3), round(count, 3)
    (-0.333, 1.5)
    >>> items.get("unknown", now=0.0)
    (None, 0.0)
    """

    def __init__(self, half_life: float = 6 * 3600.0, max_items: int = 100_000) -> None:
        if half_life <= 0:
            raise ValueError("half_life must be positive")
        if max_items < 1:
            raise ValueError("max_items must be at least 1")
        self.half_life = half_life
        self.max_items = max_items
        # item_id -> [decayed sum of scores, decayed count, time both refer to]
        self._items: OrderedDict[str, list[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._items

    def _decay(self, dt: float) -> float:
        return math.pow(2.0, -dt / self.half_life)

    def update(self, item_id: str, score: float, ts: float) -> None:
        """Add one comment's ``score`` (in [-1, 1]) on ``item_id`` at time ``ts``."""
        state = self._items.get(item_id)
        if state is None:
            self._items[item_id] = [score, 1.0, ts]
            if len(self._items) > self.max_items:
                self._items.popitem(last=False)
            return
        total, count, t_ref = state
        if ts >= t_ref:
            factor = self._decay(ts - t_ref)
            state[0] = total * factor + score
            state[1] = count * factor + 1.0
            state[2] = ts
        else:  # a late comment counts as already decayed to the item's time
            factor = self._decay(t_ref - ts)
            state[0] = total + score * factor
            state[1] = count + factor
        self._items.move_to_end(item_id)

    def update_many(self, updates: Iterable[tuple[str, float, float]]) -> None:
        """:meth:`update` for each ``(item_id, score, ts)`` of a batch."""
        for item_id, score, ts in updates:
            self.update(item_id, score, ts)

    def get(self, item_id: str, now: float) -> tuple[float | None, float]:
        """``(mean, count)`` of ``item_id`` as of ``now``; ``(None, 0.0)`` when unknown.

        The mean is a ratio of two sums that decay alike, so it does not move with ``now``;
        the count does.
        """
        state = self._items.get(item_id)
        if state is None:
            return None, 0.0
        total, count, t_ref = state
        decayed = count * self._decay(max(0.0, now - t_ref))
        return (total / count if count > 0 else None), decayed

    def forget(self, item_id: str) -> bool:
        """Drop everything about ``item_id``; True when there was something."""
        return self._items.pop(item_id, None) is not None

    def means(self) -> Iterator[tuple[str, float]]:
        """(item id, mean sentiment) of every item held; decay scales the sum and the count
        alike, so the mean needs no clock."""
        for item_id, (total, count, _) in self._items.items():
            if count > 0:
                yield item_id, total / count

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state."""
        return {
            "half_life": self.half_life,
            "max_items": self.max_items,
            "items": {k: list(v) for k, v in self._items.items()},
        }

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> ItemSentiment:
        """Rebuild from :meth:`to_dict` (the order of items, oldest first, is kept)."""
        out = cls(half_life=float(state["half_life"]), max_items=int(state["max_items"]))
        for item_id, (total, count, t_ref) in state["items"].items():
            out._items[str(item_id)] = [float(total), float(count), float(t_ref)]
        while len(out._items) > out.max_items:
            out._items.popitem(last=False)
        return out
