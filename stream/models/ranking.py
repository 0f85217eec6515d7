"""From scores to a list: candidates by the prior, the final score, diversity (MMR), reasons."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from stream.models.base import Recommendation
from stream.models.discovery import limit_discovery
from stream.models.explanations import Explainer
from stream.models.histories import UserHistories
from stream.models.items import ItemPool
from stream.models.languages import unread_language_items
from stream.models.scoring import Scorer, Shared, UserView
from stream.models.settings import ModelSettings

__all__ = ["Candidates", "ListRanker", "Retrieved"]


def zeros_f64(n: int) -> NDArray[np.float64]:
    """``n`` zeros."""
    return np.zeros(n, dtype=np.float64)


@dataclass(slots=True)
class Candidates:
    """A user's candidates and their generator scores (content, co-visitation, prior)."""

    view: UserView
    items: NDArray[np.intp]
    content: NDArray[np.float64]
    collab: NDArray[np.float64]
    prior: NDArray[np.float64]


@dataclass(slots=True)
class Retrieved:
    """What the first stage found for a batch of users (None: nothing to rank)."""

    shared: Shared
    users: dict[str, Candidates | None]


class ListRanker:
    """Ranks a user's top ``k``: the prior picks ``candidates`` items among those allowed
    (never seen, stale, excluded or, unless the settings say so, without metadata); the
    final score (the ranker's, once warm) orders them; maximal marginal relevance over the
    content vectors (``diversity``) picks ``k`` of the best ``3k``; each gets a reason."""

    def __init__(self, settings: ModelSettings, pool: ItemPool, users: UserHistories,
                 scorer: Scorer, explainer: Explainer) -> None:
        self.settings = settings
        self.pool = pool
        self.users = users
        self.scorer = scorer
        self.explainer = explainer

    def recommend_many(self, user_ids: Iterable[str], k: int, now: float
                       ) -> dict[str, list[Recommendation]]:
        """Top ``k`` for each user: :meth:`retrieve`, then :meth:`rank`."""
        return self.rank(self.retrieve(user_ids, k, now), k)

    def retrieve(self, user_ids: Iterable[str], k: int, now: float) -> Retrieved:
        """The first stage: each user's candidates, the items with the best prior among
        those allowed, sharing the per-batch work (popularity, freshness, one matrix product
        for all content scores)."""
        ids = list(dict.fromkeys(user_ids))
        scorer = self.scorer
        shared = scorer.shared(now)
        if shared.n == 0 or k <= 0:
            return Retrieved(shared, {u: None for u in ids})
        views = [scorer.user_view(self.users.index.get(u), now) for u in ids]
        zeros = np.zeros(shared.n, dtype=np.float64)
        return Retrieved(shared, {
            user_id: self._candidates(
                view, shared, zeros if content is None else content.astype(np.float64), k)
            for user_id, view, content in zip(ids, views, scorer.content_many(views),
                                              strict=True)})

    def _candidates(self, view: UserView, shared: Shared, content: NDArray[np.float64],
                    k: int) -> Candidates | None:
        scorer = self.scorer
        collab = scorer.collab(view, shared)
        prior = scorer.prior(content, collab, shared)
        ranked = prior.copy()
        ranked[shared.blocked] = -np.inf
        unread = unread_language_items(self.pool.catalog, view.seen, collab,
                                       self.settings.unread_language_evidence)
        if unread is not None:
            ranked[unread] = -np.inf
        if view.seen.size:
            ranked[view.seen[view.seen < shared.n]] = -np.inf
        n_cand = min(max(self.settings.candidates, k), shared.n)
        cand = np.argpartition(-ranked, n_cand - 1)[:n_cand]
        cand = cand[np.isfinite(ranked[cand])]
        if cand.size == 0:
            return Candidates(view, cand, zeros_f64(0), zeros_f64(0), zeros_f64(0))
        return Candidates(view, cand, content[cand], collab[cand], prior[cand])

    def rank(self, retrieved: Retrieved, k: int) -> dict[str, list[Recommendation]]:
        """The second stage: each user's candidates scored (the ranker's score once warm),
        ``k`` of the best ``3k`` picked for diversity, each with a reason."""
        return {user_id: [] if found is None or found.items.size == 0
                else self._rank_user(found, retrieved.shared, k)
                for user_id, found in retrieved.users.items()}

    def _rank_user(self, found: Candidates, shared: Shared, k: int) -> list[Recommendation]:
        scorer = self.scorer
        view, cand = found, found.items
        items = cand.astype(np.int64)
        features = scorer.features(view.view, items, shared.rows(items),
                                   columns=(found.content, found.collab, found.prior))
        final = scorer.final(features)
        order = np.argsort(-final, kind="stable")
        cand, features, final = cand[order], features[order], final[order]
        kept = limit_discovery(self.settings, features, k)
        if kept is not None:
            cand, features, final = cand[kept], features[kept], final[kept]
        picked = self._mmr(cand[: 3 * k], final[: 3 * k], k)
        # Python floats from here: the same values, without a numpy scalar per operation
        items, scores = cand[picked].tolist(), final[picked].tolist()
        ids = self.pool.catalog.ids
        return [
            Recommendation(item_id=ids[idx], score=round(score, 6),
                           reason=self.explainer.reason(found.view, idx, x))
            for idx, score, x in zip(items, scores, features[picked].tolist(), strict=True)
        ]

    def _mmr(self, cand: NDArray[np.intp], final: NDArray[np.float64], k: int) -> list[int]:
        """Maximal marginal relevance over the content vectors: positions into ``cand``."""
        diversity = self.settings.diversity
        m = cand.size
        if diversity <= 0 or m <= 1:
            return list(range(min(k, m)))
        span = float(final[0] - final[-1])
        rel = (final - final[-1]) / span if span > 0 else np.ones(m)
        vectors = self.pool.catalog.vectors[cand]
        sims = vectors @ vectors.T
        picked: list[int] = []
        max_sim = np.zeros(m)
        relevance = (1.0 - diversity) * rel
        for _ in range(min(k, m)):
            # a picked position's similarity is +inf: its score is -inf (diversity > 0)
            best = int(np.argmax(relevance - diversity * max_sim))
            picked.append(best)
            max_sim = np.maximum(max_sim, sims[best])
            max_sim[best] = np.inf
        return picked
