"""The project index: facts that span files, gathered lazily and never by importing code.

Rules ask the index cross-module questions — what does this name resolve to, what are this
class's bases, which methods does it have, what is assigned to `self.X` anywhere in its
hierarchy. The index answers from the stdlib `ast` of each module it needs, parsing a module
the first time a question reaches it and keeping the answer for the rest of the run.

Imports resolve against, in order: the configured source roots (`src`), the project root,
and the importing file's own folder and its ancestors (so `from transport.server import X`
works when the program puts the folder holding `transport/` on `sys.path`). Relative imports
resolve against the importing module's package. Nothing outside those folders is read.

Every module the index reads for a question is recorded in `touched`, so the engine can tell
which files a file's findings depend on (for cache invalidation).
"""

from __future__ import annotations

import ast
import bisect
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple, Union

from zmqlint.nodes import HAS_LEAF_FIELDS, child_nodes, first_line, own_nodes, walk  # noqa: F401 (re-exported)
from zmqlint.source import SourceError, SourceFile

Symbol = Union["ModuleInfo", "ClassInfo", "FunctionInfo"]


@dataclass(frozen=True)
class ImportRef:
    """What a local name was imported as: ``module`` (absolute, or relative with ``level``) and
    ``name`` (None for ``import module``)."""

    module: str
    name: Optional[str]
    level: int = 0

    @property
    def qualified(self) -> str:
        dots = "." * self.level
        return f"{dots}{self.module}.{self.name}".replace("..", ".") if self.name else f"{dots}{self.module}"


@dataclass
class FunctionInfo:
    name: str
    qualname: str
    module: "ModuleInfo"
    node: Union[ast.FunctionDef, ast.AsyncFunctionDef]
    owner: Optional["ClassInfo"] = None

    @property
    def is_async(self) -> bool:
        return isinstance(self.node, ast.AsyncFunctionDef)

    @property
    def decorators(self) -> List[str]:
        return [dotted_name(d.func if isinstance(d, ast.Call) else d) or "?" for d in self.node.decorator_list]

    @property
    def parameters(self) -> List[str]:
        args = self.node.args
        return [a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]]

    def __repr__(self) -> str:
        return f"<function {self.module.name}.{self.qualname}>"


@dataclass
class ClassInfo:
    name: str
    module: "ModuleInfo"
    node: ast.ClassDef
    methods: Dict[str, FunctionInfo] = field(default_factory=dict)

    @cached_property
    def _attribute_facts(self) -> Tuple[Dict[str, List[ast.expr]], bool]:
        # Read on first use: most classes of a project are never asked about their attributes.
        return _class_attributes(self)

    @property
    def attributes(self) -> Dict[str, List[ast.expr]]:
        """``self.X = value`` anywhere in the class's methods, and class-level ``X = value``."""
        return self._attribute_facts[0]

    @property
    def dynamic_attributes(self) -> bool:
        """Attributes can appear by means no static reading sees (__getattr__, setattr, __dict__)."""
        return self._attribute_facts[1]

    @property
    def base_names(self) -> List[Optional[str]]:
        return [dotted_name(b) for b in self.node.bases]

    def __repr__(self) -> str:
        return f"<class {self.module.name}.{self.name}>"

    def __hash__(self) -> int:
        return id(self)


