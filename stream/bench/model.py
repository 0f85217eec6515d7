"""The pure model path of ``stream bench``: the recommender learning and ranking in batches as
the worker batches, one event at a time, and River's ``FunkMF`` on the same events."""

from __future__ import annotations

import cProfile
import io
import pstats
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stream.bench.workload import Workload
from stream.events import Interaction
from stream.models import StreamRecommender
from stream.settings import Settings

if TYPE_CHECKING:
    from stream.bench.runner import BenchConfig, Say

__all__ = ["measure_model"]


def _funk_targets(e: Interaction, dwell_full: float) -> list[tuple[str, float]]:
    """FunkMF's (item, rating) updates for one event: 1 for a click, 1 to 2 for a read by
    dwell, 0 for each item of an impression."""
    if e.type == "impression":
        return [(i, 0.0) for i in e.item_ids]
    if e.type == "read":
        return [(e.item_id, 1.0 + min((e.dwell_seconds or 0.0) / dwell_full, 1.0))]
    return [(e.item_id, 1.0)]


def measure_model(cfg: BenchConfig, work: Path, say: Say) -> dict[str, Any]:
    """``learn_many`` + ``recommend_many`` per batch as the worker batches, ``learn_one`` +
    ``recommend`` per event, and River's FunkMF ``learn_one`` on the same events; a cProfile
    of the batched path."""
    from river.reco import FunkMF

    settings = Settings()
    k, batch = settings.top_k, settings.batch_max
    workload = Workload(cfg.items, cfg.users, cfg.seed)
    rec = StreamRecommender(settings.recommender)
    t0 = 1_000_000.0
    say(f"model: learning {cfg.items:,} items")
    start = time.perf_counter()
    for item in workload.items(t0):
        rec.learn_item(item)
    item_seconds = time.perf_counter() - start
    n = cfg.model_events
    warm_n, per_event_n, profile_n = n // 5, max(n // 5, 1), max(n // 5, 1)
    all_events = [e.to_interaction(t0 + 60 + i * 0.01)
                  for i, e in enumerate(workload.events(warm_n + n + per_event_n + profile_n))]
    warm = all_events[:warm_n]
    timed = all_events[warm_n:warm_n + n]
    single = all_events[warm_n + n:warm_n + n + per_event_n]
    profiled = all_events[warm_n + n + per_event_n:]
    rec.learn_many(warm)

    def batched(events: list[Interaction]) -> int:
        recs = 0
        for b in range(0, len(events), batch):
            chunk = events[b:b + batch]
            rec.learn_many(chunk)
            users = [e.user_id for e in chunk if e.type != "impression"]
            recs += len(rec.recommend_many(users, k, chunk[-1].ts))
        return recs

    say(f"model: {n:,} events in batches of {batch:,} (learn_many + recommend_many)")
    start = time.perf_counter()
    recommendations = batched(timed)
    batched_seconds = time.perf_counter() - start

    say(f"model: {per_event_n:,} events one by one (learn_one + recommend)")
    start = time.perf_counter()
    singles = 0
    for e in single:
        rec.learn_one(e)
        if e.type != "impression":
            rec.recommend(e.user_id, k, e.ts)
            singles += 1
    single_seconds = time.perf_counter() - start

    say(f"model: River FunkMF learn_one on the same {n:,} events")
    funk = FunkMF(n_factors=10, seed=cfg.seed)
    updates = [(e.user_id, item_id, y) for e in timed
               for item_id, y in _funk_targets(e, settings.recommender.read_dwell_seconds_full)]
    start = time.perf_counter()
    for user_id, item_id, y in updates:
        funk.learn_one(user_id, item_id, y)  # type: ignore[no-untyped-call]
    funk_seconds = time.perf_counter() - start

    profiler = cProfile.Profile()
    profiler.enable()
    batched(profiled)
    profiler.disable()
    profiler.dump_stats(work / "model.prof")
    stats = pstats.Stats(profiler, stream=io.StringIO())
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in raw.values()) or 1.0

    def entry(func: tuple[str, int, str], v: tuple[Any, ...]) -> dict[str, Any]:
        return {"function": f"{func[2]} ({Path(func[0]).name}:{func[1]})", "calls": v[1],
                "own_seconds": round(v[2], 4), "own_share": round(v[2] / total, 4),
                "cumulative_seconds": round(v[3], 4), "cumulative_share": round(v[3] / total, 4)}

    profile = [entry(f, v) for f, v in sorted(raw.items(), key=lambda kv: -kv[1][2])[:15]]
    ours = [kv for kv in raw.items() if "/stream/" in kv[0][0]]
    profile_cumulative = [entry(f, v) for f, v in sorted(ours, key=lambda kv: -kv[1][3])[:12]]
    return {
        "items": cfg.items, "users": cfg.users, "events": n, "batch": batch, "k": k,
        "item_learn_per_second": round(cfg.items / item_seconds, 1),
        "batched": {
            "events_per_second": round(n / batched_seconds, 1),
            "recommendations": recommendations,
            "recommendations_per_second": round(recommendations / batched_seconds, 1),
        },
        "per_event": {
            "events": per_event_n, "recommendations": singles,
            "events_per_second": round(per_event_n / single_seconds, 1),
        },
        "funkmf": {
            "events_per_second": round(n / funk_seconds, 1),
            "updates": len(updates),
            "updates_per_second": round(len(updates) / funk_seconds, 1),
        },
        "profile": profile,
        "profile_cumulative": profile_cumulative,
        "profile_seconds": round(total, 3),
    }
