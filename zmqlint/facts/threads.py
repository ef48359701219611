"""Thread facts: which functions run in threads, which methods stop an object, what they signal.

Everything here reads the stdlib ``ast`` of modules through the `ProjectIndex` and is memoised
per run with ``index.memo``. The words used throughout:

- a *body* is a function that runs as the body of a thread: a ``Thread(target=...)`` /
  ``Timer(t, fn)`` target, the ``run()`` of a ``threading.Thread`` subclass, or a function
  handed to an executor (``submit``, ``run_in_executor``, ``asyncio.to_thread``);
- the *thread side* of a class is its bodies plus the methods they call on ``self``;
- a *stop path* is ``stop``, ``close``, ``shutdown``, ``cleanup``, ``terminate``,
  ``disconnect``, ``__exit__``, ``__del__`` (and ``stop_*`` ... variants), signal and
  ``atexit`` handlers, and what they call on ``self`` or ``super()``;
- a *signal* is ``<holder>.<event>.set()`` / ``.clear()`` or ``<holder>.<flag> = True/False``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Set, Tuple, Union

from zmqlint.index import ClassInfo, FunctionInfo, ModuleInfo, ProjectIndex, dotted_name, first_line, own_nodes, walk

FunctionNode = Union[ast.FunctionDef, ast.AsyncFunctionDef]

THREAD_CLASSES = {"threading.Thread", "threading.Timer"}
EVENT_CLASSES = {"threading.Event", "multiprocessing.Event"}
LOCK_CLASSES = {
    "threading.Lock", "threading.RLock", "threading.Condition", "threading.Semaphore",
    "threading.BoundedSemaphore", "multiprocessing.Lock", "multiprocessing.RLock",
}
#: Method names (without leading underscores) that end an object's life.
STOP_WORDS = {"stop", "close", "shutdown", "cleanup", "terminate", "disconnect", "exit", "del", "aclose", "aexit"}
#: Callables that hand a function to a pool of threads: qualified-ish tail -> argument index.
EXECUTOR_CALLS = {"submit": 0, "run_in_executor": 1, "to_thread": 0}
#: Registrations that make a function run at shutdown: tail -> argument index.
HANDLER_REGISTRATIONS = {"signal.signal": 1, "atexit.register": 0, "add_signal_handler": 1}


def is_stop_name(name: str) -> bool:
    words = name.strip("_").split("_")
    return bool(words) and (words[0] in STOP_WORDS or name.strip("_") in STOP_WORDS)


def self_name(function: FunctionNode) -> Optional[str]:
    args = function.args
    params = [*args.posonlyargs, *args.args]
    return params[0].arg if params else None


def self_attr(node: ast.AST, self_id: Optional[str]) -> Optional[str]:
    """``X`` for ``self.X``."""
    if self_id and isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == self_id:
        return node.attr
    return None


def qualified_call(module: ModuleInfo, call: ast.Call) -> str:
    name = dotted_name(call.func)
    return module.qualified_name(name) if name else ""


# -- bodies ---------------------------------------------------------------------------------


@dataclass
class Body:
    """A function that runs in a thread (or that such a function calls)."""

    node: FunctionNode
    module: ModuleInfo
    owner: Optional[ClassInfo]  # the class the function is defined in, if a method
    self_id: Optional[str]  # the name ``self`` goes by inside it (methods and their closures)

    def __hash__(self) -> int:
        return id(self.node)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Body) and other.node is self.node


@dataclass
class ThreadStart:
    """One place where a thread is created with a known body."""

    kind: str  # "thread", "timer", "executor", "subclass"
    body: Body
    creation: Optional[ast.Call]
    #: ``self.<attr>`` the thread object is stored in (threads only), when it is.
    attr: Optional[str] = None
    #: The method that creates it.
    creator: Optional[FunctionInfo] = None


def _nested_defs(function: FunctionNode) -> Dict[str, FunctionNode]:
    return {
        n.name: n
        for n in ast.walk(function)
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n is not function
    }


def _target_of(call: ast.Call, qualified: str) -> Tuple[Optional[str], Optional[ast.expr]]:
    """(kind, target expression) when ``call`` starts a thread or submits to a pool."""
    tail = qualified.rpartition(".")[2]
    if qualified in THREAD_CLASSES:
        kind = "timer" if tail == "Timer" else "thread"
        for kw in call.keywords:
            if kw.arg in ("target", "function"):
                return kind, kw.value
        # Thread(group, target, ...) and Timer(interval, function, ...): both second.
        return kind, call.args[1] if len(call.args) > 1 else None
    if isinstance(call.func, ast.Attribute) and tail in EXECUTOR_CALLS:
        index = EXECUTOR_CALLS[tail]
        if tail == "to_thread" and not qualified.startswith("asyncio"):
            return None, None
        if len(call.args) > index:
            return "executor", call.args[index]
    return None, None


def _resolve_function(index: ProjectIndex, target: ast.expr, where: FunctionInfo, cls: Optional[ClassInfo]) -> Optional[Body]:
    """The function a target expression names: ``self.m``, a nested def, a module function."""
    if isinstance(target, ast.Lambda) and isinstance(target.body, ast.Call):
        target = target.body.func
    sid = self_name(where.node) if where.owner is not None else None
    attr = self_attr(target, sid)
    if attr is not None and cls is not None:
        method = index.find_method(cls, attr)
        if method is not None:
            return Body(method.node, method.module, method.owner, self_name(method.node))
        return None
    if isinstance(target, ast.Name):
        nested = _nested_defs(where.node).get(target.id)
        if nested is not None:
            return Body(nested, where.module, where.owner, sid)
        symbol = index.resolve(where.module, target.id)
        if isinstance(symbol, FunctionInfo):
            return Body(symbol.node, symbol.module, symbol.owner, None)
    return None


def thread_starts(index: ProjectIndex, cls: ClassInfo) -> List[ThreadStart]:
    """Every thread body a class (with its resolvable bases) starts, and where it keeps it."""
    return index.memo(("threads.starts", cls.module.path, cls.name), lambda: _thread_starts(index, cls))


def _thread_starts(index: ProjectIndex, cls: ClassInfo) -> List[ThreadStart]:
    starts: List[ThreadStart] = []
    if index.is_subclass_of(cls, "threading.Thread"):
        run = index.find_method(cls, "run")
        if run is not None:
            starts.append(ThreadStart("subclass", Body(run.node, run.module, run.owner, self_name(run.node)), None))
    for klass in index.mro(cls):
        # Most methods of most classes start nothing (unittest.TestCase's hundred, asked by
        # every test class): ask for the ones that may, without a memo lookup per method.
        may_start = thread_start_functions(index, klass.module)
        for method in klass.methods.values():
            if id(method.node) in may_start:
                starts.extend(function_thread_starts(index, method, cls))
    return starts


def function_thread_starts(index: ProjectIndex, function: FunctionInfo, cls: Optional[ClassInfo]) -> List[ThreadStart]:
    """The threads ``function`` starts (``cls``: the class whose ``self`` it runs with)."""
    key = ("threads.function_starts", function.module.path, function.qualname, (cls.module.path, cls.name) if cls else None)
    return index.memo(key, lambda: _function_thread_starts(index, function, cls))


def _may_start_thread(index: ProjectIndex, module: ModuleInfo, call: ast.Call, subclasses: Dict[str, bool]) -> bool:
    """Whether `_function_thread_starts` could make a start of ``call`` (a wider question:
    the target is not looked at). ``subclasses`` caches, per callee name, whether the name
    resolves to a project subclass of ``threading.Thread``."""
    func = call.func
    if isinstance(func, ast.Attribute) and func.attr in EXECUTOR_CALLS:
        return True
    called = dotted_name(func)
    if not called:
        return False
    if module.qualified_name(called) in THREAD_CLASSES:
        return True
    if not called.rpartition(".")[2][:1].isupper():
        return False
    found = subclasses.get(called)
    if found is None:
        symbol = index.class_of_value(module, call)
        found = subclasses[called] = symbol is not None and index.is_subclass_of(symbol, "threading.Thread")
    return found


def thread_start_functions(index: ProjectIndex, module: ModuleInfo) -> Set[int]:
    """``id()`` of every function node of ``module`` (at any depth) whose subtree holds a call
    that may start a thread: only those can have `function_thread_starts`. One walk per module
    instead of three walks of every method for every class that inherits it."""

    def compute() -> Set[int]:
        found: Set[int] = set()
        subclasses: Dict[str, bool] = {}
        nodes = module.nodes
        kinds = (ast.FunctionDef, ast.AsyncFunctionDef)
        functions = [node for node in nodes if type(node) in kinds]
        if not functions:
            return found
        # A definition owns the lines from its first decorator to its end (no other statement
        # can share them), so the functions enclosing a call are those whose lines hold it.
        enclosing_at: Dict[int, Tuple[int, ...]] = {}
        for function in functions:
            for line in range(first_line(function), (function.end_lineno or function.lineno) + 1):
                enclosing_at[line] = enclosing_at.get(line, ()) + (id(function),)
        Call = ast.Call
        for node in nodes:
            if type(node) is Call:
                enclosing = enclosing_at.get(node.lineno)
                if (
                    enclosing
                    and not found.issuperset(enclosing)
                    and _may_start_thread(index, module, node, subclasses)  # type: ignore[arg-type]
                ):
                    found.update(enclosing)
        return found

    return index.memo(("threads.start_functions", module.path), compute)


def _function_thread_starts(index: ProjectIndex, function: FunctionInfo, cls: Optional[ClassInfo]) -> List[ThreadStart]:
    starts: List[ThreadStart] = []
    if id(function.node) not in thread_start_functions(index, function.module):
        return starts
    sid = self_name(function.node) if function.owner is not None else None
    stored: Dict[int, str] = {}
    locals_: Dict[str, ast.Call] = {}
    nodes = walk(function.node)
    for node in nodes:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            for target in node.targets:
                attr = self_attr(target, sid)
                if attr is not None:
                    stored[id(node.value)] = attr
                elif isinstance(target, ast.Name):
                    locals_[target.id] = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.value, ast.Call):
            attr = self_attr(node.target, sid)
            if attr is not None:
                stored[id(node.value)] = attr
            elif isinstance(node.target, ast.Name):
                locals_[node.target.id] = node.value
    # `t = Thread(...); self._thread = t`
    for node in nodes:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Name) and node.value.id in locals_:
            for target in node.targets:
                attr = self_attr(target, sid)
                if attr is not None:
                    stored[id(locals_[node.value.id])] = attr
    for node in nodes:
        if not isinstance(node, ast.Call):
            continue
        qualified = qualified_call(function.module, node)
        kind, target = _target_of(node, qualified)
        if kind is None:
            # A project subclass of threading.Thread constructed here (class names are
            # CapWords: resolving every call across modules would cost far more).
            called = dotted_name(node.func) or ""
            if not called.rpartition(".")[2][:1].isupper():
                continue
            symbol = index.class_of_value(function.module, node)
            if symbol is not None and index.is_subclass_of(symbol, "threading.Thread"):
                run = index.find_method(symbol, "run")
                if run is not None:
                    body = Body(run.node, run.module, run.owner, self_name(run.node))
                    starts.append(ThreadStart("subclass", body, node, stored.get(id(node)), function))
            continue
        if target is None:
            continue
        body = _resolve_function(index, target, function, cls)
        if body is not None:
            starts.append(ThreadStart(kind, body, node, stored.get(id(node)) if kind != "executor" else None, function))
    return starts


def is_daemon(index: ProjectIndex, start: ThreadStart) -> bool:
    """Is the thread ``start`` creates a daemon: ``Thread(..., daemon=True)``, then
    ``t.daemon = True`` / ``t.setDaemon(True)`` on the name or attribute holding it in the
    creating function, or a ``threading.Thread`` subclass passing ``daemon=True`` to its base
    or setting ``self.daemon = True``? Executor workers and timers are not."""
    if start.kind == "subclass":
        cls = start.body.owner
        init = index.find_method(cls, "__init__") if cls is not None else None
        return init is not None and _sets_daemon(init.node, self_name(init.node), None)
    if start.kind != "thread" or start.creation is None:
        return False
    if any(kw.arg == "daemon" and _true(kw.value) for kw in start.creation.keywords):
        return True
    creator = start.creator
    if creator is None:
        return False
    holder: Optional[str] = None
    for node in walk(creator.node):
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is start.creation:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            holder = dotted_name(targets[0])
    return holder is not None and _sets_daemon(creator.node, None, holder)


def _true(node: Optional[ast.AST]) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def _sets_daemon(function: FunctionNode, sid: Optional[str], holder: Optional[str]) -> bool:
    """``<holder>.daemon = True`` / ``<holder>.setDaemon(True)`` in ``function``; with ``sid``
    (a Thread subclass's ``__init__``): ``self.daemon = True`` or ``super().__init__(daemon=True)``."""
    for node in walk(function):
        if isinstance(node, ast.Assign) and _true(node.value):
            for target in node.targets:
                if isinstance(target, ast.Attribute) and target.attr == "daemon":
                    if dotted_name(target.value) in (holder, sid):
                        return True
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr == "setDaemon" and node.args and _true(node.args[0]) and dotted_name(node.func.value) in (holder, sid):
                return True
            if sid is not None and node.func.attr == "__init__" and any(kw.arg == "daemon" and _true(kw.value) for kw in node.keywords):
                return True
    return False


def calls_on_self(index: ProjectIndex, cls: ClassInfo, body: Body) -> List[Body]:
    """The functions ``body`` calls on ``self`` / ``super()`` (and nested defs it calls)."""
    found: List[Body] = []
    for node in own_nodes(body.node):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        attr = self_attr(func, body.self_id)
        method: Optional[FunctionInfo] = None
        if attr is not None:
            method = index.find_method(cls, attr)
        elif (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Call)
            and isinstance(func.value.func, ast.Name)
            and func.value.func.id == "super"
            and body.owner is not None
        ):
            mro = index.mro(cls)
            after = mro[mro.index(body.owner) + 1:] if body.owner in mro else []
            method = next((k.methods[func.attr] for k in after if func.attr in k.methods), None)
        elif isinstance(func, ast.Name):
            nested = _nested_defs(body.node).get(func.id)
            if nested is not None:
                found.append(Body(nested, body.module, body.owner, body.self_id))
        if method is not None:
            found.append(Body(method.node, method.module, method.owner, self_name(method.node)))
    return found


