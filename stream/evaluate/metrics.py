"""Ranking, impression and exposure metrics, as pure functions on small arrays.

Definitions follow the references each protocol is compared with:

* prequential: hit rate, NDCG and reciprocal rank of one clicked item in a top-k list;
* split: Microsoft Recommenders' ``precision_at_k``, ``recall_at_k``, ``ndcg_at_k`` (binary
  relevance), ``map`` (divided by the number of relevant items) and ``map_at_k`` (divided by
  ``min(relevant, k)``), averaged over users;
* impressions: the MIND evaluation script's ``dcg_score``/``ndcg_score`` (gain ``2**y - 1``,
  discount ``log2(rank + 1)``), ``mrr_score`` (mean over the clicked items of 1/rank) and the
  ROC AUC (ties count one half, as ``sklearn.metrics.roc_auc_score``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "auc",
    "gini",
    "hit_ndcg_rr",
    "impression_mrr",
    "impression_ndcg",
    "intra_list_distance",
    "rank_order",
    "split_user_metrics",
]


def hit_ndcg_rr(ranked: Sequence[str], target: str, k: int) -> tuple[float, float, float]:
    """Hit, NDCG and reciprocal rank of one relevant ``target`` in the top ``k`` of ``ranked``.

    With one relevant item the ideal DCG is 1, so NDCG is ``1 / log2(rank + 1)``; an item
    outside the top ``k`` scores 0 on all three (the reciprocal rank is MRR@k).

    >>> hit_ndcg_rr(["a", "b", "c"], "b", k=10)
    (1.0, 0.6309297535714575, 0.5)
    >>> hit_ndcg_rr(["a", "b", "c"], "c", k=2)
    (0.0, 0.0, 0.0)
    """
    for position, item in enumerate(ranked[:k]):
        if item == target:
            rank = position + 1
            return 1.0, 1.0 / math.log2(rank + 1), 1.0 / rank
    return 0.0, 0.0, 0.0


def split_user_metrics(
    ranked: Sequence[str], relevant: set[str] | frozenset[str], k: int
) -> dict[str, float]:
    """One user's precision, recall, NDCG, AP and AP@k as Microsoft Recommenders computes them.

    ``precision = hits / k``, ``recall = hits / |relevant|``, NDCG with binary relevance
    over the ideal ``min(k, |relevant|)`` hits, ``ap = sum(hit_index / rank) / |relevant|``
    and ``ap@k`` the same sum divided by ``min(|relevant|, k)``.

    >>> m = split_user_metrics(["a", "x", "b"], {"a", "b", "c", "d"}, k=3)
    >>> round(m["precision"], 4), m["recall"], round(m["ap"], 4), round(m["ap@k"], 4)
    (0.6667, 0.5, 0.4167, 0.5556)
    """
    n_relevant = len(relevant)
    if n_relevant == 0:
        raise ValueError("a user in the test set has at least one relevant item")
    hits = 0
    dcg = 0.0
    precision_sum = 0.0
    for position, item in enumerate(ranked[:k]):
        if item in relevant:
            hits += 1
            rank = position + 1
            dcg += 1.0 / math.log2(rank + 1)
            precision_sum += hits / rank
    idcg = sum(1.0 / math.log2(i + 2) for i in range(min(k, n_relevant)))
    return {
        "hit": 1.0 if hits else 0.0,
        "precision": hits / k,
        "recall": hits / n_relevant,
        "ndcg": dcg / idcg,
        "ap": precision_sum / n_relevant,
        "ap@k": precision_sum / min(n_relevant, k),
    }


def rank_order(scores: NDArray[np.float64], tiebreak: NDArray[np.float64]) -> NDArray[np.int64]:
    """Indexes by descending score; equal scores ordered by descending ``tiebreak``.

    The MIND script uses ``np.argsort(score)[::-1]``, whose order among ties depends on the
    sort algorithm; a seeded random tiebreak, the same for every model, keeps a model that
    scores all candidates alike at chance level instead of at the mercy of list order.

    >>> rank_order(np.array([0.1, 0.5, 0.1]), np.array([0.0, 0.0, 1.0])).tolist()
    [1, 2, 0]
    """
    return np.lexsort((-tiebreak, -scores)).astype(np.int64)


def impression_ndcg(labels_in_rank_order: NDArray[np.float64], k: int) -> float:
    """MIND's ``ndcg_score``: labels (1 clicked, 0 skipped) already sorted by the model.

    >>> round(impression_ndcg(np.array([0.0, 1.0, 0.0]), k=5), 4)
    0.6309
    """
    gains = 2.0 ** labels_in_rank_order[:k] - 1.0
    discounts = np.log2(np.arange(gains.shape[0]) + 2.0)
    actual = float(np.sum(gains / discounts))
    ideal_labels = np.sort(labels_in_rank_order)[::-1][:k]
    ideal_discounts = np.log2(np.arange(ideal_labels.shape[0]) + 2.0)
    best = float(np.sum((2.0**ideal_labels - 1.0) / ideal_discounts))
    return actual / best if best > 0 else 0.0


def impression_mrr(labels_in_rank_order: NDArray[np.float64]) -> float:
    """MIND's ``mrr_score``: the mean of 1/rank over the clicked candidates.

    >>> impression_mrr(np.array([0.0, 1.0, 0.0, 1.0]))
    0.375
    """
    total = float(np.sum(labels_in_rank_order))
    if total == 0:
        return 0.0
    rr = labels_in_rank_order / (np.arange(labels_in_rank_order.shape[0]) + 1.0)
    return float(np.sum(rr)) / total


def auc(labels: NDArray[np.float64], scores: NDArray[np.float64]) -> float:
    """ROC AUC by the Mann-Whitney statistic; a tie between a click and a skip counts 1/2.

    >>> auc(np.array([1.0, 0.0, 0.0]), np.array([0.9, 0.1, 0.9]))
    0.75
    """
    positive = scores[labels > 0]
    negative = scores[labels <= 0]
    if positive.shape[0] == 0 or negative.shape[0] == 0:
        raise ValueError("AUC needs at least one click and one skip")
    order = np.sort(negative)
    below = np.searchsorted(order, positive, side="left")
    not_above = np.searchsorted(order, positive, side="right")
    wins = below + 0.5 * (not_above - below)
    return float(np.sum(wins)) / float(positive.shape[0] * negative.shape[0])


def gini(exposure: NDArray[np.float64]) -> float:
    """Gini coefficient of exposure counts over the whole catalogue (0 equal, near 1 all on one).

    >>> gini(np.array([1.0, 1.0, 1.0, 1.0]))
    0.0
    >>> gini(np.array([0.0, 0.0, 0.0, 4.0]))
    0.75
    """
    n = exposure.shape[0]
    total = float(np.sum(exposure))
    if n == 0 or total == 0:
        return 0.0
    ordered = np.sort(exposure)
    index = np.arange(1, n + 1, dtype=np.float64)
    return float(np.sum((2.0 * index - n - 1.0) * ordered)) / float(n * total)


def intra_list_distance(vectors: NDArray[np.float32]) -> float | None:
    """Mean pairwise cosine distance of the rows that have content (zero rows are skipped).

    ``None`` when fewer than two rows have content.

    >>> intra_list_distance(np.array([[1, 0], [0, 1], [0, 0]], dtype=np.float32))
    1.0
    """
    norms = np.linalg.norm(vectors, axis=1)
    usable = vectors[norms > 0] / norms[norms > 0, None]
    m = usable.shape[0]
    if m < 2:
        return None
    gram = usable @ usable.T
    mean_similarity = (float(np.sum(gram)) - float(np.trace(gram))) / (m * (m - 1))
    return float(1.0 - mean_similarity)
