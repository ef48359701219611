"""SEC403 wildcard-cors: the spellings it catches, the ones it leaves alone, its severity."""

from __future__ import annotations

from pathlib import Path

import pytest

from zmqlint.engine import FixMode
from zmqlint.model import Severity

from conftest import REPO, findings_of, lint_tree, write_tree

pytestmark = pytest.mark.timeout(300)


def sec403(tmp_path: Path, code: str):
    write_tree(tmp_path, {"app.py": code})
    result = lint_tree(tmp_path, select=["SEC403"])
    assert not result.errors
    return findings_of(result, "SEC403")


CAUGHT = {
    "fastapi-list": """
        from fastapi.middleware.cors import CORSMiddleware
        app.add_middleware(CORSMiddleware, allow_origins=["*"])
    """,
    "starlette-tuple-aliased": """
        from starlette.middleware.cors import CORSMiddleware as Cors
        app.add_middleware(Cors, allow_origins=("*",))
    """,
    "module-import": """
        import fastapi.middleware.cors
        app.add_middleware(fastapi.middleware.cors.CORSMiddleware, allow_origins=["https://a.example", "*"])
    """,
    "middleware-list": """
        from fastapi.middleware import Middleware
        from fastapi.middleware.cors import CORSMiddleware
        middleware = [Middleware(CORSMiddleware, allow_origins=["*"])]
    """,
    "string-star": """
        from starlette.middleware.cors import CORSMiddleware
        app.add_middleware(CORSMiddleware, allow_origins="*")
    """,
    "local-variable": """
        from starlette.middleware.cors import CORSMiddleware
        def build(app):
            origins: list = ["*"]
            app.add_middleware(CORSMiddleware, allow_origins=origins)
    """,
    "environ-default": """
        import os
        from starlette.middleware.cors import CORSMiddleware
        app.add_middleware(CORSMiddleware, allow_origins=os.environ.get("ORIGINS", "*").split(","))
    """,
    "regex-dot-star": """
        from starlette.middleware.cors import CORSMiddleware
        app.add_middleware(CORSMiddleware, allow_origin_regex=".*")
    """,
    "flask-origins-star": """
        from flask_cors import CORS
        CORS(app, origins="*")
    """,
    "flask-cross-origin-default": """
        from flask_cors import cross_origin
        @app.route("/x")
        @cross_origin()
        def x():
            return "x"
    """,
    "response-headers": """
        from starlette.responses import Response
        def handler(request):
            response = Response("ok")
            response.headers["Access-Control-Allow-Origin"] = "*"
            return response
    """,
    "echoed-origin-subscript": """
        def cors(handler):
            handler.send_header("access-control-allow-origin", handler.headers["Origin"])
    """,
}


@pytest.mark.parametrize("code", CAUGHT.values(), ids=CAUGHT.keys())
def test_caught(tmp_path, code):
    assert len(sec403(tmp_path, code)) == 1


LEFT_ALONE = {
    "explicit-list": """
        from fastapi.middleware.cors import CORSMiddleware
        app.add_middleware(CORSMiddleware, allow_origins=["https://a.example"], allow_credentials=True)
    """,
    "settings": """
        from fastapi.middleware.cors import CORSMiddleware
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_credentials=True)
    """,
    "environ-without-wildcard-default": """
        import os
        from fastapi.middleware.cors import CORSMiddleware
        app.add_middleware(CORSMiddleware, allow_origins=os.environ.get("ORIGINS", "").split(","))
    """,
    "narrow-regex": """
        from starlette.middleware.cors import CORSMiddleware
        app.add_middleware(CORSMiddleware, allow_origin_regex=r"https://(www|ops)\\.example\\.com")
    """,
    "reassigned-variable": """
        from starlette.middleware.cors import CORSMiddleware
        origins = ["*"]
        origins = load_origins()
        app.add_middleware(CORSMiddleware, allow_origins=origins)
    """,
    "another-corsmiddleware": """
        from myproject.cors import CORSMiddleware
        app.add_middleware(CORSMiddleware, allow_origins=["*"])
    """,
    "flask-cors-deferred": """
        from flask_cors import CORS
        cors = CORS()
    """,
    "star-in-other-header": """
        def headers(handler):
            handler.send_header("Access-Control-Allow-Headers", "*")
            handler.send_header("Access-Control-Allow-Methods", "*")
    """,
    "checked-origin-early-return": """
        ALLOWED = ("https://a.example",)
        def cors(handler):
            origin = handler.headers.get("Origin")
            if origin not in ALLOWED:
                return
            handler.send_header("Access-Control-Allow-Origin", origin)
    """,
    "origins-variable-without-cors-headers": """
        origins = ["*"]  # a list of something else entirely
    """,
}


