"""Chinese comment sentiment: a fast lexicon matcher with negation and degree, plus a learnt
character n-gram model.

Out of the box the score is our lexicon's. Sentiment rules only need the lexicon's words, so
instead of a full segmentation (jieba: about 3,500 reviews/s) a forward maximum matcher finds
them, together with "blockers" taken from jieba's dictionary: frequent words that contain a
lexicon word without being one (小时, 香港, 好像, 不同, 热水), which must not be read as 小, 香,
好, 不, 热. Labels then teach a logistic model on top of the lexicon's score: over character
unigrams and bigrams (no segmentation errors, no unknown words), marked when a negator comes
just before them, each scaled by its naive-Bayes log-count ratio (counted online), and learnt
by averaged SGD.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from operator import add
from typing import Any

from stream.sentiment.online import NgramLogit
from stream.sentiment.zh_lexicon import (
    ADVERSATIVES,
    DAMPED_NEGATORS,
    DEGREE,
    NEGATIVE,
    NEGATORS,
    POSITIVE,
)

__all__ = ["ChineseScorer", "char_ngrams", "lexicon_score", "segment"]

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
_BLOCKER_MIN_FREQ = 1000  # jieba dictionary words at least this frequent can be blockers
_NEGATOR_RE = re.compile("没有|[不没别无]")
_NEGATION_SCOPE = 4  # n-grams starting this many characters after a negator are marked

# Roles of matched words, in the order the rules test them.
_PUNCT, _ADVERSATIVE, _NEGATOR, _DAMPED, _DEGREE, _VALUE, _PLAIN = range(7)


def _word_value(word: str) -> tuple[float | None, bool]:
    """Sentiment of one word, and whether a negator inside it was applied.

    A matched word that is not in the lexicon (a jieba phrase such as 不喜欢 or 很满意) is
    split into a known modifier and a known sentiment word when it can be.
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


@dataclass(frozen=True, slots=True)
class _Role:
    kind: int
    value: float = 0.0  # sentiment (_VALUE), degree factor (_DEGREE, _DAMPED)
    negated: bool = False  # a negator inside the word was applied (不喜欢)
    turn_and_regret: bool = False  # an adversative that is also a sentiment word (可惜)


def _role_of(word: str) -> _Role:
    if word in _PUNCTUATION:
        return _Role(_PUNCT, 1.0 if word in _EXCLAMATIONS else 0.0)
    value, negated = _word_value(word)
    if word in ADVERSATIVES:
        return _Role(_ADVERSATIVE, value or 0.0, negated, word in NEGATIVE)
    if word in NEGATORS:
        return _Role(_NEGATOR)
    if word in DAMPED_NEGATORS:
        return _Role(_DAMPED, DAMPED_NEGATORS[word])
    if word in DEGREE:
        return _Role(_DEGREE, DEGREE[word])
    if value is None:
        return _Role(_PLAIN)
    return _Role(_VALUE, value, negated)


def _jieba_words(min_freq: int) -> Iterator[str]:
    """Words of jieba's dictionary (lines ``word freq tag``) at least ``min_freq`` frequent."""
    with (resources.files("jieba") / "dict.txt").open("r", encoding="utf-8") as fh:
        for line in fh:
            parts = line.split(" ", 2)
            if len(parts) >= 2 and parts[1].isdigit() and int(parts[1]) >= min_freq:
                yield parts[0]


