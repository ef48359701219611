"""The rule framework: one `Rule` subclass per module in `zmqlint.rules`.

A rule is a LibCST batchable visitor. The engine runs every selected rule over a file in one
traversal of one `MetadataWrapper`, so metadata (positions, parents, scopes, qualified names) is
computed once per file and shared. A rule reports with `self.report(node, fix=...)`; it says
*what* is wrong and *which* fix applies, the codemods in `zmqlint.codemods` say *how*.

Every rule carries its user documentation in its docstring, under Ruff's headings
(What it does / Why is this bad? / Example / Use instead / Fix safety), and `VALID` /
`INVALID` examples that the test suite turns into test cases on its own.
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import libcst as cst
from libcst.metadata import CodeRange, PositionProvider

from zmqlint.model import Applicability, Finding, Fix, Severity

if TYPE_CHECKING:  # pragma: no cover
    from zmqlint.config import Config
    from zmqlint.gates import FileFacts
    from zmqlint.index import ModuleInfo, ProjectIndex


DOC_HEADINGS = ("What it does", "Why is this bad?", "Example", "Use instead", "Fix safety")


@dataclass(frozen=True)
class Option:
    """A rule setting in `[tool.zmqlint]` (kebab-case key), with its type and default."""

    type: type | Tuple[type, ...]
    default: Any
    help: str


@dataclass
class Valid:
    """Code on which the rule must stay silent.

    ``files`` holds further modules of a multi-module example (path relative to the example's
    root -> source); ``path`` is where ``code`` itself lives; ``options`` overrides settings.
    """

    code: str
    files: Mapping[str, str] = field(default_factory=dict)
    path: str = "example.py"
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Invalid:
    """Code on which the rule reports.

    ``line``/``column``/``end_line``/``end_column`` locate the first finding (1-based columns,
    end exclusive) where given; ``count`` is how many findings of this rule the code yields.
    ``expected_fix`` is the whole file after ``--fix`` (None: ``--fix`` changes nothing);
    ``expected_unsafe_fix`` after ``--fix --unsafe-fixes`` (None: the same as ``expected_fix``).
    """

    code: str
    line: Optional[int] = None
    column: Optional[int] = None
    end_line: Optional[int] = None
    end_column: Optional[int] = None
    count: int = 1
    expected_fix: Optional[str] = None
    expected_unsafe_fix: Optional[str] = None
    files: Mapping[str, str] = field(default_factory=dict)
    path: str = "example.py"
    options: Mapping[str, Any] = field(default_factory=dict)
    message_contains: Optional[str] = None


def dedent(code: str) -> str:
    """Examples are written indented inside the rule class; the harness dedents them."""
    return textwrap.dedent(code).lstrip("\n")


class RuleContext:
    """What a rule may know about the file it checks and the project around it."""

    def __init__(
        self,
        *,
        path: Path,
        display_path: str,
        source: str,
        wrapper: cst.MetadataWrapper,
        config: "Config",
        index: "ProjectIndex",
    ) -> None:
        self.path = path
        self.display_path = display_path
        self.source = source
        self.wrapper = wrapper
        self.config = config
        self.index = index
        self.findings: List[Finding] = []

    @property
    def module(self) -> cst.Module:
        return self.wrapper.module

    def option(self, key: str) -> Any:
        return self.config.option(key)

    @cached_property
    def module_info(self) -> Optional["ModuleInfo"]:
        """This file in the project index (for cross-module questions)."""
        return self.index.module_for_path(self.path)


class AnyWord:
    """A prefilter hint: one of ``words`` occurs in the text in any letter case, which is what
    ``re.compile("(?i)word|other|...")`` finds, without an expression tried at every position
    of the text (a tenth of a second per megabyte): an ASCII text is lowered once and searched
    for each word; any other text (where case folding goes beyond ASCII) gets the expression."""

    def __init__(self, *words: str) -> None:
        assert words and all(word.isascii() and word.isalpha() for word in words), words
        self.words = tuple(word.lower() for word in words)
        self.regex = re.compile("(?i)" + "|".join(map(re.escape, words)))

    def search(self, text: str) -> Optional[object]:
        if text.isascii():
            lowered = text.lower()
            return True if any(word in lowered for word in self.words) else None
        return self.regex.search(text)

    def __repr__(self) -> str:
        return f"AnyWord{self.words!r}"


class Rule(cst.BatchableCSTVisitor):
    """Base class of all rules. Subclasses set the class constants and write visit methods."""

    CODE: ClassVar[str]
    NAME: ClassVar[str]
    SEVERITY: ClassVar[Severity]
    MESSAGE: ClassVar[str]
    #: The applicabilities of the fixes this rule may offer (for the catalog and the docs).
    FIXES: ClassVar[Tuple[Applicability, ...]] = ()
    #: Rule settings in `[tool.zmqlint]`.
    OPTIONS: ClassVar[Mapping[str, Option]] = {}
    #: Cheap textual test: the rule can only report on a file containing one of these strings
    #: (or matching one of these compiled regular expressions, or one of these `AnyWord`s).
    #: Empty means the rule must always run. It must be sound: no finding is ever lost by it.
    PREFILTER: ClassVar[Tuple[Union[str, "re.Pattern[str]", "AnyWord"], ...]] = ()
    VALID: ClassVar[Sequence[Valid]] = ()
    INVALID: ClassVar[Sequence[Invalid]] = ()

    @classmethod
    def gate(cls, facts: "FileFacts") -> bool:
        """Whether the file can yield a finding of this rule at all, asked on the stdlib ``ast``
        before the file is parsed with LibCST (see `zmqlint.gates`). It must be sound: never
        False for a file the rule would report on. The default admits every file, or, for a
        rule with `candidates`, a file that has some."""
        found = facts.candidates_of(cls)
        return True if found is None else bool(found)

    @classmethod
    def candidates(cls, facts: "FileFacts") -> Optional[Sequence[ast.AST]]:
        """For a *local* rule, the ``ast`` nodes of the file a finding can lie in (the rule
        may still report none of them); None (the default) for any other rule.

        A rule is local when what it reports inside a ``def`` or ``class`` depends only on
        the statement holding the candidate (the candidate itself when it is a statement), the
        headers of the statements around it, the module's top-level statements and the names
        its top-level definitions bind, and when a statement replaced by ``None`` never makes
        it report. When every rule that runs on a file is local, the engine parses a text in
        which what holds no candidate is stubbed out (`zmqlint.slicing`). Like a gate, it must
        be sound: a finding outside every candidate's lines would be lost."""
        return None

    METADATA_DEPENDENCIES: ClassVar[Tuple] = (PositionProvider,)

    #: Codes of more general rules whose finding at the very range this rule reports describes
    #: the same problem: the engine keeps this rule's finding only (one problem, one finding).
    #: The codes stay independent otherwise: without this rule selected, theirs are reported.
    SUPERSEDES: ClassVar[Tuple[str, ...]] = ()

    #: Notes for the whole run, from the ``meta`` of every fix applied in it (each record is
    #: the fix's meta plus ``path``, ``line`` and ``code``): e.g. a warning that one end of a
    #: channel was converted and the other was not seen. Rules sharing one function share notes.
    RUN_NOTES: ClassVar[Optional[Callable[[Sequence[Mapping[str, Any]]], List[str]]]] = None

    def __init__(self, context: RuleContext) -> None:
        super().__init__()
        self.context = context

    # -- reporting -------------------------------------------------------------------------

    def report(
        self,
        node: cst.CSTNode,
        message: Optional[str] = None,
        *,
        fix: Optional[Fix] = None,
        severity: Optional[Severity] = None,
        position: Optional[CodeRange] = None,
    ) -> None:
        """Record a finding at ``node`` (or an explicit ``position``)."""
        rng = position or self.get_metadata(PositionProvider, node)
        self.context.findings.append(
            Finding(
                path=self.context.display_path,
                line=rng.start.line,
                column=rng.start.column + 1,
                end_line=rng.end.line,
                end_column=rng.end.column + 1,
                code=self.CODE,
                name=self.NAME,
                severity=severity or self.SEVERITY,
                message=message or self.MESSAGE,
                fix=fix,
            )
        )

    # -- catalog helpers -------------------------------------------------------------------

    @classmethod
    def documentation(cls) -> str:
        return inspect.cleandoc(cls.__doc__ or "")

    @classmethod
    def summary(cls) -> str:
        """The first line of the docs: a one-line description for tables."""
        return cls.documentation().splitlines()[0] if cls.__doc__ else cls.MESSAGE

    @classmethod
    def doc_sections(cls) -> Dict[str, str]:
        """The docstring split at its ``## Heading`` lines."""
        sections: Dict[str, str] = {}
        current = None
        for line in cls.documentation().splitlines():
            if line.startswith("## "):
                current = line[3:].strip()
                sections[current] = ""
            elif current is not None:
                sections[current] += line + "\n"
        return {k: v.strip() for k, v in sections.items()}

    @classmethod
    def fix_label(cls) -> str:
        if not cls.FIXES:
            return "none"
        return " / ".join(a.value for a in cls.FIXES)
