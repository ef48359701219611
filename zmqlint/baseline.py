"""Baselines: record today's findings, then report only new ones.

A legacy codebase has hundreds of findings on day one; a gate that fails on all of them is
switched off the same day. ``zmqlint --write-baseline FILE`` records the current findings;
``zmqlint --baseline FILE`` reports only findings that are not in it.

A finding's fingerprint is its code, its file, and the text of the lines it covers with runs
of white space folded — not its line number. Lines added above it, or reformatting elsewhere in
the file, leave the fingerprint as it was; editing the finding's own code changes it. Findings
with the same fingerprint (the same line twice in a file) are counted, so a third copy of a
line recorded twice is new.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional

from zmqlint import __version__
from zmqlint.model import Finding

FORMAT_VERSION = 1
_SPACE = re.compile(r"\s+")


class BaselineError(Exception):
    """The baseline file cannot be read or is not a zmqlint baseline."""


def _source_lines(path: str, cache: Dict[str, List[str]]) -> List[str]:
    if path not in cache:
        try:
            cache[path] = Path(path).read_bytes().decode("utf-8", errors="replace").splitlines()
        except OSError:
            cache[path] = []
    return cache[path]


def fingerprint(finding: Finding, lines: List[str]) -> str:
    covered = lines[finding.line - 1 : finding.end_line] if lines else []
    text = " ".join(_SPACE.sub(" ", line).strip() for line in covered)
    payload = "\0".join([finding.code, finding.path.replace("\\", "/"), text])
    return hashlib.sha256(payload.encode("utf-8", errors="replace")).hexdigest()[:24]


def fingerprints(
    findings: Iterable[Finding], *, base: Path = Path("."), lines: Optional[Mapping[str, List[str]]] = None
) -> List[str]:
    """Each finding's fingerprint; ``lines`` gives the lines of files (by path as shown) whose
    text is not the one on disk (read from standard input)."""
    given = lines or {}
    cache: Dict[str, List[str]] = {}
    return [
        fingerprint(f, given[f.path] if f.path in given else _source_lines(str(base / f.path), cache)) for f in findings
    ]


def write_baseline(path: Path, findings: List[Finding], *, lines: Optional[Mapping[str, List[str]]] = None) -> int:
    prints = fingerprints(findings, lines=lines)
    entries = [
        {"fingerprint": fp, "code": f.code, "path": f.path, "line": f.line, "message": f.message}
        for fp, f in zip(prints, findings)
    ]
    data = {"zmqlint-baseline": FORMAT_VERSION, "zmqlint-version": __version__, "findings": entries}
    Path(path).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return len(entries)


def read_baseline(path: Path) -> Counter:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise BaselineError(f"cannot read baseline {path}: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BaselineError(f"baseline {path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("zmqlint-baseline") != FORMAT_VERSION:
        raise BaselineError(f"{path} is not a zmqlint baseline (written with --write-baseline)")
    try:
        return Counter(entry["fingerprint"] for entry in data["findings"])
    except (KeyError, TypeError) as exc:
        raise BaselineError(f"baseline {path} is malformed: {exc}") from exc


def new_findings(
    findings: List[Finding], baseline: Counter, *, lines: Optional[Mapping[str, List[str]]] = None
) -> List[Finding]:
    """The findings not accounted for by ``baseline`` (each recorded fingerprint absorbs one)."""
    remaining = Counter(baseline)
    kept = []
    for fp, finding in zip(fingerprints(findings, lines=lines), findings):
        if remaining[fp] > 0:
            remaining[fp] -= 1
        else:
            kept.append(finding)
    return kept
