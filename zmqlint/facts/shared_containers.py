"""Containers a class shares with its own threads, and the races on them (THR502).

Question: for each class of a module that runs a thread body (a ``Thread`` target, a ``Timer``
function, ``run()`` of a ``Thread`` subclass, a function given to an executor, and the methods
they call on ``self``, transitively), which ``list`` / ``dict`` / ``deque`` attributes are used
both by that thread side and by the class's other methods without a lock held in common, and
is one of those uses a race: a check followed by an act (``if self.buf: self.buf.pop(0)``,
``if k in self.d: del self.d[k]``, ``self.buf and self.buf.pop()``), or an iteration while the
other side changes the size.

Inputs: the project index (the class, its bases across modules, `zmqlint.facts.threads` for
thread starts, the thread side, lock and thread attributes). Stdlib ``ast`` only; the analysed
code is never imported.

Cost: one pass over the methods of each class that has a thread side (most classes have none
and stop at `thread_side`), parents linked once per function (weak references); the answer is
memoised per module on the index, so the rule's gate and the rule share one computation.
"""

from __future__ import annotations

import ast
import weakref
from dataclasses import dataclass, field
from typing import Dict, FrozenSet, List, NamedTuple, Optional, Set, Tuple

from zmqlint.facts.threads import (
    Body,
    lock_attributes,
    own_nodes,
    self_attr,
    self_name,
    thread_attributes,
    thread_side,
    thread_starts,
    value_kind,
)
from zmqlint.index import ClassInfo, ModuleInfo, ProjectIndex, dotted_name

_CONTAINERS = {"list", "dict", "collections.deque", "collections.defaultdict", "collections.OrderedDict"}
QUEUE_LIKE = {"list", "collections.deque"}
_REMOVERS = {"pop", "popleft", "popitem", "remove"}
_MUTATORS = _REMOVERS | {
    "append", "appendleft", "extend", "extendleft", "insert", "clear", "update", "setdefault", "sort",
    "reverse", "rotate", "discard", "add",
}
#: Method-name prefixes of set-up code that runs before threads start.
_SETUP_PREFIXES = ("register", "setup", "set_up", "configure", "add_handler", "__init__")


@dataclass
class Use:
    body: Body
    node: ast.Attribute  # the ``self.X``
    kind: str  # "mutate", "remove", "iterate", "read", "assign"
    locks: FrozenSet[str]


@dataclass
class CheckThenAct:
    test_owner: ast.AST  # the If / While, or the IfExp / `and` expression holding the check
    act: Use
    locks: FrozenSet[str]
    #: The check is `key in d` (the race removes the key), not one for emptiness.
    membership: bool = False


@dataclass
class Container:
    attr: str
    kinds: Set[str]
    thread: List[Use] = field(default_factory=list)
    other: List[Use] = field(default_factory=list)
    checks: List[CheckThenAct] = field(default_factory=list)



class Hazard(NamedTuple):
    """One race to report: the class, its container, the message and the use to point at."""

    cls: ClassInfo
    container: Container
    message: str
    use: Use


# -- facts about one class's containers -----------------------------------------------------


def hazards(index: ProjectIndex, info: ModuleInfo) -> List[Hazard]:
    """(class, container, message, use) of each race to report in ``info``, in report order.
    Everything here is on the stdlib ast: the gate asks it, the rule reuses the answer."""

    def compute() -> List[Hazard]:
        found: List[Hazard] = []
        reported: Set[int] = set()
        for cls in info.classes.values():
            # Cheap questions first (each only skips a class `_containers` finds no race in):
            # a thread side at all (most classes start no thread), then a container
            # attribute, then one container used by both sides.
            side = thread_side(index, cls)
            if not side:
                continue
            attrs = _container_attributes(index, cls)
            if not attrs or not _shared_with_thread(index, cls, side, set(attrs)):
                continue
            for container in _containers(index, cls, side):
                if not container.thread or not container.other:
                    continue
                hazard = _hazard(container, _started_in_init(index, cls))
                if hazard is None:
                    continue
                message, use = hazard
                # A subclass in the same module shares its base's methods: one finding a place.
                if use.body.module is not info or id(use.node) in reported:
                    continue
                reported.add(id(use.node))
                found.append(Hazard(cls, container, message, use))
        return found

    return index.memo(("thr502.hazards", info.path, id(info)), compute)


