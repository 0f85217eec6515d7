"""Why an item is in a list, and what a reader is interested in, in words."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from stream.models.facts import ItemStatistics
from stream.models.histories import UserHistories
from stream.models.items import ItemPool
from stream.models.scoring import F, UserView
from stream.models.settings import ModelSettings

__all__ = ["Explainer"]


class Explainer:
    """Reasons for recommended items and readers' interests.

    A reason names the generator that contributed most to the item's prior: the read it
    resembles or was co-visited with (``because you read “…”``), a fresh item in a topic
    the reader follows, or a trending or new item in its topic. Interests are the tags of a
    reader's recent reads, weighted as their profile weighs the reads."""

    def __init__(self, settings: ModelSettings, pool: ItemPool, stats: ItemStatistics,
                 users: UserHistories) -> None:
        self.settings = settings
        self.pool = pool
        self.stats = stats
        self.users = users

    def title(self, idx: int) -> str:
        """An item's title (its id without one), cut to 60 characters."""
        cat = self.pool.catalog
        title = cat.titles[idx] or cat.ids[idx]
        return title if len(title) <= 60 else title[:59] + "…"

    def reason(self, view: UserView, idx: int, x: Sequence[float]) -> str:
        """Why item ``idx`` with features ``x`` is in the user's list."""
        s = self.settings
        parts = {
            "content": s.content_weight * x[F["content"]],
            "collab": s.collab_weight * x[F["collab"]],
            "popularity": s.popularity_weight * x[F["popularity"]],
            "freshness": s.fresh_boost * x[F["freshness"]],
        }
        main = max(parts, key=lambda name: parts[name])
        cat = self.pool.catalog
        tags = cat.tags[idx]
        tag = tags[0] if tags else None
        if parts[main] <= 0:
            return f"new in {tag}" if tag else "popular now"
        if main in ("content", "collab") and view.items.size:
            recent = view.items[-s.collab_query_items:]
            # the recent items' rows are gathered once per user, not once per reason
            if main == "collab":
                if view.covisits is None:
                    rows = recent.astype(np.int64)
                    covisit = self.stats.covisit
                    view.covisits = covisit.nbr[rows], covisit.weight[rows]
                nbr, weight = view.covisits
                # summed only on the rows that hold the item: the others are 0 anyway
                match = nbr == idx
                hit = np.flatnonzero(match.any(axis=1))
                strength = np.zeros(recent.size, dtype=np.float32)
                strength[hit] = (match[hit] * weight[hit]).sum(axis=1)
            else:
                if view.vectors is None or view.vectors.shape[0] != recent.size:
                    view.vectors = cat.vectors[recent]
                strength = view.vectors @ cat.vectors[idx]
            if main == "content" and x[F["freshness"]] >= 0.5 and tag is not None \
                    and tag in self._followed(view):
                return f"new in {tag}, a topic you follow"
            return self._because(recent, strength, idx)
        if main == "freshness":
            return f"new in {tag}" if tag else "new"
        return f"trending in {tag}" if tag else "trending now"

    def _because(self, recent: NDArray[np.int32], strength: NDArray[np.float32],
                 idx: int) -> str:
        """The reason that names a read: the one that ties item ``idx`` to the reader most
        strongly (``strength`` per ``recent`` read) among those whose title differs from
        the item's, since another article under the same title would read as the item
        itself, recommended again. Without such a read (with some strength), the reason
        says that the read had this title."""
        titles = self.pool.catalog.titles
        own = titles[idx].strip().casefold()
        best = int(recent[int(np.argmax(strength))])
        if not own or titles[best].strip().casefold() != own:
            return f"because you read “{self.title(best)}”"
        for pos in np.argsort(-strength, kind="stable").tolist():
            other = int(recent[pos])
            if strength[pos] <= 0:
                break
            if titles[other].strip().casefold() != own:
                return f"because you read “{self.title(other)}”"
        return "because you read another article with this title"

    def _followed(self, view: UserView) -> set[str]:
        if view.followed is None:
            view.followed = {tag for tag, _ in self.interests(view)}
        return view.followed

    def interests(self, view: UserView) -> list[tuple[str, float]]:
        """The user's top interests: tags with weights summing to at most 1, strongest first
        (time-decayed, reads weighted by dwell)."""
        totals: dict[str, float] = {}
        tags_of = self.pool.catalog.tags
        for idx, weight in zip(view.items.tolist(), view.weights.tolist(), strict=True):
            tags = tags_of[idx]
            for tag in tags:
                totals[tag] = totals.get(tag, 0.0) + weight / len(tags)
        total = sum(totals.values())
        if total <= 0:
            return []
        top = sorted(totals.items(),
                     key=lambda kv: (-kv[1], kv[0]))[: self.settings.interests_top_k]
        return [(tag, round(w / total, 3)) for tag, w in top]

    def changed(self, row: int, found: list[tuple[str, float]]) -> bool:
        """Whether a user's interests changed (to two decimals) since the last call that
        said so: the worker publishes a profile only then."""
        # 0 stands for "none published yet"
        signature = hash(tuple((tag, round(w, 2)) for tag, w in found)) or 1
        if int(self.users.signature[row]) == signature:
            return False
        self.users.signature[row] = signature
        return True
