"""The pool of items the recommender ranks from: ids, content vectors, metadata, business
rules and lifetimes."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from stream.events import Item
from stream.models.catalog import ItemCatalog
from stream.models.settings import ModelSettings
from stream.models.tfidf import OnlineTfidf

__all__ = ["ItemPool"]


class ItemPool:
    """Items by dense index (:class:`~stream.models.ItemCatalog`) with their hashed TF-IDF
    vectors (:class:`~stream.models.OnlineTfidf`, Chinese split as the settings say), the
    excluded tags and items, and when each item goes stale (:meth:`stale`).

    An item first met in an event is a *stub* (no vector, no title) until its metadata
    arrives. Every worker learns every item, so the pool is alike everywhere.

    >>> pool = ItemPool(ModelSettings(chinese_segmentation="bigrams", excluded_tags=("Ads",)))
    >>> pool.learn(Item(item_id="a", title="Rates rise", tags=("ads",), published_at=1.0),
    ...            clock=math.nan)
    >>> pool.index("b", 5.0), bool(pool.excluded[0]), bool(pool.catalog.has_metadata[1])
    (1, True, False)
    """

    def __init__(self, settings: ModelSettings) -> None:
        self.settings = settings
        self.tfidf = OnlineTfidf(dim=settings.content_dim, chinese=settings.chinese_segmentation)
        self.catalog = ItemCatalog(settings.content_dim)
        #: items no list may hold: excluded by the settings or a run-time block, or withdrawn
        self.excluded: NDArray[np.bool_] = np.zeros(1024, dtype=bool)
        #: items taken down (:meth:`withdraw`) until their next item event
        self.withdrawn: NDArray[np.bool_] = np.zeros(1024, dtype=bool)
        #: the settings' exclusions, which every run-time block adds to
        self.default_tags = frozenset(t.strip().lower() for t in settings.excluded_tags)
        self.default_items = frozenset(settings.excluded_items)
        self.excluded_tags = self.default_tags
        self.excluded_items = self.default_items
        #: documents in the TF-IDF when every vector was last re-weighted
        self.docs_at_reweight = 0

    def index(self, item_id: str, ts: float) -> int:
        """The index of an item met at time ``ts`` (NaN: not known), as a stub if new."""
        new = item_id not in self.catalog.index
        idx = self.catalog.ensure(item_id, ts)
        if idx >= self.excluded.shape[0]:
            extra = np.zeros(max(idx + 1, self.excluded.shape[0]), dtype=bool)
            self.excluded = np.concatenate([self.excluded, extra])
            self.withdrawn = np.concatenate([self.withdrawn, extra])
        if math.isnan(self.catalog.last_seen[idx]):  # known so far only by timeless metadata
            self.catalog.last_seen[idx] = ts
        if new:  # (an item's tags may exclude it too: learn decides, keep what it said)
            self.excluded[idx] = item_id in self.excluded_items
            self.withdrawn[idx] = False
        return idx

    def indexes(self, item_ids: Sequence[str], ts: float) -> NDArray[np.int64]:
        """:meth:`index` of each of ``item_ids`` in turn; in a few vector operations when
        every one is known (as it is for most impressions)."""
        found = [self.catalog.index.get(i) for i in item_ids]
        if None in found:
            return np.array([self.index(i, ts) for i in item_ids], dtype=np.int64)
        idx = np.array(found, dtype=np.int64)
        last = self.catalog.last_seen
        unknown = idx[np.isnan(last[idx])]
        if unknown.size:
            last[unknown] = ts
        return idx

    def indexes_at(self, item_ids: Sequence[str], ts: Sequence[float]) -> NDArray[np.int64]:
        """:meth:`index` of each of ``item_ids`` met at its own time of ``ts``; in a few
        vector operations for the known ones."""
        index = self.catalog.index
        found = [index.get(i) for i in item_ids]
        if None in found:
            return np.array([self.index(i, t) for i, t in zip(item_ids, ts, strict=True)],
                            dtype=np.int64)
        idx = np.array(found, dtype=np.int64)
        last = self.catalog.last_seen
        unknown = np.isnan(last[idx])
        if unknown.any():
            last[idx[unknown]] = np.asarray(ts, dtype=np.float64)[unknown]
        return idx

    def ids_of(self, items: NDArray[np.int32] | NDArray[np.int64]) -> list[str]:
        """The ids of item indexes (holes, -1, left out)."""
        ids = self.catalog.ids
        return [ids[j] for j in items.tolist() if j >= 0]

    def mark_read(self, idx: int, ts: float) -> None:
        """A click or read: the item is alive (see :meth:`stale`), and its popularity moved."""
        at = np.array([ts])
        self.mark_read_many(np.array([idx], dtype=np.int64), at, at)

    def mark_read_many(self, idx: NDArray[np.int64], first: NDArray[np.float64],
                       last: NDArray[np.float64]) -> None:
        """Clicks or reads of each item of ``idx`` (repeats allowed), the first at ``first``
        and the last at ``last``: the items are alive (see :meth:`stale`), and their
        popularity moved."""
        cat = self.catalog
        cat.read.update(idx.tolist())
        np.fmax.at(cat.last_seen, idx, last)  # NaN-safe: fmax takes the number
        np.fmin.at(cat.first_read, idx, first)

    def is_excluded(self, item_id: str, tags: Sequence[str]) -> bool:
        """Whether business rules (the settings' and the run-time blocks) keep an item out
        of every list."""
        return item_id in self.excluded_items or any(
            t.strip().lower() in self.excluded_tags for t in tags)

    def withdraw(self, item_id: str) -> int | None:
        """Take an item out of every list until its next item event; it stays in the pool
        (its statistics and vector are kept for its return). Returns its index, or None
        when the pool does not hold it (nothing to take out)."""
        idx = self.catalog.index.get(item_id)
        if idx is not None:
            self.withdrawn[idx] = True
            self.excluded[idx] = True
            self.catalog.changed.add(idx)
        return idx

    def block(self, items: frozenset[str], tags: frozenset[str]) -> list[int]:
        """Make the run-time blocks ``items`` and ``tags`` (on top of the settings'): every
        slot's exclusion is worked out again, a pass over the catalogue that runs only when
        the blocks change. Returns the indexes newly excluded."""
        tags = frozenset(t.strip().lower() for t in tags)
        items_now, tags_now = self.default_items | items, self.default_tags | tags
        if (items_now, tags_now) == (self.excluded_items, self.excluded_tags):
            return []
        self.excluded_items, self.excluded_tags = items_now, tags_now
        cat = self.catalog
        n = len(cat)
        before = self.excluded[:n].copy()
        excluded = [bool(item_id) and self.is_excluded(item_id, cat.tags[j])
                    for j, item_id in enumerate(cat.ids)]
        self.excluded[:n] = np.array(excluded, dtype=bool) | self.withdrawn[:n]
        flipped = np.flatnonzero(self.excluded[:n] != before)
        cat.changed.update(flipped.tolist())
        return np.flatnonzero(self.excluded[:n] & ~before).tolist()

    def learn(self, item: Item, clock: float) -> None:
        """Add or update an item (TF-IDF vector, metadata, business rules) at the model's
        ``clock`` (``-inf`` before any event)."""
        # A publication time is trusted when positive (0 is what sources without one send).
        # An item without one is as old as the model's clock says when it arrives; one that
        # arrives before the clock runs (a catalogue loaded up front) has no known age
        # (``first_seen`` NaN: never fresh) and starts its TTL when the clock starts.
        trusted = item.published_at > 0
        arrived = clock if math.isfinite(clock) else (
            item.published_at if trusted else math.nan)
        idx = self.index(item.item_id, arrived)
        if trusted and not self.catalog.last_seen[idx] >= item.published_at:
            self.catalog.last_seen[idx] = item.published_at
        old = self.catalog.terms[idx]
        if old is not None:
            self.tfidf.remove(old[0])
        terms = self.tfidf.add(*self.tfidf.terms(item.title, item.body, item.tags))
        self.catalog.upsert(item.item_id, self.tfidf.vector(*terms), item.title, item.tags,
                            item.lang, item.published_at)
        self.catalog.terms[idx] = terms
        self.withdrawn[idx] = False  # an item event without a withdrawal brings it back
        self.excluded[idx] = self.is_excluded(item.item_id, item.tags)
        if self.tfidf.n_docs > 1.25 * self.docs_at_reweight + 16:
            self.reweight()

    def reweight(self) -> None:
        """Recompute every item vector with the current document frequencies.

        Called whenever the catalogue has grown by a quarter, so it costs O(1) per item."""
        idf = self.tfidf.idf
        for idx, terms in enumerate(self.catalog.terms):
            if terms is not None:
                self.catalog.vectors[idx] = self.tfidf.vector(*terms, idf=idf)
        self.docs_at_reweight = self.tfidf.n_docs

    def clock_started(self, ts: float) -> None:
        """The model's clock runs from ``ts``: items learned before it arrive now."""
        last = self.catalog.last_seen[:len(self.catalog)]
        last[~(last >= ts)] = ts  # NaN too

    def allowed(self, items: NDArray[np.int64], now: float) -> NDArray[np.bool_]:
        """Which of ``items`` a list may hold at ``now``: live, not excluded or withdrawn,
        not stale and, unless the settings recommend stubs, with metadata. Costs a few
        reads per item, nothing per catalogue item."""
        cat = self.catalog
        out: NDArray[np.bool_] = cat.active[items] & ~self.excluded[items]
        if not self.settings.recommend_stubs:
            out &= cat.has_metadata[items]
        out &= ~self._stale(now, cat.last_seen[items], cat.published_at[items],
                            cat.first_read[items])
        return out

    def born(self, items: NDArray[np.int64]) -> NDArray[np.float64]:
        """When each of ``items`` was born: its trusted publication time (a positive one with
        metadata), else when it was first seen; NaN for an item of unknown age (no trusted
        time, and no event has named it yet)."""
        cat = self.catalog
        published = cat.published_at[items]
        known = cat.has_metadata[items] & (published > 0)
        out: NDArray[np.float64] = np.where(known, published, cat.first_seen[items])
        return out

    def _stale(self, now: float, last: NDArray[np.float64], published: NDArray[np.float64],
               first_read: NDArray[np.float64]) -> NDArray[np.bool_]:
        """:meth:`stale` of items with these times."""
        start = np.where(published > 0, published, first_read)
        lived = np.maximum(np.nan_to_num(last - start, nan=0.0), 0.0)
        s = self.settings
        out: NDArray[np.bool_] = now - last > np.maximum(s.item_ttl_stretch * lived,
                                                         s.item_ttl_seconds)
        return out

    def stale(self, now: float, n: int | None = None) -> NDArray[np.bool_]:
        """Which of the first ``n`` item slots have gone stale by ``now``.

        An item's *life* starts at its trusted publication time (a positive ``published_at``;
        0 is what sources without one send) or, without one, at its first click or read. Its
        *last sign of life* is the latest of that publication, its last click or read, and
        its arrival in the catalogue (the clock when its metadata or first event came, or
        when the clock first ran for items loaded before it). It goes stale once it has been
        without one for ``item_ttl_seconds`` **or for ``item_ttl_stretch`` times as long as
        it had lived by then, whichever is longer**::

            now - last > max(item_ttl, item_ttl_stretch * (last - start))

        News arrives as it is published: a story read for a day leaves ``item_ttl`` after
        its last reader, and a story nobody reads leaves ``item_ttl`` after publication, as a
        TTL for news should. An item that is still read (or still sent) long after it was
        published or first read, such as a film, an evergreen guide or an archive piece,
        has shown it is not news: it may go about as long again without a reader before it
        leaves, so a back catalogue read over months keeps its items. Being shown does not
        count as a sign of life: a list the site keeps serving is not a reader."""
        cat = self.catalog
        n = len(cat) if n is None else n
        return self._stale(now, cat.last_seen[:n], cat.published_at[:n], cat.first_read[:n])

    def expiring(self, now: float) -> NDArray[np.intp]:
        """The items to expire at ``now``: the stale ones and, beyond the cap, the least
        recently seen."""
        cat = self.catalog
        n = len(cat)
        live = cat.active[:n]
        old_news = live & self.stale(now, n)
        expired = np.flatnonzero(old_news)
        over = cat.count - expired.size - self.settings.item_cap
        if over > 0:
            rest = np.flatnonzero(live & ~old_news)
            expired = np.concatenate(
                [expired, rest[np.argsort(cat.last_seen[rest], kind="stable")[:over]]])
        return expired

    def remove(self, idx: int) -> str:
        """Take an item out (its slot is reused); returns its id."""
        terms = self.catalog.terms[idx]
        if terms is not None:
            self.tfidf.remove(terms[0])
        self.excluded[idx] = False
        self.withdrawn[idx] = False
        return self.catalog.remove(idx)
