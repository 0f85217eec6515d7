"""What every agent shares: turning Faust events into raw messages and producing results."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import faust

from stream.pipeline import Outgoing, RawMessage

__all__ = ["publish", "to_raw"]


def to_raw(event: Any) -> RawMessage:
    """The raw bytes and position of a consumed Faust event."""
    msg = event.message
    ts = msg.timestamp
    return RawMessage(
        topic=msg.topic,
        partition=msg.partition,
        offset=msg.offset,
        key=msg.key,
        value=msg.value,
        timestamp=float(ts) if ts is not None else 0.0,
    )


async def publish(app: faust.App, messages: Sequence[Outgoing]) -> None:
    """Produce every outgoing message through the app's producer (buffered, not awaited)."""
    producer = app.producer
    for m in messages:
        await producer.send(m.topic, m.key, m.value, None, None, m.headers or None)
