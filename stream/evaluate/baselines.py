"""Baselines scored next to the worker's model, each following the :class:`Recommender` protocol.

* :class:`PopularityBaseline`: time-decayed click counts (what is trending now), or with
  ``half_life=None`` all-time click counts (what has been clicked most since the start);
* :class:`RandomBaseline`: a seeded random order of the known items;
* :class:`RiverMFBaseline`: River's ``reco.BiasedMF`` fed the same events.

All of them know an item from its metadata or from the first event that names it, and never
recommend an item the user clicked or read.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray
from river import optim, reco

from stream.events import Forget, Interaction, Item
from stream.models.base import Recommendation
from stream.models.popularity import DecayedPopularity

__all__ = ["PopularityBaseline", "RandomBaseline", "RiverMFBaseline"]


class _ItemIndex:
    """Item ids to dense indexes, and each user's positively interacted items."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.ids: list[str] = []
        self.seen: dict[str, set[int]] = {}

    def ensure(self, item_id: str) -> int:
        idx = self.index.get(item_id)
        if idx is None:
            idx = len(self.ids)
            self.index[item_id] = idx
            self.ids.append(item_id)
        return idx

    def observe(self, event: Interaction) -> int | None:
        """Register the items an event names; returns the index of a clicked or read item."""
        for item_id in event.item_ids:
            self.ensure(item_id)
        if not event.item_id:
            return None
        idx = self.ensure(event.item_id)
        if event.type in ("click", "read"):
            self.seen.setdefault(event.user_id, set()).add(idx)
            return idx
        return None

    def top(self, scores: NDArray[np.float64], user_id: str, k: int) -> NDArray[np.int64]:
        """Indexes of the ``k`` best scores, the user's seen items excluded, best first."""
        n = scores.shape[0]
        seen = self.seen.get(user_id)
        if seen:
            scores = scores.copy()
            scores[np.fromiter(seen, dtype=np.int64, count=len(seen))] = -np.inf
        k = min(k, n)
        if k <= 0:
            return np.zeros(0, dtype=np.int64)
        top = np.argpartition(-scores, k - 1)[:k]
        # ties broken by index (first seen first), so results do not depend on argpartition
        top = top[np.lexsort((top, -scores[top]))]
        return top[np.isfinite(scores[top])].astype(np.int64)


class PopularityBaseline:
    """Recommends the items with the most clicks and reads, each halving every ``half_life`` s.

    With ``half_life=None`` nothing decays: the scores are all-time counts, and the model is
    named ``popularity-all-time``. On MovieLens, where a movie stays popular for years, the
    all-time count is the stronger of the two; on news, where an item's clicks come within
    hours, the decayed one is.

    Parameters
    ----------
    half_life
        Seconds after which a click counts half (the worker's popularity half-life), or
        ``None`` for counts that never decay.

    Examples
    --------
    >>> from stream.events import Interaction
    >>> model = PopularityBaseline(half_life=3600.0)
    >>> for n, item in enumerate(["a", "b", "b"]):
    ...     model.learn_one(Interaction(f"e{n}", "click", f"u{n}", item, ts=0.0))
    >>> [r.item_id for r in model.recommend("u9", k=2, now=0.0)]
    ['b', 'a']

    Three clicks on ``old`` a day ago, two on ``new`` an hour ago: the decayed model prefers
    what is clicked now, the all-time one what was clicked most.

    >>> clicks = [("old", 0.0)] * 3 + [("new", 23 * 3600.0)] * 2
    >>> decayed, all_time = PopularityBaseline(), PopularityBaseline(half_life=None)
    >>> for model in (decayed, all_time):
    ...     for n, (item, ts) in enumerate(clicks):
    ...         model.learn_one(Interaction(f"e{n}", "click", f"u{n}", item, ts=ts))
    >>> now = 24 * 3600.0
    >>> [r.item_id for r in decayed.recommend("u9", k=2, now=now)]
    ['new', 'old']
    >>> all_time.name, [(r.item_id, r.score) for r in all_time.recommend("u9", k=2, now=now)]
    ('popularity-all-time', [('old', 3.0), ('new', 2.0)])
    """

    name = "popularity"

    def __init__(self, half_life: float | None = 6 * 3600.0) -> None:
        self.half_life = half_life
        if half_life is None:
            self.name = "popularity-all-time"
        self._items = _ItemIndex()
        # an infinite half-life makes every decay factor 2**0 == 1 exactly, so the scores
        # are exact counts, whatever the timestamps
        self._popularity = DecayedPopularity(math.inf if half_life is None else half_life)
        self._reason = "popular" if half_life is None else "trending"

    def learn_item(self, item: Item) -> None:
        """Make the item known (it scores 0 until clicked)."""
        self._items.ensure(item.item_id)

    def learn_one(self, event: Interaction) -> None:
        """Count a click or read."""
        idx = self._items.observe(event)
        if idx is not None:
            self._popularity.update(idx, event.ts)

    def forget_user(self, event: Forget) -> None:
        """Drop the user's seen items (their clicks stay in the anonymous item counts)."""
        self._items.seen.pop(event.user_id, None)

    def _scores(self, now: float) -> NDArray[np.float64]:
        return self._popularity.scores(now, len(self._items.ids))

    def recommend(self, user_id: str, k: int, now: float) -> list[Recommendation]:
        """The ``k`` most popular items the user has not seen."""
        scores = self._scores(now)
        return [Recommendation(self._items.ids[i], float(scores[i]), self._reason)
                for i in self._items.top(scores, user_id, k)]

    def score(self, user_id: str, item_ids: list[str], now: float) -> NDArray[np.float64]:
        """Click and read counts of the candidates, decayed unless ``half_life`` is ``None``
        (0 for unknown items)."""
        scores = self._scores(now)
        return np.array([scores[self._items.index[i]] if i in self._items.index else 0.0
                         for i in item_ids], dtype=np.float64)


