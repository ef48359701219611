"""A progress bar on stderr for runs long enough to wonder about.

Shown only when stderr is a terminal, and only once a run has taken more than `DELAY` seconds,
so a quick run prints nothing extra and pipes and CI logs never see it. The bar is transient:
it is erased when the run ends, leaving the report alone on the screen.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Optional, TextIO

DELAY = 1.0


class ProgressBar:
    """``bar(done, total)`` after each file; ``close()`` at the end. Use as a context manager."""

    def __init__(self, stream: Optional[TextIO] = None, *, delay: float = DELAY) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.delay = delay
        self.started = time.monotonic()
        self._progress: Any = None
        self._task: Any = None

    @staticmethod
    def wanted(quiet: bool, stream: Optional[TextIO] = None) -> bool:
        stream = stream if stream is not None else sys.stderr
        try:
            return not quiet and stream.isatty()
        except (AttributeError, ValueError):
            return False

    def __call__(self, done: int, total: int) -> None:
        if self._progress is None:
            if time.monotonic() - self.started < self.delay or done >= total:
                return
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._progress = Progress(
                TextColumn("zmqlint"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("files"),
                TimeRemainingColumn(),
                console=Console(file=self.stream),
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task("check", total=total)
        self._progress.update(self._task, completed=done, total=total)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def __enter__(self) -> "ProgressBar":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
