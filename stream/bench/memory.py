"""The worker's memory per user, measured in a process of its own:
``python -m stream.bench.memory --users N`` prints one JSON line (see :func:`worker_memory`).

Everything the worker keeps per user is in the process, built as ``stream worker`` builds it
(a model per A/B variant, a :class:`~stream.feed.FeedPipeline` that shares item
statistics through item facts) with the worker's own users table,
:class:`~stream.agents.common.DurableTable`, over a Faust memory store (``store="memory://"``,
the default) whose changelog is counted instead of sent: raw interaction messages are fed in
batches through ``handle_interactions``, the item facts it publishes come back through
``learn_facts``, and ``write_checkpoints`` runs after each batch, its writes awaited, as in
the worker. Only the broker and the output messages are missing.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import time
import zlib
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import orjson
from prometheus_client import CollectorRegistry

from stream.agents.common import DurableTable
from stream.bench.workload import Workload
from stream.feed import FeedPipeline
from stream.messages import RawMessage
from stream.metrics import Metrics
from stream.models import StreamRecommender
from stream.settings import Settings

__all__ = ["deep_size", "main", "peak_rss_bytes", "reset_peak_rss", "rss_bytes",
           "worker_memory"]

#: the first event time of the run (any fixed time: the model only sees differences)
T0 = 1_000_000_000.0


def _status(field: str) -> int:
    """A ``VmRSS``/``VmHWM`` figure of this process in bytes (Linux); ``ru_maxrss``
    elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def rss_bytes() -> int:
    """Resident memory of this process now."""
    return _status("VmRSS")


def peak_rss_bytes() -> int:
    """The most resident memory of this process since it started or since
    :func:`reset_peak_rss`."""
    return _status("VmHWM")


def reset_peak_rss() -> bool:
    """Restart :func:`peak_rss_bytes` from the memory resident now (Linux 4.0 and later);
    returns whether it could."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def deep_size(root: object, seen: set[int]) -> int:
    """Bytes of ``root`` and every object it reaches that is not in ``seen`` (ids; updated):
    containers, strings, numbers, numpy arrays (with the data they own) and the attributes
    of plain objects. Classes, modules and functions are not followed."""
    total = 0
    todo = [root]
    while todo:
        obj = todo.pop()
        key = id(obj)
        if key in seen:
            continue
        seen.add(key)
        if isinstance(obj, (type, ModuleType)) or callable(obj):
            continue
        total += sys.getsizeof(obj)
        if isinstance(obj, (str, bytes, bytearray, int, float, complex, np.generic)):
            continue
        if isinstance(obj, np.ndarray):
            if obj.base is not None:
                todo.append(obj.base)
            continue
        if isinstance(obj, dict):
            todo.extend(obj.keys())
            todo.extend(obj.values())
        elif isinstance(obj, (list, tuple, set, frozenset, deque)):
            todo.extend(obj)
        else:
            attrs = getattr(obj, "__dict__", None)
            if attrs is not None:
                todo.append(attrs)
            for cls in type(obj).__mro__:
                for slot in getattr(cls, "__slots__", ()):
                    if slot not in ("__dict__", "__weakref__") and hasattr(obj, slot):
                        todo.append(getattr(obj, slot))
    return total


class _CountedChangelog:
    """What :class:`~stream.agents.common.DurableTable` uses of a Faust table: the local store
    (what recovery read; empty here, as in a worker that started with an empty changelog)
    and a changelog that counts the checkpoints written instead of sending them."""

    def __init__(self, delivered: asyncio.Future[None]) -> None:
        self.data: dict[bytes, bytes] = {}
        self.delivered = delivered
        self.writes = 0
        self.bytes_written = 0

    def get(self, key: bytes, default: None = None) -> bytes | None:
        return self.data.get(key, default)

    def send_changelog(self, partition: int | None, key: bytes, value: bytes | None,
                       value_serializer: str | None = None) -> asyncio.Future[None]:
        if value is not None:
            self.writes += 1
            self.bytes_written += len(value)
        return self.delivered


def _breakdown(pipeline: FeedPipeline, models: dict[str, StreamRecommender],
               users_table: dict[bytes, bytes]) -> dict[str, int]:
    """Bytes held per kind of per-user state, each object counted once: the models' user
    state first (so user id strings count there), item ids as the catalogue's."""
    seen: set[int] = set()
    for model in models.values():
        seen.update(id(i) for i in model.pool.catalog.ids)
    seen.update(id(v) for v in models)
    model_bytes = 0
    for model in models.values():
        model_bytes += deep_size(model.users, seen) + deep_size(model.learner.impressions, seen)
    return {
        "model": model_bytes,
        "dedupe_windows": deep_size(pipeline.applied, seen),
        "checkpoints": deep_size(users_table, seen),
        "last_lists": deep_size(pipeline.last_lists, seen),
    }


def _models(settings: Settings) -> dict[str, StreamRecommender]:
    """One model per A/B variant, as the worker builds them."""
    return {name: StreamRecommender(knobs) for name, knobs in settings.variant_models().items()}


