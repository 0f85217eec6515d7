"""The agents' batches: cut at ``max_size`` or ``within`` seconds after the first event, but
not while events already fetched wait to be read."""

from __future__ import annotations

import asyncio
import time

from stream.agents.batcher import Batcher


def test_a_batch_is_cut_at_its_size_or_its_window() -> None:
    async def scenario() -> None:
        batcher: Batcher[int] = Batcher(max_size=3, within=0.05)
        for n in range(3):
            await asyncio.wait_for(batcher.put(n), 1)
        putting = asyncio.ensure_future(batcher.put(3))  # waits: three are waiting already
        await asyncio.sleep(0.01)
        assert not putting.done() and len(batcher) == 3
        assert await asyncio.wait_for(batcher.take(), 0.02) == [0, 1, 2]  # full: at once
        await asyncio.wait_for(putting, 1)
        started = time.monotonic()
        assert await batcher.take() == [3]
        assert time.monotonic() - started >= 0.04  # the window, for events still to come

    asyncio.run(scenario())


def test_events_already_fetched_are_read_into_the_batch_past_its_window() -> None:
    async def scenario() -> None:
        queued = list(range(50))  # what the consumer fetched: a backlog
        batcher: Batcher[int] = Batcher(max_size=40, within=0.02,
                                        backlog=lambda last: bool(queued))

        async def stream() -> None:  # reads slowly: a window holds a few events only
            while queued:
                await batcher.put(queued.pop(0))
                await asyncio.sleep(0.004)

        reading = asyncio.ensure_future(stream())
        first = await batcher.take()
        second = await batcher.take()
        await reading
        assert first == list(range(40)) and second == list(range(40, 50))

    asyncio.run(scenario())
