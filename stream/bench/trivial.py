"""The references: the simplest useful Faust agent, one event at a time, and the fastest
Faust agent our worker's design allows.

The **trivial** agent decodes each interaction with orjson, counts it in a table by user, and
sends one message per event, as a Faust tutorial would. ``stream bench`` runs it on the same
broker and the same events as our worker: the ratio of the two is the figure that matters,
because it cancels the machine and the broker out.

The **batched** agent is our worker with the work taken out: the same batches
(``stream.take`` of ``--batch-max`` events within ``--within`` seconds), orjson, a count per
user in a dict, and one message per user per batch through a batching producer that is
flushed before the batch is acknowledged; no model, no state changelog. What it reaches is
the ceiling of any worker built on Faust's stream on that machine and broker.

Run it as ``python -m stream.bench.trivial --broker kafka://host:port --source TOPIC --sink
TOPIC --app-id ID --data-dir DIR [--kind batched]``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from typing import Any

import faust
import orjson

from stream.agents.faust_fixes import QuietWorker

__all__ = ["create_batched_app", "create_trivial_app", "main"]


def _reference_app(broker: str, source: str, app_id: str, data_dir: str, partitions: int,
                   **options: Any) -> tuple[faust.App, Any]:
    """A Faust app as both references use it (memory store, quick group joins, no web), and
    its raw ``source`` topic."""
    app = faust.App(
        app_id,
        broker=broker,
        store="memory://",
        datadir=data_dir,
        topic_partitions=partitions,
        broker_session_timeout=3.0,
        broker_heartbeat_interval=1.0,
        consumer_auto_offset_reset="earliest",
        web_enabled=False,
        autodiscover=False,
        **options,
    )
    source_topic = app.topic(source, value_serializer="raw", key_serializer="raw",
                             partitions=partitions)
    return app, source_topic


def create_trivial_app(
    broker: str,
    source: str,
    sink: str,
    app_id: str,
    data_dir: str,
    partitions: int,
    producer_max_batch_size: int,
) -> faust.App:
    """The trivial agent's Faust app: ``source`` in, a count per user, one message out per
    event on ``sink`` (key: the user, value: the count and the event's ``ts``)."""
    app, source_topic = _reference_app(broker, source, app_id, data_dir, partitions,
                                       producer_max_batch_size=producer_max_batch_size)
    sink_topic = app.topic(sink, value_serializer="raw", key_serializer="raw",
                           partitions=partitions)
    counts = app.Table("trivial-counts", default=int, partitions=partitions)

    async def count_and_send(stream: Any) -> None:
        async for value in stream:
            event = orjson.loads(value)
            user = event["user_id"]
            counts[user] += 1
            out = {"user_id": user, "count": counts[user], "event_ts": event["ts"],
                   "emitted_ts": time.time()}
            await sink_topic.send(key=user.encode(), value=orjson.dumps(out))

    app.agent(source_topic, name="stream.bench.trivial")(count_and_send)
    return app


def create_batched_app(
    broker: str,
    source: str,
    sink: str,
    app_id: str,
    data_dir: str,
    partitions: int,
    batch_max: int,
    within: float,
    fetch_max_wait_ms: int,
    work_per_event: float = 0.0,
    work_per_batch: float = 0.0,
) -> faust.App:
    """The batched agent's Faust app: batches of ``source``, a count per user in a dict, and
    one message per user per batch on ``sink`` (key: the user, value: the count and the
    ``ts`` of the user's last event in the batch), delivered before the batch is acked
    through the worker's own :class:`~stream.agents.common.OutputProducer`.

    ``work_per_event`` and ``work_per_batch`` (seconds) make it hold the CPU that long for
    each batch before it answers, as a worker's handling does: the latency a worker with that
    cost per event and per batch would have, on this machine and broker."""
    from stream.agents.common import OutputProducer
    from stream.agents.faust_fixes import use_fetch_wait
    from stream.messages import Outgoing
    from stream.settings import Settings

    use_fetch_wait(fetch_max_wait_ms)  # as the worker fetches
    app, source_topic = _reference_app(broker, source, app_id, data_dir, partitions)
    counts: dict[str, int] = {}

    async def count_and_send(stream: Any) -> None:
        output = OutputProducer(Settings(broker=broker))
        try:
            async for values in stream.take(batch_max, within):
                last: dict[str, float] = {}
                for value in values:
                    event = orjson.loads(value)
                    user = event["user_id"]
                    counts[user] = counts.get(user, 0) + 1
                    last[user] = event["ts"]
                if work_per_event or work_per_batch:
                    _busy(work_per_batch + work_per_event * len(values))
                emitted = time.time()
                await output.publish([
                    Outgoing(sink, user.encode(), orjson.dumps(
                        {"user_id": user, "count": counts[user], "event_ts": ts,
                         "emitted_ts": emitted}))
                    for user, ts in last.items()])
        finally:
            await output.stop()

    app.agent(source_topic, name="stream.bench.batched")(count_and_send)
    return app


def _busy(seconds: float) -> None:
    """Hold the CPU (and the GIL) for ``seconds``."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run the trivial (or the batched) agent until SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m stream.bench.trivial",
                                     description="the trivial Faust reference agent")
    parser.add_argument("--broker", required=True)
    parser.add_argument("--source", required=True)
    parser.add_argument("--sink", required=True)
    parser.add_argument("--app-id", required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--producer-max-batch-size", type=int, default=1)
    parser.add_argument("--loglevel", default="warning")
    parser.add_argument("--kind", choices=("trivial", "batched"), default="trivial")
    parser.add_argument("--batch-max", type=int, default=1000)
    parser.add_argument("--within", type=float, default=0.005)
    parser.add_argument("--fetch-max-wait-ms", type=int, default=20)
    parser.add_argument("--work-us-per-event", type=float, default=0.0,
                        help="batched: µs of CPU held per event of a batch before it answers")
    parser.add_argument("--work-us-per-batch", type=float, default=0.0,
                        help="batched: µs of CPU held per batch before it answers")
    args = parser.parse_args(argv)
    if args.kind == "batched":
        app = create_batched_app(args.broker, args.source, args.sink, args.app_id,
                                 args.data_dir, args.partitions, args.batch_max, args.within,
                                 args.fetch_max_wait_ms, args.work_us_per_event * 1e-6,
                                 args.work_us_per_batch * 1e-6)
    else:
        app = create_trivial_app(args.broker, args.source, args.sink, args.app_id,
                                 args.data_dir, args.partitions, args.producer_max_batch_size)
    # the worker's own: Faust's spinner would make every debug call build a record here too
    QuietWorker(app, loglevel=args.loglevel).execute_from_commandline()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
