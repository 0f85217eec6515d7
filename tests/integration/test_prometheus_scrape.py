"""A real Prometheus server scrapes a running worker; PromQL over its HTTP API sees our series."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from stream.dev.broker import EmbeddedBroker, free_port, wait_for_port
from tests.helpers import produce, wait_metrics, worker_process, worker_settings
from tests.integration.test_worker_kafka import ITEMS, click_msg, item_msg

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def promql(port: int, query: str) -> list[dict[str, Any]]:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": query})
    with urllib.request.urlopen(url, timeout=5) as resp:
        answer = json.loads(resp.read())
    assert answer["status"] == "success", answer
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=2) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


def test_prometheus_scrapes_the_worker(broker: EmbeddedBroker, tmp_path: Path) -> None:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("the prometheus server is not installed (apt-get install prometheus)")
    settings = worker_settings(broker)
    prom_port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: stream\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{settings.metrics_port}']\n"
    )
    with worker_process(settings, tmp_path):
        messages = [item_msg(settings.topic_items, *it) for it in ITEMS]
        messages += [click_msg(settings.topic_interactions, f"c{i}", f"u{i}", "e1")
                     for i in range(5)]
        messages.append((settings.topic_interactions, b"bad", b"{broken"))
        asyncio.run(produce(broker.bootstrap, messages))
        wait_metrics(settings.metrics_port,
                     lambda m: m.get("stream_recommendations_published_total", 0) >= 5)
        with (tmp_path / "prometheus.log").open("wb") as log:
            prom = subprocess.Popen(
                [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                 f"--web.listen-address=127.0.0.1:{prom_port}"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        try:
            wait_for_port("127.0.0.1", prom_port, timeout=30)
            deadline = time.monotonic() + 60
            while not ready(prom_port):  # it answers 503 while it starts
                assert time.monotonic() < deadline, "Prometheus never became ready"
                time.sleep(0.3)
            published: list[dict[str, Any]] = []
            while time.monotonic() < deadline:
                published = promql(prom_port, "stream_recommendations_published_total")
                if published:
                    break
                time.sleep(0.5)
            assert published, "Prometheus never scraped the worker"
            assert float(published[0]["value"][1]) == 5.0
            dead = promql(prom_port,
                          'sum by (reason) (stream_events_dead_lettered_total) > 0')
            assert {(r["metric"]["reason"], float(r["value"][1])) for r in dead} == {
                ("not_json", 1.0)
            }
            up = promql(prom_port, 'up{job="stream"}')
            assert float(up[0]["value"][1]) == 1.0
            count = promql(prom_port, "stream_event_to_recommendation_latency_seconds_count")
            assert float(count[0]["value"][1]) == 5.0
            # the worker runs on uvloop, the default where it is installed
            build = promql(prom_port, "stream_build_info")
            assert build[0]["metric"]["event_loop"] == "uvloop"
        finally:
            prom.terminate()
            prom.wait(20)
