"""The item catalogue: ids to dense indexes, content vectors and metadata in growable arrays."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["ItemCatalog"]


class ItemCatalog:
    """Items by dense index, so models can score every item with one matrix product.

    Items first seen in an interaction (before their metadata) get a zero vector and are
    marked as stubs; an item event later fills them in. :meth:`remove` frees an item's slot
    for reuse, so a catalogue with a TTL stays bounded. ``len()`` is the number of slots
    (live or free); :attr:`count` the number of live items. Times that are not known yet
    (``first_seen``, ``last_seen``, ``first_read``) are NaN.
    """

    def __init__(self, dim: int, capacity: int = 1024) -> None:
        self.dim = dim
        self.index: dict[str, int] = {}
        self.ids: list[str] = []
        self.titles: list[str] = []
        self.tags: list[tuple[str, ...]] = []
        self.langs: list[str | None] = []
        #: each item's language as a small integer (an index into :attr:`lang_names`), -1
        #: where unknown: a reader's languages are then an array lookup, not a Python loop
        self.lang_codes: NDArray[np.int16] = np.full(capacity, -1, dtype=np.int16)
        self.lang_names: dict[str, int] = {}
        self.vectors: NDArray[np.float32] = np.zeros((capacity, dim), dtype=np.float32)
        self.published_at: NDArray[np.float64] = np.zeros(capacity, dtype=np.float64)
        self.has_metadata: NDArray[np.bool_] = np.zeros(capacity, dtype=bool)
        self.active: NDArray[np.bool_] = np.zeros(capacity, dtype=bool)
        self.last_seen: NDArray[np.float64] = np.zeros(capacity, dtype=np.float64)
        #: when the item was first seen (in an event or its own metadata)
        self.first_seen: NDArray[np.float64] = np.zeros(capacity, dtype=np.float64)
        #: when the item was first clicked or read (NaN: never)
        self.first_read: NDArray[np.float64] = np.full(capacity, np.nan, dtype=np.float64)
        #: hashed term ids and weights per item, kept so vectors can be re-weighted
        self.terms: list[tuple[NDArray[np.int32], NDArray[np.float32]] | None] = []
        self._free: list[int] = []
        #: slots whose item arrived, changed its metadata or exclusion, or left, and slots
        #: read, since the candidate lists (:class:`~stream.models.candidates.TopicLists`)
        #: last took them: what keeps those lists up to date without a catalogue pass
        self.changed: set[int] = set()
        self.read: set[int] = set()

    @property
    def count(self) -> int:
        """Number of live items."""
        return len(self.index)

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self.index

    def _grow(self) -> None:
        cap = self.vectors.shape[0] * 2
        vectors = np.zeros((cap, self.dim), dtype=np.float32)
        vectors[: len(self.ids)] = self.vectors[: len(self.ids)]
        self.vectors = vectors
        self.published_at = np.resize(self.published_at, cap)
        self.last_seen = np.resize(self.last_seen, cap)
        self.first_seen = np.resize(self.first_seen, cap)
        first_read = np.full(cap, np.nan, dtype=np.float64)
        first_read[: self.first_read.shape[0]] = self.first_read
        self.first_read = first_read
        lang_codes = np.full(cap, -1, dtype=np.int16)
        lang_codes[: self.lang_codes.shape[0]] = self.lang_codes
        self.lang_codes = lang_codes
        extra = np.zeros(cap - self.has_metadata.shape[0], dtype=bool)
        self.has_metadata = np.concatenate([self.has_metadata, extra])
        self.active = np.concatenate([self.active, extra])

    def ensure(self, item_id: str, seen_at: float) -> int:
        """The index of ``item_id``, adding a stub if the item is unknown."""
        idx = self.index.get(item_id)
        if idx is not None:
            return idx
        if self._free:
            idx = self._free.pop()
            self.ids[idx] = item_id
        else:
            idx = len(self.ids)
            if idx >= self.vectors.shape[0]:
                self._grow()
            self.ids.append(item_id)
            self.titles.append("")
            self.tags.append(())
            self.langs.append(None)
            self.terms.append(None)
        self.index[item_id] = idx
        self.changed.add(idx)
        self.vectors[idx] = 0.0
        self.published_at[idx] = seen_at
        self.last_seen[idx] = seen_at
        self.first_seen[idx] = seen_at
        self.first_read[idx] = np.nan
        self.lang_codes[idx] = -1
        self.has_metadata[idx] = False
        self.active[idx] = True
        return idx

    def remove(self, idx: int) -> str:
        """Free the slot of a live item; returns its id."""
        item_id = self.ids[idx]
        del self.index[item_id]
        self.ids[idx] = ""
        self.titles[idx] = ""
        self.tags[idx] = ()
        self.langs[idx] = None
        self.lang_codes[idx] = -1
        self.terms[idx] = None
        self.vectors[idx] = 0.0
        self.has_metadata[idx] = False
        self.active[idx] = False
        self._free.append(idx)
        self.changed.add(idx)
        return item_id

    def upsert(
        self,
        item_id: str,
        vector: NDArray[np.float32],
        title: str,
        tags: tuple[str, ...],
        lang: str | None,
        published_at: float,
    ) -> int:
        """Add or replace an item's content and metadata; returns its index."""
        idx = self.ensure(item_id, published_at)
        self.changed.add(idx)
        self.vectors[idx] = vector
        self.titles[idx] = title
        self.tags[idx] = tags
        self.langs[idx] = lang
        self.lang_codes[idx] = self._lang_code(lang)
        self.published_at[idx] = published_at
        self.has_metadata[idx] = True
        return idx

    def _lang_code(self, lang: str | None) -> int:
        """The code of ``lang``, a new one for a language not seen before; -1 (unknown) for
        None and beyond the codes an int16 holds (languages are strings any producer
        chooses)."""
        if lang is None:
            return -1
        code = self.lang_names.get(lang)
        if code is None:
            if len(self.lang_names) >= np.iinfo(np.int16).max:
                return -1
            code = self.lang_names[lang] = len(self.lang_names)
        return code

    @property
    def matrix(self) -> NDArray[np.float32]:
        """The content vectors of all items, one row per index (a view)."""
        return self.vectors[: len(self.ids)]