def closure(index: ProjectIndex, cls: ClassInfo, roots: List[Body], limit: int = 64) -> List[Body]:
    """``roots`` and everything they call on ``self``, transitively (bounded)."""
    seen: List[Body] = []
    stack = list(roots)
    while stack and len(seen) < limit:
        body = stack.pop(0)
        if body in seen:
            continue
        seen.append(body)
        stack.extend(calls_on_self(index, cls, body))
    return seen


def thread_side(index: ProjectIndex, cls: ClassInfo) -> List[Body]:
    """The bodies a class runs in threads and the methods they call on ``self``."""

    def compute() -> List[Body]:
        roots = [s.body for s in thread_starts(index, cls) if s.body.owner is not None or s.body.self_id]
        return closure(index, cls, roots)

    return index.memo(("threads.side", cls.module.path, cls.name), compute)


def stop_entries(index: ProjectIndex, cls: ClassInfo) -> List[Body]:
    """The methods that stop an object of ``cls``: stop-named ones and registered handlers."""
    entries: List[Body] = []
    names: Set[str] = set()
    for klass in index.mro(cls):
        for name in klass.methods:
            if is_stop_name(name) and name not in names:
                names.add(name)
                method = index.find_method(cls, name)
                if method is not None:
                    entries.append(Body(method.node, method.module, method.owner, self_name(method.node)))
        for method in klass.methods.values():
            sid = self_name(method.node)
            for node in ast.walk(method.node):
                if not isinstance(node, ast.Call):
                    continue
                qualified = qualified_call(method.module, node)
                for registration, position in HANDLER_REGISTRATIONS.items():
                    matches = qualified == registration or (
                        "." not in registration and qualified.rpartition(".")[2] == registration
                    )
                    if matches and len(node.args) > position:
                        attr = self_attr(node.args[position], sid)
                        handler = index.find_method(cls, attr) if attr else None
                        if handler is not None:
                            entries.append(Body(handler.node, handler.module, handler.owner, self_name(handler.node)))
    return entries


