"""Kubernetes manifests: valid against the Kubernetes schemas (strict: unknown fields are errors),
consistent with each other (selectors, ports, probes), with the image and with the settings."""

from __future__ import annotations

import base64
import re
import shlex
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest

from stream.agents.web import check_exposure
from stream.errors import UnprotectedViews
from stream.settings import Settings
from stream.topics import topic_specs
from tests.deploy.common import DOCKERFILE, K8S_DIR, ROOT, load_yaml, load_yaml_all
from tests.deploy.common import settings_from_env as settings_of

#: the newest schemas the validator ships, and an older release still in wide use
K8S_VERSIONS = ["1.37.0", "1.29.0"]


def kustomization() -> dict[str, Any]:
    out: dict[str, Any] = load_yaml(K8S_DIR / "kustomization.yaml")
    return out


def resources() -> list[dict[str, Any]]:
    """Every resource the kustomization applies."""
    out = []
    for name in kustomization()["resources"]:
        out.extend(load_yaml_all(K8S_DIR / name))
    return out


def by_kind(kind: str) -> list[dict[str, Any]]:
    return [r for r in resources() if r["kind"] == kind]


def statefulset() -> dict[str, Any]:
    (sts,) = by_kind("StatefulSet")
    return sts


def container() -> dict[str, Any]:
    (c,) = statefulset()["spec"]["template"]["spec"]["containers"]
    out: dict[str, Any] = c
    return out


def settings() -> Settings:
    (config,) = by_kind("ConfigMap")
    return settings_of(config["data"])


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_manifests_validate_against_the_kubernetes_schemas(version: str) -> None:
    validated = 0
    for resource in resources():
        kubernetes_validate.validate(resource, version, strict=True)
        validated += 1
    assert validated >= 5


def test_validation_catches_a_broken_manifest() -> None:
    broken = statefulset()
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["periodSecond"] = 5
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSIONS[0], strict=True)


def test_kustomization_lists_every_manifest() -> None:
    listed = set(kustomization()["resources"])
    on_disk = {p.name for p in K8S_DIR.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk
    assert {r["kind"] for r in resources()} >= {
        "ConfigMap", "Service", "StatefulSet", "PodDisruptionBudget", "NetworkPolicy",
    }
    (image,) = kustomization()["images"]
    assert image["name"] == container()["image"]


def test_settings_in_the_manifests_exist_and_validate() -> None:
    s = settings()
    assert s.web_host == "0.0.0.0" and s.metrics_host == "0.0.0.0"
    assert s.producer_max_batch_size >= 16384
    assert s.topic_replication_factor >= 3
    env = {e["name"]: e for e in container()["env"]}
    # the pod's own name, from the downward API, makes its canonical URL
    assert env.pop("POD_NAME")["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    canonical = env.pop("STREAM_WEB_CANONICAL_URL")["value"]
    assert canonical == (
        f"http://$(POD_NAME).{statefulset()['spec']['serviceName']}:{s.web_port}"
    )
    # the views' token: from its Secret, and required (a worker on 0.0.0.0 needs it)
    token = env.pop("STREAM_WEB_TOKEN")["valueFrom"]["secretKeyRef"]
    assert token == {"name": "stream-web-token", "key": "token"}
    for name, entry in env.items():
        assert name.startswith("STREAM_")
        assert name[7:].lower() in Settings.model_fields, name
        ref = entry["valueFrom"]["secretKeyRef"]
        assert ref["optional"] is True, "credentials are only needed with SASL"
    assert container()["envFrom"] == [{"configMapRef": {"name": "stream-settings"}}]


def test_the_views_token_comes_from_the_secret_and_lets_the_workers_start() -> None:
    """The ConfigMap binds the views to 0.0.0.0 and does not call the network trusted: a
    worker with it alone refuses to start, and starts with the Secret's token."""
    (config,) = by_kind("ConfigMap")
    assert "STREAM_WEB_TOKEN" not in config["data"], "a secret in a ConfigMap"
    assert settings().web_token is None and settings().web_trusted_network is False
    with pytest.raises(UnprotectedViews):
        check_exposure(settings())
    check_exposure(settings_of({**config["data"], "STREAM_WEB_TOKEN": "x" * 64}))


def _documented_secret_command() -> list[str]:
    """The README's ``kubectl ... create secret generic stream-web-token ...`` command."""
    text = (ROOT / "deploy" / "README.md").read_text(encoding="utf-8")
    (line,) = [ln for ln in text.splitlines()
               if "create secret generic stream-web-token" in ln and ln.startswith("kubectl")]
    return shlex.split(line)


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_the_documented_token_secret_validates_and_matches_the_statefulset(
    version: str,
) -> None:
    """The Secret as ``kubectl create secret generic`` makes it from deploy/README.md's
    command (it is not in the kustomization: a committed placeholder would end up deployed)."""
    args = _documented_secret_command()
    name = args[args.index("generic") + 1]
    literals = [a.split("=", 1)[1] for a in args if a.startswith("--from-literal=")]
    key = literals[0].split("=", 1)[0] if literals else ""
    assert "$(openssl rand -hex 32)" in " ".join(args)
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name},
        "type": "Opaque",
        "data": {key: base64.b64encode(b"0" * 64).decode()},
    }
    kubernetes_validate.validate(secret, version, strict=True)
    env = {e["name"]: e for e in container()["env"]}
    ref = env["STREAM_WEB_TOKEN"]["valueFrom"]["secretKeyRef"]
    assert (ref["name"], ref["key"]) == (name, key)
    assert not any(r["kind"] == "Secret" for r in resources())


