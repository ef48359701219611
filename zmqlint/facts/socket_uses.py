"""What a module does with each socket it creates (ZMQ106, ZMQ107, ZMQ109).

A *tracked socket* is one the module creates itself with a socket type written out
(``ctx.socket(zmq.SUB)``, ``zmq.Socket(ctx, zmq.REQ)``, ``with ctx.socket(zmq.PUSH) as s``)
and keeps under one name: a local of a function (or of the module's top level), or an
attribute ``self.X`` of a class. Its *uses* are every place that name is used: method calls
(``connect``, ``setsockopt``, ``recv``, ``close`` ...), option attributes set
(``sock.rcvtimeo = 1000``), and where the name itself goes.

A socket *escapes* when code zmqlint does not read may act on it: it is passed to a function
(other than a poller's ``register`` and a few builtins that only look at it), returned,
yielded, stored in a container or another name, a bound method of it is handed out, or (for
an attribute) the attribute is reached from outside the class (``agent.sub``). The rules stay
silent on a socket that escapes: whatever they would say may be done where they cannot see.

The socket's context is tracked by name as well (``ctx`` / ``self.context``): where it is
terminated (``term()``, ``destroy()``, the end of ``with zmq.Context() as ctx:``) and which
options are set on it (``ctx.setsockopt(zmq.LINGER, 0)``, ``ctx.linger = 0``).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple

from zmqlint.facts.socket_basics import created_socket_type, is_context_creation
from zmqlint.index import ClassInfo, FunctionInfo, ModuleInfo, ProjectIndex, dotted_name, walk

#: Methods that read a message (a blocking read unless given NOBLOCK / DONTWAIT).
RECV_METHODS = frozenset(
    {"recv", "recv_multipart", "recv_string", "recv_json", "recv_pyobj", "recv_serialized", "recv_into", "recv_unicode"}
)
SEND_METHODS = frozenset(
    {"send", "send_multipart", "send_string", "send_json", "send_pyobj", "send_serialized", "send_unicode"}
)
ATTACH_METHODS = frozenset({"connect", "bind", "bind_to_random_port"})
#: Methods that set an option given first (``setsockopt(zmq.LINGER, 0)``).
OPTION_METHODS = frozenset({"setsockopt", "set", "setsockopt_string", "setsockopt_unicode", "set_string"})
#: Callees a socket may be handed to without anything happening to its options or messages.
_LOOKING_CALLEES = frozenset({"print", "len", "isinstance", "id", "repr", "str", "type", "hash", "bool"})
_POLLER_METHODS = frozenset({"register", "unregister", "modify"})

Holder = str


@dataclass(frozen=True)
class Use:
    """One use of a tracked socket: ``kind`` is ``call`` (``name`` the method), ``store``
    (``name`` the attribute set), ``register`` (handed to a poller / ``zmq.select``) or
    ``look`` (compared, tested, printed)."""

    kind: str
    name: str
    node: ast.AST
    line: int


@dataclass
class TrackedSocket:
    module: ModuleInfo
    socket_type: str
    holder: Holder
    #: Every creation of it (a name re-created after a timeout has several).
    creations: List[ast.Call]
    #: The statement of the first creation (an ``Assign``, ``AnnAssign`` or ``With``).
    statement: ast.stmt
    #: Where a local lives (None at the module's top level or for an attribute).
    function: Optional[FunctionInfo]
    cls: Optional[ClassInfo]
    #: The context expression the socket is created from (``ctx``, ``self.context``), if a name.
    context: Optional[str]
    uses: List[Use] = field(default_factory=list)
    escapes: bool = False
    #: The holder as the creating statement writes it (``this.sub`` when ``self`` is ``this``).
    written: str = ""
    #: For an attribute: the classes whose methods may use it (see `_class_family`).
    family: List[ClassInfo] = field(default_factory=list)
    #: Other values the holder is given (``sock = None`` does not count).
    reassigned: bool = False

    @property
    def line(self) -> int:
        return self.creations[0].lineno

    def calls(self, *names: str) -> List[ast.Call]:
        wanted = set(names)
        return [u.node for u in self.uses if u.kind == "call" and u.name in wanted]  # type: ignore[misc]

    def sets_option(self, option: str) -> bool:
        """True when the socket may get ``option`` (a call with an option zmqlint cannot read
        counts: it may be this one)."""
        for use in self.uses:
            if use.kind == "store" and use.name.upper() == option:
                return True
            if use.kind == "call" and use.name in OPTION_METHODS and _sets_something(use.node):  # type: ignore[arg-type]
                name = option_name(use.node)  # type: ignore[arg-type]
                if name is None or name == option:
                    return True
        return False

    @property
    def registered(self) -> bool:
        return any(u.kind == "register" for u in self.uses)


def option_name(call: ast.Call) -> Optional[str]:
    """``LINGER`` for ``setsockopt(zmq.LINGER, 0)`` / ``set(SocketOption.LINGER, 0)``; None
    when the option is not written as a name."""
    first = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg in ("option", "opt")), None)
    if first is None or isinstance(first, ast.Starred):
        return None
    name = dotted_name(first)
    return name.rpartition(".")[2] if name else None


def _sets_something(call: ast.Call) -> bool:
    """An option call given an option and a value (``event.set()`` is not one)."""
    return len(call.args) + len(call.keywords) >= 2 or any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords)


def tracked_sockets(index: ProjectIndex, module: ModuleInfo) -> List[TrackedSocket]:
    """Every socket ``module`` creates and keeps under one name (see the module docs)."""
    return index.memo(("socket_uses.tracked", str(module.path), id(module.tree)), lambda: _find_tracked(index, module))


def _creations(module: ModuleInfo) -> Iterator[Tuple[ast.stmt, ast.expr, ast.Call, str]]:
    for node in module.nodes:
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            kind = created_socket_type(node.value)
            if kind and len(targets) == 1:
                yield node, targets[0], node.value, kind  # type: ignore[misc]
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                kind = created_socket_type(item.context_expr)
                if kind and item.optional_vars is not None:
                    yield node, item.optional_vars, item.context_expr, kind  # type: ignore[misc]


def _context_of(creation: ast.Call) -> Optional[str]:
    if isinstance(creation.func, ast.Attribute) and creation.func.attr == "socket":
        return dotted_name(creation.func.value)
    return dotted_name(creation.args[0]) if creation.args else None


def _self_name(function: Optional[FunctionInfo]) -> Optional[str]:
    if function is None or function.owner is None or not function.parameters:
        return None
    if any(d in ("staticmethod", "classmethod") for d in function.decorators):
        return None
    return function.parameters[0]


def _find_tracked(index: ProjectIndex, module: ModuleInfo) -> List[TrackedSocket]:
    found: Dict[Tuple[str, int], TrackedSocket] = {}
    order: List[TrackedSocket] = []
    for statement, target, creation, kind in _creations(module):
        scopes = module.scope_at(creation.lineno)
        function = next((s for s in reversed(scopes) if isinstance(s, FunctionInfo)), None)
        cls = next((s for s in reversed(scopes) if isinstance(s, ClassInfo)), None)
        self_name = _self_name(function)
        if isinstance(target, ast.Name):
            holder, key_scope = target.id, id(function.node) if function is not None else 0
        elif (
            isinstance(target, ast.Attribute)
            and self_name is not None
            and isinstance(target.value, ast.Name)
            and target.value.id == self_name
            and cls is not None
        ):
            holder, key_scope, function = f"self.{target.attr}", id(cls), None
        else:
            continue
        key = (holder, key_scope)
        if key in found:
            existing = found[key]
            if existing.socket_type == kind:
                existing.creations.append(creation)
            else:
                existing.reassigned = True
            continue
        written = target.id if isinstance(target, ast.Name) else f"{self_name}.{target.attr}"  # type: ignore[union-attr]
        tracked = TrackedSocket(module, kind, holder, [creation], statement, function, cls, _context_of(creation), written=written)
        found[key] = tracked
        order.append(tracked)
    for tracked in order:
        if not tracked.reassigned:
            _collect_uses(index, tracked)
    return [t for t in order if not t.reassigned]


# -- uses ----------------------------------------------------------------------------------


def _parents(root: ast.AST) -> Dict[ast.AST, ast.AST]:
    parents: Dict[ast.AST, ast.AST] = {}
    for node in walk(root):
        for child in ast.iter_child_nodes(node):
            parents[child] = node
    return parents


def _rebinds(function: ast.AST, name: str) -> bool:
    """A nested function or lambda with its own ``name`` (a parameter or an assignment)."""
    args = function.args  # type: ignore[attr-defined]
    params = [a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]]
    params += [a.arg for a in (args.vararg, args.kwarg) if a is not None]
    if name in params:
        return True
    if isinstance(function, ast.Lambda):
        return False
    for node in walk(function):
        if isinstance(node, (ast.Global, ast.Nonlocal)) and name in node.names:
            return False
    return any(isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Store) for n in walk(function))


def _scope_nodes(root: ast.AST, name: str) -> Iterator[ast.AST]:
    """The nodes under ``root`` where ``name`` means the same variable (nested scopes that
    rebind it are skipped)."""
    stack = list(ast.iter_child_nodes(root)) if isinstance(root, (ast.FunctionDef, ast.AsyncFunctionDef)) else [root]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) and node is not root and _rebinds(node, name):
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def _collect_uses(index: ProjectIndex, tracked: TrackedSocket) -> None:
    """Fill in ``tracked.uses`` and ``tracked.escapes``."""
    creations = set(map(id, tracked.creations))
    if tracked.holder.startswith("self."):
        attr = tracked.holder[5:]
        classes = tracked.family = _class_family(index, tracked.cls)  # type: ignore[arg-type]
        methods = [m for c in classes for m in c.methods.values()]
        in_family = {id(m.node) for m in methods}
        for method in methods:
            self_name = _self_name(method)
            parents = None
            for node in walk(method.node):
                if isinstance(node, ast.Attribute) and node.attr == attr and isinstance(node.value, ast.Name):
                    if node.value.id != self_name:
                        tracked.escapes = True
                        continue
                    parents = parents or _parents(method.node)
                    _classify_use(tracked, node, parents, creations)
        # Reached from outside the family: ``agent.sub.setsockopt(...)`` anywhere in the module.
        for cls in tracked.module.classes.values():
            for method in cls.methods.values():
                if id(method.node) in in_family:
                    continue
                if any(isinstance(n, ast.Attribute) and n.attr == attr for n in walk(method.node)):
                    tracked.escapes = True
        for function in tracked.module.functions.values():
            if any(isinstance(n, ast.Attribute) and n.attr == attr for n in walk(function.node)):
                tracked.escapes = True
        if any(
            isinstance(n, ast.Call) and dotted_name(n.func) in ("setattr", "getattr", "vars") for n in _class_nodes(classes)
        ):
            tracked.escapes = True
        return
    root = tracked.function.node if tracked.function is not None else tracked.module.tree
    parents = _parents(root)
    for node in _scope_nodes(root, tracked.holder):
        if isinstance(node, ast.Name) and node.id == tracked.holder:
            _classify_use(tracked, node, parents, creations)
        elif isinstance(node, (ast.Global, ast.Nonlocal)) and tracked.holder in node.names and tracked.function is not None:
            tracked.escapes = True


def _class_nodes(classes: Sequence[ClassInfo]) -> Iterator[ast.AST]:
    for cls in classes:
        yield from walk(cls.node)


def _class_family(index: ProjectIndex, cls: ClassInfo) -> List[ClassInfo]:
    """The class, its resolvable bases and the classes of its module deriving from it."""
    family = list(index.mro(cls))
    for other in cls.module.classes.values():
        if other not in family and cls in index.mro(other):
            family.append(other)
    return family


def _classify_use(tracked: TrackedSocket, node: ast.expr, parents: Dict[ast.AST, ast.AST], creations: Set[int]) -> None:
    """What is done with the socket at ``node`` (its name, or ``self.X``)."""
    parent = parents.get(node)
    line = node.lineno
    if isinstance(getattr(node, "ctx", None), ast.Store) or isinstance(parent, ast.Delete):
        _classify_assignment(tracked, node, parent, creations)
        return
    if isinstance(parent, ast.Attribute) and parent.value is node:
        grand = parents.get(parent)
        if isinstance(grand, ast.Call) and grand.func is parent:
            tracked.uses.append(Use("call", parent.attr, grand, line))
        elif isinstance(parent.ctx, ast.Store):
            tracked.uses.append(Use("store", parent.attr, parents.get(grand, grand) if grand is not None else parent, line))
        elif parent.attr in RECV_METHODS | SEND_METHODS | OPTION_METHODS or parent.attr in ("close", "poll"):
            tracked.escapes = True  # a bound method handed out (a callback)
        else:
            tracked.uses.append(Use("look", parent.attr, parent, line))
        return
    if isinstance(parent, ast.Call) and node in parent.args:
        callee = dotted_name(parent.func) or ""
        last = callee.rpartition(".")[2]
        if last in _POLLER_METHODS or callee in ("zmq.select", "select"):
            tracked.uses.append(Use("register", last, parent, line))
            return
        if callee in _LOOKING_CALLEES:
            tracked.uses.append(Use("look", callee, parent, line))
            return
        tracked.escapes = True
        return
    if isinstance(parent, (ast.Compare, ast.BoolOp, ast.UnaryOp, ast.If, ast.While, ast.IfExp, ast.Assert)):
        if isinstance(parent, ast.BoolOp) and not isinstance(parents.get(parent), (ast.If, ast.While, ast.Assert, ast.UnaryOp)):
            tracked.escapes = True  # ``x = sock or other``
            return
        tracked.uses.append(Use("look", "test", parent, line))
        return
    if isinstance(parent, ast.withitem) and parent.context_expr is node:
        tracked.uses.append(Use("look", "with", parent, line))
        return
    if isinstance(parent, ast.Expr):
        return  # a bare ``sock`` statement
    tracked.escapes = True


def _classify_assignment(tracked: TrackedSocket, node: ast.expr, parent: Optional[ast.AST], creations: Set[int]) -> None:
    if isinstance(parent, ast.Delete):
        return
    if isinstance(parent, (ast.Assign, ast.AnnAssign)):
        value = parent.value
        if value is not None and id(value) in creations:
            return
        if isinstance(value, ast.Constant) and value.value is None:
            return
        tracked.reassigned = True
        return
    if isinstance(parent, ast.withitem) and id(parent.context_expr) in creations:
        return
    tracked.reassigned = True


# -- contexts ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Termination:
    """Where a context is terminated: ``kind`` ``term``, ``destroy`` or ``with`` (the end of
    ``with zmq.Context() as ctx:``), the node to report (the call, or the ``with`` item), and
    for ``destroy`` whether a linger is given."""

    kind: str
    node: ast.AST
    context: str
    line: int
    lingers: bool = False
    #: The ``with`` statement, for ``with``.
    block: Optional[ast.AST] = None


def terminations(index: ProjectIndex, module: ModuleInfo) -> List[Termination]:
    return index.memo(("socket_uses.terminations", str(module.path), id(module.tree)), lambda: _find_terminations(module))


def _find_terminations(module: ModuleInfo) -> List[Termination]:
    found: List[Termination] = []
    for node in module.nodes:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("term", "destroy"):
            context = dotted_name(node.func.value)
            if context is None:
                continue
            lingers = bool(node.args or any(k.arg == "linger" for k in node.keywords))
            if node.func.attr == "term" and (node.args or node.keywords):
                continue
            found.append(Termination(node.func.attr, node, context, node.lineno, lingers))
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                if isinstance(item.optional_vars, ast.Name) and is_context_creation(module, item.context_expr):
                    found.append(Termination("with", item.context_expr, item.optional_vars.id, item.context_expr.lineno, block=node))
    return found


def context_sets_option(module: ModuleInfo, context: str, option: str, sockets: Iterable[TrackedSocket]) -> bool:
    """True when the module may set ``option`` on the context ``context`` (or on something it
    does not track as a socket: that may be the context, under another name)."""
    holders = {s.holder for s in sockets}
    for node in module.nodes:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in OPTION_METHODS and _sets_something(node):
            target = dotted_name(node.func.value)
            if target in holders and target != context:
                continue
            name = option_name(node)
            if name is None or name == option:
                return True
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Attribute) and target.attr.upper() == option:
                    owner = dotted_name(target.value)
                    if owner in holders and owner != context:
                        continue
                    return True
    return False


def same_scope(tracked: TrackedSocket, line: int) -> bool:
    """True when ``line`` is where the socket's name means this socket: in its function (for
    a local), in a method of its class family (for an attribute), at the top level."""
    scopes = tracked.module.scope_at(line)
    if tracked.holder.startswith("self."):
        cls = next((s for s in scopes if isinstance(s, ClassInfo)), None)
        return cls is not None and cls in tracked.family
    function = next((s for s in reversed(scopes) if isinstance(s, FunctionInfo)), None)
    if tracked.function is None:
        return function is None
    return function is tracked.function


def module_parents(index: ProjectIndex, module: ModuleInfo) -> Dict[ast.AST, ast.AST]:
    """Child -> parent for the whole module (computed once per run)."""
    return index.memo(("socket_uses.parents", str(module.path), id(module.tree)), lambda: _parents(module.tree))


def blocking_read(call: ast.Call) -> bool:
    """A ``recv*`` call given no flags (or flags ``0``): it waits for a message."""
    name = call.func.attr if isinstance(call.func, ast.Attribute) else ""
    position = 2 if name == "recv_into" else 0
    flags = next((k.value for k in call.keywords if k.arg == "flags"), None)
    if flags is None and len(call.args) > position:
        flags = call.args[position]
    if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
        return False
    return flags is None or (isinstance(flags, ast.Constant) and flags.value == 0)
