"""Socket lifecycle facts (ZMQ101–ZMQ105): which functions hand out sockets they already bound,
which helpers bind or connect the socket they are given, what a base class binds, and where a
module rebinds, connects, clears or reads what it should not.

Everything here reads the stdlib ``ast`` of modules through the `ProjectIndex` (lines match
the CST the rules see) and is memoised per run with ``index.memo``. Nothing is keyed to any
particular codebase's function names: a *binding factory* is recognised by what its body does.

A function is a binding factory when it returns a socket (or an object holding one as an
attribute, e.g. ``.socket``) that it

- created (``ctx.socket(zmq.REP)``) and bound (``sock.bind(...)``, directly, inside a retry
  loop, or through a helper that binds its argument), possibly under ``if bind:`` on one of
  its parameters; or
- had built by a pool from a config object carrying ``bind=True`` (``pool.acquire(
  SocketConfig(zmq.REP, endpoint, bind=bind))``, ``bind`` a parameter defaulting to True); or
- got from another binding factory.
"""

from __future__ import annotations

import ast
import bisect
import copy
import functools
import re
from dataclasses import dataclass, field
from typing import Dict, FrozenSet, Iterable, Iterator, List, Optional, Sequence, Set, Tuple, Union

from zmqlint.index import ClassInfo, FunctionInfo, ModuleInfo, ProjectIndex, _flatten, dotted_name, first_line, own_nodes, walk

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


def _parents(root: ast.AST) -> Dict[ast.AST, ast.AST]:
    parents: Dict[ast.AST, ast.AST] = {}
    for node in ast.walk(root):
        for child in ast.iter_child_nodes(node):
            parents[child] = node
    return parents


class _LazyParents:
    """`_parents` computed on the first question only (most functions never ask)."""

    def __init__(self, root: ast.AST):
        self.root = root
        self._map: Optional[Dict[ast.AST, ast.AST]] = None

    def get(self, node: ast.AST) -> Optional[ast.AST]:
        if self._map is None:
            self._map = _parents(self.root)
        return self._map.get(node)


def _is_none(node: Optional[ast.AST]) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _self_name(func: FunctionInfo) -> Optional[str]:
    if func.owner is None or not func.parameters:
        return None
    if any(d in ("staticmethod", "classmethod") for d in func.decorators):
        return None
    return func.parameters[0]


def _param_defaults(func: FunctionInfo) -> Dict[str, ast.expr]:
    args = func.node.args
    positional = [*args.posonlyargs, *args.args]
    defaults: Dict[str, ast.expr] = {}
    for arg, default in zip(positional[len(positional) - len(args.defaults):], args.defaults):
        defaults[arg.arg] = default
    for arg, default in zip(args.kwonlyargs, args.kw_defaults):
        if default is not None:
            defaults[arg.arg] = default
    return defaults


def _positional_params(func: FunctionInfo, bound: bool) -> List[str]:
    """Parameters a positional argument of a call fills (``self`` skipped for bound calls)."""
    args = func.node.args
    names = [a.arg for a in [*args.posonlyargs, *args.args]]
    if bound and _self_name(func) is not None:
        names = names[1:]
    return names


def _argument_for(call: ast.Call, func: FunctionInfo, param: str, bound: bool) -> Optional[ast.expr]:
    """The expression a call passes for ``param`` (None: not passed, or not knowable)."""
    for kw in call.keywords:
        if kw.arg == param:
            return kw.value
    names = _positional_params(func, bound)
    for index, arg in enumerate(call.args):
        if isinstance(arg, ast.Starred):
            return None
        if index < len(names) and names[index] == param:
            return arg
    return None


def _arguments(call: ast.Call, func: FunctionInfo, bound: bool) -> Dict[str, ast.expr]:
    result: Dict[str, ast.expr] = {}
    names = _positional_params(func, bound)
    for index, arg in enumerate(call.args):
        if isinstance(arg, ast.Starred):
            break
        if index < len(names):
            result[names[index]] = arg
    for kw in call.keywords:
        if kw.arg is not None:
            result[kw.arg] = kw.value
    return result


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


def _is_socket_creation(node: ast.AST) -> Optional[str]:
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


def _enclosing_functions(module: ModuleInfo) -> Iterator[FunctionInfo]:
    yield from module.functions.values()
    for cls in module.classes.values():
        yield from cls.methods.values()


def zmq_alias(module: ModuleInfo) -> Optional[str]:
    """The local name ``import zmq`` is bound to in ``module``, if any."""
    for local, ref in module.imports.items():
        if ref.name is None and ref.module == "zmq" and ref.level == 0:
            return local
    return None


# ---------------------------------------------------------------------------------------------
# binding factories


@dataclass(frozen=True)
class Factory:
    """A callable that hands out a socket it has already bound."""

    name: str
    socket_type: Optional[str]
    #: The parameter deciding whether it binds (``bind``), or ``"cfg.bind"`` for a config
    #: parameter's attribute; None: it always binds.
    bind_param: Optional[str] = None
    bind_default: Optional[bool] = None
    #: Attributes of the returned object that hold the socket; () when it returns the socket.
    holder_attrs: Tuple[str, ...] = ()
    function: Optional[FunctionInfo] = field(default=None, compare=False, hash=False)
    #: With a ``"cfg.socket_type"`` bind_param: the socket types it binds.
    bind_types: FrozenSet[str] = frozenset()

    def binds_at(
        self,
        call: ast.Call,
        bound: bool,
        index: Optional[ProjectIndex] = None,
        module: Optional[ModuleInfo] = None,
        values: Optional[Dict[str, ast.Call]] = None,
    ) -> bool:
        """Does the call ``call`` (in ``module``) of this factory bind? Only a definite yes
        counts; with the index, a config built without ``bind=`` whose class defaults it to
        True binds too. ``values``: the calls locals of the caller were assigned (a config
        built in a local and handed over)."""
        if self.bind_param is None:
            return True
        param, _, attr = self.bind_param.partition(".")
        if self.function is not None:
            arg = _argument_for(call, self.function, param, bound)
        else:
            arg = next((kw.value for kw in call.keywords if kw.arg == param), None)
        if isinstance(arg, ast.Name) and values and arg.id in values:
            arg = values[arg.id]
        if attr and self.bind_types:
            # Binds by socket type: ``if config.socket_type in (REP, PUB): sock.bind(...)``.
            return isinstance(arg, ast.Call) and _config_socket_type(arg) in self.bind_types
        if attr:
            if arg is None:
                return False
            said = _config_binds(arg)
            if said is None and index is not None and module is not None and isinstance(arg, ast.Call):
                return _resolved_config_binds(index, module, arg)
            return said is True
        if arg is None:
            return self.bind_default is True
        return isinstance(arg, ast.Constant) and arg.value is True


def _config_binds(node: ast.AST) -> Optional[bool]:
    """For a config-object constructor call: the literal value of its ``bind=`` keyword."""
    if isinstance(node, ast.Call):
        for kw in node.keywords:
            if kw.arg == "bind" and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, bool):
                return kw.value.value
    return None


class _InProgress:
    pass


_IN_PROGRESS = _InProgress()


def factory_of_function(index: ProjectIndex, func: FunctionInfo) -> Optional[Factory]:
    """The `Factory` ``func`` is, or None when it does not hand out a bound socket."""
    key = ("sockets.factory", str(func.module.path), func.qualname, func.node.lineno)
    if key in index._memo and index._memo[key] is _IN_PROGRESS:
        return None  # recursion: a factory is not made of itself
    index._memo.setdefault(key, _IN_PROGRESS)
    if index._memo[key] is _IN_PROGRESS:
        index._memo[key] = _analyse_factory(index, func)
    return index._memo[key]  # type: ignore[return-value]


def _analyse_factory(index: ProjectIndex, func: FunctionInfo) -> Optional[Factory]:
    nodes = list(own_nodes(func.node))
    # Only what the function returns can make it a factory: a local (``return sock``) or a
    # call (``return Holder(sock)``, ``return pool.acquire(config)``, ``return factory()``),
    # and of the locals only those it returns or hands to the returned call.
    returns = [n.value for n in nodes if isinstance(n, ast.Return) and isinstance(n.value, (ast.Name, ast.Call))]
    if not returns:
        return None
    returned: Set[str] = set()
    for value in returns:
        if isinstance(value, ast.Name):
            returned.add(value.id)
        else:
            returned.update(a.id for a in [*value.args, *[kw.value for kw in value.keywords]] if isinstance(a, ast.Name))
    # ``pooled = PooledSocket(socket=sock, key=key); return pooled``: what a returned local is
    # built from is returned too.
    assigned_calls = [
        (n.targets[0].id, n.value) for n in nodes
        if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name) and isinstance(n.value, ast.Call)
    ]
    grown = True
    while grown:
        grown = False
        for name, call in assigned_calls:
            if name in returned:
                for arg in [*call.args, *[kw.value for kw in call.keywords]]:
                    if isinstance(arg, ast.Name) and arg.id not in returned:
                        returned.add(arg.id)
                        grown = True
    params = set(func.parameters)
    defaults = _param_defaults(func)
    module = func.module
    parents = _LazyParents(func.node)
    #: local socket name -> (type, bound? True / param condition / None)
    created: Dict[str, Optional[str]] = {}
    prebound: Dict[str, Factory] = {}
    #: local -> (factory, the condition on this function's parameter under which it binds)
    forwarded: Dict[str, Tuple[Factory, str]] = {}
    config_locals: Dict[str, ast.Call] = {}
    #: local -> the holder call built around a socket (``PooledSocket(socket=sock)``)
    holders: Dict[str, ast.Call] = {}
    for node in nodes:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if name not in returned:
                continue
            kind = _is_socket_creation(node.value)
            if kind is not None:
                created[name] = kind or None
            elif isinstance(node.value, ast.Call):
                inner = factory_of_call(index, module, node.value)
                if inner is not None and inner.binds_at(node.value, _is_bound_call(node.value), index, module, config_locals):
                    prebound[name] = inner
                elif inner is not None and (condition := _forwarded_condition(inner, node.value, params)) is not None:
                    forwarded[name] = (inner, condition)
                elif any(kw.arg == "bind" for kw in node.value.keywords) or _resolved_config_binds(index, module, node.value):
                    config_locals[name] = node.value
                else:
                    holders.setdefault(name, node.value)

    # Which created sockets get bound here, and under what condition.
    bind_conditions: Dict[str, Optional[str]] = {}
    for node in nodes if created else ():
        if not isinstance(node, ast.Call):
            continue
        targets: List[str] = []
        if isinstance(node.func, ast.Attribute) and node.func.attr in BIND_METHODS and isinstance(node.func.value, ast.Name):
            targets.append(node.func.value.id)
        elif any(isinstance(a, ast.Name) and a.id in created for a in [*node.args, *[kw.value for kw in node.keywords]]):
            callee = _resolve_call(index, module, node)
            if callee is not None:
                actions = param_actions(index, callee)
                for param, arg in _arguments(node, callee, _is_bound_call(node)).items():
                    if isinstance(arg, ast.Name) and "bind" in actions.get(param, ()):
                        targets.append(arg.id)
        for name in targets:
            if name in created:
                condition = _bind_condition(node, parents, func.node, params)
                if condition is not False:
                    previous = bind_conditions.get(name, "unset")
                    bind_conditions[name] = None if previous is None or condition is None else condition

    for node in nodes:
        if not isinstance(node, ast.Return) or node.value is None:
            continue
        value = node.value
        if isinstance(value, ast.Name) and value.id in holders and value.id not in created and value.id not in prebound:
            value = holders[value.id]
        found = _factory_from_return(
            index, func, value, created, bind_conditions, prebound, config_locals, params, defaults, forwarded
        )
        if found is not None:
            return found
    return None


