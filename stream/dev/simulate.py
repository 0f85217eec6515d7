"""A seeded simulation of a news site: a catalogue that reads like real headlines (English and
Chinese), readers with their own tastes, and the impressions, clicks and reads they make.

Used by ``stream demo``, ``deploy/demo_producer.py`` and the tests. The loop is closed: readers
are shown what the worker last recommended to them and click by their own tastes. Everything is
generated: no dataset is shipped. A small share of deliberately malformed events exercises the
dead-letter path.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import orjson

from stream.dev.synthetic import TOPIC_NAMES, SimItem, WeightedDraw, headline, interaction_json

__all__ = ["MALFORMED_KINDS", "Reader", "SimEvent", "Simulator", "examine_chance"]

#: the kinds of malformed interaction the simulator sends, each with the reason it must get
MALFORMED_KINDS: dict[str, str] = {
    "not_json": "not_json",
    "not_object": "not_object",
    "missing_user": "missing_field",
    "empty_item": "empty_id",
    "unknown_type": "unknown_type",
    "ts_as_string": "wrong_type",
    "negative_ts": "bad_value",
    "non_utf8": "not_json",
}


def examine_chance(position: int) -> float:
    """The chance that a reader looks at the item at 0-based ``position`` of a list (position
    bias): a reader clicks an item they look at with the chance :meth:`Reader.affinity`."""
    return 1.0 / (1.0 + 0.3 * position)


@dataclass(slots=True)
class Reader:
    """A simulated reader: favourite topics (with weights) and the languages they read."""

    user_id: str
    tastes: dict[str, float]
    langs: tuple[str, ...]
    activity: float
    clicked: set[str] = field(default_factory=set)

    def affinity(self, item: SimItem) -> float:
        """How much the reader wants this item, from 0 to 1."""
        if item.lang not in self.langs:
            return 0.02
        return 0.03 + 0.9 * self.tastes.get(item.topic, 0.0)

    def likes(self, item: SimItem) -> bool:
        """Whether the item is on the reader's taste: a topic they like, in a language they
        read."""
        return item.lang in self.langs and item.topic in self.tastes

    def click_chance(self, shown: Sequence[SimItem]) -> float:
        """The chance that the reader clicks one of ``shown`` (in list order), by the click
        model :meth:`Simulator.visit` draws from: they go down the list, look at each item
        with :func:`examine_chance` and click it with :meth:`affinity`, and stop at the
        first click, so a list gets one click at most.

        >>> reader = Reader("r", {"tech": 1.0}, ("en",), 1.0)
        >>> round(reader.click_chance([]), 3)
        0.0
        """
        miss = 1.0
        for position, item in enumerate(shown):
            miss *= 1.0 - examine_chance(position) * self.affinity(item)
        return 1.0 - miss

    def describe(self) -> str:
        """A short human description, e.g. ``likes economy, tech · reads en``."""
        likes = ", ".join(t for t, _ in sorted(self.tastes.items(), key=lambda kv: -kv[1]))
        return f"likes {likes} · reads {'+'.join(self.langs)}"


@dataclass(frozen=True, slots=True)
class SimEvent:
    """One message to produce: topic alias (``items`` or ``interactions``), key and value."""

    stream: str
    key: bytes
    value: bytes
    #: item, impression, click, read, forget, or ``malformed:<kind>``
    kind: str
    user_id: str | None = None
    item_id: str | None = None
    #: an impression's items, in the order shown
    item_ids: tuple[str, ...] = ()


class Simulator:
    """Generates a news site's traffic, deterministically for a given seed.

    Parameters
    ----------
    n_readers
        Number of simulated readers.
    n_items
        Size of the initial catalogue; new articles keep arriving (``new_item_rate``).
    zh_share
        Share of Chinese articles; readers of Chinese are about the same share.
    malformed_rate
        Share of interaction messages that are deliberately malformed.
    seed
        Seed of every random choice.
    """

    def __init__(
        self,
        n_readers: int = 300,
        n_items: int = 300,
        zh_share: float = 0.2,
        malformed_rate: float = 0.02,
        new_item_rate: float = 0.01,
        impression_size: int = 10,
        seed: int = 7,
    ) -> None:
        self.rng = random.Random(seed)
        self.n_items = n_items
        self.zh_share = zh_share
        self.malformed_rate = malformed_rate
        self.new_item_rate = new_item_rate
        self.impression_size = impression_size
        self.items: list[SimItem] = []
        self.item_by_id: dict[str, SimItem] = {}
        self._event_seq = 0
        self._malformed_seq = 0
        self._malformed_cycle = list(MALFORMED_KINDS)
        self.readers = [self._make_reader(i) for i in range(n_readers)]
        self.reader_by_id = {r.user_id: r for r in self.readers}
        # a few readers are much more active than most (Pareto activity)
        self._by_activity = WeightedDraw(self.readers, [r.activity for r in self.readers])

    # --- catalogue --------------------------------------------------------------------------

    def _make_reader(self, i: int) -> Reader:
        rng = self.rng
        k = 1 if rng.random() < 0.6 else 2
        topics = rng.sample(TOPIC_NAMES, k)
        weights = [1.0] if k == 1 else [0.65, 0.35]
        u = rng.random()
        if u < self.zh_share * 0.6:
            langs: tuple[str, ...] = ("zh",)
        elif u < self.zh_share:
            langs = ("en", "zh")
        else:
            langs = ("en",)
        return Reader(
            user_id=f"reader-{i:04d}",
            tastes=dict(zip(topics, weights, strict=True)),
            langs=langs,
            activity=rng.paretovariate(1.5),
        )

    def new_item(self, now: float) -> SimItem:
        """Publish one more article (added to the catalogue)."""
        item = headline(self.rng, len(self.items), self.zh_share, now)
        self.items.append(item)
        self.item_by_id[item.item_id] = item
        return item

    def catalogue(self, now: float) -> list[SimEvent]:
        """The initial catalogue as item events."""
        return [self._item_event(self.new_item(now)) for _ in range(self.n_items)]

    @staticmethod
    def _item_event(item: SimItem) -> SimEvent:
        return SimEvent(
            "items", item.item_id.encode(), item.to_json(), "item", item_id=item.item_id
        )

    # --- traffic ----------------------------------------------------------------------------

    def _event_id(self) -> str:
        self._event_seq += 1
        return f"ev-{self._event_seq:09d}"

    def _interaction(
        self,
        kind: str,
        reader: Reader,
        now: float,
        *,
        item_id: str | None = None,
        item_ids: Sequence[str] | None = None,
        position: int | None = None,
        dwell_seconds: float | None = None,
    ) -> SimEvent:
        value = interaction_json(
            self._event_id(),
            kind,
            reader.user_id,
            round(now, 6),
            item_id=item_id,
            item_ids=item_ids,
            position=position,
            dwell_seconds=dwell_seconds,
        )
        return SimEvent(
            "interactions", reader.user_id.encode(), value, kind, reader.user_id, item_id,
            tuple(item_ids or ()),
        )

    def malformed(self, now: float) -> SimEvent:
        """One malformed interaction, cycling through :data:`MALFORMED_KINDS`."""
        kind = self._malformed_cycle[self._malformed_seq % len(self._malformed_cycle)]
        self._malformed_seq += 1
        reader = self.rng.choice(self.readers)
        good = {
            "event_id": self._event_id(),
            "type": "click",
            "user_id": reader.user_id,
            "item_id": self.rng.choice(self.items).item_id,
            "ts": now,
        }
        value: bytes
        if kind == "not_json":
            value = b'{"event_id": "x", "type": "click", '
        elif kind == "not_object":
            value = b'["click", "reader-0001"]'
        elif kind == "missing_user":
            good.pop("user_id")
            value = orjson.dumps(good)
        elif kind == "empty_item":
            value = orjson.dumps({**good, "item_id": ""})
        elif kind == "unknown_type":
            value = orjson.dumps({**good, "type": "like"})
        elif kind == "ts_as_string":
            value = orjson.dumps({**good, "ts": "yesterday"})
        elif kind == "negative_ts":
            value = orjson.dumps({**good, "ts": -5})
        else:  # non_utf8
            value = b'{"event_id": "\xff\xfe", "type": "click"}'
        return SimEvent(
            "interactions",
            reader.user_id.encode(),
            value,
            f"malformed:{kind}",
            user_id=reader.user_id,
        )

    def pick_reader(self) -> Reader:
        """A reader chosen by activity (a few readers are much more active than most)."""
        return self._by_activity.draw(self.rng)

    def visit(
        self, now: float, shown: Sequence[str] | None = None, reader: Reader | None = None
    ) -> list[SimEvent]:
        """One reader visit: an impression of a list, maybe a click and a read.

        ``shown`` is the list the site served (for example the reader's latest published
        recommendations); without it the reader sees recent articles.
        """
        rng = self.rng
        if reader is None:
            reader = self.pick_reader()
        candidates = [i for i in (shown or []) if i in self.item_by_id and i not in reader.clicked][
            : self.impression_size
        ]
        if len(candidates) < self.impression_size:
            pool = self.items[-400:]
            extra = rng.sample(pool, min(len(pool), self.impression_size * 2))
            for item in extra:
                if len(candidates) >= self.impression_size:
                    break
                if item.item_id not in candidates and item.item_id not in reader.clicked:
                    candidates.append(item.item_id)
        events = [self._interaction("impression", reader, now, item_ids=candidates)]
        for position, item_id in enumerate(candidates):
            item = self.item_by_id[item_id]
            if rng.random() < examine_chance(position) * reader.affinity(item):
                reader.clicked.add(item_id)
                events.append(
                    self._interaction("click", reader, now, item_id=item_id, position=position)
                )
                if rng.random() < 0.5:
                    dwell = round(rng.uniform(5.0, 180.0), 1)
                    events.append(
                        self._interaction(
                            "read", reader, now + 0.001, item_id=item_id, dwell_seconds=dwell
                        )
                    )
                break
        return events

    def events(self, now: float, served: dict[str, list[str]] | None = None) -> Iterator[SimEvent]:
        """The next burst of traffic at time ``now``: a visit, sometimes a new article or a
        malformed message. ``served`` maps readers to the list the site would show them."""
        if self.rng.random() < self.new_item_rate:
            yield self._item_event(self.new_item(now))
        if self.rng.random() < self.malformed_rate:
            yield self.malformed(now)
        reader = self.pick_reader()
        yield from self.visit(now, (served or {}).get(reader.user_id), reader)
