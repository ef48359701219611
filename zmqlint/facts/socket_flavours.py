"""Which flavour of ZeroMQ a socket is: a plain one (`zmq.Context`, whose `recv` blocks the
thread) or a `zmq.asyncio` one (whose `recv` returns a Future to await). ASY304 and ASY305.

The question is asked of the receiver of every ``recv*`` / ``send*`` / ``poll`` call of a
module (`zmq_io_calls`): ``sock.recv()``, ``self.sock.recv()``, ``poller.poll()``. The answer
is `SYNC`, `ASYNCIO`, or None when zmqlint cannot be sure, and unknown means silent.

What is read (stdlib ``ast``, the analysed code is never imported):

- creations: ``zmq.Context()`` / ``zmq.Context.instance()`` / ``.shadow(...)`` and
  ``zmq.Socket(ctx, T)`` / ``zmq.Poller()`` are plain; the same under ``zmq.asyncio``
  (``zmq.asyncio.Context()``, ``Socket``, ``Poller``) are asyncio, however the module names
  them (``import zmq.asyncio as zaio``, ``from zmq.asyncio import Context``,
  ``from zmq import asyncio``); ``ctx.socket(T)`` has its context's flavour, unless it passes
  ``socket_class=``;
- names: a local's every binding in its function (assignments, ``with ... as``), through the
  enclosing functions of a closure, then the module's top level; a parameter, a loop variable,
  an unpacked or imported name, anything else is unknown;
- attributes ``self.X``: every value assigned to ``X`` in the class, its resolvable bases
  (across modules) and its module's subclasses, each read in the method that assigns it
  (``self.ctx = zmq.asyncio.Context()`` in ``__init__``, ``self.sock = self.ctx.socket(...)``
  in ``connect``); ``None`` values do not count;
- calls of project functions and methods (``self._make_socket()``): what every ``return``
  gives.

Every value a name or attribute may hold must agree (``ctx = zmq.asyncio.Context() if aio else
zmq.Context()`` is unknown), and the kind must fit: ``recv`` on a socket, ``poll`` on a socket
or a poller.

Cost: `zmq_io_calls` reads the module's shared walk once (memoised per module); only the
definitions around those calls are located (by position) and only their receivers resolved,
and the bindings of a function are collected once per function.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from zmqlint.facts.socket_uses import RECV_METHODS, SEND_METHODS
from zmqlint.index import ClassInfo, FunctionInfo, ModuleInfo, ProjectIndex, dotted_name, own_nodes

SYNC = "zmq"
ASYNCIO = "zmq.asyncio"

CONTEXT = "context"
SOCKET = "socket"
POLLER = "poller"

#: (kind, flavour) of a value, or None when unknown.
Flavour = Optional[Tuple[str, str]]

IO_METHODS = RECV_METHODS | SEND_METHODS | {"poll"}

_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
_MAX_DEPTH = 8

#: Qualified names of what creates a context, a socket or a poller, by flavour.
_CREATIONS: Dict[str, Tuple[str, str]] = {}
for _package, _flavour in (("zmq", SYNC), ("zmq.sugar.context", SYNC), ("zmq.asyncio", ASYNCIO)):
    for _suffix in ("", ".instance", ".shadow", ".shadow_pyczmq"):
        _CREATIONS[f"{_package}.Context{_suffix}"] = (CONTEXT, _flavour)
for _package, _flavour in (("zmq", SYNC), ("zmq.sugar.socket", SYNC), ("zmq.asyncio", ASYNCIO)):
    for _suffix in ("", ".shadow", ".from_socket"):
        _CREATIONS[f"{_package}.Socket{_suffix}"] = (SOCKET, _flavour)
for _package, _flavour in (("zmq", SYNC), ("zmq.sugar.poll", SYNC), ("zmq.asyncio", ASYNCIO)):
    _CREATIONS[f"{_package}.Poller"] = (POLLER, _flavour)
_CREATIONS["zmq.SyncSocket"] = (SOCKET, SYNC)
_CREATIONS["zmq.SyncContext"] = (CONTEXT, SYNC)
del _package, _flavour, _suffix


@dataclass(frozen=True)
class Scope:
    """Where an expression is read: its module and the definitions around it, outermost first
    (functions, lambdas and classes)."""

    module: ModuleInfo
    chain: Tuple[ast.AST, ...] = ()

    @property
    def function(self) -> Optional[ast.AST]:
        """The innermost function or lambda (None at the top level or in a class body)."""
        for node in reversed(self.chain):
            if isinstance(node, _FUNCTIONS):
                return node
            if isinstance(node, ast.ClassDef):
                return None
        return None

    def up_to(self, node: ast.AST) -> "Scope":
        position = next(i for i, n in enumerate(self.chain) if n is node)
        return Scope(self.module, self.chain[: position + 1])


@dataclass(frozen=True)
class ZmqCall:
    """A ``recv*`` / ``send*`` / ``poll`` call on a socket or poller whose flavour is known."""

    call: ast.Call
    method: str
    #: The receiver as written (``self.sock``).
    receiver: str
    kind: str
    flavour: str
    scope: Scope

    @property
    def in_coroutine(self) -> bool:
        """Directly inside an ``async def`` (not in a nested ``def`` or ``lambda`` there)."""
        return isinstance(self.scope.function, ast.AsyncFunctionDef)


def zmq_io_calls(index: ProjectIndex, module: ModuleInfo) -> List[ZmqCall]:
    """Every ``recv*`` / ``send*`` / ``poll`` call of ``module`` whose receiver's flavour is known."""
    return index.memo(("socket_flavours.calls", str(module.path), id(module.tree)), lambda: _find_calls(index, module))