class _Matcher:
    """The words a forward maximum matcher knows, by first character, with their roles."""

    def __init__(self, min_freq: int = _BLOCKER_MIN_FREQ) -> None:
        lexicon: set[str] = set(_PUNCTUATION)
        for table in (POSITIVE, NEGATIVE, DEGREE, DAMPED_NEGATORS):
            lexicon.update(table)
        lexicon.update(NEGATORS | ADVERSATIVES)
        words = set(lexicon)
        for word in _jieba_words(min_freq):
            n = len(word)
            if n < 2 or word in words:
                continue
            if any(word[i:j] in lexicon for i in range(n) for j in range(i + 1, n + 1)):
                words.add(word)
        lengths: dict[str, set[int]] = {}
        for word in words:
            lengths.setdefault(word[0], set()).add(len(word))
        self.lengths: dict[str, tuple[int, ...]] = {
            c: tuple(sorted(ls, reverse=True)) for c, ls in lengths.items()
        }
        self.roles: dict[str, _Role] = {w: _role_of(w) for w in words}
        self.n_blockers = len(words) - len(lexicon)

    def segment(self, text: str) -> list[str]:
        """Known words in order, with each run of unknown characters between them as one chunk."""
        out: list[str] = []
        lengths = self.lengths.get
        roles = self.roles
        gap = 0  # start of the current run of unknown characters
        end = 0  # end of the last known word: characters before it are taken
        for i, ch in enumerate(text):
            if i < end:
                continue
            sizes = lengths(ch)
            if sizes is None:
                continue
            for size in sizes:
                word = text[i : i + size] if size > 1 else ch
                if word in roles:
                    if gap < i:
                        out.append(text[gap:i])
                    out.append(word)
                    end = gap = i + size
                    break
        if gap < len(text):
            out.append(text[gap:])
        return out


_lock = threading.Lock()
_matcher_instance: _Matcher | None = None


def _matcher() -> _Matcher:
    """The matcher, built once (reading jieba's dictionary takes a few tenths of a second)."""
    global _matcher_instance
    if _matcher_instance is None:
        with _lock:
            if _matcher_instance is None:
                _matcher_instance = _Matcher()
                logger.debug("Chinese matcher ready: %d blockers", _matcher_instance.n_blockers)
    return _matcher_instance


def segment(text: str) -> tuple[str, ...]:
    """Lexicon words, blockers and punctuation of ``text``, with unknown runs kept whole.

    Examples
    --------
    >>> segment("房间很干净")
    ('房间', '很', '干净')
    >>> segment("等了一个小时")  # 小时 is a blocker: no "small" here
    ('等了一个', '小时')
    """
    return tuple(_matcher().segment(text))


def lexicon_score(words: Sequence[str]) -> tuple[float, float, float, int]:
    """Lexicon sentiment of matched words: (compound in (-1, 1), positive sum, negative sum,
    number of negated sentiment words).

    A negator flips the next sentiment word within ``_SCOPE`` words of its clause (twice
    flips back); 不太/不怎么 flip and halve it; degree adverbs multiply it; an adversative
    (但是, 不过...) halves what came before and weighs what follows by 1.5; an exclamation
    mark strengthens its clause. A run of unknown characters counts as one word per two
    characters.

    Examples
    --------
    >>> lexicon_score(["很", "好"])[0] > lexicon_score(["好"])[0] > 0
    True
    >>> lexicon_score(["不", "好"])[0] < 0
    True
    >>> lexicon_score(["不太", "好"])[0] > lexicon_score(["很", "不", "好"])[0]
    True
    """
    roles = _matcher().roles
    values: list[float] = []
    clause_start = 0
    after_but = False
    negations = 0
    degree = 1.0
    damp = 1.0
    since_modifier = 0
    negated_words = 0
    for word in words:
        role = roles.get(word)
        if role is None or role.kind == _PLAIN:
            since_modifier += (len(word) + 1) // 2
            if since_modifier > _SCOPE:
                negations, degree, damp = 0, 1.0, 1.0
            continue
        kind = role.kind
        if kind == _PUNCT:
            if role.value:
                for i in range(clause_start, len(values)):
                    values[i] *= _EMPHASIS
            clause_start = len(values)
            negations, degree, damp, since_modifier = 0, 1.0, 1.0, 0
            continue
        if kind == _ADVERSATIVE:
            values = [v * _BUT_BEFORE for v in values]
            after_but = True
            negations, degree, damp, since_modifier = 0, 1.0, 1.0, 0
            if not role.turn_and_regret:  # 可惜 is both a turn and a regret
                continue
        elif kind == _NEGATOR:
            negations += 1
            since_modifier = 0
            continue
        elif kind == _DAMPED:
            damp *= role.value
            since_modifier = 0
            continue
        elif kind == _DEGREE:
            if negations % 2 == 1 and degree == 1.0:
                # 不很好: a negator before a degree word means "not very", not "very not"
                negations -= 1
                damp *= -0.5
            else:
                degree *= role.value
            since_modifier = 0
            continue
        value = role.value * degree * damp
        if negations % 2 == 1:
            value = -value
        if negations or damp != 1.0 or role.negated:
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


