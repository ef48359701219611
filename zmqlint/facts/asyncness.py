"""What is async: which callables a call reaches, and whether their result can be awaited.

The ASY rules ask one question of a call such as ``self.rpc_server.start()`` found inside a
coroutine: *does every callable this call can reach return something that is not awaitable?*
The answer is ``SyncCallees`` (the plain functions reached) or ``None`` (some callee is async,
returns an awaitable, may do so, or cannot be resolved: unknown means silent).

Resolution is static and cross-module, on the project index (stdlib ``ast``; the analysed code
is never imported):

- ``self.method`` in a class, inherited methods included;
- ``self.attr.method`` where ``self.attr = Cls(...)`` anywhere in the class or its bases
  (several assignments of different project classes: every one must agree);
- locals (``server = Server(...)``, ``server = self.server``), loop and comprehension
  variables over a list / tuple literal or over a method or function returning one;
- parameters annotated with a project class (``server: Server``, ``Optional[Server]``);
- instances made on the spot or by a factory (``Server(port).start``, ``connect().start``
  where ``connect`` returns ``Server(...)``);
- module-level functions and instances, classes and functions imported absolutely, relatively,
  re-exported by a package's ``__init__.py``, or from a folder the program puts on
  ``sys.path`` (what `ProjectIndex.resolve` understands), and named through their module
  (``from . import transport`` then ``transport.HttpFront()``);
- ``super().method``;
- a few blocking library functions (``time.sleep``, ``subprocess.run``, ``requests.get``) and
  ``start`` / ``join`` inherited from ``threading.Thread``.

Methods whose body is only ``pass`` / ``...`` / ``raise NotImplementedError`` are interfaces:
what a subclass returns is unknown. The exception is a receiver built by name from one
project class in every assignment (``self.http = HttpFront()``, ``server = Server()``,
``Server().stop``): no subclass can stand in for it, so its ``pass`` / docstring-only method is
exactly what runs (`_constructed_here`). `uses_event_loop` tells the fixes whether a sync callee
schedules work on the running loop (it must then stay on the loop's thread).

A plain ``def`` is "sync" when it is not a generator, is not wrapped by a decorator that may
change what it returns, and every ``return`` gives something that cannot be awaited: nothing,
a literal, a container, a comparison, a call of a known non-awaitable builtin, or a call of
another project function or class that is itself sync. Returning the result of an async call,
``create_task`` / ``ensure_future`` / ``run_in_executor``, a Future or anything unknown (a
parameter, ``self._task``) makes the answer unknown.
"""

from __future__ import annotations

import ast
from collections import deque
from dataclasses import dataclass
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple, Union

from zmqlint.index import ClassInfo, FunctionInfo, ModuleInfo, ProjectIndex, dotted_name, own_nodes

# Tri-state answer of "can the result of calling this be awaited?"
AWAITABLE = "awaitable"
NOT_AWAITABLE = "not-awaitable"
UNKNOWN = "unknown"

#: Decorators that leave a plain function's return value alone.
_TRANSPARENT_DECORATORS = {
    "staticmethod",
    "classmethod",
    "override",
    "typing.override",
    "typing_extensions.override",
    "final",
    "typing.final",
    "typing_extensions.final",
}

#: Builtins whose result is never awaitable.
_PLAIN_BUILTINS = {
    "len", "str", "repr", "int", "float", "bool", "bytes", "list", "dict", "set", "frozenset",
    "tuple", "sorted", "min", "max", "sum", "abs", "round", "isinstance", "issubclass", "format",
    "print", "hash", "id", "any", "all", "ord", "chr", "hex", "divmod", "callable",
}

#: Calls (qualified, or attribute names of any receiver) whose result is awaitable.
_AWAITABLE_FACTORIES = {
    "asyncio.create_task", "asyncio.ensure_future", "asyncio.gather", "asyncio.wait_for",
    "asyncio.shield", "asyncio.sleep", "asyncio.Future", "asyncio.Task", "asyncio.to_thread",
    "asyncio.wrap_future", "asyncio.wait", "asyncio.timeout",
}
_AWAITABLE_METHODS = {"create_task", "ensure_future", "run_in_executor", "create_future", "to_thread", "wrap_future"}

#: How deep the return-value analysis follows calls into other functions.
_MAX_DEPTH = 8

Binding = Tuple[str, Optional[ast.expr]]  # ("value", expr) | ("element", iterable) | ("unknown", None)


#: Library functions that block and return a plain value (qualified names).
KNOWN_SYNC_FUNCTIONS = {
    "time.sleep", "subprocess.run", "subprocess.call", "subprocess.check_call",
    "subprocess.check_output", "os.system", "socket.create_connection", "urllib.request.urlopen",
    "shutil.copyfile", "shutil.copytree", "shutil.rmtree", "requests.get", "requests.post",
    "requests.put", "requests.patch", "requests.delete", "requests.head", "requests.request",
}
#: Blocking methods that project classes inherit from library bases.
KNOWN_SYNC_METHODS = {
    "threading.Thread": {"start", "join"},
    "multiprocessing.Process": {"start", "join"},
}