@dataclass
class ModuleInfo:
    name: str
    path: Path
    tree: ast.Module
    imports: Dict[str, ImportRef] = field(default_factory=dict)
    classes: Dict[str, ClassInfo] = field(default_factory=dict)
    functions: Dict[str, FunctionInfo] = field(default_factory=dict)
    #: Top-level ``NAME = value`` (the last one wins).
    assignments: Dict[str, ast.expr] = field(default_factory=dict)
    #: The text ``tree`` was parsed from (after repair, for a file with a broken statement).
    source: str = field(default="", repr=False, compare=False)
    #: 1-based (first, last) lines set aside because they do not parse (`tolerant.repair_text`):
    #: what they say is unknown, so facts that need the whole file ("never assigned") are too.
    broken_regions: List[Tuple[int, int]] = field(default_factory=list, repr=False, compare=False)
    #: For a repaired module: the text as read (``source`` is the repaired text) and the
    #: `tolerant.Repair` made of it, so the engine does not repair the same text again.
    original_source: Optional[str] = field(default=None, repr=False, compare=False)
    repair: Optional[object] = field(default=None, repr=False, compare=False)

    @cached_property
    def nodes(self) -> List[ast.AST]:
        """Every node of ``tree``, in `ast.walk`'s order (one walk, shared by the facts)."""
        return walk(self.tree)

    @property
    def is_package(self) -> bool:
        return self.path.name == "__init__.py"

    @property
    def package(self) -> str:
        return self.name if self.is_package else self.name.rpartition(".")[0]

    def qualified_name(self, dotted: str) -> str:
        """``dotted`` with its first part replaced by what it was imported as.

        ``T`` after ``from threading import Thread as T`` is ``threading.Thread``; names defined
        here come back prefixed by this module's name; builtins and unknown names unchanged.
        """
        head, _, rest = dotted.partition(".")
        ref = self.imports.get(head)
        if ref is not None and ref.level == 0:
            full = f"{ref.module}.{ref.name}" if ref.name else ref.module
            return f"{full}.{rest}" if rest else full
        if head in self.classes or head in self.functions:
            return f"{self.name}.{dotted}" if self.name else dotted
        return dotted

    def scope_at(self, line: int) -> List[Union[ClassInfo, FunctionInfo]]:
        """The classes and functions (outermost first) whose body holds ``line``.

        Top-level classes do not overlap, nor do the methods of one class or the top-level
        functions: the one whose span starts last at or before ``line`` is the only one that
        may hold it, found by bisection.
        """
        classes, methods, functions = self._spans
        cls = _span_holding(classes, line)
        if cls is not None:
            method = _span_holding(methods[id(cls)], line)
            return [cls] if method is None else [cls, method]
        func = _span_holding(functions, line)
        return [] if func is None else [func]

    @cached_property
    def _spans(self):
        return (
            _sorted_spans(self.classes.values()),
            {id(cls): _sorted_spans(cls.methods.values()) for cls in self.classes.values()},
            _sorted_spans(self.functions.values()),
        )

    def __repr__(self) -> str:
        return f"<module {self.name} {self.path}>"

    def __hash__(self) -> int:
        return id(self)


def _sorted_spans(items) -> Tuple[List[int], List[Tuple[int, object]]]:
    """(start lines, (end line, item)) of classes or functions, by start (decorators included)."""
    spans = []
    for position, item in enumerate(items):
        node = item.node
        spans.append((first_line(node), position, node.end_lineno or node.lineno, item))
    spans.sort(key=lambda s: (s[0], s[1]))
    return [s[0] for s in spans], [(s[2], s[3]) for s in spans]


def _span_holding(spans, line: int):
    starts, items = spans
    position = bisect.bisect_right(starts, line) - 1
    if position >= 0 and items[position][0] >= line:
        return items[position][1]
    return None


