"""The evaluation protocols: replay a dataset through several models side by side.

``prequential``
    Events in time order. Before each click or read of an item the user has not clicked or
    read before, every model ranks its top ``k`` for that user (the user's seen items are
    excluded by the harness as well as by the model); the click is scored against the list
    (hit rate, NDCG, and MRR@k: the reciprocal rank within the top ``k``, 0 outside it); then
    every model learns the event. Repeat clicks and warm-up events are learned but not scored.
``impressions`` (MIND)
    The prequential replay, plus: before learning each impression with at least one clicked
    and one skipped candidate, every model scores the candidates with ``score()``; mean AUC,
    MRR, nDCG@5 and nDCG@10 over those impressions as MIND's evaluation script computes them.
    A candidate is clicked when the same user clicks it after the impression and before their
    next one. Ties are broken by a seeded random draw, the same for every model.
``split``
    Microsoft Recommenders' MovieLens benchmark: ``python_stratified_split`` with ratio 0.75
    and seed 42 (a uniform draw per row in source order, rows sorted by user then draw, a row
    is training when ``rank / count <= 0.75``); each model learns the training rows in time
    order; each user of the test part gets a top ``k`` of all items they have not seen in
    training; every test row is relevant. Precision, recall, NDCG, MAP and MAP@k as in
    :mod:`stream.evaluate.metrics`.

Items are learned as the replay clock reaches their ``published_at`` (those published before
the first event, before it), as the worker would receive them.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from stream.evaluate.batched import learn_pending
from stream.evaluate.datasets import Dataset
from stream.evaluate.metrics import (
    auc,
    gini,
    hit_ndcg_rr,
    impression_mrr,
    impression_ndcg,
    rank_order,
    split_user_metrics,
)
from stream.events import Forget, Interaction, Item
from stream.models.base import Recommender
from stream.models.text import HashedTextEncoder

__all__ = ["EvaluationResult", "ModelRun", "run_prequential", "run_split", "top_k"]

#: number of windows of the metrics-over-time series
TIME_WINDOWS = 20
_POSITIVE = ("click", "read")

ProgressCallback = Callable[[int], None]


def top_k(model: Recommender, user_id: str, k: int, now: float,
          seen: set[str] | None) -> list[str]:
    """The model's top ``k`` for the user, with ``seen`` items and editors' picks removed
    (what the model ranked is judged, not what a rule pinned).

    Asks the model for more items when its list contains items from ``seen``
    (a model may remember less history than the harness does).
    """
    extra = 0
    while True:
        recs = model.recommend(user_id, k + extra, now)
        out: list[str] = []
        picked: set[str] = set()
        for rec in recs:
            if rec.pinned:
                continue
            if (seen is None or rec.item_id not in seen) and rec.item_id not in picked:
                picked.add(rec.item_id)
                out.append(rec.item_id)
                if len(out) == k:
                    return out
        if len(recs) < k + extra:
            return out  # the model has no more items to offer
        extra = max(2 * extra, k)


@dataclass(slots=True)
class ModelRun:
    """One model under evaluation and everything measured about it."""

    name: str
    model: Recommender
    seconds: float = 0.0
    calls: int = 0
    hits: list[float] = field(default_factory=list)
    ndcgs: list[float] = field(default_factory=list)
    rrs: list[float] = field(default_factory=list)
    lists: list[list[int]] = field(default_factory=list)
    impressions: list[tuple[float, float, float, float]] = field(default_factory=list)
    split_users: list[dict[str, float]] = field(default_factory=list)

    @contextmanager
    def timed(self) -> Iterator[None]:
        """Add the time spent inside the block to this model's :attr:`seconds`."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds += time.perf_counter() - start


@dataclass(slots=True)
class EvaluationResult:
    """What a protocol measured, ready for :mod:`stream.evaluate.report`."""

    dataset: str
    protocol: str
    events: int
    k: int
    models: dict[str, dict[str, Any]]
    over_time: dict[str, dict[str, list[float]]]
    catalogue: int
    scored: int
    wall_seconds: float
    notes: list[str] = field(default_factory=list)


