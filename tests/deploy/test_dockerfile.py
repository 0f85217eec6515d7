"""The Dockerfile: hadolint-clean, multi-stage, non-root, `stream` as entrypoint, a working
health check on /health; the build context holds the package and nothing else.

No container engine runs here, so the image is not built: the file is linted and parsed, and
the health check's command is run as it would run in the container.
"""

from __future__ import annotations

import fnmatch
import http.server
import json
import os
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from dockerfile_parse import DockerfileParser  # type: ignore[import-untyped]

from stream.settings import Settings
from tests.deploy.common import DOCKERFILE, ROOT, require_tool, run_tool


def instructions() -> list[dict[str, Any]]:
    parser = DockerfileParser(path=str(DOCKERFILE))
    out: list[dict[str, Any]] = parser.structure
    return out


def stages() -> list[list[dict[str, Any]]]:
    """The instructions of each stage, ARGs before the first FROM left out."""
    out: list[list[dict[str, Any]]] = []
    for ins in instructions():
        if ins["instruction"] == "FROM":
            out.append([])
        if out:
            out[-1].append(ins)
    return out


def final(name: str) -> list[dict[str, Any]]:
    return [i for i in stages()[-1] if i["instruction"] == name]


def final_env() -> dict[str, str]:
    parser = DockerfileParser(path=str(DOCKERFILE))
    env: dict[str, str] = parser.envs  # the last stage's, as the image sees them
    return env


def test_hadolint_is_clean() -> None:
    hadolint = require_tool("hadolint")
    run_tool([hadolint, "--failure-threshold", "info", str(DOCKERFILE)])


def test_two_stages_and_only_the_build_output_is_copied() -> None:
    assert len(stages()) >= 2
    first = stages()[0][0]["value"].split()
    assert first[-2].upper() == "AS", "the build stage is named"
    copies = final("COPY")
    assert copies and all(c["value"].startswith(f"--from={first[-1]} ") for c in copies)
    assert not final("RUN") or all("pip install" not in r["value"] for r in final("RUN"))


def test_runs_as_a_non_root_numeric_user() -> None:
    (user,) = final("USER")
    uid = user["value"].split(":")[0]
    assert uid.isdigit() and int(uid) >= 1000, "numeric, so Kubernetes can verify runAsNonRoot"
    useradd = " ".join(r["value"] for r in final("RUN"))
    assert f"--uid {uid}" in useradd


def test_entrypoint_is_the_stream_console_script() -> None:
    (entry,) = final("ENTRYPOINT")
    assert json.loads(entry["value"]) == ["stream"]
    (cmd,) = final("CMD")
    assert json.loads(cmd["value"]) == ["worker"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "stream" in scripts["project"]["scripts"]


def test_environment_and_ports_match_the_settings() -> None:
    env = {k: v for k, v in final_env().items() if k.startswith("STREAM_")}
    for key in env:
        assert key[7:].lower() in Settings.model_fields, key
    assert env["STREAM_WEB_HOST"] == "0.0.0.0" and env["STREAM_METRICS_HOST"] == "0.0.0.0"
    defaults = Settings.model_fields
    (expose,) = final("EXPOSE")
    assert {int(p) for p in expose["value"].split()} == {
        defaults["web_port"].default,
        defaults["metrics_port"].default,
    }


def _dockerignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; '!' re-includes."""
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pat = pattern[1:] if negate else pattern
        pat = pat.rstrip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(fnmatch.fnmatchcase(p, pat) or fnmatch.fnmatchcase(p, pat.replace("**/", ""))
               for p in prefixes):
            ignored = not negate
    return ignored


def test_dockerignore_keeps_the_context_to_the_package() -> None:
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    patterns = [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]
    for ins in instructions():
        if ins["instruction"] == "COPY" and not ins["value"].startswith("--from"):
            for source in ins["value"].split()[:-1]:
                assert not _dockerignored(source.rstrip("/"), patterns), source
                assert (ROOT / source).exists(), source
    for private in (".venv/bin/python", "tests/conftest.py", ".git/config", "var/stream/x"):
        assert _dockerignored(private, patterns), private
    assert _dockerignored("stream/__pycache__/cli.cpython-311.pyc", patterns)
    assert not _dockerignored("stream/cli.py", patterns)


@contextmanager
def _health_server(status: int) -> Iterator[int]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            code = status if self.path.split("?")[0] == "/health" else 404
            body = json.dumps({"ready": code == 200}).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.mark.parametrize(("status", "healthy"), [(200, True), (503, False)])
def test_healthcheck_command_reads_health(status: int, healthy: bool) -> None:
    (check,) = final("HEALTHCHECK")
    value = check["value"]
    assert "--start-period=" in value and "--interval=" in value
    command = json.loads(value.split("CMD", 1)[1].strip())
    assert command[0] == "python"
    with _health_server(status) as port:
        env = {**os.environ, "STREAM_WEB_PORT": str(port)}
        proc = subprocess.run([sys.executable, *command[1:]], env=env, capture_output=True,
                              timeout=30)
    assert (proc.returncode == 0) is healthy, proc.stderr
