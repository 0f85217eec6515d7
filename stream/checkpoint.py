"""Large state in a Kafka table: compressed, split into chunks under a manifest, verified.

A trained sentiment scorer is megabytes of JSON, over Kafka's default 1 MB message limit.
It is stored as ``<name>.0 … <name>.<n-1>`` chunks of zlib-compressed bytes and a
``<name>.manifest`` written last, so a reader never assembles a half-written checkpoint: it
takes the chunks the manifest names and checks their SHA-256.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable

import orjson

__all__ = ["CheckpointError", "join_checkpoint", "split_checkpoint"]

CHUNK_BYTES = 512 * 1024


class CheckpointError(ValueError):
    """A checkpoint that is missing chunks or does not match its manifest."""


def split_checkpoint(
    name: bytes, data: bytes, chunk_bytes: int = CHUNK_BYTES
) -> list[tuple[bytes, bytes]]:
    """(key, value) pairs to write, in order: the chunks, then the manifest.

    >>> pairs = split_checkpoint(b"model", b"x" * 10, chunk_bytes=4)
    >>> [k for k, _ in pairs][-1]
    b'model.manifest'
    """
    packed = zlib.compress(data, 6)
    chunks = [packed[i : i + chunk_bytes] for i in range(0, len(packed), chunk_bytes)] or [b""]
    manifest = orjson.dumps(
        {
            "chunks": len(chunks),
            "sha256": hashlib.sha256(packed).hexdigest(),
            "bytes": len(data),
            "codec": "zlib",
        }
    )
    pairs = [(name + b"." + str(i).encode(), c) for i, c in enumerate(chunks)]
    pairs.append((name + b".manifest", manifest))
    return pairs


def join_checkpoint(name: bytes, get: Callable[[bytes], bytes | None]) -> bytes | None:
    """The checkpointed bytes, or None when there is no checkpoint; raises
    :class:`CheckpointError` when it is incomplete or corrupt."""
    raw = get(name + b".manifest")
    if raw is None:
        return None
    try:
        manifest = orjson.loads(raw)
        n = int(manifest["chunks"])
        digest = str(manifest["sha256"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"unreadable manifest for {name!r}: {exc}") from None
    parts = []
    for i in range(n):
        part = get(name + b"." + str(i).encode())
        if part is None:
            raise CheckpointError(f"chunk {i} of {n} of {name!r} is missing")
        parts.append(part)
    packed = b"".join(parts)
    if hashlib.sha256(packed).hexdigest() != digest:
        raise CheckpointError(f"checkpoint {name!r} does not match its manifest")
    try:
        return zlib.decompress(packed)
    except zlib.error as exc:
        raise CheckpointError(f"checkpoint {name!r} does not decompress: {exc}") from None
