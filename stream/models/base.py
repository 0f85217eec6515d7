"""The protocol every recommender follows, so the worker and ``stream evaluate`` share one path."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from stream.events import Forget, Interaction, Item, Rule

__all__ = ["FeedModel", "Recommendation", "Recommender"]


@dataclass(frozen=True, slots=True)
class Recommendation:
    """One recommended item with its score and a short, human-readable reason; ``pinned``
    when an editor's rule put it there rather than the model's ranking."""

    item_id: str
    score: float
    reason: str
    pinned: bool = False


@runtime_checkable
class Recommender(Protocol):
    """An online recommender: it learns from every event and ranks at any moment.

    Implementations are pure (no Kafka, no Faust): the worker feeds them parsed events and
    publishes what :meth:`recommend` returns; ``stream evaluate`` replays datasets through the
    very same methods.
    """

    name: str

    def learn_item(self, item: Item) -> None:
        """Add or update an item of the catalogue."""

    def learn_one(self, event: Interaction) -> None:
        """Learn from one click, read or impression."""

    def forget_user(self, event: Forget) -> None:
        """Erase every trace of a user."""

    def recommend(self, user_id: str, k: int, now: float) -> list[Recommendation]:
        """The user's top ``k`` right now, items they already saw excluded."""

    def score(self, user_id: str, item_ids: list[str], now: float) -> NDArray[np.float64]:
        """Scores of the given candidates for the user (higher is better)."""


class FeedModel(Recommender, Protocol):
    """What the worker needs of a model, beyond :class:`Recommender`: item facts shared with
    the other workers, users that move between workers, checkpoints, profiles, and what its
    views and gauges read. :class:`~stream.models.StreamRecommender` is one."""

    def prepare(self, events: Sequence[Interaction]) -> None:
        """Get ready to learn ``events`` one by one (:meth:`learn_one_sharing`): what they
        all need, taken in one go. Learning needs no call of this, it only costs more; with
        it, what is taken is what the batch found (a model says where that differs)."""

    def learn_one_sharing(self, event: Interaction) -> None:
        """Learn one event, keeping its item facts for :meth:`drain_facts`."""

    def settle(self) -> None:
        """A batch of :meth:`learn_one_sharing` is learned: finish what the model keeps
        open while a batch is learned (nothing is lost without the call, it only costs
        later)."""

    def forget_user_sharing(self, event: Forget) -> None:
        """Erase a user, keeping the facts that take back their contributions."""

    def drain_facts(self) -> list[list[Any]]:
        """The item facts written since the last call (JSON-able, with item ids)."""

    def apply_facts(self, facts: Iterable[Sequence[Any]]) -> None:
        """Apply item facts, from this worker or another, in the order given."""

    def record_facts(self, facts: Sequence[Sequence[Any]]) -> dict[str, Any]:
        """Facts summed per item into one record, JSON-able, as a worker publishes them."""

    def apply_records(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Apply fact records (:meth:`record_facts`), from this worker or another, in the
        order given, as one."""

    def recommend_many(self, user_ids: Iterable[str], k: int, now: float
                       ) -> dict[str, list[Recommendation]]:
        """Top ``k`` for each user, sharing the work of a batch."""

    def holds_user(self, user_id: str) -> bool:
        """Whether the model holds state of the user."""

    def evict_user(self, user_id: str) -> bool:
        """Drop a user from memory, keeping their contributions; whether they were held."""

    def drain_evicted(self) -> list[str]:
        """The users the model evicted on its own (TTL, cap) since the last call."""

    def export_user(self, user_id: str) -> dict[str, Any] | None:
        """A user's state as JSON-able values, for their checkpoint (None: not held)."""

    def import_user(self, state: Mapping[str, Any]) -> None:
        """Restore a user from :meth:`export_user`."""

    def export_item(self, item_id: str) -> dict[str, Any] | None:
        """An item's metadata and statistics as JSON-able values (None: not known)."""

    def interests_if_changed(self, user_id: str, now: float) -> list[tuple[str, float]] | None:
        """The user's interests if they changed since the last call, else None."""

    def item_ids(self) -> Iterable[str]:
        """The ids of the items in the catalogue."""

    def withdraw(self, item_id: str) -> bool:
        """Take an item out of every list until its next item event; whether it was held."""

    def set_rules(self, rules: Sequence[Rule], now: float) -> list[str]:
        """Replace the editors' rules this model applies; returns the ids of the items a new
        block took out of the lists."""

    @property
    def n_users(self) -> int:
        """Users held in memory."""

    @property
    def n_items(self) -> int:
        """Items in the catalogue."""
