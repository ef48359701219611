from __future__ import annotations

import ast
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Dict, FrozenSet, List, Optional, Set, Tuple

import libcst as cst

from zmqlint.codemods.threads import NodeFinder, ThreadLifecycleTransformer
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
from zmqlint.model import Applicability, Fix, ImportSpec, Severity
from zmqlint.rule import Invalid, Rule, Valid

if TYPE_CHECKING:  # pragma: no cover
    from zmqlint.gates import FileFacts

_CONTAINERS = {"list", "dict", "collections.deque", "collections.defaultdict", "collections.OrderedDict"}
_QUEUE_LIKE = {"list", "collections.deque"}
_REMOVERS = {"pop", "popleft", "popitem", "remove"}
_MUTATORS = _REMOVERS | {
    "append", "appendleft", "extend", "extendleft", "insert", "clear", "update", "setdefault", "sort",
    "reverse", "rotate", "discard", "add",
}
#: Calls that copy a container in one step (a snapshot, not an iteration other threads can see).
_SNAPSHOTS = {"list", "tuple", "dict", "set", "sorted", "len", "bool", "frozenset"}
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
    test_owner: ast.stmt  # the If / While
    act: Use
    locks: FrozenSet[str]


@dataclass
class Container:
    attr: str
    kinds: Set[str]
    thread: List[Use] = field(default_factory=list)
    other: List[Use] = field(default_factory=list)
    checks: List[CheckThenAct] = field(default_factory=list)


