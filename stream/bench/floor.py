"""The latency floor of ``stream bench``: the batched Faust agent without model or state
(:func:`~stream.bench.trivial.create_batched_app`) at each open-loop rate of the worker's
latency steps, on the same broker, with the same events and the same batch and fetch
settings.

What that agent reaches is what Faust, aiokafka and the broker cost between an event's send
and a published answer on this machine, with no work in between: no worker built on them
does better, and the worker's own latency is read against it.

Run alone, ``python -m stream.bench.floor --rates 300,840 [--work-us-per-event 300
--work-us-per-batch 2000]`` measures it at those rates on the embedded broker (or
``--broker``), optionally with the agent holding the CPU that long per event and per batch
before it answers: the latency a worker of that cost would have here, which tells how much
handling a latency target leaves room for.

With ``--hop`` it measures less still: one broker hop, the same open-loop sender to a plain
aiokafka consumer in a process of its own (no Faust, no answer, no second hop), fetching with
the worker's ``fetch_max_wait_ms``: from an event's send to its arrival. An event's way to a
published list takes two such hops."""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from stream.bench.open_loop import (
    event_latencies,
    latency_percentiles,
    produce_open_loop,
    step_events,
)
from stream.bench.processes import (
    BenchTopics,
    Record,
    end_offsets,
    produce,
    read_records,
    start_reference,
)
from stream.bench.workload import BenchEvent
from stream.dev.broker import EmbeddedBroker
from stream.dev.processes import stop_process
from stream.settings import Settings

__all__ = ["FloorAgent", "main", "measure_floor_step", "measure_floors", "measure_hop"]

#: seconds the batched agent may take to join its group and answer a first event
READY_SECONDS = 60.0


@dataclass
class FloorAgent:
    """A batched reference agent on topics of its own, kept between the steps it kept up
    with, and how many events each user has sent it so far (its outputs carry each user's
    running count: every event was handled once the last output of every user says so)."""

    topics: BenchTopics
    proc: subprocess.Popen[bytes]
    counts: dict[str, int] = field(default_factory=dict)

    @classmethod
    def start(cls, broker_url: str, bootstrap: str, partitions: int, work: Path,
              cpu: tuple[float, float] = (0.0, 0.0)) -> FloorAgent | None:
        """Start one (holding the CPU ``cpu`` µs per event and per batch) and wait until it
        answers a first event (None if it never does)."""
        topics = BenchTopics.create(broker_url, bootstrap, partitions)
        proc = start_reference(topics, work, "batched", cpu)
        agent = cls(topics, proc)
        try:
            # one event of a user no step sends, so the steps' counts start at zero
            first = BenchEvent(-1, "click", "floor-ready", "floor-ready")
            asyncio.run(produce(bootstrap, topics.settings.topic_interactions,
                                [(first.user_id.encode(), first.to_json(time.time()))]))
            deadline = time.monotonic() + READY_SECONDS
            while time.monotonic() < deadline and proc.poll() is None:
                if asyncio.run(end_offsets(bootstrap, topics.batched_sink, partitions)):
                    return agent
                time.sleep(0.25)
        except BaseException:
            stop_process(proc)
            raise
        stop_process(proc)
        return None

    def stop(self) -> None:
        stop_process(self.proc)


