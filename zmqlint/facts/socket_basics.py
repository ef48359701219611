"""What a piece of ZeroMQ code is, read off one node: which socket type an expression names,
whether a call creates a socket or a context, what a call passes for a parameter, which function
a call reaches, and the statements of a body in source order. The vocabulary the other socket
facts (`binding_factories`, `socket_misuses`, `cleared_attributes`, `undefined_attributes`,
`base_ports`) are written in.

Inputs from the index: `FunctionInfo` (parameters, decorators, owner), `ModuleInfo` (imports,
qualified names) and, for `resolve_call` only, `ProjectIndex.resolve_callable`, `returned_class`
and `find_method`.

Cost: each helper looks at the node or function it is given (`parent_map` and `statement_walk`
walk the tree they are handed; `LazyParents` builds its map on the first question only) and
memoises nothing; `IN_PROGRESS` is the mark the memoised facts of the modules above leave in
``index._memo`` while they are computed, so a fact that reaches itself again gets an empty
answer.
"""

from __future__ import annotations

import ast
import re
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

from zmqlint.index import ClassInfo, FunctionInfo, ModuleInfo, ProjectIndex, dotted_name


SOCKET_TYPES = (
    "PAIR", "PUB", "SUB", "REQ", "REP", "DEALER", "ROUTER", "PULL", "PUSH", "XPUB", "XSUB", "STREAM",
)


BIND_METHODS = ("bind", "bind_to_random_port")


CONNECT_METHODS = ("connect",)


#: Holder attributes assumed when the holder class cannot be read.
HOLDER_ATTRS = ("socket", "sock", "_socket", "_sock")


#: Parameter names under which factories take the context to create the socket from.
CONTEXT_PARAMS = ("context", "ctx", "zmq_context", "zmq_ctx")


#: Attribute names a class usually keeps its context under, in order of preference.
CONTEXT_ATTRS = ("context", "ctx", "_context", "_ctx", "zmq_context", "zmq_ctx")


_TYPE_IN_NAME = re.compile(r"(?:^|_)(" + "|".join(t.lower() for t in SOCKET_TYPES) + r")(?:_|$)")


# ---------------------------------------------------------------------------------------------
# small ast helpers


def parent_map(root: ast.AST) -> Dict[ast.AST, ast.AST]:
    parents: Dict[ast.AST, ast.AST] = {}
    for node in ast.walk(root):
        for child in ast.iter_child_nodes(node):
            parents[child] = node
    return parents


class LazyParents:
    """`parent_map` computed on the first question only (most functions never ask)."""

    def __init__(self, root: ast.AST):
        self.root = root
        self._map: Optional[Dict[ast.AST, ast.AST]] = None

    def get(self, node: ast.AST) -> Optional[ast.AST]:
        if self._map is None:
            self._map = parent_map(self.root)
        return self._map.get(node)


def is_none(node: Optional[ast.AST]) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def self_parameter(func: FunctionInfo) -> Optional[str]:
    if func.owner is None or not func.parameters:
        return None
    if any(d in ("staticmethod", "classmethod") for d in func.decorators):
        return None
    return func.parameters[0]


# ---------------------------------------------------------------------------------------------
# parameters and the arguments a call passes them


def param_defaults(func: FunctionInfo) -> Dict[str, ast.expr]:
    args = func.node.args
    positional = [*args.posonlyargs, *args.args]
    defaults: Dict[str, ast.expr] = {}
    for arg, default in zip(positional[len(positional) - len(args.defaults):], args.defaults):
        defaults[arg.arg] = default
    for arg, default in zip(args.kwonlyargs, args.kw_defaults):
        if default is not None:
            defaults[arg.arg] = default
    return defaults


def positional_params(func: FunctionInfo, bound: bool) -> List[str]:
    """Parameters a positional argument of a call fills (``self`` skipped for bound calls)."""
    args = func.node.args
    names = [a.arg for a in [*args.posonlyargs, *args.args]]
    if bound and self_parameter(func) is not None:
        names = names[1:]
    return names


def argument_for(call: ast.Call, func: FunctionInfo, param: str, bound: bool) -> Optional[ast.expr]:
    """The expression a call passes for ``param`` (None: not passed, or not knowable)."""
    for kw in call.keywords:
        if kw.arg == param:
            return kw.value
    names = positional_params(func, bound)
    for index, arg in enumerate(call.args):
        if isinstance(arg, ast.Starred):
            return None
        if index < len(names) and names[index] == param:
            return arg
    return None


def call_arguments(call: ast.Call, func: FunctionInfo, bound: bool) -> Dict[str, ast.expr]:
    result: Dict[str, ast.expr] = {}
    names = positional_params(func, bound)
    for index, arg in enumerate(call.args):
        if isinstance(arg, ast.Starred):
            break
        if index < len(names):
            result[names[index]] = arg
    for kw in call.keywords:
        if kw.arg is not None:
            result[kw.arg] = kw.value
    return result


# ---------------------------------------------------------------------------------------------
# sockets and contexts


def socket_type_of(node: Optional[ast.AST]) -> Optional[str]:
    """``REP`` for ``zmq.REP`` / ``REP`` / ``zmq.SocketType.REP``."""
    name = dotted_name(node) if node is not None else None
    if name:
        last = name.rpartition(".")[2]
        if last in SOCKET_TYPES:
            return last
    return None


def socket_type_from_name(name: str) -> Optional[str]:
    match = _TYPE_IN_NAME.search(name.rpartition(".")[2].lower())
    return match.group(1).upper() if match else None


