"""The protocols on generated data where the right answer is known."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from stream.evaluate.baselines import PopularityBaseline, RandomBaseline
from stream.evaluate.batched import BatchedModel
from stream.evaluate.cli import build_models
from stream.evaluate.datasets import Dataset
from stream.evaluate.metrics import intra_list_distance
from stream.evaluate.protocols import (
    ModelRun,
    _Catalogue,
    _exposure_figures,
    run_prequential,
    run_split,
    stratified_split,
    top_k,
)
from stream.events import Forget, Interaction, Item
from stream.models import StreamRecommender
from stream.models.base import Recommendation
from stream.settings import Settings

from .synthetic import planted_taste


def test_personalised_model_beats_popularity_on_planted_taste() -> None:
    data = planted_taste()
    runs, _ = build_models(["stream", "popularity", "random"], Settings(), seed=42)
    result = run_prequential(data, runs)
    hr = {name: figures["hr@10"] for name, figures in result.models.items()}
    assert hr["stream"] > hr["popularity"] + 0.15, hr
    assert hr["stream"] > hr["random"] + 0.15, hr
    assert result.scored == len(data.events)  # every click is a first click here
    for figures in result.models.values():
        assert 0.0 <= figures["ndcg@10"] <= figures["hr@10"] <= 1.0
        assert figures["mrr"] <= figures["hr@10"]
        assert figures["events_per_second"] > 0
    series = result.over_time["stream"]
    assert len(series["hr@10"]) == 20 and series["events"][-1] == len(data.events)


def test_prequential_is_deterministic_for_a_seed() -> None:
    data = planted_taste(n_users=20, clicks_per_user=10)

    def figures(seed: int) -> dict[str, float]:
        runs, _ = build_models(["stream", "random", "river-mf"], Settings(), seed=seed)
        models = run_prequential(data, runs, seed=seed).models
        return {f"{name}/{key}": value for name, m in models.items() for key, value in m.items()
                if key not in ("events_per_second", "model_seconds")}

    assert figures(1) == figures(1)
    assert figures(1) != figures(2)  # the random baseline follows the seed


class _Scripted:
    """A fake model: recommends a fixed list, scores by a fixed table, records its calls."""

    name = "scripted"

    def __init__(self, ranking: list[str], scores: dict[str, float] | None = None) -> None:
        self.ranking = ranking
        self.table = scores or {}
        self.learned: list[str] = []
        self.asked: list[int] = []

    def learn_item(self, item: Item) -> None:
        self.learned.append("item:" + item.item_id)

    def learn_one(self, event: Interaction) -> None:
        self.learned.append(event.event_id)

    def forget_user(self, event: Forget) -> None:
        self.learned.append("forget")

    def recommend(self, user_id: str, k: int, now: float) -> list[Recommendation]:
        self.asked.append(k)
        return [Recommendation(i, 1.0, "") for i in self.ranking[:k]]

    def score(self, user_id: str, item_ids: list[str], now: float) -> NDArray[np.float64]:
        return np.array([self.table.get(i, 0.0) for i in item_ids], dtype=np.float64)


def test_top_k_removes_seen_items_and_asks_for_more() -> None:
    model = _Scripted([f"i{n}" for n in range(30)])
    seen = {f"i{n}" for n in range(0, 20, 2)}
    got = top_k(model, "u", 10, 0.0, seen)
    assert got == ["i1", "i3", "i5", "i7", "i9", "i11", "i13", "i15", "i17", "i19"]
    assert model.asked[0] == 10 and len(model.asked) > 1
    assert top_k(_Scripted(["a", "b"]), "u", 10, 0.0, {"a"}) == ["b"]


def test_top_k_judges_the_ranked_slots_not_the_editors_picks() -> None:
    class Pinned(_Scripted):
        def recommend(self, user_id: str, k: int, now: float) -> list[Recommendation]:
            ranked = super().recommend(user_id, k, now)
            return [Recommendation("pick", 1.0, "editor's pick", pinned=True), *ranked][:k]

    assert top_k(Pinned(["a", "b", "c"]), "u", 2, 0.0, None) == ["a", "b"]


def _click(n: int, user: str, item: str, ts: float) -> Interaction:
    return Interaction(f"c{n}", "click", user, item, ts=ts)


def test_prequential_scores_before_learning_and_skips_repeats() -> None:
    events: list[Interaction | Forget] = [
        _click(0, "u", "b", 1.0),  # rank 2 of [a, b, c]
        _click(1, "u", "b", 2.0),  # a repeat: learned, not scored
        _click(2, "v", "z", 3.0),  # not in the list: a miss
    ]
    items = [Item(item_id=i, title=i, published_at=0.0) for i in "abc"]
    model = _Scripted(["a", "b", "c"])
    result = run_prequential(Dataset("t", items, events), [ModelRun("m", model)])
    figures = result.models["m"]
    assert result.scored == 2
    assert figures["hr@10"] == pytest.approx(0.5)
    assert figures["mrr"] == pytest.approx(0.25)
    assert figures["ndcg@10"] == pytest.approx((1 / np.log2(3)) / 2)
    assert model.learned == ["item:a", "item:b", "item:c", "c0", "c1", "c2"]
    # a, b and c were recommended, z never: 3 of 4 catalogue items
    assert figures["coverage"] == pytest.approx(3 / 4)


def test_items_are_released_when_the_clock_reaches_them() -> None:
    items = [Item(item_id="late", title="late", published_at=10.0),
             Item(item_id="early", title="early", published_at=0.0)]
    events: list[Interaction | Forget] = [_click(0, "u", "early", 5.0),
                                          _click(1, "u", "late", 20.0)]
    model = _Scripted([])
    run_prequential(Dataset("t", items, events), [ModelRun("m", model)])
    assert model.learned == ["item:early", "c0", "item:late", "c1"]


def test_impression_metrics_score_candidates_before_learning() -> None:
    events: list[Interaction | Forget] = [
        Interaction("i1", "impression", "u", "", ts=1.0, item_ids=("a", "b", "c")),
        _click(1, "u", "b", 1.0),
        Interaction("i2", "impression", "u", "", ts=2.0, item_ids=("a", "c")),  # no click
        Interaction("i3", "impression", "v", "", ts=3.0, item_ids=("a", "b")),
        _click(3, "v", "a", 3.0),
        _click(4, "v", "b", 4.0),  # all candidates clicked: not scored
    ]
    model = _Scripted(["a", "b", "c"], scores={"b": 1.0, "a": 0.5})
    result = run_prequential(Dataset("t", [], events), [ModelRun("m", model)],
                             impressions=True)
    figures = result.models["m"]
    assert result.protocol == "impressions"
    assert figures["impressions_scored"] == 1
    assert figures["auc"] == 1.0
    assert figures["impression_mrr"] == 1.0
    assert figures["impression_ndcg@5"] == 1.0
    assert model.learned[:2] == ["i1", "c1"]


def test_stratified_split_follows_recommenders() -> None:
    rows = [Interaction(f"e{n}", "click", f"u{n % 3}", f"i{n}", ts=float(n)) for n in range(30)]
    rows += [Interaction("solo", "click", "lonely", "i99", ts=99.0)]
    train, test = stratified_split(rows, ratio=0.75, seed=42)
    assert sorted(train + test) == list(range(len(rows)))
    draws = np.random.RandomState(42).rand(len(rows))
    for user in ("u0", "u1", "u2"):
        mine = [n for n, row in enumerate(rows) if row.user_id == user]
        assert len(mine) == 10
        kept = [n for n in mine if n in train]
        assert len(kept) == 7  # rank / 10 <= 0.75 holds for ranks 1..7
        assert sorted(kept) == sorted(sorted(mine, key=lambda n: draws[n])[:7])
    assert len(rows) - 1 in test  # one row: rank 1 / 1 > 0.75


def test_split_protocol_ranks_unseen_items_once_per_test_user() -> None:
    data = planted_taste(n_users=12, clicks_per_user=12)
    runs = [ModelRun("popularity", PopularityBaseline()), ModelRun("random", RandomBaseline())]
    result = run_split(data, runs)
    assert result.protocol == "split"
    assert result.scored == 12
    for figures in result.models.values():
        assert 0.0 <= figures["precision@10"] <= 1.0
        assert figures["map@10"] >= figures["map"]
        assert len(runs[0].lists) == 12
    runs2 = [ModelRun("popularity", PopularityBaseline()), ModelRun("random", RandomBaseline())]
    again = run_split(data, runs2)
    assert {n: m["ndcg@10"] for n, m in again.models.items()} == \
        {n: m["ndcg@10"] for n, m in result.models.items()}


def test_exposure_figures_match_the_reference_functions() -> None:
    items = [Item(item_id="a", title="rates rise", tags=("economy",), published_at=0.0),
             Item(item_id="b", title="rates fall", tags=("economy",), published_at=0.0),
             Item(item_id="c", title="cup final penalties", tags=("sport",), published_at=0.0),
             Item(item_id="d", title="", published_at=0.0)]
    events: list[Interaction | Forget] = [_click(n, "u", "a", float(n)) for n in range(3)]
    catalogue = _Catalogue(Dataset("t", items, events))
    catalogue.clicks[:] = [5.0, 1.0, 0.0, 0.0]
    run = ModelRun("m", _Scripted([]))
    run.lists = [[0, 1, 2], [0, 3], [1, 2, 3]]
    figures = _exposure_figures([run], catalogue, k=3)["m"]
    expected_ild = np.mean([intra_list_distance(catalogue.vectors[[0, 1, 2]]),
                            intra_list_distance(catalogue.vectors[[1, 2, 3]])])
    assert figures["ild@3"] == pytest.approx(expected_ild, rel=1e-5)
    assert figures["ild_lists"] == pytest.approx(2 / 3)
    assert figures["top1%_share"] == pytest.approx(2 / 8)  # item a: 2 of 8 slots
    assert figures["coverage"] == 1.0
    assert figures["gini"] == pytest.approx(0.0)  # every item recommended twice


def test_a_batched_model_learns_every_event_as_the_worker_does() -> None:
    """``build_models(batch=N)``: our model learns the replay in batches, as a worker does;
    it still beats popularity on planted taste, learns every event (the split protocol
    settles the last, partial batch before ranking), and at batches of one gives the
    figures of the model learning one event at a time."""
    data = planted_taste()
    runs, params = build_models(["stream", "popularity"], Settings(), seed=42, batch=64)
    assert params["stream"]["batch"] == 64
    result = run_prequential(data, runs)
    hr = {name: figures["hr@10"] for name, figures in result.models.items()}
    assert hr["stream"] > hr["popularity"] + 0.15, hr
    small = planted_taste(n_users=12, clicks_per_user=12)
    reads = []
    for batch in (None, 7):
        runs, _ = build_models(["stream"], Settings(), seed=42, batch=batch)
        run_split(small, runs)
        model = runs[0].model
        inner = model.inner if isinstance(model, BatchedModel) else model
        assert isinstance(inner, StreamRecommender)
        reads.append(sorted(int(inner.users.n_items[inner.users.index[u]])
                            for u in {e.user_id for e in small.events}))
    assert reads[0] == reads[1] and sum(reads[0]) > 7
    one, _ = build_models(["stream"], Settings(), seed=42, batch=1)
    plain, _ = build_models(["stream"], Settings(), seed=42)
    figures = [run_prequential(data, runs).models["stream"] for runs in (one, plain)]
    for key in ("hr@10", "ndcg@10", "mrr"):
        assert figures[0][key] == pytest.approx(figures[1][key], abs=1e-9), key
