"""Co-visitation scores at a few items, from the co-visited columns alone (what an
impression's features take once the catalogue outnumbers the slots read), equal the whole
array's, bit for bit."""

from __future__ import annotations

import numpy as np

from stream.bench.workload import Workload
from stream.models import ModelSettings, StreamRecommender
from stream.models.covisitation import CoVisitation


def test_collab_at_a_few_items_equals_the_whole_array() -> None:
    # two neighbours per item: the slots read (recent reads x 2) are far fewer than the items,
    # so the sparse path is the one taken
    rec = StreamRecommender(ModelSettings(covisit_neighbors=2, collab_query_items=10))
    workload = Workload(2000, 300, seed=4)
    t0 = 1e6
    for item in workload.items(t0):
        rec.learn_item(item)
    events = [e.to_interaction(t0 + 60 + i) for i, e in enumerate(workload.events(4000))]
    for event in events:
        rec.learn_one(event)
    scorer, now = rec.scorer, events[-1].ts
    n = len(rec.pool.catalog)
    rng = np.random.default_rng(0)
    compared = nonzero = 0
    for user_id, row in list(rec.users.index.items())[:200]:
        view = scorer.user_view(row, now)
        raw, top = scorer._collab_raw(view, n, now)
        items = np.concatenate([rng.choice(n, 5, replace=False),
                                np.flatnonzero(raw)[:5]]).astype(np.int64)
        want = raw[items] / top if top > 0 else raw[items]
        got = scorer._collab_at(view, items, now)
        assert got.tobytes() == want.tobytes(), user_id
        compared += 1
        nonzero += int(np.count_nonzero(got))
    assert compared == 200 and nonzero > 200


def test_a_recent_read_without_a_row_leaves_the_others_their_own_weights() -> None:
    # a read of an item never co-visited (past the rows the table holds: a new item read
    # first) holds nothing; the reads after it keep their own weights
    cv = CoVisitation(neighbors=4, half_life=86400.0, capacity=8)
    cv.add(2, np.array([1]), weight=1.0, ts=0.0)  # row 1 holds item 2
    rows = np.array([cv.nbr.shape[0] + 5, 1], dtype=np.int64)
    weights = np.array([10.0, 1.0])
    assert cv.scores(rows, weights, 3).tolist() == [0.0, 0.0, 1.0]
    at, top = cv.scores_at(rows, weights, 3, np.array([2]), lambda cols: np.ones(cols.size))
    assert at.tolist() == [1.0] and top == 1.0


def test_neighbours_past_the_columns_asked_and_empty_slots_score_nothing() -> None:
    # row 2 holds items 0, 1 and 5 and an empty slot: with 3 columns asked, 5 is left out
    cv = CoVisitation(neighbors=4, half_life=86400.0, capacity=8)
    cv.add(2, np.array([0, 1, 5]), weight=1.0, ts=0.0)
    rows, weights = np.array([2], dtype=np.int64), np.array([2.0])
    assert cv.scores(rows, weights, 3).tolist() == [2.0, 2.0, 0.0]
    at, top = cv.scores_at(rows, weights, 3, np.array([0, 1, 2]),
                           lambda cols: cols.astype(np.float64) + 1.0)
    assert at.tolist() == [2.0, 4.0, 0.0] and top == 4.0
