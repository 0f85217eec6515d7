"""The learning stage's shortcuts give what the plain way gives: a batch of item facts
summed per item and applied at once equals applying them one by one, up to rounding; an
impression's features are
what the list was served with, though the reader's columns are taken at its first click; the
catalogue's columns are taken once per item while the statistics do not change."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest

from stream.bench.workload import Workload
from stream.events import Forget, Interaction
from stream.models import ModelSettings, StreamRecommender, learning
from stream.models.ranker import FEATURES
from stream.models.retrieval import covisited_of
from stream.models.scoring import F

T0 = 1_000_000.0


def _model(**knobs: Any) -> tuple[StreamRecommender, Workload]:
    workload = Workload(300, 80, seed=5)
    rec = StreamRecommender(ModelSettings(**knobs))
    for item in workload.items(T0):
        rec.learn_item(item)
    return rec, workload


def _facts(n: int) -> list[list[Any]]:
    """The item facts a model writes for ``n`` events of the workload (with a forget)."""
    rec, workload = _model()
    events = [e.to_interaction(T0 + 60 + i * 3.0) for i, e in enumerate(workload.events(n))]
    facts: list[list[Any]] = []
    for e in events:
        rec.learn_one_sharing(e)
        facts.extend(rec.drain_facts())
    rec.forget_user_sharing(Forget("f", events[-1].user_id, events[-1].ts))
    facts.extend(rec.drain_facts())
    return facts


def _state(rec: StreamRecommender) -> dict[str, Any]:
    stats = rec.stats
    now = rec.clock
    n = len(rec.pool.catalog)
    covisit = stats.covisit
    decay = covisit.decay_to(now)  # stored units differ with the time they are kept from
    rows = [{int(j): float(w) * decay
             for j, w in zip(covisit.nbr[i], covisit.weight[i], strict=True) if j >= 0}
            for i in range(min(n, covisit.nbr.shape[0]))]
    return {
        "counts": {name: stat.scores(now, n) for stat, name in stats.decayed()},
        "tops": {name: stat.top(now) for stat, name in stats.decayed()},
        "totals": {name: stat.total(now) for stat, name in stats.decayed()},
        "covisit": rows, "ranker": stats.ranker.export_state(),
        "ids": list(rec.pool.catalog.ids), "read": set(rec.pool.catalog.read),
        "last_seen": rec.pool.catalog.last_seen[:n].copy(),
        "first_read": rec.pool.catalog.first_read[:n].copy(),
    }


def _assert_same(got: dict[str, Any], want: dict[str, Any]) -> None:
    """Equal but for rounding: counts summed per item before they are stored add up in
    another order (float64); co-visits are stored as float32."""
    assert got["ids"] == want["ids"]
    assert got["read"] == want["read"]
    np.testing.assert_array_equal(got["last_seen"], want["last_seen"])
    np.testing.assert_array_equal(got["first_read"], want["first_read"])
    assert got["ranker"] == want["ranker"]
    for name, counts in want["counts"].items():
        np.testing.assert_allclose(got["counts"][name], counts, rtol=1e-9, atol=1e-12)
        assert got["tops"][name] == pytest.approx(want["tops"][name], rel=1e-9)
        assert got["totals"][name] == pytest.approx(want["totals"][name], rel=1e-9)
    assert [set(r) for r in got["covisit"]] == [set(r) for r in want["covisit"]]
    for row, expected in zip(got["covisit"], want["covisit"], strict=True):
        for j, w in expected.items():
            assert row[j] == pytest.approx(w, rel=1e-5, abs=1e-6)


def test_facts_summed_per_item_equal_the_facts_one_by_one() -> None:
    facts = _facts(1500)
    kinds = {f[0] for f in facts}
    assert {"shown", "click", "read", "pop", "covisit", "rank", "uncovisit", "degree"} <= kinds
    one_by_one, _ = _model()
    for fact in facts:
        one_by_one.apply_facts([fact])
    batched, _ = _model()
    records = [batched.record_facts(facts[start:start + 700])  # a few large batches
               for start in range(0, len(facts), 700)]
    batched.apply_records(records[:1])
    batched.apply_records(records[1:])  # and several records as one
    want = _state(one_by_one)
    assert max(len(r) for r in want["covisit"]) > 10  # co-visits to compare
    _assert_same(_state(batched), want)
    assert batched.stats.ranker.warm


def test_a_record_is_json_and_smaller_than_its_facts() -> None:
    facts = _facts(1500)
    rec, _ = _model()
    record = rec.record_facts(facts)
    assert orjson.loads(orjson.dumps(record)) == record
    assert len(orjson.dumps(record)) < len(orjson.dumps(facts)) * 2 / 3  # 58% here
    # each item named once
    assert len(record["items"]) == len(set(record["items"]))


def test_a_listed_impression_learns_the_features_it_was_served_with() -> None:
    """The catalogue's columns come from before the list counted as exposure (its showings
    applied before the click changes nothing); the reader's are the same whether taken at
    the impression or at the first click, when the reader read nothing in between."""
    rec, workload = _model(ranker_min_examples=1)
    events = [e.to_interaction(T0 + 60 + i * 3.0) for i, e in enumerate(workload.events(600))]
    for e in events:
        rec.learn_one(e)
    user = events[-1].user_id
    row = rec.users.index[user]
    now = events[-1].ts + 10.0
    shown = [rec.pool.catalog.ids[i] for i in range(5)]
    items = np.arange(5, dtype=np.int64)
    scorer = rec.scorer
    served = scorer.features(scorer.user_view(row, now), items, scorer.rows(now, items))
    rec.learn_one(Interaction("imp", "impression", user, "", now, item_ids=tuple(shown)))
    rec.learn_one_sharing(Interaction("clk", "click", user, shown[2], now + 1.0))
    rank = [f for f in rec.drain_facts() if f[0] == "rank"]
    assert len(rank) == 1
    learned = np.array(rank[0][1], dtype=np.float64).reshape(-1, len(FEATURES))
    assert rank[0][2] == [False, False, True]  # skip-above: two negatives, the positive
    want = served[:3].astype(np.float16).astype(np.float64)
    # freshness moved on by a second: float16 cannot tell
    np.testing.assert_array_equal(learned, want)
    assert learned[:, F["exposure"]].tolist() == want[:, F["exposure"]].tolist()


def test_the_catalogue_columns_are_taken_once_while_statistics_stand_still() -> None:
    """Items' columns are taken as impressions miss them, then, once enough impressions
    did (one per 1,024 catalogue items), the rest of the catalogue's in one pass; applied
    facts start again."""
    workload = Workload(2100, 80, seed=5)
    rec = StreamRecommender(ModelSettings())
    for item in workload.items(T0):
        rec.learn_item(item)
    events = [e.to_interaction(T0 + 60 + i * 3.0) for i, e in enumerate(workload.events(400))]
    for e in events:
        rec.learn_one(e)
    n = len(rec.pool.catalog)
    assert 2 * 1024 < n < 3 * 1024  # a pass after three impressions that missed
    taken: list[int] = []
    catalogue_features = rec.scorer.catalogue_features

    def counted(items: Any, rows: Any, sentiment: bool = True) -> Any:
        taken.append(int(items.size))
        return catalogue_features(items, rows, sentiment)

    rec.scorer.catalogue_features = counted  # type: ignore[method-assign]
    ids = rec.pool.catalog.ids
    now = events[-1].ts

    def show(n: int, shown: list[str]) -> None:
        rec.learn_one_sharing(Interaction(f"i{n}", "impression", f"r{n}", "", now + n,
                                          item_ids=tuple(shown)))

    show(0, ids[:4])
    show(1, ids[:4])  # the same four items: taken once
    assert taken == [4]
    show(2, ids[2:6])  # two new ones
    assert taken == [4, 2]
    show(3, ids[10:14])  # the third impression to miss: the rest of the catalogue
    assert taken == [4, 2, n - 6]
    show(4, ids[100:110])
    assert len(taken) == 3
    rec.apply_facts(rec.drain_facts())  # the statistics changed: taken again
    show(5, ids[:4])
    assert taken[3:] == [4]


def test_a_prepared_batch_takes_the_catalogue_columns_in_one_call() -> None:
    """``prepare`` takes the columns of every known item a batch's impressions show in one
    call; the impressions then learn exactly the features they learn unprepared (taken at
    the same time), and an item the catalogue does not know yet gets no slot from it."""
    learned = []
    calls = []
    for prepared in (False, True):
        workload = Workload(2100, 80, seed=5)  # a pass over the catalogue after 3 misses
        rec = StreamRecommender(ModelSettings())
        for item in workload.items(T0):
            rec.learn_item(item)
        warm = [e.to_interaction(T0 + 60 + i * 3.0) for i, e in enumerate(workload.events(300))]
        for e in warm:
            rec.learn_one(e)
        ids = rec.pool.catalog.ids
        now = warm[-1].ts + 10.0
        batch = [Interaction(f"p{n}", "impression", f"r{n}", "", now,
                             item_ids=tuple(ids[5 * n:5 * n + 5]) + (("new",) if n == 2 else ()))
                 for n in range(4)]
        taken: list[int] = []
        catalogue_features = rec.scorer.catalogue_features

        def counted(items: Any, rows: Any, sentiment: bool = True,
                    log: list[int] = taken, original: Any = catalogue_features) -> Any:
            log.append(int(items.size))
            return original(items, rows, sentiment)

        rec.scorer.catalogue_features = counted  # type: ignore[method-assign]
        before = len(rec.pool.catalog)
        if prepared:
            rec.prepare(batch)
            assert taken == [20] and len(rec.pool.catalog) == before  # "new": no slot yet
        for e in batch:
            rec.learn_one_sharing(e)
        calls.append(taken)
        learned.append([rec.learner.impressions[rec.users.index[e.user_id]] for e in batch])
    # unprepared: two impressions' items, then the third miss takes the whole catalogue;
    # prepared: all 20 known items at once, then "new" when its impression gives it a slot
    assert calls[0][:2] == [5, 5] and len(calls[0]) == 3 and calls[1] == [20, 1]
    assert learned[0] == learned[1]


def test_a_record_names_each_item_once_in_the_order_first_met() -> None:
    from stream.models.facts import record_facts
    record = record_facts(ModelSettings(), [
        ["shown", ["a", "b", "a"], 1.0],
        ["covisit", "c", 2.0, ["b", "d", "e", "d"], 0.5],
        ["shown", ["e", "f"], 3.0]])
    assert record["items"] == ["a", "b", "c", "d", "e", "f"]
    assert record["at"] == [1.0, 1.0, 2.0, 2.0, 2.0, 3.0]
    assert record["shown"][0] == [0, 1, 4, 5]
    # c with b, d, e and d again (summed): pairs of positions, each once
    assert record["covisit"][:2] == [[1, 2, 2], [2, 3, 4]]


def _first_click_features(rec: StreamRecommender) -> dict[str, np.ndarray]:
    """Per reader, the features of the ranker's examples written since the last drain."""
    out: dict[str, np.ndarray] = {}
    for fact in rec.drain_facts():
        if fact[0] == "rank":
            out[str(len(out))] = np.array(fact[1]).reshape(-1, len(FEATURES))
    return out


