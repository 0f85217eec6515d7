"""What every synthetic news site here is made of: headlines by topic in English and Chinese,
random draws by weight (Zipf among them), and interaction messages as the worker reads them.

:class:`~stream.dev.simulate.Simulator` (the demo's site, closed loop) and
:class:`~stream.bench.workload.Workload` (the benchmark's, open loop) both build on these.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import orjson

from stream.events import Item

__all__ = [
    "TOPICS",
    "TOPIC_NAMES",
    "SimItem",
    "WeightedDraw",
    "headline",
    "interaction_json",
]

T = TypeVar("T")

# Per topic: English subjects and predicates, Chinese subjects and predicates, sub-tags.
TOPICS: dict[str, dict[str, Sequence[str]]] = {
    "economy": {
        "en_s": [
            "Central bank",
            "Inflation",
            "Stock markets",
            "Oil prices",
            "The euro",
            "Housing market",
            "Unemployment",
            "Bond yields",
            "Retail sales",
            "Small firms",
        ],
        "en_p": [
            "rose for a third month",
            "fell as rates bit",
            "surprised economists",
            "hit a two-year high",
            "slowed sharply",
            "rebounded after a weak quarter",
            "worried investors",
            "beat forecasts",
        ],
        "zh_s": ["央行", "股市", "房价", "通胀", "人民币", "油价", "就业市场"],
        "zh_p": ["连续三个月上涨", "大幅下跌", "超出市场预期", "创两年新高", "引发投资者担忧"],
        "sub": ["markets", "rates", "jobs"],
    },
    "politics": {
        "en_s": [
            "Parliament",
            "The prime minister",
            "Opposition leaders",
            "The senate",
            "City council",
            "Election officials",
            "The coalition",
            "Voters",
        ],
        "en_p": [
            "passed a budget bill",
            "faced a confidence vote",
            "clashed over tax reform",
            "called snap elections",
            "backed a new climate law",
            "rejected the proposal",
        ],
        "zh_s": ["国会", "总理", "反对党", "市议会", "选民"],
        "zh_p": ["通过预算案", "面临信任投票", "就税改激烈辩论", "宣布提前选举"],
        "sub": ["elections", "government", "policy"],
    },
    "sport": {
        "en_s": [
            "The home side",
            "The champions",
            "A teenage striker",
            "The national team",
            "The veteran goalkeeper",
            "The coach",
            "The underdogs",
            "Marathon runners",
        ],
        "en_p": [
            "won the cup final on penalties",
            "scored twice in the derby",
            "crashed out of the tournament",
            "signed a record transfer",
            "broke a world record",
            "staged a late comeback",
        ],
        "zh_s": ["国家队", "主队", "卫冕冠军", "年轻前锋", "马拉松选手"],
        "zh_p": ["点球大战夺冠", "德比战梅开二度", "爆冷出局", "打破世界纪录", "完成惊天逆转"],
        "sub": ["football", "athletics", "tennis"],
    },
    "tech": {
        "en_s": [
            "A chip maker",
            "The smartphone giant",
            "An AI startup",
            "Social networks",
            "Electric car makers",
            "Cloud providers",
            "Hackers",
            "A quantum lab",
        ],
        "en_p": [
            "unveiled a faster processor",
            "faced a privacy probe",
            "raised new funding",
            "cut prices again",
            "suffered a global outage",
            "released an open model",
        ],
        "zh_s": ["芯片企业", "手机巨头", "人工智能初创公司", "电动汽车厂商", "云服务商"],
        "zh_p": ["发布新一代处理器", "面临隐私调查", "完成新一轮融资", "宣布降价", "开源大模型"],
        "sub": ["ai", "gadgets", "security"],
    },
    "science": {
        "en_s": [
            "Astronomers",
            "A space probe",
            "Climate scientists",
            "Biologists",
            "Physicists",
            "Researchers",
            "A deep-sea mission",
            "Geologists",
        ],
        "en_p": [
            "found water on a distant moon",
            "mapped an ancient reef",
            "warned of record heat",
            "discovered a new species",
            "detected a mysterious signal",
            "drilled deep into the ice",
        ],
        "zh_s": ["天文学家", "探测器", "气候科学家", "生物学家", "研究人员"],
        "zh_p": ["发现遥远卫星上的水", "发布极端高温警告", "发现新物种", "探测到神秘信号"],
        "sub": ["space", "climate", "biology"],
    },
    "culture": {
        "en_s": [
            "A debut novel",
            "The film festival",
            "A forgotten painter",
            "The orchestra",
            "A streaming series",
            "The museum",
            "A pop star",
            "Critics",
        ],
        "en_p": [
            "won a major prize",
            "opened to rave reviews",
            "returned after a decade",
            "sparked a heated debate",
            "broke box office records",
            "toured the country",
        ],
        "zh_s": ["新人小说", "电影节", "交响乐团", "网络剧", "博物馆", "流行歌手"],
        "zh_p": ["斩获大奖", "口碑爆棚", "时隔十年回归", "引发热议", "票房破纪录"],
        "sub": ["books", "film", "music"],
    },
}
TOPIC_NAMES: tuple[str, ...] = tuple(TOPICS)


@dataclass(frozen=True, slots=True)
class SimItem:
    """A generated article."""

    item_id: str
    title: str
    topic: str
    tags: tuple[str, ...]
    lang: str
    published_at: float

    def to_json(self, published_at: float | None = None) -> bytes:
        """The item as a ``stream.items.v1`` value, published at ``published_at`` (default:
        its own time)."""
        return orjson.dumps(
            {
                "item_id": self.item_id,
                "title": self.title,
                "tags": list(self.tags),
                "lang": self.lang,
                "published_at": self.published_at if published_at is None else published_at,
            }
        )

    def to_item(self, published_at: float) -> Item:
        """The item as the parsed :class:`~stream.events.Item` the models learn, published at
        ``published_at``."""
        return Item(
            item_id=self.item_id,
            title=self.title,
            published_at=published_at,
            tags=self.tags,
            lang=self.lang,
        )


def headline(rng: random.Random, index: int, zh_share: float, published_at: float) -> SimItem:
    """Article number ``index``: a topic, then a language (Chinese with chance ``zh_share``),
    a headline made of one of the topic's subjects and predicates, and a sub-tag."""
    topic = rng.choice(TOPIC_NAMES)
    spec = TOPICS[topic]
    if rng.random() < zh_share:
        lang = "zh"
        title = f"{rng.choice(spec['zh_s'])}{rng.choice(spec['zh_p'])}"
    else:
        lang = "en"
        title = f"{rng.choice(spec['en_s'])} {rng.choice(spec['en_p'])}"
    return SimItem(
        item_id=f"n{index:05d}",
        title=title,
        topic=topic,
        tags=(topic, rng.choice(spec["sub"])),
        lang=lang,
        published_at=round(published_at, 3),
    )


