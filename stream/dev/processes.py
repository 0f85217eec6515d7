"""Child processes the CLI and the tests start: a worker, stopped politely, then firmly."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

__all__ = ["die_with_parent", "start_worker_process", "stop_process"]


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """Run in a child before exec: Linux sends it ``sig`` when its parent dies, so nothing
    the demo or a test started outlives them, even when they are killed."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, sig)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the parent's cleanup still stops it
        pass


def start_worker_process(env: Mapping[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """``python -m stream worker`` in its own session (Ctrl-C in a terminal reaches only its
    parent), its output appended to ``log_path``, unbuffered so a killed worker's last lines
    are kept."""
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "stream", "worker"],
            env={**env, "PYTHONUNBUFFERED": "1"},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )


def stop_process(proc: subprocess.Popen[bytes] | None, timeout: float = 20.0) -> None:
    """SIGTERM, wait up to ``timeout`` seconds, then SIGKILL."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
