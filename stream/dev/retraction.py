"""What ``stream demo`` does to show an editor's retraction: half way through the run it takes
down the article most of the watched readers have on their screens, and watches it leave
every list that held it."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer
from rich.text import Text

__all__ = ["DemoRetraction"]


class _Reader(Protocol):
    @property
    def user_id(self) -> str: ...


class _Titled(Protocol):
    @property
    def title(self) -> str: ...


class DemoRetraction:
    """One retraction during the demo: when it is due, which article, which readers' lists
    held it, and when each was replaced by a list without it.

    >>> r = DemoRetraction(at=10.0)
    >>> r.due(9.0), r.due(10.0)
    (False, True)
    >>> r.choose({"a": [{"item_id": "n1"}, {"item_id": "n2"}], "b": [{"item_id": "n2"}]}, ["a"])
    'n2'
    """

    def __init__(self, at: float) -> None:
        #: seconds into the run when the article is taken down
        self.at = at
        self.item_id: str | None = None
        self.title = ""
        self.sent_at = 0.0
        #: readers whose last list read back held the article when it was taken down
        self.holders: set[str] = set()
        #: reader -> seconds from the retraction to the first list read back without it
        self.cleared: dict[str, float] = {}

    def due(self, elapsed: float) -> bool:
        """Whether it is time to take the article down (once)."""
        return self.item_id is None and elapsed >= self.at

    @staticmethod
    def choose(latest: Mapping[str, Sequence[Mapping[str, Any]]],
               watched: Collection[str], shown: int = 5) -> str | None:
        """The article the most watched readers see (the top ``shown`` of their lists), the
        most listed one overall on a tie or when they see none; None before any list."""
        on_screen = Counter(r["item_id"] for u in watched for r in latest.get(u, [])[:shown])
        listed = Counter(r["item_id"] for recs in latest.values() for r in recs)
        if not listed:
            return None
        best: str = max(listed, key=lambda i: (on_screen[i], listed[i], i))
        return best

    async def send(self, producer: AIOKafkaProducer, topic: str,
                   latest: Mapping[str, Sequence[Mapping[str, Any]]],
                   watched: Sequence[_Reader], items: Mapping[str, _Titled]) -> bool:
        """Take the chosen article down with a tombstone under its key, as an editor's tool
        would; whether one was sent (none before the first list)."""
        item_id = self.choose(latest, [r.user_id for r in watched])
        if item_id is None:
            return False
        found = items.get(item_id)
        self.item_id, self.title = item_id, found.title if found is not None else item_id
        # the clock starts before the send: lists read back while it is on its way count
        # from here (with it set after, they were timed from 1970)
        self.sent_at = time.time()
        self.holders = {u for u, recs in latest.items() if any(
            r["item_id"] == item_id for r in recs)}
        await producer.send_and_wait(topic, None, key=item_id.encode())
        return True

    def seen(self, user_id: str, items: Sequence[Mapping[str, Any]]) -> None:
        """A list read back: a holder's first list without the article clears them."""
        if user_id in self.holders and user_id not in self.cleared and not any(
                r["item_id"] == self.item_id for r in items):
            self.cleared[user_id] = max(time.time() - self.sent_at, 0.0)

    def status(self) -> Text:
        """One line for the live view."""
        if self.item_id is None:
            return Text(f"an editor retracts an article at {self.at:.0f}s", style="dim")
        slowest = max(self.cleared.values(), default=0.0)
        return Text(f"retracted “{self.title}”: gone from {len(self.cleared)} of "
                    f"{len(self.holders)} readers' lists that held it (the last within "
                    f"{slowest * 1000:.0f} ms)", style="bold magenta")

    def note(self, user_id: str) -> Text:
        """What a watched reader's panel says once the article left their list."""
        if user_id not in self.cleared:
            return Text()
        return Text(f"✗ “{self.title}” was retracted: gone from this list "
                    f"{self.cleared[user_id] * 1000:.0f} ms later\n", style="magenta")

    def check(self) -> tuple[str, bool, str]:
        """The summary's row: every list that held the article replaced without it."""
        if self.item_id is None:  # stopped before: nothing to check
            return ("an article retracted", True, f"the run ended before {self.at:.0f}s")
        slowest = max(self.cleared.values(), default=0.0)
        return ("the retracted article left every list that held it",
                self.cleared.keys() >= self.holders,
                f"{len(self.cleared)} of {len(self.holders)} lists replaced, the last "
                f"{slowest * 1000:.0f} ms after the retraction")
