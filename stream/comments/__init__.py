"""The comment pipeline: validate, score sentiment, publish scores, keep per-item sentiment
(the scorers themselves are in :mod:`stream.sentiment`)."""

from stream.comments.pipeline import CommentPipeline

__all__ = ["CommentPipeline"]