class _Catalogue:
    """The evaluation's own view of the items: dense ids, content vectors, popularity."""

    def __init__(self, dataset: Dataset, dim: int = 256) -> None:
        self.ids = dataset.item_ids()
        self.index = {item_id: i for i, item_id in enumerate(self.ids)}
        encoder = HashedTextEncoder(dim=dim)
        self.vectors: NDArray[np.float32] = np.zeros((len(self.ids), dim), dtype=np.float32)
        for item in dataset.items:
            self.vectors[self.index[item.item_id]] = encoder.encode(item.title, tags=item.tags)
        self.clicks: NDArray[np.float64] = np.zeros(len(self.ids), dtype=np.float64)

    def idx(self, item_id: str) -> int:
        found = self.index.get(item_id)
        if found is None:  # a model invented an id: count it, outside the catalogue
            found = len(self.ids)
            self.index[item_id] = found
            self.ids.append(item_id)
            self.vectors = np.vstack([self.vectors,
                                      np.zeros((1, self.vectors.shape[1]), np.float32)])
            self.clicks = np.append(self.clicks, 0.0)
        return found


class _ItemFeed:
    """Releases items to the models as the replay clock reaches their ``published_at``."""

    def __init__(self, items: Sequence[Item]) -> None:
        self._items = sorted(items, key=lambda item: item.published_at)
        self._next = 0

    def release(self, now: float, runs: Sequence[ModelRun]) -> None:
        while self._next < len(self._items) and self._items[self._next].published_at <= now:
            item = self._items[self._next]
            for run in runs:
                with run.timed():
                    run.model.learn_item(item)
            self._next += 1

    def release_all(self, runs: Sequence[ModelRun]) -> None:
        self.release(math.inf, runs)


def _impression_labels(events: Sequence[Interaction | Forget]) -> dict[int, set[str]]:
    """For each impression (by position), the candidates its user clicked before their next
    impression."""
    labels: dict[int, set[str]] = {}
    open_impression: dict[str, tuple[int, frozenset[str]]] = {}
    for i, event in enumerate(events):
        if isinstance(event, Forget):
            open_impression.pop(event.user_id, None)
        elif event.type == "impression" and event.item_ids:
            open_impression[event.user_id] = (i, frozenset(event.item_ids))
            labels[i] = set()
        elif event.type in _POSITIVE:
            current = open_impression.get(event.user_id)
            if current is not None and event.item_id in current[1]:
                labels[current[0]].add(event.item_id)
    return labels


def _exposure_figures(runs: Sequence[ModelRun], catalogue: _Catalogue,
                      k: int) -> dict[str, dict[str, float]]:
    """Coverage, top-1% share, Gini of exposure and intra-list distance of each model."""
    n_items = len(catalogue.ids)
    n_top = max(1, math.ceil(0.01 * n_items))
    # most clicked in the replayed events; ties by catalogue order, so the set is stable
    top_items = np.lexsort((np.arange(n_items), -catalogue.clicks[:n_items]))[:n_top]
    norms = np.linalg.norm(catalogue.vectors, axis=1, keepdims=True)
    unit = np.divide(catalogue.vectors, norms, out=np.zeros_like(catalogue.vectors),
                     where=norms > 0)
    has_content = (norms[:, 0] > 0)
    out: dict[str, dict[str, float]] = {}
    for run in runs:
        exposure = np.zeros(n_items, dtype=np.float64)
        padded = np.full((len(run.lists), k), -1, dtype=np.int64)
        for row, rec in enumerate(run.lists):
            padded[row, : len(rec)] = rec[:k]
        valid = padded >= 0
        np.add.at(exposure, padded[valid], 1.0)
        slots = float(exposure.sum())
        ild_sum = 0.0
        ild_lists = 0
        # With unit vectors, the sum of a list's Gram matrix is |sum of its vectors|^2 and
        # its trace the number of vectors with content: no (lists, k, k) array is needed.
        for start in range(0, padded.shape[0], 8192):
            block = padded[start : start + 8192]
            total = np.zeros((block.shape[0], unit.shape[1]), dtype=np.float64)
            counts = np.zeros(block.shape[0], dtype=np.int64)
            for column in block.T:
                present = column >= 0
                rows = np.where(present, column, 0)
                total += unit[rows] * present[:, None]
                counts += has_content[rows] & present
            gram = np.einsum("bd,bd->b", total, total)
            pairs = counts * (counts - 1)
            ok = pairs > 0
            ild_sum += float(np.sum(1.0 - (gram[ok] - counts[ok]) / pairs[ok]))
            ild_lists += int(ok.sum())
        out[run.name] = {
            "coverage": float(np.count_nonzero(exposure)) / n_items if n_items else 0.0,
            "top1%_share": float(exposure[top_items].sum()) / slots if slots else 0.0,
            "gini": gini(exposure),
            f"ild@{k}": ild_sum / ild_lists if ild_lists else float("nan"),
            "ild_lists": float(ild_lists) / len(run.lists) if run.lists else 0.0,
        }
    return out


