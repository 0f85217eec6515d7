"""What a reader's events teach: their history, their last list and the item facts."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from stream.events import Forget, Interaction
from stream.models.histories import UserHistories
from stream.models.impressions import Impression
from stream.models.items import ItemPool
from stream.models.ranker import FEATURES
from stream.models.retrieval import covisited_of
from stream.models.scoring import Scorer, UserView
from stream.models.settings import ModelSettings

__all__ = ["InteractionLearner"]

#: a position served longer ago than this starts a new list rather than extending one
_LIST_SECONDS = 1800.0

#: event seconds for which the catalogue's columns of an item's features, once taken, serve
#: every impression showing it, while no item statistics change
_SNAPSHOT_SECONDS = 60.0

#: once this many impressions per catalogue item took items' columns one by one since the
#: statistics changed, the rest of the catalogue's are taken in one pass: a pass costs
#: about as much as this many impressions' own (measured: one per 800-1,000 items at
#: 10,000 and 100,000 items), so it never costs much more than twice what the impressions
#: would have, and a catalogue of thousands is read once a batch
_PASS_AFTER = 1 / 1024

#: the sentiment column of the features
_SENTIMENT = FEATURES.index("sentiment")

#: fewer readers than this in a batch take their columns one first click at a time: the
#: gather for them all costs some 40 array operations of its own (measured in the pipeline
#: replay: with it for every batch, batches of 8 were 3-6% slower and of 48 no faster;
#: batches of 200 were 8-10% faster, of 1,000 14%)
_READERS_AT_ONCE = 16


@dataclass(slots=True)
class _ReaderColumns:
    """What the reader's columns of a list's features are made of, for the readers of a
    batch, taken at once before it (:meth:`InteractionLearner.prepare`): their views (recent
    reads, weights, content query) and their co-visitation scores at every item co-visited
    with their recent reads."""

    #: user row -> the reader's position in ``views``
    at: dict[int, int]
    views: list[UserView]
    #: ``reader * n + item`` of each co-visited item, sorted, and its score
    keys: NDArray[np.int64]
    collab: NDArray[np.float64]
    #: the catalogue's size when they were taken (an item added since is co-visited with none)
    n: int

    def collab_at(self, reader: int, items: NDArray[np.int64]) -> NDArray[np.float64]:
        """A reader's co-visitation scores at ``items`` (0 where none was found)."""
        out = np.zeros(items.size, dtype=np.float64)
        if self.keys.size == 0:
            return out
        wanted = reader * self.n + items
        at = np.minimum(np.searchsorted(self.keys, wanted), self.keys.size - 1)
        hit = (self.keys[at] == wanted) & (items < self.n)
        out[hit] = self.collab[at[hit]]
        return out


