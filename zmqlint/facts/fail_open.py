"""SEC402: where authentication fails open — an ``if`` that tests a key, token, secret or
password for being missing (or present) and, on the missing side, raises nothing but lets the
caller through: a verifier returning True or calling the next handler unchecked, an early
return before the guard is installed, an auth object set to None, a middleware added only when
the key is set. And what the fix needs to know: whether the credential is one the request
presents, whether a name is a module global, where a class sets ``self.<key>`` and under which
tests, whether the key already goes through ``require_api_key``.

Inputs: no project index. `FailOpenFacts` answers on the LibCST tree the rule visits, through
the rule's metadata (``ScopeProvider``, ``QualifiedNameProvider``, and ``ParentNodeProvider``
for `zmqlint.codemods.security.assigned_value`) and the file's text; the rule tells it where
the visit is (`enter` / `leave`). `may_fail_open` asks the same questions, each answered the
same or more widely, on the stdlib ``ast`` the gates share (`zmqlint.gates.FileFacts`), so a
file without such an ``if`` is never parsed with LibCST for this rule.

Cost: per ``if`` visited, its test and the statements of its branch; the enclosing function's
own nodes when the branch returns. Scope analysis (the expensive part) only where a name that
is no credential by itself may hold an environment lookup (a textual test of the file first),
or for a credential the request may present. The gate walks the file's statement lists once
(``if`` places) and its assignments once (names holding an environment lookup), both only when
asked. Nothing is memoised across files.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, Iterator, List, Optional, Sequence, Set, Tuple

import libcst as cst
from libcst.helpers import get_full_name_for_node
from libcst.metadata import GlobalScope, QualifiedNameProvider, ScopeProvider

from zmqlint.codemods import matchers as m
from zmqlint.codemods.security import assigned_value, code_of
from zmqlint.index import dotted_name, own_nodes, walk

if TYPE_CHECKING:  # pragma: no cover
    from zmqlint.gates import FileFacts

#: Words that make an identifier a credential (`api_key`, `AUTH_TOKEN`, `clientSecret`, ...).
_CREDENTIAL_WORDS = {"apikey", "token", "secret", "password", "passwd", "passphrase", "credential", "credentials", "bearer"}
_CREDENTIAL_PAIRS = {("api", "key"), ("auth", "key"), ("access", "key"), ("secret", "key"), ("auth", "token"), ("shared", "key")}
#: Words that make it something *about* a credential instead (`token_count`, `api_key_header`).
_NOT_A_CREDENTIAL = {
    "count", "counts", "max", "min", "num", "len", "length", "limit", "limits", "type", "types", "name", "names",
    "path", "file", "url", "header", "headers", "env", "var", "field", "fields", "prefix", "suffix", "pattern",
    "regex", "size", "id", "ids", "hash", "hashed", "expiry", "expires", "ttl", "timeout", "scheme", "policy",
    "required", "enabled", "source", "provider", "manager", "store", "cache", "dir", "hint", "label", "format",
    "validator", "verifier", "check", "checker", "tokens", "tokenizer", "tokenize", "bucket", "rate",
    "file", "cookie", "index", "idx", "pos", "start", "end", "kind", "class", "cls", "error", "errors",
}
#: Words naming the guard itself (`self.auth`, `auth_dependency`, `security`, `verifier`).
_GUARD_WORDS = {"auth", "authenticator", "authentication", "authorizer", "guard", "verifier", "dependency",
                "dependencies", "security", "authn", "authz"}
#: Calls that install a guard on an app: middleware, dependencies.
_GUARD_CALLS = {"add_middleware", "Middleware", "Depends", "Security", "include_router", "add_dependency"}
#: Parameter defaults that make a parameter a credential the *request* presents.
_REQUEST_PARAMS = {"Header", "Security", "Cookie", "Query", "Depends", "Form"}
_ENV_LOOKUPS = {"os.getenv", "os.environ.get", "os.environ.__getitem__"}

_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


def _words(identifier: str) -> List[str]:
    return [w.lower() for w in _WORD.findall(identifier)]


def credential_name(identifier: str) -> bool:
    """True when ``identifier`` names a key, token, secret or password (not a fact about one)."""
    words = _words(identifier)
    if not words or any(w in _NOT_A_CREDENTIAL for w in words):
        return False
    return bool(set(words) & _CREDENTIAL_WORDS) or any(pair in _CREDENTIAL_PAIRS for pair in zip(words, words[1:]))


def guard_name(identifier: str) -> bool:
    words = _words(identifier)
    return bool(words) and words[-1] in _GUARD_WORDS


def _last_name(node: cst.BaseExpression) -> Optional[str]:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return node.attr.value
    return None


def _statements(suite: cst.BaseSuite) -> Sequence[cst.CSTNode]:
    if isinstance(suite, cst.SimpleStatementSuite):
        return suite.body
    out: List[cst.CSTNode] = []
    for stmt in suite.body:
        out.extend(stmt.body if isinstance(stmt, cst.SimpleStatementLine) else [stmt])
    return out



@dataclass(frozen=True)
class FailOpen:
    """An ``if`` whose branch for a missing ``key`` lets the caller through."""

    key: cst.BaseExpression
    #: What the code does, as the message says it (``returns True without checking ...``).
    what: str
    #: Whether it happens on every request (a verifier, a middleware), not once at start-up.
    per_request: bool


class FailOpenFacts:
    """SEC402's questions about one file, asked while the rule visits it (``visitor``: the rule,
    for its metadata; ``source``: the file's text)."""

    def __init__(self, visitor: cst.MetadataDependent, source: str) -> None:
        self.visitor = visitor
        self.source = source
        # Where the visit is: the statement lists, functions and classes it is inside (what
        # LibCST's ParentNodeProvider would tell, without computing it for the whole module).
        self._bodies: List[Sequence[cst.CSTNode]] = []
        self._inside: Dict[type, List[cst.CSTNode]] = {cst.FunctionDef: [], cst.ClassDef: []}

    # -- where the visit is ------------------------------------------------------------------

    def enter(self, node: cst.CSTNode) -> None:
        """The visit enters a module, an indented block, a function or a class."""
        if isinstance(node, (cst.Module, cst.IndentedBlock)):
            self._bodies.append(node.body)
        else:
            self._inside[type(node)].append(node)

    def leave(self, node: cst.CSTNode) -> None:
        if isinstance(node, (cst.Module, cst.IndentedBlock)):
            self._bodies.pop()
        else:
            self._inside[type(node)].pop()

    # -- what is a credential ----------------------------------------------------------------

    def is_credential(self, node: cst.BaseExpression) -> bool:
        name = _last_name(node)
        if name is None:
            return False
        if credential_name(name):
            return True
        # Scope analysis of the whole file is the expensive part; it can only matter where the
        # file looks something up in the environment at all.
        if isinstance(node, cst.Name) and self._may_hold_env_lookup(node.value):
            assigned = assigned_value(self.visitor, node)
            return assigned is not None and self._is_env_credential(assigned)
        return False

    def _may_hold_env_lookup(self, name: str) -> bool:
        """Cheap textual test: is ``name`` assigned something starting with an environment lookup
        (``name = os.getenv(...)``, ``name = (environ["X"] or ...)``) anywhere in the file?"""
        source = self.source
        if "getenv" not in source and "environ" not in source:
            return False
        pattern = re.compile(rf"\b{re.escape(name)}\s*(?::[^=\n]*)?=(?!=)[\s(]*[\w.]*(?:getenv|environ)")
        return pattern.search(source) is not None

    def _is_env_credential(self, value: cst.BaseExpression) -> bool:
        """``os.getenv("SERVICE_KEY")`` and friends, with a credential-like variable name."""
        if isinstance(value, cst.BooleanOperation):
            return self._is_env_credential(value.left)
        if isinstance(value, cst.Call) and value.args:
            variable, target, suffix = value.args[0].value, value.func, ""
        elif isinstance(value, cst.Subscript) and len(value.slice) == 1 and isinstance(value.slice[0].slice, cst.Index):
            variable, target, suffix = value.slice[0].slice.value, value.value, ".__getitem__"
        else:
            return False
        # The variable's name is cheap to check; qualified names (scope analysis of the whole
        # file) are only computed for lookups of a credential-like variable.
        if not isinstance(variable, cst.SimpleString):
            return False
        words = _words(str(variable.evaluated_value or ""))
        if not set(words) & (_CREDENTIAL_WORDS | {"key"}):
            return False
        qualified = {q.name + suffix for q in self.visitor.get_metadata(QualifiedNameProvider, target, set())}
        return bool(qualified & _ENV_LOOKUPS)

    def is_global(self, name: cst.Name) -> bool:
        scope = self.visitor.get_metadata(ScopeProvider, name, None)
        return scope is not None and all(isinstance(a.scope, GlobalScope) for a in scope[name.value])

    def missing_tests(self, test: cst.BaseExpression) -> Iterator[Tuple[cst.BaseExpression, bool]]:
        """(credential, True when the test holds as the credential is missing) for ``test``."""
        if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
            for key, missing in self.missing_tests(test.expression):
                yield key, not missing
            return
        if isinstance(test, cst.BooleanOperation):
            # `not key or ...` holds when the key is missing; `key and ...` only when present.
            wanted = isinstance(test.operator, cst.Or)
            for side in (test.left, test.right):
                for key, missing in self.missing_tests(side):
                    if missing is wanted:
                        yield key, missing
            return
        if isinstance(test, cst.Comparison) and len(test.comparisons) == 1:
            target = test.comparisons[0]
            empty = m.matches(target.comparator, m.Name("None")) or m.matches(target.comparator, m.SimpleString('""') | m.SimpleString("''"))
            if empty and self.is_credential(test.left):
                if isinstance(target.operator, (cst.Is, cst.Equal)):
                    yield test.left, True
                elif isinstance(target.operator, (cst.IsNot, cst.NotEqual)):
                    yield test.left, False
            return
        if self.is_credential(test):
            yield test, False

    # -- failing open ------------------------------------------------------------------------

    def fails_open_at(self, node: cst.If) -> Optional[FailOpen]:
        """How the ``if`` being visited fails open, if it does (the first credential it tests
        that way)."""
        for key, missing in self.missing_tests(node.test):
            if missing:
                branch = _statements(node.body)
            elif isinstance(node.orelse, cst.Else):
                branch = _statements(node.orelse.body)
            else:
                branch = []
            if any(_contains(s, cst.Raise) for s in branch):
                continue  # fails closed, or raises unless told not to (FastAPI's auto_error=False)
            found = self._how_it_fails_open(node, key, missing, branch)
            if found is not None:
                return FailOpen(key, *found)
        return None

    def _how_it_fails_open(
        self, node: cst.If, key: cst.BaseExpression, missing: bool, branch: Sequence[cst.CSTNode]
    ) -> Optional[Tuple[str, bool]]:
        """(what the code does, whether it happens per request) when it fails open."""
        function = self.enclosing(node, cst.FunctionDef)
        key_text = code_of(key)
        # Credentials this code *sends* (a client session's auth, a helper building it) guard
        # nothing here: fail-open is a server accepting requests when its own key is missing.
        if self._client_side(key, function, [*branch, *_statements(node.body)]):
            return None
        returns = [s for s in branch if isinstance(s, cst.Return)]
        if function is not None and returns:
            value = returns[0].value
            if m.matches(value, m.Name("True")) and _compares_key(function, key_text):
                return f"returns True without checking anything when `{key_text}` is missing", True
            if value is not None and _calls_next(value):
                return f"passes the request to the next handler unchecked when `{key_text}` is missing", True
            if (
                (value is None or m.matches(value, m.Name("None")))
                and _own_nodes(function, cst.Raise)
                and (_checks_requests(function) or self.presented_by_request(key))
            ):
                return f"returns early, letting the request through, when `{key_text}` is missing", True
        for stmt in branch:
            if isinstance(stmt, (cst.Assign, cst.AnnAssign)) and _disables(stmt):
                target = stmt.targets[0].target if isinstance(stmt, cst.Assign) else stmt.target
                return f"sets `{code_of(target)}` to nothing when `{key_text}` is missing", False
        if missing and function is not None and returns and _installs_guard(self._following(node)):
            return f"returns early, leaving authentication unset, when `{key_text}` is missing", False
        if not missing and _installs_guard(_statements(node.body)):
            return f"adds authentication only when `{key_text}` is set", False
        return None

    def _client_side(self, key: cst.BaseExpression, function: Optional[cst.CSTNode], statements: Sequence[cst.CSTNode]) -> bool:
        """The credential is one this code presents to a server: set on a client session (a
        class deriving from ``requests.Session``, ``httpx.Client``...), turned into a client
        auth object (``HTTPBasicAuth(user, password)``, ``session.auth = (user, password)``),
        returned as one by a helper, or read from a URL's ``.username`` / ``.password``."""
        cls = self.enclosing(key, cst.ClassDef)
        if isinstance(cls, cst.ClassDef) and any(_last_name(b.value) in _CLIENT_CLASSES for b in cls.bases):
            return True
        if isinstance(key, cst.Attribute) and key.attr.value in ("password", "username", "user") and function is not None:
            base = code_of(key.value)
            for assign in _own_nodes(function, cst.Assign):
                if any(code_of(t.target) == base for t in assign.targets) and isinstance(assign.value, cst.Call):
                    if _last_name(assign.value.func) in _URL_PARSERS:
                        return True
        scope = [*statements, *(_own_nodes(function, cst.Return) if function is not None else [])]
        return any(_builds_client_auth(stmt) for stmt in scope)

    def _following(self, node: cst.If) -> List[cst.CSTNode]:
        """The statements after ``node`` (the `if` being visited) in its block; none for an
        ``elif``."""
        body = self._bodies[-1] if self._bodies else ()
        if not any(stmt is node for stmt in body):
            return []
        out: List[cst.CSTNode] = []
        for stmt in body[body.index(node) + 1:]:
            out.extend(stmt.body if isinstance(stmt, cst.SimpleStatementLine) else [stmt])
        return out

    def enclosing(self, node: cst.CSTNode, kind: type) -> Optional[cst.CSTNode]:
        """The innermost function or class (``kind``) holding ``node``, the node being visited."""
        inside = self._inside[kind]
        return inside[-1] if inside else None

    def presented_by_request(self, key: cst.BaseExpression) -> bool:
        if not isinstance(key, cst.Name):
            return False
        scope = self.visitor.get_metadata(ScopeProvider, key, None)
        for assignment in scope[key.value] if scope is not None else ():
            origin = getattr(assignment, "node", None)
            if isinstance(origin, cst.Param) and isinstance(origin.default, cst.Call):
                if _last_name(origin.default.func) in _REQUEST_PARAMS:
                    return True
        value = assigned_value(self.visitor, key)
        return value is not None and m.matches(
            value, m.Call(func=m.Attribute(value=m.Attribute(attr=m.Name("headers") | m.Name("cookies")), attr=m.Name("get")))
        )