def _container_attributes(index: ProjectIndex, cls: ClassInfo) -> Dict[str, Set[str]]:
    """``self.X`` attributes of ``cls`` (and its bases) holding a list, dict or deque: X -> kinds."""
    found: Dict[str, Set[str]] = {}
    seen: Set[str] = set()
    mro = index.mro(cls)
    for klass in mro:
        for attr in klass.attributes:
            if attr not in seen:
                seen.add(attr)
                # `attribute_kind(index, cls, attr)`, with the class's MRO worked out once.
                kinds = {value_kind(k.module, v) for k in mro for v in k.attributes.get(attr, [])} - {"None"}
                if kinds and kinds <= _CONTAINERS:
                    found[attr] = kinds
    return found


def _shared_with_thread(index: ProjectIndex, cls: ClassInfo, side: List[Body], attrs: Set[str]) -> bool:
    """Whether one of ``attrs`` is named both by a thread-side body and by another body, among
    the bodies `_containers` looks at: a wider question than its uses (no kinds, no joins)."""
    side_ids = {id(b.node) for b in side}
    on_thread: Set[str] = set()
    elsewhere: Set[str] = set()
    for body in _class_bodies(index, cls, side):
        name = getattr(body.node, "name", "")
        thread = id(body.node) in side_ids
        if name == "__init__" or (not thread and "fork" in name.lower()):
            continue
        named = {a for a in (self_attr(n, body.self_id) for n in own_nodes(body.node)) if a in attrs}
        (on_thread if thread else elsewhere).update(named)
        if on_thread & elsewhere:
            return True
    return False


def _containers(index: ProjectIndex, cls: ClassInfo, side: List[Body]) -> List[Container]:
    side_ids = {id(b.node) for b in side}
    found: Dict[str, Container] = {attr: Container(attr, kinds) for attr, kinds in _container_attributes(index, cls).items()}
    if not found:
        return []
    locks = lock_attributes(index, cls)
    bodies = _class_bodies(index, cls, side)
    entry = _entry_locks(index, cls, bodies, side, locks)
    threads = set(thread_attributes(index, cls))
    for body in bodies:
        name = getattr(body.node, "name", "")
        on_thread = id(body.node) in side_ids
        # Set-up before threads exist, and the child after a fork, run alone.
        if name == "__init__" or (not on_thread and "fork" in name.lower()):
            continue
        # Once a stop path has joined the thread, what follows runs alone too.
        joined_at = None if on_thread else _join_line(body, threads)
        per_attr = _uses(body, set(found), locks, entry.get(id(body.node), frozenset()))
        for attr, (uses, checks) in per_attr.items():
            container = found[attr]
            if joined_at is not None:
                uses = [u for u in uses if u.node.lineno < joined_at]
                checks = [c for c in checks if c.test_owner.lineno < joined_at]
            target = container.thread if on_thread else container.other
            target.extend(u for u in uses if u.kind != "assign")
            container.checks.extend(checks)
    return list(found.values())


def _join_line(body: Body, threads: Set[str]) -> Optional[int]:
    """The first line where ``body`` joins one of the class's threads, if it does."""
    lines = [
        node.lineno
        for node in own_nodes(body.node)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "join"
        and self_attr(node.func.value, body.self_id) in threads
    ]
    return min(lines) if lines else None


def _class_bodies(index: ProjectIndex, cls: ClassInfo, side: List[Body]) -> List[Body]:
    bodies: List[Body] = []
    names: Set[str] = set()
    for klass in index.mro(cls):
        for name in klass.methods:
            if name not in names:
                names.add(name)
                method = index.find_method(cls, name)
                if method is not None:
                    bodies.append(Body(method.node, method.module, method.owner, self_name(method.node)))
    known = {id(b.node) for b in bodies}
    bodies.extend(b for b in side if id(b.node) not in known)
    return bodies


def link_parents(root: ast.AST) -> None:
    # Weak links: a tree holding strong links to parents is a cycle only the cyclic
    # collector frees.
    if getattr(root, "_zmqlint_linked", False):
        return
    root._zmqlint_linked = True  # type: ignore[attr-defined]
    for node in ast.walk(root):
        link = weakref.ref(node)
        for child in ast.iter_child_nodes(node):
            child._zmqlint_parent = link  # type: ignore[attr-defined]


def parent_of(node: Optional[ast.AST]) -> Optional[ast.AST]:
    """``node``'s parent, once `link_parents` linked its function."""
    link = getattr(node, "_zmqlint_parent", None)
    return link() if link is not None else None


