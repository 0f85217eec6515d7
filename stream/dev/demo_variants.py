"""The demo's A/B test: control, diverse and the popularity baseline, and the recommender's
settings of each (the demo's worker gets them in its environment; the closed loop of the
tests builds its models from them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stream.models import ModelSettings

__all__ = ["DEMO_RECOMMENDER", "DEMO_VARIANT_OVERRIDES", "demo_variant_models", "demo_variants"]

#: the recommender's knobs the demo sets for every variant (STREAM_RECOMMENDER__<KNOB>)
DEMO_RECOMMENDER: dict[str, Any] = {
    # a reader who read only English gets Chinese only where readers of the same articles
    # read it too
    "unread_language_evidence": 0.5,
    # at most two of ten picked for being trending or new rather than for the reader
    "discovery_share": 0.2,
}

#: what each variant of the demo changes in the recommender
DEMO_VARIANT_OVERRIDES: dict[str, dict[str, float | bool | str]] = {
    "diverse": {"diversity": 0.6},
    # the obvious baseline, in the same model: the most popular items the reader has not
    # read, with nothing learned of the reader and nothing learned from impressions
    "popularity": {
        "use_content": False,
        "use_collab": False,
        "use_ranker": False,
        "content_weight": 0.0,
        "collab_weight": 0.0,
        "fresh_boost": 0.0,
        "diversity": 0.0,
        "unread_language_evidence": 0.0,
        "discovery_share": 1.0,
    },
}


def demo_variants(popularity_share: float) -> dict[str, float]:
    """The demo's A/B weights: ``popularity_share`` of the readers get the popularity arm,
    control and diverse split the rest evenly.

    >>> demo_variants(0.2)
    {'control': 0.4, 'diverse': 0.4, 'popularity': 0.2}
    """
    if not 0.0 <= popularity_share < 1.0:
        raise ValueError("the popularity arm's share must be at least 0 and below 1")
    rest = (1.0 - popularity_share) / 2
    weights = {"control": rest, "diverse": rest, "popularity": popularity_share}
    return {name: w for name, w in weights.items() if w > 0}


def demo_variant_models(variants: Mapping[str, float]) -> dict[str, ModelSettings]:
    """Each variant's recommender settings, as the demo's worker builds them."""
    base = ModelSettings(**DEMO_RECOMMENDER).model_dump()
    return {name: ModelSettings.model_validate({**base, **DEMO_VARIANT_OVERRIDES.get(name, {})})
            for name in variants}
