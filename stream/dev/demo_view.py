"""What ``stream demo`` counts and shows: the counts on both sides of the broker, how the
lists fit the simulated readers, the worker's live quality, and the summary (tables and
JSON)."""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from stream.dev.ground_truth import GroundTruth
from stream.dev.measure import percentile
from stream.dev.simulate import Reader, Simulator

__all__ = [
    "DemoStats",
    "counts_checks",
    "counts_table",
    "fit_table",
    "metric_sum",
    "quality_table",
    "reader_panel",
    "summary_json",
]


@dataclass
class DemoStats:
    """What the demo produced and saw come back."""

    produced: Counter[str] = field(default_factory=Counter)
    recommendations: int = 0
    tombstones: int = 0
    dead_letters: int = 0
    dead_letter_reasons: Counter[str] = field(default_factory=Counter)
    #: click (or read) to published list, of the lists a reader's own click or read made
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=5000))
    #: the times (``ts``) of each reader's latest clicks and reads sent: a list whose
    #: ``event_ts`` is one of them was made by it
    sent: dict[str, deque[float]] = field(default_factory=dict)
    #: lists published for no event of their reader (a retraction, a rule: timed apart)
    republished: int = 0
    latest: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    previous: dict[str, list[str]] = field(default_factory=dict)
    last_click: dict[str, str] = field(default_factory=dict)
    #: the variant that made each reader's latest list, as the list says
    variant: dict[str, str] = field(default_factory=dict)

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


def metric_sum(metrics: Mapping[str, float], name: str) -> float:
    """The sum of every sample of ``name`` in a :func:`~stream.dev.measure.scrape`."""
    return sum(v for k, v in metrics.items() if k == name or k.startswith(name + "{"))


def counts_table(s: DemoStats, m: Mapping[str, float]) -> Table:
    """Events and lists on each side: the site's, the worker's and what came back."""
    table = Table(title="Counts", expand=True)
    table.add_column("")
    table.add_column("produced by the site", justify="right")
    table.add_column("seen by the worker", justify="right")
    table.add_column("read back from Kafka", justify="right")
    consumed = metric_sum(m, "stream_events_consumed_total")
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
        f"{metric_sum(m, 'stream_events_dead_lettered_total'):,.0f}",
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


def _share(x: float) -> str:
    return "–" if math.isnan(x) else f"{x:.2f}"


def fit_table(truth: GroundTruth, variants: Mapping[str, float]) -> Table:
    """How the lists shown fit the readers' true tastes, per variant."""
    table = Table(
        title=f"Fit to the readers' true tastes (visits after a reader's {truth.min_clicks}th "
        "click; shares of the top 10, mean over readers)"
    )
    for col in ("variant", "readers", "visits", "on-taste", "other lang", "trend/new",
                "CTR exp.", "CTR"):
        table.add_column(col, justify="left" if col == "variant" else "right")
    found = truth.by_variant()
    for variant in variants:
        f = found.get(variant)
        if f is None:
            table.add_row(variant, "0", "0", "–", "–", "–", "–", "–")
            continue
        table.add_row(
            variant,
            f"{f['readers']:,.0f}",
            f"{f['impressions']:,.0f}",
            _share(f["on_taste_top10"]),
            _share(f["other_language_top10"]),
            _share(f["discovery_top10"]),
            _share(f["expected_ctr"]),
            _share(f["ctr"]),
        )
    return table


def worker_quality(m: Mapping[str, float], variant: str) -> dict[str, float]:
    """The worker's live quality of a variant: clicks scored, HR@10, NDCG@10 and MRR
    (NaN before the first click)."""
    label = f"{{variant={variant}}}"
    clicks = m.get(f"stream_quality_clicks_total{label}", 0.0)

    def rate(name: str) -> float:
        return m.get(f"{name}{label}", 0.0) / clicks if clicks else math.nan

    return {
        "scored_clicks": clicks,
        "hr@10": rate("stream_quality_hits_total"),
        "ndcg@10": rate("stream_quality_ndcg_total"),
        "mrr": rate("stream_quality_reciprocal_rank_total"),
    }


def quality_table(m: Mapping[str, float], variants: Mapping[str, float]) -> Table:
    """The worker's live quality per variant, labelled for what it is."""
    table = Table(
        title="Clicks on the last list, by the worker (high by construction: readers can "
        "only click what they are shown)"
    )
    for col in ("variant", "clicks", "HR@10", "NDCG@10", "MRR"):
        table.add_column(col, justify="right" if col != "variant" else "left")
    for variant in variants:
        q = worker_quality(m, variant)
        table.add_row(variant, f"{q['scored_clicks']:,.0f}", _share(q["hr@10"]),
                      _share(q["ndcg@10"]), _share(q["mrr"]))
    return table


