"""Which of the project's classes a pickle channel carries, where the code shows them.

A pickle channel carries whatever the sender hands to ``send_pyobj`` / ``pickle.dumps``; after
a SER201 / SER202 fix the receiver must allow those classes (``serde.register``). The code
shows them in a few places, all read here from the stdlib ``ast`` through the project index:

- at a send site: a class constructed there (``sock.send_pyobj(InferenceArgs(...))``, also
  inside a literal ``{"result": TokenResult(...)}``), the return annotation of the function
  whose result is sent (``-> TokenResult``, ``-> Iterator[TokenResult]`` for the items of a
  ``for`` loop over it), the annotation of a sent parameter or local, the class of an
  ``except X as error`` whose ``error`` is sent, the value a sent local was assigned;
- after a receive: the annotation of the variable that receives (``request: RPCRequest =
  pickle.loads(...)``), ``isinstance(obj, X)`` checks and ``case X():`` patterns on it.

Each class is resolved through the index and classified by what serde can carry: a
dataclass, a pydantic model, an enum, a NamedTuple or an exception, or None (a class serde
cannot carry, or a library class whose kind the index cannot see). What the code does not
show (an unannotated parameter, an unannotated function's result) is reported as *unseen*.
"""

from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass, field
from typing import Iterator, List, Optional, Set, Tuple

from zmqlint.index import ClassInfo, FunctionInfo, ModuleInfo, ProjectIndex, dotted_name, walk

DATACLASS_DECORATORS = frozenset(
    {"dataclass", "dataclasses.dataclass", "pydantic.dataclasses.dataclass", "attr.dataclass"}
)
PYDANTIC_BASES = frozenset({"pydantic.BaseModel", "pydantic.main.BaseModel", "pydantic.v1.BaseModel", "pydantic.RootModel"})
ENUM_BASES = frozenset({f"enum.{name}" for name in ("Enum", "IntEnum", "StrEnum", "Flag", "IntFlag", "ReprEnum")})
NAMEDTUPLE_BASES = frozenset({"typing.NamedTuple", "typing_extensions.NamedTuple"})
BUILTIN_EXCEPTIONS = frozenset(
    name for name, value in vars(builtins).items() if isinstance(value, type) and issubclass(value, BaseException)
)
#: Builtin names that are plain data (or containers of it) for serde.
_PLAIN_BUILTINS = frozenset(
    {"int", "float", "str", "bytes", "bool", "dict", "list", "tuple", "set", "frozenset", "bytearray", "complex",
     "None", "type", "len", "repr", "sorted", "sum", "min", "max", "abs", "round", "range", "zip", "enumerate",
     "memoryview", "object"}
)
#: Methods whose result is a receive, and functions that decode or encode a message.
RECEIVE_METHODS = frozenset({"recv_pyobj"})
SEND_METHODS = frozenset({"send_pyobj"})
_MAX_DEPTH = 6


@dataclass(frozen=True)
class CarriedType:
    """A class a channel carries: ``qualified`` (``pkg.messages.TokenResult``), the project
    class when it is one, and its ``kind`` for serde (None: not one serde can carry, or unknown)."""

    qualified: str
    kind: Optional[str]
    cls: Optional[ClassInfo] = field(default=None, compare=False, hash=False)
    #: Where the code shows it: ``path:line``.
    where: str = field(default="", compare=False, hash=False)

    @property
    def name(self) -> str:
        return self.qualified.rpartition(".")[2]

    @property
    def builtin(self) -> bool:
        return self.cls is None and self.qualified in BUILTIN_EXCEPTIONS


@dataclass
class SiteTypes:
    """What one send or receive site shows: the classes, and the values it cannot see through."""

    types: List[CarriedType] = field(default_factory=list)
    #: Sent expressions whose type the code does not show, as written.
    unseen: List[str] = field(default_factory=list)


def class_kind(index: ProjectIndex, cls: ClassInfo) -> Optional[str]:
    """``dataclass`` / ``pydantic`` / ``enum`` / ``namedtuple`` / ``exception`` for a project
    class whose definition (or its ancestors') says so, else None."""
    for klass in index.mro(cls):
        for decorator in klass.node.decorator_list:
            name = dotted_name(decorator.func if isinstance(decorator, ast.Call) else decorator)
            if name and klass.module.qualified_name(name) in DATACLASS_DECORATORS:
                return "dataclass"
    bases = set(index.unresolved_bases(cls))
    if bases & PYDANTIC_BASES:
        return "pydantic"
    if bases & ENUM_BASES:
        return "enum"
    if bases & NAMEDTUPLE_BASES:
        return "namedtuple"
    if bases & BUILTIN_EXCEPTIONS or {b.rpartition(".")[2] for b in bases if b.startswith("builtins.")} & BUILTIN_EXCEPTIONS:
        return "exception"
    return None