def _locks_at(node: ast.AST, stop: ast.AST, locks: Set[str], self_id: Optional[str]) -> FrozenSet[str]:
    held: Set[str] = set()
    current = parent_of(node)
    while current is not None and current is not stop:
        if isinstance(current, (ast.With, ast.AsyncWith)):
            for item in current.items:
                expr = item.context_expr
                attr = self_attr(expr, self_id)
                name = attr or dotted_name(expr) or ""
                if attr in locks or "lock" in name.lower():
                    held.add(name)
        current = parent_of(current)
    return frozenset(held)


def _acquired(body: Body, locks: Set[str]) -> FrozenSet[str]:
    """Locks taken with ``self.<lock>.acquire()`` anywhere in the function: held throughout."""
    held = set()
    for node in own_nodes(body.node):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "acquire":
            attr = self_attr(node.func.value, body.self_id)
            if attr in locks:
                held.add(attr)
    return frozenset(held)


def _entry_locks(
    index: ProjectIndex, cls: ClassInfo, bodies: List[Body], side: List[Body], locks: Set[str]
) -> Dict[int, FrozenSet[str]]:
    """Locks held whenever a private method runs: those held at every call of it in the class
    (``_reap_locked()`` called only inside ``with self._lock:``). Thread bodies and public
    methods, which anyone may call, hold none on entry."""
    roots = {id(s.body.node) for s in thread_starts(index, cls)}
    sites: Dict[int, List[Tuple[int, FrozenSet[str]]]] = {}
    for body in bodies:
        link_parents(body.node)
        held = _acquired(body, locks)
        for node in own_nodes(body.node):
            if isinstance(node, ast.Call):
                name = self_attr(node.func, body.self_id)
                method = index.find_method(cls, name) if name else None
                if method is not None:
                    here = _locks_at(node, body.node, locks, body.self_id) | held
                    sites.setdefault(id(method.node), []).append((id(body.node), here))
    entry: Dict[int, FrozenSet[str]] = {id(b.node): frozenset() for b in bodies}
    private = {
        id(b.node)
        for b in bodies
        if getattr(b.node, "name", "").startswith("_") and not getattr(b.node, "name", "").startswith("__")
        and id(b.node) not in roots
    }
    for _ in range(8):  # a fixed point over call chains, bounded
        changed = False
        for callee in private:
            calls = sites.get(callee)
            if not calls:
                continue
            held = frozenset.intersection(*[here | entry.get(caller, frozenset()) for caller, here in calls])
            if held != entry[callee]:
                entry[callee] = held
                changed = True
        if not changed:
            break
    return entry


def _uses(
    body: Body, attrs: Set[str], locks: Set[str], entry: FrozenSet[str]
) -> Dict[str, Tuple[List[Use], List[CheckThenAct]]]:
    """The uses of each ``self.<attr>`` in ``body``, and its check-then-act spellings."""
    link_parents(body.node)
    acquired = _acquired(body, locks) | entry
    result: Dict[str, Tuple[List[Use], List[CheckThenAct]]] = {}
    by_node: Dict[int, Use] = {}
    tests: List[ast.AST] = []
    for node in own_nodes(body.node):
        attr = self_attr(node, body.self_id)
        if attr in attrs:
            use = Use(body, node, _kind(node), _locks_at(node, body.node, locks, body.self_id) | acquired)
            result.setdefault(attr, ([], []))[0].append(use)
            by_node[id(node)] = use
        elif isinstance(node, (ast.If, ast.While, ast.IfExp)) or (isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And)):
            tests.append(node)
    for node in tests:
        for test, region in _checked_regions(node):
            for attr in {a for a in (self_attr(n, body.self_id) for n in ast.walk(test)) if a in attrs}:
                act = next(
                    (
                        by_node[id(sub)]
                        for part in region
                        for sub in attr_nodes(part, attr, body.self_id)
                        if id(sub) in by_node and (by_node[id(sub)].kind == "remove" or _is_subscript_read(sub))
                    ),
                    None,
                )
                if act is not None:
                    locks_here = _locks_at(node, body.node, locks, body.self_id) | acquired
                    result[attr][1].append(CheckThenAct(node, act, locks_here, _membership(test)))
    return result