def test_network_policy_lets_only_labelled_clients_and_prometheus_in() -> None:
    s = settings()
    (policy,) = by_kind("NetworkPolicy")
    pod_labels = statefulset()["spec"]["template"]["metadata"]["labels"]
    worker_selector = statefulset()["spec"]["selector"]["matchLabels"]
    spec = policy["spec"]
    assert spec["podSelector"]["matchLabels"] == worker_selector
    assert spec["podSelector"]["matchLabels"].items() <= pod_labels.items()
    assert spec["policyTypes"] == ["Ingress"]
    rules: dict[int, list[dict[str, Any]]] = {}
    for rule in spec["ingress"]:
        # a rule without "from" or without "ports" would let every pod in
        assert rule["from"] and rule["ports"], rule
        for port in rule["ports"]:
            assert port["protocol"] == "TCP"
            rules.setdefault(port["port"], []).extend(rule["from"])
    assert set(rules) == {s.web_port, s.metrics_port}
    assert rules[s.web_port] == [
        {"podSelector": {"matchLabels": {"stream-views-client": "true"}}},
        {"podSelector": {"matchLabels": worker_selector}},  # forwarded requests
    ]
    assert rules[s.metrics_port] == [
        {"namespaceSelector": {}, "podSelector": {"matchLabels": {
            "app.kubernetes.io/name": "prometheus"}}},
    ]
    readme = (ROOT / "deploy" / "README.md").read_text(encoding="utf-8")
    assert '`stream-views-client: "true"`' in readme, "the client label is documented"


def test_workers_never_outnumber_partitions() -> None:
    assert 2 <= statefulset()["spec"]["replicas"] <= settings().partitions


