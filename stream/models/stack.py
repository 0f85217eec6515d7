"""The feed the worker runs: content, interest, co-visitation, trending and a learned ranker."""

from __future__ import annotations

import base64
import logging
import math
import struct
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from stream.events import Forget, Interaction, Item
from stream.models.base import Recommendation
from stream.models.catalog import ItemCatalog
from stream.models.covisitation import CoVisitation
from stream.models.histories import UserHistories
from stream.models.popularity import DecayedPopularity
from stream.models.ranker import FEATURES, ImpressionRanker
from stream.models.text import ChineseSegmentation
from stream.models.tfidf import OnlineTfidf

__all__ = ["SentimentSource", "StreamRecommender"]

logger = logging.getLogger(__name__)

#: the overall click-through rate assumed before any impression was seen
_DEFAULT_CTR = 0.05

#: per-item comment sentiment: ``item_id -> (mean in [-1, 1], number of comments)``
SentimentSource = Mapping[str, tuple[float, float]] | Callable[[str], tuple[float, float] | None]

_F = {name: i for i, name in enumerate(FEATURES)}


#: marks deflated float16 features in a checkpoint (never the start of plain base64)
_DEFLATED16 = "zlib16:"
#: marks deflated float32 features, as checkpoints held them before
_DEFLATED32 = "zlib:"


def _pack_features(deflated: bytes) -> str:
    """Deflated float16 ranker features (see :meth:`_Impression.pack`) for JSON: base64,
    after :data:`_DEFLATED16`."""
    return _DEFLATED16 + base64.b64encode(deflated).decode("ascii")


def _unpack_features(text: str) -> NDArray[np.float32]:
    """The flat array :func:`_pack_features` packed, as float32 (or the deflated or plain
    base64 float32 bytes that checkpoints held before)."""
    if text.startswith(_DEFLATED16):
        half = zlib.decompress(base64.b64decode(text[len(_DEFLATED16):]))
        return np.frombuffer(half, dtype=np.float16).astype(np.float32)
    if text.startswith(_DEFLATED32):
        raw = zlib.decompress(base64.b64decode(text[len(_DEFLATED32):]))
    else:
        raw = base64.b64decode(text)
    return np.frombuffer(raw, dtype=np.float32)


def _time_or_none(value: float) -> float | None:
    """A time for JSON: ``None`` when not known (NaN)."""
    return None if math.isnan(value) else float(value)


def _time(value: object) -> float:
    """A time from JSON: NaN for ``None``."""
    return math.nan if value is None else float(value)  # type: ignore[arg-type]


#: the head of a packed impression: its time, positions, and features per position (0: none)
_IMPRESSION_HEAD = struct.Struct("<dii")


@dataclass(slots=True)
class _Impression:
    """The last list served to a user: which positions are labelled or clicked, and the
    ranker features each position had when the list was served (``None`` without a ranker).

    Held packed (:meth:`pack`): one ``bytes`` per user instead of five objects and four
    arrays, about 200 bytes for a list of ten instead of about 1,100. The features are kept
    as float16 (three significant digits, far finer than what a logistic ranker trained
    by SGD can tell apart): the ranker learns from them as packed, in every process alike."""

    items: NDArray[np.int64]
    labelled: NDArray[np.bool_]
    clicked: NDArray[np.bool_]
    ts: float
    features: NDArray[np.float32] | None

    def pack(self) -> bytes:
        """The impression as bytes: head, item indexes (int32), the labelled and clicked
        flags (one byte each), then the features (float16) deflated: many are 0 or shared
        by every position, so they take about a third less (10 us to pack, 1 to unpack)."""
        n = int(self.items.size)
        width = 0 if self.features is None else int(self.features.shape[1])
        parts = [_IMPRESSION_HEAD.pack(self.ts, n, width), self.items.astype(np.int32).tobytes(),
                 self.labelled.astype(np.bool_).tobytes(), self.clicked.astype(np.bool_).tobytes()]
        if self.features is not None:
            parts.append(zlib.compress(self.features.astype(np.float16).tobytes()))
        return b"".join(parts)

    @classmethod
    def unpack(cls, raw: bytes) -> _Impression:
        """The impression :meth:`pack` packed, in arrays of its own."""
        ts, n, width = _IMPRESSION_HEAD.unpack_from(raw)
        at = _IMPRESSION_HEAD.size
        items = np.frombuffer(raw, np.int32, n, at).astype(np.int64)
        labelled = np.frombuffer(raw, np.bool_, n, at + 4 * n).copy()
        clicked = np.frombuffer(raw, np.bool_, n, at + 5 * n).copy()
        features = None
        deflated = cls.deflated_features(raw)
        if deflated is not None:
            features = np.frombuffer(zlib.decompress(deflated), np.float16).reshape(
                n, width).astype(np.float32)
        return cls(items, labelled, clicked, ts, features)

    @staticmethod
    def with_flags(raw: bytes, labelled: NDArray[np.bool_], clicked: NDArray[np.bool_]
                   ) -> bytes:
        """A packed impression with other labelled and clicked flags (the features are
        not deflated again: a click changes only the flags)."""
        n = _IMPRESSION_HEAD.unpack_from(raw)[1]
        at = _IMPRESSION_HEAD.size + 4 * n
        return b"".join((raw[:at], labelled.astype(np.bool_).tobytes(),
                         clicked.astype(np.bool_).tobytes(), raw[at + 2 * n:]))

    @staticmethod
    def deflated_features(raw: bytes) -> bytes | None:
        """The deflated float16 features of a packed impression (``None`` without)."""
        _, n, width = _IMPRESSION_HEAD.unpack_from(raw)
        return raw[_IMPRESSION_HEAD.size + 6 * n:] if width else None

    @staticmethod
    def items_of(raw: bytes) -> NDArray[np.int32]:
        """The item indexes of a packed impression (a read-only view)."""
        n = _IMPRESSION_HEAD.unpack_from(raw)[1]
        out: NDArray[np.int32] = np.frombuffer(raw, np.int32, n, _IMPRESSION_HEAD.size)
        return out


@dataclass(slots=True)
class _Shared:
    """Per-``now`` arrays every user of a batch shares."""

    n: int
    popularity: NDArray[np.float64]
    freshness: NDArray[np.float64]
    #: co-visitation degrees (floored at 1e-3); None where only a few rows need them, read
    #: through :meth:`StreamRecommender._degree_at`
    degree: NDArray[np.float64] | None
    #: ``degree ** -covisit_beta``; None where only co-visited columns need it
    column_norm: NDArray[np.float64] | None
    #: the items that may not be recommended (empty where only features are taken, not
    #: ranked)
    blocked: NDArray[np.intp]
    clicks: NDArray[np.float64]
    shown: NDArray[np.float64]
    base_ctr: float
    born: NDArray[np.float64]
    now: float
    #: ``popularity_weight * popularity`` and ``fresh_boost * freshness``, the terms of the
    #: prior every user shares (None where nothing is ranked)
    prior_terms: tuple[NDArray[np.float64], NDArray[np.float64]] | None = None


