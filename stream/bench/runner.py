"""The measurements of ``stream bench``: end-to-end throughput against the trivial agent,
open-loop latency, memory per user, the pure model path against River's FunkMF, and (only
when asked for) the cost of item facts in clusters of workers."""

from __future__ import annotations

import asyncio
import logging
import math
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from stream.bench.cluster import measure_cluster
from stream.bench.floor import measure_floors
from stream.bench.memory_runs import measure_memory
from stream.bench.model import measure_model
from stream.bench.open_loop import (
    event_latencies,
    latency_percentiles,
    produce_open_loop,
    step_events,
)
from stream.bench.pipeline import DEFAULT_BATCHES, measure_pipeline
from stream.bench.processes import (
    BenchTopics,
    consumed_events,
    cpu_seconds,
    end_offsets,
    output_span,
    produce,
    read_records,
    start_profiler,
    start_reference,
    start_worker,
)
from stream.bench.profiles import top_frames
from stream.bench.workload import BenchEvent, Workload
from stream.dev.broker import EmbeddedBroker
from stream.dev.measure import scrape
from stream.dev.processes import stop_process
from stream.settings import Settings

__all__ = ["MEASUREMENTS", "OPTIONAL_MEASUREMENTS", "THROUGHPUT_SHARES", "BenchConfig",
           "run_bench"]

log = logging.getLogger(__name__)

#: what ``stream bench`` measures unless told otherwise
MEASUREMENTS = ("throughput", "latency", "memory", "pipeline", "model")
#: what it measures only when ``--only`` names it: the clusters start several workers in
#: turn, minutes of a small machine
OPTIONAL_MEASUREMENTS = ("cluster",)

Say = Callable[[str], None]


@dataclass
class BenchConfig:
    """What to measure and how much."""

    events: int = 20_000
    items: int = 10_000
    users: int = 10_000
    rates: tuple[float, ...] = (1000.0, 5000.0)
    memory_users: tuple[int, ...] = (100_000, 1_000_000)
    #: catalogue of the memory runs: item-level state grows with the catalogue, not with
    #: the users, and a small one keeps it from being counted per user
    memory_items: int = 1_000
    memory_events_per_user: float = 3.0
    #: (users fed, user_cap) of the run that shows the cap bounding memory; None: skip it
    memory_capped: tuple[int, int] | None = (1_000_000, 250_000)
    #: seconds of event time between two events of the memory runs
    memory_event_gap: float = 0.01
    seconds: float = 10.0
    model_events: int = 10_000
    #: catalogue sizes of the model path, each with the same events
    model_items: tuple[int, ...] = (10_000, 100_000, 1_000_000)
    #: interactions of each cluster run, and the cluster sizes, smallest first
    cluster_events: int = 20_000
    cluster_workers: tuple[int, ...] = (1, 2, 3)
    #: batch sizes of the worker's handling in process (``pipeline``)
    pipeline_batches: tuple[int, ...] = DEFAULT_BATCHES
    only: tuple[str, ...] = MEASUREMENTS
    seed: int = 7
    broker: str | None = None
    profile: bool = True
    timeout: float = 600.0
    work_dir: Path = field(default_factory=lambda: Path(tempfile.gettempdir()))


# --- broker ------------------------------------------------------------------------------


class _Broker:
    """The embedded broker, or the one ``--broker``/``STREAM_BROKER`` names."""

    def __init__(self, url: str | None, work_dir: Path) -> None:
        self.embedded: EmbeddedBroker | None = None
        if url is None:
            self.embedded = EmbeddedBroker(log_dir=work_dir / "tansu").start()
            url = self.embedded.url
        self.url = url
        self.bootstrap = Settings(broker=url).bootstrap_servers[0]

    def stop(self) -> None:
        if self.embedded is not None:
            self.embedded.stop()


# --- 1. throughput -----------------------------------------------------------------------


