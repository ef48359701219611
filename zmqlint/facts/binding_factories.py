"""Which callables hand out a socket they have already bound, and what their callers can make
them do: `factory_of_function` / `factory_of_call` (a `Factory`: socket type, the parameter or
config field deciding whether it binds, the attributes of a returned holder that hold the
socket), `factory_options` (the socket options a factory sets from what its caller passes) and
`param_actions` (what a helper does to the parameters and ``self`` attributes it is given:
bind, connect).

Nothing is keyed to any particular codebase's function names: a *binding factory* is
recognised by what its body does. A function is one when it returns a socket (or an object
holding one as an attribute, e.g. ``.socket``) that it

- created (``ctx.socket(zmq.REP)``) and bound (``sock.bind(...)``, directly, inside a retry
  loop, or through a helper that binds its argument), possibly under ``if bind:`` on one of
  its parameters; or
- had built by a pool from a config object carrying ``bind=True`` (``pool.acquire(
  SocketConfig(zmq.REP, endpoint, bind=bind))``, ``bind`` a parameter defaulting to True); or
- got from another binding factory.

Inputs from the index: the function's own nodes (`own_nodes`), `resolve_callable` for the calls
it makes (through `resolve_call`), `resolve` / `find_method` / `mro` for config and holder
classes, and class attributes (``ClassInfo.attributes``) for a config's ``bind`` default.

Cost: one walk of a function's own nodes per question, following the calls it makes into the
functions they reach (each of those asked the same question once); memoised per function in
``index._memo`` (keys ``sockets.factory``, ``sockets.factory_options``, ``sockets.actions``),
a function reaching itself again answers "no" (`IN_PROGRESS`).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Dict, FrozenSet, List, Optional, Sequence, Set, Tuple, Union

from zmqlint.facts.socket_basics import (
    BIND_METHODS,
    CONNECT_METHODS,
    HOLDER_ATTRS,
    IN_PROGRESS,
    LazyParents,
    argument_for,
    call_arguments,
    created_socket_type,
    is_bound_call,
    param_defaults,
    positional_params,
    resolve_call,
    self_parameter,
    socket_type_from_name,
    socket_type_of,
)
from zmqlint.index import ClassInfo, FunctionInfo, ModuleInfo, ProjectIndex, dotted_name, own_nodes


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
            arg = argument_for(call, self.function, param, bound)
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


def factory_of_function(index: ProjectIndex, func: FunctionInfo) -> Optional[Factory]:
    """The `Factory` ``func`` is, or None when it does not hand out a bound socket."""
    key = ("sockets.factory", str(func.module.path), func.qualname, func.node.lineno)
    if key in index._memo and index._memo[key] is IN_PROGRESS:
        return None  # recursion: a factory is not made of itself
    index._memo.setdefault(key, IN_PROGRESS)
    if index._memo[key] is IN_PROGRESS:
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
    defaults = param_defaults(func)
    module = func.module
    parents = LazyParents(func.node)
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
            kind = created_socket_type(node.value)
            if kind is not None:
                created[name] = kind or None
            elif isinstance(node.value, ast.Call):
                inner = factory_of_call(index, module, node.value)
                if inner is not None and inner.binds_at(node.value, is_bound_call(node.value), index, module, config_locals):
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
            callee = resolve_call(index, module, node)
            if callee is not None:
                actions = param_actions(index, callee)
                for param, arg in call_arguments(node, callee, is_bound_call(node)).items():
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
    arg = argument_for(call, inner.function, param, is_bound_call(call))
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
        bound = is_bound_call(value)
        if inner.binds_at(value, bound, index, module, config_locals):
            socket_type = inner.socket_type or _config_type_at(inner, value, config_locals)
            return Factory(name, socket_type, None, None, inner.holder_attrs, func)
        if inner.bind_param and "." not in inner.bind_param and inner.function is not None:
            arg = argument_for(value, inner.function, inner.bind_param, bound)
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
    arg = argument_for(call, inner.function, inner.bind_param.partition(".")[0], is_bound_call(call))
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
        return () if value is IN_PROGRESS else value  # type: ignore[return-value]
    index._memo[key] = IN_PROGRESS
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
        callee = resolve_call(index, module, node)
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
    arg = argument_for(call, callee, param, is_bound_call(call))
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
            params = positional_params(init, bound=True)
            param = keyword or (params[position] if position < len(params) else None)
            self_name = self_parameter(init)
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
    callee = resolve_call(index, module, call)
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
        return {} if value is IN_PROGRESS else value  # type: ignore[return-value]
    index._memo[key] = IN_PROGRESS
    actions: Dict[str, Set[str]] = {}
    params = set(func.parameters)
    self_name = self_parameter(func)

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
        callee = resolve_call(index, func.module, node)
        if callee is None or callee is func:
            continue
        inner = param_actions(index, callee)
        if not inner:
            continue
        for param, arg in call_arguments(node, callee, is_bound_call(node)).items():
            who = subject(arg)
            if who and inner.get(param):
                actions.setdefault(who, set()).update(inner[param])
        if self_name and dotted_name(node.func) and dotted_name(node.func).startswith(self_name + "."):
            for name, acts in inner.items():
                if name.startswith("self."):
                    actions.setdefault(name, set()).update(acts)
    index._memo[key] = actions
    return actions
