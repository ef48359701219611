"""SEC402 + SEC403 on real FastAPI / Starlette apps, before and after `zmqlint --fix --unsafe-fixes`.

Each app is written to a temporary folder, imported from there under a fresh module name and
driven through Starlette's test client. The buggy app serves anyone and answers a preflight
from https://evil.example; the app zmqlint rewrote refuses to start without a key (unless
ALLOW_UNAUTHENTICATED=1), answers 401 without the key, and admits only the listed origins.
"""

from __future__ import annotations

import importlib.util
import itertools
import shutil
import sys
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from zmqlint.engine import FixMode
from zmqlint_runtime.security import MissingApiKeyError

from conftest import findings_of, lint_tree, write_tree

pytestmark = pytest.mark.timeout(60)

EVIL = "https://evil.example"
TRUSTED = "https://ops.example.com"
KEY = "k-7f3a9c"

FASTAPI_APP = """
    import hmac
    import os
    from typing import Optional

    from fastapi import Depends, FastAPI, Header, HTTPException
    from fastapi.middleware.cors import CORSMiddleware


    class ApiKeyAuth:
        def __init__(self, api_key: Optional[str]) -> None:
            if not api_key:
                self.api_key = None  # authentication disabled
            else:
                self.api_key = api_key

        def verify(self, presented: Optional[str]) -> bool:
            if self.api_key is None:
                return True
            if not presented:
                return False
            return hmac.compare_digest(presented.encode(), self.api_key.encode())


    def create_app() -> FastAPI:
        app = FastAPI()
        app.add_middleware(
            CORSMiddleware,
            allow_origins=["*"],
            allow_credentials=True,
            allow_methods=["*"],
            allow_headers=["*"],
        )
        auth = ApiKeyAuth(os.environ.get("APP_API_KEY"))

        def require_key(x_api_key: Optional[str] = Header(default=None)) -> None:
            if not auth.verify(x_api_key):
                raise HTTPException(status_code=401, detail="missing or invalid API key")

        @app.get("/v1/status", dependencies=[Depends(require_key)])
        def status():
            return {"gpus": 2}

        return app
"""

STARLETTE_APP = """
    import os

    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.base import BaseHTTPMiddleware
    from starlette.middleware.cors import CORSMiddleware
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    SERVICE_TOKEN = os.environ.get("SERVICE_TOKEN")
    CORS_ORIGINS = ["*"]


    class TokenAuth(BaseHTTPMiddleware):
        async def dispatch(self, request, call_next):
            if not SERVICE_TOKEN:
                return await call_next(request)
            if request.headers.get("authorization") != f"Bearer {SERVICE_TOKEN}":
                return JSONResponse({"detail": "unauthorized"}, status_code=401)
            return await call_next(request)


    async def status(request):
        return JSONResponse({"gpus": 2})


    app = Starlette(
        routes=[Route("/v1/status", status)],
        middleware=[
            Middleware(CORSMiddleware, allow_origins=CORS_ORIGINS, allow_methods=["GET"], allow_headers=["authorization"]),
            Middleware(TokenAuth),
        ],
    )
"""

_fresh = itertools.count()


def load(path: Path):
    """Import ``path`` as a brand-new module (never cached, never the name of another test's)."""
    name = f"sec40x_app_{next(_fresh)}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(name, None)
    return module


def preflight(client: TestClient, origin: str):
    return client.options(
        "/v1/status", headers={"Origin": origin, "Access-Control-Request-Method": "GET"}
    )


