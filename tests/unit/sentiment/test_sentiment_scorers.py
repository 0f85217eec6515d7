"""English and Chinese scoring on sentences written for these tests."""

from __future__ import annotations

import base64
import math
import random

import numpy as np
import orjson
import pytest

from stream.sentiment.chinese import ChineseScorer, char_ngrams, lexicon_score, segment
from stream.sentiment.english import EnglishScorer, vader_scores
from stream.sentiment.online import NgramLogit


@pytest.fixture(scope="module")
def en() -> EnglishScorer:
    return EnglishScorer()


@pytest.fixture(scope="module")
def zh() -> ChineseScorer:
    return ChineseScorer()


def test_english_out_of_the_box_is_vader(en: EnglishScorer) -> None:
    texts = ["What a wonderful piece", "This is awful", "The meeting is on Monday"]
    assert en.score_many(texts) == [vader_scores(t)["compound"] for t in texts]
    assert en.model_name == "vader"


def test_english_negation_flips(en: EnglishScorer) -> None:
    good, not_good = en.score_many(["The report is good", "The report is not good"])
    assert good > 0.05
    assert not_good < -0.05


def test_english_degree_strengthens(en: EnglishScorer) -> None:
    good, very_good = en.score_many(["The report is good", "The report is extremely good"])
    assert very_good > good > 0


def _zh(zh: ChineseScorer, text: str) -> float:
    return zh.score_many([text])[0]


def test_chinese_polarity(zh: ChineseScorer) -> None:
    assert _zh(zh, "房间干净，服务周到，非常满意") > 0.5
    assert _zh(zh, "房间很脏，服务态度恶劣，太失望了") < -0.5
    assert -0.05 < _zh(zh, "我今天坐地铁去公司") < 0.05  # no sentiment words: neutral


@pytest.mark.parametrize(
    ("positive", "negated"),
    [
        ("这篇文章写得好", "这篇文章写得不好"),
        ("服务很满意", "服务不满意"),
        ("我喜欢这个设计", "我不喜欢这个设计"),
        ("早餐好吃", "早餐没有好吃的"),
    ],
)
def test_chinese_negation_flips(zh: ChineseScorer, positive: str, negated: str) -> None:
    assert _zh(zh, positive) > 0.05
    assert _zh(zh, negated) < -0.05


def test_chinese_double_negation_is_positive(zh: ChineseScorer) -> None:
    assert _zh(zh, "这个酒店不是不好") > 0.05


def test_chinese_negated_complaint_is_positive(zh: ChineseScorer) -> None:
    assert _zh(zh, "房间没有问题") > 0.0


def test_chinese_degree_words_scale(zh: ChineseScorer) -> None:
    plain = _zh(zh, "房间干净")
    very = _zh(zh, "房间非常干净")
    slightly = _zh(zh, "房间有点干净")
    assert very > plain > slightly > 0


def test_chinese_not_very_is_mildly_negative(zh: ChineseScorer) -> None:
    not_very = _zh(zh, "服务不太好")
    very_not = _zh(zh, "服务很不好")
    assert very_not < not_very < 0


def test_chinese_but_shifts_weight_to_what_follows(zh: ChineseScorer) -> None:
    assert _zh(zh, "位置很方便，但是房间太吵了") < 0
    assert _zh(zh, "房间有点吵，但是服务非常好") > 0


def test_lexicon_score_counts_negations() -> None:
    assert lexicon_score(segment("我喜欢"))[3] == 0
    compound, pos, neg, negated = lexicon_score(segment("我不喜欢，也不太满意，但是服务很好"))
    assert negated == 2
    assert pos > 0 and neg > 0
    assert -1.0 < compound < 1.0


def test_scoring_is_quiet(capfd: pytest.CaptureFixture[str]) -> None:
    ChineseScorer().score_many(["安静的房间"])
    assert capfd.readouterr().err == ""


def test_matcher_keeps_blockers_whole() -> None:
    # 小时 is not "small", 不同 does not negate what follows, 香港 is not fragrant.
    assert "小" not in segment("等了一个小时")
    assert lexicon_score(segment("等了一个小时"))[0] == 0.0
    assert "不" not in segment("两个房间不同")
    assert lexicon_score(segment("香港的酒店"))[0] == 0.0


