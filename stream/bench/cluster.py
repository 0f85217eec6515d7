"""The cluster measurement of ``stream bench``: clusters of 1, 2, 3 workers in one consumer
group on the same workload, each worker's CPU split into its own events and the item facts
of the whole cluster, and the cost model (:mod:`stream.bench.cluster_model`) fitted to the
smallest cluster and checked against the others.

Each cluster gets topics and a consumer group of its own on the same broker. The
catalogue is produced first; the interactions (generated beforehand, as for the throughput
run) are produced once every worker is ready: had they been there from the start, the first
worker would have handled a share of them alone while the others started, and handed
partitions over in rebalances in the middle of the timed window.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import subprocess
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stream.bench.cluster_model import WorkerCpu, cost_model
from stream.bench.processes import (
    BenchTopics,
    cpu_seconds,
    machine_cpu_seconds,
    output_span,
    produce,
    read_records,
    start_worker,
    worker_ready,
)
from stream.bench.workload import BenchEvent, Workload
from stream.dev.broker import free_port
from stream.dev.measure import scrape
from stream.dev.processes import stop_process
from stream.settings import Settings

if TYPE_CHECKING:
    from stream.bench.runner import BenchConfig, Say

__all__ = ["cluster_partitions", "measure_cluster"]

log = logging.getLogger(__name__)

#: the most partitions :func:`cluster_partitions` gives the interactions topic
MAX_PARTITIONS = 64


def cluster_partitions(workers: Sequence[int], least: int) -> int:
    """Partitions of each cluster's topics: a multiple of every cluster size, so that the
    workers of each own as many partitions as one another, and at least ``least`` (the
    app's default); where such a multiple would pass :data:`MAX_PARTITIONS`, the largest
    size (every worker owns some), or ``least`` if more.

    >>> cluster_partitions((1, 2, 3), 4), cluster_partitions((1, 2), 4)
    (6, 4)
    >>> cluster_partitions((7, 9, 11), 4)
    11
    """
    lcm = math.lcm(*workers)
    if lcm > MAX_PARTITIONS:
        return max(least, *workers)
    return lcm * math.ceil(least / lcm)


@dataclass(frozen=True, slots=True)
class _Member:
    """A worker of the cluster under measurement."""

    proc: subprocess.Popen[bytes]
    metrics_port: int
    web_port: int


@dataclass(frozen=True, slots=True)
class _Counters:
    """One look at a worker: its counters and CPU time so far."""

    own_events: float
    facts_events: float
    facts_cpu_seconds: float
    cpu_seconds: float
    #: interactions batches handled, and completed (their output, item facts first, on the
    #: broker, and the batch acknowledged)
    batches: float
    completed: float


def _look(member: _Member, interactions: str) -> _Counters | None:
    """The worker's counters now (None if its ``/metrics`` did not answer)."""
    try:
        m = scrape(member.metrics_port, ("agent", "topic"))
    except OSError:
        return None
    cpu = cpu_seconds(member.proc.pid)
    agent = "{agent=interactions}"
    return _Counters(
        own_events=m.get(f"stream_events_consumed_total{{topic={interactions}}}", 0.0),
        facts_events=m.get("stream_item_facts_applied_total", 0.0),
        facts_cpu_seconds=m.get("stream_item_facts_cpu_seconds_total", 0.0),
        cpu_seconds=cpu if cpu is not None else math.nan,
        batches=m.get(f"stream_batch_size_events_count{agent}", 0.0),
        completed=m.get(f"stream_batch_completion_seconds_count{agent}", 0.0),
    )


def _assignments(members: Sequence[_Member], interactions: str, partitions: int,
                 timeout: float) -> list[list[int]]:
    """The interactions partitions of each worker, as its lag gauges show them (set every
    ``lag_interval_seconds``): asked until they split every partition between the workers,
    or ``timeout``; what was seen last (a worker with none, ``[]``)."""
    prefix = "stream_consumer_position{partition="
    deadline = time.monotonic() + timeout
    while True:
        seen: list[list[int]] = []
        for member in members:
            try:
                m = scrape(member.metrics_port, ("partition", "topic"))
            except OSError:
                m = {}
            seen.append(sorted(int(key[len(prefix):].split(",", 1)[0]) for key in m
                               if key.startswith(prefix)
                               and key.endswith(f",topic={interactions}}}")))
        owned = [p for ps in seen for p in ps]
        if sorted(owned) == list(range(partitions)) or time.monotonic() > deadline:
            return seen
        time.sleep(0.5)


def _wait_ready(members: Sequence[_Member], timeout: float) -> bool:
    """Until every worker says it is ready at the same look (the last to join is ready only
    once the group's rebalance that took it in is over); False if one exits or time runs
    out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(m.proc.poll() is not None for m in members):
            log.error("a worker of the cluster exited before it was ready")
            return False
        if all(worker_ready(m.web_port) for m in members):
            return True
        time.sleep(0.5)
    return False


def _wait_drained(members: Sequence[_Member], interactions: str, before: Sequence[_Counters],
                  wanted: int, timeout: float, say: Say
                  ) -> tuple[bool, list[_Counters] | None]:
    """Until the workers have consumed ``wanted`` interactions between them, completed every
    batch (so its item facts are on the broker), and applied as many events' facts as one
    another, unchanged since the previous look; looks once a second (rendering ``/metrics``
    costs the workers CPU). Returns whether they did and the last complete look."""
    deadline = time.monotonic() + timeout
    told = time.monotonic()
    last: list[_Counters] | None = None
    previous_facts: list[float] | None = None
    while True:
        looks = [_look(m, interactions) for m in members]
        if all(c is not None for c in looks):
            now = [c for c in looks if c is not None]
            last = now
            own = sum(c.own_events - b.own_events for c, b in zip(now, before, strict=True))
            facts = [c.facts_events - b.facts_events for c, b in zip(now, before, strict=True)]
            settled = all(c.completed >= c.batches for c in now)
            if (own >= wanted and settled and min(facts) == max(facts) > 0
                    and facts == previous_facts):
                return True, now
            previous_facts = facts
            if time.monotonic() - told >= 10:
                told = time.monotonic()
                say(f"  … {len(members)} worker{'s' if len(members) > 1 else ''} consumed "
                    f"{own:,.0f} of {wanted:,}; facts "
                    f"applied {min(facts):,.0f} to {max(facts):,.0f}")
        if time.monotonic() > deadline or any(m.proc.poll() is not None for m in members):
            if any(m.proc.poll() is not None for m in members):
                log.error("a worker of the cluster exited before the run was over")
            return False, last
        time.sleep(1.0)


def _stop_all(members: Sequence[_Member]) -> None:
    """Stop the workers side by side (one by one, each would rebalance the rest first)."""
    if members:
        with ThreadPoolExecutor(len(members)) as pool:
            list(pool.map(stop_process, [m.proc for m in members]))


def _run_cluster(cfg: BenchConfig, n: int, partitions: int, url: str, bootstrap: str,
                 events: Sequence[BenchEvent], work: Path, say: Say,
                 broker_pid: int | None = None) -> dict[str, Any]:
    """``n`` workers in one group on fresh topics: the catalogue, the workers ready, then
    the interactions; each worker's counters from just before they are produced to the end,
    and the CPU time of the broker (``broker_pid``, if given) over the same window."""
    topics = BenchTopics.create(url, bootstrap, partitions)
    s = topics.settings
    workload = Workload(cfg.items, cfg.users, cfg.seed)
    asyncio.run(produce(bootstrap, s.topic_items, workload.item_messages(time.time() - 3600)))
    out: dict[str, Any] = {"workers_in_cluster": n, "events": len(events)}
    members: list[_Member] = []
    try:
        for i in range(n):
            web_port = free_port()
            proc, port = start_worker(topics, work, f"worker-cluster-{n}-{i}", web_port)
            members.append(_Member(proc, port, web_port))
        if not _wait_ready(members, cfg.timeout):
            out["error"] = "the workers were not all ready"
            return out
        looks = [_look(m, s.topic_interactions) for m in members]
        before = [c for c in looks if c is not None]
        if len(before) < n:
            out["error"] = "a worker's /metrics did not answer"
            return out
        window = time.monotonic()
        broker_before = cpu_seconds(broker_pid) if broker_pid is not None else None
        machine_before, bench_before = machine_cpu_seconds(), time.process_time()
        base = time.time()
        messages = [(e.user_id.encode(), e.to_json(base + i * 1e-3))
                    for i, e in enumerate(events)]
        started = time.time()
        asyncio.run(produce(bootstrap, s.topic_interactions, messages))
        produced = time.time()
        drained, after = _wait_drained(members, s.topic_interactions, before, len(messages),
                                       cfg.timeout, say)
        window = time.monotonic() - window
        broker_after = cpu_seconds(broker_pid) if broker_pid is not None else None
        machine_after, bench_after = machine_cpu_seconds(), time.process_time()
        # after the CPU was read: the gauges may take a lag interval to show up
        owned = _assignments(members, s.topic_interactions, partitions,
                             s.lag_interval_seconds + 2.0)
    finally:
        _stop_all(members)
    out["drained"] = drained
    out["produce_seconds"] = round(produced - started, 3)
    # the workers' CPU counts from just before the interactions to the look that found them
    # done (up to a second after the last list)
    out["window_seconds"] = round(window, 3)
    if broker_before is not None and broker_after is not None:
        out["broker_cpu_seconds"] = round(broker_after - broker_before, 3)
    # this process (the producer, the looks) and the whole machine, to tell what else ran
    out["bench_cpu_seconds"] = round(bench_after - bench_before, 3)
    if machine_before is not None and machine_after is not None:
        out["machine_cpu_seconds"] = round(machine_after - machine_before, 3)
    records = asyncio.run(read_records(bootstrap, s.topic_recommendations, s.partitions))
    out["recommendations"] = len(records)
    if records:
        first, last = output_span(records)
        # as the throughput run: from the interactions' first send (or the first list, if
        # earlier) to the last list
        begun = min(first, started)
        out["seconds"] = round(last - begun, 3)
        out["events_per_second"] = round(len(messages) / max(last - begun, 1e-3), 1)
    if after is not None:
        out["per_worker"] = [{
            "partitions": ps,
            "own_events": round(c.own_events - b.own_events),
            "batches": round(c.batches - b.batches),
            "facts_events_applied": round(c.facts_events - b.facts_events),
            "cpu_seconds": round(c.cpu_seconds - b.cpu_seconds, 3),
            "facts_cpu_seconds": round(c.facts_cpu_seconds - b.facts_cpu_seconds, 3),
        } for c, b, ps in zip(after, before, owned, strict=True)]
    return out


def _worker_cpu(run: dict[str, Any]) -> list[WorkerCpu]:
    return [WorkerCpu(w["own_events"], w["facts_events_applied"], w["cpu_seconds"],
                      w["facts_cpu_seconds"]) for w in run.get("per_worker", [])]


def measure_cluster(cfg: BenchConfig, url: str, bootstrap: str, work: Path, say: Say,
                    broker_pid: int | None = None) -> dict[str, Any]:
    """A cluster of each size of ``cfg.cluster_workers`` on ``cfg.cluster_events``
    interactions, one after the other, and the cost model fitted to them (see the
    module's docstring). With ``broker_pid`` (the embedded broker's), the broker's CPU time
    of each run too: it shares the machine's cores with the workers."""
    sizes = sorted(set(cfg.cluster_workers))
    partitions = cluster_partitions(sizes, Settings().partitions)
    workload = Workload(cfg.items, cfg.users, cfg.seed)
    events = list(workload.events(cfg.cluster_events))
    cores = os.cpu_count()
    result: dict[str, Any] = {
        "events": len(events), "items": cfg.items, "users": cfg.users,
        "partitions": partitions, "cores": cores, "runs": [],
    }
    for n in sizes:
        say(f"cluster: {n} worker{'s' if n > 1 else ''} in one group, {len(events):,} "
            f"interactions on {partitions} partitions")
        run = _run_cluster(cfg, n, partitions, url, bootstrap, events, work, say, broker_pid)
        result["runs"].append(run)
        if "events_per_second" in run:
            say(f"  … {run['events_per_second']:,.0f} events/s, "
                + ", ".join(f"worker {i}: {w['cpu_seconds']:.2f} CPU s "
                            f"({w['facts_cpu_seconds']:.2f} on facts)"
                            for i, w in enumerate(run.get("per_worker", []))))
    measured = {r["workers_in_cluster"]: _worker_cpu(r) for r in result["runs"]
                if r.get("drained") and r.get("per_worker")}
    with contextlib.suppress(ValueError):  # no run drained: no model
        result["model"] = cost_model(measured, cores)
    return result