def measure_floor_step(agent: FloorAgent, bootstrap: str, events: list[BenchEvent],
                       rate: float, seconds: float) -> dict[str, Any]:
    """``events`` sent to ``agent`` at ``rate`` per second, as the worker's step sends them,
    and the latency of each click and read, matched to the agent's answers as the worker's
    lists are (:func:`~stream.bench.open_loop.event_latencies`); it kept up (``sustained``)
    when it had handled every event within two seconds of the last send."""
    s = agent.topics.settings
    for e in events:
        agent.counts[e.user_id] = agent.counts.get(e.user_id, 0) + 1
    stamps, sent_seconds = asyncio.run(
        produce_open_loop(bootstrap, s.topic_interactions, events, rate))
    end = time.monotonic()
    deadline = end + max(5.0, seconds)
    drained_after: float | None = None
    records: list[Record] = []
    while time.monotonic() < deadline and agent.proc.poll() is None:
        records = asyncio.run(read_records(bootstrap, agent.topics.batched_sink,
                                           s.partitions))
        if _handled(records, agent.counts):
            drained_after = time.monotonic() - end
            break
        time.sleep(0.25)
    censor_at = time.time()
    latencies, censored = event_latencies(events, stamps, records, censor_at)
    return {
        "rate": rate,
        "achieved_rate": round(len(events) / sent_seconds, 1) if sent_seconds > 0 else None,
        "measured": len(latencies), "censored": censored,
        "drained_after_s": round(drained_after, 2) if drained_after is not None else None,
        "sustained": drained_after is not None and drained_after <= 2.0 and not censored,
        **latency_percentiles(latencies),
    }


def _handled(records: list[Record], counts: dict[str, int]) -> bool:
    """Whether the answers show every event sent so far handled: each user's highest count
    is the number of events they sent."""
    last: dict[str, int] = {}
    for r in records:
        if r.value is None:
            continue
        value = orjson.loads(r.value)
        user = value["user_id"]
        last[user] = max(last.get(user, 0), int(value["count"]))
    return all(last.get(user, 0) >= n for user, n in counts.items())


def measure_floors(broker_url: str, bootstrap: str, work: Path,
                   steps: Sequence[tuple[float, list[BenchEvent]]], seconds: float,
                   cpu: tuple[float, float] = (0.0, 0.0),
                   say: Callable[[str], None] = lambda text: None) -> list[dict[str, Any]]:
    """The floor at each (rate, events) of ``steps``, in their order, by one agent while it
    keeps up (holding the CPU ``cpu`` µs per event and per batch); one that fell behind is
    replaced by a fresh one (new topics), so no backlog carries over."""
    out: list[dict[str, Any]] = []
    agent: FloorAgent | None = None
    partitions = Settings().partitions
    try:
        for rate, events in steps:
            if agent is None:
                agent = FloorAgent.start(broker_url, bootstrap, partitions, work, cpu)
            if agent is None:
                out.append({"rate": rate,
                            "error": "the batched agent did not answer a first event"})
                continue
            say(f"latency floor: the batched agent without work at {rate:,.0f} events/s")
            step = measure_floor_step(agent, bootstrap, events, rate, seconds)
            out.append(step)
            if not step["sustained"]:
                agent.stop()
                agent = None
    finally:
        if agent is not None:
            agent.stop()
    return out


