"""What every agent shares: raw messages in, a pure handler, produced results, tracked offsets."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import faust
from aiokafka.errors import KafkaError, KafkaTimeoutError

from stream.messages import Outgoing, RawMessage
from stream.metrics import Metrics
from stream.settings import Settings
from stream.topics import topic_spec

__all__ = [
    "DurableTable",
    "Health",
    "OutputProducer",
    "batched_agent",
    "deliver",
    "publish",
    "raw_table",
    "raw_topic",
    "to_raw",
]


log = logging.getLogger(__name__)

Publisher = Callable[[Sequence[Outgoing]], Awaitable[None]]


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
    """Produce every outgoing message through the app's producer (buffered, not awaited:
    Faust flushes the producer before it commits the offsets of the batch)."""
    producer = app.producer
    for m in messages:
        await producer.send(m.topic, m.key, m.value, None, None, m.headers or None)


class OutputProducer:
    """Produces the pipelines' output (lists, profiles, scores, dead letters) with a plain
    aiokafka producer that batches, and waits for delivery at the end of every batch.

    The app's own producer stays for the changelogs (Tansu needs it unbatched); the output
    needs no such care and is most of the traffic. Flushing before the batch is acknowledged
    keeps the at-least-once guarantee: nothing is committed that was not delivered.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._producer: Any = None
        self._lock = asyncio.Lock()

    async def _ensure(self) -> Any:
        async with self._lock:
            if self._producer is None:
                from aiokafka import AIOKafkaProducer

                producer = AIOKafkaProducer(
                    bootstrap_servers=self.settings.bootstrap_servers,
                    linger_ms=self.settings.output_linger_ms,
                    **self.settings.kafka_client_options(),
                )
                await producer.start()
                self._producer = producer
        return self._producer

    async def publish(self, messages: Sequence[Outgoing]) -> None:
        """Send every message and wait until all are delivered (raises if one was not)."""
        if not messages:
            return
        producer = await self._ensure()
        deliveries = [
            await producer.send(m.topic, m.value, key=m.key, headers=m.headers or None)
            for m in messages
        ]
        await producer.flush()
        # flush waits but does not fail: a message the broker refused raises here, and the
        # batch is then not acknowledged (processed again, its output sent again)
        await asyncio.gather(*deliveries)

    async def stop(self) -> None:
        """Flush and close the producer."""
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()


