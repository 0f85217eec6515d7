"""The worker's HTTP views on a real broker: lists with reasons, health, metrics, clear errors."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from stream.dev.broker import EmbeddedBroker
from tests.helpers import produce, wait_metrics, worker_process, worker_settings
from tests.integration.test_worker_kafka import ITEMS, click_msg, item_msg

pytestmark = [pytest.mark.integration]


def get(port: int, path: str) -> tuple[int, Any, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
            body = resp.read().decode()
            return resp.status, resp.headers.get("Content-Type", ""), body
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Content-Type", ""), err.read().decode()


def wait_ready(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if get(port, "/health")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError("the worker never became ready")


def test_views(broker: EmbeddedBroker, tmp_path: Path) -> None:
    settings = worker_settings(broker)
    port = settings.web_port
    with worker_process(settings, tmp_path):
        wait_ready(port)
        status, _, body = get(port, "/health?probe=live")
        assert status == 200 and json.loads(body) == {"live": True, "ready": True}
        assert get(port, "/health?probe=sideways")[0] == 400

        asyncio.run(produce(broker.bootstrap, [item_msg(settings.topic_items, *it)
                                               for it in ITEMS]))
        wait_metrics(settings.metrics_port,
                     lambda m: m.get("stream_catalog_items_learned_total", 0) >= len(ITEMS))
        asyncio.run(produce(broker.bootstrap,
                            [click_msg(settings.topic_interactions, "c1", "alice", "e1")]))
        wait_metrics(settings.metrics_port,
                     lambda m: m.get("stream_recommendations_published_total", 0) >= 1)

        status, ctype, body = get(port, "/users/alice/recommendations")
        assert status == 200 and ctype.startswith("application/json"), body
        answer = json.loads(body)
        assert answer["user_id"] == "alice" and answer["variant"] == "default"
        ids = [i["item_id"] for i in answer["items"]]
        assert "e1" not in ids and set(ids[:2]) == {"e2", "e3"}
        assert all(i["reason"] for i in answer["items"])
        assert answer["last_published"][:2] == ids[:2]

        status, ctype, body = get(port, "/users/nobody/recommendations")
        assert status == 404 and ctype.startswith("application/json")
        assert "nobody" in json.loads(body)["error"]
        status, _, body = get(port, "/users/" + "x" * 300 + "/recommendations")
        assert status == 400 and json.loads(body)["status"] == 400
        assert get(port, "/items/e1/sentiment")[0] == 404

        status, ctype, body = get(port, "/metrics")
        assert status == 200 and ctype.startswith("text/plain")
        assert "stream_recommendations_published_total 1.0" in body
        assert "process_resident_memory_bytes" in body
