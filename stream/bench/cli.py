"""``stream bench``: measure throughput, latency, memory and the model path in one run."""

from __future__ import annotations

import argparse
import logging
import signal
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from stream.bench.report import print_summary, write_report
from stream.bench.runner import MEASUREMENTS, OPTIONAL_MEASUREMENTS, BenchConfig, run_bench
from stream.bench.workload import IMPRESSION_SIZE
from stream.settings import Settings

__all__ = ["register"]

log = logging.getLogger(__name__)


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of numbers: {text}") from exc


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in _floats(text))


def _catalogues(text: str) -> tuple[int, ...]:
    sizes = _ints(text)
    if not sizes or min(sizes) < IMPRESSION_SIZE:
        raise argparse.ArgumentTypeError(
            f"catalogue sizes of at least {IMPRESSION_SIZE} items, e.g. 10000,100000 "
            f"(got {text!r})")
    return tuple(sorted(set(sizes)))


def _batches(text: str) -> tuple[int, ...]:
    sizes = _ints(text)
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"batch sizes of at least 1, e.g. 48,1000 (got {text!r})")
    return tuple(sorted(set(sizes)))


def _capped(text: str) -> tuple[int, int] | None:
    if text.strip().lower() in ("", "0", "none", "no"):
        return None
    users, sep, cap = text.partition(":")
    try:
        out = int(float(users)), int(float(cap))
    except ValueError:
        out = (0, 0)
    if not sep or min(out) < 1:
        raise argparse.ArgumentTypeError(f"USERS:CAP, e.g. 1000000:250000, or none (got {text!r})")
    return out


def _only(text: str) -> tuple[str, ...]:
    names = tuple(x.strip() for x in text.split(",") if x.strip())
    choices = (*MEASUREMENTS, *OPTIONAL_MEASUREMENTS)
    unknown = set(names) - set(choices)
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"choose among {', '.join(choices)} (got {text!r})")
    return names


def _cluster_sizes(text: str) -> tuple[int, ...]:
    sizes = _ints(text)
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"worker counts of at least 1, e.g. 1,2,3 (got {text!r})")
    return tuple(sorted(set(sizes)))


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _cmd_bench(args: argparse.Namespace) -> int:
    console = Console()
    settings = Settings()
    broker = args.broker
    if broker is None and "broker" in settings.model_fields_set:
        broker = settings.broker  # STREAM_BROKER was given: use that broker
    cfg = BenchConfig(
        events=args.events, items=args.items, users=args.users, rates=args.rates,
        memory_users=args.memory_users, memory_items=args.memory_items,
        memory_events_per_user=args.memory_events_per_user,
        memory_capped=args.memory_capped, memory_event_gap=args.memory_event_gap,
        seconds=args.seconds, model_events=args.model_events, model_items=args.model_items,
        cluster_events=args.cluster_events, cluster_workers=args.cluster_workers,
        pipeline_batches=args.pipeline_batches, only=args.only, seed=args.seed,
        broker=broker, profile=not args.no_profile, timeout=args.timeout,
    )
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    started = time.monotonic()

    def say(text: str) -> None:
        console.print(f"[{time.monotonic() - started:6.1f}s] {text}", highlight=False)

    # a SIGTERM unwinds like Ctrl-C: the workers, the broker and the temporary folder go too
    signal.signal(signal.SIGTERM, _exit_on_signal)
    result = run_bench(cfg, say, keep=out)
    paths = write_report(result, out)
    print_summary(result, console)
    console.print(f"wrote {', '.join(str(p) for p in paths)}", highlight=False)
    return 0