@pytest.mark.parametrize("code", LEFT_ALONE.values(), ids=LEFT_ALONE.keys())
def test_left_alone(tmp_path, code):
    assert sec403(tmp_path, code) == []


@pytest.mark.parametrize(
    "code,severity",
    [
        ('add_middleware(CORSMiddleware, allow_origins=["*"])', Severity.HIGH),
        ('add_middleware(CORSMiddleware, allow_origins=["*"], allow_credentials=False)', Severity.HIGH),
        ('add_middleware(CORSMiddleware, allow_origins=["*"], allow_credentials=True)', Severity.CRITICAL),
        ('add_middleware(CORSMiddleware, allow_origins=["*"], allow_credentials=CREDENTIALS)', Severity.CRITICAL),
    ],
)
def test_credentials_make_it_critical(tmp_path, code, severity):
    source = f"from fastapi.middleware.cors import CORSMiddleware\nCREDENTIALS = True\napp.{code}\n"
    (finding,) = sec403(tmp_path, source)
    assert finding.severity is severity


def test_flask_supports_credentials_is_critical(tmp_path):
    (finding,) = sec403(tmp_path, "from flask_cors import CORS\nCORS(app, resources={'/api/*': {'origins': ['*']}}, supports_credentials=True)\n")
    assert finding.severity is Severity.CRITICAL


def test_a_variable_used_twice_is_reported_and_fixed_once(tmp_path):
    code = """
        from starlette.middleware.cors import CORSMiddleware
        ORIGINS = ["*"]
        api.add_middleware(CORSMiddleware, allow_origins=ORIGINS)
        admin.add_middleware(CORSMiddleware, allow_origins=ORIGINS)
    """
    assert len(sec403(tmp_path, code)) == 1
    result = lint_tree(tmp_path, select=["SEC403"], fix=FixMode.UNSAFE)
    assert findings_of(result) == []
    text = (tmp_path / "app.py").read_text()
    assert "ORIGINS = allowed_origins()" in text
    assert text.count("allow_origins=ORIGINS") == 2


def test_the_name_allowed_origins_already_taken(tmp_path):
    code = """
        from starlette.middleware.cors import CORSMiddleware
        allowed_origins = ["*"]
        app.add_middleware(CORSMiddleware, allow_origins=allowed_origins)
    """
    sec403(tmp_path, code)
    lint_tree(tmp_path, select=["SEC403"], fix=FixMode.UNSAFE)
    text = (tmp_path / "app.py").read_text()
    assert "import zmqlint_runtime.security" in text
    assert "allowed_origins = zmqlint_runtime.security.allowed_origins()" in text


def test_safe_fix_leaves_cors_alone(tmp_path):
    code = 'from fastapi.middleware.cors import CORSMiddleware\napp.add_middleware(CORSMiddleware, allow_origins=["*"])\n'
    write_tree(tmp_path, {"app.py": code})
    result = lint_tree(tmp_path, select=["SEC403"], fix=FixMode.SAFE)
    assert (tmp_path / "app.py").read_text() == code
    assert len(findings_of(result, "SEC403")) == 1


def test_fleet_wildcards_are_caught():
    fleet = REPO / "fixtures" / "agent_fleet"
    if not fleet.is_dir():
        pytest.skip("the sample fleet is not in this checkout")
    found = findings_of(lint_tree(fleet, select=["SEC403"], paths=["coordinator/transport"]), "SEC403")
    where = {(Path(f.path).name, f.severity) for f in found}
    assert ("fastapi_app.py", Severity.CRITICAL) in where
    assert ("rest_api.py", Severity.CRITICAL) in where
