"""``stream demo`` as a newcomer runs it: it stops by itself, cleans up, and its counts agree."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import orjson
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
    summary_path = tmp_path / "summary.json"
    proc = subprocess.run(
        [sys.executable, "-m", "stream", "demo", "--seconds", "30",
         "--summary-json", str(summary_path)],
        capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path,
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

    # the same run as JSON: the counts agree with the printed ones and with each other
    summary = orjson.loads(summary_path.read_bytes())
    counts = summary["counts"]
    assert summary["ok"] is True and all(summary["checks"].values())
    assert counts["produced"] == counts["consumed"] == events
    assert counts["published"] == counts["recommendations_read_back"] == recs
    assert counts["malformed"] == counts["dead_lettered"] == counts["dead_letters_read_back"] \
        == dead
    assert 0 < summary["latency_seconds"]["p50"] <= summary["latency_seconds"]["p99"]
    # every list read back is timed from its reader's click or read, or was published again
    # for the retraction (timed by its check)
    latency = summary["latency_seconds"]
    assert latency["lists"] + latency["published_again"] == recs
    variants = summary["variants"]
    assert set(variants) == {"control", "diverse", "popularity"}
    for figures in variants.values():
        for key in ("clicks", "impressions", "ctr", "expected_ctr", "on_taste_top10",
                    "hr@10", "ndcg@10"):
            assert key in figures, key
    # against the simulated readers' true tastes, personal lists beat the baseline
    control, popular = variants["control"], variants["popularity"]
    assert control["readers"] > 0 and popular["readers"] > 0
    assert control["on_taste_top10"] > popular["on_taste_top10"] + 0.3
    assert control["ctr"] > popular["ctr"]