def _forwarded_condition(inner: Factory, call: ast.Call, params: Set[str]) -> Optional[str]:
    """``self._create_socket(config)`` where the inner factory binds under ``config.bind`` and
    ``config`` is a parameter here: the same condition, on this function's parameter."""
    if inner.bind_param is None or inner.function is None:
        return None
    param, _, attr = inner.bind_param.partition(".")
    arg = _argument_for(call, inner.function, param, _is_bound_call(call))
    if isinstance(arg, ast.Name) and arg.id in params:
        return f"{arg.id}.{attr}" if attr else arg.id
    return None


def _factory_from_return(
    index, func, value, created, bind_conditions, prebound, config_locals, params, defaults, forwarded=None
) -> Optional[Factory]:
    module = func.module
    name = func.qualname
    forwarded = forwarded or {}

    def from_condition(sock: str, holder: Tuple[str, ...]) -> Optional[Factory]:
        if sock in prebound:
            inner = prebound[sock]
            return Factory(name, inner.socket_type, None, None, holder or inner.holder_attrs, func)
        if sock in forwarded:
            inner, condition = forwarded[sock]
            default = _literal_bool(defaults.get(condition)) if "." not in condition else None
            return Factory(name, inner.socket_type, condition, default, holder or inner.holder_attrs, func, inner.bind_types)
        if sock not in bind_conditions:
            return None
        condition = bind_conditions[sock]
        if condition is None:
            return Factory(name, created.get(sock), None, None, holder, func)
        param = condition.partition(".")[0]
        default = _literal_bool(defaults.get(param)) if "." not in condition else None
        return Factory(name, created.get(sock), condition, default, holder, func)

    if isinstance(value, ast.Name):
        return from_condition(value.id, ())
    if not isinstance(value, ast.Call):
        return None
    # A holder built around the socket: Holder(sock) / Holder(socket=sock).
    for position, arg in enumerate([*value.args, *[kw.value for kw in value.keywords]]):
        if isinstance(arg, ast.Name) and (arg.id in bind_conditions or arg.id in prebound or arg.id in forwarded):
            keyword = value.keywords[position - len(value.args)].arg if position >= len(value.args) else None
            holder = _holder_attributes(index, module, value, position, keyword)
            return from_condition(arg.id, holder)
    # Another factory's result handed straight through.
    inner = factory_of_call(index, module, value)
    if inner is not None:
        bound = _is_bound_call(value)
        if inner.binds_at(value, bound, index, module, config_locals):
            socket_type = inner.socket_type or _config_type_at(inner, value, config_locals)
            return Factory(name, socket_type, None, None, inner.holder_attrs, func)
        if inner.bind_param and "." not in inner.bind_param and inner.function is not None:
            arg = _argument_for(value, inner.function, inner.bind_param, bound)
            if isinstance(arg, ast.Name) and arg.id in params:
                default = _literal_bool(defaults.get(arg.id))
                if default is not None:
                    return Factory(name, inner.socket_type, arg.id, default, inner.holder_attrs, func)
        if not (inner.bind_param and "." in inner.bind_param):
            return None
        # A pool method binding as its config says: the config built here decides (below).
    # A pool handed a config that says bind: pool.acquire(SocketConfig(zmq.REP, ep, bind=bind)).
    holder_attrs = inner.holder_attrs if inner is not None else ()
    for arg in [*value.args, *[kw.value for kw in value.keywords]]:
        config = config_locals.get(arg.id) if isinstance(arg, ast.Name) else arg
        if not isinstance(config, ast.Call):
            continue
        bind_value = next((kw.value for kw in config.keywords if kw.arg == "bind"), None)
        socket_type = _config_socket_type(config)
        if bind_value is None:
            if _resolved_config_binds(index, module, config):
                return Factory(name, socket_type, None, None, holder_attrs, func)
            continue
        if isinstance(bind_value, ast.Constant) and bind_value.value is True:
            return Factory(name, socket_type, None, None, holder_attrs, func)
        if isinstance(bind_value, ast.Name) and bind_value.id in params:
            default = _literal_bool(defaults.get(bind_value.id))
            if default is not None:
                return Factory(name, socket_type, bind_value.id, default, holder_attrs, func)
    return None


def _config_type_at(inner: Factory, call: ast.Call, values: Dict[str, ast.Call]) -> Optional[str]:
    """The socket type of the config ``call`` hands ``inner`` (through a local, too)."""
    if inner.bind_param is None or inner.function is None or "." not in inner.bind_param:
        return None
    arg = _argument_for(call, inner.function, inner.bind_param.partition(".")[0], _is_bound_call(call))
    if isinstance(arg, ast.Name):
        arg = values.get(arg.id)
    return _config_socket_type(arg) if isinstance(arg, ast.Call) else None


#: Socket attributes pyzmq maps to options (``sock.linger = 0`` is ``setsockopt(zmq.LINGER, 0)``).
_OPTION_ATTRS = frozenset({
    "linger", "rcvtimeo", "sndtimeo", "sndhwm", "rcvhwm", "hwm", "identity", "routing_id", "immediate",
    "reconnect_ivl", "reconnect_ivl_max", "tcp_keepalive", "ipv6", "conflate", "probe_router", "router_mandatory",
})


def factory_options(index: ProjectIndex, func: FunctionInfo) -> Tuple[Tuple[str, str], ...]:
    """The socket options a binding factory sets from what its caller hands it: ``(source,
    OPTION)`` pairs where source is a parameter (``"linger"``), a field of a config parameter
    (``"config.linger"``) or a keyword the caller passes through ``**kwargs`` (``"**linger"``):
    ``sock.setsockopt(zmq.LINGER, config.linger)``, ``sock.rcvtimeo = timeout``, or the same
    done by a factory this one calls, its arguments followed back to the caller. Options set
    to fixed values are the pool's own, not the caller's."""
    key = ("sockets.factory_options", str(func.module.path), func.qualname, func.node.lineno)
    if key in index._memo:
        value = index._memo[key]
        return () if value is _IN_PROGRESS else value  # type: ignore[return-value]
    index._memo[key] = _IN_PROGRESS
    index._memo[key] = result = _find_factory_options(index, func)
    return result


def _find_factory_options(index: ProjectIndex, func: FunctionInfo) -> Tuple[Tuple[str, str], ...]:
    params = set(func.parameters)
    star = func.node.args.kwarg.arg if func.node.args.kwarg is not None else None
    module = func.module
    found: List[Tuple[str, str]] = []
    config_locals: Dict[str, ast.Call] = {}

    def source(value: ast.AST) -> Optional[str]:
        name = dotted_name(value)
        if name and name.partition(".")[0] in params and name.count(".") <= 1:
            return name
        return None

    nodes = list(own_nodes(func.node))
    for node in nodes:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) and isinstance(node.value, ast.Call):
            config_locals.setdefault(node.targets[0].id, node.value)
    for node in nodes:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("setsockopt", "set") and len(node.args) == 2:
            option = dotted_name(node.args[0])
            src = source(node.args[1])
            if option and src and option.rpartition(".")[2].isupper():
                found.append((src, option.rpartition(".")[2]))
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Attribute):
            target = node.targets[0]
            src = source(node.value)
            if target.attr in _OPTION_ATTRS and src and isinstance(target.value, ast.Name) and target.value.id not in params:
                found.append((src, target.attr.upper()))
        if not isinstance(node, ast.Call):
            continue
        callee = _resolve_call(index, module, node)
        if callee is None or callee is func or factory_of_function(index, callee) is None:
            continue
        for inner_source, option in factory_options(index, callee):
            mapped = _map_option_source(callee, node, inner_source, params, star, config_locals)
            if mapped is not None:
                found.append((mapped, option))
    return tuple(dict.fromkeys(found))


def _map_option_source(
    callee: FunctionInfo, call: ast.Call, inner: str, params: Set[str], star: Optional[str], config_locals: Dict[str, ast.Call]
) -> Optional[str]:
    """The caller's source for the callee's option source ``inner`` at ``call``."""
    if inner.startswith("**"):
        field_name = inner[2:]
        explicit = next((kw.value for kw in call.keywords if kw.arg == field_name), None)
        if explicit is not None:
            name = dotted_name(explicit)
            return name if name and name.partition(".")[0] in params else None
        return inner if star and any(kw.arg is None and dotted_name(kw.value) == star for kw in call.keywords) else None
    param, _, field_name = inner.partition(".")
    arg = _argument_for(call, callee, param, _is_bound_call(call))
    if arg is None:
        return f"**{param}" if star and not field_name and any(kw.arg is None and dotted_name(kw.value) == star for kw in call.keywords) else None
    if isinstance(arg, ast.Name) and arg.id in config_locals and field_name:
        arg = config_locals[arg.id]
    if isinstance(arg, ast.Call) and field_name:
        # A config built here: its keyword for the field, or the caller's through **kwargs.
        explicit = next((kw.value for kw in arg.keywords if kw.arg == field_name), None)
        if explicit is not None:
            name = dotted_name(explicit)
            return name if name and name.partition(".")[0] in params else None
        if star and any(kw.arg is None and dotted_name(kw.value) == star for kw in arg.keywords):
            return f"**{field_name}"
        return None
    name = dotted_name(arg)
    if name and name.partition(".")[0] in params:
        return f"{name}.{field_name}" if field_name else name
    return None


def caller_options(misuse: "Misuse") -> List[Tuple[str, ast.expr]]:
    """``(OPTION, value)`` the call ``misuse.factory_call`` asks its factory to set (its
    keywords and arguments mapped through `factory_options`): what a plain socket in its
    place must set itself."""
    factory = misuse.factory
    func = factory.function
    if func is None or misuse.origin is None:
        return []
    call = misuse.factory_call
    result: List[Tuple[str, ast.expr]] = []
    for src, option in misuse.origin.options:
        value: Optional[ast.expr] = None
        if src.startswith("**"):
            value = next((kw.value for kw in call.keywords if kw.arg == src[2:]), None)
        else:
            param, _, field_name = src.partition(".")
            arg = _argument_for(call, func, param, _is_bound_call(call))
            if field_name and isinstance(arg, ast.Call):
                value = next((kw.value for kw in arg.keywords if kw.arg == field_name), None)
            elif not field_name:
                value = arg
        if value is not None:
            result.append((option, value))
    return sorted(result, key=lambda item: (item[1].lineno, item[1].col_offset))


def _literal_bool(node: Optional[ast.AST]) -> Optional[bool]:
    if isinstance(node, ast.Constant) and isinstance(node.value, bool):
        return node.value
    return None


def _config_socket_type(config: ast.Call) -> Optional[str]:
    for kw in config.keywords:
        if kw.arg in ("socket_type", "type", "kind"):
            return socket_type_of(kw.value)
    for arg in config.args:
        found = socket_type_of(arg)
        if found:
            return found
    return None


def _resolved_config_binds(index: ProjectIndex, module: ModuleInfo, config: ast.Call) -> bool:
    """A config class whose ``bind`` field defaults to True, built without ``bind=``."""
    if any(kw.arg == "bind" for kw in config.keywords) or _config_socket_type(config) is None:
        return False
    name = dotted_name(config.func)
    target = index.resolve(module, name) if name else None
    if not isinstance(target, ClassInfo):
        return False
    values = target.attributes.get("bind", [])
    return bool(values) and all(_literal_bool(v) is True for v in values[:1])


