"""The faster forms of the model path give bit-for-bit what their plain forms gave.

``_PlainRecommender`` keeps the plain forms (as the model had them before they were made
faster for issue 9); both models learn the same seeded stream and must publish the same lists,
scores and reasons, and hold the same state."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray

from stream.bench.workload import Workload
from stream.events import Forget, Interaction
from stream.models.popularity import DecayedPopularity
from stream.models.stack import _F, StreamRecommender, _Shared, _UserView
from stream.recommender import build_stream_recommender
from stream.settings import Settings


class _PlainRecommender(StreamRecommender):
    """The model with the plain forms of what was made faster."""

    def _item_indexes(self, item_ids: Sequence[str], ts: float) -> NDArray[np.int64]:
        return np.array([self._item_index(i, ts) for i in item_ids], dtype=np.int64)

    def _clicks(self, now: float, n: int) -> NDArray[np.float64]:
        return np.maximum(self.clicked.scores(now, n), 0.0)

    def _row_terms(
        self, now: float, rows: slice | NDArray[np.int64], pop: NDArray[np.float64], top: float
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        cat = self.catalog
        clipped = np.maximum(pop, 0.0)
        pop_norm = np.log1p(clipped) / math.log1p(top) if top > 0 else clipped
        known = cat.has_metadata[rows] & (cat.published_at[rows] > 0)
        born = np.where(known, cat.published_at[rows], cat.first_seen[rows])
        fresh = np.nan_to_num(np.exp2(-np.maximum(now - born, 0.0) / self.freshness_half_life))
        return pop_norm, born, fresh

    def _shared_rows(self, now: float, items: NDArray[np.int64]) -> _Shared:
        n = len(self.catalog)
        pop, shown, clicks, base_ctr, top = self._catalog_totals(now, n)
        pop_norm, born, fresh = (np.zeros(n, dtype=np.float64) for _ in range(3))
        pop_norm[items], born[items], fresh[items] = self._row_terms(now, items, pop[items], top)
        degree = np.maximum(self.degree.scores(now, n), 1e-3)
        return _Shared(n, pop_norm, fresh, degree, None, np.zeros(0, dtype=np.intp),
                       clicks, shown, base_ctr, born, now)

    def _collab_raw(self, user: _UserView, shared: _Shared) -> tuple[NDArray[np.float64], float]:
        if not self.use_collab or user.items.size == 0:
            return np.zeros(shared.n, dtype=np.float64), 0.0
        assert shared.degree is not None
        items = user.items[-self.collab_query_items:].astype(np.int64)
        weights = user.weights[-self.collab_query_items:]
        row_norm = 1.0 / shared.degree[items]
        raw = self.covisit.scores(items, weights * row_norm, shared.n)
        if shared.column_norm is not None:
            raw *= shared.column_norm
        else:
            hit = np.flatnonzero(raw)
            raw[hit] *= shared.degree[hit] ** -self.covisit_beta
        return raw, float(raw.max()) if raw.size else 0.0

    def _prior(self, content: NDArray[np.float64], collab: NDArray[np.float64],
               shared: _Shared) -> NDArray[np.float64]:
        return (self.content_weight * content + self.collab_weight * collab
                + self.popularity_weight * shared.popularity + self.fresh_boost * shared.freshness)

    def _mmr(self, cand: NDArray[np.intp], final: NDArray[np.float64], k: int) -> list[int]:
        m = cand.size
        if self.diversity <= 0 or m <= 1:
            return list(range(min(k, m)))
        span = float(final[0] - final[-1])
        rel = (final - final[-1]) / span if span > 0 else np.ones(m)
        vectors = self.catalog.vectors[cand]
        sims = vectors @ vectors.T
        picked: list[int] = []
        max_sim = np.zeros(m)
        available = np.ones(m, dtype=bool)
        for _ in range(min(k, m)):
            mmr = (1.0 - self.diversity) * rel - self.diversity * max_sim
            mmr[~available] = -np.inf
            best = int(np.argmax(mmr))
            picked.append(best)
            available[best] = False
            max_sim = np.maximum(max_sim, sims[best])
        return picked

    def _reason(self, view: _UserView, idx: int, x: Sequence[float], now: float) -> str:
        row = np.asarray(x, dtype=np.float64)  # numpy scalars, as before
        parts = {
            "content": self.content_weight * row[_F["content"]],
            "collab": self.collab_weight * row[_F["collab"]],
            "popularity": self.popularity_weight * row[_F["popularity"]],
            "freshness": self.fresh_boost * row[_F["freshness"]],
        }
        main = max(parts, key=lambda name: parts[name])
        tags = self.catalog.tags[idx]
        tag = tags[0] if tags else None
        if parts[main] <= 0:
            return f"new in {tag}" if tag else "popular now"
        if main in ("content", "collab") and view.items.size:
            recent = view.items[-self.collab_query_items:]
            if main == "collab":
                rows = recent.astype(np.int64)
                strength = ((self.covisit.nbr[rows] == idx)
                            * self.covisit.weight[rows]).sum(axis=1)
            else:
                strength = self.catalog.vectors[recent] @ self.catalog.vectors[idx]
            best = int(recent[int(np.argmax(strength))])
            if main == "content" and row[_F["freshness"]] >= 0.5 and tag is not None \
                    and tag in self._followed(view):
                return f"new in {tag}, a topic you follow"
            return f"because you read “{self._title(best)}”"
        if main == "freshness":
            return f"new in {tag}" if tag else "new"
        return f"trending in {tag}" if tag else "trending now"

    def _apply(self, fact: Sequence[object]) -> None:
        if fact[0] == "shown":  # one update per item, in turn
            ts = float(fact[2])  # type: ignore[arg-type]
            self._tick(ts)
            for item_id in fact[1]:  # type: ignore[attr-defined]
                self.shown.update(self._item_index(str(item_id), ts), ts)
            return
        super()._apply(fact)


def _plain(settings: Settings) -> StreamRecommender:
    plain = build_stream_recommender(settings)
    plain.__class__ = _PlainRecommender  # the same knobs, the plain forms
    return plain


def _recording(model: StreamRecommender) -> list[NDArray[np.float64]]:
    """Keep every float64 array the model scores with (impression features before they are
    stored as float32, candidate features, priors and final scores): compared bit for bit,
    not only as the rounded scores and float32 features that come out."""
    seen: list[NDArray[np.float64]] = []

    def keep(name: str) -> None:
        method = getattr(model, name)

        def kept(*args: Any, **kwargs: Any) -> Any:
            out = method(*args, **kwargs)
            seen.append(np.array(out, dtype=np.float64, copy=True))
            return out

        setattr(model, name, kept)

    for name in ("_features", "_prior", "_final", "_mmr"):
        keep(name)
    return seen


def test_the_fast_model_path_equals_the_plain_one() -> None:
    settings = Settings()
    fast, plain = build_stream_recommender(settings), _plain(settings)
    fast_seen, plain_seen = _recording(fast), _recording(plain)
    workload = Workload(400, 150, seed=11)
    t0 = 1_000_000.0
    for item in workload.items(t0):
        fast.learn_item(item)
        plain.learn_item(item)
    events: list[Interaction | Forget] = [
        e.to_interaction(t0 + 60 + i * 0.5) for i, e in enumerate(workload.events(3000))]
    # forgotten readers take popularity back (negative counts) and leave holes in co-visits
    for at in (900, 1800, 2400):
        reader = events[at]
        events.insert(at, Forget(f"f{at}", reader.user_id, reader.ts))
    compared = 0
    for b in range(0, len(events), 200):
        chunk = events[b:b + 200]
        fast.learn_many(chunk)
        plain.learn_many(chunk)
        users = [e.user_id for e in chunk if isinstance(e, Interaction) and e.type != "impression"]
        now = chunk[-1].ts
        got, want = fast.recommend_many(users, 10, now), plain.recommend_many(users, 10, now)
        assert got == want, b
        assert len(fast_seen) == len(plain_seen)
        for x, y in zip(fast_seen, plain_seen, strict=True):
            assert x.shape == y.shape and x.tobytes() == y.tobytes(), b
        fast_seen.clear()
        plain_seen.clear()
        compared += sum(len(v) for v in want.values())
    assert compared > 1000
    assert fast.ranker.warm  # the ranker's scores were compared, not only the prior's
    reasons = {r.reason.split(" ")[0] for recs in got.values() for r in recs}
    assert {"because", "trending"} <= reasons, reasons
    state = orjson.dumps(fast.export_state(), option=orjson.OPT_SERIALIZE_NUMPY)
    assert state == orjson.dumps(plain.export_state(), option=orjson.OPT_SERIALIZE_NUMPY)


def test_popularity_fast_reads_equal_the_whole_scores() -> None:
    rng = np.random.default_rng(5)
    one, many = DecayedPopularity(3600.0, capacity=8), DecayedPopularity(3600.0, capacity=8)
    ts = 0.0
    for step in range(300):
        # now and then a jump of more than 60 half-lives: the stored values are rebased
        ts += float(rng.exponential(600.0)) + (400_000.0 if step % 97 == 96 else 0.0)
        indexes = rng.integers(0, 40, size=int(rng.integers(1, 12)))  # repeats included
        weight = float(rng.choice([1.0, 0.5, -0.25]))
        for i in indexes.tolist():
            one.update(i, ts, weight)
        many.update_many(indexes, ts, weight)
        assert np.array_equal(one.scores(ts, 50), many.scores(ts, 50))
        now = ts + float(rng.uniform(0, 7200))
        probe = rng.integers(0, 60, size=7)
        whole = one.scores(now, 60)
        assert np.array_equal(one.at(probe, now), whole[probe])
        assert one.top(now, 60) == max(float(whole.max()), 0.0)
        assert one.top(now, 10) == max(float(one.scores(now, 10).max()), 0.0)
    assert not one.nonnegative and not many.nonnegative
