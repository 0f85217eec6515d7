"""``stream evaluate`` as a user runs it, on files the test generates in each format."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import orjson
import pytest

from stream.cli import main

pytestmark = pytest.mark.e2e

TOPICS = ("goal striker league match", "shares bonds inflation rates",
          "recipe oven garlic pasta", "rocket orbit moon launch")


def stream(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m stream ARGS`` in a fresh process, as a user would."""
    result = subprocess.run([sys.executable, "-m", "stream", *args], capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr + result.stdout
    return result


def stream_in_process(*args: str) -> None:
    """The same command through ``stream.cli.main`` (no interpreter start-up per call)."""
    assert main(list(args)) == 0


def write_movielens(directory: Path, seed: int = 3) -> None:
    """Forty users in four taste groups rating a hundred movies, in ML-100K's formats."""
    rng = np.random.default_rng(seed)
    directory.mkdir()
    with (directory / "u.item").open("w", encoding="iso-8859-1") as handle:
        for movie in range(1, 101):
            words = TOPICS[movie % 4].split()
            title = " ".join(rng.choice(words, size=3, replace=False))
            flags = ["0"] * 19
            flags[1 + movie % 4] = "1"
            released = "01-Jan-1950" if movie % 10 == 0 else "01-Jan-1995"  # some pre-1970
            handle.write(f"{movie}|{title} Café ({1990 + movie % 8})|{released}||http://x|"
                         + "|".join(flags) + "\n")
    rows = []
    for user in range(1, 41):
        movies: set[int] = set()
        while len(movies) < 12:
            pool = [m for m in range(1, 101) if m % 4 == user % 4] if rng.random() < 0.9 \
                else list(range(1, 101))
            movies.add(int(rng.choice(pool)))
        for movie in sorted(movies):
            rating, stamp = rng.integers(1, 6), rng.integers(800_000_000, 810_000_000)
            rows.append(f"{user}\t{movie}\t{rating}\t{stamp}\n")
    order = rng.permutation(len(rows))  # u.data is not in time order
    (directory / "u.data").write_text("".join(rows[i] for i in order), encoding="ascii")


def write_mind(directory: Path, seed: int = 4) -> None:
    rng = np.random.default_rng(seed)
    directory.mkdir()
    with (directory / "news.tsv").open("w", encoding="utf-8") as handle:
        for n in range(0, 60, 2):  # half of the news have metadata, as in the real sample
            handle.write(f"N{n}\tcat{n % 4}\tsub\t{TOPICS[n % 4]}\t\thttp://n\t[]\t[]\n")
    with (directory / "behaviors.tsv").open("w", encoding="utf-8") as handle:
        for row in range(80):
            user = f"U{row % 15}"
            history = " ".join(f"N{n}" for n in rng.choice(60, size=3, replace=False))
            shown = rng.choice(60, size=8, replace=False)
            labels = ["1" if j == 0 or rng.random() < 0.1 else "0" for j in range(8)]
            labels[-1] = "0"
            hour = 1 + row % 12
            handle.write(f"{row}\t{user}\t11/{10 + row % 4}/2019 {hour}:{row % 60:02d}:00 PM\t"
                         f"{history}\t"
                         + " ".join(f"N{n}-{label}" for n, label in zip(shown, labels,
                                                                          strict=True)) + "\n")


def model_figures(path: Path) -> dict[str, dict[str, float]]:
    document = orjson.loads((path / "metrics.json").read_bytes())
    return {name: {key: value for key, value in figures.items()
                   if key not in ("events_per_second", "model_seconds")}
            for name, figures in document["models"].items()}


@pytest.mark.parametrize("protocol", ["prequential", "split"])
def test_contract_files_give_the_same_figures_as_the_dataset(tmp_path: Path,
                                                             protocol: str) -> None:
    data = tmp_path / "ml"
    write_movielens(data)
    direct = tmp_path / "direct"
    args = ("evaluate", "--dataset", "movielens-100k", "--data-dir", str(data), "--protocol",
            protocol, "--out", str(direct), "--no-progress")
    if protocol == "prequential":  # once through a fresh interpreter, as a user runs it
        assert "hr@10" in stream(*args).stdout
    else:
        stream_in_process(*args)
    contract = tmp_path / "contract"
    stream_in_process("evaluate", "--dataset", "movielens-100k", "--data-dir", str(data),
           "--export-contract", str(contract))
    converted = tmp_path / "converted"
    stream_in_process("evaluate", "--events", str(contract / "events.jsonl"), "--items",
           str(contract / "items.jsonl"), "--protocol", protocol, "--out", str(converted),
           "--no-progress")
    assert model_figures(direct) == model_figures(converted)
    document = orjson.loads((direct / "metrics.json").read_bytes())
    assert document["dataset"] == "movielens-100k"
    assert document["protocol"] == protocol
    assert document["events"] == 480
    assert set(document["models"]) == {"stream", "popularity", "popularity-all-time", "random",
                                       "river-mf"}
    for figures in document["models"].values():
        for key in ("hr@10", "ndcg@10", "mrr", "coverage", "events_per_second", "gini",
                    "top1%_share", "ild@10"):
            assert isinstance(figures[key], float), key
    report = (direct / "report.md").read_text(encoding="utf-8")
    assert "| river-mf |" in report and document["dataset_sha256"]["u.data"] in report
    assert "| popularity-all-time |" in report
    assert "- `popularity-all-time`: " in report and "every 6 h" in report
    assert document["settings"]["popularity-all-time"] == {"half_life": None}
    assert (direct / "final_metrics.png").read_bytes()[:4] == b"\x89PNG"
    assert (direct / "exposure.png").stat().st_size > 1000
    assert (direct / "over_time.png").exists() == (protocol == "prequential")


def test_mind_impressions_limit_and_models(tmp_path: Path) -> None:
    data = tmp_path / "mind"
    write_mind(data)
    out = tmp_path / "out"
    stream_in_process("evaluate", "--dataset", "mind", "--data-dir", str(data), "--models",
                      "stream,random", "--limit", "150", "--seed", "7", "--out", str(out),
                      "--no-progress")
    document = orjson.loads((out / "metrics.json").read_bytes())
    assert document["protocol"] == "impressions"
    assert document["events"] == 150 and document["limit"] == 150 and document["seed"] == 7
    assert set(document["models"]) == {"stream", "random"}
    for figures in document["models"].values():
        assert 0.0 <= figures["auc"] <= 1.0
        assert figures["impressions_scored"] > 10
    assert "impression_ndcg@10" in (out / "report.md").read_text(encoding="utf-8")
    # learning in batches, as a worker does: said in the settings and the command
    batched = tmp_path / "batched"
    stream_in_process("evaluate", "--dataset", "mind", "--data-dir", str(data), "--models",
                      "stream", "--limit", "150", "--batch", "40", "--out", str(batched),
                      "--no-progress")
    document = orjson.loads((batched / "metrics.json").read_bytes())
    assert document["settings"]["stream"]["batch"] == 40
    assert "--batch 40" in (batched / "report.md").read_text(encoding="utf-8")
    assert 0.0 <= document["models"]["stream"]["auc"] <= 1.0


def test_bad_arguments_exit_non_zero(tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", "--dataset", "mind"]) == 2
    assert "--data-dir" in capsys.readouterr().err
    events = tmp_path / "events.jsonl"
    events.write_text("", encoding="utf-8")
    assert main(["evaluate", "--events", str(events), "--batch", "0"]) == 2
    assert "--batch must be positive" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["evaluate", "--events", str(tmp_path / "x.jsonl"), "--models", "stream,bogus"])
    assert exc.value.code == 2 and "bogus" in capsys.readouterr().err
