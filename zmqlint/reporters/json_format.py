"""``--format json``: a JSON array of findings with the keys SPEC names."""

from __future__ import annotations

import json
from typing import TextIO

from zmqlint.runner import RunResult


def render(result: RunResult, stream: TextIO) -> None:
    json.dump([f.to_json() for f in result.findings], stream, indent=2)
    stream.write("\n")
