"""The feed pipeline: validate → dedupe → learn → publish; user checkpoints; live quality."""

from stream.feed.checkpoints import StateStore, decode_checkpoint, encode_checkpoint
from stream.feed.pipeline import FeedPipeline

__all__ = ["FeedPipeline", "StateStore", "decode_checkpoint", "encode_checkpoint"]
