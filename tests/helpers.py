"""Shared test helpers: a worker process, plain Kafka clients, metric scraping."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pydantic import SecretStr

from stream.dev.broker import EmbeddedBroker, free_port, wait_for_port
from stream.dev.measure import TOLD_APART, scrape
from stream.dev.processes import start_worker_process, stop_process
from stream.errors import BrokerError
from stream.settings import Settings
from stream.topics import create_topics, topic_specs


def unique_settings(broker: EmbeddedBroker, **overrides: Any) -> Settings:
    """Settings with a topic set and consumer group of their own, on ``broker``."""
    tag = uuid.uuid4().hex[:8]
    # every topic of its own (a new topic setting included the day it is added)
    names: dict[str, Any] = {"app_id": f"stream-test-{tag}"}
    for field, info in Settings.model_fields.items():
        if field.startswith("topic_") and isinstance(info.default, str):
            names[field] = f"t{tag}.{info.default.removeprefix('stream.')}"
    values: dict[str, Any] = {
        "broker": broker.url,
        "partitions": 2,
        "broker_session_timeout": 3.0,
        "broker_heartbeat_interval": 1.0,
        **names,
        **overrides,
    }
    settings = Settings(**values)
    asyncio.run(create_topics(broker.bootstrap, topic_specs(settings)))
    return settings


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a child process build exactly ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAM_")}
    for name, value in settings.model_dump(mode="json").items():
        if value is None:
            continue
        secret = getattr(settings, name)
        if isinstance(secret, SecretStr):  # dumped as "**********"
            value = secret.get_secret_value()
        text = json.dumps(value) if isinstance(value, list | dict) else str(value)
        env[f"STREAM_{name.upper()}"] = text
    return env


@contextmanager
def worker_process(settings: Settings, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A ``stream worker`` child process with its own data dir and ports, stopped at the end."""
    metrics_port = settings.metrics_port
    env = settings_env(settings)
    env["STREAM_DATA_DIR"] = str(tmp_path / f"worker-{uuid.uuid4().hex[:6]}")
    log_path = tmp_path / "worker.log"
    proc = start_worker_process(env, log_path)
    try:
        if metrics_port:
            deadline = time.monotonic() + 60
            while True:
                if proc.poll() is not None:
                    raise AssertionError(f"the worker exited ({proc.returncode}):\n"
                                         + log_path.read_text()[-3000:])
                try:
                    wait_for_port("127.0.0.1", metrics_port, timeout=0.5)
                    break
                except BrokerError:
                    if time.monotonic() > deadline:
                        raise
        yield proc
    finally:
        stop_process(proc)


def start_worker(settings: Settings, tmp_path: Path, name: str) -> subprocess.Popen[bytes]:
    """A worker process with its own data dir and log (``<name>.log``); stop it with
    :func:`stream.dev.processes.stop_process`."""
    env = settings_env(settings)
    env["STREAM_DATA_DIR"] = str(tmp_path / name)
    return start_worker_process(env, tmp_path / f"{name}.log")


def worker_settings(broker: EmbeddedBroker, **overrides: Any) -> Settings:
    """Unique settings with free metrics and web ports, for a worker process."""
    return unique_settings(
        broker, metrics_port=free_port(), web_port=free_port(), **overrides
    )


async def produce(bootstrap: str,
                  messages: Sequence[tuple[str, bytes | None, bytes | None]]) -> None:
    """Produce (topic, key, value) messages with a plain aiokafka producer."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for topic, key, value in messages:
            await producer.send(topic, value, key=key)
        await producer.flush()
    finally:
        await producer.stop()


async def read_topics(
    bootstrap: str,
    topics: list[str],
    partitions: int,
    until: Any,
    timeout: float = 60.0,
) -> list[Any]:
    """Read ``topics`` from the beginning with a plain consumer until ``until(records)``."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    records: list[Any] = []
    try:
        consumer.assign([TopicPartition(t, p) for t in topics for p in range(partitions)])
        await consumer.seek_to_beginning()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not until(records):
            batches = await consumer.getmany(timeout_ms=200)
            for messages in batches.values():
                records.extend(messages)
    finally:
        await consumer.stop()
    return records


def wait_metrics(port: int, predicate: Any, timeout: float = 60.0) -> dict[str, float]:
    """Scrape the worker's /metrics until ``predicate(metrics)`` holds; returns the last scrape."""
    deadline = time.monotonic() + timeout
    metrics: dict[str, float] = {}
    while time.monotonic() < deadline:
        try:
            metrics = scrape(port, TOLD_APART)
        except OSError:
            metrics = {}
        if predicate(metrics):
            return metrics
        time.sleep(0.2)
    return metrics
