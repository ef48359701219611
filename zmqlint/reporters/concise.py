"""``--format concise``: one line per finding, ``path:line:col: CODE message``, nothing else.

The shape editors' error formats (Vim's ``errorformat``, Emacs's ``compilation-mode``, VS
Code's problem matchers) and grep-style tools parse. Notes and errors go to standard error.
"""

from __future__ import annotations

from typing import TextIO

from zmqlint.model import Finding
from zmqlint.runner import RunResult


def line(finding: Finding) -> str:
    # A message is one line; a line break in one would start a bogus entry for the parser.
    message = " ".join(finding.message.splitlines())
    return f"{finding.path}:{finding.line}:{finding.column}: {finding.code} {message}"


def render(result: RunResult, stream: TextIO) -> None:
    for finding in result.findings:
        stream.write(line(finding) + "\n")