class InteractionLearner:
    """Learns a user's events into their history and pending list, and writes what they
    change in item-level statistics as item facts (see :mod:`stream.models.facts`) into
    :attr:`outbox`, for whoever applies them (the model itself, or every worker).

    * a **click or read** is appended to the user's history once (a later read of the same
      item only strengthens it, by dwell) and co-visits the user's last ``covisit_window``
      reads, weighted ``1 / sqrt(items the user has read)``;
    * an **impression** keeps the list as served, with the catalogue's columns of the ranker
      features of each position taken when it was served, and the reader's (content,
      co-visitation: by far the dearest) at its first click, when the list first teaches
      the ranker something (most lists are never clicked); a click labels it for the
      ranker (the clicked position a positive, the unclicked ones above it negatives:
      skip-above). In a batch (:meth:`prepare`) the reader's columns are those of the
      reader as the batch found them, taken for all its readers at once: a reader's own
      reads earlier in the same batch are not in them (one event at a time, they are
      exact);
    * a **forget** takes the user's contributions back, as far as the history holds them.
    """

    def __init__(self, settings: ModelSettings, pool: ItemPool, users: UserHistories,
                 scorer: Scorer) -> None:
        self.settings = settings
        self.pool = pool
        self.users = users
        self.scorer = scorer
        #: per user row with a list pending, the list packed (see :class:`Impression`), but
        #: for those in ``_open``
        self._packed: dict[int, bytes] = {}
        #: the lists learned since the statistics last changed, unpacked: packed once when
        #: they change (:meth:`settle`), not at every event of a batch that touches them
        self._open: dict[int, Impression] = {}
        #: the item facts written since the model last drained them
        self.outbox: list[list[Any]] = []
        #: the catalogue's columns of the features of each item (rows where ``_taken``),
        #: taken since the statistics last changed (see :meth:`catalogue_changed`), at most
        #: ``_SNAPSHOT_SECONDS`` ago
        self._snapshot: NDArray[np.float32] = np.zeros((0, len(FEATURES)), dtype=np.float32)
        self._taken: NDArray[np.bool_] = np.zeros(0, dtype=bool)
        self._snapshot_at: float | None = None
        #: impressions that took some items' columns since then
        self._takes = 0
        #: the reader's columns of the batch's readers as :meth:`prepare` found them, until
        #: the statistics change
        self._readers: _ReaderColumns | None = None

    def catalogue_changed(self) -> None:
        """Item statistics or metadata changed (facts applied, an item learned, a sweep):
        the catalogue's features are taken again. A worker applies facts once a batch,
        so an item shown many times in a batch has them taken once; a model that applies
        every event's facts at once takes them for every impression, exactly."""
        self._snapshot_at = None
        self._readers = None
        self.settle()

    @property
    def impressions(self) -> dict[int, bytes]:
        """Per user row with a list pending, the list packed (see :class:`Impression`)."""
        self.settle()
        return self._packed

    def settle(self) -> None:
        """Pack the lists learned since the last call."""
        if self._open:
            packed = self._packed
            for row, pending in self._open.items():
                packed[row] = pending.pack()
            self._open.clear()

    def _keep(self, row: int, pending: Impression) -> None:
        """Hold a user's pending list unpacked until :meth:`settle`, its features as packing
        keeps them (float16): what unpacking it would give, bit for bit."""
        if pending.features is not None:
            pending.features = pending.features.astype(np.float16).astype(np.float32)
        self._open[row] = pending

    def _pending(self, row: int) -> Impression | None:
        """A user's pending list (None: none), unpacked."""
        pending = self._open.get(row)
        if pending is None:
            raw = self._packed.get(row)
            if raw is not None:
                pending = Impression.unpack(raw)
        return pending

    def drop_row(self, row: int) -> None:
        """A user leaves memory (forgotten or evicted): their pending list and what
        :meth:`prepare` took of them go (the row may be another user's next)."""
        self._packed.pop(row, None)
        self._open.pop(row, None)
        if self._readers is not None:
            self._readers.at.pop(row, None)

    def _catalogue_features(self, items: NDArray[np.int64], now: float) -> NDArray[np.float32]:
        """The catalogue's columns of the features of ``items`` at ``now``, from the snapshot
        where it has them (bit for bit what taking them now gives: each row is computed
        from its own item and scalars alone), sentiment as it is now."""
        self._take(items, now)
        out = self._snapshot[items]
        # asked of the comments at every impression: a callable per item, never a pass
        out[:, _SENTIMENT] = self.scorer.sentiment_of(items)
        return out

    def _take(self, items: NDArray[np.int64], now: float) -> None:
        """The snapshot holds the catalogue's columns of ``items`` at ``now`` from here on
        (taken again where it is older than ``_SNAPSHOT_SECONDS`` or the statistics
        changed)."""
        n = len(self.pool.catalog)
        if self._snapshot_at is None or not 0.0 <= now - self._snapshot_at <= _SNAPSHOT_SECONDS:
            self._taken[:] = False
            self._snapshot_at = now
            self._takes = 0
        if self._taken.shape[0] < n:
            grow = max(n, 2 * self._taken.shape[0]) - self._taken.shape[0]
            self._taken = np.concatenate([self._taken, np.zeros(grow, dtype=bool)])
            self._snapshot = np.concatenate(
                [self._snapshot, np.zeros((grow, len(FEATURES)), dtype=np.float32)])
        taken = self._taken
        scorer = self.scorer
        if not taken[items].all():
            self._takes += 1
            if self._takes >= _PASS_AFTER * n:
                take = np.flatnonzero(~taken[:n]).astype(np.int64)
            else:
                take = np.unique(items[~taken[items]])
            self._snapshot[take] = scorer.catalogue_features(take, scorer.rows(now, take),
                                                             sentiment=False)
            taken[take] = True

    def prepare(self, events: Sequence[Interaction]) -> None:
        """Get ready for a batch of ``events`` (learned next, before the statistics
        change), taking at once what they would otherwise take one by one:

        * the catalogue's columns of the features of every known item the impressions
          show, as of the earliest of them: each impression then finds its items' columns
          taken (the snapshot's rule: taken once while no statistics change, within
          ``_SNAPSHOT_SECONDS``). Items not in the catalogue yet are left to the impression
          that names them first (it gives them their slot);
        * the reader's columns of every known reader with a click or read among them and a
          list it may be on (pending, or served in the batch), as of the earliest click or
          read, where there are ``_READERS_AT_ONCE`` such readers or more: one gather of
          all their co-visitation slots instead of one per first click, which cost more
          than anything else an event does."""
        self._readers = None
        self.settle()
        if not self.settings.use_ranker:
            return
        shown = [e for e in events if e.type == "impression"]
        index = self.pool.catalog.index
        items = [index[i] for e in shown for i in (e.item_ids or (e.item_id,)) if i in index]
        if items:
            self._take(np.unique(np.array(items, dtype=np.int64)), min(e.ts for e in shown))
        self._readers = self._reader_columns(events, shown)

    def _reader_columns(self, events: Sequence[Interaction], shown: list[Interaction]
                        ) -> _ReaderColumns | None:
        """What :meth:`prepare` takes of the readers: those whose click or read may be the
        first on a list (one served in the batch, or one pending that is not clicked yet
        and shows the item)."""
        rows_of = self.users.index
        served = {rows_of.get(e.user_id) for e in shown}
        item_of = self.pool.catalog.index
        rows: dict[int, int] = {}
        now = math.inf
        for e in events:
            if e.type == "impression":
                continue
            row = rows_of.get(e.user_id)
            if row is None or row in rows:
                continue
            if row not in served:
                raw = self._packed.get(row)
                item = item_of.get(e.item_id)
                if raw is None or item is None or Impression.reader_columns_taken(raw) \
                        or item not in Impression.items_of(raw):
                    continue
            rows[row] = len(rows)
            now = min(now, e.ts)
        if len(rows) < _READERS_AT_ONCE:
            return None
        scorer = self.scorer
        n = len(self.pool.catalog)
        views = scorer.user_views(list(rows), now)
        keys, collab = covisited_of(scorer, views, n, now)
        return _ReaderColumns(rows, views, keys, collab, n)

    def weight(self, event: Interaction) -> float:
        """How much an event says about interest: 1 for a click, 1 to 2 for a read by dwell."""
        if event.type == "click":
            return 1.0
        if event.type == "read":
            dwell = event.dwell_seconds or 0.0
            return 1.0 + min(dwell / self.settings.read_dwell_seconds_full, 1.0)
        return 0.0

    def learn(self, event: Interaction) -> None:
        """Learn from one click, read or impression."""
        if event.type == "impression":
            self._learn_impression(event)
            return
        fact = self.outbox.append
        users = self.users
        weight = self.weight(event)
        row = users.ensure(event.user_id, event.ts)
        item = self.pool.index(event.item_id, event.ts)
        fact(["read", event.item_id, event.ts])
        self._learn_click(row, item, event.item_id, event.ts)
        pos = users.position(row, item)
        if pos >= 0:  # a read after a click, a second click: strengthen, never count twice
            old = users.weight(row, pos)
            if weight > old:
                users.set_weight(row, pos, weight)
                fact(["pop", event.item_id, event.ts, weight - old])
            users.last_ts[row] = max(float(users.last_ts[row]), event.ts)
            return
        recent = users.items(row)[-self.settings.covisit_window:]
        n_read = int(users.n_items[row]) + 1
        fact(["covisit", event.item_id, event.ts, self.pool.ids_of(recent),
              weight / math.sqrt(n_read)])
        fact(["pop", event.item_id, event.ts, weight])
        users.append(row, item, event.ts, weight)

    def _learn_impression(self, event: Interaction) -> None:
        row = self.users.ensure(event.user_id, event.ts)
        ids = event.item_ids or (event.item_id,)
        items = self.pool.indexes(ids, event.ts)
        # what the ranker learns from is what the list was served with: the catalogue's
        # features taken now, before this impression counts as exposure and before any of
        # its clicks
        features = (self._catalogue_features(items, event.ts)
                    if self.settings.use_ranker else None)
        self.outbox.append(["shown", list(ids), event.ts])
        pending = None if event.item_ids or not event.position else self._pending(row)
        if pending is None or event.ts - pending.ts > _LIST_SECONDS:
            pending = Impression(items, np.zeros(items.size, dtype=bool),
                                 np.zeros(items.size, dtype=bool), event.ts, features,
                                 user_columns=features is None)
        else:  # one more position of the list being served
            pending.items = np.concatenate([pending.items, items])
            pending.labelled = np.concatenate([pending.labelled, np.zeros(1, dtype=bool)])
            pending.clicked = np.concatenate([pending.clicked, np.zeros(1, dtype=bool)])
            if pending.features is not None and features is not None:
                if pending.user_columns:  # a list clicked already: this position's too
                    self._add_user_columns(row, items, features, event.ts)
                pending.features = np.concatenate([pending.features, features])
        self._keep(row, pending)

    def _add_user_columns(self, row: int, items: NDArray[np.int64],
                          features: NDArray[np.float32], now: float) -> None:
        scorer = self.scorer
        taken = self._readers
        reader = None if taken is None else taken.at.get(row)
        if taken is None or reader is None:
            scorer.add_user_columns(scorer.user_view(row, now), items, features, now)
        else:
            scorer.add_user_columns(taken.views[reader], items, features, now,
                                    taken.collab_at(reader, items))

    def _learn_click(self, row: int, item: int, item_id: str, ts: float) -> None:
        """A click or read on an item of the user's last list: count it once for the item's
        click-through rate, and teach the ranker (skip-above labels), with the reader's
        columns of the list's features taken at its first click (before the click counts)."""
        pending = self._open.get(row)
        if pending is None:
            raw = self._packed.get(row)
            if raw is None:
                return
            # a list is a few dozen items at most: Python's own search beats numpy's calls
            listed = Impression.items_of(raw).tolist()
            if item not in listed:
                return
            pending = Impression.unpack(raw)
        else:
            listed = pending.items.tolist()
            if item not in listed:
                return
        pos = listed.index(item)  # the item's first position
        if not pending.clicked[pos]:
            pending.clicked[pos] = True
            self.outbox.append(["click", item_id, ts])
        label_pos: list[int] = []
        if self.settings.use_ranker and pending.features is not None:
            # the unlabelled positions above (none of them shows the item: pos is its first)
            labelled = pending.labelled.tolist()
            label_pos = [k for k in range(pos) if not labelled[k]]
            if not labelled[pos]:
                label_pos.append(pos)
        if not label_pos or pending.features is None:
            self._open[row] = pending  # the flags changed, not the features
            return
        pending.labelled[label_pos] = True
        if not pending.user_columns:
            self._add_user_columns(row, pending.items, pending.features, ts)
            pending.user_columns = True
            self._keep(row, pending)
        else:
            self._open[row] = pending
        # positives: the clicked position alone, when it is labelled now
        labels = [False] * (len(label_pos) - 1) + [label_pos[-1] == pos]
        # as packed: the ranker learns the float16 features every process holds alike
        features = pending.features[label_pos].astype(np.float16).astype(np.float32)
        self.outbox.append(["rank", features.ravel().tolist(), labels])

    def forget(self, event: Forget) -> int | None:
        """Write the facts that take a user's reads back from co-visitation, item degrees and
        popularity (as far as the history still holds them); returns the user's row, for
        the caller to drop (None: not held)."""
        row = self.users.index.get(event.user_id)
        if row is None:
            return None
        items, ts, weights = self.users.entries(row)
        n_total = int(self.users.n_items[row])
        ids = self.pool.catalog.ids
        window = self.settings.covisit_window
        fact = self.outbox.append
        for k in range(items.size):
            item = int(items[k])
            if item < 0:
                continue
            n_read = n_total - (items.size - 1 - k)
            earlier = items[max(0, k - window): k]
            if earlier.size and n_read > 0:
                fact(["uncovisit", ids[item], float(ts[k]), self.pool.ids_of(earlier),
                      float(weights[k]) / math.sqrt(n_read)])
            fact(["degree", ids[item], float(ts[k]), -1.0])
            fact(["pop", ids[item], float(ts[k]), -float(weights[k])])
        return row

    def prune(self, expired: np.typing.NDArray[np.intp]) -> None:
        """Take expired items out of the pending lists."""
        for row, raw in self.impressions.items():
            if not np.isin(Impression.items_of(raw), expired).any():
                continue
            pending = Impression.unpack(raw)
            keep = ~np.isin(pending.items, expired)
            pending.items, pending.labelled = pending.items[keep], pending.labelled[keep]
            pending.clicked = pending.clicked[keep]
            if pending.features is not None:
                pending.features = pending.features[keep]
            self.impressions[row] = pending.pack()
