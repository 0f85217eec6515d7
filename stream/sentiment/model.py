"""One model for comment sentiment in every language we read, and honest "unscored" for the rest."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import orjson

from stream.sentiment.chinese import ChineseScorer
from stream.sentiment.english import EnglishScorer
from stream.sentiment.lang import normalize_lang

__all__ = [
    "LABEL_SCORES",
    "SentimentModel",
    "SentimentResult",
    "label_to_score",
]

STATE_FORMAT = "stream.sentiment.v1"
STATE_FILE = "sentiment.json"
UNSCORED = "unscored"
UNSCORED_MODEL = "none"

LABEL_SCORES: dict[str, float] = {"positive": 1.0, "negative": -1.0, "neutral": 0.0}


class LanguageScorer(Protocol):
    """What :class:`SentimentModel` needs from the scorer of one language."""

    lang: str

    @property
    def model_name(self) -> str: ...

    def score_many(self, texts: Sequence[str]) -> list[float]: ...

    def learn_one(self, text: str, target: float) -> None: ...

    def to_state(self) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class SentimentResult:
    """The sentiment of one comment.

    ``label`` is ``positive``, ``negative``, ``neutral``, or ``unscored`` (a language we
    cannot read, with ``score`` None); ``model`` names what produced the score.
    """

    lang: str
    label: str
    score: float | None
    model: str


def label_to_score(label: str | None, score: float | None) -> float:
    """The training target of a label: a score in [-1, 1] wins, else positive/negative/neutral
    map to +1/-1/0.

    >>> label_to_score("positive", None), label_to_score("neutral", -0.4)
    (1.0, -0.4)
    """
    if score is not None:
        if not -1.0 <= score <= 1.0:
            raise ValueError(f"score {score!r} is outside [-1, 1]")
        return float(score)
    if label is None:
        raise ValueError("a label needs 'label' or 'score'")
    try:
        return LABEL_SCORES[label]
    except KeyError:
        raise ValueError(f"unknown label {label!r}: use positive, negative or neutral") from None


class SentimentModel:
    """Comment sentiment for English and Chinese; other languages are "unscored".

    English starts as VADER, Chinese as our lexicon scorer; both learn online from
    labelled comments (:meth:`learn_one`). The state is JSON (never a pickle: whoever can
    write a changelog topic must not be able to run code in the worker).

    Parameters
    ----------
    positive_threshold
        Scores at or above it are ``positive`` (VADER's convention: 0.05).
    negative_threshold
        Scores at or below it are ``negative`` (VADER's convention: -0.05).

    Examples
    --------
    >>> model = SentimentModel()
    >>> model.score_one("I love this article").label
    'positive'
    >>> model.score_one("这篇文章写得太差了").label
    'negative'
    >>> model.score_one("Статья отличная")
    SentimentResult(lang='other', label='unscored', score=None, model='none')
    """

    def __init__(self, positive_threshold: float = 0.05, negative_threshold: float = -0.05) -> None:
        if not -1.0 <= negative_threshold < positive_threshold <= 1.0:
            raise ValueError("need -1 <= negative_threshold < positive_threshold <= 1")
        self.positive_threshold = positive_threshold
        self.negative_threshold = negative_threshold
        self.english = EnglishScorer()
        self.chinese = ChineseScorer()

    def _scorer(self, lang: str) -> LanguageScorer | None:
        if lang == "en":
            return self.english
        if lang == "zh":
            return self.chinese
        return None

    def warm_up(self) -> None:
        """Load VADER's lexicon and jieba's dictionary now rather than on the first comment."""
        self.english.score_many(["ok"])
        self.chinese.score_many(["好"])

    def label_of(self, score: float) -> str:
        """``positive``, ``negative`` or ``neutral`` by the thresholds."""
        if score >= self.positive_threshold:
            return "positive"
        if score <= self.negative_threshold:
            return "negative"
        return "neutral"

    def score_one(self, text: str, lang: str | None = None) -> SentimentResult:
        """The sentiment of one comment; ``lang`` is the producer's code, detected if None."""
        return self.score_many([text], [lang])[0]

    def score_many(
        self, texts: Sequence[str], langs: Sequence[str | None] | None = None
    ) -> list[SentimentResult]:
        """The sentiment of a batch of comments, in order: one scorer call per language."""
        if langs is not None and len(langs) != len(texts):
            raise ValueError("texts and langs differ in length")
        resolved = [
            normalize_lang(langs[i] if langs is not None else None, text)
            for i, text in enumerate(texts)
        ]
        results: list[SentimentResult | None] = [None] * len(texts)
        for lang in ("en", "zh"):
            scorer = self._scorer(lang)
            assert scorer is not None
            positions = [i for i, code in enumerate(resolved) if code == lang]
            if not positions:
                continue
            scores = scorer.score_many([texts[i] for i in positions])
            name = scorer.model_name
            for i, score in zip(positions, scores, strict=True):
                results[i] = SentimentResult(lang, self.label_of(score), score, name)
        unscored = SentimentResult("other", UNSCORED, None, UNSCORED_MODEL)
        return [r if r is not None else unscored for r in results]

    def learn_one(
        self,
        text: str,
        lang: str | None = None,
        label: str | None = None,
        score: float | None = None,
    ) -> bool:
        """Learn from one labelled comment; False when its language is one we do not score.

        ``score`` in [-1, 1] wins over ``label``; labels map to +1/-1/0.
        """
        target = label_to_score(label, score)
        scorer = self._scorer(normalize_lang(lang, text))
        if scorer is None:
            return False
        scorer.learn_one(text, target)
        return True

    @property
    def n_learned(self) -> dict[str, int]:
        """How many labels each language's model has learnt from."""
        return {"en": self.english.online.n_learned, "zh": self.chinese.online.n_learned}

    # --- state: JSON only ------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The whole state as JSON-ready values."""
        return {
            "format": STATE_FORMAT,
            "positive_threshold": self.positive_threshold,
            "negative_threshold": self.negative_threshold,
            "en": self.english.to_state(),
            "zh": self.chinese.to_state(),
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> SentimentModel:
        """Rebuild a model from :meth:`to_dict`."""
        if state.get("format") != STATE_FORMAT:
            raise ValueError(f"not a sentiment model state: format {state.get('format')!r}")
        model = cls(
            positive_threshold=float(state["positive_threshold"]),
            negative_threshold=float(state["negative_threshold"]),
        )
        model.english = EnglishScorer.from_state(state["en"])
        model.chinese = ChineseScorer.from_state(state["zh"])
        return model

    def to_bytes(self) -> bytes:
        """The state as UTF-8 JSON, e.g. for a changelog topic."""
        return orjson.dumps(self.to_dict())

    @classmethod
    def from_bytes(cls, data: bytes) -> SentimentModel:
        """Rebuild a model from :meth:`to_bytes` (JSON; never unpickles anything)."""
        state = orjson.loads(data)
        if not isinstance(state, dict):
            raise ValueError("a sentiment model state is a JSON object")
        return cls.from_dict(state)

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write the state to ``directory/sentiment.json`` atomically; returns the file."""
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / STATE_FILE
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".sentiment-", suffix=".json")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(self.to_bytes())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> SentimentModel:
        """Read a model written by :meth:`save`."""
        return cls.from_bytes((Path(directory) / STATE_FILE).read_bytes())

    @classmethod
    def load_or_new(cls, directory: str | os.PathLike[str] | None) -> SentimentModel:
        """:meth:`load` when ``directory`` holds a model, else a fresh model."""
        if directory is not None and (Path(directory) / STATE_FILE).exists():
            return cls.load(directory)
        return cls()
