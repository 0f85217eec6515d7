"""Child processes of the benchmark: a ``stream worker``, the trivial agent, a profiler; the
topics of one measurement; and reading what they produced back from Kafka."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import ConsumerRecord

from stream.dev.broker import free_port, wait_for_port
from stream.dev.measure import scrape
from stream.dev.processes import start_process, start_worker_process, stop_process, worker_env
from stream.settings import Settings
from stream.topics import TopicSpec, create_topics, topic_specs

__all__ = [
    "BenchTopics",
    "consumed_events",
    "cpu_seconds",
    "end_offsets",
    "machine_cpu_seconds",
    "output_span",
    "produce",
    "read_records",
    "start_profiler",
    "start_reference",
    "start_worker",
    "worker_ready",
]

log = logging.getLogger(__name__)

Record: TypeAlias = ConsumerRecord

#: the settings that name a topic
_TOPIC_FIELDS = tuple(
    name for name, f in Settings.model_fields.items()
    if name.startswith("topic_") and f.annotation is str
)


@dataclass(frozen=True)
class BenchTopics:
    """A topic set and consumer group of its own for one measurement, as worker settings."""

    settings: Settings
    trivial_sink: str
    batched_sink: str

    @classmethod
    def create(cls, broker_url: str, bootstrap: str, partitions: int) -> BenchTopics:
        """Fresh topics on the broker (so runs never see each other's messages)."""
        tag = uuid.uuid4().hex[:8]
        names = {name: f"bench-{tag}.{name.removeprefix('topic_')}.v1" for name in _TOPIC_FIELDS}
        settings = Settings(broker=broker_url, app_id=f"bench-{tag}", partitions=partitions,
                            **names)  # type: ignore[arg-type]
        sinks = (f"bench-{tag}.trivial.v1", f"bench-{tag}.batched.v1")
        specs = (*topic_specs(settings), *(TopicSpec(sink, partitions) for sink in sinks))
        asyncio.run(create_topics(bootstrap, specs, settings.topic_replication_factor))
        return cls(settings, *sinks)

    def sink(self, kind: str) -> str:
        """The output topic of a reference agent (``trivial`` or ``batched``)."""
        return self.trivial_sink if kind == "trivial" else self.batched_sink

    def env(self) -> dict[str, str]:
        """``STREAM_*`` variables that make a worker use this topic set and group."""
        s = self.settings
        env = {
            "STREAM_BROKER": s.broker,
            "STREAM_APP_ID": s.app_id,
            "STREAM_PARTITIONS": str(s.partitions),
        }
        for name in _TOPIC_FIELDS:
            env[f"STREAM_{name.upper()}"] = str(getattr(s, name))
        return env


def start_worker(topics: BenchTopics, work_dir: Path, name: str, web_port: int | None = None
                 ) -> tuple[subprocess.Popen[bytes], int]:
    """A ``python -m stream worker`` child on the topic set; returns it and its metrics port.

    Its web server (``/health``) listens on ``web_port``, a free port if not given. The batch
    knobs and every other ``STREAM_*`` setting of the caller's environment pass through, so
    ``STREAM_BATCH_MAX=5000 stream bench`` measures that configuration."""
    metrics_port = free_port()
    env = worker_env(work_dir / f"{name}-data", metrics_port,
                     web_port if web_port is not None else free_port(), topics.env())
    proc = start_worker_process(env, work_dir / f"{name}.log")
    try:
        wait_for_port("127.0.0.1", metrics_port, timeout=60)
    except Exception:
        stop_process(proc)
        raise
    return proc, metrics_port


def start_reference(topics: BenchTopics, work_dir: Path, kind: str = "trivial",
                    work: tuple[float, float] = (0.0, 0.0)) -> subprocess.Popen[bytes]:
    """A reference Faust agent (:mod:`stream.bench.trivial`: ``trivial`` or ``batched``, the
    latter with the worker's batch settings and ``work``, µs of CPU per event and per batch)
    on the topic set's interactions, writing to its own sink."""
    s = topics.settings
    cmd = [
        sys.executable, "-m", "stream.bench.trivial",
        "--kind", kind,
        "--broker", s.broker,
        "--source", s.topic_interactions,
        "--sink", topics.sink(kind),
        "--app-id", f"{s.app_id}-{kind}",
        "--data-dir", str(work_dir / f"{kind}-data"),
        "--partitions", str(s.partitions),
        "--producer-max-batch-size", str(s.producer_max_batch_size),
        "--batch-max", str(s.batch_max),
        "--within", str(s.batch_within),
        "--fetch-max-wait-ms", str(s.fetch_max_wait_ms),
        "--work-us-per-event", str(work[0]),
        "--work-us-per-batch", str(work[1]),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAM_")}
    return start_process(cmd, env, work_dir / f"{kind}.log")


def start_profiler(pid: int, seconds: float, out: Path, log_path: Path
                   ) -> subprocess.Popen[bytes] | None:
    """``py-spy record`` of ``pid`` for ``seconds`` (collapsed stacks), if py-spy is here.

    Stop it early with SIGINT: it writes what it has sampled."""
    exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(exe).exists():
        log.warning("py-spy not found: no profile of the worker")
        return None
    cmd = [exe, "record", "--pid", str(pid), "--duration", str(max(int(seconds), 1)),
           "--rate", "100", "--nonblocking", "--format", "raw", "-o", str(out)]
    return start_process(cmd, dict(os.environ), log_path)


def consumed_events(port: int, wanted: int, timeout: float,
                    progress: Callable[[float], None] | None = None,
                    proc: subprocess.Popen[bytes] | None = None,
                    interval: float = 0.25) -> tuple[bool, float]:
    """Wait until the worker has consumed ``wanted`` messages (all topics), asking its
    ``/metrics`` every ``interval`` seconds; returns whether it did and the count last seen.
    Gives up early when ``proc`` has exited."""
    deadline = time.monotonic() + timeout
    seen = 0.0
    while True:
        with contextlib.suppress(OSError):
            seen = scrape(port).get("stream_events_consumed_total", 0.0)
        if seen >= wanted:
            return True, seen
        if time.monotonic() > deadline or (proc is not None and proc.poll() is not None):
            if proc is not None and proc.poll() is not None:
                log.error("the worker exited (%s) before consuming everything", proc.returncode)
            return False, seen
        if progress is not None:
            progress(seen)
        time.sleep(interval)


def worker_ready(web_port: int) -> bool:
    """Whether the worker whose web server is on ``web_port`` says it is ready
    (``/health?probe=ready``: in its group and not rebalancing, tables recovered, the
    catalogue, item facts and rules read to where they were at its start)."""
    url = f"http://127.0.0.1:{web_port}/health?probe=ready"
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(resp.status == 200)
    except OSError:  # not up yet, or 503: not ready
        return False


def cpu_seconds(pid: int) -> float | None:
    """User and system CPU time of process ``pid`` so far (Linux ``/proc``, what its
    ``process_cpu_seconds_total`` reads; else None)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def machine_cpu_seconds() -> float | None:
    """CPU seconds every process of the machine has used since boot, all cores together
    (Linux ``/proc/stat``: user, nice, system, irq and softirq time; else None)."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
        user, nice, system, _idle, _iowait, irq, softirq = (int(x) for x in fields[1:8])
    except (OSError, ValueError):
        return None
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def output_span(records: Sequence[Record]) -> tuple[float, float]:
    """First and last Kafka timestamp of ``records``, in seconds."""
    stamps = [r.timestamp for r in records]
    return min(stamps) / 1000.0, max(stamps) / 1000.0


async def produce(bootstrap: str, topic: str, messages: Sequence[tuple[bytes, bytes]]) -> float:
    """Produce (key, value) messages as fast as the producer goes; returns the seconds."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5,
                                max_batch_size=262144)
    await producer.start()
    start = time.perf_counter()
    try:
        for key, value in messages:
            await producer.send(topic, value, key=key)
        await producer.flush()
    finally:
        await producer.stop()
    return time.perf_counter() - start


async def end_offsets(bootstrap: str, topic: str, partitions: int) -> int:
    """Messages in ``topic`` (sum of the end offsets of its partitions)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in range(partitions)])
        return int(sum(ends.values()))
    finally:
        await consumer.stop()


async def read_records(bootstrap: str, topic: str, partitions: int, timeout: float = 60.0
                       ) -> list[Record]:
    """Every message in ``topic`` now, from the beginning, with a plain assigned consumer."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                auto_offset_reset="earliest", max_partition_fetch_bytes=4 << 20)
    await consumer.start()
    records: list[Record] = []
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        await consumer.seek_to_beginning(*tps)
        wanted = sum(ends.values())
        deadline = time.monotonic() + timeout
        while len(records) < wanted and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=200, max_records=10000)
            for messages in batches.values():
                records.extend(messages)
    finally:
        await consumer.stop()
    return records
