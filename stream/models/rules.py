"""Editors' run-time rules inside one model: blocks join the pool's exclusions, pins and
boosts are a small step on each final list."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from stream.events import Rule
from stream.models.base import Recommendation
from stream.models.explanations import Explainer
from stream.models.histories import UserHistories
from stream.models.items import ItemPool
from stream.models.scoring import Scorer

__all__ = ["EDITORS_PICK", "EditorialRules"]

#: the reason given for an item an editor put in the list
EDITORS_PICK = "editor's pick"


@dataclass(slots=True)
class _Reader:
    """What a rule's scope and the seen filter read of one reader, gathered once per list."""

    seen: set[int]
    row: int | None
    topics: set[str] | None = None
    langs: set[str] | None = field(default=None)


class EditorialRules:
    """The rules of one model (a worker gives each A/B variant's model the rules for it).

    * ``block_item`` and ``block_tag`` rules are exclusions of the pool
      (:meth:`ItemPool.block <stream.models.items.ItemPool.block>`), so the first ranking
      stage masks them as it masks the settings' exclusions: nothing per event;
    * ``pin`` and ``boost`` rules are placed on each final list by :meth:`place`, in the order
      of their slots, never for a reader who read the item, never with an item that is
      excluded, withdrawn or known only from events; a placed item's reason is
      :data:`EDITORS_PICK` and it is marked ``pinned``;
    * a rule ends at its expiry: :meth:`refresh` works the rules out again when the earliest
      expiry has passed (one comparison per ranking call otherwise).

    With no rules, :meth:`refresh` and :meth:`place` return at once: rankings are what they
    were without this class.

    >>> from stream.events import Item
    >>> from stream.models import ModelSettings, StreamRecommender
    >>> rec = StreamRecommender(ModelSettings(chinese_segmentation="bigrams"))
    >>> for i, tag in enumerate(["economy", "sport", "economy"]):
    ...     rec.learn_item(Item(item_id=f"i{i}", title=f"Story {i}", tags=(tag,),
    ...                         published_at=1.0))
    >>> rec.set_rules([Rule("r1", "block_tag", "sport"),
    ...                Rule("r2", "pin", "i2", expires_at=100.0)], now=50.0)
    ['i1']
    >>> [(r.item_id, r.reason, r.pinned) for r in rec.recommend("u", k=2, now=50.0)]
    [('i2', "editor's pick", True), ('i0', 'new in economy', False)]
    >>> [r.item_id for r in rec.recommend("u", k=3, now=100.0)]  # the pin ended
    ['i0', 'i2']
    """

    def __init__(self, pool: ItemPool, users: UserHistories, scorer: Scorer,
                 explainer: Explainer) -> None:
        self.pool = pool
        self.users = users
        self.scorer = scorer
        self.explainer = explainer
        #: every rule given, active or not
        self.rules: tuple[Rule, ...] = ()
        #: the pins and boosts active at the last refresh, by slot (pins first on a tie)
        self.placements: tuple[Rule, ...] = ()
        #: the earliest expiry after the last refresh (inf: none)
        self.next_change = math.inf

    def replace(self, rules: Iterable[Rule], now: float) -> list[int]:
        """Replace the rules at ``now``; returns the item indexes a new block excluded."""
        self.rules = tuple(rules)
        return self._apply(now)

    def refresh(self, now: float) -> list[int]:
        """Work the rules out again if one expired since the last time (see :meth:`replace`)."""
        if now < self.next_change:
            return []
        return self._apply(now)

    def _apply(self, now: float) -> list[int]:
        active = [r for r in self.rules if r.active(now)]
        self.next_change = min((r.expires_at for r in active if r.expires_at is not None),
                               default=math.inf)
        self.placements = tuple(sorted(
            (r for r in active if r.kind in ("pin", "boost")),
            key=lambda r: (r.position, r.kind != "pin", r.rule_id)))
        return self.pool.block(
            frozenset(r.target for r in active if r.kind == "block_item"),
            frozenset(r.target for r in active if r.kind == "block_tag"))

    def place(self, lists: dict[str, list[Recommendation]], k: int, now: float) -> None:
        """Put the active pins and boosts in each list of ``k`` (in place)."""
        if not self.placements:
            return
        for user_id, recs in lists.items():
            lists[user_id] = self._place(user_id, recs, k, now)

    def _reader(self, user_id: str) -> _Reader:
        row = self.users.index.get(user_id)
        seen = set() if row is None else set(self.users.entries(row)[0].tolist())
        return _Reader(seen, row)

    def _topics(self, reader: _Reader, now: float) -> set[str]:
        """The tags the reader follows (their interests)."""
        if reader.topics is None:
            reader.topics = set() if reader.row is None else {
                tag.strip().lower()
                for tag, _ in self.explainer.interests(
                    self.scorer.user_view(reader.row, now, content=False))}
        return reader.topics

    def _langs(self, reader: _Reader) -> set[str]:
        """The languages of the reader's reads."""
        if reader.langs is None:
            langs = self.pool.catalog.langs
            reader.langs = {lang for j in reader.seen if (lang := langs[j]) is not None}
        return reader.langs

    def _place(self, user_id: str, recs: list[Recommendation], k: int, now: float
               ) -> list[Recommendation]:
        cat, excluded = self.pool.catalog, self.pool.excluded
        out = recs
        reader: _Reader | None = None
        for rule in self.placements:
            if rule.position > k or not rule.active(now):
                continue
            idx = cat.index.get(rule.target)
            if idx is None or excluded[idx] or not cat.has_metadata[idx]:
                continue
            if reader is None:
                reader = self._reader(user_id)
            if idx in reader.seen:
                continue
            if rule.topic is not None and rule.topic not in self._topics(reader, now):
                continue
            if rule.lang is not None and rule.lang not in self._langs(reader):
                continue
            at = rule.position - 1
            ranked = next((j for j, r in enumerate(out) if r.item_id == rule.target), None)
            if rule.kind == "boost" and ranked is not None and ranked <= at:
                continue  # the model ranks it as high already
            rest = [r for r in out if r.item_id != rule.target]
            while at < len(rest) and rest[at].pinned:  # an earlier pin holds the slot
                at += 1
            if at >= k:
                continue
            # the score of the slot it takes, so scores still fall down the list
            score = rest[at].score if at < len(rest) else (rest[-1].score if rest else 0.0)
            rest.insert(at, Recommendation(rule.target, score, EDITORS_PICK, pinned=True))
            out = rest[:k]
        return out