def test_ports_probes_and_services_agree() -> None:
    s = settings()
    ports = {p["name"]: p["containerPort"] for p in container()["ports"]}
    assert ports == {"http": s.web_port, "metrics": s.metrics_port}
    c = container()
    assert c["readinessProbe"]["httpGet"] == {"path": "/health?probe=ready", "port": "http"}
    assert c["livenessProbe"]["httpGet"] == {"path": "/health?probe=live", "port": "http"}
    assert c["startupProbe"]["httpGet"]["path"] == "/health?probe=live"
    pod_labels = statefulset()["spec"]["template"]["metadata"]["labels"]
    annotations = statefulset()["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(s.metrics_port)
    assert statefulset()["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    services = {svc["metadata"]["name"]: svc for svc in by_kind("Service")}
    assert statefulset()["spec"]["serviceName"] in services
    assert services[statefulset()["spec"]["serviceName"]]["spec"]["clusterIP"] == "None"
    for name, svc in services.items():
        assert svc["spec"]["selector"].items() <= pod_labels.items(), name
        for port in svc["spec"]["ports"]:
            assert port["targetPort"] in ports, (name, port)
    (pdb,) = by_kind("PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert pdb["spec"]["maxUnavailable"] == 1


def test_pod_runs_as_the_image_user_with_resources_set() -> None:
    spec = statefulset()["spec"]["template"]["spec"]
    user = re.search(r"^USER\s+(\d+)", DOCKERFILE.read_text(encoding="utf-8"), re.M)
    assert user is not None
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] == int(user.group(1))
    c = container()
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    mounts = {m["mountPath"] for m in c["volumeMounts"]}
    assert {str(settings().data_dir), "/tmp"} <= mounts, "writable paths on a read-only root"
    assert c["resources"]["requests"]["cpu"] and c["resources"]["requests"]["memory"]
    assert c["resources"]["limits"]["memory"]
    assert c["args"] == ["worker"]


def test_podmonitor_scrapes_the_metrics_port_as_job_stream() -> None:
    (monitor,) = load_yaml_all(K8S_DIR / "monitoring" / "podmonitor.yaml")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1" and monitor["kind"] == "PodMonitor"
    pod_labels = statefulset()["spec"]["template"]["metadata"]["labels"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    assert endpoint["port"] in {p["name"] for p in container()["ports"]}
    assert endpoint["path"] == "/metrics"
    # the alerts and the dashboard select job="stream"
    assert pod_labels[monitor["spec"]["jobLabel"]] == "stream"
    with pytest.raises(kubernetes_validate.SchemaNotFoundError):
        kubernetes_validate.validate(monitor, K8S_VERSIONS[0], strict=True)


def test_readme_topic_commands_match_the_settings() -> None:
    """deploy/README.md's kafka-topics.sh lines create exactly the topics of the settings, with
    the ConfigMap's partition count and replication factor."""
    s = settings()
    text = (ROOT / "deploy" / "README.md").read_text(encoding="utf-8")
    created = {}
    for line in text.splitlines():
        m = re.search(r"--create.*--topic (\S+) --partitions (\S+) --replication-factor (\S+)"
                      r"(?: --config cleanup\.policy=(\w+))?", line)
        if m:
            created[m.group(1)] = (int(m.group(2)), int(m.group(3)), m.group(4))
    # Faust's leader topic too: pre-created, the workers need no Create ACL (see the ACLs)
    leader = f"{s.app_id}-__assignor-__leader"
    assert created.pop(leader) == (1, s.topic_replication_factor, None)
    assert set(created) == {spec.name for spec in topic_specs(s)}
    for spec in topic_specs(s):
        partitions, replication, policy = created[spec.name]
        assert partitions == spec.partitions and replication == s.topic_replication_factor
        compacted = spec.compacted or spec.name == s.topic_items
        assert policy == ("compact" if compacted else None), spec.name


def _readme_acls() -> dict[tuple[str, str], set[str]]:
    """(resource type, name) -> operations, from deploy/README.md's ``acl ...`` lines."""
    text = (ROOT / "deploy" / "README.md").read_text(encoding="utf-8")
    acls: dict[tuple[str, str], set[str]] = {}
    for line in text.splitlines():
        if not line.startswith("acl --"):
            continue
        args = shlex.split(line)[1:]
        ops = {args[i + 1] for i, a in enumerate(args) if a == "--operation"}
        (kind,) = [a for a in args if a in ("--topic", "--group", "--transactional-id")]
        name = args[args.index(kind) + 1]
        if "--resource-pattern-type" in args:
            assert kind == "--transactional-id", f"only transactional ids by prefix: {line}"
            name += "*"
        acls[(kind[2:], name)] = acls.get((kind[2:], name), set()) | ops
    return acls


def test_readme_acls_cover_every_topic_with_the_least_the_worker_needs() -> None:
    """What the worker reads and writes (see stream/agents/), and nothing broader."""
    s = settings()
    read = {*s.input_topics, s.topic_item_facts, s.topic_comment_sentiment,
            s.changelog("users"), f"{s.app_id}-__assignor-__leader"}
    write = {*(s.dlq(t) for t in s.input_topics), s.topic_recommendations,
             s.topic_user_profiles, s.topic_item_facts, s.topic_comment_sentiment,
             s.changelog("users")}
    expected: dict[tuple[str, str], set[str]] = {}
    for topic in read | write:
        expected[("topic", topic)] = {op for op, names in (("Read", read), ("Write", write))
                                      if topic in names}
    expected[("group", s.app_id)] = {"Read"}
    expected[("transactional-id", f"{s.app_id}-*")] = {"Write", "Describe"}
    assert _readme_acls() == expected
    topics = {name for kind, name in expected if kind == "topic"}
    assert {spec.name for spec in topic_specs(s)} <= topics
