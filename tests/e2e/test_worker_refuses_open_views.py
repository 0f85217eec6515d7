"""`stream worker` with its HTTP views on every interface and no token: it does not start, and
says what to set, before it tries to reach any broker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e]


def _worker(tmp_path: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAM_")}
    # no broker listens there: a worker that got past the check would not exit by itself
    env.update({"STREAM_BROKER": "kafka://127.0.0.1:1", **settings})
    return subprocess.run([sys.executable, "-m", "stream", "worker"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)


def test_open_views_without_a_token_stop_the_worker(tmp_path: Path) -> None:
    proc = _worker(tmp_path, STREAM_WEB_HOST="0.0.0.0")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("stream worker: refusing to start: the HTTP views would "
                                  "listen on 0.0.0.0:6066")
    for what in ("STREAM_WEB_TOKEN", "STREAM_WEB_TRUSTED_NETWORK=true", "STREAM_WEB_HOST"):
        assert what in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert not (tmp_path / "var").exists(), "refused before anything was set up"
