"""The deploy script and these tests stay `ruff` clean, and the script `mypy --strict` clean
(tests/unit/test_code_quality.py covers the package itself)."""

from __future__ import annotations

from tests.deploy.common import DEPLOY, require_tool, run_tool


def test_ruff_is_clean_on_deploy_files() -> None:
    run_tool([require_tool("ruff"), "check", "deploy", "tests/deploy"])


def test_mypy_strict_is_clean_on_the_demo_producer() -> None:
    run_tool([require_tool("mypy"), "--strict", str(DEPLOY / "demo_producer.py")])
