"""Where a py-spy profile's samples went, by function."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["top_frames"]


def _function(frame: str) -> str:
    """A py-spy frame ``name (file:line)`` as ``name (file)``: samples add up by function."""
    name, _, where = frame.partition(" (")
    return f"{name} ({where.rsplit(':', 1)[0].rstrip(')')})" if where else name


def top_frames(collapsed: Path, n: int = 15) -> dict[str, list[dict[str, Any]]]:
    """Where the samples of a py-spy raw (collapsed stacks) file went, by function: ``own``,
    the functions most often innermost (native code counts to its Python caller), and
    ``ours``, the functions of the ``stream`` package most often anywhere on the stack."""
    own: dict[str, int] = {}
    total: dict[str, int] = {}
    samples = 0
    for line in collapsed.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        samples += count
        frames = [_function(f) for f in stack.split(";")]
        own[frames[-1]] = own.get(frames[-1], 0) + count
        for frame in set(frames):
            total[frame] = total.get(frame, 0) + count
    if not samples:
        return {"own": [], "ours": []}

    def entry(f: str) -> dict[str, Any]:
        return {"function": f, "own_share": round(own.get(f, 0) / samples, 4),
                "total_share": round(total[f] / samples, 4)}

    entry_points = ("stream/__main__.py", "stream/cli.py", "stream/app.py")
    ours = [f for f in total if "stream/" in f and "site-packages" not in f
            and not any(e in f for e in entry_points)]
    return {
        "samples": [{"function": "all", "own_share": 1.0, "total_share": float(samples)}],
        "own": [entry(f) for f in sorted(own, key=lambda f: -own[f])[:n]],
        "ours": [entry(f) for f in sorted(ours, key=lambda f: -total[f])[:n]],
    }
