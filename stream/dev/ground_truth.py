"""How well the lists served fit the simulated readers, measured against their true tastes.

The worker's live quality (HR@10, NDCG@10, MRR) asks whether a click landed on the last list
published: high by construction where readers can only click what they are shown. The
simulator knows what each reader really likes (:class:`~stream.dev.simulate.Reader`), so
the demo and the tests can ask what matters instead: is the list on the reader's taste, in
the languages they read, and how often should and do they click it?
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from stream.dev.simulate import Reader
from stream.dev.synthetic import SimItem

__all__ = ["FitTotals", "GroundTruth", "is_discovery"]


def is_discovery(reason: str) -> bool:
    """Whether a reason says the item was chosen for being trending or new rather than for
    the reader: the list's exploration slots.

    >>> [is_discovery(r) for r in ("trending in tech", "new in sport", "popular now",
    ...                            "new in tech, a topic you follow", "because you read “X”")]
    [True, True, True, False, False]
    """
    if reason.startswith(("trending", "popular")):
        return True
    return reason.startswith("new") and not reason.endswith("a topic you follow")


@dataclass(slots=True)
class _ReaderSums:
    """One reader's sums of per-list shares, and their lists."""

    lists: int = 0
    on_taste: float = 0.0
    discovery: float = 0.0
    from_worker: float = 0.0
    other_language: float = 0.0


@dataclass(slots=True)
class FitTotals:
    """Running sums over the visits of one variant's readers: clicks per impression, and
    the shares of the worker's lists, averaged per reader first (each reader counts once,
    however active: the figures say how well the feed fits each reader)."""

    lists: int = 0
    clicks: int = 0
    #: the click chance of each list by the simulator's own click model, summed
    expected_clicks: float = 0.0
    readers: dict[str, _ReaderSums] = field(default_factory=dict)
    #: the readers of one language
    single_language: set[str] = field(default_factory=set)

    def figures(self) -> dict[str, float]:
        """The totals as rates: ``ctr`` observed and ``expected_ctr`` per impression; the
        mean over readers of the worker's lists' ``on_taste_top10`` (items in a topic the
        reader likes and a language they read), ``other_language_top10`` (readers of one
        language only) and ``discovery_top10`` (slots with a trending or new reason), and
        of ``from_worker_top10``, the impressions' share of items from the worker's list
        (the rest is the site's fill); NaN where nothing was counted."""
        n = self.lists
        nan = float("nan")

        def mean(values: list[float]) -> float:
            return sum(values) / len(values) if values else nan

        per = list(self.readers.values())
        return {
            "readers": float(len(per)),
            "impressions": float(n),
            "clicks": float(self.clicks),
            "ctr": self.clicks / n if n else nan,
            "expected_ctr": self.expected_clicks / n if n else nan,
            "on_taste_top10": mean([r.on_taste / r.lists for r in per]),
            "other_language_top10": mean([r.other_language / r.lists
                                          for u, r in self.readers.items()
                                          if u in self.single_language]),
            "discovery_top10": mean([r.discovery / r.lists for r in per]),
            "from_worker_top10": mean([r.from_worker / r.lists for r in per]),
        }


class GroundTruth:
    """Per variant, how the lists shown to readers fit their true tastes.

    Only lists shown to readers who had clicked at least ``min_clicks`` times before count:
    until then a reader's list says little about personalization (and the click that makes
    the count is the outcome, so a reader is counted from the list after it, never
    selected by it).

    >>> from stream.dev.synthetic import SimItem
    >>> items = {"a": SimItem("a", "A", "tech", ("tech",), "en", 0.0),
    ...          "b": SimItem("b", "B", "sport", ("sport",), "zh", 0.0)}
    >>> reader = Reader("r", {"tech": 1.0}, ("en",), 1.0)
    >>> truth = GroundTruth(items, min_clicks=0)
    >>> reader.clicked.add("a")  # the simulator has the click already
    >>> truth.record(reader, "control", [("a", "because you read “C”"),
    ...                                  ("b", "trending in sport")], ["a", "b"], clicked=True)
    >>> f = truth.by_variant()["control"]
    >>> f["on_taste_top10"], f["other_language_top10"], f["discovery_top10"], f["ctr"]
    (0.5, 0.5, 0.5, 1.0)
    """

    def __init__(self, items: Mapping[str, SimItem], min_clicks: int = 5, k: int = 10) -> None:
        self.items = items
        self.min_clicks = min_clicks
        self.k = k
        self.totals: dict[str, FitTotals] = {}

    def record(
        self,
        reader: Reader,
        variant: str,
        recommended: Sequence[tuple[str, str]],
        shown: Sequence[str],
        clicked: bool,
    ) -> None:
        """One visit of ``reader`` (of ``variant``): the worker's latest list for them
        (item ids with their reasons, best first), the impression the site showed, and
        whether they clicked it. The list's top ``k`` is what fits or not; the impression
        is what the click chance is of (the site leaves out what the reader clicked since
        the list was made and fills it up with recent articles)."""
        clicks_before = len(reader.clicked) - int(clicked)
        listed = [(self.items[i], reason) for i, reason in recommended[: self.k]
                  if i in self.items]
        shown_items = [self.items[i] for i in shown[: self.k] if i in self.items]
        if clicks_before < self.min_clicks or not listed or not shown_items:
            return
        t = self.totals.setdefault(variant, FitTotals())
        t.lists += 1
        t.clicks += int(clicked)
        t.expected_clicks += reader.click_chance(shown_items)
        r = t.readers.setdefault(reader.user_id, _ReaderSums())
        r.lists += 1
        n = len(listed)
        r.on_taste += sum(reader.likes(item) for item, _ in listed) / n
        r.discovery += sum(is_discovery(reason) for _, reason in listed) / n
        r.other_language += sum(item.lang not in reader.langs for item, _ in listed) / n
        ids = {item.item_id for item, _ in listed}
        r.from_worker += sum(item.item_id in ids for item in shown_items) / len(shown_items)
        if len(reader.langs) == 1:
            t.single_language.add(reader.user_id)

    def by_variant(self) -> dict[str, dict[str, float]]:
        """:meth:`FitTotals.figures` of each variant, by name."""
        return {variant: t.figures() for variant, t in sorted(self.totals.items())}
