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
    "Rule",
    "RuleDeletion",
    "RuleKind",
    "Withdrawal",
    "interaction_json",
    "parse_catalog",
    "parse_comment",
    "parse_comment_label",
    "parse_interaction",
    "parse_item",
    "parse_rule",
]

InteractionType = Literal["impression", "click", "read"]
_INTERACTION_TYPES: frozenset[str] = frozenset({"impression", "click", "read"})
_SENTIMENT_LABELS: frozenset[str] = frozenset({"positive", "negative", "neutral"})
RuleKind = Literal["block_tag", "block_item", "boost", "pin"]
#: every kind of run-time rule (a metric label: the set is closed)
RULE_KINDS: tuple[RuleKind, ...] = ("block_tag", "block_item", "boost", "pin")
#: the deepest slot a pin or a boost may name (slots are 1-based)
MAX_RULE_POSITION = 64


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
class Withdrawal:
    """An item taken down (topic ``stream.items.v1``): a tombstone under the item's key, or
    an item event with ``"withdrawn": true``. A later item event without it brings it back."""

    item_id: str


@dataclass(frozen=True, slots=True)
class Rule:
    """An editor's run-time rule (topic ``stream.rules.v1``, keyed by ``rule_id``).

    ``block_tag`` and ``block_item`` keep items out of every list; ``pin`` puts an item at
    slot ``position`` of the lists of the readers the scope names (``topic``: readers who
    follow that tag, ``lang``: readers who read in that language, ``variant``: readers of
    that A/B variant; none: every reader); ``boost`` puts it there unless the model ranks it
    higher already. A rule holds until ``expires_at`` (epoch seconds; ``None``: until it is
    deleted with a tombstone).
    """

    rule_id: str
    kind: RuleKind
    #: the tag of a ``block_tag`` rule, the item id of the others
    target: str
    expires_at: float | None = None
    position: int = 1
    topic: str | None = None
    lang: str | None = None
    variant: str | None = None

    def active(self, now: float) -> bool:
        """Whether the rule holds at ``now``."""
        return self.expires_at is None or now < self.expires_at


@dataclass(frozen=True, slots=True)
class RuleDeletion:
    """A tombstone on ``stream.rules.v1``: the rule with this id no longer holds."""

    rule_id: str


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


def _kind(obj: dict[str, Any], name: str) -> str:
    """A required string field that says what a message is (an event's type, a rule's
    action); which values are known, the caller checks."""
    value = obj.get(name)
    if value is None:
        raise InvalidEvent("missing_field", f"required field {name!r} is missing")
    if not isinstance(value, str):
        raise InvalidEvent("wrong_type", f"{name!r} must be a string")
    return value


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


def _key_id(key: bytes | None, what: str, limits: EventLimits) -> str:
    """The id a message's key carries (a tombstone has nothing else)."""
    if key is None:
        raise InvalidEvent("missing_field", f"the message has no key: {what}")
    try:
        text = key.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidEvent("bad_value", "the message key is not UTF-8") from None
    return _id({"key": text}, "key", limits)


# --- parsers ------------------------------------------------------------------------------


def parse_item(
    raw: bytes | None, limits: EventLimits = DEFAULT_LIMITS, now: float | None = None
) -> Item:
    """Validate a ``stream.items.v1`` value."""
    return _item(_load_object(raw, limits), limits, now)


def parse_catalog(
    key: bytes | None, raw: bytes | None, limits: EventLimits = DEFAULT_LIMITS,
    now: float | None = None,
) -> Item | Withdrawal:
    """Validate a ``stream.items.v1`` message: an item, or its withdrawal (a tombstone,
    whose key names the item, or ``"withdrawn": true`` with the ``item_id``).

    >>> parse_catalog(b"n1", None)
    Withdrawal(item_id='n1')
    >>> parse_catalog(b"n1", b'{"item_id": "n1", "withdrawn": true}')
    Withdrawal(item_id='n1')
    """
    if raw is None:
        if key is None:  # a null value means nothing without a key to name the item
            raise InvalidEvent("empty", "message has no value (null) and no key")
        return Withdrawal(_key_id(key, "a tombstone names its item by the key", limits))
    obj = _load_object(raw, limits)
    withdrawn = obj.get("withdrawn")
    if withdrawn is not None and not isinstance(withdrawn, bool):
        raise InvalidEvent("wrong_type", "'withdrawn' must be true or false")
    if withdrawn:
        return Withdrawal(_id(obj, "item_id", limits))
    return _item(obj, limits, now)


