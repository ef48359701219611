"""``--format gitlab``: a GitLab Code Quality report.

A JSON array with one object per finding, holding the fields GitLab's Code Quality report
format documents: ``description``, ``check_name`` (the code), ``fingerprint``, ``severity``
(one of GitLab's ``info``, ``minor``, ``major``, ``critical``, ``blocker``) and ``location``
(``path`` relative to the repository, ``lines.begin`` and ``lines.end``).

GitLab compares the reports of a merge request's base and head by fingerprint, so a
fingerprint must be unique in a report and stable while the code it points at is: it is the
baseline's (code, file and the text of the lines covered, not their numbers;
`zmqlint.baseline.fingerprint`), told apart by occurrence when the same line occurs twice.
Paths are relative to ``$CI_PROJECT_DIR`` when GitLab sets it, else to the current folder.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from pathlib import Path
from typing import Dict, List, Optional, TextIO

from zmqlint.baseline import fingerprint
from zmqlint.model import Finding, Severity
from zmqlint.runner import RunResult

SEVERITY = {
    Severity.CRITICAL: "critical",
    Severity.HIGH: "major",
    Severity.MEDIUM: "minor",
    Severity.LOW: "info",
}


def report_path(path: str, base: Optional[Path] = None) -> str:
    """``path`` relative to ``base`` (``$CI_PROJECT_DIR``, else the current folder) with ``/``
    separators; as given when it lies outside."""
    if base is None:
        base = Path(os.environ.get("CI_PROJECT_DIR") or os.getcwd())
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(os.path.abspath(base)).as_posix()
    except ValueError:
        return path.replace("\\", "/")


def issues(result: RunResult) -> List[dict]:
    lines: Dict[str, List[str]] = {}
    for file in result.files:
        if file.findings:
            lines[file.display_path] = file.text().splitlines()
    seen: Counter = Counter()
    out = []
    for finding in result.findings:
        base = fingerprint(finding, lines.get(finding.path, []))
        occurrence = seen[base]
        seen[base] += 1
        out.append(_issue(finding, hashlib.sha256(f"{base}\0{occurrence}".encode()).hexdigest()[:32]))
    return out


def _issue(finding: Finding, fingerprint_: str) -> dict:
    return {
        "description": f"{finding.code} {finding.message}",
        "check_name": finding.code,
        "fingerprint": fingerprint_,
        "severity": SEVERITY[finding.severity],
        "location": {
            "path": report_path(finding.path),
            "lines": {"begin": finding.line, "end": max(finding.end_line, finding.line)},
        },
    }


def render(result: RunResult, stream: TextIO) -> None:
    json.dump(issues(result), stream, indent=2)
    stream.write("\n")