class UnsynchronizedSharedContainer(NodeFinder, Rule):
    """Flags lists, dicts and deques shared with a thread without a lock.

    ## What it does
    For a class that runs a thread body (a `Thread` target, `Timer` function, `run()` of a
    `Thread` subclass, a function given to an executor, and what they call on `self`), looks at
    every `list` / `dict` / `deque` attribute used both by that thread side and by the class's
    other methods, and reports it when no lock is held in common and:

    - some code checks the container and then acts on it (`if len(x) > 0: x.pop(0)`,
      `if x: x.pop()`, `while x: ...pop...`) outside one lock — always a race; or
    - the thread changes its size while other code iterates it; or
    - the thread iterates it while other code (not set-up code that runs before the thread
      starts, such as `__init__` or `register_*`) changes its size.

    Uses under a common `with self._lock:` (any `Lock`, `RLock`, `Condition` or `Semaphore`
    attribute) are silent, and so are thread-safe types (`queue.Queue` and friends). Replacing
    an item of a list or deque (`x[i] = v`) does not change its size, and an iteration in the
    child's branch after `os.fork()` runs with no other thread: neither is an iteration race.

    ## Why is this bad?
    Each list operation is atomic, a check followed by an act is not: between `len(x) > 0`
    and `x.pop(0)` another thread can take the last item, and the pop raises `IndexError` —
    in the field report, audio chunks of the face-recognition agent's `voice_buffer` were
    lost this way. Iterating a dict while another thread inserts raises `RuntimeError:
    dictionary changed size during iteration`.

    ## Example
    ```python
    def _process_voice_buffer(self):
        while not self._stop.is_set():
            if len(self.voice_buffer) > 0:
                chunk = self.voice_buffer.pop(0)
                self.handle(chunk)
            else:
                time.sleep(0.01)
    ```

    ## Use instead
    ```python
    def _process_voice_buffer(self):
        while not self._stop.is_set():
            try:
                chunk = self.voice_buffer.get_nowait()   # self.voice_buffer = queue.Queue()
            except queue.Empty:
                time.sleep(0.01)
            else:
                self.handle(chunk)
    ```

    ## Fix safety
    The fix is unsafe: it changes the attribute's type, which code outside the class may see.
    It is offered for a list (or deque) used as a FIFO when every use in the class converts:
    `self.x = []` -> `queue.Queue()`, `append` -> `put`, `len(x)` -> `x.qsize()`, `if x` ->
    `if not x.empty()`, and each `pop(0)` / `popleft()` either as the first statement of a
    check-then-act (which becomes `try: ...get_nowait() except queue.Empty: <else branch>`)
    or inside a `try` that handles `IndexError` (which then also handles `queue.Empty`).
    Anything else (indexing, iteration, `pop()` from the end, other assignments) is reported
    only: guard every use with one `threading.Lock` instead.
    """

    CODE = "THR502"
    NAME = "unsynchronized-shared-container"
    SEVERITY = Severity.MEDIUM
    MESSAGE = "Container shared with a thread without a lock"
    FIXES = (Applicability.UNSAFE,)
    # Thread bodies may come from a base class in another module: any class may qualify.
    PREFILTER = ("class",)

    VALID = [
        Valid(
            """
            import threading

            class Buffer:
                def __init__(self):
                    self._lock = threading.Lock()
                    self.items = []
                    threading.Thread(target=self._drain, daemon=True).start()

                def _drain(self):
                    with self._lock:
                        if self.items:
                            self.items.pop(0)

                def add(self, item):
                    with self._lock:
                        self.items.append(item)
            """
        ),
        Valid(
            """
            import queue, threading

            class Buffer:
                def __init__(self):
                    self.items = queue.Queue()
                    threading.Thread(target=self._drain, daemon=True).start()

                def _drain(self):
                    while True:
                        self.items.get()

                def add(self, item):
                    self.items.put(item)
            """
        ),
        # Filled before the thread starts, only read by it.
        Valid(
            """
            import threading

            class Server:
                def __init__(self):
                    self._handlers = {}
                    self._thread = None

                def register(self, name, handler):
                    self._handlers[name] = handler

                def start(self):
                    self._thread = threading.Thread(target=self._serve)
                    self._thread.start()

                def _serve(self):
                    for name, handler in self._handlers.items():
                        handler()
            """
        ),
        # Appended by one side, popped in try/except IndexError by the other: atomic operations.
        Valid(
            """
            import threading

            class Inbox:
                def __init__(self):
                    self.messages = []
                    threading.Thread(target=self._consume).start()

                def _consume(self):
                    try:
                        message = self.messages.pop(0)
                    except IndexError:
                        message = None

                def post(self, message):
                    self.messages.append(message)
            """
        ),
    ]

    INVALID = [
        Invalid(
            """
            import threading
            import time


            class FaceRecognitionAgent:
                def __init__(self):
                    self.voice_buffer = []
                    self._voice_thread = None

                def start(self):
                    self._voice_thread = threading.Thread(target=self._process_voice_buffer, daemon=True)
                    self._voice_thread.start()

                def _process_voice_buffer(self):
                    while True:
                        if len(self.voice_buffer) > 0:
                            chunk = self.voice_buffer.pop(0)
                            self.identify(chunk)
                        else:
                            time.sleep(0.01)

                def handle_request(self, request):
                    if request["action"] == "enqueue_voice":
                        self.voice_buffer.append(request["samples"])
                    return {"queued": len(self.voice_buffer)}
            """,
            line=17,
            column=25,
            end_column=49,
            message_contains="check-then-act",
            expected_fix=None,
            expected_unsafe_fix="""
            import threading
            import time
            import queue


            class FaceRecognitionAgent:
                def __init__(self):
                    self.voice_buffer = queue.Queue()
                    self._voice_thread = None

                def start(self):
                    self._voice_thread = threading.Thread(target=self._process_voice_buffer, daemon=True)
                    self._voice_thread.start()

                def _process_voice_buffer(self):
                    while True:
                        try:
                            chunk = self.voice_buffer.get_nowait()
                        except queue.Empty:
                            time.sleep(0.01)
                        else:
                            self.identify(chunk)

                def handle_request(self, request):
                    if request["action"] == "enqueue_voice":
                        self.voice_buffer.put(request["samples"])
                    return {"queued": self.voice_buffer.qsize()}
            """,
        ),
        # A drain loop over a deque, and an IndexError handler.
        Invalid(
            """
            import collections
            import threading


            class Sender(threading.Thread):
                def __init__(self):
                    super().__init__(daemon=True)
                    self.outbox = collections.deque()

                def run(self):
                    while self.outbox:
                        message = self.outbox.popleft()
                        print(message)

                def send(self, message):
                    self.outbox.append(message)

                def take_one(self):
                    try:
                        return self.outbox.popleft()
                    except IndexError:
                        return None
            """,
            line=12,
            expected_unsafe_fix="""
            import collections
            import threading
            import queue


            class Sender(threading.Thread):
                def __init__(self):
                    super().__init__(daemon=True)
                    self.outbox = queue.Queue()

                def run(self):
                    while True:
                        try:
                            message = self.outbox.get_nowait()
                        except queue.Empty:
                            break
                        print(message)

                def send(self, message):
                    self.outbox.put(message)

                def take_one(self):
                    try:
                        return self.outbox.get_nowait()
                    except (IndexError, queue.Empty):
                        return None
            """,
        ),
        # A dict iterated by other code while the thread inserts: reported, not converted.
        Invalid(
            """
            import threading
            import time


            class Monitor:
                def __init__(self):
                    self.last_seen = {}
                    self._thread = threading.Thread(target=self._listen, daemon=True)
                    self._thread.start()

                def _listen(self):
                    while True:
                        peer = self.receive()
                        self.last_seen[peer] = time.monotonic()

                def report(self):
                    return [peer for peer, seen in self.last_seen.items() if seen > 0]
            """,
            line=17,
            message_contains="iterates",
            expected_fix=None,
        ),
        # Each step locked, but the check and the act under different lock blocks.
        Invalid(
            """
            import threading


            class Jobs:
                def __init__(self):
                    self._lock = threading.Lock()
                    self.pending = []

                def start(self):
                    threading.Thread(target=self._work).start()

                def _work(self):
                    if self.pending:
                        with self._lock:
                            job = self.pending.pop()

                def add(self, job):
                    with self._lock:
                        self.pending.append(job)
            """,
            line=15,
            expected_fix=None,
        ),
    ]

    @classmethod
    def gate(cls, facts: "FileFacts") -> bool:
        # Exactly the rule's own question, on the stdlib ast (memoised for the rule to reuse):
        # a class of this file that runs a thread body (`thread_side`, whose starts may come
        # from a base class in another module) with a container hazard reported in this file.
        info = facts.module
        if info is None:
            return True
        return bool(info.classes) and bool(_hazards(facts.index, info))

    def leave_Module(self, original_node: cst.Module) -> None:
        info = self.context.module_info
        if info is None:
            return
        index: ProjectIndex = self.context.index
        for cls, container, message, use in _hazards(index, info):
            self._check(index, info, cls, container, message, use)

    def _check(
        self, index: ProjectIndex, info: ModuleInfo, cls: ClassInfo, container: Container, message: str, use: Use
    ) -> None:
        node = self.cst_node("expr", _call_of(use)) if _call_of(use) is not None else None
        if node is None:
            node = self.cst_node("attr", use.node)
        if node is None:
            return
        fix = self._queue_fix(index, info, cls, container)
        self.report(node, message, fix=fix)

    # -- the fix: list / deque -> queue.Queue --------------------------------------------------

    def _queue_fix(self, index: ProjectIndex, info: ModuleInfo, cls: ClassInfo, container: Container) -> Optional[Fix]:
        if not container.kinds <= _QUEUE_LIKE or not _queue_name_free(info):
            return None
        calls: Dict[cst.CSTNode, cst.CSTNode] = {}
        rebuild: Dict[cst.CSTNode, object] = {}
        handled: Set[int] = set()
        uses = _all_uses(index, cls, container.attr)
        if any(u.body.module is not info for u in uses):
            return None
        # Guarded pops first: they decide how the checks around them are rewritten.
        for check in container.checks:
            plan = self._plan_guarded_pop(check, container.attr)
            if plan is None:
                continue
            stmt_node, builder, covered, pop_node, get_nowait = plan
            rebuild[stmt_node] = builder
            calls[pop_node] = get_nowait
            handled |= covered
        for use in uses:
            if id(use.node) in handled:
                continue
            replacement = self._convert(use, rebuild)
            if replacement is None:
                return None
            target, new = replacement
            if target is not None:
                calls[target] = new
        return Fix(
            f"make `{container.attr}` a queue.Queue",
            Applicability.UNSAFE,
            transformer=lambda: ThreadLifecycleTransformer(calls=calls, rebuild=rebuild),
            add_imports=[ImportSpec("queue")],
        )

    def _convert(self, use: Use, rebuild: Dict[cst.CSTNode, object]) -> Optional[Tuple[Optional[cst.CSTNode], cst.CSTNode]]:
        parent = _parent(use.node)
        grand = _parent(parent)
        if use.kind == "assign":
            stmt = parent
            if (
                isinstance(stmt, ast.Assign)
                and len(stmt.targets) == 1
                and getattr(use.body.node, "name", "") == "__init__"
                and _empty_container(stmt.value)
            ):
                small = self.cst_node("small", stmt)
                if isinstance(small, cst.Assign):
                    return small, small.with_changes(value=cst.parse_expression("queue.Queue()"))
            return None
        if isinstance(parent, ast.Attribute) and isinstance(grand, ast.Call) and grand.func is parent:
            call = self.cst_node("expr", grand)
            if not isinstance(call, cst.Call):
                return None
            if parent.attr == "append" and len(grand.args) == 1 and not grand.keywords:
                return call, call.with_changes(func=call.func.with_changes(attr=cst.Name("put")))
            if _is_front_pop(grand) and _inside_index_error_try(grand):
                try_stmt = _enclosing_try(grand)
                try_node = self.cst_node("stmt", try_stmt)
                if isinstance(try_node, cst.Try):
                    rebuild.setdefault(try_node, _also_catch_empty)
                    return call, call.with_changes(func=call.func.with_changes(attr=cst.Name("get_nowait")), args=[])
            return None
        if isinstance(parent, ast.Call) and dotted_name(parent.func) == "len" and len(parent.args) == 1:
            call = self.cst_node("expr", parent)
            attr = self.cst_node("attr", use.node)
            if isinstance(call, cst.Call) and attr is not None:
                return call, cst.Call(func=cst.Attribute(value=attr, attr=cst.Name("qsize")))
            return None
        attr = self.cst_node("attr", use.node)
        if attr is None:
            return None
        if isinstance(parent, ast.UnaryOp) and isinstance(parent.op, ast.Not):
            return attr, cst.Call(func=cst.Attribute(value=attr, attr=cst.Name("empty")))
        if _in_truth_context(use.node, parent):
            empty = cst.Call(func=cst.Attribute(value=attr, attr=cst.Name("empty")))
            return attr, cst.UnaryOperation(operator=cst.Not(), expression=empty)
        return None

    def _plan_guarded_pop(self, check: CheckThenAct, attr: str):
        """``if <x not empty>: v = x.pop(0) ...`` -> try/get_nowait/except queue.Empty/else."""
        stmt = check.test_owner
        if not _nonempty_test(stmt.test, attr, check.act.body.self_id) or stmt.orelse and isinstance(stmt, ast.While):
            return None
        if isinstance(stmt, ast.If) and len(stmt.orelse) == 1 and isinstance(stmt.orelse[0], ast.If):
            return None  # an elif chain
        first = stmt.body[0]
        call = _front_pop_statement(first, attr, check.act.body.self_id)
        if call is None:
            return None
        others = [u for u in _attr_nodes(stmt, attr, check.act.body.self_id)]
        if len(others) != 2:  # the test's and the pop's
            return None
        node = self.cst_node("stmt", stmt)
        pop = self.cst_node("expr", call)
        if not isinstance(pop, cst.Call) or not isinstance(node, (cst.If, cst.While)):
            return None
        get_nowait = pop.with_changes(func=pop.func.with_changes(attr=cst.Name("get_nowait")), args=[])
        return node, _try_builder(isinstance(stmt, ast.While)), {id(n) for n in others}, pop, get_nowait


