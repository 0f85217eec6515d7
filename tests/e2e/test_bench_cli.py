"""``stream bench`` with a tiny workload: every measurement runs, the report is written, and
nothing is left behind. No figure is asserted against a time: only that each was measured."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _processes_with(marker: str) -> set[int]:
    """Pids of live processes whose environment carries ``marker`` (children inherit it)."""
    needle = f"BENCH_E2E_MARKER={marker}".encode()
    pids = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if needle in (entry / "environ").read_bytes().split(b"\x00"):
                    pids.add(int(entry.name))
            except OSError:
                continue
    return pids


def _bench_dirs(tmp: Path) -> set[Path]:
    """The benchmark's temporary folders that exist now in ``tmp``."""
    return set(tmp.glob("stream-bench-*"))


def _run(tmp_path: Path, command: list[str], timeout: float
         ) -> tuple[subprocess.CompletedProcess[str], Path, str]:
    """``python COMMAND`` with a temporary folder of its own and a marker in its children's
    environment; returns the finished process, that folder and the marker."""
    marker = uuid.uuid4().hex
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAM_")}
    env["BENCH_E2E_MARKER"] = marker
    # a temporary folder of its own: another bench on the machine cannot be taken for what
    # this one left behind
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env["TMPDIR"] = str(tmp)
    proc = subprocess.run([sys.executable, *command], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=tmp_path)
    return proc, tmp, marker


def _bench(tmp_path: Path, *args: str, timeout: float = 240
           ) -> tuple[subprocess.CompletedProcess[str], Path, Path, str]:
    """``stream bench --out OUT ARGS`` in a temporary folder of its own; returns the finished
    process, OUT, that temporary folder, and the marker in its children's environment."""
    out = tmp_path / "out"
    proc, tmp, marker = _run(tmp_path, ["-m", "stream", "bench", "--out", str(out), *args],
                             timeout)
    return proc, out, tmp, marker


