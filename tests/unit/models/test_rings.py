"""Rings: bounded per-row records whose memory follows how many a row holds."""

from __future__ import annotations

import numpy as np
import pytest

from stream.models.rings import Rings


def rings(size: int = 20) -> Rings:
    return Rings(size, {"item": (np.int32, -1), "w": (np.float16, 0.0)},
                 {"count": (np.int64, 0)}, capacity=2)


def test_widths_grow_by_four_up_to_the_size() -> None:
    assert Rings(500, {"x": (np.int32, -1)}).widths == (4, 16, 64, 256, 500)
    assert Rings(64, {"x": (np.int32, -1)}).widths == (4, 16, 64)
    assert Rings(3, {"x": (np.int32, -1)}).widths == (3,)


def test_a_row_moves_up_the_widths_then_wraps_keeping_the_newest() -> None:
    r = rings(20)
    row = r.add()
    assert r.width(row) == 0 and r.records(row)[0].size == 0
    seen_widths = []
    for n in range(25):
        r.append(row, n, n / 2)
        seen_widths.append(r.width(row))
        items, weights = r.records(row)
        assert items.tolist() == list(range(max(0, n - 19), n + 1))  # oldest first
        assert weights.tolist() == [i / 2 for i in items.tolist()]
    assert seen_widths[:4] == [4] * 4 and seen_widths[4] == 16 and seen_widths[-1] == 20
    assert r.find(row, 0, 4) == -1 and r.find(row, 0, 5) >= 0
    pos = r.find(row, 0, 24)
    r.put(row, 1, pos, 7.0)
    assert r.get(row, 1, pos) == 7.0 and r.records(row)[1][-1] == 7.0


def test_rows_and_slots_are_reused_and_memory_follows_lengths() -> None:
    r = rings(20)
    light = [r.add() for _ in range(100)]
    for row in light:
        for n in range(3):
            r.append(row, n, 1.0)
    assert {r.width(row) for row in light} == {4}
    # a hundred rows of three records take slots of four (6 bytes a record), never of twenty
    assert r.slots(0) == 100 and r.slots(len(r.widths) - 1) == 0
    assert r.nbytes < 100 * 20 * 6
    held = r.nbytes
    first = light[0]
    r.row_field("count")[first] = 5
    r.remove(first)
    again = r.add()
    assert again == first and r.records(again)[0].size == 0
    assert r.row_field("count")[again] == 0 and len(r) == 100
    r.append(again, 9, 1.0)
    assert r.slots(0) == 100 and r.nbytes == held  # the freed row and slot were taken again


def test_replace_fits_the_narrowest_width_and_rows_with_finds_holders() -> None:
    r = rings(20)
    a, b = r.add(), r.add()
    for n in range(18):
        r.append(a, n, 1.0)
    r.append(b, 3, 1.0)
    assert sorted(r.rows_with(0, np.array([3])).tolist()) == [a, b]
    assert r.rows_with(0, np.array([99])).size == 0
    items, weights = r.records(a)
    keep = items % 5 == 0
    r.replace(a, [items[keep], weights[keep]])
    assert r.records(a)[0].tolist() == [0, 5, 10, 15] and r.width(a) == 4
    r.append(a, 20, 1.0)
    assert r.records(a)[0].tolist() == [0, 5, 10, 15, 20]
    r.replace(b, [np.zeros(0, np.int32), np.zeros(0, np.float16)])
    assert r.width(b) == 0 and r.rows_with(0, np.array([3])).size == 0
    with pytest.raises(ValueError):
        r.replace(b, [np.arange(21, dtype=np.int32), np.zeros(21, np.float16)])


def test_record_lists_and_values_agree_with_the_arrays_at_every_length() -> None:
    r = rings(20)
    row = r.add()
    for n in range(50):  # through every width, then around the ring twice
        r.append(row, n, n / 4)
        assert r.record_lists(row) == [a.tolist() for a in r.records(row)]
        assert sorted(r.values(row, 0)) == sorted(r.records(row)[0].tolist())
    r.replace(row, [np.arange(3, dtype=np.int32), np.zeros(3, dtype=np.float16)])
    assert r.record_lists(row) == [[0, 1, 2], [0.0, 0.0, 0.0]] and r.values(row, 0) == [0, 1, 2]
    r.remove(row)
    assert r.record_lists(r.add()) == [[], []]