# -- building the rewrite ------------------------------------------------------------------


def _try_builder(is_loop: bool):
    """The check-then-act ``if``/``while`` (already holding ``get_nowait()``) as a try."""

    def build(updated):
        first, *rest = _statement_lines(updated.body)
        if is_loop:
            handler_body: List[cst.BaseStatement] = [cst.SimpleStatementLine([cst.Break()])]
        elif updated.orelse is not None:
            handler_body = _statement_lines(updated.orelse.body)
        else:
            handler_body = [cst.SimpleStatementLine([cst.Pass()])]
        handler = cst.ExceptHandler(
            body=cst.IndentedBlock(handler_body),
            type=cst.parse_expression("queue.Empty"),
        )
        try_stmt = cst.Try(body=cst.IndentedBlock([first]), handlers=[handler])
        if is_loop:
            return updated.with_changes(test=cst.Name("True"), body=updated.body.with_changes(body=[try_stmt, *rest]))
        if rest:
            try_stmt = try_stmt.with_changes(orelse=cst.Else(cst.IndentedBlock(rest)))
        return try_stmt.with_changes(leading_lines=updated.leading_lines)

    return build


def _statement_lines(suite: cst.BaseSuite) -> List[cst.BaseStatement]:
    """The statements of a block; those of a one-line suite (``if x: a; b``) as lines."""
    if isinstance(suite, cst.SimpleStatementSuite):
        return [cst.SimpleStatementLine([small.with_changes(semicolon=cst.MaybeSentinel.DEFAULT)]) for small in suite.body]
    return list(suite.body)