def _holder_attributes(index, module, call: ast.Call, position: int, keyword: Optional[str]) -> Tuple[str, ...]:
    name = dotted_name(call.func)
    target = index.resolve(module, name) if name else None
    if isinstance(target, ClassInfo):
        init = index.find_method(target, "__init__")
        if init is None:
            # A dataclass / NamedTuple: its fields, in order, are its parameters and attributes.
            fields = [
                stmt.target.id for klass in reversed(index.mro(target)) for stmt in klass.node.body
                if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)
                and not (dotted_name(stmt.annotation) or "").endswith("ClassVar")
            ]
            field_name = keyword or (fields[position] if position < len(fields) else None)
            if field_name in fields:
                return (field_name,)
        if init is not None:
            params = _positional_params(init, bound=True)
            param = keyword or (params[position] if position < len(params) else None)
            self_name = _self_name(init)
            attrs = []
            for node in own_nodes(init.node):
                if isinstance(node, ast.Assign) and isinstance(node.value, ast.Name) and node.value.id == param:
                    for target_node in node.targets:
                        if isinstance(target_node, ast.Attribute) and dotted_name(target_node.value) == self_name:
                            attrs.append(target_node.attr)
            if attrs:
                return tuple(attrs)
        return HOLDER_ATTRS
    return HOLDER_ATTRS


def _bind_condition(node: ast.AST, parents, func_node, params: Set[str]) -> Union[None, str, bool]:
    """None: binds unconditionally; ``"p"`` / ``"p.attr"``: under ``if p`` / ``if p.attr`` (a
    parameter); False: on the ``else`` side of such a test (never when the parameter says bind)."""
    child, parent = node, parents.get(node)
    while parent is not None and parent is not func_node:
        if isinstance(parent, ast.If):
            test = parent.test
            name = dotted_name(test)
            if name and name.partition(".")[0] in params and name.count(".") <= 1:
                return name if child in parent.body else False
        child, parent = parent, parents.get(parent)
    return None


def _is_bound_call(call: ast.Call) -> bool:
    """``obj.method(...)`` (the receiver fills ``self``) rather than ``function(...)``."""
    return isinstance(call.func, ast.Attribute)


def _resolve_call(index: ProjectIndex, module: ModuleInfo, call: ast.Call) -> Optional[FunctionInfo]:
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


def _span(node: ast.AST) -> Tuple[int, int]:
    return first_line(node), node.end_lineno or node.lineno


@dataclass
class _Assignments:
    """The module's ``Assign`` / ``AnnAssign`` statements, for bisection by line."""

    #: ``(line, name, value)`` of every ``name = value`` / ``name: T = value``, in source order
    #: (and their lines apart).
    local_lines: List[int]
    locals: List[Tuple[int, str, ast.expr]]
    #: Lines of the assignments (to any target) of a call's result, sorted.
    call_lines: List[int]
    #: ``(line, call)`` of those and of ``x += call(...)``, by line.
    call_values: List[Tuple[int, ast.Call]]


def _module_assignments(index: ProjectIndex, module: ModuleInfo) -> _Assignments:
    key = ("sockets.assignments", str(module.path))
    cached = index._memo.get(key)
    if cached is None:
        cached = index._memo[key] = _index_assignments(_all_statements(module.tree.body))
    return cached  # type: ignore[return-value]


def note_assignments(index: ProjectIndex, module: ModuleInfo, nodes: Iterable[ast.AST]) -> None:
    """Hand over every ``Assign`` / ``AnnAssign`` / ``AugAssign`` node of ``module.tree`` that a
    gate already has from its shared walk, so they need not be looked for again."""
    key = ("sockets.assignments", str(module.path))
    if key not in index._memo:
        index._memo[key] = _index_assignments(nodes)


def _all_statements(body: Sequence[ast.stmt]) -> Iterator[ast.stmt]:
    """Every statement under ``body``, nested bodies and definitions included (assignments are
    statements, so no expression needs looking into)."""
    stack: List[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        yield node
        for name in ("body", "orelse", "finalbody", "handlers", "cases"):
            inner = getattr(node, name, None)
            if inner and isinstance(inner, list):
                stack.extend(inner)


def _index_assignments(nodes: Iterable[ast.AST]) -> _Assignments:
    found: List[Tuple[int, int, str, ast.expr]] = []
    call_lines: List[int] = []
    call_values: List[Tuple[int, ast.Call]] = []
    for sub in nodes:
        if isinstance(sub, ast.AugAssign):
            if isinstance(sub.value, ast.Call):
                call_values.append((sub.lineno, sub.value))
            continue
        if isinstance(sub, ast.Assign):
            seen: Set[str] = set()
            for target in sub.targets:
                if isinstance(target, ast.Name) and target.id not in seen:
                    seen.add(target.id)
                    found.append((sub.lineno, sub.col_offset, target.id, sub.value))
        elif isinstance(sub, ast.AnnAssign):
            if isinstance(sub.target, ast.Name) and sub.value is not None:
                found.append((sub.lineno, sub.col_offset, sub.target.id, sub.value))
        else:
            continue
        value = sub.value
        if isinstance(value, ast.Attribute) and isinstance(value.value, ast.Call):
            value = value.value  # ``x = factory(...).socket``
        if isinstance(value, ast.Call):
            call_lines.append(sub.lineno)
            call_values.append((sub.lineno, value))
    found.sort(key=lambda f: (f[0], f[1]))
    call_lines.sort()
    call_values.sort(key=lambda c: c[0])
    return _Assignments([f[0] for f in found], [(f[0], f[2], f[3]) for f in found], call_lines, call_values)


def _calls_assigned_within(index: ProjectIndex, module: ModuleInfo, node: ast.AST) -> List[ast.Call]:
    """The calls whose result a statement in the lines of ``node`` assigns (``=``, ``+=``)."""
    values = _module_assignments(index, module).call_values
    end = node.end_lineno or node.lineno
    found = []
    for line, call in values[bisect.bisect_left(values, node.lineno, key=lambda c: c[0]):]:
        if line > end:
            break
        found.append(call)
    return found


def _assigns_a_call_within(index: ProjectIndex, module: ModuleInfo, node: Optional[ast.AST]) -> bool:
    """Does some statement in the lines of ``node`` (None: the module) assign a call's result?"""
    lines = _module_assignments(index, module).call_lines
    if node is None:
        return bool(lines)
    position = bisect.bisect_left(lines, node.lineno)
    return position < len(lines) and lines[position] <= (node.end_lineno or node.lineno)


def factory_of_call(
    index: ProjectIndex, module: ModuleInfo, call: ast.Call, extra: Sequence[str] = ()
) -> Optional[Factory]:
    """The binding factory ``call`` calls, if it is one (``extra``: configured names)."""
    name = dotted_name(call.func)
    if name and extra:
        qualified = module.qualified_name(name)
        for configured in extra:
            if configured in (name, qualified) or qualified.endswith("." + configured):
                return Factory(configured, socket_type_from_name(configured))
    callee = _resolve_call(index, module, call)
    if callee is not None:
        return factory_of_function(index, callee)
    # A pool call handed a config that says bind=True, seen at the call site itself.
    for arg in [*call.args, *[kw.value for kw in call.keywords]]:
        if _config_binds(arg) is True and isinstance(arg, ast.Call):
            return Factory(name or "pool", _config_socket_type(arg))
    return None


# ---------------------------------------------------------------------------------------------
# helpers that bind or connect what they are given


def param_actions(index: ProjectIndex, func: FunctionInfo) -> Dict[str, Set[str]]:
    """What ``func`` does to its parameters and ``self`` attributes: ``{"socket": {"bind"},
    "self.pub": {"connect"}}`` — directly, in loops, or through helpers it calls."""
    key = ("sockets.actions", str(func.module.path), func.qualname, func.node.lineno)
    if key in index._memo:
        value = index._memo[key]
        return {} if value is _IN_PROGRESS else value  # type: ignore[return-value]
    index._memo[key] = _IN_PROGRESS
    actions: Dict[str, Set[str]] = {}
    params = set(func.parameters)
    self_name = _self_name(func)

    def subject(expr: ast.AST) -> Optional[str]:
        name = dotted_name(expr)
        if name is None:
            return None
        if name in params and name != self_name:
            return name
        if self_name and name.startswith(self_name + ".") and name.count(".") == 1:
            return "self." + name.partition(".")[2]
        return None

    for node in own_nodes(func.node):
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Attribute) and node.func.attr in BIND_METHODS + CONNECT_METHODS:
            who = subject(node.func.value)
            if who:
                actions.setdefault(who, set()).add("bind" if node.func.attr in BIND_METHODS else "connect")
            continue
        callee = _resolve_call(index, func.module, node)
        if callee is None or callee is func:
            continue
        inner = param_actions(index, callee)
        if not inner:
            continue
        for param, arg in _arguments(node, callee, _is_bound_call(node)).items():
            who = subject(arg)
            if who and inner.get(param):
                actions.setdefault(who, set()).update(inner[param])
        if self_name and dotted_name(node.func) and dotted_name(node.func).startswith(self_name + "."):
            for name, acts in inner.items():
                if name.startswith("self."):
                    actions.setdefault(name, set()).update(acts)
    index._memo[key] = actions
    return actions


# ---------------------------------------------------------------------------------------------
# ZMQ101 / ZMQ102: a factory-bound socket bound again or connected


@dataclass
class Misuse:
    kind: str  # "bind" or "connect"
    use: ast.Call
    factory_call: ast.Call
    factory: Factory
    #: The module holding ``factory_call`` (the fix only applies in the file being checked).
    factory_module: ModuleInfo
    #: The function holding the use (None: module level).
    function: Optional[FunctionInfo]
    subject: str
    #: Where the socket came from (the factory call, a holder attribute taken off it, a wrapper).
    origin: Optional["_Origin"] = None


def _statement_walk(body: Sequence[ast.stmt]) -> Iterator[Tuple[ast.stmt, List[ast.AST]]]:
    """Statements in source order (into compound bodies), each with the expressions of its own
    header (for an ``if``: its test; for a simple statement: the statement itself)."""
    for stmt in body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        if isinstance(stmt, ast.If):
            yield stmt, [stmt.test]
            yield from _statement_walk(stmt.body)
            yield from _statement_walk(stmt.orelse)
        elif isinstance(stmt, (ast.For, ast.AsyncFor)):
            yield stmt, [stmt.iter]
            yield from _statement_walk(stmt.body)
            yield from _statement_walk(stmt.orelse)
        elif isinstance(stmt, ast.While):
            yield stmt, [stmt.test]
            yield from _statement_walk(stmt.body)
            yield from _statement_walk(stmt.orelse)
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            yield stmt, [item.context_expr for item in stmt.items]
            yield from _statement_walk(stmt.body)
        elif isinstance(stmt, ast.Try) or type(stmt).__name__ == "TryStar":
            yield stmt, []
            yield from _statement_walk(stmt.body)
            for handler in stmt.handlers:
                yield from _statement_walk(handler.body)
            yield from _statement_walk(stmt.orelse)
            yield from _statement_walk(stmt.finalbody)
        elif type(stmt).__name__ == "Match":
            yield stmt, [stmt.subject]
            for case in stmt.cases:
                yield from _statement_walk(case.body)
        else:
            yield stmt, [stmt]


def _calls_in(exprs: Iterable[ast.AST]) -> List[ast.Call]:
    calls = []
    for expr in exprs:
        for node in ast.walk(expr):
            if isinstance(node, ast.Call):
                calls.append(node)
    return sorted(calls, key=lambda c: (c.lineno, c.col_offset))


