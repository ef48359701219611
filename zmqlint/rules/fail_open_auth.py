from __future__ import annotations

from typing import TYPE_CHECKING, Dict, Optional, Set

import libcst as cst
from libcst.metadata import ParentNodeProvider, PositionProvider, QualifiedNameProvider, ScopeProvider

from zmqlint.codemods import matchers as m, names_in
from zmqlint.codemods.security import assigned_value, require_api_key_call
from zmqlint.facts.fail_open import (
    FailOpenFacts,
    attribute_assignments,
    is_require_call,
    may_fail_open,
    mentions_require,
    subexpressions,
)
from zmqlint.model import Applicability, Fix, ImportSpec, Severity
from zmqlint.rule import AnyWord, Invalid, Rule, Valid

if TYPE_CHECKING:  # pragma: no cover
    from zmqlint.gates import FileFacts


class FailOpenAuth(Rule):
    """Flags authentication that switches itself off when its key is missing.

    ## What it does
    Reports a setup or verify path that, when a key / token / secret / password is falsy or
    None, disables the guard: a verifier that returns True (or a middleware that calls the
    next handler) without checking anything, an auth dependency or middleware set to None,
    an early return that leaves it unset, or a branch that only adds the auth middleware
    when a key is configured. The key is recognised by its name (`api_key`, `AUTH_TOKEN`,
    `settings.secret`) or by where it came from (an environment lookup of such a variable).
    A credential the request itself presents (a `Header(...)` parameter) that is let through
    when absent is reported as well.

    ## Why is this bad?
    A deployment that forgets the key, or loses it to a typo in a variable name, starts and
    serves every caller without a word. In the field report the ModelOps REST API ran without
    authentication whenever no API key was configured; together with a wildcard CORS policy
    any web page could drive the GPU fleet. Authentication must fail closed.

    ## Example
    ```python
    class ApiKeyAuth:
        def __init__(self, api_key):
            self.api_key = api_key or None

        def verify(self, presented):
            if self.api_key is None:
                return True
            return hmac.compare_digest(presented or "", self.api_key)
    ```

    ## Use instead
    ```python
    from zmqlint_runtime.security import require_api_key

    class ApiKeyAuth:
        def __init__(self, api_key):
            self.api_key = require_api_key(api_key or None)
        ...
    ```

    ## Fix safety
    Unsafe: a service that used to start without a key now refuses to. The fix routes the
    missing-key branch through `zmqlint_runtime.security.require_api_key(key)`, which returns
    the key or raises `MissingApiKeyError` at start-up: in the test of a setup path
    (`if not require_api_key(api_key): ...`), or where the key a verifier reads is set (in
    the class's `__init__`, or the module-level assignment). For local development only,
    `ALLOW_UNAUTHENTICATED=1` makes it return None, so the old unauthenticated branch runs,
    logged. Where the key comes from elsewhere, or the request's own credential is let
    through, the finding is reported only.
    """

    CODE = "SEC402"
    NAME = "fail-open-auth"
    SEVERITY = Severity.HIGH
    MESSAGE = "Authentication is disabled when the key is missing"
    FIXES = (Applicability.UNSAFE,)
    # Every credential word the rule recognises (see `credential_name`) contains one of these.
    PREFILTER = (AnyWord("key", "token", "secret", "passw", "passphrase", "credential", "bearer"),)
    # ParentNodeProvider: for `assigned_value` (zmqlint.codemods.security), computed only if asked.
    METADATA_DEPENDENCIES = (PositionProvider, ParentNodeProvider, ScopeProvider, QualifiedNameProvider)

    VALID = [
        Valid(
            """
            import hmac

            class ApiKeyAuth:
                def __init__(self, api_key):
                    if not api_key:
                        raise RuntimeError("API key required")
                    self.api_key = api_key

                def verify(self, presented):
                    if not presented:
                        return False
                    return hmac.compare_digest(presented, self.api_key)
            """
        ),
        Valid(
            """
            from fastapi import Header, HTTPException

            def require_token(x_token: str = Header(default=None)):
                if not x_token:
                    raise HTTPException(status_code=401)
                if x_token != EXPECTED:
                    raise HTTPException(status_code=401)
            """
        ),
        Valid(
            """
            # A client sends its token only when it has one: nothing is guarded here.
            def headers(token=None):
                result = {"Accept": "application/json"}
                if token:
                    result["Authorization"] = f"Bearer {token}"
                return result
            """
        ),
        Valid(
            """
            from zmqlint_runtime.security import require_api_key

            class Auth:
                def __init__(self, api_key):
                    self.api_key = require_api_key(api_key)

                def verify(self, presented):
                    if self.api_key is None:
                        return True
                    return presented == self.api_key
            """
        ),
        Valid(
            """
            # A client session sends basic auth when its URL carries a password: it guards nothing.
            from urllib.parse import urlparse

            import requests
            from requests.auth import HTTPBasicAuth

            class HttpSession(requests.Session):
                def __init__(self, base_url):
                    super().__init__()
                    parsed = urlparse(base_url)
                    if parsed.username and parsed.password:
                        self.auth = HTTPBasicAuth(parsed.username, parsed.password)
            """
        ),
        Valid(
            """
            # A helper that returns no client auth when no password is given.
            import httpx

            def client_auth(user, password):
                if not password:
                    return None
                if not user:
                    raise ValueError("a password needs a user")
                return httpx.BasicAuth(user, password)
            """
        ),
        Valid(
            """
            # A pagination token is no credential check.
            class Paginator:
                def __init__(self, starting_token=None):
                    self._starting_token = starting_token

                def _parse_starting_token(self):
                    if self._starting_token is None:
                        return None
                    try:
                        return decode(self._starting_token)
                    except ValueError:
                        raise InvalidToken(self._starting_token)
            """
        ),
        Valid(
            """
            def count_tokens(text, max_tokens=None):
                if not max_tokens:
                    return True
                return len(text.split()) <= max_tokens
            """
        ),
    ]

    INVALID = [
        Invalid(
            """
            import hmac
            import logging

            logger = logging.getLogger(__name__)


            class ApiKeyAuth:
                def __init__(self, api_key):
                    if not api_key:
                        logger.warning("no API key configured: authentication disabled")  # dev
                        self.api_key = None
                    else:
                        self.api_key = api_key

                def verify(self, presented):
                    if self.api_key is None:
                        return True
                    return hmac.compare_digest((presented or "").encode(), self.api_key.encode())
            """,
            line=16,
            column=12,
            end_column=32,
            message_contains="returns True",
            expected_fix=None,
            expected_unsafe_fix="""
            import hmac
            import logging
            from zmqlint_runtime.security import require_api_key

            logger = logging.getLogger(__name__)


            class ApiKeyAuth:
                def __init__(self, api_key):
                    if not require_api_key(api_key):
                        logger.warning("no API key configured: authentication disabled")  # dev
                        self.api_key = None
                    else:
                        self.api_key = api_key

                def verify(self, presented):
                    if self.api_key is None:
                        return True
                    return hmac.compare_digest((presented or "").encode(), self.api_key.encode())
            """,
        ),
        Invalid(
            """
            import os
            from fastapi import FastAPI
            from myapp.auth import ApiKeyMiddleware


            def create_app():
                app = FastAPI()
                key = os.environ.get("SERVICE_KEY")
                if not key:
                    return app
                app.add_middleware(ApiKeyMiddleware, key=key)
                return app
            """,
            line=9,
            message_contains="returns early",
            expected_unsafe_fix="""
            import os
            from fastapi import FastAPI
            from myapp.auth import ApiKeyMiddleware
            from zmqlint_runtime.security import require_api_key


            def create_app():
                app = FastAPI()
                key = os.environ.get("SERVICE_KEY")
                if not require_api_key(key):
                    return app
                app.add_middleware(ApiKeyMiddleware, key=key)
                return app
            """,
        ),
        Invalid(
            """
            def install(app, settings):
                if settings.auth_token:
                    app.add_middleware(TokenMiddleware, token=settings.auth_token)
                else:
                    print("auth off")
            """,
            line=2,
            message_contains="only when",
            expected_unsafe_fix="""
            from zmqlint_runtime.security import require_api_key

            def install(app, settings):
                if require_api_key(settings.auth_token):
                    app.add_middleware(TokenMiddleware, token=settings.auth_token)
                else:
                    print("auth off")
            """,
        ),
        Invalid(
            """
            def build(config):
                auth_dependency = make_auth(config.api_key)
                if config.api_key is None:
                    auth_dependency = None
                return auth_dependency
            """,
            line=3,
            message_contains="auth_dependency",
            expected_unsafe_fix="""
            from zmqlint_runtime.security import require_api_key

            def build(config):
                auth_dependency = make_auth(config.api_key)
                if require_api_key(config.api_key) is None:
                    auth_dependency = None
                return auth_dependency
            """,
        ),
        Invalid(
            """
            import os

            API_TOKEN = os.getenv("API_TOKEN")


            class TokenMiddleware:
                async def dispatch(self, request, call_next):
                    if not API_TOKEN:
                        return await call_next(request)
                    if request.headers.get("authorization") != f"Bearer {API_TOKEN}":
                        return Response(status_code=401)
                    return await call_next(request)
            """,
            line=8,
            message_contains="next handler",
            expected_unsafe_fix="""
            import os
            from zmqlint_runtime.security import require_api_key

            API_TOKEN = require_api_key(os.getenv("API_TOKEN"))


            class TokenMiddleware:
                async def dispatch(self, request, call_next):
                    if not API_TOKEN:
                        return await call_next(request)
                    if request.headers.get("authorization") != f"Bearer {API_TOKEN}":
                        return Response(status_code=401)
                    return await call_next(request)
            """,
        ),
        Invalid(
            """
            from fastapi import Header, HTTPException

            async def verify_token(x_token: str = Header(None)):
                if x_token is None:
                    return
                if x_token != SECRET:
                    raise HTTPException(status_code=401)
            """,
            line=4,
            message_contains="request",
            expected_unsafe_fix=None,
        ),
    ]

    @classmethod
    def gate(cls, facts: "FileFacts") -> bool:
        # `visit_If` is the only place the rule reports: ask its questions on the stdlib ast,
        # each answered the same or more widely (`zmqlint.facts.fail_open.may_fail_open`).
        return may_fail_open(facts)

    def __init__(self, context) -> None:
        super().__init__(context)
        self._taken: Optional[Set[str]] = None
        self.facts = FailOpenFacts(self, context.source)

    # The facts follow where the visit is (the statement list, function and class it is in).
    def visit_Module(self, node: cst.Module) -> None:
        self.facts.enter(node)

    def leave_Module(self, original_node: cst.Module) -> None:
        self.facts.leave(original_node)

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        self.facts.enter(node)

    def leave_IndentedBlock(self, original_node: cst.IndentedBlock) -> None:
        self.facts.leave(original_node)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.facts.enter(node)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.facts.leave(original_node)

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.facts.enter(node)

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self.facts.leave(original_node)

    def taken(self) -> Set[str]:
        if self._taken is None:
            self._taken = names_in(self.context.module)
        return self._taken

    # -- the rule ----------------------------------------------------------------------------

    def visit_If(self, node: cst.If) -> None:
        found = self.facts.fails_open_at(node)
        if found is not None:
            self._report(node, found.key, found.what, found.per_request)

    # -- reporting and fixing ----------------------------------------------------------------

    def _report(self, node: cst.If, key: cst.BaseExpression, what: str, per_request: bool) -> None:
        if self.facts.presented_by_request(key):
            message = f"A request without a credential is let through: the check {what}"
            self.report(node.test, message.replace("when `", "when the request's `"))
            return
        fix = self._fix(node, key, per_request)
        if fix is False:
            return  # the key is already routed through require_api_key: the documented escape hatch
        self.report(node.test, f"Authentication fails open: this code {what}", fix=fix or None)

    def _fix(self, node: cst.If, key: cst.BaseExpression, per_request: bool):
        """The fix; None when there is no start-up place to put it; False when already fixed.

        A setup path gets the key in its own test routed through require_api_key. A check made
        per request is fixed where the key it reads is set: the class's assignments of
        ``self.<key>``, or the module-level assignment of a global.
        """
        if m.matches(key, m.Attribute(value=m.Name("self"))) and per_request:
            cls = self.facts.enclosing(node, cst.ClassDef)
            return self._attribute_fix(cls, key.attr.value) if cls is not None else None
        if isinstance(key, cst.Name):
            value = assigned_value(self, key)
            if value is not None and is_require_call(value):
                return False
            if per_request:
                if value is None or not self.facts.is_global(key) or m.matches(value, m.Name("None")):
                    return None
                return self._fix_with({value: value}, "require the key where it is set")
        elif per_request:
            return None
        return self._fix_with({key: key}, "refuse to start without the key")

    def _fix_with(self, wraps: Dict[cst.BaseExpression, cst.BaseExpression], description: str) -> Fix:
        replacements = {}
        spec: Optional[ImportSpec] = None
        for original, inner in wraps.items():
            replacements[original], spec = require_api_key_call(inner, self.taken())
        return Fix(
            f"{description}: zmqlint_runtime.security.require_api_key (ALLOW_UNAUTHENTICATED=1 for local use)",
            Applicability.UNSAFE,
            replacements=replacements,
            add_imports=[spec] if spec else [],
        )

    def _attribute_fix(self, cls: cst.ClassDef, attr: str):
        """Route every place the class sets ``self.<attr>`` through require_api_key."""
        wraps: Dict[cst.BaseExpression, cst.BaseExpression] = {}
        uncovered = False
        for assign, tests in attribute_assignments(cls, attr):
            if is_require_call(assign.value) or any(mentions_require(t) for t in tests):
                return False
            if m.matches(assign.value, m.Name("None")):
                guarding = [k for t in tests for k, _ in self.facts.missing_tests(t)]
                if guarding:
                    wraps[guarding[0]] = guarding[0]
                else:
                    uncovered = True
        if uncovered:
            return None
        covered_ifs = {id(t) for assign, tests in attribute_assignments(cls, attr) for t in tests
                       if any(w in wraps for w in subexpressions(t))}
        for assign, tests in attribute_assignments(cls, attr):
            if not m.matches(assign.value, m.Name("None")) and not any(id(t) in covered_ifs for t in tests):
                wraps[assign.value] = assign.value
        return self._fix_with(wraps, "require the key where it is set") if wraps else None
