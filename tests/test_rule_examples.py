"""Every rule's VALID and INVALID examples, turned into test cases.

An INVALID example must report (at the stated place, the stated number of times), `--fix`
must turn it into `expected_fix` exactly, `--fix --unsafe-fixes` into `expected_unsafe_fix`,
every fixed file must compile, and fixing again must change nothing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from zmqlint.engine import FixMode, compiles
from zmqlint.rule import Invalid, Valid, dedent
from zmqlint.rules import all_rules

from conftest import findings_of, lint_tree, write_tree


def _cases(kind):
    for code, rule in all_rules().items():
        for number, example in enumerate(rule.VALID if kind is Valid else rule.INVALID):
            yield pytest.param(rule, example, id=f"{code}-{kind.__name__.lower()}-{number}")


def _write(root: Path, example) -> Path:
    write_tree(root, {**example.files, example.path: example.code})
    return root / example.path


def test_every_rule_has_examples_and_docs():
    from zmqlint.rule import DOC_HEADINGS

    for code, rule in all_rules().items():
        assert rule.VALID, f"{code} has no VALID examples"
        assert rule.INVALID, f"{code} has no INVALID examples"
        sections = rule.doc_sections()
        for heading in DOC_HEADINGS:
            assert sections.get(heading), f"{code} docs lack '## {heading}'"


@pytest.mark.parametrize("rule,example", list(_cases(Valid)))
def test_valid(rule, example, tmp_path):
    _write(tmp_path, example)
    result = lint_tree(tmp_path, select=[rule.CODE], options=example.options, paths=[example.path])
    assert not result.errors
    assert findings_of(result, rule.CODE) == []


@pytest.mark.parametrize("rule,example", list(_cases(Invalid)))
def test_invalid(rule, example: Invalid, tmp_path):
    target = _write(tmp_path, example)
    result = lint_tree(tmp_path, select=[rule.CODE], options=example.options, paths=[example.path])
    assert not result.errors
    found = findings_of(result, rule.CODE)
    assert len(found) == example.count, [f.to_json() for f in found]
    first = found[0]
    for attr in ("line", "column", "end_line", "end_column"):
        expected = getattr(example, attr)
        if expected is not None:
            assert getattr(first, attr) == expected, (attr, first.to_json())
    if example.message_contains:
        assert example.message_contains in first.message
    original = target.read_text()

    for mode, expected in (
        (FixMode.SAFE, example.expected_fix),
        (FixMode.UNSAFE, example.expected_unsafe_fix or example.expected_fix),
    ):
        work = tmp_path.parent / f"{tmp_path.name}-{mode.name.lower()}"
        shutil.copytree(tmp_path, work)
        fixed_path = work / example.path
        lint_tree(work, select=[rule.CODE], options=example.options, fix=mode, paths=[example.path])
        fixed = fixed_path.read_text()
        want = original if expected is None else dedent(expected)
        assert fixed == want, f"{mode.name} fix:\n{fixed}"
        assert compiles(fixed)
        again = lint_tree(work, select=[rule.CODE], options=example.options, fix=mode, paths=[example.path])
        assert fixed_path.read_text() == fixed, "fixing twice changed the file again"
        assert again.fixes_applied == 0
