"""The batches an agent has handed over and not yet acknowledged: it takes and handles its
next batch while the broker receives the last one's output and state."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from stream.agents.delivery import Health, Publisher, deliver
from stream.messages import Outgoing
from stream.metrics import Metrics

__all__ = ["Acknowledge", "InFlight"]

log = logging.getLogger(__name__)

#: acknowledges a batch's events (their offsets may be committed from then on)
Acknowledge = Callable[[], Awaitable[None]]


@dataclass(eq=False, slots=True)
class _Batch:
    output: Sequence[Outgoing]
    state: Sequence[Outgoing]
    acknowledge: Acknowledge | None
    handed_over: float
    #: set once its output is on the broker
    delivered: asyncio.Future[None]
    #: set once its output and state are on the broker and its events are acknowledged
    done: asyncio.Future[None]


async def _held() -> None:
    """Wait until the worker is stopped: a batch that can never be delivered is held, and
    every batch handed over after it with it."""
    await asyncio.Event().wait()


class InFlight:
    """Batches handed over by one agent (and, for the interactions, by the retraction
    republisher) and not yet acknowledged: at most ``limit`` at a time, each completed in
    the order it was handed over.

    A batch is completed in three steps, each after the same step of the batch before:

    1. its output (``send``) is sent once the batch before has all of its output on the
       broker, and waited for (:func:`~stream.agents.delivery.deliver`: sent again until the
       broker has it). One batch's output at a time: when a send fails and is repeated, no
       later batch's output is there to overtake it (a list never lands after the list that
       replaces it, and item facts reach the facts topic in input-offset order, which its
       readers' dedupe needs);
    2. its state writes (``write_state``: checkpoints, which say which events they include)
       are sent once its own output is delivered (a checkpoint never claims an event whose
       facts are not on the broker) and the batch before is completed, and waited for;
    3. its events are acknowledged, once the batch before's are: Faust commits only the
       end of a run of acknowledged offsets, and acknowledgements in input order keep every
       run a prefix of what was taken. An offset is never committed before everything its
       batch produced, and everything every earlier batch produced, is on the broker.

    A batch whose output or state can never be delivered is held (the worker's
    :class:`~stream.agents.delivery.Health` says why), and every batch after it stays
    unacknowledged with it; so does one whose completion fails with an unexpected error.
    ``limit=1`` is the worker without pipelining: the agent waits for each batch to be
    completed before it takes the next.
    """

    def __init__(self, limit: int, send: Publisher, metrics: Metrics, health: Health,
                 name: str, write_state: Publisher | None = None) -> None:
        if limit < 1:
            raise ValueError(f"at least one batch in flight, not {limit}")
        self.limit = limit
        self.send = send
        self.write_state = write_state
        self.metrics = metrics
        self.health = health
        self.name = name
        self._batches: deque[_Batch] = deque()
        self._tasks: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        """Batches handed over and not yet acknowledged."""
        return len(self._batches)

    def submit(self, output: Sequence[Outgoing], state: Sequence[Outgoing] = (),
               acknowledge: Acknowledge | None = None) -> asyncio.Future[None]:
        """Hand a batch over and return at once (not a coroutine: nothing can be handed
        over between a caller's ranking and its hand-over); the future is done once the
        batch is completed."""
        if state and self.write_state is None:
            raise ValueError(f"the {self.name} agent has no state to write")
        loop = asyncio.get_running_loop()
        previous = self._batches[-1] if self._batches else None
        batch = _Batch(output, state, acknowledge, time.perf_counter(),
                       loop.create_future(), loop.create_future())
        self._batches.append(batch)
        task = loop.create_task(self._complete(batch, previous))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return batch.done

    async def hand_over(self, output: Sequence[Outgoing], state: Sequence[Outgoing] = (),
                        acknowledge: Acknowledge | None = None) -> None:
        """:meth:`submit` a batch, then wait for :meth:`room`."""
        self.submit(output, state, acknowledge)
        await self.room()

    async def room(self) -> None:
        """Wait until fewer than ``limit`` batches are in flight."""
        while len(self._batches) >= self.limit:
            await asyncio.shield(self._batches[0].done)

    async def settled(self) -> None:
        """Wait until every batch handed over so far is completed."""
        if self._batches:
            await asyncio.shield(self._batches[-1].done)

    def close(self) -> None:
        """Stop completing batches (the worker stops): what is not acknowledged yet is
        processed again by whoever owns its partitions next."""
        for task in list(self._tasks):
            task.cancel()

    async def _complete(self, batch: _Batch, previous: _Batch | None) -> None:
        try:
            if previous is not None:
                await asyncio.shield(previous.delivered)
            if not await deliver(self.send, batch.output, self.metrics, self.health):
                await _held()
            batch.delivered.set_result(None)
            if previous is not None:
                await asyncio.shield(previous.done)
            if batch.state and self.write_state is not None and not await deliver(
                    self.write_state, batch.state, self.metrics, self.health):
                await _held()
            if batch.acknowledge is not None:
                await batch.acknowledge()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("completing a batch of the %s agent failed; it is held, with "
                          "every batch after it", self.name)
            self.health.fail(f"{self.name} batch not completed: {type(exc).__name__}: {exc}")
            await _held()
        self._batches.popleft()  # this batch: they complete in the order handed over
        batch.done.set_result(None)
        self.metrics.batch_completion.labels(self.name).observe(
            time.perf_counter() - batch.handed_over)
