"""``--statistics``: how many findings of each code, instead of the findings themselves.

One line per code, the most frequent first (ties in code order): the count, the code, a mark
of what the fixes can do (``[*]`` some are fixed by ``--fix``, ``[-]`` only with
``--fix --unsafe-fixes``, ``[ ]`` none), the rule's name, and how many are fixable, safe and
unsafe apart::

    3  EXC601  [*] silent-exception-handler  fixable: 3 safe
    1  SER201  [-] pickle-from-socket        fixable: 1 unsafe
    1  SEC401  [ ] eval-of-dynamic-string

A finding is counted as safe when ``--fix`` fixes it (its fix is safe, or it has a safe
fallback), as unsafe when only ``--fix --unsafe-fixes`` does. With ``--format json``, the same
as a JSON array.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Dict, List, TextIO

from zmqlint.model import FixMode
from zmqlint.runner import RunResult


@dataclass
class CodeStatistics:
    code: str
    name: str
    count: int = 0
    safe: int = 0
    unsafe: int = 0

    @property
    def mark(self) -> str:
        return "[*]" if self.safe else "[-]" if self.unsafe else "[ ]"

    def to_json(self) -> dict:
        return {"code": self.code, "name": self.name, "count": self.count, "fixable": {"safe": self.safe, "unsafe": self.unsafe}}


def statistics(result: RunResult) -> List[CodeStatistics]:
    by_code: Dict[str, CodeStatistics] = {}
    for finding in result.findings:
        entry = by_code.setdefault(finding.code, CodeStatistics(finding.code, finding.name))
        entry.count += 1
        if FixMode.SAFE.allows(finding.fix):
            entry.safe += 1
        elif FixMode.UNSAFE.allows(finding.fix):
            entry.unsafe += 1
    return sorted(by_code.values(), key=lambda entry: (-entry.count, entry.code))


def render(result: RunResult, stream: TextIO) -> None:
    entries = statistics(result)
    if not entries:
        return
    count_width = max(len(str(entry.count)) for entry in entries)
    code_width = max(len(entry.code) for entry in entries)
    name_width = max(len(entry.name) for entry in entries)
    for entry in entries:
        fixable = ", ".join(f"{n} {kind}" for n, kind in ((entry.safe, "safe"), (entry.unsafe, "unsafe")) if n)
        row = f"{entry.count:>{count_width}}  {entry.code:<{code_width}}  {entry.mark} {entry.name}"
        if fixable:
            row = f"{row:<{count_width + code_width + name_width + 8}}  fixable: {fixable}"
        stream.write(row.rstrip() + "\n")


def render_json(result: RunResult, stream: TextIO) -> None:
    json.dump([entry.to_json() for entry in statistics(result)], stream, indent=2)
    stream.write("\n")
