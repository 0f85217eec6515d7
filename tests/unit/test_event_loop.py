"""The worker's event loop: uvloop by default where installed, asyncio's own on request."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import uvloop

from stream.app import use_event_loop


@pytest.fixture(autouse=True)
def restore_policy() -> Iterator[None]:
    policy = asyncio.get_event_loop_policy()
    yield
    asyncio.set_event_loop_policy(policy)


def test_uvloop_makes_every_new_loop_a_uvloop() -> None:
    assert use_event_loop("uvloop") == "uvloop"
    loop = asyncio.new_event_loop()
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()


def test_asyncio_takes_asyncios_own_loop() -> None:
    use_event_loop("uvloop")
    assert use_event_loop("asyncio") == "asyncio"
    loop = asyncio.new_event_loop()
    try:
        assert not isinstance(loop, uvloop.Loop)
    finally:
        loop.close()
