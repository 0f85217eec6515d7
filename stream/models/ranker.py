"""An online ranker learned from impressions with River: which generator to trust, and how much."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from river import linear_model, optim, utils

__all__ = ["FEATURES", "ImpressionRanker"]

#: the ranker's features, in the column order of the matrices it takes
FEATURES: tuple[str, ...] = (
    "content", "collab", "popularity", "ctr", "exposure", "freshness", "sentiment", "prior",
)


class ImpressionRanker:
    """A River logistic regression on impressions, scored with one numpy product.

    Each clicked item of a served list is a positive and the items shown *above* it that were
    not clicked are negatives ("skip-above"): an item below the click may simply not have been
    looked at, so it teaches nothing, which removes most of the position bias. Each shown
    position is labelled at most once. River learns one example at a time; scoring reads its
    weights and ranks thousands of candidates in one matrix product. Until ``min_examples``
    positives and negatives have been seen, :attr:`warm` is false and callers use their prior.
    The recommender takes both from its settings (``ranker_learning_rate``,
    ``ranker_min_examples``).

    Examples
    --------
    >>> import numpy as np
    >>> ranker = ImpressionRanker(learning_rate=0.05, min_examples=1)
    >>> x = np.zeros((2, len(FEATURES)))
    >>> x[0, FEATURES.index("popularity")] = 1.0
    >>> for _ in range(50):
    ...     ranker.learn(x, np.array([True, False]))
    >>> bool(ranker.predict(x)[0] > ranker.predict(x)[1]) and ranker.warm
    True
    """

    def __init__(self, learning_rate: float, min_examples: int, l2: float = 1e-4) -> None:
        self.learning_rate = learning_rate
        self.l2 = l2
        self.min_examples = min_examples
        self.model = linear_model.LogisticRegression(
            optimizer=optim.SGD(learning_rate), l2=l2, intercept_lr=learning_rate
        )
        self.n_positive = 0
        self.n_negative = 0

    @property
    def warm(self) -> bool:
        """Whether the ranker has seen enough of both labels to be used."""
        return min(self.n_positive, self.n_negative) >= self.min_examples

    def learn(self, features: NDArray[np.float64], labels: NDArray[np.bool_]) -> None:
        """Learn from rows of :data:`FEATURES` and their click labels."""
        for row, label in zip(features.tolist(), labels.tolist(), strict=True):
            self.model.learn_one(dict(zip(FEATURES, row, strict=True)), bool(label))
            if label:
                self.n_positive += 1
            else:
                self.n_negative += 1

    def coefficients(self) -> NDArray[np.float64]:
        """The weights in :data:`FEATURES` order."""
        weights = self.model.weights
        return np.array([weights.get(name, 0.0) for name in FEATURES], dtype=np.float64)

    def predict(self, features: NDArray[np.float64]) -> NDArray[np.float64]:
        """Click log-odds of each row (monotone in the click probability)."""
        return features @ self.coefficients() + float(self.model.intercept)

    def predict_proba(self, features: NDArray[np.float64]) -> NDArray[np.float64]:
        """Click probability of each row."""
        out: NDArray[np.float64] = 1.0 / (1.0 + np.exp(-self.predict(features)))
        return out

    def export_state(self) -> dict[str, object]:
        """The learned state as plain JSON-able values."""
        return {
            "weights": dict(self.model.weights),
            "intercept": float(self.model.intercept),
            "n_positive": self.n_positive,
            "n_negative": self.n_negative,
        }

    def import_state(self, state: dict[str, object]) -> None:
        """Restore what :meth:`export_state` returned."""
        weights = state["weights"]
        assert isinstance(weights, dict)
        # River has no public setter for learned weights; this is the dict it learns into.
        self.model._weights = utils.VectorDict({str(k): float(v) for k, v in weights.items()})
        intercept = state["intercept"]
        n_pos, n_neg = state["n_positive"], state["n_negative"]
        assert isinstance(intercept, float | int)
        assert isinstance(n_pos, int) and isinstance(n_neg, int)
        self.model.intercept = float(intercept)
        self.n_positive, self.n_negative = n_pos, n_neg
