"""Fixtures: one embedded Tansu broker for the test session (each test makes its own topics
and consumer group on it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stream.dev.broker import EmbeddedBroker


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    """A real Kafka-compatible broker on 127.0.0.1, stopped after the session."""
    with EmbeddedBroker(log_dir=tmp_path_factory.mktemp("tansu")) as running:
        yield running
