"""Per-item sentiment from every worker's published scores: each worker scores the comments
of its partitions, and every worker counts all scores, a comment scored twice once."""

from __future__ import annotations

import orjson
from prometheus_client import CollectorRegistry

from stream.comments import CommentPipeline
from stream.messages import Outgoing, RawMessage
from stream.metrics import Metrics
from stream.settings import Settings

S = Settings(sentiment_dedupe_window=3)
TEXTS = {"c1": "What a wonderful, well written article!", "c2": "Terrible, boring and biased.",
         "c3": "Brilliant reporting, I loved it.", "c4": "这篇文章写得非常好"}


def worker() -> CommentPipeline:
    return CommentPipeline(S, Metrics(CollectorRegistry()), clock=lambda: 2000.0)


def comment(cid: str, partition: int) -> RawMessage:
    value = {"comment_id": cid, "item_id": "n1", "user_id": "u", "text": TEXTS[cid],
             "ts": 1000.0 + int(cid[1:])}
    return RawMessage(S.topic_comments, partition, int(cid[1:]), cid.encode(),
                      orjson.dumps(value), 0.0)


def scores(out: list[Outgoing], partition: int) -> list[RawMessage]:
    return [RawMessage(o.topic, partition, n, o.key, o.value or b"", 0.0)
            for n, o in enumerate(out) if o.topic == S.topic_comment_sentiment]


def test_every_worker_counts_every_workers_scores_once() -> None:
    a, b, alone = worker(), worker(), worker()
    out_a = a.handle_comments([comment("c1", 0), comment("c2", 0)])
    out_b = b.handle_comments([comment("c3", 1), comment("c4", 1)])
    # one worker of every comment, which counts its own scores back from the topic
    alone.learn_scores(scores(alone.handle_comments(
        [comment(c, 0) for c in ("c1", "c2", "c3", "c4")]), 0))
    # nothing counted until the scores come back from the topic
    assert a.items.get("n1", 2000.0) == (None, 0.0)
    log = scores(out_a, 0) + scores(out_b, 1)
    assert a.learn_scores(log) == 4 and b.learn_scores(log) == 4
    want = alone.items.get("n1", 2000.0)
    assert want[0] is not None and want[1] > 3.0
    for w in (a, b):
        mean, count = w.items.get("n1", 2000.0)
        assert mean is not None and abs(mean - want[0]) < 1e-12 and abs(count - want[1]) < 1e-12


def test_a_comment_scored_twice_counts_once() -> None:
    a = worker()
    first = scores(a.handle_comments([comment("c1", 0), comment("c2", 0)]), 0)
    assert a.learn_scores(first) == 2
    once = a.items.get("n1", 2000.0)
    # the batch was reprocessed after a crash: the same comments scored and published again
    again = scores(a.handle_comments([comment("c1", 0), comment("c2", 0)]), 0)
    assert a.learn_scores(again) == 0
    assert a.items.get("n1", 2000.0) == once
    registry = a.metrics.registry
    assert registry.get_sample_value("stream_events_duplicate_total",
                                     {"topic": S.topic_comment_sentiment}) == 2


def test_labels_are_validated_by_the_group_and_learned_by_every_worker() -> None:
    label = {"text": "The plot was sick", "label": "positive", "lang": "en"}
    batch = [RawMessage(S.topic_comment_labels, 0, n, None, orjson.dumps(label), 0.0)
             for n in range(20)] + [RawMessage(S.topic_comment_labels, 0, 20, None, b"{", 0.0)]
    a, b = worker(), worker()
    before = a.model.score_many(["The plot was sick"], ["en"])[0].score
    dead = a.handle_labels(batch)  # the group's agent: dead letters only
    assert [o.topic for o in dead] == [S.dlq(S.topic_comment_labels)]
    assert a.model.score_many(["The plot was sick"], ["en"])[0].score == before
    assert a.learn_labels(batch) == 20 and b.learn_labels(batch) == 20  # every worker
    after = [w.model.score_many(["The plot was sick"], ["en"])[0].score for w in (a, b)]
    assert after[0] == after[1] and after[0] is not None and before is not None
    assert after[0] > before