#: Client sessions: whatever auth they hold is sent, not checked.
_CLIENT_CLASSES = {"Session", "Client", "AsyncClient", "ClientSession", "HTTPConnectionPool", "PoolManager"}
#: Client auth objects of requests, httpx, aiohttp, urllib3 and requests-oauthlib.
_CLIENT_AUTH = {"HTTPBasicAuth", "HTTPDigestAuth", "HTTPProxyAuth", "BasicAuth", "DigestAuth", "OAuth1", "OAuth2Session", "make_headers"}
_URL_PARSERS = {"urlparse", "urlsplit", "make_url", "parse_url", "URL"}
#: Words of a function that checks an incoming request.
_CHECK_WORDS = {"verify", "check", "authenticate", "authorize", "authorise", "validate", "require", "guard", "dispatch", "middleware", "auth", "permission", "permissions", "allowed"}
_REQUEST_PARAM_NAMES = {"request", "req", "scope", "environ", "headers", "handler", "websocket", "ws", "context"}


def _builds_client_auth(stmt: cst.CSTNode) -> bool:
    """A client auth object built (``HTTPBasicAuth(user, pw)``) or ``x.auth = (user, pw)``."""
    for node in subexpressions(stmt):
        if isinstance(node, cst.Call) and _last_name(node.func) in _CLIENT_AUTH:
            return True
        if isinstance(node, cst.Assign) and isinstance(node.value, cst.Tuple) and any(
            _last_name(t.target) == "auth" for t in node.targets
        ):
            return True
    return False


