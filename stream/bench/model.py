"""The pure model path of ``stream bench``: the worker's model path (learning, retrieval,
ranking) per batch, timed stage by stage over catalogues of several sizes with the same
events; at the smallest size also one event at a time, River's ``FunkMF`` on the same events
and a cProfile of the batched path."""

from __future__ import annotations

import cProfile
import gc
import io
import pstats
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stream.bench.memory import peak_rss_bytes, reset_peak_rss, rss_bytes
from stream.bench.model_report import facts_cost_model
from stream.bench.workload import Workload
from stream.events import Interaction, Item
from stream.models import StreamRecommender
from stream.settings import Settings

if TYPE_CHECKING:
    from stream.bench.runner import BenchConfig, Say

__all__ = ["STAGES", "measure_model"]

#: the stages of the worker's model path, in the order a batch runs them: the events
#: learned, the batch's item facts applied (what every worker of a cluster does with every
#: other worker's batches too), the candidates found, the lists ranked
STAGES = ("learning", "facts", "retrieval", "ranking")

#: items generated and learned at a time while a catalogue is built (only the learning is
#: timed, and a million generated items are never held at once)
_CHUNK = 10_000

_MIB = 2**20


@dataclass
class _Split:
    """Seconds spent in each stage, and the lists made."""

    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    lists: int = 0


def _funk_targets(e: Interaction, dwell_full: float) -> list[tuple[str, float]]:
    """FunkMF's (item, rating) updates for one event: 1 for a click, 1 to 2 for a read by
    dwell, 0 for each item of an impression."""
    if e.type == "impression":
        return [(i, 0.0) for i in e.item_ids]
    if e.type == "read":
        return [(e.item_id, 1.0 + min((e.dwell_seconds or 0.0) / dwell_full, 1.0))]
    return [(e.item_id, 1.0)]


def _worker_batches(rec: StreamRecommender, events: list[Interaction], batch: int, k: int,
                   split: _Split | None = None) -> int:
    """The worker's model path over ``events`` in batches of ``batch``; returns the lists
    made. Per batch: the batch prepared, each event learned with ``learn_one_sharing`` (then
    ``settle``) and
    the batch's item facts summed per item into one record (*learning*), the record applied
    (*facts*), then the top ``k`` of
    every user with a click or read in it, in the ranker's two stages (*retrieval*,
    *ranking*). With
    ``split``, each stage is timed into it."""
    clock = time.perf_counter
    lists = 0
    for b in range(0, len(events), batch):
        chunk = events[b:b + batch]
        t0 = clock()
        rec.prepare(chunk)
        for e in chunk:
            rec.learn_one_sharing(e)
        rec.settle()
        record = rec.record_facts(rec.drain_facts())
        t1 = clock()
        rec.apply_records([record])
        t2 = clock()
        users = [e.user_id for e in chunk if e.type != "impression"]
        retrieved = rec.lists.retrieve(users, k, chunk[-1].ts)
        t3 = clock()
        lists += len(rec.lists.rank(retrieved, k))
        if split is not None:
            seconds = split.seconds
            seconds["learning"] += t1 - t0
            seconds["facts"] += t2 - t1
            seconds["retrieval"] += t3 - t2
            seconds["ranking"] += clock() - t3
    if split is not None:
        split.lists += lists
    return lists