def _also_catch_empty(updated: cst.Try) -> cst.Try:
    handlers = []
    for handler in updated.handlers:
        if isinstance(handler.type, cst.Name) and handler.type.value == "IndexError":
            handler = handler.with_changes(type=cst.parse_expression("(IndexError, queue.Empty)"))
        handlers.append(handler)
    return updated.with_changes(handlers=handlers)


# -- facts about one class's containers -----------------------------------------------------


def _hazards(index: ProjectIndex, info: ModuleInfo) -> List[Tuple[ClassInfo, Container, str, Use]]:
    """(class, container, message, use) of each race to report in ``info``, in report order.
    Everything here is on the stdlib ast: the gate asks it, the rule reuses the answer."""

    def compute() -> List[Tuple[ClassInfo, Container, str, Use]]:
        found: List[Tuple[ClassInfo, Container, str, Use]] = []
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
                hazard = _hazard(container)
                if hazard is None:
                    continue
                message, use = hazard
                # A subclass in the same module shares its base's methods: one finding a place.
                if use.body.module is not info or id(use.node) in reported:
                    continue
                reported.add(id(use.node))
                found.append((cls, container, message, use))
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


def _link_parents(root: ast.AST) -> None:
    # Weak links: a tree holding strong links to parents is a cycle only the cyclic
    # collector frees.
    if getattr(root, "_zmqlint_linked", False):
        return
    root._zmqlint_linked = True  # type: ignore[attr-defined]
    for node in ast.walk(root):
        link = weakref.ref(node)
        for child in ast.iter_child_nodes(node):
            child._zmqlint_parent = link  # type: ignore[attr-defined]


