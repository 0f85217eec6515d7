"""A topic every worker reads whole, on a real broker: read to where it ended at start, and
again to where it ends when asked (the item facts, before a worker takes partitions over)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from stream.agents.followers import TopicFollower
from stream.dev.broker import EmbeddedBroker
from stream.messages import RawMessage
from tests.helpers import produce, unique_settings

pytestmark = [pytest.mark.integration]


def test_a_follower_reads_to_the_end_at_start_and_again_when_asked(
        broker: EmbeddedBroker) -> None:
    settings = unique_settings(broker)
    topic = settings.topic_item_facts

    def messages(first: int, n: int) -> list[tuple[str, bytes | None, bytes | None]]:
        return [(topic, b"0", str(first + i).encode()) for i in range(n)]

    async def scenario() -> None:
        learned: list[bytes] = []
        stop = False

        def learn(batch: Sequence[RawMessage]) -> int:
            learned.extend(m.value or b"" for m in batch)
            return len(batch)

        await produce(broker.bootstrap, messages(0, 30))
        follower = TopicFollower(settings, topic, learn, "facts")
        reading = asyncio.create_task(follower.run(lambda: stop))
        try:
            await asyncio.wait_for(follower.current.wait(), 30)
            assert follower.caught_up.is_set()
            assert len(learned) >= 30  # everything there at start was read first
            await produce(broker.bootstrap, messages(30, 40))
            follower.catch_up_again()
            assert not follower.current.is_set()
            await asyncio.wait_for(follower.current.wait(), 30)
            # everything there when it was asked, in order
            assert learned[:70] == [str(i).encode() for i in range(70)]
            assert follower.caught_up.is_set()
        finally:
            stop = True
            await asyncio.wait_for(reading, 30)

    asyncio.run(scenario())
