"""Labelled sentiment data: our JSONL formats and the shared public corpora (read, never copied)."""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

__all__ = [
    "DATASETS",
    "CommentLine",
    "LabelledText",
    "gold_label",
    "load_chnsenticorp",
    "load_comments_jsonl",
    "load_dataset",
    "load_labelled_jsonl",
    "load_vader",
]

logger = logging.getLogger(__name__)

_LABELS = ("positive", "negative", "neutral")


@dataclass(frozen=True, slots=True)
class LabelledText:
    """A text with its gold sentiment: a ``score`` in [-1, 1], a ``label``, or both."""

    text: str
    lang: str | None
    label: str | None
    score: float | None


@dataclass(frozen=True, slots=True)
class CommentLine:
    """One line of ``stream sentiment score`` input."""

    comment_id: str
    text: str
    lang: str | None = None
    item_id: str | None = None
    user_id: str | None = None
    ts: float | None = None


def gold_label(score: float, threshold: float = 0.05) -> str:
    """The 3-class label of a gold score, by the VADER paper's thresholds (+-0.05 on [-1, 1]).

    >>> gold_label(0.3), gold_label(-0.05), gold_label(0.0)
    ('positive', 'negative', 'neutral')
    """
    if score >= threshold:
        return "positive"
    if score <= -threshold:
        return "negative"
    return "neutral"


def load_vader(path: str | Path) -> list[LabelledText]:
    """A VADER ground-truth file: CRLF lines ``id<TAB>mean<TAB>text``, mean in -4..+4.

    The mean is divided by 4 to give a score in [-1, 1]; the label follows from it.
    """
    raw = Path(path).read_text(encoding="utf-8")
    out: list[LabelledText] = []
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 3:
            raise ValueError(f"{path}:{number}: expected 3 tab-separated fields")
        score = max(-1.0, min(1.0, float(fields[1]) / 4.0))
        out.append(LabelledText(fields[2], "en", gold_label(score), score))
    return out


def load_chnsenticorp(path: str | Path) -> list[LabelledText]:
    """ChnSentiCorp CSV ``label,review`` (1 positive, 0 negative); empty reviews are skipped."""
    out: list[LabelledText] = []
    skipped = 0
    with Path(path).open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None or [h.strip() for h in header[:2]] != ["label", "review"]:
            raise ValueError(f"{path}: expected a header 'label,review'")
        for row in reader:
            if len(row) < 2 or not row[1].strip():
                skipped += 1
                continue
            if row[0] not in ("0", "1"):
                raise ValueError(f"{path}: label {row[0]!r} is not 0 or 1")
            label = "positive" if row[0] == "1" else "negative"
            out.append(LabelledText(row[1], "zh", label, None))
    if skipped:
        logger.info("%s: skipped %d empty reviews", path, skipped)
    return out


def _jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with Path(path).open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: not JSON ({exc})") from None
            if not isinstance(obj, dict):
                raise ValueError(f"{path}:{number}: not a JSON object")
            yield number, obj


def _optional_str(obj: dict[str, Any], name: str, where: str) -> str | None:
    value = obj.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{where}: {name!r} must be a string")
    return value


def load_labelled_jsonl(path: str | Path) -> list[LabelledText]:
    """Lines ``{"text", "lang"?, "label"?, "score"?}`` as on ``stream.comment_labels.v1``."""
    out: list[LabelledText] = []
    for number, obj in _jsonl(path):
        where = f"{path}:{number}"
        text = obj.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"{where}: 'text' must be a non-empty string")
        label = _optional_str(obj, "label", where)
        if label is not None and label not in _LABELS:
            raise ValueError(f"{where}: 'label' must be positive, negative or neutral")
        score = obj.get("score")
        if score is not None:
            if isinstance(score, bool) or not isinstance(score, int | float):
                raise ValueError(f"{where}: 'score' must be a number")
            if not -1.0 <= score <= 1.0:
                raise ValueError(f"{where}: 'score' must be in [-1, 1]")
            score = float(score)
        if label is None and score is None:
            raise ValueError(f"{where}: a labelled line needs 'label' or 'score'")
        out.append(LabelledText(text, _optional_str(obj, "lang", where), label, score))
    return out


def load_comments_jsonl(path: str | Path) -> Iterator[CommentLine]:
    """Lines ``{"comment_id", "text", "lang"?, "item_id"?, "user_id"?, "ts"?}``."""
    for number, obj in _jsonl(path):
        where = f"{path}:{number}"
        comment_id = obj.get("comment_id")
        if isinstance(comment_id, int) and not isinstance(comment_id, bool):
            comment_id = str(comment_id)
        if not isinstance(comment_id, str) or not comment_id:
            raise ValueError(f"{where}: 'comment_id' must be a non-empty string")
        text = obj.get("text")
        if not isinstance(text, str):
            raise ValueError(f"{where}: 'text' must be a string")
        ts = obj.get("ts")
        if ts is not None and (isinstance(ts, bool) or not isinstance(ts, int | float)):
            raise ValueError(f"{where}: 'ts' must be a number")
        yield CommentLine(
            comment_id=comment_id,
            text=text,
            lang=_optional_str(obj, "lang", where),
            item_id=_optional_str(obj, "item_id", where),
            user_id=_optional_str(obj, "user_id", where),
            ts=float(ts) if ts is not None else None,
        )


# name -> (sub-folder of the shared data root, file name, loader)
DATASETS: dict[str, tuple[str, str, str]] = {
    "vader-tweets": ("sentiment", "tweets_GroundTruth.txt", "vader"),
    "vader-nyt": ("sentiment", "nytEditorialSnippets_GroundTruth.txt", "vader"),
    "chnsenticorp": ("sentiment-zh", "ChnSentiCorp_htl_all.shared.csv", "chnsenticorp"),
}


def load_dataset(name: str, data_dir: str | Path) -> list[LabelledText]:
    """A named shared corpus from ``data_dir``: the data root or the corpus' own folder."""
    try:
        folder, filename, kind = DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}") from None
    root = Path(data_dir)
    for candidate in (root / filename, root / folder / filename):
        if candidate.is_file():
            return load_vader(candidate) if kind == "vader" else load_chnsenticorp(candidate)
    raise FileNotFoundError(f"{filename} is neither in {root} nor in {root / folder}")