def stop_path(index: ProjectIndex, cls: ClassInfo) -> List[Body]:
    return index.memo(("threads.stop", cls.module.path, cls.name), lambda: closure(index, cls, stop_entries(index, cls)))


# -- attributes -----------------------------------------------------------------------------


def attribute_kind(index: ProjectIndex, cls: ClassInfo, attr: str) -> Set[str]:
    """Qualified names of what ``self.<attr>`` is assigned (``threading.Event``, ``list``, ...)."""
    kinds: Set[str] = set()
    for klass in index.mro(cls):
        for value in klass.attributes.get(attr, []):
            kinds.add(value_kind(klass.module, value))
    return kinds


def value_kind(module: ModuleInfo, value: ast.expr) -> str:
    if isinstance(value, ast.List) or isinstance(value, ast.ListComp):
        return "list"
    if isinstance(value, (ast.Dict, ast.DictComp)):
        return "dict"
    if isinstance(value, (ast.Set, ast.SetComp)):
        return "set"
    if isinstance(value, ast.Constant):
        return "None" if value.value is None else type(value.value).__name__
    if isinstance(value, ast.Call):
        name = dotted_name(value.func)
        if name:
            return module.qualified_name(name)
    return "?"


def may_be_none(index: ProjectIndex, cls: ClassInfo, attr: str) -> bool:
    return "None" in attribute_kind(index, cls, attr)


