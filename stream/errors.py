"""Exceptions of `stream`: one root, and the one that sends a message to its dead-letter topic."""

from __future__ import annotations

__all__ = ["BrokerError", "CorruptCheckpoint", "InvalidEvent", "StreamError", "UnprotectedViews"]


class StreamError(Exception):
    """Root of every exception this package raises on purpose."""


class InvalidEvent(StreamError):
    """A message that cannot be used: it goes to the dead-letter topic, the pipeline goes on.

    ``reason`` is a short code from a small, known set (a metric label and the
    ``stream-dlq-reason`` header); ``detail`` says what exactly was wrong.
    """

    REASONS = frozenset(
        {
            "empty",
            "too_large",
            "not_json",
            "not_object",
            "missing_field",
            "wrong_type",
            "empty_id",
            "bad_value",
            "unknown_type",
            "processing_error",
        }
    )

    def __init__(self, reason: str, detail: str) -> None:
        if reason not in self.REASONS:
            raise ValueError(f"unknown dead-letter reason {reason!r}")
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class BrokerError(StreamError):
    """The embedded broker could not be started or reached."""


class UnprotectedViews(StreamError):
    """The worker would serve readers' lists beyond the loopback to anyone: it does not start.

    The message says what to set (``STREAM_WEB_TOKEN``, ``STREAM_WEB_TRUSTED_NETWORK`` or
    ``STREAM_WEB_HOST``); ``stream worker`` prints it and exits with code 2.
    """


class CorruptCheckpoint(StreamError, ValueError):
    """A value of the users table that is not a checkpoint: bad compression, not JSON, or not
    the fields a checkpoint has. The worker logs it and serves the user as a new one."""