@dataclass(frozen=True)
class LibraryFunction:
    """A library callable known to block and return a plain value (``time.sleep``)."""

    qualified: str


@dataclass(frozen=True)
class SyncCallees:
    """Every callable a call can reach, all plain functions whose result cannot be awaited."""

    functions: Tuple[Union[FunctionInfo, LibraryFunction], ...]
    #: Some callee uses the event loop (``asyncio.create_task``, ``loop.call_soon``, an
    #: ``asyncio.Queue`` ...), so it must keep running on the loop's thread.
    uses_event_loop: bool = False

    def describe(self, root=None) -> str:
        """"`RpcServer.start` (transport/rpc_server.py:49) is a plain `def`" (or "... are")."""
        parts = []
        for func in self.functions:
            if isinstance(func, LibraryFunction):
                parts.append(f"`{func.qualified}`")
                continue
            where = func.module.path
            if root is not None:
                try:
                    where = where.relative_to(root)
                except ValueError:
                    pass
            parts.append(f"`{func.qualname}` ({where.as_posix()}:{func.node.lineno})")
        library = any(isinstance(f, LibraryFunction) for f in self.functions)
        if len(parts) == 1:
            return f"{parts[0]} {'blocks and is not async' if library else 'is a plain `def`'}"
        listed = f"{', '.join(parts[:-1])} and {parts[-1]}"
        return f"{listed} {'block and are not async' if library else 'are plain `def`s'}"


# -- public entry points ---------------------------------------------------------------------


def sync_callees(index: ProjectIndex, module: ModuleInfo, dotted: str, line: int) -> Optional[SyncCallees]:
    """The plain functions a call of ``dotted`` at ``line`` of ``module`` reaches, when every
    one of them returns something that cannot be awaited; None when any is async, may return an
    awaitable, or cannot be resolved."""
    scope = _Scope.at(index, module, line)
    targets = scope.callables(dotted)
    if not targets:
        return None
    functions: List[Union[FunctionInfo, LibraryFunction]] = []
    for target, open_dispatch in targets:
        if isinstance(target, LibraryFunction):
            functions.append(target)
            continue
        if not isinstance(target, FunctionInfo):
            return None
        if target.owner is not None and _is_stub(target) and not (
            not open_dispatch and _is_empty(target) and _constructed_here(scope, dotted, target)
        ):
            return None  # an interface method (or a placeholder): subclasses decide
        if returns_awaitable(index, target) != NOT_AWAITABLE:
            return None
        if target not in functions:
            functions.append(target)
    loop_bound = any(uses_event_loop(index, f) for f in functions if isinstance(f, FunctionInfo))
    return SyncCallees(tuple(functions), loop_bound)


#: asyncio functions that are fine off the loop's thread (they make their own loop, or are
#: meant to be called from other threads).
_THREAD_SAFE_ASYNCIO = {"asyncio.run", "asyncio.new_event_loop", "asyncio.set_event_loop", "asyncio.run_coroutine_threadsafe"}
#: Attribute names that are event-loop APIs whatever the receiver.
_LOOP_METHODS = {
    "create_task", "ensure_future", "get_running_loop", "get_event_loop", "call_soon", "call_later",
    "call_at", "create_future", "run_in_executor", "add_reader", "add_writer", "remove_reader",
    "remove_writer", "add_signal_handler", "create_server", "create_connection", "start_server",
}


def uses_event_loop(index: ProjectIndex, func: FunctionInfo, depth: int = 0) -> bool:
    """True when ``func`` (or a project function it calls, a few levels deep) touches the
    event loop: asyncio APIs, loop methods, a ``loop`` attribute. Such a function must not be
    moved onto a worker thread (no running loop there)."""
    decided: Dict[tuple, bool] = index.memo(("asyncness.loop",), dict)
    key = (func.module.path, func.qualname, func.node.lineno)
    if key not in decided:
        decided[key] = False  # a recursive call sees "no" while this one is being decided
        decided[key] = _uses_event_loop(index, func, depth)
    return decided[key]


def _uses_event_loop(index: ProjectIndex, func: FunctionInfo, depth: int) -> bool:
    scope = _Scope.of_function(index, func)
    for node in own_nodes(func.node):
        if isinstance(node, ast.Attribute) and (node.attr in _LOOP_METHODS or "loop" in node.attr.lower()):
            return True
        if isinstance(node, ast.Name) and "loop" in node.id.lower():
            return True
        name = dotted_name(node) if isinstance(node, (ast.Name, ast.Attribute)) else None
        if name is not None:
            qualified = func.module.qualified_name(name)
            if qualified.startswith("asyncio.") and qualified not in _THREAD_SAFE_ASYNCIO:
                return True
        if isinstance(node, ast.Call) and depth < 3:
            callee = call_name(node.func)
            targets = scope.callables(callee) if callee else None
            for target, _ in targets or []:
                if isinstance(target, FunctionInfo) and not target.is_async and uses_event_loop(index, target, depth + 1):
                    return True
    return False