def _build(workload: Workload, n_items: int, published_at: float, say: Say,
           covisited: int = 0) -> tuple[StreamRecommender, dict[str, Any]]:
    """A model of the worker's settings with a catalogue of ``n_items`` learned through
    ``learn_item``, and what that took (time, resident memory, item-level arrays).

    Co-visitation gets rows for the first ``covisited`` items at once: its table grows as
    items are co-visited, by doubling, and the first growth to the items the events read
    (a 50 MB allocation at 10,000, its pages touched for the first time in the process)
    is a cost of a worker's first minutes, not of each batch: timed, it doubled the facts
    stage of the first catalogue measured and of no other."""
    settings = Settings().recommender
    # the cap would cut a larger catalogue at the first sweep; this measures the catalogue
    cap = max(settings.item_cap, n_items)
    rec = StreamRecommender(settings.model_copy(update={"item_cap": cap}))
    # the Chinese segmenter loads its dictionary on first use: a cost of starting, not of
    # the items (terms() counts nothing)
    rec.pool.tfidf.terms("新闻")
    gc.collect()
    before = rss_bytes()
    items: Iterator[Item] = workload.catalogue(n_items, published_at)
    seconds, done = 0.0, 0
    while chunk := list(islice(items, _CHUNK)):
        start = time.perf_counter()
        for item in chunk:
            rec.learn_item(item)
        seconds += time.perf_counter() - start
        done += len(chunk)
        if done % (10 * _CHUNK) == 0 and done < n_items:
            say(f"model: {done:,} of {n_items:,} items learned")
    del chunk
    rec.stats.covisit.ensure_capacity(covisited)
    gc.collect()
    after = rss_bytes()
    return rec, {
        "items": n_items, "item_cap": cap,
        "item_learn_seconds": round(seconds, 2),
        "item_learn_per_second": round(n_items / seconds, 1),
        "rss_before_catalogue_mib": round(before / _MIB, 1),
        "rss_after_catalogue_mib": round(after / _MIB, 1),
        "state": _item_state(rec, n_items),
    }


def _item_state(rec: StreamRecommender, n_items: int) -> dict[str, float]:
    """The largest item-level arrays, MiB, as allocated; co-visitation also as it would be
    with a row for every item (its rows grow only as items are co-visited, and the bench's
    events name few of them)."""
    covisit = rec.stats.covisit
    slot = covisit.nbr.itemsize + covisit.weight.itemsize
    return {
        "content_vectors_mib": round(rec.pool.catalog.vectors.nbytes / _MIB, 1),
        "covisit_rows": covisit.nbr.shape[0],
        "covisit_mib": round((covisit.nbr.nbytes + covisit.weight.nbytes) / _MIB, 1),
        "covisit_every_item_mib": round(n_items * covisit.neighbors * slot / _MIB, 1),
    }


def _timed(rec: StreamRecommender, warm: list[Interaction], timed: list[Interaction],
           batch: int, k: int) -> dict[str, Any]:
    """Warm the model up on ``warm``, then run ``timed`` stage by stage."""
    _worker_batches(rec, warm, batch, k)
    split = _Split()
    peak_known = reset_peak_rss()
    start, cpu = time.perf_counter(), time.process_time()
    _worker_batches(rec, timed, batch, k, split)
    seconds = time.perf_counter() - start
    # CPU time next to the wall clock: on a busy machine, how much of the wait was ours
    cpu = time.process_time() - cpu
    staged = sum(split.seconds.values()) or 1.0
    return {
        "events_per_second": round(len(timed) / seconds, 1),
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu, 3),
        "recommendations": split.lists,
        "recommendations_per_second": round(split.lists / seconds, 1),
        "stage_seconds": {s: round(v, 3) for s, v in split.seconds.items()},
        "stage_shares": {s: round(v / staged, 4) for s, v in split.seconds.items()},
        "rss_peak_mib": round(peak_rss_bytes() / _MIB, 1) if peak_known else None,
    }


def _one_by_one(rec: StreamRecommender, events: list[Interaction], k: int) -> dict[str, Any]:
    """``learn_one`` + ``recommend`` per event (a worker without batches)."""
    start = time.perf_counter()
    lists = 0
    for e in events:
        rec.learn_one(e)
        if e.type != "impression":
            rec.recommend(e.user_id, k, e.ts)
            lists += 1
    seconds = time.perf_counter() - start
    return {"events": len(events), "recommendations": lists,
            "events_per_second": round(len(events) / seconds, 1)}


def _funkmf(events: list[Interaction], dwell_full: float, seed: int) -> dict[str, Any]:
    """River's FunkMF ``learn_one`` on the same events."""
    from river.reco import FunkMF

    funk = FunkMF(n_factors=10, seed=seed)
    updates = [(e.user_id, item_id, y) for e in events
               for item_id, y in _funk_targets(e, dwell_full)]
    start = time.perf_counter()
    for user_id, item_id, y in updates:
        funk.learn_one(user_id, item_id, y)  # type: ignore[no-untyped-call]
    seconds = time.perf_counter() - start
    return {"events_per_second": round(len(events) / seconds, 1), "updates": len(updates),
            "updates_per_second": round(len(updates) / seconds, 1)}


