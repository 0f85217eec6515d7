"""Events gathered into batches while the agent is busy: Faust's ``take`` gathers nothing
while the agent body runs, so a body that waits for the broker waits with an empty buffer."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["Batcher"]

T = TypeVar("T")


class Batcher(Generic[T]):
    """A buffer between a stream and the agent's batches: :meth:`put` adds one item as the
    stream yields it, and waits only while ``max_size`` items are waiting already;
    :meth:`take` returns the items gathered once ``max_size`` are there, or once ``within``
    seconds have passed since the first of them arrived and ``backlog(last item)`` says no
    more are waiting behind the last one.

    Unlike ``Stream.take`` (``add_to_buffer`` waits for the body to hand control back), the
    stream is read while the agent waits for room among its batches in flight, so the
    batches grow with the time the broker takes instead of being cut to the window after
    every wait. And the window bounds the wait for events still to come, not the reading of
    events already there: behind on its input, the agent handles full batches, which cost
    far less per event than the few events one window of reading brings.

    >>> async def demo():
    ...     batcher = Batcher(max_size=2, within=0.01)
    ...     for n in (1, 2, 3):
    ...         asyncio.ensure_future(batcher.put(n))
    ...     return [await batcher.take(), await batcher.take()]
    >>> asyncio.run(demo())
    [[1, 2], [3]]
    """

    def __init__(self, max_size: int, within: float,
                 backlog: Callable[[T], bool] = lambda item: False) -> None:
        if max_size < 1:
            raise ValueError(f"batches of at least one item, not {max_size}")
        self.max_size = max_size
        self.within = within
        #: whether more items wait behind this one already (in the stream's queue, or on
        #: the broker)
        self.backlog = backlog
        self._items: list[T] = []
        self._first_at = 0.0
        #: set by take() while it reads a backlog into the batch past the window
        self._draining = False
        self._arrived = asyncio.Event()
        self._ready = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()

    def __len__(self) -> int:
        """Items waiting to be taken."""
        return len(self._items)

    async def put(self, item: T) -> None:
        """Add ``item``; waits first while ``max_size`` items wait to be taken."""
        while not self._room.is_set():
            await self._room.wait()
        if not self._items:
            self._first_at = time.monotonic()
            self._arrived.set()
        self._items.append(item)
        if len(self._items) >= self.max_size:
            self._ready.set()
            self._room.clear()
        elif self._draining and not self.backlog(item):
            self._ready.set()

    async def take(self) -> list[T]:
        """The next batch: waits for a first item, then until ``max_size`` items are there,
        or ``within`` seconds have passed since the first arrived and no more are waiting
        to be read."""
        while not self._items:
            self._arrived.clear()
            await self._arrived.wait()
        remaining = self.within - (time.monotonic() - self._first_at)
        if remaining > 0 and len(self._items) < self.max_size:
            self._ready.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), remaining)
        while len(self._items) < self.max_size and self.backlog(self._items[-1]):
            self._draining = True
            self._ready.clear()
            before = len(self._items)
            try:  # the backlog is read at the stream's pace; if nothing comes, it is not ours
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._ready.wait(), self.within)
            finally:
                self._draining = False
            if len(self._items) == before:
                break
        batch, self._items = self._items, []  # never more than max_size: put waits
        self._room.set()
        return batch
