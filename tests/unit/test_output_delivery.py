"""A batch's output is delivered before the batch moves on: a failed send is retried (and
counted), never dropped; the output producer reports a message the broker refused."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError, RecordTooLargeError, TopicAuthorizationFailedError
from prometheus_client import CollectorRegistry

from stream.agents.common import Health, OutputProducer, deliver, retriable
from stream.messages import Outgoing
from stream.metrics import Metrics
from stream.settings import Settings


def test_a_failed_send_is_retried_until_delivered(monkeypatch: pytest.MonkeyPatch) -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    attempts: list[int] = []
    pauses: list[float] = []

    async def send(out: Sequence[Outgoing]) -> None:
        attempts.append(len(out))
        if len(attempts) < 4:
            raise ConnectionError("broker away")

    async def no_sleep(seconds: float) -> None:
        pauses.append(seconds)

    monkeypatch.setattr(asyncio, "sleep", no_sleep)
    out = [Outgoing("t", b"k", b"v")]
    health = Health()
    assert asyncio.run(deliver(send, out, metrics, health))
    assert health.live
    assert attempts == [1, 1, 1, 1]
    assert pauses == [0.1, 0.2, 0.4]  # backing off
    assert registry.get_sample_value("stream_output_retries_total") == 3


def test_cancelling_a_delivery_is_not_retried() -> None:
    metrics = Metrics(CollectorRegistry())

    async def send(out: Sequence[Outgoing]) -> None:
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(deliver(send, [], metrics, Health()))


def test_an_error_sending_again_cannot_mend_is_not_retried(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    attempts: list[int] = []

    async def send(out: Sequence[Outgoing]) -> None:
        attempts.append(len(out))
        raise RecordTooLargeError("the record is larger than the broker accepts")

    async def no_sleep(seconds: float) -> None:
        raise AssertionError("a permanent error must not be retried")

    monkeypatch.setattr(asyncio, "sleep", no_sleep)
    health = Health()
    delivered = asyncio.run(deliver(send, [Outgoing("t", b"k", b"v")], metrics, health))
    assert not delivered and attempts == [1]
    assert not health.live and health.failure is not None
    assert "RecordTooLargeError" in health.failure
    assert registry.get_sample_value("stream_output_failures_total") == 1
    assert registry.get_sample_value("stream_output_retries_total") == 0
    assert any("failed for good" in r.getMessage() and r.levelname == "ERROR"
               for r in caplog.records)


def test_which_errors_are_retried() -> None:
    assert retriable(ConnectionError("reset"))
    assert retriable(TimeoutError())
    assert retriable(KafkaTimeoutError())  # the producer gave up on a batch; a new send may not
    assert not retriable(TopicAuthorizationFailedError())
    assert not retriable(RecordTooLargeError())
    assert not retriable(TypeError("a bug"))


class FakeProducer:
    """aiokafka's producer as the output producer uses it: ``send`` returns a delivery
    future; ``flush`` waits and never raises."""

    def __init__(self, refuse: bytes) -> None:
        self.refuse = refuse
        self.flushed = False

    async def send(
        self, topic: str, value: bytes, key: bytes | None = None, headers: Any = None
    ) -> asyncio.Future[Any]:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if value == self.refuse:
            fut.set_exception(RuntimeError("NotLeaderForPartition"))
        else:
            fut.set_result(None)
        return fut

    async def flush(self) -> None:
        self.flushed = True


def test_output_producer_raises_for_a_refused_message() -> None:
    async def scenario() -> None:
        output = OutputProducer(Settings())
        fake = FakeProducer(refuse=b"bad")
        output._producer = fake
        await output.publish([Outgoing("t", b"k", b"good")])
        assert fake.flushed
        with pytest.raises(RuntimeError, match="NotLeaderForPartition"):
            await output.publish([Outgoing("t", b"k", b"good"), Outgoing("t", b"k", b"bad")])

    asyncio.run(scenario())
