"""Hashed TF-IDF with document frequencies learned online."""

from __future__ import annotations

import math
import zlib
from collections import defaultdict

import numpy as np
from numpy.typing import NDArray

from stream.models.text import ChineseSegmentation, tokenize

__all__ = ["OnlineTfidf"]

Terms = tuple[NDArray[np.int32], NDArray[np.float32]]


class OnlineTfidf:
    """Turns title, body and tags into L2-normalised signed hashed TF-IDF vectors.

    Tokens (words, Chinese words from jieba or character bigrams, ``tag:`` tokens) are hashed
    into ``dim`` buckets with a sign bit, so inner products stay unbiased under collisions.
    Term frequencies are sublinear (``1 + log tf``) with title words counting 1, body words
    ``body_weight`` and tags ``tag_weight``. Document frequencies are counted per bucket as
    items arrive (:meth:`add`) and leave (:meth:`remove`); the IDF is ``log((1 + N) / (1 + df))
    + 1``.

    Examples
    --------
    >>> tfidf = OnlineTfidf(dim=64)
    >>> a = tfidf.add(*tfidf.terms("Central bank raises rates", tags=("economy",)))
    >>> b = tfidf.add(*tfidf.terms("Bank rates rise again", tags=("economy",)))
    >>> c = tfidf.add(*tfidf.terms("Cup final goes to penalties", tags=("sport",)))
    >>> va, vb, vc = (tfidf.vector(*t) for t in (a, b, c))
    >>> float(va @ vb) > float(va @ vc)
    True
    """

    def __init__(self, dim: int = 256, chinese: ChineseSegmentation = "jieba",
                 tag_weight: float = 2.0, body_weight: float = 0.3, body_chars: int = 2000,
                 seed: int = 0) -> None:
        self.dim = dim
        self.chinese: ChineseSegmentation = chinese
        self.tag_weight = tag_weight
        self.body_weight = body_weight
        self.body_chars = body_chars
        self.seed = seed
        self.df: NDArray[np.float64] = np.zeros(dim, dtype=np.float64)
        self.n_docs = 0

    def terms(self, title: str, body: str = "", tags: tuple[str, ...] | list[str] = ()
              ) -> Terms:
        """Hashed buckets and their signed, sublinear term weights (no IDF yet)."""
        counts: defaultdict[str, float] = defaultdict(float)
        for token in tokenize(title, self.chinese):
            counts[token] += 1.0
        if body:
            for token in tokenize(body[: self.body_chars], self.chinese):
                counts[token] += self.body_weight
        for tag in tags:
            counts["tag:" + tag.strip().lower()] += self.tag_weight
        buckets: defaultdict[int, float] = defaultdict(float)
        for token, tf in counts.items():
            h = zlib.crc32(token.encode("utf-8"), self.seed)
            sign = 1.0 if (h >> 31) & 1 else -1.0
            weight = 1.0 + math.log(tf) if tf >= 1.0 else tf
            buckets[h % self.dim] += sign * weight
        idx = np.fromiter(buckets.keys(), dtype=np.int32, count=len(buckets))
        tf_values = np.fromiter(buckets.values(), dtype=np.float32, count=len(buckets))
        return idx, tf_values

    def add(self, idx: NDArray[np.int32], tf: NDArray[np.float32]) -> Terms:
        """Count one document in the frequencies; returns its terms unchanged."""
        self.df[idx] += 1.0
        self.n_docs += 1
        return idx, tf

    def remove(self, idx: NDArray[np.int32]) -> None:
        """Remove one document from the frequencies."""
        self.df[idx] = np.maximum(self.df[idx] - 1.0, 0.0)
        self.n_docs = max(self.n_docs - 1, 0)

    @property
    def idf(self) -> NDArray[np.float64]:
        """The current inverse document frequency of every bucket."""
        return np.log((1.0 + self.n_docs) / (1.0 + self.df)) + 1.0

    def vector(self, idx: NDArray[np.int32], tf: NDArray[np.float32],
               idf: NDArray[np.float64] | None = None) -> NDArray[np.float32]:
        """The unit TF-IDF vector of a document's terms (zeros when it has none)."""
        vec = np.zeros(self.dim, dtype=np.float32)
        if idx.size:
            weights = tf * (self.idf if idf is None else idf)[idx]
            vec[idx] = weights.astype(np.float32)
            norm = float(np.linalg.norm(vec))
            if norm > 0:
                vec /= norm
        return vec
