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

import base64
import itertools
import math
import zlib
from collections.abc import Collection, Iterable, Mapping
from itertools import repeat
from typing import Any

import numpy as np
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
    """A logistic correction of a lexicon score over dense features, n-grams and the naive-Bayes
    log-odds of those n-grams, all learnt online.

    ``score = tanh(atanh(base) + b + w . dense + sum of w[g] over the n grams g / sqrt(n)
    + v * nb_scale * nb(grams))``, where ``nb`` is the log-odds of a binarised multinomial
    naive Bayes whose per-class n-gram counts are kept online (NBSVM's log-count ratios,
    Wang and Manning 2012, here used as one learnt feature: the interpolation of the two
    models). Counts are ``(1 + target) / 2`` and ``(1 - target) / 2`` per label, so soft
    targets count fractionally. The weights are learnt with AdaGrad on the matching loss of
    the tanh link (gradient ``score - target`` in the logit), so binary labels stop pushing once
    a text is confidently right.

    N-grams are keyed by their own text rather than hashed: only n-grams seen in a label can
    carry a weight, so scoring is one dictionary look-up per n-gram and model (in C, via
    ``map``) and nothing is salted per process. At most ``max_features`` n-grams are kept (the
    first seen), so an endless stream cannot grow it without bound. The state is JSON: the
    n-grams as a list, their weights and AdaGrad sums as base64 little-endian float64 (exact
    and half the size of decimal text), their class counts as lists.

    Parameters
    ----------
    lr
        AdaGrad learning rate.
    l2
        L2 penalty, applied to the weights in each update.
    max_features
        The most n-grams that get a weight and naive-Bayes counts.
    nb_alpha
        Additive smoothing of the naive-Bayes counts.
    nb_scale
        Scale of the naive-Bayes log-odds as a feature (keeps its AdaGrad step comparable).

    Examples
    --------
    >>> m = NgramLogit()
    >>> m.score(0.5, {"base": 0.5}, ["好", "很"])
    0.5
    >>> for _ in range(20):
    ...     m.learn(0.5, {"base": 0.5}, ["好", "很"], -1.0)
    >>> m.score(0.5, {"base": 0.5}, ["好", "很"]) < 0.0
    True
    >>> NgramLogit.from_state(m.to_state()).to_state() == m.to_state()
    True
    """

    def __init__(
        self,
        lr: float = 0.4,
        l2: float = 0.0,
        max_features: int = 1 << 17,
        nb_alpha: float = 0.5,
        nb_scale: float = 0.1,
    ) -> None:
        self.lr = lr
        self.l2 = l2
        self.max_features = max_features
        self.nb_alpha = nb_alpha
        self.nb_scale = nb_scale
        self.n_learned = 0
        self.intercept = 0.0
        self.nb_weight = 0.0
        self.dense: dict[str, float] = {}
        self.weights: dict[str, float] = {}
        self._g2_intercept = 0.0
        self._g2_nb = 0.0
        self._g2_dense: dict[str, float] = {}
        self._g2: dict[str, float] = {}
        self._pos: dict[str, float] = {}  # naive-Bayes counts per n-gram, same keys as weights
        self._neg: dict[str, float] = {}
        self._pos_total = 0.0
        self._neg_total = 0.0
        self._ratio: dict[str, float] = {}  # log(pos + a) - log(neg + a), kept for scoring
        self._nb_per_gram = 0.0

    def nb_log_odds(self, grams: Collection[str]) -> float:
        """Naive-Bayes log-odds (positive over negative) of ``grams``, without the class prior
        (the intercept learns it); 0.0 before the first label."""
        return sum(map(self._ratio.get, grams, repeat(0.0))) + len(grams) * self._nb_per_gram

    def _refresh_nb(self) -> None:
        """The log-odds every n-gram adds for the classes' total counts (``ratio`` holds the
        rest): the smoothed denominators of the two class distributions."""
        if not self._ratio:
            self._nb_per_gram = 0.0
            return
        a = self.nb_alpha * (len(self._ratio) + 1)  # +1: the slot of an unseen n-gram
        self._nb_per_gram = math.log(self._neg_total + a) - math.log(self._pos_total + a)

    def logit(self, base: float, dense: Mapping[str, float], grams: Collection[str]) -> float:
        """The score before the tanh: the lexicon's logit plus the learnt shift."""
        z = _logit(base) + self.intercept
        weights = self.dense
        for key, value in dense.items():
            w = weights.get(key)
            if w is not None:
                z += w * value
        n = len(grams)
        if n:
            z += sum(map(self.weights.get, grams, repeat(0.0))) / math.sqrt(n)
            nb = sum(map(self._ratio.get, grams, repeat(0.0))) + n * self._nb_per_gram
            z += self.nb_weight * self.nb_scale * nb
        return z

    def score(self, base: float, dense: Mapping[str, float], grams: Collection[str]) -> float:
        """The score in [-1, 1] (exactly ``base`` before the first label)."""
        if not self.n_learned:
            return max(-1.0, min(1.0, base))
        return math.tanh(self.logit(base, dense, grams))

    def learn(
        self, base: float, dense: Mapping[str, float], grams: Collection[str], target: float
    ) -> None:
        """One AdaGrad step towards ``target`` in [-1, 1], then count ``grams`` for naive Bayes.

        ``grams`` are counted as given: pass distinct n-grams for a binarised naive Bayes.
        """
        nb = self.nb_scale * self.nb_log_odds(grams) if grams else 0.0
        g = math.tanh(self.logit(base, dense, grams)) - target
        lr, l2 = self.lr, self.l2
        self._g2_intercept += g * g
        self.intercept -= lr * g / (math.sqrt(self._g2_intercept) + 1e-8)
        for key, value in dense.items():
            self._step(self.dense, self._g2_dense, key, g * value, lr, l2, True)
        if not grams:
            self.n_learned += 1
            return
        gnb = g * nb + l2 * self.nb_weight
        self._g2_nb += gnb * gnb
        self.nb_weight -= lr * gnb / (math.sqrt(self._g2_nb) + 1e-8)
        gv = g / math.sqrt(len(grams))
        weights, g2, pos, neg, ratio = self.weights, self._g2, self._pos, self._neg, self._ratio
        p, q = (1.0 + target) / 2.0, (1.0 - target) / 2.0
        a = self.nb_alpha
        log = math.log
        counted = 0
        room = len(weights) < self.max_features
        for gram in grams:
            if room or gram in weights:
                self._step(weights, g2, gram, gv, lr, l2, room)
                cp = pos[gram] = pos.get(gram, 0.0) + p
                cn = neg[gram] = neg.get(gram, 0.0) + q
                ratio[gram] = log(cp + a) - log(cn + a)
                counted += 1
                room = room and len(weights) < self.max_features
        self._pos_total += counted * p
        self._neg_total += counted * q
        self._refresh_nb()
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
        """Weights, AdaGrad sums and naive-Bayes counts as JSON-ready values."""
        grams = list(self.weights)
        return {
            "format": 2,
            "lr": self.lr,
            "l2": self.l2,
            "max_features": self.max_features,
            "nb_alpha": self.nb_alpha,
            "nb_scale": self.nb_scale,
            "n_learned": self.n_learned,
            "intercept": self.intercept,
            "g2_intercept": self._g2_intercept,
            "nb_weight": self.nb_weight,
            "g2_nb": self._g2_nb,
            "pos_total": self._pos_total,
            "neg_total": self._neg_total,
            "dense": dict(self.dense),
            "g2_dense": dict(self._g2_dense),
            "grams": grams,
            "weights": _pack(self.weights.values()),
            "g2": _pack(map(self._g2.__getitem__, grams)),
            "pos": list(map(self._pos.__getitem__, grams)),
            "neg": list(map(self._neg.__getitem__, grams)),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> NgramLogit:
        """Rebuild a model saved by :meth:`to_state`."""
        if state.get("format") != 2:
            raise ValueError("not a state of this n-gram model (saved by an older version?)")
        model = cls(
            lr=float(state["lr"]),
            l2=float(state["l2"]),
            max_features=int(state["max_features"]),
            nb_alpha=float(state["nb_alpha"]),
            nb_scale=float(state["nb_scale"]),
        )
        model.n_learned = int(state["n_learned"])
        model.intercept = float(state["intercept"])
        model._g2_intercept = float(state["g2_intercept"])
        model.nb_weight = float(state["nb_weight"])
        model._g2_nb = float(state["g2_nb"])
        model._pos_total = float(state["pos_total"])
        model._neg_total = float(state["neg_total"])
        model.dense = {str(k): float(v) for k, v in state["dense"].items()}
        model._g2_dense = {str(k): float(v) for k, v in state["g2_dense"].items()}
        grams = [str(g) for g in state["grams"]]
        columns = (
            _unpack(state["weights"]),
            _unpack(state["g2"]),
            [float(v) for v in state["pos"]],
            [float(v) for v in state["neg"]],
        )
        if any(len(column) != len(grams) for column in columns):
            raise ValueError("n-gram state columns differ in length")
        weights, g2, pos, neg = columns
        model.weights = dict(zip(grams, weights, strict=True))
        model._g2 = dict(zip(grams, g2, strict=True))
        model._pos = dict(zip(grams, pos, strict=True))
        model._neg = dict(zip(grams, neg, strict=True))
        a = model.nb_alpha
        model._ratio = {
            g: math.log(p + a) - math.log(n + a) for g, p, n in zip(grams, pos, neg, strict=True)
        }
        model._refresh_nb()
        return model


def _pack(values: Iterable[float]) -> str:
    """Floats as base64 of little-endian float64: exact, and about half the size of decimals."""
    return base64.b64encode(np.fromiter(values, dtype="<f8").tobytes()).decode("ascii")


def _unpack(text: str) -> list[float]:
    """The floats of :func:`_pack`."""
    values: list[float] = np.frombuffer(base64.b64decode(text, validate=True), "<f8").tolist()
    return values
