"""The prefilter and the gates are sound: skipping the rules whose `PREFILTER` strings a file
lacks or whose `gate` turns the file away (and not parsing the file with LibCST at all when no
rule is left) never changes what is reported.

Checked on every rule's examples (all rules selected, so each example also exercises every
other rule's prefilter), on a bounded share of the standard library, and (slow) on all of it.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import List

import pytest

from zmqlint.config import Config
from zmqlint.rule import Invalid
from zmqlint.rules import all_rules
from zmqlint.runner import run

from conftest import write_tree

STDLIB = Path(sysconfig.get_paths()["stdlib"])

#: Standard-library modules that between them contain every rule's hint strings (sockets,
#: threads, event loops, pickle, eval, bare excepts, while loops), kept small for speed.
STDLIB_SAMPLE = [
    "asyncio/streams.py",
    "concurrent/futures/thread.py",
    "http/server.py",
    "multiprocessing/connection.py",
    "queue.py",
    "socketserver.py",
]


def findings(paths: List[str], root: Path, *, prefilter: bool, jobs: int = 1, options=None) -> list:
    config = Config.from_table(dict(options or {}), root=root)
    result = run(paths, config, use_prefilter=prefilter, jobs=jobs)
    assert not result.errors, result.errors
    # A file too deeply nested for LibCST is reported as such only when a rule needs LibCST's
    # tree of it; with the gates, no rule may need it (pydoc_data/topics.py, one huge literal).
    return [f.to_json() for f in result.findings if not (f.code == "E999" and "nested too deeply" in f.message)]


def _examples():
    for code, rule in all_rules().items():
        yield pytest.param(rule, id=code)


@pytest.mark.parametrize("rule", list(_examples()))
def test_every_rule_example_reports_the_same_with_and_without_the_prefilter(rule, tmp_path):
    examples = [*rule.VALID, *rule.INVALID]
    for number, example in enumerate(examples):
        root = tmp_path / f"example{number}"
        write_tree(root, {**example.files, example.path: example.code})
        target = [str(root / example.path)]
        with_prefilter = findings(target, root, prefilter=True, options=example.options)
        without = findings(target, root, prefilter=False, options=example.options)
        assert with_prefilter == without, f"{rule.CODE} example {number}"
        if isinstance(example, Invalid):
            assert any(f["code"] == rule.CODE for f in without)


@pytest.mark.timeout(600)
def test_a_stdlib_sample_reports_the_same_with_and_without_the_prefilter():
    paths = [str(STDLIB / rel) for rel in STDLIB_SAMPLE if (STDLIB / rel).is_file()]
    assert len(paths) >= 4
    assert findings(paths, STDLIB, prefilter=True, jobs=2) == findings(paths, STDLIB, prefilter=False, jobs=2)


def test_the_switch_works_from_the_command_line_and_the_environment(tmp_path):
    write_tree(tmp_path, {"a.py": "def f(:\n    pass\n", "b.py": "x = eval(input())\n", "c.py": "y = 1\n"})
    outputs = []
    for args, env in (([], {}), (["--no-prefilter"], {}), ([], {"ZMQLINT_NO_PREFILTER": "1"})):
        proc = subprocess.run(
            [sys.executable, "-m", "zmqlint", "--no-cache", "--format", "json", *args, "."],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            env={**_environ(), **env},
        )
        assert proc.returncode == 1, proc.stderr
        outputs.append(proc.stdout)
    assert outputs[0] == outputs[1] == outputs[2]


def _environ() -> dict:
    import os

    return {k: v for k, v in os.environ.items() if k != "ZMQLINT_NO_PREFILTER"}


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_the_whole_stdlib_reports_the_same_with_and_without_the_prefilter():
    paths = [str(STDLIB)]
    jobs = 2
    assert findings(paths, STDLIB, prefilter=True, jobs=jobs) == findings(paths, STDLIB, prefilter=False, jobs=jobs)


def test_no_gate_raises_on_the_examples_or_a_stdlib_sample(tmp_path):
    # The engine treats a gate that raises as admitting the file (a gate must never cost a
    # finding), which would hide a broken gate: ask them directly here.
    from zmqlint.engine import Engine
    from zmqlint.gates import FileFacts

    rules = all_rules()
    targets = []
    for code, rule in rules.items():
        for number, example in enumerate([*rule.VALID, *rule.INVALID]):
            root = tmp_path / f"{code}-{number}"
            write_tree(root, {**example.files, example.path: example.code})
            targets.append((root, root / example.path))
    targets += [(STDLIB, STDLIB / rel) for rel in STDLIB_SAMPLE if (STDLIB / rel).is_file()]
    asked = 0
    for root, path in targets:
        config = Config.from_table({}, root=root)
        engine = Engine(config)
        facts = FileFacts(path=path, text=path.read_text(encoding="utf-8"), index=engine.index, config=config)
        assert facts.tree is not None
        for rule in rules.values():
            rule.gate(facts)
            asked += 1
    assert asked >= 18 * 100


def test_any_word_finds_what_its_caseless_expression_finds():
    from zmqlint.rule import AnyWord

    hint = AnyWord("key", "token", "passw")
    texts = ["API_KEY = 1", "TokenAuth", "no match here", "PassWord", "ſecret", "Kelvin \u212aey", "é tOkEn", "kEy\n", ""]
    texts += [path.read_text(encoding="utf-8", errors="replace") for path in sorted(STDLIB.glob("*.py"))[:150]]
    assert [hint.search(t) is not None for t in texts] == [hint.regex.search(t) is not None for t in texts]
    assert hint.search("Kelvin \u212aey") is not None  # non-ASCII text: the expression's own case folding
    assert hint.search("nothing to see") is None
