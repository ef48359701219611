"""``--format plan``: a Markdown remediation plan shaped like a field report.

Phases by severity (Critical, High, Medium, Low); in each, one task per rule with its
locations, the root cause and impact (the rule's own "Why is this bad?"), and the proposed fix:
the diff zmqlint would apply for each location, or the manual steps where no automatic fix
exists. It ends with what `--fix` and `--fix --unsafe-fixes` would do.
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from typing import Dict, List, Optional, TextIO

from zmqlint.config import Config
from zmqlint.model import Applicability, Finding, FixMode, Severity
from zmqlint.reporters.edits import fix_edits
from zmqlint.rules import ENGINE_CODES, all_rules
from zmqlint.runner import RunResult

_PHASES = [
    (Severity.CRITICAL, "Critical", "crash at start-up or hand a network peer code execution"),
    (Severity.HIGH, "High", "break a subsystem or expose it"),
    (Severity.MEDIUM, "Medium", "races, hangs at exit, hidden errors"),
    (Severity.LOW, "Low", "shutdown hygiene and tuning"),
]


def _finding_diffs(result: RunResult, config: Config) -> Dict[int, str]:
    """For each fixable finding (by id), the diff of applying its fix alone (the unsafe one
    where it has one: the plan shows the whole remedy)."""
    diffs: Dict[int, str] = {}
    shown = {id(f): file.display_path for file in result.files for f in file.findings}
    for key, edits in fix_edits(result, config).items():
        edit = next((e for e in edits if e.fix.applicability is not Applicability.DISPLAY), None)
        if edit is None:
            continue
        diffs[key] = "".join(
            difflib.unified_diff(
                edit.before.splitlines(keepends=True),
                edit.after.splitlines(keepends=True),
                fromfile=f"a/{shown[key]}",
                tofile=f"b/{shown[key]}",
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