def _checked_regions(node: ast.AST) -> List[Tuple[ast.expr, List[ast.AST]]]:
    """(test, code that runs only when the test said "not empty") for each spelling of a check:

    - ``if x: <act>`` / ``while x: <act>`` / ``<act> if x else ...`` / ``x and <act>``;
    - ``if not x: ... else: <act>``;
    - a guard, ``if not x: ...; continue`` (or return / break / raise) then ``<act>`` below it,
      and a wait, ``while not x: sleep(...)`` (no ``break``) then ``<act>`` below it.
    """
    if isinstance(node, ast.IfExp):
        return [(node.test, [node.body])]
    if isinstance(node, ast.BoolOp):
        return [(value, node.values[i + 1 :]) for i, value in enumerate(node.values[:-1])]
    if not _says_empty(node.test):
        return [(node.test, list(node.body))]
    regions: List[Tuple[ast.expr, List[ast.AST]]] = []
    if isinstance(node, ast.If) and node.orelse:
        regions.append((node.test, list(node.orelse)))
    exits = (
        isinstance(node, ast.If) and not node.orelse and isinstance(node.body[-1], (ast.Continue, ast.Return, ast.Break, ast.Raise))
    ) or (isinstance(node, ast.While) and not node.orelse and not _breaks(node))
    if exits:
        regions.append((node.test, _after(node)))
    return regions


