"""Corrections to Faust's consumer, applied before an app is created.

Each was found by the crash-recovery test against the embedded broker; each is idempotent
(applying it twice is applying it once).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import faust

__all__ = [
    "QuietWorker",
    "fetch_only_active_partitions",
    "never_commit_past_unacked",
    "recover_to_the_end",
    "resume_streams_after_seek",
    "use_fetch_wait",
]

log = logging.getLogger(__name__)


def _replace(owner: Any, name: str, build: Callable[[Any], Any]) -> None:
    """Set ``owner.name`` to ``build(original)``, where ``original`` is Faust's own: it is
    kept as ``_stream_original_<name>`` the first time, so replacing again wraps Faust's
    method, never an earlier replacement (applying a fix twice is applying it once)."""
    key = f"_stream_original_{name}"
    original = owner.__dict__.get(key) or getattr(owner, name)
    setattr(owner, key, original)
    setattr(owner, name, build(original))


def use_fetch_wait(milliseconds: int) -> None:
    """Faust builds its aiokafka consumer with ``fetch_max_wait_ms=1500`` hard-coded; on Tansu,
    which holds a fetch that long even when data is waiting, that is up to 1.5 s of latency
    per event. Set the consumer's wait before it starts (``fetch_max_wait_ms`` in the
    settings)."""
    from faust.transport.drivers import aiokafka as driver

    def build(original: Any) -> Any:
        def create(self: Any, transport: Any) -> Any:
            consumer = original(self, transport)
            consumer._fetch_max_wait_ms = milliseconds
            return consumer

        return create

    _replace(driver.AIOKafkaConsumerThread, "_create_worker_consumer", build)


class _Active:
    """A live view of the consumer's set of active partitions that is never falsy.

    aiokafka's ``fetched_records(partitions)`` returns the records of *every* partition when
    ``partitions`` is empty. Faust passes its live set of active partitions, which becomes
    empty while a fetch waits (when recovery pauses the changelogs it has read, before the
    inputs are resumed): the fetch then hands over the inputs' records too, Faust drops them
    as not active, and the consumer's position has moved past them. With this view an empty
    set selects nothing, and membership is still read live.
    """

    __slots__ = ("partitions",)

    def __init__(self, partitions: Any) -> None:
        self.partitions = partitions

    def __bool__(self) -> bool:
        return True

    def __contains__(self, tp: object) -> bool:
        return tp in self.partitions


def fetch_only_active_partitions() -> None:
    """Make the aiokafka driver fetch through :class:`_Active`."""
    from faust.transport.drivers import aiokafka as driver

    def build(original: Any) -> Any:
        async def fetch(
            self: Any,
            consumer: Any,
            active_partitions: Any,
            timeout: Any = None,
            max_records: Any = None,
        ) -> Any:
            if active_partitions is not None:
                active_partitions = _Active(active_partitions)
            return await original(
                self, consumer, active_partitions, timeout=timeout, max_records=max_records
            )

        return fetch

    _replace(driver.AIOKafkaConsumerThread, "_fetch_records", build)


def _new_offset_below_unacked(original: Any) -> Any:
    """Faust's ``Consumer._new_offset`` kept from committing past a message still being
    processed.

    Faust commits the end of the first run of consecutive acknowledged offsets of a
    partition, and withholds it only when that run starts more than one offset past the
    last commit, or not at all when nothing was committed yet: with the message at the
    committed offset still in flight and the next ones acknowledged, it commits past it
    (faust-streaming issue #606, fix proposed in PR #707). Our agents acknowledge in input
    order, but Faust acknowledges by itself the messages it skips during a rebalance,
    ahead of batches still in flight. Here the run is cut at the lowest offset of the
    partition that was taken by a stream and not acknowledged yet: only offsets below it
    are handed to Faust's computation, the others stay for the next commit.
    """

    def new_offset(self: Any, tp: Any) -> Any:
        acked: list[int] = self._acked[tp]
        floor = min((m.offset for m in self._unacked_messages
                     if m.tp == tp and not m.acked), default=None)
        held = [offset for offset in acked if floor is not None and offset >= floor]
        if not held:
            return original(self, tp)
        acked[:] = [offset for offset in acked if offset < floor]  # type: ignore[operator]
        try:
            return original(self, tp) if acked else None
        finally:
            acked.extend(held)

    return new_offset


def never_commit_past_unacked() -> None:
    """Replace ``Consumer._new_offset`` by :func:`_new_offset_below_unacked`."""
    from faust.transport.consumer import Consumer

    _replace(Consumer, "_new_offset", _new_offset_below_unacked)


async def _fetched_ends(bootstrap: list[str], options: dict[str, object], fetch_wait_ms: int,
                       ends: Mapping[Any, int]) -> dict[Any, int]:
    """``ends`` (end offsets by partition, as ListOffsets gave them) where a fetch does not
    report a higher one.

    Tansu answers ListOffsets with the base offset of a partition's last record batch plus
    one, not its last offset plus one: after a batching producer wrote 30 records in three
    batches of ten, ListOffsets says 21 and a fetch response's high watermark says 30. A fetch
    from the last offset ListOffsets knows of (``end - 1``, in the last batch) reports the
    real end on Tansu and the same end on Kafka.
    """
    from aiokafka import AIOKafkaConsumer, TopicPartition

    probe = {TopicPartition(tp.topic, tp.partition): tp for tp, end in ends.items() if end}
    if not probe:
        return dict(ends)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                auto_offset_reset="latest", fetch_max_wait_ms=fetch_wait_ms,
                                **options)
    await consumer.start()
    try:
        consumer.assign(list(probe))
        for tp, original in probe.items():
            consumer.seek(tp, ends[original] - 1)
        waiting = set(probe)
        for _ in range(50):  # each fetch waits fetch_wait_ms at most on Tansu
            if not waiting:
                break
            await consumer.getmany(*waiting, timeout_ms=200)
            waiting = {tp for tp in waiting if consumer.highwater(tp) is None}
        if waiting:
            log.warning("no fetch reported the end of %s: ListOffsets' ends kept",
                        sorted(waiting))
        out = dict(ends)
        for tp, original in probe.items():
            highwater = consumer.highwater(tp)
            if highwater is not None and highwater > out[original]:
                out[original] = highwater
        return out
    finally:
        await consumer.stop()


def recover_to_the_end(bootstrap: list[str], options: dict[str, object],
                       fetch_wait_ms: int) -> None:
    """Faust's table recovery reads a changelog partition up to the end offset ListOffsets
    gives (``AIOKafkaConsumerThread._highwaters``); on Tansu that stops before the last
    records of the partition's last batch, and their state is lost (this is why the app's
    producer writes one record per batch on Tansu). Recovery here reads to the end a fetch
    reports (:func:`_fetched_ends`), so changelogs can be written by a batching producer."""
    from faust.transport.drivers import aiokafka as driver

    def build(original: Any) -> Any:
        async def highwaters(self: Any, partitions: Any) -> Any:
            ends = await original(self, partitions)
            if self.consumer.in_transaction:  # Faust's last stable offsets, not ListOffsets
                return ends
            return await _fetched_ends(bootstrap, options, fetch_wait_ms, ends)

        return highwaters

    _replace(driver.AIOKafkaConsumerThread, "_highwaters", build)


async def _on_recovery_completed(self: Any, generation_id: int = 0) -> None:
    """Faust's ``Recovery.on_recovery_completed`` with the stream partitions resumed last.

    Faust resumes the input partitions, then seeks them to the committed offsets, then
    resumes flow control, which empties every stream's queue. While the seek is awaited the
    fetcher (running since the changelogs were read) already hands records of the resumed
    partitions to the streams and advances each partition's read offset past them; the
    queue is then emptied, and when the records are fetched again from the committed offset
    the consumer drops them as already read. Those events are never processed by this
    worker, and the partition stalls until newer events arrive (faust-streaming issue #596;
    seen here as a restarted worker that never caught up, one run in five).

    Here the seek and the emptying happen while the input partitions are still paused, so
    nothing of theirs is in flight, and they are resumed once the queues are clean: what is
    fetched for them from then on starts at the committed offset and stays queued.
    """
    import asyncio

    consumer = self.app.consumer
    self.log.info("Restore complete!")
    await self.app.on_rebalance_complete.send()
    self._set_recovery_ended()
    callbacks = [
        asyncio.ensure_future(
            table.on_recovery_completed(
                self.actives_for_table[table], self.standbys_for_table[table]
            )
        )
        for table in self.tables.values()
    ]
    if callbacks:
        await asyncio.wait(callbacks)
    assignment = consumer.assignment()
    if self.app.consumer_generation_id != generation_id:
        self.log.warning(
            "Recovery rebalancing again app id %s param %s",
            self.app.consumer_generation_id,
            generation_id,
        )
        return
    streams = {tp for tp in assignment if not self._is_changelog_tp(tp)}
    consumer.pause_partitions(streams)
    if assignment:
        self.log.info("Seek stream partitions to committed offsets.")
        await self._wait(consumer.perform_seek(), timeout=self.app.conf.broker_request_timeout)
    self.completed.set()
    self.app.flow_control.resume()  # empties every stream's queue
    consumer.resume_flow()
    consumer.resume_partitions(streams)  # only now: fetched from the committed offsets
    await self.app._fetcher.maybe_start()
    self.tables.on_actives_ready()
    if not self.app.assignor.assigned_standbys():
        self.tables.on_standbys_ready()
    self.app.on_rebalance_end()
    self.log.info("Worker ready")


def resume_streams_after_seek() -> None:
    """Replace ``Recovery.on_recovery_completed`` by :func:`_on_recovery_completed`."""
    from faust.tables.recovery import Recovery

    _replace(Recovery, "on_recovery_completed", lambda original: _on_recovery_completed)


class QuietWorker(faust.Worker):
    """Faust's worker without its terminal spinner.

    At a log level of ``warning`` or above, Faust's worker sets the root logger to DEBUG and
    adds a handler that advances a terminal spinner on every record, for good: every debug
    call of aiokafka, Faust and mode then builds a log record that nothing prints (2.4% of
    the worker's CPU samples under load, in ``Logger.debug``; the fetcher alone logs a few
    per fetch). Without the spinner the root logger keeps the level asked for.
    """

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        """Configure the root logger as Faust does, minus the spinner."""
        self.spinner = None
        super().on_setup_root_logger(logger, level)
