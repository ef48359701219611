from __future__ import annotations

import ast
import re
from typing import TYPE_CHECKING, List, Optional, Set, Tuple

import libcst as cst
from libcst.metadata import ParentNodeProvider, PositionProvider, QualifiedNameProvider, ScopeProvider

from zmqlint.codemods import matchers as m, names_in
from zmqlint.codemods.security import (
    allowed_origins_call,
    assigned_value,
    code_of,
    keyword_arg,
    matches_any_origin,
    with_keyword_arg,
)
from zmqlint.model import Applicability, Fix, Severity
from zmqlint.rule import Invalid, Rule, Valid

if TYPE_CHECKING:  # pragma: no cover
    from zmqlint.gates import FileFacts

_CORS_MIDDLEWARE = {"starlette.middleware.cors.CORSMiddleware", "fastapi.middleware.cors.CORSMiddleware"}
_MIDDLEWARE_WRAPPER = {"starlette.middleware.Middleware", "fastapi.middleware.Middleware"}
_FLASK_CORS = {"flask_cors.CORS", "flask_cors.extension.CORS", "flask_cors.cross_origin", "flask_cors.decorator.cross_origin"}
_ENV_LOOKUPS = {"os.getenv", "os.environ.get"}
#: Names of variables that hold a CORS origin list in hand-written CORS code.
_ORIGIN_LIST_NAME = re.compile(r"(?i)^_?(cors_)?(allow(ed)?_|trusted_)?(cors_)?origins?(_list)?$")
_ALLOW_ORIGIN = "access-control-allow-origin"
_ALLOW_CREDENTIALS = "access-control-allow-credentials"


