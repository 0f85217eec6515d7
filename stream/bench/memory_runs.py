"""The memory measurement of ``stream bench``: runs of :mod:`stream.bench.memory`, each in a
child process of its own."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stream.dev.processes import stop_process

if TYPE_CHECKING:
    from stream.bench.runner import BenchConfig, Say

__all__ = ["measure_memory"]


def _memory_run(cfg: BenchConfig, users: int, user_cap: int | None, say: Say
                ) -> dict[str, Any]:
    """One run of :mod:`stream.bench.memory` in a child process (so that runs do not share
    an allocator), its progress passed on every 30 s."""
    cmd = [sys.executable, "-m", "stream.bench.memory", "--users", str(users),
           "--items", str(cfg.memory_items),
           "--events-per-user", str(cfg.memory_events_per_user),
           "--event-gap", str(cfg.memory_event_gap), "--seed", str(cfg.seed)]
    if user_cap is not None:
        cmd += ["--user-cap", str(user_cap)]
    # beyond the timeout, time for the events fed at 500 a second: a rate well under the
    # worker path's, so only a stuck run reaches the limit
    limit = 2 * cfg.timeout + users * cfg.memory_events_per_user / 500.0
    with tempfile.TemporaryDirectory(prefix="stream-bench-memory-") as tmp:
        out_path, err_path = Path(tmp) / "out.json", Path(tmp) / "err.log"
        with out_path.open("wb") as out, err_path.open("wb") as err:
            proc = subprocess.Popen(cmd, stdout=out, stderr=err)
        deadline = time.monotonic() + limit
        told = time.monotonic()
        try:
            while proc.poll() is None:
                if time.monotonic() > deadline:
                    return {"users": users, "user_cap": user_cap,
                            "error": f"over {limit:,.0f} s"}
                time.sleep(1.0)
                if time.monotonic() - told >= 30:
                    told = time.monotonic()
                    lines = err_path.read_text(errors="replace").splitlines()
                    if lines:
                        say(f"  … {lines[-1].split('] ', 1)[-1]}")
        finally:
            stop_process(proc)
        if proc.returncode != 0:
            return {"users": users, "user_cap": user_cap,
                    "error": err_path.read_text(errors="replace").strip().splitlines()[-1:]}
        result: dict[str, Any] = json.loads(out_path.read_text().strip().splitlines()[-1])
        return result


def measure_memory(cfg: BenchConfig, say: Say) -> list[dict[str, Any]]:
    """The worker's whole per-user state at each of ``cfg.memory_users``, then more users than
    a cap (``cfg.memory_capped``) to show the cap bounding it."""
    out = []
    for n in cfg.memory_users:
        say(f"memory: {n:,} users through the worker's pipeline (a child process)")
        out.append(_memory_run(cfg, n, None, say))
    if cfg.memory_capped is not None:
        n, cap = cfg.memory_capped
        say(f"memory: {n:,} users through a cap of {cap:,} (a child process)")
        out.append(_memory_run(cfg, n, cap, say))
    return out
