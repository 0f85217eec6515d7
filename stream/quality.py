"""Live recommendation quality and A/B variant assignment (pure, no Faust).

For every click we ask: was the clicked item in the last list we published to that user, and
at which rank? That is prequential evaluation on live traffic: HR@k, NDCG@k and MRR, per
variant, as counters (for PromQL over any window) and as rolling gauges.
"""

from __future__ import annotations

import math
import zlib
from collections import OrderedDict, deque
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["ClickOutcome", "LastLists", "RollingQuality", "assign_variant", "score_click"]


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


def score_click(last_list: list[str] | None, item_id: str, k: int) -> ClickOutcome:
    """Score a click against the list last published to the user."""
    if last_list:
        try:
            return ClickOutcome(last_list.index(item_id) + 1, k)
        except ValueError:
            pass
    return ClickOutcome(None, k)


class LastLists:
    """The last list published to each user, bounded: the least recently updated go first."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._lists: OrderedDict[str, tuple[str, list[str]]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._lists)

    def put(self, user_id: str, variant: str, item_ids: list[str]) -> None:
        """Remember the list just published to the user."""
        self._lists[user_id] = (variant, item_ids)
        self._lists.move_to_end(user_id)
        while len(self._lists) > self.capacity:
            self._lists.popitem(last=False)

    def get(self, user_id: str) -> tuple[str, list[str]] | None:
        """(variant, item ids) of the last list, or None."""
        return self._lists.get(user_id)

    def forget(self, user_id: str) -> None:
        """Drop the user's list."""
        self._lists.pop(user_id, None)


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
