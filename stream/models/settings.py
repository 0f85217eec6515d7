"""Every knob of the recommender, once: :class:`ModelSettings`, handed to the model whole."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ModelSettings"]

_DAY = 86400.0


class ModelSettings(BaseModel):
    """The recommender's knobs: the worker takes them from ``Settings.recommender``
    (``STREAM_RECOMMENDER__<FIELD>`` in the environment), an A/B variant overrides some of
    them (``Settings.variant_overrides``), and tests and ``stream evaluate`` build their own.

    >>> ModelSettings(diversity=0.5).candidates
    100
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    # --- content ---------------------------------------------------------------------------
    content_dim: int = Field(256, ge=8, description="Size of the hashed content vectors.")
    chinese_segmentation: Literal["jieba", "bigrams"] = Field(
        "jieba", description="How Chinese text becomes tokens: jieba words or character bigrams."
    )
    # --- users -----------------------------------------------------------------------------
    history_size: int = Field(500, ge=1, description="Items remembered per user (seen filter).")
    interest_half_life_seconds: float = Field(
        60 * _DAY, gt=0, description="Half-life of a user's long-term interest profile."
    )
    short_term_half_life_seconds: float = Field(
        3600.0, gt=0, description="Half-life of the short-term (session) interest profile."
    )
    short_term_weight: float = Field(
        0.3, ge=0, le=1, description="Share of the short-term profile in a user's interest."
    )
    read_dwell_seconds_full: float = Field(
        60.0, gt=0, description="A read this long counts as much as two clicks."
    )
    # --- item statistics -------------------------------------------------------------------
    popularity_half_life_seconds: float = Field(
        6 * 3600.0, gt=0, description="Half-life of an item's popularity (trending)."
    )
    ctr_half_life_seconds: float = Field(
        6 * 3600.0, gt=0, description="Half-life of the clicks and showings behind an item's CTR."
    )
    ctr_prior: float = Field(
        20.0, gt=0, description="Showings at the overall click rate each item's CTR starts from."
    )
    covisit_neighbors: int = Field(200, ge=1, description="Co-visited items kept per item.")
    covisit_window: int = Field(
        50, ge=1, description="A read is paired with this many of the user's previous reads."
    )
    covisit_half_life_seconds: float = Field(
        60 * _DAY, gt=0, description="Half-life of a co-visit (who read what together)."
    )
    covisit_beta: float = Field(
        0.4, ge=0, description="Popularity penalty of co-visited items (RP3beta's beta)."
    )
    collab_query_items: int = Field(
        100, ge=1, description="Most recent reads that query co-visitation when ranking."
    )
    # --- the prior: weights of the generators ----------------------------------------------
    content_weight: float = Field(0.3, ge=0, description="Weight of content similarity.")
    collab_weight: float = Field(1.0, ge=0, description="Weight of co-visitation.")
    popularity_weight: float = Field(0.15, ge=0, description="Weight of trending in the score.")
    fresh_boost: float = Field(0.1, ge=0, description="Score boost of a just-published item.")
    freshness_half_life_seconds: float = Field(
        6 * 3600.0, gt=0, description="Half-life of the fresh-item boost."
    )
    # --- lifetimes and bounds --------------------------------------------------------------
    item_ttl_seconds: float = Field(
        7 * _DAY,
        gt=0,
        description="Items leave the pool after this long without a reader (or publication), "
        "unless they had been read for longer: see item_ttl_stretch.",
    )
    item_ttl_stretch: float = Field(
        1.0,
        ge=0,
        description="An item read over a span of time may go this many times that span "
        "without a reader before it leaves (0: the plain TTL for every item).",
    )
    item_cap: int = Field(100_000, ge=1, description="Most items kept; least recent leave.")
    user_ttl_seconds: float = Field(
        365 * _DAY, gt=0, description="Users idle this long are evicted from memory."
    )
    user_cap: int = Field(1_000_000, ge=1, description="Most users kept; least recent leave.")
    housekeeping_interval_seconds: float = Field(
        600.0, gt=0, description="Event time between two sweeps of expired items and users."
    )
    # --- ranking ---------------------------------------------------------------------------
    diversity: float = Field(
        0.2, ge=0, le=1, description="MMR weight of diversity against relevance (0: off)."
    )
    candidates: int = Field(
        100, ge=1, description="Items the learned ranker re-scores per recommendation."
    )
    # --- the first stage: where candidates come from (a cost per reader that does not grow
    # with the catalogue: a few hundred items, of which the prior keeps ``candidates``) ----
    retrieval_collab: int = Field(
        200,
        ge=0,
        description="Most co-visited items per reader (those their recent reads were read "
        "with, best first) among the candidates.",
    )
    retrieval_topics: int = Field(
        3,
        ge=0,
        description="Topics (a tag in a language) of the reader's recent reads whose lists "
        "are candidates, most read first; the lists of the reader's language and of the "
        "whole catalogue always are.",
    )
    topic_list_size: int = Field(
        200,
        ge=1,
        description="Items each topic's lists hold: this many of the newest and the most "
        "popular now up to twice as many, kept as items arrive and are read.",
    )
    topic_refresh_seconds: float = Field(
        1.0,
        ge=0,
        description="How often, in event time, the topic lists take in the popularity that "
        "reads moved (items that arrive, change or leave join or leave them at once); 0: "
        "at every batch.",
    )
    discovery_share: float = Field(
        1.0,
        ge=0,
        le=1,
        description="Most of the top k that may be discovery items, picked for being trending "
        "or new rather than for the reader (the best of them stay); 1: no limit.",
    )
    unread_language_evidence: float = Field(
        0.0,
        ge=0,
        description="Items in a language the reader has never read are candidates only with "
        "a co-visitation score this high (1: the reader's most co-visited item); 0: no rule, "
        "above 1: never.",
    )
    excluded_tags: tuple[str, ...] = Field((), description="Never recommend items with these tags.")
    excluded_items: tuple[str, ...] = Field((), description="Never recommend these items.")
    ranker_learning_rate: float = Field(0.01, gt=0, description="SGD step of the ranker.")
    ranker_min_examples: int = Field(
        50, ge=1, description="Clicks and skips the ranker needs before it takes over."
    )
    interests_top_k: int = Field(10, ge=1, description="Interests published per user profile.")
    recommend_stubs: bool = Field(
        False,
        description="Also recommend items known only from events, without metadata (for "
        "datasets and sites that send no item texts).",
    )
    # --- generators switched off, for a variant or an ablation -----------------------------
    use_content: bool = Field(True, description="Score content similarity.")
    use_collab: bool = Field(True, description="Score co-visitation.")
    use_ranker: bool = Field(True, description="Re-rank with the learned impression ranker.")
