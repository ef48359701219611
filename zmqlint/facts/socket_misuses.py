"""ZMQ101 / ZMQ102: where a module binds or connects a socket that a binding factory handed out
already bound (`socket_misuses`, each a `Misuse`), and what a fix needs to hand out a plain
socket instead: the options the caller asked the factory for (`caller_options`), every use of
the socket through the wrapper the factory returned (`wrapper_socket_uses`), and the context
the plain socket should come from (`context_expression`).

Inputs from the index: the module's tree and its functions and classes, each class's
``self.X`` assignments over its hierarchy (``ClassInfo.attributes``, `mro`), `local_value` and
`scope_at` for the context; the factories and helper actions from `binding_factories`.

Cost: the module's statements are indexed by line once (`note_assignments` takes the nodes a
gate's shared walk already has; memo key ``sockets.assignments``), so a scope or class with no
call's result assigned in its lines is skipped without a walk. Each remaining function body
and the module body is walked once, in statement order; a class's factory-made attributes are
worked out once per class and list of configured factory names (``sockets.factory_attrs``,
``sockets.assigns_binding_call``). The misuses are memoised per module (``sockets.misuses``);
the fix's questions are asked per finding, when its fix is built, and are not memoised.
"""

from __future__ import annotations

import ast
import bisect
from dataclasses import dataclass
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple

from zmqlint.facts.binding_factories import Factory, factory_of_call, factory_options, param_actions
from zmqlint.facts.socket_basics import (
    BIND_METHODS,
    CONNECT_METHODS,
    CONTEXT_ATTRS,
    CONTEXT_PARAMS,
    argument_for,
    call_arguments,
    calls_base_init,
    is_bound_call,
    is_context_creation,
    is_none,
    parent_map,
    resolve_call,
    self_parameter,
    statement_walk,
    zmq_alias,
)
from zmqlint.index import ClassInfo, FunctionInfo, ModuleInfo, ProjectIndex, dotted_name, own_nodes, walk


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


def socket_misuses(index: ProjectIndex, module: ModuleInfo, extra: Sequence[str] = ()) -> List[Misuse]:
    """Every bind or connect of a socket a binding factory handed out, in ``module``."""
    key = ("sockets.misuses", str(module.path), tuple(extra))
    return index.memo(key, lambda: _find_misuses(index, module, tuple(extra)))


def _find_misuses(index: ProjectIndex, module: ModuleInfo, extra: Tuple[str, ...]) -> List[Misuse]:
    found: Dict[int, Misuse] = {}
    scopes: List[Tuple[Optional[FunctionInfo], Sequence[ast.stmt]]] = [(None, module.tree.body)]
    scopes += [(func, func.node.body) for func in _enclosing_functions(module)]
    for func, body in scopes:
        self_name = self_parameter(func) if func is not None else None
        state = _State(index, module, extra)
        if func is not None and func.owner is not None and self_name:
            for attr, origin in _class_factory_attrs(index, func.owner, extra).items():
                for key in [f"{self_name}.{attr}.{h}" for h in origin.holder] or [f"{self_name}.{attr}"]:
                    state.entries[key] = origin
        # A socket can only come into play from the class or by assigning a call's result.
        if not state.entries and not _assigns_a_call_within(index, module, func.node if func is not None else None):
            continue
        self_prefix = self_name + "." if self_name else None

        def note(kind: str, use: ast.Call, origin: _Origin, subject: str) -> None:
            found.setdefault(id(use), Misuse(kind, use, origin.call, origin.factory, origin.module, func, subject, origin))

        for stmt, exprs in statement_walk(body):
            # With nothing factory-made in sight no call here can be a misuse: only the
            # assignments below can bring a factory's socket into play.
            for call in _calls_in(exprs) if state.entries else ():
                if isinstance(call.func, ast.Attribute) and call.func.attr in BIND_METHODS + CONNECT_METHODS:
                    subject = dotted_name(call.func.value)
                    origin = state.get(subject)
                    if origin is not None:
                        kind = "bind" if call.func.attr in BIND_METHODS else "connect"
                        note(kind, call, origin, subject)  # type: ignore[arg-type]
                    continue
                receiver = dotted_name(call.func) or ""
                by_self = bool(self_prefix) and receiver.startswith(self_prefix) and state.holds_under(self_prefix)  # type: ignore[arg-type]
                # Resolving the callee is what costs: only when an argument holds a socket.
                if not by_self and not any(
                    state.get(dotted_name(arg)) is not None for arg in [*call.args, *[kw.value for kw in call.keywords]]
                ):
                    continue
                callee = resolve_call(index, module, call)
                if callee is None:
                    continue
                actions = param_actions(index, callee)
                if not actions:
                    continue
                for param, arg in call_arguments(call, callee, is_bound_call(call)).items():
                    subject = dotted_name(arg)
                    origin = state.get(subject)
                    if origin is not None:
                        for act in sorted(actions.get(param, ())):
                            note(act, call, origin, subject)  # type: ignore[arg-type]
                if by_self:
                    for name, acts in actions.items():
                        subject = f"{self_name}.{name[5:]}" if name.startswith("self.") else None
                        origin = state.get(subject)
                        if origin is not None:
                            for act in sorted(acts):
                                note(act, call, origin, subject)  # type: ignore[arg-type]
            if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None:
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                state.assign(targets, stmt.value)
    return sorted(found.values(), key=lambda m: (m.use.lineno, m.use.col_offset))


