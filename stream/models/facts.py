"""Item-level statistics and the impression ranker: what every worker holds alike, changed
only by *item facts*."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from stream.models.covisitation import CoVisitation
from stream.models.items import ItemPool
from stream.models.popularity import DecayedPopularity
from stream.models.ranker import ImpressionRanker
from stream.models.settings import ModelSettings

__all__ = ["FACT_KINDS", "ItemStatistics"]

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

    def clear(self, idx: int) -> None:
        """Forget what is known of an item slot (the item expired)."""
        self.covisit.clear_item(idx)
        for stat, _ in self.decayed():
            stat.reset(idx)
