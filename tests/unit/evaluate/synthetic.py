"""Generated datasets for the evaluation tests: no file from ``../shared`` is ever read."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from stream.evaluate.datasets import Dataset
from stream.events import Forget, Interaction, Item

TOPICS = {
    "football": "goal striker league match referee penalty stadium coach",
    "markets": "shares bonds inflation rates investors earnings stocks bank",
    "cooking": "recipe oven garlic pasta baking sauce chef dinner",
    "space": "rocket orbit nasa astronaut moon launch telescope planet",
}


def planted_taste(
    n_users: int = 60, items_per_topic: int = 25, clicks_per_user: int = 20,
    on_topic: float = 0.9, seed: int = 7,
) -> Dataset:
    """Users belong to one topic group and click mostly that topic's items.

    Item titles are made of their topic's words, so both content and collaborative models can
    find the structure; popularity is flat across topics, so ranking by popularity alone cannot.
    """
    rng = np.random.default_rng(seed)
    items: list[Item] = []
    by_topic: dict[str, list[str]] = {}
    for topic, words in TOPICS.items():
        vocabulary = words.split()
        for j in range(items_per_topic):
            item_id = f"{topic}-{j}"
            title = " ".join(rng.choice(vocabulary, size=4, replace=False))
            items.append(Item(item_id=item_id, title=title, tags=(topic,), published_at=0.0))
            by_topic.setdefault(topic, []).append(item_id)
    topics = list(TOPICS)
    all_ids = [item.item_id for item in items]
    events: list[Interaction | Forget] = []
    for u in range(n_users):
        topic = topics[u % len(topics)]
        chosen: set[str] = set()
        while len(chosen) < clicks_per_user:
            pool = by_topic[topic] if rng.random() < on_topic else all_ids
            chosen.add(str(rng.choice(pool)))
        for item_id in sorted(chosen):
            ts = float(rng.uniform(1000.0, 100_000.0))
            events.append(Interaction(event_id=f"e{len(events)}", type="click",
                                      user_id=f"u{u}", item_id=item_id, ts=ts))
    return Dataset("planted", items, events)


def write_movielens(directory: Path, dataset: Dataset) -> None:
    """Write a dataset of clicks in the MovieLens 100K file format (``u.data``, ``u.item``)."""
    directory.mkdir(parents=True, exist_ok=True)
    item_number = {item.item_id: n + 1 for n, item in enumerate(dataset.items)}
    user_number: dict[str, int] = {}
    with (directory / "u.item").open("w", encoding="iso-8859-1") as handle:
        for n, item in enumerate(dataset.items):
            flags = ["0"] * 19
            flags[1 + n % 18] = "1"
            handle.write(f"{n + 1}|{item.title} (1995)|01-Jan-1995||http://x|"
                         + "|".join(flags) + "\n")
    with (directory / "u.data").open("w", encoding="ascii") as handle:
        for event in dataset.events:
            assert isinstance(event, Interaction)
            user = user_number.setdefault(event.user_id, len(user_number) + 1)
            handle.write(f"{user}\t{item_number[event.item_id]}\t4\t{int(event.ts)}\n")
