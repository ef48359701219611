"""Fuzzing: hypothesmith-generated modules through every rule and every fix.

Each generated module is linted with every rule (textual prefilters off, so every rule sees
every module) and then fixed with ``--fix --unsafe-fixes``: no exception may escape, no rule
may crash (an internal error), and every fixed file must compile. The second test splices a
generated module around a rule's own INVALID example, so that fixes actually run inside odd
surrounding code.

Examples per test: ``ZMQLINT_FUZZ_EXAMPLES`` (default 20; CI keeps the default). A longer run::

    ZMQLINT_FUZZ_EXAMPLES=2000 python -m pytest tests/test_fuzz.py --timeout 0 -p no:randomly
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import hypothesmith
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zmqlint.config import Config
from zmqlint.engine import Engine, FixMode, compiles
from zmqlint.rule import dedent
from zmqlint.rules import all_rules

EXAMPLES = int(os.environ.get("ZMQLINT_FUZZ_EXAMPLES", "20"))

FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    derandomize=os.environ.get("ZMQLINT_FUZZ_RANDOM") is None,
    database=None,
)


def _examples():
    found = []
    for code, rule in all_rules().items():
        for example in rule.INVALID:
            found.append((code, dict(example.files), example.path, dedent(example.code)))
    return found


def lint_and_fix(files: dict, target: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for rel, code in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(code, encoding="utf-8")
        path = root / target
        original = path.read_text(encoding="utf-8")
        config = Config.from_table({}, root=root)
        checked = Engine(config, use_prefilter=False).check_file(path, target)
        assert not checked.errors, checked.errors
        fixed = Engine(config, fix_mode=FixMode.UNSAFE, use_prefilter=False).check_file(path, target)
        assert not fixed.errors, fixed.errors
        after = path.read_text(encoding="utf-8")
        if compiles(original):
            assert compiles(after), f"fixed file does not compile:\n{after}"
        if after != original:
            again = Engine(config, fix_mode=FixMode.UNSAFE, use_prefilter=False).check_file(path, target)
            assert not again.errors, again.errors


@pytest.mark.timeout(900)
@FUZZ_SETTINGS
@given(hypothesmith.from_grammar())
def test_generated_modules_through_every_rule_and_fix(source):
    lint_and_fix({"fuzzed.py": source}, "fuzzed.py")


@pytest.mark.timeout(900)
@FUZZ_SETTINGS
@given(
    example=st.sampled_from(_examples()),
    before=hypothesmith.from_grammar(),
    after=hypothesmith.from_grammar(),
)
def test_rule_examples_inside_generated_code(example, before, after):
    code, files, target, snippet = example
    if not before.endswith("\n"):
        before += "\n"
    if not snippet.endswith("\n"):
        snippet += "\n"
    source = before + snippet + after
    if not compiles(source):
        source = snippet + after if compiles(snippet + after) else snippet
    lint_and_fix({**files, target: source}, target)
