"""From candidates to lists, for a batch of readers at once: the final score, the discovery
limit, diversity (MMR) and reasons."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from numpy.typing import NDArray

from stream.models.arrays import distinct_positions
from stream.models.base import Recommendation
from stream.models.candidates import TopicLists
from stream.models.discovery import limit_discovery_rows
from stream.models.explanations import Explainer
from stream.models.histories import UserHistories
from stream.models.items import ItemPool
from stream.models.retrieval import Retrieved, Retriever
from stream.models.scoring import F, Scorer
from stream.models.settings import ModelSettings

__all__ = ["ListRanker"]


class ListRanker:
    """Ranks the top ``k`` of a batch of readers in two stages: :meth:`retrieve` finds each
    reader's candidates (:class:`~stream.models.retrieval.Retriever`: never seen, stale,
    excluded or, unless the settings say so, without metadata), :meth:`rank` orders them by
    the final score (the ranker's, once warm), holds discovery items to their share, picks
    ``k`` of the best ``3k`` by maximal marginal relevance over the content vectors
    (``diversity``) and gives each a reason. Each step is one set of array operations over
    the whole batch's candidates, not a pass per reader."""

    def __init__(self, settings: ModelSettings, pool: ItemPool, users: UserHistories,
                 scorer: Scorer, explainer: Explainer, lists: TopicLists) -> None:
        self.settings = settings
        self.pool = pool
        self.scorer = scorer
        self.explainer = explainer
        self.retriever = Retriever(settings, pool, users, scorer, lists)

    def recommend_many(self, user_ids: Iterable[str], k: int, now: float
                       ) -> dict[str, list[Recommendation]]:
        """Top ``k`` for each user: :meth:`retrieve`, then :meth:`rank`."""
        return self.rank(self.retrieve(user_ids, k, now), k)

    def retrieve(self, user_ids: Iterable[str], k: int, now: float) -> Retrieved:
        """The first stage for the distinct ``user_ids``."""
        return self.retriever.retrieve(list(dict.fromkeys(user_ids)), k, now)

    def rank(self, retrieved: Retrieved, k: int) -> dict[str, list[Recommendation]]:
        """The second stage: every reader's candidates scored at once (the ranker's score
        once warm), ``k`` of the best ``3k`` picked for diversity, each with a reason."""
        found = retrieved
        out: dict[str, list[Recommendation]] = {u: [] for u in found.user_ids}
        held = found.items >= 0
        if k <= 0 or not held.any():
            return out
        scorer = self.scorer
        items = found.items[held]
        distinct_items, at = distinct_positions(items)
        # the catalogue's columns once per item, the reader's from the first stage
        x = scorer.catalogue_features(distinct_items, scorer.rows(found.now, distinct_items))[at]
        x[:, F["content"]] = found.content[held]
        x[:, F["collab"]] = found.collab[held]
        x[:, F["prior"]] = found.prior[held]
        # per reader, positions into x, best final score first (-1: none)
        final = np.full(held.shape, -np.inf)
        final[held] = scorer.final(x)
        pair = np.full(held.shape, -1, dtype=np.intp)
        pair[held] = np.arange(items.size)
        order = np.argsort(-final, axis=1, kind="stable")
        pair = np.take_along_axis(pair, order, axis=1)
        final = np.take_along_axis(final, order, axis=1)
        if self.settings.discovery_share < 1.0:
            kept, dropped = limit_discovery_rows(self.settings, x, pair, k)
            pair = np.take_along_axis(pair, kept, axis=1)
            final = np.take_along_axis(final, kept, axis=1)
            pair[dropped] = -1
            final[dropped] = -np.inf
        pair, final = pair[:, : 3 * k], final[:, : 3 * k]
        positions = self._mmr(np.where(pair >= 0, items[pair], -1), final, k)
        some = positions >= 0
        readers, _ = np.nonzero(some)
        at = positions[some]
        chosen = pair[readers, at]
        # Python floats from here: the same values, without a numpy scalar per operation
        scores = [round(v, 6) for v in final[readers, at].tolist()]
        reasons = self.explainer.reasons(found.views, readers, items[chosen], x[chosen],
                                         found.co_reads)
        ids = self.pool.catalog.ids
        # (item_id, score, reason) by position: keyword arguments cost half as much again
        made = list(map(Recommendation, [ids[idx] for idx in items[chosen].tolist()], scores,
                        reasons))
        # the picks come reader by reader (np.nonzero goes row by row): a slice each
        start = 0
        for user_id, end in zip(found.user_ids,
                                np.cumsum(np.count_nonzero(some, axis=1)).tolist(), strict=True):
            out[user_id] = made[start:end]
            start = end
        return out

    def _mmr(self, items: NDArray[np.int64], final: NDArray[np.float64], k: int
             ) -> NDArray[np.intp]:
        """Maximal marginal relevance over the content vectors, every reader at once: per
        row, the positions picked in order (-1 past the last); ``items`` best first, -1 for
        none."""
        diversity = self.settings.diversity
        n_rows, m = items.shape
        valid = items >= 0
        count = np.count_nonzero(valid, axis=1)
        picks = min(k, m)
        steps = np.arange(picks)
        if diversity <= 0 or m <= 1:
            return np.where(steps[None, :] < count[:, None], steps[None, :], -1)
        rows = np.arange(n_rows)
        last = final[rows, np.maximum(count - 1, 0)]
        span = final[:, 0] - last
        wide = span > 0
        rel = np.ones((n_rows, m))
        rel[wide] = (final[wide] - last[wide, None]) / span[wide, None]
        relevance = (1.0 - diversity) * rel
        relevance[~valid] = -np.inf
        vectors = np.take(self.pool.catalog.vectors, np.maximum(items, 0), axis=0)
        sims = np.matmul(vectors, vectors.transpose(0, 2, 1))
        max_sim = np.zeros((n_rows, m))
        out = np.full((n_rows, picks), -1, dtype=np.intp)
        for step in range(picks):
            # a picked position's similarity is +inf: its score is -inf (diversity > 0)
            best = np.argmax(relevance - diversity * max_sim, axis=1)
            out[:, step] = np.where(step < count, best, -1)
            np.maximum(max_sim, sims[rows, best], out=max_sim)
            max_sim[rows, best] = np.inf
        return out