def register(sub: Any) -> None:
    """Add ``stream bench`` to the CLI."""
    d = BenchConfig()
    p = sub.add_parser(
        "bench",
        help="benchmark: worker vs trivial Faust agent, latency, memory, model path, clusters",
        description="Measure, in one run: end-to-end throughput of a real worker against a "
        "trivial Faust agent on the same broker and events; event-to-recommendation latency "
        "at fixed open-loop rates; memory per user; the worker's handling in process (its "
        "pipeline without Kafka or Faust); and the pure model path next to River's "
        "FunkMF. With --only cluster (not in the default set: it starts clusters of worker "
        "processes in turn, minutes of a small machine), what applying every worker's item "
        "facts costs a worker against its own events, and the cluster throughput that "
        "implies. Uses the embedded broker unless --broker or STREAM_BROKER is given.",
    )
    p.add_argument("--out", type=Path, default=Path("out/bench"),
                   help="folder for bench.json, bench.md and the plots (default: %(default)s)")
    p.add_argument("--events", type=int, default=d.events,
                   help="interactions pre-produced for the throughput run (default: %(default)s)")
    p.add_argument("--items", type=int, default=d.items,
                   help="catalogue size (default: %(default)s)")
    p.add_argument("--users", type=int, default=d.users,
                   help="readers in the traffic (default: %(default)s)")
    p.add_argument("--rates", type=_floats, default=d.rates,
                   help="open-loop rates of the latency steps, events/s (default: 1000,5000); "
                   "50%% and 80%% of the measured throughput are added")
    p.add_argument("--seconds", type=float, default=d.seconds,
                   help="length of each latency step (default: %(default)s)")
    p.add_argument("--memory-users", type=_ints, default=d.memory_users,
                   help="user counts of the memory measurement: the worker's whole per-user "
                   "state, each size in a process of its own (default: 100000,1000000)")
    p.add_argument("--memory-items", type=int, default=d.memory_items,
                   help="catalogue of the memory runs (default: %(default)s): what items hold "
                   "(co-visitation, vectors, statistics) grows with the catalogue, not with the "
                   "users, and would otherwise be counted per user")
    p.add_argument("--memory-events-per-user", type=float, default=d.memory_events_per_user,
                   help="interactions fed per user there, visits in turn: impressions, "
                   "clicks, reads (default: %(default)s)")
    p.add_argument("--memory-capped", type=_capped, default=d.memory_capped,
                   help="USERS:CAP, a run of more users than the user cap, RSS sampled as "
                   "they pass, or none (default: 1000000:250000)")
    p.add_argument("--memory-event-gap", type=float, default=d.memory_event_gap,
                   help="seconds of event time between two events of the memory runs; the "
                   "cap is enforced every 600 s of event time (default: %(default)s)")
    p.add_argument("--model-events", type=int, default=d.model_events,
                   help="events timed on the pure model path (default: %(default)s)")
    p.add_argument("--model-items", type=_catalogues, default=d.model_items,
                   help="catalogue sizes of the pure model path, each with the same events "
                   "(those of a workload of the smallest; the larger catalogues add items "
                   "from the same generator) (default: 10000,100000,1000000)")
    p.add_argument("--pipeline-batches", type=_batches, default=d.pipeline_batches,
                   help="batch sizes of the worker's handling in process (the throughput "
                   "run's items and interactions through the worker's pipeline, without "
                   "Kafka or Faust) (default: 8,48,1000)")
    p.add_argument("--cluster-events", type=int, default=d.cluster_events,
                   help="interactions of each cluster run (default: %(default)s)")
    p.add_argument("--cluster-workers", type=_cluster_sizes, default=d.cluster_workers,
                   help="cluster sizes, each a run of that many workers in one consumer group "
                   "on topics of its own; the cost model is fitted to the smallest and checked "
                   "against the others (default: 1,2,3)")
    p.add_argument("--only", type=_only, default=d.only,
                   help=f"a subset of {','.join((*MEASUREMENTS, *OPTIONAL_MEASUREMENTS))} "
                   f"(default: {','.join(MEASUREMENTS)}; cluster only when named: it takes "
                   "minutes)")
    p.add_argument("--seed", type=int, default=d.seed, help="seed of the workload")
    p.add_argument("--broker", default=None,
                   help="kafka://host:port of a running broker (default: STREAM_BROKER if "
                   "set, else an embedded Tansu)")
    p.add_argument("--timeout", type=float, default=d.timeout,
                   help="longest wait, s, for any one stage (default: %(default)s)")
    p.add_argument("--no-profile", action="store_true",
                   help="skip the py-spy profile of the worker")
    p.set_defaults(func=_cmd_bench)
