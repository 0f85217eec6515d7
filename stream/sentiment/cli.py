"""``stream sentiment``: score, train and evaluate comment sentiment from files."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from stream.sentiment.datasets import (
    DATASETS,
    LabelledText,
    load_comments_jsonl,
    load_dataset,
    load_labelled_jsonl,
)
from stream.sentiment.evaluation import LanguageReport, evaluate, split, train
from stream.sentiment.model import SentimentModel

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add ``stream sentiment {score,train,evaluate}`` to the ``stream`` command."""
    parser = subparsers.add_parser(
        "sentiment", help="score, train and evaluate comment sentiment (English, Chinese)"
    )
    sub = parser.add_subparsers(dest="sentiment_command", required=True, metavar="ACTION")

    p = sub.add_parser("score", help="score comments from a JSONL file")
    p.add_argument("--input", required=True, type=Path,
                   help='JSONL lines {"comment_id", "text", "lang"?, "item_id"?, "user_id"?, '
                        '"ts"?}')
    p.add_argument("--output", required=True, type=Path,
                   help="JSONL output, one line per comment as on stream.comment_sentiment.v1")
    p.add_argument("--model", type=Path, default=None,
                   help="model directory (default: the model out of the box)")
    p.add_argument("--batch-size", type=int, default=512)
    p.set_defaults(func=_cmd_score)

    p = sub.add_parser("train", help="learn from labelled comments and save the model")
    p.add_argument("--input", required=True, type=Path,
                   help='JSONL lines {"text", "lang"?, "label"?, "score"?}')
    p.add_argument("--model", required=True, type=Path,
                   help="model directory: continued if it holds a model, created otherwise")
    p.add_argument("--epochs", type=int, default=1, help="passes over the file (default: 1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the shuffled order of the passes")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("evaluate", help="measure the model on labelled data")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--input", type=Path, help="labelled JSONL, as for train")
    src.add_argument("--dataset", action="append", choices=sorted(DATASETS),
                     help="a shared corpus (repeat to combine; each is reported on its own)")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="the shared data root, or the corpus' own folder")
    p.add_argument("--model", type=Path, default=None,
                   help="model directory (default: the model out of the box); never modified")
    p.add_argument("--train-fraction", type=float, default=None,
                   help="train on this seeded share of each set and evaluate on the rest, "
                        "before and after training")
    p.add_argument("--seed", type=int, default=42, help="seed of the split (default: 42)")
    p.add_argument("--epochs", type=int, default=1, help="training passes (default: 1)")
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.set_defaults(func=_cmd_evaluate)


# --- helpers -------------------------------------------------------------------------------


def _console() -> Console:
    return Console(stderr=True)


@contextmanager
def _progress(description: str, total: int) -> Iterator[Callable[[int], None]]:
    console = _console()
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as progress:
        task = progress.add_task(description, total=total)
        yield lambda n: progress.advance(task, n)


def _fail(message: str) -> int:
    print(f"stream sentiment: {message}", file=sys.stderr)
    return 2


# --- score ---------------------------------------------------------------------------------


def _cmd_score(args: argparse.Namespace) -> int:
    try:
        model = SentimentModel.load_or_new(args.model)
        comments = list(load_comments_jsonl(args.input))
    except (OSError, ValueError) as exc:
        return _fail(str(exc))
    counts: dict[str, int] = {}
    t0 = time.perf_counter()
    with args.output.open("wb") as out, _progress("scoring", len(comments)) as advance:
        for start in range(0, len(comments), args.batch_size):
            batch = comments[start : start + args.batch_size]
            results = model.score_many([c.text for c in batch], [c.lang for c in batch])
            now = time.time()
            for c, r in zip(batch, results, strict=True):
                counts[r.label] = counts.get(r.label, 0) + 1
                line = {
                    "comment_id": c.comment_id,
                    "item_id": c.item_id,
                    "user_id": c.user_id,
                    "lang": r.lang,
                    "label": r.label,
                    "score": r.score,
                    "model": r.model,
                    "ts": c.ts if c.ts is not None else now,
                }
                out.write(orjson.dumps(line) + b"\n")
            advance(len(batch))
    seconds = time.perf_counter() - t0
    rate = len(comments) / seconds if seconds > 0 else 0.0
    summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    print(f"scored {len(comments)} comments in {seconds:.2f} s ({rate:,.0f}/s): {summary}",
          file=sys.stderr)
    return 0


# --- train ---------------------------------------------------------------------------------


