"""The last lists as the retraction index: which readers' lists hold an item, what a list
costs in memory, and what finding the holders costs."""

from __future__ import annotations

import gc
import random
import time
import tracemalloc
from collections.abc import Callable

from stream.feed.quality import LastLists, item_hash


def test_holders_are_the_users_whose_current_list_holds_the_item() -> None:
    rng = random.Random(7)
    lists = LastLists(capacity=40, width=4)
    truth: dict[str, list[str]] = {}
    for n in range(3000):
        user = f"u{rng.randrange(60)}"
        if rng.random() < 0.05:
            lists.forget(user)
            truth.pop(user, None)
            continue
        # lists of every length, longer than the first width too
        published = [f"n{rng.randrange(30)}" for _ in range(rng.randrange(0, 12))]
        lists.put(user, "v", published)
        truth.pop(user, None)
        truth[user] = published
        while len(truth) > len(lists):  # the least recently updated left the bounded lists
            del truth[next(iter(truth))]
        assert set(truth) == {u for u in truth if lists.get(u) is not None}
        item = f"n{rng.randrange(30)}"
        want = sorted(u for u, ids in truth.items() if item in ids)
        assert sorted(lists.holders([item])) == want, n
        several = [item, f"n{rng.randrange(30)}"]
        assert sorted(lists.holders(several)) == sorted(
            u for u, ids in truth.items() if set(several) & set(ids)), n
    assert lists.holders([]) == [] and LastLists(5).holders(["n1"]) == []


def test_pinned_slots_are_remembered_per_list() -> None:
    lists = LastLists(capacity=10)
    lists.put("u", "v", ["a", "b", "c"], pinned=[1])
    assert [lists.is_pinned("u", r) for r in (1, 2, 3, 4)] == [False, True, False, False]
    lists.put("u", "v", ["a", "b", "c"])
    assert not lists.is_pinned("u", 2) and not lists.is_pinned("nobody", 1)


def _traced(build: Callable[[], object]) -> tuple[object, int]:
    """What ``build`` returns and the bytes it holds (traced while it runs)."""
    gc.collect()
    tracemalloc.start()
    try:
        built = build()
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return built, held


def test_memory_per_list_and_the_cost_of_finding_holders() -> None:
    """What the retraction index costs: bytes per list of ten (the whole last-lists cache,
    which is the index), against an inverted index of sets over the same lists; and one
    scan for an item's holders."""
    n = 20_000
    rng = random.Random(3)
    users = [f"reader-{i:07d}" for i in range(n)]  # the worker holds these strings already
    items = [[f"n{rng.randrange(2000):05d}" for _ in range(10)] for _ in range(n)]

    def last_lists() -> LastLists:
        lists = LastLists(capacity=n, width=10)
        for user, ids in zip(users, items, strict=True):
            lists.put(user, "default", ids)
        return lists

    def inverted() -> dict[int, set[str]]:
        index: dict[int, set[str]] = {}
        for user, ids in zip(users, items, strict=True):
            for h in ids:
                index.setdefault(item_hash(h), set()).add(user)
        return index

    lists, held = _traced(last_lists)
    assert isinstance(lists, LastLists)
    _, held_sets = _traced(inverted)
    start = time.perf_counter()
    found = lists.holders(["n00007"])
    scan = time.perf_counter() - start
    assert sorted(found) == sorted(u for u, ids in zip(users, items, strict=True)
                                   if "n00007" in ids)
    print(f"last lists as the retraction index: {held / n:.0f} bytes per list of ten at "
          f"{n:,} lists (an inverted index of sets would add {held_sets / n:.0f}); the "
          f"holders of an item found in {scan * 1000:.2f} ms")
    # a dict entry and a row number per user, ten 4-byte hashes, a length, a variant and a
    # bitmask of pinned slots (the matrices grow by half, so up to half as many rows again)
    assert held / n < 260
    assert held_sets > 2 * held
    assert scan < 1.0