def _checks_requests(function: cst.FunctionDef) -> bool:
    """Does ``function`` look like a check of incoming requests: named for one, or taking the
    request (``request``, ``scope``, ``environ``, a ``Header(...)`` parameter)?"""
    if set(_words(function.name.value)) & _CHECK_WORDS:
        return True
    params = [*function.params.posonly_params, *function.params.params, *function.params.kwonly_params]
    for param in params:
        if param.name.value in _REQUEST_PARAM_NAMES:
            return True
        if isinstance(param.default, cst.Call) and _last_name(param.default.func) in _REQUEST_PARAMS:
            return True
    return False


def is_require_call(node: Optional[cst.CSTNode]) -> bool:
    return isinstance(node, cst.Call) and (get_full_name_for_node(node.func) or "").endswith("require_api_key")


def mentions_require(node: cst.CSTNode) -> bool:
    return any(is_require_call(n) for n in subexpressions(node))


def subexpressions(node: cst.CSTNode) -> List[cst.CSTNode]:
    found: List[cst.CSTNode] = []

    class Collect(cst.CSTVisitor):
        def on_visit(self, n: cst.CSTNode) -> bool:
            found.append(n)
            return True

    node.visit(Collect())
    return found


def attribute_assignments(cls: cst.ClassDef, attr: str) -> List[Tuple[cst.Assign, List[cst.BaseExpression]]]:
    """Every ``self.<attr> = value`` in the class, with the tests of the ``if``s around it."""
    found: List[Tuple[cst.Assign, List[cst.BaseExpression]]] = []
    tests: List[cst.BaseExpression] = []

    class Collect(cst.CSTVisitor):
        def visit_If(self, node: cst.If) -> None:
            tests.append(node.test)

        def leave_If(self, node: cst.If) -> None:
            tests.pop()

        def visit_ClassDef(self, node: cst.ClassDef) -> bool:
            return node is cls

        def visit_Assign(self, node: cst.Assign) -> None:
            if any(m.matches(t.target, m.Attribute(value=m.Name("self"), attr=m.Name(attr))) for t in node.targets):
                found.append((node, list(tests)))

    cls.visit(Collect())
    return found


