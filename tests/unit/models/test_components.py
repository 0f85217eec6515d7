"""Unit tests of the building blocks: TF-IDF, co-visitation, histories, ranker, tokenizer."""

from __future__ import annotations

import numpy as np

from stream.models import FEATURES, CoVisitation, ImpressionRanker, OnlineTfidf, UserHistories
from stream.models.text import tokenize


def test_jieba_splits_chinese_into_words_and_bigrams_stay_available() -> None:
    assert tokenize("央行宣布加息", chinese="jieba") == ["央行", "宣布", "加息"]
    assert tokenize("央行加息") == ["央行", "行加", "加息"]
    assert tokenize("Fed 加息 today", chinese="jieba") == ["fed", "加息", "today"]


def test_idf_learned_online_downweights_common_words() -> None:
    tfidf = OnlineTfidf(dim=512, chinese="bigrams")
    for i in range(20):
        tfidf.add(*tfidf.terms(f"common word story{i}"))
    common, _ = tfidf.terms("common")
    rare, _ = tfidf.terms("story3")
    assert tfidf.idf[common[0]] < tfidf.idf[rare[0]]
    tfidf.remove(common)
    assert tfidf.df[common[0]] == 19 and tfidf.n_docs == 19


def test_tfidf_vectors_are_unit_length_and_empty_text_is_zero() -> None:
    tfidf = OnlineTfidf(dim=64, chinese="bigrams")
    vec = tfidf.vector(*tfidf.add(*tfidf.terms("rates rise", tags=("economy",))))
    assert abs(float(np.linalg.norm(vec)) - 1.0) < 1e-5
    assert not tfidf.vector(*tfidf.terms("")).any()


def test_covisitation_is_symmetric_bounded_and_decays() -> None:
    cv = CoVisitation(neighbors=3, half_life=100.0)
    cv.add(0, np.array([1, 2, 3, 4]), weight=1.0, ts=0.0)
    assert len(cv.row(0, now=0.0)) == 3  # bounded
    assert cv.row(1, now=0.0) == {0: 1.0}
    assert cv.row(1, now=100.0) == {0: 0.5}  # one half-life later
    cv.add(2, np.array([0]), weight=1.0, ts=100.0)
    assert cv.row(0, now=100.0)[2] == 1.5


def test_covisitation_keeps_heavy_pairs_when_full() -> None:
    cv = CoVisitation(neighbors=2, half_life=1e9)
    for _ in range(5):
        cv.add(0, np.array([1]), 1.0, 0.0)
    for other in range(2, 10):
        cv.add(0, np.array([other]), 1.0, 0.0)
    assert 1 in cv.row(0, now=0.0)


def test_covisitation_pairs_of_a_batch_equal_one_add_per_read() -> None:
    """add_pairs of a batch: pairs named twice add up, both directions count, and a held
    pair grows in place; a row with more new neighbours than slots keeps the heaviest new
    ones in its lightest slots."""
    one_by_one = CoVisitation(neighbors=4, half_life=1e9)
    batched = CoVisitation(neighbors=4, half_life=1e9)
    reads = [(0, [1, 2], 1.0), (3, [0], 0.5), (1, [0], 2.0)]
    for item, others, w in reads:
        one_by_one.add(item, np.array(others), w, 0.0)
    a = np.array([item for item, others, _ in reads for _ in others])
    b = np.array([o for _, others, _ in reads for o in others])
    weights = np.array([w for _, others, w in reads for _ in others])
    batched.add_pairs(a, b, weights, 0.0)
    for row in range(4):
        assert batched.row(row, 0.0) == one_by_one.row(row, 0.0)
    assert batched.row(0, 0.0) == {1: 3.0, 2: 1.0, 3: 0.5}
    full = CoVisitation(neighbors=2, half_life=1e9)
    full.add_pairs(np.array([0, 0]), np.array([1, 2]), np.array([5.0, 4.0]), 0.0)
    full.add_pairs(np.array([0, 0, 0]), np.array([3, 4, 5]), np.array([1.0, 3.0, 2.0]), 0.0)
    assert full.row(0, 0.0) == {4: 3.0, 5: 2.0}  # the heaviest two new ones
    full.add_pairs(np.array([0]), np.array([6]), np.array([0.5]), 0.0)
    assert full.row(0, 0.0) == {4: 3.0, 6: 0.5}  # a new one takes the lightest slot
    assert full.row(6, 0.0) == {0: 0.5}


def test_covisitation_subtract_and_clear() -> None:
    cv = CoVisitation(neighbors=4, half_life=1e9)
    cv.add(0, np.array([1, 2]), 1.0, 0.0)
    cv.subtract(0, np.array([1]), cv.scale(0.0))
    assert cv.row(0, 0.0) == {2: 1.0} and cv.row(1, 0.0) == {}
    cv.clear_item(2)
    assert cv.row(0, 0.0) == {} and cv.row(2, 0.0) == {}


def test_histories_are_bounded_rings_with_row_reuse_and_eviction() -> None:
    users = UserHistories(size=4, capacity=2)
    rows = [users.ensure(f"u{i}", ts=float(i)) for i in range(3)]  # grows past capacity
    for item in range(6):
        users.append(rows[0], item, ts=10.0 + item, weight=1.0)
    assert users.items(rows[0]).tolist() == [2, 3, 4, 5]
    assert users.position(rows[0], 1) == -1
    users.remove_items(np.array([3]))
    assert users.items(rows[0]).tolist() == [2, 4, 5]
    assert users.expired(now=60.0, ttl=50.0, cap=10) == ["u1", "u2"]
    assert users.expired(now=15.0, ttl=50.0, cap=1) == ["u1", "u2"]
    freed = users.remove("u1")
    assert users.ensure("u9", ts=20.0) == freed and users.items(freed).size == 0


def test_ranker_needs_both_labels_before_it_is_warm_and_round_trips() -> None:
    ranker = ImpressionRanker(learning_rate=0.05, min_examples=3)
    x = np.zeros((1, len(FEATURES)))
    ranker.learn(x, np.array([True]))
    ranker.learn(x, np.array([True]))
    ranker.learn(x, np.array([True]))
    assert not ranker.warm
    ranker.learn(np.ones((3, len(FEATURES))), np.array([False, False, False]))
    assert ranker.warm
    other = ImpressionRanker(learning_rate=0.05, min_examples=50)
    other.import_state(ranker.export_state())
    assert np.allclose(other.predict(np.ones((1, len(FEATURES)))),
                       ranker.predict(np.ones((1, len(FEATURES)))))
