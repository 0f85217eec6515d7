"""Metric functions against cases computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from stream.evaluate.metrics import (
    auc,
    gini,
    hit_ndcg_rr,
    impression_mrr,
    impression_ndcg,
    intra_list_distance,
    rank_order,
    split_user_metrics,
)


def test_hit_ndcg_rr_first_third_and_miss() -> None:
    assert hit_ndcg_rr(["x", "a"], "x", k=10) == (1.0, 1.0, 1.0)
    hit, ndcg, rr = hit_ndcg_rr(["a", "b", "x"], "x", k=10)
    assert (hit, rr) == (1.0, 1 / 3)
    assert ndcg == pytest.approx(1 / math.log2(4))  # 0.5
    assert hit_ndcg_rr(["a", "b", "x"], "x", k=2) == (0.0, 0.0, 0.0)
    assert hit_ndcg_rr([], "x", k=10) == (0.0, 0.0, 0.0)


def test_split_metrics_match_hand_computation() -> None:
    # relevant {a, b, c}; list a, x, b, y (k = 4): hits at ranks 1 and 3
    m = split_user_metrics(["a", "x", "b", "y"], {"a", "b", "c"}, k=4)
    assert m["hit"] == 1.0
    assert m["precision"] == pytest.approx(2 / 4)
    assert m["recall"] == pytest.approx(2 / 3)
    dcg = 1 / math.log2(2) + 1 / math.log2(4)
    idcg = 1 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)
    assert m["ndcg"] == pytest.approx(dcg / idcg)
    # precision at each hit: 1/1 and 2/3; AP divides by |relevant| = 3, AP@k by min(3, 4) = 3
    assert m["ap"] == pytest.approx((1 + 2 / 3) / 3)
    assert m["ap@k"] == pytest.approx((1 + 2 / 3) / 3)


def test_split_map_at_k_divides_by_min_relevant_k() -> None:
    relevant = {f"r{i}" for i in range(5)}
    m = split_user_metrics(["r0", "r1"], relevant, k=2)
    assert m["ap"] == pytest.approx(2 / 5)
    assert m["ap@k"] == pytest.approx(2 / 2)
    assert m["ndcg"] == pytest.approx(1.0)  # ideal DCG only over k = 2 slots
    assert m["recall"] == pytest.approx(2 / 5)


def test_split_metrics_reject_empty_relevance() -> None:
    with pytest.raises(ValueError):
        split_user_metrics(["a"], set(), k=10)


def test_impression_metrics_follow_the_mind_script() -> None:
    # ranked labels: skip, click, skip, click
    ranked = np.array([0.0, 1.0, 0.0, 1.0])
    assert impression_mrr(ranked) == pytest.approx((1 / 2 + 1 / 4) / 2)
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    ideal = 1 / math.log2(2) + 1 / math.log2(3)
    assert impression_ndcg(ranked, k=10) == pytest.approx(dcg / ideal)
    # with k = 2 only the click at rank 2 counts
    assert impression_ndcg(ranked, k=2) == pytest.approx((1 / math.log2(3)) / ideal)
    assert impression_ndcg(np.array([1.0, 0.0]), k=5) == pytest.approx(1.0)


def test_auc_counts_ties_as_half() -> None:
    labels = np.array([1.0, 1.0, 0.0, 0.0])
    assert auc(labels, np.array([0.9, 0.8, 0.1, 0.2])) == 1.0
    assert auc(labels, np.array([0.1, 0.2, 0.9, 0.8])) == 0.0
    assert auc(labels, np.zeros(4)) == 0.5
    # positives 0.5 and 0.3 against negatives 0.5 and 0.1: (0.5 + 1) + (0 + 1) = 2.5 of 4
    assert auc(labels, np.array([0.5, 0.3, 0.5, 0.1])) == pytest.approx(2.5 / 4)
    with pytest.raises(ValueError):
        auc(np.ones(3), np.zeros(3))


def test_rank_order_breaks_ties_by_the_tiebreak() -> None:
    scores = np.array([1.0, 2.0, 1.0, 1.0])
    assert rank_order(scores, np.array([0.1, 0.0, 0.9, 0.5])).tolist() == [1, 2, 3, 0]


def test_gini_of_exposure() -> None:
    assert gini(np.full(10, 3.0)) == pytest.approx(0.0)
    assert gini(np.array([0.0, 0.0, 0.0, 0.0, 5.0])) == pytest.approx(4 / 5)
    # sorted 1, 2, 3: sum((2i - n - 1) x_i) = -2*1 + 0*2 + 2*3 = 4; / (3 * 6)
    assert gini(np.array([3.0, 1.0, 2.0])) == pytest.approx(4 / 18)
    assert gini(np.zeros(4)) == 0.0


def test_intra_list_distance() -> None:
    same = np.array([[1.0, 0.0], [2.0, 0.0]], dtype=np.float32)
    assert intra_list_distance(same) == pytest.approx(0.0)
    mixed = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype=np.float32)
    # cosines: 0, 1/sqrt2, 1/sqrt2 -> mean distance 1 - sqrt2/3
    assert intra_list_distance(mixed) == pytest.approx(1 - math.sqrt(2) / 3)
    assert intra_list_distance(np.array([[1.0, 0.0], [0.0, 0.0]], dtype=np.float32)) is None
