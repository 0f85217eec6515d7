"""The worker's HTTP views on a real broker: lists with reasons, health, metrics, clear errors."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from stream.dev.broker import EmbeddedBroker, free_port
from stream.dev.processes import stop_process
from stream.settings import Settings
from tests.helpers import produce, start_worker, wait_metrics, worker_process, worker_settings
from tests.integration.test_worker_kafka import ITEMS, click_msg, item_msg

pytestmark = [pytest.mark.integration]


def get(port: int, path: str, token: str | None = None) -> tuple[int, Any, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            body = resp.read().decode()
            return resp.status, resp.headers.get("Content-Type", ""), body
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Content-Type", ""), err.read().decode()


def wait_ready(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if get(port, "/health")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError("the worker never became ready")


def publish_alices_list(broker: EmbeddedBroker, settings: Settings) -> None:
    """The catalogue, then a click of alice's, and wait for her list to be published."""
    asyncio.run(produce(broker.bootstrap, [item_msg(settings.topic_items, *it) for it in ITEMS]))
    wait_metrics(settings.metrics_port,
                 lambda m: m.get("stream_catalog_items_learned_total", 0) >= len(ITEMS))
    asyncio.run(produce(broker.bootstrap,
                        [click_msg(settings.topic_interactions, "c1", "alice", "e1")]))
    wait_metrics(settings.metrics_port,
                 lambda m: m.get("stream_recommendations_published_total", 0) >= 1)


def test_views(broker: EmbeddedBroker, tmp_path: Path) -> None:
    settings = worker_settings(broker)
    port = settings.web_port
    with worker_process(settings, tmp_path):
        wait_ready(port)
        status, _, body = get(port, "/health?probe=live")
        assert status == 200 and json.loads(body) == {"live": True, "ready": True}
        assert get(port, "/health?probe=sideways")[0] == 400

        publish_alices_list(broker, settings)

        status, ctype, body = get(port, "/users/alice/recommendations")
        assert status == 200 and ctype.startswith("application/json"), body
        answer = json.loads(body)
        assert answer["user_id"] == "alice" and answer["variant"] == "default"
        ids = [i["item_id"] for i in answer["items"]]
        assert "e1" not in ids and set(ids[:2]) == {"e2", "e3"}
        assert all(i["reason"] for i in answer["items"])
        assert answer["last_published"][:2] == ids[:2]

        status, ctype, body = get(port, "/users/nobody/recommendations")
        assert status == 404 and ctype.startswith("application/json")
        assert "nobody" in json.loads(body)["error"]
        status, _, body = get(port, "/users/" + "x" * 300 + "/recommendations")
        assert status == 400 and json.loads(body)["status"] == 400
        assert get(port, "/items/e1/sentiment")[0] == 404

        status, ctype, body = get(port, "/metrics")
        assert status == 200 and ctype.startswith("text/plain")
        assert "stream_recommendations_published_total 1.0" in body
        assert "process_resident_memory_bytes" in body


def test_views_with_a_token(broker: EmbeddedBroker, tmp_path: Path) -> None:
    """STREAM_WEB_TOKEN set: a reader's list and an item's sentiment only with the token,
    the probes without it, /metrics on its own port untouched, the token never logged."""
    token = "it-test-" + "0123456789abcdef" * 2
    settings = worker_settings(broker, web_token=token, log_level="debug")
    port = settings.web_port
    with worker_process(settings, tmp_path):
        wait_ready(port)  # /health answers without the token
        assert get(port, "/health?probe=live")[0] == 200

        publish_alices_list(broker, settings)

        for path in ("/users/alice/recommendations", "/items/e1/sentiment", "/items/e1",
                     "/metrics"):
            for guess in (None, "wrong-token", token[:-1]):
                status, ctype, body = get(port, path, guess)
                assert status == 401 and ctype.startswith("application/json"), (path, guess)
                assert json.loads(body)["status"] == 401 and token not in body

        status, _, body = get(port, "/users/alice/recommendations", token)
        assert status == 200, body
        assert json.loads(body)["user_id"] == "alice" and json.loads(body)["items"]
        assert get(port, "/users/nobody/recommendations", token)[0] == 404
        assert get(port, "/items/e1/sentiment", token)[0] == 404  # no comments scored
        # the scheme in any case
        request = urllib.request.Request(f"http://127.0.0.1:{port}/items/e1",
                                         headers={"Authorization": f"bEaReR {token}"})
        with urllib.request.urlopen(request, timeout=5) as resp:
            assert resp.status == 200

        # the Prometheus endpoint is another server: no token asked
        status, ctype, body = get(settings.metrics_port, "/metrics")
        assert status == 200 and ctype.startswith("text/plain")
        assert "stream_recommendations_published_total 1.0" in body
    log = (tmp_path / "worker.log").read_text(encoding="utf-8", errors="replace")
    assert token not in log


@pytest.mark.slow
def test_the_token_travels_with_a_forwarded_request(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    """Two workers with the token: a user's list is asked of either and answered by the one
    that owns the user, the request forwarded with its Authorization header."""
    token = "fw-test-" + "fedcba9876543210" * 2
    a_settings = worker_settings(broker, partitions=4, web_token=token)
    b_settings = a_settings.model_copy(update={"metrics_port": free_port(),
                                               "web_port": free_port()})
    users = [f"reader-{u}" for u in range(12)]
    asyncio.run(produce(broker.bootstrap, [item_msg(a_settings.topic_items, *it)
                                           for it in ITEMS]))
    a = start_worker(a_settings, tmp_path, "a")
    b = start_worker(b_settings, tmp_path, "b")
    try:
        for s in (a_settings, b_settings):
            wait_metrics(s.metrics_port, lambda m: m.get(
                "stream_catalog_items_learned_total", 0) >= len(ITEMS), timeout=90)
        asyncio.run(produce(broker.bootstrap, [
            click_msg(a_settings.topic_interactions, f"c-{u}", u, "e1") for u in users]))

        def published(port: int) -> float:
            return wait_metrics(port, lambda m: True).get(
                "stream_recommendations_published_total", 0.0)

        deadline = time.monotonic() + 60
        while published(a_settings.metrics_port) + published(b_settings.metrics_port) < len(
            users
        ):
            assert time.monotonic() < deadline, "not every user got a list"
            time.sleep(0.2)
        shares = (published(a_settings.metrics_port), published(b_settings.metrics_port))
        assert min(shares) > 0, shares  # so some requests must be forwarded
        for s in (a_settings, b_settings):
            wait_ready(s.web_port)
            for user in users:
                path = f"/users/{user}/recommendations"
                assert get(s.web_port, path)[0] == 401, (s.web_port, user)
                assert get(s.web_port, path, "wrong")[0] == 401, (s.web_port, user)
                status, _, body = get(s.web_port, path, token)
                assert status == 200, (s.web_port, user, body)
                assert json.loads(body)["user_id"] == user
    finally:
        stop_process(a)
        stop_process(b)
    for name in ("a", "b"):
        assert token not in (tmp_path / f"{name}.log").read_text(encoding="utf-8",
                                                                 errors="replace")