def created_socket_type(node: ast.AST) -> Optional[str]:
    """``ctx.socket(T)`` / ``zmq.Socket(ctx, T)``: the type name ('' when unknown), else None."""
    if not isinstance(node, ast.Call):
        return None
    if isinstance(node.func, ast.Attribute) and node.func.attr == "socket" and node.args:
        if _standard_socket(node):
            return None
        return socket_type_of(node.args[0]) or ""
    name = dotted_name(node.func) or ""
    if name.rpartition(".")[2] == "Socket" and len(node.args) >= 2 and name.startswith(("zmq", "Socket")):
        return socket_type_of(node.args[1]) or ""
    return None


def _standard_socket(call: ast.Call) -> bool:
    """``socket.socket(socket.AF_INET, ...)``: the standard library's, not ZeroMQ's."""
    first = dotted_name(call.args[0]) if call.args else None
    return dotted_name(call.func) == "socket.socket" or bool(first and first.rpartition(".")[2].startswith("AF_"))


def is_context_creation(module: ModuleInfo, node: Optional[ast.AST]) -> bool:
    """``zmq.Context()``, ``zmq.Context.instance()``, ``ctx or zmq.Context.instance()`` ..."""
    if node is None:
        return False
    if isinstance(node, ast.BoolOp):
        return any(is_context_creation(module, v) for v in node.values)
    if isinstance(node, ast.IfExp):
        return is_context_creation(module, node.body) or is_context_creation(module, node.orelse)
    if isinstance(node, ast.Call):
        name = dotted_name(node.func)
        if not name:
            return False
        qualified = module.qualified_name(name)
        parts = qualified.split(".")
        return parts[0] == "zmq" and "Context" in parts[-2:]
    return False


def zmq_alias(module: ModuleInfo) -> Optional[str]:
    """The local name ``import zmq`` is bound to in ``module``, if any."""
    for local, ref in module.imports.items():
        if ref.name is None and ref.module == "zmq" and ref.level == 0:
            return local
    return None


# ---------------------------------------------------------------------------------------------
# the mark of a memoised fact being computed (a recursive fact asking itself)


class _InProgress:
    pass


IN_PROGRESS = _InProgress()


# ---------------------------------------------------------------------------------------------
# calls


def is_bound_call(call: ast.Call) -> bool:
    """``obj.method(...)`` (the receiver fills ``self``) rather than ``function(...)``."""
    return isinstance(call.func, ast.Attribute)


def resolve_call(index: ProjectIndex, module: ModuleInfo, call: ast.Call) -> Optional[FunctionInfo]:
    name = dotted_name(call.func)
    if not name:
        # ``get_pool().get_socket(config)``: a method of what a function returns (a singleton getter).
        func = call.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Call):
            inner = dotted_name(func.value.func)
            target = index.resolve_callable(module, inner, line=call.lineno) if inner else None
            klass = index.returned_class(target) if isinstance(target, FunctionInfo) else target
            if isinstance(klass, ClassInfo):
                method = index.find_method(klass, func.attr)
                return method if isinstance(method, FunctionInfo) else None
        return None
    try:
        target = index.resolve_callable(module, name, line=call.lineno)
    except RecursionError:
        return None
    return target if isinstance(target, FunctionInfo) else None


# ---------------------------------------------------------------------------------------------
# statements


def statement_walk(body: Sequence[ast.stmt]) -> Iterator[Tuple[ast.stmt, List[ast.AST]]]:
    """Statements in source order (into compound bodies), each with the expressions of its own
    header (for an ``if``: its test; for a simple statement: the statement itself)."""
    for stmt in body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        if isinstance(stmt, ast.If):
            yield stmt, [stmt.test]
            yield from statement_walk(stmt.body)
            yield from statement_walk(stmt.orelse)
        elif isinstance(stmt, (ast.For, ast.AsyncFor)):
            yield stmt, [stmt.iter]
            yield from statement_walk(stmt.body)
            yield from statement_walk(stmt.orelse)
        elif isinstance(stmt, ast.While):
            yield stmt, [stmt.test]
            yield from statement_walk(stmt.body)
            yield from statement_walk(stmt.orelse)
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            yield stmt, [item.context_expr for item in stmt.items]
            yield from statement_walk(stmt.body)
        elif isinstance(stmt, ast.Try) or type(stmt).__name__ == "TryStar":
            yield stmt, []
            yield from statement_walk(stmt.body)
            for handler in stmt.handlers:
                yield from statement_walk(handler.body)
            yield from statement_walk(stmt.orelse)
            yield from statement_walk(stmt.finalbody)
        elif type(stmt).__name__ == "Match":
            yield stmt, [stmt.subject]
            for case in stmt.cases:
                yield from statement_walk(case.body)
        else:
            yield stmt, [stmt]


def calls_base_init(stmt: ast.stmt) -> bool:
    for node in ast.walk(stmt):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "__init__":
            return True
    return False


# ---------------------------------------------------------------------------------------------
# ZeroMQ in a module, and the methods only ZeroMQ's sockets have


def uses_zeromq(module: ModuleInfo) -> bool:
    """Does ``module`` import ZeroMQ, or import from a module named for it (``zmq_pool``)?"""
    return any("zmq" in ref.module.lower() for ref in module.imports.values())


#: Methods only a ZeroMQ socket has (their receiver is a socket), and those that take an
#: endpoint as their first argument.
ZMQ_SOCKET_METHODS = frozenset({
    "bind", "bind_to_random_port", "connect", "unbind", "disconnect", "send_string", "send_json",
    "send_pyobj", "send_multipart", "send_serialized", "recv_string", "recv_json", "recv_pyobj",
    "recv_multipart", "recv_serialized", "setsockopt", "setsockopt_string", "getsockopt",
    "getsockopt_string", "subscribe", "unsubscribe", "get_monitor_socket", "disable_monitor",
})


ENDPOINT_METHODS = frozenset({"bind", "bind_to_random_port", "connect", "unbind", "disconnect"})
