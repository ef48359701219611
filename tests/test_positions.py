"""`zmqlint.positions` gives every node exactly the range LibCST's `PositionProvider` does."""

from __future__ import annotations

import sysconfig
from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import PositionProvider

from zmqlint.positions import Positions

STDLIB = Path(sysconfig.get_paths()["stdlib"])
FLEET = Path(__file__).resolve().parent.parent / "fixtures" / "agent_fleet"

ODD = {
    "crlf": "def f(a,\r\n      b):\r\n    return (a +\r\n            b)\r\n",
    "cr": "x = 1\ry = [1,\r     2]\r",
    "tabs_and_feeds": "if x:\n\tif y:\n\t\tpass\n\x0c\nclass C:\n  'doc'\n",
    "unicode": "naïve = '日本語'  # ü\nπ = naïve + f'{naïve!r:>10}'\n",
    "continuations": "x = 1 + \\\n    2\ns = ('a'\n     'b')\n@deco(\n    1)\nasync def g(*, k=lambda: (yield)):\n    await g()\n",
    "no_trailing_newline": "import os\nprint(os.sep)",
    "empty": "",
}


def _same(source: str) -> int:
    module = cst.parse_module(source)
    expected = cst.MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    ours = Positions(module)
    assert len(ours) == len(expected)
    for node, rng in expected.items():
        assert ours[node] == rng, (type(node).__name__, rng, ours[node])
    return len(expected)


@pytest.mark.parametrize("name", sorted(ODD))
def test_odd_layouts(name):
    _same(ODD[name])


def test_real_modules():
    paths = [STDLIB / rel for rel in ("asyncio/base_events.py", "threading.py", "inspect.py", "dataclasses.py")]
    paths += sorted(FLEET.rglob("*.py"))
    nodes = sum(_same(path.read_text(encoding="utf-8")) for path in paths)
    assert nodes > 50_000
