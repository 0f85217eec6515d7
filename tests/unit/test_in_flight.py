"""Batches in flight: at most ``limit`` at a time, each one's output, state and
acknowledgement after the batch before's, and a batch that cannot be delivered holds every
batch after it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from aiokafka.errors import RecordTooLargeError
from prometheus_client import CollectorRegistry

from stream.agents.delivery import Health
from stream.agents.in_flight import Acknowledge, InFlight
from stream.messages import Outgoing
from stream.metrics import Metrics


class Broker:
    """A topic and a changelog whose every send waits until the test lets it land (or fail);
    ``log`` says what was sent, what landed and what was acknowledged, in order."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.waiting: dict[str, asyncio.Future[None]] = {}

    def publisher(self, what: str) -> object:
        async def send(out: Sequence[Outgoing]) -> None:
            label = f"{what} " + ",".join((m.value or b"-").decode() for m in out)
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self.waiting[label] = fut
            self.log.append(f"sent {label}")
            try:
                await fut
            finally:
                del self.waiting[label]
            self.log.append(f"landed {label}")

        return send

    async def land(self, label: str, error: BaseException | None = None) -> None:
        await settle()
        fut = self.waiting[label]
        if error is None:
            fut.set_result(None)
        else:
            fut.set_exception(error)
        await settle()

    def acknowledger(self, batch: str) -> Acknowledge:
        async def acknowledge() -> None:
            self.log.append(f"acked {batch}")

        return acknowledge


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


def out(*values: str) -> list[Outgoing]:
    return [Outgoing("t", b"k", v.encode()) for v in values]


def in_flight(broker: Broker, limit: int = 4, health: Health | None = None
              ) -> tuple[InFlight, CollectorRegistry]:
    registry = CollectorRegistry()
    deliveries = InFlight(limit, broker.publisher("out"),  # type: ignore[arg-type]
                          Metrics(registry), health or Health(), "interactions",
                          write_state=broker.publisher("state"))  # type: ignore[arg-type]
    return deliveries, registry


def test_a_later_batch_delivered_first_is_not_acknowledged_first() -> None:
    async def scenario() -> None:
        broker = Broker()
        deliveries, registry = in_flight(broker)
        deliveries.submit(out("l1"), out("c1"), broker.acknowledger("b1"))
        deliveries.submit(out("l2"), out("c2"), broker.acknowledger("b2"))
        await settle()
        # one batch's output at a time: b2's is not sent before b1's is on the broker
        assert broker.log == ["sent out l1"]
        await broker.land("out l1")
        assert broker.log[1:] == ["landed out l1", "sent state c1", "sent out l2"]
        # b2's output lands before b1's checkpoints: b2 waits, its state is not even sent
        await broker.land("out l2")
        assert "sent state c2" not in broker.log and not any(
            e.startswith("acked") for e in broker.log)
        await broker.land("state c1")
        await broker.land("state c2")
        assert broker.log[-5:] == ["landed state c1", "acked b1", "sent state c2",
                                   "landed state c2", "acked b2"]
        assert len(deliveries) == 0
        assert registry.get_sample_value("stream_batch_completion_seconds_count",
                                         {"agent": "interactions"}) == 2

    asyncio.run(scenario())


def test_at_most_limit_batches_in_flight() -> None:
    async def scenario() -> None:
        broker = Broker()
        deliveries, _ = in_flight(broker, limit=2)
        await asyncio.wait_for(deliveries.hand_over(out("l1"), (), broker.acknowledger("b1")),
                               1)  # one in flight: room for the next
        second = asyncio.ensure_future(
            deliveries.hand_over(out("l2"), (), broker.acknowledger("b2")))
        await settle()
        assert not second.done() and len(deliveries) == 2
        await broker.land("out l1")
        await asyncio.wait_for(second, 1)  # b1 acknowledged: room again
        assert len(deliveries) == 1 and "acked b1" in broker.log

    asyncio.run(scenario())


def test_one_batch_in_flight_waits_for_each_batch() -> None:
    async def scenario() -> None:
        broker = Broker()
        deliveries, _ = in_flight(broker, limit=1)
        first = asyncio.ensure_future(
            deliveries.hand_over(out("l1"), out("c1"), broker.acknowledger("b1")))
        await settle()
        assert not first.done()
        await broker.land("out l1")
        assert not first.done()
        await broker.land("state c1")
        await asyncio.wait_for(first, 1)
        assert broker.log[-1] == "acked b1" and len(deliveries) == 0

    asyncio.run(scenario())


