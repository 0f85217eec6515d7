"""Pure online models: no Kafka, no Faust. The worker and ``stream evaluate`` both use them."""

from stream.models.base import Recommendation, Recommender
from stream.models.catalog import ItemCatalog
from stream.models.content_feed import ContentFeed, UserState
from stream.models.popularity import DecayedPopularity
from stream.models.text import HashedTextEncoder, tokenize

__all__ = [
    "ContentFeed",
    "DecayedPopularity",
    "HashedTextEncoder",
    "ItemCatalog",
    "Recommendation",
    "Recommender",
    "UserState",
    "tokenize",
]
