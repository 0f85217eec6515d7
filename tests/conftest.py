"""The test session's kernels (pinned before NumPy loads: see :mod:`tests.kernels`), and
fixtures: one embedded Tansu broker for the test session (each test makes its own topics
and consumer group on it)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

if "numpy" not in sys.modules:  # (every test process, and what it starts, inherits them)
    from tests.kernels import pinned_env

    os.environ.update(pinned_env())

import pytest

from stream.dev.broker import EmbeddedBroker
from tests.kernels import pinned


def pytest_configure(config: pytest.Config) -> None:
    """Refuse to run with kernels that were not pinned: NumPy was loaded before this file
    (by a plugin), and the bit-for-bit tests would then depend on the machine."""
    if not pinned():
        raise pytest.UsageError("NumPy was loaded before tests/conftest.py could pin its "
                                "kernels (tests/kernels.py): run pytest without plugins "
                                "that import NumPy")


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    """A real Kafka-compatible broker on 127.0.0.1, stopped after the session."""
    with EmbeddedBroker(log_dir=tmp_path_factory.mktemp("tansu")) as running:
        yield running