def test_a_batch_that_cannot_be_delivered_holds_every_batch_after_it(
        caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        broker = Broker()
        health = Health()
        deliveries, _ = in_flight(broker, limit=2, health=health)
        deliveries.submit(out("l1"), out("c1"), broker.acknowledger("b1"))
        deliveries.submit(out("l2"), out("c2"), broker.acknowledger("b2"))
        await broker.land("out l1", RecordTooLargeError("too large"))
        assert not health.live and "RecordTooLargeError" in (health.failure or "")
        await settle()
        assert broker.log == ["sent out l1"]  # nothing after it is sent, nothing acknowledged
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(deliveries.room(), 0.05)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(deliveries.settled(), 0.05)
        deliveries.close()
        await settle()

    asyncio.run(scenario())


def test_state_that_cannot_be_written_holds_the_batch_and_the_next() -> None:
    async def scenario() -> None:
        broker = Broker()
        health = Health()
        deliveries, _ = in_flight(broker, health=health)
        deliveries.submit(out("l1"), out("c1"), broker.acknowledger("b1"))
        deliveries.submit(out("l2"), out("c2"), broker.acknowledger("b2"))
        await broker.land("out l1")
        await broker.land("out l2")
        await broker.land("state c1", RecordTooLargeError("too large"))
        await settle()
        assert not health.live
        assert "sent state c2" not in broker.log
        assert not any(e.startswith("acked") for e in broker.log)
        deliveries.close()
        await settle()

    asyncio.run(scenario())


def test_a_failed_send_is_repeated_before_the_next_batch_is_sent(
        monkeypatch: pytest.MonkeyPatch) -> None:
    real_sleep = asyncio.sleep

    async def no_pause(seconds: float) -> None:
        await real_sleep(0)

    monkeypatch.setattr(asyncio, "sleep", no_pause)

    async def scenario() -> None:
        broker = Broker()
        deliveries, registry = in_flight(broker)
        deliveries.submit(out("l1"), (), broker.acknowledger("b1"))
        deliveries.submit(out("l2"), (), broker.acknowledger("b2"))
        await broker.land("out l1", ConnectionError("broker away"))
        assert broker.log == ["sent out l1", "sent out l1"]  # sent again, and only it
        await broker.land("out l1")
        await broker.land("out l2")
        assert [e for e in broker.log if e.startswith("sent")] == [
            "sent out l1", "sent out l1", "sent out l2"]
        assert [e for e in broker.log if e.startswith("acked")] == ["acked b1", "acked b2"]
        assert registry.get_sample_value("stream_output_retries_total") == 1

    asyncio.run(scenario())


def test_an_unexpected_error_holds_the_batch_and_fails_health(
        caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        broker = Broker()
        health = Health()
        deliveries, _ = in_flight(broker, health=health)

        async def broken() -> None:
            raise RuntimeError("a bug")

        deliveries.submit(out("l1"), (), broken)
        deliveries.submit(out("l2"), (), broker.acknowledger("b2"))
        await broker.land("out l1")
        await broker.land("out l2")
        assert not health.live and "a bug" in (health.failure or "")
        assert "acked b2" not in broker.log and len(deliveries) == 2
        deliveries.close()
        await settle()

    asyncio.run(scenario())


def test_lists_handed_over_later_land_later() -> None:
    """The retraction republisher's lists, handed over behind a batch of lists ranked
    before the retraction, reach the topic after them, even when sent again."""

    async def scenario() -> None:
        broker = Broker()
        deliveries, _ = in_flight(broker)
        deliveries.submit(out("ranked-before"), (), broker.acknowledger("b1"))
        replaced = deliveries.submit(out("replacement"))
        await broker.land("out ranked-before")
        await broker.land("out replacement")
        await asyncio.wait_for(asyncio.shield(replaced), 1)
        landed = [e for e in broker.log if e.startswith("landed")]
        assert landed == ["landed out ranked-before", "landed out replacement"]

    asyncio.run(scenario())


def test_state_needs_somewhere_to_go() -> None:
    async def scenario() -> None:
        deliveries = InFlight(2, Broker().publisher("out"),  # type: ignore[arg-type]
                              Metrics(CollectorRegistry()), Health(), "items")
        with pytest.raises(ValueError, match="no state"):
            deliveries.submit(out("l1"), out("c1"))

    asyncio.run(scenario())
    with pytest.raises(ValueError, match="at least one"):
        InFlight(0, Broker().publisher("out"),  # type: ignore[arg-type]
                 Metrics(CollectorRegistry()), Health(), "items")
