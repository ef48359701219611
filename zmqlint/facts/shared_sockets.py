"""Sockets a class or a function shares with a thread it starts (ZMQ108).

Question: which sockets does a module create (`zmqlint.facts.socket_uses.tracked_sockets`:
``self.X = ctx.socket(T)`` of a class, a local ``sock = ctx.socket(T)`` of a function) that
send, receive or poll both in a thread body (`zmqlint.facts.threads`: a ``Thread`` target,
``run()`` of a ``Thread`` subclass, a function handed to an executor, and what they call on
``self``) and in code that runs beside it?

- For an attribute, *beside it* is any other method of the class, except ``__init__`` (it runs
  before the thread exists unless it starts it itself: then only what follows the start), and
  what a method does after joining the class's thread.
- For a local, it is the creating function after it started the thread (a nested function
  that closes over the socket, or a target handed it in ``args``) and before it joins it.
- Uses that hold one lock in common (``with self._lock:``, a lock every caller of a private
  method holds) are serialised, and are not a race.

Only what the code does with the socket directly counts: ``send*``, ``recv*``, ``poll``.
Set-up (``bind``, ``connect``, ``setsockopt``) and ``close`` are not counted: done before the
thread starts or after it ends, they are fine, and the other uses already say the socket is
shared. Stdlib ``ast`` only; the analysed code is never imported.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import FrozenSet, List, Optional, Set

from zmqlint.facts.shared_containers import _acquired, _entry_locks, _class_bodies, _join_line, _locks_at, _started_in_init, link_parents
from zmqlint.facts.socket_uses import RECV_METHODS, SEND_METHODS, TrackedSocket, tracked_sockets
from zmqlint.facts.threads import Body, ThreadStart, function_thread_starts, lock_attributes, thread_attributes, thread_side, thread_starts
from zmqlint.index import ClassInfo, FunctionInfo, ModuleInfo, ProjectIndex, dotted_name, own_nodes, walk

#: What a thread does with a socket that makes sharing it a race.
IO_METHODS = RECV_METHODS | SEND_METHODS | {"poll"}


@dataclass(frozen=True)
class SharedSocket:
    """A socket used by a thread body and by code running beside it."""

    tracked: TrackedSocket
    #: The use beside the thread (where the finding goes) and one use in the thread.
    other: ast.Call
    thread: ast.Call
    #: The function the thread runs (its name, for the message).
    body: str


def shared_sockets(index: ProjectIndex, module: ModuleInfo) -> List[SharedSocket]:
    """Every socket of ``module`` a thread shares, one finding each, in source order."""

    def compute() -> List[SharedSocket]:
        found: List[SharedSocket] = []
        for tracked in tracked_sockets(index, module):
            shared = _class_shared(index, tracked) if tracked.cls is not None and tracked.function is None else _local_shared(index, tracked)
            if shared is not None:
                found.append(shared)
        return sorted(found, key=lambda s: (s.other.lineno, s.other.col_offset))

    return index.memo(("shared_sockets", str(module.path), id(module.tree)), compute)


def _io_calls(tracked: TrackedSocket) -> List[ast.Call]:
    return [u.node for u in tracked.uses if u.kind == "call" and u.name in IO_METHODS]  # type: ignore[misc]


# -- attributes ------------------------------------------------------------------------------


def _class_shared(index: ProjectIndex, tracked: TrackedSocket) -> Optional[SharedSocket]:
    cls = tracked.cls
    assert cls is not None
    calls = _io_calls(tracked)
    if len(calls) < 2:
        return None
    side = thread_side(index, cls)
    if not side:
        return None
    side_ids = {id(b.node) for b in side}
    roots = {id(s.body.node): s.body.node.name for s in thread_starts(index, cls)}
    bodies = _class_bodies(index, cls, side)
    locks = lock_attributes(index, cls)
    entry = _entry_locks(index, cls, bodies, side, locks)
    threads = set(thread_attributes(index, cls))
    started_in_init = _started_in_init(index, cls)
    thread_uses: List[tuple] = []
    other_uses: List[tuple] = []
    placed = _placements(calls, bodies, side_ids)
    for call in calls:
        if id(call) not in placed:
            return None  # a use zmqlint cannot place (a class body, a lambda default)
        method, on_thread = placed[id(call)]
        name = getattr(method.node, "name", "")
        link_parents(method.node)
        held = _locks_at(call, method.node, locks, method.self_id) | _acquired(method, locks) | entry.get(id(method.node), frozenset())
        if on_thread:
            thread_uses.append((call, held, method))
            continue
        if name == "__init__" and not (started_in_init and _after_start(method, call)):
            continue
        joined = _join_line(method, threads)
        if joined is not None and call.lineno > joined:
            continue
        other_uses.append((call, held, method))
    if not thread_uses or not other_uses:
        return None
    common: FrozenSet[str] = frozenset.intersection(*[held for _, held, _ in thread_uses + other_uses])
    if common:
        return None
    other = next((u for u in other_uses if u[2].module is tracked.module), None)
    if other is None:
        return None
    thread_call, _, thread_method = thread_uses[0]
    body = roots.get(id(thread_method.node)) or _root_name(index, cls, side, thread_method) or thread_method.node.name
    return SharedSocket(tracked, other[0], thread_call, body)


def _placements(calls: List[ast.Call], bodies: List[Body], side_ids: Set[int]):
    """call id -> (the outermost body holding it, whether a thread-side body holds it)."""
    wanted = {id(c) for c in calls}
    placed = {}
    for body in bodies:
        span = (getattr(body.node, "end_lineno", 0) or 0) - body.node.lineno
        for node in walk(body.node):
            if id(node) not in wanted:
                continue
            method, on_thread, widest = placed.get(id(node), (None, False, -1))
            if span > widest:
                method, widest = body, span
            placed[id(node)] = (method, on_thread or id(body.node) in side_ids, widest)
    return {key: (method, on_thread) for key, (method, on_thread, _) in placed.items()}


def _encloses(function: ast.AST, node: ast.AST) -> bool:
    end = getattr(function, "end_lineno", None)
    return end is not None and function.lineno <= node.lineno <= end and function is not node


def _after_start(method: Body, call: ast.Call) -> bool:
    """Whether ``call`` follows a ``.start()`` in ``method`` (``__init__`` starting its thread)."""
    starts = [
        n.lineno
        for n in own_nodes(method.node)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "start"
    ]
    return bool(starts) and call.lineno > min(starts)


def _root_name(index: ProjectIndex, cls: ClassInfo, side: List[Body], method: Body) -> Optional[str]:
    """The thread body from which ``method`` is reached (for the message)."""
    from zmqlint.facts.threads import closure

    for start in thread_starts(index, cls):
        if any(b.node is method.node for b in closure(index, cls, [start.body])):
            return start.body.node.name
    return None


# -- locals ----------------------------------------------------------------------------------


def _local_shared(index: ProjectIndex, tracked: TrackedSocket) -> Optional[SharedSocket]:
    function = tracked.function
    if function is None:
        return None
    starts = function_thread_starts(index, function, tracked.cls)
    if not starts:
        return None
    calls = sorted(_io_calls(tracked), key=lambda c: (c.lineno, c.col_offset))
    for start in starts:
        if start.creation is None:
            continue
        in_thread = _thread_calls(index, tracked, start)
        if not in_thread:
            continue
        started = _start_line(function, start)
        if started is None:
            continue
        joined = _local_join_line(function, start)
        body_node = start.body.node
        for call in calls:
            if _encloses(body_node, call):
                continue
            if call.lineno <= started or (joined is not None and call.lineno >= joined):
                continue
            if not _same_function(tracked.module, call, function):
                continue
            return SharedSocket(tracked, call, in_thread[0], body_node.name)
    return None


def _thread_calls(index: ProjectIndex, tracked: TrackedSocket, start: ThreadStart) -> List[ast.Call]:
    """The socket's sends, receives and polls inside the thread body: a nested def closing
    over it, or a function handed it in ``args=(...)``."""
    body = start.body.node
    calls = [c for c in _io_calls(tracked) if _encloses(body, c)]
    if calls:
        return calls
    creation = start.creation
    args = next((k.value for k in creation.keywords if k.arg == "args"), None) if creation is not None else None
    if not isinstance(args, (ast.Tuple, ast.List)):
        return []
    position = next((i for i, a in enumerate(args.elts) if isinstance(a, ast.Name) and a.id == tracked.holder), None)
    if position is None:
        return []
    params = [a.arg for a in (*body.args.posonlyargs, *body.args.args)]
    if start.body.self_id is not None and params:
        params = params[1:]
    if position >= len(params):
        return []
    name = params[position]
    return [
        n
        for n in own_nodes(body)
        if isinstance(n, ast.Call)
        and isinstance(n.func, ast.Attribute)
        and n.func.attr in IO_METHODS
        and isinstance(n.func.value, ast.Name)
        and n.func.value.id == name
    ]


def _start_line(function: FunctionInfo, start: ThreadStart) -> Optional[int]:
    """The line the thread is started on: ``Thread(...).start()``, or ``t.start()`` of the
    local it is kept in (executors start at ``submit``)."""
    creation = start.creation
    if start.kind == "executor":
        return creation.lineno if creation is not None else None
    holders: Set[str] = set()
    for node in own_nodes(function.node):
        if isinstance(node, ast.Assign) and node.value is creation:
            holders.update(dotted_name(t) or "" for t in node.targets)
    lines = [
        n.lineno
        for n in own_nodes(function.node)
        if isinstance(n, ast.Call)
        and isinstance(n.func, ast.Attribute)
        and n.func.attr == "start"
        and (n.func.value is creation or (dotted_name(n.func.value) or "") in holders)
    ]
    return min(lines) if lines else None


def _local_join_line(function: FunctionInfo, start: ThreadStart) -> Optional[int]:
    creation = start.creation
    holders: Set[str] = set()
    for node in own_nodes(function.node):
        if isinstance(node, ast.Assign) and node.value is creation:
            holders.update(dotted_name(t) or "" for t in node.targets)
    lines = [
        n.lineno
        for n in own_nodes(function.node)
        if isinstance(n, ast.Call)
        and isinstance(n.func, ast.Attribute)
        and n.func.attr in ("join", "result", "shutdown")
        and ((dotted_name(n.func.value) or "") in holders or start.kind == "executor")
    ]
    return min(lines) if lines else None


def _same_function(module: ModuleInfo, call: ast.Call, function: FunctionInfo) -> bool:
    scopes = [s for s in module.scope_at(call.lineno) if isinstance(s, FunctionInfo)]
    return bool(scopes) and scopes[-1].node is function.node
