"""The model path's part of what ``stream bench`` writes (see :mod:`stream.bench.report`):
its summary rows, its section of ``bench.md`` and ``model.png``."""

from __future__ import annotations

from typing import Any

from stream.bench.cluster_model import cluster_rate
from stream.bench.formatting import Row, number

__all__ = ["MODEL_TARGETS", "STAGE_COLOURS", "facts_cost_model", "model_markdown", "model_plot",
           "model_rows"]

#: the targets of the issue for the model path, shown next to the figures
MODEL_TARGETS = {
    "model": "≥ 50,000 events/s at 10,000 items",
    "scaling": "≥ ½ the rate at 10,000 items",
}

#: the stages of the model path (:data:`stream.bench.model.STAGES`) and their plot colours
STAGE_COLOURS = {"learning": "#2ca02c", "facts": "#8c564b", "retrieval": "#1f77b4",
                 "ranking": "#ff7f0e"}

#: cluster sizes of the cost model of item facts (:func:`facts_cost_model`)
CLUSTER_SIZES = (1, 2, 3, 10, 100)


def facts_cost_model(size: dict[str, Any], events: int) -> dict[str, Any]:
    """What the item facts cost a cluster, from one catalogue size's stage times.

    A worker spends ``p`` per event it owns (learning, retrieval, ranking) and ``a`` per
    event of the whole cluster whose facts it applies (every worker applies every
    worker's, its own included). With ``n`` workers each owning ``r`` events/s,
    ``r (p + n a) = 1``: the cluster handles ``n / (p + n a)`` events/s, never more than
    ``1 / a`` however many workers are added. This is the model path alone; the worker's
    own cost per event (Faust, parsing, checkpoints) adds to ``p``.

    >>> size = {"stage_seconds": {"learning": 0.5, "facts": 0.1, "retrieval": 0.2,
    ...                           "ranking": 0.2}}
    >>> model = facts_cost_model(size, 1000)
    >>> model["cap_events_per_second"], round(model["cluster_events_per_second"]["10"])
    (10000.0, 5263)
    """
    sec = size["stage_seconds"]
    a = sec["facts"] / events
    p = (sec["learning"] + sec["retrieval"] + sec["ranking"]) / events
    return {
        "own_us_per_event": round(p * 1e6, 1),
        "facts_us_per_event": round(a * 1e6, 1),
        "cap_events_per_second": round(1 / a, 1) if a > 0 else None,
        "cluster_events_per_second": {str(n): round(cluster_rate(p, a, n), 1)
                                      for n in CLUSTER_SIZES},
    }


def model_rows(model: dict[str, Any]) -> list[Row]:
    """The summary's rows of the model path: events/s per catalogue size, one event at a
    time and FunkMF."""
    rows: list[Row] = []
    sizes = model.get("sizes", [])
    base = next((m for m in sizes if m["items"] == 10_000), None)
    for m in sizes:
        rate = m["events_per_second"]
        ratio = f" ({rate / base['events_per_second']:.2f}× the rate at 10,000)" if base else ""
        target = (MODEL_TARGETS["model"] if m is base else
                  MODEL_TARGETS["scaling"] if base and m["items"] >= 1_000_000 else "")
        rows.append((f"model path at {m['items']:,} items, batches of {model['batch']:,} "
                     f"+ top-{model['k']}, events/s",
                     number(rate) + ("" if m is base else ratio), target))
    rows.append((f"model path at {model['items']:,} items, one event at a time + top-k, "
                 "events/s", number(model["per_event"]["events_per_second"]), ""))
    rows.append(("River FunkMF learn_one, events/s (updates/s)",
                 f"{number(model['funkmf']['events_per_second'])} "
                 f"({number(model['funkmf']['updates_per_second'])})", ""))
    return rows