@dataclass
class _Origin:
    call: ast.Call
    factory: Factory
    module: ModuleInfo
    #: The holder attribute taken straight off the call (``get_rep_socket(ep).socket``).
    via: Optional[str] = None
    #: Attributes of what was assigned that hold the socket (a wrapper kept as it is).
    holder: Tuple[str, ...] = ()
    #: The expression assigned: the call, or the holder attribute taken off it.
    expr: Optional[ast.expr] = None
    #: `factory_options` of the factory called.
    options: Tuple[Tuple[str, str], ...] = ()


def _factory_value(index: ProjectIndex, module: ModuleInfo, value: ast.expr, extra: Sequence[str]) -> Optional[_Origin]:
    """Where ``value`` gets a factory-bound socket from: the factory call itself (the socket,
    or a wrapper whose ``holder`` attributes hold it), or the wrapper's socket attribute taken
    off the call (``get_rep_socket(ep).socket``)."""
    via, expr = None, value
    if isinstance(value, ast.Attribute) and isinstance(value.value, ast.Call):
        via, value = value.attr, value.value
    if not isinstance(value, ast.Call):
        return None
    factory = factory_of_call(index, module, value, extra)
    if factory is None or not factory.binds_at(value, _is_bound_call(value), index, module):
        return None
    options = factory_options(index, factory.function) if factory.function is not None else ()
    if via is not None:
        return _Origin(value, factory, module, via, (), expr, options) if via in factory.holder_attrs else None
    return _Origin(value, factory, module, None, factory.holder_attrs, expr, options)


def _class_factory_attrs(index: ProjectIndex, cls: ClassInfo, extra: Sequence[str]) -> Dict[str, _Origin]:
    """``self.X`` attributes every assignment of which (None aside) is a binding factory call."""
    key = ("sockets.factory_attrs", str(cls.module.path), cls.name, cls.node.lineno, tuple(extra))
    return index.memo(key, lambda: _compute_factory_attrs(index, cls, extra))


def _compute_factory_attrs(index: ProjectIndex, cls: ClassInfo, extra: Sequence[str]) -> Dict[str, _Origin]:
    result: Dict[str, _Origin] = {}
    mro = index.mro(cls)
    # An attribute counts only when some value of it is a call to a binding factory. Every
    # call a class's attributes hold is assigned by a statement in the class's lines; when
    # none of those is such a call there is nothing to find (and no need to read every
    # attribute of the hierarchy).
    if not any(_assigns_binding_call(index, klass, extra) for klass in mro):
        return result
    seen: Set[str] = set()
    for klass in mro:
        for attr, values in klass.attributes.items():
            if attr in seen:
                continue
            seen.add(attr)
            # `ProjectIndex.attribute_values`, with the hierarchy resolved once for the class
            all_values = [v for k in mro for v in k.attributes.get(attr, [])]
            origin = None
            if not any(isinstance(v, ast.Call) or isinstance(v, ast.Attribute) and isinstance(v.value, ast.Call) for v in all_values):
                continue
            for value in all_values:
                if _is_none(value):
                    continue
                owner = next((k for k in mro if value in k.attributes.get(attr, [])), cls)
                found = _factory_value(index, owner.module, value, extra)
                if found is None:
                    origin = None
                    break
                origin = origin or found
            if origin is not None:
                result[attr] = origin
    return result


def _assigns_binding_call(index: ProjectIndex, cls: ClassInfo, extra: Sequence[str]) -> bool:
    """Does a statement in ``cls``'s lines assign a binding factory call's result? Memoised:
    every subclass asks it of each class of its hierarchy (all the tests of a project ask it
    of ``unittest.TestCase``)."""
    key = ("sockets.assigns_binding_call", str(cls.module.path), cls.name, cls.node.lineno, tuple(extra))
    return index.memo(
        key,
        lambda: any(_binding_call(index, cls.module, call, extra) for call in _calls_assigned_within(index, cls.module, cls.node)),
    )


def _binding_call(index: ProjectIndex, module: ModuleInfo, call: ast.Call, extra: Sequence[str]) -> bool:
    return _factory_value(index, module, call, extra) is not None


def socket_misuses(index: ProjectIndex, module: ModuleInfo, extra: Sequence[str] = ()) -> List[Misuse]:
    """Every bind or connect of a socket a binding factory handed out, in ``module``."""
    key = ("sockets.misuses", str(module.path), tuple(extra))
    return index.memo(key, lambda: _find_misuses(index, module, tuple(extra)))


def _find_misuses(index: ProjectIndex, module: ModuleInfo, extra: Tuple[str, ...]) -> List[Misuse]:
    found: Dict[int, Misuse] = {}
    scopes: List[Tuple[Optional[FunctionInfo], Sequence[ast.stmt]]] = [(None, module.tree.body)]
    scopes += [(func, func.node.body) for func in _enclosing_functions(module)]
    for func, body in scopes:
        self_name = _self_name(func) if func is not None else None
        state: Dict[str, _Origin] = {}
        if func is not None and func.owner is not None and self_name:
            for attr, origin in _class_factory_attrs(index, func.owner, extra).items():
                for key in [f"{self_name}.{attr}.{h}" for h in origin.holder] or [f"{self_name}.{attr}"]:
                    state[key] = origin
        # A socket can only come into play from the class or by assigning a call's result.
        if not state and not _assigns_a_call_within(index, module, func.node if func is not None else None):
            continue

        def note(kind: str, use: ast.Call, origin: _Origin, subject: str) -> None:
            found.setdefault(id(use), Misuse(kind, use, origin.call, origin.factory, origin.module, func, subject, origin))

        for stmt, exprs in _statement_walk(body):
            # With nothing factory-made in sight no call here can be a misuse: only the
            # assignments below can bring a factory's socket into play.
            for call in _calls_in(exprs) if state else ():
                if isinstance(call.func, ast.Attribute) and call.func.attr in BIND_METHODS + CONNECT_METHODS:
                    subject = dotted_name(call.func.value)
                    if subject in state:
                        kind = "bind" if call.func.attr in BIND_METHODS else "connect"
                        note(kind, call, state[subject], subject)
                    continue
                if not state:
                    continue
                callee = _resolve_call(index, module, call)
                if callee is None:
                    continue
                actions = param_actions(index, callee)
                if not actions:
                    continue
                for param, arg in _arguments(call, callee, _is_bound_call(call)).items():
                    subject = dotted_name(arg)
                    if subject in state:
                        for act in sorted(actions.get(param, ())):
                            note(act, call, state[subject], subject)
                receiver = dotted_name(call.func) or ""
                if self_name and receiver.startswith(self_name + "."):
                    for name, acts in actions.items():
                        subject = f"{self_name}.{name[5:]}" if name.startswith("self.") else None
                        if subject in state:
                            for act in sorted(acts):
                                note(act, call, state[subject], subject)
            if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None:
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                _assign(index, module, state, targets, stmt.value, extra)
    return sorted(found.values(), key=lambda m: (m.use.lineno, m.use.col_offset))


def _assign(index, module, state: Dict[str, _Origin], targets, value: ast.expr, extra) -> None:
    if not any(dotted_name(target) is not None for target in targets):
        return  # ``a[i] = ...``, ``x, y = ...``: nothing tracked changes
    origin: Optional[_Origin] = None
    holder: Tuple[str, ...] = ()
    if isinstance(value, ast.Call) or isinstance(value, ast.Attribute) and isinstance(value.value, ast.Call):
        origin = _factory_value(index, module, value, extra)
        holder = origin.holder if origin is not None else ()
    else:
        source = dotted_name(value)
        if source in state:
            origin = state[source]
        elif source is not None:
            # An alias of a holder attribute: sock = holder.socket
            origin = None
    for target in targets:
        name = dotted_name(target)
        if name is None:
            continue
        for existing in [k for k in state if k == name or k.startswith(name + ".")]:
            del state[existing]
        if origin is not None:
            if holder:
                for attr in holder:
                    state[f"{name}.{attr}"] = origin
            else:
                state[name] = origin


# ---------------------------------------------------------------------------------------------
# context expression for the fixes


def wrapper_socket_uses(index: ProjectIndex, module: ModuleInfo, misuse: Misuse) -> Optional[List[ast.Attribute]]:
    """For a socket used through the wrapper a factory returned (``w = get_pub_socket(ep);
    w.socket.connect(...)``): every ``w.socket`` when the wrapper is used for nothing else —
    in the function for a local, in the class's methods for a ``self`` attribute — so the
    wrapper can become the plain socket; None when something else reads it."""
    origin = misuse.origin
    if origin is None or not origin.holder or misuse.function is None:
        return None
    wrapper, _, attr = misuse.subject.rpartition(".")
    if attr not in origin.holder or not wrapper:
        return None
    func = misuse.function
    self_name = _self_name(func)
    if self_name and wrapper.startswith(self_name + ".") and wrapper.count(".") == 1 and func.owner is not None:
        cls = func.owner
        if any(klass is not cls and wrapper.partition(".")[2] in klass.attributes for klass in index.mro(cls)):
            return None
        scopes = [(m.node, _self_name(m)) for m in cls.methods.values()]
        name = wrapper.partition(".")[2]
        loads = [
            node for scope, sid in scopes for node in walk(scope)
            if isinstance(node, ast.Attribute) and node.attr == name and isinstance(node.value, ast.Name) and node.value.id == sid
            and isinstance(node.ctx, ast.Load)
        ]
    elif "." not in wrapper:
        loads = [node for node in walk(func.node) if isinstance(node, ast.Name) and node.id == wrapper and isinstance(node.ctx, ast.Load)]
    else:
        return None
    parents = _parents(func.owner.node if func.owner is not None and "." in wrapper else func.node)
    uses = []
    for node in loads:
        parent = parents.get(node)
        if not (isinstance(parent, ast.Attribute) and parent.value is node and parent.attr == attr):
            return None
        uses.append(parent)
    return uses


def context_expression(index: ProjectIndex, module: ModuleInfo, misuse: Misuse) -> str:
    """Source of the context a plain socket should come from at the factory call's place."""
    zmq_name = zmq_alias(module) or "zmq"
    call = misuse.factory_call
    func = next((f for f in reversed(module.scope_at(call.lineno)) if isinstance(f, FunctionInfo)), None)
    self_name = _self_name(func) if func is not None else None
    candidates: List[ast.expr] = []
    factory_fn = misuse.factory.function
    for kw in call.keywords:
        if kw.arg in CONTEXT_PARAMS:
            candidates.append(kw.value)
    if factory_fn is not None:
        for param in factory_fn.parameters:
            if param in CONTEXT_PARAMS:
                arg = _argument_for(call, factory_fn, param, _is_bound_call(call))
                if arg is not None:
                    candidates.append(arg)
    for expr in candidates:
        name = dotted_name(expr)
        if name and self_name and name.startswith(self_name + ".") and name.count(".") == 1:
            if _context_attribute_ready(index, func, name.partition(".")[2], call.lineno):
                return name
        if isinstance(expr, ast.Name) and func is not None:
            local = index.local_value(func, expr.id, before_line=call.lineno)
            if local is not None and is_context_creation(module, local):
                return expr.id
    if func is not None and func.owner is not None and self_name:
        known = sorted({attr for klass in index.mro(func.owner) for attr in klass.attributes})
        for attr in [*CONTEXT_ATTRS, *known]:
            if _context_attribute_ready(index, func, attr, call.lineno):
                return f"{self_name}.{attr}"
    if func is not None:
        for node in own_nodes(func.node):
            if (
                isinstance(node, ast.Assign)
                and node.lineno < call.lineno
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and is_context_creation(module, node.value)
            ):
                return node.targets[0].id
    for name, value in module.assignments.items():
        if is_context_creation(module, value) and (func is not None or value.lineno < call.lineno):
            return name
    return f"{zmq_name}.Context.instance()"


