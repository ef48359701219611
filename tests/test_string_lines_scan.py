"""The repair's "which lines are inside a multi-line string" scan gives the tokenizer's answer.

`tolerant._scan_string_lines` replaces a pure-Python tokenizer pass (a third of a broken
file's repair cost on 3.11) and must agree with `_tokenized_string_lines` wherever it answers:
on real modules, on the same modules cut short or with a stray token (the broken files the
repair exists for), and on the shapes where the tokenizer stops early or errs.
"""

from __future__ import annotations

import random
import sys
import sysconfig
from pathlib import Path

import pytest

from zmqlint.tolerant import _scan_string_lines, _string_lines, _tokenized_string_lines

pytestmark = pytest.mark.skipif(
    sys.version_info >= (3, 12), reason="3.12's tokenizer splits f-strings into several tokens"
)

SHAPES = [
    'x = 1\n"""doc\nmore\n"""\ny = 2\n',
    "s = '''a\n\\''' b\n'''\n",
    "a = ('x',\n  '''\n  inner\n  ''')\n",
    "x = 'unterminated\ny = '''\nz\n'''\n",
    'x = """never closed\ny = 1\n',
    "def f():\n        pass\n    x = '''\n'''\n",  # inconsistent dedent: the tokenizer stops
    "x = 1 \\\n  + '''\na'''\n",
    "# '''not a string\ny = '''\nb\n'''\n",
    "x = ''''\n'''\n",
    "x = \"\"\"a\\\n\"\"\"\n",
    "if x:\n\tif y:\n        z = '''\n'''\n",
    "f = f'''{a}\n{b!r}'''\n",
    "x = r'''\\'''\n'''\n",
    "\f\nx = '''\n'''\n",
    "x = [\n'''\n''']\n)\n'''\nq\n'''\n",
    "x = '''a\r\nb'''\r\ny = 2\r\n",
]


@pytest.mark.parametrize("text", SHAPES)
def test_shapes_agree_with_the_tokenizer(text):
    assert _scan_string_lines(text) == _tokenized_string_lines(text)


def test_continued_one_quote_strings_and_lone_carriage_returns_go_to_the_tokenizer():
    for text in ["x = 'a\\\nb'\n", "x = 1\ry = '''\n'''\n", "x = '\0'\n"]:
        assert _scan_string_lines(text) is None
        assert _string_lines(text) == _tokenized_string_lines(text)


def _stdlib_texts(count: int):
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in stdlib.glob("*.py"))[:count]
    for path in files:
        try:
            yield path, path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue


def test_real_modules_whole_cut_short_and_with_a_stray_token():
    rng = random.Random("zmqlint-strings")
    checked = 0
    for path, text in _stdlib_texts(120):
        variants = [text, text[: rng.randrange(len(text) + 1)]]
        position = rng.randrange(len(text) + 1)
        variants.append(text[:position] + rng.choice(["'", '"', "(", "]", '"""', "\\\n", "\n  x\n"]) + text[position:])
        for variant in variants:
            scanned = _scan_string_lines(variant)
            if scanned is not None:
                assert scanned == _tokenized_string_lines(variant), path
                checked += 1
    assert checked > 300