def module_calls(index: ProjectIndex, module: ModuleInfo, nodes: Optional[Iterable[ast.AST]] = None) -> Dict[str, Set[int]]:
    """Callee name (`call_name`) -> lines of the calls of ``module``, read once per run.

    ``nodes``, when given, are every ``ast.Call`` of ``module.tree`` (a gate's shared walk,
    `zmqlint.gates.FileFacts.nodes`), which saves walking the tree once more."""
    return index.memo(("asyncness.calls", module.path), lambda: _calls_by_name(module.tree, nodes))


def sync_calls_named(index: ProjectIndex, module: ModuleInfo, dotted: str) -> Dict[int, SyncCallees]:
    """Line -> `SyncCallees` for the calls of ``dotted`` in ``module`` that reach only sync
    functions. Cheap for a rule to ask before it needs a node's position: the module's calls
    are read from its ``ast`` once, and each name is resolved once per module."""
    calls = module_calls(index, module)
    lines = calls.get(dotted)
    if not lines:
        return {}

    def compute() -> Dict[int, SyncCallees]:
        found = {}
        for line in sorted(lines):
            callees = sync_callees(index, module, dotted, line)
            if callees is not None:
                found[line] = callees
        return found

    return index.memo(("asyncness.sync", module.path, dotted), compute)


def call_name(func: ast.expr) -> Optional[str]:
    """The ``ast`` twin of `zmqlint.codemods.aio.dotted`: ``a.b``, ``Server().start``."""
    parts: List[str] = []
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if isinstance(func, ast.Name):
        parts.append(func.id)
    elif isinstance(func, ast.Call) and parts:
        head = dotted_name(func.func)
        if head is None:
            return None
        parts.append(f"{head}()")
    else:
        return None
    return ".".join(reversed(parts))


def _calls_by_name(tree: ast.Module, nodes: Optional[Iterable[ast.AST]] = None) -> Dict[str, Set[int]]:
    calls: Dict[str, Set[int]] = {}
    for node in ast.walk(tree) if nodes is None else nodes:
        if isinstance(node, ast.Call):
            name = call_name(node.func)
            if name is not None:
                calls.setdefault(name, set()).add(node.lineno)
    return calls


def returns_awaitable(index: ProjectIndex, func: FunctionInfo) -> str:
    """AWAITABLE, NOT_AWAITABLE or UNKNOWN for what calling ``func`` gives."""
    key = ("asyncness.returns", func.module.path, func.qualname, func.node.lineno)
    return index.memo(key, lambda: _Returns(index).of_function(func, 0))


# -- scopes and bindings ---------------------------------------------------------------------


