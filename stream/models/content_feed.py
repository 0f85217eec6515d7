"""The first feed model: per-user content interest vectors blended with trending popularity."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from stream.events import Forget, Interaction, Item
from stream.models.base import Recommendation
from stream.models.catalog import ItemCatalog
from stream.models.popularity import DecayedPopularity
from stream.models.text import HashedTextEncoder

__all__ = ["ContentFeed", "UserState"]


@dataclass(slots=True)
class UserState:
    """What the model keeps per user: a decayed interest vector and a bounded history."""

    vector: NDArray[np.float32]
    last_ts: float
    history: deque[int] = field(default_factory=deque)
    seen: set[int] = field(default_factory=set)
    events: int = 0


class ContentFeed:
    """Content-based interest per user, decayed over time, plus time-decayed popularity.

    A click adds the item's content vector to the user's interest vector; a read adds it with
    a weight that grows with dwell time (up to twice a click at ``read_dwell_full`` seconds).
    The interest vector halves every ``interest_half_life`` seconds without activity, so new
    interests take over. Items the user clicked or read are never recommended again. Users
    without history get what is trending.

    Examples
    --------
    >>> from stream.events import Interaction, Item
    >>> feed = ContentFeed(dim=64)
    >>> for i, (title, tag) in enumerate([("Rates rise", "economy"), ("Rates fall", "economy"),
    ...                                   ("Cup final", "sport")]):
    ...     feed.learn_item(Item(item_id=f"i{i}", title=title, tags=(tag,), published_at=0.0))
    >>> feed.learn_one(Interaction("e1", "click", "u1", "i0", ts=10.0))
    >>> [r.item_id for r in feed.recommend("u1", k=2, now=10.0)]
    ['i1', 'i2']
    """

    name = "content"

    def __init__(
        self,
        dim: int = 256,
        interest_half_life: float = 7 * 86400.0,
        popularity_half_life: float = 6 * 3600.0,
        popularity_weight: float = 0.15,
        read_dwell_full: float = 60.0,
        history_size: int = 200,
        recommend_stubs: bool = False,
        seed: int = 0,
    ) -> None:
        self.dim = dim
        self.interest_half_life = interest_half_life
        self.popularity_half_life = popularity_half_life
        self.popularity_weight = popularity_weight
        self.read_dwell_full = read_dwell_full
        self.history_size = history_size
        self.recommend_stubs = recommend_stubs
        self.seed = seed
        self.encoder = HashedTextEncoder(dim=dim, seed=seed)
        self.catalog = ItemCatalog(dim)
        self.popularity = DecayedPopularity(popularity_half_life)
        self.users: dict[str, UserState] = {}

    # --- learning ---------------------------------------------------------------------------

    def learn_item(self, item: Item) -> None:
        """Add or update an item: its content vector comes from title, body and tags."""
        vector = self.encoder.encode(item.title, item.body, item.tags)
        self.catalog.upsert(item.item_id, vector, item.title, item.tags, item.lang,
                            item.published_at)

    def interaction_weight(self, event: Interaction) -> float:
        """How much an event moves interest: 1 for a click, 1 to 2 for a read by dwell time."""
        if event.type == "click":
            return 1.0
        if event.type == "read":
            dwell = event.dwell_seconds or 0.0
            return 1.0 + min(dwell / self.read_dwell_full, 1.0)
        return 0.0

    def learn_one(self, event: Interaction) -> None:
        """Update the user's interest, history and the item's popularity from one event."""
        weight = self.interaction_weight(event)
        if weight <= 0.0:
            return  # impressions do not move interest in this model
        idx = self.catalog.ensure(event.item_id, event.ts)
        self.popularity.update(idx, event.ts, weight)
        user = self.users.get(event.user_id)
        if user is None:
            user = UserState(np.zeros(self.dim, dtype=np.float32), event.ts)
            self.users[event.user_id] = user
        dt = max(event.ts - user.last_ts, 0.0)
        if dt > 0:
            user.vector *= np.float32(math.pow(2.0, -dt / self.interest_half_life))
        user.vector += np.float32(weight) * self.catalog.vectors[idx]
        user.last_ts = max(user.last_ts, event.ts)
        user.events += 1
        if idx not in user.seen:
            user.history.append(idx)
            user.seen.add(idx)
            if len(user.history) > self.history_size:
                user.seen.discard(user.history.popleft())

    def forget_user(self, event: Forget) -> None:
        """Erase the user's vector and history."""
        self.users.pop(event.user_id, None)

    # --- ranking ----------------------------------------------------------------------------

    def _scores(self, user: UserState | None, now: float) -> tuple[
        NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]
    ]:
        n = len(self.catalog)
        pop = self.popularity.scores(now, n)
        top = float(pop.max()) if n else 0.0
        pop_norm = np.log1p(pop) / math.log1p(top) if top > 0 else pop
        if user is None:
            content = np.zeros(n, dtype=np.float64)
        else:
            norm = float(np.linalg.norm(user.vector))
            content = (
                (self.catalog.matrix @ (user.vector / norm)).astype(np.float64)
                if norm > 0
                else np.zeros(n, dtype=np.float64)
            )
        return content + self.popularity_weight * pop_norm, content, pop_norm

    def score(self, user_id: str, item_ids: list[str], now: float) -> NDArray[np.float64]:
        """Scores of the candidates; unknown items score 0."""
        total, _, _ = self._scores(self.users.get(user_id), now)
        out = np.zeros(len(item_ids), dtype=np.float64)
        for j, item_id in enumerate(item_ids):
            idx = self.catalog.index.get(item_id)
            if idx is not None:
                out[j] = total[idx]
        return out

    def recommend(self, user_id: str, k: int, now: float) -> list[Recommendation]:
        """The user's top ``k``: seen items excluded, each with a reason."""
        n = len(self.catalog)
        if n == 0:
            return []
        user = self.users.get(user_id)
        total, content, pop_norm = self._scores(user, now)
        if not self.recommend_stubs:
            total[~self.catalog.has_metadata[:n]] = -np.inf
        if user is not None and user.seen:
            total[np.fromiter(user.seen, dtype=np.int64, count=len(user.seen))] = -np.inf
        k = min(k, n)
        top = np.argpartition(-total, k - 1)[:k]
        top = top[np.argsort(-total[top], kind="stable")]
        top = top[np.isfinite(total[top])]
        return [
            Recommendation(
                item_id=self.catalog.ids[i],
                score=round(float(total[i]), 6),
                reason=self._reason(user, int(i), float(content[i]),
                                    self.popularity_weight * float(pop_norm[i])),
            )
            for i in top
        ]

    def _reason(self, user: UserState | None, idx: int, content: float, trend: float) -> str:
        if user is not None and content > trend and user.history:
            recent = list(user.history)[-20:]
            sims = self.catalog.vectors[recent] @ self.catalog.vectors[idx]
            best = recent[int(np.argmax(sims))]
            title = self.catalog.titles[best] or self.catalog.ids[best]
            return f"because you read “{_short(title)}”"
        tags = self.catalog.tags[idx]
        if trend > 0:
            return f"trending in {tags[0]}" if tags else "trending now"
        return f"new in {tags[0]}" if tags else "new"


def _short(title: str, limit: int = 60) -> str:
    return title if len(title) <= limit else title[: limit - 1] + "…"
