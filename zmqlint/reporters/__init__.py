"""Output formats. Each reporter turns a `RunResult` into text on a stream."""

from __future__ import annotations

from typing import Callable, Dict, TextIO

from zmqlint.reporters import github, json_format, sarif, text
from zmqlint.runner import RunResult

Reporter = Callable[[RunResult, TextIO], None]

REPORTERS: Dict[str, Reporter] = {
    "text": text.render,
    "json": json_format.render,
    "sarif": sarif.render,
    "github": github.render,
}
