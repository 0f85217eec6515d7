"""``stream sentiment train/score/evaluate`` as a user runs them, on files this test writes."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

COMMENTS = [
    {"comment_id": "c1", "item_id": "i1", "user_id": "u1", "ts": 100.0,
     "text": "What a brilliant, well argued piece"},
    {"comment_id": "c2", "item_id": "i1", "user_id": "u2", "text": "这篇文章写得太差了",
     "lang": "zh"},
    {"comment_id": "c3", "text": "この記事はとても良かったです"},
    {"comment_id": "c4", "text": "هذا المقال رائع جدا"},
    {"comment_id": "c5", "text": "That goal was sick", "lang": "en"},
]

LABELS = [
    {"text": "That goal was sick", "lang": "en", "label": "positive"},
    {"text": "Sick finish from the striker", "label": "positive"},
    {"text": "The referee was sick, what a call", "label": "positive"},
    {"text": "标题党，带节奏", "lang": "zh", "label": "negative"},
    {"text": "A fair summary", "score": 0.3},
    {"text": "Отличная статья", "label": "positive"},  # not a language we score: skipped
]


def _write_jsonl(path: Path, rows: Sequence[object]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                    encoding="utf-8")
    return path


def _stream(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "stream", "sentiment", *map(str, args)],
        capture_output=True, text=True, timeout=120, cwd=cwd,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Building prefix dict" not in proc.stderr  # jieba stays quiet
    return proc


def _scores(path: Path) -> dict[str, dict[str, object]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return {str(r["comment_id"]): r for r in rows}


def test_score_train_score_evaluate(tmp_path: Path) -> None:
    comments = _write_jsonl(tmp_path / "comments.jsonl", COMMENTS)
    labels = _write_jsonl(tmp_path / "labels.jsonl", LABELS)
    model_dir = tmp_path / "model"

    _stream("score", "--input", comments, "--output", tmp_path / "before.jsonl", cwd=tmp_path)
    before = _scores(tmp_path / "before.jsonl")
    assert set(before) == {"c1", "c2", "c3", "c4", "c5"}
    c1 = before["c1"]
    assert set(c1) == {"comment_id", "item_id", "user_id", "lang", "label", "score", "model",
                       "ts"}
    assert (c1["item_id"], c1["user_id"], c1["ts"]) == ("i1", "u1", 100.0)
    assert (c1["lang"], c1["label"], c1["model"]) == ("en", "positive", "vader")
    assert (before["c2"]["lang"], before["c2"]["label"]) == ("zh", "negative")
    for cid in ("c3", "c4"):
        assert before[cid]["label"] == "unscored" and before[cid]["score"] is None
        assert before[cid]["item_id"] is None and isinstance(before[cid]["ts"], float)
    assert before["c5"]["label"] == "negative"  # VADER reads "sick" as negative

    proc = _stream("train", "--input", labels, "--model", model_dir, "--epochs", "20",
                   cwd=tmp_path)
    assert "skipped" in proc.stdout
    state = json.loads((model_dir / "sentiment.json").read_bytes())
    assert state["en"]["online"]["n_learned"] == 80 and state["zh"]["online"]["n_learned"] == 20

    _stream("score", "--input", comments, "--output", tmp_path / "after.jsonl",
            "--model", model_dir, cwd=tmp_path)
    after = _scores(tmp_path / "after.jsonl")
    assert after["c5"]["label"] == "positive"  # the labels changed a later score
    assert after["c5"]["model"] == "vader+river"
    assert after["c3"]["label"] == "unscored"

    proc = _stream("evaluate", "--input", labels, "--model", model_dir, "--json", cwd=tmp_path)
    report = json.loads(proc.stdout)["sets"]["labels.jsonl"]
    assert report["en"]["n"] == 4 and report["zh"]["n"] == 1
    assert report["en"]["accuracy"] == 1.0
    assert report["en"]["comments_per_second"] > 0

    proc = _stream("evaluate", "--input", labels, "--train-fraction", "0.5", "--seed", "3",
                   cwd=tmp_path)
    assert "out of the box" in proc.stdout and "after training" in proc.stdout
    assert "weighted F1" in proc.stdout


def test_bad_input_is_an_error_not_a_crash(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "no label"}\n', encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "stream", "sentiment", "train", "--input", str(bad),
         "--model", str(tmp_path / "m")],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert "bad.jsonl:1" in proc.stderr
    assert not (tmp_path / "m").exists()