class _Pending:
    """A call's result assigned to a name, not yet looked at: whether the call is a binding
    factory's is worked out when the name is used where a misuse could be (most assigned
    calls never are)."""

    __slots__ = ("value", "origin", "settled")

    def __init__(self, value: ast.expr) -> None:
        self.value = value
        self.origin: Optional[_Origin] = None
        self.settled = False


class _State:
    """What each tracked name of a scope holds (``sock``, ``self.pub``, ``w.socket``), in
    statement order. Reads settle pending assignments first, so every answer is the one an
    eager resolution of each assignment would give."""

    def __init__(self, index: ProjectIndex, module: ModuleInfo, extra: Tuple[str, ...]) -> None:
        self.index, self.module, self.extra = index, module, extra
        self.entries: Dict[str, object] = {}

    def _settle(self, name: str) -> None:
        entry = self.entries.get(name)
        if not isinstance(entry, _Pending):
            return
        del self.entries[name]
        if not entry.settled:
            entry.origin = _factory_value(self.index, self.module, entry.value, self.extra)
            entry.settled = True
        origin = entry.origin
        if origin is None:
            return
        if origin.holder:
            for attr in origin.holder:
                self.entries[f"{name}.{attr}"] = origin
        else:
            self.entries[name] = origin

    def _settle_prefixes(self, name: str, whole: bool) -> None:
        parts = name.split(".")
        for end in range(1, len(parts) + (1 if whole else 0)):
            self._settle(".".join(parts[:end]))

    def get(self, subject: Optional[str]) -> Optional[_Origin]:
        if subject is None:
            return None
        self._settle_prefixes(subject, whole=True)
        return self.entries.get(subject)  # type: ignore[return-value]

    def holds_under(self, prefix: str) -> bool:
        """Does a name starting with ``prefix`` (``"self."``) hold a socket (settling them)?"""
        self._settle(prefix[:-1])
        for key in [k for k in self.entries if k.startswith(prefix)]:
            self._settle(key)
        return any(key.startswith(prefix) for key in self.entries)

    def assign(self, targets: Sequence[ast.expr], value: ast.expr) -> None:
        if not any(dotted_name(target) is not None for target in targets):
            return  # ``a[i] = ...``, ``x, y = ...``: nothing tracked changes
        entry: object = None
        if isinstance(value, ast.Call) or isinstance(value, ast.Attribute) and isinstance(value.value, ast.Call):
            entry = _Pending(value)
        else:
            # An alias of what another name holds (``sock = self.sock``); of anything else
            # (``sock = holder.socket`` of an untracked holder): nothing.
            entry = self.get(dotted_name(value))
        for target in targets:
            name = dotted_name(target)
            if name is None:
                continue
            self._settle_prefixes(name, whole=False)
            for existing in [k for k in self.entries if k == name or k.startswith(name + ".")]:
                del self.entries[existing]
            if entry is not None:
                self.entries[name] = entry


def _enclosing_functions(module: ModuleInfo) -> Iterator[FunctionInfo]:
    yield from module.functions.values()
    for cls in module.classes.values():
        yield from cls.methods.values()


def _calls_in(exprs: Iterable[ast.AST]) -> List[ast.Call]:
    calls = []
    for expr in exprs:
        for node in walk(expr):
            if node.__class__ is ast.Call:
                calls.append(node)
    return sorted(calls, key=lambda c: (c.lineno, c.col_offset))


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
    if factory is None or not factory.binds_at(value, is_bound_call(value), index, module):
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
                if is_none(value):
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
    """Can an attribute of ``cls`` hold a binding factory call's result? Only a statement in
    the class body or one assigning to a target that is not a plain name (``self.x = ...``)
    in the class's lines can give it one. Memoised: every subclass asks it of each class of
    its hierarchy (all the tests of a project ask it of ``unittest.TestCase``)."""
    key = ("sockets.assigns_binding_call", str(cls.module.path), cls.name, cls.node.lineno, tuple(extra))
    return index.memo(key, lambda: any(_binding_call(index, cls.module, call, extra) for call in _attribute_calls(index, cls)))


