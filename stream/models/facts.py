"""Item-level statistics and the impression ranker: what every worker holds alike, changed
only by *item facts*."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from stream.models.covisitation import CoVisitation
from stream.models.items import ItemPool
from stream.models.popularity import DecayedPopularity
from stream.models.ranker import ImpressionRanker
from stream.models.settings import ModelSettings

__all__ = ["FACT_KINDS", "ItemStatistics", "record_facts"]

#: the kinds of item fact, each a JSON-able list with item ids (indexes differ between
#: workers) whose first element is the kind and, but for ``rank``, whose third is the time
FACT_KINDS = ("read", "click", "shown", "pop", "degree", "covisit", "uncovisit", "rank")

#: the decayed statistics a record adds to, by name in an item's state
_COUNTS = ("popularity", "shown", "clicked", "degree")


class ItemStatistics:
    """Decayed popularity, showings, clicks, co-visitation (with item degrees) and the
    impression ranker.

    A worker sees only its own users' events, but these statistics must count everyone's:
    what an event changes in them is written as a fact (:data:`FACT_KINDS`); the facts of a
    batch are summed per item into one *record* (:func:`record_facts`), published, and
    applied by :meth:`apply_records` on every worker in one order, so every worker holds the
    same.

    >>> from stream.models.settings import ModelSettings
    >>> settings = ModelSettings()
    >>> stats = ItemStatistics(settings, ItemPool(settings))
    >>> stats.apply_records([record_facts(settings, [["pop", "a", 10.0, 2.0]])])
    >>> stats.popularity.value(stats.pool.index("a", 10.0), 10.0)
    2.0
    """

    def __init__(self, settings: ModelSettings, pool: ItemPool) -> None:
        self.settings = settings
        self.pool = pool
        self.popularity = DecayedPopularity(settings.popularity_half_life_seconds)
        self.shown = DecayedPopularity(settings.ctr_half_life_seconds)
        self.clicked = DecayedPopularity(settings.ctr_half_life_seconds)
        self.degree = DecayedPopularity(settings.covisit_half_life_seconds)
        self.covisit = CoVisitation(settings.covisit_neighbors,
                                    settings.covisit_half_life_seconds)
        self.ranker = ImpressionRanker(settings.ranker_learning_rate,
                                       settings.ranker_min_examples)

    def decayed(self) -> tuple[tuple[DecayedPopularity, str], ...]:
        """The decayed per-item statistics and their names in an item's state."""
        return ((self.popularity, "popularity"), (self.shown, "shown"),
                (self.clicked, "clicked"), (self.degree, "degree"))

    def apply_records(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Apply fact records (:func:`record_facts`), in order, as one: the items of each
        are looked up once, the counts of all of them added in one scatter-add per
        statistic, the co-visits in one pass over the rows they touch, the ranker's
        examples learned in one call (the model's clock has moved to their time already).

        Within what is applied at once, the order of the facts no longer matters but for
        co-visitation's full rows, where the heaviest new neighbours of the batch take the
        slots of the lightest held ones (one at a time, each new one took the lightest)."""
        records = [r for r in records if r]
        if not records:
            return
        t = max((float(r["t"]) for r in records if "t" in r), default=0.0)
        pool = self.pool
        resolved = [pool.indexes_at(r["items"], r["at"]) for r in records]
        half_lives = _half_lives(self.settings)
        for stat, name in self.decayed():
            half_life = half_lives[name]
            parts = [(idx[np.asarray(r[name][0], dtype=np.int64)],
                      np.asarray(r[name][1], dtype=np.float64)
                      * _decay(float(r["t"]) - t, half_life))
                     for r, idx in zip(records, resolved, strict=True) if r.get(name)]
            if parts:
                stat.add_at(np.concatenate([p[0] for p in parts]),
                            np.concatenate([p[1] for p in parts]), t)
        reads = [(idx[np.asarray(r["read"][0], dtype=np.int64)], r["read"][1], r["read"][2])
                 for r, idx in zip(records, resolved, strict=True) if r.get("read")]
        if reads:
            pool.mark_read_many(np.concatenate([r[0] for r in reads]),
                                np.concatenate([np.asarray(r[1], dtype=np.float64)
                                                for r in reads]),
                                np.concatenate([np.asarray(r[2], dtype=np.float64)
                                                for r in reads]))
        half_life = self.settings.covisit_half_life_seconds
        pairs = [(idx[np.asarray(r["covisit"][0], dtype=np.int64)],
                  idx[np.asarray(r["covisit"][1], dtype=np.int64)],
                  np.asarray(r["covisit"][2], dtype=np.float64)
                  * _decay(float(r["t"]) - t, half_life))
                 for r, idx in zip(records, resolved, strict=True) if r.get("covisit")]
        if pairs:
            self.covisit.add_pairs(np.concatenate([p[0] for p in pairs]),
                                   np.concatenate([p[1] for p in pairs]),
                                   np.concatenate([p[2] for p in pairs]), t)
        rows = [(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=bool))
                for r in records for x, y in r.get("rank", ())]
        if rows:
            self.ranker.learn(np.concatenate([x.reshape(y.size, -1) for x, y in rows]),
                              np.concatenate([y for _, y in rows]))
        for r in records:  # forgotten reads (rare): as far as co-visitation still holds them
            for fact in r.get("uncovisit", ()):
                self._uncovisit(fact)

    def _uncovisit(self, fact: Sequence[Any]) -> None:
        """A forgotten read's co-visits, as far as they are held."""
        ts = float(fact[2])
        t_ref = self.covisit.t_ref
        index = self.pool.catalog.index
        idx = index.get(fact[1])
        others = np.array([index[j] for j in fact[3] if j in index], dtype=np.int64)
        if idx is not None and others.size and t_ref is not None:
            exponent = min((ts - t_ref) / self.settings.covisit_half_life_seconds, 1000.0)
            amount = float(fact[4]) * math.pow(2.0, exponent)
            self.covisit.subtract(idx, others, amount)

    def clear(self, idx: int) -> None:
        """Forget what is known of an item slot (the item expired)."""
        self.covisit.clear_item(idx)
        for stat, _ in self.decayed():
            stat.reset(idx)


def _half_lives(settings: ModelSettings) -> dict[str, float]:
    """The half-life of each decayed count, by its name (:data:`_COUNTS`)."""
    return {"popularity": settings.popularity_half_life_seconds,
            "shown": settings.ctr_half_life_seconds,
            "clicked": settings.ctr_half_life_seconds,
            "degree": settings.covisit_half_life_seconds}


def _decay(dt: float, half_life: float) -> float:
    """``2 ** (dt / half_life)``, clamped like the statistics' own factors."""
    return math.pow(2.0, min(max(dt / half_life, -1000.0), 1000.0))


def _as_of(weights: Sequence[float], stamps: Sequence[float], t: float, half_life: float
           ) -> NDArray[np.float64]:
    """Weights counted at ``stamps``, decayed to time ``t`` (not after any of them)."""
    out: NDArray[np.float64] = np.asarray(weights, dtype=np.float64) * np.exp2(
        np.maximum((np.asarray(stamps, dtype=np.float64) - t) / half_life, -1000.0))
    return out


def record_facts(settings: ModelSettings, facts: Sequence[Sequence[Any]]
                 ) -> dict[str, Any]:
    """The facts of a batch summed per item: what :meth:`ItemStatistics.apply_records`
    applies, JSON-able, with item ids (indexes differ between workers). Empty without facts.

    Each decayed count is summed as of the record's time ``t`` (its latest fact's; ``t0`` is
    its earliest's): a count
    of ``w`` at ``ts`` is ``w * 2 ** ((ts - t) / half_life)`` then, so a record adds what its
    facts one by one would have, up to rounding, whatever their number. The record holds
    ``items`` (each named once) and ``at`` (when each was first named: the time a new item
    is met at); per statistic, the positions in ``items`` of the items it changes and the
    sums; ``read``: positions, first and last read; ``covisit``: pairs of positions, each
    once, and their sums; ``rank``: the ranker's examples as written; ``uncovisit``: a
    forgotten reader's co-visits as written (applied one by one).

    >>> from stream.models.settings import ModelSettings
    >>> s = ModelSettings(popularity_half_life_seconds=10.0)
    >>> r = record_facts(s, [["pop", "a", 0.0, 1.0], ["pop", "b", 5.0, 1.0],
    ...                      ["pop", "a", 10.0, 1.0]])
    >>> r["t"], r["items"], r["popularity"]
    (10.0, ['a', 'b'], [[0, 1], [1.5, 0.7071067811865476]])
    """
    if not facts:
        return {}
    pos: dict[str, int] = {}
    at: list[float] = []
    # per statistic (and reads, co-visit pairs): positions, times, weights, in fact order
    counts: dict[str, tuple[list[int], list[float], list[float]]] = {
        name: ([], [], []) for name in (*_COUNTS, "read")}
    pair_a: list[int] = []
    pair_b: list[int] = []
    pair_ts: list[float] = []
    pair_w: list[float] = []
    rank: list[list[Any]] = []
    uncovisit: list[list[Any]] = []

    def item(item_id: str, ts: float) -> int:
        p = pos.get(item_id)
        if p is None:
            p = pos[item_id] = len(at)
            at.append(ts)
        return p

    def items(item_ids: Sequence[str], ts: float) -> list[int]:
        """:func:`item` of each of ``item_ids``, met at one time: the new ones take the next
        positions in turn, in one pass of ``dict.setdefault``."""
        named = pos.setdefault
        out = [named(i, len(pos)) for i in item_ids]
        at.extend([ts] * (len(pos) - len(at)))
        return out

    for fact in facts:
        kind = fact[0]
        if kind == "rank":
            rank.append([fact[1], fact[2]])
            continue
        ts = float(fact[2])
        if kind == "shown":
            positions = items(fact[1], ts)
            stat = counts["shown"]
            stat[0].extend(positions)
            stat[1].extend([ts] * len(positions))
            stat[2].extend([1.0] * len(positions))
            continue
        if kind == "uncovisit":
            uncovisit.append(list(fact))
            continue
        p = item(fact[1], ts)
        if kind == "read":
            target, weight = counts["read"], 0.0
        elif kind == "click":
            target, weight = counts["clicked"], 1.0
        elif kind == "pop":
            target, weight = counts["popularity"], float(fact[3])
        elif kind == "degree":
            target, weight = counts["degree"], float(fact[3])
        elif kind == "covisit":  # a new read: co-visits with the reader's recent items
            others = items(fact[3], ts)
            pair_a.extend([p] * len(others))
            pair_b.extend(others)
            pair_ts.extend([ts] * len(others))
            pair_w.extend([float(fact[4])] * len(others))
            target, weight = counts["degree"], 1.0
        else:
            raise ValueError(f"unknown item fact {kind!r}")
        target[0].append(p)
        target[1].append(ts)
        target[2].append(weight)
    times = [t for stat in counts.values() for t in stat[1]] + pair_ts
    t = max(times, default=0.0)
    out: dict[str, Any] = {"items": list(pos), "at": at}
    if times:  # (a record of the ranker's examples alone has no time)
        out["t"], out["t0"] = t, min(times)
    half_lives = _half_lives(settings)
    n = len(at)
    for name in _COUNTS:
        positions, stamps, weights = counts[name]
        if positions:
            where = np.asarray(positions, dtype=np.int64)
            amounts = _as_of(weights, stamps, t, half_lives[name])
            held = np.unique(where)
            out[name] = [held.tolist(),
                         np.bincount(where, weights=amounts, minlength=n)[held].tolist()]
    positions, stamps, _ = counts["read"]
    if positions:
        where = np.asarray(positions, dtype=np.int64)
        first = np.full(n, np.inf)
        last = np.full(n, -np.inf)
        np.minimum.at(first, where, stamps)
        np.maximum.at(last, where, stamps)
        held = np.unique(where)
        out["read"] = [held.tolist(), first[held].tolist(), last[held].tolist()]
    if pair_a:
        a, b = np.asarray(pair_a, dtype=np.int64), np.asarray(pair_b, dtype=np.int64)
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        amounts = _as_of(pair_w, pair_ts, t, settings.covisit_half_life_seconds)
        keys, inverse = np.unique(lo * n + hi, return_inverse=True)
        out["covisit"] = [(keys // n).tolist(), (keys % n).tolist(),
                          np.bincount(inverse, weights=amounts).tolist()]
    if rank:
        out["rank"] = rank
    if uncovisit:
        out["uncovisit"] = uncovisit
    return out
