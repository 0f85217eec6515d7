"""Prometheus files: promtool accepts the config and the rules, the alert unit tests pass, every
alert has a test that makes it fire, and the rules only read metrics the worker exports."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from tests.deploy.common import K8S_DIR, PROMETHEUS_DIR, load_yaml, require_tool, run_tool
from tests.deploy.metric_names import known_metric_names, promql_metric_names

ALERTS = PROMETHEUS_DIR / "alerts.yml"


def rules() -> list[dict[str, Any]]:
    return [rule for group in load_yaml(ALERTS)["groups"] for rule in group["rules"]]


def test_promtool_check_config() -> None:
    promtool = require_tool("promtool")
    out = run_tool([promtool, "check", "config", str(PROMETHEUS_DIR / "prometheus.yml")])
    assert "SUCCESS" in out.stdout + out.stderr


def test_promtool_check_rules() -> None:
    promtool = require_tool("promtool")
    out = run_tool([promtool, "check", "rules", str(ALERTS)])
    assert f"SUCCESS: {len(rules())} rules found" in out.stdout


def test_promtool_alert_unit_tests_pass() -> None:
    promtool = require_tool("promtool")
    out = run_tool([promtool, "test", "rules", str(PROMETHEUS_DIR / "alerts_test.yml")])
    assert "SUCCESS" in out.stdout


def test_promtool_unit_tests_can_fail(tmp_path: Path) -> None:
    """The unit tests bite: with the dead-letter threshold raised from 5% to 50%, they fail."""
    promtool = require_tool("promtool")
    shutil.copy(PROMETHEUS_DIR / "alerts_test.yml", tmp_path / "alerts_test.yml")
    text = ALERTS.read_text(encoding="utf-8")
    threshold = "          > 0.05\n        for: 10m"  # the dead-letter rule's
    mutated = text.replace(threshold, threshold.replace("0.05", "0.5"))
    assert mutated != text
    (tmp_path / "alerts.yml").write_text(mutated, encoding="utf-8")
    proc = subprocess.run(
        [promtool, "test", "rules", "alerts_test.yml"], cwd=tmp_path, capture_output=True,
        text=True, timeout=60,
    )
    assert proc.returncode != 0
    assert "StreamDeadLetterRateHigh" in proc.stdout + proc.stderr


def test_the_alerts_of_the_issue_exist() -> None:
    alerts = {r["alert"]: r for r in rules() if "alert" in r}
    assert {
        "StreamConsumerLagGrowing",
        "StreamDeadLetterRateHigh",
        "StreamNoRecommendationsPublished",
        "StreamLatencyP99High",
        "StreamWorkerDown",
        "StreamLiveHitRateDropping",
    } <= set(alerts)
    assert "0.05" in alerts["StreamLatencyP99High"]["expr"], "p99 above 50 ms"
    for name, rule in alerts.items():
        assert rule["labels"]["severity"] in {"warning", "critical"}, name
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], name


def test_every_alert_has_a_unit_test_that_makes_it_fire() -> None:
    tests = load_yaml(PROMETHEUS_DIR / "alerts_test.yml")
    assert tests["rule_files"] == ["alerts.yml"]
    fired: set[str] = set()
    quiet: set[str] = set()
    for group in tests["tests"]:
        for case in group.get("alert_rule_test", []):
            (fired if case["exp_alerts"] else quiet).add(case["alertname"])
    alerts = {r["alert"] for r in rules() if "alert" in r}
    assert alerts <= fired, f"alerts never shown firing: {sorted(alerts - fired)}"
    assert alerts <= quiet, f"alerts never shown staying quiet: {sorted(alerts - quiet)}"


def test_rules_read_only_metrics_the_worker_exports() -> None:
    known = known_metric_names()
    recorded = {r["record"] for r in rules() if "record" in r}
    for rule in rules():
        names = promql_metric_names(rule["expr"])
        assert names, rule
        unknown = names - known - recorded
        assert not unknown, f"{rule.get('alert') or rule.get('record')} reads {sorted(unknown)}"
    # the recorded series follow the level:metric:operations convention
    for name in recorded:
        assert re.fullmatch(r"[a-z_]+:[a-z_]+:[a-z0-9_]+", name), name


# --- the Kubernetes scrape configuration ------------------------------------------------------


def _relabel(rule: dict[str, Any], labels: dict[str, str]) -> dict[str, str] | None:
    """Prometheus's ``keep`` and ``replace`` relabel actions (anchored regex, ';' separator)."""
    value = ";".join(labels.get(name, "") for name in rule["source_labels"])
    match = re.fullmatch(rule.get("regex", "(.*)"), value)
    action = rule.get("action", "replace")
    if action == "keep":
        return labels if match else None
    assert action == "replace", action
    if match:
        labels = {**labels, rule["target_label"]: match.expand(rule.get("replacement", r"\1"))}
    return labels


def _discovered(pod_labels: dict[str, str], port_name: str) -> dict[str, str]:
    """The meta labels Kubernetes pod discovery gives one container port of a pod."""
    labels = {
        "__meta_kubernetes_pod_name": "stream-worker-0",
        "__meta_kubernetes_namespace": "news",
        "__meta_kubernetes_pod_container_port_name": port_name,
    }
    for key, value in pod_labels.items():
        labels["__meta_kubernetes_pod_label_" + re.sub(r"[^a-zA-Z0-9_]", "_", key)] = value
    return labels


def test_k8s_scrape_config_keeps_only_the_workers_metrics_port(tmp_path: Path) -> None:
    configs = load_yaml(K8S_DIR / "prometheus" / "scrape-configs.yml")
    assert [c["job_name"] for c in configs] == ["stream"], "the alerts expect job=stream"
    (config,) = configs
    assert config["kubernetes_sd_configs"] == [{"role": "pod"}]
    statefulset = load_yaml(K8S_DIR / "statefulset.yaml")
    pod_labels = statefulset["spec"]["template"]["metadata"]["labels"]
    ports = {p["name"] for p in statefulset["spec"]["template"]["spec"]["containers"][0]["ports"]}
    assert "metrics" in ports

    def targets(labels: dict[str, str]) -> dict[str, str] | None:
        out: dict[str, str] = labels
        for rule in config["relabel_configs"]:
            relabelled = _relabel(rule, out)
            if relabelled is None:
                return None
            out = relabelled
        return out

    kept = targets(_discovered(pod_labels, "metrics"))
    assert kept is not None and kept["instance"] == "stream-worker-0"
    assert kept["namespace"] == "news"
    assert targets(_discovered(pod_labels, "http")) is None
    other = {**pod_labels, "app.kubernetes.io/name": "other"}
    assert targets(_discovered(other, "metrics")) is None

    # Debian's promtool is built without Kubernetes discovery: check everything else with it
    # (relabel rules, job, intervals) by putting a static target in its place.
    promtool = require_tool("promtool")
    checked = {k: v for k, v in config.items() if k != "kubernetes_sd_configs"}
    checked["static_configs"] = [{"targets": ["stream-worker-0:9464"]}]
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump({"scrape_configs": [checked]}), encoding="utf-8")
    run_tool([promtool, "check", "config", str(path)])
