"""The clusters' part of what ``stream bench`` writes (see :mod:`stream.bench.report`): their
summary rows and their section of ``bench.md``."""

from __future__ import annotations

from typing import Any

from stream.bench.formatting import Row, number

__all__ = ["cluster_markdown", "cluster_rows"]


def _signed(ratio: float | None) -> str:
    """A ratio as a signed percentage, e.g. ``+4.2%``; an en dash when missing."""
    return number(None if ratio is None else 100 * ratio, "+.1f", "%")


def _drained(run: dict[str, Any]) -> str:
    return "" if run.get("drained") else " (not drained)"


def _cores(run: dict[str, Any], window: float | None) -> dict[str, float]:
    """Cores used over a run's timed window: by its workers, the broker, the bench process,
    and every other process of the machine (what is known of them)."""
    if not window:
        return {}
    seconds = {"workers": sum(w["cpu_seconds"] for w in run.get("per_worker", [])),
               "broker": run.get("broker_cpu_seconds"), "bench": run.get("bench_cpu_seconds")}
    out = {k: v / window for k, v in seconds.items() if v is not None}
    machine = run.get("machine_cpu_seconds")
    if machine is not None and len(out) == len(seconds):
        out["others"] = max(machine - sum(v for v in seconds.values() if v is not None),
                            0.0) / window
    return out


def _overlap(run: dict[str, Any]) -> bool:
    """Whether two workers of a run show the same partition (stale lag gauges)."""
    shown = [p for w in run.get("per_worker", []) for p in w.get("partitions", [])]
    return len(shown) != len(set(shown))


def cluster_rows(cluster: dict[str, Any]) -> list[Row]:
    """The summary's rows of the clusters: events/s by size, the fitted costs, the check of
    the model against the larger clusters and the throughput it implies."""
    runs = cluster.get("runs", [])
    if not runs:
        return []
    sizes = " / ".join(str(r["workers_in_cluster"]) for r in runs)
    rows: list[Row] = [(
        f"cluster: events/s with {sizes} workers (wall clock, {cluster.get('cores')} cores "
        "shared by all)",
        " / ".join(number(r.get("events_per_second")) + _drained(r) for r in runs), "")]
    others = [_cores(r, r.get("window_seconds")).get("others") for r in runs]
    if any(o is not None for o in others):
        rows.append(("cluster: cores used by other processes of the machine meanwhile",
                     " / ".join(number(o, ".2f") for o in others), ""))
    model = cluster.get("model")
    if not model:
        return rows
    rows.append((f"cluster cost model (from {model['base_workers']} worker): CPU µs per own "
                 "event p / per event's facts applied a",
                 f"{number(model['own_us_per_event'], ',.1f')} / "
                 f"{number(model['facts_us_per_event'], ',.1f')}", ""))
    checked = [r for r in model["runs"] if r["workers_in_cluster"] != model["base_workers"]]
    if checked:
        rows.append((
            "cluster model check: each worker's CPU measured vs own p + applied a, at "
            + " / ".join(str(r["workers_in_cluster"]) for r in checked) + " workers",
            " / ".join(", ".join(_signed(w["excess_ratio"]) for w in r["workers"])
                       for r in checked), ""))
    implied = model["cluster_events_per_second"]
    rows.append((
        f"cluster model n / (p + n a), not measured: events/s at {' / '.join(implied)} workers "
        "(cap 1 / a)",
        " / ".join(number(v) for v in implied.values())
        + f" (cap {number(model['cap_events_per_second'])})", ""))
    return rows


