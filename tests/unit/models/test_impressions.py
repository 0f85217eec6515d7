"""A packed impression unpacks to what was packed, and its arrays are its own."""

from __future__ import annotations

import numpy as np

from stream.models.impressions import Impression


def test_an_impression_unpacks_to_what_was_packed() -> None:
    features = np.array([[0.0, 0.125, 0.25, 0.375], [0.5, 0.625, 0.75, 0.875],
                         [1.0, 1.125, 1.25, 1.375]], dtype=np.float32)
    packed = Impression(np.array([7, 2, 9]), np.array([True, False, False]),
                        np.array([False, False, True]), 5.5, features, False).pack()
    got = Impression.unpack(packed)
    assert got.items.tolist() == [7, 2, 9] and got.items.dtype == np.int64
    assert got.labelled.tolist() == [True, False, False]
    assert got.clicked.tolist() == [False, False, True]
    assert got.ts == 5.5 and got.user_columns is False
    assert got.features is not None and got.features.tobytes() == features.tobytes()
    assert Impression.items_of(packed).tolist() == [7, 2, 9]
    # the flags are arrays of their own: a label is not a click, and the bytes stay as packed
    got.labelled[1] = True
    assert got.clicked.tolist() == [False, False, True]
    assert Impression.unpack(packed).labelled.tolist() == [True, False, False]
    assert Impression.unpack(got.pack()).labelled.tolist() == [True, True, False]


def test_an_impression_without_features_unpacks_without() -> None:
    packed = Impression(np.array([1]), np.zeros(1, dtype=bool), np.zeros(1, dtype=bool),
                        0.0, None).pack()
    got = Impression.unpack(packed)
    assert got.features is None and got.items.tolist() == [1]
    assert Impression.deflated_features(packed) is None


def test_an_impression_unpacks_without_inflating_its_features_when_asked() -> None:
    features = np.full((2, 3), 0.5, dtype=np.float32)
    packed = Impression(np.array([4, 5]), np.array([False, True]), np.array([True, False]),
                        2.0, features, True).pack()
    got = Impression.unpack(packed, features=False)
    assert got.features is None and got.items.tolist() == [4, 5] and got.ts == 2.0
    assert got.labelled.tolist() == [False, True] and got.clicked.tolist() == [True, False]
    assert got.user_columns is True
    assert Impression.deflated_features(packed) is not None  # still held, deflated
