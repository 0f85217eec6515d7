"""A worker on a real broker holds at most its user cap (plus what arrives between two
housekeeping sweeps): the users beyond it leave its memory and their checkpoints are
tombstoned in the users changelog, so a restarted worker does not bring them back."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from stream.dev.broker import EmbeddedBroker
from stream.models import ModelSettings
from tests.helpers import produce, read_topics, wait_metrics, worker_process, worker_settings
from tests.integration.test_worker_kafka import ITEMS, item_msg

pytestmark = [pytest.mark.integration, pytest.mark.slow]

USERS = 300
CAP = 50
GAP = 10.0  # seconds of event time between two users' visits
SWEEP = 600.0  # the model's housekeeping interval, in event time


def clicks(metrics: dict[str, float]) -> float:
    return metrics.get("stream_events_consumed_total{type=click}", 0.0)


def test_the_user_cap_bounds_the_worker_and_its_changelog(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    settings = worker_settings(broker, recommender=ModelSettings(user_cap=CAP),
                               lag_interval_seconds=0.3)
    start = time.time() - USERS * GAP - 60.0
    events: list[tuple[str, bytes, bytes]] = []
    for u in range(USERS):
        item = ITEMS[u % len(ITEMS)][0]
        event: dict[str, Any] = {"event_id": f"e{u}", "type": "click", "user_id": f"u{u}",
                                 "item_id": item, "ts": start + u * GAP}
        events.append((settings.topic_interactions, f"u{u}".encode(), orjson.dumps(event)))
    held: list[float] = []
    with worker_process(settings, tmp_path):
        asyncio.run(produce(broker.bootstrap, [item_msg(settings.topic_items, *it)
                                               for it in ITEMS]))
        wait_metrics(settings.metrics_port,
                     lambda m: m.get("stream_catalog_items_learned_total", 0) >= len(ITEMS))
        # in slices, watching how many users the worker holds as they pass
        for i in range(0, USERS, 30):
            asyncio.run(produce(broker.bootstrap, events[i:i + 30]))
            wait_metrics(settings.metrics_port,
                         lambda m, n=i + 30: clicks(m) >= n)
            time.sleep(0.4)  # one more gauge reading
            held.append(wait_metrics(settings.metrics_port, lambda m: True)
                        .get("stream_users_in_state", 0.0))
        last = wait_metrics(settings.metrics_port, lambda m: True)
    evicted = last.get("stream_users_evicted_total", 0.0)
    arrivals_per_sweep = SWEEP / GAP
    print(f"{USERS} users through a cap of {CAP}: held at most {max(held):.0f}, "
          f"evicted {evicted:.0f}")
    assert clicks(last) == USERS  # every click applied
    assert evicted >= USERS - CAP - arrivals_per_sweep
    assert 0 < max(held) <= CAP + arrivals_per_sweep
    # the changelog: the latest record of an evicted user is a tombstone
    topic = f"{settings.app_id}-users-changelog"
    latest: dict[str, bytes | None] = {}

    def settled(records: list[Any]) -> bool:
        latest.clear()
        for r in records:
            latest[r.key.decode()] = r.value
        live = sum(v is not None for v in latest.values())
        return len(latest) == USERS and live <= CAP + arrivals_per_sweep

    asyncio.run(read_topics(broker.bootstrap, [topic], settings.partitions, settled,
                            timeout=30))
    live = {k for k, v in latest.items() if v is not None}
    assert len(latest) == USERS, "every user was checkpointed once"
    assert len(live) <= CAP + arrivals_per_sweep
    assert len(latest) - len(live) == evicted  # every evicted user's checkpoint tombstoned
    # the most recent users are the ones kept
    assert f"u{USERS - 1}" in live