class _Reader:
    """Resolves the classes an expression's value may be an instance of, in one module."""

    def __init__(self, index: ProjectIndex, module: ModuleInfo) -> None:
        self.index = index
        self.module = module

    def where(self, node: ast.AST) -> str:
        return f"{self.module.path.name}:{getattr(node, 'lineno', 0)}"

    def class_named(self, dotted: str, node: ast.AST, module: Optional[ModuleInfo] = None) -> Optional[CarriedType]:
        """The class ``dotted`` names in ``module`` (a project class, a builtin exception, or
        a library class by the convention of capitalised names); None for anything else."""
        module = module or self.module
        if dotted in BUILTIN_EXCEPTIONS and dotted not in module.imports and dotted not in module.classes:
            return CarriedType(dotted, "exception", None, self.where(node))
        target = self.index.resolve(module, dotted)
        if isinstance(target, ClassInfo):
            qualified = f"{target.module.name}.{target.name}" if target.module.name else target.name
            return CarriedType(qualified, class_kind(self.index, target), target, self.where(node))
        if target is not None or dotted in _PLAIN_BUILTINS:
            return None
        head = dotted.partition(".")[0]
        if head in module.imports and dotted.rpartition(".")[2][:1].isupper():
            return CarriedType(module.qualified_name(dotted), None, None, self.where(node))
        return None

    def annotation(self, node: Optional[ast.AST], module: Optional[ModuleInfo] = None, depth: int = 0) -> List[CarriedType]:
        """Every class named in an annotation (``Optional[List[X]]``, ``X | None``, ``"X"``)."""
        if node is None or depth > _MAX_DEPTH:
            return []
        module = module or self.module
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            try:
                parsed = ast.parse(node.value, mode="eval").body
            except SyntaxError:
                return []
            ast.copy_location(parsed, node)
            return self.annotation(parsed, module, depth + 1)
        if isinstance(node, (ast.Name, ast.Attribute)):
            name = dotted_name(node)
            found = self.class_named(name, node, module) if name else None
            return [found] if found is not None else []
        found: List[CarriedType] = []
        if isinstance(node, ast.Subscript):
            found += self.annotation(node.slice, module, depth + 1)
        elif isinstance(node, ast.BinOp):
            found += self.annotation(node.left, module, depth + 1) + self.annotation(node.right, module, depth + 1)
        elif isinstance(node, (ast.Tuple, ast.List)):
            for element in node.elts:
                found += self.annotation(element, module, depth + 1)
        return found

    # -- values --

    def value(self, node: ast.expr, function: Optional[FunctionInfo], line: int, out: SiteTypes, depth: int = 0, top: bool = True) -> None:
        """Add to ``out`` the classes ``node``'s value may be an instance of. ``top``: the
        value sent itself (what it cannot see through is unseen), not a part of a literal."""
        if depth > _MAX_DEPTH:
            return
        if isinstance(node, ast.Await):
            node = node.value
        if isinstance(node, ast.Constant) or isinstance(node, ast.JoinedStr):
            return
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            for element in node.elts:
                self.value(element.value if isinstance(element, ast.Starred) else element, function, line, out, depth + 1, False)
            return
        if isinstance(node, ast.Dict):
            for element in [*node.keys, *node.values]:
                if element is not None:
                    self.value(element, function, line, out, depth + 1, False)
            return
        if isinstance(node, ast.Call):
            self.call(node, function, line, out, depth, top)
            return
        if isinstance(node, ast.Name):
            self.name(node, function, line, out, depth, top)
            return
        if isinstance(node, ast.Attribute) and function is not None and function.owner is not None:
            name = dotted_name(node)
            if name and function.parameters and name.count(".") == 1 and name.startswith(function.parameters[0] + "."):
                cls = self.index.class_of_attribute(function.owner, node.attr)
                if cls is not None:
                    qualified = f"{cls.module.name}.{cls.name}" if cls.module.name else cls.name
                    out.types.append(CarriedType(qualified, class_kind(self.index, cls), cls, self.where(node)))
                    return
        if top:
            out.unseen.append(ast.unparse(node))

    def call(self, node: ast.Call, function: Optional[FunctionInfo], line: int, out: SiteTypes, depth: int, top: bool, items: bool = False) -> None:
        name = dotted_name(node.func)
        if name is None:
            if top:
                out.unseen.append(ast.unparse(node))
            return
        found = self.class_named(name, node) if not items else None
        if found is not None:
            out.types.append(found)
            return
        target = self.index.resolve_callable(self.module, name, line=line)
        if isinstance(target, ClassInfo):
            if not items:
                qualified = f"{target.module.name}.{target.name}" if target.module.name else target.name
                out.types.append(CarriedType(qualified, class_kind(self.index, target), target, self.where(node)))
            return
        if isinstance(target, FunctionInfo):
            if target.node.returns is not None:
                out.types.extend(self.annotation(target.node.returns, target.module))
            elif top:
                out.unseen.append(ast.unparse(node))
            return
        head = name.partition(".")[0]
        if name in _PLAIN_BUILTINS or name.rpartition(".")[2] in ("copy", "deepcopy", "get", "pop"):
            return
        # A library function: its result is the library's (an array, a number); a call on a
        # local or attribute of unknown type is not seen through.
        if head not in self.module.imports and top:
            out.unseen.append(ast.unparse(node))

    def name(self, node: ast.Name, function: Optional[FunctionInfo], line: int, out: SiteTypes, depth: int, top: bool) -> None:
        ident = node.id
        if function is None:
            value = self.module.assignments.get(ident)
            if value is not None:
                self.value(value, None, line, out, depth + 1, top)
            elif top and ident not in self.module.classes:
                out.unseen.append(ident)
            return
        args = function.node.args
        for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
            if arg is not None and arg.arg == ident:
                if arg.annotation is not None:
                    out.types.extend(self.annotation(arg.annotation))
                elif top:
                    out.unseen.append(ident)
                return
        seen_any = False
        for sub in walk(function.node):
            if isinstance(sub, ast.ExceptHandler) and sub.name == ident and sub.type is not None:
                seen_any = True
                out.types.extend(self.annotation(sub.type))
            elif isinstance(sub, ast.AnnAssign) and isinstance(sub.target, ast.Name) and sub.target.id == ident:
                seen_any = True
                out.types.extend(self.annotation(sub.annotation))
            elif isinstance(sub, ast.Assign) and any(isinstance(t, ast.Name) and t.id == ident for t in sub.targets):
                seen_any = True
                self.value(sub.value, function, sub.lineno, out, depth + 1, top)
            elif isinstance(sub, (ast.For, ast.AsyncFor)) and isinstance(sub.target, ast.Name) and sub.target.id == ident:
                seen_any = True
                self.items(sub.iter, function, sub.lineno, out, depth + 1, top)
        if not seen_any:
            value = self.module.assignments.get(ident)
            if value is not None:
                self.value(value, None, line, out, depth + 1, top)
            elif top:
                out.unseen.append(ident)

    def items(self, node: ast.expr, function: Optional[FunctionInfo], line: int, out: SiteTypes, depth: int, top: bool) -> None:
        """The classes of the items of an iterated value (``for token in generate(...)``)."""
        if isinstance(node, ast.Call):
            self.call(node, function, line, out, depth, top, items=True)
        elif isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            self.value(node, function, line, out, depth, False)
        elif isinstance(node, ast.Name) and function is not None:
            args = function.node.args
            annotated = [a.annotation for a in [*args.posonlyargs, *args.args, *args.kwonlyargs] if a.arg == node.id and a.annotation]
            if annotated:
                out.types.extend(self.annotation(annotated[0]))
            elif top:
                out.unseen.append(ast.unparse(node))
        elif top:
            out.unseen.append(ast.unparse(node))


