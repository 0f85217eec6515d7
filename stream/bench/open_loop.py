"""Open-loop traffic for the latency steps of ``stream bench``: events sent on a fixed
schedule, each stamped with its send time, and each click or read matched to the first
answer that reflects it."""

from __future__ import annotations

import asyncio
import bisect
import time

import orjson
from aiokafka import AIOKafkaProducer

from stream.bench.processes import Record
from stream.bench.workload import BenchEvent, Workload
from stream.dev.measure import percentile

__all__ = ["event_latencies", "latency_percentiles", "produce_open_loop", "step_events"]


def step_events(items: int, users: int, seed: int, rate: float, seconds: float
                ) -> list[BenchEvent]:
    """The events of a latency step of ``seconds`` at ``rate``: the same readers and
    catalogue at every rate, a different stretch of their traffic for each."""
    n = max(int(rate * seconds), 1)
    return list(Workload(items, users, seed).events(n, part=1 + int(rate)))


async def produce_open_loop(bootstrap: str, topic: str, events: list[BenchEvent],
                             rate: float) -> tuple[dict[int, float], float]:
    """Send ``events`` at ``rate`` per second on a fixed schedule (open loop: a slow
    consumer does not slow the producer), each stamped with its send time; returns the stamps
    and the seconds the sending took."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
    await producer.start()
    stamps: dict[int, float] = {}
    start = time.perf_counter()
    try:
        i = 0
        while i < len(events):
            due = min(len(events), int((time.perf_counter() - start) * rate) + 1)
            while i < due:
                e = events[i]
                ts = time.time()
                stamps[e.seq] = ts
                await producer.send(topic, e.to_json(ts), key=e.user_id.encode())
                i += 1
            wait = i / rate - (time.perf_counter() - start)
            if wait > 0:
                await asyncio.sleep(wait)
        await producer.flush()
    finally:
        await producer.stop()
    return stamps, time.perf_counter() - start


def event_latencies(events: list[BenchEvent], stamps: dict[int, float],
                    outputs: list[Record], censor_at: float) -> tuple[list[float], int]:
    """Per click or read: the first published list of that user whose ``event_ts`` is at
    least the event's stamp reflects it; latency is that list's ``emitted_ts`` minus the
    stamp. Events no list reflects yet count as ``censor_at - stamp`` (a lower bound); the
    second value is how many there were."""
    lists: dict[str, tuple[list[float], list[float]]] = {}
    parsed = []
    for r in outputs:
        if r.value is None:
            continue
        body = orjson.loads(r.value)
        parsed.append((body["user_id"], float(body["event_ts"]), float(body["emitted_ts"])))
    parsed.sort(key=lambda t: (t[0], t[1]))
    for user, event_ts, emitted in parsed:
        ts_list, emitted_list = lists.setdefault(user, ([], []))
        ts_list.append(event_ts)
        emitted_list.append(emitted)
    latencies: list[float] = []
    censored = 0
    for e in events:
        if e.kind == "impression" or e.seq not in stamps:
            continue
        stamp = stamps[e.seq]
        found = lists.get(e.user_id)
        j = bisect.bisect_left(found[0], stamp) if found else 0
        if found and j < len(found[0]):
            latencies.append(max(found[1][j] - stamp, 0.0))
        else:
            censored += 1
            latencies.append(max(censor_at - stamp, 0.0))
    return latencies, censored


def latency_percentiles(latencies: list[float]) -> dict[str, float]:
    """``p50_ms``, ``p95_ms`` and ``p99_ms`` of latencies in seconds (NaN without any), as
    every latency step reports them.

    >>> latency_percentiles([0.004, 0.001, 0.003, 0.002])
    {'p50_ms': 2.0, 'p95_ms': 4.0, 'p99_ms': 4.0}
    """
    return {f"p{round(q * 100)}_ms": round(percentile(latencies, q) * 1000, 2)
            for q in (0.50, 0.95, 0.99)}
