"""The model's clock, and the sweeps it runs: expired items out, idle users evicted."""

from __future__ import annotations

import logging
import math
from typing import Any

from stream.models.facts import ItemStatistics
from stream.models.histories import UserHistories
from stream.models.items import ItemPool
from stream.models.learning import InteractionLearner
from stream.models.settings import ModelSettings

__all__ = ["Housekeeper"]

logger = logging.getLogger(__name__)


class Housekeeper:
    """Event time as the model knows it (:attr:`clock`, the latest time seen), and a sweep
    every ``housekeeping_interval_seconds`` of it (:meth:`sweep`) that bounds memory: stale
    items (see :meth:`ItemPool.stale`) and, beyond ``item_cap``, the least recently read
    leave; users idle past ``user_ttl_seconds`` or beyond ``user_cap`` are evicted."""

    def __init__(self, settings: ModelSettings, pool: ItemPool, stats: ItemStatistics,
                 users: UserHistories, learner: InteractionLearner) -> None:
        self.settings = settings
        self.pool = pool
        self.stats = stats
        self.users = users
        self.learner = learner
        #: the latest event time seen (``-inf`` before any)
        self.clock = -math.inf
        self.last_sweep: float | None = None
        #: users evicted by a sweep since :meth:`drain_evicted` was called
        self.evicted: list[str] = []

    def tick(self, ts: float) -> None:
        """Time ``ts`` was seen: the clock moves on, and a sweep runs when one is due."""
        if ts > self.clock:
            if not math.isfinite(self.clock):  # items learned before the clock ran arrive now
                self.pool.clock_started(ts)
            self.clock = ts
        if self.last_sweep is None:
            self.last_sweep = ts
        elif self.sweep_due(ts):
            self.evicted.extend(self.sweep(ts)[1])

    def sweep_due(self, ts: float) -> bool:
        """Whether :meth:`tick` at ``ts`` will sweep."""
        return (self.last_sweep is not None
                and ts - self.last_sweep >= self.settings.housekeeping_interval_seconds)

    def drain_evicted(self) -> list[str]:
        """The users evicted since the last call."""
        evicted, self.evicted = self.evicted, []
        return evicted

    def drop_user(self, user_id: str, row: int) -> None:
        """A user's history and pending list leave memory."""
        self.learner.drop_row(row)
        self.users.remove(user_id)

    def sweep(self, now: float) -> tuple[list[str], list[str]]:
        """Expire items and evict users as of ``now``; returns their ids. Evicted users lose
        their history, not their anonymous contributions to item statistics."""
        self.last_sweep = now
        self.learner.catalogue_changed()
        expired = self.pool.expiring(now)
        expired_ids: list[str] = []
        if expired.size:
            self.users.remove_items(expired)
            for idx in expired.tolist():
                self.stats.clear(idx)
                expired_ids.append(self.pool.remove(idx))
            self.learner.prune(expired)
        s = self.settings
        evicted = self.users.expired(now, s.user_ttl_seconds, s.user_cap)
        for user_id in evicted:
            self.drop_user(user_id, self.users.index[user_id])
        if expired_ids or evicted:
            logger.debug("housekeeping: %d items expired, %d users evicted",
                         len(expired_ids), len(evicted))
        return expired_ids, evicted

    def export_state(self) -> dict[str, Any]:
        """The clock and when the last sweep ran."""
        return {"clock": self.clock if math.isfinite(self.clock) else None,
                "last_housekeeping": self.last_sweep}

    def import_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`export_state`."""
        if state["clock"] is not None:
            self.clock = max(self.clock, float(state["clock"]))
        self.last_sweep = state["last_housekeeping"]