def test_matcher_splits_jieba_phrases_into_modifier_and_word() -> None:
    # Phrases of jieba's dictionary that hold a negator and a sentiment word still read right.
    assert lexicon_score(segment("我不喜欢"))[0] < 0
    assert lexicon_score(segment("很满意"))[0] > lexicon_score(segment("满意"))[0] > 0


def test_segment_keeps_every_character() -> None:
    text = "房间很干净，但是早餐一般！Wifi不太稳定"
    assert "".join(segment(text)) == text


def test_char_ngrams_are_distinct_lowercase_unigrams_and_bigrams() -> None:
    assert char_ngrams("好 好Ok") == ["好", "o", "k", "好好", "好o", "ok"]
    assert char_ngrams("") == []


def test_char_ngrams_mark_the_scope_of_a_negator_up_to_the_clause_end() -> None:
    grams = char_ngrams("不满意，好")
    assert {"!满", "!意", "!满意"} <= set(grams)
    assert "满意" not in grams and "好" in grams and "!好" not in grams  # the comma ends it
    assert "!有" not in char_ngrams("没有早餐")  # 没有 is one negator
    assert "!早" in char_ngrams("没有早餐")
    far = char_ngrams("不是一二三四五")  # the scope is a few characters
    assert "!是" in far and "五" in far and "!五" not in far


def test_chinese_learning_is_deterministic_and_survives_json() -> None:
    data = [("房间干净，服务热情", 1.0), ("前台态度恶劣", -1.0), ("标题党，带节奏", -1.0)] * 5
    a, b = ChineseScorer(), ChineseScorer()
    for text, target in data:
        a.learn_one(text, target)
        b.learn_one(text, target)
    assert a.to_state() == b.to_state()
    restored = ChineseScorer.from_state(orjson.loads(orjson.dumps(a.to_state())))
    texts = ["带节奏的标题党", "服务热情"]
    assert restored.score_many(texts) == a.score_many(texts)
    assert a.score_many(["带节奏的标题党"])[0] < -0.05
    assert a.model_name == "zh-lexicon+ngrams"


def test_chinese_state_of_another_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="not a state"):
        ChineseScorer.from_state({"n_buckets": 1024, "online": {}})


def test_ngram_logit_caps_its_features() -> None:
    m = NgramLogit(max_features=3)
    m.learn(0.0, {}, {"a", "b"}, 1.0)
    m.learn(0.0, {}, {"c", "d", "e"}, -1.0)
    assert len(m.weights) == 3
    assert {"a", "b"} <= set(m.weights)
    m.learn(0.0, {}, {"a", "z"}, 1.0)  # known grams still learn, new ones wait
    assert len(m.weights) == 3 and "z" not in m.weights


def test_ngram_logit_is_the_base_score_before_learning() -> None:
    m = NgramLogit()
    assert m.score(0.3, {"base": 0.3}, {"x"}) == 0.3
    assert m.score(1.5, {}, set()) == 1.0


def test_batch_scoring_matches_the_features_it_learnt_from() -> None:
    zh = ChineseScorer()
    for text, target in [("前台热情，房间干净", 1.0), ("隔音差，一晚没睡好", -1.0)] * 3:
        zh.learn_one(text, target)
    texts = ["隔音 很差", "前台很热情！", "", "好"]
    expected = [zh.online.score(*zh.lexicon_features(t), char_ngrams(t)) for t in texts]
    assert zh.score_many(texts) == pytest.approx(expected, abs=1e-12)


def _trained(data: list[tuple[str, float]]) -> ChineseScorer:
    zh = ChineseScorer()
    for text, target in data:
        zh.learn_one(text, target)
    return zh


HOTEL = [
    ("房间宽敞，早餐丰盛，还会再来", 1.0),
    ("前台冷淡，隔音差，不会再来", -1.0),
    ("位置方便，早餐丰盛", 1.0),
    ("空调坏了，隔音差", -1.0),
] * 3


def test_chinese_labels_move_scores_their_way() -> None:
    before = ChineseScorer()
    after = _trained(HOTEL)
    good, bad = "早餐丰盛，还会再来", "隔音差，不会再来"
    assert after.score_many([good])[0] > before.score_many([good])[0]
    assert after.score_many([bad])[0] < before.score_many([bad])[0]
    assert after.score_many([good])[0] > 0.05 > -0.05 > after.score_many([bad])[0]