def model_markdown(model: dict[str, Any]) -> list[str]:
    """The model section of ``bench.md``: per catalogue size, the rate and its split by
    stage, what building the catalogue took, and the profile at the smallest size."""
    sizes, stages = model["sizes"], list(STAGE_COLOURS)
    lines = [
        "", "## Pure model path (no broker)", "",
        f"The worker's model path in batches of {model['batch']:,}: each event learned "
        "(`learn_one_sharing`, *learning*), the batch's item facts applied once (*facts*), "
        "then "
        f"the top-{model['k']} of every user with a click or read in the batch, candidates "
        "first (`ListRanker.retrieve`, *retrieval*), then the lists (`ListRanker.rank`, "
        f"*ranking*). The same {model['events']:,} events at every size, after "
        f"{model['warm_events']:,} to warm up: drawn from a workload of {model['items']:,} "
        "items, each larger catalogue that one grown by the same generator, so the events "
        "name only its first items and the rest is a long tail nobody reads. A fresh model "
        "per size, its item cap raised to the catalogue. CPU s: this process's CPU time "
        "(user and system) over the timed events; well below the wall time, the machine "
        "was busy with others.", "",
        "| items | events/s | lists/s | wall s | CPU s | "
        + " | ".join(f"{s} s" for s in stages) + " | " + " | ".join(stages) + " |",
        "|---:" * (5 + 2 * len(stages)) + "|",
    ]
    lines += [f"| {m['items']:,} | {number(m['events_per_second'])} | "
              f"{number(m['recommendations_per_second'])} | {m['seconds']:,.2f} | "
              f"{number(m.get('cpu_seconds'), ',.2f')} | "
              + " | ".join(f"{m['stage_seconds'][s]:,.3f}" for s in stages) + " | "
              + " | ".join(f"{m['stage_shares'][s]:.0%}" for s in stages) + " |"
              for m in sizes]
    base = sizes[0]
    cost = facts_cost_model(base, model["events"])
    lines += [
        "", f"### Item facts in a cluster (model path at {base['items']:,} items)", "",
        f"Every worker applies every worker's item facts: here {cost['facts_us_per_event']:,} "
        f"µs per event, against {cost['own_us_per_event']:,} µs for what only the event's "
        f"owner does (learning, retrieval, ranking). With n workers a worker owns r events/s "
        f"and r (p + n a) = 1, so the cluster handles n / (p + n a) events/s, at most "
        f"1 / a = {number(cost['cap_events_per_second'])} however many workers; the worker's "
        "own cost per event (Faust, parsing, checkpoints) adds to p.", "",
        "| workers | " + " | ".join(str(n) for n in CLUSTER_SIZES) + " |",
        "|---" + "|---:" * len(CLUSTER_SIZES) + "|",
        "| model path, events/s | " + " | ".join(
            number(cost["cluster_events_per_second"][str(n)]) for n in CLUSTER_SIZES) + " |",
    ]
    lines += [
        "", "### The catalogues", "",
        "Each item learned through `learn_item` (hashed TF-IDF of title and tags, jieba for "
        "Chinese). RSS: the process's resident memory after the catalogue (the previous "
        "model freed), and the most of it while the events ran. Content vectors and "
        "co-visitation: their arrays as allocated. Co-visitation keeps a fixed number of "
        "neighbour slots per item, rows only up to the last co-visited item, so few here; "
        "*a row per item* is what it holds once every item has been read with another.", "",
        "| items | learned items/s | learning s | RSS after MiB | RSS growth MiB | "
        "RSS peak in the run MiB | content vectors MiB | co-visitation MiB (rows) | "
        "co-visitation, a row per item, MiB |", "|---:" * 9 + "|",
    ]
    for m in sizes:
        st = m["state"]
        lines.append(
            f"| {m['items']:,} | {number(m['item_learn_per_second'])} | "
            f"{number(m['item_learn_seconds'], ',.1f')} | {number(m['rss_after_catalogue_mib'])} | "
            f"{number(m['rss_after_catalogue_mib'] - m['rss_before_catalogue_mib'])} | "
            f"{number(m.get('rss_peak_mib'))} | {number(st['content_vectors_mib'])} | "
            f"{number(st['covisit_mib'])} ({st['covisit_rows']:,}) | "
            f"{number(st['covisit_every_item_mib'])} |")
    lines += [
        "", f"At {model['items']:,} items also: {model['per_event']['events']:,} events one "
        "at a time (`learn_one` + `recommend`), and River's FunkMF on the timed events, "
        f"{model['funkmf']['updates']:,} updates (impressions are one update per shown "
        "item).", "",
        f"### cProfile of the batched path at {model['items']:,} items (own time)", "",
        "| function | calls | own s | own share | cumulative s |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [f"| `{p['function']}` | {p['calls']:,} | {p['own_seconds']:.3f} | "
              f"{p['own_share']:.1%} | {p['cumulative_seconds']:.3f} |"
              for p in model["profile"]]
    lines += ["", "### cProfile of the batched path (our functions, cumulative time)", "",
              "| function | calls | cumulative s | share of the run |", "|---|---:|---:|---:|"]
    lines += [f"| `{p['function']}` | {p['calls']:,} | {p['cumulative_seconds']:.3f} | "
              f"{p['cumulative_share']:.1%} |" for p in model.get("profile_cumulative", [])]
    return lines