def _says_empty(test: ast.expr) -> bool:
    """``not x``, ``not len(x)``, ``len(x) == 0``, ``len(x) < n``; ``a or <one of those>``."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return True
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.left, ast.Call):
        return dotted_name(test.left.func) == "len" and isinstance(test.ops[0], (ast.Eq, ast.Lt, ast.LtE))
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.Or):
        return any(_says_empty(value) for value in test.values)
    return False


def _breaks(loop: ast.While) -> bool:
    """A ``break`` of this loop (not of a loop nested in it)."""
    todo = list(loop.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Break):
            return True
        if isinstance(node, (ast.For, ast.AsyncFor, ast.While, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        todo.extend(ast.iter_child_nodes(node))
    return False


def _after(stmt: ast.stmt) -> List[ast.AST]:
    """The statements that follow ``stmt`` in its block."""
    parent = parent_of(stmt)
    for name in ("body", "orelse", "finalbody"):
        block = getattr(parent, name, None)
        if isinstance(block, list) and any(s is stmt for s in block):
            at = next(i for i, s in enumerate(block) if s is stmt)
            return list(block[at + 1 :])
    return []


def _membership(test: ast.expr) -> bool:
    """``k in d``: the check is for a key, not for emptiness."""
    return isinstance(test, ast.Compare) and any(isinstance(op, ast.In) for op in test.ops)


def attr_nodes(root: ast.AST, attr: str, self_id: Optional[str]) -> List[ast.Attribute]:
    return [n for n in ast.walk(root) if self_attr(n, self_id) == attr]


def _kind(node: ast.Attribute) -> str:
    parent = parent_of(node)
    grand = parent_of(parent)
    if isinstance(parent, (ast.Assign, ast.AnnAssign)) and node in (getattr(parent, "targets", None) or [getattr(parent, "target", None)]):
        return "assign"
    if isinstance(parent, ast.Attribute) and isinstance(grand, ast.Call) and grand.func is parent:
        if parent.attr in _REMOVERS:
            return "remove"
        if parent.attr in _MUTATORS:
            return "mutate"
        if parent.attr in ("items", "keys", "values") and _is_iterated(grand):
            return "iterate"
        return "read"
    if isinstance(parent, ast.Subscript) and parent.value is node:
        if isinstance(parent.ctx, ast.Del):
            return "remove"
        if isinstance(parent.ctx, ast.Store) or isinstance(grand, ast.AugAssign):
            return "mutate"
        return "read"
    if _is_iterated(node):
        return "iterate"
    return "read"


def _is_iterated(node: ast.AST) -> bool:
    parent = parent_of(node)
    if isinstance(parent, (ast.For, ast.AsyncFor)) and parent.iter is node:
        return True
    if isinstance(parent, ast.comprehension) and parent.iter is node:
        # `list(x for x in d)` is still an iteration; a bare snapshot call is not.
        return True
    return False


def _is_subscript_read(node: ast.Attribute) -> bool:
    parent = parent_of(node)
    return isinstance(parent, ast.Subscript) and parent.value is node and isinstance(parent.ctx, ast.Load)


def _hazard(container: Container, started_in_init: bool = False) -> Optional[Tuple[str, Use]]:
    """(message, where) for the first race found on a shared container, or None.
    ``started_in_init``: the thread runs from ``__init__`` on, so set-up methods
    (``register_*``, ``configure``) called afterwards run alongside it."""
    attr = container.attr
    removes_elsewhere = any(u.kind == "remove" for u in container.thread + container.other)
    for check in container.checks:
        if check.act.kind != "remove" and not removes_elsewhere:
            continue
        others = [u for u in container.thread + container.other if u.kind in ("mutate", "remove") and u is not check.act]
        if not check.locks or any(not (check.locks & u.locks) for u in others):
            line = check.test_owner.lineno
            race = "remove the key" if check.membership else "empty it"
            return (
                f"`self.{attr}` is shared with a thread and used check-then-act without one lock held: "
                f"another thread can {race} between the check on line {line} and this "
                f"{'pop' if check.act.kind == 'remove' else 'read'}",
                check.act,
            )
    sizes = ("mutate", "remove")
    resizes = [u for u in container.thread + container.other if u.kind in sizes and _changes_size(u, container)]
    for mutation in (u for u in container.thread if u in resizes):
        for iteration in (u for u in container.other if u.kind == "iterate" and not _in_fork_child(u)):
            if not (mutation.locks & iteration.locks):
                return (
                    f"`self.{attr}` is changed by a thread (line {mutation.node.lineno}) while other code "
                    "iterates it without a common lock",
                    iteration,
                )
    for iteration in (u for u in container.thread if u.kind == "iterate"):
        for mutation in (u for u in container.other if u in resizes and (started_in_init or not _setup(u.body))):
            if not (mutation.locks & iteration.locks):
                return (
                    f"a thread iterates `self.{attr}` while other code (line {mutation.node.lineno}) changes it "
                    "without a common lock",
                    iteration,
                )
    return None


def _in_fork_child(use: Use) -> bool:
    """Is ``use`` in the child's branch after ``pid = os.fork()`` (``if pid == 0:`` /
    ``if not pid:``)? The child runs with the forking thread alone."""
    forked = {
        target.id
        for node in own_nodes(use.body.node)
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)
        and (dotted_name(node.value.func) or "").rpartition(".")[2] in ("fork", "fork1")
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    if not forked:
        return False
    child, current = use.node, parent_of(use.node)
    while current is not None and current is not use.body.node:
        if isinstance(current, ast.If) and any(child is stmt for stmt in current.body):
            test = current.test
            if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not) and isinstance(test.operand, ast.Name):
                if test.operand.id in forked:
                    return True
            if (
                isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and test.left.id in forked
                and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)
                and isinstance(test.comparators[0], ast.Constant) and test.comparators[0].value == 0
            ):
                return True
        child, current = current, parent_of(current)
    return False


def _changes_size(use: Use, container: Container) -> bool:
    """Whether ``use`` (a mutation) can change the container's size under an iteration:
    ``x[i] = v`` on a list or deque replaces an item (only a dict grows by it)."""
    parent = parent_of(use.node)
    if (
        isinstance(parent, ast.Subscript)
        and isinstance(parent.ctx, ast.Store)
        and not isinstance(parent.slice, ast.Slice)
        and container.kinds
        and container.kinds <= QUEUE_LIKE
    ):
        return False
    return True


def _started_in_init(index: ProjectIndex, cls: ClassInfo) -> bool:
    """Whether ``__init__`` itself starts one of the class's threads: ``Thread(...).start()``,
    ``self._thread.start()`` / ``thread.start()`` of a thread it made, or ``self.start()`` of a
    `threading.Thread` subclass."""
    init = index.find_method(cls, "__init__")
    if init is None:
        return False
    starts = thread_starts(index, cls)
    made_here = {id(s.creation) for s in starts if s.creation is not None}
    held = {s.attr for s in starts if s.attr and s.creator is not None and s.creator.node is init.node}
    subclass = any(s.kind == "subclass" for s in starts)
    sid = self_name(init.node)
    local = {
        target.id
        for node in own_nodes(init.node)
        if isinstance(node, ast.Assign) and id(node.value) in made_here
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    for node in own_nodes(init.node):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "start"):
            continue
        receiver = node.func.value
        if id(receiver) in made_here or self_attr(receiver, sid) in held:
            return True
        if isinstance(receiver, ast.Name) and (receiver.id in local or (subclass and receiver.id == sid)):
            return True
    return False


def _setup(body: Body) -> bool:
    name = getattr(body.node, "name", "")
    return name.lstrip("_").startswith(_SETUP_PREFIXES) or name == "__init__"


def call_of(use: Use) -> Optional[ast.Call]:
    parent = parent_of(use.node)
    grand = parent_of(parent)
    if isinstance(parent, ast.Attribute) and isinstance(grand, ast.Call) and grand.func is parent:
        return grand
    return None


def all_uses(index: ProjectIndex, cls: ClassInfo, attr: str) -> List[Use]:
    uses: List[Use] = []
    for body in _class_bodies(index, cls, []):
        link_parents(body.node)
        for node in ast.walk(body.node):
            if self_attr(node, body.self_id) == attr:
                uses.append(Use(body, node, _kind(node), frozenset()))
    return uses
