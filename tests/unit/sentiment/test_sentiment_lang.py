"""Language detection: by script, with English evidence for Latin text."""

from __future__ import annotations

import pytest

from stream.sentiment.lang import detect_language, normalize_lang


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I really liked this article, thanks for writing it", "en"),
        ("This is terrible reporting", "en"),
        ("Great!", "en"),  # no function word, but an English sentiment word
        ("这篇报道写得很好，谢谢作者", "zh"),
        ("服務態度非常好", "zh"),  # traditional characters
        ("这个iPhone很好用", "zh"),  # a Latin brand name inside Chinese
        ("この記事はとても良かったです", "other"),  # Japanese: kana with kanji
        ("هذا المقال رائع جدا", "other"),  # Arabic
        ("Эта статья очень хорошая", "other"),  # Russian
        ("이 기사는 정말 좋아요", "other"),  # Korean
        ("C'est un très bon article, merci", "other"),  # French
        ("Das ist ein sehr guter Artikel", "other"),  # German
        ("", "other"),
        ("   ", "other"),
        ("😀😀👍", "other"),
        ("12345 !!!", "other"),
    ],
)
def test_detect_language(text: str, expected: str) -> None:
    assert detect_language(text) == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("en", "en"),
        ("en-US", "en"),
        ("EN_gb", "en"),
        ("zh", "zh"),
        ("zh-CN", "zh"),
        ("zh-Hant", "zh"),
        ("fr", "other"),
        ("ja", "other"),
    ],
)
def test_a_given_code_wins_over_detection(given: str, expected: str) -> None:
    # The text is deliberately in a different language from the code: the code is honoured.
    assert normalize_lang(given, "Это текст на русском") == expected


def test_missing_or_blank_code_means_detect() -> None:
    assert normalize_lang(None, "这家酒店很干净") == "zh"
    assert normalize_lang("  ", "The hotel was clean and quiet") == "en"
