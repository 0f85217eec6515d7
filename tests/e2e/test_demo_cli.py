"""``stream demo`` as a newcomer runs it: it stops by itself, cleans up, and its counts agree."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _processes_with(marker: str) -> set[int]:
    """Pids of live processes whose environment carries ``marker`` (the demo's children
    inherit it), whoever their parent is now."""
    needle = f"DEMO_E2E_MARKER={marker}".encode()
    pids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\x00"):
                pids.add(int(entry.name))
        except OSError:
            continue
    return pids


def test_demo_runs_and_stops_by_itself(tmp_path: Path) -> None:
    marker = uuid.uuid4().hex
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAM_")}
    env["DEMO_E2E_MARKER"] = marker
    proc = subprocess.run(
        [sys.executable, "-m", "stream", "demo", "--seconds", "20"],
        capture_output=True, text=True, timeout=240, env=env, cwd=tmp_path,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "NOTE: The embedded Tansu broker keeps everything in memory" in " ".join(out.split())
    for check in ("every produced event consumed", "every malformed event", "every published",
                  "the retracted article left"):
        assert check in " ".join(out.split())
    assert "NO" not in re.findall(r"\b(?:yes|NO)\b", out)
    m = re.search(r"events in: ([\d,]+) .*? recommendations out: ([\d,]+) · dead-lettered: "
                  r"([\d,]+)", " ".join(out.split()))
    assert m, out
    events, recs, dead = (int(g.replace(",", "")) for g in m.groups())
    assert events > 1000 and recs > 100 and dead > 0
    assert _processes_with(marker) == set(), "the demo left processes behind"
