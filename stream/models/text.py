"""Text to hashed content vectors: English words, Chinese character bigrams, tags."""

from __future__ import annotations

import logging
import re
import zlib
from functools import lru_cache
from typing import Literal, Protocol

import numpy as np
from numpy.typing import NDArray

__all__ = ["ChineseSegmentation", "HashedTextEncoder", "tokenize"]

#: how runs of Chinese characters become tokens: jieba words, or overlapping character bigrams
ChineseSegmentation = Literal["jieba", "bigrams"]

# Latin-script words (letters and digits, with inner apostrophes) or runs of CJK ideographs.
_TOKEN_RE = re.compile(r"[^\W_]+(?:'[^\W_]+)*", re.UNICODE)
_CJK_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_STOPWORDS = frozenset(
    "a an and are as at be by for from has have in is it its of on or that the this to was "
    "were will with after over new says said how why what who you your we our their".split()
)


# Frequent function characters that carry no topic on their own (jieba keeps them as words).
_CJK_STOPWORDS = frozenset("的了是在和与也就都而及或被把这那之其为以于上下中将对有")


class _Cut(Protocol):
    """The call signature of ``jieba.lcut``."""

    def __call__(self, sentence: str) -> list[str]: ...


@lru_cache(maxsize=1)
def _jieba_cut() -> _Cut:
    import jieba  # imported lazily: loading its dictionary takes about half a second

    jieba.setLogLevel(logging.WARNING)
    cut: _Cut = jieba.lcut
    return cut


def _chinese_tokens(run: str, chinese: ChineseSegmentation) -> list[str]:
    if chinese == "jieba":
        return [w for w in _jieba_cut()(run) if w not in _CJK_STOPWORDS]
    if len(run) == 1:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)]


def tokenize(text: str, chinese: ChineseSegmentation = "bigrams") -> list[str]:
    """Split text into lowercase word tokens; Chinese runs become words or character bigrams.

    >>> tokenize("Rates rise again")
    ['rates', 'rise', 'again']
    >>> tokenize("央行加息")
    ['央行', '行加', '加息']
    >>> tokenize("央行宣布加息", chinese="jieba")
    ['央行', '宣布', '加息']
    """
    tokens: list[str] = []
    for match in _TOKEN_RE.finditer(text.lower()):
        word = match.group()
        if _CJK_RE.search(word):
            for run in _CJK_RE.findall(word):
                tokens.extend(_chinese_tokens(run, chinese))
            rest = _CJK_RE.sub(" ", word).split()
            tokens.extend(w for w in rest if len(w) > 1 and w not in _STOPWORDS)
        elif len(word) > 1 and word not in _STOPWORDS:
            tokens.append(word)
    return tokens


class HashedTextEncoder:
    """Encodes title, body and tags into an L2-normalised signed hashed bag of words.

    Parameters
    ----------
    dim
        Size of the vectors.
    tag_weight
        Weight of a tag relative to a word of the title.
    body_weight
        Weight of a word of the body relative to a word of the title.
    seed
        Mixed into the hash, so two encoders with different seeds spread tokens differently.

    Examples
    --------
    >>> enc = HashedTextEncoder(dim=64)
    >>> a = enc.encode("Central bank raises rates", tags=("economy",))
    >>> b = enc.encode("Bank rates rise again", tags=("economy",))
    >>> c = enc.encode("Cup final goes to penalties", tags=("sport",))
    >>> float(a @ b) > float(a @ c)
    True
    """

    def __init__(
        self, dim: int = 256, tag_weight: float = 2.0, body_weight: float = 0.3, seed: int = 0
    ) -> None:
        self.dim = dim
        self.tag_weight = tag_weight
        self.body_weight = body_weight
        self.seed = seed

    def _add(self, vec: NDArray[np.float32], token: str, weight: float) -> None:
        h = zlib.crc32(token.encode("utf-8"), self.seed)
        sign = 1.0 if (h >> 31) & 1 else -1.0
        vec[h % self.dim] += sign * weight

    def encode(
        self, title: str, body: str = "", tags: tuple[str, ...] | list[str] = ()
    ) -> NDArray[np.float32]:
        """The content vector of one item (all zeros when there is no usable text)."""
        vec = np.zeros(self.dim, dtype=np.float32)
        for token in tokenize(title):
            self._add(vec, token, 1.0)
        if body:
            for token in tokenize(body[:2000]):
                self._add(vec, token, self.body_weight)
        for tag in tags:
            self._add(vec, "tag:" + tag.strip().lower(), self.tag_weight)
        norm = float(np.linalg.norm(vec))
        if norm > 0:
            vec /= norm
        return vec
