"""Messages as the pipelines see them: a consumed message, a message to produce, and the
dead letter of a message that cannot be used, with the reason."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from stream.errors import InvalidEvent
from stream.events import EventLimits
from stream.metrics import Metrics
from stream.settings import Settings

__all__ = [
    "Headers", "Outgoing", "RawMessage", "dead_letter", "limits_from", "reject", "validate_only",
]

log = logging.getLogger(__name__)

Headers = list[tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class RawMessage:
    """A consumed Kafka message as the pipeline sees it: bytes and where they came from."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    #: the message's Kafka timestamp, epoch seconds
    timestamp: float


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message to produce. ``value=None`` is a tombstone."""

    topic: str
    key: bytes | None
    value: bytes | None
    headers: Headers = field(default_factory=list)


def dead_letter(msg: RawMessage, error: InvalidEvent, dlq_topic: str) -> Outgoing:
    """The dead-letter record of ``msg``: original key and bytes, the reason in headers."""
    return Outgoing(
        topic=dlq_topic,
        key=msg.key,
        value=msg.value,
        headers=[
            ("stream-dlq-reason", error.reason.encode()),
            ("stream-dlq-detail", error.detail.encode("utf-8", "replace")[:1024]),
            ("stream-dlq-topic", msg.topic.encode()),
            ("stream-dlq-partition", str(msg.partition).encode()),
            ("stream-dlq-offset", str(msg.offset).encode()),
        ],
    )


def limits_from(settings: Settings) -> EventLimits:
    """The parsers' bounds as the settings give them."""
    return EventLimits(
        max_bytes=settings.max_event_bytes,
        max_id_chars=settings.max_id_chars,
        max_list_items=settings.max_list_items,
        max_future_seconds=settings.max_future_seconds,
    )


def reject(msg: RawMessage, error: InvalidEvent, settings: Settings, metrics: Metrics) -> Outgoing:
    """Count an unusable message, log where it was (never its content), and dead-letter it."""
    metrics.events_consumed.labels(msg.topic, "invalid").inc()
    metrics.events_dead_lettered.labels(msg.topic, error.reason).inc()
    log.info("dead-lettered %s[%d]@%d: %s", msg.topic, msg.partition, msg.offset, error.reason)
    return dead_letter(msg, error, settings.dlq(msg.topic))


def validate_only(batch: Sequence[RawMessage], parse: Callable[[RawMessage], object],
                  kind: str | Callable[[object], str], settings: Settings,
                  metrics: Metrics) -> list[Outgoing]:
    """Validate a batch that every worker learns elsewhere, from the whole topic (items,
    labels, rules): the group's agent dead-letters each invalid message once and counts the
    valid ones as consumed ``kind`` (or ``kind(parsed)``); returns the dead letters."""
    out: list[Outgoing] = []
    for msg in batch:
        try:
            parsed = parse(msg)
        except InvalidEvent as exc:
            out.append(reject(msg, exc, settings, metrics))
            continue
        metrics.events_consumed.labels(msg.topic, kind if isinstance(kind, str)
                                       else kind(parsed)).inc()
    return out
