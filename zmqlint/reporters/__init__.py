"""Output formats. Each reporter turns a `RunResult` into text on a stream.

``sarif`` also takes the run's configuration (to compute its fixes' edits) and ``plan`` lives
apart (`zmqlint.reporters.plan`: it needs the engine, which the others do not import).

A reporter's module is imported when it is first asked for, so a run prints its findings
without importing the other formats' libraries (rich for ``text``, ElementTree for ``junit``).
"""

from __future__ import annotations

import importlib
from typing import Callable, Dict, Iterator, Mapping, TextIO

from zmqlint.runner import RunResult

Reporter = Callable[[RunResult, TextIO], None]

#: format name -> module of `zmqlint.reporters` whose ``render`` prints it
_MODULES: Dict[str, str] = {
    "text": "text",
    "concise": "concise",
    "json": "json_format",
    "sarif": "sarif",
    "github": "github",
    "gitlab": "gitlab",
    "junit": "junit",
}


class _Reporters(Mapping[str, Reporter]):
    def __getitem__(self, name: str) -> Reporter:
        module = importlib.import_module(f"{__name__}.{_MODULES[name]}")
        return module.render

    def __iter__(self) -> Iterator[str]:
        return iter(_MODULES)

    def __len__(self) -> int:
        return len(_MODULES)


REPORTERS: Mapping[str, Reporter] = _Reporters()