def _parent(node: Optional[ast.AST]) -> Optional[ast.AST]:
    """``node``'s parent, once `_link_parents` linked its function."""
    link = getattr(node, "_zmqlint_parent", None)
    return link() if link is not None else None


def _locks_at(node: ast.AST, stop: ast.AST, locks: Set[str], self_id: Optional[str]) -> FrozenSet[str]:
    held: Set[str] = set()
    current = _parent(node)
    while current is not None and current is not stop:
        if isinstance(current, (ast.With, ast.AsyncWith)):
            for item in current.items:
                expr = item.context_expr
                attr = self_attr(expr, self_id)
                name = attr or dotted_name(expr) or ""
                if attr in locks or "lock" in name.lower():
                    held.add(name)
        current = _parent(current)
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
        _link_parents(body.node)
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
    """The uses of each ``self.<attr>`` in ``body``, and its check-then-act statements."""
    _link_parents(body.node)
    acquired = _acquired(body, locks) | entry
    result: Dict[str, Tuple[List[Use], List[CheckThenAct]]] = {}
    by_node: Dict[int, Use] = {}
    tests: List[ast.stmt] = []
    for node in own_nodes(body.node):
        attr = self_attr(node, body.self_id)
        if attr in attrs:
            use = Use(body, node, _kind(node), _locks_at(node, body.node, locks, body.self_id) | acquired)
            result.setdefault(attr, ([], []))[0].append(use)
            by_node[id(node)] = use
        elif isinstance(node, (ast.If, ast.While)):
            tests.append(node)
    for node in tests:
        for attr in {a for a in (self_attr(n, body.self_id) for n in ast.walk(node.test)) if a in attrs}:
            act = next(
                (
                    by_node[id(sub)]
                    for stmt in node.body
                    for sub in _attr_nodes(stmt, attr, body.self_id)
                    if id(sub) in by_node and (by_node[id(sub)].kind == "remove" or _is_subscript_read(sub))
                ),
                None,
            )
            if act is not None:
                locks_here = _locks_at(node, body.node, locks, body.self_id) | acquired
                result[attr][1].append(CheckThenAct(node, act, locks_here))
    return result


