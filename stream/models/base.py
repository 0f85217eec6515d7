"""The protocol every recommender follows, so the worker and ``stream evaluate`` share one path."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from stream.events import Forget, Interaction, Item

__all__ = ["Recommendation", "Recommender"]


@dataclass(frozen=True, slots=True)
class Recommendation:
    """One recommended item with its score and a short, human-readable reason."""

    item_id: str
    score: float
    reason: str


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