def _find_calls(index: ProjectIndex, module: ModuleInfo) -> List[ZmqCall]:
    found: List[ZmqCall] = []
    resolver = _Resolver(index)
    for call in module.nodes:
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr in IO_METHODS):
            continue
        func = call.func
        chain = chain_of(module, call)
        scope = Scope(module, chain)
        value = resolver.flavour(func.value, scope, 0)  # type: ignore[attr-defined]
        if value is None:
            continue
        kind, flavour = value
        method = func.attr  # type: ignore[attr-defined]
        if kind == SOCKET or (kind == POLLER and method == "poll"):
            receiver = dotted_name(func.value) or ast.unparse(func.value)  # type: ignore[attr-defined]
            found.append(ZmqCall(call, method, receiver, kind, flavour, scope))
    return found


def chain_of(module: ModuleInfo, target: ast.AST) -> Tuple[ast.AST, ...]:
    """The definitions around ``target`` in ``module``, found by position."""
    line, column = target.lineno, target.col_offset  # type: ignore[attr-defined]
    chain: List[ast.AST] = []
    nodes: List[ast.AST] = list(ast.iter_child_nodes(module.tree))
    while True:
        holder = None
        for node in nodes:
            if node is target:
                return tuple(chain)
            if not hasattr(node, "lineno"):
                # ``arguments``, ``comprehension``, ``keyword`` ...: look at what they hold.
                nodes.extend(ast.iter_child_nodes(node))
                continue
            start = (node.lineno, node.col_offset)  # type: ignore[attr-defined]
            end = (node.end_lineno or node.lineno, node.end_col_offset or 0)  # type: ignore[attr-defined]
            if start <= (line, column) <= end:
                holder = node
                break
        if holder is None:
            return tuple(chain)
        if isinstance(holder, _SCOPES) and holder is not target:
            chain.append(holder)
        nodes = list(ast.iter_child_nodes(holder))


# -- bindings ----------------------------------------------------------------------------------

_UNKNOWN = object()


def function_bindings(index: ProjectIndex, module: ModuleInfo, function: ast.AST) -> Dict[str, List[object]]:
    """For each name the function binds itself: the values bound (``_UNKNOWN`` for a binding
    whose value cannot be read); parameters are unknown; ``global`` / ``nonlocal`` names map
    to the string ``"global"`` / ``"nonlocal"``."""

    def compute() -> Dict[str, List[object]]:
        found: Dict[str, List[object]] = {}

        def bind(name: str, value: object) -> None:
            found.setdefault(name, []).append(value)

        args = function.args  # type: ignore[attr-defined]
        for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
            if arg is not None:
                bind(arg.arg, _UNKNOWN)
        body = [function.body] if isinstance(function, ast.Lambda) else function.body  # type: ignore[attr-defined]
        for node in _own_walk(body):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        bind(target.id, node.value)
                    else:
                        for name in _names_in(target):
                            bind(name, _UNKNOWN)
            elif isinstance(node, ast.AnnAssign):
                if isinstance(node.target, ast.Name) and node.value is not None:
                    bind(node.target.id, node.value)
            elif isinstance(node, ast.NamedExpr):
                bind(node.target.id, node.value)
            elif isinstance(node, ast.With):
                for item in node.items:
                    if isinstance(item.optional_vars, ast.Name):
                        bind(item.optional_vars.id, item.context_expr)
                    elif item.optional_vars is not None:
                        for name in _names_in(item.optional_vars):
                            bind(name, _UNKNOWN)
            elif isinstance(node, (ast.AugAssign, ast.For, ast.AsyncFor, ast.AsyncWith)):
                targets = (
                    [node.target]
                    if not isinstance(node, ast.AsyncWith)
                    else [i.optional_vars for i in node.items if i.optional_vars is not None]
                )
                for target in targets:
                    for name in _names_in(target):  # type: ignore[arg-type]
                        bind(name, _UNKNOWN)
            elif isinstance(node, ast.ExceptHandler) and node.name:
                bind(node.name, _UNKNOWN)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    bind((alias.asname or alias.name).partition(".")[0], _UNKNOWN)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                bind(node.name, _UNKNOWN)
            elif isinstance(node, ast.Global):
                for name in node.names:
                    bind(name, "global")
            elif isinstance(node, ast.Nonlocal):
                for name in node.names:
                    bind(name, "nonlocal")
            elif type(node).__name__ in ("MatchAs", "MatchStar") and getattr(node, "name", None):
                bind(node.name, _UNKNOWN)  # type: ignore[attr-defined]
        return found

    return index.memo(("socket_flavours.bindings", str(module.path), id(function)), compute)