def _attribute_calls(index: ProjectIndex, cls: ClassInfo) -> Iterator[ast.Call]:
    for stmt in cls.node.body:
        if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            value = stmt.value
            if isinstance(value, ast.Attribute) and isinstance(value.value, ast.Call):
                value = value.value
            if isinstance(value, ast.Call):
                yield value
    yield from _calls_assigned_within(index, cls.module, cls.node, attributes_only=True)


def _binding_call(index: ProjectIndex, module: ModuleInfo, call: ast.Call, extra: Sequence[str]) -> bool:
    return _factory_value(index, module, call, extra) is not None


# ---------------------------------------------------------------------------------------------
# the calls a module assigns, by line


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
    #: The same for the statements with a target that is not a plain name (``self.x = call()``,
    #: ``self.a, b = call()``, ``d[k] += call()``): the only ones that can give an object's
    #: attribute a call's result inside a method.
    attribute_values: List[Tuple[int, ast.Call]]


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
    attribute_values: List[Tuple[int, ast.Call]] = []
    for sub in nodes:
        if isinstance(sub, ast.AugAssign):
            if isinstance(sub.value, ast.Call):
                call_values.append((sub.lineno, sub.value))
                if not isinstance(sub.target, ast.Name):
                    attribute_values.append((sub.lineno, sub.value))
            continue
        if isinstance(sub, ast.Assign):
            targets = sub.targets
            seen: Set[str] = set()
            for target in targets:
                if isinstance(target, ast.Name) and target.id not in seen:
                    seen.add(target.id)
                    found.append((sub.lineno, sub.col_offset, target.id, sub.value))
        elif isinstance(sub, ast.AnnAssign):
            targets = [sub.target]
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
            if not all(isinstance(target, ast.Name) for target in targets):
                attribute_values.append((sub.lineno, value))
    found.sort(key=lambda f: (f[0], f[1]))
    call_lines.sort()
    call_values.sort(key=lambda c: c[0])
    attribute_values.sort(key=lambda c: c[0])
    return _Assignments(
        [f[0] for f in found], [(f[0], f[2], f[3]) for f in found], call_lines, call_values, attribute_values
    )


def _calls_assigned_within(index: ProjectIndex, module: ModuleInfo, node: ast.AST, attributes_only: bool = False) -> List[ast.Call]:
    """The calls whose result a statement in the lines of ``node`` assigns (``=``, ``+=``);
    with ``attributes_only``, only to a target that is not a plain name."""
    assignments = _module_assignments(index, module)
    values = assignments.attribute_values if attributes_only else assignments.call_values
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


# ---------------------------------------------------------------------------------------------
# what the fix needs: the options the caller asked for, the wrapper's uses, the context


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
            arg = argument_for(call, func, param, is_bound_call(call))
            if field_name and isinstance(arg, ast.Call):
                value = next((kw.value for kw in arg.keywords if kw.arg == field_name), None)
            elif not field_name:
                value = arg
        if value is not None:
            result.append((option, value))
    return sorted(result, key=lambda item: (item[1].lineno, item[1].col_offset))


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
    self_name = self_parameter(func)
    if self_name and wrapper.startswith(self_name + ".") and wrapper.count(".") == 1 and func.owner is not None:
        cls = func.owner
        if any(klass is not cls and wrapper.partition(".")[2] in klass.attributes for klass in index.mro(cls)):
            return None
        scopes = [(m.node, self_parameter(m)) for m in cls.methods.values()]
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
    parents = parent_map(func.owner.node if func.owner is not None and "." in wrapper else func.node)
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
    self_name = self_parameter(func) if func is not None else None
    candidates: List[ast.expr] = []
    factory_fn = misuse.factory.function
    for kw in call.keywords:
        if kw.arg in CONTEXT_PARAMS:
            candidates.append(kw.value)
    if factory_fn is not None:
        for param in factory_fn.parameters:
            if param in CONTEXT_PARAMS:
                arg = argument_for(call, factory_fn, param, is_bound_call(call))
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
    assigned = [(klass, value) for klass in mro for value in klass.attributes.get(attr, []) if not is_none(value)]
    if not assigned or not all(is_context_creation(klass.module, value) for klass, value in assigned):
        return False
    if func.name != "__init__":
        return any(klass.methods.get("__init__") is not None and _holds_node(klass.methods["__init__"].node, value) for klass, value in assigned)
    earlier_here = any(klass is cls and _holds_node(func.node, value) and value.lineno < line for klass, value in assigned)
    from_base = any(klass is not cls and klass.methods.get("__init__") is not None and _holds_node(klass.methods["__init__"].node, value) for klass, value in assigned)
    base_ran = any(calls_base_init(stmt) and stmt.lineno < line for stmt in func.node.body)
    return earlier_here or (from_base and base_ran)


def _holds_node(tree: ast.AST, node: ast.AST) -> bool:
    return any(sub is node for sub in ast.walk(tree))
