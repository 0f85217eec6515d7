"""docker-compose.yml: valid for compose, consistent with the settings object, local-only ports.

There is no container engine here, so the stack is not started: these tests check what can be
checked without one (compose's own validation and resolution, then the resolved file against
Settings, the topic list, the Prometheus targets and the mounted files).
"""

from __future__ import annotations

import re
import shlex
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

from stream.agents.web import check_exposure
from stream.errors import UnprotectedViews
from stream.topics import topic_specs
from tests.deploy.common import (
    COMPOSE_FILE,
    DEPLOY,
    PROMETHEUS_DIR,
    ROOT,
    load_yaml,
    require_tool,
    run_tool,
    settings_from_env,
)

WEB_TOKEN_FILE = DEPLOY / "web-token.env"


@cache
def resolved() -> dict[str, Any]:
    """The compose file as docker-compose itself resolves it (anchors merged, paths absolute)."""
    compose = require_tool("docker-compose")
    proc = run_tool([compose, "-f", str(COMPOSE_FILE), "config"])
    data: dict[str, Any] = yaml.safe_load(proc.stdout)
    return data


def services() -> dict[str, Any]:
    out: dict[str, Any] = resolved()["services"]
    return out


def stream_env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # KEY=VALUE form
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items() if k.startswith("STREAM_")}


def workers() -> dict[str, Any]:
    """Services running ``stream worker`` (the image's entrypoint is ``stream``)."""
    return {n: s for n, s in services().items() if s.get("command") == ["worker"]}


def topic_creator_lines() -> list[list[str]]:
    """The ``create NAME PARTITIONS [POLICY]`` lines of the one-shot topics service."""
    script = "\n".join(services()["topics"]["command"])
    return [shlex.split(line)[1:] for line in script.splitlines() if re.match(r"\s*create\s", line)]


def test_compose_file_validates() -> None:
    compose = require_tool("docker-compose")
    run_tool([compose, "-f", str(COMPOSE_FILE), "config", "-q"])


def test_the_stack_has_every_service_of_the_issue() -> None:
    names = set(services())
    assert {"kafka", "topics", "producer", "prometheus", "grafana"} <= names
    assert len(workers()) == 2, "two `stream worker` replicas"
    assert services()["kafka"]["image"].startswith("apache/kafka:")
    kafka_env = services()["kafka"]["environment"]
    assert kafka_env["KAFKA_PROCESS_ROLES"] == "broker,controller", "KRaft, single node"
    for name, worker in workers().items():
        assert worker["build"]["context"] == str(ROOT), name
        conditions = {k: v["condition"] for k, v in worker["depends_on"].items()}
        assert conditions["topics"] == "service_completed_successfully", name