def _compares_key(function: cst.FunctionDef, key_text: str) -> bool:
    """A verifier: it compares the key with what was presented (`==`, `in`, `compare_digest`).

    A comparison of the key with a literal (`token.kind == "NAME"` in a lexer) is no check.
    """
    for call in _own_nodes(function, cst.Call):
        if (get_full_name_for_node(call.func) or "").endswith("compare_digest"):
            return True
    for comparison in _own_nodes(function, cst.Comparison):
        operands = [comparison.left] + [c.comparator for c in comparison.comparisons]
        if any(key_text in code_of(o) for o in operands) and not any(_is_literal(o) for o in operands):
            return True
    return False


def _is_literal(node: cst.BaseExpression) -> bool:
    return isinstance(node, (cst.SimpleString, cst.ConcatenatedString, cst.Integer, cst.Float)) or m.matches(
        node, m.Name("None") | m.Name("True") | m.Name("False")
    )


def _own_nodes(function: cst.FunctionDef, kind: type) -> List[cst.CSTNode]:
    """Nodes of ``kind`` in ``function``, not in functions or classes nested in it."""
    found: List[cst.CSTNode] = []

    class Collect(cst.CSTVisitor):
        def on_visit(self, node: cst.CSTNode) -> bool:
            if isinstance(node, kind):
                found.append(node)
            return node is function or not isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Lambda))

    function.visit(Collect())
    return found