def _over_time(runs: Sequence[ModelRun], positions: Sequence[int],
               k: int) -> dict[str, dict[str, list[float]]]:
    """Hit rate and NDCG per window of equally many scored events."""
    n = len(positions)
    if n == 0:
        return {}
    bounds = np.linspace(0, n, min(TIME_WINDOWS, n) + 1).astype(int)
    ends = [float(positions[end - 1] + 1) for end in bounds[1:]]
    series: dict[str, dict[str, list[float]]] = {}
    for run in runs:
        hits = np.asarray(run.hits)
        ndcgs = np.asarray(run.ndcgs)
        series[run.name] = {
            "events": ends,
            f"hr@{k}": [float(hits[a:b].mean()) for a, b in itertools.pairwise(bounds)],
            f"ndcg@{k}": [float(ndcgs[a:b].mean()) for a, b in itertools.pairwise(bounds)],
        }
    return series


def run_prequential(
    dataset: Dataset,
    runs: Sequence[ModelRun],
    *,
    k: int = 10,
    limit: int | None = None,
    seed: int = 42,
    impressions: bool = False,
    progress: ProgressCallback | None = None,
) -> EvaluationResult:
    """Replay the dataset in time order; score each new click before learning it.

    With ``impressions``, also score each impression's candidates before learning it.
    """
    wall = time.perf_counter()
    events = dataset.time_ordered(limit)
    catalogue = _Catalogue(dataset)
    feed = _ItemFeed(dataset.items)
    if events:
        feed.release(events[0].ts, runs)
    labels = _impression_labels(events) if impressions else {}
    tiebreak_rng = np.random.default_rng(seed)
    seen: dict[str, set[str]] = {}
    positions: list[int] = []
    n_impressions = 0
    for i, event in enumerate(events):
        feed.release(event.ts, runs)
        if progress is not None and i % 500 == 0:
            progress(i)
        if isinstance(event, Forget):
            seen.pop(event.user_id, None)
            for run in runs:
                with run.timed():
                    run.model.forget_user(event)
            continue
        warm = event.event_id in dataset.warmup
        clicked = labels.get(i)
        if clicked and not warm and len(clicked) < len(set(event.item_ids)):
            candidates = list(event.item_ids)
            y = np.array([1.0 if c in clicked else 0.0 for c in candidates])
            tiebreak = tiebreak_rng.random(len(candidates))
            n_impressions += 1
            for run in runs:
                with run.timed():
                    scores = np.asarray(run.model.score(event.user_id, candidates, event.ts),
                                        dtype=np.float64)
                ranked = y[rank_order(scores, tiebreak)]
                run.impressions.append((auc(y, scores), impression_mrr(ranked),
                                        impression_ndcg(ranked, 5), impression_ndcg(ranked, 10)))
        user_seen = seen.setdefault(event.user_id, set())
        if event.type in _POSITIVE:
            catalogue.clicks[catalogue.idx(event.item_id)] += 1.0
            if not warm and event.item_id not in user_seen:
                positions.append(i)
                for run in runs:
                    with run.timed():
                        ranked_ids = top_k(run.model, event.user_id, k, event.ts, user_seen)
                    hit, ndcg, rr = hit_ndcg_rr(ranked_ids, event.item_id, k)
                    run.hits.append(hit)
                    run.ndcgs.append(ndcg)
                    run.rrs.append(rr)
                    run.lists.append([catalogue.idx(item_id) for item_id in ranked_ids])
            user_seen.add(event.item_id)
        for run in runs:
            with run.timed():
                run.model.learn_one(event)
            run.calls += 1
    if progress is not None:
        progress(len(events))
    exposure = _exposure_figures(runs, catalogue, k)
    models: dict[str, dict[str, Any]] = {}
    for run in runs:
        figures: dict[str, Any] = {
            f"hr@{k}": float(np.mean(run.hits)) if run.hits else 0.0,
            f"ndcg@{k}": float(np.mean(run.ndcgs)) if run.ndcgs else 0.0,
            "mrr": float(np.mean(run.rrs)) if run.rrs else 0.0,
        }
        if impressions:
            table = np.asarray(run.impressions, dtype=np.float64).reshape(-1, 4)
            means = table.mean(axis=0) if table.shape[0] else np.zeros(4)
            figures.update({"auc": float(means[0]), "impression_mrr": float(means[1]),
                            "impression_ndcg@5": float(means[2]),
                            "impression_ndcg@10": float(means[3]),
                            "impressions_scored": table.shape[0]})
        figures.update(exposure[run.name])
        figures["events_per_second"] = len(events) / run.seconds if run.seconds else 0.0
        figures["model_seconds"] = run.seconds
        models[run.name] = figures
    notes = [
        f"{len(positions)} of {len(events)} events scored: first clicks/reads of an item "
        "by a user, warm-up events excluded.",
    ]
    if impressions:
        notes.append(f"{n_impressions} impressions with at least one click and one skip "
                     "scored with score() before learning them.")
    return EvaluationResult(
        dataset=dataset.name,
        protocol="impressions" if impressions else "prequential",
        events=len(events),
        k=k,
        models=models,
        over_time=_over_time(runs, positions, k),
        catalogue=len(catalogue.ids),
        scored=len(positions),
        wall_seconds=time.perf_counter() - wall,
        notes=notes,
    )