def _own_walk(body: Sequence[ast.AST]):
    """The nodes of a function's body, not those of nested definitions (whose names and
    decorators are still the function's) nor comprehension targets (their own scope)."""
    stack = list(reversed(body))
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            stack.extend(reversed(node.decorator_list))
            continue
        if isinstance(node, ast.Lambda):
            continue
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            # The first iterable is evaluated in the function; the rest is the comprehension's.
            stack.append(node.generators[0].iter)
            continue
        stack.extend(reversed(list(ast.iter_child_nodes(node))))


def _names_in(target: ast.AST) -> List[str]:
    return [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]


# -- resolution ----------------------------------------------------------------------------------


class _Resolver:
    def __init__(self, index: ProjectIndex) -> None:
        self.index = index
        self._active: set = set()

    def flavour(self, expr: ast.AST, scope: Scope, depth: int) -> Flavour:
        if depth > _MAX_DEPTH:
            return None
        key = (id(expr), id(scope.chain[-1]) if scope.chain else 0)
        if key in self._active:
            return None  # a value that reaches itself (``sock = sock.other``)
        self._active.add(key)
        try:
            return self._flavour(expr, scope, depth)
        finally:
            self._active.discard(key)

    def _flavour(self, expr: ast.AST, scope: Scope, depth: int) -> Flavour:
        if isinstance(expr, ast.Call):
            return self._call(expr, scope, depth)
        if isinstance(expr, ast.IfExp):
            return _agree([self.flavour(expr.body, scope, depth + 1), self.flavour(expr.orelse, scope, depth + 1)])
        if isinstance(expr, ast.NamedExpr):
            return self.flavour(expr.value, scope, depth + 1)
        if isinstance(expr, ast.Name):
            return self._name(expr.id, scope, depth)
        if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name):
            return self._self_attribute(expr.value.id, expr.attr, scope, depth)
        return None

    def _call(self, call: ast.Call, scope: Scope, depth: int) -> Flavour:
        name = dotted_name(call.func)
        if name is not None:
            created = _CREATIONS.get(scope.module.qualified_name(name))
            if created is not None:
                return created
        func = call.func
        if isinstance(func, ast.Attribute) and func.attr == "socket":
            if not call.args and not any(k.arg == "socket_type" for k in call.keywords):
                return None
            context = self.flavour(func.value, scope, depth + 1)
            if context is None or context[0] != CONTEXT:
                return None
            socket_class = next((k.value for k in call.keywords if k.arg == "socket_class"), None)
            if socket_class is not None:
                class_name = dotted_name(socket_class)
                created = _CREATIONS.get(scope.module.qualified_name(class_name)) if class_name else None
                return created if created is not None and created[0] == SOCKET else None
            if any(k.arg is None for k in call.keywords):
                return None
            return (SOCKET, context[1])
        if name is None:
            return None
        return self._returned(call, name, scope, depth)

    def _returned(self, call: ast.Call, name: str, scope: Scope, depth: int) -> Flavour:
        """What a project function or method the call reaches returns, when every return agrees."""
        try:
            target = self.index.resolve_callable(scope.module, name, line=call.lineno)
        except RecursionError:
            return None
        if not isinstance(target, FunctionInfo) or target.is_async:
            return None
        if any(isinstance(n, (ast.Yield, ast.YieldFrom)) for n in own_nodes(target.node)):
            return None
        if target.decorators and not set(target.decorators) <= {"staticmethod", "classmethod"}:
            return None
        values = [n.value for n in own_nodes(target.node) if isinstance(n, ast.Return)]
        if not values or any(v is None for v in values):
            return None
        inner = Scope(target.module, chain_of(target.module, target.node) + (target.node,))
        return _agree([self.flavour(v, inner, depth + 1) for v in values])  # type: ignore[arg-type]

    def _name(self, name: str, scope: Scope, depth: int) -> Flavour:
        functions = [n for n in scope.chain if isinstance(n, _FUNCTIONS)]
        for function in reversed(functions):
            values = function_bindings(self.index, scope.module, function).get(name)
            if not values:
                continue
            if "global" in values:
                break
            if "nonlocal" in values:
                continue
            return self._values(values, scope.up_to(function), depth)
        if any(isinstance(n, ast.ClassDef) for n in scope.chain[:1]) and not functions:
            return None  # a class body: its own names are not read here
        if name in scope.module.imports or name in scope.module.functions or name in scope.module.classes:
            return None
        if _declared_global(self.index, scope.module, name):
            return None
        value = scope.module.assignments.get(name)
        if value is None or _assigned_twice_at_top(scope.module, name):
            return None
        return self.flavour(value, Scope(scope.module), depth + 1)

    def _values(self, values: List[object], scope: Scope, depth: int) -> Flavour:
        results = []
        for value in values:
            if value is _UNKNOWN or isinstance(value, str):
                return None
            if isinstance(value, ast.Constant) and value.value is None:
                continue
            results.append(self.flavour(value, scope, depth + 1))  # type: ignore[arg-type]
        return _agree(results)

    def _self_attribute(self, owner: str, attr: str, scope: Scope, depth: int) -> Flavour:
        method, cls = _method_of(scope, owner)
        if method is None or cls is None:
            return None
        # ``self`` must mean the instance all the way down (no nested function rebinds it).
        inner = [n for n in scope.chain if isinstance(n, _FUNCTIONS)]
        for function in inner[inner.index(method) + 1:]:
            if owner in function_bindings(self.index, scope.module, function):
                return None
        results = []
        for klass in _family(self.index, cls):
            for value in klass.attributes.get(attr, []):
                if isinstance(value, ast.Constant) and value.value is None:
                    continue
                if isinstance(value, ast.Constant) and value.value is ...:
                    return None  # bound by unpacking, a loop or a ``with``: unknown
                holder = _holder_scope(klass, value)
                if holder is None:
                    return None
                results.append(self.flavour(value, holder, depth + 1))
        return _agree(results)


