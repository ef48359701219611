"""``--format plan``: a Markdown remediation plan shaped like a field report.

Phases by severity (Critical, High, Medium, Low); in each, one task per rule with its
locations, the root cause and impact (the rule's own "Why is this bad?"), and the proposed fix:
the diff zmqlint would apply for each location, or the manual steps where no automatic fix
exists. It ends with what `--fix` and `--fix --unsafe-fixes` would do.
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Optional, TextIO

from zmqlint.config import Config
from zmqlint.engine import Engine, FixMode, apply_fixes
from zmqlint.model import Finding, Severity
from zmqlint.rules import ENGINE_CODES, all_rules
from zmqlint.runner import RunResult

_PHASES = [
    (Severity.CRITICAL, "Critical", "crash at start-up or hand a network peer code execution"),
    (Severity.HIGH, "High", "break a subsystem or expose it"),
    (Severity.MEDIUM, "Medium", "races, hangs at exit, hidden errors"),
    (Severity.LOW, "Low", "shutdown hygiene and tuning"),
]


def _finding_diffs(result: RunResult, config: Config) -> Dict[int, str]:
    """For each fixable finding (by id), the diff of applying its fix alone."""
    engine = Engine(config)
    diffs: Dict[int, str] = {}
    for file in result.files:
        fixable = [f for f in file.findings if FixMode.UNSAFE.allows(f.fix)]
        if not fixable:
            continue
        try:
            text = Path(file.path).read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        findings, module, _ = engine.lint_text(Path(file.path), file.display_path, text)
        if module is None:
            continue
        by_place = {(f.line, f.column, f.code): f for f in findings}
        for reported in fixable:
            fresh = by_place.get((reported.line, reported.column, reported.code))
            if fresh is None or fresh.fix is None:
                continue
            new = apply_fixes(module, [FixMode.UNSAFE.choose(fresh.fix)]).code
            diffs[id(reported)] = "".join(
                difflib.unified_diff(
                    text.splitlines(keepends=True),
                    new.splitlines(keepends=True),
                    fromfile=f"a/{file.display_path}",
                    tofile=f"b/{file.display_path}",
                    n=2,
                )
            )
    return diffs


def render_plan(result: RunResult, stream: TextIO, config: Optional[Config] = None) -> None:
    rules = all_rules()
    findings = result.findings
    diffs = _finding_diffs(result, config) if config is not None else {}
    by_code: Dict[str, List[Finding]] = defaultdict(list)
    for f in findings:
        by_code[f.code].append(f)
    out: List[str] = ["# Remediation plan", ""]
    if not findings:
        out += ["No findings: nothing to remediate.", ""]
        stream.write("\n".join(out))
        return
    out += [
        f"{len(findings)} finding(s) in {len({f.path for f in findings})} file(s), grouped in phases by severity.",
        "Work through the phases in order: each fixes what the next would otherwise hide.",
        "",
    ]
    task = 0
    for severity, title, blurb in _PHASES:
        codes = [c for c in sorted(by_code) if any(f.severity is severity for f in by_code[c])]
        if not codes:
            continue
        out += [f"## Phase: {title}", "", f"Findings that {blurb}.", ""]
        for code in codes:
            task += 1
            items = [f for f in by_code[code] if f.severity is severity]
            rule = rules.get(code)
            name = rule.NAME if rule else ENGINE_CODES.get(code, (code,))[0]
            out += [f"### Task {task}: {code} {name}", ""]
            out += ["**Locations:**", ""]
            out += [f"- `{f.path}:{f.line}:{f.column}`: {f.message}" for f in items]
            out += [""]
            if rule is not None:
                sections = rule.doc_sections()
                out += ["**Root cause and impact:**", "", sections.get("Why is this bad?", rule.MESSAGE), ""]
            else:
                out += ["**Root cause and impact:**", "", ENGINE_CODES[code][2] + ".", ""]
            out += ["**Proposed fix:**", ""]
            manual = [f for f in items if id(f) not in diffs]
            for f in items:
                if id(f) in diffs:
                    label = "unsafe, `--fix --unsafe-fixes`" if FixMode.SAFE.choose(f.fix) is None else "safe, `--fix`"
                    out += [f"{f.fix.description} ({label}) at `{f.path}:{f.line}`:", "", "```diff", diffs[id(f)].rstrip("\n"), "```", ""]
            if manual:
                steps = rule.doc_sections().get("Use instead") if rule else None
                where = ", ".join(f"`{f.path}:{f.line}`" for f in manual)
                out += [f"Manual steps for {where}: no automatic fix applies; change the code as shown below.", ""]
                if steps:
                    out += [steps, ""]
    safe = sum(1 for f in findings if FixMode.SAFE.allows(f.fix))
    unsafe_more = sum(1 for f in findings if FixMode.UNSAFE.choose(f.fix) is not FixMode.SAFE.choose(f.fix))
    manual_count = sum(1 for f in findings if f.fix is None)
    out += [
        "## Summary",
        "",
        f"- `zmqlint --fix` applies {safe} safe fix(es).",
        f"- `zmqlint --fix --unsafe-fixes` applies {unsafe_more} more (they change wire formats, HTTP policy or which exceptions propagate: change both ends of a channel together).",
        f"- {manual_count} finding(s) need the manual steps above.",
        "",
    ]
    stream.write("\n".join(out))
