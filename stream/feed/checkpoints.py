"""User checkpoints: where they are stored, and how (deflated JSON, never pickles)."""

from __future__ import annotations

import zlib
from typing import Any, Protocol

import orjson

from stream.errors import CorruptCheckpoint

__all__ = ["StateStore", "decode_checkpoint", "encode_checkpoint"]


class StateStore(Protocol):
    """Where user state is checkpointed: a Faust table in the worker (changelog-backed, so it
    survives a crash and follows the user's partition), a dict in tests.

    The pipeline reads a key only for a user it does not hold in memory (a user it meets
    for the first time since it started or since their partition was assigned), so a store
    need not keep a local copy of what it writes: the worker's does not
    (:class:`~stream.agents.common.DurableTable`)."""

    def get(self, key: bytes, default: None = None, /) -> bytes | None:
        """The stored value, or None."""

    def __setitem__(self, key: bytes, value: bytes) -> None:
        """Store a value."""

    def pop(self, key: bytes, default: None, /) -> bytes | None:
        """Remove a key (a tombstone in the changelog)."""


#: zlib settings of checkpoints: the fastest level (higher ones barely shrink checkpoints of
#: a few hundred bytes, a third of them already deflated ranker features), and a 4 KiB
#: window with memLevel 5, which compress these as well as the defaults with an eighth of
#: the deflate state to allocate per call
_CHECKPOINT_LEVEL = 1
_CHECKPOINT_WBITS = 12
_CHECKPOINT_MEMLEVEL = 5


def encode_checkpoint(checkpoint: dict[str, Any]) -> bytes:
    """A user's checkpoint as the users table stores it: its JSON (orjson), deflated in the
    zlib format (RFC 1950: a 2-byte header, then an Adler-32 of the JSON at the end).

    >>> decode_checkpoint(encode_checkpoint({"user_id": "u1", "events": [], "applied": 0,
    ...                                      "models": {}}))["user_id"]
    'u1'
    """
    packer = zlib.compressobj(_CHECKPOINT_LEVEL, zlib.DEFLATED, _CHECKPOINT_WBITS,
                              _CHECKPOINT_MEMLEVEL)
    # new bytes of their own length: orjson's bytes would keep the buffer they were written
    # in (4 KiB at least) for as long as the table holds the value
    return packer.compress(orjson.dumps(checkpoint)) + packer.flush()


def decode_checkpoint(raw: bytes) -> dict[str, Any]:
    """The checkpoint :func:`encode_checkpoint` wrote; raises
    :class:`~stream.errors.CorruptCheckpoint` for anything else, and for a checkpoint
    without its ``events``, ``applied`` and ``models``."""
    try:
        saved = orjson.loads(zlib.decompress(raw))
    except (zlib.error, orjson.JSONDecodeError) as exc:
        raise CorruptCheckpoint(f"not a checkpoint: {type(exc).__name__}") from None
    if not (isinstance(saved, dict) and isinstance(saved.get("events"), list)
            and isinstance(saved.get("applied"), int)
            and isinstance(saved.get("models"), dict)):
        raise CorruptCheckpoint("not the fields of a checkpoint")
    return saved
