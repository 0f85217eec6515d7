"""Chinese comment sentiment: jieba words, our lexicon with negation and degree, online learning."""

from __future__ import annotations

import itertools
import logging
import math
import threading
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from stream.sentiment.online import OnlineCorrection, hashed_features
from stream.sentiment.zh_lexicon import (
    ADVERSATIVES,
    DAMPED_NEGATORS,
    DEGREE,
    NEGATIVE,
    NEGATORS,
    POSITIVE,
)

__all__ = ["ChineseScorer", "lexicon_score", "segment"]

logger = logging.getLogger(__name__)

_PUNCTUATION = frozenset("，。！？；：、,.!?;:…~～\n\r\t ()（）【】[]「」『』\"'“”‘’")
_EXCLAMATIONS = frozenset("!！")
_PREFIX_NEGATORS = frozenset("不没无未非")
_PREFIX_DEGREE = {"很": 1.4, "太": 2.0, "最": 2.0, "超": 1.7, "挺": 1.4, "真": 1.4, "好": 1.4}
_SCOPE = 3  # a negator or degree word reaches this many words ahead, within its clause
_ALPHA = 4.0  # total / sqrt(total**2 + alpha) maps word sums into (-1, 1), as VADER does
_BUT_BEFORE = 0.5
_BUT_AFTER = 1.5
_EMPHASIS = 1.2

_lock = threading.Lock()
_jieba: Any = None


def _tokenizer() -> Any:
    """A private jieba tokenizer that knows our lexicon, built once and quietly."""
    global _jieba
    if _jieba is None:
        with _lock:
            if _jieba is None:
                import jieba

                # jieba logs "Building prefix dict..." to stderr at DEBUG on its own handler.
                jieba.setLogLevel(logging.WARNING)
                tok = jieba.Tokenizer()
                tok.initialize()
                for table in (POSITIVE, NEGATIVE, DEGREE, DAMPED_NEGATORS):
                    for word in table:
                        if len(word) > 1:
                            tok.add_word(word, freq=1000)
                for word in NEGATORS | ADVERSATIVES:
                    if len(word) > 1:
                        tok.add_word(word, freq=1000)
                _jieba = tok
                logger.debug("jieba tokenizer ready")
    return _jieba


@lru_cache(maxsize=8192)
def segment(text: str) -> tuple[str, ...]:
    """jieba words of ``text`` (precise mode, no HMM: faster, and our lexicon is in the dict).

    Examples
    --------
    >>> segment("房间很干净")
    ('房间', '很', '干净')
    """
    return tuple(w for w in _tokenizer().cut(text, HMM=False) if w.strip())


def _word_value(word: str) -> tuple[float | None, bool]:
    """Sentiment of one word, and whether a negator inside it was applied.

    jieba keeps frequent phrases whole (不喜欢, 不太好, 很满意), so a word that is not in the
    lexicon is split into a known modifier and a known sentiment word when it can be.
    """
    value = POSITIVE.get(word)
    if value is not None:
        return value, False
    value = NEGATIVE.get(word)
    if value is not None:
        return -value, False
    for cut in range(1, len(word)):
        head, rest = word[:cut], word[cut:]
        inner = POSITIVE.get(rest)
        if inner is None and rest in NEGATIVE:
            inner = -NEGATIVE[rest]
        if inner is None:
            continue
        if head in DAMPED_NEGATORS:
            return inner * DAMPED_NEGATORS[head], True
        if head in NEGATORS or head in _PREFIX_NEGATORS:
            return -inner, True
        if head in DEGREE:
            return inner * DEGREE[head], False
        if head in _PREFIX_DEGREE:
            return inner * _PREFIX_DEGREE[head], False
    return None, False


