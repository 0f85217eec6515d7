"""The last list served to each user, packed: what the ranker learns from once it is clicked."""

from __future__ import annotations

import base64
import struct
import zlib
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["Impression", "features_from_text", "features_to_text"]

#: the head of a packed impression: its time, positions, features per position (0: none),
#: and whether the reader's columns of the features are taken yet (1) or not (0)
_HEAD = struct.Struct("<diiB")

#: marks deflated float16 features in a checkpoint
_DEFLATED16 = "zlib16:"


def features_to_text(deflated: bytes) -> str:
    """Deflated float16 ranker features (see :meth:`Impression.pack`) for JSON: base64,
    after a marker.

    >>> x = np.array([[0.5, 0.0], [0.0, 0.25]], dtype=np.float32)
    >>> features_from_text(features_to_text(zlib.compress(x.astype(np.float16).tobytes())))
    array([0.5 , 0.  , 0.  , 0.25], dtype=float32)
    """
    return _DEFLATED16 + base64.b64encode(deflated).decode("ascii")


def features_from_text(text: str) -> NDArray[np.float32]:
    """The flat array :func:`features_to_text` wrote, as float32."""
    if not text.startswith(_DEFLATED16):
        raise ValueError("not deflated float16 features")
    half = zlib.decompress(base64.b64decode(text[len(_DEFLATED16):]))
    return np.frombuffer(half, dtype=np.float16).astype(np.float32)


@dataclass(slots=True)
class Impression:
    """The last list served to a user: which positions are labelled or clicked, and the
    ranker features each position had when the list was served (``None`` without a ranker).
    The catalogue's columns of the features (popularity, click-through rate, exposure,
    freshness, sentiment) are taken when the list is served; the reader's (content,
    co-visitation, and their terms of the prior) at its first click (``user_columns``
    false until then): they change only with the reader's own reads, and most lists are
    never clicked.

    Held packed (:meth:`pack`): one ``bytes`` per user instead of five objects and four
    arrays. The features are kept as float16 (three significant digits, far finer than what
    a logistic ranker trained by SGD can tell apart): the ranker learns from them as packed,
    in every process alike."""

    items: NDArray[np.int64]
    labelled: NDArray[np.bool_]
    clicked: NDArray[np.bool_]
    ts: float
    features: NDArray[np.float32] | None
    user_columns: bool = True

    def pack(self) -> bytes:
        """The impression as bytes: head, item indexes (int32), the labelled and clicked
        flags (one byte each), then the features (float16) deflated: many are 0 or shared
        by every position."""
        n = int(self.items.size)
        width = 0 if self.features is None else int(self.features.shape[1])
        parts = [_HEAD.pack(self.ts, n, width, self.user_columns),
                 self.items.astype(np.int32).tobytes(),
                 self.labelled.astype(np.bool_, copy=False).tobytes(),
                 self.clicked.astype(np.bool_, copy=False).tobytes()]
        if self.features is not None:
            parts.append(zlib.compress(self.features.astype(np.float16).tobytes()))
        return b"".join(parts)

    @classmethod
    def unpack(cls, raw: bytes, features: bool = True) -> Impression:
        """The impression :meth:`pack` packed, in arrays of its own; with ``features``
        false, without its features (``None``: not inflated, for a reader of the rest)."""
        ts, n, width, user_columns = _HEAD.unpack_from(raw)
        at = _HEAD.size
        items = np.frombuffer(raw, np.int32, n, at).astype(np.int64)
        flags = np.frombuffer(raw, np.bool_, 2 * n, at + 4 * n).copy()  # labelled, clicked
        inflated = None
        if width and features:  # (read in place: the deflated bytes are not copied out)
            half = zlib.decompress(memoryview(raw)[at + 6 * n:])
            inflated = np.frombuffer(half, np.float16).reshape(n, width).astype(np.float32)
        return cls(items, flags[:n], flags[n:], ts, inflated, bool(user_columns))

    @staticmethod
    def deflated_features(raw: bytes) -> bytes | None:
        """The deflated float16 features of a packed impression (``None`` without)."""
        _, n, width, _ = _HEAD.unpack_from(raw)
        return raw[_HEAD.size + 6 * n:] if width else None

    @staticmethod
    def reader_columns_taken(raw: bytes) -> bool:
        """Whether the reader's columns of a packed impression's features are taken (at
        its first click)."""
        return bool(_HEAD.unpack_from(raw)[3])

    @staticmethod
    def items_of(raw: bytes) -> NDArray[np.int32]:
        """The item indexes of a packed impression (a read-only view)."""
        n = _HEAD.unpack_from(raw)[1]
        out: NDArray[np.int32] = np.frombuffer(raw, np.int32, n, _HEAD.size)
        return out