def _context_attribute_ready(index: ProjectIndex, func: FunctionInfo, attr: str, line: int) -> bool:
    """Does ``self.<attr>`` hold a context (never a maybe-None value) when ``line`` of the
    method ``func`` runs? Set earlier in the method, by a base ``__init__`` that ran first, or
    (for methods other than ``__init__``) by any ``__init__`` of the hierarchy."""
    cls = func.owner
    if cls is None:
        return False
    mro = index.mro(cls)
    assigned = [(klass, value) for klass in mro for value in klass.attributes.get(attr, []) if not _is_none(value)]
    if not assigned or not all(is_context_creation(klass.module, value) for klass, value in assigned):
        return False
    if func.name != "__init__":
        return any(klass.methods.get("__init__") is not None and _holds_node(klass.methods["__init__"].node, value) for klass, value in assigned)
    earlier_here = any(klass is cls and _holds_node(func.node, value) and value.lineno < line for klass, value in assigned)
    from_base = any(klass is not cls and klass.methods.get("__init__") is not None and _holds_node(klass.methods["__init__"].node, value) for klass, value in assigned)
    base_ran = any(_calls_base_init(stmt) and stmt.lineno < line for stmt in func.node.body)
    return earlier_here or (from_base and base_ran)


def _holds_node(tree: ast.AST, node: ast.AST) -> bool:
    return any(sub is node for sub in ast.walk(tree))


# ---------------------------------------------------------------------------------------------
# ZMQ103: a context or socket attribute cleared, then used


@dataclass
class Clearing:
    assign: ast.Assign
    attr: str
    use: ast.Attribute
    #: "drop": a context or socket is there to keep; "instance": assign the shared context.
    fix: Optional[str]
    kind: str


def _holding_kind(index: ProjectIndex, module: ModuleInfo, value: ast.AST, extra=()) -> Optional[str]:
    if is_context_creation(module, value):
        return "context"
    if _is_socket_creation(value) is not None:
        return "socket"
    if isinstance(value, ast.Call):
        factory = factory_of_call(index, module, value, extra)
        if factory is not None:
            return "socket"
    return None


def _base_created(index: ProjectIndex, cls: ClassInfo) -> Dict[str, str]:
    """``self.X`` a base class's ``__init__`` sets to a context or socket: X -> kind."""
    created: Dict[str, str] = {}
    for base in index.mro(cls)[1:]:
        init = base.methods.get("__init__")
        if init is None:
            continue
        self_name = _self_name(init)
        for node in own_nodes(init.node):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Attribute) and dotted_name(target.value) == self_name:
                        kind = _holding_kind(index, base.module, node.value)
                        if kind and target.attr not in created:
                            created[target.attr] = kind
    return created


def _calls_base_init(stmt: ast.stmt) -> bool:
    for node in ast.walk(stmt):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "__init__":
            return True
    return False


def _guards(node: ast.AST, parents, func_node, text: str) -> bool:
    """Is ``node`` inside an ``if`` / ``while`` / conditional whose test mentions ``text``?"""
    child, parent = node, parents.get(node)
    while parent is not None and parent is not func_node:
        test = None
        if isinstance(parent, (ast.If, ast.While, ast.IfExp)):
            test = parent.test
        elif isinstance(parent, ast.BoolOp) and child is not parent.values[0]:
            test = parent.values[0]
        if test is not None and child is not test and text in ast.unparse(test):
            return True
        child, parent = parent, parents.get(parent)
    return False


def cleared_attributes(index: ProjectIndex, module: ModuleInfo) -> List[Clearing]:
    key = ("sockets.cleared", str(module.path))
    return index.memo(key, lambda: _find_clearings(index, module))


def _find_clearings(index: ProjectIndex, module: ModuleInfo) -> List[Clearing]:
    results: List[Clearing] = []
    for cls in module.classes.values():
        # Only a method that sets some ``self.X = None`` can report (and only ``__init__``'s
        # clearings reach the other methods): a class without one has nothing to say.
        clearing = [m for m in cls.methods.values() if _clears_an_attribute(m)]
        if not clearing:
            continue
        mro = index.mro(cls)
        # ZeroMQ contexts and sockets only; and what a part that does not parse does is unknown.
        if not any(uses_zeromq(klass.module) for klass in mro) or any(klass.module.broken_regions for klass in mro):
            continue
        base_created = _base_created(index, cls)
        own_created: Dict[str, str] = {}
        for attr, values in cls.attributes.items():
            for value in values:
                kind = _holding_kind(index, module, value)
                if kind:
                    own_created.setdefault(attr, kind)
        for method in clearing:
            self_name = _self_name(method)
            if self_name is None:
                continue
            is_init = method.name == "__init__"
            flow = _ClearingFlow(index, cls, method, self_name, base_created)
            live: Dict[str, str] = {} if is_init else {**base_created, **own_created}
            exit_state = flow.block(method.node.body, _FlowState({}, live))
            results.extend(flow.found)
            if not is_init or exit_state is None:
                continue
            # Cleared in __init__ (on some path to its end) and never given another value by
            # the class, its bases or the module: every unguarded use elsewhere is a crash.
            reported = {id(c.assign) for c in flow.found}
            for attr, (assign, had_live, kind) in exit_state.cleared.items():
                if id(assign) in reported or _may_be_set_elsewhere(index, module, mro, attr):
                    continue
                # Each other method followed from its start with the attribute still None.
                for other in cls.methods.values():
                    other_self = _self_name(other)
                    if other.name == "__init__" or other_self is None:
                        continue
                    later = _ClearingFlow(index, cls, other, other_self, {})
                    later.block(other.node.body, _FlowState({attr: (assign, had_live, kind)}, {}))
                    if later.found:
                        results.append(later.found[0])
                        break
    return results


@dataclass
class _FlowState:
    """What may be None on some path to a point of a method, and what holds a context or
    socket on every path."""

    #: attr -> (the ``self.attr = None``, whether a context or socket was there, its kind)
    cleared: Dict[str, Tuple[ast.Assign, bool, str]]
    live: Dict[str, str]

    def copy(self) -> "_FlowState":
        return _FlowState(dict(self.cleared), dict(self.live))

    def merge(self, other: Optional["_FlowState"]) -> "_FlowState":
        if other is None:
            return self
        cleared = {**other.cleared, **self.cleared}
        live = {k: v for k, v in self.live.items() if other.live.get(k) == v}
        return _FlowState(cleared, live)


def _merge(states: Iterable[Optional[_FlowState]]) -> Optional[_FlowState]:
    result: Optional[_FlowState] = None
    for state in states:
        if state is not None:
            result = state.copy() if result is None else result.merge(state)
    return result


class _ClearingFlow:
    """Follows one method's statements along its paths (branches, loops, ``try`` / ``except``
    / ``else``, early exits), reporting a use of ``self.X`` reachable from ``self.X = None``
    with no other assignment on the way and no test of ``self.X`` guarding it."""

    def __init__(self, index: ProjectIndex, cls: ClassInfo, method: FunctionInfo, self_name: str, base_created: Dict[str, str]):
        self.index, self.cls, self.method, self.self_name = index, cls, method, self_name
        self.base_created = base_created
        self.parents = _LazyParents(method.node)
        self.found: List[Clearing] = []
        self._reported: Set[int] = set()

    # statements ---------------------------------------------------------------------------

    def block(self, body: Sequence[ast.stmt], state: Optional[_FlowState]) -> Optional[_FlowState]:
        for stmt in body:
            if state is None:
                return None
            state = self.statement(stmt, state)
        return state

    def statement(self, stmt: ast.stmt, state: _FlowState) -> Optional[_FlowState]:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            return state
        if isinstance(stmt, ast.If):
            self.uses(stmt.test, state)
            state = self.narrow(stmt.test, state)
            return _merge([self.block(stmt.body, state.copy()), self.block(stmt.orelse, state.copy())])
        if isinstance(stmt, (ast.For, ast.AsyncFor, ast.While)):
            head = stmt.test if isinstance(stmt, ast.While) else stmt.iter
            self.uses(head, state)
            state = self.narrow(head, state)
            first = self.block(stmt.body, state.copy())
            again = self.block(stmt.body, _merge([state, first]) or state.copy())  # loop-carried
            looped = _merge([state, first, again]) or state
            infinite = isinstance(stmt, ast.While) and isinstance(stmt.test, ast.Constant) and bool(stmt.test.value)
            if infinite:
                return looped if _breaks(stmt.body) else None
            return _merge([self.block(stmt.orelse, looped.copy()), looped])
        if isinstance(stmt, (ast.With, ast.AsyncWith)):
            for item in stmt.items:
                self.uses(item.context_expr, state)
            return self.block(stmt.body, state)
        if isinstance(stmt, ast.Try) or type(stmt).__name__ == "TryStar":
            before = state.copy()
            after_body = self.block(stmt.body, state.copy())
            # A handler may start from any point of the body: what the body cleared counts.
            cleared_in_body = _FlowState({**before.cleared, **self._clearings_in(stmt.body)}, dict(before.live))
            handler_entry = cleared_in_body.merge(after_body)
            handlers = [self.block(h.body, handler_entry.copy()) for h in stmt.handlers]
            after_else = self.block(stmt.orelse, after_body.copy()) if after_body is not None else None
            ends = [after_else, *handlers]
            if stmt.finalbody:
                entry = _merge(ends) or handler_entry.copy()
                final = self.block(stmt.finalbody, entry)
                return final if any(e is not None for e in ends) else None
            return _merge(ends)
        if type(stmt).__name__ == "Match":
            self.uses(stmt.subject, state)
            return _merge([self.block(case.body, state.copy()) for case in stmt.cases] + [state])
        if isinstance(stmt, (ast.Return, ast.Raise)):
            self.uses(stmt, state)
            return None
        if isinstance(stmt, (ast.Break, ast.Continue)):
            return None
        self.uses(stmt, state, assignment=stmt)
        if self.method.name == "__init__" and _calls_base_init(stmt):
            state.live.update(self.base_created)
        if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            self.assign(stmt, state)
        return state

    def assign(self, stmt: ast.stmt, state: _FlowState) -> None:
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]  # type: ignore[attr-defined]
        value = getattr(stmt, "value", None)
        for target in targets:
            for element in _flatten(target):
                if not (isinstance(element, ast.Attribute) and dotted_name(element.value) == self.self_name):
                    continue
                attr = element.attr
                whole = element is target and not isinstance(stmt, ast.AugAssign)
                if whole and _is_none(value):
                    if isinstance(stmt, ast.Assign):
                        state.cleared[attr] = (stmt, attr in state.live, state.live.get(attr, ""))
                    state.live.pop(attr, None)
                    continue
                state.cleared.pop(attr, None)
                kind = _holding_kind(self.index, self.cls.module, value) if whole and value is not None else None
                if kind:
                    state.live[attr] = kind
                else:
                    state.live.pop(attr, None)

    def narrow(self, test: ast.expr, state: _FlowState) -> _FlowState:
        """A test that mentions ``self.X`` checks it: from here on the code knows."""
        text = ast.unparse(test)
        checked = [attr for attr in state.cleared if f"{self.self_name}.{attr}" in text]
        if not checked:
            return state
        state = state.copy()
        for attr in checked:
            del state.cleared[attr]
        return state

    def _clearings_in(self, body: Sequence[ast.stmt]) -> Dict[str, Tuple[ast.Assign, bool, str]]:
        found = {}
        for stmt, _ in _statement_walk(body):
            if isinstance(stmt, ast.Assign) and _is_none(stmt.value):
                for target in stmt.targets:
                    if isinstance(target, ast.Attribute) and dotted_name(target.value) == self.self_name:
                        found[target.attr] = (stmt, False, "")
        return found

    # uses ---------------------------------------------------------------------------------

    def uses(self, expr: ast.AST, state: _FlowState, assignment: Optional[ast.stmt] = None) -> None:
        if not state.cleared:
            return
        roots: List[ast.AST] = [expr]
        if isinstance(assignment, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            # What the statement reads (its value, a target's object or index), not the
            # attribute it stores.
            roots = [assignment.value] if assignment.value is not None else []  # type: ignore[union-attr]
            targets = assignment.targets if isinstance(assignment, ast.Assign) else [assignment.target]  # type: ignore[attr-defined]
            for target in targets:
                for element in _flatten(target):
                    if isinstance(element, (ast.Attribute, ast.Subscript)):
                        roots.append(element.value)
                        if isinstance(element, ast.Subscript):
                            roots.append(element.slice)
        for root in roots:
            for node in walk(root):
                use = _attribute_use(node, self.self_name)
                if use is not None and use[0] in state.cleared:
                    self.report(node, use, state)
                elif (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Name)
                    and node.func.value.id == self.self_name
                ):
                    # ``self.setup()``: a method of the hierarchy using what was cleared (when
                    # nothing else could have set it again meanwhile, or it held a context or
                    # socket the clearing threw away).
                    for attr, (_, had_live, _) in list(state.cleared.items()):
                        if _guards(node, self.parents, self.method.node, f"{self.self_name}.{attr}"):
                            continue
                        if not had_live and _may_be_set_elsewhere(self.index, self.cls.module, self.index.mro(self.cls), attr):
                            continue
                        inner = _method_uses_first(self.index, self.cls, node.func.attr, attr, any_use=had_live)
                        if inner is not None:
                            self.report(node, (attr, inner[1]), state, inner_node=inner[0])

    def report(self, node: ast.AST, use: Tuple[str, str], state: _FlowState, inner_node: Optional[ast.AST] = None) -> None:
        attr, method_name = use
        assign, had_live, kind = state.cleared[attr]
        if id(assign) in self._reported:
            return
        if inner_node is None and _guards(node, self.parents, self.method.node, f"{self.self_name}.{attr}"):
            return
        evidence = kind if had_live else _zeromq_use_kind(inner_node or node, method_name)
        if evidence is None:
            return
        self._reported.add(id(assign))
        self.found.append(Clearing(assign, attr, node if inner_node is None else inner_node, _clearing_fix(had_live, kind, method_name), evidence))


