"""What each reported fix would change in its file, applied alone.

Findings reach the reporters without the CST nodes their fixes rewrite (they crossed a process
boundary or came from the cache), so the reports that show or carry the edits (`plan`'s
diffs, SARIF's ``fixes``) get them here: each file with a fixable finding is linted once more
on the text its findings point into, and each fix, and its safe fallback, is applied alone.
A rewrite that changes nothing or would not compile is left out, as the fix loop would drop it.
"""

from __future__ import annotations

import bisect
import difflib
import re
from dataclasses import dataclass
from typing import Dict, List, Tuple

from zmqlint.config import Config
from zmqlint.engine import Engine, apply_fixes, compiles
from zmqlint.model import Fix
from zmqlint.runner import RunResult

_NEWLINE = re.compile(r"\r\n|\r|\n")


@dataclass
class FixEdit:
    """One fix and the file's text before and after it."""

    fix: Fix
    before: str
    after: str

    def replacements(self) -> List[Tuple[int, int, str]]:
        """The edit as ``(start, end, inserted)`` character ranges of ``before``, in order and
        not overlapping: each changed run of lines narrowed to the characters that differ."""
        old = self.before.splitlines(keepends=True)
        new = self.after.splitlines(keepends=True)
        starts = [0]
        for line in old:
            starts.append(starts[-1] + len(line))
        out = []
        matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                continue
            removed, inserted = "".join(old[i1:i2]), "".join(new[j1:j2])
            prefix = _common_prefix(removed, inserted)
            suffix = _common_prefix(removed[prefix:][::-1], inserted[prefix:][::-1])
            start = starts[i1] + prefix
            end = starts[i1] + len(removed) - suffix
            out.append((start, end, inserted[prefix : len(inserted) - suffix]))
        return out


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


class LineIndex:
    """Character offsets of a text as 1-based (line, column), lines ending at ``\\r\\n``,
    ``\\r`` or ``\\n`` (as SARIF counts them), columns in code points."""

    def __init__(self, text: str) -> None:
        self.starts = [0] + [m.end() for m in _NEWLINE.finditer(text)]

    def position(self, offset: int) -> Tuple[int, int]:
        line = bisect.bisect_right(self.starts, offset) - 1
        return line + 1, offset - self.starts[line] + 1


def fix_edits(result: RunResult, config: Config) -> Dict[int, List[FixEdit]]:
    """For each finding of ``result`` with a fix (by ``id``): its fix, then its fallback, each
    applied alone to the text the findings point into."""
    engine = Engine(config)
    edits: Dict[int, List[FixEdit]] = {}
    for file in result.files:
        fixable = [f for f in file.findings if f.fix is not None]
        if not fixable:
            continue
        text = file.text()
        if not text:
            continue
        # The index sees this text for the file (what was fixed, or read from standard input).
        engine.index.set_source(file.path, text)
        findings, module, _ = engine.lint_text(file.path, file.display_path, text)
        if module is None:
            continue
        package = engine.package_of(file.path)
        fresh = {(f.line, f.column, f.code, f.message): f for f in findings}
        for reported in fixable:
            found = fresh.get((reported.line, reported.column, reported.code, reported.message))
            if found is None or found.fix is None:
                continue
            for fix in (found.fix, found.fix.fallback):
                if fix is None:
                    continue
                after = apply_fixes(module, [fix], package=package).code
                if after != text and compiles(after, file.display_path):
                    edits.setdefault(id(reported), []).append(FixEdit(fix, text, after))
    return edits