@pytest.mark.parametrize("at_once", [1, 3])
def test_a_prepared_batch_takes_the_readers_columns_as_the_batch_found_them(
        at_once: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """In a prepared batch of enough readers, the reader's columns of a list's features at
    its first click are those of the reader before the batch: the same as unprepared for a
    reader with no read earlier in the batch, and without that read for one who had one
    (unprepared, it is in them). With fewer readers, they are taken click by click, as
    unprepared."""
    monkeypatch.setattr(learning, "_READERS_AT_ONCE", at_once)
    learned: list[dict[str, np.ndarray]] = []
    before: dict[str, np.ndarray] = {}
    for prepared in (False, True):
        rec, workload = _model(ranker_min_examples=1)
        events = [e.to_interaction(T0 + 60 + i * 3.0)
                  for i, e in enumerate(workload.events(600))]
        for e in events:
            rec.learn_one(e)
        readers = list(dict.fromkeys(e.user_id for e in reversed(events)
                                     if e.type != "impression"))[:2]
        now = events[-1].ts + 10.0
        ids = rec.pool.catalog.ids
        scorer = rec.scorer
        for n, user in enumerate(readers):
            shown = ids[10 * n:10 * n + 5]
            items = np.array([rec.pool.catalog.index[i] for i in shown], dtype=np.int64)
            row = rec.users.index[user]
            before[user] = scorer.features(scorer.user_view(row, now), items,
                                           scorer.rows(now, items))[:3]
            rec.learn_one(Interaction(f"imp{n}", "impression", user, "", now,
                                      item_ids=tuple(shown)))
        # the first reader reads an item off the list first; the second only clicks
        read = next(i for i in reversed(ids) if rec.users.position(
            rec.users.index[readers[0]], rec.pool.catalog.index[i]) < 0)
        batch = [Interaction("r0", "read", readers[0], read, now + 1.0, dwell_seconds=30.0),
                 Interaction("c0", "click", readers[0], ids[2], now + 2.0),
                 Interaction("c1", "click", readers[1], ids[12], now + 2.0)]
        rec.drain_facts()
        if prepared:
            rec.prepare(batch)
        for e in batch:
            rec.learn_one_sharing(e)
        learned.append(_first_click_features(rec))
    unprepared, prepared_ = learned
    assert sorted(unprepared) == sorted(prepared_) == ["0", "1"]
    if at_once > 2:  # two readers: click by click
        for reader in ("0", "1"):
            np.testing.assert_array_equal(prepared_[reader], unprepared[reader])
        return
    reader_columns = [F["content"], F["collab"], F["prior"]]
    half = {u: x.astype(np.float16).astype(np.float64) for u, x in before.items()}
    # the reader who read first: prepared, as before the batch; unprepared, with the read
    np.testing.assert_array_equal(prepared_["0"], half[readers[0]])
    assert not np.array_equal(unprepared["0"][:, reader_columns],
                              half[readers[0]][:, reader_columns])
    # the reader who only clicked: the same either way
    np.testing.assert_array_equal(prepared_["1"], unprepared["1"])
    np.testing.assert_array_equal(prepared_["1"], half[readers[1]])


def test_a_reader_forgotten_in_a_batch_leaves_what_prepare_took(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A forget in a prepared batch drops what ``prepare`` took of the reader: their row
    may be the next new reader's, whose columns must not be the forgotten one's."""
    monkeypatch.setattr(learning, "_READERS_AT_ONCE", 1)
    rec, workload = _model(ranker_min_examples=1)
    events = [e.to_interaction(T0 + 60 + i * 3.0) for i, e in enumerate(workload.events(400))]
    for e in events:
        rec.learn_one(e)
    user = next(e.user_id for e in reversed(events) if e.type != "impression")
    row = rec.users.index[user]
    now = events[-1].ts + 10.0
    ids = rec.pool.catalog.ids
    rec.learn_one(Interaction("imp", "impression", user, "", now, item_ids=tuple(ids[:5])))
    newcomer = [Interaction("imp2", "impression", "newcomer", "", now + 2.0,
                            item_ids=tuple(ids[:5])),
                Interaction("c2", "click", "newcomer", ids[1], now + 3.0)]
    batch = [Interaction("c", "click", user, ids[2], now + 1.0)]
    rec.prepare(batch + newcomer)
    taken = rec.learner._readers
    assert taken is not None and row in taken.at
    rec.forget_user_sharing(Forget("f", user, now + 1.5))
    assert row not in taken.at
    rec.drain_facts()
    for e in newcomer:
        rec.learn_one_sharing(e)
    assert rec.users.index["newcomer"] == row  # the forgotten reader's row, reused
    (clicked,) = [np.array(f[1]).reshape(-1, len(FEATURES)) for f in rec.drain_facts()
                  if f[0] == "rank"]
    # a reader with no reads before the click: no content, no co-visitation
    assert not clicked[:, [F["content"], F["collab"]]].any()


def test_lists_held_open_in_a_batch_pack_to_what_packing_each_event_gives() -> None:
    """A batch's lists stay unpacked until it ends (one pack per list, not one per event
    that touches it): the packed lists and the ranker's examples are bit for bit those of
    packing after every event."""
    packed: list[dict[int, bytes]] = []
    examples: list[list[Any]] = []
    for per_event in (True, False):
        rec, workload = _model(ranker_min_examples=1)
        events = [e.to_interaction(T0 + 60 + i * 3.0)
                  for i, e in enumerate(workload.events(1200))]
        facts: list[Any] = []
        for b in range(0, len(events), 200):
            batch = events[b:b + 200]
            for e in batch:
                rec.learn_one_sharing(e)
                if per_event:
                    rec.learner.settle()
                    assert not rec.learner._open
            if not per_event:
                assert rec.learner._open  # held open until the batch ends
            rec.settle()
            assert not rec.learner._open
            drained = rec.drain_facts()
            rec.apply_facts(drained)
            facts += drained
        packed.append(dict(rec.learner.impressions))
        examples.append([f for f in facts if f[0] == "rank"])
    assert len(examples[0]) > 20 and len(packed[0]) > 50
    assert examples[0] == examples[1]
    assert packed[0] == packed[1]


def test_covisited_of_many_readers_equals_the_scores_of_each_alone() -> None:
    """One gather for many readers gives each reader's co-visitation scores bit for bit as
    :meth:`Scorer._collab_at` gives them for that reader alone."""
    rec, workload = _model()
    events = [e.to_interaction(T0 + 60 + i * 3.0) for i, e in enumerate(workload.events(800))]
    for e in events:
        rec.learn_one(e)
    scorer, n = rec.scorer, len(rec.pool.catalog)
    now = events[-1].ts + 5.0
    rows = sorted({rec.users.index[e.user_id] for e in events[-200:] if e.type != "impression"})
    views = [scorer.user_view(row, now) for row in rows]
    keys, collab = covisited_of(scorer, views, n, now)
    assert keys.size > 100 and np.all(np.diff(keys) > 0)
    everything = np.arange(n, dtype=np.int64)
    for reader, view in enumerate(views):
        want = scorer._collab_at(view, everything, now)
        got = np.zeros(n)
        mine = (keys // n) == reader
        got[keys[mine] % n] = collab[mine]
        np.testing.assert_array_equal(got, want)
