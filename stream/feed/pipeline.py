"""Where a click goes: validate a batch of raw messages, learn from it, publish what follows.

:class:`FeedPipeline` is pure (no Faust, no I/O): it takes raw messages and returns the
messages to produce (item facts, recommendations, profiles, tombstones, dead letters). The
Faust agents in ``stream/agents/`` only move bytes between Kafka and this class, so the same
code is unit tested in-process.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from stream.errors import CorruptCheckpoint, InvalidEvent
from stream.events import Forget, Interaction, Withdrawal, parse_catalog, parse_interaction
from stream.feed.checkpoints import StateStore, decode_checkpoint, encode_checkpoint
from stream.feed.dedupe import DedupeWindows, event_hash
from stream.feed.editorial import Editorial
from stream.feed.quality import ClickOutcome, LastLists, RollingQuality, assign_variant
from stream.messages import Outgoing, RawMessage, limits_from, reject, validate_only
from stream.metrics import Metrics
from stream.models.base import FeedModel, Recommendation
from stream.settings import Settings

__all__ = ["FeedPipeline"]

log = logging.getLogger(__name__)


class FeedPipeline:
    """Validates events, updates the recommenders and produces the lists to publish.

    ``recommenders`` maps each A/B variant to its model; a user is served by the variant
    :func:`~stream.feed.quality.assign_variant` gives them, and every variant learns every event,
    so they are compared on the same data. A single recommender is the variant ``default``.
    """

    def __init__(
        self,
        settings: Settings,
        recommenders: FeedModel | dict[str, FeedModel],
        metrics: Metrics,
        clock: Callable[[], float] = time.time,
        sentiment: Callable[[str], tuple[float, float] | None] | None = None,
        user_store: StateStore | None = None,
    ) -> None:
        self.settings = settings
        #: checkpoints of user state with the ids of the user's last events; written by
        #: :meth:`write_checkpoints` for every user a batch changed, right after the batch
        #: is handled (the worker's store stages them, and sends them once the batch's
        #: output is delivered, before the batch is acknowledged)
        self.user_store = user_store
        #: users whose checkpoint is to be written, and users whose checkpoint is to go
        self._dirty: set[str] = set()
        self._erased: set[str] = set()
        #: per input partition, the offset of the last event whose facts were applied
        self.facts_applied: dict[int, int] = {}
        #: per user in memory: hashes of the ids of the last events applied, and how many
        #: events were applied in all
        self.applied = DedupeWindows(settings.dedupe_window)
        #: per-item (decayed mean, comment count); with ``sentiment_use`` guardrail or both,
        #: items whose discussion turned sour are not served
        self.sentiment = sentiment
        self.guardrail = sentiment is not None and settings.sentiment_use in ("guardrail", "both")
        if not isinstance(recommenders, dict):
            recommenders = {"default": recommenders}
        self.recommenders = recommenders
        self.variant_weights = {v: w for v, w in settings.variants.items() if v in recommenders}
        if not self.variant_weights:
            self.variant_weights = {name: 1.0 for name in recommenders}
        self.metrics = metrics
        self.clock = clock
        self.last_lists = LastLists(settings.last_lists_capacity, settings.top_k)
        self.rolling = {v: RollingQuality(settings.quality_window) for v in recommenders}
        self.limits = limits_from(settings)
        #: retractions and editors' rules, and the lists they make due again
        self.editorial = Editorial(settings, recommenders, self.last_lists, metrics, clock,
                                   self.publish_lists, self.limits)

    @property
    def recommender(self) -> FeedModel:
        """The model of the first variant (the only one without A/B tests)."""
        return next(iter(self.recommenders.values()))

    def variant_of(self, user_id: str) -> str:
        """The A/B variant serving this user."""
        if len(self.variant_weights) == 1:
            return next(iter(self.variant_weights))
        return assign_variant(user_id, self.variant_weights)

    def _score_click(self, user_id: str, item_id: str) -> str | None:
        """Score a click against the user's last list; returns the variant whose rolling
        figures it changed (their gauges are set once per batch, by
        :meth:`_set_rolling_gauges`), or None."""
        found = self.last_lists.rank_of(user_id, item_id)
        if found is None:
            return None  # nothing was published to this user yet: nothing to judge
        variant, rank = found
        series = self.metrics.quality(variant)
        if rank is not None and self.last_lists.is_pinned(user_id, rank):
            series.pinned_clicks.inc()  # the editor's, not the model's
            return None
        outcome = ClickOutcome(rank, self.settings.top_k)
        series.clicks.inc()
        if outcome.hit:
            series.hits.inc()
            series.reciprocal_rank.inc(outcome.reciprocal_rank)
            series.ndcg.inc(outcome.ndcg)
        self.rolling[variant].update(outcome)
        return variant

    def _set_rolling_gauges(self, variants: set[str]) -> None:
        """Set the rolling quality gauges of the variants whose clicks were scored."""
        for variant in variants:
            figures = self.rolling[variant].get()
            series = self.metrics.quality(variant)
            series.hit_rate.set(figures["hr"])
            series.ndcg_ratio.set(figures["ndcg"])
            series.mrr.set(figures["mrr"])

    def _learn(self, event: Interaction) -> None:
        start = time.perf_counter()
        for model in self.recommenders.values():
            model.learn_one_sharing(event)
        self.metrics.model_update.observe(time.perf_counter() - start)

    def _prepare(self, events: list[Interaction]) -> None:
        """Every variant gets ready for the batch's events (what they all need, taken at
        once); a failure only costs the saving."""
        try:
            for model in self.recommenders.values():
                model.prepare(events)
        except Exception:  # a model bug: learning event by event still works
            log.exception("preparing a batch of %d events failed", len(events))

    def _reject(self, msg: RawMessage, error: InvalidEvent) -> Outgoing:
        return reject(msg, error, self.settings, self.metrics)

    def handle_items(self, batch: Sequence[RawMessage]) -> list[Outgoing]:
        """Validate a batch of item messages (items and withdrawals); returns the dead
        letters.

        The worker validates in its consumer group (each item once, one dead letter) and
        learns every item on every worker through :meth:`learn_catalog`.
        """
        now = self.clock()
        return validate_only(
            batch, lambda m: parse_catalog(m.key, m.value, self.limits, now),
            lambda e: "withdrawal" if isinstance(e, Withdrawal) else "item",
            self.settings, self.metrics)

    def learn_catalog(self, batch: Sequence[RawMessage]) -> int:
        """Learn every valid item of a batch read from all partitions of the items topic
        (invalid ones are dead-lettered by :meth:`handle_items`); returns how many.

        A withdrawal takes its item out of every model, and the lists this worker published
        with it become due again (:meth:`Editorial.drain <stream.feed.editorial.Editorial.
        drain>`)."""
        learned = 0
        for msg in batch:
            try:
                item = parse_catalog(msg.key, msg.value, self.limits, None)
            except InvalidEvent:
                continue
            if isinstance(item, Withdrawal):
                self.editorial.withdraw(item.item_id, msg.timestamp)
                continue
            try:
                for model in self.recommenders.values():
                    model.learn_item(item)
            except Exception:  # a model bug must not stop the catalogue
                log.exception("item %s[%d]@%d failed", msg.topic, msg.partition, msg.offset)
                continue
            learned += 1
        self.metrics.catalog_items_learned.inc(learned)
        return learned

    def handle_interactions(self, batch: Sequence[RawMessage]) -> list[Outgoing]:
        """Learn a batch of interactions; returns dead letters, then one list per touched user.

        Each user whose click or read is in the batch gets one fresh top-k, published after
        the whole batch is learned; a forgotten user gets tombstones instead.
        """
        out: list[Outgoing] = []
        now = self.clock()
        # user -> (event ts, Kafka timestamp) of their latest click/read in this batch
        touched: dict[str, tuple[float, float]] = {}
        dirty = self._dirty
        # input partition -> first and last offset, events, {variant: facts} of the events
        # whose facts are to be published
        facts: dict[int, tuple[list[int], dict[str, list[Any]]]] = {}
        parsed: list[Interaction | Forget | InvalidEvent] = []
        # (topic, type) -> events consumed, and the variants whose clicks were scored: their
        # metrics are updated once per batch, not per event
        consumed: dict[tuple[str, str], int] = {}
        scored: set[str] = set()
        for msg in batch:
            try:
                parsed.append(parse_interaction(msg.value, self.limits, now))
            except InvalidEvent as exc:
                parsed.append(exc)
        self._prepare([e for e in parsed if isinstance(e, Interaction)])
        for msg, event in zip(batch, parsed, strict=True):
            try:
                if isinstance(event, InvalidEvent):
                    raise event
                if isinstance(event, Forget):
                    for model in self.recommenders.values():
                        model.forget_user_sharing(event)  # their contributions go too
                    self._drop_from_memory(event.user_id)
                    self._erased.add(event.user_id)
                    dirty.discard(event.user_id)
                    touched.pop(event.user_id, None)
                    out.extend(self._tombstones(event.user_id))
                    kind = "forget"
                else:
                    if not self._first_time(event, msg):
                        # at-least-once delivery replayed an event we applied already
                        key = (msg.topic, "duplicate")
                        consumed[key] = consumed.get(key, 0) + 1
                        continue
                    if event.type == "click":
                        variant = self._score_click(event.user_id, event.item_id)
                        if variant is not None:
                            scored.add(variant)
                    self._learn(event)
                    dirty.add(event.user_id)
                    self._erased.discard(event.user_id)
                    kind = event.type
                    if event.type != "impression":
                        prev = touched.get(event.user_id)
                        if prev is None or msg.timestamp >= prev[1]:
                            touched[event.user_id] = (event.ts, msg.timestamp)
            except InvalidEvent as exc:
                out.append(self._reject(msg, exc))
                continue
            except Exception as exc:
                log.exception("event %s[%d]@%d failed", msg.topic, msg.partition, msg.offset)
                out.append(self._reject(msg, InvalidEvent("processing_error", repr(exc))))
                for model in self.recommenders.values():  # what it began to share is not
                    model.drain_facts()
                continue
            key = (msg.topic, kind)
            consumed[key] = consumed.get(key, 0) + 1
            shared = {v: m.drain_facts() for v, m in self.recommenders.items()}
            if not any(shared.values()):
                continue
            if msg.offset <= self.facts_applied.get(msg.partition, -1):
                # processed again (a crash, a rebalance) after its facts were applied: they
                # are on the broker, ahead of anything published now
                self.metrics.item_facts_replayed.labels("not_published").inc()
                continue
            entry = facts.get(msg.partition)
            if entry is None:
                entry = facts[msg.partition] = ([msg.offset, msg.offset, 0],
                                                {v: [] for v in shared})
            entry[0][1] = msg.offset
            entry[0][2] += 1
            for variant, item_facts in shared.items():
                entry[1][variant].extend(item_facts)
        for model in self.recommenders.values():
            model.settle()
        for (topic, kind), count in consumed.items():
            self.metrics.events_consumed.labels(topic, kind).inc(count)
            if kind == "duplicate":
                self.metrics.events_duplicate.labels(topic).inc(count)
        self._set_rolling_gauges(scored)
        self.drop_evicted()
        # the facts go first: whatever a checkpoint says was applied has its facts published
        out[:0] = [self._facts_record(p, *entry) for p, entry in facts.items()]
        try:
            out.extend(self.publish_lists({u: (e, p) for u, (e, p) in touched.items()}))
            out.extend(self.profiles(list(touched), now))
        except Exception:  # a model bug: the events are learned, only these lists are lost
            log.exception("publishing the lists of %d users failed", len(touched))
            self.metrics.publish_errors.inc()
        return out

    # --- user state: dedupe window and checkpoints ------------------------------------------

    def release_partitions(self, partitions: set[int]) -> int:
        """Drop from memory the users of interaction partitions this worker no longer owns
        (a rebalance): another worker may change them, so when a partition comes back its
        users are restored from their checkpoints again, never from a stale copy. Returns how
        many users were dropped."""
        gone = self.applied.users_in(partitions)
        for user_id in gone:
            self._drop_from_memory(user_id)
        return len(gone)

    def _drop_from_memory(self, user_id: str) -> None:
        """The user leaves every model (their contributions to item statistics stay), the
        dedupe windows (with the partition of their events) and the list cache of this
        worker."""
        for model in self.recommenders.values():
            model.evict_user(user_id)
        self.applied.pop(user_id, None)
        self.last_lists.forget(user_id)

    def drop_evicted(self) -> set[str]:
        """Users the models evicted (idle past the TTL, or least recent beyond the cap) leave
        every per-user structure here too, and their checkpoint is tombstoned by the next
        :meth:`write_checkpoints`: the cap bounds the worker's memory and its changelog, not
        only the model. Returns them.

        The models sweep as their clock moves, which it does with the item facts: this runs
        after every batch of interactions and of item facts."""
        evicted: set[str] = set()
        for model in self.recommenders.values():
            evicted.update(model.drain_evicted())
        # a user evicted by a sweep in the middle of the batch whose next event came later in
        # the same batch is held again, afresh, like any evicted user who comes back: they
        # stay (their checkpoint is rewritten), else their new event would be lost and their
        # published list would outlive them in the list cache
        evicted = {u for u in evicted if not all(
            m.holds_user(u) for m in self.recommenders.values())}
        for user_id in evicted:
            # every variant learns every user: gone from one, gone from all (they share the
            # TTL and the cap, so they evict alike anyway)
            self._drop_from_memory(user_id)
        self._dirty -= evicted
        self._erased |= evicted
        if evicted:
            self.metrics.users_evicted.inc(len(evicted))
        return evicted

    def _first_time(self, event: Interaction, msg: RawMessage) -> bool:
        """Record the event as applied; False when its id is in the user's recent window.
        Either way the user's state now follows ``msg``'s partition."""
        row = self.applied.row(event.user_id)
        if row is None:
            row = self._restore_user(event.user_id, msg)
        self.applied.set_partition(row, msg.partition)
        return self.applied.record_new(row, event_hash(event.event_id))

    def _restore_user(self, user_id: str, msg: RawMessage) -> int:
        """The user's row of applied-event windows, restored with the models' user state from
        the checkpoint when the worker has not seen the user since it started.

        An unreadable checkpoint is logged and the user starts afresh (their next checkpoint
        replaces it): dead-lettering their events instead would do so for every event of
        theirs, for good, since the checkpoint would never be rewritten."""
        raw = self.user_store.get(user_id.encode()) if self.user_store is not None else None
        if not raw:
            return self.applied.add_user(user_id)
        try:
            saved = decode_checkpoint(raw)
        except CorruptCheckpoint as exc:
            log.warning("unreadable checkpoint (%d bytes) for the user of %s[%d]@%d, who "
                        "starts afresh: %s", len(raw), msg.topic, msg.partition, msg.offset, exc)
            return self.applied.add_user(user_id)
        for variant, state in saved["models"].items():
            model = self.recommenders.get(variant)
            if state is not None and model is not None:
                model.import_user(state)
        return self.applied.add_user(user_id, [int(e) for e in saved["events"]],
                                     int(saved["applied"]))

    def user_checkpoint(self, user_id: str) -> dict[str, Any]:
        """What is checkpointed for a user: every variant's state of the user, the hashes
        (:func:`~stream.feed.dedupe.event_hash`) of the ids of the last events applied, and how
        many were applied in all."""
        events, count = self.applied.window(user_id) or ([], 0)
        models = {variant: model.export_user(user_id)
                  for variant, model in self.recommenders.items()}
        return {"user_id": user_id, "events": events, "applied": count, "models": models}

    def write_checkpoints(self) -> None:
        """Write the checkpoint of every user changed since the last call (once, whatever
        their event count) and tombstone those forgotten or evicted.

        The worker calls this right after handling a batch, so the checkpoints are the
        users' state as of that batch; its store stages them, sends them once the batch's
        output (its item facts first) is delivered, and the batch is acknowledged once they
        are on the broker (:class:`~stream.agents.in_flight.InFlight`): a checkpoint never
        claims an event whose facts are not on the broker, and no offset is committed ahead
        of its state."""
        dirty, self._dirty = self._dirty, set()
        erased, self._erased = self._erased, set()
        if self.user_store is None:
            return
        for user_id in erased:
            self.user_store.pop(user_id.encode(), None)
        for user_id in dirty:
            self.user_store[user_id.encode()] = encode_checkpoint(self.user_checkpoint(user_id))

    def _facts_record(self, partition: int, span: list[int], by_variant: dict[str, list[Any]]
                      ) -> Outgoing:
        """The item facts of a batch's events of one input partition, summed per item and
        variant into one record (:meth:`~stream.models.StreamRecommender.record_facts`),
        with the offsets of its first and last event and how many events wrote them."""
        first, last, events = span
        record = {"partition": partition, "first": first, "last": last, "count": events,
                  "variants": {v: self.recommenders[v].record_facts(item_facts)
                               for v, item_facts in by_variant.items() if item_facts}}
        return Outgoing(self.settings.topic_item_facts, str(partition).encode(),
                        orjson.dumps(record, option=orjson.OPT_SERIALIZE_NUMPY))

    def learn_facts(self, batch: Sequence[RawMessage]) -> int:
        """Apply the fact records read from the item-facts topic (all workers', in the
        topic's order), all of a batch as one per variant; returns how many events' facts
        were applied.

        A record covers a batch's events of one input partition, from its ``first`` to its
        ``last`` offset; one whose last is not past the last applied for its partition was
        applied already (published twice: a delivery sent again) and is skipped. An event
        processed again after a crash or a rebalance publishes no facts when its worker had
        applied them (:meth:`handle_interactions`), and a worker takes over partitions only
        once it has read the facts topic to its end (``facts_before_takeover`` in
        ``stream.app``): records of one partition never overlap then. One that does (a worker
        cut off from the group that went on publishing) is applied whole and counted
        (``stream_item_facts_replayed_total{outcome="overlapping"}``). Records of workers
        older than the summed records (one entry per event) are applied event by event past
        the last offset applied."""
        applied = 0
        cpu = time.process_time()
        replayed = self.metrics.item_facts_replayed
        records: dict[str, list[dict[str, Any]]] = {}
        for msg in batch:
            try:
                record = orjson.loads(msg.value or b"")
                partition = int(record["partition"])
                done = self.facts_applied.get(partition, -1)
                if "events" in record:  # one entry per event
                    last, count, summed = self._legacy_record(record["events"], done)
                else:
                    last, count = int(record["last"]), int(record["count"])
                    if last <= done:
                        replayed.labels("skipped").inc()
                        continue
                    if int(record["first"]) <= done:
                        replayed.labels("overlapping").inc()
                    summed = record["variants"]
                for variant, facts in summed.items():
                    if variant in self.recommenders:
                        records.setdefault(variant, []).append(facts)
                if last > done:
                    self.facts_applied[partition] = last
                applied += count
            except Exception:  # written by us: a bug, not bad input; never stop the reader
                log.exception("item facts %s[%d]@%d failed", msg.topic, msg.partition,
                              msg.offset)
        for variant, summed_records in records.items():
            try:
                self.recommenders[variant].apply_records(summed_records)
            except Exception:
                log.exception("applying %d item fact records failed", len(summed_records))
        self.metrics.item_facts_applied.inc(applied)
        self.drop_evicted()
        self.metrics.item_facts_cpu.inc(time.process_time() - cpu)
        return applied

    def _legacy_record(self, events: list[Any], done: int
                       ) -> tuple[int, int, dict[str, dict[str, Any]]]:
        """A record of one entry per event (``[offset, {variant: facts}]``): the last offset,
        how many events past ``done`` it holds, and their facts summed per variant."""
        new: dict[str, list[Any]] = {}
        last, count = done, 0
        for offset, by_variant in events:
            if offset <= last:
                continue
            for variant, item_facts in by_variant.items():
                new.setdefault(variant, []).extend(item_facts)
            last = offset
            count += 1
        return last, count, {v: self.recommenders[v].record_facts(f)
                             for v, f in new.items() if v in self.recommenders}

    def publish_lists(self, users: dict[str, tuple[float, float | None]]) -> list[Outgoing]:
        """One ``stream.recommendations.v1`` message per user, ranked per variant in one
        batched call (``recommend_many``)."""
        now = self.clock()
        by_variant: dict[str, list[str]] = {}
        for user_id in users:
            by_variant.setdefault(self.variant_of(user_id), []).append(user_id)
        out = []
        for variant, user_ids in by_variant.items():
            model = self.recommenders[variant]
            lists = self._serve(model, user_ids, now)
            emitted = self.clock()
            for user_id in user_ids:
                recs = lists.get(user_id, [])
                event_ts, produced_ts = users[user_id]
                items = [{"item_id": r.item_id, "score": r.score, "reason": r.reason}
                         for r in recs]
                pinned = [j for j, r in enumerate(recs) if r.pinned]
                for j in pinned:
                    items[j]["pinned"] = True
                self.last_lists.put(user_id, variant, [r.item_id for r in recs], pinned)
                value = orjson.dumps(
                    {
                        "user_id": user_id,
                        "items": items,
                        "model": model.name,
                        "variant": variant,
                        "event_ts": event_ts,
                        "emitted_ts": emitted,
                    }
                )
                if produced_ts is not None:
                    latency = max(emitted - produced_ts, 0.0)
                    self.metrics.event_to_recommendation_latency.observe(latency)
                out.append(Outgoing(self.settings.topic_recommendations, user_id.encode(), value))
            self.metrics.recommendations_published.inc(len(user_ids))
        return out

    def _serve(
        self, model: FeedModel, user_ids: list[str], now: float
    ) -> dict[str, list[Recommendation]]:
        """Each user's top-k after the sentiment guardrail (which asks the model for 2k, so
        dropping sour items still leaves k)."""
        k = self.settings.top_k
        ask = 2 * k if self.guardrail else k
        lists = model.recommend_many(user_ids, ask, now)
        if not self.guardrail or self.sentiment is None:
            return lists
        s = self.settings
        for user_id, recs in lists.items():
            kept = []
            for rec in recs:
                found = self.sentiment(rec.item_id)
                if found is not None:
                    mean, count = found
                    if (
                        mean < s.sentiment_guardrail_below
                        and count >= s.sentiment_guardrail_min_comments
                    ):
                        continue
                kept.append(rec)
            lists[user_id] = kept[:k]
        return lists

    def profiles(self, user_ids: Sequence[str], now: float) -> list[Outgoing]:
        """``stream.user_profiles.v1`` messages for the users whose interests changed."""
        out = []
        for user_id in user_ids:
            model = self.recommenders[self.variant_of(user_id)]
            interests = model.interests_if_changed(user_id, now)
            if interests is None:
                continue
            value = orjson.dumps(
                {
                    "user_id": user_id,
                    "interests": [{"topic": t, "weight": round(w, 4)} for t, w in interests],
                    "ts": now,
                }
            )
            out.append(Outgoing(self.settings.topic_user_profiles, user_id.encode(), value))
        return out

    def _tombstones(self, user_id: str) -> list[Outgoing]:
        key = user_id.encode()
        topics = (self.settings.topic_recommendations, self.settings.topic_user_profiles)
        for topic in topics:
            self.metrics.tombstones_published.labels(topic).inc()
        return [Outgoing(topic, key, None) for topic in topics]
