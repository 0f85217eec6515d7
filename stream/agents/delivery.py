"""Getting a batch's messages onto the broker: sent again while sending again may succeed,
and the worker reported not live when it never will."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from aiokafka.errors import KafkaError, KafkaTimeoutError

from stream.messages import Outgoing
from stream.metrics import Metrics

__all__ = ["Health", "Publisher", "deliver", "retriable"]

log = logging.getLogger(__name__)

#: sends messages and returns once the broker has every one of them (raises otherwise)
Publisher = Callable[[Sequence[Outgoing]], Awaitable[None]]


class Health:
    """What the worker's liveness probe reports: alive until a batch's output cannot be
    delivered, ever (:func:`retriable` says no); then the reason, so that the orchestrator
    restarts the worker and the batch, never acknowledged, is processed again."""

    def __init__(self) -> None:
        self.failure: str | None = None

    @property
    def live(self) -> bool:
        """Whether the worker still makes progress."""
        return self.failure is None

    def fail(self, reason: str) -> None:
        """The worker can go no further: say why (the first reason is kept)."""
        if self.failure is None:
            self.failure = reason


def retriable(exc: BaseException) -> bool:
    """Whether sending again may succeed: aiokafka's errors say so themselves (the
    ``retriable`` attribute); a timeout and a lost connection may pass; anything else (an
    oversized record, a missing authorisation, a closed producer, a bug) will not."""
    if isinstance(exc, KafkaError):
        return exc.retriable or isinstance(exc, KafkaTimeoutError)
    return isinstance(exc, OSError | TimeoutError)


async def deliver(send: Publisher, out: Sequence[Outgoing], metrics: Metrics,
                  health: Health) -> bool:
    """Send a batch's messages (its output, or its state writes) until the broker has all
    of them: the batch is held (not acknowledged, and nothing handed over after it goes
    further) meanwhile, as Kafka Streams blocks on a failed send. What was delivered before
    a failure is sent again; readers take duplicates (item facts are applied once per input
    offset, a list replaces the last one, a checkpoint the last one).

    An error that sending again cannot mend (see :func:`retriable`) is not retried: it is
    logged with its reason, counted, and reported by :class:`Health`; returns False, and
    the batch stays unacknowledged."""
    pause = 0.1
    while True:
        try:
            await send(out)
            return True
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not retriable(exc):
                reason = f"{type(exc).__name__}: {exc}"
                log.error("delivering %d messages to %s failed for good, the batch is held "
                          "and the worker reports itself not live: %s", len(out),
                          sorted({m.topic for m in out}), reason)
                metrics.output_failures.inc()
                health.fail(f"output not delivered: {reason}")
                return False
            log.exception("delivering %d messages failed; again in %.1f s", len(out), pause)
            metrics.output_retries.inc()
            await asyncio.sleep(pause)
            pause = min(pause * 2, 5.0)