def raw_topic(app: faust.App, settings: Settings, name: str) -> Any:
    """The Faust topic of one of :func:`~stream.topics.topic_specs`, with its partition count
    and cleanup policy, read and written as raw bytes: we decode ourselves, so a bad message is
    a dead letter, never a skipped decode error."""
    spec = topic_spec(settings, name)
    return app.topic(
        spec.name,
        value_serializer="raw",
        key_serializer="raw",
        partitions=spec.partitions,
        # Faust's defaults (None) leave the cleanup policy to the broker: only set it to compact
        compacting=True if spec.compacted else None,
        deleting=False if spec.compacted else None,
    )


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
    """Send a batch's output until the broker has all of it: the batch is held (not
    acknowledged, its state not checkpointed) meanwhile, as Kafka Streams blocks on a failed
    send. What was delivered before a failure is sent again; readers take duplicates (item
    facts are applied once per input offset, a list replaces the last one).

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


def batched_agent(
    app: faust.App,
    settings: Settings,
    metrics: Metrics,
    name: str,
    handle: Callable[[Sequence[RawMessage]], list[Outgoing]],
    processed: dict[Any, int],
    health: Health,
    after: Callable[[], None] | None = None,
    publisher: Publisher | None = None,
    stores: Sequence[DurableTable] = (),
    after_ready: Sequence[asyncio.Event] = (),
    order: asyncio.Lock | None = None,
) -> Callable[[Any], Any]:
    """An agent body: take batches (``batch_max`` within ``batch_within`` s), hand their raw
    messages to ``handle``, produce what it returns, then call ``after``, wait for the
    writes to ``stores``, and record offsets.

    The batch is acked when the next one is taken, after its output was handed to the
    producer (``publisher``, or the app's producer, which Faust flushes before it commits)
    and every state change it made to ``stores`` is on the broker: at-least-once, and an
    offset is never committed ahead of the state that includes its event. The first batch
    waits for every event of ``after_ready`` (e.g. the labels read again after a restart, so
    no comment is scored by a scorer that has not relearned them yet). A batch whose output
    cannot be delivered, ever, is held and the agent takes no more (see :func:`deliver`).

    ``order`` is held from handling a batch until its output is delivered: whoever else
    publishes the same kind of output (the lists a retraction makes due again) waits for it,
    so a list ranked before a retraction never lands on the topic after the list that
    replaces it.
    """
    send: Publisher = publisher if publisher is not None else lambda out: publish(app, out)

    async def agent(stream: Any) -> None:
        async for events in stream.take_events(settings.batch_max, settings.batch_within):
            # wait while holding the batch, iterating already: a stream that is not being
            # iterated yet does not keep what the consumer fetches for it
            for ready in after_ready:
                await ready.wait()
            async with order if order is not None else contextlib.nullcontext():
                start = time.perf_counter()
                try:
                    out = handle([to_raw(e) for e in events])
                finally:
                    metrics.batch_processing.labels(name).observe(time.perf_counter() - start)
                    metrics.batch_size.labels(name).observe(len(events))
                if not await deliver(send, out, metrics, health):
                    await asyncio.Event().wait()  # held until the worker is stopped
            if after is not None:
                after()  # e.g. state checkpoints: written once the output is delivered
            for store in stores:
                await store.delivered()
            for e in events:
                processed[(e.message.topic, e.message.partition)] = e.message.offset

    return agent


class DurableTable:
    """A Faust table whose writes can be awaited, and whose local store holds only what the
    writer does not: every set or delete goes to the changelog, and :meth:`delivered` waits
    until the broker has them.

    Faust's own commit path flushes its producer buffer with a 0.1 s patience per message
    (``ProducerBuffer.flush_atmost``) and then commits offsets even if changelog writes are
    still queued: on a slow machine a crash right after such a commit loses state that the
    committed offsets say was applied. Awaiting every write before the batch is acknowledged
    closes that gap whatever Faust's commit does.

    A written value is **not** kept in the local store: whoever writes a key holds its state
    in memory already (the pipeline writes the checkpoint of a user it holds), so a second
    copy would only double the memory per user. The local store keeps what recovery read
    from the changelog, for the keys not written since, and a write drops the recovered
    copy of its key. Nothing is lost: the changelog has every write, and at every
    assignment Faust's recovery reads a partition's changelog from where its last recovery
    of that partition stopped, or from the start (the memory store persists no offset of
    the worker's own writes), so it reads them back; the pipeline has let that partition's
    users go at the revocation before.
    """

    def __init__(self, table: Any) -> None:
        self.table = table
        self._pending: list[Any] = []

    def get(self, key: bytes, default: None = None) -> bytes | None:
        """The value recovered from the changelog at assignment and not written since."""
        value = self.table.get(key, default)
        return value if value is None else bytes(value)

    def _drop_local(self, key: bytes) -> bytes | None:
        store = self.table.data
        value: bytes | None = store.pop(key, None)
        # the memory store's record of which partition a recovered key came from
        key_partition = getattr(store, "_key_partition", None)
        if key_partition is not None:
            key_partition.pop(key, None)
        return value

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self._drop_local(key)
        self._pending.append(self.table.send_changelog(None, key, value))

    def pop(self, key: bytes, default: None = None) -> bytes | None:
        """Tombstone ``key`` in the changelog (also when this worker has no local copy: an
        erasure must reach every reader of the changelog) and drop any local copy."""
        value = self._drop_local(key)
        self._pending.append(self.table.send_changelog(None, key, None, value_serializer="raw"))
        return value if value is None else bytes(value)

    @property
    def pending(self) -> int:
        """Writes handed to the producer and not yet awaited."""
        return len(self._pending)

    async def delivered(self) -> None:
        """Wait until every write so far is acknowledged by the broker (raises if one failed:
        the batch is then not acknowledged and is processed again)."""
        while self._pending:
            futures, self._pending = self._pending, []
            await asyncio.gather(*futures)


def raw_table(app: faust.App, settings: Settings, name: str) -> DurableTable:
    """A table of raw bytes (JSON we encode ourselves, never pickles) with its changelog topic
    (``Settings.changelog(name)``, compacted); keys go to partitions by the Kafka partitioner,
    like producers' keys."""
    changelog = raw_topic(app, settings, settings.changelog(name))
    table = app.Table(
        name,
        key_type=bytes,
        value_type=bytes,
        partitions=changelog.partitions,
        changelog_topic=changelog,
        use_partitioner=True,
    )
    table.key_serializer = "raw"  # type: ignore[attr-defined]
    table.value_serializer = "raw"  # type: ignore[attr-defined]
    return DurableTable(table)