def _cmd_train(args: argparse.Namespace) -> int:
    if args.epochs < 1:
        return _fail("--epochs must be at least 1")
    try:
        model = SentimentModel.load_or_new(args.model)
        data = load_labelled_jsonl(args.input)
    except (OSError, ValueError) as exc:
        return _fail(str(exc))
    before = model.n_learned
    with _progress("training", len(data) * args.epochs) as advance:
        learnt = train(model, data, epochs=args.epochs, seed=args.seed, progress=advance)
    path = model.save(args.model)
    skipped = len(data) * args.epochs - learnt
    after = model.n_learned
    print(f"learnt {learnt} labels ({skipped} skipped: language not scored); "
          f"labels seen: en {before['en']}->{after['en']}, zh {before['zh']}->{after['zh']}; "
          f"saved {path}")
    return 0


# --- evaluate ------------------------------------------------------------------------------


def _evaluate(
    model: SentimentModel, data: Sequence[LabelledText], batch_size: int, what: str
) -> dict[str, LanguageReport]:
    with _progress(what, len(data)) as advance:
        return evaluate(model, data, batch_size=batch_size, progress=advance)


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _table(title: str, rows: list[tuple[str, str, LanguageReport]]) -> Table:
    table = Table(title=title)
    for col in ("set", "stage", "lang", "n", "scored", "gold", "pearson r", "accuracy",
                "acc. by sign", "weighted F1", "comments/s"):
        table.add_column(col, justify="left" if col in ("set", "stage", "lang", "gold")
                         else "right")
    for name, stage, rep in rows:
        rate = rep.comments_per_second
        table.add_row(name, stage, rep.lang, str(rep.n), str(rep.scored),
                      "binary" if rep.binary else "3-class", _fmt(rep.pearson),
                      _fmt(rep.accuracy), _fmt(rep.accuracy_by_sign), _fmt(rep.f1_weighted),
                      "-" if rate is None else f"{rate:,.0f}")
    return table


def _cmd_evaluate(args: argparse.Namespace) -> int:
    sets: dict[str, list[LabelledText]] = {}
    try:
        if args.input is not None:
            sets[args.input.name] = load_labelled_jsonl(args.input)
        else:
            if args.data_dir is None:
                return _fail("--dataset needs --data-dir")
            for name in dict.fromkeys(args.dataset):
                sets[name] = load_dataset(name, args.data_dir)
        model = SentimentModel.load_or_new(args.model)
    except (OSError, ValueError) as exc:
        return _fail(str(exc))
    if args.epochs < 1:
        return _fail("--epochs must be at least 1")

    rows: list[tuple[str, str, LanguageReport]] = []
    result: dict[str, Any] = {
        "model": str(args.model) if args.model else "out of the box",
        "neutral_on_binary_gold": "counted as wrong in accuracy and weighted F1; "
        "accuracy_by_sign reads scores >= 0 as positive",
        "sets": {},
    }
    if args.train_fraction is None:
        for name, data in sets.items():
            reports = _evaluate(model, data, args.batch_size, f"scoring {name}")
            result["sets"][name] = {k: r.to_dict() for k, r in reports.items()}
            rows.extend((name, "as is", r) for r in reports.values())
        title = "sentiment evaluation"
    else:
        try:
            parts = {name: split(data, args.train_fraction, args.seed)
                     for name, data in sets.items()}
        except ValueError as exc:
            return _fail(str(exc))
        before = {name: _evaluate(model, test, args.batch_size, f"scoring {name}")
                  for name, (_, test) in parts.items()}
        train_data = [item for tr, _ in parts.values() for item in tr]
        t0 = time.perf_counter()
        with _progress("training", len(train_data) * args.epochs) as advance:
            learnt = train(model, train_data, epochs=args.epochs, seed=args.seed,
                           progress=advance)
        train_seconds = time.perf_counter() - t0
        after = {name: _evaluate(model, test, args.batch_size, f"scoring {name}")
                 for name, (_, test) in parts.items()}
        result.update(train_fraction=args.train_fraction, seed=args.seed, epochs=args.epochs,
                      trained_on=len(train_data), labels_learnt=learnt,
                      train_labels_per_second=learnt / train_seconds if train_seconds else None)
        for name in sets:
            result["sets"][name] = {
                "held_out": len(parts[name][1]),
                "out_of_the_box": {k: r.to_dict() for k, r in before[name].items()},
                "after_training": {k: r.to_dict() for k, r in after[name].items()},
            }
            rows.extend((name, "out of the box", r) for r in before[name].values())
            rows.extend((name, "after training", r) for r in after[name].values())
        title = (f"sentiment evaluation on the held-out {1 - args.train_fraction:.0%} "
                 f"(seed {args.seed}; trained on {len(train_data)} texts, {args.epochs} "
                 f"epoch(s))")
    if args.json:
        sys.stdout.write(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        console = Console()
        if not console.is_terminal:
            console = Console(width=160)
        console.print(_table(title, rows))
        console.print("On binary gold sets (no neutral gold label), a neutral prediction counts "
                      "as wrong in accuracy and weighted F1; 'acc. by sign' reads every score "
                      ">= 0 as positive.")
    return 0
