"""deploy/demo_producer.py, the simulated site of the compose stack, on a real broker: every
message it says it produced is on the topics, it reads lists back, and it stops when told."""

from __future__ import annotations

import asyncio
import importlib.util
import subprocess
import sys
import time
from collections import Counter
from types import ModuleType
from typing import Any

import orjson
import pytest

from stream.dev.broker import EmbeddedBroker
from tests.deploy.common import DEPLOY
from tests.helpers import produce, read_topics, unique_settings

pytestmark = [pytest.mark.integration]


def load_producer() -> ModuleType:
    spec = importlib.util.spec_from_file_location("demo_producer", DEPLOY / "demo_producer.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _json_object(record: Any) -> dict[str, Any]:
    """The record's value as a JSON object, or {} (the site sends malformed messages too)."""
    try:
        value = orjson.loads(record.value)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def test_everything_produced_is_on_the_topics(broker: EmbeddedBroker) -> None:
    settings = unique_settings(broker)
    producer = load_producer()
    produced: Counter[str] = asyncio.run(
        producer.produce_traffic(settings, rate=40.0, readers=30, seed=3, seconds=2.0)
    )
    assert produced["item"] >= 100, "the catalogue comes first"
    assert produced["click"] > 0 and produced["impression"] > 0
    total = sum(produced.values())
    topics = [settings.topic_items, settings.topic_interactions]
    records = asyncio.run(
        read_topics(broker.bootstrap, topics, settings.partitions, lambda r: len(r) >= total,
                    timeout=30)
    )
    assert len(records) == total
    items = [r for r in records if r.topic == settings.topic_items]
    assert len(items) == produced["item"]
    assert all(orjson.loads(r.value)["item_id"] == r.key.decode() for r in items)


def test_readers_are_shown_what_was_recommended(broker: EmbeddedBroker) -> None:
    """Lists published on the recommendations topic are what the simulated readers see next
    (their impressions), which is what lets live quality measure the lists."""
    settings = unique_settings(broker)
    producer = load_producer()
    readers = 5

    async def scenario() -> tuple[Counter[str], list[Any]]:
        stop = asyncio.Event()
        task = asyncio.create_task(
            producer.produce_traffic(settings, rate=50.0, readers=readers, seed=1,
                                     seconds=None, stop=stop)
        )
        # the catalogue is out once items appear; then publish a list for every reader
        catalogue = await read_topics(broker.bootstrap, [settings.topic_items],
                                      settings.partitions, lambda r: len(r) >= 100, timeout=30)
        chosen = [r.key.decode() for r in catalogue[:10]]
        await asyncio.sleep(1.0)  # the producer's consumer is positioned at the end by now
        lists = [
            (settings.topic_recommendations, f"reader-{i:04d}".encode(),
             orjson.dumps({"items": [{"item_id": item} for item in chosen]}))
            for i in range(readers)
        ]
        deadline = time.monotonic() + 20
        shown: list[Any] = []
        while time.monotonic() < deadline and not shown:
            await produce(broker.bootstrap, lists)
            records = await read_topics(broker.bootstrap, [settings.topic_interactions],
                                        settings.partitions, lambda r: False, timeout=1.0)
            # a random impression shares about one item with the list; a served one, all of
            # them but those the reader already clicked
            shown = [
                v for v in map(_json_object, records)
                if v.get("type") == "impression"
                and len(set(v.get("item_ids", [])) & set(chosen)) >= 8
            ]
        stop.set()
        return await task, shown

    produced, shown = asyncio.run(scenario())
    assert produced["impression"] > 0
    assert shown, "no reader was shown the list published to them"
    assert all(v["user_id"] in {f"reader-{i:04d}" for i in range(readers)} for v in shown)


def test_command_line_rejects_bad_options() -> None:
    proc = subprocess.run([sys.executable, str(DEPLOY / "demo_producer.py"), "--rate", "0"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "--rate must be > 0" in proc.stderr
