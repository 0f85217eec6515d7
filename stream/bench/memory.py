"""Memory per user in a process of its own: ``python -m stream.bench.memory --users N``
prints one JSON line (see :func:`stream.bench.runner.memory_per_user`)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import orjson

from stream.bench.runner import memory_per_user

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Measure one size and print the result as JSON."""
    parser = argparse.ArgumentParser(prog="python -m stream.bench.memory")
    parser.add_argument("--users", type=int, required=True)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--events-per-user", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    result = memory_per_user(args.users, args.items, args.events_per_user, args.seed)
    print(orjson.dumps(result).decode())  # the CLI's own output: one JSON line
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