def _contains(node: cst.CSTNode, kind: type) -> bool:
    """Whether ``node`` holds a ``kind`` node outside nested functions and classes."""
    found = False

    class Visit(cst.CSTVisitor):
        def on_visit(self, n: cst.CSTNode) -> bool:
            nonlocal found
            found = found or isinstance(n, kind)
            return not found and (n is node or not isinstance(n, (cst.FunctionDef, cst.ClassDef, cst.Lambda)))

    node.visit(Visit())
    return found


def _calls_next(value: cst.BaseExpression) -> bool:
    """``call_next(request)`` / ``await call_next(request)`` / ``self.app(scope, receive, send)``."""
    if isinstance(value, cst.Await):
        value = value.expression
    if not isinstance(value, cst.Call):
        return False
    name = get_full_name_for_node(value.func) or ""
    return name in ("call_next", "self.app", "self.get_response", "get_response")


def _disables(stmt: cst.CSTNode) -> bool:
    """``auth = None`` / ``self.guard = None`` / ``dependencies = []``."""
    targets = [t.target for t in stmt.targets] if isinstance(stmt, cst.Assign) else [stmt.target]
    value = stmt.value
    empty = m.matches(value, m.Name("None") | m.List(elements=[]) | m.Tuple(elements=[]))
    return empty and any(_is_guard_target(t) for t in targets)


