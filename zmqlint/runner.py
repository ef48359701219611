"""A run over the paths a user named: discovery, the engine per file, results in a stable order."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Sequence

from zmqlint.config import Config
from zmqlint.discovery import discover
from zmqlint.engine import Engine, FileResult, FixMode, engine_finding
from zmqlint.model import Finding


@dataclass
class RunResult:
    files: List[FileResult] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)
    errors: List[str] = field(default_factory=list)
    extra_findings: List[Finding] = field(default_factory=list)

    @property
    def findings(self) -> List[Finding]:
        found = [f for r in self.files for f in r.findings] + self.extra_findings
        return sorted(found, key=lambda f: f.sort_key)

    @property
    def fixes_applied(self) -> int:
        return sum(r.fixes_applied for r in self.files)

    @property
    def files_fixed(self) -> int:
        return sum(1 for r in self.files if r.fixed_text is not None)

    def diff(self) -> str:
        return "".join(r.diff() for r in self.files)


def run(
    paths: Sequence[str],
    config: Config,
    *,
    fix_mode: FixMode = FixMode.NONE,
    write: bool = True,
) -> RunResult:
    """Lint (and fix) every Python file under ``paths``."""
    discovered = discover(paths, config)
    result = RunResult(notes=list(discovered.notes))
    engine = Engine(config, fix_mode=fix_mode)
    for shown, message in discovered.unreadable:
        if "E902" in engine.enabled_codes:
            result.extra_findings.append(engine_finding(shown, "E902", f"cannot read: {message}"))
    for path, shown in discovered.files:
        file_result = engine.check_file(path, shown, write=write)
        result.files.append(file_result)
        result.notes.extend(file_result.notes)
        result.errors.extend(file_result.errors)
    result.notes.extend(run_notes(engine, result))
    return result


def run_notes(engine: Engine, result: RunResult) -> List[str]:
    """The selected rules' notes about the fixes applied in the whole run (``Rule.RUN_NOTES``)."""
    records = [record for file in result.files for record in file.applied_fix_meta]
    if not records:
        return []
    notes: List[str] = []
    seen = []
    for rule in engine.rules:
        summarize = rule.RUN_NOTES
        if summarize is not None and summarize not in seen:
            seen.append(summarize)
            notes.extend(summarize(records))
    return notes
