"""Simulated news-site traffic for a real Kafka: the demo event producer of docker-compose.yml.

``stream demo`` brings its own embedded broker; this script instead writes the same simulated
traffic (articles, impressions, clicks, reads, a few malformed messages) to the Kafka named by
``STREAM_BROKER`` and reads the published lists back, so that simulated readers click on what
was recommended to them and the live-quality metrics have something to measure. It uses the
settings object like the worker (topics, security options) and runs until SIGTERM/SIGINT or
``--seconds``.

Run it from a checkout (``python deploy/demo_producer.py --rate 50``) or as the compose
``producer`` service, which mounts it into the ``stream`` image.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections import Counter
from collections.abc import Sequence

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError

from stream.dev.simulate import Simulator
from stream.settings import Settings

__all__ = ["main", "produce_traffic"]

log = logging.getLogger("stream.demo_producer")


async def _start_with_retries(client: AIOKafkaProducer | AIOKafkaConsumer, wait: float) -> None:
    """Start a client, retrying while the broker is not reachable yet (up to ``wait`` s)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            await client.start()
            return
        except KafkaConnectionError:
            if time.monotonic() >= deadline:
                raise
            log.info("broker not reachable yet, retrying in 2 s")
            await asyncio.sleep(2.0)


async def _read_lists(consumer: AIOKafkaConsumer, served: dict[str, list[str]]) -> None:
    """Keep ``served`` up to date with the last list published to each reader."""
    async for msg in consumer:
        user = msg.key.decode("utf-8", "replace") if msg.key else ""
        if msg.value is None:  # a tombstone: the user was forgotten
            served.pop(user, None)
            continue
        with contextlib.suppress(orjson.JSONDecodeError, KeyError, TypeError):
            served[user] = [str(r["item_id"]) for r in orjson.loads(msg.value)["items"]]


async def produce_traffic(
    settings: Settings,
    *,
    rate: float,
    readers: int,
    seed: int,
    seconds: float | None,
    stop: asyncio.Event | None = None,
    connect_wait: float = 120.0,
) -> Counter[str]:
    """Produce simulated traffic until ``stop`` is set or ``seconds`` have passed.

    Parameters
    ----------
    settings
        Broker, topic names and security options, as the worker reads them.
    rate
        Reader visits per second.
    readers
        Number of simulated readers.
    seed
        Seed of the simulation.
    seconds
        Stop after this long (``None``: run until ``stop`` is set).
    stop
        Set it to stop early (the command-line entry point sets it on SIGTERM/SIGINT).
    connect_wait
        How long to keep retrying while the broker is not reachable yet, in seconds.

    Returns
    -------
    Counter
        Messages produced, by kind (``item``, ``click``, ``malformed:...``).
    """
    stop = stop if stop is not None else asyncio.Event()
    sim = Simulator(n_readers=readers, seed=seed)
    options = settings.kafka_client_options()
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap_servers, linger_ms=5, **options
    )
    consumer = AIOKafkaConsumer(
        settings.topic_recommendations,
        bootstrap_servers=settings.bootstrap_servers,
        auto_offset_reset="latest",
        enable_auto_commit=False,
        **options,
    )
    topic = {"items": settings.topic_items, "interactions": settings.topic_interactions}
    produced: Counter[str] = Counter()
    served: dict[str, list[str]] = {}
    await _start_with_retries(producer, connect_wait)
    try:
        await _start_with_retries(consumer, connect_wait)
    except BaseException:
        await producer.stop()
        raise
    reader = asyncio.create_task(_read_lists(consumer, served))
    started = last_report = time.monotonic()
    try:
        for ev in sim.catalogue(time.time()):
            await producer.send(topic[ev.stream], ev.value, key=ev.key)
            produced[ev.kind] += 1
        await producer.flush()
        log.info("published a catalogue of %d articles", produced["item"])
        interval = 1.0 / rate
        next_at = time.monotonic()
        while not stop.is_set():
            now = time.monotonic()
            if seconds is not None and now - started >= seconds:
                break
            for ev in sim.events(time.time(), served):
                await producer.send(topic[ev.stream], ev.value, key=ev.key)
                produced[ev.kind] += 1
            if now - last_report >= 10.0:
                log.info(
                    "produced %d messages (%d clicks, %d malformed); %d readers have a list",
                    sum(produced.values()),
                    produced["click"],
                    sum(n for k, n in produced.items() if k.startswith("malformed")),
                    len(served),
                )
                last_report = now
            next_at += interval
            delay = next_at - time.monotonic()
            if delay > 0:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
        await producer.flush()
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
        await consumer.stop()
        await producer.stop()
    return produced


async def _run(args: argparse.Namespace) -> Counter[str]:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return await produce_traffic(
        Settings(),
        rate=args.rate,
        readers=args.readers,
        seed=args.seed,
        seconds=args.seconds,
        stop=stop,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: parse the options, produce until stopped, log what was produced."""
    parser = argparse.ArgumentParser(
        description="Produce simulated news-site traffic to STREAM_BROKER (a real Kafka)."
    )
    parser.add_argument("--rate", type=float, default=50.0, help="reader visits per second")
    parser.add_argument("--readers", type=int, default=300, help="simulated readers")
    parser.add_argument("--seed", type=int, default=7, help="seed of the simulation")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long")
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.readers < 1:
        parser.error("--rate must be > 0 and --readers >= 1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    produced = asyncio.run(_run(args))
    log.info("stopped after %d messages: %s", sum(produced.values()), dict(produced))
    return 0


if __name__ == "__main__":
    sys.exit(main())
