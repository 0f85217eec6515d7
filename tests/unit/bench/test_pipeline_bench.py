"""The in-process replay of ``stream bench --only pipeline``: it runs the worker's pipeline
as the worker does, so what it times is what a worker does with a batch."""

from __future__ import annotations

import orjson
from prometheus_client import CollectorRegistry

from stream.bench.pipeline import EventClock, TimedPipeline, measure_pipeline, replay
from stream.bench.runner import BenchConfig
from stream.bench.workload import Workload
from stream.events import interaction_json
from stream.messages import RawMessage
from stream.metrics import Metrics
from stream.models import StreamRecommender
from stream.settings import Settings

T0 = 1_000_000.0


def _pipeline(settings: Settings, workload: Workload
              ) -> tuple[TimedPipeline, EventClock, dict[bytes, bytes]]:
    clock = EventClock(T0)
    store: dict[bytes, bytes] = {}
    pipeline = TimedPipeline(settings, StreamRecommender(settings.recommender),
                            Metrics(CollectorRegistry()), clock=clock, user_store=store)
    items = [RawMessage(settings.topic_items, 0, n, k, v, T0)
             for n, (k, v) in enumerate(workload.item_messages(T0 - 3600))]
    pipeline.learn_catalog(items)
    return pipeline, clock, store


def test_replay_learns_checkpoints_and_applies_the_facts_of_every_batch() -> None:
    settings = Settings()
    workload = Workload(80, 30, 7)
    events = [e.to_interaction(T0 + 60 + i) for i, e in enumerate(workload.events(300))]
    messages = [RawMessage(settings.topic_interactions, 0, n, e.user_id.encode(),
                           orjson.dumps(interaction_json(e)), T0) for n, e in enumerate(events)]
    pipeline, clock, store = _pipeline(settings, workload)
    run = replay(pipeline, clock, messages, [e.ts for e in events], 40)
    assert run.batches == 8 and run.lists > 0
    assert clock.now == events[-1].ts  # each batch at the time of its last event
    # every reader of the events has a checkpoint, and each batch's facts were applied
    assert {e.user_id.encode() for e in events} == set(store)
    assert pipeline.facts_applied == {0: 299}  # up to the last event, record by record
    assert set(run.seconds) == {"learning", "lists", "checkpoints", "facts"}
    assert all(v > 0 for v in run.seconds.values())


def test_measure_pipeline_reports_each_batch_size_on_the_same_events() -> None:
    cfg = BenchConfig(events=240, items=60, users=20, pipeline_batches=(100, 9))
    result = measure_pipeline(cfg, lambda _: None)
    assert result["events"] == 240 and result["items"] == 60
    sizes = result["batches"]
    assert [b["batch"] for b in sizes] == [9, 100]
    assert [b["handled_batches"] for b in sizes] == [27, 3]
    for b in sizes:
        assert b["events_per_second"] > 0 and b["us_per_event"] > 0
        assert b["lists"] > 0
