"""Recorded outputs: the model and the feed pipeline must keep giving, bit for bit, what they
gave when the files under ``golden/`` were written.

Two seeded runs of the benchmark's workload (catalogue, impressions, clicks, reads, and a few
forgotten readers):

* the model on its own, as ``stream evaluate`` runs it: every list (ids, scores, reasons) after
  each chunk of events, the scores of a few candidates, and a digest of its whole state;
* two workers' feed pipelines, each owning half the users and applying every worker's item
  facts in one order as the worker does: every message they produce and a digest of the
  checkpoints they write.

A change that is meant to alter results rewrites the files (``python -m
tests.unit.test_golden_outputs``) in a commit that says why; any other difference is a bug.

"Bit for bit" holds for one set of CPU kernels: the outputs are recorded, as they are compared,
with the AVX2 ones (:mod:`tests.kernels`).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
from prometheus_client import CollectorRegistry

from stream.bench.workload import Workload
from stream.events import Forget, Interaction, interaction_json
from stream.feed import FeedPipeline
from stream.messages import Outgoing, RawMessage
from stream.metrics import Metrics
from stream.models import StreamRecommender
from stream.settings import Settings
from tests.kernels import pinned, pinned_env

GOLDEN = Path(__file__).parent / "golden"
ROOT = Path(__file__).parents[2]
T0 = 1_000_000.0


def _digest(value: Any) -> str:
    return hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY)).hexdigest()


def _events(workload: Workload, n: int) -> list[Interaction | Forget]:
    events: list[Interaction | Forget] = [
        e.to_interaction(T0 + 60 + i * 0.5) for i, e in enumerate(workload.events(n))]
    # forgotten readers take popularity back (negative counts) and leave holes in co-visits
    for at in (n * 3 // 10, n * 6 // 10, n * 8 // 10):
        reader = events[at]
        events.insert(at, Forget(f"f{at}", reader.user_id, reader.ts))
    return events


def record_model() -> dict[str, Any]:
    """The standalone model: lists after each chunk, candidate scores, state digest."""
    model = StreamRecommender(Settings().recommender)
    workload = Workload(400, 150, seed=11)
    for item in workload.items(T0):
        model.learn_item(item)
    events = _events(workload, 3000)
    chunks = []
    for b in range(0, len(events), 200):
        chunk = events[b:b + 200]
        model.learn_many(chunk)
        users = [e.user_id for e in chunk if isinstance(e, Interaction) and e.type != "impression"]
        now = chunk[-1].ts
        lists = model.recommend_many(users, 10, now)
        chunks.append({u: [[r.item_id, r.score, r.reason] for r in recs]
                       for u, recs in lists.items()})
    candidates = [*[item.item_id for item in workload.items(T0)][:40], "never-seen"]
    now = events[-1].ts
    scores = {u: model.score(u, candidates, now).tolist()
              for u in sorted(model.users.index)[:20]}
    return {"lists": chunks, "scores": scores, "state": _digest(model.export_state()),
            "ranker_warm": model.stats.ranker.warm}


def _raw(topic: str, partition: int, offset: int, key: bytes | None, value: bytes
         ) -> RawMessage:
    return RawMessage(topic, partition, offset, key, value, T0)


def _message(out: Outgoing) -> list[Any]:
    """A produced message as JSON: its value parsed, or as text where it is not JSON (a
    dead letter's original bytes)."""
    value: Any = None
    if out.value is not None:
        try:
            value = orjson.loads(out.value)
        except orjson.JSONDecodeError:
            value = out.value.decode("utf-8", "replace")
    return [out.topic, None if out.key is None else out.key.decode(), value,
            [[k, v.decode()] for k, v in out.headers]]


def record_pipeline() -> dict[str, Any]:
    """Two workers' pipelines, sharing item facts as the worker does: every message they
    produce, in order, and a digest of their checkpoints."""
    settings = Settings()
    clock = [T0]
    stores: list[dict[bytes, bytes]] = [{}, {}]
    workers = [FeedPipeline(settings, StreamRecommender(settings.recommender),
                            Metrics(CollectorRegistry()), clock=lambda: clock[0],
                            user_store=store) for store in stores]
    workload = Workload(300, 120, seed=5)
    items = [_raw(settings.topic_items, 0, n, key, value)
             for n, (key, value) in enumerate(workload.item_messages(T0))]
    items.append(_raw(settings.topic_items, 0, len(items), b"bad", b"{not json"))
    produced: list[list[Any]] = []
    for worker in workers:
        produced += [_message(o) for o in worker.handle_items(items)]
        worker.learn_catalog(items)
    events = _events(workload, 2000)
    offsets = [0, 0]
    facts_offset = 0
    for b in range(0, len(events), 100):
        clock[0] = events[min(b + 99, len(events) - 1)].ts
        batches: list[list[RawMessage]] = [[], []]
        for event in events[b:b + 100]:
            part = int(hashlib.sha256(event.user_id.encode()).hexdigest(), 16) % 2
            value = orjson.dumps(interaction_json(event))
            batches[part].append(_raw(settings.topic_interactions, part, offsets[part],
                                      event.user_id.encode(), value))
            offsets[part] += 1
        facts: list[RawMessage] = []
        for part, worker in enumerate(workers):
            out = worker.handle_interactions(batches[part])
            worker.write_checkpoints()
            produced += [_message(o) for o in out if o.topic != settings.topic_item_facts]
            for o in out:
                if o.topic == settings.topic_item_facts:
                    facts.append(_raw(o.topic, 0, facts_offset, o.key, o.value or b""))
                    facts_offset += 1
                    # (their facts in full would be most of the file: a digest of them)
                    produced.append([o.topic, _digest(_message(o))])
        for worker in workers:
            worker.learn_facts(facts)
    checkpoints = [_digest(sorted((k.decode(), v.hex()) for k, v in store.items()))
                   for store in stores]
    return {"produced": produced, "checkpoints": checkpoints}


def _golden(name: str) -> Any:
    return orjson.loads((GOLDEN / f"{name}.json").read_bytes())


def test_the_model_gives_what_it_gave() -> None:
    got, want = record_model(), _golden("model")
    assert got["ranker_warm"]  # the ranker's scores were compared, not only the prior's
    assert sum(len(recs) for c in got["lists"] for recs in c.values()) > 1000
    for n, (a, b) in enumerate(zip(got["lists"], want["lists"], strict=True)):
        assert a == b, f"chunk {n}"
    assert got["scores"] == want["scores"]
    assert got["state"] == want["state"]


def test_the_feed_pipeline_gives_what_it_gave() -> None:
    got, want = record_pipeline(), _golden("pipeline")
    assert len(got["produced"]) == len(want["produced"])
    for n, (a, b) in enumerate(zip(got["produced"], want["produced"], strict=True)):
        assert a == b, f"message {n}"
    assert got["checkpoints"] == want["checkpoints"]


if __name__ == "__main__":  # rewrite the recorded outputs (say why in the commit)
    if not pinned():  # again, with the kernels the tests compare with
        sys.exit(subprocess.run([sys.executable, "-m", "tests.unit.test_golden_outputs"],
                                cwd=ROOT, env=pinned_env(), check=False).returncode)
    GOLDEN.mkdir(exist_ok=True)
    for name, record in (("model", record_model), ("pipeline", record_pipeline)):
        (GOLDEN / f"{name}.json").write_bytes(orjson.dumps(record()) + b"\n")
        print(f"wrote {GOLDEN / name}.json", file=sys.stderr)
