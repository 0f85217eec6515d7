"""``stream demo``: broker, worker and a simulated news site, watched live in the terminal.

The demo starts the embedded broker and a real ``stream worker`` process, produces a
simulated site's traffic with a plain Kafka producer, reads the published recommendations
and dead letters back with a plain Kafka consumer, and shows a few readers' lists change
after their clicks. The site serves each reader their latest published list, so the loop is
closed: what the worker recommends is what readers see next.

Three variants share the readers: control, diverse, and popularity, the baseline
personalization must beat (``stream/dev/demo_variants.py``). Since the simulator knows each
reader's true tastes, the demo measures every list it serves against them
(``stream/dev/ground_truth.py``): on-taste share, other-language share, expected and
observed click-through, per variant, live and in the summary (``--summary-json`` too).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import signal
import subprocess
import tempfile
import time
import urllib.request
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from stream.dev.broker import EmbeddedBroker, free_port, wait_for_port
from stream.dev.demo_variants import DEMO_RECOMMENDER, DEMO_VARIANT_OVERRIDES, demo_variants
from stream.dev.demo_view import (
    DemoStats,
    counts_checks,
    counts_table,
    fit_table,
    metric_sum,
    quality_table,
    reader_panel,
    summary_json,
)
from stream.dev.ground_truth import GroundTruth
from stream.dev.measure import TOLD_APART, percentile, scrape
from stream.dev.processes import start_worker_process, stop_process, worker_env
from stream.dev.retraction import DemoRetraction
from stream.dev.simulate import Reader, Simulator
from stream.settings import EMBEDDED_BROKER_NOTE, Settings
from stream.topics import create_topics, topic_spec, topic_specs

__all__ = ["DemoOptions", "DemoStats", "register", "run_demo"]

WATCHED = 3


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """How the demo runs: for how long (None: until Ctrl-C), how many visits a second, how
    many readers, the seed, the popularity arm's share of the readers, where to write the
    summary as JSON, and after how many clicks a reader's lists count in the ground truth."""

    seconds: float | None = None
    rate: float = 50.0
    readers: int = 300
    seed: int = 7
    popularity_share: float = 1.0 / 3.0
    summary_json: Path | None = None
    min_clicks: int = 5


