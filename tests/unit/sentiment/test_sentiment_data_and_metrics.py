"""Loaders on files written here (in the shared corpora's formats) and the metrics by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from stream.sentiment import SentimentModel
from stream.sentiment.datasets import (
    LabelledText,
    load_chnsenticorp,
    load_comments_jsonl,
    load_dataset,
    load_labelled_jsonl,
    load_vader,
)
from stream.sentiment.evaluation import accuracy, evaluate, pearson, split, train, weighted_f1


def test_vader_format_crlf_without_final_newline(tmp_path: Path) -> None:
    path = tmp_path / "tweets_GroundTruth.txt"
    path.write_bytes(b"1\t2.0\tnice day\r\n2\t-4.0\tawful day\r\n3\t0.1\tplain day")
    rows = load_vader(path)
    assert [(r.text, r.score, r.label, r.lang) for r in rows] == [
        ("nice day", 0.5, "positive", "en"),
        ("awful day", -1.0, "negative", "en"),
        ("plain day", 0.025, "neutral", "en"),
    ]
    assert load_dataset("vader-tweets", tmp_path) == rows  # the file's own folder works
    (tmp_path / "sentiment").mkdir()
    (tmp_path / "sentiment" / path.name).write_bytes(path.read_bytes())
    (tmp_path / path.name).unlink()
    assert load_dataset("vader-tweets", tmp_path) == rows  # and so does the data root


def test_chnsenticorp_format_skips_the_empty_review(tmp_path: Path) -> None:
    path = tmp_path / "ChnSentiCorp_htl_all.shared.csv"
    path.write_text('label,review\n1,"干净,安静"\n0,\n0,太吵了\n', encoding="utf-8")
    rows = load_chnsenticorp(path)
    assert [(r.text, r.label, r.score) for r in rows] == [
        ("干净,安静", "positive", None),
        ("太吵了", "negative", None),
    ]


def test_unknown_dataset_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        load_dataset("imdb", tmp_path)
    with pytest.raises(FileNotFoundError):
        load_dataset("chnsenticorp", tmp_path)


def test_labelled_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_text(
        '{"text": "good", "label": "positive"}\n\n'
        '{"text": "meh", "lang": "en", "score": -0.25}\n',
        encoding="utf-8",
    )
    assert load_labelled_jsonl(path) == [
        LabelledText("good", None, "positive", None),
        LabelledText("meh", "en", None, -0.25),
    ]
    for bad in ('{"text": "x"}', '{"text": "x", "label": "great"}',
                '{"text": "x", "score": 2}', '{"label": "positive"}', "[1]", "{"):
        path.write_text(bad + "\n", encoding="utf-8")
        with pytest.raises(ValueError, match=r"labels\.jsonl:1"):
            load_labelled_jsonl(path)


def test_comments_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "comments.jsonl"
    path.write_text(
        '{"comment_id": "c1", "text": "hi", "item_id": "i1", "user_id": "u1", "ts": 5}\n'
        '{"comment_id": 7, "text": "好", "lang": "zh"}\n',
        encoding="utf-8",
    )
    first, second = load_comments_jsonl(path)
    assert (first.comment_id, first.item_id, first.user_id, first.ts) == ("c1", "i1", "u1", 5.0)
    assert (second.comment_id, second.lang, second.item_id, second.ts) == ("7", "zh", None, None)


def test_metrics_by_hand() -> None:
    assert pearson([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]) == pytest.approx(1.0)
    assert pearson([1.0, 2.0, 3.0], [3.0, 2.0, 1.0]) == pytest.approx(-1.0)
    assert pearson([1.0, 1.0], [1.0, 2.0]) is None
    assert accuracy(["a", "b", "b", "a"], ["a", "b", "a", "a"]) == 0.75
    # class a: P=2/3 R=1 F1=0.8 (n=2); class b: P=1 R=0.5 F1=2/3 (n=2)
    assert weighted_f1(["a", "a", "b", "b"], ["a", "a", "a", "b"]) == pytest.approx(
        (0.8 * 2 + 2 / 3 * 2) / 4
    )


def test_evaluate_binary_gold_counts_neutral_as_wrong() -> None:
    data = [
        LabelledText("房间非常干净", "zh", "positive", None),
        LabelledText("服务太差了", "zh", "negative", None),
        LabelledText("我住在三楼", "zh", "positive", None),  # no sentiment: neutral
        LabelledText("Lovely", "en", None, 0.8),
        LabelledText("Dreadful", "en", None, -0.7),
        LabelledText("Fine", "en", None, 0.2),
    ]
    reports = evaluate(SentimentModel(), data, batch_size=2)
    zh = reports["zh"]
    assert zh.binary and zh.n == 3 and zh.scored == 3
    assert zh.accuracy == pytest.approx(2 / 3)  # the neutral prediction is wrong
    assert zh.accuracy_by_sign == pytest.approx(1.0)  # score 0 reads as positive
    assert zh.pearson is None
    en = reports["en"]
    assert not en.binary and en.pearson is not None and en.pearson > 0.8
    assert en.comments_per_second is not None and en.comments_per_second > 0
    assert reports["all"].n == 6


def test_split_and_train() -> None:
    data = [LabelledText(f"meh {i}", "en", "negative", None) for i in range(20)]
    data.append(LabelledText("Отлично", "ru", "positive", None))
    tr, te = split(data, 0.5, seed=1)
    assert len(tr) + len(te) == 21
    assert split(data, 0.5, seed=1) == (tr, te)
    assert split(data, 0.5, seed=2) != (tr, te)
    model = SentimentModel()
    learnt = train(model, data, epochs=2, seed=0)
    assert learnt == 40  # the Russian label is skipped each epoch
    assert model.n_learned == {"en": 40, "zh": 0}
    with pytest.raises(ValueError):
        split(data, 1.0, seed=1)
