"""Grafana: the provisioning points at the compose Prometheus, and the dashboard is a valid
dashboard model whose every query reads metrics the worker exports.

Grafana itself cannot run here, so the dashboard is not rendered: these tests check the JSON
model Grafana loads (schema version, panel grid, datasource references, queries).
"""

from __future__ import annotations

import json
from itertools import combinations
from typing import Any

from tests.deploy.common import COMPOSE_FILE, GRAFANA_DIR, load_yaml
from tests.deploy.metric_names import known_metric_names, promql_metric_names

DASHBOARD = GRAFANA_DIR / "dashboards" / "stream.json"
PANEL_TYPES = {"row", "stat", "timeseries", "table", "gauge", "bargauge", "text", "heatmap"}


def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return data


def datasource() -> dict[str, Any]:
    config = load_yaml(GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml")
    assert config["apiVersion"] == 1
    (ds,) = config["datasources"]
    out: dict[str, Any] = ds
    return out


def panels() -> list[dict[str, Any]]:
    """Every panel, rows' nested panels included."""
    out: list[dict[str, Any]] = []
    for panel in dashboard()["panels"]:
        out.append(panel)
        out.extend(panel.get("panels", []))
    return out


def test_datasource_is_the_compose_prometheus() -> None:
    ds = datasource()
    assert ds["type"] == "prometheus" and ds["uid"] and ds["isDefault"] is True
    compose = load_yaml(COMPOSE_FILE)
    assert ds["url"] == "http://prometheus:9090"
    assert "prometheus" in compose["services"]
    assert any(p.endswith(":9090") for p in compose["services"]["prometheus"]["ports"])


def test_dashboard_provider_loads_the_mounted_folder() -> None:
    config = load_yaml(GRAFANA_DIR / "provisioning" / "dashboards" / "stream.yml")
    (provider,) = config["providers"]
    assert provider["type"] == "file"
    grafana = load_yaml(COMPOSE_FILE)["services"]["grafana"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in grafana["volumes"]}
    assert mounts[provider["options"]["path"]] == "./deploy/grafana/dashboards"
    assert mounts["/etc/grafana/provisioning"] == "./deploy/grafana/provisioning"


def test_dashboard_model() -> None:
    d = dashboard()
    assert isinstance(d["schemaVersion"], int) and d["schemaVersion"] >= 36
    assert d["uid"] and len(d["uid"]) <= 40 and d["title"]
    assert "id" not in d or d["id"] is None, "a provisioned dashboard must not carry a db id"
    assert d["time"]["from"].startswith("now-")
    ids = [p["id"] for p in panels()]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    assert all(isinstance(i, int) for i in ids)


def test_panels_sit_on_the_grid_without_overlapping() -> None:
    boxes = []
    for panel in dashboard()["panels"]:
        assert panel["type"] in PANEL_TYPES, panel["title"]
        g = panel["gridPos"]
        assert all(isinstance(g[k], int) and g[k] >= 0 for k in ("x", "y", "w", "h")), panel
        assert g["w"] >= 1 and g["h"] >= 1 and g["x"] + g["w"] <= 24, panel["title"]
        boxes.append((panel["title"], g))
    for (ta, a), (tb, b) in combinations(boxes, 2):
        apart = (
            a["x"] + a["w"] <= b["x"] or b["x"] + b["w"] <= a["x"]
            or a["y"] + a["h"] <= b["y"] or b["y"] + b["h"] <= a["y"]
        )
        assert apart, f"{ta!r} overlaps {tb!r}"


def test_every_query_uses_the_provisioned_datasource_and_known_metrics() -> None:
    uid = datasource()["uid"]
    known = known_metric_names()
    queries = 0
    for panel in panels():
        if panel["type"] == "row":
            continue
        assert panel["title"], panel
        assert panel["datasource"] == {"type": "prometheus", "uid": uid}, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == uid, panel["title"]
            names = promql_metric_names(target["expr"])
            assert names, (panel["title"], target["expr"])
            unknown = names - known
            assert not unknown, f"{panel['title']!r} reads unknown metrics {sorted(unknown)}"
            queries += 1
    for variable in dashboard()["templating"]["list"]:
        assert variable["datasource"]["uid"] == uid
        assert promql_metric_names(variable["query"]["query"]) <= known
    assert queries >= 20


def test_dashboard_covers_the_metrics_operators_need() -> None:
    """Lag, throughput, latency, errors, state, live quality, sentiment, memory, build."""
    used: set[str] = set()
    for panel in panels():
        for target in panel.get("targets", []):
            used |= promql_metric_names(target["expr"])
    needed = {
        "stream_consumer_lag_messages",
        "stream_events_consumed_total",
        "stream_events_dead_lettered_total",
        "stream_recommendations_published_total",
        "stream_event_to_recommendation_latency_seconds_bucket",
        "stream_batch_processing_seconds_bucket",
        "stream_model_update_seconds_bucket",
        "stream_users_in_state",
        "stream_items_in_state",
        "stream_quality_clicks_total",
        "stream_quality_hits_total",
        "stream_quality_ndcg_total",
        "stream_quality_reciprocal_rank_total",
        "stream_quality_hit_rate_ratio",
        "stream_sentiment_scored_total",
        "process_resident_memory_bytes",
        "stream_build_info",
        "up",
    }
    assert needed <= used, f"not on the dashboard: {sorted(needed - used)}"
    # live quality is shown per variant
    by_variant = [
        t["expr"] for p in panels() for t in p.get("targets", [])
        if "stream_quality_" in t["expr"]
    ]
    assert by_variant and all("variant" in e for e in by_variant)
