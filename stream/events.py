"""The event contract: typed events and the parsers that validate raw Kafka values.

Every parser takes the raw bytes of a message and returns a typed event or raises
:class:`~stream.errors.InvalidEvent` with a short, bounded ``reason`` code (used as a metric
label and a dead-letter header) and a human-readable ``detail``. Unknown extra fields are
allowed and ignored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from stream.errors import InvalidEvent

__all__ = [
    "Comment",
    "CommentLabel",
    "EventLimits",
    "Forget",
    "Interaction",
    "InteractionType",
    "Item",
    "interaction_json",
    "parse_comment",
    "parse_comment_label",
    "parse_interaction",
    "parse_item",
]

InteractionType = Literal["impression", "click", "read"]
_INTERACTION_TYPES: frozenset[str] = frozenset({"impression", "click", "read"})
_SENTIMENT_LABELS: frozenset[str] = frozenset({"positive", "negative", "neutral"})


@dataclass(frozen=True, slots=True)
class EventLimits:
    """Bounds every parser enforces; built from the settings."""

    max_bytes: int = 65536
    max_id_chars: int = 256
    max_list_items: int = 1000
    max_text_chars: int = 20000
    #: events stamped later than ``now + max_future_seconds`` are rejected (``None``: no check)
    max_future_seconds: float | None = 86400.0


DEFAULT_LIMITS = EventLimits()


@dataclass(frozen=True, slots=True)
class Item:
    """An article, video or other piece of content (topic ``stream.items.v1``)."""

    item_id: str
    title: str
    published_at: float
    body: str = ""
    tags: tuple[str, ...] = ()
    lang: str | None = None


@dataclass(frozen=True, slots=True)
class Interaction:
    """A click, read or impression by one user (topic ``stream.interactions.v1``).

    An impression of a whole served list carries ``item_ids`` and an empty ``item_id``.
    """

    event_id: str
    type: InteractionType
    user_id: str
    item_id: str
    ts: float
    position: int | None = None
    dwell_seconds: float | None = None
    item_ids: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class Forget:
    """A request to erase every trace of a user (topic ``stream.interactions.v1``)."""

    event_id: str
    user_id: str
    ts: float


@dataclass(frozen=True, slots=True)
class Comment:
    """A reader's comment on an item (topic ``stream.comments.v1``)."""

    comment_id: str
    user_id: str
    item_id: str
    text: str
    ts: float
    lang: str | None = None


@dataclass(frozen=True, slots=True)
class CommentLabel:
    """A moderator's sentiment label for a text (topic ``stream.comment_labels.v1``).

    Exactly one of ``label`` and ``score`` is set by the parser's rules: a ``score`` in
    [-1, 1] wins when both are given.
    """

    text: str
    label: str | None = None
    score: float | None = None
    lang: str | None = None


# --- field helpers --------------------------------------------------------------------------


