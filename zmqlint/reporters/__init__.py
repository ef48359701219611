"""Output formats. Each reporter turns a `RunResult` into text on a stream.

``sarif`` also takes the run's configuration (to compute its fixes' edits) and ``plan`` lives
apart (`zmqlint.reporters.plan`: it needs the engine, which the others do not import).
"""

from __future__ import annotations

from typing import Callable, Dict, TextIO

from zmqlint.reporters import concise, github, gitlab, json_format, junit, sarif, text
from zmqlint.runner import RunResult

Reporter = Callable[[RunResult, TextIO], None]

REPORTERS: Dict[str, Reporter] = {
    "text": text.render,
    "concise": concise.render,
    "json": json_format.render,
    "sarif": sarif.render,
    "github": github.render,
    "gitlab": gitlab.render,
    "junit": junit.render,
}