def _is_guard_target(target: cst.BaseExpression) -> bool:
    """``self.auth``, ``app.state.authenticator``, ``auth_dependency``, ``dependencies``.

    A local ``auth`` is as often the header a client is about to send (urllib's ``proxy_auth``);
    the guard of a service is held somewhere longer-lived (``self.auth``, ``app.state.auth``).
    """
    name = _last_name(target) or ""
    return guard_name(name) and not (isinstance(target, cst.Name) and _words(name)[-1] == "auth")


def _installs_guard(statements: Sequence[cst.CSTNode]) -> bool:
    """Whether these statements add a middleware or dependency, or set an auth object."""
    found = False

    class Visit(cst.CSTVisitor):
        def visit_Call(self, node: cst.Call) -> None:
            nonlocal found
            name = _last_name(node.func) or ""
            if name in _GUARD_CALLS:
                found = True

        def visit_Assign(self, node: cst.Assign) -> None:
            nonlocal found
            if not m.matches(node.value, m.Name("None")) and any(_is_guard_target(t.target) for t in node.targets):
                found = True

    for stmt in statements:
        stmt.visit(Visit())
    return found


# -- gate: the rule's first questions on the stdlib ast ------------------------------------------

class _Gate:
    """`FailOpenFacts.fails_open_at` on the stdlib ast, for one file: an ``if`` that tests a credential for being
    missing (or present), whose branch for the missing key raises nothing and fails open
    (`fails_open`).

    Wider than the rule where it needs LibCST metadata: a name that is no credential by itself
    counts as one when the file assigns it anywhere what may be an environment lookup of a
    credential (the rule asks the one assignment in its scope, and the lookup's qualified name);
    where the ast cannot tell an ``elif`` from an ``else:`` holding only an ``if``, both are tried.
    """

    def __init__(self, facts: "FileFacts") -> None:
        self.facts = facts
        self._env_names: Optional[Set[str]] = None
        self._places: Optional[Dict[int, Tuple[Optional[ast.AST], Sequence[ast.stmt], int]]] = None

    def admits(self, ifs: Sequence[ast.AST]) -> bool:
        for node in ifs:
            for _key, missing in self.missing_tests(node.test):
                for branch in _gate_branches(node, missing):
                    if not any(_gate_contains_raise(stmt) for stmt in branch) and self.fails_open(node, missing, branch):
                        return True
        return False

    def fails_open(self, node: ast.If, missing: bool, branch: Sequence[ast.stmt]) -> bool:
        """`FailOpenFacts.fails_open_at`, wider where it compares the key's text (a ``return
        True`` counts whatever the function compares)."""
        if self._places is None:
            self._places = _gate_places(self.facts.tree)
        function, block, position = self._places.get(id(node), (None, (), 0))
        returns = [stmt for stmt in branch if isinstance(stmt, ast.Return)]
        if function is not None and returns:
            value = returns[0].value
            if isinstance(value, ast.Constant) and value.value is True:
                return True
            if value is not None and _gate_calls_next(value):
                return True
            if (value is None or _gate_is_none(value)) and _gate_contains_raise(function):
                return True
        if any(isinstance(stmt, (ast.Assign, ast.AnnAssign)) and _gate_disables(stmt) for stmt in branch):
            return True
        if missing and function is not None and returns and _gate_installs_guard(block[position + 1 :]):
            return True
        return not missing and _gate_installs_guard(node.body)

    # -- what is a credential ----------------------------------------------------------------

    def is_credential(self, node: ast.AST) -> bool:
        name = _gate_last_name(node)
        if name is None:
            return False
        if not name.isascii():
            return True  # the ast's names are NFKC-normalised, LibCST's are as written
        if credential_name(name):
            return True
        return isinstance(node, ast.Name) and name in self.env_names()

    def env_names(self) -> Set[str]:
        """Every name `is_credential` may find holding an environment lookup of a credential
        (`_may_hold_env_lookup`, `assigned_value`, `_is_env_credential`): a name assigned
        alone (``name = ...``, ``name: T = ...``) a call with a string argument naming a key,
        token, ... or a subscript by one, possibly first in an ``or`` / ``and``."""
        if self._env_names is None:
            self._env_names = set()
            text = self.facts.text
            if "getenv" in text or "environ" in text:
                for stmt in self.facts.nodes(ast.Assign, ast.AnnAssign):
                    if isinstance(stmt, ast.Assign):
                        target = stmt.targets[0] if len(stmt.targets) == 1 else None
                    else:
                        target = stmt.target
                    if isinstance(target, ast.Name) and stmt.value is not None and _gate_env_credential(stmt.value):
                        self._env_names.add(target.id)
        return self._env_names

    def missing_tests(self, test: ast.AST) -> Iterator[Tuple[ast.AST, bool]]:
        """`FailOpenFacts.missing_tests` (``a or b or c`` is one ``BoolOp`` here)."""
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            for key, missing in self.missing_tests(test.operand):
                yield key, not missing
            return
        if isinstance(test, ast.BoolOp):
            wanted = isinstance(test.op, ast.Or)
            for value in test.values:
                for key, missing in self.missing_tests(value):
                    if missing is wanted:
                        yield key, missing
            return
        if isinstance(test, ast.Compare):
            if len(test.ops) == 1:
                comparator = test.comparators[0]
                empty = isinstance(comparator, ast.Constant) and (comparator.value is None or comparator.value == "")
                if empty and self.is_credential(test.left):
                    if isinstance(test.ops[0], (ast.Is, ast.Eq)):
                        yield test.left, True
                    elif isinstance(test.ops[0], (ast.IsNot, ast.NotEq)):
                        yield test.left, False
            return
        if self.is_credential(test):
            yield test, False


