"""Chunked, compressed, verified checkpoints of large state."""

from __future__ import annotations

import os

import pytest

from stream.checkpoint import CheckpointError, join_checkpoint, split_checkpoint


def test_round_trip_over_many_chunks() -> None:
    data = os.urandom(50_000) + b"{" * 200_000
    pairs = split_checkpoint(b"model", data, chunk_bytes=10_000)
    assert len(pairs) > 3 and all(len(v) <= 10_000 for _, v in pairs[:-1])
    store = dict(pairs)
    assert join_checkpoint(b"model", store.get) == data
    assert join_checkpoint(b"other", store.get) is None


def test_missing_or_corrupt_chunks_are_refused() -> None:
    store = dict(split_checkpoint(b"m", os.urandom(30_000), chunk_bytes=8_000))
    broken = dict(store)
    del broken[b"m.1"]
    with pytest.raises(CheckpointError, match="missing"):
        join_checkpoint(b"m", broken.get)
    broken = dict(store)
    chunk = bytearray(broken[b"m.0"])
    chunk[100] ^= 0xFF  # one flipped byte
    broken[b"m.0"] = bytes(chunk)
    with pytest.raises(CheckpointError, match="does not match"):
        join_checkpoint(b"m", broken.get)
    with pytest.raises(CheckpointError, match="manifest"):
        join_checkpoint(b"m", {b"m.manifest": b"not json"}.get)