def _breaks(body: Sequence[ast.stmt]) -> bool:
    """Does a ``break`` of this loop (not of a nested one) occur in ``body``?"""
    stack = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Break):
            return True
        if isinstance(node, (ast.For, ast.AsyncFor, ast.While, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            stack.extend(getattr(node, "orelse", []))
            continue
        stack.extend(ast.iter_child_nodes(node))
    return False


def _zeromq_use_kind(node: ast.AST, method_name: str) -> Optional[str]:
    """"context" / "socket" when ``self.X.<method_name>(...)`` can only be a ZeroMQ context's
    or socket's (``.socket(zmq.REP)``, ``.send_multipart``), else None: a standard-library
    socket (``bind``, ``connect``, ``close`` ...) or a file set to None is not this rule's."""
    if method_name == "socket":
        return "context"
    if method_name in _ZMQ_SOCKET_METHODS and method_name not in _ENDPOINT_METHODS:
        return "socket"
    return None


def _may_be_set_elsewhere(index: ProjectIndex, module: ModuleInfo, mro: List[ClassInfo], attr: str) -> bool:
    """Some other code may give ``self.attr`` a value: a non-None assignment in the class or a
    base, a store of ``.attr`` elsewhere in the module, ``setattr`` / ``__dict__``."""
    for klass in mro:
        if any(not _is_none(v) for v in klass.attributes.get(attr, [])) or klass.dynamic_attributes:
            return True
    own = {id(t) for klass in mro for m in klass.methods.values() for t in _self_stores(m)}
    return any(
        isinstance(node, ast.Attribute) and node.attr == attr and not isinstance(node.ctx, ast.Load) and id(node) not in own
        for node in module.nodes
    )


def _self_stores(method: FunctionInfo) -> List[ast.Attribute]:
    self_name = _self_name(method)
    return [
        node for node in walk(method.node)
        if isinstance(node, ast.Attribute) and not isinstance(node.ctx, ast.Load) and dotted_name(node.value) == self_name
    ]


def _method_uses_first(index: ProjectIndex, cls: ClassInfo, name: str, attr: str, any_use: bool, depth: int = 0) -> Optional[Tuple[ast.AST, str]]:
    """``self.<name>()`` called after ``self.attr = None``: the unguarded ``self.attr.m`` the
    method (found in the hierarchy; through the methods it calls, two levels deep) reaches
    before assigning ``attr``, if any."""
    method = index.find_method(cls, name) if depth <= 2 else None
    if method is None:
        return None
    self_name = _self_name(method)
    if self_name is None:
        return None
    parents = _LazyParents(method.node)
    for stmt, exprs in _statement_walk(method.node.body):
        for expr in exprs:
            for node in walk(expr):
                use = _attribute_use(node, self_name)
                if use and use[0] == attr:
                    if _guards(node, parents, method.node, f"{self_name}.{attr}"):
                        return None
                    if not any_use and _zeromq_use_kind(node, use[1]) is None:
                        return None
                    return node, use[1]
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and dotted_name(node.func.value) == self_name
                    and node.func.attr != name
                    and not _guards(node, parents, method.node, f"{self_name}.{attr}")
                ):
                    inner = _method_uses_first(index, cls, node.func.attr, attr, any_use, depth + 1)
                    if inner is not None:
                        return inner
        if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and any(
            isinstance(t, ast.Attribute) and t.attr == attr and dotted_name(t.value) == self_name
            for t in (stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target])
        ):
            return None
    return None


def _clears_an_attribute(method: FunctionInfo) -> bool:
    """Does ``method`` set some ``self.X = None`` (where `_find_clearings` looks)?"""
    self_name = _self_name(method)
    if self_name is None:
        return False
    for stmt, _ in _statement_walk(method.node.body):
        if isinstance(stmt, ast.Assign) and _is_none(stmt.value):
            if any(isinstance(t, ast.Attribute) and dotted_name(t.value) == self_name for t in stmt.targets):
                return True
    return False


def _clearing_fix(had_live: bool, kind: str, method_name: str) -> Optional[str]:
    if had_live:
        return "drop"
    if method_name == "socket":
        return "instance"
    return None


def _attribute_use(node: ast.AST, self_name: str) -> Optional[Tuple[str, str]]:
    """``self.X.m`` read: (X, m)."""
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.ctx, ast.Load)
        and isinstance(node.value, ast.Attribute)
        and isinstance(node.value.value, ast.Name)
        and node.value.value.id == self_name
    ):
        return node.value.attr, node.attr
    return None


# ---------------------------------------------------------------------------------------------
# ZMQ104: self.X read where nothing assigns X


#: Library base classes whose attributes are known, and the modules that define them.
KNOWN_LIBRARY_CLASSES = {
    "object": ("builtins", "object"),
    "builtins.object": ("builtins", "object"),
    "threading.Thread": ("threading", "Thread"),
    "abc.ABC": ("abc", "ABC"),
    "Exception": ("builtins", "Exception"),
    "RuntimeError": ("builtins", "RuntimeError"),
}


