"""The reference: the simplest useful Faust agent, one event at a time.

It decodes each interaction with orjson, counts it in a table by user, and sends one message
per event, as a Faust tutorial would. ``stream bench`` runs it on the same broker and the same
events as our worker: the ratio of the two is the figure that matters, because it cancels
the machine and the broker out.

Run it as ``python -m stream.bench.trivial --broker kafka://host:port --source TOPIC --sink
TOPIC --app-id ID --data-dir DIR``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from typing import Any

import faust
import orjson

__all__ = ["create_trivial_app", "main"]


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
    app = faust.App(
        app_id,
        broker=broker,
        store="memory://",
        datadir=data_dir,
        topic_partitions=partitions,
        producer_max_batch_size=producer_max_batch_size,
        broker_session_timeout=3.0,
        broker_heartbeat_interval=1.0,
        consumer_auto_offset_reset="earliest",
        web_enabled=False,
        autodiscover=False,
    )
    source_topic = app.topic(source, value_serializer="raw", key_serializer="raw",
                             partitions=partitions)
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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the trivial agent until SIGTERM."""
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
    args = parser.parse_args(argv)
    app = create_trivial_app(args.broker, args.source, args.sink, args.app_id, args.data_dir,
                             args.partitions, args.producer_max_batch_size)
    faust.Worker(app, loglevel=args.loglevel).execute_from_commandline()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