def test_every_published_port_is_bound_to_loopback() -> None:
    seen = 0
    for name, service in services().items():
        for port in service.get("ports", []):
            seen += 1
            if isinstance(port, dict):  # long syntax
                host_ip = port.get("host_ip")
            else:
                parts = str(port).split(":")
                host_ip = parts[0] if len(parts) == 3 else None
            assert host_ip == "127.0.0.1", f"{name} publishes {port} beyond 127.0.0.1"
    assert seen >= 5
    # the file as written, too (the resolved form could hide a default)
    raw = load_yaml(COMPOSE_FILE)
    for name, service in raw["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name}: {port}"


def test_stream_settings_in_compose_exist_and_validate() -> None:
    with_env = {n: s for n, s in services().items() if stream_env(s)}
    assert set(workers()) | {"producer"} <= set(with_env)
    for name, service in with_env.items():
        settings = settings_from_env(stream_env(service))
        assert settings.bootstrap_servers == ["kafka:9092"], name
        # a real Kafka: the Tansu-only batch size of 1 is raised
        assert settings.producer_max_batch_size >= 16384, name
    for name, worker in workers().items():
        settings = settings_from_env(stream_env(worker))
        # in a container the views and /metrics must listen beyond the loopback
        assert settings.web_host == "0.0.0.0", name
        assert settings.metrics_host == "0.0.0.0", name
        published = {int(str(p).split(":")[2].split("/")[0]) for p in worker["ports"]}
        assert published == {settings.web_port, settings.metrics_port}, name


def test_workers_get_the_views_token_from_the_env_file() -> None:
    """The views listen on the compose network, so they ask for a token; it comes from
    deploy/web-token.env (a placeholder saying so), never from the compose file itself."""
    lines = WEB_TOKEN_FILE.read_text(encoding="utf-8").splitlines()
    values = dict(ln.split("=", 1) for ln in lines if ln.strip() and not ln.startswith("#"))
    assert set(values) == {"STREAM_WEB_TOKEN"}
    placeholder = values["STREAM_WEB_TOKEN"]
    assert placeholder.startswith("REPLACE-ME")
    assert "PLACEHOLDER" in WEB_TOKEN_FILE.read_text(encoding="utf-8")
    raw = load_yaml(COMPOSE_FILE)
    assert "STREAM_WEB_TOKEN" not in yaml.safe_dump(raw), "the token belongs in the env file"
    for name, worker in workers().items():
        assert worker["environment"]["STREAM_WEB_TOKEN"] == placeholder, name
        assert raw["x-worker"]["env_file"] == ["deploy/web-token.env"], name
        settings = settings_from_env(stream_env(worker))
        assert not settings.web_trusted_network, name
        check_exposure(settings)  # the worker starts
        without = {k: v for k, v in stream_env(worker).items() if k != "STREAM_WEB_TOKEN"}
        with pytest.raises(UnprotectedViews):
            check_exposure(settings_from_env(without))


def test_kafka_advertises_the_address_the_workers_use() -> None:
    kafka = services()["kafka"]["environment"]
    advertised = [a.split("://", 1)[1] for a in kafka["KAFKA_ADVERTISED_LISTENERS"].split(",")]
    for name, worker in workers().items():
        for server in settings_from_env(stream_env(worker)).bootstrap_servers:
            assert server in advertised, f"{name} connects to {server}, Kafka says {advertised}"


def test_topic_creator_creates_exactly_the_settings_topics() -> None:
    lines = topic_creator_lines()
    created = {line[0]: (int(line[1]), line[2] if len(line) > 2 else None) for line in lines}
    assert len(created) == len(lines), "a topic is created twice"
    for name, worker in workers().items():
        settings = settings_from_env(stream_env(worker))
        expected = {spec.name: spec for spec in topic_specs(settings)}
        assert set(created) == set(expected), name
        for topic, (partitions, policy) in created.items():
            assert partitions == expected[topic].partitions, topic
            # compacted: the keyed state topics, and the items (latest version of an article)
            compacted = expected[topic].compacted or topic == settings.topic_items
            assert policy == ("compact" if compacted else None), topic
    script = "\n".join(services()["topics"]["command"])
    assert "--if-not-exists" in script and "cleanup.policy=$$3" in script


def test_prometheus_scrapes_each_worker() -> None:
    config = load_yaml(PROMETHEUS_DIR / "prometheus.yml")
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    targets = {t for sc in jobs["stream"]["static_configs"] for t in sc["targets"]}
    expected = set()
    for name, worker in workers().items():
        host = worker.get("hostname", name)
        expected.add(f"{host}:{settings_from_env(stream_env(worker)).metrics_port}")
    assert targets == expected


def test_mounted_files_exist() -> None:
    mounts = 0
    for name, service in services().items():
        for volume in service.get("volumes", []):
            source = volume["source"] if isinstance(volume, dict) else volume.split(":")[0]
            if source.startswith("/"):
                mounts += 1
                path = Path(source)
                assert path.exists(), f"{name} mounts {source}, which does not exist"
                assert ROOT in path.parents, f"{name} mounts {source} from outside the repo"
    assert mounts >= 4
    grafana = services()["grafana"]
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == "/etc/grafana/dashboards/stream.json"
    assert (ROOT / "deploy/grafana/dashboards/stream.json").is_file()


def test_producer_runs_the_mounted_script() -> None:
    producer = services()["producer"]
    script = producer["entrypoint"][-1]
    mounted = {v.split(":")[1]: v.split(":")[0] for v in producer["volumes"]}
    assert Path(mounted[script]) == ROOT / "deploy/demo_producer.py"
    assert producer["image"] == next(iter(workers().values()))["image"]


def test_default_settings_are_not_what_compose_needs() -> None:
    """Guards the two assumptions above: without the compose env a worker would bind only the
    loopback and use the Tansu batch size, so the env entries are not redundant."""
    defaults = settings_from_env({})
    assert defaults.web_host == "127.0.0.1" and defaults.metrics_host == "127.0.0.1"
    assert defaults.producer_max_batch_size == 1
