"""``stream demo``: broker, worker and a simulated news site, watched live in the terminal.

The demo starts the embedded broker and a real ``stream worker`` process, produces a
simulated site's traffic with a plain Kafka producer, reads the published recommendations
and dead letters back with a plain Kafka consumer, and shows a few readers' lists change
after their clicks. The site serves each reader their latest published list, so the loop is
closed: what the worker recommends is what readers see next.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import subprocess
import tempfile
import time
import urllib.request
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from stream.dev.broker import EmbeddedBroker, free_port, wait_for_port
from stream.dev.measure import TOLD_APART, percentile, scrape
from stream.dev.processes import start_worker_process, stop_process, worker_env
from stream.dev.retraction import DemoRetraction
from stream.dev.simulate import Reader, Simulator
from stream.settings import EMBEDDED_BROKER_NOTE, Settings
from stream.topics import create_topics, topic_spec, topic_specs

__all__ = ["DemoStats", "register", "run_demo"]

WATCHED = 3
DEMO_VARIANTS = {"control": 0.5, "diverse": 0.5}
DEMO_VARIANT_OVERRIDES = {"diverse": {"diversity": 0.6}}


@dataclass
class DemoStats:
    """What the demo produced and saw come back."""

    produced: Counter[str] = field(default_factory=Counter)
    recommendations: int = 0
    tombstones: int = 0
    dead_letters: int = 0
    dead_letter_reasons: Counter[str] = field(default_factory=Counter)
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=5000))
    latest: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    previous: dict[str, list[str]] = field(default_factory=dict)
    last_click: dict[str, str] = field(default_factory=dict)

    @property
    def produced_interactions(self) -> int:
        """Interaction messages produced, valid or not."""
        return sum(n for k, n in self.produced.items() if k != "item")

    @property
    def produced_malformed(self) -> int:
        """Deliberately malformed messages produced."""
        return sum(n for k, n in self.produced.items() if k.startswith("malformed:"))

    @property
    def produced_total(self) -> int:
        """Every message produced."""
        return sum(self.produced.values())


def _metric_sum(metrics: dict[str, float], name: str) -> float:
    return sum(v for k, v in metrics.items() if k == name or k.startswith(name + "{"))


class Demo:
    """Runs the broker, one worker, the simulated site and the live view."""

    def __init__(
        self, seconds: float | None, rate: float, readers: int, seed: int, console: Console
    ) -> None:
        self.seconds = seconds
        self.rate = rate
        self.console = console
        self.settings = Settings()
        self.sim = Simulator(n_readers=readers, seed=seed)
        self.stats = DemoStats()
        self.stop = asyncio.Event()
        self.tmp = Path(tempfile.mkdtemp(prefix="stream-demo-"))
        self.broker = EmbeddedBroker(log_dir=self.tmp)
        self.worker: subprocess.Popen[bytes] | None = None
        self.metrics_port = free_port()
        self.web_port = free_port()
        self.worker_metrics: dict[str, float] = {}
        self.watched = self._pick_watched()
        self.started = time.monotonic()
        self.retraction = DemoRetraction(at=seconds / 2 if seconds else 20.0)

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
                # two ranking configurations side by side, compared live by their quality metrics
                "STREAM_VARIANTS": orjson.dumps(DEMO_VARIANTS).decode(),
                "STREAM_VARIANT_OVERRIDES": orjson.dumps(DEMO_VARIANT_OVERRIDES).decode(),
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
        for ev in self.sim.catalogue(time.time()):
            await producer.send(self._topic(ev.stream), ev.value, key=ev.key)
            self.stats.produced[ev.kind] += 1
        await producer.flush()
        interval = 1.0 / self.rate
        next_at = time.monotonic()
        served = {u: [r["item_id"] for r in recs] for u, recs in self.stats.latest.items()}
        while not self.stop.is_set():
            if self.seconds is not None and time.monotonic() - self.started >= self.seconds:
                break
            served = {u: [r["item_id"] for r in recs] for u, recs in self.stats.latest.items()}
            if self.retraction.due(time.monotonic() - self.started) and await self.retraction.send(
                    producer, self.settings.topic_items, self.stats.latest, self.watched,
                    self.sim.item_by_id):
                self.stats.produced["withdrawal"] += 1
            for ev in self.sim.events(time.time(), served):
                await producer.send(self._topic(ev.stream), ev.value, key=ev.key)
                self.stats.produced[ev.kind] += 1
                if ev.kind == "click" and ev.user_id and ev.item_id:
                    self.stats.last_click[ev.user_id] = ev.item_id
            next_at += interval
            delay = next_at - time.monotonic()
            if delay > 0:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self.stop.wait(), delay)
        await producer.flush()

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
                        # the click's own timestamp to the moment the list was published
                        self.stats.latencies.append(rec["emitted_ts"] - rec["event_ts"])
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

    def _counts_table(self) -> Table:
        s, m = self.stats, self.worker_metrics
        table = Table(title="Counts", expand=True)
        table.add_column("")
        table.add_column("produced by the site", justify="right")
        table.add_column("seen by the worker", justify="right")
        table.add_column("read back from Kafka", justify="right")
        consumed = _metric_sum(m, "stream_events_consumed_total")
        table.add_row("events in", f"{s.produced_total:,}", f"{consumed:,.0f}", "")
        for kind in ("item", "impression", "click", "read"):
            table.add_row(
                f"  {kind}s",
                f"{s.produced[kind]:,}",
                f"{m.get(f'stream_events_consumed_total{{type={kind}}}', 0):,.0f}",
                "",
            )
        table.add_row(
            "  malformed",
            f"{s.produced_malformed:,}",
            f"{m.get('stream_events_consumed_total{type=invalid}', 0):,.0f}",
            "",
        )
        table.add_row(
            "dead-lettered",
            f"{s.produced_malformed:,}",
            f"{_metric_sum(m, 'stream_events_dead_lettered_total'):,.0f}",
            f"{s.dead_letters:,}",
        )
        table.add_row(
            "recommendations out",
            "",
            f"{m.get('stream_recommendations_published_total', 0):,.0f}",
            f"{s.recommendations:,}",
        )
        lat = list(s.latencies)
        table.add_row(
            "click → list (p50 / p99)",
            "",
            "",
            f"{percentile(lat, 0.5) * 1000:.0f} / {percentile(lat, 0.99) * 1000:.0f} ms",
        )
        return table

    def quality_table(self) -> Table:
        """Live quality per variant, from the worker's counters: did readers click what we
        had just published to them?"""
        m = self.worker_metrics
        table = Table(title="Live quality by variant (clicks scored against the last list)")
        for col in ("variant", "clicks", "HR@10", "NDCG@10", "MRR"):
            table.add_column(col, justify="right" if col != "variant" else "left")
        for variant in DEMO_VARIANTS:
            label = f"{{variant={variant}}}"
            clicks = m.get(f"stream_quality_clicks_total{label}", 0.0)
            if not clicks:
                table.add_row(variant, "0", "–", "–", "–")
                continue
            table.add_row(
                variant,
                f"{clicks:,.0f}",
                f"{m.get(f'stream_quality_hits_total{label}', 0.0) / clicks:.3f}",
                f"{m.get(f'stream_quality_ndcg_total{label}', 0.0) / clicks:.3f}",
                f"{m.get(f'stream_quality_reciprocal_rank_total{label}', 0.0) / clicks:.3f}",
            )
        return table

    def _reader_panel(self, reader: Reader) -> Panel:
        s, sim = self.stats, self.sim
        lines = Text()
        last = s.last_click.get(reader.user_id)
        if last and last in sim.item_by_id:
            lines.append("last click: ", style="bold")
            lines.append(sim.item_by_id[last].title + "\n", style="cyan")
        recs = s.latest.get(reader.user_id, [])
        before = set(s.previous.get(reader.user_id, []))
        lines.append(self.retraction.note(reader.user_id))
        if not recs:
            lines.append("no clicks yet: waiting for the first one…", style="dim")
        for rank, rec in enumerate(recs[:5], 1):
            item = sim.item_by_id.get(rec["item_id"])
            title = item.title if item else rec["item_id"]
            mark = "  " if rec["item_id"] in before or not before else "▲ "
            lines.append(f"{rank}. {mark}", style="green" if mark.strip() else "")
            lines.append(title)
            lines.append(f"  — {rec['reason']}\n", style="dim")
        return Panel(lines, title=f"{reader.user_id}  ({reader.describe()})", expand=True)

    def render(self) -> Group:
        elapsed = time.monotonic() - self.started
        until = f" of {self.seconds:.0f}" if self.seconds else " (Ctrl-C to stop)"
        header = Text(
            f"stream demo · broker {self.broker.bootstrap} · worker metrics "
            f"http://127.0.0.1:{self.metrics_port}/metrics · {elapsed:.0f}s{until}",
            style="bold",
        )
        return Group(header, self._counts_table(), self.retraction.status(),
                     *(self._reader_panel(r) for r in self.watched))

    def plain_status(self) -> str:
        s, m = self.stats, self.worker_metrics
        return (
            f"[{time.monotonic() - self.started:5.1f}s] produced {s.produced_total:,} · worker "
            f"consumed {_metric_sum(m, 'stream_events_consumed_total'):,.0f} · recommendations "
            f"{s.recommendations:,} · dead-lettered {s.dead_letters:,}"
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
                _metric_sum(m, "stream_events_consumed_total") >= self.stats.produced_total
                and m.get("stream_recommendations_published_total", -1)
                == self.stats.recommendations
                and _metric_sum(m, "stream_events_dead_lettered_total") == self.stats.dead_letters
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
        consumed = _metric_sum(m, "stream_events_consumed_total")
        dead = _metric_sum(m, "stream_events_dead_lettered_total")
        published = m.get("stream_recommendations_published_total", 0.0)
        lat = list(s.latencies)
        checks = [
            (
                "every produced event consumed by the worker",
                consumed == s.produced_total,
                f"{s.produced_total:,} produced, {consumed:,.0f} consumed",
            ),
            (
                "every malformed event dead-lettered",
                dead == s.produced_malformed == s.dead_letters,
                f"{s.produced_malformed:,} malformed, {dead:,.0f} dead-lettered by the worker, "
                f"{s.dead_letters:,} read back from the .dlq topics",
            ),
            (
                "every published list read back",
                published == s.recommendations,
                f"{published:,.0f} published, {s.recommendations:,} read back",
            ),
            self.retraction.check(),
        ]
        table = Table(title="stream demo: summary")
        table.add_column("check")
        table.add_column("ok")
        table.add_column("figures")
        for name, ok, figures in checks:
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
            )
        c.print(self.quality_table())
        ok = drained and all(flag for _, flag, _ in checks)
        if not ok:
            c.print(f"[red]Counts disagree.[/] Worker log: {self.tmp / 'worker.log'}")
        return 0 if ok else 1


def run_demo(seconds: float | None, rate: float, readers: int, seed: int) -> int:
    """Run the demo; returns the exit code (0 when every count agrees)."""
    console = Console()
    demo = Demo(seconds, rate, readers, seed, console)
    try:
        code = asyncio.run(demo.run())
    finally:
        demo.stop_processes()
    console.print("Stopped the worker and the broker (its memory storage is gone).")
    return code


def _cmd_demo(args: argparse.Namespace) -> int:
    return run_demo(args.seconds, args.rate, args.readers, args.seed)


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
        "--rate", type=float, default=100.0, help="reader visits per second (default: %(default)s)"
    )
    p.add_argument("--readers", type=int, default=300, help="simulated readers (default: 300)")
    p.add_argument("--seed", type=int, default=7, help="seed of the simulation")
    p.set_defaults(func=_cmd_demo)