def reader_panel(s: DemoStats, sim: Simulator, reader: Reader, note: Text | None = None
                 ) -> Panel:
    """A reader's last click and the top of their latest list, new entries marked (and
    ``note``, e.g. that a retracted article left the list)."""
    lines = Text()
    last = s.last_click.get(reader.user_id)
    if last and last in sim.item_by_id:
        lines.append("last click: ", style="bold")
        lines.append(sim.item_by_id[last].title + "\n", style="cyan")
    recs = s.latest.get(reader.user_id, [])
    before = set(s.previous.get(reader.user_id, []))
    if note is not None:
        lines.append(note)
    if not recs:
        lines.append("no clicks yet: waiting for the first one…", style="dim")
    for rank, rec in enumerate(recs[:5], 1):
        item = sim.item_by_id.get(rec["item_id"])
        title = item.title if item else rec["item_id"]
        mark = "  " if rec["item_id"] in before or not before else "▲ "
        lines.append(f"{rank}. {mark}", style="green" if mark.strip() else "")
        lines.append(title)
        lines.append(f"  — {rec['reason']}\n", style="dim")
    variant = s.variant.get(reader.user_id, "no list yet")
    return Panel(lines, title=f"{reader.user_id}  ({reader.describe()}) · {variant}",
                 expand=True)


def counts_checks(s: DemoStats, m: Mapping[str, float]) -> list[tuple[str, str, bool, str]]:
    """The checks the summary makes: (key, what, whether it holds, the figures)."""
    consumed = metric_sum(m, "stream_events_consumed_total")
    dead = metric_sum(m, "stream_events_dead_lettered_total")
    published = m.get("stream_recommendations_published_total", 0.0)
    return [
        (
            "all_consumed",
            "every produced event consumed by the worker",
            consumed == s.produced_total,
            f"{s.produced_total:,} produced, {consumed:,.0f} consumed",
        ),
        (
            "all_malformed_dead_lettered",
            "every malformed event dead-lettered",
            dead == s.produced_malformed == s.dead_letters,
            f"{s.produced_malformed:,} malformed, {dead:,.0f} dead-lettered by the worker, "
            f"{s.dead_letters:,} read back from the .dlq topics",
        ),
        (
            "all_lists_read_back",
            "every published list read back",
            published == s.recommendations,
            f"{published:,.0f} published, {s.recommendations:,} read back",
        ),
    ]


#: figures of a variant that are counts, written to JSON as integers
_COUNTS = ("readers", "impressions", "clicks", "scored_clicks")


def summary_json(s: DemoStats, m: Mapping[str, float], truth: GroundTruth,
                 variants: Mapping[str, float], run: Mapping[str, Any],
                 drained: bool) -> dict[str, Any]:
    """The summary as JSON-able values (NaN where nothing was measured: orjson writes
    null): the run's settings, the counts and checks, latency percentiles, and per variant
    the fit to the readers' tastes with the worker's live quality."""
    checks = counts_checks(s, m)
    lat = list(s.latencies)
    found = truth.by_variant()
    variants_out = {}
    for variant in variants:
        figures = {**found.get(variant, {}), **worker_quality(m, variant)}
        variants_out[variant] = {k: round(v) if k in _COUNTS else v for k, v in figures.items()}
    return {
        "run": dict(run),
        "variant_weights": dict(variants),
        "ok": drained and all(ok for _, _, ok, _ in checks),
        "drained": drained,
        "checks": {key: ok for key, _, ok, _ in checks},
        "counts": {
            "produced": s.produced_total,
            "produced_by_kind": dict(sorted(s.produced.items())),
            "malformed": s.produced_malformed,
            "consumed": round(metric_sum(m, "stream_events_consumed_total")),
            "dead_lettered": round(metric_sum(m, "stream_events_dead_lettered_total")),
            "dead_letters_read_back": s.dead_letters,
            "dead_letter_reasons": dict(sorted(s.dead_letter_reasons.items())),
            "published": round(m.get("stream_recommendations_published_total", 0.0)),
            "recommendations_read_back": s.recommendations,
        },
        "latency_seconds": {
            # the lists a reader's click or read made; those published again without one
            # (a retraction) are timed by the retraction's check
            "lists": len(lat),
            "published_again": s.republished,
            "p50": percentile(lat, 0.5),
            "p99": percentile(lat, 0.99),
        },
        "min_clicks": truth.min_clicks,
        "variants": variants_out,
    }
