"""Who may read the HTTP views: the bearer-token check, its middleware on the worker's web
server, and the refusal to serve readers' lists beyond the loopback with no token."""

from __future__ import annotations

import doctest
import hmac
import json
import os

import pytest
from aiohttp import web as aiohttp_web
from aiohttp.test_utils import TestClient, TestServer, make_mocked_request
from faust.web.drivers.aiohttp import Web as AiohttpWeb
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

import stream.agents.web
from stream.agents.web import (
    OPEN_PATHS,
    bearer_token_matches,
    check_exposure,
    view_middlewares,
)
from stream.app import Worker, create_app
from stream.cli import main
from stream.errors import UnprotectedViews
from stream.settings import Settings

TOKEN = "0123456789abcdef-the-right-token"


@pytest.fixture(autouse=True)
def no_stream_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings from the defaults and the test's own values only."""
    for key in list(os.environ):
        if key.upper().startswith("STREAM_"):
            monkeypatch.delenv(key)


# --- the check itself ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Bearer ", "Bearer wrong-token", "Bearer " + TOKEN[:-1],
     "Bearer " + TOKEN + "x", TOKEN, "Basic " + TOKEN, "Token " + TOKEN, "Bearer ünïcödé",
     "Bearer" + TOKEN],
)
def test_missing_or_wrong_tokens_do_not_match(header: str | None) -> None:
    assert not bearer_token_matches(header, SecretStr(TOKEN))


@pytest.mark.parametrize(
    "header",
    ["Bearer " + TOKEN, "bearer " + TOKEN, "BEARER " + TOKEN, "bEaReR " + TOKEN,
     "  Bearer   " + TOKEN + "  "],
)
def test_the_right_token_matches_whatever_the_scheme_s_case(header: str) -> None:
    assert bearer_token_matches(header, SecretStr(TOKEN))


def test_a_non_ascii_token_is_compared_too() -> None:
    assert bearer_token_matches("Bearer clé-secrète", SecretStr("clé-secrète"))
    assert not bearer_token_matches("Bearer cle-secrete", SecretStr("clé-secrète"))


def test_tokens_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Through hmac.compare_digest, never ``==``: the answer's timing tells nothing of how
    much of a guess was right."""
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert not bearer_token_matches("Bearer guess", SecretStr(TOKEN))
    assert bearer_token_matches("Bearer " + TOKEN, SecretStr(TOKEN))
    assert calls == [(b"guess", TOKEN.encode()), (TOKEN.encode(), TOKEN.encode())]


def test_the_docstring_examples_hold() -> None:
    result = doctest.testmod(stream.agents.web, raise_on_error=True)
    assert result.attempted >= 3


# --- the middleware ----------------------------------------------------------------------------


async def _answer(request: aiohttp_web.Request) -> aiohttp_web.StreamResponse:
    return aiohttp_web.json_response({"served": request.path})


async def _through(path: str, headers: dict[str, str] | None = None) -> aiohttp_web.Response:
    (require_token,) = view_middlewares(Settings(web_token=TOKEN))
    request = make_mocked_request("GET", path, headers=headers or {})
    response = await require_token(request, _answer)
    assert isinstance(response, aiohttp_web.Response)
    return response


@pytest.mark.parametrize(
    "path",
    ["/users/alice/recommendations", "/items/n1/sentiment", "/items/n1", "/metrics",
     "/table/users/", "/router/", "/", "/health/", "/healthz"],
)
@pytest.mark.parametrize("headers", [None, {"Authorization": "Bearer nope"},
                                     {"Authorization": TOKEN}])
async def test_every_view_but_health_needs_the_token(
    path: str, headers: dict[str, str] | None
) -> None:
    response = await _through(path, headers)
    assert response.status == 401
    assert response.content_type == "application/json"
    assert response.text is not None
    assert json.loads(response.text) == {
        "error": "this view needs 'Authorization: Bearer <token>'", "status": 401,
    }
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")
    assert TOKEN not in response.text


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
async def test_the_right_token_is_served(scheme: str) -> None:
    response = await _through("/users/alice/recommendations",
                              {"Authorization": f"{scheme} {TOKEN}"})
    assert response.status == 200


@pytest.mark.parametrize("path", ["/health", "/health?probe=ready", "/health?probe=live"])
async def test_the_probes_need_no_token(path: str) -> None:
    assert sorted(OPEN_PATHS) == ["/health"]
    assert (await _through(path)).status == 200


def test_no_token_no_middleware() -> None:
    assert view_middlewares(Settings()) == []


def _web_app(worker: Worker) -> aiohttp_web.Application:
    """The aiohttp application Faust's web driver would serve, views and middlewares."""
    web = worker.app.web
    assert isinstance(web, AiohttpWeb)
    return web.web_app


