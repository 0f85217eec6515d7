"""Builds the worker's recommender from the settings: one place, used by the worker and
``stream evaluate --models stream`` alike."""

from __future__ import annotations

from stream.models import Recommender, SentimentSource, StreamRecommender
from stream.settings import Settings

__all__ = ["build_recommender", "build_stream_recommender"]


def build_stream_recommender(settings: Settings, *, recommend_stubs: bool = False,
                             sentiment: SentimentSource | None = None) -> StreamRecommender:
    """The full model stack with every knob from ``settings`` (``sentiment``: the per-item
    comment sentiment the ranker may use)."""
    return StreamRecommender(
        dim=settings.content_dim,
        chinese=settings.chinese_segmentation,
        history_size=settings.history_size,
        interest_half_life=settings.interest_half_life_seconds,
        short_term_half_life=settings.short_term_half_life_seconds,
        short_term_weight=settings.short_term_weight,
        read_dwell_full=settings.read_dwell_seconds_full,
        popularity_half_life=settings.popularity_half_life_seconds,
        ctr_half_life=settings.ctr_half_life_seconds,
        ctr_prior=settings.ctr_prior,
        covisit_neighbors=settings.covisit_neighbors,
        covisit_window=settings.covisit_window,
        covisit_half_life=settings.covisit_half_life_seconds,
        covisit_beta=settings.covisit_beta,
        collab_query_items=settings.collab_query_items,
        content_weight=settings.content_weight,
        collab_weight=settings.collab_weight,
        popularity_weight=settings.popularity_weight,
        fresh_boost=settings.fresh_boost,
        freshness_half_life=settings.freshness_half_life_seconds,
        item_ttl=settings.item_ttl_seconds,
        item_ttl_stretch=settings.item_ttl_stretch,
        item_cap=settings.item_cap,
        user_ttl=settings.user_ttl_seconds,
        user_cap=settings.user_cap,
        diversity=settings.diversity,
        candidates=settings.rank_candidates,
        excluded_tags=settings.excluded_tags,
        excluded_items=settings.excluded_items,
        ranker_learning_rate=settings.ranker_learning_rate,
        ranker_min_examples=settings.ranker_min_examples,
        interests_top_k=settings.interests_top_k,
        recommend_stubs=recommend_stubs,
        sentiment=sentiment,
    )


def build_recommender(settings: Settings, *, recommend_stubs: bool = False) -> Recommender:
    """The model stack the worker runs (``recommend_stubs``: also rank items with no metadata,
    as offline datasets without article texts need)."""
    return build_stream_recommender(settings, recommend_stubs=recommend_stubs)
