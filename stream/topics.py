"""Every topic of `stream`, declared once: its name, partition count and cleanup policy.

Names are settings (``STREAM_TOPIC_*``, ``STREAM_DLQ_SUFFIX``, ``STREAM_APP_ID`` for the
changelogs); :func:`topic_specs` adds what each topic needs beyond its name. The worker, the
embedded broker, the demo and the tests create topics with :func:`create_topics` from these
specs, and the agents declare their Faust topics from them (:func:`topic_spec`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from stream.errors import BrokerError
from stream.settings import Settings

__all__ = ["STATE_TABLES", "TopicSpec", "create_topics", "topic_spec", "topic_specs"]

#: the worker's changelog-backed state tables (each has a changelog topic,
#: :meth:`Settings.changelog <stream.settings.Settings.changelog>`)
STATE_TABLES = ("users",)


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """A topic the app uses: its name, partition count and whether it is compacted."""

    name: str
    partitions: int
    compacted: bool = False


def topic_specs(settings: Settings) -> tuple[TopicSpec, ...]:
    """Every topic the app uses, with its partition count and cleanup policy.

    >>> specs = {s.name: s for s in topic_specs(Settings(partitions=8))}
    >>> specs["stream.items.v1"], specs["stream.item_facts.v1"].partitions
    (TopicSpec(name='stream.items.v1', partitions=8, compacted=True), 1)
    """
    s = settings
    p = s.partitions
    inputs = s.input_topics
    # items are keyed by id and only their latest version matters: compacted
    specs = [TopicSpec(t, p, compacted=t == s.topic_items) for t in inputs]
    # labels: one partition, one order, so every worker's scorer learns them alike
    specs[inputs.index(s.topic_comment_labels)] = TopicSpec(s.topic_comment_labels, 1)
    # rules: keyed by rule id, the latest version of each is the rule (a tombstone deletes
    # it); one partition, one order for every worker
    specs[inputs.index(s.topic_rules)] = TopicSpec(s.topic_rules, 1, compacted=True)
    specs += [TopicSpec(s.dlq(t), p) for t in inputs]
    specs += [
        TopicSpec(s.topic_recommendations, p, compacted=True),
        TopicSpec(s.topic_comment_sentiment, p),
        TopicSpec(s.topic_user_profiles, p, compacted=True),
        # one partition: every worker applies every worker's facts in the same order
        TopicSpec(s.topic_item_facts, 1),
    ]
    # the worker's state tables: co-partitioned with the inputs, compacted
    specs += [TopicSpec(s.changelog(t), p, compacted=True) for t in STATE_TABLES]
    return tuple(specs)


def topic_spec(settings: Settings, name: str) -> TopicSpec:
    """The spec of the topic ``name`` (raises ``KeyError`` if the app has no such topic)."""
    for spec in topic_specs(settings):
        if spec.name == name:
            return spec
    raise KeyError(f"{name!r} is not a topic of the settings")


async def create_topics(
    bootstrap: str | list[str],
    topics: Iterable[TopicSpec],
    replication_factor: int = 1,
    client_options: dict[str, object] | None = None,
    timeout: float = 30.0,
) -> list[str]:
    """Create the topics that do not exist yet, with their partition counts; returns those made.

    Topics must exist with the right partition count before anyone produces to them: brokers
    that auto-create topics (Tansu does) would otherwise pick their own count.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **(client_options or {}))
    deadline = time.monotonic() + timeout
    while True:
        try:
            await admin.start()
            break
        except Exception as exc:  # the broker may still be starting
            if time.monotonic() > deadline:
                raise BrokerError(f"cannot reach the broker at {bootstrap}: {exc}") from exc
            await asyncio.sleep(0.2)
    try:
        existing = set(await admin.list_topics())
        wanted = [t for t in topics if t.name not in existing]
        for spec in wanted:
            configs = {"cleanup.policy": "compact"} if spec.compacted else {}
            with contextlib.suppress(TopicAlreadyExistsError):
                topic = NewTopic(
                    spec.name, spec.partitions, replication_factor, topic_configs=configs
                )
                await admin.create_topics([topic])
        return [t.name for t in wanted]
    finally:
        await admin.close()
