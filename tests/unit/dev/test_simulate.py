"""The simulated news site is deterministic and produces events our parsers accept."""

from __future__ import annotations

from collections import Counter

from stream.dev.simulate import MALFORMED_KINDS, Simulator
from stream.errors import InvalidEvent
from stream.events import parse_interaction, parse_item


def run(seed: int) -> list[tuple[str, bytes]]:
    sim = Simulator(n_readers=50, n_items=40, malformed_rate=0.1, seed=seed)
    out = [(e.kind, e.value) for e in sim.catalogue(1000.0)]
    for t in range(400):
        out += [(e.kind, e.value) for e in sim.events(1000.0 + t)]
    return out


def test_same_seed_same_traffic() -> None:
    assert run(3) == run(3)
    assert run(3) != run(4)


def test_every_event_parses_and_every_malformed_one_fails_with_its_reason() -> None:
    kinds: Counter[str] = Counter()
    for kind, value in run(5):
        kinds[kind.split(":")[0]] += 1
        if kind == "item":
            parse_item(value)
        elif kind.startswith("malformed:"):
            try:
                parse_interaction(value)
            except InvalidEvent as exc:
                assert exc.reason == MALFORMED_KINDS[kind.split(":", 1)[1]]
            else:
                raise AssertionError(f"{kind} parsed")
        else:
            assert parse_interaction(value).user_id
    assert kinds["click"] > 50 and kinds["malformed"] > 10 and kinds["read"] > 10


def test_readers_click_what_they_like() -> None:
    sim = Simulator(n_readers=100, n_items=300, malformed_rate=0.0, seed=1)
    sim.catalogue(0.0)
    liked = total = 0
    for t in range(3000):
        for ev in sim.visit(float(t)):
            if ev.kind == "click":
                reader = next(r for r in sim.readers if r.user_id == ev.user_id)
                liked += sim.item_by_id[ev.item_id or ""].topic in reader.tastes
                total += 1
    assert total > 100 and liked / total > 0.7


def test_chinese_headlines_exist() -> None:
    sim = Simulator(seed=2)
    sim.catalogue(0.0)
    zh = [i for i in sim.items if i.lang == "zh"]
    assert zh and all(any("\u4e00" <= ch <= "\u9fff" for ch in i.title) for i in zh)
