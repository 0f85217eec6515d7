"""Online linear corrections on top of a lexicon score, saved as JSON: River's AdaGrad over
hashed tokens (English, :class:`OnlineCorrection`) and averaged SGD over naive-Bayes-scaled
character n-grams (Chinese, :class:`NgramLogit`).

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
    """A logistic correction of a lexicon score over dense features and n-grams scaled by their
    naive-Bayes log-count ratios (NBSVM, Wang and Manning 2012), learnt online by averaged SGD.

    ``score = tanh(atanh(base) + b + v . dense + sum of w[g] * r[g] over the n grams g
    / sqrt(n))``, where ``r[g] = log((pos[g] + a) / |pos|) - log((neg[g] + a) / |neg|)`` is the
    log-count ratio of a binarised multinomial naive Bayes (``|pos|``: all positive counts plus
    ``a`` for each n-gram kept and one unseen). Its per-class counts are kept online:
    ``(1 + target) / 2`` and ``(1 - target) / 2`` per label (soft targets count fractionally),
    counted before the step that learns from the same label. Scaling each n-gram
    by ``r`` lets the weights start from what naive Bayes already knows; dividing by
    ``sqrt(n)`` keeps long and short reviews on one scale.

    The loss is the matching loss of the tanh link (gradient ``score - target`` in the logit),
    so binary labels stop pushing once a text is confidently right. Plain SGD steps, ``lr``
    for the n-gram weights and a smaller ``dense_lr`` for the intercept and dense weights (so
    the first few labels cannot swing every score), with an L2 penalty on the n-gram weights of
    each update. Scores use the averaged weights, each step weighted by its number ``t`` (recent
    steps count more: ``sum t * w_t / sum t``), kept exactly with one running sum per weight.
    The averaged weights times ``r`` make one table of per-n-gram contributions, rebuilt when
    the model is next used after learning: scoring is one dictionary look-up per n-gram.

    N-grams are keyed by their own text rather than hashed: only n-grams seen in a label can
    carry a weight, and nothing is salted per process. At most ``max_features`` n-grams are kept
    (the first seen), so an endless stream cannot grow it without bound. The state is JSON: the
    n-grams and their class counts as lists, their weights and running sums as base64
    little-endian float64 (exact, and about half the size of their decimals).

    Parameters
    ----------
    lr
        SGD learning rate of the n-gram weights.
    dense_lr
        SGD learning rate of the intercept and the dense features' weights.
    l2
        L2 penalty on the n-gram weights, applied to those present in each update.
    max_features
        The most n-grams that get a weight and naive-Bayes counts.
    nb_alpha
        Additive smoothing of the naive-Bayes counts.

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
        lr: float = 4.0,
        dense_lr: float = 0.1,
        l2: float = 1e-4,
        max_features: int = 1 << 17,
        nb_alpha: float = 1.0,
    ) -> None:
        self.lr = lr
        self.dense_lr = dense_lr
        self.l2 = l2
        self.max_features = max_features
        self.nb_alpha = nb_alpha
        self.n_learned = 0
        self.intercept = 0.0  # the current iterate; scores use the averages
        self.dense: dict[str, float] = {}
        self._intercept_sum = 0.0  # running sums of step * (sum of earlier step numbers)
        self._dense_sum: dict[str, float] = {}
        self._index: dict[str, int] = {}  # n-gram -> row of the arrays below
        self._grams: list[str] = []
        self._w = np.zeros(0)  # current weights
        self._wsum = np.zeros(0)  # running sums for the averaged weights
        self._pos = np.zeros(0)  # naive-Bayes counts
        self._neg = np.zeros(0)
        self._pos_total = 0.0
        self._neg_total = 0.0
        self._table: dict[str, float] | None = None  # averaged w * r, rebuilt when stale
        self._avg_intercept = 0.0
        self._avg_dense: dict[str, float] = {}

    # --- naive Bayes ---------------------------------------------------------------------

    def _class_offset(self) -> float:
        """The part of every n-gram's log-count ratio that comes from the class totals."""
        a = self.nb_alpha * (len(self._grams) + 1)  # +1: the slot of an unseen n-gram
        return math.log(self._neg_total + a) - math.log(self._pos_total + a)

    def _ratios(self, rows: np.ndarray[Any, np.dtype[np.intp]] | slice) -> np.ndarray[Any, Any]:
        a = self.nb_alpha
        return np.log(self._pos[rows] + a) - np.log(self._neg[rows] + a) + self._class_offset()

    def nb_log_odds(self, grams: Collection[str]) -> float:
        """Naive-Bayes log-odds (positive over negative) of ``grams``, without the class prior
        (the intercept learns it); 0.0 before the first label. N-grams never counted add the
        ratio of an unseen n-gram."""
        if not self._grams:
            return 0.0
        index = self._index
        rows = np.fromiter((index[g] for g in grams if g in index), dtype=np.intp)
        unseen = len(grams) - len(rows)
        return float(self._ratios(rows).sum()) + unseen * self._class_offset()

    @property
    def weights(self) -> dict[str, float]:
        """The current (not averaged) weight of every n-gram kept."""
        return dict(zip(self._grams, self._w[: len(self._grams)].tolist(), strict=True))

    # --- scoring -------------------------------------------------------------------------

    def _refresh(self) -> dict[str, float]:
        """The averaged weights and the per-n-gram table, rebuilt after learning."""
        table = self._table
        if table is not None:
            return table
        n = len(self._grams)
        total = self.n_learned * (self.n_learned + 1) / 2.0  # sum of the step numbers
        if total:
            avg = self._w[:n] - self._wsum[:n] / total
            self._avg_intercept = self.intercept - self._intercept_sum / total
            self._avg_dense = {k: w - self._dense_sum[k] / total for k, w in self.dense.items()}
            table = dict(zip(self._grams, (avg * self._ratios(slice(0, n))).tolist(), strict=True))
        else:
            table = {}
        self._table = table
        return table

    def logit(self, base: float, dense: Mapping[str, float], grams: Collection[str]) -> float:
        """The score before the tanh: the lexicon's logit plus the learnt (averaged) shift."""
        table = self._table if self._table is not None else self._refresh()
        z = _logit(base) + self._avg_intercept
        weights = self._avg_dense
        for key, value in dense.items():
            w = weights.get(key)
            if w is not None:
                z += w * value
        n = len(grams)
        if n:
            z += sum(map(table.get, grams, repeat(0.0))) / math.sqrt(n)
        return z

    def score(self, base: float, dense: Mapping[str, float], grams: Collection[str]) -> float:
        """The score in [-1, 1] (exactly ``base`` before the first label)."""
        if not self.n_learned:
            return max(-1.0, min(1.0, base))
        return math.tanh(self.logit(base, dense, grams))

    # --- learning ------------------------------------------------------------------------

    def _rows(self, grams: Iterable[str]) -> list[int]:
        """Rows of the n-grams, adding new ones while there is room."""
        index = self._index
        rows: list[int] = []
        for gram in grams:
            row = index.get(gram)
            if row is None:
                row = len(self._grams)
                if row >= self.max_features:
                    continue
                if row == len(self._w):
                    self._grow()
                index[gram] = row
                self._grams.append(gram)
            rows.append(row)
        return rows

    def _grow(self) -> None:
        size = min(self.max_features, max(1024, 2 * len(self._w)))
        for name in ("_w", "_wsum", "_pos", "_neg"):
            old = getattr(self, name)
            new = np.zeros(size)
            new[: len(old)] = old
            setattr(self, name, new)

    def learn(
        self, base: float, dense: Mapping[str, float], grams: Collection[str], target: float
    ) -> None:
        """Count ``grams`` for naive Bayes, then one SGD step towards ``target`` in [-1, 1].

        ``grams`` are read as distinct (a binarised naive Bayes); repeats count once.
        """
        distinct = list(dict.fromkeys(grams))
        n = len(distinct)
        rows = np.array(self._rows(distinct), dtype=np.intp)
        p, q = (1.0 + target) / 2.0, (1.0 - target) / 2.0
        self._pos[rows] += p
        self._neg[rows] += q
        self._pos_total += p * len(rows)
        self._neg_total += q * len(rows)
        x = self._ratios(rows) / math.sqrt(n) if n else np.zeros(0)
        w = self._w[rows]
        z = _logit(base) + self.intercept + float(w @ x)
        for key, value in dense.items():
            z += self.dense.get(key, 0.0) * value
        g = math.tanh(z) - target
        earlier = self.n_learned * (self.n_learned + 1) / 2.0  # weight of the past in averages
        step = -self.dense_lr * g
        self.intercept += step
        self._intercept_sum += earlier * step
        for key, value in dense.items():
            step = -self.dense_lr * g * value
            self.dense[key] = self.dense.get(key, 0.0) + step
            self._dense_sum[key] = self._dense_sum.get(key, 0.0) + earlier * step
        steps = -self.lr * (g * x + self.l2 * w)
        self._w[rows] = w + steps
        self._wsum[rows] += earlier * steps
        self.n_learned += 1
        self._table = None

    # --- state ---------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """Weights, running sums and naive-Bayes counts as JSON-ready values."""
        n = len(self._grams)
        return {
            "format": 3,
            "lr": self.lr,
            "dense_lr": self.dense_lr,
            "l2": self.l2,
            "max_features": self.max_features,
            "nb_alpha": self.nb_alpha,
            "n_learned": self.n_learned,
            "intercept": self.intercept,
            "intercept_sum": self._intercept_sum,
            "dense": dict(self.dense),
            "dense_sum": dict(self._dense_sum),
            "pos_total": self._pos_total,
            "neg_total": self._neg_total,
            "grams": list(self._grams),
            "weights": _pack(self._w[:n]),
            "weight_sums": _pack(self._wsum[:n]),
            "pos": self._pos[:n].tolist(),
            "neg": self._neg[:n].tolist(),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> NgramLogit:
        """Rebuild a model saved by :meth:`to_state`."""
        if state.get("format") != 3:
            raise ValueError("not a state of this n-gram model (saved by an older version?)")
        model = cls(
            lr=float(state["lr"]),
            dense_lr=float(state["dense_lr"]),
            l2=float(state["l2"]),
            max_features=int(state["max_features"]),
            nb_alpha=float(state["nb_alpha"]),
        )
        model.n_learned = int(state["n_learned"])
        model.intercept = float(state["intercept"])
        model._intercept_sum = float(state["intercept_sum"])
        model.dense = {str(k): float(v) for k, v in state["dense"].items()}
        model._dense_sum = {str(k): float(v) for k, v in state["dense_sum"].items()}
        if set(model._dense_sum) != set(model.dense):
            raise ValueError("dense weights and their sums differ in keys")
        model._pos_total = float(state["pos_total"])
        model._neg_total = float(state["neg_total"])
        grams = [str(g) for g in state["grams"]]
        columns = [_unpack(state["weights"]), _unpack(state["weight_sums"])]
        columns += [np.array(state[k], dtype=np.float64).reshape(-1) for k in ("pos", "neg")]
        if any(len(column) != len(grams) for column in columns):
            raise ValueError("n-gram state columns differ in length")
        if len(set(grams)) != len(grams) or len(grams) > model.max_features:
            raise ValueError("n-grams repeat or exceed max_features")
        model._grams = grams
        model._index = {g: i for i, g in enumerate(grams)}
        model._w, model._wsum, model._pos, model._neg = columns
        return model


def _pack(values: np.ndarray[Any, np.dtype[np.float64]]) -> str:
    """Floats as base64 of little-endian float64: exact, and about half the size of decimals."""
    return base64.b64encode(np.ascontiguousarray(values, dtype="<f8").tobytes()).decode("ascii")


def _unpack(text: str) -> np.ndarray[Any, np.dtype[np.float64]]:
    """The floats of :func:`_pack`, as a writable array."""
    return np.frombuffer(base64.b64decode(text, validate=True), "<f8").astype(np.float64)
