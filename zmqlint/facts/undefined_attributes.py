"""ZMQ104: where a ZeroMQ class reads ``self.X`` that nothing assigns: not the class, its bases
(project classes or known library classes), the module, nor any dynamic means (``setattr``,
``__dict__``, ``__getattr__``) — `undefined_attribute_reads`, each an `UndefinedRead`.

Inputs from the index: the module's classes, `mro` and `bases` (project classes or qualified
library names), each class's attributes, methods and class-level names, the module's nodes
(attributes stored from outside the class) and broken regions; the attributes of the library
classes in `KNOWN_LIBRARY_CLASSES` are read from the standard library's own source once per
process (`library_class_attributes`, ``functools.lru_cache``).

Cost: `undefined_read_hint` narrows the question from one list of the module's ``ast.Attribute``
nodes (the gates' shared walk) to the candidate reads per class; each check after that only
rules a class out, the cheap ones first. A class of the hierarchy is walked once for what it
mentions dynamically (memoised per class, ``sockets.class_walk``); the reads are memoised per
module (``sockets.undefined``).
"""

from __future__ import annotations

import ast
import bisect
import functools
import re
from dataclasses import dataclass
from typing import Dict, FrozenSet, Iterable, Iterator, List, Optional, Set, Tuple

from zmqlint.facts.socket_basics import (
    ENDPOINT_METHODS,
    ZMQ_SOCKET_METHODS,
    parent_map,
    self_parameter,
    uses_zeromq,
)
from zmqlint.index import ClassInfo, ModuleInfo, ProjectIndex, dotted_name, first_line, own_nodes, walk


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
            self_names = {name for name in map(self_parameter, cls.methods.values()) if name}
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
        self_name = self_parameter(method)
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
        if any(class_walk.dynamic for class_walk in walks):
            continue
        for class_walk in walks:
            known |= class_walk.mentions
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
        parents = parents or parent_map(cls.node)
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
        self_name = self_parameter(method)
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
        self_name = self_parameter(method)
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
        self_name = self_parameter(method)
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
    parents = parent_map(cls.node)
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
            return parent.attr in ZMQ_SOCKET_METHODS or parent.attr in _CONTEXT_METHODS
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
    if isinstance(func, ast.Attribute) and func.attr in ENDPOINT_METHODS:
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


def _span(node: ast.AST) -> Tuple[int, int]:
    return first_line(node), node.end_lineno or node.lineno