@functools.lru_cache(maxsize=None)
def library_class_attributes(qualified: str) -> Optional[FrozenSet[str]]:
    """Every attribute an instance of the known library class ``qualified`` may have."""
    spec = KNOWN_LIBRARY_CLASSES.get(qualified)
    if spec is None:
        return None
    import importlib
    import inspect

    # Standard-library classes only (never the analysed code): their names, and the
    # ``self.X`` their Python source assigns.
    klass = getattr(importlib.import_module(spec[0]), spec[1])
    names: Set[str] = set(dir(klass))
    for part in klass.__mro__:
        try:
            tree = ast.parse(inspect.getsource(part))
        except (OSError, TypeError, SyntaxError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
    return frozenset(names)


@dataclass
class UndefinedRead:
    node: ast.Attribute
    attr: str
    cls: ClassInfo


def _abstract_looking(index: ProjectIndex, cls: ClassInfo) -> bool:
    if re.search(r"^_?(Base|Abstract)|Base$|Mixin|Interface|Protocol", cls.name):
        return True
    if cls.node.keywords or cls.node.decorator_list:
        return True
    for method in cls.methods.values():
        if any(d.rpartition(".")[2] in ("abstractmethod", "abstractproperty") for d in method.decorators):
            return True
        for node in own_nodes(method.node):
            if isinstance(node, ast.Raise) and node.exc is not None and "NotImplementedError" in (dotted_name(node.exc) or dotted_name(getattr(node.exc, "func", None)) or ""):
                return True
    return False


@dataclass
class ReadHint:
    """What a gate already knows, from the walk it shares, for `undefined_attribute_reads`."""

    #: Per class of the module (by ``id``), the ``<first parameter of a method>.X`` reads in
    #: its lines that what it defines itself and what the module stores leave.
    reads: Dict[int, List[ast.Attribute]]
    #: Attributes stored anywhere in the module (``x.attr = ...``, ``del x.attr``, ...).
    stored: FrozenSet[str]


def undefined_attribute_reads(index: ProjectIndex, module: ModuleInfo, hint: Optional[ReadHint] = None) -> List[UndefinedRead]:
    """``hint`` (`undefined_read_hint`) only saves work: the result is the same without it."""
    key = ("sockets.undefined", str(module.path))
    return index.memo(key, lambda: _find_undefined(index, module, hint))


def undefined_read_hint(module: ModuleInfo, attributes: Iterable[ast.AST]) -> ReadHint:
    """The reads `undefined_attribute_reads` may report, from every ``ast.Attribute`` node of
    ``module.tree`` (``attributes``, e.g. from the walk the gates share), by class.

    Wider than the rule: a ``<first parameter of a method>.X`` read in the lines of a class it
    looks at (not decorated, no keywords, not subclassed in the module), ``X`` not a dunder
    and none of what it counts as known for every class (attributes stored anywhere in the
    module, ``object``'s) or for this one (its methods and class-level names; its
    ``self.X = ...`` are stores of the module). Bases, slots and ``hasattr`` probes rule out
    more.
    """
    stored: Set[str] = set()
    reads: List[ast.Attribute] = []
    for node in attributes:
        if not isinstance(node, ast.Attribute):
            continue
        if not isinstance(node.ctx, ast.Load):
            stored.add(node.attr)
        elif isinstance(node.value, ast.Name):
            reads.append(node)
    by_class: Dict[int, List[ast.Attribute]] = {}
    if reads:
        classes = sorted(_classes_looked_into(module), key=lambda cls: cls.node.lineno)
        starts = [cls.node.lineno for cls in classes]
        common = stored | set(dir(object))
        for node in reads:
            if node.attr in common or (node.attr.startswith("__") and node.attr.endswith("__")):
                continue
            position = bisect.bisect_right(starts, node.lineno) - 1
            if position >= 0 and node.lineno <= (classes[position].node.end_lineno or starts[position]):
                by_class.setdefault(position, []).append(node)
        found = {}
        for position, nodes in by_class.items():
            cls = classes[position]
            self_names = {name for name in map(_self_name, cls.methods.values()) if name}
            known = set(cls.methods) | _class_level_names(cls)
            nodes = [n for n in nodes if n.value.id in self_names and n.attr not in known]  # type: ignore[attr-defined]
            if nodes:
                found[id(cls)] = nodes
        by_class = found
    return ReadHint(by_class, frozenset(stored))


def _classes_looked_into(module: ModuleInfo) -> List[ClassInfo]:
    """The classes `_find_undefined` does not rule out at once: not subclassed in the module
    (a base class may read what its subclasses define), not decorated, no keywords."""
    subclassed_here = {dotted_name(base) for cls in module.classes.values() for base in cls.node.bases}
    return [
        cls for cls in module.classes.values()
        if not (cls.name in subclassed_here or cls.node.decorator_list or cls.node.keywords)
    ]


def _hinted_self_reads(cls: ClassInfo, candidates: List[ast.Attribute]) -> List[ast.Attribute]:
    """The ``candidates`` `_self_reads` yields: in the lines of a method (a method's own nodes,
    decorators included, are all in them and nothing else is), read on its first parameter."""
    spans = []
    for method in cls.methods.values():
        self_name = _self_name(method)
        if self_name is not None:
            spans.append((*_span(method.node), self_name))
    spans.sort()
    starts = [span[0] for span in spans]
    reads = []
    for node in candidates:
        position = bisect.bisect_right(starts, node.lineno) - 1
        if position >= 0 and node.lineno <= spans[position][1] and node.value.id == spans[position][2]:  # type: ignore[attr-defined]
            reads.append(node)
    return reads


def _find_undefined(index: ProjectIndex, module: ModuleInfo, hint: Optional[ReadHint] = None) -> List[UndefinedRead]:
    results: List[UndefinedRead] = []
    stored_here: Optional[Set[str]] = None if hint is None else set(hint.stored)
    # Each test below only rules a class out; the cheap ones go first (walking the methods
    # for their reads costs more than resolving the bases).
    for cls in _classes_looked_into(module):
        if hint is not None and id(cls) not in hint.reads:
            continue
        mro = index.mro(cls)
        known: Set[str] = set(dir(object))
        library: List[str] = []
        resolvable = True
        for klass in mro:
            if klass.node.decorator_list or klass.node.keywords:
                resolvable = False
                break
            for base in index.bases(klass):
                if isinstance(base, ClassInfo):
                    continue
                if base not in KNOWN_LIBRARY_CLASSES:  # `library_class_attributes` is None
                    resolvable = False
                    break
                library.append(base)
            if not resolvable:
                break
        # A part of the hierarchy's files that does not parse may assign anything: unknown.
        if not resolvable or any(klass.module.broken_regions for klass in mro):
            continue
        # The rule is about ZeroMQ code: the class or a base lives in a module that uses it.
        if not any(uses_zeromq(klass.module) for klass in mro):
            continue
        if hint is None:
            own = set(cls.attributes) | set(cls.methods)
            reads = [node for node in _self_reads(cls) if node.attr not in own]
        else:
            # The same reads less some the class knows: its own ``self.X = ...`` are among the
            # module's stores, which the hint left out (and which come into ``known`` below).
            reads = _hinted_self_reads(cls, hint.reads[id(cls)])
        if not reads:
            continue
        for klass in mro:
            if hint is None or klass is not cls:
                known |= set(klass.attributes) | _slots(klass)
            known |= set(klass.methods) | _class_level_names(klass)
        reads = [node for node in reads if node.attr not in known and not (node.attr.startswith("__") and node.attr.endswith("__"))]
        for base in library if reads else ():
            known |= library_class_attributes(base) or frozenset()
        reads = [node for node in reads if node.attr not in known]
        if not reads or _abstract_looking(index, cls):
            continue
        walks = [_class_walk(index, klass) for klass in mro]
        if any(walk.dynamic for walk in walks):
            continue
        for walk in walks:
            known |= walk.mentions
        if stored_here is None:
            # Attributes set from outside the class (``handler.server = self``,
            # ``Cls.utc = ...``, ``obj = cls.__new__(cls); obj._impl = ...``) in this module.
            stored_here = {
                node.attr for node in module.nodes if isinstance(node, ast.Attribute) and not isinstance(node.ctx, ast.Load)
            }
        known |= stored_here
        if hint is not None:
            known |= set(cls.attributes) | _slots(cls)  # (all the class knows, for what follows)
        reads = [node for node in reads if node.attr not in known]
        if not reads or _composes_by_super(index, mro, walks) or any(_hands_itself_out(k) for k in mro):
            continue
        if _calls_unknown_method(cls, known) or _stateless(index, mro):
            continue
        for node in _zeromq_reads(module, cls, reads):
            results.append(UndefinedRead(node, node.attr, cls))
    results.sort(key=lambda r: (r.node.lineno, r.node.col_offset))
    return results


_DICT_WRITES = ("update", "setdefault", "__setitem__", "pop", "clear")


@dataclass(frozen=True)
class _ClassWalk:
    """What `_find_undefined` asks of a class's whole code, gathered in one walk."""

    #: Attributes may appear by means no static reading sees: ``__getattr__``,
    #: ``setattr(...)``, ``self.__dict__.update(...)``, ``vars(self)[k] = v``. Unlike
    #: `ClassInfo.dynamic_attributes`, reading ``vars(self)`` or ``self.__dict__`` (to list
    #: or close what the instance holds) does not count: it creates no attribute.
    dynamic: bool
    #: Names the class asks about by string (``hasattr(self, "x")``, ``getattr(self, "x",
    #: d)``): it knows they may be missing.
    mentions: FrozenSet[str]
    #: ``X`` of every ``super().X`` in the class (for `_composes_by_super`)
    super_attrs: FrozenSet[str]


def _class_walk(index: ProjectIndex, cls: ClassInfo) -> _ClassWalk:
    key = ("sockets.class_walk", str(cls.module.path), cls.name, cls.node.lineno)
    return index.memo(key, lambda: _walk_class(cls))


def _walk_class(cls: ClassInfo) -> _ClassWalk:
    dynamic = "__getattr__" in cls.methods or "__getattribute__" in cls.methods
    mentions: Set[str] = set()
    super_attrs: Set[str] = set()
    parents: Optional[Dict[ast.AST, ast.AST]] = None
    for node in walk(cls.node):
        if isinstance(node, ast.Call):
            name = dotted_name(node.func) or ""
            if name == "setattr" or name.endswith("__setattr__"):
                dynamic = True
            elif name in ("hasattr", "getattr") and len(node.args) >= 2:
                arg = node.args[1]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    mentions.add(arg.value)
            if name != "vars" or dynamic:
                continue
        elif isinstance(node, ast.Attribute):
            if isinstance(node.value, ast.Call) and dotted_name(node.value.func) == "super":
                super_attrs.add(node.attr)
            if node.attr != "__dict__" or dynamic:
                continue
        else:
            continue
        # ``vars(...)`` / ``x.__dict__``: only reading it (to list or close what the
        # instance holds) creates no attribute
        parents = parents or _parents(cls.node)
        parent = parents.get(node)
        if isinstance(parent, ast.Attribute) and parent.attr in ("values", "items", "keys", "get", "copy"):
            continue
        if isinstance(parent, ast.Subscript) and isinstance(parent.ctx, ast.Load):
            continue
        if isinstance(parent, (ast.Compare, ast.comprehension, ast.For)):
            continue
        dynamic = True
    return _ClassWalk(dynamic, frozenset(mentions), frozenset(super_attrs))


def _hands_itself_out(cls: ClassInfo) -> bool:
    """``parser.parse_args(argv, self)``, ``Handler(self)``: whoever receives the instance may
    set attributes on it."""
    for method in cls.methods.values():
        self_name = _self_name(method)
        for node in own_nodes(method.node):
            if isinstance(node, ast.Call) and any(
                isinstance(a, ast.Name) and a.id == self_name for a in [*node.args, *[k.value for k in node.keywords]]
            ):
                name = dotted_name(node.func) or ""
                if name in _READ_ONLY_CALLS or name.rpartition(".")[2] in _LOG_METHODS:
                    continue
                return True
    return False


#: Calls that look at an object without giving it attributes.
_READ_ONLY_CALLS = {
    "vars", "id", "isinstance", "type", "repr", "str", "hash", "len", "getattr", "hasattr", "print",
    "super", "callable", "format", "bool", "issubclass", "dir", "weakref.ref", "weakref.proxy",
}
_LOG_METHODS = {"debug", "info", "warning", "warn", "error", "exception", "critical", "log"}


def _calls_unknown_method(cls: ClassInfo, known: Set[str]) -> bool:
    """``self.m()`` with ``m`` defined nowhere: the class is meant to be mixed into another."""
    for method in cls.methods.values():
        self_name = _self_name(method)
        for node in own_nodes(method.node):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == self_name
                and node.func.attr not in known
            ):
                return True
    return False


def _self_reads(cls: ClassInfo) -> Iterator[ast.Attribute]:
    """Every ``self.X`` read in the class's methods."""
    for method in cls.methods.values():
        self_name = _self_name(method)
        if self_name is None:
            continue
        for node in ast.walk(method.node):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.ctx, ast.Load)
                and isinstance(node.value, ast.Name)
                and node.value.id == self_name
            ):
                yield node


def _reads_unknown_own(cls: ClassInfo) -> bool:
    """Cheap first look: does the class read a ``self.X`` it does not define itself?"""
    own = set(cls.attributes) | set(cls.methods)
    return any(node.attr not in own for node in _self_reads(cls))


def _class_level_names(cls: ClassInfo) -> Set[str]:
    """Names the class body binds, also under ``if`` / ``try`` (nested classes included)."""
    names: Set[str] = set()
    stack: List[ast.AST] = list(cls.node.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).partition(".")[0] for a in node.names)
        stack.extend(ast.iter_child_nodes(node))
    return names


def _composes_by_super(index: ProjectIndex, mro: List[ClassInfo], walks: Optional[List[_ClassWalk]] = None) -> bool:
    """A ``super().m()`` no class of the hierarchy defines: the class is meant to be combined
    with others (a mixin) and its attributes come from classes we cannot see."""
    defined = {name for klass in mro for name in klass.methods} | set(dir(object))
    walks = walks if walks is not None else [_class_walk(index, klass) for klass in mro]
    return any(not walk.super_attrs <= defined for walk in walks)


def uses_zeromq(module: ModuleInfo) -> bool:
    """Does ``module`` import ZeroMQ, or import from a module named for it (``zmq_pool``)?"""
    return any("zmq" in ref.module.lower() for ref in module.imports.values())


def _stateless(index: ProjectIndex, mro: List[ClassInfo]) -> bool:
    """No class of the hierarchy defines ``__init__`` or stores any ``self.X``: the state it
    reads is put there by whatever it is mixed into or configured by (a mixin reading the
    ``_fields`` of the ``namedtuple`` it joins, an extension class merged into a worker)."""
    return not any("__init__" in klass.methods or "__new__" in klass.methods or _stores_self(klass) for klass in mro)


def _stores_self(cls: ClassInfo) -> bool:
    class_level = {
        target.id
        for stmt in cls.node.body
        if isinstance(stmt, (ast.Assign, ast.AnnAssign))
        for target in (stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target])
        if isinstance(target, ast.Name)
    }
    return any(name not in class_level for name in cls.attributes)