def dotted_name(node: ast.AST) -> Optional[str]:
    """``a.b.c`` for Name/Attribute chains, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


#: Fields the grammar types as identifiers, strings or numbers: never a node, not looked into.
def parse_module_info(path: Path, name: str, source: str, tree: Optional[ast.Module] = None) -> ModuleInfo:
    """The facts of the module ``source`` (``tree``: its stdlib ast, when the caller has it)."""
    if tree is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(source, filename=str(path))
    info = ModuleInfo(name=name, path=path, tree=tree, source=source)
    for stmt in _top_level(tree.body):
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if alias.asname:
                    info.imports[alias.asname] = ImportRef(alias.name, None)
                else:
                    head = alias.name.partition(".")[0]
                    info.imports[head] = ImportRef(head, None)
        elif isinstance(stmt, ast.ImportFrom):
            for alias in stmt.names:
                if alias.name != "*":
                    info.imports[alias.asname or alias.name] = ImportRef(stmt.module or "", alias.name, stmt.level)
        elif isinstance(stmt, ast.ClassDef):
            info.classes[stmt.name] = _class_info(stmt, info)
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            info.functions[stmt.name] = FunctionInfo(stmt.name, stmt.name, info, stmt)
        elif isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                if isinstance(target, ast.Name):
                    info.assignments[target.id] = stmt.value
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value is not None:
            info.assignments[stmt.target.id] = stmt.value
    return info


def _top_level(body: Sequence[ast.stmt]) -> Iterator[ast.stmt]:
    """Module statements, looking into ``if``/``try`` blocks (conditional imports and defs)."""
    for stmt in body:
        if isinstance(stmt, ast.If):
            yield from _top_level(stmt.body)
            yield from _top_level(stmt.orelse)
        elif isinstance(stmt, ast.Try):
            yield from _top_level(stmt.body)
            for handler in stmt.handlers:
                yield from _top_level(handler.body)
            yield from _top_level(stmt.orelse)
            yield from _top_level(stmt.finalbody)
        else:
            yield stmt


def _class_info(node: ast.ClassDef, module: ModuleInfo) -> ClassInfo:
    cls = ClassInfo(node.name, module, node)
    for stmt in node.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            cls.methods[stmt.name] = FunctionInfo(stmt.name, f"{node.name}.{stmt.name}", module, stmt, cls)
    return cls


def _class_attributes(cls: ClassInfo) -> Tuple[Dict[str, List[ast.expr]], bool]:
    """(`ClassInfo.attributes`, `ClassInfo.dynamic_attributes`) read from the class's code."""
    attributes: Dict[str, List[ast.expr]] = {}
    dynamic = any(name in ("__getattr__", "__getattribute__") for name in cls.methods)
    for stmt in cls.node.body:
        if isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                for name in _target_names(target):
                    attributes.setdefault(name, []).append(stmt.value)
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            attributes.setdefault(stmt.target.id, []).append(stmt.value or ast.Constant(None))
    for method in cls.methods.values():
        self_name = method.parameters[0] if method.parameters else None
        if self_name is None:
            continue
        for sub in walk(method.node):
            if isinstance(sub, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = sub.targets if isinstance(sub, ast.Assign) else [sub.target]
                for target in targets:
                    for attr_target in flatten_targets(target):
                        if (
                            isinstance(attr_target, ast.Attribute)
                            and isinstance(attr_target.value, ast.Name)
                            and attr_target.value.id == self_name
                        ):
                            value = sub.value if sub.value is not None else ast.Constant(None)
                            if isinstance(target, (ast.Tuple, ast.List)):
                                value = ast.Constant(...)  # element of an unpacked value: unknown
                            attributes.setdefault(attr_target.attr, []).append(value)
            elif isinstance(sub, (ast.For, ast.AsyncFor, ast.With, ast.AsyncWith, ast.NamedExpr)):
                targets = (
                    [sub.target]
                    if isinstance(sub, (ast.For, ast.AsyncFor, ast.NamedExpr))
                    else [i.optional_vars for i in sub.items if i.optional_vars is not None]
                )
                for target in targets:
                    for attr_target in flatten_targets(target):
                        if (
                            isinstance(attr_target, ast.Attribute)
                            and isinstance(attr_target.value, ast.Name)
                            and attr_target.value.id == self_name
                        ):
                            attributes.setdefault(attr_target.attr, []).append(ast.Constant(...))
            elif isinstance(sub, ast.Call):
                func = dotted_name(sub.func)
                if func in ("setattr", "object.__setattr__") or (func or "").endswith(".__setattr__"):
                    dynamic = True
            elif isinstance(sub, ast.Attribute) and sub.attr == "__dict__":
                dynamic = True
    return attributes, dynamic


def flatten_targets(target: ast.expr) -> Iterator[ast.expr]:
    if isinstance(target, (ast.Tuple, ast.List)):
        for elt in target.elts:
            yield from flatten_targets(elt)
    elif isinstance(target, ast.Starred):
        yield from flatten_targets(target.value)
    else:
        yield target


def _target_names(target: ast.expr) -> List[str]:
    return [t.id for t in flatten_targets(target) if isinstance(t, ast.Name)]


class ProjectIndex:
    """Lazily built cross-module facts for one run."""

    MAX_DEPTH = 12

    def __init__(self, root: Path, source_roots: Iterable[Path] = ()) -> None:
        self.root = Path(root).resolve()
        self.source_roots = [Path(r).resolve() for r in source_roots]
        self._by_path: Dict[Path, Optional[ModuleInfo]] = {}
        self._overrides: Dict[Path, str] = {}
        #: Files read to answer questions since the last `reset_touched()`.
        self.touched: Set[Path] = set()
        self._memo: Dict[tuple, object] = {}
        self._memo_touched: Dict[tuple, frozenset] = {}
        self._real_paths: Dict[object, Path] = {}
        self._module_files: Dict[tuple, Optional[Path]] = {}
        #: Characters of source read into the index so far (what its memory grows with).
        self.source_size = 0
        #: For each module read, how many checked files' questions reached it so far.
        self._uses: Dict[Path, int] = {}

    def memo(self, key: tuple, compute):
        """``compute()`` once per run for ``key`` (for derived facts in `zmqlint.facts`).

        Facts derived from a module must include that module (or its path) in ``key`` so a
        changed file (`set_source`) does not serve a stale answer.
        """
        if key in self._memo:
            self.touched.update(self._memo_touched.get(key, ()))
            return self._memo[key]
        # The files read to compute a fact are part of it: whoever reuses the fact depends on
        # them too (the cache re-checks a file when any of them changes).
        outer = self.touched
        self.touched = set()
        try:
            value = self._memo[key] = compute()
        finally:
            inner, self.touched = self.touched, outer
            outer.update(inner)
        self._memo_touched[key] = frozenset(inner)
        return value

    # -- modules ---------------------------------------------------------------------------

    def set_source(self, path: Path, text: str) -> None:
        """Use ``text`` for ``path`` instead of what is on disk (the file being fixed)."""
        path = Path(path).resolve()
        self._overrides[path] = text
        self._by_path.pop(path, None)
        self._memo.clear()
        self._memo_touched.clear()

    def close(self) -> None:
        """Forget everything read, for good. Modules, classes and functions refer to each other
        (and to each other's memoised facts); emptying them lets reference counting free them
        at once, without the cyclic collector."""
        for info in self._by_path.values():
            if info is not None:
                for cls in info.classes.values():
                    for method in cls.methods.values():
                        method.__dict__.clear()
                    cls.__dict__.clear()
                for function in info.functions.values():
                    function.__dict__.clear()
                info.__dict__.clear()
        self._by_path.clear()
        self._memo.clear()
        self._memo_touched.clear()
        self.source_size = 0

    def _real(self, path: Path) -> Path:
        """``path`` resolved (symlinks, ``..``), remembered for the run."""
        real = self._real_paths.get(path)
        if real is None:
            real = self._real_paths[path] = Path(path).resolve()
        return real

    def reset_touched(self) -> None:
        uses = self._uses
        for path in self.touched:
            uses[path] = uses.get(path, 0) + 1
        self.touched = set()

    def hand_over(self, successor: "ProjectIndex", budget: int) -> None:
        """Give ``successor`` (a new index of the same project) the modules most files needed,
        up to ``budget`` characters of source, before this index is closed: the modules
        everyone imports (the library's ``threading``, the project's base classes) need not be
        parsed again by each index. Only what is read from the module itself moves (its tree,
        names, classes and their attributes); every fact derived across modules is left
        behind, as are texts set with `set_source`."""
        self.reset_touched()  # counts the last file's
        hot = sorted(
            (path for path, count in self._uses.items() if count > 1 and path not in self._overrides),
            key=lambda path: -self._uses[path],
        )
        for path in hot:
            info = self._by_path.get(path)
            if info is None or path in successor._by_path:
                continue
            if successor.source_size + len(info.source) > budget:
                continue
            del self._by_path[path]
            successor._by_path[path] = info
            successor.source_size += len(info.source)
        # Where files are and what names resolve to stays true for the run.
        successor._real_paths.update(self._real_paths)
        successor._module_files.update(self._module_files)

    def module_for_path(self, path: Path) -> Optional[ModuleInfo]:
        path = self._real(path)
        self.touched.add(path)
        if path not in self._by_path:
            info = self._by_path[path] = self._load(path)
            if info is not None:
                self.source_size += len(info.source)
        return self._by_path[path]

    def _load(self, path: Path) -> Optional[ModuleInfo]:
        try:
            text = self._overrides.get(path)
            if text is None:
                text = SourceFile.read(path).text
            try:
                return parse_module_info(path, self.module_name(path), text)
            except SyntaxError:
                # A file with a broken statement still has facts in the parts that parse.
                from zmqlint.tolerant import repair_text

                # Repaired from the text alone (CPython words some errors differently when
                # it can read the named file): the engine reports these problems as E999.
                repair = repair_text(text)
                if repair is None:
                    return None
                info = parse_module_info(path, self.module_name(path), repair.text, repair.tree)
                info.broken_regions = list(repair.regions)
                info.original_source = text
                info.repair = repair
                return info
        except (SourceError, SyntaxError, ValueError, RecursionError, MemoryError):
            return None

    def module_name(self, path: Path) -> str:
        """Dotted name from the outermost folder that is still a package."""
        path = Path(path).resolve()
        parts = [] if path.name == "__init__.py" else [path.stem]
        folder = path.parent
        while (folder / "__init__.py").exists() and folder.parent != folder:
            parts.append(folder.name)
            folder = folder.parent
        return ".".join(reversed(parts))

    def search_roots(self, from_path: Optional[Path]) -> List[Path]:
        roots = list(self.source_roots)
        roots.append(self.root)
        if from_path is not None:
            folder = Path(from_path).resolve().parent
            for _ in range(self.MAX_DEPTH):
                roots.append(folder)
                if folder == self.root or folder.parent == folder:
                    break
                folder = folder.parent
        seen: Set[Path] = set()
        return [r for r in roots if not (r in seen or seen.add(r))]

    def resolve_module(self, name: str, *, from_module: Optional[ModuleInfo] = None, level: int = 0) -> Optional[ModuleInfo]:
        """The module ``name`` (``level`` dots of relative import) as seen from ``from_module``."""
        # Where a name resolves from a folder does not change during a run: remember the file
        # (the module itself is still read through `module_for_path`, which records it).
        cache_key = (name, level, from_module.path.parent if from_module is not None else None)
        if cache_key in self._module_files:
            found = self._module_files[cache_key]
            return self.module_for_path(found) if found is not None else None
        if level:
            if from_module is None:
                return None
            base = from_module.path.parent
            for _ in range(level - 1):
                base = base.parent
            candidates = [base]
        else:
            candidates = self.search_roots(from_module.path if from_module else None)
        rel = Path(*name.split(".")) if name else Path()
        for base in candidates:
            target = base / rel
            for candidate in (target.with_suffix(".py") if name else None, target / "__init__.py"):
                if candidate is not None and candidate.is_file():
                    self._module_files[cache_key] = candidate
                    return self.module_for_path(candidate)
        self._module_files[cache_key] = None
        return None

    # -- names -----------------------------------------------------------------------------

    def resolve(self, module: ModuleInfo, dotted: str, _depth: int = 0) -> Optional[Symbol]:
        """What ``dotted`` names at the top level of ``module``: a module, class or function."""
        if _depth > self.MAX_DEPTH or not dotted:
            return None
        head, _, rest = dotted.partition(".")
        symbol: Optional[Symbol] = None
        if head in module.classes:
            symbol = module.classes[head]
        elif head in module.functions:
            symbol = module.functions[head]
        elif head in module.imports:
            ref = module.imports[head]
            if ref.name is None:
                # `import a.b.c` binds `a`; walk down the dotted rest as submodules first.
                target = self.resolve_module(ref.module, from_module=module, level=ref.level)
                parts = rest.split(".") if rest else []
                while target is not None and parts:
                    sub = self.resolve_module(f"{ref.module}.{'.'.join(parts[:1])}", from_module=module) if target.is_package else None
                    if sub is None:
                        break
                    target, parts = sub, parts[1:]
                    ref = ImportRef(sub.name, None)
                if target is None:
                    return None
                return self.resolve(target, ".".join(parts), _depth + 1) if parts else target
            source = self.resolve_module(ref.module, from_module=module, level=ref.level)
            if source is None:
                return None
            symbol = self.resolve(source, ref.name, _depth + 1)
            if symbol is None and source.is_package:
                sub_name = f"{source.name}.{ref.name}" if source.name else ref.name
                symbol = self.resolve_module(ref.name, from_module=source, level=1) or self.resolve_module(sub_name)
        elif head in module.assignments:
            value = module.assignments[head]
            name = dotted_name(value)
            if name and name != head:
                symbol = self.resolve(module, name, _depth + 1)
        if symbol is None or not rest:
            return symbol
        return self.member(symbol, rest, _depth + 1)

    def member(self, symbol: Symbol, dotted: str, _depth: int = 0) -> Optional[Symbol]:
        head, _, rest = dotted.partition(".")
        found: Optional[Symbol] = None
        if isinstance(symbol, ModuleInfo):
            found = self.resolve(symbol, head, _depth + 1)
        elif isinstance(symbol, ClassInfo):
            found = self.find_method(symbol, head)
        if found is None or not rest:
            return found
        return self.member(found, rest, _depth + 1)

    def qualified_name(self, module: ModuleInfo, dotted: str) -> str:
        return module.qualified_name(dotted)

    # -- classes ---------------------------------------------------------------------------

    def bases(self, cls: ClassInfo) -> List[Union[ClassInfo, str]]:
        """Each base resolved to a class in the project, or its qualified name (``threading.Thread``)."""
        return list(self.memo(("index.bases", cls), lambda: self._bases(cls)))

    def _bases(self, cls: ClassInfo) -> List[Union[ClassInfo, str]]:
        result: List[Union[ClassInfo, str]] = []
        for base in cls.node.bases:
            name = dotted_name(base)
            if name is None:
                result.append("?")
                continue
            target = self.resolve(cls.module, name)
            if isinstance(target, ClassInfo) and target is not cls:
                result.append(target)
            else:
                result.append(cls.module.qualified_name(name))
        return result

    def mro(self, cls: ClassInfo) -> List[ClassInfo]:
        """The class and its resolvable ancestors, nearest first (depth-first, no repeats)."""
        return list(self.memo(("index.mro", cls), lambda: self._mro(cls)))

    def _mro(self, cls: ClassInfo) -> List[ClassInfo]:
        order: List[ClassInfo] = []
        stack = [cls]
        while stack and len(order) < 64:
            current = stack.pop(0)
            if current in order:
                continue
            order.append(current)
            stack[0:0] = [b for b in self.bases(current) if isinstance(b, ClassInfo)]
        return order

    def unresolved_bases(self, cls: ClassInfo) -> List[str]:
        """Qualified names of ancestors outside the project (``object`` excluded)."""
        names: List[str] = []
        for klass in self.mro(cls):
            names.extend(b for b in self.bases(klass) if isinstance(b, str) and b not in ("object", "builtins.object"))
        return names

    def find_method(self, cls: ClassInfo, name: str) -> Optional[FunctionInfo]:
        for klass in self.mro(cls):
            if name in klass.methods:
                return klass.methods[name]
        return None

    def attribute_values(self, cls: ClassInfo, attr: str) -> List[ast.expr]:
        """Every value assigned to ``attr`` in the class and its resolvable ancestors."""
        values: List[ast.expr] = []
        for klass in self.mro(cls):
            values.extend(klass.attributes.get(attr, []))
        return values

    def is_subclass_of(self, cls: ClassInfo, qualified: str) -> bool:
        """True when ``cls`` derives from the library class ``qualified`` (e.g. ``threading.Thread``)."""
        return qualified in self.unresolved_bases(cls)

    # -- values ----------------------------------------------------------------------------

    def class_of_value(self, module: ModuleInfo, value: ast.expr) -> Optional[ClassInfo]:
        """The project class whose instance ``value`` creates (``Cls(...)``), if it does."""
        if isinstance(value, ast.Call):
            name = dotted_name(value.func)
            if name:
                target = self.resolve(module, name)
                if isinstance(target, ClassInfo):
                    return target
        return None

    def returned_class(self, func: FunctionInfo) -> Optional[ClassInfo]:
        """The project class whose instance ``func`` returns: by its return annotation
        (``-> Pool``, ``-> Optional["Pool"]``), else when every value it returns is one
        (``return Pool()``, or a local or global it assigns ``Pool()``, as singleton getters
        do). None when they disagree or cannot be read."""
        key = ("index.returned_class", str(func.module.path), func.qualname, func.node.lineno)
        if self._memo.get(key, 0) is None:
            return None
        self._memo.setdefault(key, None)  # a recursion through here finds nothing
        self._memo[key] = self._returned_class(func)
        return self._memo[key]  # type: ignore[return-value]

    def _returned_class(self, func: FunctionInfo) -> Optional[ClassInfo]:
        annotation = func.node.returns
        if isinstance(annotation, ast.Subscript) and dotted_name(annotation.value) in ("Optional", "typing.Optional"):
            annotation = annotation.slice
        if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
            name: Optional[str] = annotation.value.strip()
        else:
            name = dotted_name(annotation) if annotation is not None else None
        if name:
            target = self.resolve(func.module, name)
            return target if isinstance(target, ClassInfo) else None
        found: Optional[ClassInfo] = None
        for node in own_nodes(func.node):
            if not isinstance(node, ast.Return) or node.value is None:
                continue
            value: Optional[ast.expr] = node.value
            candidates: List[ast.expr] = []
            if isinstance(value, ast.Name):
                candidates = [v for _, v in self._local_assignments(func).get(value.id, ())]
                if value.id in func.module.assignments:
                    candidates.append(func.module.assignments[value.id])
                candidates = [v for v in candidates if not (isinstance(v, ast.Constant) and v.value is None)]
            elif value is not None:
                candidates = [value]
            if not candidates:
                return None
            for candidate in candidates:
                klass = self.class_of_value(func.module, candidate)
                if klass is None and isinstance(candidate, ast.Call):
                    callee = self.resolve(func.module, dotted_name(candidate.func) or "")
                    klass = self.returned_class(callee) if isinstance(callee, FunctionInfo) else None
                if klass is None or (found is not None and klass is not found):
                    return None
                found = klass
        return found

    def class_of_attribute(self, cls: ClassInfo, attr: str) -> Optional[ClassInfo]:
        """The class of ``self.<attr>`` when every assignment that creates an object agrees."""
        found: Optional[ClassInfo] = None
        for value in self.attribute_values(cls, attr):
            if isinstance(value, ast.Constant) and value.value is None:
                continue
            owner = next((k for k in self.mro(cls) if value in k.attributes.get(attr, [])), cls)
            klass = self.class_of_value(owner.module, value)
            if klass is None or (found is not None and klass is not found):
                return None
            found = klass
        return found

    def local_value(self, function: FunctionInfo, name: str, before_line: Optional[int] = None) -> Optional[ast.expr]:
        """The value last assigned to the local ``name`` in ``function`` (before ``before_line``)."""
        latest: Optional[ast.expr] = None
        latest_line = -1
        for line, value in self._local_assignments(function).get(name, ()):
            if (before_line is None or line < before_line) and line > latest_line:
                latest, latest_line = value, line
        return latest

    def local_values(self, function: FunctionInfo, name: str) -> List[ast.expr]:
        """Every value assigned to the local ``name`` anywhere in ``function``."""
        return [value for _, value in self._local_assignments(function).get(name, ())]

    def _local_assignments(self, function: FunctionInfo) -> Dict[str, List[Tuple[int, ast.expr]]]:
        """For each name, ``(line, value)`` of every ``name = value`` / ``name: T = value`` in
        ``function`` (nested definitions included), in walk order: one walk per function."""

        def compute() -> Dict[str, List[Tuple[int, ast.expr]]]:
            found: Dict[str, List[Tuple[int, ast.expr]]] = {}
            for sub in walk(function.node):
                if isinstance(sub, ast.Assign) and sub.value is not None:
                    for target in {t.id: t for t in sub.targets if isinstance(t, ast.Name)}:
                        found.setdefault(target, []).append((sub.lineno, sub.value))
                elif isinstance(sub, ast.AnnAssign) and isinstance(sub.target, ast.Name) and sub.value is not None:
                    found.setdefault(sub.target.id, []).append((sub.lineno, sub.value))
            return found

        key = ("index.locals", str(function.module.path), function.qualname, function.node.lineno)
        return self.memo(key, compute)

    def resolve_callable(
        self,
        module: ModuleInfo,
        dotted: str,
        *,
        line: Optional[int] = None,
    ) -> Optional[Union[FunctionInfo, ClassInfo]]:
        """The function (or class) a call to ``dotted`` at ``line`` of ``module`` reaches.

        Understands ``self.method``, ``self.attr.method`` (``self.attr = Cls(...)`` anywhere in
        the class hierarchy), ``local.method`` (``local = Cls(...)`` earlier in the function),
        ``Cls.method``, imported functions and classes, and inherited methods.
        """
        parts = dotted.split(".")
        scope = module.scope_at(line) if line is not None else []
        cls = next((s for s in reversed(scope) if isinstance(s, ClassInfo)), None)
        func = next((s for s in reversed(scope) if isinstance(s, FunctionInfo)), None)
        target: Optional[Symbol] = None
        if len(parts) == 1 and func is not None and func.parameters and parts[0] == func.parameters[0]:
            return None  # calling the instance itself (`self(...)`)
        if func is not None and func.owner is not None and func.parameters and parts[0] == func.parameters[0] and cls:
            if len(parts) == 2:
                return self.find_method(cls, parts[1])
            owner_class = self.class_of_attribute(cls, parts[1])
            target = owner_class
            parts = parts[2:]
        elif func is not None and len(parts) >= 2:
            value = self.local_value(func, parts[0], before_line=line)
            if value is not None:
                target = self.class_of_value(module, value)
                if target is None and isinstance(value, ast.Call):
                    # ``pool = get_pool()``: the class the function returns an instance of.
                    callee = self.resolve(module, dotted_name(value.func) or "")
                    target = self.returned_class(callee) if isinstance(callee, FunctionInfo) else None
                parts = parts[1:]
            else:
                target = self.resolve(module, parts[0])
                parts = parts[1:]
        else:
            target = self.resolve(module, parts[0])
            parts = parts[1:]
        if target is None:
            return None
        if parts:
            target = self.member(target, ".".join(parts))
        return target if isinstance(target, (FunctionInfo, ClassInfo)) else None