def model_plot(model: dict[str, Any], plt: Any, ticks: Any) -> Any:
    """Events/s by catalogue size (with one event at a time and FunkMF at the smallest),
    and each size's time split by stage (shares, so that every size can be read)."""
    sizes = model["sizes"]
    fig, (rate_ax, split_ax) = plt.subplots(1, 2, figsize=(12, 4.5))
    labels = [f"{m['items']:,}\nitems" for m in sizes] + [
        f"one by one\n{model['items']:,}\nitems", "River FunkMF\nlearn_one\nonly"]
    values = [m["events_per_second"] for m in sizes] + [
        model["per_event"]["events_per_second"], model["funkmf"]["events_per_second"]]
    colours = ["#1f77b4"] * len(sizes) + ["#9467bd", "#7f7f7f"]
    pos = range(len(values))
    rate_ax.bar(pos, values, color=colours)
    rate_ax.set_xticks(list(pos), labels, fontsize=8)
    for x, v in zip(pos, values, strict=True):
        rate_ax.annotate(f"{v:,.0f}", (x, v), ha="center", va="bottom", fontsize=8)
    rate_ax.axhline(50_000, color="grey", ls="--", lw=1, label="target 50,000/s")
    rate_ax.set_yscale("log")
    rate_ax.yaxis.set_major_formatter(ticks)
    rate_ax.yaxis.set_minor_formatter(lambda v, _: "")
    rate_ax.margins(y=0.2)
    rate_ax.legend(loc="upper right", fontsize=8)
    rate_ax.set_ylabel("events / s (log)")
    rate_ax.set_title(f"Model path, batches of {model['batch']:,} + top-{model['k']}")
    bottom = [0.0] * len(sizes)
    for stage, colour in STAGE_COLOURS.items():
        shares = [100 * m["stage_shares"][stage] for m in sizes]
        split_ax.bar(range(len(sizes)), shares, 0.6, bottom=bottom, color=colour, label=stage)
        for x, share in enumerate(shares):
            if share >= 5:
                split_ax.annotate(f"{share:.0f}%", (x, bottom[x] + share / 2), ha="center",
                                  va="center", fontsize=8, color="white")
        bottom = [b + h for b, h in zip(bottom, shares, strict=True)]
    for x, m in enumerate(sizes):
        per_event = m["seconds"] / model["events"] * 1e6
        split_ax.annotate(f"{per_event:,.0f} µs/event", (x, 100), ha="center", va="bottom",
                          fontsize=8)
    split_ax.set_xticks(range(len(sizes)), [f"{m['items']:,} items" for m in sizes])
    split_ax.set_ylim(0, 112)
    split_ax.set_ylabel("share of the time, %")
    split_ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    split_ax.set_title("Where the time goes, by stage")
    return fig