class RandomBaseline:
    """Recommends known, unseen items in a random order drawn from a seeded generator.

    Examples
    --------
    >>> from stream.events import Item
    >>> model = RandomBaseline(seed=1)
    >>> for i in "abc":
    ...     model.learn_item(Item(item_id=i, title=i, published_at=0.0))
    >>> sorted(r.item_id for r in model.recommend("u1", k=3, now=0.0))
    ['a', 'b', 'c']
    """

    name = "random"

    def __init__(self, seed: int = 42) -> None:
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        self._items = _ItemIndex()

    def learn_item(self, item: Item) -> None:
        """Make the item known."""
        self._items.ensure(item.item_id)

    def learn_one(self, event: Interaction) -> None:
        """Remember the items the event names and what the user saw."""
        self._items.observe(event)

    def forget_user(self, event: Forget) -> None:
        """Drop the user's seen items."""
        self._items.seen.pop(event.user_id, None)

    def recommend(self, user_id: str, k: int, now: float) -> list[Recommendation]:
        """``k`` unseen items chosen uniformly at random."""
        scores = self._rng.random(len(self._items.ids))
        return [Recommendation(self._items.ids[i], float(scores[i]), "random")
                for i in self._items.top(scores, user_id, k)]

    def score(self, user_id: str, item_ids: list[str], now: float) -> NDArray[np.float64]:
        """Uniform random scores."""
        return self._rng.random(len(item_ids))