def _load_object(raw: bytes | None, limits: EventLimits) -> dict[str, Any]:
    if raw is None:
        raise InvalidEvent("empty", "message has no value (null)")
    if len(raw) > limits.max_bytes:
        raise InvalidEvent("too_large", f"{len(raw)} bytes > limit {limits.max_bytes}")
    if not raw:
        raise InvalidEvent("empty", "message value is empty")
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidEvent("not_json", f"not valid UTF-8 JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise InvalidEvent("not_object", f"expected a JSON object, got {type(obj).__name__}")
    return obj


def _id(obj: dict[str, Any], name: str, limits: EventLimits) -> str:
    if name not in obj or obj[name] is None:
        raise InvalidEvent("missing_field", f"required field {name!r} is missing")
    value = obj[name]
    if not isinstance(value, str):
        raise InvalidEvent("wrong_type", f"{name!r} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise InvalidEvent("empty_id", f"{name!r} is empty")
    if len(value) > limits.max_id_chars:
        raise InvalidEvent("too_large", f"{name!r} longer than {limits.max_id_chars} characters")
    if "\x00" in value:
        raise InvalidEvent("bad_value", f"{name!r} contains a NUL character")
    return value


def _text(
    obj: dict[str, Any], name: str, limits: EventLimits, *, required: bool, max_chars: int
) -> str:
    value = obj.get(name)
    if value is None:
        if required:
            raise InvalidEvent("missing_field", f"required field {name!r} is missing")
        return ""
    if not isinstance(value, str):
        raise InvalidEvent("wrong_type", f"{name!r} must be a string, got {type(value).__name__}")
    if len(value) > max_chars:
        raise InvalidEvent("too_large", f"{name!r} longer than {max_chars} characters")
    return value


def _number(
    obj: dict[str, Any], name: str, *, required: bool, minimum: float | None = 0.0
) -> float | None:
    value = obj.get(name)
    if value is None:
        if required:
            raise InvalidEvent("missing_field", f"required field {name!r} is missing")
        return None
    # bool is an int subclass: "ts": true is a type error, not 1.0
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidEvent("wrong_type", f"{name!r} must be a number, got {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number):
        raise InvalidEvent("bad_value", f"{name!r} is not finite")
    if minimum is not None and number < minimum:
        raise InvalidEvent("bad_value", f"{name!r} must be >= {minimum}, got {number}")
    return number


def _timestamp(obj: dict[str, Any], name: str, limits: EventLimits, now: float | None) -> float:
    ts = _number(obj, name, required=True)
    assert ts is not None
    future = limits.max_future_seconds
    if now is not None and future is not None and ts > now + future:
        raise InvalidEvent("bad_value", f"{name!r} is more than {future}s in the future")
    return ts


def _id_list(obj: dict[str, Any], name: str, limits: EventLimits) -> tuple[str, ...]:
    value = obj.get(name)
    if value is None:
        return ()
    if not isinstance(value, list):
        raise InvalidEvent("wrong_type", f"{name!r} must be a list of strings")
    if len(value) > limits.max_list_items:
        raise InvalidEvent("too_large", f"{name!r} has more than {limits.max_list_items} entries")
    out = []
    for entry in value:
        if not isinstance(entry, str):
            raise InvalidEvent("wrong_type", f"{name!r} must be a list of strings")
        if not entry.strip():
            raise InvalidEvent("empty_id", f"{name!r} contains an empty string")
        if len(entry) > limits.max_id_chars:
            raise InvalidEvent("too_large", f"an entry of {name!r} is too long")
        out.append(entry)
    return tuple(out)


def _lang(obj: dict[str, Any]) -> str | None:
    value = obj.get("lang")
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 35:
        raise InvalidEvent("wrong_type", "'lang' must be a short string such as 'en' or 'zh'")
    value = value.strip().lower()
    return value or None


# --- parsers ------------------------------------------------------------------------------


def parse_item(
    raw: bytes | None, limits: EventLimits = DEFAULT_LIMITS, now: float | None = None
) -> Item:
    """Validate a ``stream.items.v1`` value."""
    obj = _load_object(raw, limits)
    tags = _id_list(obj, "tags", limits)
    published_at = _timestamp(obj, "published_at", limits, now)
    return Item(
        item_id=_id(obj, "item_id", limits),
        title=_text(obj, "title", limits, required=True, max_chars=limits.max_text_chars),
        body=_text(obj, "body", limits, required=False, max_chars=limits.max_text_chars),
        tags=tags,
        lang=_lang(obj),
        published_at=published_at,
    )


def parse_interaction(
    raw: bytes | None, limits: EventLimits = DEFAULT_LIMITS, now: float | None = None
) -> Interaction | Forget:
    """Validate a ``stream.interactions.v1`` value: a click, read, impression or forget."""
    obj = _load_object(raw, limits)
    kind = obj.get("type")
    if kind is None:
        raise InvalidEvent("missing_field", "required field 'type' is missing")
    if not isinstance(kind, str):
        raise InvalidEvent("wrong_type", "'type' must be a string")
    event_id = _id(obj, "event_id", limits)
    user_id = _id(obj, "user_id", limits)
    ts = _timestamp(obj, "ts", limits, now)
    if kind == "forget":
        return Forget(event_id=event_id, user_id=user_id, ts=ts)
    if kind not in _INTERACTION_TYPES:
        raise InvalidEvent("unknown_type", f"unknown event type {kind[:40]!r}")
    item_ids: tuple[str, ...] = ()
    if kind == "impression" and obj.get("item_id") is None and "item_ids" in obj:
        item_ids = _id_list(obj, "item_ids", limits)
        if not item_ids:
            raise InvalidEvent("empty_id", "'item_ids' is empty")
        item_id = ""
    else:
        item_id = _id(obj, "item_id", limits)
    position = obj.get("position")
    if position is not None:
        if isinstance(position, bool) or not isinstance(position, int):
            raise InvalidEvent("wrong_type", "'position' must be an integer")
        if position < 0 or position > 1_000_000:
            raise InvalidEvent("bad_value", "'position' out of range")
    dwell = _number(obj, "dwell_seconds", required=False)
    return Interaction(
        event_id=event_id,
        type=kind,  # type: ignore[arg-type]  # checked against _INTERACTION_TYPES above
        user_id=user_id,
        item_id=item_id,
        ts=ts,
        position=position,
        dwell_seconds=dwell,
        item_ids=item_ids,
    )


def parse_comment(
    raw: bytes | None, limits: EventLimits = DEFAULT_LIMITS, now: float | None = None
) -> Comment:
    """Validate a ``stream.comments.v1`` value."""
    obj = _load_object(raw, limits)
    return Comment(
        comment_id=_id(obj, "comment_id", limits),
        user_id=_id(obj, "user_id", limits),
        item_id=_id(obj, "item_id", limits),
        text=_text(obj, "text", limits, required=True, max_chars=limits.max_text_chars),
        ts=_timestamp(obj, "ts", limits, now),
        lang=_lang(obj),
    )


def parse_comment_label(raw: bytes | None, limits: EventLimits = DEFAULT_LIMITS) -> CommentLabel:
    """Validate a ``stream.comment_labels.v1`` value (a label, a score in [-1, 1], or both)."""
    obj = _load_object(raw, limits)
    text = _text(obj, "text", limits, required=True, max_chars=limits.max_text_chars)
    if not text.strip():
        raise InvalidEvent("empty_id", "'text' is empty")
    score = _number(obj, "score", required=False, minimum=-1.0)
    if score is not None and score > 1.0:
        raise InvalidEvent("bad_value", "'score' must be in [-1, 1]")
    label = obj.get("label")
    if label is not None and (not isinstance(label, str) or label not in _SENTIMENT_LABELS):
        raise InvalidEvent("bad_value", "'label' must be positive, negative or neutral")
    if label is None and score is None:
        raise InvalidEvent("missing_field", "a label needs 'label' or 'score'")
    return CommentLabel(text=text, label=label, score=score, lang=_lang(obj))


def interaction_json(event: Interaction | Forget) -> dict[str, object]:
    """The ``stream.interactions.v1`` value of an event, as :func:`parse_interaction` reads it
    back (optional fields only where set).

    >>> value = interaction_json(Interaction("e1", "read", "u1", "n1", ts=5.0, dwell_seconds=30.0))
    >>> value["item_id"], value["dwell_seconds"], "position" in value
    ('n1', 30.0, False)
    """
    if isinstance(event, Forget):
        return {"event_id": event.event_id, "type": "forget", "user_id": event.user_id,
                "ts": event.ts}
    out: dict[str, object] = {"event_id": event.event_id, "type": event.type,
                              "user_id": event.user_id, "ts": event.ts}
    if event.item_ids:
        out["item_ids"] = list(event.item_ids)
    else:
        out["item_id"] = event.item_id
    if event.position is not None:
        out["position"] = event.position
    if event.dwell_seconds is not None:
        out["dwell_seconds"] = event.dwell_seconds
    return out
