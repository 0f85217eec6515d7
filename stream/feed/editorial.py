"""Editors' control of a worker's feed at run time: retractions from the catalogue, rules from
``stream.rules.v1``, and the lists to publish again without what they took out.

Pure (no Faust, no I/O), like the rest of :mod:`stream.feed`: the worker's followers, which
read every partition of the items and rules topics on every worker, feed it; what
:meth:`Editorial.drain` returns is delivered by the worker's output producer like any
batch's output (see :mod:`stream.agents.followers`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from stream.errors import InvalidEvent
from stream.events import RULE_KINDS, EventLimits, Rule, RuleDeletion, parse_rule
from stream.feed.quality import LastLists
from stream.messages import Outgoing, RawMessage, validate_only
from stream.metrics import Metrics
from stream.models.base import FeedModel
from stream.settings import Settings

__all__ = ["Editorial"]

log = logging.getLogger(__name__)

#: what publishes fresh lists: users -> (the time to stamp as the list's ``event_ts``, the
#: Kafka timestamp of the event behind it or None)
Publish = Callable[[dict[str, tuple[float, float | None]]], list[Outgoing]]


class Editorial:
    """Retractions and rules, applied to every A/B variant's model of this worker.

    * :meth:`withdraw` takes an item out of every model, and every user whose last list
      published by this worker (:class:`~stream.feed.quality.LastLists`) holds it is due a
      new list;
    * :meth:`learn_rules` keeps the current rules by id (a tombstone deletes one) and gives
      each model the rules for its variant; users whose list holds an item a new block took
      out are due a new list too. Pins and boosts show in the next list each reader gets
      (publishing every reader's list again for a pin would rank the worker's whole
      audience at once);
    * :meth:`drain` ranks the lists due, without what was taken out.
    """

    def __init__(self, settings: Settings, recommenders: dict[str, FeedModel],
                 last_lists: LastLists, metrics: Metrics, clock: Callable[[], float],
                 publish: Publish, limits: EventLimits) -> None:
        self.settings = settings
        self.recommenders = recommenders
        self.last_lists = last_lists
        self.metrics = metrics
        self.clock = clock
        self.publish = publish
        self.limits = limits
        #: the rules by id, as the rules topic holds them now (expired ones included: they
        #: stay until a tombstone deletes them, and show as inactive)
        self.rules: dict[str, Rule] = {}
        #: users due a new list -> (the Kafka timestamp of what took an item out, the cause)
        self._due: dict[str, tuple[float, str]] = {}

    # --- retractions ------------------------------------------------------------------------

    def withdraw(self, item_id: str, ts: float) -> None:
        """Take ``item_id`` out of every model (at ``ts``, the retraction's Kafka timestamp)
        and make every user whose last list holds it due a new list."""
        for model in self.recommenders.values():
            model.withdraw(item_id)
        self.metrics.retractions.inc()
        self._make_due(self.last_lists.holders([item_id]), ts, "retraction")

    def _make_due(self, users: Sequence[str], ts: float, cause: str) -> None:
        for user_id in users:
            self._due.setdefault(user_id, (ts, cause))

    # --- rules ------------------------------------------------------------------------------

    def validate_rules(self, batch: Sequence[RawMessage]) -> list[Outgoing]:
        """Validate a batch of the rules topic; returns the dead letters. The group's agent
        only validates: every worker learns every rule with :meth:`learn_rules`."""
        return validate_only(
            batch, lambda m: parse_rule(m.key, m.value, self.limits),
            lambda r: "rule_deletion" if isinstance(r, RuleDeletion) else "rule",
            self.settings, self.metrics)

    def learn_rules(self, batch: Sequence[RawMessage]) -> int:
        """Apply a batch read from every partition of the rules topic, in order (invalid
        messages are dead-lettered by :meth:`validate_rules`); returns how many applied."""
        applied = 0
        for msg in batch:
            try:
                found = parse_rule(msg.key, msg.value, self.limits)
            except InvalidEvent:
                continue
            if isinstance(found, RuleDeletion):
                self.rules.pop(found.rule_id, None)
            else:
                self.rules[found.rule_id] = found
            applied += 1
        if applied:
            self._apply_rules(max(m.timestamp for m in batch))
        return applied

    def _apply_rules(self, ts: float) -> None:
        now = self.clock()
        blocked: set[str] = set()
        for variant, model in self.recommenders.items():
            rules = [r for r in self.rules.values() if r.variant in (None, variant)]
            try:
                blocked.update(model.set_rules(rules, now))
            except Exception:  # a model bug must not stop the rules reader
                log.exception("applying %d rules to variant %s failed", len(rules), variant)
        if blocked:
            self._make_due(self.last_lists.holders(blocked), ts, "rule")
        self.update_gauges(now)

    def active(self, now: float) -> dict[str, int]:
        """How many rules of each kind hold at ``now``."""
        counts: dict[str, int] = dict.fromkeys(RULE_KINDS, 0)
        for rule in self.rules.values():
            if rule.active(now):
                counts[rule.kind] += 1
        return counts

    def update_gauges(self, now: float | None = None) -> None:
        """Set the rules-active gauge (the worker also calls this on a timer: rules expire)."""
        for kind, count in self.active(self.clock() if now is None else now).items():
            self.metrics.rules_active.labels(kind).set(count)

    def describe(self, now: float) -> list[dict[str, Any]]:
        """Every rule as JSON-able values, with whether it holds at ``now``, by id."""
        return [{"rule_id": r.rule_id, "kind": r.kind, "target": r.target,
                 "expires_at": r.expires_at, "position": r.position, "topic": r.topic,
                 "lang": r.lang, "variant": r.variant, "active": r.active(now)}
                for r in sorted(self.rules.values(), key=lambda r: r.rule_id)]

    # --- the lists to publish again ---------------------------------------------------------

    @property
    def due(self) -> int:
        """Users due a new list."""
        return len(self._due)

    def drain(self) -> list[Outgoing]:
        """A fresh list for every user due one (ranked now, so without what was taken out);
        the lists this worker publishes next replace them in its last lists."""
        if not self._due:
            return []
        due, self._due = self._due, {}
        # a user this worker let go meanwhile (evicted, forgotten, another worker's now) has
        # no list here any more: the worker that holds them publishes theirs
        users: dict[str, tuple[float, float | None]] = {
            u: (ts, None) for u, (ts, _) in due.items() if self.last_lists.get(u) is not None}
        try:
            out = self.publish(users)
        except Exception:  # a model bug: the items are out of the models all the same
            log.exception("publishing %d lists again failed", len(users))
            self.metrics.publish_errors.inc()
            return []
        for user_id in users:
            self.metrics.lists_republished.labels(due[user_id][1]).inc()
        return out
