"""Every topic is declared once, in stream/topics.py: what is created and what the agents
declare to Faust both come from there."""

from __future__ import annotations

import faust
import pytest

from stream.agents.common import raw_table, raw_topic
from stream.settings import Settings
from stream.topics import topic_spec, topic_specs


def test_every_topic_once_with_its_partitions_and_policy() -> None:
    s = Settings(partitions=6, app_id="shop")
    specs = topic_specs(s)
    names = [spec.name for spec in specs]
    assert len(names) == len(set(names))
    by_name = {spec.name: spec for spec in specs}
    # one partition, one order: labels, item facts and rules
    assert by_name[s.topic_comment_labels].partitions == 1
    assert by_name[s.topic_item_facts].partitions == 1
    assert by_name[s.topic_rules].partitions == 1
    assert {n for n, spec in by_name.items() if spec.compacted} == {
        s.topic_items, s.topic_recommendations, s.topic_user_profiles, s.topic_rules,
        "shop-users-changelog"
    }
    assert all(by_name[s.dlq(t)].partitions == 6 for t in s.input_topics)


def test_an_unknown_topic_is_refused() -> None:
    with pytest.raises(KeyError):
        topic_spec(Settings(), "stream.nothing.v1")


def test_faust_declarations_follow_the_specs() -> None:
    s = Settings(partitions=3, app_id="decl")
    app = faust.App(s.app_id, autodiscover=False)
    for name in (s.topic_items, s.topic_interactions, s.topic_comment_labels):
        topic, spec = raw_topic(app, s, name), topic_spec(s, name)
        assert topic.get_topic_name() == name and topic.partitions == spec.partitions
        assert bool(topic.compacting) == spec.compacted
    changelog = raw_table(app, s, "users").table.changelog_topic
    assert changelog.get_topic_name() == s.changelog("users") == "decl-users-changelog"
    assert changelog.partitions == 3 and changelog.compacting and changelog.deleting is False
