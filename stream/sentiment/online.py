"""An online linear correction on top of a lexicon score, learnt with River, saved as JSON.

The lexicon (VADER for English, our own for Chinese) gives the score ``base`` out of the box.
From labelled comments this model learns a correction ``r(x)``, linear in the lexicon's own
features and hashed tokens, on the logit scale::

    score = tanh(atanh(base) + r(x))

With no labels ``r`` is 0 and the score is exactly the lexicon's. The loss is the matching
loss of the tanh link (cross-entropy with the target read as a probability ``(1 + y) / 2``),
whose gradient in ``r`` is simply ``score - y``: unlike squared error on the raw sum, it stops
pushing once a comment is confidently on the right side, which is what binary labels need.
"""

from __future__ import annotations

import itertools
import math
import zlib
from collections.abc import Collection, Iterable, Mapping
from itertools import repeat
from typing import Any

from river import linear_model, optim

__all__ = ["NgramLogit", "OnlineCorrection", "hashed_features"]

_MAX_BASE = 0.995  # atanh(0.995) = 3.0: a lexicon score of exactly +-1 stays correctable


def _logit(base: float) -> float:
    return math.atanh(max(-_MAX_BASE, min(_MAX_BASE, base)))


def hashed_features(
    tokens: Iterable[str], n_buckets: int, seed: int = 0, bigrams: bool = True
) -> dict[str | int, float]:
    """Binary hashed bag of unigrams (and bigrams), scaled to unit L2 norm.

    Buckets come from CRC32, which is stable across processes (Python's ``hash`` of a str
    is salted per process, so weights saved by one worker would mean nothing to the next).

    Examples
    --------
    >>> x = hashed_features(["not", "good"], n_buckets=1 << 10)
    >>> len(x), round(sum(v * v for v in x.values()), 6)
    (3, 1.0)
    """
    toks = list(tokens)
    keys: set[int] = set()
    mask = n_buckets - 1
    for tok in toks:
        keys.add(zlib.crc32(tok.encode("utf-8"), seed) & mask)
    if bigrams:
        for a, b in itertools.pairwise(toks):
            keys.add(zlib.crc32(f"{a} {b}".encode(), seed) & mask)
    if not keys:
        return {}
    value = 1.0 / math.sqrt(len(keys))
    out: dict[str | int, float] = dict.fromkeys(keys, value)
    return out


