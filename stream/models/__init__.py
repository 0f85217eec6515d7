"""Pure online models: no Kafka, no Faust. The worker and ``stream evaluate`` both use them."""

from stream.models.base import FeedModel, Recommendation, Recommender
from stream.models.catalog import ItemCatalog
from stream.models.covisitation import CoVisitation
from stream.models.histories import UserHistories
from stream.models.popularity import DecayedPopularity
from stream.models.ranker import FEATURES, ImpressionRanker
from stream.models.recommender import StreamRecommender
from stream.models.scoring import SentimentSource
from stream.models.settings import ModelSettings
from stream.models.text import HashedTextEncoder, tokenize
from stream.models.tfidf import OnlineTfidf

__all__ = [
    "FEATURES",
    "CoVisitation",
    "DecayedPopularity",
    "FeedModel",
    "HashedTextEncoder",
    "ImpressionRanker",
    "ItemCatalog",
    "ModelSettings",
    "OnlineTfidf",
    "Recommendation",
    "Recommender",
    "SentimentSource",
    "StreamRecommender",
    "UserHistories",
    "tokenize",
]
