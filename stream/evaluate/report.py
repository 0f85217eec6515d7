"""Writes an evaluation's ``metrics.json``, ``report.md`` and PNG plots."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, never a window; must precede pyplot

import matplotlib.pyplot as plt
import orjson

from stream.evaluate.protocols import EvaluationResult

__all__ = ["metrics_document", "write_report"]

_COLOURS = {"stream": "#1f77b4", "popularity": "#ff7f0e", "popularity-all-time": "#8c564b",
            "random": "#7f7f7f", "river-mf": "#2ca02c"}
_MODELS = {
    "stream": "the worker's own model stack, items known from events only ranked too.",
    "popularity": "clicks and reads per item, each halving every {half_life} (the worker's "
                  "`popularity_half_life_seconds`): what is trending now.",
    "popularity-all-time": "clicks and reads per item since the start of the replay, never "
                           "decayed: what has been clicked most.",
    "random": "a seeded random order of the known items.",
    "river-mf": "River's `reco.BiasedMF` learned online, a click or read as target 1 plus "
                "sampled targets of 0.",
}
_DESCRIPTIONS = {
    "prequential": "events in time order; before each first click/read of an item by a user, "
                   "every model ranks a top-k for the user (seen items excluded), the click is "
                   "scored, then every model learns the event. MRR is MRR@k (reciprocal rank "
                   "inside the top-k, 0 outside).",
    "impressions": "the prequential replay, plus MIND's impression metrics: before learning an "
                   "impression with at least one click and one skip, each model scores its "
                   "candidates with score(); AUC, MRR, nDCG@5 and nDCG@10 as in MIND's "
                   "evaluation script, averaged over impressions. hr@k, ndcg@k and mrr are the "
                   "prequential figures of the clicks, ranked against the whole catalogue.",
    "split": "Microsoft Recommenders' MovieLens protocol: per-user stratified random 75/25 "
             "split (python_stratified_split, seed 42), training part learned in time order, "
             "one top-k per test user over all items unseen in training, every held-out "
             "interaction relevant. map divides by the user's relevant count (recommenders' "
             "`map`), map@k by min(relevant, k) (`map_at_k`); mrr is the reciprocal rank of the "
             "first relevant item in the top-k.",
}


def _clean(value: Any) -> Any:
    """JSON-safe: NaN and infinities become null, floats are rounded to 6 digits."""
    if isinstance(value, float):
        return round(value, 6) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _clean(v) for key, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def metrics_document(result: EvaluationResult, *, seed: int, limit: int | None,
                     files: dict[str, str], settings: dict[str, Any]) -> dict[str, Any]:
    """The content of ``metrics.json``."""
    document: dict[str, Any] = _clean({
        "dataset": result.dataset,
        "protocol": result.protocol,
        "events": result.events,
        "models": result.models,
        "k": result.k,
        "seed": seed,
        "limit": limit,
        "catalogue_items": result.catalogue,
        "scored": result.scored,
        "wall_seconds": result.wall_seconds,
        "dataset_sha256": files,
        "over_time": result.over_time,
        "settings": settings,
        "notes": result.notes,
    })
    return document


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "n/a"
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4f}"
    return str(value)


def _cell(key: str, value: Any) -> str:
    if isinstance(value, float) and math.isfinite(value):
        if key == "events_per_second":
            return f"{value:,.0f}"
        if key.endswith("seconds"):
            return f"{value:,.1f}"
    return _fmt(value)


def _table(models: dict[str, dict[str, Any]], keys: list[str]) -> list[str]:
    lines = ["| model | " + " | ".join(keys) + " |",
             "|---|" + "---:|" * len(keys)]
    for name, figures in models.items():
        lines.append(f"| {name} | " + " | ".join(_cell(key, figures.get(key)) for key in keys)
                     + " |")
    return lines


def _model_lines(names: list[str], settings: dict[str, Any]) -> list[str]:
    """One line describing each model of the run that has a description."""
    half_life = settings.get("popularity", {}).get("half_life")
    hours = (f"{half_life / 3600:g} h" if isinstance(half_life, int | float)
             else "`half_life` seconds")
    return [f"- `{name}`: " + _MODELS[name].format(half_life=hours)
            for name in names if name in _MODELS]


def _quality_keys(result: EvaluationResult) -> list[str]:
    k = result.k
    keys = [f"hr@{k}", f"ndcg@{k}", "mrr"]
    if result.protocol == "impressions":
        keys += ["auc", "impression_mrr", "impression_ndcg@5", "impression_ndcg@10"]
    if result.protocol == "split":
        keys += [f"precision@{k}", f"recall@{k}", "map", f"map@{k}"]
    return keys


def _plot_over_time(result: EvaluationResult, path: Path) -> None:
    k = result.k
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), constrained_layout=True)
    for ax, metric in zip(axes, (f"hr@{k}", f"ndcg@{k}"), strict=True):
        for name, series in result.over_time.items():
            ax.plot(series["events"], series[metric], marker="o", markersize=3, linewidth=1.6,
                    label=name, color=_COLOURS.get(name))
        ax.set_title(f"{metric.upper()} per window of scored clicks")
        ax.set_xlabel("events replayed")
        ax.set_ylabel(metric.upper())
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(
            lambda x, _pos: f"{x / 1000:.0f}k" if x >= 1000 else f"{x:.0f}"))
    axes[0].legend(loc="best", frameon=False)
    fig.suptitle(f"{result.dataset}, {result.protocol}: metrics over time "
                 f"({TIME_LABEL})", fontsize=11)
    fig.savefig(path, dpi=120)
    plt.close(fig)


TIME_LABEL = "each point averages an equal share of the scored clicks"


def _plot_bars(result: EvaluationResult, keys: list[str], title: str, path: Path) -> None:
    """One small panel per metric, each on its own scale, one bar per model."""
    names = list(result.models)
    ncols = min(4, len(keys))
    nrows = math.ceil(len(keys) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.1 * ncols + 1.0, 3.0 * nrows),
                             constrained_layout=True, squeeze=False)
    for ax, key in zip(axes.flat, keys, strict=False):
        values = [result.models[name].get(key) for name in names]
        heights = [v if isinstance(v, float) and math.isfinite(v) else 0.0 for v in values]
        bars = ax.bar(range(len(names)), heights,
                      color=[_COLOURS.get(name, "#9467bd") for name in names])
        ax.bar_label(bars, labels=[_fmt(v) for v in values], fontsize=8, padding=2)
        top = max(heights) if heights else 0.0
        ax.set_ylim(0, top * 1.22 if top > 0 else 1.0)
        ax.set_xticks(range(len(names)), names, fontsize=8)
        ax.set_title(key, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
        ax.tick_params(axis="y", labelsize=8)
    for ax in list(axes.flat)[len(keys):]:
        ax.set_visible(False)
    fig.suptitle(title, fontsize=11)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(result: EvaluationResult, out_dir: Path, *, seed: int, limit: int | None,
                 files: dict[str, str], settings: dict[str, Any], command: str) -> list[Path]:
    """Write ``metrics.json``, ``report.md`` and the plots to ``out_dir``; returns the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    document = metrics_document(result, seed=seed, limit=limit, files=files, settings=settings)
    metrics_path = out_dir / "metrics.json"
    metrics_path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")
    written.append(metrics_path)

    k = result.k
    quality = _quality_keys(result)
    exposure = ["coverage", "top1%_share", "gini", f"ild@{k}"]
    plots: list[tuple[str, str]] = []
    bars_path = out_dir / "final_metrics.png"
    _plot_bars(result, [*quality, "coverage"],
               f"{result.dataset}, {result.protocol}: final metrics", bars_path)
    plots.append(("Final metrics", bars_path.name))
    exposure_path = out_dir / "exposure.png"
    _plot_bars(result, exposure, f"{result.dataset}, {result.protocol}: exposure and diversity",
               exposure_path)
    plots.append(("Exposure and diversity", exposure_path.name))
    if result.over_time:
        time_path = out_dir / "over_time.png"
        _plot_over_time(result, time_path)
        plots.append(("Metrics over time", time_path.name))
    written += [out_dir / name for _, name in plots]

    lines = [
        f"# `stream evaluate`: {result.dataset}, {result.protocol} protocol",
        "",
        f"Command: `{command}`",
        "",
        f"- events replayed: {result.events:,}; scored: {result.scored:,}; "
        f"catalogue: {result.catalogue:,} items; k = {k}; seed = {seed}"
        + (f"; limit = {limit:,}" if limit is not None else ""),
        f"- wall time of the replay: {result.wall_seconds:.1f} s",
        f"- protocol: {_DESCRIPTIONS[result.protocol]}",
        "",
        "## Models",
        "",
        "No baseline recommends an item the user has already clicked or read.",
        "",
        *_model_lines(list(result.models), settings),
        "",
        "## Quality",
        "",
        *_table(result.models, quality),
        "",
        "## Exposure, diversity and speed",
        "",
        "`top1%_share`: share of recommended slots that went to the 1 % most clicked items of "
        "the replay; `gini`: Gini coefficient of how often each catalogue item was "
        f"recommended; `ild@{k}`: mean pairwise cosine distance between the hashed title and "
        "tag vectors of the items of a list, from 0 to 2 since signed hashed vectors can point "
        "apart (lists with fewer than two items with content "
        "are skipped; `ild_lists` is the share used); `events_per_second`: replayed events "
        "divided by the time spent inside the model's own methods.",
        "",
        *_table(result.models, [*exposure, "ild_lists", "events_per_second",
                                "model_seconds"]),
        "",
        "## Notes",
        "",
        *[f"- {note}" for note in result.notes],
        "",
        "## Dataset",
        "",
        "| file | sha256 |",
        "|---|---|",
        *[f"| `{name}` | `{digest}` |" for name, digest in files.items()],
        "",
        "## Settings used",
        "",
        "The `stream` model is `build_recommender(Settings(), recommend_stubs=True)`, the "
        "worker's own stack; the baselines take the parameters below.",
        "",
        "```json",
        orjson.dumps(_clean(settings), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
        .decode(),
        "```",
        "",
        "## Plots",
        "",
        *[f"![{caption}]({name})\n" for caption, name in plots],
    ]
    report_path = out_dir / "report.md"
    report_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    written.append(report_path)
    return written