def assigned_in_init(index: ProjectIndex, cls: ClassInfo, attr: str) -> bool:
    for klass in index.mro(cls):
        if attr in klass.attributes and any(
            isinstance(stmt, (ast.Assign, ast.AnnAssign)) and attr in _names_assigned(stmt) for stmt in klass.node.body
        ):
            return True
        init = klass.methods.get("__init__")
        if init is not None:
            sid = self_name(init.node)
            for node in ast.walk(init.node):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
                if any(self_attr(t, sid) == attr for t in targets):
                    return True
    return False


def _names_assigned(stmt: ast.stmt) -> Set[str]:
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
    return {t.id for t in targets if isinstance(t, ast.Name)}


def attributes_read(body: Body) -> Set[str]:
    """``self.X`` names a body reads or calls methods on."""
    return {a for a in (self_attr(n, body.self_id) for n in own_nodes(body.node)) if a}


@dataclass
class ThreadAttribute:
    """A thread object an instance keeps in ``self.<attr>``."""

    owner: ClassInfo
    attr: str
    starts: List[ThreadStart] = field(default_factory=list)
    #: ``self.X`` the thread's side reads (its stop signals are among them).
    reads: Set[str] = field(default_factory=set)
    #: ``self.X`` the thread's side tests to decide whether to go on (loop conditions, and
    #: ``if`` tests that break or return): what a cleared event or a flag can stop.
    loop_reads: Set[str] = field(default_factory=set)
    started_where_created: bool = True
    calls_stop_path: bool = False


