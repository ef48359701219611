"""``--format text``: one line per finding with a source excerpt, then a summary.

    path:line:col: CODE message
      |
    12|     sock.bind(addr)
      |     ^^^^^^^^^^^^^^^

The summary counts findings by severity and says how many ``--fix`` would fix and how many
more ``--unsafe-fixes`` would add, as Ruff's does.
"""

from __future__ import annotations

from collections import Counter
from typing import Dict, List, TextIO

from rich.console import Console
from rich.markup import escape

from zmqlint.model import FixMode
from zmqlint.model import Severity
from zmqlint.runner import RunResult

_STYLE = {
    Severity.CRITICAL: "bold red",
    Severity.HIGH: "red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
}


def _lines(result: RunResult) -> Dict[str, List[str]]:
    return {file.display_path: file.text().splitlines() for file in result.files if file.findings}


def render(result: RunResult, stream: TextIO, *, show_source: bool = True) -> None:
    console = Console(file=stream, highlight=False, soft_wrap=True)
    sources = _lines(result) if show_source else {}
    for f in result.findings:
        fix_mark = " [dim]\\[*][/dim]" if FixMode.SAFE.allows(f.fix) else ""
        console.print(
            f"[bold]{escape(f.path)}[/bold]:{f.line}:{f.column}: "
            f"[{_STYLE[f.severity]}]{f.code}[/] {escape(f.message)}{fix_mark}"
        )
        lines = sources.get(f.path)
        if lines and 0 < f.line <= len(lines):
            line = lines[f.line - 1].expandtabs(1)
            width = len(str(f.line))
            end = f.end_column if f.end_line == f.line else len(line) + 1
            carets = "^" * max(1, end - f.column)
            console.print(f"[dim]{' ' * width} |[/dim]")
            console.print(f"[dim]{f.line} |[/dim] {escape(line)}")
            console.print(f"[dim]{' ' * width} |[/dim] {' ' * (f.column - 1)}[{_STYLE[f.severity]}]{carets}[/]")
            console.print()
    for note in result.notes:
        console.print(f"[yellow]note:[/yellow] {escape(note)}")
    for error in result.errors:
        console.print(f"[bold red]error:[/bold red] {escape(error)}")
    console.print(summary(result), markup=False)


def summary(result: RunResult) -> str:
    findings = result.findings
    parts = []
    if result.fixes_applied:
        parts.append(f"Fixed {result.fixes_applied} finding(s) in {result.files_fixed} file(s).")
    if not findings:
        parts.append(f"All checks passed ({len(result.files)} file(s) checked).")
        return " ".join(parts)
    by_severity = Counter(f.severity for f in findings)
    counts = ", ".join(f"{by_severity[s]} {s.value}" for s in Severity if by_severity[s])
    parts.append(f"Found {len(findings)} finding(s) in {len({f.path for f in findings})} file(s): {counts}.")
    safe = sum(1 for f in findings if FixMode.SAFE.allows(f.fix))
    unsafe = sum(1 for f in findings if FixMode.UNSAFE.choose(f.fix) is not FixMode.SAFE.choose(f.fix))
    if safe or unsafe:
        fix_text = f"{safe} fixable with --fix" if safe else "none fixable with --fix"
        if unsafe:
            fix_text += f", {unsafe} more with --fix --unsafe-fixes"
        parts.append(f"[{fix_text}]")
    return "\n".join(parts)