def measure_throughput(cfg: BenchConfig, broker: _Broker, work: Path, say: Say
                       ) -> dict[str, Any]:
    """Pre-produce the catalogue and ``cfg.events`` interactions, then time our worker and
    the trivial agent on them, each by the Kafka timestamps of its own output."""
    topics = BenchTopics.create(broker.url, broker.bootstrap, Settings().partitions)
    s = topics.settings
    workload = Workload(cfg.items, cfg.users, cfg.seed)
    base = time.time()
    events = list(workload.events(cfg.events))
    messages = [(e.user_id.encode(), e.to_json(base + i * 1e-3)) for i, e in enumerate(events)]
    say(f"throughput: producing {cfg.items:,} items and {len(messages):,} interactions")
    asyncio.run(produce(broker.bootstrap, s.topic_items, workload.item_messages(base - 3600)))
    produce_seconds = asyncio.run(produce(broker.bootstrap, s.topic_interactions, messages))
    wanted = cfg.items + len(messages)
    result: dict[str, Any] = {
        "events": len(messages), "items": cfg.items, "users": cfg.users,
        "producer_events_per_second": round(len(messages) / produce_seconds, 1),
        "batch_max": s.batch_max, "batch_within": s.batch_within,
    }

    say("throughput: our worker (python -m stream worker)")
    proc, port = start_worker(topics, work, "worker-throughput")
    profiler = None
    try:
        # the worker's CPU time per event, from the catalogue learned to the end
        _, seen_before = consumed_events(port, cfg.items, 120, proc=proc)
        cpu_before = cpu_seconds(proc.pid)
        # the interactions wait for the catalogue: from here on the worker is at them
        started = time.time()
        if cfg.profile:
            # sample the busy middle of the run, after start-up and the catalogue
            consumed_events(port, cfg.items + min(1000, len(messages) // 10), 120, proc=proc)
            profiler = start_profiler(proc.pid, 20, work / "worker.pyspy",
                                      work / "py-spy.log")
        # asked once a second: rendering /metrics takes the worker's CPU (and the GIL), and
        # the references are not asked anything while they run
        done, seen = consumed_events(
            port, wanted, cfg.timeout,
            _progress(say, "worker consumed", wanted), proc, interval=1.0,
        )
        metrics = scrape(port, ("agent",))
        cpu = cpu_seconds(proc.pid)
    finally:
        stop_process(profiler, 30, signal.SIGINT)
        stop_process(proc)
    records = asyncio.run(read_records(broker.bootstrap, s.topic_recommendations,
                                       s.partitions))
    worker: dict[str, Any] = {"drained": done, "consumed": int(seen),
                              "recommendations": len(records)}
    if records:
        first, last = output_span(records)
        # from when the catalogue was learned (or the first list, if earlier) to the last
        # list, over the interactions not consumed by then: the first list comes only once
        # a whole batch is handled, and a batch may hold the whole backlog
        begun = min(first, started)
        counted = len(messages) - max(int(seen_before) - cfg.items, 0)
        worker["seconds"] = round(last - begun, 3)
        worker["events_per_second"] = round(counted / max(last - begun, 1e-3), 1)
    if cpu is not None and cpu_before is not None and seen > seen_before:
        worker["cpu_ms_per_event"] = round(1000 * (cpu - cpu_before) / (seen - seen_before), 3)
    agent = "{agent=interactions}"
    count = metrics.get(f"stream_batch_size_events_count{agent}", 0.0)
    if count:
        worker["mean_batch"] = round(metrics.get(f"stream_batch_size_events_sum{agent}", 0.0)
                                     / count, 1)
        worker["handling_seconds"] = round(
            metrics.get(f"stream_batch_processing_seconds_sum{agent}", 0.0), 2)
        completed = metrics.get(f"stream_batch_completion_seconds_count{agent}", 0.0)
        if completed:
            worker["mean_batch_completion_ms"] = round(
                1000 * metrics.get(f"stream_batch_completion_seconds_sum{agent}", 0.0)
                / completed, 1)
    result["worker"] = worker
    if profiler is not None and (work / "worker.pyspy").exists():
        result["worker_profile"] = top_frames(work / "worker.pyspy")
        shutil.copy(work / "worker.pyspy", work / "worker-profile.collapsed")

    say("throughput: the trivial Faust agent (orjson, table count, one send per event)")
    trivial = _measure_reference("trivial", topics, events, broker, work, cfg, say)
    result["trivial"] = trivial
    say("throughput: the batched Faust agent (the worker's batches, no model, no state)")
    batched = _measure_reference("batched", topics, events, broker, work, cfg, say)
    result["batched"] = batched
    for name, reference in (("ratio", trivial), ("batched_ratio", batched)):
        if "events_per_second" in worker and "events_per_second" in reference:
            result[name] = round(worker["events_per_second"] / reference["events_per_second"],
                                 3)
    if "events_per_second" in batched and "events_per_second" in trivial:
        result["batched_over_trivial"] = round(
            batched["events_per_second"] / trivial["events_per_second"], 3)
    return result


def _measure_reference(kind: str, topics: BenchTopics, events: list[BenchEvent],
                       broker: _Broker, work: Path, cfg: BenchConfig, say: Say
                       ) -> dict[str, Any]:
    """Run a reference agent of :mod:`stream.bench.trivial` on the pre-produced events until
    it has handled them all, and time it by the Kafka timestamps of its output.

    The trivial agent sends one message per event: it is done when its sink holds as many.
    The batched one sends one per user per batch, each with the user's count: it is done
    when its sink stops growing, and drained when every user's last message carries their
    number of events."""
    s = topics.settings
    sink = topics.sink(kind)
    proc = start_reference(topics, work, kind)
    out: dict[str, Any] = {}
    wanted = len(events)
    try:
        deadline = time.monotonic() + cfg.timeout
        n, still_since = 0, time.monotonic()
        while time.monotonic() < deadline and proc.poll() is None:
            now_n = asyncio.run(end_offsets(broker.bootstrap, sink, s.partitions))
            if now_n != n:
                n, still_since = now_n, time.monotonic()
            if kind == "trivial" and n >= wanted:
                break
            if kind != "trivial" and n > 0 and time.monotonic() - still_since >= 3.0:
                break
            _progress(say, f"{kind} agent sent", wanted)(n)
            time.sleep(0.5)
    finally:
        stop_process(proc)
    records = asyncio.run(read_records(broker.bootstrap, sink, s.partitions))
    out["outputs"] = len(records)
    if kind == "trivial":
        out["drained"] = len(records) >= wanted
    else:
        per_user: dict[str, int] = {}
        for e in events:
            per_user[e.user_id] = per_user.get(e.user_id, 0) + 1
        final: dict[str, int] = {}
        for r in records:
            value = orjson.loads(r.value)
            final[value["user_id"]] = max(final.get(value["user_id"], 0), value["count"])
        out["drained"] = final == per_user
    if records:
        first, last = output_span(records)
        out["seconds"] = round(last - first, 3)
        out["events_per_second"] = round(wanted / max(last - first, 1e-3), 1)
    return out


def _progress(say: Say, what: str, wanted: int) -> Callable[[float], None]:
    last = [time.monotonic()]

    def report(seen: float) -> None:
        if time.monotonic() - last[0] >= 10:
            last[0] = time.monotonic()
            say(f"  … {what} {seen:,.0f} of {wanted:,}")

    return report


# --- 2. latency --------------------------------------------------------------------------


@dataclass
class _LatencyWorker:
    """A worker that has learned the catalogue, kept between latency steps it kept up with."""

    topics: BenchTopics
    proc: subprocess.Popen[bytes]
    port: int
    consumed: int


def _latency_worker(cfg: BenchConfig, broker: _Broker, work: Path, name: str
                    ) -> _LatencyWorker | None:
    topics = BenchTopics.create(broker.url, broker.bootstrap, Settings().partitions)
    workload = Workload(cfg.items, cfg.users, cfg.seed)
    asyncio.run(produce(broker.bootstrap, topics.settings.topic_items,
                        workload.item_messages(time.time() - 3600)))
    proc, port = start_worker(topics, work, name)
    try:
        ready, _ = consumed_events(port, cfg.items, 180, proc=proc)
    except BaseException:
        stop_process(proc)
        raise
    if not ready:
        stop_process(proc)
        return None
    return _LatencyWorker(topics, proc, port, cfg.items)


def measure_latency_step(cfg: BenchConfig, broker: _Broker, work: Path, rate: float,
                         worker: _LatencyWorker, say: Say) -> dict[str, Any]:
    """One open-loop step at ``rate`` events/s for ``cfg.seconds`` on ``worker``."""
    s = worker.topics.settings
    events = step_events(cfg.items, cfg.users, cfg.seed, rate, cfg.seconds)
    n = len(events)
    result: dict[str, Any] = {"rate": rate, "seconds": cfg.seconds, "events": n}
    say(f"latency: {rate:,.0f} events/s for {cfg.seconds:g} s")
    before = _batch_metrics(worker.port)
    stamps, sent_seconds = asyncio.run(
        produce_open_loop(broker.bootstrap, s.topic_interactions, events, rate))
    end = time.monotonic()
    worker.consumed += n
    drained, _ = consumed_events(worker.port, worker.consumed, max(5.0, cfg.seconds),
                                 proc=worker.proc)
    result["drained_after_s"] = round(time.monotonic() - end, 2) if drained else None
    result["batches"] = _batch_means(before, _batch_metrics(worker.port))
    censor_at = time.time()
    # lists of earlier steps reflect earlier stamps: the matching skips them
    outputs = asyncio.run(read_records(broker.bootstrap, s.topic_recommendations,
                                       s.partitions))
    latencies, censored = event_latencies(events, stamps, outputs, censor_at)
    result.update(
        achieved_rate=round(n / sent_seconds, 1),
        measured=len(latencies), censored=censored,
        # kept up: the backlog was gone within two seconds of the last send (a fetch cycle
        # plus the 0.25 s between two looks at the worker's counters)
        sustained=bool(result.get("drained_after_s") is not None
                       and result["drained_after_s"] <= 2.0 and not censored),
        **latency_percentiles(latencies),
        max_ms=round(max(latencies, default=math.nan) * 1000, 2),
    )
    return result


#: the interactions agent's batch histograms whose means a latency step reports
_BATCH_FAMILIES = {
    "size": "stream_batch_size_events",
    "processing_ms": "stream_batch_processing_seconds",
    "completion_ms": "stream_batch_completion_seconds",
}


def _batch_metrics(port: int) -> dict[str, float]:
    """The worker's batch histograms (sums and counts), by agent; empty if unreachable."""
    try:
        return scrape(port, ("agent", "generation"))
    except OSError:
        return {}


def _batch_means(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """What the interactions agent's batches of a step were like, from two scrapes of its
    metrics: how many, their mean size, the mean time to handle one (validate, learn,
    rank) and the mean time from handing one over to its acknowledgement (output and
    checkpoints on the broker); and its collections of the oldest generation, how many and
    their mean pause. Where a step's latency goes, seen from the worker."""
    def delta(name: str, part: str) -> float:
        key = f"{name}_{part}{{agent=interactions}}"
        return after.get(key, 0.0) - before.get(key, 0.0)

    count = delta(_BATCH_FAMILIES["size"], "count")
    out: dict[str, float] = {"count": count}
    # collections of the oldest generation: the pauses that reach the tail of the latency
    gc_key = "stream_gc_pause_seconds_{}{{generation=2}}"
    pauses = after.get(gc_key.format("count"), 0.0) - before.get(gc_key.format("count"), 0.0)
    out["gc_oldest_pauses"] = pauses
    if pauses > 0:
        paused = after.get(gc_key.format("sum"), 0.0) - before.get(gc_key.format("sum"), 0.0)
        out["gc_oldest_mean_ms"] = round(paused / pauses * 1000.0, 1)
    if count > 0:
        for label, family in _BATCH_FAMILIES.items():
            n = delta(family, "count")
            scale = 1000.0 if label.endswith("_ms") else 1.0
            out[f"mean_{label}"] = round(delta(family, "sum") / n * scale, 2) if n else math.nan
    return out


#: the shares of the measured throughput whose rates the latency steps add: half of it
#: (where the issue's latency targets are set), and the highest we expect sustained
THROUGHPUT_SHARES = (0.5, 0.8)


def measure_latency(cfg: BenchConfig, broker: _Broker, work: Path, sustained_hint: float | None,
                    say: Say) -> list[dict[str, Any]]:
    """Each rate of ``cfg.rates``, plus each share of :data:`THROUGHPUT_SHARES` of the
    measured throughput, lowest first. A worker that kept up serves the next step too; one
    that fell behind is replaced by a fresh one (new topics), so no backlog carries over.

    Each step's ``floor`` is the batched Faust agent without model or state at the same rate
    with the same events (:mod:`stream.bench.floor`), replaced the same way: the latency of
    Faust, aiokafka and the broker alone on this machine. The floor's steps run once the
    worker's are over and its last worker is stopped, so neither has the other's idle
    consumers beside it."""
    shares: dict[float, float] = {}
    if sustained_hint:
        for share in THROUGHPUT_SHARES:
            shares.setdefault(float(f"{share * sustained_hint:.2g}"), share)
    rates = set(cfg.rates) | set(shares)
    steps = []
    worker: _LatencyWorker | None = None
    try:
        for rate in sorted(rates):
            if worker is None:
                worker = _latency_worker(cfg, broker, work, f"worker-latency-{int(rate)}")
            if worker is None:
                steps.append({"rate": rate, "error": "the worker did not learn the catalogue"})
                continue
            step = measure_latency_step(cfg, broker, work, rate, worker, say)
            if rate in shares:
                step["kind"] = "share of throughput"
                step["share_of_throughput"] = shares[rate]
            else:
                step["kind"] = "fixed"
            steps.append(step)
            if not step["sustained"]:
                stop_process(worker.proc)
                worker = None
    finally:
        if worker is not None:
            stop_process(worker.proc)
    _measure_floors(cfg, broker, work, [s for s in steps if "error" not in s], say)
    return steps


def _measure_floors(cfg: BenchConfig, broker: _Broker, work: Path, steps: list[dict[str, Any]],
                    say: Say) -> None:
    """Each step's ``floor``, at its rate with its events, lowest rate first."""
    floors = measure_floors(
        broker.url, broker.bootstrap, work,
        [(step["rate"], step_events(cfg.items, cfg.users, cfg.seed, step["rate"], cfg.seconds))
         for step in steps], cfg.seconds, say=say)
    for step, floor in zip(steps, floors, strict=True):
        step["floor"] = floor


# --- all ---------------------------------------------------------------------------------


#: files of the temporary folder worth keeping: the profiles
ARTIFACTS = ("worker-profile.collapsed", "model.prof")


def run_bench(cfg: BenchConfig, say: Say, keep: Path | None = None) -> dict[str, Any]:
    """Run the measurements ``cfg.only`` asks for; returns everything as one JSON-able dict.

    Every child process and the embedded broker are stopped before it returns, and its
    temporary folder is removed; the profiles (:data:`ARTIFACTS`) are copied to ``keep``
    first."""
    work = Path(tempfile.mkdtemp(prefix="stream-bench-", dir=cfg.work_dir))
    out: dict[str, Any] = {
        "config": {
            "events": cfg.events, "items": cfg.items, "users": cfg.users,
            "rates": list(cfg.rates), "memory_users": list(cfg.memory_users),
            "memory_events_per_user": cfg.memory_events_per_user,
            "memory_capped": list(cfg.memory_capped) if cfg.memory_capped else None,
            "memory_event_gap": cfg.memory_event_gap,
            "seconds": cfg.seconds, "model_events": cfg.model_events,
            "model_items": list(cfg.model_items), "cluster_events": cfg.cluster_events,
            "cluster_workers": list(cfg.cluster_workers),
            "pipeline_batches": list(cfg.pipeline_batches), "seed": cfg.seed,
            "only": list(cfg.only),
        },
        "machine": _machine(),
    }
    started = time.perf_counter()
    try:
        if "pipeline" in cfg.only:
            out["pipeline"] = measure_pipeline(cfg, say)
        if "model" in cfg.only:
            out["model"] = measure_model(cfg, work, say)
        if "memory" in cfg.only:
            out["memory"] = measure_memory(cfg, say)
        if {"throughput", "latency", "cluster"} & set(cfg.only):
            broker = _Broker(cfg.broker, work)
            out["broker"] = "embedded Tansu (memory)" if broker.embedded else broker.url
            try:
                hint = None
                if "throughput" in cfg.only:
                    out["throughput"] = measure_throughput(cfg, broker, work, say)
                    hint = out["throughput"]["worker"].get("events_per_second")
                if "latency" in cfg.only:
                    out["latency"] = measure_latency(cfg, broker, work, hint, say)
                if "cluster" in cfg.only:
                    tansu = broker.embedded.process if broker.embedded is not None else None
                    out["cluster"] = measure_cluster(
                        cfg, broker.url, broker.bootstrap, work, say,
                        tansu.pid if tansu is not None else None)
            finally:
                broker.stop()
    finally:
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            for name in ARTIFACTS:
                if (work / name).exists():
                    shutil.copy(work / name, keep / name)
        shutil.rmtree(work, ignore_errors=True)
    out["seconds"] = round(time.perf_counter() - started, 1)
    return out


def _machine() -> dict[str, Any]:
    import os
    import platform

    load = os.getloadavg() if hasattr(os, "getloadavg") else (math.nan,) * 3
    source = Path(__file__).resolve().parents[2]
    git: dict[str, Any] = {}
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=source,
                              capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "stream"], cwd=source,
                               capture_output=True, text=True, timeout=10)
        if head.returncode == 0:
            git = {"commit": head.stdout.strip(),
                   "uncommitted_in_stream": [ln[3:] for ln in dirty.stdout.splitlines()]}
    except (OSError, subprocess.SubprocessError):
        pass
    return {
        "git": git,
        "python": platform.python_version(), "platform": platform.platform(),
        "cpus": os.cpu_count(), "load_at_start": [round(x, 2) for x in load],
    }
