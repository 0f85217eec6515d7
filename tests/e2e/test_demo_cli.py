"""``stream demo`` as a newcomer runs it: it stops by itself, cleans up, and its counts agree."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _our_processes() -> set[int]:
    """Pids of Tansu brokers and stream workers running now."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\x00", b" ").decode(errors="replace")
        except OSError:
            continue
        if "tansu" in cmd or "-m stream worker" in cmd:
            pids.add(int(entry.name))
    return pids


def test_demo_runs_and_stops_by_itself(tmp_path: Path) -> None:
    before = _our_processes()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAM_")}
    proc = subprocess.run(
        [sys.executable, "-m", "stream", "demo", "--seconds", "20"],
        capture_output=True, text=True, timeout=240, env=env, cwd=tmp_path,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "NOTE: The embedded Tansu broker keeps everything in memory" in " ".join(out.split())
    for check in ("every produced event consumed", "every malformed event", "every published"):
        assert check in " ".join(out.split())
    assert "NO" not in re.findall(r"\b(?:yes|NO)\b", out)
    m = re.search(r"events in: ([\d,]+) .*? recommendations out: ([\d,]+) · dead-lettered: "
                  r"([\d,]+)", " ".join(out.split()))
    assert m, out
    events, recs, dead = (int(g.replace(",", "")) for g in m.groups())
    assert events > 1000 and recs > 100 and dead > 0
    assert _our_processes() - before == set()
