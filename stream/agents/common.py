"""What every agent shares: raw messages in, a pure handler, produced results, tracked offsets."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import faust
from faust.types import ChannelT

from stream.agents.batcher import Batcher
from stream.agents.delivery import Health, Publisher, deliver, retriable
from stream.agents.in_flight import Acknowledge, InFlight
from stream.messages import Outgoing, RawMessage
from stream.metrics import Metrics
from stream.settings import Settings
from stream.topics import topic_spec

__all__ = [
    "DurableTable",
    "Health",
    "InFlight",
    "OutputProducer",
    "Publisher",
    "batched_agent",
    "deliver",
    "publish",
    "raw_table",
    "raw_topic",
    "retriable",
    "to_raw",
]


log = logging.getLogger(__name__)


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


def batched_agent(
    app: faust.App,
    settings: Settings,
    metrics: Metrics,
    name: str,
    handle: Callable[[Sequence[RawMessage]], list[Outgoing]],
    processed: dict[Any, int],
    health: Health,
    checkpoint: Callable[[], None] | None = None,
    publisher: Publisher | None = None,
    store: DurableTable | None = None,
    after_ready: Sequence[asyncio.Event] = (),
    deliveries: InFlight | None = None,
) -> Callable[[Any], Any]:
    """An agent body: read the stream into batches (at most ``batch_max`` events, within
    ``batch_within`` s of the first, :class:`~stream.agents.batcher.Batcher`), hand their
    raw messages to ``handle``, call ``checkpoint`` (which stages the batch's state writes
    in ``store``), and hand what ``handle`` returned and the staged writes over to
    ``deliveries`` (an :class:`~stream.agents.in_flight.InFlight` of ``batches_in_flight``
    batches, sending through ``publisher`` or the app's producer, unless one is given).
    The stream is read into the next batch while the last ones go to the broker.

    Faust acknowledges none of these events by itself (``Stream.noack``): ``deliveries``
    acknowledges a batch once its output and its state writes are on the broker, and those
    of every batch before it: at-least-once, and an offset is never committed ahead of the
    state that includes its event. A batch waits for every event of ``after_ready`` that is
    not set (e.g. the labels read again after a restart, so no comment is scored by a scorer
    that has not relearned them yet; the item facts read to the topic's end again after a
    rebalance) while the stream is read. A batch whose output cannot be
    delivered, ever, is held, and the agent handles no more once ``batches_in_flight`` are
    held (see :func:`~stream.agents.delivery.deliver`). An exception that escapes
    ``handle`` (a bug: handlers dead-letter what they cannot use) stops the handling and
    reports the worker not live: its batch is never acknowledged, so a restarted worker
    processes it again.
    """
    send: Publisher = publisher if publisher is not None else lambda out: publish(app, out)
    in_flight = deliveries if deliveries is not None else InFlight(
        settings.batches_in_flight, send, metrics, health, name,
        write_state=store.write if store is not None else None)

    async def process(stream: Any, batcher: Batcher[Any]) -> None:
        try:
            for ready in after_ready:
                await ready.wait()
            while True:
                await in_flight.room()  # the stream is read into the batcher meanwhile
                events = await batcher.take()
                for ready in after_ready:  # e.g. the item facts, again after a rebalance
                    if not ready.is_set():
                        await ready.wait()
                start = time.perf_counter()
                try:
                    out = handle([to_raw(e) for e in events])
                    if checkpoint is not None:
                        checkpoint()  # e.g. user checkpoints, written once `out` is delivered
                    state = store.take_staged() if store is not None else []
                finally:
                    metrics.batch_processing.labels(name).observe(time.perf_counter() - start)
                    metrics.batch_size.labels(name).observe(len(events))
                # no await between ranking and handing over: the lists a retraction makes
                # due are handed to the same deliveries, after every list ranked before
                in_flight.submit(out, state, _acknowledger(stream, events, processed))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("the %s agent stopped handling batches", name)
            health.fail(f"{name} agent stopped: {type(exc).__name__}: {exc}")

    async def agent(stream: Any) -> None:
        manual = stream.noack()
        batcher: Batcher[Any] = Batcher(settings.batch_max, settings.batch_within,
                                        _behind(manual))
        processing = asyncio.ensure_future(process(manual, batcher))
        try:
            async for event in manual.events():
                await batcher.put(event)
        finally:
            processing.cancel()
            in_flight.close()

    return agent


def _behind(stream: Any) -> Callable[[Any], bool]:
    """Whether more events wait behind ``event``: in ``stream``'s queue, or on the broker
    (the high watermark of the event's partition, as the consumer's last fetch saw it, is
    past the event). The queue alone rarely tells: the consumer hands records over on the
    worker's one thread, between two batches, so the queue is short even when the worker is
    far behind."""
    channel = stream.channel
    queue = channel.queue if isinstance(channel, ChannelT) else None
    consumer = stream.app.consumer

    def behind(event: Any) -> bool:
        if queue is not None and not queue.empty():
            return True
        message = event.message
        try:
            highwater = consumer.highwater(message.tp)
        except Exception:  # e.g. the partition was revoked meanwhile: nothing to wait for
            return False
        return highwater is not None and highwater > message.offset + 1

    return behind


def _acknowledger(stream: Any, events: Sequence[Any], processed: dict[Any, int]
                  ) -> Acknowledge:
    """Acknowledges ``events`` on ``stream`` and records their offsets in ``processed``."""

    async def acknowledge() -> None:
        for e in events:
            await stream.ack(e)
            processed[(e.message.topic, e.message.partition)] = e.message.offset

    return acknowledge


class DurableTable:
    """A Faust table whose writes are staged, then sent when the caller says and awaited,
    and whose local store holds only what the writer does not.

    A set or a delete is staged (:meth:`take_staged` hands the staged writes over, as
    messages to the changelog topic), and :meth:`write` sends writes to the changelog and
    waits until the broker has them. The worker stages a batch's checkpoints as soon as the
    batch is handled, and writes them once the batch's output is on the broker
    (:class:`~stream.agents.in_flight.InFlight`), while it handles the next batches.

    Faust's own commit path flushes its producer buffer with a 0.1 s patience per message
    (``ProducerBuffer.flush_atmost``) and then commits offsets even if changelog writes are
    still queued: on a slow machine a crash right after such a commit loses state that the
    committed offsets say was applied. Awaiting every write before the batch is acknowledged
    closes that gap whatever Faust's commit does.

    A written value is **not** kept in the local store: whoever writes a key holds its state
    in memory already (the pipeline writes the checkpoint of a user it holds), so a second
    copy would only double the memory per user. The local store keeps what recovery read
    from the changelog, for the keys not written since, and a write drops the recovered
    copy of its key when it is staged. Nothing is lost: the changelog has every write, and
    at every assignment Faust's recovery reads a partition's changelog from where its last
    recovery of that partition stopped, or from the start (the memory store persists no
    offset of the worker's own writes), so it reads them back; the pipeline has let that
    partition's users go at the revocation before, once every batch in flight was
    acknowledged (Faust waits for that before it gives partitions up).
    """

    def __init__(self, table: Any, topic: str, send: Publisher | None = None) -> None:
        self.table = table
        #: the changelog topic, as the staged writes name it
        self.topic = topic
        #: a batching producer's delivery, or None: the table's own (Faust's producer)
        self.send = send
        self._staged: list[Outgoing] = []

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
        self._staged.append(Outgoing(self.topic, key, value))

    def pop(self, key: bytes, default: None = None) -> bytes | None:
        """Stage a tombstone of ``key`` (also when this worker has no local copy: an erasure
        must reach every reader of the changelog) and drop any local copy."""
        value = self._drop_local(key)
        self._staged.append(Outgoing(self.topic, key, None))
        return value if value is None else bytes(value)

    @property
    def staged(self) -> int:
        """Writes staged and not yet handed over."""
        return len(self._staged)

    def take_staged(self) -> list[Outgoing]:
        """The writes staged so far, in order, to :meth:`write` (no longer staged here)."""
        staged, self._staged = self._staged, []
        return staged

    async def write(self, writes: Sequence[Outgoing]) -> None:
        """Send ``writes`` to the changelog, in order, and wait until the broker has every
        one (raises if one failed): through ``send`` where there is one, else through the
        table (Faust's producer, which writes one record per request on Tansu)."""
        if self.send is not None:
            await self.send(writes)
            return
        send = self.table.send_changelog
        futures = [send(None, w.key, w.value) if w.value is not None
                   else send(None, w.key, None, value_serializer="raw") for w in writes]
        await asyncio.gather(*futures)

    async def flush(self) -> None:
        """Write everything staged so far and wait for it."""
        await self.write(self.take_staged())


def raw_table(app: faust.App, settings: Settings, name: str,
              send: Publisher | None = None) -> DurableTable:
    """A table of raw bytes (JSON we encode ourselves, never pickles) with its changelog topic
    (``Settings.changelog(name)``, compacted); keys go to partitions by the Kafka partitioner,
    like producers' keys. Its writes go through ``send`` where it is given (a batching
    producer: Faust's recovery reads the changelog to its end however it was written, see
    :func:`~stream.agents.faust_fixes.recover_to_the_end`)."""
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
    return DurableTable(table, settings.changelog(name), send)
