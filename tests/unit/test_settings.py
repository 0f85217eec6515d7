"""The one settings object."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from stream.settings import Settings
from stream.topics import topic_specs


def test_environment_overrides_and_topics(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAM_BROKER", "kafka://k1:9092;kafka://k2:9093")
    monkeypatch.setenv("STREAM_PARTITIONS", "8")
    monkeypatch.setenv("STREAM_TOPIC_ITEMS", "site.items.v2")
    s = Settings()
    assert s.bootstrap_servers == ["k1:9092", "k2:9093"]
    names = {t.name: t for t in topic_specs(s)}
    assert names["site.items.v2"].partitions == 8
    assert "site.items.v2.dlq" in names
    assert names["stream.recommendations.v1"].compacted
    assert all(t.name + ".dlq" in names for t in names.values() if t.name in s.input_topics)


def test_defaults_listen_on_loopback_only() -> None:
    s = Settings()
    assert s.web_host == "127.0.0.1" and s.metrics_host == "127.0.0.1"
    assert s.broker == "kafka://127.0.0.1:9092"
    assert s.processing_guarantee == "at_least_once"


def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAM_PROCESSING_GUARANTEE", "maybe")
    with pytest.raises(ValidationError):
        Settings()


def test_only_the_memory_store_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    # Faust's rocksdb:// store cannot place writes made outside an event (the worker's user
    # checkpoints): a worker with it crashed its agent on the first checkpoint and stopped
    # consuming, so the setting is refused up front with the reason
    assert Settings().store == "memory://"
    monkeypatch.setenv("STREAM_STORE", "rocksdb://")
    with pytest.raises(ValidationError, match=r"only memory://.*users changelog"):
        Settings()


def test_sasl_options_for_plain_clients() -> None:
    s = Settings(security_protocol="SASL_PLAINTEXT", sasl_username="app",
                 sasl_password="secret", sasl_mechanism="SCRAM-SHA-256")
    opts = s.kafka_client_options()
    assert opts["sasl_plain_password"] == "secret" and opts["sasl_mechanism"] == "SCRAM-SHA-256"
    assert "secret" not in repr(s)
