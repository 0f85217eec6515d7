"""No user id and no comment text in log lines above DEBUG, whatever the events contain."""

from __future__ import annotations

import logging

import orjson
import pytest
from prometheus_client import CollectorRegistry

from stream.comments import CommentPipeline
from stream.feed import FeedPipeline
from stream.messages import RawMessage
from stream.metrics import Metrics
from stream.models import StreamRecommender
from stream.settings import Settings

USER = "user-4242-secret"
TEXT = "my private words about the mayor"


def test_nothing_personal_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    s = Settings()
    metrics = Metrics(CollectorRegistry())
    feed = FeedPipeline(s, StreamRecommender(s.recommender), metrics, clock=lambda: 1000.0)
    comments = CommentPipeline(s, metrics, clock=lambda: 1000.0)
    t = s.topic_interactions
    events = [
        {"event_id": "e1", "type": "click", "user_id": USER, "item_id": "i1", "ts": 999},
        {"event_id": "e2", "type": "dance", "user_id": USER, "item_id": "i1", "ts": 999},
        {"event_id": "e3", "type": "click", "user_id": USER, "item_id": "", "ts": 999},
        {"event_id": "e4", "type": "forget", "user_id": USER, "ts": 999},
    ]
    raw = [RawMessage(t, 0, i, USER.encode(), orjson.dumps(e), 999.0)
           for i, e in enumerate(events)]
    raw.append(RawMessage(t, 0, 9, USER.encode(), f'{{"user_id": "{USER}"'.encode(), 999.0))
    c = s.topic_comments
    texts = [
        {"comment_id": "c1", "user_id": USER, "item_id": "i1", "text": TEXT, "ts": 999},
        {"comment_id": "c2", "user_id": USER, "text": TEXT, "ts": 999},
    ]
    with caplog.at_level(logging.DEBUG):
        feed.handle_interactions(raw)
        comments.handle_comments([RawMessage(c, 0, i, b"k", orjson.dumps(x), 999.0)
                                  for i, x in enumerate(texts)])
        comments.handle_labels([RawMessage(s.topic_comment_labels, 0, 0, None,
                                           orjson.dumps({"text": TEXT, "label": "bad"}), 999.0)])
    assert any(r.levelno >= logging.INFO for r in caplog.records)  # dead letters were logged
    for record in caplog.records:
        if record.levelno > logging.DEBUG:
            line = record.getMessage() + (record.exc_text or "")
            assert USER not in line and TEXT not in line, line