class OnlineCorrection:
    """A River linear model that corrects a lexicon score online; its state is plain JSON.

    River's :class:`~river.linear_model.LinearRegression` (AdaGrad, squared loss) holds the
    weights of ``r``; each step hands it the target ``r(x) - (score - y)``, so that its
    squared-loss gradient ``2 (r(x) - target)`` is exactly twice the tanh matching-loss
    gradient ``score - y``.

    Parameters
    ----------
    lr
        Learning rate of AdaGrad (per-feature steps suit sparse hashed tokens).
    l2
        L2 penalty on the weights of the features present in each update.
    intercept_lr
        Learning rate of the intercept.

    Examples
    --------
    >>> m = OnlineCorrection()
    >>> x = {"base": 0.5, 7: 1.0}
    >>> m.score(0.5, x)
    0.5
    >>> for _ in range(50):
    ...     m.learn(0.5, x, -0.5)
    >>> m.score(0.5, x) < 0.0
    True
    >>> OnlineCorrection.from_state(m.to_state()).score(0.5, x) == m.score(0.5, x)
    True
    """

    def __init__(self, lr: float = 0.05, l2: float = 0.0, intercept_lr: float = 0.005) -> None:
        self.lr = lr
        self.l2 = l2
        self.intercept_lr = intercept_lr
        self.n_learned = 0
        self._model = linear_model.LinearRegression(
            optimizer=optim.AdaGrad(lr),
            intercept_lr=intercept_lr,
            l2=l2,
            clip_gradient=10.0,
        )

    def correction(self, x: Mapping[str | int, float]) -> float:
        """``r(x)``: the learnt shift on the logit scale (exactly 0.0 before the first label)."""
        if self.n_learned == 0:
            return 0.0
        weights = self._model._weights
        total = float(self._model.intercept)
        for key, value in x.items():
            w = weights.get(key)
            if w is not None:
                total += w * value
        return total

    def score(self, base: float, x: Mapping[str | int, float]) -> float:
        """The corrected score in [-1, 1] of a text whose lexicon score is ``base``."""
        if self.n_learned == 0:
            return max(-1.0, min(1.0, base))
        return math.tanh(_logit(base) + self.correction(x))

    def learn(self, base: float, x: Mapping[str | int, float], target: float) -> None:
        """One online step towards ``target`` in [-1, 1] for a text with lexicon score ``base``."""
        r = self.correction(x)
        predicted = math.tanh(_logit(base) + r)
        self._model.learn_one(dict(x), r - (predicted - target))
        self.n_learned += 1

    def to_state(self) -> dict[str, Any]:
        """Weights, intercept and optimiser state as plain JSON-ready values."""
        weights: dict[str | int, float] = self._model._weights.to_dict()
        optimizer = self._model.optimizer
        g2: dict[str | int, float] = dict(optimizer.g2)

        def split(d: Mapping[str | int, float]) -> dict[str, dict[str, float]]:
            return {
                "named": {k: float(v) for k, v in d.items() if isinstance(k, str)},
                "hashed": {str(k): float(v) for k, v in d.items() if isinstance(k, int)},
            }

        return {
            "lr": self.lr,
            "l2": self.l2,
            "intercept_lr": self.intercept_lr,
            "n_learned": self.n_learned,
            "intercept": float(self._model.intercept),
            "n_iterations": int(optimizer.n_iterations),
            "weights": split(weights),
            "g2": split(g2),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> OnlineCorrection:
        """Rebuild a model saved by :meth:`to_state`."""
        model = cls(
            lr=float(state["lr"]),
            l2=float(state["l2"]),
            intercept_lr=float(state["intercept_lr"]),
        )
        model.n_learned = int(state["n_learned"])

        def join(d: Mapping[str, Mapping[str, float]]) -> dict[str | int, float]:
            out: dict[str | int, float] = {k: float(v) for k, v in d["named"].items()}
            out.update({int(k): float(v) for k, v in d["hashed"].items()})
            return out

        river_model = model._model
        river_model.intercept = float(state["intercept"])
        for key, value in join(state["weights"]).items():
            river_model._weights[key] = value
        optimizer = river_model.optimizer
        optimizer.n_iterations = int(state["n_iterations"])
        for key, value in join(state["g2"]).items():
            optimizer.g2[key] = value
        return model


class NgramLogit:
    """A logistic correction of a lexicon score over named dense features and string n-grams.

    ``score = tanh(atanh(base) + b + w . dense + sum of w[g] over the n grams g / sqrt(n))``
    (a gram that occurs twice counts twice),
    learnt with AdaGrad on the matching loss of the tanh link (gradient ``score - target``
    in the logit), so binary labels stop pushing once a text is confidently right. N-grams are
    keyed by their own text rather than hashed: only n-grams seen in a label can carry a
    weight, so scoring is one dictionary look-up per n-gram (in C, via ``map``), nothing is
    salted per process, and the state is plain JSON. At most ``max_features`` n-grams are
    kept (the first seen), so an endless stream cannot grow it without bound.

    Parameters
    ----------
    lr
        AdaGrad learning rate.
    l2
        L2 penalty, applied to the weights in each update.
    max_features
        The most n-grams that get a weight.

    Examples
    --------
    >>> m = NgramLogit()
    >>> m.score(0.5, {"base": 0.5}, {"好", "很"})
    0.5
    >>> for _ in range(20):
    ...     m.learn(0.5, {"base": 0.5}, {"好", "很"}, -1.0)
    >>> m.score(0.5, {"base": 0.5}, {"好", "很"}) < 0.0
    True
    >>> NgramLogit.from_state(m.to_state()).to_state() == m.to_state()
    True
    """

    def __init__(self, lr: float = 0.2, l2: float = 0.0, max_features: int = 1 << 20) -> None:
        self.lr = lr
        self.l2 = l2
        self.max_features = max_features
        self.n_learned = 0
        self.intercept = 0.0
        self.dense: dict[str, float] = {}
        self.weights: dict[str, float] = {}
        self._g2_intercept = 0.0
        self._g2_dense: dict[str, float] = {}
        self._g2: dict[str, float] = {}

    def logit(self, base: float, dense: Mapping[str, float], grams: Collection[str]) -> float:
        """The score before the tanh: the lexicon's logit plus the learnt shift."""
        return self.logit_of_sum(base, dense, self.gram_sum(grams), len(grams))

    def gram_sum(self, grams: Iterable[str]) -> float:
        """The sum of the weights of ``grams`` (0.0 for unknown ones), in one pass in C."""
        return sum(map(self.weights.get, grams, repeat(0.0)))

    def logit_of_sum(
        self, base: float, dense: Mapping[str, float], gram_sum: float, n_grams: int
    ) -> float:
        """:meth:`logit` from :meth:`gram_sum` of ``n_grams`` n-grams (so that a caller can sum
        n-grams as it makes them, without a list)."""
        z = _logit(base) + self.intercept
        weights = self.dense
        for key, value in dense.items():
            w = weights.get(key)
            if w is not None:
                z += w * value
        if n_grams:
            z += gram_sum / math.sqrt(n_grams)
        return z

    def score(self, base: float, dense: Mapping[str, float], grams: Collection[str]) -> float:
        """The score in [-1, 1] (exactly ``base`` before the first label)."""
        if not self.n_learned:
            return max(-1.0, min(1.0, base))
        return math.tanh(self.logit(base, dense, grams))

    def learn(
        self, base: float, dense: Mapping[str, float], grams: Collection[str], target: float
    ) -> None:
        """One AdaGrad step towards ``target`` in [-1, 1]."""
        g = math.tanh(self.logit(base, dense, grams)) - target
        lr, l2 = self.lr, self.l2
        self._g2_intercept += g * g
        self.intercept -= lr * g / (math.sqrt(self._g2_intercept) + 1e-8)
        for key, value in dense.items():
            self._step(self.dense, self._g2_dense, key, g * value, lr, l2, True)
        if grams:
            gv = g / math.sqrt(len(grams))
            weights, g2 = self.weights, self._g2
            room = len(weights) < self.max_features
            for gram in grams:
                if room or gram in weights:
                    self._step(weights, g2, gram, gv, lr, l2, room)
                    room = room and len(weights) < self.max_features
        self.n_learned += 1

    @staticmethod
    def _step(
        weights: dict[str, float],
        g2: dict[str, float],
        key: str,
        grad: float,
        lr: float,
        l2: float,
        add: bool,
    ) -> None:
        w = weights.get(key)
        if w is None:
            if not add:
                return
            w = 0.0
        grad += l2 * w
        acc = g2.get(key, 0.0) + grad * grad
        g2[key] = acc
        weights[key] = w - lr * grad / (math.sqrt(acc) + 1e-8)

    def to_state(self) -> dict[str, Any]:
        """Weights and AdaGrad sums as plain JSON-ready values."""
        return {
            "lr": self.lr,
            "l2": self.l2,
            "max_features": self.max_features,
            "n_learned": self.n_learned,
            "intercept": self.intercept,
            "g2_intercept": self._g2_intercept,
            "dense": dict(self.dense),
            "g2_dense": dict(self._g2_dense),
            "weights": dict(self.weights),
            "g2": dict(self._g2),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> NgramLogit:
        """Rebuild a model saved by :meth:`to_state`."""
        model = cls(
            lr=float(state["lr"]), l2=float(state["l2"]), max_features=int(state["max_features"])
        )
        model.n_learned = int(state["n_learned"])
        model.intercept = float(state["intercept"])
        model._g2_intercept = float(state["g2_intercept"])
        model.dense = {str(k): float(v) for k, v in state["dense"].items()}
        model._g2_dense = {str(k): float(v) for k, v in state["g2_dense"].items()}
        model.weights = {str(k): float(v) for k, v in state["weights"].items()}
        model._g2 = {str(k): float(v) for k, v in state["g2"].items()}
        return model
