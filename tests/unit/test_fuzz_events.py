"""Fuzzing the event path: whatever bytes arrive, parsing either yields a valid event or a
dead letter with a known reason, and the pipeline never raises."""

from __future__ import annotations

import math
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from stream.dev.corpus import bad_interactions
from stream.errors import InvalidEvent
from stream.events import Forget, Interaction, parse_interaction, parse_item
from stream.feed import FeedPipeline
from stream.messages import RawMessage
from stream.metrics import Metrics
from stream.models import StreamRecommender
from stream.settings import Settings

NOW = 1_700_000_000.0

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=40),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=20,
)
FIELDS = ["event_id", "type", "user_id", "item_id", "ts", "position", "dwell_seconds",
          "item_ids"]
good_values: dict[str, Any] = {
    "event_id": st.text(min_size=1, max_size=20),
    "type": st.sampled_from(["click", "read", "impression", "forget", "share", ""]),
    "user_id": st.text(max_size=20),
    "item_id": st.text(max_size=20),
    "ts": st.one_of(st.floats(min_value=-10, max_value=NOW * 2), st.integers(-5, 2**40)),
    "position": st.integers(-3, 2_000_000),
    "dwell_seconds": st.floats(allow_nan=False, allow_infinity=False),
    "item_ids": st.lists(st.text(max_size=8), max_size=4),
}
events = st.fixed_dictionaries(
    {}, optional={f: st.one_of(good_values[f], json_values) for f in FIELDS}
)


def check_parse(raw: bytes) -> None:
    try:
        event = parse_interaction(raw, now=NOW)
    except InvalidEvent as exc:
        assert exc.reason in InvalidEvent.REASONS
        return
    # anything accepted satisfies the contract
    assert event.user_id.strip() and event.event_id.strip()
    assert math.isfinite(event.ts) and 0 <= event.ts <= NOW + 86400
    if isinstance(event, Interaction):
        assert event.type in ("click", "read", "impression")
        assert event.item_id.strip() or event.item_ids
    else:
        assert isinstance(event, Forget)


@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes(raw: bytes) -> None:
    check_parse(raw)


@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(events)
def test_structured_events(obj: dict[str, Any]) -> None:
    check_parse(orjson.dumps(obj))


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.dictionaries(st.sampled_from(["item_id", "title", "body", "tags", "lang",
                                        "published_at"]), json_values))
def test_items(obj: dict[str, Any]) -> None:
    try:
        item = parse_item(orjson.dumps(obj), now=NOW)
    except InvalidEvent as exc:
        assert exc.reason in InvalidEvent.REASONS
    else:
        assert item.item_id.strip() and isinstance(item.title, str)


def test_the_fixed_corpus_gets_its_reasons() -> None:
    corpus = bad_interactions(now=NOW)
    assert len(corpus) >= 60
    for name, raw, reason in corpus:
        try:
            parse_interaction(raw, now=NOW)
        except InvalidEvent as exc:
            assert exc.reason == reason, name
        else:
            raise AssertionError(f"{name} was accepted")


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(st.one_of(st.binary(max_size=100), events.map(orjson.dumps)), max_size=20))
def test_the_pipeline_never_raises(batch: list[bytes]) -> None:
    s = Settings()
    pipeline = FeedPipeline(s, StreamRecommender(s.recommender), Metrics(CollectorRegistry()),
                            clock=lambda: NOW)
    msgs = [RawMessage(s.topic_interactions, 0, i, b"k", raw, NOW) for i, raw in enumerate(batch)]
    out = pipeline.handle_interactions(msgs)
    dead = [o for o in out if o.topic.endswith(".dlq")]
    # every message is either dead-lettered or counted as processed, never both, never lost
    consumed = pipeline.metrics.registry.get_sample_value
    valid = sum(
        consumed("stream_events_consumed_total", {"topic": s.topic_interactions, "type": t}) or 0
        for t in ("click", "read", "impression", "forget", "duplicate")
    )
    assert len(dead) + valid == len(batch)