class Demo:
    """Runs the broker, one worker, the simulated site and the live view."""

    def __init__(self, options: DemoOptions, console: Console) -> None:
        self.options = options
        self.seconds = options.seconds
        self.rate = options.rate
        self.console = console
        self.settings = Settings()
        self.variants = demo_variants(options.popularity_share)
        self.sim = Simulator(n_readers=options.readers, seed=options.seed)
        self.stats = DemoStats()
        self.truth = GroundTruth(self.sim.item_by_id, min_clicks=options.min_clicks)
        self.stop = asyncio.Event()
        self.tmp = Path(tempfile.mkdtemp(prefix="stream-demo-"))
        self.broker = EmbeddedBroker(log_dir=self.tmp)
        self.worker: subprocess.Popen[bytes] | None = None
        self.metrics_port = free_port()
        self.web_port = free_port()
        self.worker_metrics: dict[str, float] = {}
        self.watched = self._pick_watched()
        self.started = time.monotonic()
        self.retraction = DemoRetraction(at=self.seconds / 2 if self.seconds else 20.0)

    def _pick_watched(self) -> list[Reader]:
        by_lang = sorted(self.sim.readers, key=lambda r: -r.activity)
        chosen = [r for r in by_lang if r.langs == ("en",)][:2]
        chosen += [r for r in by_lang if "zh" in r.langs][:1]
        return chosen[:WATCHED]

    # --- processes ------------------------------------------------------------------------

    def start_worker(self) -> None:
        env = worker_env(
            self.tmp / "worker-data",
            self.metrics_port,
            self.web_port,
            {
                "STREAM_BROKER": self.broker.url,
                # ranking configurations side by side (one of them the popularity baseline),
                # compared live against the readers' true tastes
                "STREAM_VARIANTS": orjson.dumps(self.variants).decode(),
                "STREAM_VARIANT_OVERRIDES": orjson.dumps(
                    {v: o for v, o in DEMO_VARIANT_OVERRIDES.items() if v in self.variants}
                ).decode(),
                # the demo's knobs, unless the caller's environment sets one
                **{name: str(value) for knob, value in DEMO_RECOMMENDER.items()
                   if (name := f"STREAM_RECOMMENDER__{knob.upper()}") not in os.environ},
            },
        )
        self.worker = start_worker_process(env, self.tmp / "worker.log")
        wait_for_port("127.0.0.1", self.metrics_port, timeout=60)
        self.wait_ready(timeout=60)

    def wait_ready(self, timeout: float) -> None:
        """Until the worker says it is ready (in its group, tables recovered, catalogue read):
        the site opens then, as a real one would behind a readiness probe."""
        url = f"http://127.0.0.1:{self.web_port}/health?probe=ready"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.worker is not None and self.worker.poll() is not None:
                raise RuntimeError(f"the worker exited; see {self.tmp / 'worker.log'}")
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the worker was not ready after {timeout:.0f}s")

    def stop_processes(self) -> None:
        proc, self.worker = self.worker, None
        stop_process(proc)
        self.broker.stop()

    # --- traffic --------------------------------------------------------------------------

    def _topic(self, alias: str) -> str:
        return self.settings.topic_items if alias == "items" else self.settings.topic_interactions

    async def produce(self, producer: AIOKafkaProducer) -> None:
        items = 0
        for ev in self.sim.catalogue(time.time()):
            await producer.send(self._topic(ev.stream), ev.value, key=ev.key)
            self.stats.produced[ev.kind] += 1
            items += ev.kind == "item"
        await producer.flush()
        await self.catalogue_learned(items)
        interval = 1.0 / self.rate
        next_at = time.monotonic()
        while not self.stop.is_set():
            if self.seconds is not None and time.monotonic() - self.started >= self.seconds:
                break
            # the lists as they are now (a list read back later replaces, never changes one)
            latest = dict(self.stats.latest)
            served = {u: [r["item_id"] for r in recs] for u, recs in latest.items()}
            if self.retraction.due(time.monotonic() - self.started) and await self.retraction.send(
                    producer, self.settings.topic_items, self.stats.latest, self.watched,
                    self.sim.item_by_id):
                self.stats.produced["withdrawal"] += 1
            shown: tuple[str, ...] = ()
            viewer = ""
            clicked = False
            for ev in self.sim.events(time.time(), served):
                await producer.send(self._topic(ev.stream), ev.value, key=ev.key)
                self.stats.produced[ev.kind] += 1
                if ev.kind == "impression":
                    shown, viewer = ev.item_ids, ev.user_id or ""
                if ev.kind == "click" and ev.user_id and ev.item_id:
                    self.stats.last_click[ev.user_id] = ev.item_id
                    clicked = True
                if ev.kind in ("click", "read") and ev.user_id:
                    self.stats.sent.setdefault(ev.user_id, deque(maxlen=64)).append(
                        float(orjson.loads(ev.value)["ts"]))
            self._record_visit(latest, viewer, shown, clicked)
            next_at += interval
            delay = next_at - time.monotonic()
            if delay > 0:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self.stop.wait(), delay)
        await producer.flush()

    async def catalogue_learned(self, items: int, timeout: float = 30.0) -> None:
        """Until the worker has learned the ``items`` of the catalogue just published (or
        ``timeout`` s): the site opens its articles to readers once they are live, so the
        first clicks do not wait behind the catalogue, and the latencies measured are those
        of the traffic, not of the start."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.stop.is_set():
            with contextlib.suppress(OSError):
                seen = await asyncio.to_thread(scrape, self.metrics_port)
                if seen.get("stream_catalog_items_learned_total", 0.0) >= items:
                    return
            await asyncio.sleep(0.1)

    def _record_visit(self, latest: dict[str, list[dict[str, Any]]], user_id: str,
                      shown: tuple[str, ...], clicked: bool) -> None:
        """Measure the list a reader was just shown against their true tastes, when it
        came from the worker: a reader without a published list sees what the site picks."""
        reader = self.sim.reader_by_id.get(user_id)
        variant = self.stats.variant.get(user_id)
        if reader is None or variant is None or user_id not in latest:
            return
        recommended = [(r["item_id"], r["reason"]) for r in latest[user_id]]
        self.truth.record(reader, variant, recommended, shown, clicked)

    async def consume(self, consumer: AIOKafkaConsumer) -> None:
        recs_topic = self.settings.topic_recommendations
        while True:
            batches = await consumer.getmany(timeout_ms=200)
            for tp, messages in batches.items():
                for m in messages:
                    if tp.topic == recs_topic:
                        user = m.key.decode() if m.key else ""
                        if m.value is None:
                            self.stats.tombstones += 1
                            self.stats.latest.pop(user, None)
                            continue
                        rec = orjson.loads(m.value)
                        self.stats.recommendations += 1
                        if user in self.stats.latest:
                            self.stats.previous[user] = [
                                r["item_id"] for r in self.stats.latest[user]
                            ]
                        self.stats.latest[user] = rec["items"]
                        self.retraction.seen(user, rec["items"])
                        self.stats.variant[user] = rec["variant"]
                        # the click's own timestamp to the moment the list was published;
                        # a list the worker published again (a retraction took an article out
                        # of it) is timed from the retraction, by the retraction's check
                        if rec["event_ts"] in self.stats.sent.get(user, ()):
                            self.stats.latencies.append(rec["emitted_ts"] - rec["event_ts"])
                        else:
                            self.stats.republished += 1
                    else:
                        self.stats.dead_letters += 1
                        headers = dict(m.headers or ())
                        self.stats.dead_letter_reasons[
                            headers.get("stream-dlq-reason", b"?").decode()
                        ] += 1

    async def poll_metrics(self) -> None:
        while True:
            with contextlib.suppress(OSError):
                self.worker_metrics = await asyncio.to_thread(scrape, self.metrics_port, TOLD_APART)
            await asyncio.sleep(0.5)

    # --- view -----------------------------------------------------------------------------

    def render(self) -> Group:
        elapsed = time.monotonic() - self.started
        until = f" of {self.seconds:.0f}" if self.seconds else " (Ctrl-C to stop)"
        header = Text(
            f"stream demo · broker {self.broker.bootstrap} · worker metrics "
            f"http://127.0.0.1:{self.metrics_port}/metrics · {elapsed:.0f}s{until}",
            style="bold",
        )
        return Group(
            header,
            counts_table(self.stats, self.worker_metrics),
            fit_table(self.truth, self.variants),
            quality_table(self.worker_metrics, self.variants),
            self.retraction.status(),
            *(reader_panel(self.stats, self.sim, r, self.retraction.note(r.user_id))
              for r in self.watched),
        )

    def plain_status(self) -> str:
        s, m = self.stats, self.worker_metrics
        fit = self.truth.by_variant()
        on_taste = ", ".join(f"{v} {f['on_taste_top10']:.2f}" for v, f in fit.items())
        return (
            f"[{time.monotonic() - self.started:5.1f}s] produced {s.produced_total:,} · worker "
            f"consumed {metric_sum(m, 'stream_events_consumed_total'):,.0f} · recommendations "
            f"{s.recommendations:,} · dead-lettered {s.dead_letters:,}"
            + (f" · on-taste top-10 {on_taste}" if on_taste else "")
        )

    # --- run ------------------------------------------------------------------------------

    async def drain(self, timeout: float = 60.0) -> bool:
        """Wait until the worker has consumed everything produced and every list it published
        has been read back."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                self.worker_metrics = await asyncio.to_thread(
                    scrape, self.metrics_port, TOLD_APART
                )
            m = self.worker_metrics
            if (
                metric_sum(m, "stream_events_consumed_total") >= self.stats.produced_total
                and m.get("stream_recommendations_published_total", -1)
                == self.stats.recommendations
                and metric_sum(m, "stream_events_dead_lettered_total") == self.stats.dead_letters
            ):
                return True
            await asyncio.sleep(0.25)
        return False

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stop.set)
        c = self.console
        c.print("[bold]Starting the embedded broker[/] (Tansu, memory storage)…")
        await asyncio.to_thread(self.broker.start)
        await create_topics(self.broker.bootstrap, topic_specs(self.settings))
        c.print(f"[yellow]NOTE:[/] {EMBEDDED_BROKER_NOTE}")
        c.print("[bold]Starting a worker[/] (python -m stream worker)…")
        await asyncio.to_thread(self.start_worker)
        producer = AIOKafkaProducer(bootstrap_servers=self.broker.bootstrap, linger_ms=5)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.broker.bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await producer.start()
        await consumer.start()
        topics = [
            self.settings.topic_recommendations,
            self.settings.dlq(self.settings.topic_interactions),
            self.settings.dlq(self.settings.topic_items),
        ]
        consumer.assign(
            [
                TopicPartition(t, p)
                for t in topics
                for p in range(topic_spec(self.settings, t).partitions)
            ]
        )
        await consumer.seek_to_beginning()
        self.started = time.monotonic()
        tasks = [
            asyncio.create_task(self.consume(consumer)),
            asyncio.create_task(self.poll_metrics()),
        ]
        producing = asyncio.create_task(self.produce(producer))
        try:
            if c.is_terminal:
                with Live(self.render(), console=c, refresh_per_second=4) as live:
                    while not producing.done():
                        live.update(self.render())
                        await asyncio.sleep(0.25)
                    c.print("[bold]Stopping the site; waiting for the worker to catch up…[/]")
                    drained = await self.drain()
                    live.update(self.render())
            else:
                last = 0.0
                while not producing.done():
                    if time.monotonic() - last >= 5:
                        c.print(self.plain_status())
                        last = time.monotonic()
                    await asyncio.sleep(0.25)
                c.print("Stopping the site; waiting for the worker to catch up…")
                drained = await self.drain()
            await producing
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await consumer.stop()
            await producer.stop()
        return self.summary(drained)

    def summary(self, drained: bool) -> int:
        s, m = self.stats, self.worker_metrics
        c = self.console
        lat = list(s.latencies)
        checks = [*counts_checks(s, m), ("retraction", *self.retraction.check())]
        table = Table(title="stream demo: summary")
        table.add_column("check")
        table.add_column("ok")
        table.add_column("figures")
        for _, name, ok, figures in checks:
            table.add_row(name, "[green]yes[/]" if ok else "[red]NO[/]", figures)
        c.print(table)
        c.print(
            f"events in: {s.produced_total:,} ({s.produced['item']:,} items, "
            f"{s.produced['impression']:,} impressions, {s.produced['click']:,} clicks, "
            f"{s.produced['read']:,} reads, {s.produced_malformed:,} malformed) · "
            f"recommendations out: {s.recommendations:,} · dead-lettered: {s.dead_letters:,} "
            f"({', '.join(f'{k} {v}' for k, v in sorted(s.dead_letter_reasons.items()))})"
        )
        if lat:
            c.print(
                f"click → published list (the event's ts to emitted_ts): p50 "
                f"{percentile(lat, 0.5) * 1000:.1f} ms, p99 "
                f"{percentile(lat, 0.99) * 1000:.1f} ms over {len(lat):,} lists"
                + (f" (and {s.republished:,} published again without a click, timed by the "
                   "retraction's check)" if s.republished else "")
            )
        c.print(fit_table(self.truth, self.variants))
        c.print(quality_table(m, self.variants))
        ok = drained and all(flag for _, _, flag, _ in checks)
        path = self.options.summary_json
        if path is not None:
            o = self.options
            run = {"seconds": o.seconds, "rate": o.rate, "readers": o.readers, "seed": o.seed,
                   "popularity_share": o.popularity_share}
            path.write_bytes(orjson.dumps(summary_json(s, m, self.truth, self.variants, run,
                                                       drained), option=orjson.OPT_INDENT_2))
            c.print(f"Summary written to {path}")
        if not ok:
            c.print(f"[red]Counts disagree.[/] Worker log: {self.tmp / 'worker.log'}")
        return 0 if ok else 1


