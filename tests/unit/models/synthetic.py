"""Generated worlds with a planted structure, for tests where each component must earn its
place. Nothing here comes from a real dataset."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from stream.events import Interaction, Item

TOPICS: dict[str, list[str]] = {
    "economy": "bank rates inflation market stocks budget tax trade jobs prices".split(),
    "sport": "match goal league coach striker final cup season player stadium".split(),
    "science": "space planet telescope climate species study physics robot genome lab".split(),
    "culture": "film album concert novel museum festival actor painting stage poet".split(),
}


@dataclass
class World:
    """Items in topics, each topic split into two hidden taste clusters that share words."""

    items: list[Item]
    topic: dict[str, str]
    cluster: dict[str, int]
    users: dict[str, tuple[str, int]] = field(default_factory=dict)


def make_world(seed: int = 0, items_per_cluster: int = 15, published_at: float = 0.0) -> World:
    """Titles are drawn from the topic's words only, so content sees the topic but not the
    cluster; only who reads what together reveals the cluster."""
    rng = np.random.default_rng(seed)
    items, topic, cluster = [], {}, {}
    for t, words in TOPICS.items():
        for c in (0, 1):
            for j in range(items_per_cluster):
                item_id = f"{t}-{c}-{j}"
                title = " ".join(rng.choice(words, size=4, replace=False))
                items.append(Item(item_id=item_id, title=title, tags=(t,),
                                  published_at=published_at))
                topic[item_id], cluster[item_id] = t, c
    return World(items, topic, cluster)


def reading_sessions(world: World, n_users: int, reads: int, seed: int = 0,
                     start: float = 1000.0) -> list[Interaction]:
    """Each user reads ``reads`` items of one (topic, cluster), 10% noise, in time order."""
    rng = np.random.default_rng(seed)
    by_group: dict[tuple[str, int], list[str]] = {}
    for item in world.items:
        by_group.setdefault((world.topic[item.item_id], world.cluster[item.item_id]),
                            []).append(item.item_id)
    groups = sorted(by_group)
    everything = [item.item_id for item in world.items]
    events: list[tuple[float, Interaction]] = []
    for u in range(n_users):
        group = groups[int(rng.integers(len(groups)))]
        user_id = f"u{u}"
        world.users[user_id] = group
        pool = by_group[group]
        chosen = list(rng.choice(pool, size=min(reads, len(pool)), replace=False))
        for r, item_id in enumerate(chosen):
            if rng.random() < 0.1:
                item_id = str(rng.choice(everything))
            ts = start + r * 600.0 + float(rng.random()) * 300.0
            events.append((ts, Interaction(f"e{u}-{r}", "click", user_id, str(item_id), ts)))
    events.sort(key=lambda pair: pair[0])
    return [event for _, event in events]


def hit_rate(recommended: dict[str, list[str]], targets: dict[str, set[str]]) -> float:
    """Share of users with at least one target in their list."""
    hits = [bool(set(recommended.get(u, [])) & t) for u, t in targets.items()]
    return float(np.mean(hits)) if hits else 0.0
