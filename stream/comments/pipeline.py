"""Where a comment goes: validate, score its sentiment, publish the score, and keep per-item
sentiment for ranking. Labelled comments teach the scorer online.

Pure like :mod:`stream.feed.pipeline`: raw messages in, messages to produce out.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

import orjson

from stream.errors import InvalidEvent
from stream.events import Comment, parse_comment, parse_comment_label
from stream.messages import Outgoing, RawMessage, limits_from, reject, validate_only
from stream.metrics import Metrics
from stream.sentiment.item_sentiment import ItemSentiment
from stream.sentiment.model import SentimentModel
from stream.settings import Settings

__all__ = ["CommentPipeline"]

log = logging.getLogger(__name__)


class CommentPipeline:
    """Scores comments, learns from labels, and keeps the decayed sentiment of each item."""

    def __init__(
        self,
        settings: Settings,
        metrics: Metrics,
        model: SentimentModel | None = None,
        items: ItemSentiment | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        #: comment ids whose score was counted, per scores partition, most recent last: a
        #: comment scored twice (a batch reprocessed after a crash) counts once
        self._counted: dict[int, OrderedDict[str, None]] = {}
        self.metrics = metrics
        self.model = model if model is not None else SentimentModel()
        self.items = (
            items
            if items is not None
            else ItemSentiment(
                half_life=settings.sentiment_half_life_seconds,
                max_items=settings.recommender.item_cap,
            )
        )
        self.clock = clock
        self.limits = limits_from(settings)

    def _reject(self, msg: RawMessage, error: InvalidEvent) -> Outgoing:
        return reject(msg, error, self.settings, self.metrics)

    def handle_comments(self, batch: Sequence[RawMessage]) -> list[Outgoing]:
        """Score a batch of comments: dead letters first, then one score per comment.

        Per-item sentiment counts every worker's published scores (:meth:`learn_scores`, fed
        by a reader of the whole scores topic), this worker's among them, rather than this
        worker's comments alone: comments are spread over the workers by ``comment_id``."""
        out: list[Outgoing] = []
        now = self.clock()
        comments: list[Comment] = []
        for msg in batch:
            try:
                comments.append(parse_comment(msg.value, self.limits, now))
            except InvalidEvent as exc:
                out.append(self._reject(msg, exc))
                continue
            self.metrics.events_consumed.labels(msg.topic, "comment").inc()
        if not comments:
            return out
        results = self.model.score_many([c.text for c in comments], [c.lang for c in comments])
        for comment, result in zip(comments, results, strict=True):
            self.metrics.sentiment_scored.labels(result.label, result.lang).inc()
            value = orjson.dumps(
                {
                    "comment_id": comment.comment_id,
                    "item_id": comment.item_id,
                    "user_id": comment.user_id,
                    "lang": result.lang,
                    "label": result.label,
                    "score": result.score,
                    "model": result.model,
                    "ts": comment.ts,
                }
            )
            out.append(
                Outgoing(self.settings.topic_comment_sentiment, comment.comment_id.encode(), value)
            )
        return out

    def learn_scores(self, batch: Sequence[RawMessage]) -> int:
        """Count published comment scores (all workers', read from the scores topic) into
        per-item sentiment; returns how many were counted. A score seen again for the same
        comment within the last ``sentiment_dedupe_window`` comments of its partition (the
        redelivery after a crash is within that) is not counted twice."""
        counted = 0
        window = self.settings.sentiment_dedupe_window
        for msg in batch:
            try:
                record = orjson.loads(msg.value or b"")
                score = record["score"]
                if score is None:
                    continue
                seen = self._counted.setdefault(msg.partition, OrderedDict())
                comment_id = str(record["comment_id"])
                if comment_id in seen:
                    self.metrics.events_duplicate.labels(msg.topic).inc()
                    continue
                seen[comment_id] = None
                if len(seen) > window:
                    seen.popitem(last=False)
                self.items.update(str(record["item_id"]), float(score), float(record["ts"]))
                counted += 1
            except (ValueError, KeyError, TypeError):  # written by us: a bug, not input
                log.exception("score %s[%d]@%d unreadable", msg.topic, msg.partition,
                              msg.offset)
        return counted

    def handle_labels(self, batch: Sequence[RawMessage]) -> list[Outgoing]:
        """Validate a batch of labelled comments; returns the dead letters. The group's agent
        only validates: every worker learns them all with :meth:`learn_labels`."""
        return validate_only(batch, lambda m: parse_comment_label(m.value, self.limits), "label",
                             self.settings, self.metrics)

    def learn_labels(self, batch: Sequence[RawMessage]) -> int:
        """Learn every valid label of a batch read from the whole labels topic (invalid ones
        are dead-lettered by the group's agent); returns how many taught a scorer."""
        learned = 0
        for msg in batch:
            try:
                label = parse_comment_label(msg.value, self.limits)
            except InvalidEvent:
                continue
            learned += self.model.learn_one(label.text, label.lang, label.label, label.score)
        self.metrics.sentiment_labels_learned.inc(learned)
        return learned

    def item_sentiment(self, item_id: str) -> tuple[float, float] | None:
        """(decayed mean, decayed comment count) of the item now, or None: the ranker's
        sentiment source."""
        mean, count = self.items.get(item_id, self.clock())
        return None if mean is None else (mean, count)

    def update_gauges(self) -> None:
        """Items with comment sentiment, by the label of their mean (no item ids)."""
        counts = {"positive": 0, "negative": 0, "neutral": 0}
        for _, mean in self.items.means():
            counts[self.model.label_of(mean)] += 1
        for label, n in counts.items():
            self.metrics.items_sentiment.labels(label).set(n)

    def item_sentiment_view(self, item_id: str, now: float) -> dict[str, object] | None:
        """The item's sentiment as the HTTP view answers it."""
        mean, count = self.items.get(item_id, now)
        if mean is None:
            return None
        return {
            "mean": round(mean, 4),
            "comments": round(count, 3),
            "label": self.model.label_of(mean),
            "half_life_seconds": self.items.half_life,
        }
