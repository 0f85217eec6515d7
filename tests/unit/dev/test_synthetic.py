"""The parts the simulated sites share: draws as random.choices makes them, headlines and
interactions the parsers accept."""

from __future__ import annotations

import random

from stream.dev.synthetic import WeightedDraw, headline, interaction_json
from stream.events import Interaction, parse_interaction, parse_item


def _parsed(raw: bytes) -> Interaction:
    event = parse_interaction(raw)
    assert isinstance(event, Interaction)
    return event


def test_a_weighted_draw_is_what_random_choices_draws() -> None:
    values = [f"r{i}" for i in range(50)]
    weights = [random.Random(i).paretovariate(1.5) for i in range(50)]
    draw, ours, theirs = WeightedDraw(values, weights), random.Random(3), random.Random(3)
    assert [draw.draw(ours) for _ in range(2000)] == [
        theirs.choices(values, weights)[0] for _ in range(2000)
    ]


def test_zipf_favours_the_first_ranks() -> None:
    draw, rng = WeightedDraw.zipf(range(100), skew=1.1), random.Random(1)
    drawn = [draw.draw(rng) for _ in range(5000)]
    assert drawn.count(0) > drawn.count(9) > drawn.count(99)


def test_headlines_and_interactions_parse() -> None:
    rng = random.Random(2)
    for i in range(50):
        item = headline(rng, i, zh_share=0.5, published_at=1000.0)
        parsed = parse_item(item.to_json())
        assert parsed == item.to_item(1000.0) and parsed.lang in ("en", "zh")
    click = _parsed(interaction_json("e1", "click", "u1", 5.0, item_id="n1", position=2))
    assert (click.type, click.item_id, click.position) == ("click", "n1", 2)
    shown = _parsed(interaction_json("e2", "impression", "u1", 5.0, item_ids=["a", "b"]))
    assert shown.item_ids == ("a", "b")
    read = _parsed(interaction_json("e3", "read", "u1", 6.0, item_id="n1", dwell_seconds=30.0))
    assert read.dwell_seconds == 30.0
