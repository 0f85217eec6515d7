"""Pure online models: no Kafka, no Faust. The worker and ``stream evaluate`` both use them."""

from stream.models.base import Recommendation, Recommender
from stream.models.catalog import ItemCatalog
from stream.models.covisitation import CoVisitation
from stream.models.histories import UserHistories
from stream.models.popularity import DecayedPopularity
from stream.models.ranker import FEATURES, ImpressionRanker
from stream.models.stack import SentimentSource, StreamRecommender
from stream.models.text import HashedTextEncoder, tokenize
from stream.models.tfidf import OnlineTfidf

__all__ = [
    "FEATURES",
    "CoVisitation",
    "DecayedPopularity",
    "HashedTextEncoder",
    "ImpressionRanker",
    "ItemCatalog",
    "OnlineTfidf",
    "Recommendation",
    "Recommender",
    "SentimentSource",
    "StreamRecommender",
    "UserHistories",
    "tokenize",
]