async def test_the_worker_s_web_server_checks_the_token() -> None:
    """The app as the worker builds it: the middleware sits in front of the real views."""
    worker = create_app(Settings(web_token=TOKEN), registry=CollectorRegistry())
    async with TestClient(TestServer(_web_app(worker))) as client:
        health = await client.get("/health?probe=live")
        assert health.status == 200 and (await health.json())["live"] is True
        for path in ("/items/n1", "/items/n1/sentiment", "/users/alice/recommendations",
                     "/table/", "/router/"):
            response = await client.get(path)
            assert response.status == 401, path
            wrong = await client.get(path, headers={"Authorization": "Bearer nope"})
            assert wrong.status == 401, path
        # an unknown item: past the token, answered by the view itself
        right = await client.get("/items/n1", headers={"Authorization": f"bearer {TOKEN}"})
        assert right.status == 404 and "n1" in (await right.json())["error"]


async def test_without_a_token_the_views_answer_anyone() -> None:
    worker = create_app(Settings(), registry=CollectorRegistry())
    async with TestClient(TestServer(_web_app(worker))) as client:
        assert (await client.get("/items/n1")).status == 404


# --- the setting --------------------------------------------------------------------------------


def test_the_token_is_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAM_WEB_TOKEN", TOKEN)
    s = Settings()
    assert s.web_token is not None and s.web_token.get_secret_value() == TOKEN
    for shown in (repr(s), str(s), s.model_dump_json(), str(s.model_dump())):
        assert TOKEN not in shown


@pytest.mark.parametrize("empty", ["", "   "])
def test_an_empty_token_is_no_token(monkeypatch: pytest.MonkeyPatch, empty: str) -> None:
    """``STREAM_WEB_TOKEN=`` must not make ``Authorization: Bearer`` with nothing a key."""
    monkeypatch.setenv("STREAM_WEB_TOKEN", empty)
    assert Settings().web_token is None


def test_white_space_around_the_token_is_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Secret made with ``--from-file`` holds the file's final newline."""
    monkeypatch.setenv("STREAM_WEB_TOKEN", f" {TOKEN}\n")
    token = Settings().web_token
    assert token is not None and token.get_secret_value() == TOKEN
    assert bearer_token_matches(f"Bearer {TOKEN}", token)


# --- the refusal to start ------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "LocalHost", "::1"])
def test_loopback_views_need_no_token(host: str) -> None:
    assert Settings(web_host=host).web_loopback_only
    check_exposure(Settings(web_host=host))


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.1.2.3", "worker-1", ""])
def test_open_views_without_a_token_are_refused(host: str) -> None:
    s = Settings(web_host=host)
    assert not s.web_loopback_only
    with pytest.raises(UnprotectedViews) as refused:
        check_exposure(s)
    message = str(refused.value)
    for what in ("STREAM_WEB_TOKEN", "STREAM_WEB_TRUSTED_NETWORK", "STREAM_WEB_HOST"):
        assert what in message


@pytest.mark.parametrize(
    "choice",
    [{"web_token": TOKEN}, {"web_trusted_network": True}, {"web_enabled": False}],
)
def test_open_views_start_once_the_deployment_chose(choice: dict[str, object]) -> None:
    check_exposure(Settings(web_host="0.0.0.0", **choice))  # type: ignore[arg-type]


def test_stream_worker_says_what_to_set_and_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Refused before it touches the broker (there is none here) and without a traceback."""
    monkeypatch.setenv("STREAM_WEB_HOST", "0.0.0.0")
    monkeypatch.setenv("STREAM_BROKER", "kafka://127.0.0.1:1")
    assert main(["worker"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("stream worker: refusing to start: ")
    assert "STREAM_WEB_TOKEN" in err and "STREAM_WEB_TRUSTED_NETWORK=true" in err
    assert "Traceback" not in err