def _item(obj: dict[str, Any], limits: EventLimits, now: float | None) -> Item:
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
    kind = _kind(obj, "type")
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


def _optional_id(obj: dict[str, Any], name: str, limits: EventLimits) -> str | None:
    return None if obj.get(name) is None else _id(obj, name, limits)


def parse_rule(
    key: bytes | None, raw: bytes | None, limits: EventLimits = DEFAULT_LIMITS
) -> Rule | RuleDeletion:
    """Validate a ``stream.rules.v1`` message: the key is the rule id, a tombstone deletes
    the rule, a value is one rule (see :class:`Rule`)::

        {"action": "block", "tag": "sponsored"}
        {"action": "block", "item_id": "n13", "expires_at": 1767225600}
        {"action": "pin", "item_id": "n42", "position": 1, "expires_at": 1767225600,
         "topic": "economy", "lang": "en", "variant": "control"}
        {"action": "boost", "item_id": "n7", "position": 3, "expires_at": 1767225600}

    A pin or a boost must expire (``expires_at``, epoch seconds): an editor's pick that
    nobody remembers to take back would hold for ever. An expiry in the past is valid (the
    rule no longer holds): a compacted topic keeps old rules, and reading them again after a
    restart must not dead-letter them.

    >>> rule = parse_rule(b"r1", b'{"action": "block", "tag": "Ads"}')
    >>> rule.rule_id, rule.kind, rule.target, rule.expires_at
    ('r1', 'block_tag', 'ads', None)
    >>> parse_rule(b"r1", None)
    RuleDeletion(rule_id='r1')
    """
    rule_id = _key_id(key, "a rule's key is its id", limits)
    if raw is None:
        return RuleDeletion(rule_id)
    obj = _load_object(raw, limits)
    if obj.get("rule_id") is not None and obj["rule_id"] != rule_id:
        raise InvalidEvent("bad_value", "'rule_id' differs from the message key")
    action = _kind(obj, "action")
    item_id = _optional_id(obj, "item_id", limits)
    expires_at = _number(obj, "expires_at", required=action in ("pin", "boost"))
    if action == "block":
        tag = _optional_id(obj, "tag", limits)
        if (tag is None) == (item_id is None):
            raise InvalidEvent("bad_value", "a block names exactly one of 'tag' and 'item_id'")
        if any(obj.get(f) is not None for f in ("position", "topic", "lang", "variant")):
            raise InvalidEvent("bad_value", "a block holds for every reader: no position "
                               "or scope")
        if tag is not None:
            return Rule(rule_id, "block_tag", tag.strip().lower(), expires_at)
        assert item_id is not None
        return Rule(rule_id, "block_item", item_id, expires_at)
    if action not in ("pin", "boost"):
        raise InvalidEvent("unknown_type", f"unknown rule action {action[:40]!r}")
    if item_id is None:
        raise InvalidEvent("missing_field", f"a {action} needs 'item_id'")
    position = obj.get("position", 1 if action == "pin" else 3)
    if isinstance(position, bool) or not isinstance(position, int):
        raise InvalidEvent("wrong_type", "'position' must be an integer")
    if not 1 <= position <= MAX_RULE_POSITION:
        raise InvalidEvent("bad_value", f"'position' must be 1 to {MAX_RULE_POSITION}")
    topic = _optional_id(obj, "topic", limits)
    kind: RuleKind = "pin" if action == "pin" else "boost"
    return Rule(rule_id, kind, item_id, expires_at, position,
                topic.strip().lower() if topic is not None else None, _lang(obj),
                _optional_id(obj, "variant", limits))