class RiverMFBaseline:
    """River's ``BiasedMF`` trained online on implicit feedback, ranking every known item.

    A click or read is a target of 1 for (user, item), followed by ``n_negatives`` targets of
    0 on items drawn uniformly from the known ones (seeded, the user's seen items skipped).
    Without negatives, a squared loss on clicks alone would learn to predict 1 everywhere.
    An impression only makes its items known: when it arrives nobody knows yet which of its
    items will be clicked, and training them all towards 0 first would punish exactly the
    items the user is about to click.

    Ranking every item with ``predict_one`` is a Python call per item, so the item biases and
    latent vectors are mirrored in numpy arrays after each update and scored in one product:
    ``global_mean + user_bias + item_bias + item_latents @ user_latent`` is exactly what
    ``predict_one`` computes (``tests/unit/evaluate/test_baselines.py`` checks it). An item
    River has not trained on yet scores as if its latent vector and bias were 0, their
    initial mean, instead of drawing a random vector as ``predict_one`` would.

    Parameters
    ----------
    n_factors
        Latent dimensions.
    learning_rate
        SGD step for biases and latent vectors.
    l2
        L2 penalty on biases and latent vectors.
    n_negatives
        Sampled negative targets per click.
    seed
        Seeds the latent initialisation and the negative sampling.
    """

    name = "river-mf"

    def __init__(
        self,
        n_factors: int = 16,
        learning_rate: float = 0.1,
        l2: float = 0.001,
        n_negatives: int = 8,
        seed: int = 42,
    ) -> None:
        self.n_factors = n_factors
        self.learning_rate = learning_rate
        self.l2 = l2
        self.n_negatives = n_negatives
        self.seed = seed
        self.model = reco.BiasedMF(
            n_factors=n_factors,
            bias_optimizer=optim.SGD(learning_rate),
            latent_optimizer=optim.SGD(learning_rate),
            l2_bias=l2,
            l2_latent=l2,
            latent_initializer=optim.initializers.Normal(mu=0.0, sigma=0.1, seed=seed),
            seed=seed,
        )
        self._rng = np.random.default_rng(seed)
        self._items = _ItemIndex()
        self._bias: NDArray[np.float64] = np.zeros(1024, dtype=np.float64)
        self._latents: NDArray[np.float64] = np.zeros((1024, n_factors), dtype=np.float64)

    # --- learning ---------------------------------------------------------------------------

    def _ensure(self, item_id: str) -> int:
        idx = self._items.ensure(item_id)
        self._grow(idx)
        return idx

    def _grow(self, idx: int) -> None:
        if idx >= self._bias.shape[0]:
            capacity = max(idx + 1, 2 * self._bias.shape[0])
            bias = np.zeros(capacity, dtype=np.float64)
            bias[: self._bias.shape[0]] = self._bias
            self._bias = bias
            latents = np.zeros((capacity, self.n_factors), dtype=np.float64)
            latents[: self._latents.shape[0]] = self._latents
            self._latents = latents

    def _fit(self, user_id: str, idx: int, target: float) -> None:
        item_id = self._items.ids[idx]
        self.model.learn_one(user_id, item_id, target)  # type: ignore[no-untyped-call]
        self._bias[idx] = self.model.i_biases[item_id]
        self._latents[idx] = self.model.i_latents[item_id]

    def learn_item(self, item: Item) -> None:
        """Make the item known (scored by the user's bias and the global mean only)."""
        self._ensure(item.item_id)

    def learn_one(self, event: Interaction) -> None:
        """A click or read: target 1 plus sampled 0s; an impression: its items become known."""
        for item_id in event.item_ids:
            self._ensure(item_id)
        if event.item_id:
            self._ensure(event.item_id)
        idx = self._items.observe(event)
        if idx is None:
            return
        self._fit(event.user_id, idx, 1.0)
        n = len(self._items.ids)
        if n > 1:
            seen = self._items.seen.get(event.user_id, set())
            for negative in self._rng.integers(0, n, size=self.n_negatives):
                if int(negative) not in seen:
                    self._fit(event.user_id, int(negative), 0.0)

    def forget_user(self, event: Forget) -> None:
        """Erase the user's bias, latent vector and seen items."""
        self.model.u_biases.pop(event.user_id, None)
        self.model.u_latents.pop(event.user_id, None)
        self._items.seen.pop(event.user_id, None)

    # --- ranking ----------------------------------------------------------------------------

    def scores_all(self, user_id: str) -> NDArray[np.float64]:
        """``predict_one`` of every known item for the user, vectorised."""
        n = len(self._items.ids)
        base = self.model.global_mean.get() + self.model.u_biases.get(user_id, 0.0)
        scores = base + self._bias[:n]
        latent = self.model.u_latents.get(user_id)
        if latent is not None:
            scores = scores + self._latents[:n] @ latent
        return np.asarray(scores, dtype=np.float64)

    def recommend(self, user_id: str, k: int, now: float) -> list[Recommendation]:
        """The ``k`` unseen items with the highest predicted target."""
        scores = self.scores_all(user_id)
        return [Recommendation(self._items.ids[i], round(float(scores[i]), 6), "similar users")
                for i in self._items.top(scores, user_id, k)]

    def score(self, user_id: str, item_ids: list[str], now: float) -> NDArray[np.float64]:
        """Predicted targets of the candidates (unknown items: the user's baseline)."""
        scores = self.scores_all(user_id)
        base = self.model.global_mean.get() + self.model.u_biases.get(user_id, 0.0)
        return np.array([scores[self._items.index[i]] if i in self._items.index else base
                         for i in item_ids], dtype=np.float64)
