"""The comment path on a real broker: scores out for English and Chinese, honest "unscored",
labels change later scores, and what the scorer learned survives a worker restart."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from stream.dev.broker import EmbeddedBroker
from tests.helpers import produce, read_topics, wait_metrics, worker_process, worker_settings
from tests.integration.test_http_views import get

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def comment(topic: str, cid: str, text: str, lang: str | None = None,
            item: str = "n1") -> tuple[str, bytes, bytes]:
    value: dict[str, Any] = {"comment_id": cid, "user_id": "u1", "item_id": item, "text": text,
                             "ts": time.time()}
    if lang:
        value["lang"] = lang
    return topic, cid.encode(), orjson.dumps(value)


def scores(broker: EmbeddedBroker, topic: str, partitions: int, *wanted: str) -> dict[str, Any]:
    """The latest score of each comment, read until every ``wanted`` comment is there (a
    restarted worker may score the comments after its last commit again: at-least-once)."""
    records = asyncio.run(read_topics(
        broker.bootstrap, [topic], partitions,
        lambda r: set(wanted) <= {x.key.decode() for x in r}))
    return {r.key.decode(): orjson.loads(r.value) for r in records}


def test_comments_are_scored_and_labels_teach(broker: EmbeddedBroker, tmp_path: Path) -> None:
    settings = worker_settings(broker)
    t = settings.topic_comments
    first = [
        comment(t, "en-pos", "What a wonderful, well written article. I loved it!"),
        comment(t, "en-neg", "This is terrible, biased and boring journalism."),
        comment(t, "zh-pos", "这篇文章写得非常好，很有意思"),
        comment(t, "zh-neg", "内容太差了，完全不推荐"),
        comment(t, "ja", "この記事はとても面白いです"),
        comment(t, "ar", "هذا المقال رائع جدا"),
        comment(t, "fr-tagged", "Un article vraiment excellent", lang="fr"),
        (t, b"bad", b'{"comment_id": "x", "text": "no ids"}'),
    ]
    probe = "The plot was sick"  # VADER reads "sick" as negative
    with worker_process(settings, tmp_path):
        asyncio.run(produce(broker.bootstrap, [*first, comment(t, "probe-1", probe, "en")]))
        got = scores(broker, settings.topic_comment_sentiment, settings.partitions,
                     *(m[1].decode() for m in first[:7]), "probe-1")
        dlq = asyncio.run(read_topics(broker.bootstrap, [settings.dlq(t)], settings.partitions,
                                      lambda r: len(r) >= 1))
        # per-item sentiment, counted from the published scores (as every worker does)
        scored = [v["score"] for v in got.values() if v["score"] is not None]
        deadline = time.monotonic() + 30
        view: dict[str, Any] = {}
        while time.monotonic() < deadline:
            status, _, body = get(settings.web_port, "/items/n1/sentiment")
            view = orjson.loads(body) if status == 200 else {}
            if view.get("comments", 0) >= len(scored) - 0.01:  # decayed by seconds at most
                break
            time.sleep(0.2)
        # moderators say "sick" is praise here: teach it, then score the same text again
        labels = [(settings.topic_comment_labels, None,
                   orjson.dumps({"text": probe, "label": "positive", "lang": "en"}))] * 30
        asyncio.run(produce(broker.bootstrap, labels))
        wait_metrics(settings.metrics_port,
                     lambda m: m.get("stream_sentiment_labels_learned_total", 0) >= 30)
        asyncio.run(produce(broker.bootstrap, [comment(t, "probe-2", probe, "en")]))
        after = scores(broker, settings.topic_comment_sentiment, settings.partitions, "probe-2")
    assert got["en-pos"]["label"] == "positive" and got["en-pos"]["lang"] == "en"
    assert got["en-neg"]["label"] == "negative"
    assert got["zh-pos"]["label"] == "positive" and got["zh-pos"]["lang"] == "zh"
    assert got["zh-neg"]["label"] == "negative" and got["zh-neg"]["score"] < 0
    for cid in ("ja", "ar", "fr-tagged"):
        assert got[cid]["label"] == "unscored" and got[cid]["score"] is None, got[cid]
    assert set(got["en-pos"]) == {"comment_id", "item_id", "user_id", "lang", "label", "score",
                                  "model", "ts"}
    assert -1.0 <= got["en-neg"]["score"] <= 1.0
    assert dict(dlq[0].headers)["stream-dlq-reason"] == b"missing_field"
    assert after["probe-2"]["score"] > got["probe-1"]["score"]
    assert len(scored) == 5  # English and Chinese; the other three are unscored
    assert view["comments"] == pytest.approx(len(scored), abs=0.01), view
    assert view["mean"] == pytest.approx(sum(scored) / len(scored), abs=0.01), view

    # a new worker process on the same topics rebuilds the scorer from the labels topic
    with worker_process(settings, tmp_path):
        asyncio.run(produce(broker.bootstrap, [comment(t, "probe-3", probe, "en")]))
        final = scores(broker, settings.topic_comment_sentiment, settings.partitions, "probe-3")
    assert final["probe-3"]["score"] == pytest.approx(after["probe-2"]["score"], abs=1e-9)
