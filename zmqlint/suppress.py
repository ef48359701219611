"""Inline suppressions: ``# noqa``, ``# noqa: ZMQ101,SER2`` and ``# zmqlint: ignore[ZMQ101]``.

A suppression applies to findings that start on its line. Only real comments count: the
comments are found with the tokenizer, so a ``# noqa`` inside a string does nothing.
"""

from __future__ import annotations

import io
import re
import tokenize
from typing import Dict, Optional, Set

_NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Z]+[0-9]*(?:\s*[,\s]\s*[A-Z]+[0-9]*)*))?", re.IGNORECASE)
_ZMQLINT = re.compile(r"#\s*zmqlint:\s*ignore\[(?P<codes>[^\]]*)\]", re.IGNORECASE)

#: line -> codes suppressed there; None means every code (a bare ``# noqa``).
Suppressions = Dict[int, Optional[Set[str]]]


def parse_suppressions(text: str) -> Suppressions:
    if "noqa" not in text and "zmqlint:" not in text:
        return {}
    result: Suppressions = {}
    try:
        comments = [
            (tok.start[0], tok.string)
            for tok in tokenize.generate_tokens(io.StringIO(text).readline)
            if tok.type == tokenize.COMMENT
        ]
    except (tokenize.TokenError, SyntaxError, IndentationError):
        # A file the tokenizer rejects: fall back to a line scan.
        comments = [(n, line[line.index("#") :]) for n, line in enumerate(text.splitlines(), 1) if "#" in line]
    for line, comment in comments:
        for pattern in (_NOQA, _ZMQLINT):
            match = pattern.search(comment)
            if not match:
                continue
            codes = match.group("codes")
            if codes is None and pattern is _NOQA:
                result[line] = None
            elif codes is not None and result.get(line, set()) is not None:
                result.setdefault(line, set()).update(c.upper() for c in re.split(r"[,\s]+", codes) if c)
    return result


def is_suppressed(suppressions: Suppressions, line: int, code: str) -> bool:
    if line not in suppressions:
        return False
    codes = suppressions[line]
    return codes is None or any(code.startswith(c) for c in codes)
