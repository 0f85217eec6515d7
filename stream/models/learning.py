"""What a reader's events teach: their history, their last list and the item facts."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from stream.events import Forget, Interaction
from stream.models.histories import UserHistories
from stream.models.impressions import Impression
from stream.models.items import ItemPool
from stream.models.scoring import Scorer
from stream.models.settings import ModelSettings

__all__ = ["InteractionLearner"]

#: a position served longer ago than this starts a new list rather than extending one
_LIST_SECONDS = 1800.0


class InteractionLearner:
    """Learns a user's events into their history and pending list, and writes what they
    change in item-level statistics as item facts (see :mod:`stream.models.facts`) into
    :attr:`outbox`, for whoever applies them (the model itself, or every worker).

    * a **click or read** is appended to the user's history once (a later read of the same
      item only strengthens it, by dwell) and co-visits the user's last ``covisit_window``
      reads, weighted ``1 / sqrt(items the user has read)``;
    * an **impression** keeps the list as served, with the ranker features of each position
      taken when it was served; a click on it labels it for the ranker (the clicked position
      a positive, the unclicked ones above it negatives: skip-above);
    * a **forget** takes the user's contributions back, as far as the history holds them.
    """

    def __init__(self, settings: ModelSettings, pool: ItemPool, users: UserHistories,
                 scorer: Scorer) -> None:
        self.settings = settings
        self.pool = pool
        self.users = users
        self.scorer = scorer
        #: per user row with a list pending, the list packed (see :class:`Impression`)
        self.impressions: dict[int, bytes] = {}
        #: the item facts written since the model last drained them
        self.outbox: list[list[Any]] = []

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
        # what the ranker learns from is what the list was served with: features taken now,
        # before this impression counts as exposure and before any of its clicks
        scorer = self.scorer
        features = (scorer.features(scorer.user_view(row, event.ts), items,
                                    scorer.rows(event.ts, items)).astype(np.float32)
                    if self.settings.use_ranker else None)
        self.outbox.append(["shown", list(ids), event.ts])
        raw = self.impressions.get(row)
        if event.item_ids or raw is None or not event.position \
                or event.ts - Impression.time_of(raw) > _LIST_SECONDS:
            pending = Impression(items, np.zeros(items.size, dtype=bool),
                                 np.zeros(items.size, dtype=bool), event.ts, features)
        else:  # one more position of the list being served
            pending = Impression.unpack(raw)
            pending.items = np.concatenate([pending.items, items])
            pending.labelled = np.concatenate([pending.labelled, np.zeros(1, dtype=bool)])
            pending.clicked = np.concatenate([pending.clicked, np.zeros(1, dtype=bool)])
            if pending.features is not None and features is not None:
                pending.features = np.concatenate([pending.features, features])
        self.impressions[row] = pending.pack()

    def _learn_click(self, row: int, item: int, item_id: str, ts: float) -> None:
        """A click or read on an item of the user's last list: count it once for the item's
        click-through rate, and teach the ranker (skip-above labels)."""
        raw = self.impressions.get(row)
        if raw is None:
            return
        hits = np.flatnonzero(Impression.items_of(raw) == item)
        if hits.size == 0:
            return
        pending = Impression.unpack(raw)
        pos = int(hits[0])
        if not pending.clicked[pos]:
            pending.clicked[pos] = True
            self.outbox.append(["click", item_id, ts])
            self.impressions[row] = Impression.with_flags(raw, pending.labelled,
                                                          pending.clicked)
        if not self.settings.use_ranker or pending.features is None:
            return
        above = np.flatnonzero(~pending.labelled[:pos] & (pending.items[:pos] != item))
        label_pos = above.tolist() + ([pos] if not pending.labelled[pos] else [])
        if not label_pos:
            return
        pending.labelled[label_pos] = True
        self.impressions[row] = Impression.with_flags(raw, pending.labelled, pending.clicked)
        labels = np.zeros(len(label_pos), dtype=bool)
        labels[-1] = label_pos[-1] == pos
        self.outbox.append(["rank", pending.features[label_pos].ravel().tolist(),
                            labels.tolist()])

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