def thread_attributes(index: ProjectIndex, cls: ClassInfo) -> Dict[str, ThreadAttribute]:
    return index.memo(("threads.attrs", cls.module.path, cls.name), lambda: _thread_attributes(index, cls))


def _thread_attributes(index: ProjectIndex, cls: ClassInfo) -> Dict[str, ThreadAttribute]:
    result: Dict[str, ThreadAttribute] = {}
    kept = [s for s in thread_starts(index, cls) if s.attr is not None and s.kind != "executor"]
    if not kept:  # most classes: no need to look for the stop path
        return result
    stop_nodes = {id(b.node) for b in stop_entries(index, cls)}
    for start in kept:
        entry = result.setdefault(start.attr, ThreadAttribute(cls, start.attr))
        entry.starts.append(start)
        side = closure(index, start.body.owner or cls, [start.body]) if start.body.owner is not None else [start.body]
        for body in side:
            entry.reads |= attributes_read(body)
            entry.loop_reads |= _attributes_deciding_exit(body)
            if id(body.node) in stop_nodes:
                entry.calls_stop_path = True
        if start.creator is not None and not _starts_attr(start.creator, start.attr):
            entry.started_where_created = False
    return result


def _attributes_deciding_exit(body: Body) -> Set[str]:
    found: Set[str] = set()
    for node in own_nodes(body.node):
        decides = isinstance(node, ast.While) or (
            isinstance(node, ast.If)
            and any(isinstance(n, (ast.Break, ast.Return, ast.Raise)) for stmt in node.body for n in ast.walk(stmt))
        )
        if decides:
            found |= {a for a in (self_attr(n, body.self_id) for n in ast.walk(node.test)) if a}
    return found


