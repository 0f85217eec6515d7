"""The feed the worker runs: content, interest, co-visitation, trending and a learned ranker."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from stream.events import Forget, Interaction, Item, Rule
from stream.models.base import Recommendation
from stream.models.candidates import TopicLists
from stream.models.explanations import Explainer
from stream.models.facts import ItemStatistics, record_facts
from stream.models.histories import UserHistories
from stream.models.housekeeping import Housekeeper
from stream.models.items import ItemPool
from stream.models.learning import InteractionLearner
from stream.models.ranking import ListRanker
from stream.models.rules import EditorialRules
from stream.models.scoring import Scorer, SentimentSource
from stream.models.settings import ModelSettings
from stream.models.state import StateCodec

__all__ = ["StreamRecommender"]


class StreamRecommender:
    """The online recommendation stack of `stream`, updated on every event: a façade over
    its parts, each in its own module.

    * :class:`~stream.models.items.ItemPool`: items, their TF-IDF vectors, rules, lifetimes;
    * :class:`~stream.models.learning.InteractionLearner`: histories and served lists, and the
      *item facts* each event writes;
    * :class:`~stream.models.facts.ItemStatistics`: popularity, click-through, co-visitation
      and the impression ranker, changed only by item facts;
    * :class:`~stream.models.candidates.TopicLists`: each topic's popular and newest items,
      the first stage's candidates beside co-visitation;
    * :class:`~stream.models.scoring.Scorer`, :class:`~stream.models.ranking.ListRanker`,
      :class:`~stream.models.explanations.Explainer`: scores, lists and reasons;
    * :class:`~stream.models.state.StateCodec`: state as JSON-able dicts, never pickles;
    * :class:`~stream.models.rules.EditorialRules`: editors' blocks, pins and boosts.

    Alone (``stream evaluate``, a notebook), :meth:`learn_one` and :meth:`forget_user`
    apply the item facts they write at once. In a worker among several, each worker sees
    its own users' events only: it learns them with :meth:`learn_one_sharing` and
    :meth:`forget_user_sharing`, publishes :meth:`drain_facts`, and every worker applies
    everyone's facts in one order with :meth:`apply_facts`, so item statistics and the
    model's clock are alike on every worker.

    Examples
    --------
    >>> from stream.events import Interaction, Item
    >>> rec = StreamRecommender(ModelSettings(chinese_segmentation="bigrams"))
    >>> for i, (title, tag) in enumerate([("Rates rise", "economy"), ("Rates fall", "economy"),
    ...                                   ("Cup final", "sport")]):
    ...     rec.learn_item(Item(item_id=f"i{i}", title=title, tags=(tag,), published_at=0.0))
    >>> rec.learn_one(Interaction("e1", "click", "u1", "i0", ts=86400.0))
    >>> [(r.item_id, r.reason) for r in rec.recommend("u1", k=2, now=86400.0)]
    [('i1', 'because you read “Rates rise”'), ('i2', 'new in sport')]
    >>> [(r.item_id, r.reason) for r in rec.recommend("new-reader", k=2, now=86400.0)]
    [('i0', 'trending in economy'), ('i2', 'new in sport')]
    """

    name = "stream"

    def __init__(self, settings: ModelSettings | None = None, *,
                 sentiment: SentimentSource | None = None) -> None:
        self.settings = s = settings if settings is not None else ModelSettings()
        self.pool = ItemPool(s)
        self.users = UserHistories(s.history_size)
        self.stats = ItemStatistics(s, self.pool)
        self.scorer = Scorer(s, self.pool, self.stats, self.users, sentiment)
        self.learner = InteractionLearner(s, self.pool, self.users, self.scorer)
        self.explainer = Explainer(s, self.pool, self.stats, self.users)
        self.topics = TopicLists(s, self.pool, self.stats.popularity)
        self.lists = ListRanker(s, self.pool, self.users, self.scorer, self.explainer,
                                self.topics)
        self.codec = StateCodec(self.pool, self.stats, self.users, self.learner)
        self.housekeeper = Housekeeper(s, self.pool, self.stats, self.users, self.learner)
        self.rules = EditorialRules(self.pool, self.users, self.scorer, self.explainer)

    # --- learning ---------------------------------------------------------------------------

    def learn_item(self, item: Item) -> None:
        """Add or update an item (no clock tick: publication times may lie anywhere)."""
        self.pool.learn(item, self.clock)
        self.learner.catalogue_changed()

    def withdraw(self, item_id: str) -> bool:
        """Take an item out of every list until its next item event (:meth:`learn_item`
        brings it back); its statistics stay. Returns whether the model holds it."""
        return self.pool.withdraw(item_id) is not None

    def set_rules(self, rules: Sequence[Rule], now: float) -> list[str]:
        """Replace the editors' rules at ``now`` (see
        :class:`~stream.models.rules.EditorialRules`); returns the ids of the items a new
        block took out of the lists."""
        ids = self.pool.catalog.ids
        return [ids[j] for j in self.rules.replace(rules, now)]

    def learn_one(self, event: Interaction) -> None:
        """Learn from one click, read or impression, applying its item facts at once (the
        clock first moves to the event, so housekeeping sees the state before it)."""
        self.housekeeper.tick(event.ts)
        self.learner.learn(event)
        self.apply_facts(self.drain_facts())

    def forget_user(self, event: Forget) -> None:
        """Erase every trace of a user, applying their facts at once (see
        :meth:`forget_user_sharing`)."""
        self.forget_user_sharing(event)
        self.apply_facts(self.drain_facts())

    def learn_many(self, events: Iterable[Item | Interaction | Forget]) -> None:
        """Learn a batch of events in order (items, interactions and forgets mixed)."""
        for event in events:
            if isinstance(event, Interaction):
                self.learn_one(event)
            elif isinstance(event, Item):
                self.learn_item(event)
            else:
                self.forget_user(event)

    def prepare(self, events: Sequence[Interaction]) -> None:
        """Take the catalogue's columns of the ranker features of every item the batch's
        impressions show, and the reader's columns of every reader whose list a click of
        the batch may be on (as the batch found them), in one call each
        (:meth:`InteractionLearner.prepare <stream.models.learning.InteractionLearner.
        prepare>`)."""
        self.learner.prepare(events)

    def learn_one_sharing(self, event: Interaction) -> None:
        """Learn one event, keeping its item facts for :meth:`drain_facts`."""
        self.learner.learn(event)

    def forget_user_sharing(self, event: Forget) -> None:
        """Erase a user's history, profile and pending list, and keep the facts that take
        back what their reads added to co-visitation, item degrees and popularity."""
        row = self.learner.forget(event)
        if row is not None:
            self.housekeeper.drop_user(event.user_id, row)

    def settle(self) -> None:
        """A batch is learned: pack the pending lists it left unpacked (see
        :meth:`InteractionLearner.settle <stream.models.learning.InteractionLearner.settle>`;
        whatever reads them, or the next batch, packs them otherwise)."""
        self.learner.settle()

    def drain_facts(self) -> list[list[Any]]:
        """The item facts written since the last call."""
        facts, self.learner.outbox = self.learner.outbox, []
        return facts

    def record_facts(self, facts: Sequence[Sequence[Any]]) -> dict[str, Any]:
        """Facts (:meth:`drain_facts`) summed per item into one record, as published
        (:func:`~stream.models.facts.record_facts`); empty without facts."""
        return record_facts(self.settings, facts)

    def apply_facts(self, facts: Iterable[Sequence[Any]]) -> None:
        """Apply item facts, from this model or another, as one record."""
        self.apply_records([self.record_facts(list(facts))])

    def apply_records(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Apply fact records (:meth:`record_facts`, this model's or another's), in the
        order given, as one; the clock first moves to their latest time."""
        records = [r for r in records if r]
        if not records:
            return
        timed = [r for r in records if "t" in r]
        if timed:
            if not math.isfinite(self.housekeeper.clock):  # it starts at the first fact
                self.housekeeper.tick(min(float(r.get("t0", r["t"])) for r in timed))
            self.housekeeper.tick(max(float(r["t"]) for r in timed))
        self.stats.apply_records(records)
        self.learner.catalogue_changed()

    # --- users in memory and housekeeping ---------------------------------------------------

    @property
    def clock(self) -> float:
        """The latest event time the model has seen (``-inf`` before any)."""
        return self.housekeeper.clock

    def holds_user(self, user_id: str) -> bool:
        """Whether the model holds state of the user."""
        return user_id in self.users

    def evict_user(self, user_id: str) -> bool:
        """Drop a user's state from memory, keeping what they contributed to item statistics
        (unlike :meth:`forget_user`); used when another worker takes the user over. Returns
        whether the user was held."""
        row = self.users.index.get(user_id)
        if row is not None:
            self.housekeeper.drop_user(user_id, row)
        return row is not None

    def drain_evicted(self) -> list[str]:
        """The users evicted by housekeeping since the last call, so that whoever keeps more
        about them (dedupe windows, checkpoints) drops it too and memory stays bounded."""
        return self.housekeeper.drain_evicted()

    def housekeeping(self, now: float) -> tuple[list[str], list[str]]:
        """Expire items and evict users now (see :class:`Housekeeper`); returns their ids."""
        return self.housekeeper.sweep(now)

    # --- ranking ----------------------------------------------------------------------------

    def recommend(self, user_id: str, k: int, now: float) -> list[Recommendation]:
        """The user's top ``k``: never an item they read, expired, excluded or withdrawn;
        MMR-diverse; editors' pins and boosts in their slots; each with a reason."""
        return self.recommend_many([user_id], k, now)[user_id]

    def recommend_many(self, user_ids: Iterable[str], k: int, now: float
                       ) -> dict[str, list[Recommendation]]:
        """Top ``k`` for each user, sharing the per-batch work."""
        self.rules.refresh(now)
        lists = self.lists.recommend_many(user_ids, k, now)
        self.rules.place(lists, k, now)
        return lists

    def score(self, user_id: str, item_ids: list[str], now: float) -> NDArray[np.float64]:
        """Scores of the candidates for the user (higher is better); unknown items get the
        score of an item nobody has read yet."""
        return self.scorer.score(user_id, item_ids, now)

    def interests(self, user_id: str, now: float) -> list[tuple[str, float]]:
        """The user's top interests: tags with weights summing to at most 1, strongest first
        (time-decayed, reads weighted by dwell)."""
        row = self.users.index.get(user_id)
        if row is None:
            return []
        return self.explainer.interests(self.scorer.user_view(row, now, content=False))

    def interests_if_changed(self, user_id: str, now: float) -> list[tuple[str, float]] | None:
        """The user's interests if they changed (to two decimals) since the last call, else
        ``None``: the worker publishes ``stream.user_profiles.v1`` only then."""
        row = self.users.index.get(user_id)
        if row is None:
            return None
        found = self.interests(user_id, now)
        return found if self.explainer.changed(row, found) else None

    # --- what the worker and its views read -------------------------------------------------

    @property
    def n_users(self) -> int:
        """Users held in memory."""
        return len(self.users)

    @property
    def n_items(self) -> int:
        """Items in the catalogue (stubs included)."""
        return self.pool.catalog.count

    def item_ids(self) -> Iterable[str]:
        """The ids of the items in the catalogue."""
        return self.pool.catalog.index.keys()

    # --- state ------------------------------------------------------------------------------

    def export_user(self, user_id: str) -> dict[str, Any] | None:
        """A user's state as JSON-able values (``None`` if unknown)."""
        return self.codec.export_user(user_id)

    def import_user(self, state: Mapping[str, Any]) -> None:
        """Restore a user from :meth:`export_user` (replacing what the model has)."""
        self.evict_user(str(state["user_id"]))
        self.codec.import_user(state)

    def export_item(self, item_id: str) -> dict[str, Any] | None:
        """An item's metadata, terms, statistics and neighbours as JSON-able values, with
        decayed values as of the model's clock."""
        return self.codec.export_item(item_id, self.clock)

    def export_state(self) -> dict[str, Any]:
        """Everything, as one JSON-able dict (document frequencies are rebuilt from the
        items' terms)."""
        return {
            "global": {**self.housekeeper.export_state(),
                       "docs_at_reweight": self.pool.docs_at_reweight,
                       "ranker": self.stats.ranker.export_state()},
            "items": [self.codec.export_item(i, self.clock)
                      for i in list(self.pool.catalog.index)],
            "users": [self.export_user(u) for u in list(self.users.index)],
        }

    def import_state(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`export_state` into an empty model."""
        self.learner.catalogue_changed()
        for item in state["items"]:
            self.codec.import_item(item)
        for user in state["users"]:
            self.import_user(user)
        saved = state["global"]
        self.housekeeper.import_state(saved)
        self.pool.docs_at_reweight = int(saved["docs_at_reweight"])
        self.stats.ranker.import_state(dict(saved["ranker"]))
