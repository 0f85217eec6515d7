"""The one settings object of `stream`: every knob, read from the environment (prefix ``STREAM_``).

Nothing else in the package reads the environment. Build it once (``Settings()``) and pass it down.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from stream.models.settings import ModelSettings

__all__ = ["Settings"]

EMBEDDED_BROKER_NOTE = (
    "The embedded Tansu broker keeps everything in memory: all topics, offsets and "
    "state are gone when it stops. Point STREAM_BROKER at a real Kafka to keep data."
)


class Settings(BaseSettings):
    """Every setting of the worker, the CLI and the models.

    Each field can be set from the environment as ``STREAM_<FIELD>`` (case-insensitive),
    for example ``STREAM_BROKER=kafka://kafka:9092`` or ``STREAM_TOP_K=20``.
    """

    model_config = SettingsConfigDict(
        env_prefix="STREAM_", env_nested_delimiter="__", frozen=True, extra="forbid"
    )

    # --- Kafka -------------------------------------------------------------------------------
    app_id: str = Field("stream", description="Faust app id: the consumer group and table prefix.")
    broker: str = Field(
        "kafka://127.0.0.1:9092",
        description="Broker URL(s), ';'-separated: kafka://host:port. The embedded one by default.",
    )
    processing_guarantee: Literal["at_least_once", "exactly_once"] = Field(
        "at_least_once",
        description="exactly_once needs a real Kafka (idempotent, transactional producer).",
    )
    producer_max_batch_size: int = Field(
        1,
        ge=1,
        description="Faust producer batch size. 1 on Tansu (its ListOffsets bug loses counts "
        "on table recovery otherwise); raise it (e.g. 16384) on a real Kafka.",
    )
    broker_session_timeout: float = Field(10.0, gt=0, description="Consumer session timeout, s.")
    broker_heartbeat_interval: float = Field(3.0, gt=0, description="Heartbeat interval, s.")
    fetch_max_wait_ms: int = Field(
        20,
        ge=1,
        description="Longest a fetch of the worker's input waits on the broker. Tansu holds a "
        "fetch that found nothing until this wait is over, even when records arrive "
        "meanwhile (a fetch that finds records answers at once), so it is latency on the "
        "embedded broker; a real Kafka answers as soon as records arrive, so raise it there "
        "(e.g. 500) to send fewer requests while idle.",
    )
    follower_fetch_max_wait_ms: int = Field(
        200,
        ge=1,
        description="Longest a fetch of the topics every worker follows whole (catalogue, "
        "item facts, rules, comment scores, labels) waits on the broker with nothing to "
        "return: at most this late a worker sees what another published there (a new item, "
        "another worker's item facts, a rule), against the fetches an idle follower sends. "
        "A fetch with records to return answers at once, so catching up is as fast.",
    )
    commit_interval_seconds: float = Field(
        2.8,
        gt=0,
        description="How often consumed offsets are committed (after the producer "
        "is flushed): what a crash makes the next worker redeliver.",
    )
    topic_replication_factor: int = Field(1, ge=1)
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None

    # --- topics ------------------------------------------------------------------------------
    topic_items: str = "stream.items.v1"
    topic_interactions: str = "stream.interactions.v1"
    topic_comments: str = "stream.comments.v1"
    topic_comment_labels: str = "stream.comment_labels.v1"
    topic_recommendations: str = "stream.recommendations.v1"
    topic_comment_sentiment: str = "stream.comment_sentiment.v1"
    topic_user_profiles: str = "stream.user_profiles.v1"
    topic_item_facts: str = Field(
        "stream.item_facts.v1",
        description="What interactions change in item-level statistics, published by the "
        "worker that owns the user and applied by every worker (one partition: one order).",
    )
    topic_rules: str = Field(
        "stream.rules.v1",
        description="Editors' run-time rules (block, pin, boost), keyed by rule id, compacted; "
        "every worker reads all of it (one partition: one order).",
    )
    dlq_suffix: str = ".dlq"
    partitions: int = Field(4, ge=1, description="Partition count of every topic the app creates.")

    # --- worker ------------------------------------------------------------------------------
    store: str = Field(
        "memory://",
        description="Faust table store of the local copy of the user state; only memory:// "
        "(the state itself lives in the compacted users changelog on Kafka).",
    )
    data_dir: Path = Field(Path("var/stream"), description="Faust data dir (tables, state).")
    web_enabled: bool = True
    web_host: str = Field("127.0.0.1", description="Bind address of the HTTP views.")
    web_port: int = Field(6066, ge=0, le=65535)
    web_canonical_url: str | None = Field(
        None,
        description="URL other workers use to reach this one's HTTP views (forwarding a "
        "user's request to the worker that owns the user), e.g. http://worker-1:6066. "
        "Default: http://<web_host>:<web_port>.",
    )
    web_token: SecretStr | None = Field(
        None,
        description="Bearer token every HTTP view but /health requires (clients send "
        "'Authorization: Bearer <token>'); /metrics on metrics_port is not affected. "
        "Unset: the views answer anyone, which the worker allows only on a loopback "
        "web_host or with web_trusted_network.",
    )
    web_trusted_network: bool = Field(
        False,
        description="Serve the views with no token on a non-loopback web_host: only when a "
        "firewall or network policy already keeps every untrusted client from web_port.",
    )
    metrics_host: str = Field("127.0.0.1", description="Bind address of /metrics.")
    metrics_port: int = Field(9464, ge=0, le=65535, description="Port of /metrics; 0 disables.")
    output_linger_ms: int = Field(
        1, ge=0, description="How long the output producer waits to fill a batch, ms."
    )
    batch_max: int = Field(1000, ge=1, description="Most events handled as one batch.")
    batch_within: float = Field(
        0.005,
        gt=0,
        description="Longest wait, s, for more events to fill a batch: latency against "
        "throughput. An agent behind on its input (more events on the broker than it has "
        "read) reads on up to batch_max instead.",
    )
    batches_in_flight: int = Field(
        2,
        ge=1,
        description="Batches an agent has taken and not yet acknowledged, at most: it hands a "
        "batch's output and state writes to the producers and takes the next batch while "
        "they go to the broker; a batch is acknowledged once all it produced, and all every "
        "earlier batch produced, is on the broker. 1: each batch is delivered before the "
        "next is taken.",
    )
    max_event_bytes: int = Field(65536, ge=64, description="Longer messages are dead-lettered.")
    max_id_chars: int = Field(256, ge=1, description="Longest accepted id.")
    max_list_items: int = Field(1000, ge=1, description="Longest accepted tags/item_ids list.")
    max_future_seconds: float = Field(
        86400.0, ge=0, description="Events stamped further than this in the future are rejected."
    )
    dedupe_window: int = Field(
        64,
        ge=1,
        description="Event ids remembered per user: a redelivered event among them is not "
        "applied twice (at-least-once delivery replays what was not committed).",
    )
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    event_loop: Literal["uvloop", "asyncio"] = Field(
        "uvloop",
        description="The worker's event loop: uvloop where it is installed (a dependency on "
        "Linux and macOS), else asyncio's own; 'asyncio' always takes asyncio's own.",
    )

    # --- models ------------------------------------------------------------------------------
    top_k: int = Field(10, ge=1, le=1000)
    recommender: ModelSettings = Field(
        default_factory=ModelSettings,
        description="The recommender's knobs (stream/models/settings.py), one object handed "
        "to the model whole: STREAM_RECOMMENDER__<FIELD>, e.g. STREAM_RECOMMENDER__USER_CAP.",
    )

    # --- comment sentiment --------------------------------------------------------------------
    sentiment_enabled: bool = Field(True, description="Score comments and learn from labels.")
    sentiment_half_life_seconds: float = Field(
        6 * 3600.0, gt=0, description="Half-life of a comment's weight in its item's sentiment."
    )
    sentiment_dedupe_window: int = Field(
        100_000,
        ge=1,
        description="Comment ids remembered per scores partition, so a comment scored twice "
        "(a batch reprocessed after a crash) counts once in its item's sentiment.",
    )
    sentiment_use: Literal["feature", "guardrail", "both", "off"] = Field(
        "both",
        description="How per-item sentiment reaches ranking: a ranker feature, a guardrail "
        "that drops items whose discussion turned sour, both, or not at all.",
    )
    sentiment_guardrail_below: float = Field(
        -0.3, ge=-1, le=1, description="Items whose decayed mean sentiment is below this ..."
    )
    sentiment_guardrail_min_comments: float = Field(
        3.0, ge=0, description="... over at least this many (decayed) comments are not served."
    )

    # --- live quality and variants -----------------------------------------------------------
    variants: dict[str, float] = Field(
        default_factory=lambda: {"default": 1.0},
        description="A/B variants and their traffic weights, e.g. "
        '\'{"control": 0.5, "diverse": 0.5}\'. A user\'s variant is a stable hash of the id.',
    )
    variant_overrides: dict[str, dict[str, float | bool | str]] = Field(
        default_factory=dict,
        description="Per variant, recommender settings (ModelSettings) that differ from "
        'the rest, e.g. \'{"diverse": {"diversity": 0.5}}\'.',
    )
    quality_window: int = Field(1000, ge=1, description="Clicks in the rolling quality gauges.")
    last_lists_capacity: int = Field(
        1_000_000, ge=1, description="Users whose last published list is kept for live quality."
    )
    lag_interval_seconds: float = Field(5.0, gt=0, description="How often lag is measured.")

    # --- embedded broker -----------------------------------------------------------------------
    embedded_port: int = Field(9092, ge=1, le=65535)

    @model_validator(mode="before")
    @classmethod
    def _no_unknown_environment(cls, data: Any) -> Any:
        """Refuse a ``STREAM_*`` variable that names no setting: a typo, or a knob that moved
        (the recommender's knobs are ``STREAM_RECOMMENDER__<KNOB>``), would otherwise be
        ignored without a word and the worker would run with the default."""
        known = {f"STREAM_{name.upper()}" for name in cls.model_fields}
        nested = {f"STREAM_RECOMMENDER__{name.upper()}" for name in ModelSettings.model_fields}
        unknown = sorted(k for k in os.environ if k.upper().startswith("STREAM_")
                         and k.upper() not in known | nested)
        if unknown:
            hints = []
            for key in unknown:
                moved = f"STREAM_RECOMMENDER__{key.upper().removeprefix('STREAM_')}"
                close = [moved] if moved in nested else difflib.get_close_matches(
                    key.upper(), sorted(known | nested), n=1)
                hints.append(f"{key}" + (f" (did you mean {close[0]}?)" if close else ""))
            raise ValueError("unknown settings in the environment: " + ", ".join(hints))
        return data

    @field_validator("store")
    @classmethod
    def _memory_store_only(cls, value: str) -> str:
        """Faust's ``rocksdb://`` store files each write under the partition of the event
        being processed; the worker writes user checkpoints once a batch is delivered,
        outside any event, where that store fails every write and the agent stops: refused
        here, with the reason, rather than a worker that stops consuming."""
        if value != "memory://":
            raise ValueError(
                f"STREAM_STORE={value!r} is not supported, only memory://: user checkpoints "
                "are written after each batch, outside Faust's event context, where Faust's "
                "rocksdb:// store cannot tell their partition. The state is kept either way: "
                "it lives in the compacted users changelog on Kafka."
            )
        return value

    def variant_models(self) -> dict[str, ModelSettings]:
        """The recommender's settings of each A/B variant: :attr:`recommender` with the
        variant's overrides, validated (an unknown knob or a bad value raises
        ``ValueError``)."""
        base = self.recommender.model_dump()
        out = {}
        for name in self.variants:
            overrides = self.variant_overrides.get(name, {})
            unknown = set(overrides) - set(ModelSettings.model_fields)
            if unknown:
                raise ValueError(f"variant {name!r} overrides unknown settings {sorted(unknown)}")
            out[name] = ModelSettings.model_validate({**base, **overrides})
        return out

    @field_validator("web_token")
    @classmethod
    def _stripped_token(cls, value: SecretStr | None) -> SecretStr | None:
        """The token without surrounding white space (a Secret made from a file usually ends
        in a newline no client sends); ``STREAM_WEB_TOKEN=`` means no token, never the empty
        token, which ``Authorization: Bearer`` with nothing after it would match."""
        if value is None:
            return None
        token = value.get_secret_value().strip()
        return SecretStr(token) if token else None

    @property
    def web_loopback_only(self) -> bool:
        """Whether the HTTP views listen on a loopback address only (this machine alone)."""
        if self.web_host.lower() == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.web_host).is_loopback
        except ValueError:  # a host name: whatever it resolves to, maybe not the loopback
            return False

    @property
    def input_topics(self) -> tuple[str, ...]:
        """Topics the worker consumes; each has a dead-letter topic."""
        return (
            self.topic_items,
            self.topic_interactions,
            self.topic_comments,
            self.topic_comment_labels,
            self.topic_rules,
        )

    def dlq(self, topic: str) -> str:
        """Name of the dead-letter topic of ``topic``."""
        return topic + self.dlq_suffix

    def changelog(self, table: str) -> str:
        """The changelog topic of one of the worker's state tables."""
        return f"{self.app_id}-{table}-changelog"

    @property
    def bootstrap_servers(self) -> list[str]:
        """The broker URL as host:port strings for plain aiokafka clients."""
        out = []
        for url in self.broker.split(";"):
            url = url.strip()
            if "://" in url:
                url = url.split("://", 1)[1]
            if url:
                out.append(url.rstrip("/"))
        return out

    def kafka_client_options(self) -> dict[str, object]:
        """Security options for plain aiokafka clients (producers, consumers, admin)."""
        opts: dict[str, object] = {"security_protocol": self.security_protocol}
        if self.security_protocol.startswith("SASL"):
            opts["sasl_mechanism"] = self.sasl_mechanism
            opts["sasl_plain_username"] = self.sasl_username
            opts["sasl_plain_password"] = (
                self.sasl_password.get_secret_value() if self.sasl_password else None
            )
        if self.security_protocol.endswith("SSL"):
            import ssl

            opts["ssl_context"] = ssl.create_default_context(
                cafile=str(self.ssl_cafile) if self.ssl_cafile else None
            )
        return opts
