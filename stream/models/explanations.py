"""Why an item is in a list, and what a reader is interested in, in words."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from stream.models.facts import ItemStatistics
from stream.models.histories import UserHistories
from stream.models.items import ItemPool
from stream.models.retrieval import CoReads
from stream.models.scoring import F, UserView
from stream.models.settings import ModelSettings

__all__ = ["Explainer"]


def _strongest(tag_weight: tuple[str, float]) -> tuple[float, str]:
    """The order of interests: the largest weight first, then by tag."""
    return -tag_weight[1], tag_weight[0]

#: the generators a reason may name, in the order :meth:`Explainer._main` weighs them
_CONTENT, _COLLAB, _POPULARITY, _FRESHNESS = range(4)


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
        """Why item ``idx`` with features ``x`` is in the user's list (:meth:`reasons` for
        one item)."""
        s = self.settings
        main, top = self._main(np.asarray([x], dtype=np.float64))
        best = np.full(1, -1, dtype=np.intp)
        if top[0] > 0 and int(main[0]) in (_CONTENT, _COLLAB) and view.items.size:
            strength = self._strength(view, idx, int(main[0]) == _COLLAB)
            best[0] = int(np.argmax(strength))
        return self._say(view, idx, int(main[0]), float(top[0]),
                         float(x[F["freshness"]]), int(best[0]), s)

    def reasons(self, views: Sequence[UserView], readers: NDArray[np.intp],
                items: NDArray[np.int64], x: NDArray[np.float64], co_reads: CoReads
                ) -> list[str]:
        """:meth:`reason` for many (reader, item) pairs at once: ``views[readers[i]]`` and
        ``items[i]`` with features ``x[i]``. The read each reason names is found for all of
        them together: the co-visited one from the slots the first stage read
        (``co_reads``), the similar one by one product per reader of their recent reads'
        vectors with their items'."""
        main, top = self._main(x)
        has_reads = np.array([v.items.size > 0 for v in views], dtype=bool)
        named = (top > 0) & has_reads[readers]
        best = np.full(items.size, -1, dtype=np.intp)
        by_collab = named & (main == _COLLAB)
        if by_collab.any():
            position, weight = co_reads.strongest(readers[by_collab], items[by_collab])
            # a read without a co-visit (or a non-positive one) is left to the item's own
            # look-up, which reads the rows themselves
            best[by_collab] = np.where(weight > 0, position, -1)
        by_content = np.flatnonzero(named & (main == _CONTENT))
        if by_content.size:
            vectors = self.pool.catalog.vectors
            order = np.argsort(readers[by_content], kind="stable")
            by_content = by_content[order]
            owners = readers[by_content]
            cuts = np.flatnonzero(np.diff(owners)) + 1
            for part in np.split(by_content, cuts):
                view = views[int(readers[part[0]])]
                strength = self._recent_vectors(view) @ np.take(vectors, items[part], axis=0).T
                best[part] = np.argmax(strength, axis=0)
        s = self.settings
        fresh = x[:, F["freshness"]].tolist()
        return [self._say(views[r], idx, m, t, f, b, s)
                for r, idx, m, t, f, b in zip(readers.tolist(), items.tolist(),
                                              main.tolist(), top.tolist(), fresh,
                                              best.tolist(), strict=True)]

    def _main(self, x: NDArray[np.float64]) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
        """The generator contributing most to each row's prior (the first of equals, in
        the order content, co-visitation, popularity, freshness), and its contribution."""
        s = self.settings
        parts = np.stack([s.content_weight * x[:, F["content"]],
                          s.collab_weight * x[:, F["collab"]],
                          s.popularity_weight * x[:, F["popularity"]],
                          s.fresh_boost * x[:, F["freshness"]]], axis=1)
        main = np.argmax(parts, axis=1)
        return main, parts[np.arange(main.size), main]

    def _recent_vectors(self, view: UserView) -> NDArray[np.float32]:
        """The content vectors of the user's recent reads, gathered once per user."""
        recent = view.items[-self.settings.collab_query_items:]
        if view.vectors is None or view.vectors.shape[0] != recent.size:
            view.vectors = self.pool.catalog.vectors[recent]
        return view.vectors

    def _strength(self, view: UserView, idx: int, collab: bool) -> NDArray[np.float32]:
        """How strongly each recent read ties item ``idx`` to the user: its co-visitation
        weight with the item, or the similarity of their content."""
        recent = view.items[-self.settings.collab_query_items:]
        if not collab:
            out: NDArray[np.float32] = self._recent_vectors(view) @ self.pool.catalog.vectors[idx]
            return out
        # the recent items' rows are gathered once per user, not once per reason
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
        return strength

    def _say(self, view: UserView, idx: int, main: int, top: float, freshness: float,
             best: int, s: ModelSettings) -> str:
        """The reason, given the main generator, its contribution, the item's freshness and
        (-1: not known yet) the position of the recent read that ties it most to the
        user."""
        cat = self.pool.catalog
        tags = cat.tags[idx]
        tag = tags[0] if tags else None
        if top <= 0:
            return f"new in {tag}" if tag else "popular now"
        if main in (_CONTENT, _COLLAB) and view.items.size:
            if main == _CONTENT and freshness >= 0.5 and tag is not None \
                    and tag in self._followed(view):
                return f"new in {tag}, a topic you follow"
            recent = view.items[-s.collab_query_items:]
            titles = cat.titles
            if best >= 0:
                own = titles[idx].strip().casefold()
                read = int(recent[best])
                if not own or titles[read].strip().casefold() != own:
                    return f"because you read “{self.title(read)}”"
            return self._because(recent, self._strength(view, idx, main == _COLLAB), idx)
        if main == _FRESHNESS:
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
        """The tags of the user's :meth:`interests`, found once per view."""
        if view.followed is None:
            top, _ = self._top_tags(view)
            view.followed = {tag for tag, _ in top}
        return view.followed

    def interests(self, view: UserView) -> list[tuple[str, float]]:
        """The user's top interests: tags with weights summing to at most 1, strongest first
        (time-decayed, reads weighted by dwell)."""
        top, total = self._top_tags(view)
        return [(tag, round(w / total, 3)) for tag, w in top]

    def _top_tags(self, view: UserView) -> tuple[list[tuple[str, float]], float]:
        """The ``interests_top_k`` tags of the largest summed weight (a read's weight shared
        among its tags), strongest first, with those sums, and the sum over every tag;
        none where that is not positive."""
        totals: dict[str, float] = {}
        tags_of = self.pool.catalog.tags
        get = totals.get
        for idx, weight in zip(view.items.tolist(), view.weights.tolist(), strict=True):
            tags = tags_of[idx]
            if tags:
                share = weight / len(tags)
                for tag in tags:
                    totals[tag] = get(tag, 0.0) + share
        total = sum(totals.values())
        if total <= 0:
            return [], total
        return sorted(totals.items(), key=_strongest)[: self.settings.interests_top_k], total

    def changed(self, row: int, found: list[tuple[str, float]]) -> bool:
        """Whether a user's interests changed (to two decimals) since the last call that
        said so: the worker publishes a profile only then."""
        # 0 stands for "none published yet"
        signature = hash(tuple((tag, round(w, 2)) for tag, w in found)) or 1
        if int(self.users.signature[row]) == signature:
            return False
        self.users.signature[row] = signature
        return True
