"""How every item scores for a user: the generators (content, co-visitation, popularity,
freshness, click-through rate, sentiment), their blend (the prior) and the ranker's score."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from stream.models.facts import ItemStatistics
from stream.models.histories import UserHistories
from stream.models.items import ItemPool
from stream.models.ranker import FEATURES
from stream.models.settings import ModelSettings

__all__ = ["F", "Scorer", "SentimentSource", "Shared", "UserView"]

#: the overall click-through rate assumed before any impression was seen
_DEFAULT_CTR = 0.05

#: per-item comment sentiment: ``item_id -> (mean in [-1, 1], number of comments)``
SentimentSource = Mapping[str, tuple[float, float]] | Callable[[str], tuple[float, float] | None]

#: the column of each ranker feature
F = {name: i for i, name in enumerate(FEATURES)}


@dataclass(slots=True)
class Shared:
    """Per-``now`` arrays every user of a batch shares."""

    n: int
    popularity: NDArray[np.float64]
    freshness: NDArray[np.float64]
    #: co-visitation degrees (floored at 1e-3); None where only a few rows need them, read
    #: through :meth:`Scorer.degree_at`
    degree: NDArray[np.float64] | None
    #: ``degree ** -covisit_beta``; None where only co-visited columns need it
    column_norm: NDArray[np.float64] | None
    #: the items that may not be recommended (empty where only features are taken, not
    #: ranked)
    blocked: NDArray[np.intp]
    clicks: NDArray[np.float64]
    shown: NDArray[np.float64]
    base_ctr: float
    born: NDArray[np.float64]
    now: float
    #: ``popularity_weight * popularity`` and ``fresh_boost * freshness``, the terms of the
    #: prior every user shares (None where nothing is ranked)
    prior_terms: tuple[NDArray[np.float64], NDArray[np.float64]] | None = None


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

    def _catalog_totals(
        self, now: float, n: int
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], float, float]:
        """What every row's features share: decayed popularity (raw), showings and clicks of
        the first ``n`` items, the overall click-through rate and the top popularity."""
        pop = self.stats.popularity.scores(now, n)
        shown, clicks, base_ctr = self._exposure(now, n)
        # max(max(p, 0)) == max(max(p), 0): the top without clipping the whole array
        top = max(float(pop.max()), 0.0) if n else 0.0
        return pop, shown, clicks, base_ctr, top

    def _exposure(
        self, now: float, n: int
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], float]:
        """Decayed showings and clicks of the first ``n`` items and the overall
        click-through rate (bounded, a default before anything was shown)."""
        shown = self.stats.shown.scores(now, n)
        clicks = self._clicks(now, n)
        total_shown = float(shown.sum())
        base_ctr = (min(max(float(clicks.sum()) / total_shown, 1e-3), 0.5)
                    if total_shown > 0 else _DEFAULT_CTR)
        return shown, clicks, base_ctr

    def _clicks(self, now: float, n: int) -> NDArray[np.float64]:
        """Decayed clicks of the first ``n`` items, clipped at 0 (which changes nothing, and
        is skipped, while no click was ever taken back)."""
        clicked = self.stats.clicked
        clicks = clicked.scores(now, n)
        return clicks if clicked.nonnegative else np.maximum(clicks, 0.0)

    def _row_terms(
        self, now: float, rows: slice | NDArray[np.int64], pop: NDArray[np.float64], top: float
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """Normalised popularity, birth time and freshness of the catalogue ``rows``, from
        their decayed popularity ``pop`` (one value per row)."""
        cat = self.pool.catalog
        clipped = np.maximum(pop, 0.0)
        pop_norm = np.log1p(clipped) / math.log1p(top) if top > 0 else clipped
        # age from the publication time, or from the first sighting when none is known
        known = cat.has_metadata[rows] & (cat.published_at[rows] > 0)
        born = np.where(known, cat.published_at[rows], cat.first_seen[rows])
        # an item with no trusted time that no event has named yet: of unknown age, not fresh
        # (NaN, from an unknown birth, is the only value nan_to_num would change: exp2 of a
        # non-positive number is finite)
        fresh = np.exp2(-np.maximum(now - born, 0.0) / self.settings.freshness_half_life_seconds)
        fresh[np.isnan(fresh)] = 0.0
        return pop_norm, born, fresh

    def shared(self, now: float) -> Shared:
        """Everything every user's ranking shares at ``now``, over the whole catalogue."""
        s = self.settings
        cat = self.pool.catalog
        n = len(cat)
        pop, shown, clicks, base_ctr, top = self._catalog_totals(now, n)
        pop_norm, born, fresh = self._row_terms(now, slice(0, n), pop, top)
        degree = np.maximum(self.stats.degree.scores(now, n), 1e-3)
        allowed = cat.active[:n] & ~self.pool.excluded[:n]
        if not s.recommend_stubs:
            allowed &= cat.has_metadata[:n]
        allowed &= ~self.pool.stale(now, n)
        return Shared(n, pop_norm, fresh, degree, degree ** -s.covisit_beta,
                      np.flatnonzero(~allowed), clicks, shown, base_ctr, born, now,
                      (s.popularity_weight * pop_norm, s.fresh_boost * fresh))

    def shared_rows(self, now: float, items: NDArray[np.int64]) -> Shared:
        """What :meth:`features` reads of :meth:`shared` for a few ``items``, filled at
        their rows only (the rest of each array is zero), from the same totals and per-row
        terms: an impression's features then cost a few cheap vector operations instead of
        every item's freshness, staleness and column norm. Popularity is divided only at
        those rows (its top from the stored values, see :meth:`DecayedPopularity.top`) and
        degrees only where co-visitation reads them. The features are bit-for-bit the same
        (tests/unit/test_golden_outputs.py)."""
        n = len(self.pool.catalog)
        shown, clicks, base_ctr = self._exposure(now, n)
        popularity = self.stats.popularity
        top = popularity.top(now, n)
        pop_norm, born, fresh = (np.zeros(n, dtype=np.float64) for _ in range(3))
        pop_norm[items], born[items], fresh[items] = self._row_terms(
            now, items, popularity.at(items, now), top)
        return Shared(n, pop_norm, fresh, None, None, np.zeros(0, dtype=np.intp),
                      clicks, shown, base_ctr, born, now)

    def degree_at(self, shared: Shared, items: NDArray[np.int64]) -> NDArray[np.float64]:
        """Co-visitation degrees of ``items`` (floored at 1e-3), as :meth:`shared` has them."""
        if shared.degree is not None:
            return shared.degree[items]
        return np.maximum(self.stats.degree.at(items, shared.now), 1e-3)

    # --- one user ---------------------------------------------------------------------------

    def user_view(self, row: int | None, now: float) -> UserView:
        """A user's recent reads, their blended weights and content query (``row`` None: a
        reader the model does not know)."""
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
        last = float(self.users.last_ts[row])
        long_w = weights * np.exp2(-(last - ts) / s.interest_half_life_seconds)
        short_w = weights * np.exp2(-(last - ts) / s.short_term_half_life_seconds)
        query: NDArray[np.float32] | None = None
        if s.use_content:
            vectors = self.pool.catalog.vectors[items]
            long_v, short_v = long_w @ vectors, short_w @ vectors
            long_n, short_n = float(np.linalg.norm(long_v)), float(np.linalg.norm(short_v))
            if long_n > 0:
                blend = (1.0 - s.short_term_weight) * long_v / long_n
                if short_n > 0:
                    blend += s.short_term_weight * short_v / short_n
                norm = float(np.linalg.norm(blend))
                query = (blend / norm).astype(np.float32) if norm > 0 else None
        blended = (1.0 - s.short_term_weight) * long_w + s.short_term_weight * short_w
        view = UserView(row, items, blended, query, seen)
        if s.use_content:
            view.vectors = vectors
        return view

    def collab(self, user: UserView, shared: Shared) -> NDArray[np.float64]:
        """Co-visitation scores of every item, divided by their maximum."""
        raw, top = self._collab_raw(user, shared)
        return raw / top if top > 0 else raw

    def _collab_raw(self, user: UserView, shared: Shared) -> tuple[NDArray[np.float64], float]:
        """Co-visitation scores of every item before normalisation, and their maximum (what
        :meth:`collab` divides by): a few rows of it need no division of the whole array."""
        s = self.settings
        if not s.use_collab or user.items.size == 0:
            return np.zeros(shared.n, dtype=np.float64), 0.0
        items = user.items[-s.collab_query_items:].astype(np.int64)
        weights = user.weights[-s.collab_query_items:]
        row_norm = 1.0 / self.degree_at(shared, items)
        raw = self.stats.covisit.scores(items, weights * row_norm, shared.n)
        if shared.column_norm is not None:
            raw *= shared.column_norm
        else:  # only the co-visited columns can be non-zero: normalise those
            hit = np.flatnonzero(raw != 0)  # (indexes: few columns are co-visited)
            raw[hit] *= self.degree_at(shared, hit) ** -s.covisit_beta
        return raw, float(raw.max()) if raw.size else 0.0

    def content_many(self, views: list[UserView]) -> list[NDArray[np.float32] | None]:
        """Content scores of every item for each user with a query (None for the others),
        in one matrix product: rows of one array, made float64 by whoever ranks them."""
        with_query = [i for i, v in enumerate(views) if v.query is not None]
        out: list[NDArray[np.float32] | None] = [None] * len(views)
        if with_query:
            queries = np.stack([q for i in with_query if (q := views[i].query) is not None])
            # items x users: the item matrix is read once, row-major, for the whole batch
            # (made row-major once: a user's row is then read contiguously)
            content_all = np.ascontiguousarray(
                np.maximum(self.pool.catalog.matrix @ queries.T, 0.0).T)
            for j, i in enumerate(with_query):
                out[i] = content_all[j]
        return out

    def prior(self, content: NDArray[np.float64], collab: NDArray[np.float64],
              shared: Shared) -> NDArray[np.float64]:
        """The blend of the generators, over the whole catalogue."""
        # the sums of content, collab, popularity and freshness terms in that order, with
        # the terms every user shares computed once per batch by shared() (only it ranks)
        assert shared.prior_terms is not None, "ranking needs shared(), not shared_rows()"
        s = self.settings
        out = s.content_weight * content
        out += s.collab_weight * collab
        out += shared.prior_terms[0]
        out += shared.prior_terms[1]
        return out

    def _sentiment(self, items: NDArray[np.int64]) -> NDArray[np.float64]:
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

    def _ctr(self, items: NDArray[np.int64], shared: Shared) -> NDArray[np.float64]:
        """Click-through rate on impressions as log-odds above the overall rate: decayed
        clicks on shown positions over decayed showings, with a Beta prior of ``ctr_prior``
        showings at the overall rate (0 for an item never shown)."""
        clicks, shown = shared.clicks[items], shared.shown[items]
        base = shared.base_ctr
        prior = self.settings.ctr_prior
        rate = np.clip((clicks + prior * base) / (shown + prior), 1e-4, 1.0 - 1e-4)
        out: NDArray[np.float64] = np.log(rate / (1.0 - rate)) - math.log(base / (1.0 - base))
        return out

    def features(self, user: UserView, items: NDArray[np.int64], shared: Shared,
                 columns: tuple[NDArray[np.float64], NDArray[np.float64],
                                NDArray[np.float64]] | None = None) -> NDArray[np.float64]:
        """The ranker's features (:data:`~stream.models.FEATURES`) of ``items`` for a user;
        ``columns``: their content, co-visitation and prior scores where the first stage
        has them already, else computed for these rows."""
        content_at, collab_at, prior_at = columns if columns is not None else (None, None, None)
        s = self.settings
        x = np.zeros((items.size, len(FEATURES)), dtype=np.float64)
        # the content score of a few items needs only their rows, not the whole catalogue
        # (an impression's features would otherwise cost a full scoring pass)
        if content_at is not None:
            x[:, F["content"]] = content_at
        elif user.query is not None:
            x[:, F["content"]] = np.maximum(self.pool.catalog.matrix[items] @ user.query, 0.0)
        if collab_at is None:  # (raw / top)[items], dividing only those rows
            raw, top = self._collab_raw(user, shared)
            x[:, F["collab"]] = raw[items] / top if top > 0 else raw[items]
        else:
            x[:, F["collab"]] = collab_at
        x[:, F["popularity"]] = shared.popularity[items]
        x[:, F["ctr"]] = self._ctr(items, shared)
        x[:, F["exposure"]] = np.log1p(shared.shown[items])
        x[:, F["freshness"]] = shared.freshness[items]
        x[:, F["sentiment"]] = self._sentiment(items)
        if prior_at is not None:
            x[:, F["prior"]] = prior_at
        else:  # prior() on the rows of these items
            x[:, F["prior"]] = (
                s.content_weight * x[:, F["content"]]
                + s.collab_weight * x[:, F["collab"]]
                + s.popularity_weight * x[:, F["popularity"]]
                + s.fresh_boost * x[:, F["freshness"]]
            )
        return x

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
        shared = self.shared(now)
        user = self.user_view(self.users.index.get(user_id), now)
        known = [self.pool.catalog.index.get(i) for i in item_ids]
        idx = np.array([-1 if k is None else k for k in known], dtype=np.int64)
        x = self.features(user, np.maximum(idx, 0), shared)
        # an unknown item is scored as what it will be once seen: new, never shown or read
        x[idx < 0] = 0.0
        x[idx < 0, F["freshness"]] = 1.0
        x[idx < 0, F["prior"]] = self.settings.fresh_boost
        return self.final(x)