def test_naive_bayes_log_odds_follow_the_counts() -> None:
    m = NgramLogit()
    assert m.nb_log_odds(["好"]) == 0.0  # nothing counted yet
    for _ in range(3):
        m.learn(0.0, {}, ["好", "棒"], 1.0)
        m.learn(0.0, {}, ["差", "吵"], -1.0)
    assert m.nb_log_odds(["好", "棒"]) > 0 > m.nb_log_odds(["差", "吵"])
    assert m.nb_log_odds(["好", "没见过"]) > m.nb_log_odds(["没见过"])


def test_neutral_targets_count_half_for_each_class() -> None:
    m = NgramLogit()
    m.learn(0.0, {}, ["一般"], 0.0)
    assert m.nb_log_odds(["一般"]) == 0.0


def test_chinese_state_round_trips_exactly_through_json() -> None:
    zh = _trained([*HOTEL, ("不满意，很失望", -0.6), ("还行", 0.0)])
    state = zh.to_state()
    restored = ChineseScorer.from_state(orjson.loads(orjson.dumps(state)))
    assert restored.to_state() == state
    texts = ["早餐丰盛", "隔音差，不满意", "", "完全没见过的字"]
    assert restored.score_many(texts) == zh.score_many(texts)
    # and both keep learning alike
    zh.learn_one("早餐难吃", -1.0)
    restored.learn_one("早餐难吃", -1.0)
    assert restored.to_state() == zh.to_state()


def test_ngram_state_columns_are_checked() -> None:
    m = NgramLogit()
    m.learn(0.0, {}, ["a", "b"], 1.0)
    state = m.to_state()
    with pytest.raises(ValueError, match="differ in length"):
        NgramLogit.from_state({**state, "pos": state["pos"][:1]})
    one = base64.b64encode(np.zeros(1, "<f8").tobytes()).decode()  # one float for two grams
    with pytest.raises(ValueError, match="differ in length"):
        NgramLogit.from_state({**state, "weight_sums": one})
    with pytest.raises(ValueError):
        NgramLogit.from_state({**state, "weights": "not base64!"})
    with pytest.raises(ValueError, match="repeat"):
        NgramLogit.from_state({**state, "grams": ["a", "a"]})
    with pytest.raises(ValueError, match="sums differ"):
        NgramLogit.from_state({**state, "dense_sum": {"base": 0.0}})
    with pytest.raises(ValueError, match="not a state"):
        NgramLogit.from_state({**state, "format": 2})  # the AdaGrad model before NB scaling


def test_ngram_state_stays_compact() -> None:
    # Weights and their running sums are 8 bytes each before base64, whatever their decimals.
    m = NgramLogit()
    grams = [f"g{i}" for i in range(1000)]
    m.learn(0.3, {}, grams, -1.0)
    assert len(orjson.dumps(m.to_state())) < 1000 * 40


def test_ngram_logit_scales_each_ngram_by_its_naive_bayes_ratio() -> None:
    # After "x a" positive and "x b" negative, x is as frequent in both classes: its log-count
    # ratio is 0, so the second label's step leaves its weight alone (no L2 here).
    m = NgramLogit(l2=0.0)
    m.learn(0.0, {}, ["x", "a"], 1.0)
    first = m.weights
    assert first["x"] > 0 and first["a"] > 0
    m.learn(0.0, {}, ["x", "b"], -1.0)
    assert m.weights["x"] == first["x"]
    # A weight multiplies the ratio: b (negative ratio) agrees with naive Bayes, w > 0.
    assert m.weights["b"] > 0
    assert m.logit(0.0, {}, ["b"]) < m.logit(0.0, {}, []) < m.logit(0.0, {}, ["a"])
    assert m.nb_log_odds(["x"]) == 0.0
    assert m.nb_log_odds(["a"]) > 0 > m.nb_log_odds(["b"])