def cluster_markdown(cluster: dict[str, Any]) -> list[str]:
    """The clusters' section of ``bench.md``: how they ran, every worker's CPU against the
    model's, the fits, and the throughput the model implies."""
    runs, cores = cluster.get("runs", []), cluster.get("cores")
    model = cluster.get("model")
    lines = [
        "", "## Clusters: what item facts cost", "",
        f"Clusters of {', '.join(str(r['workers_in_cluster']) for r in runs)} workers "
        "(`python -m stream worker`), one after the other, each in a consumer group and on "
        f"topics of its own, {cluster['partitions']} partitions (1 for the item facts): the "
        f"catalogue of {cluster['items']:,} items first, then, once every worker is ready, "
        f"the same {cluster['events']:,} interactions of {cluster['users']:,} readers, "
        "produced as fast as the producer goes (had they been there from the start, the "
        "first worker would have handled a share of them alone while the others joined). "
        "Each worker handles the interactions of its "
        "partitions and publishes their item facts; every worker applies every worker's. Per "
        "worker, from just before the interactions to when every one was handled and every "
        "worker had applied the same facts: the interactions it consumed (*own*), the events "
        "whose facts it applied (*applied*), its process's CPU time (`/proc`, what its "
        "`process_cpu_seconds_total` reads) and the part spent applying facts "
        "(`stream_item_facts_cpu_seconds_total`). Events/s: from the first interaction sent "
        "to the last list published, as in the throughput run.", "",
        f"This machine has {cores} cores, shared by the workers, the broker and this "
        "process: the wall-clock events/s here is bounded by the machine, not by the "
        "cluster, and the check of the model is the CPU accounting, worker by worker, not "
        "the events/s. *Model here*: what the model allows on these cores, min(n, cores) / "
        "(p + n a), every worker owning an equal share. *Largest share*: the busiest "
        "worker's part of the interactions (partitions split the readers, and a few readers "
        "are far more active than the rest): the run lasts as long as that worker does. "
        "*Cores*: CPU seconds over the timed window per second of it, of the workers, the "
        "broker, this process (the producer) and every other process of the machine "
        "(`/proc/stat`): other work on the machine slows the workers and costs them CPU "
        "(caches, switches).",
        "",
        "| workers | events/s | s | model here, events/s | largest share | cores: workers | "
        "broker | this process | others | lists | drained |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    by_size = {r["workers_in_cluster"]: r for r in model["runs"]} if model else {}
    for r in runs:
        here = by_size.get(r["workers_in_cluster"], {}).get("model_events_per_second_here")
        workers = r.get("per_worker", [])
        window = r.get("window_seconds") or None
        share = (max(w["own_events"] for w in workers) / r["events"]
                 if workers and r["events"] else None)
        cores_used = _cores(r, window)
        lines.append(
            f"| {r['workers_in_cluster']} | {number(r.get('events_per_second'))} | "
            f"{number(r.get('seconds'), ',.2f')} | {number(here)} | "
            f"{number(None if share is None else 100 * share, '.0f', '%')} | "
            + " | ".join(number(cores_used.get(k), '.2f')
                         for k in ("workers", "broker", "bench", "others")) + " | "
            f"{r.get('recommendations', 0):,} | "
            + ("yes" if r.get("drained") else f"no{': ' + r['error'] if 'error' in r else ''}")
            + " |")
    if not model:
        return [*lines, "", "No cluster drained: no model."]
    p, a = model["own_us_per_event"], model["facts_us_per_event"]
    lines += [
        "", f"### Every worker's CPU against the model (p and a of {model['base_workers']} "
        "worker)", "",
        f"From the {model['base_workers']}-worker run: p = its CPU less its facts CPU, per "
        f"own event = {number(p, ',.1f')} µs; a = its facts CPU per event applied = "
        f"{number(a, ',.1f')} µs. Predicted: own × p + applied × a; above 0, the worker "
        "spent more than the model gives it. Mean batch: own events per interactions batch "
        "(a worker with fewer events to read has smaller batches).", "",
        "| workers | worker | partitions | own events | mean batch | applied | CPU s | "
        "facts CPU s | predicted CPU s | measured vs predicted |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        fitted = by_size.get(r["workers_in_cluster"])
        if fitted is None:
            continue
        for i, (w, f) in enumerate(zip(r["per_worker"], fitted["workers"], strict=True)):
            parts = ",".join(str(x) for x in w["partitions"]) or "–"
            lines.append(
                f"| {r['workers_in_cluster']} | {i} | {parts} | {w['own_events']:,} | "
                f"{number(w['own_events'] / w['batches'] if w.get('batches') else None)} | "
                f"{w['facts_events_applied']:,} | {w['cpu_seconds']:,.2f} | "
                f"{w['facts_cpu_seconds']:,.3f} | {f['predicted_cpu_seconds']:,.2f} | "
                f"{_signed(f['excess_ratio'])} |")
    overlapping = [str(r["workers_in_cluster"]) for r in runs if _overlap(r)]
    if overlapping:
        lines += ["", f"Partitions: in the run{'s' if len(overlapping) > 1 else ''} of "
                  f"{', '.join(overlapping)} workers, workers show the same partitions: a "
                  "worker's lag gauges (`stream_consumer_position`) still held partitions it "
                  "had handed over in a rebalance (its events and CPU are counted all the "
                  "same)."]
    lines += [
        "", "### p and a, run by run and fitted", "",
        "Each run's own counters (p: CPU less facts CPU per own event; a: facts CPU per "
        "event applied), and the least-squares fit of CPU = own × p + applied × a over "
        "every worker of every run, the facts counter unused. Every worker of every run "
        "applies the same facts (all of the workload's), so the fit tells p from a only "
        "through the own events: CPU that grows with neither (idle polling, fetching and "
        "decoding the facts topic, which the facts counter does not time) lands in its a.",
        "", "| from | p µs | a µs |", "|---|---:|---:|",
    ]
    lines += [f"| {r['workers_in_cluster']} worker{'s' if r['workers_in_cluster'] > 1 else ''}"
              f", counters | {number(r['own_us_per_event'], ',.1f')} | "
              f"{number(r['facts_us_per_event'], ',.1f')} |" for r in model["runs"]]
    ls = model.get("least_squares")
    if ls:
        lines.append(f"| least squares, {ls['workers']} workers (RMS error "
                     f"{ls['rms_error_seconds']:.3f} CPU s) | "
                     f"{number(ls['own_us_per_event'], ',.1f')} | "
                     f"{number(ls['facts_us_per_event'], ',.1f')} |")
    else:
        lines.append("| least squares | – | – |")
    implied = model["cluster_events_per_second"]
    lines += [
        "", "### Cluster throughput implied by the model (not measured)", "",
        f"With n workers, each on a core of its own, owning r events/s: r (p + n a) = 1, so "
        f"the cluster handles n / (p + n a) events/s, at most 1 / a = "
        f"{number(model['cap_events_per_second'])} however many workers, with p and a of the "
        f"{model['base_workers']}-worker run above.", "",
        "| workers | " + " | ".join(implied) + " | cap 1 / a |",
        "|---" + "|---:" * (len(implied) + 1) + "|",
        "| model, events/s | " + " | ".join(number(v) for v in implied.values())
        + f" | {number(model['cap_events_per_second'])} |",
    ]
    return lines