class WeightedDraw(Generic[T]):
    """Draws one of ``values`` with chances in proportion to ``weights``: one uniform number
    and a binary search in the cumulative weights (what :meth:`random.Random.choices` does,
    without summing the weights again at every draw).

    >>> draw = WeightedDraw.zipf(["a", "b", "c"], skew=1.0)
    >>> [round(w, 3) for w in draw.cumulative]
    [1.0, 1.5, 1.833]
    >>> draw.draw(random.Random(1)) in {"a", "b", "c"}
    True
    """

    __slots__ = ("cumulative", "values")

    def __init__(self, values: Sequence[T], weights: Iterable[float]) -> None:
        self.values = values
        self.cumulative = list(itertools.accumulate(weights))

    @classmethod
    def zipf(cls, values: Sequence[T], skew: float) -> WeightedDraw[T]:
        """Zipf chances by position: the value at rank ``r`` (from 1) weighs ``1 / r**skew``."""
        return cls(values, (1.0 / (r + 1) ** skew for r in range(len(values))))

    def draw(self, rng: random.Random) -> T:
        """One value, drawn with ``rng``."""
        cumulative = self.cumulative
        at = bisect.bisect(cumulative, rng.random() * cumulative[-1])
        return self.values[min(at, len(self.values) - 1)]


def interaction_json(
    event_id: str,
    kind: str,
    user_id: str,
    ts: float,
    *,
    item_id: str | None = None,
    item_ids: Sequence[str] | None = None,
    position: int | None = None,
    dwell_seconds: float | None = None,
) -> bytes:
    """A ``stream.interactions.v1`` value; the optional fields that are None are left out."""
    body: dict[str, object] = {"event_id": event_id, "type": kind, "user_id": user_id, "ts": ts}
    if item_id is not None:
        body["item_id"] = item_id
    if item_ids is not None:
        body["item_ids"] = list(item_ids)
    if position is not None:
        body["position"] = position
    if dwell_seconds is not None:
        body["dwell_seconds"] = dwell_seconds
    return orjson.dumps(body)
