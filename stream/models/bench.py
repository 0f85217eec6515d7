"""In-process benchmark of the model path: updates plus a top-10 over a 10,000-item catalogue.

Run ``python -m stream.models.bench`` (``--help`` for the knobs); ``stream bench`` can call
:func:`run_model_bench`. No broker, no Faust: this is the cost of the models alone.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from stream.events import Interaction, Item
from stream.models.stack import StreamRecommender

__all__ = ["ModelBenchResult", "make_workload", "run_model_bench"]

_TOPICS = [
    "bank rates inflation market stocks budget tax trade jobs prices growth",
    "match goal league coach striker final cup season player stadium fans",
    "space planet telescope climate species study physics robot genome lab",
    "film album concert novel museum festival actor painting stage poet",
    "election vote party minister parliament campaign law court policy senate",
    "phone chip software startup cloud data privacy app network device",
    "recipe restaurant chef wine dinner kitchen taste menu bakery market",
    "storm flood heat rain weather forecast wind snow drought coast",
]


@dataclass(frozen=True, slots=True)
class ModelBenchResult:
    """What one benchmark run measured."""

    items: int
    users: int
    events: int
    batch: int
    recommendations: int
    seconds: float
    events_per_second: float
    microseconds_per_event: float
    per_event_seconds: float
    per_event_microseconds: float


def make_workload(n_items: int, n_users: int, n_events: int, seed: int = 0
                  ) -> tuple[list[Item], list[Interaction]]:
    """A news-site-like stream: Zipf item popularity, users with one or two favourite topics,
    about 60% impressions, 30% clicks and 10% reads."""
    rng = np.random.default_rng(seed)
    words = [t.split() for t in _TOPICS]
    topic_of = rng.integers(len(words), size=n_items)
    items = [
        Item(item_id=f"n{i}", title=" ".join(rng.choice(words[t], 5)),
             body=" ".join(rng.choice(words[t], 20)), tags=(_TOPICS[t].split()[0],),
             published_at=float(i % 1000))
        for i, t in enumerate(topic_of.tolist())
    ]
    by_topic = [np.flatnonzero(topic_of == t) for t in range(len(words))]
    zipf = [1.0 / np.arange(1, len(ids) + 1) ** 1.1 for ids in by_topic]
    zipf = [z / z.sum() for z in zipf]
    user_topic = rng.integers(len(words), size=n_users)
    users = rng.zipf(1.3, size=n_events) % n_users
    kinds = rng.random(n_events)
    events: list[Interaction] = []
    ts = 1000.0
    for n in range(n_events):
        ts += 0.01
        u = int(users[n])
        t = int(user_topic[u]) if rng.random() < 0.8 else int(rng.integers(len(words)))
        item = f"n{by_topic[t][rng.choice(len(by_topic[t]), p=zipf[t])]}"
        user = f"u{u}"
        if kinds[n] < 0.6:
            events.append(Interaction(f"e{n}", "impression", user, item, ts, position=0))
        elif kinds[n] < 0.9:
            events.append(Interaction(f"e{n}", "click", user, item, ts, position=0))
        else:
            events.append(Interaction(f"e{n}", "read", user, item, ts,
                                      dwell_seconds=float(rng.integers(5, 120))))
    return items, events


def run_model_bench(n_items: int = 10_000, n_users: int = 20_000, n_events: int = 20_000,
                    batch: int = 500, k: int = 10, per_event: int = 1000, seed: int = 0,
                    model: StreamRecommender | None = None) -> ModelBenchResult:
    """Time ``learn_many`` plus ``recommend_many`` (one top-``k`` per user with a click or
    read in the batch, as the worker publishes), and separately ``learn_one`` plus
    ``recommend`` for each of ``per_event`` clicks (the per-event latency)."""
    items, events = make_workload(n_items, n_users, n_events + per_event, seed)
    rec = model if model is not None else StreamRecommender()
    for item in items:
        rec.learn_item(item)
    warm, timed, single = (events[: n_events // 4], events[n_events // 4: n_events],
                           events[n_events:])
    rec.learn_many(warm)
    recommendations = 0
    start = time.perf_counter()
    for b in range(0, len(timed), batch):
        chunk = timed[b: b + batch]
        rec.learn_many(chunk)
        users = [e.user_id for e in chunk if e.type != "impression"]
        recommendations += len(rec.recommend_many(users, k, chunk[-1].ts))
    seconds = time.perf_counter() - start
    clicks = [e for e in single if e.type != "impression"]
    start = time.perf_counter()
    for event in clicks:
        rec.learn_one(event)
        rec.recommend(event.user_id, k, event.ts)
    per_event_seconds = time.perf_counter() - start
    return ModelBenchResult(
        items=n_items, users=n_users, events=len(timed), batch=batch,
        recommendations=recommendations, seconds=round(seconds, 3),
        events_per_second=round(len(timed) / seconds, 1),
        microseconds_per_event=round(seconds / len(timed) * 1e6, 1),
        per_event_seconds=round(per_event_seconds, 3),
        per_event_microseconds=round(per_event_seconds / max(len(clicks), 1) * 1e6, 1),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: print the figures of one run."""
    parser = argparse.ArgumentParser(prog="python -m stream.models.bench",
                                     description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--per-event", type=int, default=1000,
                        help="clicks timed one by one (learn_one + recommend)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    result = run_model_bench(args.items, args.users, args.events, args.batch,
                             per_event=args.per_event, seed=args.seed)
    for key, value in asdict(result).items():
        print(f"{key:>24}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
