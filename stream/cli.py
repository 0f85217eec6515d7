"""The ``stream`` command: broker, worker, demo, and the subcommands of each subsystem.

Each subsystem module listed in ``_SUBCOMMAND_MODULES`` exposes ``register(subparsers)``,
which adds its parser and sets ``func`` (a callable taking the parsed namespace and returning
an exit code).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import signal
import sys
import time
from collections.abc import Callable, Sequence

from pydantic import ValidationError

from stream import __version__
from stream.settings import EMBEDDED_BROKER_NOTE, Settings

__all__ = ["main"]

_SUBCOMMAND_MODULES: tuple[str, ...] = (
    "stream.dev.demo",
    "stream.sentiment.cli",
    "stream.evaluate.cli",
    "stream.bench.cli",
)


def _cmd_broker(args: argparse.Namespace) -> int:
    from stream.dev.broker import EmbeddedBroker
    from stream.topics import create_topics, topic_specs

    settings = Settings()
    specs = topic_specs(settings)
    broker = EmbeddedBroker(port=args.port)
    broker.start()
    try:
        made = asyncio.run(
            create_topics(broker.bootstrap, specs, settings.topic_replication_factor)
        )
        print(f"Embedded Kafka-compatible broker (Tansu) listening on {broker.bootstrap}")
        print(f"  created {len(made)} topics:")
        for spec in specs:
            parts = f"{spec.partitions} partition{'s' if spec.partitions != 1 else ''}"
            print(f"    {spec.name}  ({parts}{', compacted' if spec.compacted else ''})")
        print(f"  log: {broker.log_path}")
        print(f"NOTE: {EMBEDDED_BROKER_NOTE}")
        print("Run a worker with:  STREAM_BROKER=" + broker.url + " stream worker")
        print("Press Ctrl-C to stop.", flush=True)
        stop = _wait_for_signal()
        proc = broker.process
        while proc is not None and proc.poll() is None and not stop():
            time.sleep(0.5)
        if proc is not None and proc.poll() is not None and not stop():
            print(
                f"the broker exited with code {proc.returncode}; see {broker.log_path}",
                file=sys.stderr,
            )
            return 1
        return 0
    finally:
        broker.stop()
        print("broker stopped; its memory storage is gone.")


def _wait_for_signal() -> Callable[[], bool]:
    """Install SIGINT/SIGTERM handlers; returns a function telling whether one arrived."""
    flag = {"stop": False}

    def handler(signum: int, frame: object) -> None:
        flag["stop"] = True

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return lambda: flag["stop"]


def _cmd_worker(args: argparse.Namespace) -> int:
    from stream.app import run_worker
    from stream.errors import UnprotectedViews

    try:
        return run_worker(Settings(), loglevel=args.loglevel)
    except UnprotectedViews as refused:
        print(f"stream worker: refusing to start: {refused}", file=sys.stderr)
        return 2


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``stream`` command."""
    parser = argparse.ArgumentParser(
        prog="stream",
        description="Real-time personalization for media sites: Kafka in, fresh top-k out.",
    )
    parser.add_argument("--version", action="version", version=f"stream {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("broker", help="run the embedded Kafka-compatible broker (memory only)")
    p.add_argument(
        "--port",
        type=int,
        default=Settings().embedded_port,
        help="port on 127.0.0.1 (default: %(default)s)",
    )
    p.set_defaults(func=_cmd_broker)

    p = sub.add_parser("worker", help="run a worker against STREAM_BROKER")
    p.add_argument("--loglevel", default=None, help="override STREAM_LOG_LEVEL")
    p.set_defaults(func=_cmd_worker)

    for name in _SUBCOMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``stream`` console script."""
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        func: Callable[[argparse.Namespace], int] = args.func
        return func(args)
    except ValidationError as exc:  # the settings from the environment: say which, no trace
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'environment'}: "
                             f"{e['msg']}" for e in exc.errors())
        print(f"stream: invalid settings: {problems}", file=sys.stderr)
        return 2
