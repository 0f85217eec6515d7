"""A model learning as the worker does, for a replay: in batches."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from stream.events import Forget, Interaction, Item
from stream.models import StreamRecommender
from stream.models.base import Recommendation, Recommender

__all__ = ["BatchedModel", "learn_pending"]


class BatchedModel:
    """A :class:`~stream.models.StreamRecommender` that learns the events of a replay in
    batches of ``size``, the way a worker does: the batch prepared, each event learned
    keeping its item facts, then the batch's facts as one record. Its lists and scores come
    from the model as the last whole batch left it, as a worker's lists do between batches
    (a replay that asks for them in the middle of one sees it unlearned).

    >>> from stream.models import StreamRecommender
    >>> model = BatchedModel(StreamRecommender(), size=2)
    >>> model.learn_one(Interaction("e1", "click", "u1", "a", ts=1.0))
    >>> model.inner.holds_user("u1"), len(model.pending)
    (False, 1)
    >>> model.learn_one(Interaction("e2", "click", "u1", "b", ts=2.0))
    >>> model.inner.holds_user("u1"), len(model.pending)
    (True, 0)
    """

    def __init__(self, model: StreamRecommender, size: int) -> None:
        if size < 1:
            raise ValueError(f"batches of {size} events")
        self.inner = model
        self.size = size
        self.name = model.name
        #: the events of the batch being gathered
        self.pending: list[Interaction] = []

    def learn_item(self, item: Item) -> None:
        """Learn an item now (a worker learns the catalogue between batches)."""
        self.inner.learn_item(item)

    def learn_one(self, event: Interaction) -> None:
        """Add an event to the batch, learning the batch once it is whole."""
        self.pending.append(event)
        if len(self.pending) >= self.size:
            self.flush()

    def forget_user(self, event: Forget) -> None:
        """Learn the batch so far, then forget the user."""
        self.flush()
        self.inner.forget_user(event)

    def flush(self) -> None:
        """Learn the events gathered so far as one batch."""
        events, self.pending = self.pending, []
        if not events:
            return
        model = self.inner
        # the clock moves to the batch first, as learn_one moves it to each event
        model.housekeeper.tick(events[0].ts)
        model.prepare(events)
        for event in events:
            model.learn_one_sharing(event)
        model.settle()
        model.apply_records([model.record_facts(model.drain_facts())])

    def recommend(self, user_id: str, k: int, now: float) -> list[Recommendation]:
        """The user's top ``k`` as the last whole batch left the model."""
        return self.inner.recommend(user_id, k, now)

    def score(self, user_id: str, item_ids: list[str], now: float) -> NDArray[np.float64]:
        """Scores as the last whole batch left the model."""
        return self.inner.score(user_id, item_ids, now)


def learn_pending(model: Recommender) -> None:
    """Learn what a model still holds back (a :class:`BatchedModel`'s last batch)."""
    if isinstance(model, BatchedModel):
        model.flush()