def char_ngrams(text: str) -> list[str]:
    """Distinct characters and character bigrams of ``text``, lower-cased, spaces dropped; those
    that start within a few characters after a negator (不, 没, 没有, 别, 无) in the same clause
    are marked with ``!``.

    A set rather than a bag (binarised counts) and the negation marks (so that 满意 after 不
    is a feature of its own) were each more accurate on held-out folds of the training part of
    ChnSentiCorp.

    Examples
    --------
    >>> char_ngrams("很好 很好")
    ['很', '好', '很好', '好很']
    >>> char_ngrams("不满意。好")
    ['不', '!满', '!意', '。', '好', '不满', '!满意', '!意。', '。好']
    """
    t = "".join(text.lower().split())
    unigrams = list(t)
    bigrams = list(map(add, t, t[1:]))
    for match in _NEGATOR_RE.finditer(t):
        start = match.end()
        for i in range(start, min(start + _NEGATION_SCOPE, len(t))):
            if t[i] in _PUNCTUATION:
                break
            unigrams[i] = "!" + unigrams[i]
            if i < len(bigrams):
                bigrams[i] = "!" + bigrams[i]
    return list(dict.fromkeys(unigrams + bigrams))


class ChineseScorer:
    """Chinese sentiment in [-1, 1]: the lexicon out of the box, corrected online by labels.

    The learnt part (:class:`~stream.sentiment.online.NgramLogit`) sees the lexicon's own
    features and the negation-marked character unigrams and bigrams of :func:`char_ngrams`,
    each scaled by its naive-Bayes log-count ratio.

    Parameters
    ----------
    online
        The learnt part; a fresh :class:`~stream.sentiment.online.NgramLogit` with its own
        defaults (learning rates, L2, feature cap, naive-Bayes smoothing) when omitted.

    Examples
    --------
    >>> zh = ChineseScorer()
    >>> good, bad = zh.score_many(["服务很周到，房间也很干净", "房间太脏了，服务态度很差"])
    >>> good > 0.5 and bad < -0.5
    True
    """

    lang = "zh"
    base_name = "zh-lexicon"

    def __init__(self, online: NgramLogit | None = None) -> None:
        self.online = online if online is not None else NgramLogit()

    @staticmethod
    def lexicon_features(text: str) -> tuple[float, dict[str, float]]:
        """The lexicon score of ``text`` and the lexicon's dense features."""
        compound, pos, neg, negated = lexicon_score(_matcher().segment(text))
        return compound, {
            "base": compound,
            "base3": compound**3,
            "pos": pos / (1.0 + pos),
            "neg": neg / (1.0 + neg),
            "negated": min(negated, 5) / 5.0,
        }

    def score_many(self, texts: Sequence[str]) -> list[float]:
        """Scores in [-1, 1] of a batch of Chinese texts."""
        online = self.online
        if not online.n_learned:  # out of the box the score is the lexicon's
            return [lexicon_score(_matcher().segment(t))[0] for t in texts]
        logit = online.logit
        features = self.lexicon_features
        tanh = math.tanh
        return [tanh(logit(*features(text), char_ngrams(text))) for text in texts]

    def learn_one(self, text: str, target: float) -> None:
        """Learn that ``text`` has sentiment ``target`` in [-1, 1]."""
        base, dense = self.lexicon_features(text)
        self.online.learn(base, dense, char_ngrams(text), target)

    @property
    def model_name(self) -> str:
        """``zh-lexicon`` out of the box, ``zh-lexicon+ngrams`` once it has learnt."""
        return self.base_name + ("+ngrams" if self.online.n_learned else "")

    def to_state(self) -> dict[str, Any]:
        """JSON-ready state."""
        return {"kind": "nb-scaled-ngram-logit", "online": self.online.to_state()}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> ChineseScorer:
        """Rebuild a scorer saved by :meth:`to_state`."""
        if state.get("kind") != "nb-scaled-ngram-logit":
            raise ValueError("not a state of this Chinese scorer (saved by an older version?)")
        return cls(NgramLogit.from_state(state["online"]))