def worker_memory(n_users: int, n_items: int, events_per_user: float, seed: int,
                  user_cap: int | None = None, event_gap: float = 0.01,
                  samples: int = 60, say: Callable[[str], None] | None = None
                  ) -> dict[str, Any]:
    """Feed ``n_users * events_per_user`` interactions of :meth:`Workload.events
    <stream.bench.workload.Workload.events>` (visits of each of ``n_users`` readers in turn:
    an impression of ten items, maybe a click, maybe a read) through the worker's pipeline,
    one event every ``event_gap`` seconds of event time, and measure resident memory.

    Returns the RSS growth per user held at the end and its breakdown (bytes measured per
    kind of state; ``other``: the rest of the growth, mostly allocator overhead), and the RSS
    every ``n_events / samples`` events. ``user_cap`` overrides the setting (users beyond it
    are evicted by the models' housekeeping, every ``housekeeping_interval`` of event time)."""
    settings = Settings()
    if user_cap is not None:
        settings = settings.model_copy(update={
            "recommender": settings.recommender.model_copy(update={"user_cap": user_cap})})
    loop = asyncio.new_event_loop()
    delivered: asyncio.Future[None] = loop.create_future()
    delivered.set_result(None)
    changelog = _CountedChangelog(delivered)
    users_table = DurableTable(changelog, settings.changelog("users"))
    now = [T0]
    models = _models(settings)
    pipeline = FeedPipeline(settings, dict(models), Metrics(CollectorRegistry()),
                            clock=lambda: now[0], user_store=users_table)
    workload = Workload(n_items, max(n_users, 1), seed)
    s = settings
    items = workload.item_messages(T0 - 3600.0)
    pipeline.learn_catalog([RawMessage(s.topic_items, 0, i, k, v, T0)
                            for i, (k, v) in enumerate(items)])
    del items
    gc.collect()
    before = rss_bytes()
    n_events = round(n_users * events_per_user)
    every = max(n_events // max(samples, 1), 1)
    curve: list[dict[str, float]] = []
    facts_offset = 0
    batch: list[RawMessage] = []
    model = next(iter(models.values()))

    def sample(done: int) -> None:
        curve.append({"events": done, "users": len(model.users), "rss_mib":
                      round(rss_bytes() / 2**20, 1)})
        if say is not None:
            say(f"{done:,} of {n_events:,} events, {len(model.users):,} users held, "
                f"RSS {curve[-1]['rss_mib']:,.0f} MiB")

    def run(batch: list[RawMessage]) -> None:
        nonlocal facts_offset
        out = pipeline.handle_interactions(batch)
        facts = [RawMessage(o.topic, 0, facts_offset + j, o.key, o.value, now[0])
                 for j, o in enumerate(out) if o.topic == s.topic_item_facts]
        facts_offset += len(facts)
        pipeline.learn_facts(facts)
        pipeline.write_checkpoints()
        loop.run_until_complete(users_table.flush())

    start = time.perf_counter()
    for i, e in enumerate(workload.events(n_events, users=n_users)):
        ts = T0 + i * event_gap
        key = e.user_id.encode()
        batch.append(RawMessage(s.topic_interactions, zlib.crc32(key) % s.partitions, i, key,
                                e.to_json(ts), ts))
        if len(batch) >= s.batch_max:
            now[0] = ts
            run(batch)
            batch = []
        if (i + 1) % every == 0:
            sample(i + 1)
    if batch:
        run(batch)
    seconds = time.perf_counter() - start
    gc.collect()
    after = rss_bytes()
    held = len(model.users)
    if not curve or curve[-1]["events"] != n_events:
        sample(n_events)
    loop.close()
    parts = _breakdown(pipeline, models, changelog.data)
    growth = after - before
    parts["other"] = growth - sum(parts.values())
    per_user = {k: round(v / max(held, 1), 1) for k, v in parts.items()}
    return {
        "users": held, "users_fed": n_users, "user_cap": settings.recommender.user_cap,
        "events": n_events, "items": n_items, "event_gap_s": event_gap,
        "housekeeping_interval_s": model.settings.housekeeping_interval_seconds,
        "rss_before_mib": round(before / 2**20, 1), "rss_after_mib": round(after / 2**20, 1),
        "rss_peak_mib": round(peak_rss_bytes() / 2**20, 1),
        "bytes_per_user": round(growth / max(held, 1), 1),
        "breakdown_bytes_per_user": per_user,
        "checkpoints_written": changelog.writes,
        "checkpoint_mean_bytes": round(changelog.bytes_written / changelog.writes, 1)
        if changelog.writes else 0.0,
        "seconds": round(seconds, 1), "events_per_second": round(n_events / seconds, 1),
        "rss_curve": curve,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Measure one size and print the result as one JSON line (progress on stderr)."""
    parser = argparse.ArgumentParser(prog="python -m stream.bench.memory")
    parser.add_argument("--users", type=int, required=True)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--events-per-user", type=float, default=3.0)
    parser.add_argument("--user-cap", type=int, default=None)
    parser.add_argument("--event-gap", type=float, default=0.01,
                        help="seconds of event time between two events")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    started = time.monotonic()

    def say(text: str) -> None:
        print(f"[{time.monotonic() - started:7.1f}s] {text}", file=sys.stderr, flush=True)

    result = worker_memory(args.users, args.items, args.events_per_user, args.seed,
                           user_cap=args.user_cap, event_gap=args.event_gap, say=say)
    print(orjson.dumps(result).decode())  # the CLI's own output: one JSON line
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