def _function_at(module: ModuleInfo, line: int) -> Optional[FunctionInfo]:
    return next((s for s in reversed(module.scope_at(line)) if isinstance(s, FunctionInfo)), None)


def call_at(module: ModuleInfo, line: int, column: int) -> Optional[ast.Call]:
    """The call that starts at ``line`` and character ``column`` (1-based, as findings say)."""
    lines = module.source.splitlines()
    if not 0 < line <= len(lines):
        return None
    offset = len(lines[line - 1][: column - 1].encode("utf-8"))
    for node in module.nodes:
        if isinstance(node, ast.Call) and node.lineno == line and node.col_offset == offset:
            return node
    return None


def sent_types(index: ProjectIndex, module: ModuleInfo, value: ast.expr) -> SiteTypes:
    """The classes of a value sent (the argument of ``send_pyobj`` / ``pickle.dumps``)."""
    out = SiteTypes()
    _Reader(index, module).value(value, _function_at(module, value.lineno), value.lineno, out)
    return out


def received_types(index: ProjectIndex, module: ModuleInfo, call: ast.Call) -> SiteTypes:
    """The classes the code expects from a receive (``recv_pyobj()`` / ``pickle.loads(...)``):
    the annotation of its target, ``isinstance`` checks and ``case`` patterns on it."""
    out = SiteTypes()
    reader = _Reader(index, module)
    function = _function_at(module, call.lineno)
    scope: ast.AST = function.node if function is not None else module.tree
    targets: Set[str] = set()
    for node in walk(scope):
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            value = node.value.value if isinstance(node.value, ast.Await) else node.value
            if value is not call:
                continue
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                for element in target.elts if isinstance(target, ast.Tuple) else [target]:
                    if isinstance(element, ast.Name):
                        targets.add(element.id)
            if isinstance(node, ast.AnnAssign):
                out.types.extend(reader.annotation(node.annotation))
    if not targets:
        return out
    for node in walk(scope):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "isinstance"
            and len(node.args) == 2
            and isinstance(node.args[0], ast.Name)
            and node.args[0].id in targets
        ):
            out.types.extend(reader.annotation(node.args[1]))
        elif isinstance(node, ast.Match) and isinstance(node.subject, ast.Name) and node.subject.id in targets:
            for case in node.cases:
                for pattern in walk(case.pattern):
                    if isinstance(pattern, ast.MatchClass):
                        out.types.extend(reader.annotation(pattern.cls))
    return out


