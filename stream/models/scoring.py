"""How every item scores for a user: the generators (content, co-visitation, popularity,
freshness, click-through rate, sentiment), their blend (the prior) and the ranker's score."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from stream.models.arrays import norm
from stream.models.facts import ItemStatistics
from stream.models.histories import UserHistories
from stream.models.items import ItemPool
from stream.models.ranker import FEATURES
from stream.models.settings import ModelSettings

__all__ = ["F", "Rows", "Scorer", "SentimentSource", "UserView"]

#: the overall click-through rate assumed before any impression was seen
_DEFAULT_CTR = 0.05

#: per-item comment sentiment: ``item_id -> (mean in [-1, 1], number of comments)``
SentimentSource = Mapping[str, tuple[float, float]] | Callable[[str], tuple[float, float] | None]

#: the column of each ranker feature
F = {name: i for i, name in enumerate(FEATURES)}


@dataclass(slots=True)
class Rows:
    """What the features of some items read of the catalogue at ``now``, one value per item
    (normalised popularity, freshness, decayed clicks and showings), and the overall
    click-through rate."""

    now: float
    popularity: NDArray[np.float64]
    freshness: NDArray[np.float64]
    clicks: NDArray[np.float64]
    shown: NDArray[np.float64]
    base_ctr: float


@dataclass(slots=True)
class UserView:
    """What ranking needs of one user."""

    row: int | None
    items: NDArray[np.int32]
    weights: NDArray[np.float64]
    query: NDArray[np.float32] | None
    seen: NDArray[np.int32]
    followed: set[str] | None = None
    #: the content vectors of ``items``, gathered once for every reason given to the user
    vectors: NDArray[np.float32] | None = None
    #: the co-visitation rows (neighbours, weights) of ``items``, likewise
    covisits: tuple[NDArray[np.int32], NDArray[np.float32]] | None = None


class Scorer:
    """Scores items for users from the pool, the item statistics and the users' histories.

    * **content**: a user's interest is a blend of a long-term and a short-term profile of
      their recent reads' TF-IDF vectors, decayed in time and weighted by dwell; cosine
      similarity scores every item in one matrix product;
    * **collaborative**: co-visitation rows of the user's recent reads, normalised like
      RP3beta: ``sum_h C[h, j] / deg(h) / deg(j) ** covisit_beta``;
    * **popularity** (log-scaled to the top item), **freshness** (age decay from publication
      or first sighting), **click-through rate** on impressions (log-odds above the overall
      rate, with a Beta prior) and **sentiment** of the item's comments.

    The *prior* is a weighted sum of content, co-visitation, popularity and freshness; once
    the ranker is warm, its click probability on all the features replaces it.
    """

    def __init__(self, settings: ModelSettings, pool: ItemPool, stats: ItemStatistics,
                 users: UserHistories, sentiment: SentimentSource | None = None) -> None:
        self.settings = settings
        self.pool = pool
        self.stats = stats
        self.users = users
        self.sentiment = sentiment

    # --- what every user of a batch shares --------------------------------------------------

    @staticmethod
    def _base_ctr(shown_total: float, clicks_total: float) -> float:
        """The overall click-through rate: decayed clicks over decayed showings, bounded, a
        default before anything was shown."""
        return (min(max(clicks_total / shown_total, 1e-3), 0.5)
                if shown_total > 0 else _DEFAULT_CTR)

    def _row_terms(self, now: float, items: NDArray[np.int64], pop: NDArray[np.float64],
                   top: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Normalised popularity and freshness of ``items``, from their decayed popularity
        ``pop`` and the top popularity."""
        clipped = np.maximum(pop, 0.0)
        pop_norm = np.log1p(clipped) / math.log1p(top) if top > 0 else clipped
        # age from the publication time, or from the first sighting when none is known; an
        # item with no trusted time that no event has named yet is of unknown age, not fresh
        # (NaN, from an unknown birth, is the only value nan_to_num would change: exp2 of a
        # non-positive number is finite)
        born = self.pool.born(items)
        fresh = np.exp2(-np.maximum(now - born, 0.0) / self.settings.freshness_half_life_seconds)
        fresh[np.isnan(fresh)] = 0.0
        return pop_norm, fresh

    def trend_terms(self, now: float, items: NDArray[np.int64]
                    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Normalised popularity (log-scaled to the top item) and freshness of ``items`` at
        ``now``: what the prior adds for every reader alike, at a cost per item."""
        popularity = self.stats.popularity
        return self._row_terms(now, items, popularity.at(items, now), popularity.top(now))

    def rows(self, now: float, items: NDArray[np.int64]) -> Rows:
        """The terms :meth:`features` reads of ``items`` at ``now``, computed for those items
        alone: the catalogue-wide figures they need (the top popularity, the total showings
        and clicks) are kept as counts change, so this costs nothing per catalogue item."""
        stats = self.stats
        pop_norm, fresh = self.trend_terms(now, items)
        clicks = stats.clicked.at(items, now)
        clicks_total = stats.clicked.total(now)
        if not stats.clicked.nonnegative:
            clicks = np.maximum(clicks, 0.0)
            clicks_total = float(np.maximum(stats.clicked.scores(now, len(self.pool.catalog)),
                                            0.0).sum())
        base_ctr = self._base_ctr(stats.shown.total(now), clicks_total)
        return Rows(now, pop_norm, fresh, clicks, stats.shown.at(items, now), base_ctr)

    def _degree_at(self, items: NDArray[np.int64], now: float) -> NDArray[np.float64]:
        """Co-visitation degrees of ``items`` (floored at 1e-3)."""
        return np.maximum(self.stats.degree.at(items, now), 1e-3)

    # --- one user ---------------------------------------------------------------------------

    def user_view(self, row: int | None, now: float, content: bool = True) -> UserView:
        """A user's recent reads, their blended weights and content query (``row`` None: a
        reader the model does not know); with ``content`` false, no query (what needs only
        the reads and their weights, e.g. the reader's interests, is spared the vectors)."""
        s = self.settings
        if row is None:
            empty = np.zeros(0, dtype=np.int32)
            return UserView(None, empty, np.zeros(0), None, empty)
        items, ts, weights = self.users.entries(row)
        seen = items
        if items.size == 0:
            return UserView(row, items, weights, None, seen)
        # profiles from the most recent reads: older ones are decayed and only cost time
        q = s.collab_query_items
        items, ts, weights = items[-q:], ts[-q:], weights[-q:]
        back = -(float(self.users.last_ts[row]) - ts)  # minus each read's age, for both decays
        long_w = weights * np.exp2(back / s.interest_half_life_seconds)
        short_w = weights * np.exp2(back / s.short_term_half_life_seconds)
        query: NDArray[np.float32] | None = None
        use_content = s.use_content and content
        if use_content:
            vectors = self.pool.catalog.vectors[items]
            wide = vectors.astype(np.float64)  # as each product would cast them, once for both
            long_v, short_v = long_w @ wide, short_w @ wide
            long_n, short_n = norm(long_v), norm(short_v)
            if long_n > 0:
                blend = (1.0 - s.short_term_weight) * long_v / long_n
                if short_n > 0:
                    blend += s.short_term_weight * short_v / short_n
                size = norm(blend)
                query = (blend / size).astype(np.float32) if size > 0 else None
        blended = (1.0 - s.short_term_weight) * long_w + s.short_term_weight * short_w
        view = UserView(row, items, blended, query, seen)
        if use_content:
            view.vectors = vectors
        return view

    def user_views(self, rows: Sequence[int | None], now: float) -> list[UserView]:
        """:meth:`user_view` of many readers at once (a batch's, for the first stage): their
        recent reads' vectors gathered in one read, their decays and profiles summed in a
        few array operations rather than a score of them per reader. The same views up to
        the order of floating-point sums."""
        s = self.settings
        q = s.collab_query_items
        empty = np.zeros(0, dtype=np.int32)
        views: list[UserView] = []
        recent: list[tuple[NDArray[np.int32], NDArray[np.float64], NDArray[np.float64]]] = []
        lasts: list[float] = []
        for row in rows:
            if row is None:
                views.append(UserView(None, empty, np.zeros(0), None, empty))
                continue
            items, ts, weights = self.users.entries(row)
            views.append(UserView(row, items, weights, None, items))
            if items.size:
                recent.append((items[-q:], ts[-q:], weights[-q:]))
                lasts.append(float(self.users.last_ts[row]))
        if not recent:
            return views
        sizes = np.array([r[0].size for r in recent])
        starts = np.cumsum(sizes) - sizes
        items = np.concatenate([r[0] for r in recent])
        ts = np.concatenate([r[1] for r in recent])
        weights = np.concatenate([r[2] for r in recent])
        age = np.repeat(np.array(lasts), sizes) - ts
        long_w = weights * np.exp2(-age / s.interest_half_life_seconds)
        short_w = weights * np.exp2(-age / s.short_term_half_life_seconds)
        blended = (1.0 - s.short_term_weight) * long_w + s.short_term_weight * short_w
        queries: list[NDArray[np.float32] | None] = [None] * len(recent)
        vectors = np.zeros((0, self.pool.catalog.dim), dtype=np.float32)
        if s.use_content:
            vectors = np.take(self.pool.catalog.vectors, items, axis=0)
            long_v = np.add.reduceat(long_w[:, None] * vectors, starts)
            short_v = np.add.reduceat(short_w[:, None] * vectors, starts)
            long_n = np.linalg.norm(long_v, axis=1)
            short_n = np.linalg.norm(short_v, axis=1)
            blend = (1.0 - s.short_term_weight) * long_v / np.where(long_n > 0, long_n, 1.0)[
                :, None]
            # (in user_view's order of operations)
            blend += np.where(short_n > 0, 1.0, 0.0)[:, None] * (
                s.short_term_weight * short_v / np.where(short_n > 0, short_n, 1.0)[:, None])
            norms = np.linalg.norm(blend, axis=1)
            made = (long_n > 0) & (norms > 0)
            unit = (blend / np.where(norms > 0, norms, 1.0)[:, None]).astype(np.float32)
            queries = [unit[j] if made[j] else None for j in range(len(recent))]
        j = 0
        for view in views:
            if view.items.size == 0:
                continue
            lo, hi = int(starts[j]), int(starts[j] + sizes[j])
            view.items, view.weights, view.query = items[lo:hi], blended[lo:hi], queries[j]
            if s.use_content:
                view.vectors = vectors[lo:hi]
            j += 1
        return views

    def _collab_raw(self, user: UserView, n: int, now: float
                    ) -> tuple[NDArray[np.float64], float]:
        """Co-visitation scores of the first ``n`` items before normalisation, and their
        maximum (what normalisation divides by): a few rows of it need no division of the
        whole array."""
        s = self.settings
        if not s.use_collab or user.items.size == 0:
            return np.zeros(n, dtype=np.float64), 0.0
        items = user.items[-s.collab_query_items:].astype(np.int64)
        weights = user.weights[-s.collab_query_items:]
        raw = self.stats.covisit.scores(items, weights * (1.0 / self._degree_at(items, now)), n)
        # only the co-visited columns can be non-zero: normalise those
        hit = np.flatnonzero(raw != 0)  # (indexes: few columns are co-visited)
        raw[hit] *= self._degree_at(hit, now) ** -s.covisit_beta
        return raw, float(raw.max()) if raw.size else 0.0

    def _collab_at(self, user: UserView, items: NDArray[np.int64], now: float
                   ) -> NDArray[np.float64]:
        """:meth:`collab` at ``items`` alone, bit for bit, at a cost that follows the slots
        the user's recent reads hold (see :meth:`CoVisitation.scores_at`), not the
        catalogue."""
        s = self.settings
        n = len(self.pool.catalog)
        if not s.use_collab or user.items.size == 0:
            return np.zeros(items.size, dtype=np.float64)
        recent = user.items[-s.collab_query_items:].astype(np.int64)
        weights = user.weights[-s.collab_query_items:]
        beta = s.covisit_beta
        at, top = self.stats.covisit.scores_at(
            recent, weights * (1.0 / self._degree_at(recent, now)), n, items,
            lambda cols: self._degree_at(cols, now) ** -beta)
        return at / top if top > 0 else at

    def prior(self, content: NDArray[np.float64], collab: NDArray[np.float64],
              popularity: NDArray[np.float64], freshness: NDArray[np.float64]
              ) -> NDArray[np.float64]:
        """The blend of the generators: the score the first stage picks candidates by, and
        lists are ranked by until the ranker is warm."""
        s = self.settings
        # the terms added in the order features() adds them
        out = s.content_weight * content
        out += s.collab_weight * collab
        out += s.popularity_weight * popularity
        out += s.fresh_boost * freshness
        return out

    def sentiment_of(self, items: NDArray[np.int64]) -> NDArray[np.float64]:
        """The comments' sentiment of each item, shrunk towards 0 by its comment count."""
        out = np.zeros(items.size, dtype=np.float64)
        source = self.sentiment
        if source is None:
            return out
        ids = self.pool.catalog.ids
        for j, idx in enumerate(items.tolist()):
            item_id = ids[idx]
            got = source.get(item_id) if isinstance(source, Mapping) else source(item_id)
            if got is not None:
                mean, count = got
                out[j] = float(mean) * count / (count + 5.0)
        return out

    def _ctr(self, rows: Rows) -> NDArray[np.float64]:
        """Click-through rate on impressions as log-odds above the overall rate: decayed
        clicks on shown positions over decayed showings, with a Beta prior of ``ctr_prior``
        showings at the overall rate (0 for an item never shown)."""
        clicks, shown = rows.clicks, rows.shown
        base = rows.base_ctr
        prior = self.settings.ctr_prior
        rate = np.clip((clicks + prior * base) / (shown + prior), 1e-4, 1.0 - 1e-4)
        out: NDArray[np.float64] = np.log(rate / (1.0 - rate)) - math.log(base / (1.0 - base))
        return out

    def features(self, user: UserView, items: NDArray[np.int64], rows: Rows,
                 columns: tuple[NDArray[np.float64], NDArray[np.float64],
                                NDArray[np.float64]] | None = None) -> NDArray[np.float64]:
        """The ranker's features (:data:`~stream.models.FEATURES`) of ``items`` for a user;
        ``columns``: their content, co-visitation and prior scores where the first stage
        has them already, else computed for these rows."""
        x = self.catalogue_features(items, rows)
        if columns is not None:
            content_at, collab_at, prior_at = columns
            x[:, F["content"]] = content_at
            x[:, F["collab"]] = collab_at
            x[:, F["prior"]] = prior_at
            return x
        self.add_user_columns(user, items, x, rows.now)
        return x

    def catalogue_features(self, items: NDArray[np.int64], rows: Rows,
                           sentiment: bool = True) -> NDArray[np.float64]:
        """The ranker's features of ``items`` that do not depend on the reader: popularity,
        click-through rate, exposure, freshness and (unless ``sentiment`` is false: asked of
        the comments one item at a time) sentiment; content and co-visitation 0, and the
        prior their terms of it (:meth:`add_user_columns` adds the reader's)."""
        s = self.settings
        x = np.zeros((items.size, len(FEATURES)), dtype=np.float64)
        x[:, F["popularity"]] = rows.popularity
        x[:, F["ctr"]] = self._ctr(rows)
        x[:, F["exposure"]] = np.log1p(rows.shown)
        x[:, F["freshness"]] = rows.freshness
        if sentiment:
            x[:, F["sentiment"]] = self.sentiment_of(items)
        x[:, F["prior"]] = (s.popularity_weight * x[:, F["popularity"]]
                            + s.fresh_boost * x[:, F["freshness"]])
        return x

    def add_user_columns(self, user: UserView, items: NDArray[np.int64],
                         x: NDArray[np.float64] | NDArray[np.float32], now: float,
                         collab: NDArray[np.float64] | None = None) -> None:
        """Fill in the reader's columns of ``x`` (:meth:`catalogue_features` of ``items``):
        content and co-visitation at ``now`` (``collab``: the co-visitation scores of
        ``items`` where the caller has them), and the prior of every generator."""
        s = self.settings
        # the content score of a few items needs only their rows, not the whole catalogue
        # (an impression's features would otherwise cost a full scoring pass)
        if user.query is not None:
            x[:, F["content"]] = np.maximum(self.pool.catalog.matrix[items] @ user.query, 0.0)
        x[:, F["collab"]] = self._collab_at(user, items, now) if collab is None else collab
        x[:, F["prior"]] = (s.content_weight * x[:, F["content"]]
                            + s.collab_weight * x[:, F["collab"]]
                            + s.popularity_weight * x[:, F["popularity"]]
                            + s.fresh_boost * x[:, F["freshness"]])

    def final(self, features: NDArray[np.float64]) -> NDArray[np.float64]:
        """The score lists are ranked by: the ranker's click probability once it is warm,
        the prior before."""
        ranker = self.stats.ranker
        if self.settings.use_ranker and ranker.warm:
            return ranker.predict_proba(features)
        return features[:, F["prior"]]

    def score(self, user_id: str, item_ids: list[str], now: float) -> NDArray[np.float64]:
        """Scores of the candidates for the user (higher is better); unknown items get the
        score of an item nobody has read yet."""
        user = self.user_view(self.users.index.get(user_id), now)
        known = [self.pool.catalog.index.get(i) for i in item_ids]
        idx = np.array([-1 if k is None else k for k in known], dtype=np.int64)
        items = np.maximum(idx, 0)
        x = self.features(user, items, self.rows(now, items))
        # an unknown item is scored as what it will be once seen: new, never shown or read
        x[idx < 0] = 0.0
        x[idx < 0, F["freshness"]] = 1.0
        x[idx < 0, F["prior"]] = self.settings.fresh_boost
        return self.final(x)
