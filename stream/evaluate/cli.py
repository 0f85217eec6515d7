"""``stream evaluate``: replay a dataset through the worker's model and the baselines."""

from __future__ import annotations

import argparse
import logging
import shlex
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from stream.evaluate.baselines import PopularityBaseline, RandomBaseline, RiverMFBaseline
from stream.evaluate.datasets import (
    Dataset,
    export_contract,
    load_contract,
    load_mind,
    load_movielens_100k,
)
from stream.evaluate.protocols import EvaluationResult, ModelRun, run_prequential, run_split
from stream.evaluate.report import write_report
from stream.models.base import Recommender
from stream.settings import Settings

__all__ = ["MODEL_NAMES", "build_models", "register"]

log = logging.getLogger(__name__)

MODEL_NAMES: tuple[str, ...] = ("stream", "popularity", "popularity-all-time", "random",
                                 "river-mf")
DATASETS: tuple[str, ...] = ("movielens-100k", "mind")
PROTOCOLS: tuple[str, ...] = ("prequential", "split", "impressions")


def build_models(names: Sequence[str], settings: Settings, seed: int,
                 batch: int | None = None) -> tuple[list[ModelRun], dict[str, Any]]:
    """The models to evaluate, in the order given, and the parameters each was built with;
    with ``batch``, ours learns in batches of that many events, as a worker does
    (:class:`~stream.evaluate.batched.BatchedModel`)."""
    from stream.evaluate.batched import BatchedModel
    from stream.models import StreamRecommender

    runs: list[ModelRun] = []
    params: dict[str, Any] = {}
    for name in names:
        model: Recommender
        if name == "stream":
            # datasets without item texts: items known from events only are ranked too
            knobs = settings.recommender.model_copy(update={"recommend_stubs": True})
            ours = StreamRecommender(knobs)
            params["stream"] = {"class": type(ours).__name__,
                                "settings": knobs.model_dump(mode="json"), "batch": batch}
            model = ours if batch is None else BatchedModel(ours, batch)
        elif name == "popularity":
            half_life = settings.recommender.popularity_half_life_seconds
            model = PopularityBaseline(half_life=half_life)
            params["popularity"] = {"half_life": half_life}
        elif name == "popularity-all-time":
            model = PopularityBaseline(half_life=None)
            params["popularity-all-time"] = {"half_life": None}
        elif name == "random":
            model = RandomBaseline(seed=seed)
            params["random"] = {"seed": seed}
        elif name == "river-mf":
            mf = RiverMFBaseline(seed=seed)
            params["river-mf"] = {"class": "river.reco.BiasedMF", "n_factors": mf.n_factors,
                                  "learning_rate": mf.learning_rate, "l2": mf.l2,
                                  "n_negatives": mf.n_negatives, "seed": seed}
            model = mf
        else:
            raise ValueError(f"unknown model {name!r}; choose from {', '.join(MODEL_NAMES)}")
        runs.append(ModelRun(name, model))
    return runs, params


