"""An impression's ranker features, taken from the few rows they need (``rows``), are those
taken from the whole catalogue's arrays: bit for bit, but for the last bits of the
click-through rate feature."""

from __future__ import annotations

import numpy as np

from stream.events import Interaction
from stream.models import StreamRecommender
from stream.models.scoring import F, Rows, Scorer
from stream.settings import Settings
from tests.unit.models.synthetic import make_world, reading_sessions


def whole_catalogue(scorer: Scorer, now: float, items: np.ndarray) -> Rows:
    """The terms of ``items`` read off arrays over the whole catalogue, as the first stage
    once computed them for every batch: the oracle the few-rows path must equal."""
    stats, cat = scorer.stats, scorer.pool.catalog
    n = len(cat)
    pop = stats.popularity.scores(now, n)
    shown = stats.shown.scores(now, n)
    clicks = np.maximum(stats.clicked.scores(now, n), 0.0)
    base_ctr = (min(max(float(clicks.sum()) / float(shown.sum()), 1e-3), 0.5)
                if shown.sum() > 0 else 0.05)
    top = max(float(pop.max()), 0.0) if n else 0.0
    clipped = np.maximum(pop, 0.0)
    pop_norm = np.log1p(clipped) / np.log1p(top) if top > 0 else clipped
    known = cat.has_metadata[:n] & (cat.published_at[:n] > 0)
    born = np.where(known, cat.published_at[:n], cat.first_seen[:n])
    fresh = np.exp2(-np.maximum(now - born, 0.0) / scorer.settings.freshness_half_life_seconds)
    fresh[np.isnan(fresh)] = 0.0
    return Rows(now, pop_norm[items], fresh[items], clicks[items], shown[items], base_ctr)


def test_features_from_the_shown_rows_equal_those_from_the_whole_catalogue() -> None:
    world = make_world(seed=3, items_per_cluster=25)
    model = StreamRecommender(Settings().recommender)
    scorer = model.scorer
    for item in world.items[:-20]:  # the last 20 arrive only through events (stubs)
        model.learn_item(item)
    everything = [item.item_id for item in world.items]
    rng = np.random.default_rng(7)
    compared = 0
    exercised = dict.fromkeys(("content", "collab", "popularity", "ctr", "exposure",
                               "freshness"), 0)
    for n, click in enumerate(reading_sessions(world, n_users=40, reads=12, seed=5)):
        kind = ("click", "read", "impression")[n % 3]
        if kind == "impression":
            shown = tuple(str(i) for i in rng.choice(everything, size=8, replace=False))
            event = Interaction(f"i{n}", "impression", click.user_id, "", click.ts,
                                item_ids=shown)
            row = model.users.index.get(click.user_id)
            items = np.array([model.pool.index(i, click.ts) for i in shown], dtype=np.int64)
            view = scorer.user_view(row, click.ts)
            whole = scorer.features(view, items, whole_catalogue(scorer, click.ts, items))
            rows = scorer.features(view, items, scorer.rows(click.ts, items))
            # equal but for the overall click-through rate, a ratio of totals kept as counts
            # change rather than summed over the catalogue: the last bits may differ
            ctr = F["ctr"]
            assert np.array_equal(np.delete(whole, ctr, 1), np.delete(rows, ctr, 1)), n
            np.testing.assert_allclose(whole[:, ctr], rows[:, ctr], rtol=1e-12, atol=1e-12)
            assert np.isfinite(whole).all()
            compared += 1
            for name in exercised:
                exercised[name] += int(np.count_nonzero(whole[:, F[name]]))
        elif kind == "read":
            event = Interaction(click.event_id, "read", click.user_id, click.item_id,
                                click.ts, dwell_seconds=float(rng.uniform(5, 200)))
        else:
            event = click
        model.learn_one(event)
    assert compared > 100
    # every catalogue-dependent feature was non-zero in some of the rows compared
    assert all(count > 0 for count in exercised.values()), exercised