def stratified_split(
    rows: Sequence[Interaction], ratio: float = 0.75, seed: int = 42
) -> tuple[list[int], list[int]]:
    """``python_stratified_split`` of Microsoft Recommenders: training and test row numbers.

    One uniform draw per row in the given order from ``numpy.random.seed(seed)``; rows are
    sorted by user, then draw; a row is training when its rank within the user divided by
    the user's row count is at most ``ratio``.
    """
    draws = np.random.RandomState(seed).rand(len(rows))
    users = sorted({row.user_id for row in rows})
    user_code = {user: code for code, user in enumerate(users)}
    codes = np.array([user_code[row.user_id] for row in rows], dtype=np.int64)
    order = np.lexsort((draws, codes))
    counts = np.bincount(codes, minlength=len(users))
    train: list[int] = []
    test: list[int] = []
    rank_in_user = 0
    previous = -1
    for row in order:
        code = int(codes[row])
        rank_in_user = rank_in_user + 1 if code == previous else 1
        previous = code
        (train if rank_in_user / counts[code] <= ratio else test).append(int(row))
    return sorted(train), sorted(test)


def run_split(
    dataset: Dataset,
    runs: Sequence[ModelRun],
    *,
    k: int = 10,
    limit: int | None = None,
    seed: int = 42,
    ratio: float = 0.75,
    progress: ProgressCallback | None = None,
) -> EvaluationResult:
    """Microsoft Recommenders' stratified 75/25 split, learned in time order, ranked once."""
    wall = time.perf_counter()
    kept = {id(event) for event in dataset.time_ordered(limit)}
    rows: list[Interaction] = []
    pairs: set[tuple[str, str]] = set()
    for event in dataset.events:  # source order: the random draws follow it
        if (id(event) in kept and isinstance(event, Interaction) and event.type in _POSITIVE
                and (event.user_id, event.item_id) not in pairs):
            pairs.add((event.user_id, event.item_id))
            rows.append(event)
    train_rows, test_rows = stratified_split(rows, ratio=ratio, seed=seed)
    train = sorted((rows[r] for r in train_rows), key=lambda event: event.ts)
    catalogue = _Catalogue(dataset)
    feed = _ItemFeed(dataset.items)
    if train:
        feed.release(train[0].ts, runs)
    seen: dict[str, set[str]] = {}
    for i, event in enumerate(train):
        feed.release(event.ts, runs)
        if progress is not None and i % 500 == 0:
            progress(i)
        catalogue.clicks[catalogue.idx(event.item_id)] += 1.0
        seen.setdefault(event.user_id, set()).add(event.item_id)
        for run in runs:
            with run.timed():
                run.model.learn_one(event)
            run.calls += 1
    for run in runs:
        with run.timed():
            learn_pending(run.model)
    feed.release_all(runs)
    relevant: dict[str, set[str]] = {}
    for r in test_rows:
        relevant.setdefault(rows[r].user_id, set()).add(rows[r].item_id)
        catalogue.clicks[catalogue.idx(rows[r].item_id)] += 1.0
    now = train[-1].ts if train else 0.0
    for n, user in enumerate(sorted(relevant)):
        if progress is not None and n % 100 == 0:
            progress(len(train) + n)
        for run in runs:
            with run.timed():
                ranked_ids = top_k(run.model, user, k, now, seen.get(user))
            run.split_users.append(split_user_metrics(ranked_ids, relevant[user], k))
            run.lists.append([catalogue.idx(item_id) for item_id in ranked_ids])
    if progress is not None:
        progress(len(train) + len(relevant))
    exposure = _exposure_figures(runs, catalogue, k)
    models: dict[str, dict[str, Any]] = {}
    for run in runs:
        users = run.split_users

        def mean(key: str, users: list[dict[str, float]] = users) -> float:
            return float(np.mean([u[key] for u in users])) if users else 0.0

        figures: dict[str, Any] = {
            f"hr@{k}": mean("hit"),
            f"ndcg@{k}": mean("ndcg"),
            "mrr": _first_hit_rr(run, relevant, catalogue, k),
            f"precision@{k}": mean("precision"),
            f"recall@{k}": mean("recall"),
            "map": mean("ap"),
            f"map@{k}": mean("ap@k"),
        }
        figures.update(exposure[run.name])
        figures["events_per_second"] = len(train) / run.seconds if run.seconds else 0.0
        figures["model_seconds"] = run.seconds
        models[run.name] = figures
    notes = [
        f"{len(rows)} interactions: {len(train)} for training (learned in time order), "
        f"{len(test_rows)} held out for {len(relevant)} users (ratio {ratio}, seed {seed}).",
        "Every held-out interaction is relevant (all ratings, as in Microsoft Recommenders' "
        "MovieLens benchmark).",
    ]
    return EvaluationResult(
        dataset=dataset.name,
        protocol="split",
        events=len(rows),
        k=k,
        models=models,
        over_time={},
        catalogue=len(catalogue.ids),
        scored=len(relevant),
        wall_seconds=time.perf_counter() - wall,
        notes=notes,
    )


def _first_hit_rr(run: ModelRun, relevant: dict[str, set[str]], catalogue: _Catalogue,
                  k: int) -> float:
    """MRR@k of the split: 1/rank of each user's first relevant item in their list."""
    total = 0.0
    for user, rec in zip(sorted(relevant), run.lists, strict=True):
        for position, idx in enumerate(rec[:k]):
            if catalogue.ids[idx] in relevant[user]:
                total += 1.0 / (position + 1)
                break
    return total / len(relevant) if relevant else 0.0
