"""Child processes the CLI, the benchmark and the tests start: a worker with its environment,
or any command, each stopped politely, then firmly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = [
    "die_with_parent",
    "start_process",
    "start_worker_process",
    "stop_process",
    "worker_env",
]


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """Run in a child before exec: Linux sends it ``sig`` when its parent dies, so nothing
    the demo or a test started outlives them, even when they are killed."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, sig)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the parent's cleanup still stops it
        pass


def start_process(
    cmd: Sequence[str], env: Mapping[str, str], log_path: Path
) -> subprocess.Popen[bytes]:
    """Start ``cmd`` in its own session (Ctrl-C in a terminal reaches only its parent), its
    output appended to ``log_path``; it dies with its parent (:func:`die_with_parent`)."""
    with log_path.open("ab") as log:
        return subprocess.Popen(
            list(cmd),
            env=dict(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )


def worker_env(
    data_dir: Path, metrics_port: int, web_port: int, settings: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment of a worker that a dev tool starts: the caller's own (every
    ``STREAM_*`` knob passes through), its own data dir and ports, a short session timeout so
    a stopped worker's partitions move on quickly, warnings only in its log, and ``settings``
    (``STREAM_*`` variables) over all of that."""
    return {
        **os.environ,
        "STREAM_METRICS_PORT": str(metrics_port),
        "STREAM_WEB_PORT": str(web_port),
        "STREAM_DATA_DIR": str(data_dir),
        "STREAM_BROKER_SESSION_TIMEOUT": "3",
        "STREAM_BROKER_HEARTBEAT_INTERVAL": "1",
        "STREAM_LOG_LEVEL": "warning",
        **(settings or {}),
    }


def start_worker_process(env: Mapping[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """``python -m stream worker`` (see :func:`start_process`) with ``env``, unbuffered so a
    killed worker's last lines are kept."""
    return start_process(
        [sys.executable, "-m", "stream", "worker"], {**env, "PYTHONUNBUFFERED": "1"}, log_path
    )


def stop_process(
    proc: subprocess.Popen[bytes] | None,
    timeout: float = 20.0,
    sig: signal.Signals = signal.SIGTERM,
) -> None:
    """``sig`` (SIGTERM; SIGINT makes a profiler write what it has), wait up to ``timeout``
    seconds, then SIGKILL."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
