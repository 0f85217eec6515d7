"""Item-level statistics and the impression ranker: what every worker holds alike, changed
only by *item facts*."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from stream.models.covisitation import CoVisitation
from stream.models.items import ItemPool
from stream.models.popularity import DecayedPopularity
from stream.models.ranker import ImpressionRanker
from stream.models.settings import ModelSettings

__all__ = ["FACT_KINDS", "FactBatch", "ItemStatistics"]

#: the kinds of item fact, each a JSON-able list with item ids (indexes differ between
#: workers) whose first element is the kind and, but for ``rank``, whose third is the time
FACT_KINDS = ("read", "click", "shown", "pop", "degree", "covisit", "uncovisit", "rank")


class ItemStatistics:
    """Decayed popularity, showings, clicks, co-visitation (with item degrees) and the
    impression ranker.

    A worker sees only its own users' events, but these statistics must count everyone's:
    what an event changes in them is written as a fact (:data:`FACT_KINDS`), published, and
    applied by :meth:`apply` on every worker in one order, so every worker holds the same.

    >>> from stream.models.settings import ModelSettings
    >>> settings = ModelSettings()
    >>> stats = ItemStatistics(settings, ItemPool(settings))
    >>> stats.apply(["pop", "a", 10.0, 2.0])
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

    def apply(self, fact: Sequence[Any]) -> None:
        """Apply one item fact (the model's clock has moved to its time already)."""
        kind = fact[0]
        if kind == "rank":  # ranker features (flat) and labels of an impression's clicks
            labels = np.asarray(fact[2], dtype=bool)
            features = np.asarray(fact[1], dtype=np.float64).reshape(labels.size, -1)
            self.ranker.learn(features, labels)
            return
        ts = float(fact[2])
        pool = self.pool
        if kind == "shown":
            self.shown.update_many(pool.indexes(fact[1], ts), ts)
            return
        idx = pool.index(fact[1], ts)
        if kind == "read":
            pool.mark_read(idx, ts)
        elif kind == "click":
            self.clicked.update(idx, ts)
        elif kind == "pop":
            self.popularity.update(idx, ts, float(fact[3]))
        elif kind == "degree":
            self.degree.update(idx, ts, float(fact[3]))
        elif kind == "covisit":  # a new read: co-visits with the reader's recent items
            others = np.array([pool.index(j, ts) for j in fact[3]], dtype=np.int64)
            self.covisit.add(idx, others, float(fact[4]), ts)
            self.degree.update(idx, ts, 1.0)
        elif kind == "uncovisit":  # a forgotten read: its co-visits, as far as they are held
            t_ref = self.covisit.t_ref
            index = pool.catalog.index
            others = np.array([index[j] for j in fact[3] if j in index], dtype=np.int64)
            if others.size and t_ref is not None:
                exponent = min((ts - t_ref) / self.settings.covisit_half_life_seconds, 1000.0)
                amount = float(fact[4]) * math.pow(2.0, exponent)
                self.covisit.subtract(idx, others, amount)
        else:
            raise ValueError(f"unknown item fact {kind!r}")

    def batch(self) -> FactBatch:
        """A :class:`FactBatch` that applies facts to these statistics."""
        return FactBatch(self)

    def clear(self, idx: int) -> None:
        """Forget what is known of an item slot (the item expired)."""
        self.covisit.clear_item(idx)
        for stat, _ in self.decayed():
            stat.reset(idx)


#: deferred updates of one decayed statistic: (item indexes, time, weight) in order
_Runs = list[tuple[NDArray[np.int64], float, float]]


class FactBatch:
    """Applies many item facts as :meth:`ItemStatistics.apply` of each in turn would, with
    the counts (popularity, showings, clicks, degrees) gathered and added in one
    scatter-add per statistic at :meth:`flush`, and the ranker's examples learned in one
    call: each statistic sees the same additions in the same order, only fewer calls.

    Item indexes are resolved fact by fact, in order (a new item takes its slot when its
    fact comes), and co-visits, which only co-visitation reads, are applied at once.
    Whoever applies the facts flushes before anything reads the counts or drops an item
    (a housekeeping sweep), and at the end.

    >>> from stream.models.settings import ModelSettings
    >>> settings = ModelSettings()
    >>> stats = ItemStatistics(settings, ItemPool(settings))
    >>> batch = stats.batch()
    >>> for shown in (["a", "b"], ["a"]):
    ...     batch.apply(["shown", shown, 10.0])
    >>> batch.flush()
    >>> stats.shown.value(stats.pool.index("a", 10.0), 10.0)
    2.0
    """

    def __init__(self, stats: ItemStatistics) -> None:
        self.stats = stats
        self._runs: dict[str, _Runs] = {name: [] for _, name in stats.decayed()}
        self._rank_rows: list[NDArray[np.float64]] = []
        self._rank_labels: list[NDArray[np.bool_]] = []

    def apply(self, fact: Sequence[Any]) -> None:
        """Apply one item fact (the model's clock has moved to its time already), or defer
        its counts to :meth:`flush`."""
        kind = fact[0]
        stats = self.stats
        if kind == "rank":
            labels = np.asarray(fact[2], dtype=bool)
            self._rank_labels.append(labels)
            self._rank_rows.append(
                np.asarray(fact[1], dtype=np.float64).reshape(labels.size, -1))
            return
        ts = float(fact[2])
        pool = stats.pool
        runs = self._runs
        if kind == "shown":
            runs["shown"].append((pool.indexes(fact[1], ts), ts, 1.0))
        elif kind == "read":
            pool.mark_read(pool.index(fact[1], ts), ts)
        elif kind == "click":
            runs["clicked"].append((np.array([pool.index(fact[1], ts)]), ts, 1.0))
        elif kind == "pop":
            runs["popularity"].append((np.array([pool.index(fact[1], ts)]), ts, float(fact[3])))
        elif kind == "degree":
            runs["degree"].append((np.array([pool.index(fact[1], ts)]), ts, float(fact[3])))
        elif kind == "covisit":  # a new read: co-visits with the reader's recent items
            idx = pool.index(fact[1], ts)
            others = pool.indexes(fact[3], ts) if fact[3] else np.zeros(0, dtype=np.int64)
            stats.covisit.add(idx, others, float(fact[4]), ts)
            runs["degree"].append((np.array([idx]), ts, 1.0))
        else:  # uncovisit (rare): applied at once, as everything before it
            self.flush()
            stats.apply(fact)

    def flush(self) -> None:
        """Add the deferred counts and teach the ranker the deferred examples."""
        stats = self.stats
        targets = {name: stat for stat, name in stats.decayed()}
        for name, runs in self._runs.items():
            if runs:
                targets[name].update_runs(runs)
                runs.clear()
        if self._rank_rows:
            stats.ranker.learn(np.concatenate(self._rank_rows),
                               np.concatenate(self._rank_labels))
            self._rank_rows.clear()
            self._rank_labels.clear()
