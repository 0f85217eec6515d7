"""Per topic, the items worth offering its readers: the most popular now and the newest, kept
as items arrive, are read and leave, never by a pass over the catalogue."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from stream.models.arrays import group_positions, group_starts
from stream.models.items import ItemPool
from stream.models.popularity import DecayedPopularity
from stream.models.settings import ModelSettings

__all__ = ["TopicLists"]

#: the tags of an item that name its topics (the first ones: a film's main genres, a news
#: item's section and subsection)
TOPIC_TAGS = 4

#: the topic that every item is in: the whole catalogue
EVERYTHING = 0

#: a topic's name: ``("tag", tag)``, ``("lang", language)`` (``""``: unknown) or
#: ``("all", "")``
Topic = tuple[str, str]


class TopicLists:
    """For each topic, the ``topic_list_size`` newest items and the most popular ones now,
    as many as fill twice that size: the first stage's candidates beside co-visitation,
    whose size does not grow with the catalogue. Items of unknown age (no trusted
    publication time, loaded before any event named them) are never among the newest, so
    where no item's age is known the popular fill both halves.

    A *topic* is one of an item's first :data:`TOPIC_TAGS` tags (lower-cased), its language,
    or the whole catalogue (:data:`EVERYTHING`, every reader's). A tag's topic holds its items
    in every language, as content similarity does (tags are terms of the vectors): a topic per
    tag and language would keep most items of another language away from a reader, a rule
    the settings leave off (``unread_language_evidence``). Only items a list may hold count
    (live, not excluded, with metadata unless the settings recommend stubs); whether an item
    has gone stale is asked when the lists are read.

    The lists change only where the catalogue says something changed
    (:attr:`ItemCatalog.changed <stream.models.ItemCatalog.changed>` and ``read``):
    :meth:`refresh` merges those items into the lists of their topics. Decayed popularity
    halves for every item alike, so an item's place among the popular changes only when it is
    read (or forgotten: a list keeps a forgotten item at its old place until the next change in
    its topic) and the newest stay the newest. Items that arrive, change or leave are merged
    at once; the items read are merged once every ``topic_refresh_seconds`` of event time:
    a merge costs the same for one read as for a thousand, so a worker handling small
    batches (moderate traffic, where latency counts) would otherwise merge most topics at
    every batch, and the order of the popular moves little within a second. Each topic's
    members' content vectors are kept as one matrix, so scoring a topic's items for its
    readers is one matrix product.

    >>> from stream.events import Item
    >>> settings = ModelSettings(chinese_segmentation="bigrams", topic_list_size=1)
    >>> pool = ItemPool(settings)
    >>> popularity = DecayedPopularity(3600.0)
    >>> lists = TopicLists(settings, pool, popularity)
    >>> for i, tag in enumerate(["economy", "economy", "sport"]):
    ...     pool.learn(Item(item_id=f"i{i}", title=f"Story {i}", tags=(tag,), lang="en",
    ...                     published_at=float(i + 1)), clock=10.0)
    >>> popularity.update(0, ts=10.0)
    >>> pool.mark_read(0, ts=10.0)
    >>> lists.refresh(now=10.0)
    >>> economy = lists.topic(("tag", "economy"))
    >>> lists.trending[economy].tolist(), lists.fresh[economy].tolist()
    ([0], [1])
    >>> lists.members[EVERYTHING].tolist()  # the most read and the newest of all
    [0, 2]
    """

    def __init__(self, settings: ModelSettings, pool: ItemPool,
                 popularity: DecayedPopularity) -> None:
        self.size = settings.topic_list_size
        self.refresh_seconds = settings.topic_refresh_seconds
        #: items read since their topics were last merged, and when that was (event time)
        self._reread: set[int] = set()
        self._reread_at = -np.inf
        self.recommend_stubs = settings.recommend_stubs
        self.pool = pool
        self.popularity = popularity
        #: topic ids by name; the whole catalogue is :data:`EVERYTHING`
        self.names: dict[Topic, int] = {("all", ""): EVERYTHING}
        #: each item slot's topics among its tags (-1: none), and its language's topic (-1:
        #: the item is in no list)
        self.item_topics: NDArray[np.int32] = np.full((0, TOPIC_TAGS), -1, dtype=np.int32)
        self.item_language: NDArray[np.int32] = np.full(0, -1, dtype=np.int32)
        #: per topic id: the most popular, the newest, both (sorted) and their vectors
        self.trending: list[NDArray[np.int64]] = []
        self.fresh: list[NDArray[np.int64]] = []
        self.members: list[NDArray[np.int64]] = []
        self.vectors: list[NDArray[np.float32]] = []
        self._add_topic()
        #: the pool's re-weightings seen: every vector changes with one
        self._reweighted = pool.docs_at_reweight

    def _add_topic(self) -> None:
        empty = np.zeros(0, dtype=np.int64)
        self.trending.append(empty)
        self.fresh.append(empty)
        self.members.append(empty)
        self.vectors.append(np.zeros((0, self.pool.catalog.dim), dtype=np.float32))

    def topic(self, name: Topic) -> int:
        """The id of a topic, a new one if it was never named."""
        found = self.names.get(name)
        if found is None:
            found = self.names[name] = len(self.names)
            self._add_topic()
        return found

    def _grow(self, n: int) -> None:
        if n <= self.item_language.shape[0]:
            return
        cap = max(n, 2 * self.item_language.shape[0], 1024)
        topics = np.full((cap, TOPIC_TAGS), -1, dtype=np.int32)
        topics[: self.item_topics.shape[0]] = self.item_topics
        language = np.full(cap, -1, dtype=np.int32)
        language[: self.item_language.shape[0]] = self.item_language
        self.item_topics, self.item_language = topics, language

    def _listed(self, idx: int) -> bool:
        cat = self.pool.catalog
        return bool(cat.active[idx] and not self.pool.excluded[idx]
                    and (self.recommend_stubs or cat.has_metadata[idx]))

    def refresh(self, now: float) -> None:
        """Take in what changed in the catalogue since the last call: items that arrived,
        changed or left, and items read (whose popularity moved)."""
        cat = self.pool.catalog
        self._grow(len(cat))
        changed = cat.changed
        self._reread |= cat.read
        cat.changed, cat.read = set(), set()
        added: dict[int, list[NDArray[np.int64]]] = {}
        for idx in changed:
            self._retopic(idx, added)
        if now - self._reread_at >= self.refresh_seconds or now < self._reread_at:
            read = self._reread - changed
            self._reread = set()
            self._reread_at = now
            reread = np.fromiter(read, dtype=np.int64, count=len(read))
            if reread.size:
                self._group(reread, added)
        if self.pool.docs_at_reweight != self._reweighted:  # every vector changed
            self._reweighted = self.pool.docs_at_reweight
            for t in range(len(self.members)):
                added.setdefault(t, [])
        if added:
            self._merge(added, now)

    def _retopic(self, idx: int, added: dict[int, list[NDArray[np.int64]]]) -> None:
        """Work out the topics of an item whose metadata or liveness changed: it joins the
        lists of its topics now, and leaves (at the merge) those it is no longer in."""
        before = [*self.item_topics[idx].tolist(), int(self.item_language[idx])]
        if before[-1] >= 0:
            before.append(EVERYTHING)
        self.item_topics[idx] = -1
        self.item_language[idx] = -1
        for t in before:
            if t >= 0:
                added.setdefault(t, [])
        if not self._listed(idx):
            return
        cat = self.pool.catalog
        lang = cat.langs[idx]
        tags = list(dict.fromkeys(t.strip().lower() for t in cat.tags[idx]))[:TOPIC_TAGS]
        topics = [self.topic(("tag", tag)) for tag in tags if tag]
        self.item_topics[idx, : len(topics)] = topics
        self.item_language[idx] = self.topic(("lang", lang or ""))
        one = np.array([idx], dtype=np.int64)
        for t in [*topics, int(self.item_language[idx]), EVERYTHING]:
            added.setdefault(t, []).append(one)

    def _group(self, items: NDArray[np.int64], added: dict[int, list[NDArray[np.int64]]]
               ) -> None:
        """Items read: each joins the merge of its topics."""
        language = self.item_language[items]
        items = items[language >= 0]
        if items.size == 0:
            return
        topics = np.concatenate([np.zeros(items.size, dtype=np.int32), self.item_language[items],
                                 self.item_topics[items].T.ravel()])
        owners = np.tile(items, 2 + TOPIC_TAGS)
        held = topics >= 0
        topics, owners = topics[held], owners[held]
        order = np.argsort(topics, kind="stable")
        topics, owners = topics[order], owners[order]
        starts = np.flatnonzero(np.r_[True, topics[1:] != topics[:-1]])
        for t, part in zip(topics[starts].tolist(), np.split(owners, starts[1:]), strict=True):
            added.setdefault(t, []).append(part)

    def _holds(self, topics: NDArray[np.int64], items: NDArray[np.int64]) -> NDArray[np.bool_]:
        """Whether each of ``items`` is (still) in the topic beside it."""
        language = self.item_language[items]
        held: NDArray[np.bool_] = language == topics
        tags = self.item_topics[items]
        for column in range(TOPIC_TAGS):  # twice as fast as any(axis=1)
            held |= tags[:, column] == topics
        held |= (topics == EVERYTHING) & (language >= 0)
        return held

    def _merge(self, added: dict[int, list[NDArray[np.int64]]], now: float) -> None:
        """The lists again of each topic of ``added``, from its members and the items added
        to it: every topic's in one pass of array operations (a topic's lists depend on its
        items alone), a copy of the members' vectors per topic."""
        topics = list(added)
        parts = [self.members[t] for t in topics]
        part_owners = list(range(len(topics)))
        for i, t in enumerate(topics):
            parts += added[t]
            part_owners += [i] * len(added[t])
        owners = np.repeat(np.array(part_owners, dtype=np.int64), [p.size for p in parts])
        # (topic, item) keys: items are below the capacity of item_language
        stride = self.item_language.shape[0]
        keys = owners * stride + np.concatenate(parts) if owners.size \
            else np.zeros(0, np.int64)
        # the members' keys come first and sorted: a stable sort (timsort) merges the runs
        keys = np.sort(keys, kind="stable")
        keys = keys[group_starts(keys)]
        owner, pool = keys // stride, keys % stride
        held = self._holds(np.array(topics, dtype=np.int64)[owner], pool)
        owner, pool = owner[held], pool[held]
        size = self.size
        # best first; the lower index first among equals, so that lists do not depend on the
        # order changes came in; each topic's apart (the pool is ordered by topic, then item)
        born = self.pool.born(pool)
        known = np.flatnonzero(np.isfinite(born))
        newest = known[np.lexsort((pool[known], -born[known], owner[known]))]
        fresh = newest[group_positions(owner[newest]) < size]
        is_fresh = np.zeros(pool.size, dtype=bool)
        is_fresh[fresh] = True
        n_fresh = np.bincount(owner[fresh], minlength=len(topics))
        popular = np.lexsort((pool, -self.popularity.at(pool, now), owner))
        popular = popular[~is_fresh[popular]]
        trending = popular[group_positions(owner[popular]) < 2 * size - n_fresh[owner[popular]]]
        listed = is_fresh
        listed[trending] = True
        members = np.flatnonzero(listed)
        vectors = self.pool.catalog.vectors
        # each of the three is grouped by topic; copies, as a view would keep the whole
        # batch's arrays alive
        cut = len(topics) - 1
        for t, trend, new, kept in zip(
                topics, *(np.split(pool[at], np.cumsum(np.bincount(owner[at], minlength=cut + 1)
                                                       )[:cut])
                          for at in (trending, fresh, members)), strict=True):
            self.trending[t], self.fresh[t] = trend.copy(), new.copy()
            self.members[t] = kept.copy()
            self.vectors[t] = np.take(vectors, kept, axis=0)

