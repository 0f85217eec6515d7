"""``stream evaluate``: replay datasets through the worker's models and score them.

Loaders (:mod:`~stream.evaluate.datasets`) turn MovieLens 100K, MIND and files in our own
event contract into the contract's dataclasses; the protocols
(:mod:`~stream.evaluate.protocols`) replay them through every model under evaluation, the
worker's own stack and the baselines of :mod:`~stream.evaluate.baselines`; the report
(:mod:`~stream.evaluate.report`) writes ``metrics.json``, ``report.md`` and plots.
"""

from stream.evaluate.baselines import PopularityBaseline, RandomBaseline, RiverMFBaseline
from stream.evaluate.datasets import (
    Dataset,
    export_contract,
    load_contract,
    load_mind,
    load_movielens_100k,
)
from stream.evaluate.protocols import EvaluationResult, ModelRun, run_prequential, run_split

__all__ = [
    "Dataset",
    "EvaluationResult",
    "ModelRun",
    "PopularityBaseline",
    "RandomBaseline",
    "RiverMFBaseline",
    "export_contract",
    "load_contract",
    "load_mind",
    "load_movielens_100k",
    "run_prequential",
    "run_split",
]