class _Scope:
    """Name resolution inside one function (or the module body) of one module."""

    def __init__(self, index: ProjectIndex, module: ModuleInfo, cls: Optional[ClassInfo], func: Optional[FunctionInfo]):
        self.index = index
        self.module = module
        self.cls = cls
        self.func = func

    @classmethod
    def at(cls, index: ProjectIndex, module: ModuleInfo, line: int) -> "_Scope":
        chain = module.scope_at(line)
        klass = next((s for s in reversed(chain) if isinstance(s, ClassInfo)), None)
        func = next((s for s in reversed(chain) if isinstance(s, FunctionInfo)), None)
        return cls(index, module, klass, func)

    @classmethod
    def of_function(cls, index: ProjectIndex, func: FunctionInfo) -> "_Scope":
        return cls(index, func.module, func.owner, func)

    # -- names

    @property
    def self_name(self) -> Optional[str]:
        func = self.func
        if func is None or func.owner is None or not func.parameters:
            return None
        if any(d in ("staticmethod", "classmethod") for d in func.decorators):
            return None
        return func.parameters[0]

    def local_bindings(self, name: str) -> Optional[List[Binding]]:
        """Every way ``name`` is bound in the function (None: not bound there, so global)."""
        if self.func is None:
            return None
        key = ("asyncness.locals", self.module.path, self.func.qualname, self.func.node.lineno)
        table = self.index.memo(key, lambda: _collect_bindings(self.func.node, function=True))
        return table.get(name)

    def global_bindings(self, name: str) -> List[Binding]:
        key = ("asyncness.globals", self.module.path)
        table = self.index.memo(key, lambda: _collect_bindings(self.module.tree, function=False))
        return table.get(name, [])

    # -- what a name or expression refers to

    def callables(self, dotted: str) -> Optional[List[Tuple[Union[FunctionInfo, ClassInfo], bool]]]:
        """What calling ``dotted`` may reach, each with "open dispatch" (reached through ``self``
        or ``super()``, so a subclass may override it); None when unknown."""
        if "()." in dotted:
            # `Server(port).start`, `make_server().start`, `super().start`
            made, _, method = dotted.rpartition(".")
            made = made[:-2]
            if made == "super":
                return self._super_method(method)
            if "." in method or "()" in made:
                return None
            classes = self.call_result_classes(made, 0)
            if not classes:
                return None
            return self._methods_of(classes, method)
        parts = dotted.split(".")
        if len(parts) == 1:
            symbol = self.symbol(parts[0])
            if isinstance(symbol, (FunctionInfo, ClassInfo)):
                return [(symbol, False)]
            return self._library_function(dotted)
        *receiver, method = parts
        if receiver == [self.self_name] and self.cls is not None:
            found = self.index.find_method(self.cls, method)
            return [(found, True)] if found is not None and _found_reliably(self.index, self.cls, method) else None
        classes = self.instance_classes_of_dotted(receiver)
        if classes:
            return self._methods_of(classes, method)
        # A module or a class named directly: `helpers.shutdown()`, `Server.start(server)`.
        if self.local_bindings(receiver[0]) is None:
            symbol = self.index.resolve(self.module, ".".join(parts))
            if isinstance(symbol, (FunctionInfo, ClassInfo)):
                return [(symbol, False)]
            if symbol is None:
                return self._library_function(dotted)
        return None

    def _library_function(self, dotted: str) -> Optional[List[Tuple[LibraryFunction, bool]]]:
        """``time.sleep`` / ``sleep`` imported from ``time``: a known blocking library function."""
        head = dotted.partition(".")[0]
        if head not in self.module.imports or self.local_bindings(head) is not None or self.global_bindings(head):
            return None
        qualified = self.module.qualified_name(dotted)
        return [(LibraryFunction(qualified), False)] if qualified in KNOWN_SYNC_FUNCTIONS else None

    def _methods_of(self, classes: List[ClassInfo], method: str) -> Optional[List[Tuple[Union[FunctionInfo, LibraryFunction], bool]]]:
        result: List[Tuple[Union[FunctionInfo, LibraryFunction], bool]] = []
        for klass in classes:
            found = self.index.find_method(klass, method)
            if found is None:
                # `worker.start()` of a `threading.Thread` subclass that does not override it.
                library = next(
                    (base for base, methods in KNOWN_SYNC_METHODS.items() if method in methods and self.index.is_subclass_of(klass, base)),
                    None,
                )
                if library is None:
                    return None
                result.append((LibraryFunction(f"{library}.{method}"), False))
                continue
            if not _found_reliably(self.index, klass, method):
                return None
            result.append((found, False))
        return result

    def call_result_classes(self, name: str, depth: int) -> Optional[List[ClassInfo]]:
        """The classes of what calling ``name`` gives: the class itself, or the instances a
        plain factory function returns (``def connect(): return Server()``)."""
        targets = self.callables(name) if depth <= _MAX_DEPTH else None
        if not targets:
            return None
        classes: List[ClassInfo] = []
        for target, open_dispatch in targets:
            if isinstance(target, LibraryFunction):
                return None
            if isinstance(target, ClassInfo):
                found = [target]
            elif open_dispatch or target.is_async or _decorators_change(target) or _is_generator(target.node):
                return None
            else:
                returned = _returned_values(target.node)
                if any(v is None for v in returned):
                    return None
                scope = _Scope.of_function(self.index, target)
                found = []
                for value in returned:
                    more = scope.expression_classes(value, depth + 1)
                    if not more:
                        return None
                    found.extend(k for k in more if k not in found)
            classes.extend(k for k in found if k not in classes)
        return classes or None

    def _super_method(self, method: str) -> Optional[List[Tuple[FunctionInfo, bool]]]:
        if self.cls is None:
            return None
        for klass in self.index.mro(self.cls)[1:]:
            if method in klass.methods:
                return [(klass.methods[method], True)]
        return None

    def symbol(self, name: str) -> Optional[Union[FunctionInfo, ClassInfo, ModuleInfo]]:
        """A function, class or module that a bare ``name`` refers to here (not a local)."""
        if self.local_bindings(name) is not None:
            return None
        bindings = self.global_bindings(name)
        if bindings and name not in self.module.functions and name not in self.module.classes:
            # A module-level alias (`Server = rpc.GrpcServer`) is followed; any other value
            # (or several assignments) is not a def.
            if len(bindings) > 1 or bindings[0][0] != "value" or dotted_name(bindings[0][1]) is None:
                return None
        return self.index.resolve(self.module, name)

    def instance_classes_of_dotted(self, parts: Sequence[str], depth: int = 0) -> Optional[List[ClassInfo]]:
        """The project classes whose instances ``a.b.c`` may hold (all of them), or None."""
        head, rest = parts[0], list(parts[1:])
        if head == self.self_name and self.cls is not None:
            if not rest:
                return [self.cls]
            classes = self.attribute_classes(self.cls, rest[0], depth)
            rest = rest[1:]
        else:
            classes = self.name_classes(head, depth)
        for attr in rest:
            if not classes:
                return None
            merged: List[ClassInfo] = []
            for klass in classes:
                found = self.attribute_classes(klass, attr, depth)
                if not found:
                    return None
                merged.extend(k for k in found if k not in merged)
            classes = merged
        return classes or None

    def constructed_classes(self, parts: Sequence[str]) -> Set[ClassInfo]:
        """The project classes ``self.attr`` / ``name`` is built from by name (``Cls(...)``) in
        every one of its assignments; empty when any assignment is something else."""
        if len(parts) == 2 and parts[0] == self.self_name and self.cls is not None:
            values = []
            for klass in self.index.mro(self.cls):
                if klass.dynamic_attributes:
                    return set()
                values.extend(
                    (klass, value)
                    for value in klass.attributes.get(parts[1], [])
                    if not (isinstance(value, ast.Constant) and value.value is None)
                )
            scopes = [(_Scope(self.index, k.module, k, _method_holding(k, v)), v) for k, v in values]
        elif len(parts) == 1 and parts[0] != self.self_name:
            bindings = self.local_bindings(parts[0])
            scope = self
            if bindings is None:
                bindings = self.global_bindings(parts[0])
                scope = _Scope(self.index, self.module, None, None)
            if any(kind != "value" for kind, _ in bindings):
                return set()
            scopes = [(scope, v) for _, v in bindings]
        else:
            return set()
        classes: Set[ClassInfo] = set()
        for scope, value in scopes:
            name = dotted_name(value.func) if isinstance(value, ast.Call) else None
            built = None
            if name is not None:
                built = scope.symbol(name) if "." not in name else scope.index.resolve(scope.module, name)
            if not isinstance(built, ClassInfo):
                return set()
            classes.add(built)
        return classes

    def name_classes(self, name: str, depth: int) -> Optional[List[ClassInfo]]:
        bindings = self.local_bindings(name)
        if bindings is None:
            if self.self_name == name:
                return None
            bindings = self.global_bindings(name)
            scope = _Scope(self.index, self.module, None, None)
            if not bindings:
                return None
            return scope._classes_of_bindings(bindings, depth)
        return self._classes_of_bindings(bindings, depth)

    def _classes_of_bindings(self, bindings: List[Binding], depth: int) -> Optional[List[ClassInfo]]:
        classes: List[ClassInfo] = []
        for kind, expr in bindings:
            if kind == "value":
                found = self.expression_classes(expr, depth + 1)
            elif kind == "element":
                found = self.element_classes(expr, depth + 1)
            elif kind == "annotation":
                found = self.annotation_classes(expr)
            else:
                return None
            if not found:
                return None
            classes.extend(k for k in found if k not in classes)
        return classes or None

    def annotation_classes(self, annotation: Optional[ast.expr]) -> Optional[List[ClassInfo]]:
        """The project class a parameter annotation names: ``Server``, ``"Server"``,
        ``Optional[Server]``, ``Server | None``."""
        if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
            try:
                annotation = ast.parse(annotation.value, mode="eval").body
            except SyntaxError:
                return None
        if isinstance(annotation, ast.BinOp) and isinstance(annotation.op, ast.BitOr):
            sides = [annotation.left, annotation.right]
            named = [a for a in sides if not (isinstance(a, ast.Constant) and a.value is None)]
            return self.annotation_classes(named[0]) if len(named) == 1 else None
        if isinstance(annotation, ast.Subscript) and dotted_name(annotation.value) in ("Optional", "typing.Optional"):
            return self.annotation_classes(annotation.slice)
        name = dotted_name(annotation) if annotation is not None else None
        if name is None:
            return None
        symbol = self.symbol(name) if "." not in name else self.index.resolve(self.module, name)
        return [symbol] if isinstance(symbol, ClassInfo) else None

    def attribute_classes(self, cls: ClassInfo, attr: str, depth: int) -> Optional[List[ClassInfo]]:
        """The classes ``instance.attr`` may hold: every assignment in the hierarchy agrees."""
        if depth > _MAX_DEPTH:
            return None
        classes: List[ClassInfo] = []
        found_any = False
        for klass in self.index.mro(cls):
            if klass.dynamic_attributes:
                return None
            for value in klass.attributes.get(attr, []):
                if isinstance(value, ast.Constant) and value.value is None:
                    continue  # `self.server = None` before start: not what is called
                found_any = True
                owner_scope = _Scope(self.index, klass.module, klass, _method_holding(klass, value))
                found = owner_scope.expression_classes(value, depth + 1)
                if not found:
                    return None
                classes.extend(k for k in found if k not in classes)
        return classes if found_any and classes else None

    def expression_classes(self, expr: Optional[ast.expr], depth: int) -> Optional[List[ClassInfo]]:
        """The project classes whose instances ``expr`` evaluates to, or None when unknown."""
        if expr is None or depth > _MAX_DEPTH:
            return None
        if isinstance(expr, ast.Call):
            name = dotted_name(expr.func)
            return self.call_result_classes(name, depth + 1) if name is not None else None
        if isinstance(expr, ast.IfExp):
            a = self.expression_classes(expr.body, depth + 1)
            b = self.expression_classes(expr.orelse, depth + 1)
            return a + [k for k in b if k not in a] if a and b else None
        if isinstance(expr, ast.BoolOp) and isinstance(expr.op, ast.Or) and len(expr.values) == 2:
            # `context or Context()` style defaults: the left side is usually a parameter.
            return None
        name = dotted_name(expr)
        if name is not None:
            return self.instance_classes_of_dotted(name.split("."), depth + 1)
        return None

    def element_classes(self, iterable: Optional[ast.expr], depth: int) -> Optional[List[ClassInfo]]:
        """The classes of the elements of ``iterable`` (a literal, or a name / call giving one)."""
        if iterable is None or depth > _MAX_DEPTH:
            return None
        if isinstance(iterable, (ast.List, ast.Tuple, ast.Set)):
            classes: List[ClassInfo] = []
            for element in iterable.elts:
                found = None if isinstance(element, ast.Starred) else self.expression_classes(element, depth + 1)
                if not found:
                    return None
                classes.extend(k for k in found if k not in classes)
            return classes or None
        if isinstance(iterable, ast.Call) and not iterable.args and not iterable.keywords:
            name = dotted_name(iterable.func)
            targets = self.callables(name) if name else None
            if not targets:
                return None
            classes = []
            for target, _ in targets:
                if not isinstance(target, FunctionInfo) or target.is_async or _decorators_change(target):
                    return None
                returned = _returned_values(target.node)
                if not returned or any(v is None for v in returned):
                    return None
                scope = _Scope.of_function(self.index, target)
                for value in returned:
                    found = scope.element_classes(value, depth + 1)
                    if not found:
                        return None
                    classes.extend(k for k in found if k not in classes)
            return classes or None
        name = dotted_name(iterable)
        if name is not None and "." not in name:
            bindings = self.local_bindings(name)
            if bindings is None:
                return None
            classes = []
            for kind, expr in bindings:
                found = self.element_classes(expr, depth + 1) if kind == "value" else None
                if not found:
                    return None
                classes.extend(k for k in found if k not in classes)
            return classes or None
        if name is not None and name.startswith(f"{self.self_name}.") and name.count(".") == 1 and self.cls:
            classes = []
            values = self.index.attribute_values(self.cls, name.partition(".")[2])
            if not values:
                return None
            for value in values:
                found = self.element_classes(value, depth + 1)
                if not found:
                    return None
                classes.extend(k for k in found if k not in classes)
            return classes
        return None


