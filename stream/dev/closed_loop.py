"""The demo's A/B test and its site in one process, without a broker: every variant's model
learns every event, and a reader is shown their variant's latest list at once.

``stream demo`` runs the same variants in a real worker behind a real broker, where a list
arrives a little after the click that asked for it; this loop leaves that delay out, so the
tests (and whoever tunes a variant) get the ground-truth measures in seconds, seeded.
"""

from __future__ import annotations

from collections.abc import Mapping

from stream.dev.demo_variants import demo_variant_models
from stream.dev.ground_truth import GroundTruth
from stream.dev.simulate import Simulator
from stream.events import Interaction, parse_interaction, parse_item
from stream.feed.quality import assign_variant
from stream.models import ModelSettings, StreamRecommender

__all__ = ["run_closed_loop"]

def run_closed_loop(sim: Simulator, variants: Mapping[str, float], visits: int, *,
                    k: int = 10, rate: float = 100.0, start: float = 1.0e9,
                    min_clicks: int = 5,
                    models: Mapping[str, ModelSettings] | None = None) -> GroundTruth:
    """``visits`` reader visits at ``rate`` a second of simulated time: each reader is
    shown the list their variant (by :func:`~stream.feed.quality.assign_variant`, as the
    worker assigns it) made after their last click or read; returns how the lists fit.
    ``models`` replaces :func:`demo_variant_models`."""
    settings = dict(models) if models is not None else demo_variant_models(variants)
    recommenders = {name: StreamRecommender(s) for name, s in settings.items()}
    weights = {name: w for name, w in variants.items() if name in recommenders}
    truth = GroundTruth(sim.item_by_id, min_clicks=min_clicks, k=k)
    now = start
    for ev in sim.catalogue(now):
        item = parse_item(ev.value)
        for model in recommenders.values():
            model.learn_item(item)
    served: dict[str, list[str]] = {}
    listed: dict[str, list[tuple[str, str]]] = {}
    for _ in range(visits):
        now += 1.0 / rate
        shown: tuple[str, ...] = ()
        clicked = False
        touched: set[str] = set()
        user = ""
        for ev in list(sim.events(now, served)):
            if ev.kind == "item":
                item = parse_item(ev.value)
                for model in recommenders.values():
                    model.learn_item(item)
                continue
            if ev.kind.startswith("malformed:"):
                continue
            event = parse_interaction(ev.value)
            if not isinstance(event, Interaction):
                continue
            for model in recommenders.values():
                model.learn_one(event)
            user = event.user_id
            if ev.kind == "impression":
                shown = ev.item_ids
            else:
                clicked |= ev.kind == "click"
                touched.add(user)
        variant = assign_variant(user, weights) if user else ""
        if user in served:
            truth.record(sim.reader_by_id[user], variant, listed[user], shown, clicked)
        for user_id in touched:
            recs = recommenders[variant].recommend(user_id, k, now)
            served[user_id] = [r.item_id for r in recs]
            listed[user_id] = [(r.item_id, r.reason) for r in recs]
    return truth