async def _arrivals(bootstrap: str, topic: str, n: int, fetch_wait_ms: int,
                    timeout: float) -> list[float]:
    """Seconds from each of the first ``n`` events' send stamps (their ``ts``) to their
    arrival here, read from the start of ``topic`` without a group; "ready" is printed once
    the consumer has started. Stops after ``timeout`` s with what arrived."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None,
                                enable_auto_commit=False, auto_offset_reset="earliest",
                                fetch_max_wait_ms=fetch_wait_ms)
    await consumer.start()
    print("ready", flush=True)
    out: list[float] = []
    deadline = time.monotonic() + timeout
    try:
        while len(out) < n and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            now = time.time()
            out.extend(now - float(orjson.loads(m.value or b"{}")["ts"])
                       for records in batches.values() for m in records)
    finally:
        await consumer.stop()
    return out


def measure_hop(broker_url: str, bootstrap: str, events: list[BenchEvent], rate: float,
                fetch_wait_ms: int) -> dict[str, Any]:
    """``events`` sent at ``rate`` per second to a topic of their own and read by a plain
    consumer in another process (``python -m stream.bench.floor --arrivals``): the latency
    of one broker hop for every event; ``sustained`` when every event arrived within two
    seconds of the last send (the consumer stops reading then)."""
    topics = BenchTopics.create(broker_url, bootstrap, Settings().partitions)
    topic = topics.settings.topic_interactions
    # the consumer reads until then from its start, a moment before the first send
    budget = len(events) / rate + 2.5
    proc = subprocess.Popen(
        [sys.executable, "-m", "stream.bench.floor", "--arrivals", bootstrap, topic,
         str(len(events)), str(fetch_wait_ms), str(budget)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != b"ready":
            return {"rate": rate, "error": "the consumer did not start"}
        _, sent_seconds = asyncio.run(produce_open_loop(bootstrap, topic, events, rate))
        try:
            left = proc.communicate(timeout=budget + 30.0)[0]
        except subprocess.TimeoutExpired:  # counted as not sustained: nothing arrived
            left = b""
    finally:
        stop_process(proc)
    lines = left.splitlines()
    latencies: list[float] = orjson.loads(lines[-1]) if lines else []
    return {
        "rate": rate, "hop": True, "fetch_max_wait_ms": fetch_wait_ms,
        "achieved_rate": round(len(events) / sent_seconds, 1) if sent_seconds > 0 else None,
        "measured": len(latencies), "events": len(events),
        "sustained": len(latencies) == len(events),
        **latency_percentiles(latencies),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Measure the floor at each rate (lowest first) and print p50 / p95 / p99."""
    parser = argparse.ArgumentParser(prog="python -m stream.bench.floor", description=__doc__)
    parser.add_argument("--rates", default="300,840", help="open-loop rates, events/s")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each step")
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--work-us-per-event", type=float, default=0.0)
    parser.add_argument("--work-us-per-batch", type=float, default=0.0)
    parser.add_argument("--broker", default=None, help="kafka://host:port (default: embedded)")
    parser.add_argument("--hop", action="store_true",
                        help="one broker hop alone: the sender to a plain consumer, no agent")
    parser.add_argument("--fetch-max-wait-ms", type=int, default=Settings().fetch_max_wait_ms,
                        help="the hop's consumer fetch wait (default: the worker's)")
    parser.add_argument("--arrivals", nargs=5, default=None, help=argparse.SUPPRESS,
                        metavar=("BOOTSTRAP", "TOPIC", "N", "WAIT_MS", "TIMEOUT"))
    args = parser.parse_args(argv)
    if args.arrivals is not None:  # the hop's consumer (measure_hop starts it)
        bootstrap, topic, n, wait_ms, timeout = args.arrivals
        got = asyncio.run(_arrivals(bootstrap, topic, int(n), int(wait_ms), float(timeout)))
        print(orjson.dumps(got).decode(), flush=True)
        return 0
    work = Path(tempfile.mkdtemp(prefix="stream-floor-"))
    embedded = EmbeddedBroker(log_dir=work / "broker").start() if args.broker is None else None
    url = embedded.url if embedded is not None else args.broker
    bootstrap = embedded.bootstrap if embedded is not None else url.removeprefix("kafka://")
    cpu = (args.work_us_per_event, args.work_us_per_batch)
    rates = sorted(float(r) for r in args.rates.split(","))
    try:
        events = [(rate, step_events(args.items, args.users, args.seed, rate, args.seconds))
                  for rate in rates]
        if args.hop:
            steps = [measure_hop(url, bootstrap, step, rate, args.fetch_max_wait_ms)
                     for rate, step in events]
        else:
            steps = measure_floors(url, bootstrap, work, events, args.seconds, cpu)
    finally:
        if embedded is not None:
            embedded.stop()
        shutil.rmtree(work, ignore_errors=True)
    for step in steps:
        if "error" in step:
            print(f"{step['rate']:,.0f}/s: {step['error']}")
            return 1
        kept = "sustained" if step["sustained"] else "NOT sustained"
        what = (f"one broker hop, fetch wait {args.fetch_max_wait_ms} ms" if args.hop
                else f"work {cpu[0]:g} µs/event + {cpu[1]:g} µs/batch")
        counted = "events" if args.hop else "clicks and reads"
        print(f"{step['rate']:,.0f}/s ({kept}; {what}): "
              f"p50 {step['p50_ms']:.1f} / p95 {step['p95_ms']:.1f} / "
              f"p99 {step['p99_ms']:.1f} ms over {step['measured']:,} {counted}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
