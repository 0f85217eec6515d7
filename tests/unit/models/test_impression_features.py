"""An impression's ranker features, taken from the few rows they need (``rows``), are those
taken from the whole catalogue's arrays (``shared``): bit for bit, but for the last bits of the
click-through rate feature."""

from __future__ import annotations

import numpy as np

from stream.events import Interaction
from stream.models import StreamRecommender
from stream.models.scoring import F
from stream.settings import Settings
from tests.unit.models.synthetic import make_world, reading_sessions


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
            whole = scorer.features(view, items, scorer.shared(click.ts).rows(items))
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