def _method_holding(cls: ClassInfo, value: ast.expr) -> Optional[FunctionInfo]:
    line = getattr(value, "lineno", None)
    if line is None:
        return None
    for method in cls.methods.values():
        if method.node.lineno <= line <= (method.node.end_lineno or method.node.lineno):
            return method
    return None


def _found_reliably(index: ProjectIndex, cls: ClassInfo, method: str) -> bool:
    """False when a library base listed before the class defining ``method`` may override it."""
    for klass in index.mro(cls):
        if method in klass.methods:
            return True
        if any(isinstance(b, str) and b not in ("object", "builtins.object", "abc.ABC", "ABC") for b in index.bases(klass)):
            # A library base could define the method itself, before a later project base does.
            return False
    return False


def _collect_bindings(node: ast.AST, *, function: bool) -> Dict[str, List[Binding]]:
    """Name -> bindings in a function (all of its body, nested scopes' parameters made
    unknown) or in the module body (outside functions and classes)."""
    table: Dict[str, List[Binding]] = {}

    def add(name: str, binding: Binding) -> None:
        table.setdefault(name, []).append(binding)

    def bind_target(target: ast.expr, binding: Binding) -> None:
        if isinstance(target, ast.Name):
            add(target.id, binding)
        elif isinstance(target, (ast.Tuple, ast.List, ast.Starred)):
            for sub in ast.walk(target):
                if isinstance(sub, ast.Name):
                    add(sub.id, ("unknown", None))

    def visit(sub: ast.AST) -> None:
        if isinstance(sub, ast.Assign):
            for target in sub.targets:
                bind_target(target, ("value", sub.value))
        elif isinstance(sub, ast.AnnAssign) and isinstance(sub.target, ast.Name):
            add(sub.target.id, ("value", sub.value) if sub.value is not None else ("unknown", None))
        elif isinstance(sub, ast.AugAssign) and isinstance(sub.target, ast.Name):
            add(sub.target.id, ("unknown", None))
        elif isinstance(sub, ast.NamedExpr):
            add(sub.target.id, ("value", sub.value))
        elif isinstance(sub, (ast.For, ast.AsyncFor)):
            bind_target(sub.target, ("element", sub.iter))
        elif isinstance(sub, ast.comprehension):
            bind_target(sub.target, ("element", sub.iter))
        elif isinstance(sub, (ast.With, ast.AsyncWith)):
            for item in sub.items:
                if item.optional_vars is not None:
                    for name in ast.walk(item.optional_vars):
                        if isinstance(name, ast.Name):
                            add(name.id, ("unknown", None))
        elif isinstance(sub, (ast.Import, ast.ImportFrom)) and function:
            for alias in sub.names:
                add((alias.asname or alias.name).partition(".")[0], ("unknown", None))
        elif isinstance(sub, ast.arg):
            # The function's own annotated parameters are what their annotation says; others
            # (unannotated, or of nested functions and lambdas) are unknown.
            own = id(sub) in own_parameters and sub.annotation is not None
            add(sub.arg, ("annotation", sub.annotation) if own else ("unknown", None))
        elif isinstance(sub, (ast.Global, ast.Nonlocal)):
            for name in sub.names:
                add(name, ("unknown", None))
        elif isinstance(sub, ast.ExceptHandler) and sub.name:
            add(sub.name, ("unknown", None))
        elif isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and function:
            add(sub.name, ("unknown", None))

    own_parameters: Set[int] = set()
    if function:
        args = node.args
        own_parameters = {id(a) for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
        for sub in _walk_for_bindings(node):
            if type(sub) in _BINDING_NODES:
                visit(sub)
    else:
        for sub in own_nodes(node):
            if type(sub) in _BINDING_NODES:
                visit(sub)
    return table


#: The node types `_collect_bindings` reads (its ``visit`` ignores every other one).
_BINDING_NODES = frozenset(
    {
        ast.Assign, ast.AnnAssign, ast.AugAssign, ast.NamedExpr, ast.For, ast.AsyncFor, ast.comprehension,
        ast.With, ast.AsyncWith, ast.Import, ast.ImportFrom, ast.arg, ast.Global, ast.Nonlocal,
        ast.ExceptHandler, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
    }
)
#: Nodes with nothing below them that `_collect_bindings` reads: not worth visiting.
_BINDING_LEAVES = (ast.Name, ast.Constant, ast.expr_context, ast.operator, ast.unaryop, ast.cmpop, ast.boolop)


def _walk_for_bindings(node: ast.AST) -> Iterator[ast.AST]:
    """`ast.walk` (same order) without the leaves in `_BINDING_LEAVES`: about half the nodes
    of a function, and the most frequent ones."""
    todo = deque([node])
    pop, push = todo.popleft, todo.append
    while todo:
        node = pop()
        for field in node._fields:
            try:
                value = getattr(node, field)
            except AttributeError:
                continue
            if isinstance(value, list):
                for item in value:
                    if isinstance(item, ast.AST) and not isinstance(item, _BINDING_LEAVES):
                        push(item)
            elif isinstance(value, ast.AST) and not isinstance(value, _BINDING_LEAVES):
                push(value)
        yield node


# -- what a function returns -----------------------------------------------------------------


def _returned_values(func: ast.AST) -> List[Optional[ast.expr]]:
    """The value of every ``return`` (None for a bare ``return``); a function that may fall off
    its end also returns None, which is reported as one more None."""
    values: List[Optional[ast.expr]] = [n.value for n in own_nodes(func) if isinstance(n, ast.Return)]
    body = getattr(func, "body", [])
    if not body or not isinstance(body[-1], (ast.Return, ast.Raise)):
        values.append(None)
    return values


def _is_generator(func: ast.AST) -> bool:
    return any(isinstance(n, (ast.Yield, ast.YieldFrom)) for n in own_nodes(func))


def _decorators_change(func: FunctionInfo) -> bool:
    return any(d not in _TRANSPARENT_DECORATORS for d in func.decorators)


def _is_empty(func: FunctionInfo) -> bool:
    """``pass`` / ``...`` / a docstring only: a method that does nothing (not one that raises
    ``NotImplementedError``)."""
    return all(
        isinstance(stmt, ast.Pass) or (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant))
        for stmt in func.node.body
    )


