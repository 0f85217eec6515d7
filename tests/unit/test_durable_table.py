"""DurableTable: writes are staged when a batch is handled, and sent and awaited when the
worker says (once the batch's output is on the broker, before it is acknowledged)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from stream.agents.common import DurableTable
from stream.messages import Outgoing


class FakeTable:
    """The part of a Faust table DurableTable uses; each changelog send is a future the test
    resolves, as the broker's acknowledgement would."""

    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}
        self.sent: list[tuple[bytes, bytes | None, asyncio.Future[Any]]] = []

    def get(self, key: bytes, default: None = None) -> bytes | None:
        return self.data.get(key, default)

    def send_changelog(self, partition: int | None, key: bytes, value: bytes | None,
                       value_serializer: str | None = None) -> asyncio.Future[Any]:
        assert partition is None  # the producer's partitioner places the key
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.sent.append((key, value, fut))
        return fut


def test_writes_are_staged_then_sent_in_order_and_awaited() -> None:
    async def scenario() -> None:
        table = FakeTable()
        store = DurableTable(table, "users-changelog")
        store[b"u1"] = b"a"
        store[b"u1"] = b"b"
        assert store.pop(b"gone") is None  # a tombstone even without a local copy
        # written values live in the writer's memory and in the changelog, not in the store
        assert store.get(b"u1") is None and table.data == {} and store.staged == 3
        assert table.sent == []  # nothing is sent until the worker says so
        writes = store.take_staged()
        assert store.staged == 0 and store.take_staged() == []
        assert [(w.topic, w.key, w.value) for w in writes] == [
            ("users-changelog", b"u1", b"a"), ("users-changelog", b"u1", b"b"),
            ("users-changelog", b"gone", None)]
        waiting = asyncio.ensure_future(store.write(writes))
        await asyncio.sleep(0.01)
        assert [(k, v) for k, v, _ in table.sent] == [(b"u1", b"a"), (b"u1", b"b"),
                                                       (b"gone", None)]
        table.sent[0][2].set_result(None)
        table.sent[2][2].set_result(None)
        await asyncio.sleep(0.01)
        assert not waiting.done()  # one write is still unacknowledged
        table.sent[1][2].set_result(None)
        await asyncio.wait_for(waiting, 1)

    asyncio.run(scenario())


def test_a_failed_write_fails_the_batch() -> None:
    async def scenario() -> None:
        table = FakeTable()
        store = DurableTable(table, "users-changelog")
        store[b"u1"] = b"a"
        waiting = asyncio.ensure_future(store.flush())
        await asyncio.sleep(0.01)
        table.sent[0][2].set_exception(RuntimeError("broker down"))
        with pytest.raises(RuntimeError, match="broker down"):
            await waiting

    asyncio.run(scenario())


class FakeMemoryStore(dict[bytes, bytes]):
    """Faust's memory store as recovery leaves it: values, and the partition of each key."""

    def __init__(self) -> None:
        super().__init__()
        self._key_partition: dict[bytes, int] = {}


def test_a_write_drops_the_recovered_copy_of_its_key() -> None:
    async def scenario() -> None:
        table = FakeTable()
        recovered = FakeMemoryStore()
        recovered.update({b"u1": b"old", b"u2": b"kept", b"u3": b"erased"})
        recovered._key_partition.update({b"u1": 0, b"u2": 1, b"u3": 2})
        table.data = recovered
        store = DurableTable(table, "users-changelog")
        assert store.get(b"u1") == b"old"  # what recovery read, for a user not held yet
        store[b"u1"] = b"new"
        assert store.pop(b"u3") == b"erased"
        assert dict(recovered) == {b"u2": b"kept"} and recovered._key_partition == {b"u2": 1}
        assert store.get(b"u1") is None and store.get(b"u2") == b"kept"
        # the recovered copy goes when the write is staged, before it is sent: a user the
        # pipeline lets go meanwhile is not restored from the older checkpoint
        assert [(w.key, w.value) for w in store.take_staged()] == [(b"u1", b"new"),
                                                                    (b"u3", None)]

    asyncio.run(scenario())


def test_writes_can_go_through_a_batching_producer() -> None:
    async def scenario() -> None:
        table = FakeTable()
        sent: list[list[tuple[str, bytes | None, bytes | None]]] = []

        async def send(out: Sequence[Outgoing]) -> None:
            sent.append([(o.topic, o.key, o.value) for o in out])

        store = DurableTable(table, "users-changelog", send)
        store[b"u1"] = b"a"
        assert store.pop(b"u2") is None
        await store.flush()
        assert sent == [[("users-changelog", b"u1", b"a"), ("users-changelog", b"u2", None)]]
        assert table.sent == []  # not through the table's own producer

    asyncio.run(scenario())
