"""Dataset loaders: MovieLens 100K, the MIND sample and files in our own event contract.

Every loader returns a :class:`Dataset` of the contract's own dataclasses
(:class:`~stream.events.Item`, :class:`~stream.events.Interaction`), so the evaluation feeds
models exactly what the worker would parse from Kafka.

How each source maps onto the contract
--------------------------------------
MovieLens 100K
    Every rating (1 to 5 stars alike) is a ``click`` at its timestamp; ``u.data`` rows are
    kept in file order in :attr:`Dataset.events` (the split protocol draws its random numbers
    in that order, as Microsoft Recommenders does on the same file) and replayed sorted by
    timestamp, stably. Items come from ``u.item`` (ISO-8859-1, pipe-separated): the title,
    the genres as tags, ``published_at`` the release date at 00:00 UTC (0 when missing or
    before 1970, as the contract allows no negative time).
MIND
    ``news.tsv`` gives items (title, abstract as body, category and subcategory as tags,
    ``published_at`` 0: MIND has no publication times). Each row of ``behaviors.tsv`` becomes
    an ``impression`` event carrying the shown ``item_ids``, followed by one ``click`` per
    candidate labelled ``-1`` (``position`` its index in the list), at the row's time (MIND
    gives no time zone; it is read as UTC). The ``history`` column lists the user's clicks
    before the sample's window and is the same on all of a user's rows, so it is replayed
    once: as clicks 1 ms before the user's first impression, oldest first. They are *warm-up*
    events (:attr:`Dataset.warmup`): every model learns from them, none is scored on them.
    Most news ids have no row in ``news.tsv``: models must rank such id-only items too.
Contract files
    ``--events`` holds ``stream.interactions.v1`` values and ``--items`` ``stream.items.v1``
    values, one JSON object per line, validated by :func:`~stream.events.parse_interaction`
    and :func:`~stream.events.parse_item` (invalid lines are counted and skipped, as the worker
    dead-letters them).
"""

from __future__ import annotations

import calendar
import hashlib
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from stream.errors import InvalidEvent
from stream.events import (
    Forget,
    Interaction,
    Item,
    interaction_json,
    parse_interaction,
    parse_item,
)

__all__ = [
    "Dataset",
    "export_contract",
    "file_sha256",
    "load_contract",
    "load_mind",
    "load_movielens_100k",
]

log = logging.getLogger(__name__)

ML100K_GENRES: tuple[str, ...] = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
    "Sci-Fi", "Thriller", "War", "Western",
)
_MIND_TIME_FORMAT = "%m/%d/%Y %I:%M:%S %p"
#: how long before a user's first impression their MIND history is replayed
MIND_HISTORY_OFFSET_SECONDS = 0.001


@dataclass(slots=True)
class Dataset:
    """A dataset in the event contract.

    Attributes
    ----------
    name
        Short name shown in reports (``movielens-100k``, ``mind``, ``events``).
    items
        Item metadata; items that appear only in events have none.
    events
        Interactions and forget requests in source order (see :meth:`time_ordered`).
    files
        The input files and their sha256, for the report.
    warmup
        Event ids every model learns from but no metric scores (MIND's history).
    invalid
        Lines rejected by the contract's parsers, by reason code.
    """

    name: str
    items: list[Item]
    events: list[Interaction | Forget]
    files: dict[str, str] = field(default_factory=dict)
    warmup: frozenset[str] = frozenset()
    invalid: dict[str, int] = field(default_factory=dict)

    def time_ordered(self, limit: int | None = None) -> list[Interaction | Forget]:
        """The events sorted by timestamp, stably (ties keep source order); the first
        ``limit`` of them when given."""
        ordered = sorted(self.events, key=lambda event: event.ts)
        return ordered if limit is None else ordered[:limit]

    def item_ids(self) -> list[str]:
        """Every item id of the dataset, from the items and the events, first seen first."""
        seen: dict[str, None] = {}
        for item in self.items:
            seen.setdefault(item.item_id, None)
        for event in self.events:
            if isinstance(event, Interaction):
                if event.item_id:
                    seen.setdefault(event.item_id, None)
                for item_id in event.item_ids:
                    seen.setdefault(item_id, None)
        return list(seen)