def lexicon_score(words: Sequence[str]) -> tuple[float, float, float, int]:
    """Lexicon sentiment of segmented words: (compound in (-1, 1), positive sum, negative sum,
    number of negated sentiment words).

    A negator flips the next sentiment word within ``_SCOPE`` words of its clause (twice
    flips back); 不太/不怎么 flip and halve it; degree adverbs multiply it; an adversative
    (但是, 不过...) halves what came before and weighs what follows by 1.5; an exclamation
    mark strengthens its clause.

    Examples
    --------
    >>> lexicon_score(["很", "好"])[0] > lexicon_score(["好"])[0] > 0
    True
    >>> lexicon_score(["不", "好"])[0] < 0
    True
    >>> lexicon_score(["不太", "好"])[0] > lexicon_score(["很", "不", "好"])[0]
    True
    """
    values: list[float] = []
    clause_start = 0
    after_but = False
    negations = 0
    degree = 1.0
    damp = 1.0
    since_modifier = 0
    negated_words = 0
    for word in words:
        if word in _PUNCTUATION or all(ch in _PUNCTUATION for ch in word):
            if any(ch in _EXCLAMATIONS for ch in word):
                for i in range(clause_start, len(values)):
                    values[i] *= _EMPHASIS
            clause_start = len(values)
            negations, degree, damp, since_modifier = 0, 1.0, 1.0, 0
            continue
        if word in ADVERSATIVES:
            values = [v * _BUT_BEFORE for v in values]
            after_but = True
            negations, degree, damp, since_modifier = 0, 1.0, 1.0, 0
            if word not in NEGATIVE:  # 可惜 is both a turn and a regret
                continue
        if word in NEGATORS:
            negations += 1
            since_modifier = 0
            continue
        if word in DAMPED_NEGATORS:
            damp *= DAMPED_NEGATORS[word]
            since_modifier = 0
            continue
        if word in DEGREE:
            if negations % 2 == 1 and degree == 1.0:
                # 不很好: a negator before a degree word means "not very", not "very not"
                negations -= 1
                damp *= -0.5
            else:
                degree *= DEGREE[word]
            since_modifier = 0
            continue
        value, inner_negation = _word_value(word)
        if value is None:
            since_modifier += 1
            if since_modifier > _SCOPE:
                negations, degree, damp = 0, 1.0, 1.0
            continue
        value *= degree * damp
        if negations % 2 == 1:
            value = -value
        if negations or damp != 1.0 or inner_negation:
            negated_words += 1
        if after_but:
            value *= _BUT_AFTER
        values.append(value)
        negations, degree, damp, since_modifier = 0, 1.0, 1.0, 0
    total = sum(values)
    compound = total / math.sqrt(total * total + _ALPHA)
    pos = sum(v for v in values if v > 0)
    neg = -sum(v for v in values if v < 0)
    return compound, pos, neg, negated_words


class ChineseScorer:
    """Chinese sentiment in [-1, 1]: the lexicon out of the box, corrected online by labels.

    Parameters
    ----------
    n_buckets
        Size of the hashed space of jieba words and word bigrams (a power of two).
    lr
        AdaGrad learning rate of the online correction.
    l2
        L2 penalty of the online correction.
    char_ngrams
        Also feed characters and character bigrams to the correction (robust to segmentation
        errors and unknown words).

    Examples
    --------
    >>> zh = ChineseScorer()
    >>> good, bad = zh.score_many(["服务很周到，房间也很干净", "房间太脏了，服务态度很差"])
    >>> good > 0.5 and bad < -0.5
    True
    """

    lang = "zh"
    base_name = "zh-lexicon"

    def __init__(
        self, n_buckets: int = 1 << 20, lr: float = 0.1, l2: float = 1e-3, char_ngrams: bool = True
    ) -> None:
        if n_buckets & (n_buckets - 1):
            raise ValueError("n_buckets must be a power of two")
        self.n_buckets = n_buckets
        self.lr = lr
        self.char_ngrams = char_ngrams
        self.online = OnlineCorrection(lr=lr, l2=l2)

    def analyse(self, text: str) -> tuple[float, dict[str | int, float]]:
        """The lexicon score of ``text`` and the features of the online correction."""
        words = segment(text)
        compound, pos, neg, negated = lexicon_score(words)
        x: dict[str | int, float] = {
            "base": compound,
            "base3": compound**3,
            "pos": pos / (1.0 + pos),
            "neg": neg / (1.0 + neg),
            "negated": min(negated, 5) / 5.0,
        }
        tokens = [w.lower() for w in words if w not in _PUNCTUATION]
        if self.char_ngrams:
            chars = [ch for ch in text if ch not in _PUNCTUATION]
            tokens.extend("c:" + ch for ch in chars)
            tokens.extend("c:" + a + b for a, b in itertools.pairwise(chars))
        x.update(hashed_features(tokens, self.n_buckets))
        return compound, x

    def score_many(self, texts: Sequence[str]) -> list[float]:
        """Scores in [-1, 1] of a batch of Chinese texts."""
        online = self.online
        if not online.n_learned:  # out of the box the score is the lexicon's: skip features
            return [lexicon_score(segment(t))[0] for t in texts]
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
        """``zh-lexicon`` out of the box, ``zh-lexicon+river`` once it has learnt."""
        return self.base_name + ("+river" if self.online.n_learned else "")

    def to_state(self) -> dict[str, Any]:
        """JSON-ready state."""
        return {
            "n_buckets": self.n_buckets,
            "char_ngrams": self.char_ngrams,
            "online": self.online.to_state(),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> ChineseScorer:
        """Rebuild a scorer saved by :meth:`to_state`."""
        online = OnlineCorrection.from_state(state["online"])
        scorer = cls(
            n_buckets=int(state["n_buckets"]),
            lr=online.lr,
            l2=online.l2,
            char_ngrams=bool(state["char_ngrams"]),
        )
        scorer.online = online
        return scorer