def _starts_attr(function: FunctionInfo, attr: str) -> bool:
    sid = self_name(function.node)
    for node in ast.walk(function.node):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "start":
            if self_attr(node.func.value, sid) == attr:
                return True
            if isinstance(node.func.value, ast.Name):  # t.start(); self._thread = t
                return True
    return False


# -- locks ----------------------------------------------------------------------------------


def lock_attributes(index: ProjectIndex, cls: ClassInfo) -> Set[str]:
    """``self.X`` attributes holding a lock (by construction, or by a lock-like name)."""
    locks: Set[str] = set()
    for klass in index.mro(cls):
        for attr, values in klass.attributes.items():
            kinds = {value_kind(klass.module, v) for v in values}
            if kinds & LOCK_CLASSES or any(k.endswith(("Lock", "RLock", "Condition", "Semaphore")) for k in kinds):
                locks.add(attr)
            elif any(word in attr.lower() for word in ("lock", "mutex")):
                locks.add(attr)
    return locks


def is_event_attribute(index: ProjectIndex, cls: ClassInfo, attr: str) -> bool:
    kinds = attribute_kind(index, cls, attr)
    return bool(kinds & EVENT_CLASSES) or any(k.endswith(".Event") for k in kinds)


def function_info_for(index: ProjectIndex, module: ModuleInfo, node: FunctionNode) -> Optional[FunctionInfo]:
    for cls in module.classes.values():
        for method in cls.methods.values():
            if method.node is node:
                return method
    for func in module.functions.values():
        if func.node is node:
            return func
    return None


def joined_on_path(index: ProjectIndex, path: List[Body], holder: str, thread: ThreadAttribute) -> bool:
    """Whether anything on the stop ``path`` joins ``<holder>.<thread.attr>`` (directly, through
    a local alias, in a loop over threads, or by handing it to a helper), or stops the holder
    object through a stop method of its own that joins it."""
    for body in path:
        sid = body.self_id or "self"
        local_holder = holder.replace("self", sid, 1) if holder.startswith("self") else holder
        if _joins(body, f"{local_holder}.{thread.attr}"):
            return True
        if "." in holder:
            for node in own_nodes(body.node):
                func = dotted_name(node.func) if isinstance(node, ast.Call) else None
                if func and func.startswith(local_holder + ".") and is_stop_name(func.rpartition(".")[2]):
                    owner_path = stop_path(index, thread.owner)
                    if any(_joins(b, f"{b.self_id}.{thread.attr}") for b in owner_path):
                        return True
    return False


def _joins(body: Body, wanted: str) -> bool:
    names = {wanted}
    for node in own_nodes(body.node):  # `thread = self._thread` ... `thread.join()`
        if isinstance(node, ast.Assign) and dotted_name(node.value) == wanted:
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    for node in own_nodes(body.node):
        if isinstance(node, ast.Call):
            func = dotted_name(node.func)
            if func is not None and func.endswith(".join") and func[: -len(".join")] in names:
                return True
            if any(dotted_name(a) in names for a in [*node.args, *(k.value for k in node.keywords)]):
                return True
        elif isinstance(node, ast.For):
            if any(dotted_name(e) in names for e in ast.walk(node.iter)):
                return True
    return False
