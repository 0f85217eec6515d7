"""The worker's Faust Worker: at a log level of warning it leaves the root logger there, where
Faust's own sets it to DEBUG for its terminal spinner (every debug call then builds a record)."""

from __future__ import annotations

import logging

import faust

from stream.agents.faust_fixes import QuietWorker


def _configured(worker_class: type[faust.Worker]) -> logging.Logger:
    app = faust.App("quiet-worker-test", autodiscover=False, web_enabled=False)
    worker = worker_class(app, loglevel="warning")
    logger = logging.Logger("root-under-test", level=logging.WARNING)  # as mode sets it up
    logger.addHandler(logging.NullHandler())
    worker.on_setup_root_logger(logger, logging.WARNING)
    return logger


def test_the_root_logger_keeps_the_level_asked_for() -> None:
    logger = _configured(QuietWorker)
    assert logger.level == logging.WARNING and not logger.isEnabledFor(logging.DEBUG)
    assert len(logger.handlers) == 1  # no spinner handler


def test_faust_s_own_worker_would_log_every_debug_record() -> None:
    """What the fix is for: Faust's worker makes the root logger take DEBUG records."""
    logger = _configured(faust.Worker)
    assert logger.level == logging.DEBUG and len(logger.handlers) == 2