def _constructed_here(scope: "_Scope", dotted: str, target: FunctionInfo) -> bool:
    """True when the receiver of ``dotted`` (``self.http.stop``, ``server.stop``,
    ``HttpFront().stop``) can only hold instances built right there from one project class
    whose method is ``target``: that exact method runs, whatever its body, since no subclass
    can stand in for a class built by name. An annotation, a parameter, a factory or several
    classes leave it to the stub rule (unknown)."""
    receiver, _, method = dotted.rpartition(".")
    if receiver.endswith("()"):
        built = scope.symbol(receiver[:-2]) if "." not in receiver else scope.index.resolve(scope.module, receiver[:-2])
        classes = {built} if isinstance(built, ClassInfo) else set()
    else:
        classes = scope.constructed_classes(receiver.split("."))
    if len(classes) != 1:
        return False
    (klass,) = classes
    return scope.index.find_method(klass, method) is target and not scope.index.unresolved_bases(klass)


def _is_stub(func: FunctionInfo) -> bool:
    """``pass`` / ``...`` / docstring / ``raise NotImplementedError``: an interface method."""
    for stmt in func.node.body:
        if isinstance(stmt, ast.Pass):
            continue
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue  # docstring or `...`
        if isinstance(stmt, ast.Raise) and stmt.exc is not None:
            exc = stmt.exc.func if isinstance(stmt.exc, ast.Call) else stmt.exc
            if dotted_name(exc) == "NotImplementedError":
                continue
        return False
    return True