# -- the other modules of a channel --------------------------------------------------------

#: Words one of which a module must hold to send on a pickle (or converted) channel.
_CHANNEL_WORDS = ("send_pyobj", "pickle", "serde", "dill", "marshal")
#: At most this many modules of a folder are read for the types their channels send.
MAX_PEER_MODULES = 200


def peer_modules(index: ProjectIndex, module: ModuleInfo) -> List[ModuleInfo]:
    """The other modules of ``module``'s folder that may send on a pickle or serde channel
    (a channel's two ends usually live side by side, or share the module of its messages)."""
    found: List[ModuleInfo] = []
    try:
        paths = sorted(p for p in module.path.parent.glob("*.py") if p != module.path)
    except OSError:
        return []
    for path in paths[:MAX_PEER_MODULES]:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if not any(word in text for word in _CHANNEL_WORDS) or "send" not in text:
            continue
        info = index.module_for_path(path)
        if info is not None:
            found.append(info)
    return found


def _encoder_calls(module: ModuleInfo, encoders: frozenset) -> Iterator[Tuple[ast.Call, ast.expr]]:
    """``(call, value sent)`` for every ``x.send_pyobj(value)`` and every encoder call (pickle
    or serde ``dumps``) whose result reaches a ``send...`` call in the same function."""
    for node in module.nodes:
        if not isinstance(node, ast.Call) or not node.args:
            continue
        if isinstance(node.func, ast.Attribute) and node.func.attr in SEND_METHODS:
            yield node, node.args[0]
            continue
        name = dotted_name(node.func)
        if name and module.qualified_name(name) in encoders and _reaches_a_send(module, node):
            yield node, node.args[0]


def _reaches_a_send(module: ModuleInfo, call: ast.Call) -> bool:
    function = _function_at(module, call.lineno)
    scope: ast.AST = function.node if function is not None else module.tree
    names: Set[str] = set()
    for node in walk(scope):
        if isinstance(node, ast.Assign) and node.value is call:
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    for node in walk(scope):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr.startswith("send"):
            for arg in [*node.args, *(k.value for k in node.keywords)]:
                for sub in walk(arg):
                    if sub is call or (isinstance(sub, ast.Name) and sub.id in names):
                        return True
    return False


def types_sent_by(index: ProjectIndex, module: ModuleInfo, encoders: frozenset) -> List[CarriedType]:
    """Every class ``module``'s send sites show (memoised per module)."""

    def compute() -> List[CarriedType]:
        found: List[CarriedType] = []
        for _, value in _encoder_calls(module, encoders):
            found.extend(sent_types(index, module, value).types)
        return found

    return index.memo(("serde.types_sent_by", str(module.path)), compute)


def field_types(index: ProjectIndex, carried: CarriedType) -> List[CarriedType]:
    """The classes named by the field annotations of a dataclass or NamedTuple (and its
    ancestors): they travel inside it, so the receiver registers them too. (A pydantic model
    rebuilds its fields itself, from their values.)"""
    if carried.cls is None or carried.kind not in ("dataclass", "namedtuple"):
        return []
    found: List[CarriedType] = []
    for klass in index.mro(carried.cls):
        reader = _Reader(index, klass.module)
        for stmt in klass.node.body:
            if isinstance(stmt, ast.AnnAssign):
                found.extend(reader.annotation(stmt.annotation))
    return found