class WildcardCors(Rule):
    """Flags CORS policies that let any web page call the API.

    ## What it does
    Reports Starlette / FastAPI `CORSMiddleware` (however imported; through `add_middleware`,
    `Middleware(...)` or wrapping the app) whose `allow_origins` holds `"*"` (a list, a tuple,
    a variable holding one, or an environment lookup defaulting to `"*"`) or whose
    `allow_origin_regex` matches any origin; flask-cors `CORS(app)` / `@cross_origin()` left at
    their default of every origin, or given `origins="*"` or `resources=` with `"*"`; and
    hand-written CORS: `Access-Control-Allow-Origin: *`, a handler that echoes any request
    `Origin` back, or an origin-list variable holding `"*"` in a module that sends the header.
    With credentials allowed (`allow_credentials=True`, `supports_credentials=True`,
    `Access-Control-Allow-Credentials: true`) the finding is critical.

    ## Why is this bad?
    The browser's same-origin policy is what keeps a page on another site from calling an API
    running on the operator's machine or network. `"*"` switches it off; with credentials, the
    middleware echoes the caller's origin and every page the operator opens may call the API
    as the operator. In the field report the ModelOps REST API allowed every origin with
    credentials: any web page could drive the GPU fleet.

    ## Example
    ```python
    app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_credentials=True)
    ```

    ## Use instead
    ```python
    from zmqlint_runtime.security import allowed_origins

    app.add_middleware(CORSMiddleware, allow_origins=allowed_origins(), allow_credentials=True)
    ```
    and list the trusted origins at deployment: `CORS_ALLOWED_ORIGINS=https://ops.example.com`.

    ## Fix safety
    Unsafe: it changes which web pages may call the API. The wildcard becomes
    `zmqlint_runtime.security.allowed_origins()`, the comma-separated list in
    `$CORS_ALLOWED_ORIGINS` (empty by default, `"*"` refused), or `allowed_origins("VAR")` when
    the code read the list from `$VAR` with a `"*"` default; a matching-everything
    `allow_origin_regex` is replaced by that allow-list, and flask-cors' default gets
    `origins=allowed_origins()`. Browsers on origins nobody listed lose access until the
    operator lists them. A literal `Access-Control-Allow-Origin: *` header and an echoed
    `Origin` are reported only: where the allow-list belongs in hand-written code is for a
    person to decide.
    """

    CODE = "SEC403"
    NAME = "wildcard-cors"
    SEVERITY = Severity.HIGH
    MESSAGE = "CORS allows every origin: any web page may call this API"
    FIXES = (Applicability.UNSAFE,)
    PREFILTER = ("CORS", "cors", "Cors", "ccess-", "CCESS-")
    METADATA_DEPENDENCIES = (PositionProvider, ParentNodeProvider, QualifiedNameProvider, ScopeProvider)

    VALID = [
        Valid(
            """
            from fastapi import FastAPI
            from fastapi.middleware.cors import CORSMiddleware

            app = FastAPI()
            app.add_middleware(
                CORSMiddleware,
                allow_origins=["https://ops.example.com", "http://localhost:3000"],
                allow_credentials=True,
            )
            """
        ),
        Valid(
            """
            from starlette.middleware import Middleware
            from starlette.middleware.cors import CORSMiddleware

            ORIGINS = ("https://dash.example.com",)
            middleware = [Middleware(CORSMiddleware, allow_origins=ORIGINS, allow_origin_regex=r"https://.*\\.example\\.com")]
            """
        ),
        Valid(
            """
            from flask_cors import CORS

            CORS(app, origins=["https://ops.example.com"], supports_credentials=True)
            """
        ),
        Valid(
            """
            from flask_cors import CORS

            app.config["CORS_ORIGINS"] = ["https://ops.example.com"]
            CORS(app)
            """
        ),
        Valid(
            """
            from zmqlint_runtime.security import allowed_origins
            from fastapi.middleware.cors import CORSMiddleware

            app.add_middleware(CORSMiddleware, allow_origins=allowed_origins(), allow_credentials=True)
            """
        ),
        Valid(
            """
            from http.server import BaseHTTPRequestHandler

            ALLOWED_ORIGINS = {"https://ops.example.com"}

            class Handler(BaseHTTPRequestHandler):
                def end_headers(self):
                    origin = self.headers.get("Origin")
                    if origin in ALLOWED_ORIGINS:
                        self.send_header("Access-Control-Allow-Origin", origin)
                        self.send_header("Access-Control-Allow-Credentials", "true")
                    super().end_headers()
            """
        ),
        Valid(
            """
            # Not CORS: a wildcard in some other middleware's settings.
            from starlette.middleware.trustedhost import TrustedHostMiddleware
            from starlette.middleware.cors import CORSMiddleware

            app.add_middleware(TrustedHostMiddleware, allowed_hosts=["*"])
            app.add_middleware(CORSMiddleware, allow_origins=[], allow_methods=["*"], allow_headers=["*"])
            """
        ),
    ]

    INVALID = [
        Invalid(
            """
            from fastapi import FastAPI
            from fastapi.middleware.cors import CORSMiddleware

            app = FastAPI()
            app.add_middleware(
                CORSMiddleware,
                allow_origins=["*"],  # TODO tighten before release
                allow_credentials=True,
                allow_methods=["*"],
            )
            """,
            line=7,
            column=19,
            end_column=24,
            message_contains="credentials",
            expected_fix=None,
            expected_unsafe_fix="""
            from fastapi import FastAPI
            from fastapi.middleware.cors import CORSMiddleware
            from zmqlint_runtime.security import allowed_origins

            app = FastAPI()
            app.add_middleware(
                CORSMiddleware,
                allow_origins=allowed_origins(),  # TODO tighten before release
                allow_credentials=True,
                allow_methods=["*"],
            )
            """,
        ),
        Invalid(
            """
            import starlette.middleware.cors as cors
            from starlette.applications import Starlette
            from starlette.middleware import Middleware as M

            origins = ("*",)
            app = Starlette(middleware=[M(cors.CORSMiddleware, allow_origins=origins)])
            """,
            line=6,
            expected_unsafe_fix="""
            import starlette.middleware.cors as cors
            from starlette.applications import Starlette
            from starlette.middleware import Middleware as M
            from zmqlint_runtime.security import allowed_origins

            origins = allowed_origins()
            app = Starlette(middleware=[M(cors.CORSMiddleware, allow_origins=origins)])
            """,
        ),
        Invalid(
            """
            import os
            from fastapi.middleware.cors import CORSMiddleware

            def setup(app):
                app.add_middleware(CORSMiddleware, allow_origins=os.getenv("CORS_ORIGINS", "*").split(","))
            """,
            expected_unsafe_fix="""
            import os
            from fastapi.middleware.cors import CORSMiddleware
            from zmqlint_runtime.security import allowed_origins

            def setup(app):
                app.add_middleware(CORSMiddleware, allow_origins=allowed_origins("CORS_ORIGINS"))
            """,
        ),
        Invalid(
            """
            from starlette.middleware.cors import CORSMiddleware

            app = CORSMiddleware(inner, allow_origin_regex=r"https?://.*", allow_credentials=True)
            """,
            message_contains="allow_origin_regex",
            expected_unsafe_fix="""
            from starlette.middleware.cors import CORSMiddleware
            from zmqlint_runtime.security import allowed_origins

            app = CORSMiddleware(inner, allow_origins=allowed_origins(), allow_credentials=True)
            """,
        ),
        Invalid(
            """
            from flask import Flask
            from flask_cors import CORS

            app = Flask(__name__)
            CORS(app, supports_credentials=True)
            """,
            line=5,
            column=1,
            message_contains="default",
            expected_unsafe_fix="""
            from flask import Flask
            from flask_cors import CORS
            from zmqlint_runtime.security import allowed_origins

            app = Flask(__name__)
            CORS(app, supports_credentials=True, origins=allowed_origins())
            """,
        ),
        Invalid(
            """
            import flask_cors

            flask_cors.CORS(app, resources={r"/api/*": {"origins": "*"}})
            """,
            expected_unsafe_fix="""
            import flask_cors
            from zmqlint_runtime.security import allowed_origins

            flask_cors.CORS(app, resources={r"/api/*": {"origins": allowed_origins()}})
            """,
        ),
        Invalid(
            """
            from http.server import BaseHTTPRequestHandler

            class Handler(BaseHTTPRequestHandler):
                def end_headers(self):
                    self.send_header("Access-Control-Allow-Origin", "*")
                    super().end_headers()
            """,
            line=5,
            column=57,
            expected_unsafe_fix=None,
        ),
        Invalid(
            """
            from http.server import BaseHTTPRequestHandler

            class Handler(BaseHTTPRequestHandler):
                def end_headers(self):
                    origin = self.headers.get("Origin")
                    if origin:
                        self.send_header("Access-Control-Allow-Origin", origin)
                        self.send_header("Access-Control-Allow-Credentials", "true")
                    super().end_headers()
            """,
            line=7,
            message_contains="echoes",
            expected_unsafe_fix=None,
        ),
        Invalid(
            """
            ALLOW_ORIGINS = ["*"]
            ALLOW_CREDENTIALS = True


            def cors_headers(request_origin):
                if "*" in ALLOW_ORIGINS or request_origin in ALLOW_ORIGINS:
                    return {"Access-Control-Allow-Origin": request_origin, "Access-Control-Allow-Credentials": "true"}
                return {}
            """,
            line=1,
            column=17,
            expected_unsafe_fix="""
            from zmqlint_runtime.security import allowed_origins

            ALLOW_ORIGINS = allowed_origins()
            ALLOW_CREDENTIALS = True


            def cors_headers(request_origin):
                if "*" in ALLOW_ORIGINS or request_origin in ALLOW_ORIGINS:
                    return {"Access-Control-Allow-Origin": request_origin, "Access-Control-Allow-Credentials": "true"}
                return {}
            """,
        ),
    ]

    @classmethod
    def gate(cls, facts: "FileFacts") -> bool:
        # flask-cors reports `CORS(app)` with no string at all: any module naming flask_cors
        # (a qualified name flask_cors.* needs an import spelling it).
        if facts.spells("flask_cors"):
            return True
        # Every other finding is about a CORSMiddleware (its qualified name needs the file to
        # spell it) or a hand-written Access-Control-Allow-Origin header (a string literal of
        # it, or the text anywhere for `hand_written`) ...
        middleware = facts.spells("CORSMiddleware")
        strings = None
        if _ALLOW_ORIGIN in facts.text.lower():
            header = True
        else:
            strings = _gate_strings(facts)
            header = any(text.lower() == _ALLOW_ORIGIN for text in strings)
        if not (middleware or header):
            return False
        # ... and needs a "*" literal (the origin list, its variable, its environment default),
        # an `allow_origin_regex=` literal matching every origin, or an echoed `Origin` header.
        strings = _gate_strings(facts) if strings is None else strings
        if "*" in strings:
            return True
        if header and any(text.lower() == "origin" for text in strings):
            return True
        return middleware and any(
            keyword.arg == "allow_origin_regex"
            and isinstance(keyword.value, ast.Constant)
            and isinstance(keyword.value.value, str)
            and matches_any_origin(keyword.value.value)
            for keyword in facts.nodes(ast.keyword)
        )

    def __init__(self, context) -> None:
        super().__init__(context)
        self._taken: Optional[Set[str]] = None
        self._reported: Set[cst.CSTNode] = set()
        self.hand_written = False
        self.credential_header = False
        self.configures_flask_origins = False

    # -- module facts ------------------------------------------------------------------------

    def visit_Module(self, node: cst.Module) -> None:
        source = self.context.source.lower()
        self.hand_written = _ALLOW_ORIGIN in source
        self.credential_header = _ALLOW_CREDENTIALS in source
        # flask-cors reads its defaults from app.config["CORS_ORIGINS"] too.
        self.configures_flask_origins = "CORS_ORIGINS" in self.context.source

    def taken(self) -> Set[str]:
        if self._taken is None:
            self._taken = names_in(self.context.module)
        return self._taken

    def qualified(self, node: cst.CSTNode) -> Set[str]:
        return {q.name for q in self.get_metadata(QualifiedNameProvider, node, set())}

    # -- visiting ----------------------------------------------------------------------------

    def visit_Call(self, node: cst.Call) -> None:
        names = self.qualified(node.func)
        if names & _CORS_MIDDLEWARE:
            self._check_middleware(node, node.args)
        elif names & _MIDDLEWARE_WRAPPER or m.matches(node.func, m.Attribute(attr=m.Name("add_middleware"))):
            if node.args and not node.args[0].keyword and self.qualified(node.args[0].value) & _CORS_MIDDLEWARE:
                self._check_middleware(node, node.args[1:])
        elif names & _FLASK_CORS:
            self._check_flask_cors(node, names)
        elif m.matches(node.func, m.Attribute(attr=m.Name("send_header"))) and len(node.args) >= 2:
            self._check_header(node.args[0].value, node.args[1].value)

    def visit_Assign(self, node: cst.Assign) -> None:
        # response.headers["Access-Control-Allow-Origin"] = ...
        for target in node.targets:
            if m.matches(target.target, m.Subscript(value=m.Attribute(attr=m.Name("headers")), slice=[m.SubscriptElement()])):
                self._check_header(target.target.slice[0].slice.value, node.value)
        # ALLOWED_ORIGINS = ["*"] in a module that writes its own CORS headers.
        if self.hand_written and len(node.targets) == 1 and isinstance(node.targets[0].target, cst.Name):
            if _ORIGIN_LIST_NAME.match(node.targets[0].target.value) and self._is_outside_functions(node):
                self._check_origin_list(node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if self.hand_written and node.value is not None and isinstance(node.target, cst.Name):
            if _ORIGIN_LIST_NAME.match(node.target.value) and self._is_outside_functions(node):
                self._check_origin_list(node.value)

    def visit_DictElement(self, node: cst.DictElement) -> None:
        if self.hand_written:
            self._check_header(node.key, node.value)

    # -- CORSMiddleware ----------------------------------------------------------------------

    def _check_middleware(self, call: cst.Call, args) -> None:
        kwargs = {a.keyword.value: a for a in args if a.keyword is not None}
        credentials = "allow_credentials" in kwargs and self._is_true(kwargs["allow_credentials"].value)
        if "allow_origins" in kwargs:
            value = kwargs["allow_origins"].value
            self._check_origin_list(value, credentials=credentials)
        if "allow_origin_regex" in kwargs:
            regex = kwargs["allow_origin_regex"]
            pattern = _string(regex.value)
            if pattern is not None and matches_any_origin(pattern):
                new_call, spec = allowed_origins_call(self.taken())
                if "allow_origins" in kwargs:
                    replacement = regex.with_changes(value=cst.Name("None"))
                else:
                    replacement = regex.with_changes(keyword=cst.Name("allow_origins"), value=new_call)
                self._report(
                    regex.value,
                    f"`allow_origin_regex={code_of(regex.value)}` matches every origin: any web page may call this API",
                    credentials,
                    Fix("allow only the origins listed in $CORS_ALLOWED_ORIGINS", Applicability.UNSAFE,
                        replacements={regex: replacement}, add_imports=[spec]),
                )

    def _check_origin_list(self, value: cst.BaseExpression, *, credentials: Optional[bool] = None) -> None:
        """Report ``value`` when it holds "*" (directly, through a variable, or by env default)."""
        wildcard = self._wildcard_origins(value)
        if wildcard is None or wildcard[0] in self._reported:
            return
        node, env, how = wildcard
        self._reported.add(node)
        new_call, spec = allowed_origins_call(self.taken(), env)
        fix = Fix(
            f"allow only the origins listed in ${env or 'CORS_ALLOWED_ORIGINS'}",
            Applicability.UNSAFE,
            replacements={node: new_call},
            add_imports=[spec],
        )
        message = f"CORS allows every origin ({how}): any web page may call this API"
        self._report(value, message, self.credential_header if credentials is None else credentials, fix)

    def _wildcard_origins(self, value: cst.BaseExpression, depth: int = 0) -> Optional[Tuple[cst.BaseExpression, Optional[str], str]]:
        """(node to replace, env variable to keep reading or None, description) or None."""
        if _string(value) == "*":
            return value, None, '"*"'
        if isinstance(value, (cst.List, cst.Tuple, cst.Set)):
            if any(isinstance(e, cst.Element) and _string(e.value) == "*" for e in value.elements):
                return value, None, '"*" in the list'
            return None
        # os.getenv("CORS_ORIGINS", "*").split(",")
        if m.matches(value, m.Call(func=m.Attribute(value=m.Call(), attr=m.Name("split")))):
            lookup = value.func.value
            if self.qualified(lookup.func) & _ENV_LOOKUPS and len(lookup.args) >= 2:
                env = _string(lookup.args[0].value)
                if env is not None and _string(lookup.args[1].value) == "*":
                    return value, env, f"${env} defaults to \"*\""
            return None
        if isinstance(value, cst.Name) and depth == 0:
            assigned = assigned_value(self, value)
            if assigned is not None:
                found = self._wildcard_origins(assigned, depth + 1)
                if found is not None:
                    return found[0], found[1], f"{value.value} = {found[2]}" if found[2] != '"*"' else f'{value.value} = "*"'
        return None

    def _check_flask_cors(self, call: cst.Call, names: Set[str]) -> None:
        is_extension = not any(n.endswith("cross_origin") for n in names)
        kwargs = {a.keyword.value: a for a in call.args if a.keyword is not None}
        credentials = "supports_credentials" in kwargs and self._is_true(kwargs["supports_credentials"].value)
        if "origins" in kwargs:
            value = kwargs["origins"].value
            self._check_origin_list(value, credentials=credentials)
            return
        resources = kwargs.get("resources")
        origins_per_resource = False
        if resources is not None and isinstance(resources.value, cst.Dict):
            for element in resources.value.elements:
                if isinstance(element, cst.DictElement) and isinstance(element.value, cst.Dict):
                    for option in element.value.elements:
                        if isinstance(option, cst.DictElement) and _string(option.key) == "origins":
                            origins_per_resource = True
                            self._check_origin_list(option.value, credentials=credentials)
        if origins_per_resource or self.configures_flask_origins:
            return
        # CORS(app) initialises now with flask-cors' default origins="*"; CORS() waits for init_app.
        if is_extension and not any(a.keyword is None and not a.star for a in call.args):
            return
        new_call, spec = allowed_origins_call(self.taken())
        what = "CORS(app)" if is_extension else "@cross_origin()"
        self._report(
            call,
            f"{what} without `origins=` allows every origin (flask-cors' default): any web page may call this API",
            credentials,
            Fix("allow only the origins listed in $CORS_ALLOWED_ORIGINS", Applicability.UNSAFE,
                replacements={call: with_keyword_arg(call, keyword_arg("origins", new_call))}, add_imports=[spec]),
        )

    # -- hand-written headers ----------------------------------------------------------------

    def _check_header(self, name: cst.BaseExpression, value: cst.BaseExpression) -> None:
        header = _string(name)
        if header is None or header.lower() != _ALLOW_ORIGIN:
            return
        if _string(value) == "*":
            self._report(value, "`Access-Control-Allow-Origin: *` lets any web page read this API's responses", False, None)
        elif self._is_unchecked_request_origin(value):
            self._report(
                value,
                "`Access-Control-Allow-Origin` echoes any request Origin: every web page may call this API",
                self.credential_header,
                None,
            )

    def _is_unchecked_request_origin(self, value: cst.BaseExpression) -> bool:
        if _is_origin_lookup(value):
            return True
        if not isinstance(value, cst.Name):
            return False
        assigned = assigned_value(self, value)
        if assigned is None or not _is_origin_lookup(assigned):
            return False
        function = self._enclosing_function(value)
        return function is not None and not _is_compared(function, value.value)

    def _enclosing_function(self, node: cst.CSTNode) -> Optional[cst.FunctionDef]:
        while node is not None and not isinstance(node, cst.FunctionDef):
            node = self.get_metadata(ParentNodeProvider, node, None)
        return node

    def _is_outside_functions(self, node: cst.CSTNode) -> bool:
        return self._enclosing_function(node) is None

    # -- helpers -----------------------------------------------------------------------------

    def _is_true(self, value: cst.BaseExpression, depth: int = 0) -> bool:
        if m.matches(value, m.Name("True")):
            return True
        if isinstance(value, cst.Name) and depth == 0:
            assigned = assigned_value(self, value)
            return assigned is not None and self._is_true(assigned, 1)
        return False

    def _report(self, node: cst.CSTNode, message: str, credentials: bool, fix: Optional[Fix]) -> None:
        if credentials:
            message += ", with credentials"
        self.report(node, message, fix=fix, severity=Severity.CRITICAL if credentials else None)


def _string(node: Optional[cst.CSTNode]) -> Optional[str]:
    if isinstance(node, (cst.SimpleString, cst.ConcatenatedString)):
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    return None


def _is_origin_lookup(node: cst.BaseExpression) -> bool:
    """``<x>.headers.get("Origin")`` / ``<x>.headers["Origin"]`` (any case)."""
    if m.matches(node, m.Call(func=m.Attribute(value=m.Attribute(attr=m.Name("headers")), attr=m.Name("get")))):
        return bool(node.args) and (_string(node.args[0].value) or "").lower() == "origin"
    if m.matches(node, m.Subscript(value=m.Attribute(attr=m.Name("headers")), slice=[m.SubscriptElement()])):
        return (_string(node.slice[0].slice.value) or "").lower() == "origin"
    return False


def _is_compared(function: cst.FunctionDef, name: str) -> bool:
    """True when a condition in ``function`` tests ``name`` against something (beyond presence)."""
    tests: List[cst.BaseExpression] = []

    class Conditions(cst.CSTVisitor):
        def visit_If(self, node: cst.If) -> None:
            tests.append(node.test)

        def visit_While(self, node: cst.While) -> None:
            tests.append(node.test)

        def visit_IfExp(self, node: cst.IfExp) -> None:
            tests.append(node.test)

        def visit_Assert(self, node: cst.Assert) -> None:
            tests.append(node.test)

    function.visit(Conditions())
    return any(_checks(test, name) for test in tests)


def _checks(test: cst.BaseExpression, name: str) -> bool:
    found = False

    class Visit(cst.CSTVisitor):
        def visit_Comparison(self, node: cst.Comparison) -> None:
            nonlocal found
            operands = [node.left] + [c.comparator for c in node.comparisons]
            if any(m.matches(o, m.Name(name)) for o in operands):
                # `origin is None` / `origin != ""` only tests presence.
                others = [o for o in operands if not m.matches(o, m.Name(name))]
                if not all(m.matches(o, m.Name("None")) or _string(o) == "" for o in others):
                    found = True

        def visit_Call(self, node: cst.Call) -> None:
            nonlocal found
            # is_allowed(origin), origin.endswith(".example.com"), ALLOWED.fullmatch(origin)
            if any(m.matches(a.value, m.Name(name)) for a in node.args) or m.matches(
                node.func, m.Attribute(value=m.Name(name))
            ):
                found = True

    test.visit(Visit())
    return found


def _gate_strings(facts: "FileFacts") -> Set[str]:
    """Every string constant of the file (a literal's evaluated value, as `_string` sees it)."""
    return {node.value for node in facts.nodes(ast.Constant) if isinstance(node.value, str)}
