"""Scoring a labelled set and measuring it: Pearson r, accuracy, weighted F1, comments/s."""

from __future__ import annotations

import math
import random
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from stream.sentiment.datasets import LabelledText, gold_label
from stream.sentiment.model import SentimentModel, SentimentResult, label_to_score

__all__ = [
    "LanguageReport",
    "accuracy",
    "evaluate",
    "pearson",
    "split",
    "train",
    "weighted_f1",
]


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Pearson's r, or None when it is undefined (fewer than 2 points or no variance).

    >>> round(pearson([1, 2, 3], [2, 4, 7]), 4)
    0.9934
    """
    n = len(xs)
    if n != len(ys):
        raise ValueError("xs and ys differ in length")
    if n < 2:
        return None
    mx = sum(xs) / n
    my = sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx == 0 or syy == 0:
        return None
    return sxy / math.sqrt(sxx * syy)


def accuracy(gold: Sequence[str], predicted: Sequence[str]) -> float:
    """Share of exact matches.

    >>> accuracy(["positive", "negative"], ["positive", "neutral"])
    0.5
    """
    if not gold:
        return float("nan")
    return sum(g == p for g, p in zip(gold, predicted, strict=True)) / len(gold)


def weighted_f1(gold: Sequence[str], predicted: Sequence[str]) -> float:
    """F1 per gold class, averaged with the classes' gold frequencies as weights.

    A predicted class that never occurs in the gold set (``neutral`` on a binary set,
    ``unscored``) has no weight of its own but costs the recall of the true class.

    >>> round(weighted_f1(["p", "p", "n"], ["p", "n", "n"]), 4)
    0.6667
    """
    if not gold:
        return float("nan")
    support: dict[str, int] = defaultdict(int)
    true_pos: dict[str, int] = defaultdict(int)
    pred_count: dict[str, int] = defaultdict(int)
    for g, p in zip(gold, predicted, strict=True):
        support[g] += 1
        pred_count[p] += 1
        if g == p:
            true_pos[g] += 1
    total = 0.0
    for cls, n in support.items():
        precision = true_pos[cls] / pred_count[cls] if pred_count[cls] else 0.0
        recall = true_pos[cls] / n
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        total += f1 * n
    return total / len(gold)


@dataclass
class LanguageReport:
    """Figures for the texts of one language (as given by the data, or detected)."""

    lang: str
    n: int = 0
    scored: int = 0
    binary: bool = False
    pearson: float | None = None
    accuracy: float | None = None
    accuracy_by_sign: float | None = None
    f1_weighted: float | None = None
    seconds: float = 0.0
    labels: dict[str, int] = field(default_factory=dict)

    @property
    def comments_per_second(self) -> float | None:
        """Scoring throughput of this language's texts (batch ``score_many``)."""
        return self.n / self.seconds if self.seconds > 0 else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready figures."""
        return {
            "lang": self.lang,
            "n": self.n,
            "scored": self.scored,
            "gold": "binary" if self.binary else "3-class",
            "pearson_r": self.pearson,
            "accuracy": self.accuracy,
            "accuracy_by_sign": self.accuracy_by_sign,
            "f1_weighted": self.f1_weighted,
            "comments_per_second": self.comments_per_second,
            "predicted_labels": dict(sorted(self.labels.items())),
        }


def _gold(item: LabelledText) -> str:
    if item.label is not None:
        return item.label
    assert item.score is not None
    return gold_label(item.score)


def evaluate(
    model: SentimentModel,
    data: Sequence[LabelledText],
    batch_size: int = 512,
    progress: Callable[[int], None] | None = None,
) -> dict[str, LanguageReport]:
    """Score ``data`` in batches and measure the model per language.

    Accuracy and F1 compare the gold label (given, or from the gold score by +-0.05) with
    the predicted one. On a binary gold set (no neutral gold label) a ``neutral`` or
    ``unscored`` prediction counts as wrong in ``accuracy`` and ``f1_weighted``;
    ``accuracy_by_sign`` instead reads every score by its sign (score >= 0 is positive).
    Throughput counts only the time spent in :meth:`SentimentModel.score_many`.
    """
    model.warm_up()  # lexicon and dictionary loading is not throughput
    results: list[SentimentResult | None] = [None] * len(data)
    seconds: dict[str, float] = defaultdict(float)
    # Batches by the language the data gives, so each language's throughput is its own.
    keys = [item.lang or "auto" for item in data]
    for key in sorted(set(keys)):
        positions = [i for i, k in enumerate(keys) if k == key]
        for start in range(0, len(positions), batch_size):
            chunk = positions[start : start + batch_size]
            t0 = time.perf_counter()
            out = model.score_many([data[i].text for i in chunk], [data[i].lang for i in chunk])
            seconds[key] += time.perf_counter() - t0
            for i, r in zip(chunk, out, strict=True):
                results[i] = r
            if progress is not None:
                progress(len(chunk))
    by_lang: dict[str, list[int]] = defaultdict(list)
    for i, key in enumerate(keys):
        result = results[i]
        assert result is not None
        by_lang[key if key != "auto" else result.lang].append(i)
    reports: dict[str, LanguageReport] = {}
    for lang, positions in sorted(by_lang.items()):
        # Throughput per language only where the data said the language; texts detected
        # in a mixed batch share its time, which is reported under "all".
        reports[lang] = _report(lang, positions, data, results, seconds.get(lang, 0.0))
    if len(reports) > 1:
        reports["all"] = _report("all", range(len(data)), data, results, sum(seconds.values()))
    return reports


def _report(
    lang: str,
    positions: Sequence[int],
    data: Sequence[LabelledText],
    results: Sequence[SentimentResult | None],
    seconds: float,
) -> LanguageReport:
    rep = LanguageReport(lang=lang, n=len(positions), seconds=seconds)
    gold = [_gold(data[i]) for i in positions]
    preds: list[str] = []
    scores: list[float | None] = []
    for i in positions:
        result = results[i]
        assert result is not None
        preds.append(result.label)
        scores.append(result.score)
        rep.labels[result.label] = rep.labels.get(result.label, 0) + 1
    rep.scored = sum(s is not None for s in scores)
    # Binary gold: labels only (no gold scores), and none of them neutral (ChnSentiCorp).
    rep.binary = "neutral" not in gold and all(data[i].score is None for i in positions)
    rep.accuracy = accuracy(gold, preds)
    rep.f1_weighted = weighted_f1(gold, preds)
    if rep.binary:
        signs = [
            "unscored" if s is None else ("positive" if s >= 0 else "negative") for s in scores
        ]
        rep.accuracy_by_sign = accuracy(gold, signs)
    pred_scores: list[float] = []
    gold_scores: list[float] = []
    for i, s in zip(positions, scores, strict=True):
        g = data[i].score
        if s is not None and g is not None:
            pred_scores.append(s)
            gold_scores.append(g)
    if gold_scores:
        rep.pearson = pearson(pred_scores, gold_scores)
    return rep


def split(
    data: Sequence[LabelledText], train_fraction: float, seed: int
) -> tuple[list[LabelledText], list[LabelledText]]:
    """A seeded random split into (train, test).

    >>> d = [LabelledText(str(i), "en", "positive", None) for i in range(10)]
    >>> tr, te = split(d, 0.8, seed=42)
    >>> len(tr), len(te), sorted(x.text for x in tr + te) == sorted(x.text for x in d)
    (8, 2, True)
    """
    if not 0.0 < train_fraction < 1.0:
        raise ValueError("train_fraction must be strictly between 0 and 1")
    order = list(range(len(data)))
    random.Random(seed).shuffle(order)
    cut = round(train_fraction * len(data))
    return [data[i] for i in order[:cut]], [data[i] for i in order[cut:]]


def train(
    model: SentimentModel,
    data: Sequence[LabelledText],
    epochs: int = 1,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Feed labelled texts to :meth:`SentimentModel.learn_one` in ``epochs`` seeded shuffled passes.

    Returns how many label updates the model accepted (texts in languages we do not score
    are skipped).
    """
    learnt = 0
    rng = random.Random(seed)
    order = list(range(len(data)))
    for _ in range(epochs):
        rng.shuffle(order)  # mixed sets and sorted files must not arrive one class at a time
        for i in order:
            item = data[i]
            label_to_score(item.label, item.score)  # validate before learning
            if model.learn_one(item.text, item.lang, item.label, item.score):
                learnt += 1
            if progress is not None:
                progress(1)
    return learnt
