"""Every metric the Grafana dashboard and the alert rules read exists on a running worker's
/metrics, after the worker has seen clicks, comments, labels and bad events."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from stream.dev.broker import EmbeddedBroker
from tests.deploy.common import ROOT, load_yaml
from tests.deploy.metric_names import promql_metric_names
from tests.helpers import produce, wait_metrics, worker_process, worker_settings
from tests.integration.test_worker_kafka import ITEMS, click_msg, item_msg

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def exprs_in(node: Any) -> list[str]:
    """Every ``expr`` string in a JSON/YAML tree."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "expr" and isinstance(value, str):
                found.append(value)
            else:
                found.extend(exprs_in(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(exprs_in(value))
    return found


def series_names(text: str) -> set[str]:
    names = set()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            names.add(sample.name)
    return names


def test_every_metric_the_deploy_files_use_is_exported(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    dashboard = json.loads((ROOT / "deploy/grafana/dashboards/stream.json").read_text())
    rules = load_yaml(ROOT / "deploy/prometheus/alerts.yml")
    recorded = {r["record"] for g in rules["groups"] for r in g["rules"] if "record" in r}
    used: set[str] = set()
    for expr in exprs_in(dashboard) + exprs_in(rules):
        used |= promql_metric_names(expr)
    used -= recorded  # made by Prometheus from our series
    used.discard("up")  # set by Prometheus for every target
    assert len(used) >= 10

    settings = worker_settings(broker, lag_interval_seconds=0.5)
    now = time.time()
    with worker_process(settings, tmp_path):
        asyncio.run(produce(broker.bootstrap, [item_msg(settings.topic_items, *it)
                                               for it in ITEMS]))
        wait_metrics(settings.metrics_port,
                     lambda m: m.get("stream_catalog_items_learned_total", 0) >= len(ITEMS))
        t = settings.topic_interactions
        asyncio.run(produce(broker.bootstrap, [click_msg(t, "c1", "u1", "e1"),
                                               (t, b"bad", b"{")]))
        wait_metrics(settings.metrics_port,
                     lambda m: m.get("stream_recommendations_published_total", 0) >= 1)
        comment = {"comment_id": "k1", "user_id": "u1", "item_id": "e2", "ts": now,
                   "text": "Great reporting, thank you"}
        asyncio.run(produce(broker.bootstrap, [
            click_msg(t, "c2", "u1", "e2"),  # e2 was in u1's list: a live-quality hit
            (settings.topic_comments, b"k1", orjson.dumps(comment)),
            (settings.topic_comment_labels, None,
             orjson.dumps({"text": "good", "label": "positive"})),
        ]))
        wait_metrics(settings.metrics_port,
                     lambda m: m.get("stream_quality_clicks_total{variant=default}", 0) >= 1
                     and m.get("stream_events_consumed_total{type=label}", 0) >= 1)
        time.sleep(1.5)  # one more lag measurement
        url = f"http://127.0.0.1:{settings.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as resp:
            text = resp.read().decode()
        exported = series_names(text)
    missing = sorted(used - exported)
    assert not missing, f"used by the dashboard or alerts but not exported: {missing}"
    # lag and position are measured on the input topics only: the users changelog, which an
    # active worker writes and never reads back, would show a lag that only grows
    measured: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        if family.name in ("stream_consumer_lag_messages", "stream_consumer_position"):
            measured[family.name] = {sample.labels["topic"] for sample in family.samples}
    inputs = set(settings.input_topics)
    assert settings.topic_interactions in measured["stream_consumer_position"]
    assert measured["stream_consumer_lag_messages"] <= inputs
    assert measured["stream_consumer_position"] <= inputs
