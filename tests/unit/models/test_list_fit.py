"""What makes a list look right to a person: reasons that cannot be mistaken for the item,
no language the reader never reads without strong evidence, and a bounded share of
trending or new items."""

from __future__ import annotations

from stream.events import Interaction, Item
from stream.models import ModelSettings, StreamRecommender

DAY = 86400.0


def click(user: str, item: str, ts: float) -> Interaction:
    return Interaction(f"{user}-{item}-{ts}", "click", user, item, ts)


def model(**knobs: object) -> StreamRecommender:
    return StreamRecommender(ModelSettings(chinese_segmentation="bigrams", diversity=0.0,
                                           **knobs))


def learn(rec: StreamRecommender, items: dict[str, tuple[str, str, str]]) -> None:
    for item_id, (title, tag, lang) in items.items():
        rec.learn_item(Item(item_id=item_id, title=title, tags=(tag,), lang=lang or None,
                            published_at=0.0))


# --- reasons -------------------------------------------------------------------------------------


def test_a_reason_never_names_a_read_with_the_item_s_own_title() -> None:
    rec = model()
    learn(rec, {
        "a1": ("Housing market fell as rates bit", "economy", "en"),
        "a2": ("Housing market fell as rates bit", "economy", "en"),
        "b": ("Bond yields fell as rates bit", "economy", "en"),
        "s": ("Cup final goes to penalties", "sport", "en"),
    })
    rec.learn_one(click("u", "a1", DAY))
    [a2] = [r for r in rec.recommend("u", k=3, now=DAY) if r.item_id == "a2"]
    # the only read has the same title: said so, not "because you read “Housing …”"
    assert a2.reason == "because you read another article with this title"
    rec.learn_one(click("u", "b", DAY + 1))
    [a2] = [r for r in rec.recommend("u", k=3, now=DAY + 1) if r.item_id == "a2"]
    assert a2.reason == "because you read “Bond yields fell as rates bit”"