def file_sha256(path: Path) -> str:
    """The sha256 of a file, hex."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fingerprints(paths: Iterable[Path]) -> dict[str, str]:
    return {path.name: file_sha256(path) for path in paths}


# --- MovieLens 100K -------------------------------------------------------------------------


def _ml_release_date(text: str) -> float:
    """The release date at 00:00 UTC; 0 when missing or before 1970 (the contract requires
    ``published_at >= 0``, and a film from 1950 is as old as one from 1970 to any model)."""
    if not text.strip():
        return 0.0
    return max(0.0, float(calendar.timegm(time.strptime(text.strip(), "%d-%b-%Y"))))


def load_movielens_100k(data_dir: Path) -> Dataset:
    """Load ``u.data`` and ``u.item`` of MovieLens 100K from ``data_dir``."""
    data_path = data_dir / "u.data"
    item_path = data_dir / "u.item"
    items: list[Item] = []
    with item_path.open(encoding="iso-8859-1") as handle:
        for line in handle:
            if not line.strip():
                continue
            fields = line.rstrip("\n").split("|")
            if len(fields) < 5 + len(ML100K_GENRES):
                raise ValueError(f"{item_path}: expected 24 fields, got {len(fields)}")
            flags = fields[5 : 5 + len(ML100K_GENRES)]
            tags = tuple(g for g, flag in zip(ML100K_GENRES, flags, strict=True) if flag == "1")
            items.append(Item(item_id=fields[0], title=fields[1],
                              published_at=_ml_release_date(fields[2]), tags=tags))
    events: list[Interaction | Forget] = []
    with data_path.open(encoding="ascii") as handle:
        for row, line in enumerate(handle):
            if not line.strip():
                continue
            user, item, _rating, ts = line.split("\t")
            events.append(Interaction(event_id=f"ml-{row}", type="click", user_id=user,
                                      item_id=item, ts=float(ts)))
    return Dataset("movielens-100k", items, events, _fingerprints([data_path, item_path]))


# --- MIND ------------------------------------------------------------------------------------


def _mind_time(text: str) -> float:
    return float(calendar.timegm(time.strptime(text.strip(), _MIND_TIME_FORMAT)))


def load_mind(data_dir: Path) -> Dataset:
    """Load ``behaviors.tsv`` and ``news.tsv`` of MIND (or a sample of it) from ``data_dir``."""
    behaviors_path = data_dir / "behaviors.tsv"
    news_path = data_dir / "news.tsv"
    items: list[Item] = []
    with news_path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            fields = line.rstrip("\n").split("\t")
            if len(fields) < 5:
                raise ValueError(f"{news_path}: expected 8 fields, got {len(fields)}")
            news_id, category, subcategory, title, abstract = fields[:5]
            tags = tuple(t for t in (category, subcategory) if t.strip())
            items.append(Item(item_id=news_id, title=title, body=abstract, tags=tags,
                              published_at=0.0))
    rows: list[tuple[float, int, str, str, list[str]]] = []
    with behaviors_path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 5:
                raise ValueError(f"{behaviors_path}: expected 5 fields, got {len(fields)}")
            impression_id, user, when, history, shown = fields
            rows.append((_mind_time(when), len(rows), impression_id, user,
                         [history, shown]))
    rows.sort(key=lambda row: (row[0], row[1]))
    events: list[Interaction | Forget] = []
    warmup: set[str] = set()
    users_started: set[str] = set()
    for ts, _, impression_id, user, (history, shown) in rows:
        if user not in users_started:
            users_started.add(user)
            for j, news_id in enumerate(history.split()):
                event_id = f"mind-{impression_id}-h{j}"
                warmup.add(event_id)
                events.append(Interaction(event_id=event_id, type="click", user_id=user,
                                          item_id=news_id,
                                          ts=ts - MIND_HISTORY_OFFSET_SECONDS))
        candidates: list[str] = []
        clicked: list[tuple[int, str]] = []
        for position, entry in enumerate(shown.split()):
            news_id, _, label = entry.rpartition("-")
            if not news_id or label not in ("0", "1"):
                raise ValueError(f"{behaviors_path}: bad impression entry {entry!r}")
            candidates.append(news_id)
            if label == "1":
                clicked.append((position, news_id))
        if not candidates:
            continue
        events.append(Interaction(event_id=f"mind-{impression_id}", type="impression",
                                  user_id=user, item_id="", ts=ts,
                                  item_ids=tuple(candidates)))
        for position, news_id in clicked:
            events.append(Interaction(event_id=f"mind-{impression_id}-c{position}",
                                      type="click", user_id=user, item_id=news_id, ts=ts,
                                      position=position))
    return Dataset("mind", items, events, _fingerprints([behaviors_path, news_path]),
                   warmup=frozenset(warmup))


# --- our own contract --------------------------------------------------------------------


def load_contract(events_path: Path, items_path: Path | None) -> Dataset:
    """Load JSON-lines files of ``stream.interactions.v1`` and ``stream.items.v1`` values."""
    invalid: dict[str, int] = {}

    def reject(path: Path, number: int, exc: InvalidEvent) -> None:
        invalid[exc.reason] = invalid.get(exc.reason, 0) + 1
        if sum(invalid.values()) <= 5:
            log.warning("%s line %d rejected (%s): %s", path, number, exc.reason, exc.detail)

    items: list[Item] = []
    paths = [events_path]
    if items_path is not None:
        paths.append(items_path)
        with items_path.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                if not raw.strip():
                    continue
                try:
                    items.append(parse_item(raw.rstrip(b"\r\n")))
                except InvalidEvent as exc:
                    reject(items_path, number, exc)
    events: list[Interaction | Forget] = []
    with events_path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                events.append(parse_interaction(raw.rstrip(b"\r\n")))
            except InvalidEvent as exc:
                reject(events_path, number, exc)
    return Dataset("events", items, events, _fingerprints(paths), invalid=invalid)


def _item_json(item: Item) -> dict[str, object]:
    out: dict[str, object] = {"item_id": item.item_id, "title": item.title,
                              "published_at": item.published_at}
    if item.body:
        out["body"] = item.body
    if item.tags:
        out["tags"] = list(item.tags)
    if item.lang is not None:
        out["lang"] = item.lang
    return out


def export_contract(dataset: Dataset, out_dir: Path) -> tuple[Path, Path]:
    """Write ``events.jsonl`` and ``items.jsonl`` in our contract, events in source order.

    Warm-up marks (MIND's history) have no place in the contract and are not written.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    events_path = out_dir / "events.jsonl"
    items_path = out_dir / "items.jsonl"
    with items_path.open("wb") as handle:
        for item in dataset.items:
            handle.write(orjson.dumps(_item_json(item)) + b"\n")
    with events_path.open("wb") as handle:
        for event in dataset.events:
            handle.write(orjson.dumps(interaction_json(event)) + b"\n")
    return events_path, items_path