def test_ngram_logit_scores_with_step_weighted_averages() -> None:
    # The score uses sum(t * w_t) / sum(t) over steps t = 1..T of every weight, not w_T.
    m = NgramLogit(l2=0.0, dense_lr=0.2)
    data = [(["a", "b"], 1.0), (["a", "c"], -1.0), (["a", "b"], 1.0), (["c"], -1.0)]
    snapshots: list[tuple[float, float, float]] = []
    for grams, target in data:
        m.learn(0.0, {"d": 0.5}, grams, target)
        snapshots.append((m.weights["a"], m.intercept, m.dense["d"]))
    total = sum(range(1, len(data) + 1))
    avg = [sum(t * snap[k] for t, snap in enumerate(snapshots, 1)) / total for k in range(3)]
    # a was counted 2 times positive and once negative (alpha 1), plus the offset of the class
    # totals that every n-gram gets, which is the log-odds of an unseen n-gram.
    ratio_a = math.log(2 + 1) - math.log(1 + 1) + m.nb_log_odds(["never seen"])
    assert m.logit(0.0, {}, []) == pytest.approx(avg[1], abs=1e-12)
    assert m.logit(0.0, {"d": 1.0}, []) - m.logit(0.0, {}, []) == pytest.approx(avg[2])
    assert m.logit(0.0, {}, ["a"]) - m.logit(0.0, {}, []) == pytest.approx(avg[0] * ratio_a)
    assert avg[0] != pytest.approx(m.weights["a"])  # the average is not the last iterate


def test_ngram_logit_divides_the_ngram_sum_by_the_square_root_of_its_length() -> None:
    m = _trained(HOTEL).online
    grams = ["早餐", "丰盛"]
    shift = m.logit(0.0, {}, grams) - m.logit(0.0, {}, [])
    padded = [*grams, "从未见过甲", "从未见过乙"]  # unseen n-grams add nothing but their count
    assert m.logit(0.0, {}, padded) - m.logit(0.0, {}, []) == pytest.approx(
        shift * math.sqrt(2 / 4)
    )


def test_one_label_cannot_swing_unrelated_scores() -> None:
    zh = ChineseScorer()
    unrelated = ["服务很周到，房间也很干净", "房间太脏了，服务态度很差"]
    before = zh.score_many(unrelated)
    zh.learn_one("带节奏的标题党", -1.0)
    after = zh.score_many(unrelated)
    # Only the intercept and the lexicon features' weights touch these texts, by dense_lr.
    for b, a in zip(before, after, strict=True):
        assert abs(math.atanh(a) - math.atanh(max(-0.995, min(0.995, b)))) < 0.5
        assert (a > 0) == (b > 0)


def test_ngram_logit_grows_its_arrays_up_to_the_cap_and_round_trips() -> None:
    m = NgramLogit(max_features=1500)
    m.learn(0.2, {"base": 0.2}, [f"g{i}" for i in range(1200)], 1.0)  # past the first 1024
    m.learn(-0.2, {"base": -0.2}, [f"h{i}" for i in range(600)], -1.0)
    assert len(m.weights) == 1500 and "h299" in m.weights and "h300" not in m.weights
    state = orjson.loads(orjson.dumps(m.to_state()))
    restored = NgramLogit.from_state(state)
    assert restored.to_state() == m.to_state()
    m.learn(0.1, {}, ["g1", "h1", "new"], 1.0)  # restored arrays are full: no room, no error
    restored.learn(0.1, {}, ["g1", "h1", "new"], 1.0)
    assert restored.to_state() == m.to_state()
    assert "new" not in m.weights


def test_training_passes_reach_the_synthetic_hold_out() -> None:
    # Reviews made of a few sentiment phrases in filler text, learnt in shuffled passes.
    rng = random.Random(7)
    good = ["早餐丰盛", "前台热情", "房间宽敞", "还会再来", "交通方便"]
    bad = ["隔音太差", "空调坏了", "前台冷淡", "不会再来", "浴室发霉"]
    filler = ["我们", "周末", "入住", "这家", "酒店", "两晚", "一楼", "朋友"]

    def review(label: int) -> tuple[str, float]:
        own, other = (good, bad) if label else (bad, good)
        parts = rng.sample(own, 2) + rng.sample(filler, 3)
        if rng.random() < 0.3:
            parts.append(rng.choice(other))  # mixed reviews
        rng.shuffle(parts)
        return "，".join(parts), 1.0 if label else -1.0

    train_set = [review(rng.random() < 0.65) for _ in range(300)]
    test_set = [review(rng.random() < 0.65) for _ in range(200)]
    zh = ChineseScorer()
    for _ in range(3):
        rng.shuffle(train_set)
        for text, target in train_set:
            zh.learn_one(text, target)
    scores = zh.score_many([text for text, _ in test_set])
    correct = sum((s >= 0.05) == (t > 0) and abs(s) >= 0.05 for s, (_, t) in zip(
        scores, test_set, strict=True))
    assert correct / len(test_set) >= 0.95