class _Returns:
    """Classifies what functions return, following calls into other project functions."""

    def __init__(self, index: ProjectIndex) -> None:
        self.index = index
        self.active: Set[int] = set()

    def of_function(self, func: FunctionInfo, depth: int) -> str:
        if func.is_async:
            return AWAITABLE
        if _decorators_change(func) or _is_generator(func.node) or depth > _MAX_DEPTH:
            return UNKNOWN
        if id(func.node) in self.active:
            return UNKNOWN  # recursion: decided by the other returns, conservatively unknown
        self.active.add(id(func.node))
        try:
            scope = _Scope.of_function(self.index, func)
            verdict = NOT_AWAITABLE
            for value in _returned_values(func.node):
                kind = self.of_expression(scope, value, depth)
                if kind == AWAITABLE:
                    return AWAITABLE
                if kind == UNKNOWN:
                    verdict = UNKNOWN
            return verdict
        finally:
            self.active.discard(id(func.node))

    def of_expression(self, scope: _Scope, expr: Optional[ast.expr], depth: int) -> str:
        if expr is None or _is_literal(expr):
            return NOT_AWAITABLE
        if isinstance(expr, (ast.GeneratorExp, ast.Compare, ast.Lambda)):
            return NOT_AWAITABLE
        if isinstance(expr, ast.UnaryOp):
            return NOT_AWAITABLE if isinstance(expr.op, ast.Not) else self.of_expression(scope, expr.operand, depth)
        if isinstance(expr, ast.BinOp):
            if _is_literal(expr.left) or _is_literal(expr.right):
                return NOT_AWAITABLE  # `[0] * size`, `"%s" % value`, `count + 1`
            return _combine(self.of_expression(scope, expr.left, depth), self.of_expression(scope, expr.right, depth))
        if isinstance(expr, ast.BoolOp):
            return _combine(*(self.of_expression(scope, v, depth) for v in expr.values))
        if isinstance(expr, ast.IfExp):
            return _combine(self.of_expression(scope, expr.body, depth), self.of_expression(scope, expr.orelse, depth))
        if isinstance(expr, ast.Call):
            return self.of_call(scope, expr, depth)
        if isinstance(expr, ast.Name) and scope.func is not None:
            bindings = scope.local_bindings(expr.id)
            if not bindings:
                return UNKNOWN
            results = [self.of_expression(scope, e, depth) if kind == "value" else UNKNOWN for kind, e in bindings]
            return _combine(*results)
        return UNKNOWN

    def of_call(self, scope: _Scope, call: ast.Call, depth: int) -> str:
        name = dotted_name(call.func)
        if name is None:
            return UNKNOWN
        if name.rpartition(".")[2] in _AWAITABLE_METHODS:
            return AWAITABLE
        qualified = scope.module.qualified_name(name)
        if qualified in _AWAITABLE_FACTORIES:
            return AWAITABLE
        if name in _PLAIN_BUILTINS and scope.symbol(name) is None and not scope.global_bindings(name):
            return NOT_AWAITABLE
        targets = scope.callables(name)
        if not targets:
            return UNKNOWN
        results = []
        for target, open_dispatch in targets:
            if isinstance(target, LibraryFunction):
                results.append(NOT_AWAITABLE)
            elif isinstance(target, ClassInfo):
                results.append(self.of_instance(target))
            elif open_dispatch and _is_stub(target):
                results.append(UNKNOWN)
            else:
                results.append(self.of_function(target, depth + 1))
        return _combine(*results)

    def of_instance(self, cls: ClassInfo) -> str:
        """Instances of a project class are awaitable if it (or a library base) may say so."""
        if self.index.unresolved_bases(cls):
            return UNKNOWN
        if any("__await__" in k.methods or "__await__" in k.attributes for k in self.index.mro(cls)):
            return AWAITABLE
        return NOT_AWAITABLE


_LITERALS = (ast.Constant, ast.JoinedStr, ast.List, ast.Tuple, ast.Set, ast.Dict, ast.ListComp, ast.SetComp, ast.DictComp)


def _is_literal(expr: ast.expr) -> bool:
    return isinstance(expr, _LITERALS)


def _combine(*kinds: str) -> str:
    if AWAITABLE in kinds:
        return AWAITABLE
    if UNKNOWN in kinds:
        return UNKNOWN
    return NOT_AWAITABLE
