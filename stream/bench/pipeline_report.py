"""The in-process pipeline's part of what ``stream bench`` writes (see
:mod:`stream.bench.report`): its summary rows and its section of ``bench.md``."""

from __future__ import annotations

from typing import Any

from stream.bench.formatting import Row, number
from stream.bench.pipeline import PIPELINE_STAGES

__all__ = ["pipeline_markdown", "pipeline_rows"]


def pipeline_rows(pipeline: dict[str, Any]) -> list[Row]:
    """One summary row per batch size: events/s and µs per event."""
    return [(f"worker's handling in process, batches of {b['batch']:,}: events/s "
             "(µs per event)",
             f"{number(b['events_per_second'])} ({number(b['us_per_event'])})", "")
            for b in pipeline.get("batches", [])]


def pipeline_markdown(pipeline: dict[str, Any]) -> list[str]:
    """The pipeline section of ``bench.md``: per batch size, the rate and µs per event by
    stage."""
    lines = [
        "", "## The worker's handling in process (no broker, no Faust)", "",
        f"The worker's `FeedPipeline` over the throughput run's workload ({pipeline['items']:,} "
        f"items, then {pipeline['events']:,} interactions of {pipeline['users']:,} readers, "
        "every reader new at first), in batches of each size, each with a pipeline of its own: "
        "per batch the events handled (validated, deduplicated, learned; the item facts "
        "summed into records; profiles: *learning*), the touched readers' top-"
        f"{pipeline['k']} lists made and serialised (*lists*), the users' checkpoints written "
        "(*checkpoints*), and the batch's fact records read back and applied, as every "
        "worker applies every worker's (*facts*). Faust's own cost per event (~60 µs) and the "
        "broker come on top in a worker.", "",
        "| batch | events/s | µs/event | "
        + " | ".join(f"{s} µs" for s in PIPELINE_STAGES) + " | lists | CPU s | wall s |",
        "|---:" * (6 + len(PIPELINE_STAGES)) + "|",
    ]
    lines += [f"| {b['batch']:,} | {number(b['events_per_second'])} | "
              f"{number(b['us_per_event'], ',.1f')} | "
              + " | ".join(number(b["stage_us_per_event"][s], ",.1f")
                           for s in PIPELINE_STAGES)
              + f" | {b['lists']:,} | {number(b['cpu_seconds'], ',.2f')} | "
              f"{b['seconds']:,.2f} |"
              for b in pipeline.get("batches", [])]
    return lines
