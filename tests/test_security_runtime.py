"""zmqlint_runtime.security: fail-closed API keys, constant-time checks, CORS allow-lists.

The FastAPI / Starlette helpers are driven through real apps and their test clients.
"""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest
from fastapi import Depends, FastAPI
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from zmqlint_runtime.security import (
    ApiKeyMiddleware,
    CorsConfigurationError,
    MissingApiKeyError,
    allowed_origins,
    api_key_dependency,
    bearer_dependency,
    bearer_token,
    keys_match,
    require_api_key,
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    monkeypatch.delenv("ALLOW_UNAUTHENTICATED", raising=False)
    monkeypatch.delenv("CORS_ALLOWED_ORIGINS", raising=False)


# -- require_api_key -----------------------------------------------------------------------------


def test_require_api_key_returns_a_configured_key():
    assert require_api_key("s3cret") == "s3cret"
    assert require_api_key(b"raw") == b"raw"


@pytest.mark.parametrize("missing", [None, "", "   ", b""])
def test_require_api_key_refuses_a_missing_key(missing):
    with pytest.raises(MissingApiKeyError, match="ALLOW_UNAUTHENTICATED=1"):
        require_api_key(missing)


def test_escape_hatch_lets_local_development_start_without_a_key(monkeypatch, caplog):
    monkeypatch.setenv("ALLOW_UNAUTHENTICATED", "1")
    with caplog.at_level(logging.WARNING, logger="zmqlint_runtime.security"):
        assert require_api_key(None) is None
    assert "authentication is DISABLED" in caplog.text


@pytest.mark.parametrize("value", ["0", "true", "yes", " 1", ""])
def test_escape_hatch_is_exactly_one(monkeypatch, value):
    monkeypatch.setenv("ALLOW_UNAUTHENTICATED", value)
    with pytest.raises(MissingApiKeyError):
        require_api_key(None)


def test_escape_hatch_variable_can_be_renamed(monkeypatch):
    monkeypatch.setenv("ALLOW_UNAUTHENTICATED", "1")
    with pytest.raises(MissingApiKeyError):
        require_api_key(None, allow_unauthenticated_env="MYAPP_INSECURE")
    monkeypatch.setenv("MYAPP_INSECURE", "1")
    assert require_api_key(None, allow_unauthenticated_env="MYAPP_INSECURE") is None


def test_keys_match_in_constant_time_and_never_on_missing_keys():
    assert keys_match("abc", "abc")
    assert keys_match(b"abc", "abc")
    assert not keys_match("abd", "abc")
    assert not keys_match("abc", "abcd")
    assert not keys_match(None, "abc")
    assert not keys_match("", "")
    assert not keys_match(None, None)


@pytest.mark.parametrize(
    "header,token",
    [("Bearer t0k", "t0k"), ("bearer  t0k ", "t0k"), ("Basic dXNlcg==", None), ("Bearer", None), ("", None), (None, None)],
)
def test_bearer_token(header, token):
    assert bearer_token(header) == token


# -- allowed_origins -----------------------------------------------------------------------------


def test_allowed_origins_is_empty_by_default():
    assert allowed_origins() == []


def test_allowed_origins_reads_a_comma_separated_list(monkeypatch):
    monkeypatch.setenv("CORS_ALLOWED_ORIGINS", " https://ops.example.com, http://localhost:3000/ ,,https://ops.example.com")
    assert allowed_origins() == ["https://ops.example.com", "http://localhost:3000"]


def test_allowed_origins_default_applies_only_when_the_variable_is_unset(monkeypatch):
    assert allowed_origins(default=["https://a.example"]) == ["https://a.example"]
    monkeypatch.setenv("CORS_ALLOWED_ORIGINS", "https://b.example")
    assert allowed_origins(default=["https://a.example"]) == ["https://b.example"]


def test_allowed_origins_refuses_a_wildcard_with_credentials(monkeypatch):
    monkeypatch.setenv("CORS_ALLOWED_ORIGINS", "https://a.example,*")
    with pytest.raises(CorsConfigurationError, match="credentials"):
        allowed_origins()
    with pytest.raises(CorsConfigurationError):
        allowed_origins(allow_credentials=True)
    assert allowed_origins(allow_credentials=False) == ["https://a.example", "*"]


@pytest.mark.parametrize("bad", ["ops.example.com", "ftp://x.example", "https://x.example/api", "https://"])
def test_allowed_origins_refuses_what_is_not_an_origin(monkeypatch, bad):
    monkeypatch.setenv("CORS_ALLOWED_ORIGINS", bad)
    with pytest.raises(CorsConfigurationError):
        allowed_origins()


def test_allowed_origins_reads_another_variable(monkeypatch):
    monkeypatch.setenv("DASHBOARD_ORIGINS", "https://dash.example")
    assert allowed_origins("DASHBOARD_ORIGINS") == ["https://dash.example"]


# -- FastAPI dependencies ------------------------------------------------------------------------


def _fastapi_app(dependency) -> FastAPI:
    app = FastAPI()

    @app.get("/private", dependencies=[Depends(dependency)])
    def private():
        return {"ok": True}

    return app


def test_api_key_dependency_requires_the_header():
    client = TestClient(_fastapi_app(api_key_dependency("k-123")))
    assert client.get("/private").status_code == 401
    assert client.get("/private", headers={"X-API-Key": "wrong"}).status_code == 401
    assert client.get("/private", headers={"X-API-Key": "k-123"}).json() == {"ok": True}


def test_api_key_dependency_reads_a_custom_header():
    client = TestClient(_fastapi_app(api_key_dependency("k", header="X-Token")))
    assert client.get("/private", headers={"X-API-Key": "k"}).status_code == 401
    assert client.get("/private", headers={"X-Token": "k"}).status_code == 200


def test_bearer_dependency():
    client = TestClient(_fastapi_app(bearer_dependency("tok")))
    refused = client.get("/private")
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == "Bearer"
    assert client.get("/private", headers={"Authorization": "Basic tok"}).status_code == 401
    assert client.get("/private", headers={"Authorization": "Bearer tok"}).status_code == 200


def test_dependencies_fail_at_start_up_without_a_key(monkeypatch):
    with pytest.raises(MissingApiKeyError):
        api_key_dependency(None)
    with pytest.raises(MissingApiKeyError):
        bearer_dependency("")
    monkeypatch.setenv("ALLOW_UNAUTHENTICATED", "1")
    client = TestClient(_fastapi_app(api_key_dependency(None)))
    assert client.get("/private").status_code == 200


# -- Starlette middleware ------------------------------------------------------------------------


def _starlette_app(**options) -> Starlette:
    async def hello(request):
        return PlainTextResponse("hello")

    return Starlette(
        routes=[Route("/private", hello), Route("/health", hello)],
        middleware=[Middleware(ApiKeyMiddleware, **options)],
    )


def test_middleware_answers_401_without_the_key():
    client = TestClient(_starlette_app(key="k-9", exempt_paths={"/health"}))
    assert client.get("/private").status_code == 401
    assert client.get("/private", headers={"X-API-Key": "nope"}).status_code == 401
    assert client.get("/private", headers={"X-API-Key": "k-9"}).text == "hello"
    assert client.get("/private", headers={"Authorization": "Bearer k-9"}).text == "hello"
    assert client.get("/health").status_code == 200


def test_middleware_lets_cors_preflights_through_but_not_other_options_requests():
    client = TestClient(_starlette_app(key="k-9"))
    preflight = client.options(
        "/private", headers={"Origin": "https://a.example", "Access-Control-Request-Method": "GET"}
    )
    assert preflight.status_code != 401
    assert client.options("/private").status_code == 401


def test_middleware_without_bearer_ignores_authorization():
    client = TestClient(_starlette_app(key="k", bearer=False))
    assert client.get("/private", headers={"Authorization": "Bearer k"}).status_code == 401


def test_middleware_refuses_to_start_without_a_key():
    with pytest.raises(MissingApiKeyError):
        with TestClient(_starlette_app(key=None)) as client:
            client.get("/private")


def test_the_runtime_imports_without_web_frameworks():
    code = (
        "import sys\n"
        "import zmqlint_runtime.security as s\n"
        "assert 'fastapi' not in sys.modules and 'starlette' not in sys.modules\n"
        "print(s.require_api_key('k'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "k"