def _agree(results: List[Flavour]) -> Flavour:
    if not results or any(r is None for r in results):
        return None
    first = results[0]
    return first if all(r == first for r in results) else None


def _method_of(scope: Scope, owner: str) -> Tuple[Optional[ast.AST], Optional[ClassInfo]]:
    """The method whose first parameter is ``owner`` (``self``) around the scope, and its class."""
    chain = scope.chain
    for position in range(len(chain) - 1, 0, -1):
        node, parent = chain[position], chain[position - 1]
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and isinstance(parent, ast.ClassDef):
            params = [a.arg for a in [*node.args.posonlyargs, *node.args.args]]
            decorators = {dotted_name(d) for d in node.decorator_list}
            if not params or params[0] != owner or decorators & {"staticmethod", "classmethod"}:
                return None, None
            cls = scope.module.classes.get(parent.name)
            if cls is None or cls.node is not parent:
                return None, None  # a nested class: not in the index
            return node, cls
    return None, None


def _family(index: ProjectIndex, cls: ClassInfo) -> List[ClassInfo]:
    """The class, its resolvable bases and the classes of its module deriving from it."""
    family = list(index.mro(cls))
    for other in cls.module.classes.values():
        if other not in family and cls in index.mro(other):
            family.append(other)
    return family


def _holder_scope(cls: ClassInfo, value: ast.expr) -> Optional[Scope]:
    """The scope in which ``value`` (assigned to an attribute of ``cls``) is read."""
    if any(value is stmt.value for stmt in cls.node.body if isinstance(stmt, (ast.Assign, ast.AnnAssign))):
        return Scope(cls.module, chain_of(cls.module, cls.node) + (cls.node,))
    for method in cls.methods.values():
        node = method.node
        if node.lineno <= value.lineno <= (node.end_lineno or node.lineno):
            return Scope(cls.module, chain_of(cls.module, value))
    return None


def _declared_global(index: ProjectIndex, module: ModuleInfo, name: str) -> bool:
    globals_ = index.memo(
        ("socket_flavours.globals", str(module.path), id(module.tree)),
        lambda: frozenset(n for node in module.nodes if isinstance(node, ast.Global) for n in node.names),
    )
    return name in globals_


def _assigned_twice_at_top(module: ModuleInfo, name: str) -> bool:
    count = 0
    for stmt in module.tree.body:
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target] if isinstance(stmt, (ast.AnnAssign, ast.AugAssign)) else []
        for target in targets:
            if name in _names_in(target):
                count += 1
        if isinstance(stmt, (ast.With, ast.For, ast.If, ast.Try, ast.While)):
            if any(isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Store) for n in ast.walk(stmt)):
                count += 2
    return count > 1
