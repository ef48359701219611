"""The values every part of zmqlint passes around: severities, fixes and findings."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Mapping, Optional, Sequence, Union

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
