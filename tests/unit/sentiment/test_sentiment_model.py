"""SentimentModel: labels, "unscored", online learning, JSON state without pickles."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

from stream.sentiment import SentimentModel, SentimentResult
from stream.sentiment.model import STATE_FILE, label_to_score

COMMENTS = [
    ("I love how clearly this explains the budget", None),
    ("This is the worst article I have read this year", None),
    ("The council meets on Tuesday", "en"),
    ("作者写得太好了，非常支持", None),
    ("胡说八道，垃圾文章", "zh-CN"),
    ("この記事はとても良かったです", None),
    ("هذا المقال رائع جدا", None),
    ("Отличная статья", "ru"),
    ("", None),
]


@pytest.fixture()
def model() -> SentimentModel:
    return SentimentModel()


def test_labels_and_unscored(model: SentimentModel) -> None:
    results = model.score_many([t for t, _ in COMMENTS], [lang for _, lang in COMMENTS])
    labels = [(r.lang, r.label) for r in results]
    assert labels == [
        ("en", "positive"),
        ("en", "negative"),
        ("en", "neutral"),
        ("zh", "positive"),
        ("zh", "negative"),
        ("other", "unscored"),
        ("other", "unscored"),
        ("other", "unscored"),
        ("other", "unscored"),
    ]
    for r in results:
        if r.label == "unscored":
            assert r.score is None and r.model == "none"
        else:
            assert r.score is not None and -1.0 <= r.score <= 1.0
    assert results[0].model == "vader" and results[3].model == "zh-lexicon"


def test_score_one_matches_score_many(model: SentimentModel) -> None:
    many = model.score_many([t for t, _ in COMMENTS], [lang for _, lang in COMMENTS])
    one = [model.score_one(t, lang) for t, lang in COMMENTS]
    assert one == many


def test_thresholds_are_configurable() -> None:
    strict = SentimentModel(positive_threshold=0.9, negative_threshold=-0.9)
    r = strict.score_one("The hotel was fine")
    assert r.score is not None and 0.05 < r.score < 0.9 and r.label == "neutral"
    with pytest.raises(ValueError):
        SentimentModel(positive_threshold=-0.1, negative_threshold=0.1)


def test_label_to_score() -> None:
    assert [label_to_score(lbl, None) for lbl in ("positive", "negative", "neutral")] == [
        1.0,
        -1.0,
        0.0,
    ]
    assert label_to_score("positive", -0.5) == -0.5  # a score wins over a label
    with pytest.raises(ValueError):
        label_to_score("great", None)
    with pytest.raises(ValueError):
        label_to_score(None, None)
    with pytest.raises(ValueError):
        label_to_score(None, 1.5)


@pytest.mark.parametrize(
    ("text", "lang", "label"),
    [
        # VADER reads "sick" as negative; on this site's sports pages it is praise.
        ("That goal was sick", "en", "positive"),
        # Our lexicon has no word in this complaint about the article's angle.
        ("标题党，带节奏", "zh", "negative"),
    ],
)
def test_labels_change_later_scores(
    model: SentimentModel, text: str, lang: str, label: str
) -> None:
    before = model.score_one(text, lang)
    for _ in range(30):
        assert model.learn_one(text, lang=lang, label=label)
    after = model.score_one(text, lang)
    assert before.score is not None and after.score is not None
    assert after.label == label != before.label
    assert after.model == before.model + ("+river" if lang == "en" else "+ngrams")
    assert model.n_learned[lang] == 30


def test_learning_generalises_to_unseen_text(model: SentimentModel) -> None:
    # Teach that "meh" is negative; a new sentence containing it moves down.
    probe = "the new layout is meh"
    before = model.score_one(probe, "en").score
    for text in ("meh", "meh article", "honestly meh", "pretty meh stuff", "meh again"):
        for _ in range(5):
            model.learn_one(text, "en", label="negative")
    after = model.score_one(probe, "en").score
    assert before is not None and after is not None
    assert after < before - 0.1


def test_learning_an_unscored_language_is_refused(model: SentimentModel) -> None:
    assert model.learn_one("Отличная статья", label="positive") is False
    assert model.n_learned == {"en": 0, "zh": 0}


def _trained() -> SentimentModel:
    model = SentimentModel(positive_threshold=0.1, negative_threshold=-0.2)
    for text, lang, label in [
        ("That goal was sick", "en", "positive"),
        ("Boring match, nothing happened", "en", "negative"),
        ("标题党，带节奏", "zh", "negative"),
        ("干货满满", "zh", "positive"),
    ]:
        for _ in range(3):
            model.learn_one(text, lang, label)
    model.learn_one("A fair summary", "en", score=0.3)
    return model


def test_save_load_round_trip_gives_identical_scores(tmp_path: Path) -> None:
    model = _trained()
    probes = [t for t, _ in COMMENTS] + ["That match was sick", "干货"]
    path = model.save(tmp_path / "model")
    assert path == tmp_path / "model" / STATE_FILE
    loaded = SentimentModel.load(tmp_path / "model")
    assert loaded.score_many(probes) == model.score_many(probes)
    assert loaded.n_learned == model.n_learned
    assert (loaded.positive_threshold, loaded.negative_threshold) == (0.1, -0.2)
    # Learning continues identically after a restart (optimiser state is saved too).
    model.learn_one("干货", "zh", "positive")
    loaded.learn_one("干货", "zh", "positive")
    assert loaded.score_many(probes) == model.score_many(probes)


def test_state_is_json_and_never_a_pickle(tmp_path: Path) -> None:
    model = _trained()
    raw = model.to_bytes()
    assert isinstance(json.loads(raw), dict)  # plain JSON
    assert not raw.startswith(b"\x80")  # a pickle starts with the PROTO opcode
    with pytest.raises(pickle.UnpicklingError):
        pickle.loads(raw)
    restored = SentimentModel.from_bytes(raw)
    assert restored.score_one("干货满满") == model.score_one("干货满满")
    model.save(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [STATE_FILE]
    assert json.loads((tmp_path / STATE_FILE).read_bytes())["format"] == "stream.sentiment.v1"


def test_from_bytes_rejects_other_documents() -> None:
    with pytest.raises(ValueError):
        SentimentModel.from_bytes(b'{"format": "something else"}')
    with pytest.raises(ValueError):
        SentimentModel.from_bytes(b"[1, 2]")


def test_load_or_new(tmp_path: Path) -> None:
    fresh = SentimentModel.load_or_new(tmp_path / "missing")
    assert fresh.n_learned == {"en": 0, "zh": 0}
    assert SentimentModel.load_or_new(None).score_one("good") == SentimentResult(
        "en", "positive", fresh.score_one("good").score, "vader"
    )
