"""The discovery slots of a list: items picked for being trending or new rather than for the
reader, held to a share of the list."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from stream.models.scoring import F
from stream.models.settings import ModelSettings

__all__ = ["discovery_items", "limit_discovery", "limit_discovery_rows"]


def discovery_items(settings: ModelSettings, features: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Which rows of ``features`` (ranker features) are discovery: no personal generator
    (content, co-visitation) weighs at least as much in the item's prior as trending or
    freshness does, the rows :class:`~stream.models.explanations.Explainer` gives a
    "trending in …" or "new in …" reason rather than one that names the reader's reads.

    >>> x = np.zeros((2, len(F)))
    >>> x[0, F["content"]], x[1, F["popularity"]] = 0.9, 0.9
    >>> discovery_items(ModelSettings(), x).tolist()
    [False, True]
    """
    s = settings
    personal = np.maximum(s.content_weight * features[:, F["content"]],
                          s.collab_weight * features[:, F["collab"]])
    general = np.maximum(s.popularity_weight * features[:, F["popularity"]],
                         s.fresh_boost * features[:, F["freshness"]])
    found: NDArray[np.bool_] = ~((personal >= general) & (personal > 0))
    return found


def limit_discovery(settings: ModelSettings, features: NDArray[np.float64], k: int
                    ) -> NDArray[np.intp] | None:
    """The rows of ranked candidates (best first) to keep so that at most
    ``discovery_share`` of the top ``k`` are discovery items (:func:`discovery_items`): the
    best of them stay, the others go, unless fewer than ``k`` rows would be left (a short
    list is worse than one with more discovery). None: keep every row (no limit, or none
    needed).

    >>> x = np.zeros((4, len(F)))
    >>> x[:, F["popularity"]] = 1.0
    >>> x[3, F["content"]] = 1.0
    >>> limit_discovery(ModelSettings(discovery_share=0.5), x, k=2).tolist()
    [0, 3]
    """
    share = settings.discovery_share
    if share >= 1.0 or features.shape[0] == 0:
        return None
    found = discovery_items(settings, features)
    quota = math.floor(share * k + 1e-9)
    # the rank of each discovery row among the discovery rows, from 1
    beyond = found & (np.cumsum(found) > quota)
    if not beyond.any():
        return None
    kept = np.flatnonzero(~beyond)
    short = min(k, features.shape[0]) - kept.size
    if short > 0:  # the best of those beyond the quota fill the list up
        kept = np.sort(np.concatenate([kept, np.flatnonzero(beyond)[:short]]))
    return kept


def limit_discovery_rows(settings: ModelSettings, features: NDArray[np.float64],
                         rows: NDArray[np.intp], k: int
                         ) -> tuple[NDArray[np.intp], NDArray[np.bool_]]:
    """:func:`limit_discovery` for many readers at once: ``rows`` holds each reader's
    candidates (rows of ``features``) best first, -1 past the last. Returns the column order
    that puts each reader's kept candidates first (in their order) and which columns of it
    are dropped.

    >>> x = np.zeros((4, len(F)))
    >>> x[:, F["popularity"]] = 1.0
    >>> x[3, F["content"]] = 1.0
    >>> order, dropped = limit_discovery_rows(ModelSettings(discovery_share=0.5), x,
    ...                                       np.array([[0, 1, 2, 3], [2, -1, -1, -1]]), k=2)
    >>> order[0, :2].tolist(), dropped.tolist()
    ([0, 3], [[False, False, True, True], [False, True, True, True]])
    """
    held = rows >= 0
    found = np.zeros(rows.shape, dtype=bool)
    found[held] = discovery_items(settings, features[rows[held]])
    quota = math.floor(settings.discovery_share * k + 1e-9)
    # beyond the quota: a discovery candidate with more than ``quota`` before it (itself too)
    beyond = found & (np.cumsum(found, axis=1) > quota)
    kept = held & ~beyond
    short = np.minimum(k, np.count_nonzero(held, axis=1)) - np.count_nonzero(kept, axis=1)
    # the best of those beyond the quota fill a list that would be short
    kept |= beyond & (np.cumsum(beyond, axis=1) <= short[:, None])
    order: NDArray[np.intp] = np.argsort(~kept, axis=1, kind="stable")
    dropped: NDArray[np.bool_] = ~np.take_along_axis(kept, order, axis=1)
    return order, dropped
