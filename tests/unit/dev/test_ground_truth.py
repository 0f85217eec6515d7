"""The fit of the lists to the simulated readers' true tastes: the measures themselves, and
the demo's A/B test run in one process against them."""

from __future__ import annotations

import pytest

from stream.dev.closed_loop import run_closed_loop
from stream.dev.demo_variants import demo_variant_models, demo_variants
from stream.dev.ground_truth import GroundTruth
from stream.dev.simulate import Reader, Simulator
from stream.dev.synthetic import SimItem

VISITS = 3000


def test_the_expected_click_chance_is_the_simulator_s_own() -> None:
    sim = Simulator(n_readers=1, n_items=200, seed=5)
    sim.catalogue(0.0)
    reader = sim.readers[0]
    shown = [i.item_id for i in sim.items[:10]]
    chance = reader.click_chance([sim.item_by_id[i] for i in shown])
    clicks = 0
    for t in range(4000):
        reader.clicked.clear()  # the same list every time
        clicks += any(e.kind == "click" for e in sim.visit(float(t), shown, reader))
    assert clicks / 4000 == pytest.approx(chance, abs=0.03)


def items() -> dict[str, SimItem]:
    return {
        "t1": SimItem("t1", "T1", "tech", ("tech",), "en", 0.0),
        "t2": SimItem("t2", "T2", "tech", ("tech",), "en", 0.0),
        "z": SimItem("z", "Z", "tech", ("tech",), "zh", 0.0),
        "s": SimItem("s", "S", "sport", ("sport",), "en", 0.0),
    }


def test_a_list_counts_once_the_reader_has_clicked_enough() -> None:
    truth = GroundTruth(items(), min_clicks=2)
    reader = Reader("r", {"tech": 1.0}, ("en",), 1.0)
    listed = [("t1", "because you read “T2”"), ("s", "trending in sport")]
    reader.clicked.add("t2")
    truth.record(reader, "control", listed, ["t1", "s"], clicked=True)  # its first click
    truth.record(reader, "control", listed, ["t1", "s"], clicked=False)  # one before
    assert truth.by_variant() == {}
    reader.clicked.add("x")
    truth.record(reader, "control", listed, ["t1", "s"], clicked=False)  # two before
    f = truth.by_variant()["control"]
    assert (f["impressions"], f["clicks"], f["on_taste_top10"], f["discovery_top10"]) == (
        1, 0, 0.5, 0.5)


def test_each_reader_counts_once_however_active() -> None:
    truth = GroundTruth(items(), min_clicks=0)
    busy = Reader("busy", {"tech": 1.0}, ("en",), 1.0)
    calm = Reader("calm", {"tech": 1.0}, ("en",), 1.0)
    for _ in range(9):
        truth.record(busy, "v", [("t1", ""), ("t2", "")], ["t1", "t2"], clicked=False)
    truth.record(calm, "v", [("z", ""), ("s", "")], ["z", "s"], clicked=False)
    f = truth.by_variant()["v"]
    assert f["on_taste_top10"] == 0.5  # (1 + 0) / 2 readers, not 9 / 10 lists
    assert f["other_language_top10"] == 0.25
    assert f["impressions"] == 10 and f["ctr"] == 0.0
    # the impression is what the click chance is of, the list what fits
    assert f["expected_ctr"] == pytest.approx(
        (9 * busy.click_chance(list(items().values())[:2])
         + calm.click_chance([items()["z"], items()["s"]])) / 10)


@pytest.fixture(scope="module")
def demo_fit() -> dict[str, dict[str, float]]:
    """The demo's variants and knobs, readers shown each list as soon as it is made."""
    variants = demo_variants(1 / 3)
    return run_closed_loop(Simulator(seed=7), variants, VISITS, rate=50.0).by_variant()


@pytest.mark.slow
def test_personal_lists_fit_the_readers_and_beat_popularity(
        demo_fit: dict[str, dict[str, float]]) -> None:
    control, diverse, popular = (demo_fit[v] for v in ("control", "diverse", "popularity"))
    assert min(control["readers"], diverse["readers"], popular["readers"]) >= 10
    assert control["on_taste_top10"] >= 0.7 and diverse["on_taste_top10"] >= 0.6
    assert popular["on_taste_top10"] <= control["on_taste_top10"] - 0.3
    assert control["ctr"] >= 2 * popular["ctr"]
    for variant in ("control", "diverse"):  # readers of one language get little else
        assert demo_fit[variant]["other_language_top10"] <= 0.1
    assert popular["discovery_top10"] == 1.0  # every item of the baseline is trending/new
    for f in demo_fit.values():  # the click model accounts for what readers did
        assert f["ctr"] == pytest.approx(f["expected_ctr"], abs=0.05)


@pytest.mark.slow
def test_the_language_rule_is_what_keeps_other_languages_out(
        demo_fit: dict[str, dict[str, float]]) -> None:
    variants = demo_variants(1 / 3)
    models = {name: s.model_copy(update={"unread_language_evidence": 0.0})
              for name, s in demo_variant_models(variants).items()}
    without = run_closed_loop(Simulator(seed=7), variants, VISITS, rate=50.0,
                              models=models).by_variant()
    for variant in ("control", "diverse"):
        assert without[variant]["other_language_top10"] > demo_fit[variant][
            "other_language_top10"] + 0.05
