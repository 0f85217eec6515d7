"""Every worker reads the whole of the topics that hold item-level state, which all workers
need whichever users' partitions they own: the items topic (the catalogue and its
retractions), the item-facts topic (what every worker's interactions did to popularity,
co-visitation, click-through rates and the ranker), the comment scores topic (per-item
sentiment), the labels topic (what the sentiment scorer learns) and the rules topic
(editors' blocks, pins and boosts).

A plain Kafka consumer without a consumer group, assigned every partition of the topic and
started from the beginning, feeds the models of this worker. For items, validation and dead
letters stay with the group's items agent, so a bad item is dead-lettered once, not once per
worker.

A retraction, or a rule that blocks an item, makes the lists this worker published with the
item due again. The reader that applied it ranks them at once and hands them to the
interactions agent's deliveries (:class:`~stream.agents.in_flight.InFlight`), behind every
batch the agent handed over before: the deliveries send one batch's output at a time, in
the order handed over, each sent again until the broker has it (the worker reported not
live if it never will), so no list ranked before the retraction reaches the topic after the
list that replaces it. The reader, not an agent, publishes them because only the readers see
every retraction on every worker, and each worker holds the lists of its own users; it reads
on once they are delivered. What no worker keeps is the lists a worker published before it
stopped: a worker that starts (or takes users over) knows only the lists it publishes itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from stream.agents.in_flight import InFlight
from stream.comments import CommentPipeline
from stream.feed import FeedPipeline
from stream.messages import RawMessage
from stream.settings import Settings
from stream.topics import topic_spec

__all__ = [
    "TopicFollower",
    "catalog_reader",
    "facts_reader",
    "labels_reader",
    "republisher",
    "rules_reader",
    "scores_reader",
]

log = logging.getLogger(__name__)


class TopicFollower:
    """Follows every partition of one topic, from the beginning, into ``learn``."""

    def __init__(
        self,
        settings: Settings,
        topic: str,
        learn: Callable[[Sequence[RawMessage]], int],
        what: str,
        after: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.settings = settings
        self.topic = topic
        self.partitions = topic_spec(settings, topic).partitions
        self.learn = learn
        self.what = what
        #: awaited after each batch learned (e.g. publishing the lists it made due)
        self.after = after
        #: set once everything that was in the topic at start has been learned
        self.caught_up = asyncio.Event()
        #: set once everything that was in the topic at start, or when
        #: :meth:`catch_up_again` was last called, has been learned
        self.current = asyncio.Event()
        self._again = False
        self.learned = 0

    def catch_up_again(self) -> None:
        """Clear :attr:`current` until what is in the topic now has been learned (the item
        facts before a worker takes over partitions: their facts may be there still
        unread)."""
        self.current.clear()
        self._again = True

    async def run(self, should_stop: Any) -> None:
        """Read until ``should_stop()`` is true."""
        s = self.settings
        consumer = AIOKafkaConsumer(
            bootstrap_servers=s.bootstrap_servers,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=s.follower_fetch_max_wait_ms,
            **s.kafka_client_options(),
        )
        await consumer.start()
        try:
            partitions = [TopicPartition(self.topic, p) for p in range(self.partitions)]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            end = await consumer.end_offsets(partitions)
            while not should_stop():
                if self._again:
                    self._again = False
                    end = await consumer.end_offsets(partitions)
                batches = await consumer.getmany(timeout_ms=200, max_records=s.batch_max)
                raw = [
                    RawMessage(m.topic, m.partition, m.offset, m.key, m.value, m.timestamp / 1000.0)
                    for messages in batches.values()
                    for m in messages
                ]
                if raw:
                    self.learned += self.learn(raw)
                    if self.after is not None:
                        await self.after()
                if not self.current.is_set() and not self._again:
                    positions = [await consumer.position(tp) for tp in partitions]
                    if all(pos >= end[tp] for pos, tp in zip(positions, partitions, strict=True)):
                        if not self.caught_up.is_set():
                            log.info("%s caught up: %d learned", self.what, self.learned)
                            self.caught_up.set()
                        self.current.set()
        finally:
            await consumer.stop()


def republisher(pipeline: FeedPipeline, deliveries: InFlight
                ) -> Callable[[], Awaitable[None]]:
    """What a reader awaits after each batch: the lists the batch made due (a retraction, a
    block), ranked and handed to ``deliveries`` (see the module's docstring), and
    delivered."""
    editorial = pipeline.editorial

    async def publish_due() -> None:
        if not editorial.due:
            return
        out = editorial.drain()
        if out:
            # no await between ranking and handing over: lists the interactions agent
            # ranks afterwards are handed over afterwards
            await asyncio.shield(deliveries.submit(out))

    return publish_due


def catalog_reader(settings: Settings, pipeline: FeedPipeline,
                   after: Callable[[], Awaitable[None]] | None = None) -> TopicFollower:
    """Follows every partition of the items topic into the pipeline's models (items and
    their retractions)."""
    return TopicFollower(settings, settings.topic_items, pipeline.learn_catalog, "catalogue",
                         after)


def rules_reader(settings: Settings, pipeline: FeedPipeline,
                 after: Callable[[], Awaitable[None]] | None = None) -> TopicFollower:
    """Follows the rules topic (one partition: one order) into every model."""
    return TopicFollower(settings, settings.topic_rules, pipeline.editorial.learn_rules,
                         "rules", after)


def facts_reader(settings: Settings, pipeline: FeedPipeline) -> TopicFollower:
    """Follows the item-facts topic into the pipeline's models (every worker's facts)."""
    return TopicFollower(settings, settings.topic_item_facts, pipeline.learn_facts, "item facts")


def scores_reader(settings: Settings, comments: CommentPipeline) -> TopicFollower:
    """Follows every partition of the comment scores topic into per-item sentiment (every
    worker's scores: comments are spread over the workers by comment id)."""
    return TopicFollower(settings, settings.topic_comment_sentiment, comments.learn_scores,
                         "comment scores")


def labels_reader(settings: Settings, comments: CommentPipeline) -> TopicFollower:
    """Follows the labels topic (one partition: one order) into the sentiment scorer."""
    return TopicFollower(settings, settings.topic_comment_labels, comments.learn_labels, "labels")