@pytest.fixture
def env(monkeypatch):
    for name in ("ALLOW_UNAUTHENTICATED", "CORS_ALLOWED_ORIGINS", "APP_API_KEY", "SERVICE_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def lint_and_fix(root: Path, source: str):
    """(buggy path, fixed path, findings on the buggy app) for an app source."""
    buggy = root / "buggy"
    write_tree(buggy, {"app.py": source})
    fixed = root / "fixed"
    shutil.copytree(buggy, fixed)
    found = findings_of(lint_tree(buggy, select=["SEC402", "SEC403"]))
    result = lint_tree(fixed, select=["SEC402", "SEC403"], fix=FixMode.UNSAFE)
    assert not result.errors
    assert findings_of(result) == [], "the unsafe fixes leave nothing to report"
    return buggy / "app.py", fixed / "app.py", found


@pytest.fixture(scope="module")
def fastapi_app(tmp_path_factory):
    return lint_and_fix(tmp_path_factory.mktemp("fastapi_app"), FASTAPI_APP)


@pytest.fixture(scope="module")
def starlette_app(tmp_path_factory):
    return lint_and_fix(tmp_path_factory.mktemp("starlette_app"), STARLETTE_APP)


# -- FastAPI ---------------------------------------------------------------------------------------


def test_fastapi_buggy_app_serves_anyone_and_any_origin(env, fastapi_app):
    buggy, _, found = fastapi_app
    assert sorted(f.code for f in found) == ["SEC402", "SEC403"]
    client = TestClient(load(buggy).create_app())
    assert client.get("/v1/status").json() == {"gpus": 2}
    answer = preflight(client, EVIL)
    assert answer.headers.get("access-control-allow-origin") == EVIL
    assert answer.headers.get("access-control-allow-credentials") == "true"


def test_fastapi_fixed_app_refuses_to_start_without_a_key(env, fastapi_app):
    _, fixed, _ = fastapi_app
    module = load(fixed)
    with pytest.raises(MissingApiKeyError):
        module.create_app()


def test_fastapi_fixed_app_starts_without_a_key_only_with_the_escape_hatch(env, fastapi_app):
    _, fixed, _ = fastapi_app
    env.setenv("ALLOW_UNAUTHENTICATED", "1")
    client = TestClient(load(fixed).create_app())
    assert client.get("/v1/status").status_code == 200


def test_fastapi_fixed_app_requires_the_key_and_a_listed_origin(env, fastapi_app):
    _, fixed, _ = fastapi_app
    env.setenv("APP_API_KEY", KEY)
    env.setenv("CORS_ALLOWED_ORIGINS", TRUSTED)
    client = TestClient(load(fixed).create_app())
    assert client.get("/v1/status").status_code == 401
    assert client.get("/v1/status", headers={"X-API-Key": "guess"}).status_code == 401
    assert client.get("/v1/status", headers={"X-API-Key": KEY}).json() == {"gpus": 2}
    assert "access-control-allow-origin" not in preflight(client, EVIL).headers
    assert preflight(client, TRUSTED).headers.get("access-control-allow-origin") == TRUSTED


def test_fastapi_fixed_app_admits_no_origin_by_default(env, fastapi_app):
    _, fixed, _ = fastapi_app
    env.setenv("APP_API_KEY", KEY)
    client = TestClient(load(fixed).create_app())
    assert "access-control-allow-origin" not in preflight(client, TRUSTED).headers


# -- Starlette -------------------------------------------------------------------------------------


def test_starlette_buggy_app_serves_anyone_and_any_origin(env, starlette_app):
    buggy, _, found = starlette_app
    assert sorted(f.code for f in found) == ["SEC402", "SEC403"]
    client = TestClient(load(buggy).app)
    assert client.get("/v1/status").status_code == 200
    assert preflight(client, EVIL).headers.get("access-control-allow-origin") == "*"


def test_starlette_fixed_app_refuses_to_start_without_a_token(env, starlette_app):
    _, fixed, _ = starlette_app
    with pytest.raises(MissingApiKeyError):
        load(fixed)
    env.setenv("ALLOW_UNAUTHENTICATED", "1")
    assert TestClient(load(fixed).app).get("/v1/status").status_code == 200


def test_starlette_fixed_app_requires_the_token_and_a_listed_origin(env, starlette_app):
    _, fixed, _ = starlette_app
    env.setenv("SERVICE_TOKEN", KEY)
    env.setenv("CORS_ALLOWED_ORIGINS", f"{TRUSTED},http://localhost:3000")
    client = TestClient(load(fixed).app)
    assert client.get("/v1/status").status_code == 401
    assert client.get("/v1/status", headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
    assert "access-control-allow-origin" not in preflight(client, EVIL).headers
    assert preflight(client, TRUSTED).headers.get("access-control-allow-origin") == TRUSTED


def test_fixed_app_refuses_a_wildcard_with_credentials(env, fastapi_app):
    _, fixed, _ = fastapi_app
    env.setenv("APP_API_KEY", KEY)
    env.setenv("CORS_ALLOWED_ORIGINS", "*")
    from zmqlint_runtime.security import CorsConfigurationError

    with pytest.raises(CorsConfigurationError):
        load(fixed).create_app()


# -- the sample fleet's hand-made http.server API -----------------------------------------------

FLEET_PROBE = """
import http.client, json, os, sys
from agent_fleet.coordinator.transport.rest_api import RestApi

port = int(sys.argv[1])
report = {}

def request(api, method, headers):
    connection = http.client.HTTPConnection("127.0.0.1", api.port, timeout=10)
    try:
        connection.request(method, "/v1/status", headers=headers)
        response = connection.getresponse()
        response.read()
        return response
    finally:
        connection.close()

def serve(key):
    api = RestApi("127.0.0.1", port, servicer=None, status_provider=lambda: {"ok": True}, api_key=key)
    api.start()
    return api

try:
    api = serve(None)
except Exception as exc:
    report["without_key"] = type(exc).__name__
else:
    report["without_key"] = request(api, "GET", {}).status
    api.stop()

api = serve("k-1")
try:
    report["no_credentials"] = request(api, "GET", {}).status
    report["with_key"] = request(api, "GET", {"X-API-Key": "k-1"}).status
    for name, origin in (("evil", "https://evil.example"), ("trusted", "https://ops.example.com")):
        answer = request(api, "OPTIONS", {"Origin": origin, "Access-Control-Request-Method": "GET"})
        report[name] = answer.getheader("Access-Control-Allow-Origin")
finally:
    api.stop()
print(json.dumps(report))
"""


def probe_fleet(fixtures_root: Path) -> dict:
    import json
    import os
    import subprocess

    from conftest import free_port

    env = {k: v for k, v in os.environ.items() if k not in ("ALLOW_UNAUTHENTICATED", "FLEET_API_KEY")}
    env["CORS_ALLOWED_ORIGINS"] = TRUSTED
    env["PYTHONPATH"] = os.pathsep.join([str(fixtures_root), env.get("PYTHONPATH", "")])
    out = subprocess.run(
        [sys.executable, "-c", FLEET_PROBE, str(free_port())],
        capture_output=True, text=True, timeout=60, env=env, cwd=fixtures_root,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


FLEET = Path(__file__).resolve().parent.parent / "fixtures" / "agent_fleet"


@pytest.mark.skipif(not (FLEET / "coordinator" / "transport" / "rest_api.py").is_file(), reason="no sample fleet")
def test_fleet_rest_api_fails_open_and_closed_after_the_fix(tmp_path):
    before = probe_fleet(FLEET.parent)
    assert before["without_key"] == 200
    assert before["evil"] == "https://evil.example"

    shutil.copytree(FLEET, tmp_path / "agent_fleet", ignore=shutil.ignore_patterns("__pycache__"))
    result = lint_tree(tmp_path / "agent_fleet", select=["SEC402", "SEC403"], fix=FixMode.UNSAFE,
                       paths=["coordinator/transport"])
    assert result.fixes_applied >= 2 and findings_of(result) == []
    after = probe_fleet(tmp_path)
    assert after == {
        "without_key": "MissingApiKeyError",
        "no_credentials": 401,
        "with_key": 200,
        "evil": None,
        "trusted": TRUSTED,
    }