def _model_list(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in MODEL_NAMES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown model(s) {', '.join(unknown) or '(none)'}; choose from "
            + ", ".join(MODEL_NAMES))
    return list(dict.fromkeys(names))


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``stream evaluate`` to the ``stream`` command."""
    p = subparsers.add_parser(
        "evaluate",
        help="replay a dataset through the worker's model and baselines; report metrics",
        description="Replay a dataset in time order through the worker's own model stack and "
                    "baselines, score every model on the same events, and write metrics.json, "
                    "report.md and plots.",
    )
    source = p.add_argument_group("data (a named dataset, or files in our event contract)")
    source.add_argument("--dataset", choices=DATASETS, help="a dataset in its original format")
    source.add_argument("--data-dir", type=Path, help="folder of the --dataset files")
    source.add_argument("--events", type=Path,
                        help="JSON lines of stream.interactions.v1 values")
    source.add_argument("--items", type=Path, help="JSON lines of stream.items.v1 values")
    p.add_argument("--protocol", choices=PROTOCOLS, default=None,
                   help="prequential (default), split (Microsoft Recommenders' 75/25) or "
                        "impressions (MIND's; the default for --dataset mind)")
    p.add_argument("--models", type=_model_list, default=list(MODEL_NAMES),
                   help="comma-separated, from " + ",".join(MODEL_NAMES) + " (default: all)")
    p.add_argument("--limit", type=int, default=None,
                   help="replay only the first N events in time order")
    p.add_argument("--seed", type=int, default=42, help="seed of every random choice (42)")
    p.add_argument("-k", "--k", type=int, default=10, help="length of ranked lists (10)")
    p.add_argument("--batch", type=int, default=None, metavar="N",
                   help="our model learns in batches of N events, as a worker does (its "
                        "lists and scores from the last whole batch); default: one event "
                        "at a time, its item facts applied at once")
    p.add_argument("--out", type=Path, default=None,
                   help="folder for metrics.json, report.md and plots")
    p.add_argument("--export-contract", type=Path, default=None, metavar="DIR",
                   help="write the loaded dataset as DIR/events.jsonl and DIR/items.jsonl in "
                        "our contract, then exit")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_evaluate)


def load_dataset(args: argparse.Namespace) -> Dataset:
    """The dataset the arguments name."""
    if args.dataset is not None:
        if args.events is not None or args.items is not None:
            raise ValueError("give either --dataset or --events/--items, not both")
        if args.data_dir is None:
            raise ValueError("--dataset needs --data-dir")
        if args.dataset == "movielens-100k":
            return load_movielens_100k(args.data_dir)
        return load_mind(args.data_dir)
    if args.events is None:
        raise ValueError("give --dataset with --data-dir, or --events (and --items)")
    return load_contract(args.events, args.items)


def _evaluate(args: argparse.Namespace, dataset: Dataset, console: Console) -> EvaluationResult:
    protocol = args.protocol or ("impressions" if dataset.name == "mind" else "prequential")
    settings = Settings()
    runs, params = build_models(args.models, settings, args.seed, args.batch)
    args.model_params = params
    total = len(dataset.events) if args.limit is None else min(args.limit, len(dataset.events))
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True,
                  disable=args.no_progress) as bar:
        task = bar.add_task(f"{dataset.name} · {protocol}", total=total)

        def progress(done: int) -> None:
            bar.update(task, completed=done)

        if protocol == "split":
            return run_split(dataset, runs, k=args.k, limit=args.limit, seed=args.seed,
                             progress=progress)
        return run_prequential(dataset, runs, k=args.k, limit=args.limit, seed=args.seed,
                               impressions=protocol == "impressions", progress=progress)


def _print_summary(result: EvaluationResult, console: Console) -> None:
    """One row per metric, one column per model (fits a narrow terminal)."""
    from rich.table import Table

    k = result.k
    keys = [f"hr@{k}", f"ndcg@{k}", "mrr", "coverage"]
    if result.protocol == "impressions":
        keys += ["auc", "impression_mrr", "impression_ndcg@5", "impression_ndcg@10"]
    if result.protocol == "split":
        keys += [f"precision@{k}", f"recall@{k}", "map", f"map@{k}"]
    keys += ["top1%_share", "gini", f"ild@{k}", "events_per_second"]
    table = Table(title=f"{result.dataset} · {result.protocol} · {result.events:,} events · "
                        f"{result.wall_seconds:.1f} s")
    table.add_column("metric")
    for name in result.models:
        table.add_column(name, justify="right")
    for key in keys:
        cells = []
        for figures in result.models.values():
            value = figures.get(key)
            if isinstance(value, float) and value == value:
                cells.append(f"{value:,.0f}" if key == "events_per_second" else f"{value:.4f}")
            else:
                cells.append("n/a")
        table.add_row(key, *cells)
    console.print(table)


def _canonical_command(args: argparse.Namespace) -> str:
    """The command line that reproduces this run."""
    parts = ["stream", "evaluate"]
    if args.dataset is not None:
        parts += ["--dataset", args.dataset, "--data-dir", str(args.data_dir)]
    else:
        parts += ["--events", str(args.events)]
        if args.items is not None:
            parts += ["--items", str(args.items)]
    if args.protocol is not None:
        parts += ["--protocol", args.protocol]
    if list(args.models) != list(MODEL_NAMES):
        parts += ["--models", ",".join(args.models)]
    if args.limit is not None:
        parts += ["--limit", str(args.limit)]
    if args.seed != 42:
        parts += ["--seed", str(args.seed)]
    if args.k != 10:
        parts += ["--k", str(args.k)]
    if args.batch is not None:
        parts += ["--batch", str(args.batch)]
    if args.out is not None:
        parts += ["--out", str(args.out)]
    return shlex.join(parts)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    console = Console(stderr=True)
    out = Console()
    started = time.perf_counter()
    try:
        dataset = load_dataset(args)
    except (OSError, ValueError) as exc:
        console.print(f"[red]cannot load the dataset:[/] {exc}")
        return 2
    if dataset.invalid:
        console.print(f"[yellow]rejected lines by reason:[/] {dataset.invalid}")
    if args.export_contract is not None:
        events_path, items_path = export_contract(dataset, args.export_contract)
        out.print(f"wrote {len(dataset.events):,} events to {events_path} and "
                  f"{len(dataset.items):,} items to {items_path}")
        return 0
    if args.limit is not None and args.limit <= 0:
        console.print("[red]--limit must be positive[/]")
        return 2
    if args.batch is not None and args.batch <= 0:
        console.print("[red]--batch must be positive[/]")
        return 2
    result = _evaluate(args, dataset, console)
    _print_summary(result, out)
    if args.out is not None:
        command = _canonical_command(args)
        written = write_report(result, args.out, seed=args.seed, limit=args.limit,
                               files=dataset.files, settings=args.model_params, command=command)
        out.print("wrote " + ", ".join(str(path) for path in written))
    out.print(f"total wall time {time.perf_counter() - started:.1f} s")
    return 0
