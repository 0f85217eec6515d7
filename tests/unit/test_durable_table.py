"""DurableTable: a batch is acknowledged only after its state writes are on the broker."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from stream.agents.common import DurableTable


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


def test_writes_reach_store_and_changelog_and_delivery_is_awaited() -> None:
    async def scenario() -> None:
        table = FakeTable()
        store = DurableTable(table)
        store[b"u1"] = b"a"
        store[b"u1"] = b"b"
        assert store.pop(b"gone") is None  # a tombstone even without a local copy
        # written values live in the writer's memory and in the changelog, not in the store
        assert store.get(b"u1") is None and table.data == {} and store.pending == 3
        assert [(k, v) for k, v, _ in table.sent] == [(b"u1", b"a"), (b"u1", b"b"),
                                                       (b"gone", None)]
        waiting = asyncio.ensure_future(store.delivered())
        await asyncio.sleep(0.01)
        table.sent[0][2].set_result(None)
        table.sent[2][2].set_result(None)
        await asyncio.sleep(0.01)
        assert not waiting.done()  # one write is still unacknowledged
        table.sent[1][2].set_result(None)
        await asyncio.wait_for(waiting, 1)
        assert store.pending == 0

    asyncio.run(scenario())


def test_a_failed_write_fails_the_batch() -> None:
    async def scenario() -> None:
        table = FakeTable()
        store = DurableTable(table)
        store[b"u1"] = b"a"
        table.sent[0][2].set_exception(RuntimeError("broker down"))
        with pytest.raises(RuntimeError, match="broker down"):
            await store.delivered()

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
        store = DurableTable(table)
        assert store.get(b"u1") == b"old"  # what recovery read, for a user not held yet
        store[b"u1"] = b"new"
        assert store.pop(b"u3") == b"erased"
        assert dict(recovered) == {b"u2": b"kept"} and recovered._key_partition == {b"u2": 1}
        assert store.get(b"u1") is None and store.get(b"u2") == b"kept"
        assert [(k, v) for k, v, _ in table.sent] == [(b"u1", b"new"), (b"u3", None)]

    asyncio.run(scenario())