def _attr_nodes(root: ast.AST, attr: str, self_id: Optional[str]) -> List[ast.Attribute]:
    return [n for n in ast.walk(root) if self_attr(n, self_id) == attr]


def _kind(node: ast.Attribute) -> str:
    parent = _parent(node)
    grand = _parent(parent)
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
    parent = _parent(node)
    if isinstance(parent, (ast.For, ast.AsyncFor)) and parent.iter is node:
        return True
    if isinstance(parent, ast.comprehension) and parent.iter is node:
        # `list(x for x in d)` is still an iteration; a bare snapshot call is not.
        return True
    return False


def _is_subscript_read(node: ast.Attribute) -> bool:
    parent = _parent(node)
    return isinstance(parent, ast.Subscript) and parent.value is node and isinstance(parent.ctx, ast.Load)


def _hazard(container: Container) -> Optional[Tuple[str, Use]]:
    """(message, where) for the first race found on a shared container, or None."""
    attr = container.attr
    removes_elsewhere = any(u.kind == "remove" for u in container.thread + container.other)
    for check in container.checks:
        if check.act.kind != "remove" and not removes_elsewhere:
            continue
        others = [u for u in container.thread + container.other if u.kind in ("mutate", "remove") and u is not check.act]
        if not check.locks or any(not (check.locks & u.locks) for u in others):
            line = check.test_owner.lineno
            return (
                f"`self.{attr}` is shared with a thread and used check-then-act without one lock held: "
                f"another thread can empty it between the check on line {line} and this "
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
        for mutation in (u for u in container.other if u in resizes and not _setup(u.body)):
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
    child, current = use.node, _parent(use.node)
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
        child, current = current, _parent(current)
    return False


def _changes_size(use: Use, container: Container) -> bool:
    """Whether ``use`` (a mutation) can change the container's size under an iteration:
    ``x[i] = v`` on a list or deque replaces an item (only a dict grows by it)."""
    parent = _parent(use.node)
    if (
        isinstance(parent, ast.Subscript)
        and isinstance(parent.ctx, ast.Store)
        and not isinstance(parent.slice, ast.Slice)
        and container.kinds
        and container.kinds <= _QUEUE_LIKE
    ):
        return False
    return True


def _setup(body: Body) -> bool:
    name = getattr(body.node, "name", "")
    return name.lstrip("_").startswith(_SETUP_PREFIXES) or name == "__init__"


def _call_of(use: Use) -> Optional[ast.Call]:
    parent = _parent(use.node)
    grand = _parent(parent)
    if isinstance(parent, ast.Attribute) and isinstance(grand, ast.Call) and grand.func is parent:
        return grand
    return None


# -- conversion helpers ---------------------------------------------------------------------


def _all_uses(index: ProjectIndex, cls: ClassInfo, attr: str) -> List[Use]:
    uses: List[Use] = []
    for body in _class_bodies(index, cls, []):
        _link_parents(body.node)
        for node in ast.walk(body.node):
            if self_attr(node, body.self_id) == attr:
                uses.append(Use(body, node, _kind(node), frozenset()))
    return uses


def _empty_container(value: ast.expr) -> bool:
    if isinstance(value, ast.List) and not value.elts:
        return True
    if isinstance(value, ast.Call) and not value.args and not value.keywords:
        return dotted_name(value.func) in ("list", "deque", "collections.deque")
    return False


def _is_front_pop(call: ast.Call) -> bool:
    func = call.func
    if not isinstance(func, ast.Attribute):
        return False
    if func.attr == "popleft" and not call.args:
        return True
    return (
        func.attr == "pop"
        and len(call.args) == 1
        and isinstance(call.args[0], ast.Constant)
        and call.args[0].value == 0
        and not call.keywords
    )


def _front_pop_statement(stmt: ast.stmt, attr: str, self_id: Optional[str]) -> Optional[ast.Call]:
    value = stmt.value if isinstance(stmt, (ast.Expr, ast.Assign)) else None
    if isinstance(stmt, ast.Assign) and not (len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)):
        return None
    if isinstance(value, ast.Call) and _is_front_pop(value) and self_attr(value.func.value, self_id) == attr:
        return value
    return None


