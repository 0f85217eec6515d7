"""What ``stream bench`` writes: ``bench.json``, ``bench.md`` (tables and the profiles), PNG
plots, and the summary table printed at the end."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from stream.bench.cluster_report import cluster_markdown, cluster_rows
from stream.bench.formatting import Row
from stream.bench.formatting import number as _num
from stream.bench.formatting import tick as _tick
from stream.bench.model_report import model_markdown, model_plot, model_rows
from stream.bench.pipeline_report import pipeline_markdown, pipeline_rows

__all__ = ["print_summary", "summary_rows", "write_report"]

#: the targets of the open issues, shown next to the figures
TARGETS = {
    "ratio": "≥ 1.5× the trivial agent (goal: 3×)",
    "memory": "≤ 1,024 B at 1M users",
    "half": "p50 ≤ 20 ms, p99 ≤ 100 ms at 50% of throughput",
}

#: the worker's throughput the ratio target asks for, in trivial agents
RATIO_TARGET = 1.5


#: the parts of the worker's per-user memory, as measured (``other``: the rest of the growth)
MEMORY_PARTS = {
    "model": "model (histories, pending lists)",
    "dedupe_windows": "dedupe windows (and partitions)",
    "checkpoints": "users table (local copies)",
    "last_lists": "last-lists cache",
    "other": "other (allocator, items)",
}


def _percentiles(step: dict[str, Any]) -> str:
    """A latency step's p50 / p95 / p99, each a lower bound (≥) where events went
    unanswered."""
    lower = "≥ " if step.get("censored") else ""
    return " / ".join(f"{lower}{_num(step.get(key), ',.1f')}"
                      for key in ("p50_ms", "p95_ms", "p99_ms")) + " ms"


def _floor_text(floor: dict[str, Any] | None) -> str:
    """A latency floor's p50 / p95 / p99, or why there is none."""
    if not floor:
        return "–"
    if "error" in floor:
        return str(floor["error"])
    return _percentiles(floor) + ("" if floor.get("sustained") else " (NOT sustained)")


def _capped(m: dict[str, Any]) -> bool:
    """Whether a memory run fed more users than its cap."""
    return bool(m.get("users_fed", 0) > m.get("user_cap", math.inf))


def summary_rows(result: dict[str, Any]) -> list[Row]:
    """(measure, figure, target) rows of every measurement present in ``result``."""
    rows: list[Row] = []
    tp = result.get("throughput")
    if tp:
        w, t = tp.get("worker", {}), tp.get("trivial", {})
        rows.append(("throughput: our worker, events/s",
                     _num(w.get("events_per_second")) + ("" if w.get("drained") else
                                                         " (not drained)"), ""))
        rows.append(("throughput: trivial Faust agent, events/s",
                     _num(t.get("events_per_second")) + ("" if t.get("drained") else
                                                         " (not drained)"), ""))
        rows.append(("throughput ratio worker / trivial", _num(tp.get("ratio"), ".2f", "×"),
                     TARGETS["ratio"]))
        batched = tp.get("batched")
        if batched:
            rows.append(("ceiling: batched Faust agent without model or state, events/s "
                         "(× trivial)",
                         _num(batched.get("events_per_second"))
                         + f" ({_num(tp.get('batched_over_trivial'), '.2f', '×')})"
                         + ("" if batched.get("drained") else " (not drained)"), ""))
    for step in result.get("latency", []):
        if "error" in step:
            rows.append((f"latency at {step['rate']:,.0f}/s", step["error"], ""))
            continue
        kept = "sustained" if step.get("sustained") else "NOT sustained"
        share = step.get("share_of_throughput")
        target = ""
        if share == 0.5:
            target = TARGETS["half"]
        near = f", ~{share:.0%} of throughput" if share else ""
        rows.append((
            f"latency at {step['rate']:,.0f}/s ({kept}{near}), p50 / p95 / p99",
            _percentiles(step),
            target,
        ))
        floor = step.get("floor")
        if floor:
            rows.append((f"  floor: batched Faust agent without work at {step['rate']:,.0f}/s, "
                         "p50 / p95 / p99", _floor_text(floor), ""))
    for m in result.get("memory", []):
        if "error" in m:
            rows.append((f"memory at {m['users']:,} users", str(m["error"]), ""))
            continue
        if _capped(m):
            rows.append((f"memory: {m['users_fed']:,} users through a cap of {m['user_cap']:,}, "
                         "RSS peak / end (users held)",
                         f"{_num(m['rss_peak_mib'])} / {_num(m['rss_after_mib'])} MiB "
                         f"({m['users']:,})", ""))
            continue
        rows.append((f"memory per user at {m['users']:,} users ({m['items']:,} items), the "
                     "worker's whole state",
                     f"{_num(m.get('bytes_per_user'))} B",
                     TARGETS["memory"] if m["users"] >= 1_000_000 else ""))
    pipeline = result.get("pipeline")
    if pipeline:
        rows += pipeline_rows(pipeline)
    model = result.get("model")
    if model:
        rows += model_rows(model)
    cluster = result.get("cluster")
    if cluster:
        rows += cluster_rows(cluster)
    return rows