def _profile(rec: StreamRecommender, events: list[Interaction], batch: int, k: int,
             work: Path) -> dict[str, Any]:
    """A cProfile of :func:`_worker_batches` (saved as ``model.prof``): the top functions by
    own time, and ours by cumulative time."""
    profiler = cProfile.Profile()
    profiler.enable()
    _worker_batches(rec, events, batch, k)
    profiler.disable()
    profiler.dump_stats(work / "model.prof")
    stats = pstats.Stats(profiler, stream=io.StringIO())
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in raw.values()) or 1.0

    def entry(func: tuple[str, int, str], v: tuple[Any, ...]) -> dict[str, Any]:
        return {"function": f"{func[2]} ({Path(func[0]).name}:{func[1]})", "calls": v[1],
                "own_seconds": round(v[2], 4), "own_share": round(v[2] / total, 4),
                "cumulative_seconds": round(v[3], 4), "cumulative_share": round(v[3] / total, 4)}

    ours = [kv for kv in raw.items() if "/stream/" in kv[0][0]]
    return {
        "profile": [entry(f, v) for f, v in sorted(raw.items(), key=lambda kv: -kv[1][2])[:15]],
        "profile_cumulative": [entry(f, v)
                               for f, v in sorted(ours, key=lambda kv: -kv[1][3])[:12]],
        "profile_seconds": round(total, 3),
    }


def measure_model(cfg: BenchConfig, work: Path, say: Say) -> dict[str, Any]:
    """The worker's model path (:func:`_worker_batches`) over a catalogue of each size of
    ``cfg.model_items``, with the same events at every size; at the smallest, also one event
    at a time, River's FunkMF on the same events and a cProfile of the batched path.

    The events come from a workload of the smallest catalogue, and each larger catalogue
    is that one grown by the same generator (:meth:`Workload.catalogue`): every item the
    events name exists at every size, and the rest is the long tail of a larger site."""
    settings = Settings()
    k, batch = settings.top_k, settings.batch_max
    sizes = sorted(set(cfg.model_items))
    workload = Workload(sizes[0], cfg.users, cfg.seed)
    t0 = 1_000_000.0
    n = cfg.model_events
    warm_n, per_event_n, profile_n = n // 5, max(n // 5, 1), max(n // 5, 1)
    all_events = [e.to_interaction(t0 + 60 + i * 0.01)
                  for i, e in enumerate(workload.events(warm_n + n + per_event_n + profile_n))]
    warm = all_events[:warm_n]
    timed = all_events[warm_n:warm_n + n]
    single = all_events[warm_n + n:warm_n + n + per_event_n]
    profiled = all_events[warm_n + n + per_event_n:]
    out: dict[str, Any] = {"users": cfg.users, "events": n, "warm_events": warm_n,
                           "batch": batch, "k": k, "items": sizes[0], "sizes": []}
    for size in sizes:
        say(f"model: learning {size:,} items")
        rec, found = _build(workload, size, t0, say, covisited=sizes[0])
        say(f"model: {n:,} events over {size:,} items in batches of {batch:,} "
            f"(learning, retrieval, ranking), {found['item_learn_per_second']:,.0f} items/s "
            f"learned, RSS {found['rss_after_catalogue_mib']:,.0f} MiB")
        found.update(_timed(rec, warm, timed, batch, k))
        out["sizes"].append(found)
        if size == sizes[0]:
            say(f"model: {per_event_n:,} events one by one (learn_one + recommend)")
            out["per_event"] = _one_by_one(rec, single, k)
            say(f"model: River FunkMF learn_one on the same {n:,} events")
            out["funkmf"] = _funkmf(timed, settings.recommender.read_dwell_seconds_full,
                                    cfg.seed)
            out.update(_profile(rec, profiled, batch, k, work))
        del rec
        gc.collect()
    out["facts_cost"] = facts_cost_model(out["sizes"][0], n)
    return out