def test_bench_runs_every_measurement_and_cleans_up(tmp_path: Path) -> None:
    proc, out, tmp, marker = _bench(
        tmp_path, "--events", "600",
        "--items", "60", "--users", "40", "--rates", "100", "--seconds", "1",
        "--memory-users", "200", "--memory-events-per-user", "3", "--memory-capped", "400:100",
        "--memory-event-gap", "5", "--model-events", "200", "--model-items", "120,60",
        "--pipeline-batches", "50,7", "--no-profile", "--timeout", "60")
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, text
    assert "stream bench (" in text and "bench.json" in text

    result = json.loads((out / "bench.json").read_text())
    assert "cluster" not in result  # only when --only names it
    tp = result["throughput"]
    assert tp["worker"]["drained"] and tp["trivial"]["drained"]
    assert tp["trivial"]["outputs"] == 600  # one message per event
    # the batched reference: one message per user per batch, every user's count complete
    assert tp["batched"]["drained"] and 0 < tp["batched"]["outputs"] <= 600
    assert tp["batched_ratio"] > 0 and tp["batched_over_trivial"] > 0
    assert tp["worker"]["recommendations"] > 0
    assert tp["ratio"] > 0
    rates = [step["rate"] for step in result["latency"]]
    # the fixed rate, and half and 80% of the measured throughput
    assert 100.0 in rates and len(rates) == 3
    assert max(rates) < 100_000  # a rate a worker can reach: measured over its whole run
    for step in result["latency"]:
        assert step["measured"] > 0 and step["p50_ms"] <= step["p99_ms"]
        # the no-work agent at the same rate, with the same events, matched the same way
        floor = step["floor"]
        assert floor["rate"] == step["rate"] and floor["measured"] == step["measured"]
        assert floor["sustained"] and floor["p50_ms"] <= floor["p99_ms"]
    memory, capped = result["memory"]
    assert memory["users"] == 200 and memory["bytes_per_user"] > 0
    assert memory["events"] == 600 and set(memory["breakdown_bytes_per_user"]) == {
        "model", "dedupe_windows", "checkpoints", "last_lists", "other"}
    # 400 users through a cap of 100: housekeeping every 600 s of event time (120 events
    # here) evicts beyond the cap, so at most the cap and one sweep's arrivals are held
    assert capped["users_fed"] == 400 and capped["user_cap"] == 100
    assert 0 < capped["users"] <= 100 + 120
    assert max(c["users"] for c in capped["rss_curve"]) <= 100 + 120
    assert capped["rss_curve"][-1]["events"] == 1200
    pipeline = result["pipeline"]  # the worker's handling in process, smallest batch first
    assert [b["batch"] for b in pipeline["batches"]] == [7, 50]
    for b in pipeline["batches"]:
        assert b["events_per_second"] > 0 and b["lists"] > 0
        assert all(v > 0 for v in b["stage_us_per_event"].values())
        assert b["handled_batches"] == -(-600 // b["batch"])
    model = result["model"]
    # the same events at each catalogue size, smallest first, each stage timed
    assert [m["items"] for m in model["sizes"]] == [60, 120] and model["items"] == 60
    for m in model["sizes"]:
        assert m["recommendations"] > 0 and m["events_per_second"] > 0
        assert set(m["stage_seconds"]) == {"learning", "facts", "retrieval", "ranking"}
        assert all(v > 0 for v in m["stage_seconds"].values())
        assert m["item_learn_per_second"] > 0 and m["rss_after_catalogue_mib"] > 0
    assert model["sizes"][0]["recommendations"] == model["sizes"][1]["recommendations"]
    assert model["funkmf"]["updates"] > model["events"]  # impressions update every shown item
    assert model["profile"]
    cost = model["facts_cost"]  # every worker applies every worker's facts
    assert cost["facts_us_per_event"] > 0 and cost["cap_events_per_second"] > 0
    cluster = cost["cluster_events_per_second"]
    assert cluster["1"] < cluster["2"] < cluster["100"] < cost["cap_events_per_second"]

    md = (out / "bench.md").read_text()
    assert "| measure | figure | target |" in md
    assert "### Item facts in a cluster" in md
    assert "floor: batched Faust agent without work at 100/s" in md
    assert "## The worker's handling in process" in md
    for name in ("throughput.png", "latency.png", "memory.png", "memory-capped.png", "model.png",
                 "model.prof"):
        assert (out / name).stat().st_size > 0, name
    assert _bench_dirs(tmp) == set(), "temporary folders left behind"
    assert _processes_with(marker) == set(), "the bench left processes behind"


def test_bench_measures_clusters_only_when_asked(tmp_path: Path) -> None:
    proc, out, tmp, marker = _bench(
        tmp_path, "--only", "cluster", "--cluster-workers", "2,1", "--cluster-events", "2000",
        "--items", "60", "--users", "40", "--timeout", "60")
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, text
    assert "stream bench (" in text and "bench.json" in text

    result = json.loads((out / "bench.json").read_text())
    assert set(result) >= {"cluster"} and not {"throughput", "latency", "memory", "model"} & set(
        result)
    cluster = result["cluster"]
    assert cluster["partitions"] % 2 == 0  # the workers of each run own as many partitions
    assert [r["workers_in_cluster"] for r in cluster["runs"]] == [1, 2]
    for run in cluster["runs"]:
        assert run["drained"] and run["events_per_second"] > 0 and run["recommendations"] > 0
        assert run["window_seconds"] > 0 and run["broker_cpu_seconds"] >= 0
        workers = run["per_worker"]
        assert len(workers) == run["workers_in_cluster"]
        # between them the workers owned every partition and consumed every interaction; each
        # applied every one's facts
        owned = sorted(p for w in workers for p in w["partitions"])
        assert owned == list(range(cluster["partitions"]))
        assert sum(w["own_events"] for w in workers) == 2000
        assert len({w["facts_events_applied"] for w in workers}) == 1
        assert 0 < workers[0]["facts_events_applied"] <= 2000
        for w in workers:
            assert w["cpu_seconds"] > w["facts_cpu_seconds"] > 0
    model = cluster["model"]
    assert model["base_workers"] == 1
    assert model["own_us_per_event"] > 0 and model["facts_us_per_event"] > 0
    rates = model["cluster_events_per_second"]
    assert list(rates) == ["2", "10", "100"]
    assert rates["2"] < rates["10"] < rates["100"] < model["cap_events_per_second"]
    assert [len(r["workers"]) for r in model["runs"]] == [1, 2]
    assert all(w["predicted_cpu_seconds"] > 0 for r in model["runs"] for w in r["workers"])
    assert model["least_squares"] is not None  # own events tell p from a across the runs

    md = (out / "bench.md").read_text()
    assert "## Clusters: what item facts cost" in md
    assert "### Cluster throughput implied by the model (not measured)" in md
    assert _bench_dirs(tmp) == set(), "temporary folders left behind"
    assert _processes_with(marker) == set(), "the bench left processes behind"


def test_floor_alone_measures_the_no_work_agent_with_the_work_asked_for(tmp_path: Path) -> None:
    proc, tmp, marker = _run(
        tmp_path, ["-m", "stream.bench.floor", "--rates", "60,30", "--seconds", "1",
                   "--items", "60", "--users", "40", "--work-us-per-event", "200",
                   "--work-us-per-batch", "1000"], 180)
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, text
    lines = proc.stdout.splitlines()
    # lowest rate first, each with its percentiles and the work it was asked to do
    assert [line.split("/s")[0] for line in lines] == ["30", "60"], text
    for line in lines:
        assert "(sustained; work 200 µs/event + 1000 µs/batch): p50 " in line, text
    assert not list(tmp.glob("stream-floor-*")), "temporary folders left behind"
    assert _processes_with(marker) == set(), "the floor left processes behind"


def test_floor_measures_one_broker_hop_alone(tmp_path: Path) -> None:
    proc, tmp, marker = _run(
        tmp_path, ["-m", "stream.bench.floor", "--hop", "--rates", "80,40", "--seconds", "1",
                   "--items", "60", "--users", "40", "--fetch-max-wait-ms", "20"], 180)
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, text
    lines = proc.stdout.splitlines()
    assert [line.split("/s")[0] for line in lines] == ["40", "80"], text
    # every event sent arrived, each step with its own count
    assert "(sustained; one broker hop, fetch wait 20 ms): p50 " in lines[0], text
    assert lines[0].endswith("over 40 events") and lines[1].endswith("over 80 events"), text
    assert not list(tmp.glob("stream-floor-*")), "temporary folders left behind"
    assert _processes_with(marker) == set(), "the hop left processes behind"
