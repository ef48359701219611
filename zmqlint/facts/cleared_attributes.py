"""ZMQ103: where a method sets a ``self.X`` that holds a ZeroMQ context or socket to None and a
later use of ``self.X`` can still reach that None (`cleared_attributes`, each a `Clearing`
with the fix it allows: drop the clearing, or assign the shared context).

Inputs from the index: the module's classes and their methods, `mro` and the ``self.X``
assignments of the hierarchy (``ClassInfo.attributes``, ``dynamic_attributes``), the
``__init__`` of base classes, `find_method` for the methods a method calls, the module's
nodes (stores of ``.X`` elsewhere) and its broken regions; whether a value is a socket is asked
of `binding_factories` (`factory_of_call`).

Cost: a class is looked into only when one of its methods sets some ``self.X = None`` and its
hierarchy uses ZeroMQ. Each such method is followed once along its paths (branches, loops,
``try``, early exits); an attribute cleared in ``__init__`` and set nowhere else has every other
method of the class followed too, and calls to ``self.<method>()`` are followed two levels
deep. Memoised per module (``sockets.cleared``).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

from zmqlint.facts.binding_factories import factory_of_call
from zmqlint.facts.socket_basics import (
    ENDPOINT_METHODS,
    ZMQ_SOCKET_METHODS,
    LazyParents,
    calls_base_init,
    created_socket_type,
    is_context_creation,
    is_none,
    self_parameter,
    statement_walk,
    uses_zeromq,
)
from zmqlint.index import (
    ClassInfo,
    FunctionInfo,
    ModuleInfo,
    ProjectIndex,
    dotted_name,
    flatten_targets,
    own_nodes,
    walk,
)


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
    if created_socket_type(value) is not None:
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
        self_name = self_parameter(init)
        for node in own_nodes(init.node):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Attribute) and dotted_name(target.value) == self_name:
                        kind = _holding_kind(index, base.module, node.value)
                        if kind and target.attr not in created:
                            created[target.attr] = kind
    return created


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
            self_name = self_parameter(method)
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
                    other_self = self_parameter(other)
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
        self.parents = LazyParents(method.node)
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
        if self.method.name == "__init__" and calls_base_init(stmt):
            state.live.update(self.base_created)
        if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            self.assign(stmt, state)
        return state

    def assign(self, stmt: ast.stmt, state: _FlowState) -> None:
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]  # type: ignore[attr-defined]
        value = getattr(stmt, "value", None)
        for target in targets:
            for element in flatten_targets(target):
                if not (isinstance(element, ast.Attribute) and dotted_name(element.value) == self.self_name):
                    continue
                attr = element.attr
                whole = element is target and not isinstance(stmt, ast.AugAssign)
                if whole and is_none(value):
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
        for stmt, _ in statement_walk(body):
            if isinstance(stmt, ast.Assign) and is_none(stmt.value):
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
                for element in flatten_targets(target):
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
    if method_name in ZMQ_SOCKET_METHODS and method_name not in ENDPOINT_METHODS:
        return "socket"
    return None


def _may_be_set_elsewhere(index: ProjectIndex, module: ModuleInfo, mro: List[ClassInfo], attr: str) -> bool:
    """Some other code may give ``self.attr`` a value: a non-None assignment in the class or a
    base, a store of ``.attr`` elsewhere in the module, ``setattr`` / ``__dict__``."""
    for klass in mro:
        if any(not is_none(v) for v in klass.attributes.get(attr, [])) or klass.dynamic_attributes:
            return True
    own = {id(t) for klass in mro for m in klass.methods.values() for t in _self_stores(m)}
    return any(
        isinstance(node, ast.Attribute) and node.attr == attr and not isinstance(node.ctx, ast.Load) and id(node) not in own
        for node in module.nodes
    )


def _self_stores(method: FunctionInfo) -> List[ast.Attribute]:
    self_name = self_parameter(method)
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
    self_name = self_parameter(method)
    if self_name is None:
        return None
    parents = LazyParents(method.node)
    for stmt, exprs in statement_walk(method.node.body):
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
    self_name = self_parameter(method)
    if self_name is None:
        return False
    for stmt, _ in statement_walk(method.node.body):
        if isinstance(stmt, ast.Assign) and is_none(stmt.value):
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