def print_summary(result: dict[str, Any], console: Console) -> None:
    """The summary as a rich table."""
    table = Table(title=f"stream bench ({result.get('seconds', 0):.0f} s)")
    table.add_column("measure")
    table.add_column("figure", justify="right")
    table.add_column("target")
    for row in summary_rows(result):
        table.add_row(*row)
    console.print(table)


def _source(git: dict[str, Any]) -> str:
    if not git:
        return "Source: not a git checkout."
    dirty = git.get("uncommitted_in_stream") or []
    return f"Source: commit {git['commit']}" + (
        f", with uncommitted changes in {', '.join(f'`{d}`' for d in dirty)}." if dirty else ".")


def _markdown(result: dict[str, Any]) -> str:
    cfg, machine = result["config"], result["machine"]
    lines = [
        "# stream bench",
        "",
        f"Python {machine['python']} on {machine['platform']}, {machine['cpus']} CPUs, "
        f"load average at start {', '.join(str(x) for x in machine['load_at_start'])}; "
        f"broker: {result.get('broker', '–')}; {result.get('seconds', 0):.0f} s in all.",
        "",
        _source(machine.get("git") or {}),
        "",
        f"Workload: {cfg['items']:,} items, {cfg['users']:,} readers, {cfg['events']:,} "
        f"interactions for throughput, seed {cfg['seed']}.",
        "",
        "| measure | figure | target |",
        "|---|---:|---|",
    ]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in summary_rows(result)]
    tp = result.get("throughput")
    if tp:
        w = tp["worker"]
        lines += [
            "",
            "## Throughput",
            "",
            f"{tp['events']:,} interactions (after {tp['items']:,} items) pre-produced at "
            f"{tp['producer_events_per_second']:,.0f}/s, then each consumer started; rate = "
            "events / (last - first output message's Kafka timestamp). Worker batches: "
            f"batch_max {tp['batch_max']}, batch_within {tp['batch_within']} s, mean batch "
            f"{w.get('mean_batch', '–')} (all agents); {w.get('recommendations', 0):,} lists "
            "published.",
        ]
        batched = tp.get("batched")
        if batched:
            lines += [
                "", "The batched agent is the ceiling of any worker built on Faust's stream "
                "here: the worker's batches (`stream.take` with the same `batch_max` and "
                "`batch_within`), orjson, a count per user in a dict and one message per user "
                "per batch through a batching producer flushed before the batch is acked; no "
                f"model, no state changelog. It ran at {_num(batched.get('events_per_second'))} "
                f"events/s, {_num(tp.get('batched_over_trivial'), '.2f', '×')} the trivial "
                f"agent; our worker reached {_num(tp.get('batched_ratio'), '.2f', '×')} of it.",
            ]
        prof = tp.get("worker_profile")
        if prof and prof.get("own"):
            head = ["| function | own | total |", "|---|---:|---:|"]
            samples = prof["samples"][0]["total_share"]
            lines += ["", f"### Where the worker's time goes (py-spy, {samples:,.0f} samples "
                      "of the busy run at 100 Hz; `total`: anywhere on the stack)", "",
                      "Most often innermost (native code counts to its Python caller):", "",
                      *head]
            lines += [f"| `{p['function']}` | {p['own_share']:.1%} | {p['total_share']:.1%} |"
                      for p in prof["own"]]
            lines += ["", "Our functions, by share of samples anywhere on the stack:", "", *head]
            lines += [f"| `{p['function']}` | {p['own_share']:.1%} | {p['total_share']:.1%} |"
                      for p in prof["ours"]]
    if result.get("latency"):
        lines += ["", "## Latency (open loop)", "",
                  "| rate/s | achieved/s | clicks+reads | p50 ms | p95 ms | p99 ms | max ms "
                  "| no list by the end | drained after s | batches | mean batch "
                  "| handling ms | completion ms | full GCs × mean ms "
                  "| floor p50 / p95 / p99 ms |",
                  "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for s in result["latency"]:
            if "error" in s:
                continue
            batches = s.get("batches", {})
            lines.append(
                f"| {s['rate']:,.0f} | {s['achieved_rate']:,.0f} | {s['measured']:,} | "
                f"{s['p50_ms']:,.1f} | {s['p95_ms']:,.1f} | {s['p99_ms']:,.1f} | "
                f"{s['max_ms']:,.1f} | {s['censored']:,} | "
                f"{_num(s.get('drained_after_s'), '.2f')} | "
                f"{_num(batches.get('count'), ',.0f')} | {_num(batches.get('mean_size'), '.1f')} | "
                f"{_num(batches.get('mean_processing_ms'), '.1f')} | "
                f"{_num(batches.get('mean_completion_ms'), '.1f')} | "
                f"{_num(batches.get('gc_oldest_pauses'), ',.0f')} × "
                f"{_num(batches.get('gc_oldest_mean_ms'), '.1f')} | "
                f"{_floor_text(s.get('floor'))} |")
        lines += ["", "Latency is the published list's `emitted_ts` minus the event's send "
                  "time, for every click and read (the first list of that user that reflects "
                  "it). Events with no list by the end count with the time waited so far, a "
                  "lower bound (≥). The batch columns are the worker's own view of the step (its "
                  "interactions agent's metrics): how many batches, their mean size, the mean "
                  "time to handle one, and the mean time from handing one over to its "
                  "acknowledgement (output and checkpoints on the broker); then the collections of "
                  "the oldest generation of Python's garbage collector and their mean pause. "
                  "The floor is the batched Faust agent without model or state (the throughput "
                  "run's ceiling) at the same rate with the same events, matched the same way: "
                  "what Faust, aiokafka and the broker take on this machine with no work in "
                  "between, which no worker built on them beats."]
    mem = [m for m in result.get("memory", []) if "error" not in m]
    if mem:
        parts = list(MEMORY_PARTS)
        lines += [
            "", "## Memory", "",
            "The worker's whole per-user state in one process, built as `stream worker` "
            "builds it, with the worker's users table over Faust's in-memory store, its "
            "changelog counted instead of sent (a written checkpoint leaves no local copy: "
            "the pipeline holds that user): "
            "raw interaction messages (visits of each user in turn: an impression of ten "
            "items, maybe a click, maybe a read) through `handle_interactions`, the item facts "
            "back through `learn_facts`, then `write_checkpoints`, in batches as the worker "
            "does. Bytes per user: RSS growth over the users held at the end; the parts are "
            "measured object by object, `other` is the rest of the growth.", "",
            "| users | items | events | events/s | RSS before MiB | RSS after MiB | "
            "bytes per user | "
            + " | ".join(MEMORY_PARTS[p] for p in parts) + " | mean checkpoint written, bytes |",
            "|---:" * (8 + len(parts)) + "|",
        ]
        for m in mem:
            if _capped(m):
                continue
            bd = m.get("breakdown_bytes_per_user", {})
            lines.append(
                f"| {m['users']:,} | {m['items']:,} | {m['events']:,} | "
                f"{_num(m.get('events_per_second'))} | "
                f"{m['rss_before_mib']:,} | {m['rss_after_mib']:,} | "
                f"{m['bytes_per_user']:,.0f} | "
                + " | ".join(_num(bd.get(p)) for p in parts)
                + f" | {_num(m.get('checkpoint_mean_bytes'))} |")
        for m in mem:
            if not _capped(m):
                continue
            curve = m.get("rss_curve", [])
            marks = [curve[int(q * (len(curve) - 1))] for q in (0.25, 0.5, 0.75, 1.0)] \
                if curve else []
            lines += [
                "", f"### {m['users_fed']:,} users through a cap of {m['user_cap']:,}", "",
                f"{m['events']:,} events, one every {m['event_gap_s']:g} s of event time; "
                f"the models' housekeeping evicts users beyond the cap every "
                f"{_num(m.get('housekeeping_interval_s'))} s of event time, so at most the "
                "cap plus the users who arrive between two sweeps are held. RSS before "
                f"{m['rss_before_mib']:,} MiB, peak {m['rss_peak_mib']:,} MiB, end "
                f"{m['rss_after_mib']:,} MiB with {m['users']:,} users held "
                "(`memory-capped.png`).", "",
                "| events fed | users held | RSS MiB |", "|---:|---:|---:|",
            ]
            lines += [f"| {c['events']:,} | {c['users']:,} | {c['rss_mib']:,} |" for c in marks]
    pipeline = result.get("pipeline")
    if pipeline:
        lines += pipeline_markdown(pipeline)
    model = result.get("model")
    if model:
        lines += model_markdown(model)
    cluster = result.get("cluster")
    if cluster:
        lines += cluster_markdown(cluster)
    return "\n".join(lines) + "\n"


def _plots(result: dict[str, Any], out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    paths: list[Path] = []

    def save(fig: Any, name: str) -> None:
        fig.tight_layout()
        path = out / name
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)

    def bars(ax: Any, labels: list[str], values: list[float], fmt: str = "{:,.0f}") -> None:
        pos = range(len(values))
        ax.bar(pos, values, color=["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"][: len(values)])
        ax.set_xticks(list(pos), labels)
        for x, v in zip(pos, values, strict=True):
            ax.annotate(fmt.format(v), (x, v), ha="center", va="bottom", fontsize=9)
        ax.margins(y=0.15)

    tp = result.get("throughput")
    if tp and "events_per_second" in tp["worker"] and "events_per_second" in tp["trivial"]:
        fig, ax = plt.subplots(figsize=(7, 4))
        labels = ["our worker", "trivial Faust agent"]
        values = [tp["worker"]["events_per_second"], tp["trivial"]["events_per_second"]]
        if "events_per_second" in tp.get("batched", {}):
            labels.append("batched Faust agent\n(no model, no state)")
            values.append(tp["batched"]["events_per_second"])
        bars(ax, labels, values)
        target = RATIO_TARGET * tp["trivial"]["events_per_second"]
        ax.axhline(target, color="grey", ls="--", lw=1,
                   label=f"target: {RATIO_TARGET:g}× the trivial agent")
        ax.legend(loc="upper right")
        ax.yaxis.set_major_formatter(FuncFormatter(_tick))
        ax.set_ylabel("events / s (by output timestamps)")
        ax.set_title(f"End-to-end throughput, {tp['events']:,} events "
                     f"(ratio {tp.get('ratio', math.nan):.2f}×)")
        save(fig, "throughput.png")

    steps = [s for s in result.get("latency", []) if "error" not in s]
    if steps:
        fig, ax = plt.subplots(figsize=(8, 4))
        width = 0.25
        for j, (key, label) in enumerate((("p50_ms", "p50"), ("p95_ms", "p95"),
                                          ("p99_ms", "p99"))):
            xs = [i + (j - 1) * width for i in range(len(steps))]
            values = [max(s[key], 0.01) for s in steps]
            ax.bar(xs, values, width, label=label)
            for x, v in zip(xs, values, strict=True):
                ax.annotate(f"{v:,.0f}" if v >= 10 else f"{v:.1f}", (x, v), ha="center",
                            va="bottom", fontsize=8)
        floors = [(i, s["floor"]) for i, s in enumerate(steps)
                  if "p50_ms" in s.get("floor", {})]
        # each over its own bar: p50 on the left, p99 on the right
        for key, offset, marker, label in (("p50_ms", -width, "_", "floor p50 (no-work agent)"),
                                           ("p99_ms", width, "x", "floor p99")):
            if floors:
                ax.scatter([i + offset for i, _ in floors],
                           [max(f[key], 0.01) for _, f in floors],
                           marker=marker, s=160, color="black", zorder=3, label=label)
        ax.set_xticks(range(len(steps)),
                      [f"{s['rate']:,.0f}/s\n{'kept up' if s['sustained'] else 'fell behind'}"
                       for s in steps])
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(_tick))
        ax.set_ylabel("event → published list, ms (log)")
        ax.axhline(10, color="grey", ls=":", lw=1)
        ax.axhline(50, color="grey", ls="--", lw=1)
        ax.set_title("Latency at fixed open-loop rates (dotted 10 ms, dashed 50 ms)")
        ax.margins(y=0.15)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
        save(fig, "latency.png")

    mem = [m for m in result.get("memory", []) if "error" not in m and not _capped(m)]
    if mem:
        fig, ax = plt.subplots(figsize=(8, 4.5))
        pos = list(range(len(mem)))
        bottom = [0.0] * len(mem)
        for part, label in MEMORY_PARTS.items():
            values = [max(m.get("breakdown_bytes_per_user", {}).get(part, 0.0), 0.0)
                      for m in mem]
            ax.bar(pos, values, 0.6, bottom=bottom, label=label)
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        for x, m in zip(pos, mem, strict=True):
            ax.annotate(f"{m['bytes_per_user']:,.0f} B", (x, max(bottom[x], 0)), ha="center",
                        va="bottom", fontsize=9)
        ax.set_xticks(pos, [f"{m['users']:,} users" for m in mem])
        ax.axhline(1024, color="grey", ls="--", lw=1, label="target 1 KiB")
        ax.set_ylabel("RSS growth per user, bytes")
        ax.set_title("The worker's memory per user, by part")
        ax.margins(y=0.15)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
        save(fig, "memory.png")

    for m in result.get("memory", []):
        if "error" in m or not _capped(m) or not m.get("rss_curve"):
            continue
        curve = m["rss_curve"]
        fig, ax = plt.subplots(figsize=(8, 4.5))
        xs = [c["events"] for c in curve]
        ax.plot(xs, [c["rss_mib"] for c in curve], color="#1f77b4", label="RSS, MiB")
        ax.axhline(m["rss_before_mib"], color="#1f77b4", ls=":", lw=1,
                   label="RSS before the users, MiB")
        ax.set_xlabel("events fed")
        ax.set_ylabel("resident memory, MiB")
        ax.xaxis.set_major_formatter(FuncFormatter(_tick))
        ax.set_ylim(bottom=0)
        users_ax = ax.twinx()
        users_ax.plot(xs, [c["users"] for c in curve], color="#ff7f0e", label="users held")
        users_ax.axhline(m["user_cap"], color="#ff7f0e", ls="--", lw=1, label="user cap")
        users_ax.set_ylabel("users held")
        users_ax.yaxis.set_major_formatter(FuncFormatter(_tick))
        users_ax.set_ylim(bottom=0)
        lines_, labels = ax.get_legend_handles_labels()
        more, more_labels = users_ax.get_legend_handles_labels()
        ax.legend(lines_ + more, labels + more_labels, loc="lower right", fontsize=8)
        ax.set_title(f"{m['users_fed']:,} users through a cap of {m['user_cap']:,}")
        save(fig, "memory-capped.png")

    model = result.get("model")
    if model and model.get("sizes"):
        save(model_plot(model, plt, FuncFormatter(_tick)), "model.png")
    return paths


def write_report(result: dict[str, Any], out: Path) -> list[Path]:
    """Write ``bench.json``, ``bench.md`` and the plots into ``out``; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / "bench.json"
    json_path.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    md_path = out / "bench.md"
    md_path.write_text(_markdown(result))
    return [json_path, md_path, *_plots(result, out)]