def _gate_env_credential(value: ast.AST) -> bool:
    """`_is_env_credential`, without its qualified names: a call with a string argument (the
    rule: its first) or a subscript by a string, whose words name a credential or a key."""
    while isinstance(value, ast.BoolOp):
        value = value.values[0]
    if isinstance(value, ast.Call):
        variables = [*value.args, *(keyword.value for keyword in value.keywords)]
    elif isinstance(value, ast.Subscript):
        variables = [value.slice]
    else:
        return False
    return any(
        isinstance(variable, ast.Constant)
        and isinstance(variable.value, (str, bytes))
        # LibCST's evaluated_value of b"..." is bytes: the rule reads the words of its str().
        and not set(_words(str(variable.value))).isdisjoint(_ENV_CREDENTIAL_WORDS)
        for variable in variables
    )


_ENV_CREDENTIAL_WORDS = _CREDENTIAL_WORDS | {"key"}


def _gate_branches(node: ast.If, missing: bool) -> List[Sequence[ast.stmt]]:
    """The branch `visit_If` looks at: the body when the test holds for a missing key, else the
    ``else:`` block (none for an ``elif``; the ast shows both as one ``If`` in ``orelse``)."""
    if missing:
        return [node.body]
    if not node.orelse:
        return [[]]
    if len(node.orelse) == 1 and isinstance(node.orelse[0], ast.If):
        return [[], node.orelse]
    return [node.orelse]


