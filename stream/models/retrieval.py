"""The first stage: for a batch of readers at once, a few hundred candidates each from
co-visitation and from the lists of the topics they read, the prior on those alone, and the
best ``candidates`` of them kept; a cost per reader that does not grow with the catalogue."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from stream.models.arrays import (
    distinct_positions,
    group_positions,
    group_starts,
    segment_positions,
    stable_order,
)
from stream.models.candidates import EVERYTHING, TopicLists
from stream.models.histories import UserHistories
from stream.models.items import ItemPool
from stream.models.languages import unread_language_pairs
from stream.models.scoring import Scorer, UserView
from stream.models.settings import ModelSettings

__all__ = ["CoReads", "Retrieved", "Retriever", "covisited_of"]


@dataclass(slots=True)
class CoReads:
    """The co-visitation slots the first stage read for a batch, sorted by (reader, item):
    which of a reader's recent reads (its position among them) each item was co-visited
    with, and how strongly (stored units). What the reasons that name a read look up."""

    #: ``reader * n + item`` of each slot, sorted
    keys: NDArray[np.int64]
    position: NDArray[np.intp]
    weight: NDArray[np.float32]
    n: int

    @classmethod
    def empty(cls, n: int) -> CoReads:
        """No slots read."""
        return cls(np.zeros(0, np.int64), np.zeros(0, np.intp), np.zeros(0, np.float32), n)

    def strongest(self, readers: NDArray[np.intp], items: NDArray[np.int64]
                  ) -> tuple[NDArray[np.intp], NDArray[np.float32]]:
        """For each (reader, item): the position of the reader's recent read most
        co-visited with the item (the earliest of equals) and that weight; position -1 where
        none was.

        >>> reads = CoReads(np.array([7, 7, 9]), np.array([2, 0, 1]),
        ...                 np.array([1.0, 1.0, 3.0], dtype=np.float32), n=5)
        >>> reads.strongest(np.array([1, 1, 0]), np.array([2, 4, 2]))
        (array([ 0,  1, -1]), array([1., 3., 0.], dtype=float32))
        """
        keys = readers.astype(np.int64) * self.n + items
        lo = np.searchsorted(self.keys, keys, side="left")
        hi = np.searchsorted(self.keys, keys, side="right")
        count = hi - lo
        best = np.full(keys.size, -1, dtype=np.intp)
        weight = np.zeros(keys.size, dtype=np.float32)
        if not count.any():
            return best, weight
        pair = np.repeat(np.arange(keys.size), count)
        slot = np.arange(pair.size) - np.repeat(np.cumsum(count) - count, count) \
            + np.repeat(lo, count)
        # the strongest first, then the earliest read, within each pair
        order = np.lexsort((self.position[slot], -self.weight[slot], pair))
        first = order[group_starts(pair[order])]
        best[pair[first]] = self.position[slot[first]]
        weight[pair[first]] = self.weight[slot[first]]
        return best, weight


@dataclass(slots=True)
class Retrieved:
    """What the first stage found for a batch: per reader (a row), up to ``candidates``
    items, best prior first, and their generator scores; item -1 pads a row."""

    user_ids: list[str]
    views: list[UserView]
    now: float
    items: NDArray[np.int64]
    content: NDArray[np.float64]
    collab: NDArray[np.float64]
    prior: NDArray[np.float64]
    co_reads: CoReads


@dataclass(slots=True)
class _Pairs:
    """(reader, item) candidates with their content, co-visitation and prior scores."""

    readers: NDArray[np.intp]
    items: NDArray[np.int64]
    content: NDArray[np.float64]
    collab: NDArray[np.float64]
    prior: NDArray[np.float64]

    @classmethod
    def empty(cls) -> _Pairs:
        none = np.zeros(0)
        return cls(np.zeros(0, np.intp), np.zeros(0, np.int64), none, none, none)

    def where(self, keep: NDArray[np.bool_] | NDArray[np.intp]) -> _Pairs:
        return _Pairs(self.readers[keep], self.items[keep], self.content[keep],
                      self.collab[keep], self.prior[keep])

    @classmethod
    def join(cls, parts: list[_Pairs]) -> _Pairs:
        if not parts:
            return cls.empty()
        return cls(*(np.concatenate([getattr(p, name) for p in parts])
                     for name in ("readers", "items", "content", "collab", "prior")))


#: the trend terms (normalised popularity, freshness) of each of some pairs' items
_Trends = tuple[NDArray[np.float64], NDArray[np.float64]]


def _no_trends() -> _Trends:
    return np.zeros(0), np.zeros(0)


@dataclass(slots=True)
class _TopicGrid:
    """The lists of a batch's readers' topics scored for them: a row per (topic, reader),
    topic by topic in the order first named and each topic's readers in order; a column per
    member a list may hold now, padded to the longest list (prior -inf, as where the reader
    read the item)."""

    readers: NDArray[np.intp]
    #: per row, where its topic's members start in ``members`` and how many it holds
    starts: NDArray[np.intp]
    sizes: NDArray[np.intp]
    #: every listed topic's members, topic after topic
    members: NDArray[np.int64]
    content: NDArray[np.float64]
    prior: NDArray[np.float64]

    @classmethod
    def empty(cls) -> _TopicGrid:
        none = np.zeros(0, np.intp)
        grid = np.zeros((0, 0))
        return cls(none, none, none, np.zeros(0, np.int64), grid, grid)


class Retriever:
    """Candidates for a batch of readers, from three sources, merged:

    * **co-visitation**: the items the reader's recent reads were read with, scored exactly
      (RP3beta-like, as the prior scores them), the best ``retrieval_collab``;
    * **topics**: the lists (:class:`~stream.models.candidates.TopicLists`) of the
      ``retrieval_topics`` topics (a tag in a language) the reader's recent reads weigh
      most in, of the reader's language and of the whole catalogue: the most popular and
      the newest items of each. Their content scores for all the topic's readers are one
      matrix product over the topic's vectors;
    * a new reader has the whole catalogue's lists alone: what is popular and new.

    An item the reader read, one a list may not hold now (stale, excluded, withdrawn, a stub
    unless the settings allow) and, with ``unread_language_evidence``, one in a language
    they never read without that much co-visitation, is no candidate. The prior (content,
    co-visitation, popularity, freshness) of each candidate picks the best ``candidates``.

    Each reader costs what their recent reads' co-visitation slots and their topics' lists
    hold, whatever the size of the catalogue; a co-visited item's content (a vector read from
    the catalogue) is computed only where it could still place it among the best, given the
    scores without it.
    """

    def __init__(self, settings: ModelSettings, pool: ItemPool, users: UserHistories,
                 scorer: Scorer, lists: TopicLists) -> None:
        self.settings = settings
        self.pool = pool
        self.users = users
        self.scorer = scorer
        self.lists = lists

    def retrieve(self, user_ids: list[str], k: int, now: float) -> Retrieved:
        """The candidates of each reader of ``user_ids`` (distinct) at ``now``, at least
        ``k`` where there are that many."""
        scorer = self.scorer
        index = self.users.index
        views = scorer.user_views([index.get(u) for u in user_ids], now)
        n = len(self.pool.catalog)
        width = max(self.settings.candidates, k)
        if n == 0 or k <= 0 or not user_ids:
            return self._empty(user_ids, views, now, n)
        self.lists.refresh(now)
        batch = _Batch(views, n, self.settings.collab_query_items)
        # Each reader needs their best ``width`` by the prior. Any ``width`` distinct
        # candidates bound it from below (a floor): the best of one topic's list, the best
        # co-visited ones without content. What cannot reach the floor is dropped before
        # it costs more (a co-visited item's content, a listed item's place in the merge).
        collab, trends, co_reads = self._co_visited(batch, now)
        topics = self._score_topics(batch, self._topics(batch), now)
        floor = np.maximum(self._floor(collab, len(views), width),
                           self._topic_floor(topics, len(views), width))
        collab = self._with_content(batch, collab, trends, floor)
        floor = np.maximum(floor, self._floor(collab, len(views), width))
        listed = self._listed(batch, topics, floor)
        # one copy of each (reader, item): the co-visited one where there are two (it has
        # the co-visitation score), else the first of equal copies from several lists
        pairs = _Pairs.join([collab, listed])
        keys = pairs.readers.astype(np.int64) * n + pairs.items
        ordered, order = stable_order(keys)
        pairs = pairs.where(order[group_starts(ordered)])
        return self._best(user_ids, views, now, pairs, width, co_reads)

    def _empty(self, user_ids: list[str], views: list[UserView], now: float, n: int
               ) -> Retrieved:
        shape = (len(user_ids), 0)
        return Retrieved(user_ids, views, now, np.zeros(shape, np.int64), np.zeros(shape),
                         np.zeros(shape), np.zeros(shape), CoReads.empty(n))

    # --- co-visitation ------------------------------------------------------------------------

    def _co_visited(self, batch: _Batch, now: float) -> tuple[_Pairs, _Trends, CoReads]:
        """Each reader's co-visited items, scored as ``Scorer`` scores co-visitation (summed
        over the recent reads' slots in their order, divided by the degrees, normalised by
        the reader's largest score): the unread ones a list may hold, with the prior
        without content (:meth:`_with_content` adds it) and the trend terms it was made of,
        sorted by reader."""
        s = self.settings
        scorer, n = self.scorer, batch.n
        if not s.use_collab or batch.items.size == 0:
            return _Pairs.empty(), _no_trends(), CoReads.empty(n)
        found = _covisited_scores(scorer, batch, now)
        co_reads = CoReads(found.ordered, batch.positions[found.which][found.order],
                           found.weights[found.order], n)
        if found.keys.size == 0:
            return _Pairs.empty(), _no_trends(), co_reads
        readers, items, collab = found.readers, found.items, found.collab
        keep = ~batch.seen(found.keys) & self.pool.allowed(items, now)
        if s.unread_language_evidence > 0:
            keep &= ~unread_language_pairs(self.pool.catalog, batch.views, readers, items,
                                           collab, s.unread_language_evidence)
        readers, items, collab = readers[keep], items[keep], collab[keep]
        popularity, freshness = scorer.trend_terms(now, items)
        content = np.zeros(items.size)
        # the prior without content: what the content may add to it is at most its weight
        prior = scorer.prior(content, collab, popularity, freshness)
        return _Pairs(readers, items, content, collab, prior), (popularity, freshness), co_reads

    def _with_content(self, batch: _Batch, pairs: _Pairs, trends: _Trends,
                      floor: NDArray[np.float64]) -> _Pairs:
        """The co-visited items whose content could lift them to the reader's ``floor``
        (content adds at most ``content_weight``), at most ``retrieval_collab`` per reader
        (the best without content), with their content and prior (from their ``trends``,
        as :meth:`_co_visited` found them: the same at the same ``now``)."""
        s = self.settings
        lift = np.where([v.query is not None for v in batch.views], s.content_weight, 0.0)
        # the pairs kept, chosen by position and copied once
        chosen = np.flatnonzero(pairs.prior + lift[pairs.readers] >= floor[pairs.readers])
        cap = s.retrieval_collab
        counts = np.bincount(pairs.readers[chosen], minlength=len(batch.views))
        over = np.flatnonzero(counts > cap)
        if over.size:
            starts = np.cumsum(counts) - counts
            prior = pairs.prior[chosen]
            keep = np.ones(chosen.size, dtype=bool)
            for reader in over.tolist():
                lo, m = int(starts[reader]), int(counts[reader])
                keep[lo:lo + m] = False
                if cap > 0:
                    best = np.argpartition(-prior[lo:lo + m], cap - 1)[:cap]
                    keep[lo + np.sort(best)] = True
            chosen = chosen[keep]
        pairs = pairs.where(chosen)
        self._content(batch, pairs)
        popularity, freshness = trends
        pairs.prior = self.scorer.prior(pairs.content, pairs.collab, popularity[chosen],
                                        freshness[chosen])
        return pairs

    def _content(self, batch: _Batch, pairs: _Pairs) -> None:
        """The content scores of co-visited candidates: their vectors, gathered once, against
        their reader's query."""
        if pairs.items.size == 0 or not batch.queries_of.size:
            return
        vectors = np.take(self.pool.catalog.vectors, pairs.items, axis=0)
        counts = np.bincount(pairs.readers, minlength=len(batch.views))
        ends = np.cumsum(counts)
        for reader in np.flatnonzero(counts).tolist():
            query = batch.views[reader].query
            if query is not None:
                lo, hi = int(ends[reader] - counts[reader]), int(ends[reader])
                pairs.content[lo:hi] = np.maximum(vectors[lo:hi] @ query, 0.0)

    @staticmethod
    def _floor(pairs: _Pairs, n_readers: int, width: int) -> NDArray[np.float64]:
        """Per reader, the ``width``-th best prior of their co-visited candidates (-inf with
        fewer): a listed item below it cannot be among the best ``width``."""
        floor = np.full(n_readers, -np.inf)
        counts = np.bincount(pairs.readers, minlength=n_readers)
        full = np.flatnonzero(counts >= width)
        if full.size == 0:
            return floor
        order, position, _ = segment_positions(pairs.readers, n_readers)
        grid = np.full((n_readers, int(counts.max())), -np.inf)
        grid[pairs.readers[order], position] = pairs.prior[order]
        floor[full] = -np.partition(-grid[full], width - 1, axis=1)[:, width - 1]
        return floor

    # --- topics ---------------------------------------------------------------------------------

    def _topics(self, batch: _Batch) -> list[list[int]]:
        """Each reader's topics: the whole catalogue, the language their recent reads weigh
        most in, and the ``retrieval_topics`` topics those reads weigh most in (a read's
        weight shared among its topics)."""
        lists = self.lists
        out: list[list[int]] = [[EVERYTHING] for _ in batch.views]
        if batch.items.size == 0:
            return out
        topics = lists.item_topics[batch.items]
        held = topics >= 0
        share = batch.weights / np.maximum(np.count_nonzero(held, axis=1), 1)
        # both kinds in one pass, each reader's apart: the languages of the reads (whole
        # weights) as owner 2 * reader, their topics (weights shared) as 2 * reader + 1
        owners = np.concatenate([2 * batch.readers,
                                 np.broadcast_to(2 * batch.readers[:, None] + 1,
                                                 topics.shape)[held]])
        named = np.concatenate([lists.item_language[batch.items], topics[held]])
        weights = np.concatenate([batch.weights,
                                  np.broadcast_to(share[:, None], topics.shape)[held]])
        most = np.tile(np.array([1, self.settings.retrieval_topics], dtype=np.intp),
                       len(batch.views))
        for owner, topic in self._heaviest(owners, named, weights, len(lists.names), most):
            out[owner // 2].append(topic)
        return out

    @staticmethod
    def _heaviest(owners: NDArray[np.intp], topics: NDArray[np.int32],
                  weights: NDArray[np.float64], n_topics: int, most: NDArray[np.intp]
                  ) -> list[tuple[int, int]]:
        """(owner, topic) for each owner's ``most[owner]`` topics of the largest summed
        weight, owner by owner (the lower topic id first among equals); topics -1 are
        none."""
        held = topics >= 0
        if not held.any():
            return []
        keys = owners[held].astype(np.int64) * n_topics + topics[held]
        uniq, at = distinct_positions(keys)
        sums = np.bincount(at, weights=weights[held], minlength=uniq.size)
        owner = uniq // n_topics
        order = np.lexsort((uniq, -sums, owner))
        rank = group_positions(owner[order])
        chosen = uniq[order[rank < most[owner[order]]]]
        return list(zip((chosen // n_topics).tolist(), (chosen % n_topics).tolist(),
                        strict=True))

    def _score_topics(self, batch: _Batch, topics: list[list[int]], now: float
                      ) -> _TopicGrid:
        """Per topic of the batch's readers, the prior of each member a list may hold now
        for each of its readers (-inf where the reader read it): one product of the
        members' vectors with the readers' queries per topic, and the rest for every topic
        at once."""
        lists, scorer = self.lists, self.scorer
        readers_of: dict[int, list[int]] = {}
        for reader, chosen in enumerate(topics):
            for topic in chosen:
                readers_of.setdefault(topic, []).append(reader)
        listed = [t for t in readers_of if lists.members[t].size]
        if not listed:
            return _TopicGrid.empty()
        held = [lists.members[t] for t in listed]
        sizes = np.array([m.size for m in held], dtype=np.intp)
        members = np.concatenate(held)
        # what every reader's prior adds alike, and whether a list may hold the item now,
        # asked once for the batch
        union, at = distinct_positions(members)
        allowed = self.pool.allowed(union, now)
        popularity, freshness = scorer.trend_terms(now, union)
        ok = allowed[at]
        kept = sizes
        if not ok.all():
            kept = np.bincount(np.repeat(np.arange(sizes.size), sizes)[ok],
                               minlength=sizes.size).astype(np.intp)
            members, at = members[ok], at[ok]
        member_starts = np.cumsum(kept) - kept
        who = [readers_of[t] for t in listed]
        rows_per_topic = np.array([len(w) for w in who], dtype=np.intp)
        row_topic = np.repeat(np.arange(len(listed)), rows_per_topic)
        readers = np.array([r for w in who for r in w], dtype=np.intp)
        row_sizes = kept[row_topic]
        width = int(kept.max())
        queries = batch.query_matrix(self.pool.catalog.dim)[readers]
        products = np.zeros((readers.size, width), dtype=np.float32)
        # the product per topic as it always was (a readers x members one, so that every
        # score is summed in the same order, bit for bit)
        row = 0
        offset = 0
        for topic, n_rows, size, n_kept in zip(listed, rows_per_topic.tolist(), sizes.tolist(),
                                               kept.tolist(), strict=True):
            if n_kept:
                vectors = lists.vectors[topic]
                if n_kept < size:
                    vectors = vectors[ok[offset:offset + size]]
                products[row:row + n_rows, :n_kept] = queries[row:row + n_rows] @ vectors.T
            row += n_rows
            offset += size
        content = np.maximum(products, 0.0).astype(np.float64)
        # what the prior adds for every reader alike, a row per topic (rows of readers are
        # copies of it); -inf in a padding cell
        column = np.arange(width)
        cells = np.minimum(member_starts[:, None] + column, max(members.size - 1, 0))
        s = self.settings
        popular = (s.popularity_weight * popularity[at])[cells]
        popular[column >= kept[:, None]] = -np.inf
        fresh = (s.fresh_boost * freshness[at])[cells]
        # Scorer.prior's terms in its order (with no co-visitation)
        prior = s.content_weight * content
        prior += popular[row_topic]
        prior += fresh[row_topic]
        read_row, read_col = batch.read_in_rows(readers, row_topic, members, member_starts,
                                               kept)
        prior[read_row, read_col] = -np.inf
        return _TopicGrid(readers, member_starts[row_topic], row_sizes, members, content,
                          prior)

    @staticmethod
    def _topic_floor(topics: _TopicGrid, n_readers: int, width: int) -> NDArray[np.float64]:
        """Per reader, the best ``width``-th prior in any one of their topics' lists (-inf
        where none holds that many)."""
        floor = np.full(n_readers, -np.inf)
        full = np.flatnonzero(topics.sizes >= width)
        if full.size:
            # the padding (-inf) comes after the ``width`` a full row holds
            nth = -np.partition(-topics.prior[full], width - 1, axis=1)[:, width - 1]
            np.maximum.at(floor, topics.readers[full], nth)
        return floor

    def _listed(self, batch: _Batch, topics: _TopicGrid, floor: NDArray[np.float64]
                ) -> _Pairs:
        """The listed items that reach their reader's ``floor``, topic by topic."""
        # an item read (prior -inf) never reaches a floor, even one of -inf
        floor = np.maximum(floor, np.finfo(np.float64).min)
        row, col = np.nonzero(topics.prior >= floor[topics.readers][:, None])
        pairs = _Pairs(topics.readers[row], topics.members[topics.starts[row] + col],
                       topics.content[row, col], np.zeros(row.size), topics.prior[row, col])
        s = self.settings
        if s.unread_language_evidence > 0 and pairs.items.size:
            pairs = pairs.where(~unread_language_pairs(
                self.pool.catalog, batch.views, pairs.readers, pairs.items, pairs.collab,
                s.unread_language_evidence))
        return pairs

    # --- the best by the prior ------------------------------------------------------------------

    def _best(self, user_ids: list[str], views: list[UserView], now: float, pairs: _Pairs,
              width: int, co_reads: CoReads) -> Retrieved:
        """The ``width`` candidates of best prior per reader, best first (the lower index
        first among equals), in rows."""
        n_readers = len(views)
        if pairs.items.size == 0:  # no list may hold anything they have not read
            return self._empty(user_ids, views, now, co_reads.n)
        order, position, counts = segment_positions(pairs.readers, n_readers)
        wide = max(int(counts.max()) if counts.size else 0, 1)
        grid = np.full((n_readers, wide), -np.inf)
        slot = np.full((n_readers, wide), -1, dtype=np.intp)
        rows = pairs.readers[order]
        grid[rows, position] = pairs.prior[order]
        slot[rows, position] = order
        if wide > width:
            kept = np.argpartition(-grid, width - 1, axis=1)[:, :width]
            grid = np.take_along_axis(grid, kept, axis=1)
            slot = np.take_along_axis(slot, kept, axis=1)
        items = np.where(slot >= 0, pairs.items[slot], -1)
        ranked = np.lexsort((items, -grid), axis=1)
        slot = np.take_along_axis(slot, ranked, axis=1)
        held = slot >= 0
        items = np.where(held, pairs.items[slot], -1)
        content = np.where(held, pairs.content[slot], 0.0)
        collab = np.where(held, pairs.collab[slot], 0.0)
        best = np.where(held, pairs.prior[slot], -np.inf)
        return Retrieved(user_ids, views, now, items, content, collab, best, co_reads)


@dataclass(slots=True)
class _CoVisited:
    """A batch's readers' co-visitation scores (see :func:`_covisited_scores`)."""

    #: the slots read (in the order :meth:`CoVisitation.held` gives them): the position of
    #: the recent read holding each, and its weight (stored units)
    which: NDArray[np.intp]
    weights: NDArray[np.float32]
    #: ``reader * n + item`` of each slot, sorted (stably), and the sorting order
    ordered: NDArray[np.int64]
    order: NDArray[np.intp]
    #: each (reader, item) once, sorted by reader then item: its key, reader, item and
    #: co-visitation score, normalised by the reader's largest
    keys: NDArray[np.int64]
    readers: NDArray[np.intp]
    items: NDArray[np.int64]
    collab: NDArray[np.float64]


def _covisited_scores(scorer: Scorer, batch: _Batch, now: float) -> _CoVisited:
    """Every item co-visited with a recent read of a batch's readers, with its
    co-visitation score for that reader as ``Scorer`` scores it (summed over the recent
    reads' slots in their order, divided by the degrees, normalised by the reader's
    largest score): one gather of the slots the batch's recent reads hold, whatever the
    catalogue."""
    n = batch.n
    which, cols, weights = scorer.stats.covisit.held(batch.items)
    inside = cols < n
    if not inside.all():
        which, cols, weights = which[inside], cols[inside], weights[inside]
    row_weights = batch.weights * (1.0 / scorer._degree_at(batch.items, now))
    values = weights.astype(np.float64) * row_weights[which]
    keys = batch.readers[which].astype(np.int64) * n + cols
    ordered, order = stable_order(keys)
    first = group_starts(ordered)
    group = np.empty(keys.size, dtype=np.intp)
    group[order] = np.cumsum(first) - 1
    distinct_keys = ordered[first]
    # summed in slot order, as the catalogue-wide bincount of Scorer adds them
    sums = np.bincount(group, weights=values,
                       minlength=distinct_keys.size).astype(np.float64, copy=False)
    readers = (distinct_keys // n).astype(np.intp)
    items = distinct_keys - readers.astype(np.int64) * n
    if distinct_keys.size == 0:
        return _CoVisited(which, weights, ordered, order, distinct_keys, readers, items, sums)
    raw = sums * scorer._degree_at(items, now) ** -scorer.settings.covisit_beta
    starts = np.flatnonzero(group_starts(readers))
    top = np.maximum(np.maximum.reduceat(raw, starts), 0.0)
    top = np.repeat(top, np.diff(np.append(starts, raw.size)))
    collab = np.divide(raw, top, out=raw, where=top > 0)
    return _CoVisited(which, weights, ordered, order, distinct_keys, readers, items, collab)


def covisited_of(scorer: Scorer, views: list[UserView], n: int, now: float
                 ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """The co-visitation scores of readers (``views``, their recent reads as ranking reads
    them) at every item co-visited with one of those reads, normalised by each reader's
    largest, in one gather for all of them: ``reader * n + item`` sorted (``reader`` the
    position in ``views``) and the score of each, bit for bit what
    :meth:`Scorer._collab_at` gives one reader with the same weights (0 elsewhere)."""
    none = np.zeros(0, np.int64), np.zeros(0)
    if not scorer.settings.use_collab:
        return none
    batch = _Batch(views, n, scorer.settings.collab_query_items)
    if batch.items.size == 0:
        return none
    found = _covisited_scores(scorer, batch, now)
    return found.keys, found.collab


class _Batch:
    """The recent reads of a batch's readers, laid end to end, and what they have read."""

    def __init__(self, views: list[UserView], n: int, recent: int) -> None:
        self.views = views
        self.n = n
        parts = [v.items[-recent:] for v in views]
        sizes = np.array([p.size for p in parts], dtype=np.intp)
        #: the recent reads, their reader (row of the batch), position and weight
        self.items: NDArray[np.int64] = (np.concatenate(parts).astype(np.int64) if parts
                                         else np.zeros(0, np.int64))
        self.readers: NDArray[np.intp] = np.repeat(np.arange(len(views)), sizes)
        self.positions: NDArray[np.intp] = np.arange(self.items.size) - np.repeat(
            np.cumsum(sizes) - sizes, sizes)
        self.weights: NDArray[np.float64] = (
            np.concatenate([v.weights[-recent:] for v in views]) if views
            else np.zeros(0))
        seen_sizes = np.array([v.seen.size for v in views], dtype=np.intp)
        #: every reader's history (the seen filter), reader by reader
        self._seen_readers: NDArray[np.intp] = np.repeat(np.arange(len(views)), seen_sizes)
        self._seen_items: NDArray[np.int64] = (
            np.concatenate([v.seen for v in views]).astype(np.int64) if views
            else np.zeros(0, np.int64))
        self._seen = np.sort(self._seen_readers.astype(np.int64) * n + self._seen_items)
        self.queries_of = np.array([i for i, v in enumerate(views) if v.query is not None],
                                   dtype=np.intp)

    def seen(self, keys: NDArray[np.int64]) -> NDArray[np.bool_]:
        """Whether each ``reader * n + item`` was read by that reader."""
        if self._seen.size == 0:
            return np.zeros(keys.size, dtype=bool)
        at = np.minimum(np.searchsorted(self._seen, keys), self._seen.size - 1)
        out: NDArray[np.bool_] = self._seen[at] == keys
        return out

    def read_in_rows(self, readers: NDArray[np.intp], row_topic: NDArray[np.intp],
                     members: NDArray[np.int64], starts: NDArray[np.intp],
                     sizes: NDArray[np.intp]) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
        """The (row, column) cells of a grid of rows (a reader, a topic) and columns (the
        topic's members: ``members[starts[t]:starts[t] + sizes[t]]`` for topic ``t``,
        sorted) where the row's reader read the item: a look-up per item read and row of
        its reader, not per cell."""
        none = np.zeros(0, dtype=np.intp)
        inside = self._seen_items < self.n
        seen_readers, seen_items = self._seen_readers[inside], self._seen_items[inside]
        if seen_items.size == 0 or members.size == 0:
            return none, none
        # each item read, once per row of its reader
        order, _, counts = segment_positions(readers, len(self.views))
        first = np.cumsum(counts) - counts
        per_read = counts[seen_readers]
        which = np.repeat(np.arange(seen_items.size), per_read)
        nth = np.arange(which.size) - np.repeat(np.cumsum(per_read) - per_read, per_read)
        rows = order[first[seen_readers[which]] + nth]
        # (topic, member) keys, sorted: members are sorted within a topic
        keys = np.repeat(np.arange(sizes.size, dtype=np.int64) * self.n, sizes) + members
        wanted = row_topic[rows].astype(np.int64) * self.n + seen_items[which]
        at = np.minimum(np.searchsorted(keys, wanted), keys.size - 1)
        hit = keys[at] == wanted
        rows = rows[hit]
        return rows, at[hit] - starts[row_topic[rows]]

    def query_matrix(self, dim: int) -> NDArray[np.float32]:
        """Each reader's content query, a row of zeros for a reader without one."""
        out = np.zeros((len(self.views), dim), dtype=np.float32)
        for i in self.queries_of.tolist():
            query = self.views[i].query
            if query is not None:
                out[i] = query
        return out
