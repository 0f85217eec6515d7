"""Comment sentiment: language, English and Chinese scorers that learn online, per-item means.

Pure code, no Faust: the comments agent wires :class:`SentimentModel` and
:class:`ItemSentiment` into the stream.
"""

from stream.sentiment.item_sentiment import ItemSentiment
from stream.sentiment.lang import detect_language, normalize_lang
from stream.sentiment.model import LABEL_SCORES, SentimentModel, SentimentResult

__all__ = [
    "LABEL_SCORES",
    "ItemSentiment",
    "SentimentModel",
    "SentimentResult",
    "detect_language",
    "normalize_lang",
]