def _gate_contains_raise(stmt: ast.stmt) -> bool:
    """`_contains(stmt, cst.Raise)`; for a function, `_own_nodes(function, cst.Raise)`."""
    return any(isinstance(node, ast.Raise) for node in own_nodes(stmt))


def _gate_last_name(node: ast.AST) -> Optional[str]:
    return node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None


def _gate_places(tree: ast.AST) -> Dict[int, Tuple[Optional[ast.AST], Sequence[ast.stmt], int]]:
    """For every ``if``: the innermost function holding it (classes between do not count, as
    in the rule), the statement list it is in and its place there (`_following`; an ``elif``
    is alone in its parent's ``orelse``, so nothing follows it either way)."""
    places: Dict[int, Tuple[Optional[ast.AST], Sequence[ast.stmt], int]] = {}
    stack: List[Tuple[ast.AST, Optional[ast.AST]]] = [(tree, None)]
    while stack:
        node, function = stack.pop()
        for field in ("body", "orelse", "finalbody", "handlers", "cases"):
            block = getattr(node, field, None)
            if not isinstance(block, list):
                continue
            for position, stmt in enumerate(block):
                if isinstance(stmt, ast.If):
                    places[id(stmt)] = (function, block, position)
                stack.append((stmt, stmt if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) else function))
    return places


def _gate_is_none(node: Optional[ast.AST]) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _gate_calls_next(value: ast.AST) -> bool:
    """`_calls_next`."""
    if isinstance(value, ast.Await):
        value = value.value
    return isinstance(value, ast.Call) and dotted_name(value.func) in ("call_next", "self.app", "self.get_response", "get_response")


def _gate_is_guard_target(target: ast.AST) -> bool:
    """`_is_guard_target`."""
    name = _gate_last_name(target) or ""
    return guard_name(name) and not (isinstance(target, ast.Name) and _words(name)[-1] == "auth")


def _gate_disables(stmt: ast.stmt) -> bool:
    """`_disables`: ``auth = None`` / ``self.guard = None`` / ``dependencies = []``."""
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
    value = stmt.value
    empty = _gate_is_none(value) or (isinstance(value, (ast.List, ast.Tuple)) and not value.elts)
    return empty and any(_gate_is_guard_target(target) for target in targets)


def _gate_installs_guard(statements: Sequence[ast.stmt]) -> bool:
    """`_installs_guard`: a middleware or dependency added, or an auth object set."""
    for stmt in statements:
        for node in walk(stmt):
            if isinstance(node, ast.Call) and (_gate_last_name(node.func) or "") in _GUARD_CALLS:
                return True
            if isinstance(node, ast.Assign) and not _gate_is_none(node.value) and any(_gate_is_guard_target(t) for t in node.targets):
                return True
    return False


def may_fail_open(facts: "FileFacts") -> bool:
    """May some ``if`` of the file fail open (`FailOpenFacts.fails_open_at`, asked on the stdlib
    ast: never no where the rule says yes)?"""
    ifs = facts.nodes(ast.If)
    return bool(ifs) and _Gate(facts).admits(ifs)
