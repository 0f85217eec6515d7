"""The model's state as JSON-able dicts (never pickles): a user's, an item's, and the rest."""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from stream.models.facts import ItemStatistics
from stream.models.histories import UserHistories
from stream.models.impressions import Impression, features_from_text, features_to_text
from stream.models.items import ItemPool
from stream.models.learning import InteractionLearner
from stream.models.ranker import FEATURES

__all__ = ["StateCodec"]


def _time_or_none(value: float) -> float | None:
    """A time for JSON: ``None`` when not known (NaN)."""
    return None if math.isnan(value) else float(value)


def _time(value: float | None) -> float:
    """A time from JSON: NaN for ``None``."""
    return math.nan if value is None else float(value)


class StateCodec:
    """Exports and imports the parts of a model: a user's history and pending list (the
    worker checkpoints it after each batch), an item's metadata, terms, statistics and
    neighbours (the HTTP views and whole-model snapshots), and an import replaces what the
    model held."""

    def __init__(self, pool: ItemPool, stats: ItemStatistics, users: UserHistories,
                 learner: InteractionLearner) -> None:
        self.pool = pool
        self.stats = stats
        self.users = users
        self.learner = learner

    def export_user(self, user_id: str) -> dict[str, Any] | None:
        """A user's state as JSON-able values (``None`` if unknown)."""
        users = self.users
        row = users.index.get(user_id)
        if row is None:
            return None
        ids = self.pool.catalog.ids
        items, ts, weights = users.entry_lists(row)
        raw = self.learner.impressions.get(row)
        # the features are exported as they are held, deflated: not inflated here
        pending = None if raw is None else Impression.unpack(raw, features=False)
        deflated = None if raw is None else Impression.deflated_features(raw)
        return {
            "user_id": user_id,
            "items": [ids[i] for i in items],
            "ts": ts,
            "weights": weights,
            "n_items": int(users.n_items[row]),
            "last_ts": float(users.last_ts[row]),
            "impression": None if pending is None else {
                "items": [ids[i] for i in pending.items.tolist()],
                # 0 or 1 per position: half the bytes of false and true
                "labelled": pending.labelled.astype(np.int8).tolist(),
                "clicked": pending.clicked.astype(np.int8).tolist(),
                "ts": pending.ts,
                # the features each position was served with: float16 bytes, deflated
                # (many are 0) and base64
                "features": None if deflated is None else features_to_text(deflated),
                # whether the reader's columns of them are taken (at the first click)
                "user_columns": pending.user_columns,
            },
        }

    def import_user(self, state: Mapping[str, Any]) -> int:
        """Restore a user from :meth:`export_user` into a model that does not hold them;
        returns their row."""
        users, pool = self.users, self.pool
        row = users.ensure(str(state["user_id"]), float(state["last_ts"]))
        for item_id, ts, weight in zip(state["items"], state["ts"], state["weights"],
                                       strict=True):
            users.append(row, pool.index(str(item_id), float(ts)), float(ts), float(weight))
        users.n_items[row] = int(state["n_items"])
        users.last_ts[row] = float(state["last_ts"])
        pending = state["impression"]
        if pending is not None:
            ts = float(pending["ts"])
            items = np.array([pool.index(str(i), ts) for i in pending["items"]], dtype=np.int64)
            features: NDArray[np.float32] | None = None
            if pending["features"] is not None:
                flat = features_from_text(str(pending["features"]))
                features = flat.reshape(items.size, len(FEATURES)).copy()
            self.learner.impressions[row] = Impression(
                items, np.array(pending["labelled"], dtype=bool),
                np.array(pending["clicked"], dtype=bool), ts, features,
                bool(pending.get("user_columns", True))).pack()
        return row

    def export_item(self, item_id: str, now: float) -> dict[str, Any] | None:
        """An item's metadata, terms, statistics and neighbours as JSON-able values, with
        decayed values as of ``now`` (the model's clock)."""
        cat = self.pool.catalog
        idx = cat.index.get(item_id)
        if idx is None:
            return None
        stats = self.stats
        terms = cat.terms[idx]
        neighbors = stats.covisit.row(idx, now)
        return {
            "item_id": item_id,
            "title": cat.titles[idx],
            "tags": list(cat.tags[idx]),
            "lang": cat.langs[idx],
            "published_at": float(cat.published_at[idx]),
            "last_seen": _time_or_none(cat.last_seen[idx]),
            "first_seen": _time_or_none(cat.first_seen[idx]),
            "first_read": _time_or_none(cat.first_read[idx]),
            "has_metadata": bool(cat.has_metadata[idx]),
            "terms": None if terms is None else [terms[0].tolist(), terms[1].tolist()],
            # the vector as weighted when last computed: raw float32 bytes, base64
            "vector": base64.b64encode(cat.vectors[idx].tobytes()).decode("ascii"),
            "as_of": now,
            **{name: stat.value(idx, now) for stat, name in stats.decayed()},
            "neighbors": [[cat.ids[j], w] for j, w in neighbors.items()],
        }

    def import_item(self, state: Mapping[str, Any]) -> None:
        """Restore an item from :meth:`export_item` (items it neighbours become stubs until
        their own state arrives)."""
        pool, stats = self.pool, self.stats
        cat = pool.catalog
        item_id = str(state["item_id"])
        published_at = float(state["published_at"])
        as_of = float(state["as_of"])
        idx = pool.index(item_id, published_at)
        if state["has_metadata"]:
            raw = state["terms"]
            old = cat.terms[idx]
            if old is not None:
                pool.tfidf.remove(old[0])
            terms = (np.array(raw[0], dtype=np.int32), np.array(raw[1], dtype=np.float32))
            pool.tfidf.add(*terms)
            tags = tuple(str(t) for t in state["tags"])
            vector = np.frombuffer(base64.b64decode(state["vector"]), dtype=np.float32)
            if vector.shape != (cat.dim,):  # saved with another content_dim
                vector = pool.tfidf.vector(*terms)
            cat.upsert(item_id, vector, str(state["title"]), tags, state["lang"], published_at)
            cat.terms[idx] = terms
            pool.excluded[idx] = pool.is_excluded(item_id, tags) or pool.withdrawn[idx]
        cat.last_seen[idx] = _time(state["last_seen"])
        cat.first_seen[idx] = _time(state["first_seen"])
        cat.first_read[idx] = _time(state["first_read"])
        for stat, key in stats.decayed():
            stat.reset(idx)
            if state[key]:
                stat.update(idx, as_of, float(state[key]))
        if state["neighbors"]:
            covisit = stats.covisit
            others = np.array([pool.index(str(j), as_of) for j, _ in state["neighbors"]],
                              dtype=np.int64)
            weights = np.array([w for _, w in state["neighbors"]], dtype=np.float64)
            covisit.ensure_capacity(max(idx, int(others.max())) + 1)
            scale = covisit.scale(as_of)
            covisit.nbr[idx] = -1
            covisit.weight[idx] = 0.0
            m = min(others.size, covisit.neighbors)
            covisit.nbr[idx, :m] = others[:m]
            covisit.weight[idx, :m] = weights[:m] * scale
