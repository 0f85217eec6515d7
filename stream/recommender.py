"""Builds the worker's recommender from the settings: one place, used by the worker and
``stream evaluate --models stream`` alike."""

from __future__ import annotations

from stream.models import ContentFeed, Recommender
from stream.settings import Settings

__all__ = ["build_recommender"]


def build_recommender(settings: Settings, *, recommend_stubs: bool = False) -> Recommender:
    """The model stack the worker runs (``recommend_stubs``: also rank items with no metadata,
    as offline datasets without article texts need)."""
    return ContentFeed(
        dim=settings.content_dim,
        interest_half_life=settings.interest_half_life_seconds,
        popularity_half_life=settings.popularity_half_life_seconds,
        popularity_weight=settings.popularity_weight,
        read_dwell_full=settings.read_dwell_seconds_full,
        history_size=settings.history_size,
        recommend_stubs=recommend_stubs,
    )