#: Methods only a ZeroMQ socket has (their receiver is a socket), and those that take an
#: endpoint as their first argument.
_ZMQ_SOCKET_METHODS = frozenset({
    "bind", "bind_to_random_port", "connect", "unbind", "disconnect", "send_string", "send_json",
    "send_pyobj", "send_multipart", "send_serialized", "recv_string", "recv_json", "recv_pyobj",
    "recv_multipart", "recv_serialized", "setsockopt", "setsockopt_string", "getsockopt",
    "getsockopt_string", "subscribe", "unsubscribe", "get_monitor_socket", "disable_monitor",
})
_ENDPOINT_METHODS = frozenset({"bind", "bind_to_random_port", "connect", "unbind", "disconnect"})
_CONTEXT_METHODS = frozenset({"socket", "term", "destroy"})
#: Attribute names that say they hold a socket, a context or an endpoint.
_ZMQ_ATTRIBUTE_NAME = re.compile(r"(?:^|_)(?:endpoints?|addr|address|sockets?|sock|context|ctx|port|zmq)(?:_|$)", re.I)


def _zeromq_reads(module: ModuleInfo, cls: ClassInfo, reads: List[ast.Attribute]) -> List[ast.Attribute]:
    """The ``reads`` of ``cls``'s own instance (not of a class or function nested in a method,
    whose ``self`` is another object) whose attribute holds a ZeroMQ socket, context or
    endpoint: by its use (the receiver of a socket or context method, in the endpoint of a
    ``bind`` / ``connect``, an argument of a call that makes a socket) or by its name."""
    if not reads:
        return reads
    parents = _parents(cls.node)
    kept = []
    for node in reads:
        self_name = node.value.id  # type: ignore[attr-defined]
        if _in_foreign_scope(node, self_name, parents, cls.node):
            continue
        if _ZMQ_ATTRIBUTE_NAME.search(node.attr) or _zeromq_use(node, parents):
            kept.append(node)
    return kept


def _in_foreign_scope(node: ast.AST, self_name: str, parents: Dict[ast.AST, ast.AST], top: ast.ClassDef) -> bool:
    """Is ``node`` inside a class nested in a method, or a nested function or lambda that
    takes its own ``self_name`` parameter?"""
    current = parents.get(node)
    method_seen = False
    while current is not None and current is not top:
        parent = parents.get(current)
        if isinstance(current, ast.ClassDef):
            return True
        if isinstance(current, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            if parent is top:
                method_seen = True
            else:
                args = current.args
                if any(a.arg == self_name for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]):
                    return True
        current = parent
    return not method_seen


def _zeromq_use(node: ast.AST, parents: Dict[ast.AST, ast.AST]) -> bool:
    parent = parents.get(node)
    if isinstance(parent, ast.Attribute) and parent.value is node:
        call = parents.get(parent)
        if isinstance(call, ast.Call) and call.func is parent:
            return parent.attr in _ZMQ_SOCKET_METHODS or parent.attr in _CONTEXT_METHODS
        return False
    # Inside an argument: climb through the expressions that build an endpoint text.
    child, current = node, parent
    while isinstance(current, (ast.JoinedStr, ast.FormattedValue, ast.BinOp, ast.Tuple)) or (
        isinstance(current, ast.Call) and child is not current.func and _formats_text(current)
    ):
        child, current = current, parents.get(current)
    if isinstance(current, ast.keyword):
        child, current = current, parents.get(current)
    if not isinstance(current, ast.Call) or child is current.func:
        return False
    func = current.func
    name = (func.attr if isinstance(func, ast.Attribute) else dotted_name(func) or "").lower()
    if isinstance(func, ast.Attribute) and func.attr in _ENDPOINT_METHODS:
        return True
    return "socket" in name or "zmq" in name


def _formats_text(call: ast.Call) -> bool:
    """``"tcp://{}:{}".format(...)``, ``str(port)``."""
    func = call.func
    return (isinstance(func, ast.Attribute) and func.attr == "format") or (isinstance(func, ast.Name) and func.id == "str")


def _slots(cls: ClassInfo) -> Set[str]:
    names: Set[str] = set()
    for value in cls.attributes.get("__slots__", []):
        for node in ast.walk(value):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                names.add(node.value)
    return names


# ---------------------------------------------------------------------------------------------
# ZMQ105: a subclass binds a port its base class already binds


@dataclass
class BindSite:
    #: The call in the analysed function (a ``.bind`` or a helper call that binds).
    node: ast.Call
    #: ``self.X`` / parameter / local the bound socket is known as in that function.
    subject: str
    endpoint: Optional[ast.expr]


def bind_sites(index: ProjectIndex, func: FunctionInfo, _depth: int = 0) -> List[BindSite]:
    key = ("sockets.bind_sites", str(func.module.path), func.qualname, func.node.lineno)
    if _depth > 4:
        return []
    cached = index._memo.get(key)
    if cached is _IN_PROGRESS:
        return []
    if cached is not None:
        return cached  # type: ignore[return-value]
    index._memo[key] = _IN_PROGRESS
    sites: List[BindSite] = []
    for node in own_nodes(func.node):
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Attribute) and node.func.attr == "bind" and node.args:
            subject = dotted_name(node.func.value)
            if subject:
                sites.append(BindSite(node, subject, _with_locals(index, func, node.args[0], node.lineno)))
            continue
        callee = _resolve_call(index, func.module, node)
        if callee is None or callee is func:
            continue
        args = _arguments(node, callee, _is_bound_call(node))
        for inner in bind_sites(index, callee, _depth + 1):
            subject = inner.subject
            callee_self = _self_name(callee)
            if subject in args:
                subject = dotted_name(args[subject]) or ""
            elif callee_self and subject.startswith(callee_self + "."):
                self_name = _self_name(func)
                if not self_name or not (dotted_name(node.func) or "").startswith(self_name + "."):
                    continue
                subject = self_name + subject[len(callee_self):]
            else:
                continue
            if subject:
                endpoint = _substitute(inner.endpoint, args) if inner.endpoint is not None else None
                sites.append(BindSite(node, subject, endpoint))
    index._memo[key] = sites
    return sites


def _with_locals(index: ProjectIndex, func: FunctionInfo, expr: ast.expr, line: int) -> ast.expr:
    """``expr`` with local names replaced by the value last assigned to them before ``line``."""
    params = set(func.parameters)
    values: Dict[str, ast.expr] = {}
    for node in ast.walk(expr):
        if isinstance(node, ast.Name) and node.id not in params and node.id not in values:
            value = index.local_value(func, node.id, before_line=line)
            if value is not None:
                values[node.id] = value
    return _substitute(expr, values) if values else expr


class _Substitute(ast.NodeTransformer):
    def __init__(self, values: Dict[str, ast.expr]):
        self.values = values

    def visit_Name(self, node: ast.Name):
        if node.id in self.values:
            return copy.deepcopy(self.values[node.id])
        return node


def _substitute(expr: ast.expr, values: Dict[str, ast.expr]) -> ast.expr:
    return _Substitute(values).visit(copy.deepcopy(expr))


def port_key(endpoint: Optional[ast.expr]) -> Optional[str]:
    """The port part of an endpoint expression, as source: ``self.port`` for
    ``f"tcp://{self.host}:{self.port}"``, ``"tcp://*:%d" % self.port``, ``"tcp://*:" +
    str(self.port)``; ``5555`` for ``"tcp://*:5555"``; the whole expression otherwise."""
    if endpoint is None:
        return None
    node = endpoint
    if isinstance(node, ast.JoinedStr):
        values = node.values
        for position in range(len(values) - 1, 0, -1):
            part, before = values[position], values[position - 1]
            if isinstance(part, ast.FormattedValue) and isinstance(before, ast.Constant) and str(before.value).endswith(":"):
                return _strip_conversion(part.value)
        return None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod) and isinstance(node.left, ast.Constant):
        right = node.right.elts[-1] if isinstance(node.right, ast.Tuple) and node.right.elts else node.right
        if str(node.left.value).rstrip().endswith(("%d", "%s", "%i")) and ":" in str(node.left.value):
            return _strip_conversion(right)
        return None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left = node.left
        if isinstance(left, ast.Constant) and str(left.value).endswith(":"):
            return _strip_conversion(node.right)
        if isinstance(left, ast.BinOp) and isinstance(left.right, ast.Constant) and str(left.right.value) == ":":
            return _strip_conversion(node.right)
        return None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format" and node.args:
        return _strip_conversion(node.args[-1])
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        _, _, port = node.value.rpartition(":")
        return port if port.isdigit() else None
    if isinstance(node, (ast.Name, ast.Attribute)):
        return "endpoint " + ast.unparse(node)
    return None


def _strip_conversion(node: ast.expr) -> str:
    while isinstance(node, ast.Call) and dotted_name(node.func) in ("str", "int") and len(node.args) == 1:
        node = node.args[0]
    if isinstance(node, ast.Constant):
        return str(node.value)
    return ast.unparse(node)


@dataclass
class PortClash:
    site: BindSite
    port: str
    base: ClassInfo
    #: ``self.X`` the base class bound that port on (None when not an attribute).
    base_subject: Optional[str]
    function: FunctionInfo


def base_port_clashes(index: ProjectIndex, module: ModuleInfo) -> List[PortClash]:
    key = ("sockets.port_clashes", str(module.path))
    return index.memo(key, lambda: _find_port_clashes(index, module))


def _calls_super_init(cls: ClassInfo) -> bool:
    init = cls.methods.get("__init__")
    if init is None:
        return True
    return any(_calls_base_init(stmt) for stmt in init.node.body)


def _find_port_clashes(index: ProjectIndex, module: ModuleInfo) -> List[PortClash]:
    clashes: List[PortClash] = []
    for cls in module.classes.values():
        mro = index.mro(cls)
        if len(mro) < 2 or not _calls_super_init(cls):
            continue
        base_ports: Dict[str, Tuple[ClassInfo, Optional[str]]] = {}
        for base in mro[1:]:
            init = base.methods.get("__init__")
            if init is None:
                continue
            base_self = _self_name(init)
            for site in bind_sites(index, init):
                port = port_key(site.endpoint)
                if port is None or port in base_ports:
                    continue
                subject = site.subject
                if base_self and subject.startswith(base_self + ".") and subject.count(".") == 1:
                    base_ports[port] = (base, "self." + subject.partition(".")[2])
                else:
                    base_ports[port] = (base, None)
        if not base_ports:
            continue
        for method in cls.methods.values():
            self_name = _self_name(method)
            for site in bind_sites(index, method):
                port = port_key(site.endpoint)
                if port not in base_ports:
                    continue
                base, base_subject = base_ports[port]
                if base_subject and _closes_before(method, self_name, base_subject, site.node):
                    continue
                if base_subject and self_name:
                    base_subject = self_name + base_subject[4:]
                clashes.append(PortClash(site, port, base, base_subject, method))
    return clashes


def _closes_before(method: FunctionInfo, self_name: Optional[str], base_subject: str, node: ast.Call) -> bool:
    if not self_name:
        return False
    target = self_name + base_subject[4:]
    for sub in own_nodes(method.node):
        if (
            isinstance(sub, ast.Call)
            and isinstance(sub.func, ast.Attribute)
            and sub.func.attr in ("close", "unbind")
            and dotted_name(sub.func.value) == target
            and (sub.lineno, sub.col_offset) < (node.lineno, node.col_offset)
        ):
            return True
    return False
