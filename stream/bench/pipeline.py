"""The worker's handling in process, for ``stream bench --only pipeline``: the same
:class:`~stream.feed.FeedPipeline` a worker runs (validation, dedupe, learning, lists,
checkpoints, the item facts applied), fed the throughput run's catalogue and interactions in
batches of a few sizes, without Kafka or Faust.

What a worker adds on top (Faust's ~60 µs per event, the broker's share of the cores) moves by
a third between runs on a small machine; this does not, so a change of a few percent in our
own code shows here first."""

from __future__ import annotations

import gc
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry

from stream.bench.workload import BenchEvent, Workload
from stream.feed import FeedPipeline
from stream.messages import Outgoing, RawMessage
from stream.metrics import Metrics
from stream.models import StreamRecommender
from stream.models.base import FeedModel
from stream.settings import Settings

if TYPE_CHECKING:
    from stream.bench.runner import BenchConfig, Say

__all__ = ["DEFAULT_BATCHES", "PIPELINE_STAGES", "EventClock", "TimedPipeline", "measure_pipeline",
           "replay"]

#: where a batch's time goes: the events validated, deduplicated and learned, with the
#: batch's item facts summed into records and the readers' profiles (*learning*); the touched
#: readers' lists made and serialised (*lists*); the users' checkpoints (*checkpoints*); the
#: batch's item fact records applied, as every worker applies every worker's (*facts*)
PIPELINE_STAGES = ("learning", "lists", "checkpoints", "facts")

#: the batch sizes measured by default: the worker's largest (a backlog), what it takes at
#: half its maximum throughput (the latency runs' batches there hold 35-50 events) and at a
#: few hundred events/s (6-8): a list costs several times more in a small batch, and that
#: is where the latency at moderate rates goes
DEFAULT_BATCHES = (8, 48, 1000)

#: seconds of event time between two interactions, as in the throughput run (whose worker
#: refreshes its topic lists every second of event time: here as often per event)
EVENT_GAP = 0.001


@dataclass
class EventClock:
    """The pipeline's clock: the event time of the batch being handled."""

    now: float

    def __call__(self) -> float:
        return self.now


class TimedPipeline(FeedPipeline):
    """A :class:`FeedPipeline` that adds the time spent making lists to ``lists_seconds``."""

    lists_seconds: float = 0.0

    def publish_lists(self, users: dict[str, tuple[float, float | None]]) -> list[Outgoing]:
        start = time.perf_counter()
        try:
            return super().publish_lists(users)
        finally:
            self.lists_seconds += time.perf_counter() - start


@dataclass
class _Run:
    """Seconds per stage of a replay, and what it produced."""

    seconds: dict[str, float] = field(
        default_factory=lambda: dict.fromkeys(PIPELINE_STAGES, 0.0))
    lists: int = 0
    batches: int = 0


def _messages(settings: Settings, events: Sequence[BenchEvent], t0: float
              ) -> tuple[list[RawMessage], list[float]]:
    """The interactions as the worker reads them in the throughput run (partition 0, in
    order, one every :data:`EVENT_GAP` s), and their times."""
    times = [t0 + n * EVENT_GAP for n in range(len(events))]
    return [RawMessage(settings.topic_interactions, 0, n, e.user_id.encode(), e.to_json(ts), ts)
            for n, (e, ts) in enumerate(zip(events, times, strict=True))], times


def replay(pipeline: TimedPipeline, clock: EventClock, messages: Sequence[RawMessage],
           times: Sequence[float], batch: int) -> _Run:
    """Handle ``messages`` in batches of ``batch`` as the worker does (handle, checkpoints,
    then the batch's item fact records read back and applied), each batch at the event time
    of its last event (``times``); returns the seconds of each stage."""
    run = _Run()
    settings = pipeline.settings
    facts_offset = 0
    tick = time.perf_counter
    for lo in range(0, len(messages), batch):
        chunk = messages[lo:lo + batch]
        clock.now = times[lo + len(chunk) - 1]
        lists_before = pipeline.lists_seconds
        t0 = tick()
        out = pipeline.handle_interactions(chunk)
        t1 = tick()
        pipeline.write_checkpoints()
        t2 = tick()
        facts = [RawMessage(m.topic, 0, facts_offset + j, m.key, m.value or b"", clock.now)
                 for j, m in enumerate(o for o in out if o.topic == settings.topic_item_facts)]
        facts_offset += len(facts)
        pipeline.learn_facts(facts)
        t3 = tick()
        lists = pipeline.lists_seconds - lists_before
        run.lists += sum(1 for o in out if o.topic == settings.topic_recommendations)
        run.batches += 1
        s = run.seconds
        s["lists"] += lists
        s["checkpoints"] += t2 - t1
        s["facts"] += t3 - t2
        s["learning"] += (t1 - t0) - lists
    return run


def _pipeline(settings: Settings, workload: Workload, t0: float
              ) -> tuple[TimedPipeline, EventClock]:
    """A worker's pipeline (default settings, a dict as its checkpoint store) with the
    workload's catalogue learned."""
    clock = EventClock(t0)
    models: dict[str, FeedModel] = {"default": StreamRecommender(settings.recommender)}
    pipeline = TimedPipeline(settings, models, Metrics(CollectorRegistry()), clock=clock,
                              user_store={})
    items = [RawMessage(settings.topic_items, 0, n, key, value, t0)
             for n, (key, value) in enumerate(workload.item_messages(t0 - 3600))]
    pipeline.handle_items(items)
    pipeline.learn_catalog(items)
    return pipeline, clock


def measure_pipeline(cfg: BenchConfig, say: Say) -> dict[str, Any]:
    """The worker's handling in process over ``cfg.items`` items and ``cfg.events``
    interactions (the throughput run's workload, every reader new at first), in batches of
    each of ``cfg.pipeline_batches``, each size with a pipeline of its own."""
    settings = Settings()
    workload = Workload(cfg.items, cfg.users, cfg.seed)
    t0 = 1_000_000.0
    events = list(workload.events(cfg.events))
    messages, times = _messages(settings, events, t0)
    out: dict[str, Any] = {"events": len(events), "items": cfg.items, "users": cfg.users,
                           "k": settings.top_k, "batches": []}
    for batch in sorted(set(cfg.pipeline_batches)):
        say(f"pipeline: {len(events):,} interactions in batches of {batch:,}, in process")
        start = time.perf_counter()
        pipeline, clock = _pipeline(settings, workload, t0)
        catalogue = time.perf_counter() - start
        gc.collect()
        start, cpu = time.perf_counter(), time.process_time()
        run = replay(pipeline, clock, messages, times, batch)
        seconds = time.perf_counter() - start
        cpu = time.process_time() - cpu
        n = max(len(events), 1)
        out["batches"].append({
            "batch": batch,
            "catalogue_seconds": round(catalogue, 2),
            "seconds": round(seconds, 3),
            "cpu_seconds": round(cpu, 3),
            "events_per_second": round(len(events) / seconds, 1) if seconds > 0 else None,
            "us_per_event": round(seconds / n * 1e6, 1),
            "stage_us_per_event": {k: round(v / n * 1e6, 1) for k, v in run.seconds.items()},
            "lists": run.lists,
            "handled_batches": run.batches,
        })
        del pipeline
        gc.collect()
    return out

