"""ItemSentiment: decayed mean and count per item, bounded and forgettable."""

from __future__ import annotations

import pytest

from stream.sentiment import ItemSentiment


def test_decayed_mean_and_count() -> None:
    items = ItemSentiment(half_life=100.0)
    items.update("a", 1.0, ts=0.0)
    mean, count = items.get("a", now=0.0)
    assert (mean, count) == (1.0, 1.0)
    assert items.get("a", now=100.0) == pytest.approx((1.0, 0.5))
    assert items.get("a", now=300.0) == pytest.approx((1.0, 0.125))
    items.update("a", -1.0, ts=100.0)  # the old +1 counts half now
    mean, count = items.get("a", now=100.0)
    assert mean == pytest.approx((0.5 - 1.0) / 1.5)
    assert count == pytest.approx(1.5)


def test_recent_comments_dominate() -> None:
    items = ItemSentiment(half_life=60.0)
    for t in range(10):
        items.update("a", 1.0, ts=float(t))
    for t in range(600, 605):
        items.update("a", -1.0, ts=float(t))
    mean, _ = items.get("a", now=605.0)
    assert mean is not None and mean < -0.9


def test_late_comment_counts_as_already_decayed() -> None:
    items = ItemSentiment(half_life=100.0)
    items.update("a", 1.0, ts=100.0)
    items.update("a", -1.0, ts=0.0)  # arrives late, is one half-life old
    mean, count = items.get("a", now=100.0)
    assert count == pytest.approx(1.5)
    assert mean == pytest.approx(0.5 / 1.5)


def test_unknown_and_forget() -> None:
    items = ItemSentiment()
    assert items.get("x", now=0.0) == (None, 0.0)
    items.update("x", 0.5, ts=0.0)
    assert "x" in items and len(items) == 1
    assert items.forget("x") is True
    assert items.forget("x") is False
    assert items.get("x", now=0.0) == (None, 0.0)


def test_bounded_drops_the_least_recently_updated() -> None:
    items = ItemSentiment(max_items=2)
    items.update("a", 1.0, ts=0.0)
    items.update("b", 1.0, ts=1.0)
    items.update("a", 1.0, ts=2.0)  # a is fresh again
    items.update("c", 1.0, ts=3.0)  # b goes
    assert "b" not in items and "a" in items and "c" in items
    assert len(items) == 2


def test_update_many_and_json_round_trip() -> None:
    items = ItemSentiment(half_life=50.0, max_items=10)
    items.update_many([("a", 0.5, 0.0), ("b", -1.0, 10.0), ("a", -0.2, 20.0)])
    restored = ItemSentiment.from_dict(items.to_dict())
    for item_id in ("a", "b"):
        assert restored.get(item_id, now=40.0) == items.get(item_id, now=40.0)


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError):
        ItemSentiment(half_life=0.0)
    with pytest.raises(ValueError):
        ItemSentiment(max_items=0)
