"""The benchmark's synthetic news-site traffic: a catalogue, readers with tastes, and their
impressions, clicks and reads.

Headlines, weighted draws and messages come from :mod:`stream.dev.synthetic`, as for the
demo's simulated site (English and Chinese headlines by topic). Item popularity is Zipf within
each topic and language, readers have one or two favourite topics and a language, and a few
readers are much more active than most (Zipf again). Each visit is an impression of a
ten-item list, maybe a click on one of them and maybe a read after the click, as on a news
site. Everything is deterministic for a given seed.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from stream.dev.synthetic import TOPIC_NAMES, WeightedDraw, headline, interaction_json
from stream.events import Interaction, Item

__all__ = ["IMPRESSION_SIZE", "BenchEvent", "Workload"]

EventKind = Literal["impression", "click", "read"]

#: items shown per impression
IMPRESSION_SIZE = 10


@dataclass(frozen=True, slots=True)
class BenchEvent:
    """One interaction of the workload, without its time: stamped when it is sent."""

    seq: int
    kind: EventKind
    user_id: str
    item_id: str = ""
    item_ids: tuple[str, ...] = ()
    position: int | None = None
    dwell_seconds: float | None = None

    @property
    def event_id(self) -> str:
        """A unique id (the sequence number)."""
        return f"b{self.seq:010d}"

    def to_json(self, ts: float) -> bytes:
        """The event as a ``stream.interactions.v1`` value, stamped ``ts``."""
        impression = self.kind == "impression"
        return interaction_json(
            self.event_id,
            self.kind,
            self.user_id,
            ts,
            item_id=None if impression else self.item_id,
            item_ids=self.item_ids if impression else None,
            position=self.position,
            dwell_seconds=self.dwell_seconds,
        )

    def to_interaction(self, ts: float) -> Interaction:
        """The event as the parsed :class:`~stream.events.Interaction` the models learn."""
        return Interaction(
            event_id=self.event_id,
            type=self.kind,
            user_id=self.user_id,
            item_id=self.item_id,
            ts=ts,
            position=self.position,
            dwell_seconds=self.dwell_seconds,
            item_ids=self.item_ids,
        )


class Workload:
    """A seeded news site for benchmarks.

    Parameters
    ----------
    n_items
        Catalogue size.
    n_users
        Number of readers; their activity is Zipf distributed (``user_skew``).
    seed
        Seed of every random choice.
    item_skew, user_skew
        Zipf exponents of item popularity (within a topic and language) and of reader
        activity.
    click_rate, read_rate
        Chance that an impression is followed by a click, and a click by a read.

    Examples
    --------
    >>> w = Workload(n_items=50, n_users=20, seed=1)
    >>> events = list(w.events(100))
    >>> len(events), {e.kind for e in events} == {"impression", "click", "read"}
    (100, True)
    >>> events == list(Workload(n_items=50, n_users=20, seed=1).events(100))
    True
    """

    def __init__(
        self,
        n_items: int = 10_000,
        n_users: int = 10_000,
        seed: int = 7,
        item_skew: float = 1.1,
        user_skew: float = 1.1,
        click_rate: float = 0.5,
        read_rate: float = 0.5,
        zh_share: float = 0.2,
    ) -> None:
        if n_items < IMPRESSION_SIZE or n_users < 1:
            raise ValueError(f"need at least {IMPRESSION_SIZE} items and one user")
        self.n_items = n_items
        self.n_users = n_users
        self.seed = seed
        self.click_rate = click_rate
        self.read_rate = read_rate
        self.zh_share = zh_share
        rng = random.Random(seed)
        self._sim_items = [headline(rng, i, zh_share, 0.0) for i in range(n_items)]
        # popularity pools per (topic, lang): item ids by rank, Zipf by rank
        pools: dict[tuple[str, str], list[str]] = {}
        for item in self._sim_items:
            pools.setdefault((item.topic, item.lang), []).append(item.item_id)
        self._pools = {key: WeightedDraw.zipf(ids, item_skew) for key, ids in pools.items()}
        self._all = WeightedDraw.zipf([i.item_id for i in self._sim_items], item_skew)
        self._users = WeightedDraw.zipf(range(n_users), user_skew)

    # --- catalogue --------------------------------------------------------------------------

    def items(self, published_at: float) -> list[Item]:
        """The catalogue as parsed items, all published at ``published_at``."""
        return [i.to_item(published_at) for i in self._sim_items]

    def catalogue(self, n_items: int, published_at: float) -> Iterator[Item]:
        """A catalogue of ``n_items`` from the same generator, one item at a time: this
        workload's items first, in order (the only ones its events name), then more of the
        same site's headlines, exactly as ``Workload(n_items, seed=self.seed)`` would have
        them. Lets one stream of events run against catalogues of any size.

        >>> w = Workload(n_items=20, n_users=5, seed=3)
        >>> grown = list(w.catalogue(50, published_at=1.0))
        >>> len(grown), grown[:20] == w.items(1.0)
        (50, True)
        >>> grown == Workload(n_items=50, n_users=5, seed=3).items(1.0)
        True
        """
        rng = random.Random(self.seed)  # the draws of __init__, continued past n_items
        for i in range(n_items):
            yield headline(rng, i, self.zh_share, 0.0).to_item(published_at)

    def item_messages(self, published_at: float) -> list[tuple[bytes, bytes]]:
        """The catalogue as ``stream.items.v1`` (key, value) messages."""
        return [(i.item_id.encode(), i.to_json(published_at)) for i in self._sim_items]

    # --- readers ----------------------------------------------------------------------------

    def _reader(self, u: int) -> tuple[list[str], str]:
        """Reader ``u``'s favourite topics and language (derived from the seed and ``u``, so
        a million readers cost nothing until they appear)."""
        rng = random.Random(self.seed * 1_000_003 + u)
        tastes = rng.sample(TOPIC_NAMES, 1 if rng.random() < 0.6 else 2)
        lang = "zh" if rng.random() < self.zh_share else "en"
        return tastes, lang

    def _pool(self, rng: random.Random, tastes: list[str], lang: str) -> WeightedDraw[str]:
        topic = rng.choice(tastes) if rng.random() < 0.85 else rng.choice(TOPIC_NAMES)
        pool = self._pools.get((topic, lang))
        if pool is None or len(pool.values) < IMPRESSION_SIZE:
            return self._all
        return pool

    # --- traffic ----------------------------------------------------------------------------

    def reads(self, users: int, per_user: int) -> Iterator[BenchEvent]:
        """For each of the first ``users`` readers in turn: ``per_user`` events, clicks on
        items of their tastes each followed by a read (no impressions: the cheap path that
        still gives every reader a history; for memory measurements)."""
        rng = random.Random(self.seed * 7919 - 1)
        seq = 0
        for u in range(users):
            tastes, lang = self._reader(u)
            user_id = f"u{u:07d}"
            for j in range(per_user):
                if j % 2 == 0:
                    item_id = self._pool(rng, tastes, lang).draw(rng)
                    yield BenchEvent(seq, "click", user_id, item_id, position=0)
                else:
                    yield BenchEvent(seq, "read", user_id, item_id,
                                     dwell_seconds=round(rng.uniform(5.0, 180.0), 1))
                seq += 1

    def events(self, n: int, users: int | None = None, part: int = 0) -> Iterator[BenchEvent]:
        """``n`` interactions: visits of Zipf-active readers (or, with ``users``, each of the
        first ``users`` readers in turn, for memory measurements). Each ``part`` is another
        stretch of the same site's traffic (same readers, same catalogue)."""
        rng = random.Random(self.seed * 7919 + part)
        seq = 0
        # (a counter, not itertools.cycle: that keeps a copy of every reader it has yielded,
        # which a memory measurement of a million users would count as theirs)
        visits = 0
        readers: dict[int, tuple[list[str], str]] = {}
        while seq < n:
            if users:
                u = visits % users
                visits += 1
            else:
                u = self._users.draw(rng)
            found = readers.get(u)
            if found is None:
                found = self._reader(u)
                if not users:  # a reader seen once per round needs no cache
                    readers[u] = found
            tastes, lang = found
            user_id = f"u{u:07d}"
            shown: list[str] = []
            while len(shown) < IMPRESSION_SIZE:
                item_id = self._pool(rng, tastes, lang).draw(rng)
                if item_id not in shown:
                    shown.append(item_id)
            visit: list[BenchEvent] = [
                BenchEvent(seq, "impression", user_id, item_ids=tuple(shown))
            ]
            if rng.random() < self.click_rate:
                position = min(int(rng.expovariate(0.5)), IMPRESSION_SIZE - 1)
                item_id = shown[position]
                visit.append(BenchEvent(seq + 1, "click", user_id, item_id, position=position))
                if rng.random() < self.read_rate:
                    dwell = round(rng.uniform(5.0, 180.0), 1)
                    visit.append(
                        BenchEvent(seq + 2, "read", user_id, item_id, dwell_seconds=dwell)
                    )
            for event in visit:
                if seq >= n:
                    return
                yield event
                seq += 1