def _nonempty_test(test: ast.expr, attr: str, self_id: Optional[str]) -> bool:
    if self_attr(test, self_id) == attr:
        return True
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        left, op, right = test.left, test.ops[0], test.comparators[0]

        def is_len(node: ast.expr) -> bool:
            return (
                isinstance(node, ast.Call)
                and dotted_name(node.func) == "len"
                and len(node.args) == 1
                and self_attr(node.args[0], self_id) == attr
            )

        def const(node: ast.expr, value: int) -> bool:
            return isinstance(node, ast.Constant) and node.value == value and not isinstance(node.value, bool)

        if is_len(left):
            return (isinstance(op, (ast.Gt, ast.NotEq)) and const(right, 0)) or (isinstance(op, ast.GtE) and const(right, 1))
        if is_len(right):
            return (isinstance(op, (ast.Lt, ast.NotEq)) and const(left, 0)) or (isinstance(op, ast.LtE) and const(left, 1))
    if isinstance(test, ast.Call) and dotted_name(test.func) == "len" and len(test.args) == 1:
        return self_attr(test.args[0], self_id) == attr
    return False


def _enclosing_try(node: ast.AST) -> Optional[ast.Try]:
    current = _parent(node)
    child = node
    while current is not None:
        if isinstance(current, ast.Try) and child in current.body:
            return current
        if isinstance(current, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return None
        child, current = current, _parent(current)
    return None


def _inside_index_error_try(node: ast.AST) -> bool:
    stmt = _enclosing_try(node)
    return stmt is not None and any(
        isinstance(h.type, ast.Name) and h.type.id == "IndexError" for h in stmt.handlers
    )


def _in_truth_context(node: ast.AST, parent: Optional[ast.AST]) -> bool:
    if isinstance(parent, (ast.If, ast.While, ast.IfExp)) and parent.test is node:
        return True
    if isinstance(parent, ast.BoolOp):
        grand = _parent(parent)
        return _in_truth_context(parent, grand)
    if isinstance(parent, ast.Call) and dotted_name(parent.func) == "bool":
        return False
    return False


def _queue_name_free(info: ModuleInfo) -> bool:
    ref = info.imports.get("queue")
    if ref is not None:
        return ref.module == "queue" and ref.name is None
    for node in info.nodes:
        if isinstance(node, ast.Name) and node.id == "queue":
            return False
        if isinstance(node, ast.arg) and node.arg == "queue":
            return False
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == "queue":
            return False
    return True
