"""English comment sentiment: VADER out of the box, corrected online by labelled comments."""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from stream.sentiment.online import OnlineCorrection, hashed_features

__all__ = ["EnglishScorer", "vader_scores"]

_TOKEN_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[!?]")
_lock = threading.Lock()
_analyzer: Any = None


def _vader() -> Any:
    """VADER's analyzer, built once (it reads its lexicon and emoji files on construction)."""
    global _analyzer
    if _analyzer is None:
        with _lock:
            if _analyzer is None:
                from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

                _analyzer = SentimentIntensityAnalyzer()
    return _analyzer


def vader_scores(text: str) -> dict[str, float]:
    """VADER's ``neg``, ``neu``, ``pos`` and ``compound`` for ``text``.

    Examples
    --------
    >>> vader_scores("The service was great")["compound"] > 0.5
    True
    """
    scores: dict[str, float] = _vader().polarity_scores(text)
    return scores


class EnglishScorer:
    """English sentiment in [-1, 1]: VADER's compound out of the box, corrected online.

    The correction sees VADER's four scores and hashed word unigrams and bigrams, so it can
    learn both how VADER's scale maps to a site's labels and which words VADER misreads.

    Parameters
    ----------
    n_buckets
        Size of the hashed space of words and word bigrams (a power of two).
    lr
        AdaGrad learning rate of the online correction.
    l2
        L2 penalty of the online correction.

    Examples
    --------
    >>> en = EnglishScorer()
    >>> text = "The article was not good at all"
    >>> en.score_many([text]) == [vader_scores(text)["compound"]]
    True
    """

    lang = "en"
    base_name = "vader"

    def __init__(self, n_buckets: int = 1 << 20, lr: float = 0.05, l2: float = 0.0) -> None:
        if n_buckets & (n_buckets - 1):
            raise ValueError("n_buckets must be a power of two")
        self.n_buckets = n_buckets
        self.online = OnlineCorrection(lr=lr, l2=l2)

    def analyse(self, text: str) -> tuple[float, dict[str | int, float]]:
        """VADER's compound for ``text`` and the features of the online correction."""
        s = vader_scores(text)
        compound = s["compound"]
        x: dict[str | int, float] = {
            "compound": compound,
            "compound3": compound**3,
            "abs": abs(compound),
            "pos": s["pos"],
            "neg": s["neg"],
            "neu": s["neu"],
            "pos_minus_neg": s["pos"] - s["neg"],
        }
        x.update(hashed_features(_TOKEN_RE.findall(text.lower()), self.n_buckets))
        return compound, x

    def score_many(self, texts: Sequence[str]) -> list[float]:
        """Scores in [-1, 1] of a batch of English texts."""
        online = self.online
        if not online.n_learned:  # out of the box the score is VADER's: skip the features
            return [vader_scores(t)["compound"] for t in texts]
        out: list[float] = []
        for text in texts:
            base, x = self.analyse(text)
            out.append(online.score(base, x))
        return out

    def learn_one(self, text: str, target: float) -> None:
        """Learn that ``text`` has sentiment ``target`` in [-1, 1]."""
        base, x = self.analyse(text)
        self.online.learn(base, x, target)

    @property
    def model_name(self) -> str:
        """``vader`` out of the box, ``vader+river`` once it has learnt."""
        return self.base_name + ("+river" if self.online.n_learned else "")

    def to_state(self) -> dict[str, Any]:
        """JSON-ready state."""
        return {"n_buckets": self.n_buckets, "online": self.online.to_state()}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> EnglishScorer:
        """Rebuild a scorer saved by :meth:`to_state`."""
        online = OnlineCorrection.from_state(state["online"])
        scorer = cls(n_buckets=int(state["n_buckets"]), lr=online.lr, l2=online.l2)
        scorer.online = online
        return scorer
