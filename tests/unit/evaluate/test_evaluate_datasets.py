"""Loaders on small files written by the tests in each source format."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from stream.evaluate.datasets import (
    MIND_HISTORY_OFFSET_SECONDS,
    export_contract,
    load_contract,
    load_mind,
    load_movielens_100k,
)
from stream.events import Forget, Interaction

GENRE_FLAGS_COMEDY_DRAMA = "0|0|0|0|0|1|0|0|1|0|0|0|0|0|0|0|0|0|0"
GENRE_FLAGS_NONE = "|".join(["0"] * 19)


def write_ml(directory: Path) -> None:
    (directory / "u.data").write_text(
        "2\t10\t5\t300\n"
        "1\t10\t3\t100\n"
        "1\t11\t1\t300\n"  # same timestamp as row 0: stable order keeps row 0 first
        "2\t11\t4\t50\n",
        encoding="ascii",
    )
    (directory / "u.item").write_bytes(
        f"10|Les Misérables (1995)|01-Jan-1995||http://x|{GENRE_FLAGS_COMEDY_DRAMA}\n"
        f"11|unknown|||http://y|{GENRE_FLAGS_NONE}\n"
        f"12|Old film (1939)|01-Jan-1939||http://z|{GENRE_FLAGS_NONE}\n".encode("iso-8859-1")
    )


def test_movielens_loader(tmp_path: Path) -> None:
    write_ml(tmp_path)
    data = load_movielens_100k(tmp_path)
    assert data.name == "movielens-100k"
    assert [i.item_id for i in data.items] == ["10", "11", "12"]
    assert data.items[0].title == "Les Misérables (1995)"
    assert data.items[0].tags == ("Comedy", "Drama")
    assert data.items[0].published_at == 788918400.0  # 1995-01-01T00:00:00Z
    assert data.items[1].published_at == 0.0 and data.items[1].tags == ()
    assert data.items[2].published_at == 0.0  # before 1970: the contract has no negative time
    # file order kept in .events, time order (stable) from time_ordered()
    assert [e.event_id for e in data.events] == ["ml-0", "ml-1", "ml-2", "ml-3"]
    ordered = data.time_ordered()
    assert [e.event_id for e in ordered] == ["ml-3", "ml-1", "ml-0", "ml-2"]
    assert all(isinstance(e, Interaction) and e.type == "click" for e in ordered)
    assert [e.event_id for e in data.time_ordered(limit=2)] == ["ml-3", "ml-1"]
    assert set(data.files) == {"u.data", "u.item"}
    assert all(len(digest) == 64 for digest in data.files.values())


def write_mind(directory: Path) -> None:
    (directory / "news.tsv").write_text(
        "N1\tsports\tsoccer\tCup final goes to penalties\tA long night.\thttp://n1\t[]\t[]\n"
        "N2\tfinance\tmarkets\tRates rise again\t\thttp://n2\t[]\t[]\n",
        encoding="utf-8",
    )
    (directory / "behaviors.tsv").write_text(
        # second user's row first: the loader sorts rows by time
        "7\tU2\t11/12/2019 2:00:00 PM\tN5\tN1-1 N9-0\n"
        "3\tU1\t11/12/2019 1:00:00 PM\tN5 N6\tN1-0 N2-1 N7-1\n"
        "4\tU1\t11/12/2019 3:00:00 PM\tN5 N6\tN8-0 N2-1\n",
        encoding="utf-8",
    )


def test_mind_loader(tmp_path: Path) -> None:
    write_mind(tmp_path)
    data = load_mind(tmp_path)
    assert [i.item_id for i in data.items] == ["N1", "N2"]
    assert data.items[0].tags == ("sports", "soccer")
    assert data.items[0].body == "A long night."
    t1 = 1573563600.0  # 2019-11-12 13:00:00 UTC
    events = data.time_ordered()
    kinds = [(e.event_id, e.type, e.ts) for e in events if isinstance(e, Interaction)]
    assert kinds == [
        ("mind-3-h0", "click", t1 - MIND_HISTORY_OFFSET_SECONDS),
        ("mind-3-h1", "click", t1 - MIND_HISTORY_OFFSET_SECONDS),
        ("mind-3", "impression", t1),
        ("mind-3-c1", "click", t1),
        ("mind-3-c2", "click", t1),
        ("mind-7-h0", "click", t1 + 3600 - MIND_HISTORY_OFFSET_SECONDS),
        ("mind-7", "impression", t1 + 3600),
        ("mind-7-c0", "click", t1 + 3600),
        # U1's history is replayed once only, before their first impression
        ("mind-4", "impression", t1 + 7200),
        ("mind-4-c1", "click", t1 + 7200),
    ]
    impression = events[2]
    assert isinstance(impression, Interaction)
    assert impression.item_ids == ("N1", "N2", "N7") and impression.item_id == ""
    click = events[3]
    assert isinstance(click, Interaction) and (click.item_id, click.position) == ("N2", 1)
    assert data.warmup == {"mind-3-h0", "mind-3-h1", "mind-7-h0"}
    assert "N7" in data.item_ids()  # news without metadata still belong to the catalogue


def test_contract_loader_validates_and_counts_rejects(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    items = tmp_path / "items.jsonl"
    items.write_bytes(b'{"item_id": "a", "title": "A", "published_at": 0, "tags": ["x"]}\n'
                      b'{"item_id": "b", "published_at": 0}\n')  # no title: rejected
    events.write_bytes(
        b'{"event_id": "1", "type": "click", "user_id": "u", "item_id": "a", "ts": 5}\n'
        b'\n'
        b'{"event_id": "2", "type": "teleport", "user_id": "u", "item_id": "a", "ts": 6}\n'
        b'{"event_id": "3", "type": "forget", "user_id": "u", "ts": 7}\n'
        b'not json\n'
    )
    data = load_contract(events, items)
    assert [i.item_id for i in data.items] == ["a"]
    assert [e.event_id for e in data.events] == ["1", "3"]
    assert isinstance(data.events[1], Forget)
    assert data.invalid == {"missing_field": 1, "unknown_type": 1, "not_json": 1}
    assert set(data.files) == {"events.jsonl", "items.jsonl"}


@pytest.mark.parametrize("writer,loader", [(write_ml, load_movielens_100k),
                                           (write_mind, load_mind)])
def test_export_round_trips_through_the_contract(tmp_path: Path, writer, loader) -> None:  # type: ignore[no-untyped-def]
    source = tmp_path / "source"
    source.mkdir()
    writer(source)
    original = loader(source)
    events_path, items_path = export_contract(original, tmp_path / "contract")
    first = orjson.loads(events_path.read_bytes().splitlines()[0])
    assert "event_id" in first and "ts" in first
    again = load_contract(events_path, items_path)
    assert again.items == original.items
    assert again.events == original.events
    assert again.invalid == {}
