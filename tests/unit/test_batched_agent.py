"""The agent body: Faust acknowledges nothing by itself; a batch's events are acknowledged
once its output and its checkpoints are on the broker, and the agent handles the next batch
meanwhile, checkpointing each batch's state as it was after that batch."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from stream.agents.common import DurableTable, Health, batched_agent
from stream.messages import Outgoing, RawMessage
from stream.metrics import Metrics
from stream.settings import Settings


@dataclass
class FakeMessage:
    topic: str
    partition: int
    offset: int
    key: bytes | None = b"u1"
    value: bytes | None = b"{}"
    timestamp: float | None = 0.0

    @property
    def tp(self) -> tuple[str, int]:
        return (self.topic, self.partition)


@dataclass
class FakeEvent:
    message: FakeMessage


class FakeStream:
    """A Faust stream as the agent uses it: ``noack().events()`` yields the events and
    acknowledges none; ``ack`` records what the agent acknowledges."""

    #: not a Faust channel: no queue to tell a backlog by
    channel = None
    #: a consumer that has fetched nothing yet: no high watermark
    app = SimpleNamespace(consumer=SimpleNamespace(highwater=lambda tp: None))

    def __init__(self, batches: list[list[FakeEvent]]) -> None:
        self.batches = batches
        self.acked: list[int] = []
        self.read = 0

    def noack(self) -> FakeStream:
        return self

    async def events(self) -> AsyncIterator[FakeEvent]:
        for batch in self.batches:
            for event in batch:
                self.read += 1
                yield event
            await asyncio.sleep(0.05)  # the next batch's events come later
        await asyncio.Event().wait()  # the stream stays open

    async def ack(self, event: FakeEvent) -> bool:
        self.acked.append(event.message.offset)
        return True


class FakeTable:
    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}
        self.sent: list[tuple[bytes, bytes | None]] = []
        self.landed = asyncio.Event()

    def get(self, key: bytes, default: None = None) -> bytes | None:
        return self.data.get(key, default)

    def send_changelog(self, partition: int | None, key: bytes, value: bytes | None,
                       value_serializer: str | None = None) -> Any:
        self.sent.append((key, value))

        async def wait() -> None:
            await self.landed.wait()

        return asyncio.ensure_future(wait())


def batches(*sizes: int) -> list[list[FakeEvent]]:
    out, offset = [], 0
    for size in sizes:
        out.append([FakeEvent(FakeMessage("in", 0, offset + i)) for i in range(size)])
        offset += size
    return out


async def settle() -> None:
    await asyncio.sleep(0.2)  # past the batch window and the gaps between batches


def test_events_are_acknowledged_once_output_and_checkpoints_are_on_the_broker() -> None:
    async def scenario() -> None:
        stream = FakeStream(batches(2, 3))
        table = FakeTable()
        store = DurableTable(table, "users-changelog")
        handled: list[int] = []
        output_lands = asyncio.Event()
        sent: list[list[bytes | None]] = []

        def handle(batch: Sequence[RawMessage]) -> list[Outgoing]:
            handled.extend(m.offset for m in batch)
            return [Outgoing("out", b"u1", f"after {m.offset}".encode()) for m in batch]

        def checkpoint() -> None:
            store[b"u1"] = f"{len(handled)} events".encode()

        async def publish(out: Sequence[Outgoing]) -> None:
            sent.append([m.value for m in out])
            await output_lands.wait()

        processed: dict[Any, int] = {}
        agent = batched_agent(None, Settings(batches_in_flight=2, batch_within=0.01),  # type: ignore[arg-type]
                              Metrics(CollectorRegistry()), "interactions", handle,
                              processed, Health(), checkpoint=checkpoint, publisher=publish,
                              store=store)
        task = asyncio.ensure_future(agent(stream))
        await settle()
        # both batches taken and handled, the second while the first is in flight
        assert handled == [0, 1, 2, 3, 4] and stream.read == 5
        assert sent == [[b"after 0", b"after 1"]] and stream.acked == [] and processed == {}
        output_lands.set()
        await settle()
        # the first batch's checkpoint is its state, not the state after the second batch
        assert table.sent[0] == (b"u1", b"2 events")
        assert stream.acked == []  # the checkpoints are not on the broker yet
        table.landed.set()
        await settle()
        assert table.sent == [(b"u1", b"2 events"), (b"u1", b"5 events")]
        assert stream.acked == [0, 1, 2, 3, 4] and processed == {("in", 0): 4}
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())


def test_a_handler_that_raises_acknowledges_nothing_and_fails_health(
        caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        stream = FakeStream(batches(2, 2))
        health = Health()

        def handle(batch: Sequence[RawMessage]) -> list[Outgoing]:
            raise RuntimeError("a bug")

        async def publish(out: Sequence[Outgoing]) -> None:
            pass

        agent = batched_agent(None, Settings(batch_within=0.01),  # type: ignore[arg-type]
                              Metrics(CollectorRegistry()), "items", handle, {}, health,
                              publisher=publish)
        task = asyncio.ensure_future(agent(stream))
        await settle()
        assert stream.acked == [] and not health.live
        assert "items agent stopped" in (health.failure or "")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())


def test_the_stream_is_read_while_batches_are_in_flight() -> None:
    """Faust's take reads nothing while the body waits for the broker; here the next batch
    gathers what arrived meanwhile."""

    async def scenario() -> None:
        stream = FakeStream(batches(1, 1, 1, 1))
        lands = asyncio.Event()
        sizes: list[int] = []

        def handle(batch: Sequence[RawMessage]) -> list[Outgoing]:
            sizes.append(len(batch))
            return []

        async def publish(out: Sequence[Outgoing]) -> None:
            await lands.wait()

        agent = batched_agent(None, Settings(batches_in_flight=1, batch_within=0.01),  # type: ignore[arg-type]
                              Metrics(CollectorRegistry()), "items", handle, {}, Health(),
                              publisher=publish)
        task = asyncio.ensure_future(agent(stream))
        await settle()
        assert sizes == [1] and stream.read == 4  # the first batch in flight, all read
        lands.set()
        await settle()
        assert sizes == [1, 3] and stream.acked == [0, 1, 2, 3]
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())


def test_an_agent_behind_on_its_partition_reads_on() -> None:
    from stream.agents.common import _behind

    highwaters = {("in", 0): 10}

    def highwater(tp: tuple[str, int]) -> int | None:
        if tp == ("in", 9):
            raise AssertionError("Partition is not assigned")  # as aiokafka says it
        return highwaters.get(tp)

    stream = SimpleNamespace(channel=None,
                             app=SimpleNamespace(consumer=SimpleNamespace(highwater=highwater)))
    behind = _behind(stream)
    assert behind(FakeEvent(FakeMessage("in", 0, 5)))  # offsets 6 to 9 are on the broker
    assert not behind(FakeEvent(FakeMessage("in", 0, 9)))  # the last one
    assert not behind(FakeEvent(FakeMessage("in", 1, 3)))  # nothing fetched there yet
    assert not behind(FakeEvent(FakeMessage("in", 9, 3)))  # revoked meanwhile
