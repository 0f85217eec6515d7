"""`stream broker` and `stream worker` as a user runs them, from an empty folder with default
settings but the port; plain Kafka clients talk to them; Ctrl-C stops both cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from stream.dev.broker import free_port, wait_for_port
from tests.helpers import produce, read_topics, wait_metrics

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_broker_and_worker_commands(tmp_path: Path) -> None:
    port, metrics, web = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAM_")}
    env.update({"STREAM_BROKER": f"kafka://127.0.0.1:{port}",
                "STREAM_METRICS_PORT": str(metrics), "STREAM_WEB_PORT": str(web),
                "STREAM_BROKER_SESSION_TIMEOUT": "3", "STREAM_BROKER_HEARTBEAT_INTERVAL": "1"})
    broker = subprocess.Popen([sys.executable, "-m", "stream", "broker", "--port", str(port)],
                              cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    worker = None
    try:
        wait_for_port("127.0.0.1", port, 30)
        time.sleep(1.0)  # the topics are created right after the port opens
        worker = subprocess.Popen([sys.executable, "-m", "stream", "worker"], cwd=tmp_path,
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wait_for_port("127.0.0.1", metrics, 60)
        bootstrap = f"127.0.0.1:{port}"
        now = time.time()
        asyncio.run(produce(bootstrap, [
            ("stream.items.v1", b"n1", orjson.dumps(
                {"item_id": "n1", "title": "Rates rise", "tags": ["economy"],
                 "published_at": now})),
            ("stream.items.v1", b"n2", orjson.dumps(
                {"item_id": "n2", "title": "Rates rise again", "tags": ["economy"],
                 "published_at": now})),
        ]))
        wait_metrics(metrics, lambda m: m.get("stream_catalog_items_learned_total", 0) >= 2)
        asyncio.run(produce(bootstrap, [
            ("stream.interactions.v1", b"alice", orjson.dumps(
                {"event_id": "e1", "type": "click", "user_id": "alice", "item_id": "n1",
                 "ts": now})),
            ("stream.interactions.v1", b"eve", b"garbage"),
        ]))
        got = asyncio.run(read_topics(bootstrap, ["stream.recommendations.v1",
                                                  "stream.interactions.v1.dlq"], 4,
                                      lambda r: len(r) >= 2, timeout=60))
    finally:
        for proc in (worker, broker):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        codes = [p.wait(30) for p in (worker, broker) if p is not None]
    out = broker.stdout.read() if broker.stdout else ""
    assert "keeps everything in memory" in out and "created 15 topics" in out
    assert "stream.rules.v1  (1 partition" in out
    assert "stream.item_facts.v1  (1 partition)" in out
    assert "stream.interactions.v1  (4 partitions)" in out
    assert codes == [0, 0]
    by_topic = {r.topic: r for r in got}
    rec = orjson.loads(by_topic["stream.recommendations.v1"].value)
    assert rec["user_id"] == "alice" and [i["item_id"] for i in rec["items"]] == ["n2"]
    dlq = by_topic["stream.interactions.v1.dlq"]
    assert dict(dlq.headers)["stream-dlq-reason"] == b"not_json" and dlq.value == b"garbage"
    assert (tmp_path / "var" / "stream").is_dir()  # the default data dir, made by the worker
