"""The values every part of zmqlint passes around: severities, fixes and findings."""

from __future__ import annotations

import difflib
import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, List, Mapping, Optional, Sequence, Set, Union

if TYPE_CHECKING:  # pragma: no cover
    import libcst as cst


class Severity(str, enum.Enum):
    """Severity follows the field report's phases."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.CRITICAL: 0, Severity.HIGH: 1, Severity.MEDIUM: 2, Severity.LOW: 3}


class Applicability(str, enum.Enum):
    """Which flag a fix needs: `--fix` applies safe ones, `--unsafe-fixes` adds the rest.

    `DISPLAY` fixes are shown (``--diff``) but never written.
    """

    SAFE = "safe"
    UNSAFE = "unsafe"
    DISPLAY = "display-only"


@dataclass(frozen=True)
class ImportSpec:
    """An import a fix adds or removes: ``import module`` or ``from module import obj as asname``."""

    module: str
    obj: Optional[str] = None
    asname: Optional[str] = None


@dataclass
class Fix:
    """A rewrite attached to a finding.

    The common case is ``replacements``: original CST nodes (as the rule saw them) mapped to the
    nodes that replace them, or to ``libcst.RemoveFromParent()``. Rewrites that must touch
    several places at once give a ``transformer`` factory instead (see ``zmqlint.codemods``);
    it is called with no argument and must return a ``libcst.CSTTransformer`` that recognises
    the original nodes by identity in ``on_leave(original_node, updated_node)``.
    """

    description: str
    applicability: Applicability = Applicability.SAFE
    replacements: Mapping["cst.CSTNode", Union["cst.CSTNode", "cst.RemovalSentinel", "cst.FlattenSentinel"]] = field(
        default_factory=dict
    )
    transformer: Optional[Callable[[], "cst.CSTTransformer"]] = None
    add_imports: Sequence[ImportSpec] = ()
    remove_imports: Sequence[ImportSpec] = ()
    #: A safe rewrite `--fix` applies when this (unsafe) one is not allowed.
    fallback: Optional["Fix"] = None
    #: Plain (JSON-able) data about the fix that run-level notes use (see `Rule.RUN_NOTES`).
    meta: Mapping[str, object] = field(default_factory=dict)

    def to_json(self) -> dict:
        data = {"applicability": self.applicability.value, "description": self.description}
        if self.fallback is not None:
            data["fallback"] = self.fallback.to_json()
        return data


@dataclass
class Finding:
    """One reported problem. Lines are 1-based; columns are 1-based, the end exclusive."""

    path: str
    line: int
    column: int
    end_line: int
    end_column: int
    code: str
    name: str
    severity: Severity
    message: str
    fix: Optional[Fix] = None

    @property
    def sort_key(self) -> tuple:
        return (self.path, self.line, self.column, self.code, self.message)

    def to_json(self) -> dict:
        return {
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "end_column": self.end_column,
            "code": self.code,
            "name": self.name,
            "severity": self.severity.value,
            "message": self.message,
            "fix": self.fix.to_json() if self.fix else None,
        }

    @classmethod
    def from_json(cls, data: dict) -> "Finding":
        fix = data.get("fix")
        return cls(
            path=data["path"],
            line=data["line"],
            column=data["column"],
            end_line=data["end_line"],
            end_column=data["end_column"],
            code=data["code"],
            name=data["name"],
            severity=Severity(data["severity"]),
            message=data["message"],
            fix=_fix_from_json(fix) if fix else None,
        )


def _fix_from_json(data: dict) -> Fix:
    """A fix as reported (no rewrite attached): for reports read back from JSON or a cache."""
    fallback = data.get("fallback")
    return Fix(
        data["description"],
        Applicability(data["applicability"]),
        fallback=_fix_from_json(fallback) if fallback else None,
    )


class FixMode(enum.Enum):
    NONE = 0
    SAFE = 1
    UNSAFE = 2

    def allows(self, fix: Optional[Fix]) -> bool:
        return self.choose(fix) is not None

    def choose(self, fix: Optional[Fix]) -> Optional[Fix]:
        """The rewrite this mode applies for ``fix``: itself, its safe fallback, or None."""
        if fix is None or self is FixMode.NONE:
            return None
        if fix.applicability is Applicability.SAFE:
            return fix
        if self is FixMode.UNSAFE and fix.applicability is Applicability.UNSAFE:
            return fix
        return self.choose(fix.fallback)


@dataclass
class FileResult:
    """What checking (and fixing) one file gave."""

    path: Path
    display_path: str
    #: Findings left (after fixes, when fixing).
    findings: List[Finding] = field(default_factory=list)
    #: The fixed text when fixes changed the file.
    original_text: Optional[str] = None
    fixed_text: Optional[str] = None
    fixes_applied: int = 0
    #: Fixes that were dropped because their result did not compile, and write problems.
    notes: List[str] = field(default_factory=list)
    #: Internal errors (a rule crashed): the run exits 2.
    errors: List[str] = field(default_factory=list)
    #: Files the findings depend on (read through the project index), for the cache.
    dependencies: Set[Path] = field(default_factory=set)
    #: The ``meta`` of each fix applied (with path, line and code), for `Rule.RUN_NOTES`.
    applied_fix_meta: List[dict] = field(default_factory=list)
    #: The text checked when it is not the file on disk (read from standard input).
    source_text: Optional[str] = None

    def text(self) -> str:
        """The text the findings point into: the fixed text when fixes changed it, else the
        text checked (standard input), else the file on disk ("" when it cannot be read)."""
        if self.fixed_text is not None:
            return self.fixed_text
        if self.source_text is not None:
            return self.source_text
        from zmqlint.source import SourceError, SourceFile

        try:
            return SourceFile.read(self.path).text
        except SourceError:
            try:
                return Path(self.path).read_bytes().decode("utf-8", errors="replace")
            except OSError:
                return ""

    def diff(self) -> str:
        if self.fixed_text is None or self.original_text is None:
            return ""
        return "".join(
            difflib.unified_diff(
                self.original_text.splitlines(keepends=True),
                self.fixed_text.splitlines(keepends=True),
                fromfile=f"a/{self.display_path}",
                tofile=f"b/{self.display_path}",
            )
        )
