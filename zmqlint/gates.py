"""What a rule's gate may look at: the stdlib ``ast`` of the file and the project index.

Parsing with LibCST costs about six times what the stdlib parser does, and most files of a
real project give no rule anything to report. So before a file is parsed with LibCST, each
rule that passed its textual `PREFILTER` is asked, through `Rule.gate`, whether the file can
yield one of its findings at all, on facts that are cheap to get from the ``ast`` the project
index already holds. A file no rule's gate admits is never parsed with LibCST.

A gate must be sound: it may admit a file the rule then finds nothing in, but it must never
turn away a file the rule would report on (`tests/test_prefilter.py` runs every example and a
sample of the standard library with and without prefilters and gates, and demands the same
findings). Gates answer from the same facts the rules use (`zmqlint.facts`), or from a plainly
wider question (the file calls something named ``eval``), never from a narrower one.
"""

from __future__ import annotations

import ast
import warnings
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, FrozenSet, List, Optional, Sequence, Type

from zmqlint.index import walk

if TYPE_CHECKING:  # pragma: no cover
    from zmqlint.config import Config
    from zmqlint.index import ModuleInfo, ProjectIndex
    from zmqlint.rule import Rule
    from zmqlint.tolerant import Repair


def full_name(node: ast.AST) -> Optional[str]:
    """The ``ast`` twin of ``libcst.helpers.get_full_name_for_node`` on an expression:
    ``a.b.c`` for names and attributes, through calls (``f()`` -> ``f``) and subscripts."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{full_name(node.value)}.{node.attr}"
    if isinstance(node, ast.Call):
        return full_name(node.func)
    if isinstance(node, ast.Subscript):
        return full_name(node.value)
    return None


class FileFacts:
    """Cheap facts about one file, computed on first use and shared by every rule's gate."""

    def __init__(self, *, path: Path, text: str, index: "ProjectIndex", config: "Config") -> None:
        self.path = path
        self.text = text
        self.index = index
        self.config = config
        self._candidates: Dict[str, Optional[Sequence[ast.AST]]] = {}

    def candidates_of(self, rule: "Type[Rule]") -> Optional[Sequence[ast.AST]]:
        """``rule.candidates(self)``, computed once (the gate and the engine both ask)."""
        if rule.CODE not in self._candidates:
            self._candidates[rule.CODE] = rule.candidates(self)
        return self._candidates[rule.CODE]

    def option(self, key: str) -> Any:
        return self.config.option(key)

    @cached_property
    def module(self) -> Optional["ModuleInfo"]:
        """The file in the project index, when the index holds exactly ``text`` (else None)."""
        info = self.index.module_for_path(self.path)
        if info is not None and (info.source == self.text or info.original_source == self.text):
            return info
        return None

    @property
    def repair(self) -> Optional["Repair"]:
        """The index's `tolerant.Repair` of ``text`` when it does not parse as it is: the gates
        then read the repaired tree (its broken statements set aside, lines kept), as the
        rules will."""
        module = self.module
        return module.repair if module is not None and module.original_source == self.text else None  # type: ignore[return-value]

    @cached_property
    def tree(self) -> Optional[ast.Module]:
        """The stdlib ``ast`` of ``text``; None when it does not parse (no gate is asked then)."""
        if self.module is not None:
            return self.module.tree
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return ast.parse(self.text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None

    @cached_property
    def _by_type(self) -> Dict[type, List[ast.AST]]:
        found: Dict[type, List[ast.AST]] = {}
        if self.tree is not None:
            nodes = self.module.nodes if self.module is not None else walk(self.tree)
            for node in nodes:
                kind = type(node)
                if kind in found:
                    found[kind].append(node)
                else:
                    found[kind] = [node]
        return found

    def nodes(self, *types: Type[ast.AST]) -> List[ast.AST]:
        """Every node of one of ``types`` (exact node classes) in the file, in walk order."""
        if len(types) == 1:
            return self._by_type.get(types[0], [])
        return [node for kind in types for node in self._by_type.get(kind, [])]

    def has(self, *types: Type[ast.AST]) -> bool:
        return any(kind in self._by_type for kind in types)

    @cached_property
    def identifiers(self) -> FrozenSet[str]:
        """Every name the code spells: variables, attributes, imported and defined names,
        parameters, keyword arguments (not strings or comments)."""
        names = set()
        for node in self.nodes(ast.Name):
            names.add(node.id)
        for node in self.nodes(ast.Attribute):
            names.add(node.attr)
        for node in self.nodes(ast.alias):
            names.update(node.name.split("."))
            if node.asname:
                names.add(node.asname)
        for node in self.nodes(ast.ImportFrom):
            names.update((node.module or "").split("."))
        for node in self.nodes(ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef):
            names.add(node.name)
        for node in self.nodes(ast.arg):
            names.add(node.arg)
        for node in self.nodes(ast.keyword):
            if node.arg:
                names.add(node.arg)
        return frozenset(names)

    def spells(self, *names: str) -> bool:
        """True when the code uses one of ``names`` as an identifier anywhere."""
        return not self.identifiers.isdisjoint(names)

    @cached_property
    def _calls_by_name(self) -> Dict[str, List[ast.Call]]:
        found: Dict[str, List[ast.Call]] = {}
        for call in self.nodes(ast.Call):
            func = call.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
            if name is not None:
                found.setdefault(name, []).append(call)
        return found

    def calls(self, *names: str) -> List[ast.Call]:
        """Calls whose callee's last name (``f(...)``, ``x.y.f(...)``) is one of ``names``."""
        return [call for name in names for call in self._calls_by_name.get(name, [])]

    def calls_anything_else(self) -> bool:
        """True when some call's callee is not a plain name or attribute (``f()()``, ``a[0]()``)."""
        return sum(len(v) for v in self._calls_by_name.values()) != len(self.nodes(ast.Call))