@dataclass(slots=True)
class _UserView:
    """What ranking needs of one user."""

    row: int | None
    items: NDArray[np.int32]
    weights: NDArray[np.float64]
    query: NDArray[np.float32] | None
    seen: NDArray[np.int32]
    followed: set[str] | None = None
    #: the content vectors of ``items``, gathered once for every reason given to the user
    vectors: NDArray[np.float32] | None = None
    #: the co-visitation rows (neighbours, weights) of ``items``, likewise
    covisits: tuple[NDArray[np.int32], NDArray[np.float32]] | None = None


class StreamRecommender:
    """The online recommendation stack of `stream`, updated on every event.

    Generators, each cheap enough to run on every event:

    * **content**: items are hashed TF-IDF vectors (:class:`~stream.models.OnlineTfidf`,
      Chinese split by jieba); a user's interest is a blend of a long-term and a short-term
      profile, both computed from their history with exponential time decay (half-lives
      ``interest_half_life`` and ``short_term_half_life``) and reads weighted by dwell time;
      cosine similarity scores every item in one matrix product;
    * **collaborative**: online item-to-item co-visitation
      (:class:`~stream.models.CoVisitation`) with decay; a new read pairs with the user's last
      ``covisit_window`` items, weighted ``1 / sqrt(items the user has read)``, and scores are
      normalised like RP3beta: ``sum_h C[h, j] / deg(h) / deg(j) ** covisit_beta``;
    * **trending and freshness**: decayed popularity, an age decay (from the publication
      time, or from the first sighting when none is known), and a TTL after which items
      without readers leave the catalogue; the TTL stretches for items that have been read
      for longer than it (see :meth:`stale`), so news expires and a back catalogue does not.

    A blend of these (the *prior*) picks ``candidates`` items; an
    :class:`~stream.models.ImpressionRanker` trained on impressions re-scores them once it has
    seen enough clicks; MMR re-ranking (``diversity``) spreads topics; seen, expired and
    excluded items never come back; and each item carries a short reason.

    All state is in arrays and plain dicts: :meth:`export_user`, :meth:`export_item` and
    :meth:`export_global` return JSON-able dicts (never pickles) that the ``import_*`` methods
    restore; :meth:`forget_user` erases a user's history, profile, pending impressions and
    their co-visitation and popularity contributions.

    Examples
    --------
    >>> from stream.events import Interaction, Item
    >>> rec = StreamRecommender(chinese="bigrams")
    >>> for i, (title, tag) in enumerate([("Rates rise", "economy"), ("Rates fall", "economy"),
    ...                                   ("Cup final", "sport")]):
    ...     rec.learn_item(Item(item_id=f"i{i}", title=title, tags=(tag,), published_at=0.0))
    >>> rec.learn_one(Interaction("e1", "click", "u1", "i0", ts=86400.0))
    >>> [(r.item_id, r.reason) for r in rec.recommend("u1", k=2, now=86400.0)]
    [('i1', 'because you read “Rates rise”'), ('i2', 'new in sport')]
    >>> [(r.item_id, r.reason) for r in rec.recommend("new-reader", k=2, now=86400.0)]
    [('i0', 'trending in economy'), ('i2', 'new in sport')]
    """

    name = "stream"

    def __init__(
        self,
        *,
        dim: int = 256,
        chinese: ChineseSegmentation = "jieba",
        history_size: int = 500,
        interest_half_life: float = 60 * 86400.0,
        short_term_half_life: float = 3600.0,
        short_term_weight: float = 0.3,
        read_dwell_full: float = 60.0,
        popularity_half_life: float = 6 * 3600.0,
        ctr_half_life: float = 6 * 3600.0,
        ctr_prior: float = 20.0,
        covisit_neighbors: int = 400,
        covisit_window: int = 50,
        covisit_half_life: float = 60 * 86400.0,
        covisit_beta: float = 0.4,
        collab_query_items: int = 100,
        content_weight: float = 0.3,
        collab_weight: float = 1.0,
        popularity_weight: float = 0.15,
        fresh_boost: float = 0.1,
        freshness_half_life: float = 6 * 3600.0,
        item_ttl: float = 7 * 86400.0,
        item_ttl_stretch: float = 1.0,
        item_cap: int = 100_000,
        user_ttl: float = 365 * 86400.0,
        user_cap: int = 1_000_000,
        housekeeping_interval: float = 600.0,
        diversity: float = 0.2,
        candidates: int = 100,
        excluded_tags: Iterable[str] = (),
        excluded_items: Iterable[str] = (),
        ranker_learning_rate: float = 0.01,
        ranker_min_examples: int = 50,
        interests_top_k: int = 10,
        recommend_stubs: bool = False,
        sentiment: SentimentSource | None = None,
        use_content: bool = True,
        use_collab: bool = True,
        use_ranker: bool = True,
    ) -> None:
        self.dim = dim
        self.chinese: ChineseSegmentation = chinese
        self.history_size = history_size
        self.interest_half_life = interest_half_life
        self.short_term_half_life = short_term_half_life
        self.short_term_weight = short_term_weight
        self.read_dwell_full = read_dwell_full
        self.popularity_half_life = popularity_half_life
        self.ctr_half_life = ctr_half_life
        self.ctr_prior = ctr_prior
        self.covisit_neighbors = covisit_neighbors
        self.covisit_window = covisit_window
        self.covisit_half_life = covisit_half_life
        self.covisit_beta = covisit_beta
        self.collab_query_items = collab_query_items
        self.content_weight = content_weight
        self.collab_weight = collab_weight
        self.popularity_weight = popularity_weight
        self.fresh_boost = fresh_boost
        self.freshness_half_life = freshness_half_life
        self.item_ttl = item_ttl
        self.item_ttl_stretch = item_ttl_stretch
        self.item_cap = item_cap
        self.user_ttl = user_ttl
        self.user_cap = user_cap
        self.housekeeping_interval = housekeeping_interval
        self.diversity = diversity
        self.candidates = candidates
        self.excluded_tags = frozenset(t.strip().lower() for t in excluded_tags)
        self.excluded_items = frozenset(excluded_items)
        self.interests_top_k = interests_top_k
        self.recommend_stubs = recommend_stubs
        self.sentiment = sentiment
        self.use_content = use_content
        self.use_collab = use_collab
        self.use_ranker = use_ranker

        self.tfidf = OnlineTfidf(dim=dim, chinese=chinese)
        self.catalog = ItemCatalog(dim)
        self.popularity = DecayedPopularity(popularity_half_life)
        self.shown = DecayedPopularity(ctr_half_life)
        self.clicked = DecayedPopularity(ctr_half_life)
        self.degree = DecayedPopularity(covisit_half_life)
        self.covisit = CoVisitation(covisit_neighbors, covisit_half_life)
        self.users = UserHistories(history_size)
        self.ranker = ImpressionRanker(ranker_learning_rate, min_examples=ranker_min_examples)
        self.excluded: NDArray[np.bool_] = np.zeros(1024, dtype=bool)
        #: per user row with a list pending, the list packed (see :class:`_Impression`)
        self.impressions: dict[int, bytes] = {}
        self.clock = -math.inf
        self._last_housekeeping: float | None = None
        self._docs_at_reweight = 0
        #: users evicted by housekeeping (TTL or cap) since :meth:`drain_evicted` was called
        self._evicted: list[str] = []
        #: False: what interactions change in item-level statistics is applied here at once.
        #: True (a worker among several): it is kept in :attr:`outbox` as facts, for the
        #: pipeline to publish and for every worker, this one included, to apply in the same
        #: order with :meth:`apply_facts`; see :meth:`_fact`.
        self.share_items = False
        self.outbox: list[list[Any]] = []

    # --- items ------------------------------------------------------------------------------

    def _item_index(self, item_id: str, ts: float) -> int:
        """The index of an item met at time ``ts`` (NaN: not known), as a stub if new."""
        new = item_id not in self.catalog.index
        idx = self.catalog.ensure(item_id, ts)
        if idx >= self.excluded.shape[0]:
            self.excluded = np.concatenate(
                [self.excluded, np.zeros(max(idx + 1, self.excluded.shape[0]), dtype=bool)])
        if math.isnan(self.catalog.last_seen[idx]):  # known so far only by timeless metadata
            self.catalog.last_seen[idx] = ts
        if new:  # (an item's tags may exclude it too: learn_item decides, keep what it said)
            self.excluded[idx] = item_id in self.excluded_items
        return idx

    def _item_indexes(self, item_ids: Sequence[str], ts: float) -> NDArray[np.int64]:
        """:meth:`_item_index` of each of ``item_ids`` in turn; in a few vector operations
        when every one is known (as it is for most impressions)."""
        found = [self.catalog.index.get(i) for i in item_ids]
        if None in found:
            return np.array([self._item_index(i, ts) for i in item_ids], dtype=np.int64)
        idx = np.array(found, dtype=np.int64)
        last = self.catalog.last_seen
        unknown = idx[np.isnan(last[idx])]
        if unknown.size:
            last[unknown] = ts
        return idx

    def _mark_read(self, idx: int, ts: float) -> None:
        """A click or read: the item is alive (see :meth:`stale`)."""
        cat = self.catalog
        if not cat.last_seen[idx] >= ts:  # NaN-safe
            cat.last_seen[idx] = ts
        if not cat.first_read[idx] <= ts:
            cat.first_read[idx] = ts

    def learn_item(self, item: Item) -> None:
        """Add or update an item: TF-IDF vector, metadata, business rules."""
        # A publication time is trusted when positive (0 is what sources without one send).
        # An item without one is as old as the model's clock says when it arrives; one that
        # arrives before the clock runs (a catalogue loaded up front) has no known age
        # (``first_seen`` NaN: never fresh) and starts its TTL when the clock starts.
        trusted = item.published_at > 0
        known_clock = math.isfinite(self.clock)
        arrived = self.clock if known_clock else (item.published_at if trusted else math.nan)
        idx = self._item_index(item.item_id, arrived)
        if trusted and not self.catalog.last_seen[idx] >= item.published_at:
            self.catalog.last_seen[idx] = item.published_at
        old = self.catalog.terms[idx]
        if old is not None:
            self.tfidf.remove(old[0])
        terms = self.tfidf.add(*self.tfidf.terms(item.title, item.body, item.tags))
        self.catalog.upsert(item.item_id, self.tfidf.vector(*terms), item.title, item.tags,
                            item.lang, item.published_at)
        self.catalog.terms[idx] = terms
        self.excluded[idx] = (item.item_id in self.excluded_items or any(
            t.strip().lower() in self.excluded_tags for t in item.tags))
        if self.tfidf.n_docs > 1.25 * self._docs_at_reweight + 16:
            self.reweight()
        # no clock tick: publication times may lie anywhere; only interactions move the clock

    def reweight(self) -> None:
        """Recompute every item vector with the current document frequencies.

        Called whenever the catalogue has grown by a quarter, so it costs O(1) per item."""
        idf = self.tfidf.idf
        for idx, terms in enumerate(self.catalog.terms):
            if terms is not None:
                self.catalog.vectors[idx] = self.tfidf.vector(*terms, idf=idf)
        self._docs_at_reweight = self.tfidf.n_docs

    # --- interactions -----------------------------------------------------------------------

    def interaction_weight(self, event: Interaction) -> float:
        """How much an event says about interest: 1 for a click, 1 to 2 for a read by dwell."""
        if event.type == "click":
            return 1.0
        if event.type == "read":
            dwell = event.dwell_seconds or 0.0
            return 1.0 + min(dwell / self.read_dwell_full, 1.0)
        return 0.0

    def learn_many(self, events: Iterable[Item | Interaction | Forget]) -> None:
        """Learn a batch of events in order (items, interactions and forgets mixed)."""
        for event in events:
            if isinstance(event, Interaction):
                self.learn_one(event)
            elif isinstance(event, Item):
                self.learn_item(event)
            else:
                self.forget_user(event)

    def learn_one(self, event: Interaction) -> None:
        """Learn from one click, read or impression."""
        if not self.share_items:  # sharing: the clock moves with the facts, alike everywhere
            self._tick(event.ts)
        if event.type == "impression":
            self._learn_impression(event)
            return
        weight = self.interaction_weight(event)
        row = self.users.ensure(event.user_id, event.ts)
        item = self._item_index(event.item_id, event.ts)
        self._fact(["read", event.item_id, event.ts])
        self._learn_impression_click(row, item, event.item_id, event.ts)
        pos = self.users.position(row, item)
        if pos >= 0:  # a read after a click, a second click: strengthen, never count twice
            old = self.users.weight(row, pos)
            if weight > old:
                self.users.set_weight(row, pos, weight)
                self._fact(["pop", event.item_id, event.ts, weight - old])
            self.users.last_ts[row] = max(float(self.users.last_ts[row]), event.ts)
            return
        recent = self.users.items(row)[-self.covisit_window:]
        n_read = int(self.users.n_items[row]) + 1
        self._fact(["covisit", event.item_id, event.ts, self._ids(recent),
                    weight / math.sqrt(n_read)])
        self._fact(["pop", event.item_id, event.ts, weight])
        self.users.append(row, item, event.ts, weight)

    def _learn_impression(self, event: Interaction) -> None:
        row = self.users.ensure(event.user_id, event.ts)
        ids = event.item_ids or (event.item_id,)
        items = self._item_indexes(ids, event.ts)
        # what the ranker learns from is what the list was served with: features taken now,
        # before this impression counts as exposure and before any of its clicks
        features = (self._features(self._user_view(row, event.ts), items,
                                   self._shared_rows(event.ts, items)).astype(np.float32)
                    if self.use_ranker else None)
        self._fact(["shown", list(ids), event.ts])
        raw = self.impressions.get(row)
        if event.item_ids or raw is None or not event.position \
                or event.ts - _IMPRESSION_HEAD.unpack_from(raw)[0] > 1800.0:
            pending = _Impression(items, np.zeros(items.size, dtype=bool),
                                  np.zeros(items.size, dtype=bool), event.ts, features)
        else:  # one more position of the list being served
            pending = _Impression.unpack(raw)
            pending.items = np.concatenate([pending.items, items])
            pending.labelled = np.concatenate([pending.labelled, np.zeros(1, dtype=bool)])
            pending.clicked = np.concatenate([pending.clicked, np.zeros(1, dtype=bool)])
            if pending.features is not None and features is not None:
                pending.features = np.concatenate([pending.features, features])
        self.impressions[row] = pending.pack()

    def _learn_impression_click(self, row: int, item: int, item_id: str, ts: float) -> None:
        """A click or read on an item of the user's last list: count it once for the item's
        click-through rate, and teach the ranker (skip-above labels)."""
        raw = self.impressions.get(row)
        if raw is None:
            return
        hits = np.flatnonzero(_Impression.items_of(raw) == item)
        if hits.size == 0:
            return
        pending = _Impression.unpack(raw)
        pos = int(hits[0])
        if not pending.clicked[pos]:
            pending.clicked[pos] = True
            self._fact(["click", item_id, ts])
            self.impressions[row] = _Impression.with_flags(raw, pending.labelled,
                                                           pending.clicked)
        if not self.use_ranker or pending.features is None:
            return
        above = np.flatnonzero(~pending.labelled[:pos] & (pending.items[:pos] != item))
        label_pos = above.tolist() + ([pos] if not pending.labelled[pos] else [])
        if not label_pos:
            return
        pending.labelled[label_pos] = True
        self.impressions[row] = _Impression.with_flags(raw, pending.labelled, pending.clicked)
        labels = np.zeros(len(label_pos), dtype=bool)
        labels[-1] = label_pos[-1] == pos
        self._fact(["rank", pending.features[label_pos].ravel().tolist(), labels.tolist()])

    # --- item-level facts -------------------------------------------------------------------

    def _ids(self, items: NDArray[np.int32] | NDArray[np.int64]) -> list[str]:
        ids = self.catalog.ids
        return [ids[j] for j in items.tolist() if j >= 0]

    def _fact(self, fact: list[Any]) -> None:
        """What an interaction changes in item-level statistics, as a JSON-able list with
        item ids (indexes differ between workers): applied at once, or kept for sharing."""
        if self.share_items:
            self.outbox.append(fact)
        else:
            self._apply(fact)

    def drain_outbox(self) -> list[list[Any]]:
        """The facts kept since the last call (only when :attr:`share_items`)."""
        facts, self.outbox = self.outbox, []
        return facts

    def apply_facts(self, facts: Iterable[Sequence[Any]]) -> None:
        """Apply item-level facts, from this worker or another, in the order given."""
        for fact in facts:
            self._apply(fact)

    def _apply(self, fact: Sequence[Any]) -> None:
        kind = fact[0]
        if kind == "rank":  # ranker features (flat) and labels of an impression's clicks
            labels = np.asarray(fact[2], dtype=bool)
            features = np.asarray(fact[1], dtype=np.float64).reshape(labels.size, -1)
            self.ranker.learn(features, labels)
            return
        ts = float(fact[2])
        self._tick(ts)
        if kind == "shown":
            self.shown.update_many(self._item_indexes(fact[1], ts), ts)
            return
        idx = self._item_index(fact[1], ts)
        if kind == "read":
            self._mark_read(idx, ts)
        elif kind == "click":
            self.clicked.update(idx, ts)
        elif kind == "pop":
            self.popularity.update(idx, ts, float(fact[3]))
        elif kind == "degree":
            self.degree.update(idx, ts, float(fact[3]))
        elif kind == "covisit":  # a new read: co-visits with the reader's recent items
            others = np.array([self._item_index(j, ts) for j in fact[3]], dtype=np.int64)
            self.covisit.add(idx, others, float(fact[4]), ts)
            self.degree.update(idx, ts, 1.0)
        elif kind == "uncovisit":  # a forgotten read: its co-visits, as far as they are held
            t_ref = self.covisit.t_ref
            others = np.array([self.catalog.index[j] for j in fact[3]
                               if j in self.catalog.index], dtype=np.int64)
            if others.size and t_ref is not None:
                exponent = min((ts - t_ref) / self.covisit_half_life, 1000.0)
                amount = float(fact[4]) * math.pow(2.0, exponent)
                self.covisit.subtract(idx, others, amount)
        else:
            raise ValueError(f"unknown item fact {kind!r}")

    # --- forgetting and housekeeping --------------------------------------------------------

    def forget_user(self, event: Forget) -> None:
        """Erase every trace of a user: history, profile, pending impressions, and what their
        reads added to co-visitation, item degrees and popularity (as far as the history
        still holds them)."""
        row = self.users.index.get(event.user_id)
        if row is None:
            return
        items, ts, weights = self.users.entries(row)
        n_total = int(self.users.n_items[row])
        ids = self.catalog.ids
        for k in range(items.size):
            item = int(items[k])
            if item < 0:
                continue
            n_read = n_total - (items.size - 1 - k)
            earlier = items[max(0, k - self.covisit_window): k]
            if earlier.size and n_read > 0:
                self._fact(["uncovisit", ids[item], float(ts[k]), self._ids(earlier),
                            float(weights[k]) / math.sqrt(n_read)])
            self._fact(["degree", ids[item], float(ts[k]), -1.0])
            self._fact(["pop", ids[item], float(ts[k]), -float(weights[k])])
        self._drop_user(event.user_id, row)

    def holds_user(self, user_id: str) -> bool:
        """Whether the model holds state of the user."""
        return user_id in self.users

    def evict_user(self, user_id: str) -> bool:
        """Drop a user's state from memory, keeping what they contributed to item statistics
        (unlike :meth:`forget_user`); used when another worker takes the user over. Returns
        whether the user was held."""
        row = self.users.index.get(user_id)
        if row is None:
            return False
        self._drop_user(user_id, row)
        return True

    def _drop_user(self, user_id: str, row: int) -> None:
        self.impressions.pop(row, None)
        self.users.remove(user_id)

    def _tick(self, ts: float) -> None:
        if ts > self.clock:
            if not math.isfinite(self.clock):  # items learned before the clock ran arrive now
                n = len(self.catalog)
                last = self.catalog.last_seen[:n]
                last[~(last >= ts)] = ts  # NaN too
            self.clock = ts
        if self._last_housekeeping is None:
            self._last_housekeeping = ts
        elif ts - self._last_housekeeping >= self.housekeeping_interval:
            self._evicted.extend(self.housekeeping(ts)[1])

    def drain_evicted(self) -> list[str]:
        """The users evicted by housekeeping since the last call, so that whoever keeps more
        about them (dedupe windows, checkpoints) drops it too and memory stays bounded."""
        evicted, self._evicted = self._evicted, []
        return evicted

    def stale(self, now: float, n: int | None = None) -> NDArray[np.bool_]:
        """Which of the first ``n`` item slots have gone stale by ``now``.

        An item's *life* starts at its trusted publication time (a positive ``published_at``;
        0 is what sources without one send) or, without one, at its first click or read. Its
        *last sign of life* is the latest of that publication, its last click or read, and
        its arrival in the catalogue (the clock when its metadata or first event came, or
        when the clock first ran for items loaded before it). It goes stale once it has been
        without one for ``item_ttl`` **or for ``item_ttl_stretch`` times as long as it had
        lived by then, whichever is longer**::

            now - last > max(item_ttl, item_ttl_stretch * (last - start))

        News arrives as it is published: a story read for a day leaves ``item_ttl`` after
        its last reader, and a story nobody reads leaves ``item_ttl`` after publication, as a
        TTL for news should. An item that is still read (or still sent) long after it was
        published or first read, such as a film, an evergreen guide or an archive piece,
        has shown it is not news: it may go about as long again without a reader before it
        leaves, so a back catalogue read over months keeps its items. Being shown does not
        count as a sign of life: a list the site keeps serving is not a reader."""
        cat = self.catalog
        n = len(cat) if n is None else n
        last = cat.last_seen[:n]
        published = cat.published_at[:n]
        start = np.where(published > 0, published, cat.first_read[:n])
        lived = np.maximum(np.nan_to_num(last - start, nan=0.0), 0.0)
        out: NDArray[np.bool_] = now - last > np.maximum(self.item_ttl_stretch * lived,
                                                         self.item_ttl)
        return out

    def housekeeping(self, now: float) -> tuple[list[str], list[str]]:
        """Expire stale items (see :meth:`stale`) and, beyond the cap, the least recently
        read; evict idle users (or beyond the cap).

        Returns the expired item ids and evicted user ids. Evicted users lose their history,
        not their anonymous contributions to item statistics."""
        self._last_housekeeping = now
        cat = self.catalog
        n = len(cat)
        live = cat.active[:n]
        old_news = live & self.stale(now, n)
        expired = np.flatnonzero(old_news)
        over = cat.count - expired.size - self.item_cap
        if over > 0:
            rest = np.flatnonzero(live & ~old_news)
            expired = np.concatenate(
                [expired, rest[np.argsort(cat.last_seen[rest], kind="stable")[:over]]])
        expired_ids: list[str] = []
        if expired.size:
            self.users.remove_items(expired)
            for idx in expired.tolist():
                terms = cat.terms[idx]
                if terms is not None:
                    self.tfidf.remove(terms[0])
                self.covisit.clear_item(idx)
                for stat in (self.popularity, self.shown, self.clicked, self.degree):
                    stat.reset(idx)
                self.excluded[idx] = False
                expired_ids.append(cat.remove(idx))
            for row, raw in self.impressions.items():
                if not np.isin(_Impression.items_of(raw), expired).any():
                    continue
                pending = _Impression.unpack(raw)
                keep = ~np.isin(pending.items, expired)
                pending.items, pending.labelled = pending.items[keep], pending.labelled[keep]
                pending.clicked = pending.clicked[keep]
                if pending.features is not None:
                    pending.features = pending.features[keep]
                self.impressions[row] = pending.pack()
        evicted = self.users.expired(now, self.user_ttl, self.user_cap)
        for user_id in evicted:
            self._drop_user(user_id, self.users.index[user_id])
        if expired_ids or evicted:
            logger.debug("housekeeping: %d items expired, %d users evicted",
                         len(expired_ids), len(evicted))
        return expired_ids, evicted

    # --- scoring ----------------------------------------------------------------------------

    def _catalog_totals(
        self, now: float, n: int
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], float, float]:
        """What every row's features share: decayed popularity (raw), showings and clicks of
        the first ``n`` items, the overall click-through rate and the top popularity."""
        pop = self.popularity.scores(now, n)
        shown, clicks, base_ctr = self._exposure(now, n)
        # max(max(p, 0)) == max(max(p), 0): the top without clipping the whole array
        top = max(float(pop.max()), 0.0) if n else 0.0
        return pop, shown, clicks, base_ctr, top

    def _exposure(
        self, now: float, n: int
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], float]:
        """Decayed showings and clicks of the first ``n`` items and the overall
        click-through rate (bounded, a default before anything was shown)."""
        shown = self.shown.scores(now, n)
        clicks = self._clicks(now, n)
        total_shown = float(shown.sum())
        base_ctr = (min(max(float(clicks.sum()) / total_shown, 1e-3), 0.5)
                    if total_shown > 0 else _DEFAULT_CTR)
        return shown, clicks, base_ctr

    def _clicks(self, now: float, n: int) -> NDArray[np.float64]:
        """Decayed clicks of the first ``n`` items, clipped at 0 (which changes nothing, and
        is skipped, while no click was ever taken back)."""
        clicks = self.clicked.scores(now, n)
        return clicks if self.clicked.nonnegative else np.maximum(clicks, 0.0)

    def _row_terms(
        self, now: float, rows: slice | NDArray[np.int64], pop: NDArray[np.float64], top: float
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """Normalised popularity, birth time and freshness of the catalogue ``rows``, from
        their decayed popularity ``pop`` (one value per row)."""
        cat = self.catalog
        clipped = np.maximum(pop, 0.0)
        pop_norm = np.log1p(clipped) / math.log1p(top) if top > 0 else clipped
        # age from the publication time, or from the first sighting when none is known
        known = cat.has_metadata[rows] & (cat.published_at[rows] > 0)
        born = np.where(known, cat.published_at[rows], cat.first_seen[rows])
        # an item with no trusted time that no event has named yet: of unknown age, not fresh
        # (NaN, from an unknown birth, is the only value nan_to_num would change: exp2 of a
        # non-positive number is finite)
        fresh = np.exp2(-np.maximum(now - born, 0.0) / self.freshness_half_life)
        fresh[np.isnan(fresh)] = 0.0
        return pop_norm, born, fresh

    def _shared(self, now: float) -> _Shared:
        cat = self.catalog
        n = len(cat)
        pop, shown, clicks, base_ctr, top = self._catalog_totals(now, n)
        pop_norm, born, fresh = self._row_terms(now, slice(0, n), pop, top)
        degree = np.maximum(self.degree.scores(now, n), 1e-3)
        allowed = cat.active[:n] & ~self.excluded[:n]
        if not self.recommend_stubs:
            allowed &= cat.has_metadata[:n]
        allowed &= ~self.stale(now, n)
        return _Shared(n, pop_norm, fresh, degree, degree ** -self.covisit_beta,
                       np.flatnonzero(~allowed), clicks, shown, base_ctr, born, now,
                       (self.popularity_weight * pop_norm, self.fresh_boost * fresh))

    def _shared_rows(self, now: float, items: NDArray[np.int64]) -> _Shared:
        """What :meth:`_features` reads of :meth:`_shared` for a few ``items``, filled at
        their rows only (the rest of each array is zero), from the same totals and per-row
        terms: an impression's features then cost a few cheap vector operations instead of
        every item's freshness, staleness and column norm. Popularity is divided only at
        those rows (its top from the stored values, see :meth:`DecayedPopularity.top`) and
        degrees only where co-visitation reads them. The features are bit-for-bit the same
        (tests/unit/models)."""
        n = len(self.catalog)
        shown, clicks, base_ctr = self._exposure(now, n)
        top = self.popularity.top(now, n)
        pop_norm, born, fresh = (np.zeros(n, dtype=np.float64) for _ in range(3))
        pop_norm[items], born[items], fresh[items] = self._row_terms(
            now, items, self.popularity.at(items, now), top)
        return _Shared(n, pop_norm, fresh, None, None, np.zeros(0, dtype=np.intp),
                       clicks, shown, base_ctr, born, now)

    def _degree_at(self, shared: _Shared, items: NDArray[np.int64]) -> NDArray[np.float64]:
        """Co-visitation degrees of ``items`` (floored at 1e-3), as :meth:`_shared` has them."""
        if shared.degree is not None:
            return shared.degree[items]
        return np.maximum(self.degree.at(items, shared.now), 1e-3)

    def _user_view(self, row: int | None, now: float) -> _UserView:
        if row is None:
            empty = np.zeros(0, dtype=np.int32)
            return _UserView(None, empty, np.zeros(0), None, empty)
        items, ts, weights = self.users.entries(row)
        seen = items
        if items.size == 0:
            return _UserView(row, items, weights, None, seen)
        # profiles from the most recent reads: older ones are decayed and only cost time
        items, ts, weights = (items[-self.collab_query_items:], ts[-self.collab_query_items:],
                              weights[-self.collab_query_items:])
        last = float(self.users.last_ts[row])
        long_w = weights * np.exp2(-(last - ts) / self.interest_half_life)
        short_w = weights * np.exp2(-(last - ts) / self.short_term_half_life)
        query: NDArray[np.float32] | None = None
        if self.use_content:
            vectors = self.catalog.vectors[items]
            long_v, short_v = long_w @ vectors, short_w @ vectors
            long_n, short_n = float(np.linalg.norm(long_v)), float(np.linalg.norm(short_v))
            if long_n > 0:
                blend = (1.0 - self.short_term_weight) * long_v / long_n
                if short_n > 0:
                    blend += self.short_term_weight * short_v / short_n
                norm = float(np.linalg.norm(blend))
                query = (blend / norm).astype(np.float32) if norm > 0 else None
        blended = (1.0 - self.short_term_weight) * long_w + self.short_term_weight * short_w
        view = _UserView(row, items, blended, query, seen)
        if self.use_content:
            view.vectors = vectors
        return view

    def _collab(self, user: _UserView, shared: _Shared) -> NDArray[np.float64]:
        raw, top = self._collab_raw(user, shared)
        return raw / top if top > 0 else raw

    def _collab_raw(self, user: _UserView, shared: _Shared) -> tuple[NDArray[np.float64], float]:
        """Co-visitation scores of every item before normalisation, and their maximum (what
        :meth:`_collab` divides by): a few rows of it need no division of the whole array."""
        if not self.use_collab or user.items.size == 0:
            return np.zeros(shared.n, dtype=np.float64), 0.0
        items = user.items[-self.collab_query_items:].astype(np.int64)
        weights = user.weights[-self.collab_query_items:]
        row_norm = 1.0 / self._degree_at(shared, items)
        raw = self.covisit.scores(items, weights * row_norm, shared.n)
        if shared.column_norm is not None:
            raw *= shared.column_norm
        else:  # only the co-visited columns can be non-zero: normalise those
            hit = np.flatnonzero(raw != 0)  # (a boolean mask is several times faster)
            raw[hit] *= self._degree_at(shared, hit) ** -self.covisit_beta
        return raw, float(raw.max()) if raw.size else 0.0

    def _content(self, user: _UserView, shared: _Shared) -> NDArray[np.float64]:
        if user.query is None:
            return np.zeros(shared.n, dtype=np.float64)
        out: NDArray[np.float64] = np.maximum(self.catalog.matrix @ user.query, 0.0).astype(
            np.float64)
        return out

    def _prior(self, content: NDArray[np.float64], collab: NDArray[np.float64],
               shared: _Shared) -> NDArray[np.float64]:
        # the sums of content, collab, popularity and freshness terms in that order, with
        # the terms every user shares computed once per batch by _shared (only it ranks)
        assert shared.prior_terms is not None, "ranking needs _shared, not _shared_rows"
        out = self.content_weight * content
        out += self.collab_weight * collab
        out += shared.prior_terms[0]
        out += shared.prior_terms[1]
        return out

    def _sentiment(self, items: NDArray[np.int64]) -> NDArray[np.float64]:
        out = np.zeros(items.size, dtype=np.float64)
        source = self.sentiment
        if source is None:
            return out
        for j, idx in enumerate(items.tolist()):
            item_id = self.catalog.ids[idx]
            got = source.get(item_id) if isinstance(source, Mapping) else source(item_id)
            if got is not None:
                mean, count = got
                out[j] = float(mean) * count / (count + 5.0)
        return out

    def _ctr(self, items: NDArray[np.int64], shared: _Shared) -> NDArray[np.float64]:
        """Click-through rate on impressions as log-odds above the overall rate: decayed
        clicks on shown positions over decayed showings, with a Beta prior of ``ctr_prior``
        showings at the overall rate (0 for an item never shown)."""
        clicks, shown = shared.clicks[items], shared.shown[items]
        base = shared.base_ctr
        rate = np.clip((clicks + self.ctr_prior * base) / (shown + self.ctr_prior),
                       1e-4, 1.0 - 1e-4)
        out: NDArray[np.float64] = np.log(rate / (1.0 - rate)) - math.log(base / (1.0 - base))
        return out

    def _features(self, user: _UserView, items: NDArray[np.int64], shared: _Shared,
                  content: NDArray[np.float64] | None = None,
                  collab: NDArray[np.float64] | None = None,
                  prior: NDArray[np.float64] | None = None) -> NDArray[np.float64]:
        x = np.zeros((items.size, len(FEATURES)), dtype=np.float64)
        # the content score of a few items needs only their rows, not the whole catalogue
        # (an impression's features would otherwise cost a full scoring pass)
        if content is not None:
            x[:, _F["content"]] = content[items]
        elif user.query is not None:
            x[:, _F["content"]] = np.maximum(self.catalog.matrix[items] @ user.query, 0.0)
        if collab is None:  # (raw / top)[items], dividing only those rows
            raw, top = self._collab_raw(user, shared)
            x[:, _F["collab"]] = raw[items] / top if top > 0 else raw[items]
        else:
            x[:, _F["collab"]] = collab[items]
        x[:, _F["popularity"]] = shared.popularity[items]
        x[:, _F["ctr"]] = self._ctr(items, shared)
        x[:, _F["exposure"]] = np.log1p(shared.shown[items])
        x[:, _F["freshness"]] = shared.freshness[items]
        x[:, _F["sentiment"]] = self._sentiment(items)
        if prior is not None:
            x[:, _F["prior"]] = prior[items]
        else:  # _prior on the rows of these items
            x[:, _F["prior"]] = (
                self.content_weight * x[:, _F["content"]]
                + self.collab_weight * x[:, _F["collab"]]
                + self.popularity_weight * x[:, _F["popularity"]]
                + self.fresh_boost * x[:, _F["freshness"]]
            )
        return x

    def _final(self, features: NDArray[np.float64]) -> NDArray[np.float64]:
        if self.use_ranker and self.ranker.warm:
            return self.ranker.predict_proba(features)
        return features[:, _F["prior"]]

    def score(self, user_id: str, item_ids: list[str], now: float) -> NDArray[np.float64]:
        """Scores of the candidates for the user (higher is better); unknown items get the
        score of an item nobody has read yet."""
        shared = self._shared(now)
        user = self._user_view(self.users.index.get(user_id), now)
        known = [self.catalog.index.get(i) for i in item_ids]
        idx = np.array([-1 if k is None else k for k in known], dtype=np.int64)
        x = self._features(user, np.maximum(idx, 0), shared)
        # an unknown item is scored as what it will be once seen: new, never shown or read
        x[idx < 0] = 0.0
        x[idx < 0, _F["freshness"]] = 1.0
        x[idx < 0, _F["prior"]] = self.fresh_boost
        out: NDArray[np.float64] = self._final(x)
        return out

    # --- recommending -----------------------------------------------------------------------

    def recommend(self, user_id: str, k: int, now: float) -> list[Recommendation]:
        """The user's top ``k``: never an item they read, expired or excluded; MMR-diverse;
        each with a reason."""
        return self.recommend_many([user_id], k, now)[user_id]

    def recommend_many(self, user_ids: Iterable[str], k: int, now: float
                       ) -> dict[str, list[Recommendation]]:
        """Top ``k`` for each user, sharing the per-batch work (popularity, freshness, one
        matrix product for all content scores)."""
        ids = list(dict.fromkeys(user_ids))
        out: dict[str, list[Recommendation]] = {}
        shared = self._shared(now)
        if shared.n == 0 or k <= 0:
            return {u: [] for u in ids}
        views = [self._user_view(self.users.index.get(u), now) for u in ids]
        with_query = [i for i, v in enumerate(views) if v.query is not None]
        content_all: NDArray[np.float32] | None = None
        if with_query:
            queries = np.stack([views[i].query for i in with_query])  # type: ignore[misc]
            # items x users: the item matrix is read once, row-major, for the whole batch
            # (made row-major once: a user's row is then read contiguously)
            content_all = np.ascontiguousarray(
                np.maximum(self.catalog.matrix @ queries.T, 0.0).T)
        zeros = np.zeros(shared.n, dtype=np.float64)
        slot = {i: j for j, i in enumerate(with_query)}
        for i, (user_id, view) in enumerate(zip(ids, views, strict=True)):
            content = (content_all[slot[i]].astype(np.float64)
                       if content_all is not None and i in slot else zeros)
            out[user_id] = self._rank_user(view, shared, content, k, now)
        return out

    def _rank_user(self, view: _UserView, shared: _Shared, content: NDArray[np.float64],
                   k: int, now: float) -> list[Recommendation]:
        collab = self._collab(view, shared)
        prior = self._prior(content, collab, shared)
        ranked = prior.copy()
        ranked[shared.blocked] = -np.inf
        if view.seen.size:
            ranked[view.seen[view.seen < shared.n]] = -np.inf
        n_cand = min(max(self.candidates, k), shared.n)
        cand = np.argpartition(-ranked, n_cand - 1)[:n_cand]
        cand = cand[np.isfinite(ranked[cand])]
        if cand.size == 0:
            return []
        features = self._features(view, cand.astype(np.int64), shared, content, collab, prior)
        final = self._final(features)
        order = np.argsort(-final, kind="stable")
        cand, features, final = cand[order], features[order], final[order]
        picked = self._mmr(cand[: 3 * k], final[: 3 * k], k)
        # Python floats from here: the same values, without a numpy scalar per operation
        items, scores = cand[picked].tolist(), final[picked].tolist()
        return [
            Recommendation(
                item_id=self.catalog.ids[idx],
                score=round(score, 6),
                reason=self._reason(view, idx, x, now),
            )
            for idx, score, x in zip(items, scores, features[picked].tolist(), strict=True)
        ]

    def _mmr(self, cand: NDArray[np.intp], final: NDArray[np.float64], k: int) -> list[int]:
        """Maximal marginal relevance over the content vectors: positions into ``cand``."""
        m = cand.size
        if self.diversity <= 0 or m <= 1:
            return list(range(min(k, m)))
        span = float(final[0] - final[-1])
        rel = (final - final[-1]) / span if span > 0 else np.ones(m)
        vectors = self.catalog.vectors[cand]
        sims = vectors @ vectors.T
        picked: list[int] = []
        max_sim = np.zeros(m)
        relevance = (1.0 - self.diversity) * rel
        for _ in range(min(k, m)):
            # a picked position's similarity is +inf: its score is -inf (diversity > 0)
            best = int(np.argmax(relevance - self.diversity * max_sim))
            picked.append(best)
            max_sim = np.maximum(max_sim, sims[best])
            max_sim[best] = np.inf
        return picked

    # --- explanations and profiles ----------------------------------------------------------

    def _title(self, idx: int) -> str:
        title = self.catalog.titles[idx] or self.catalog.ids[idx]
        return title if len(title) <= 60 else title[:59] + "…"

    def _reason(self, view: _UserView, idx: int, x: Sequence[float], now: float) -> str:
        parts = {
            "content": self.content_weight * x[_F["content"]],
            "collab": self.collab_weight * x[_F["collab"]],
            "popularity": self.popularity_weight * x[_F["popularity"]],
            "freshness": self.fresh_boost * x[_F["freshness"]],
        }
        main = max(parts, key=lambda name: parts[name])
        tags = self.catalog.tags[idx]
        tag = tags[0] if tags else None
        if parts[main] <= 0:
            return f"new in {tag}" if tag else "popular now"
        if main in ("content", "collab") and view.items.size:
            recent = view.items[-self.collab_query_items:]
            # the recent items' rows are gathered once per user, not once per reason
            if main == "collab":
                if view.covisits is None:
                    rows = recent.astype(np.int64)
                    view.covisits = self.covisit.nbr[rows], self.covisit.weight[rows]
                nbr, weight = view.covisits
                # summed only on the rows that hold the item: the others are 0 anyway
                match = nbr == idx
                hit = np.flatnonzero(match.any(axis=1))
                strength = np.zeros(recent.size, dtype=np.float32)
                strength[hit] = (match[hit] * weight[hit]).sum(axis=1)
            else:
                if view.vectors is None or view.vectors.shape[0] != recent.size:
                    view.vectors = self.catalog.vectors[recent]
                strength = view.vectors @ self.catalog.vectors[idx]
            best = int(recent[int(np.argmax(strength))])
            if main == "content" and x[_F["freshness"]] >= 0.5 and tag is not None \
                    and tag in self._followed(view):
                return f"new in {tag}, a topic you follow"
            return f"because you read “{self._title(best)}”"
        if main == "freshness":
            return f"new in {tag}" if tag else "new"
        return f"trending in {tag}" if tag else "trending now"

    def _followed(self, view: _UserView) -> set[str]:
        if view.followed is None:
            view.followed = {tag for tag, _ in self._interests(view)}
        return view.followed

    def _interests(self, view: _UserView) -> list[tuple[str, float]]:
        totals: dict[str, float] = {}
        for idx, weight in zip(view.items.tolist(), view.weights.tolist(), strict=True):
            tags = self.catalog.tags[idx]
            for tag in tags:
                totals[tag] = totals.get(tag, 0.0) + weight / len(tags)
        total = sum(totals.values())
        if total <= 0:
            return []
        top = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[: self.interests_top_k]
        return [(tag, round(w / total, 3)) for tag, w in top]

    def interests(self, user_id: str, now: float) -> list[tuple[str, float]]:
        """The user's top interests: tags with weights summing to at most 1, strongest first
        (time-decayed, reads weighted by dwell)."""
        row = self.users.index.get(user_id)
        return self._interests(self._user_view(row, now)) if row is not None else []

    def interests_if_changed(self, user_id: str, now: float) -> list[tuple[str, float]] | None:
        """The user's interests if they changed (to two decimals) since the last call, else
        ``None``: the worker publishes ``stream.user_profiles.v1`` only then."""
        row = self.users.index.get(user_id)
        if row is None:
            return None
        found = self.interests(user_id, now)
        # 0 stands for "none published yet"
        signature = hash(tuple((tag, round(w, 2)) for tag, w in found)) or 1
        if int(self.users.signature[row]) == signature:
            return None
        self.users.signature[row] = signature
        return found

    # --- state ------------------------------------------------------------------------------

    def export_user(self, user_id: str) -> dict[str, Any] | None:
        """A user's state as JSON-able values (``None`` if unknown)."""
        row = self.users.index.get(user_id)
        if row is None:
            return None
        items, ts, weights = self.users.entries(row)
        raw = self.impressions.get(row)
        pending = None if raw is None else _Impression.unpack(raw)
        deflated = None if raw is None else _Impression.deflated_features(raw)
        return {
            "user_id": user_id,
            "items": [self.catalog.ids[i] for i in items.tolist()],
            "ts": ts.tolist(),
            "weights": weights.tolist(),
            "n_items": int(self.users.n_items[row]),
            "last_ts": float(self.users.last_ts[row]),
            "impression": None if pending is None else {
                "items": [self.catalog.ids[i] for i in pending.items.tolist()],
                # 0 or 1 per position: half the bytes of false and true
                "labelled": pending.labelled.astype(np.int8).tolist(),
                "clicked": pending.clicked.astype(np.int8).tolist(),
                "ts": pending.ts,
                # the features each position was served with: float16 bytes, deflated
                # (about 35% smaller: many are 0) and base64
                "features": None if deflated is None else _pack_features(deflated),
            },
        }

    def import_user(self, state: Mapping[str, Any]) -> None:
        """Restore a user from :meth:`export_user` (replacing what the model has)."""
        user_id = str(state["user_id"])
        old = self.users.index.get(user_id)
        if old is not None:
            self._drop_user(user_id, old)
        row = self.users.ensure(user_id, float(state["last_ts"]))
        for item_id, ts, weight in zip(state["items"], state["ts"], state["weights"],
                                       strict=True):
            self.users.append(row, self._item_index(str(item_id), float(ts)), float(ts),
                              float(weight))
        self.users.n_items[row] = int(state["n_items"])
        self.users.last_ts[row] = float(state["last_ts"])
        pending = state.get("impression")
        if pending is not None:
            items = np.array([self._item_index(str(i), float(pending["ts"]))
                              for i in pending["items"]], dtype=np.int64)
            labelled = np.array(pending["labelled"], dtype=bool)
            clicked = np.array(pending.get("clicked", labelled.tolist()), dtype=bool)
            features: NDArray[np.float32] | None = None
            if pending.get("features") is not None:
                raw = _unpack_features(str(pending["features"]))
                if raw.size == items.size * len(FEATURES):  # else: saved with other features
                    features = raw.reshape(items.size, len(FEATURES)).copy()
            self.impressions[row] = _Impression(items, labelled, clicked, float(pending["ts"]),
                                                features).pack()

    def export_item(self, item_id: str) -> dict[str, Any] | None:
        """An item's metadata, terms, statistics and neighbours as JSON-able values, with
        decayed values as of the model's clock."""
        idx = self.catalog.index.get(item_id)
        if idx is None:
            return None
        cat = self.catalog
        now = self.clock
        terms = cat.terms[idx]
        neighbors = self.covisit.row(idx, now)
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
            "popularity": self.popularity.value(idx, now),
            "shown": self.shown.value(idx, now),
            "clicked": self.clicked.value(idx, now),
            "degree": self.degree.value(idx, now),
            "neighbors": [[cat.ids[j], w] for j, w in neighbors.items()],
        }

    def import_item(self, state: Mapping[str, Any]) -> None:
        """Restore an item from :meth:`export_item` (items it neighbours become stubs until
        their own state arrives)."""
        item_id = str(state["item_id"])
        published_at = float(state["published_at"])
        as_of = float(state["as_of"])
        idx = self._item_index(item_id, published_at)
        cat = self.catalog
        if state["has_metadata"]:
            raw = state["terms"]
            old = cat.terms[idx]
            if old is not None:
                self.tfidf.remove(old[0])
            terms = (np.array(raw[0], dtype=np.int32), np.array(raw[1], dtype=np.float32))
            self.tfidf.add(*terms)
            tags = tuple(str(t) for t in state["tags"])
            vector = np.frombuffer(base64.b64decode(state["vector"]), dtype=np.float32)
            if vector.shape != (self.dim,):
                vector = self.tfidf.vector(*terms)
            cat.upsert(item_id, vector, str(state["title"]), tags, state["lang"], published_at)
            cat.terms[idx] = terms
            self.excluded[idx] = item_id in self.excluded_items or any(
                t.lower() in self.excluded_tags for t in tags)
        cat.last_seen[idx] = _time(state["last_seen"])
        cat.first_seen[idx] = _time(state.get("first_seen", published_at))
        cat.first_read[idx] = _time(state.get("first_read"))
        for stat, key in ((self.popularity, "popularity"), (self.shown, "shown"),
                          (self.clicked, "clicked"), (self.degree, "degree")):
            stat.reset(idx)
            if state.get(key):
                stat.update(idx, as_of, float(state[key]))
        if state["neighbors"]:
            others = np.array([self._item_index(str(j), as_of) for j, _ in state["neighbors"]],
                              dtype=np.int64)
            weights = np.array([w for _, w in state["neighbors"]], dtype=np.float64)
            self.covisit.ensure_capacity(max(idx, int(others.max())) + 1)
            scale = self.covisit.scale(as_of)
            self.covisit.nbr[idx] = -1
            self.covisit.weight[idx] = 0.0
            m = min(others.size, self.covisit.neighbors)
            self.covisit.nbr[idx, :m] = others[:m]
            self.covisit.weight[idx, :m] = weights[:m] * scale

    def export_global(self) -> dict[str, Any]:
        """Model-wide state: the clock and the ranker (document frequencies are rebuilt from
        the items' terms)."""
        return {
            "clock": self.clock if math.isfinite(self.clock) else None,
            "last_housekeeping": self._last_housekeeping,
            "docs_at_reweight": self._docs_at_reweight,
            "ranker": self.ranker.export_state(),
        }

    def import_global(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`export_global` (before or after the items)."""
        if state["clock"] is not None:
            self.clock = max(self.clock, float(state["clock"]))
        self._last_housekeeping = state["last_housekeeping"]
        self._docs_at_reweight = int(state["docs_at_reweight"])
        self.ranker.import_state(dict(state["ranker"]))

    def export_state(self) -> dict[str, Any]:
        """Everything, as one JSON-able dict."""
        return {
            "global": self.export_global(),
            "items": [self.export_item(i) for i in list(self.catalog.index)],
            "users": [self.export_user(u) for u in list(self.users.index)],
        }

    def import_state(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`export_state` into an empty model."""
        for item in state["items"]:
            self.import_item(item)
        for user in state["users"]:
            self.import_user(user)
        self.import_global(state["global"])
