"""SEC402 fail-open-auth: the spellings it catches, the ones it leaves alone, where its fix goes."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from zmqlint.engine import FixMode, compiles
from zmqlint.facts.fail_open import credential_name

from conftest import REPO, findings_of, lint_tree, write_tree

pytestmark = pytest.mark.timeout(300)


def sec402(tmp_path: Path, code: str):
    write_tree(tmp_path, {"app.py": code})
    result = lint_tree(tmp_path, select=["SEC402"])
    assert not result.errors
    return findings_of(result, "SEC402")


def fixed(tmp_path: Path, code: str) -> str:
    write_tree(tmp_path, {"app.py": code})
    result = lint_tree(tmp_path, select=["SEC402"], fix=FixMode.UNSAFE)
    assert findings_of(result, "SEC402") == []
    text = (tmp_path / "app.py").read_text()
    assert compiles(text)
    return text


@pytest.mark.parametrize(
    "name,is_credential",
    [
        ("api_key", True), ("API_KEY", True), ("apiKey", True), ("self_token", True), ("client_secret", True),
        ("db_password", True), ("auth_token", True), ("credentials", True), ("SECRET_KEY", True),
        ("key", False), ("max_tokens", False), ("token_count", False), ("api_key_header", False),
        ("password_field", False), ("tokenizer", False), ("auth", False), ("monkey", False),
    ],
)
def test_credential_names(name, is_credential):
    assert credential_name(name) is is_credential


CAUGHT = {
    "verifier-not-key": """
        def verify(presented, api_key):
            if not api_key:
                return True
            return presented == api_key
    """,
    "verifier-or": """
        class Guard:
            def check(self, presented):
                if not self.settings.auth_token or self.settings.debug:
                    return True
                return presented == self.settings.auth_token
    """,
    "verifier-equals-empty": """
        SECRET = ""
        def allowed(header):
            if SECRET == "":
                return True
            return header == SECRET
    """,
    "pure-asgi-middleware": """
        class TokenGate:
            async def __call__(self, scope, receive, send):
                if self.token is None:
                    return await self.app(scope, receive, send)
                await deny(scope, receive, send)
    """,
    "guard-set-to-none": """
        def configure(app, password):
            app.state.authenticator = Authenticator(password)
            if not password:
                app.state.authenticator = None
    """,
    "dependencies-emptied": """
        def routes(settings):
            dependencies = [Depends(check_key)]
            if settings.api_key is None:
                dependencies = []
            return APIRouter(dependencies=dependencies)
    """,
    "env-key-by-origin": """
        import os
        def setup(app):
            key = os.getenv("COORDINATOR_KEY")
            if key:
                app.add_middleware(KeyMiddleware, key=key)
    """,
    "positive-test-and": """
        def setup(app, api_key, enabled):
            if api_key and enabled:
                app.include_router(router, dependencies=[Depends(verify)])
    """,
}


@pytest.mark.parametrize("code", CAUGHT.values(), ids=CAUGHT.keys())
def test_caught(tmp_path, code):
    assert len(sec402(tmp_path, code)) == 1


LEFT_ALONE = {
    "fails-closed-raise": """
        def setup(app, api_key):
            if not api_key:
                raise SystemExit("API key required")
            app.add_middleware(KeyMiddleware, key=api_key)
    """,
    "optional-auth-raises-unless-told-not-to": """
        class APIKeyHeader:
            def check_api_key(self, api_key):
                if not api_key:
                    if self.auto_error:
                        raise HTTPException(status_code=401)
                    return None
                return api_key
    """,
    "client-side-auth-header": """
        def open_proxy(proxy_passwd):
            if proxy_passwd:
                proxy_auth = encode(proxy_passwd)
            else:
                proxy_auth = None
            return proxy_auth
    """,
    "verifier-returns-false": """
        def verify(presented, api_key):
            if not api_key:
                return False
            return presented == api_key
    """,
    "presented-missing-returns-false": """
        def verify(self, presented):
            if not presented:
                return False
            return presented == self.api_key
    """,
    "client-side-token": """
        def session(token=None):
            s = Session()
            if token:
                s.headers["Authorization"] = "Bearer " + token
            return s
    """,
    "lexer-token": """
        def next_token(self, token):
            if token is None:
                return True
            return token.kind == "NAME"
    """,
    "early-return-without-guard": """
        def describe(api_key):
            if not api_key:
                return "anonymous"
            return "key ..." + api_key[-4:]
    """,
    "key-in-else-raises": """
        def setup(app, api_key):
            if api_key:
                app.add_middleware(KeyMiddleware, key=api_key)
            else:
                raise RuntimeError("no key")
    """,
    "escape-hatch-already-routed": """
        import os
        from zmqlint_runtime.security import require_api_key
        API_TOKEN = require_api_key(os.getenv("API_TOKEN"))
        async def dispatch(request, call_next):
            if not API_TOKEN:
                return await call_next(request)
            return await check(request, call_next)
    """,
    "non-credential-env": """
        import os
        def setup(app):
            region = os.getenv("REGION")
            if region:
                app.add_middleware(RegionMiddleware, region=region)
    """,
}


@pytest.mark.parametrize("code", LEFT_ALONE.values(), ids=LEFT_ALONE.keys())
def test_left_alone(tmp_path, code):
    assert sec402(tmp_path, code) == []


def test_verifier_fix_goes_where_the_attribute_is_set(tmp_path):
    text = fixed(
        tmp_path,
        """
        class Auth:
            def __init__(self, settings):
                self.token = settings.get("token")

            def ok(self, presented):
                if not self.token:
                    return True
                return presented == self.token
        """,
    )
    assert 'self.token = require_api_key(settings.get("token"))' in text
    assert "if not self.token:" in text


def test_verifier_without_a_start_up_place_is_reported_only(tmp_path):
    code = """
        def verify(presented, settings):
            if not settings.api_key:
                return True
            return presented == settings.api_key
    """
    (finding,) = sec402(tmp_path, code)
    assert finding.fix is None


def test_request_credential_let_through_is_reported_without_fix(tmp_path):
    code = """
        from fastapi import Header, HTTPException
        def verify(request):
            token = request.headers.get("x-token")
            if not token:
                return
            if token != EXPECTED:
                raise HTTPException(status_code=401)
    """
    (finding,) = sec402(tmp_path, code)
    assert "request" in finding.message
    assert finding.fix is None


def test_setup_fix_keeps_the_rest_of_the_file(tmp_path):
    code = """
        import os  # keep me


        def setup(app):
            # the key is optional in dev
            key = os.getenv("SERVICE_KEY")
            if key:   # install the guard
                app.add_middleware(KeyMiddleware, key=key)
            return app
    """
    text = fixed(tmp_path, code)
    expected = textwrap.dedent(code).lstrip("\n").replace("if key:", "if require_api_key(key):")
    expected = expected.replace("import os  # keep me\n", "import os  # keep me\nfrom zmqlint_runtime.security import require_api_key\n")
    assert text == expected


def test_safe_fix_leaves_auth_alone(tmp_path):
    code = "def verify(p, api_key):\n    if not api_key:\n        return True\n    return p == api_key\n"
    write_tree(tmp_path, {"app.py": code})
    lint_tree(tmp_path, select=["SEC402"], fix=FixMode.SAFE)
    assert (tmp_path / "app.py").read_text() == code


def test_fleet_fail_open_auth_is_caught():
    fleet = REPO / "fixtures" / "agent_fleet"
    if not fleet.is_dir():
        pytest.skip("the sample fleet is not in this checkout")
    found = findings_of(lint_tree(fleet, select=["SEC402"], paths=["coordinator/transport"]), "SEC402")
    assert [Path(f.path).name for f in found] == ["auth.py"]
    assert found[0].fix is not None


def _gate_admits(tmp_path: Path, code: str) -> bool:
    from zmqlint.config import Config
    from zmqlint.gates import FileFacts
    from zmqlint.index import ProjectIndex
    from zmqlint.rules.fail_open_auth import FailOpenAuth

    path = tmp_path / "app.py"
    path.write_text(textwrap.dedent(code))
    config = Config.from_table({}, root=tmp_path)
    facts = FileFacts(path=path, text=path.read_text(), index=ProjectIndex(tmp_path), config=config)
    return FailOpenAuth.gate(facts)


@pytest.mark.parametrize("code", CAUGHT.values(), ids=CAUGHT.keys())
def test_the_gate_admits_every_file_the_rule_reports(tmp_path, code):
    assert _gate_admits(tmp_path, code)


# Left alone for what the branch does (`_fail_open`), which the gate asks too: such a file is
# not parsed with LibCST for SEC402 at all (urllib's proxy and digest handlers were).
@pytest.mark.parametrize(
    "name", ["client-side-auth-header", "verifier-returns-false", "presented-missing-returns-false", "early-return-without-guard", "client-side-token"]
)
def test_the_gate_turns_away_branches_that_do_not_fail_open(tmp_path, name):
    assert not _gate_admits(tmp_path, LEFT_ALONE[name])


def test_the_gate_finds_the_enclosing_function_and_what_follows_the_if(tmp_path):
    # `return None` fails open only in a function that raises elsewhere (here: the nested
    # one's raise does not count, the method's does), and an early return only when an
    # auth object is set after the `if` in the same block.
    early_return = """
        def guard(self, token):
            def inner():
                raise ValueError
            if token is None:
                return None
            {after}
    """
    assert not _gate_admits(tmp_path, early_return.format(after="return inner"))
    assert _gate_admits(tmp_path, early_return.format(after="raise PermissionError"))
    assert _gate_admits(tmp_path, early_return.format(after="self.auth = make(token)"))
    assert not _gate_admits(tmp_path, early_return.format(after="self.auth = None"))
