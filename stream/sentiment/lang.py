"""Which language a comment is in: Chinese, English, or something we cannot score.

Detection is by script first (Han, kana, Hangul, Latin, everything else), then, for Latin
script, by evidence that the words are English rather than French, Spanish, German and so on.
A text with no evidence at all (empty, digits, emoji, a product name) is ``"other"``: the
sentiment model then says "unscored" instead of making up a neutral score.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Literal

__all__ = ["Lang", "detect_language", "normalize_lang"]

Lang = Literal["zh", "en", "other"]

_HAN_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef]")
_KANA_RE = re.compile(r"[\u3041-\u309f\u30a0-\u30ff\u31f0-\u31ff\uff66-\uff9d]")
_HANGUL_RE = re.compile(r"[\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]")
_LATIN_RE = re.compile(r"[A-Za-z\u00c0-\u024f]")
_LETTER_RE = re.compile(r"[^\W\d_]")
_LATIN_WORD_RE = re.compile(r"[A-Za-z\u00c0-\u024f]+(?:'[A-Za-z]+)?")
_DIACRITIC_RE = re.compile(r"[\u00c0-\u024f]")

# Function words: frequent in any English text, whatever its topic or length.
_ENGLISH_WORDS = frozenset(
    """a about after all also am an and any are as at be because been but by can can't could
    did didn't do does doesn't don't for from had has have he her here him his how i i'm if
    in into is isn't it it's its just me more most my no not now of on one only or our out so
    some than that that's the their them then there these they this those to too up us very
    was wasn't we were what when where which while who why will with won't would you you're
    your yours really much many should shouldn't""".split()
)

# Function words of other Latin-script languages that are not English words.
_FOREIGN_WORDS = frozenset(
    """le la les est et une des du pas je tu il nous vous cette qui que sur avec pour dans
    très mais c'est ce sont être aussi ils elle
    el los las es y del una por con para pero muy esta está como lo se mi qué más también
    der die das und ist nicht ein eine ich du sie wir mit auf für sehr aber auch zu den dem
    ist nicht sind war
    il di che è non un per con molto della sono questo anche
    não é os um uma com muito mas você eu isso
    het een en niet van ik zijn wel maar ook
    och att är inte jag det som för med
    dan yang dengan tidak ini itu ada""".split()
) - _ENGLISH_WORDS


@lru_cache(maxsize=1)
def _english_lexicon() -> frozenset[str]:
    """Alphabetic entries of VADER's English lexicon: sentiment words are English evidence."""
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    except ImportError:  # pragma: no cover - a declared dependency
        return frozenset()
    lexicon: dict[str, float] = SentimentIntensityAnalyzer().lexicon
    return frozenset(w for w in lexicon if w.isalpha())


def _english_evidence(text: str) -> bool:
    words = _LATIN_WORD_RE.findall(text.lower())
    if not words:
        return False
    lexicon = _english_lexicon()
    english = 0.0
    foreign = 0.0
    for word in words:
        if word in _ENGLISH_WORDS:
            english += 1.0
        elif word in _FOREIGN_WORDS:
            foreign += 1.0
        elif _DIACRITIC_RE.search(word):
            foreign += 1.0  # é, ñ, ü, ß, ç... are rare in English words
        elif word in lexicon:
            english += 0.5
    return english > 0.0 and english > foreign


def detect_language(text: str) -> Lang:
    """The language of ``text``: ``"zh"``, ``"en"`` or ``"other"``.

    Han characters dominating the text make it Chinese unless kana are present too (then it
    is Japanese, ``"other"``). Latin letters make it English only with English evidence
    (function words or English sentiment words outweighing those of other languages).
    Arabic, Cyrillic, Hangul, other scripts, and texts without letters are ``"other"``.

    Examples
    --------
    >>> detect_language("The hotel was not as good as I hoped")
    'en'
    >>> detect_language("房间很干净，服务也很好")
    'zh'
    >>> detect_language("このホテルはとても良かった")
    'other'
    >>> detect_language("Отличный отель")
    'other'
    >>> detect_language("")
    'other'
    """
    han = len(_HAN_RE.findall(text))
    kana = len(_KANA_RE.findall(text))
    hangul = len(_HANGUL_RE.findall(text))
    latin = len(_LATIN_RE.findall(text))
    letters = len(_LETTER_RE.findall(text))
    other = max(0, letters - han - kana - hangul - latin)
    # Weigh scripts by rough information per character: one Han character or Hangul
    # syllable is about half a Latin word, which has about five letters.
    weights = {
        "han": float(han + kana),
        "hangul": float(hangul),
        "latin": latin / 2.5,
        "other": other / 2.5,
    }
    total = sum(weights.values())
    if total == 0.0:
        return "other"
    dominant = max(weights, key=weights.__getitem__)
    if dominant == "han":
        # Chinese text may borrow a stray の; Japanese text has plenty of kana.
        if (kana >= 2 and kana >= 0.1 * (han + kana)) or (kana > 0 and kana >= 0.3 * (han + kana)):
            return "other"
        return "zh"
    if dominant == "latin" and _english_evidence(text):
        return "en"
    return "other"


def normalize_lang(given: str | None, text: str) -> Lang:
    """Honour a language code from the producer, or detect one when there is none.

    ``en``, ``en-US``, ``EN_gb`` map to ``"en"``; ``zh``, ``zh-CN``, ``zh-Hant``, ``cmn`` map
    to ``"zh"``; any other code is ``"other"``. ``None`` or a blank code means: detect.

    Examples
    --------
    >>> normalize_lang("zh-Hant", "好")
    'zh'
    >>> normalize_lang("fr", "C'est très bien")
    'other'
    >>> normalize_lang(None, "This is great")
    'en'
    """
    if given is None or not given.strip():
        return detect_language(text)
    primary = given.strip().replace("_", "-").split("-", 1)[0].lower()
    if primary in ("en", "eng"):
        return "en"
    if primary in ("zh", "zho", "chi", "cmn"):
        return "zh"
    return "other"
