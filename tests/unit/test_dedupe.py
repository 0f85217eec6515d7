"""Dedupe windows: 64-bit hashes of the last event ids per user, in bounded rings."""

from __future__ import annotations

import subprocess
import sys

from stream.feed.dedupe import DedupeWindows, event_hash


def test_event_hashes_are_64_bit_and_the_same_in_every_process() -> None:
    here = event_hash("e-1")
    other = subprocess.run([sys.executable, "-c",
                            "from stream.feed.dedupe import event_hash; print(event_hash('e-1'))"],
                           capture_output=True, text=True, check=True)
    assert int(other.stdout) == here  # unlike hash(), which is salted per process
    assert 0 <= here < 2**64 and event_hash("e-2") != here


def test_a_window_holds_the_last_events_and_counts_them_all() -> None:
    windows = DedupeWindows(size=16)
    row = windows.add_user("u")
    for n in range(40):
        h = event_hash(f"e{n}")
        assert not windows.seen(row, h)
        windows.record(row, h)
        assert windows.seen(row, h)
    hashes, applied = windows.window("u")  # type: ignore[misc]
    assert hashes == [event_hash(f"e{n}") for n in range(24, 40)] and applied == 40
    assert not windows.seen(row, event_hash("e23")) and windows.seen(row, event_hash("e24"))


def test_users_are_restored_replaced_and_dropped() -> None:
    windows = DedupeWindows(size=4)
    row = windows.add_user("u", [event_hash(f"e{n}") for n in range(6)], applied=6)
    assert windows.window("u") == ([event_hash(f"e{n}") for n in range(2, 6)], 6)
    assert windows.seen(row, event_hash("e5")) and not windows.seen(row, event_hash("e1"))
    again = windows.add_user("u")  # replaces what was held
    assert windows.window("u") == ([], 0) and len(windows) == 1 and again == row
    assert windows.pop("u") == row and windows.pop("u") is None and "u" not in windows
    assert windows.window("u") is None and list(windows) == []


def test_record_new_records_once_and_counts_only_new_events() -> None:
    windows = DedupeWindows(size=4)
    row = windows.add_user("u", [event_hash("e0")], applied=1)
    first = [windows.record_new(row, event_hash(f"e{n}")) for n in (0, 1, 2, 1, 3, 4, 5, 1)]
    # e1 is a duplicate while in the window, and new again once it has left it
    assert first == [False, True, True, False, True, True, True, True]
    assert windows.window("u") == ([event_hash(f"e{n}") for n in (3, 4, 5, 1)], 7)
    assert windows.record_new(row, 2**64 - 1) and not windows.seen(row, 0)