def run_demo(options: DemoOptions) -> int:
    """Run the demo; returns the exit code (0 when every count agrees)."""
    console = Console()
    if not console.is_terminal and "COLUMNS" not in os.environ:
        # a log or a pipe: wide enough for the summary's tables, which a README quotes
        console = Console(width=100)
    demo = Demo(options, console)
    try:
        code = asyncio.run(demo.run())
    finally:
        demo.stop_processes()
    console.print("Stopped the worker and the broker (its memory storage is gone).")
    return code


def _share(text: str) -> float:
    """A share of the readers: a number from 0 to below 1, or a fraction such as 1/3."""
    try:
        num, _, den = text.partition("/")
        value = float(num) / float(den) if den else float(num)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"not a share: {text!r}") from None
    if not 0.0 <= value < 1.0 or math.isnan(value):
        raise argparse.ArgumentTypeError(f"a share is at least 0 and below 1, not {text}")
    return value


def _cmd_demo(args: argparse.Namespace) -> int:
    return run_demo(DemoOptions(seconds=args.seconds, rate=args.rate, readers=args.readers,
                                seed=args.seed, popularity_share=args.popularity_share,
                                summary_json=args.summary_json))


def register(sub: Any) -> None:
    """Add ``stream demo`` to the CLI."""
    p = sub.add_parser("demo", help="watch a live demo: broker, worker and a simulated news site")
    p.add_argument(
        "--seconds",
        type=float,
        default=None,
        help="stop by itself after this many seconds (default: run until Ctrl-C)",
    )
    p.add_argument(
        "--rate",
        type=float,
        default=50.0,
        help="reader visits per second (default: %(default)s; a worker that falls behind "
        "publishes lists after the reader has moved on, which the fit to their tastes shows)",
    )
    p.add_argument("--readers", type=int, default=300, help="simulated readers (default: 300)")
    p.add_argument("--seed", type=int, default=7, help="seed of the simulation")
    p.add_argument(
        "--popularity-share",
        type=_share,
        default=1.0 / 3.0,
        metavar="SHARE",
        help="readers served by the popularity arm, the baseline personalization must beat "
        "(e.g. 0.2 or 1/3; control and diverse split the rest evenly; default: 1/3)",
    )
    p.add_argument(
        "--summary-json",
        type=Path,
        default=None,
        metavar="PATH",
        help="also write the summary as JSON: counts, latency percentiles, and per variant "
        "clicks, impressions, CTR, expected CTR, on-taste share, HR@10 and NDCG@10",
    )
    p.set_defaults(func=_cmd_demo)
