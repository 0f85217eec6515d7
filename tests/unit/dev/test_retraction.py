"""The demo's retraction check times each list from when the editor sent the takedown."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from stream.dev.retraction import DemoRetraction


@dataclass
class _Reader:
    user_id: str


class _Producer:
    """Reads a list back while the takedown is on its way, as the demo's reader task can."""

    def __init__(self, retraction: DemoRetraction) -> None:
        self.retraction = retraction

    async def send_and_wait(self, topic: str, value: Any, key: bytes) -> None:
        await asyncio.sleep(0.01)
        self.retraction.seen("u1", [{"item_id": "other"}])


def test_a_list_read_back_during_the_send_is_timed_from_the_send() -> None:
    retraction = DemoRetraction(at=0.0)
    latest = {"u1": [{"item_id": "a1"}], "u2": [{"item_id": "a1"}, {"item_id": "b"}]}
    before = time.time()
    sent = asyncio.run(retraction.send(_Producer(retraction), "items", latest,
                                       [_Reader("u1")], {}))
    assert sent and retraction.item_id == "a1" and retraction.holders == {"u1", "u2"}
    # cleared while the send was on its way: within the run, not since 1970
    assert 0.0 <= retraction.cleared["u1"] <= time.time() - before
    _, ok, figures = retraction.check()
    assert not ok and figures.startswith("1 of 2 lists replaced")
