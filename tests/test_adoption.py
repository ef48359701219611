"""Adoption in CI: baselines, --changed-since with real git, docs/rules.md, pre-commit hooks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, write_tree


def zmqlint(cwd, *args, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "zmqlint", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def git(cwd, *args):
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        cwd=cwd, capture_output=True, text=True, timeout=60, check=True,
    )


LEGACY = {
    "svc/a.py": "def f(v, c):\n    return eval(f'{v} {c}')\n",
    "svc/b.py": "try:\n    run()\nexcept:\n    pass\n",
}


def test_baseline_reports_only_new_findings(tmp_path):
    write_tree(tmp_path, LEGACY)
    recorded = zmqlint(tmp_path, "--write-baseline", "zmqlint-baseline.json", ".")
    assert recorded.returncode == 0, recorded.stderr
    assert zmqlint(tmp_path, "--baseline", "zmqlint-baseline.json", ".").returncode == 0

    # Unrelated edits: lines added above, reformatting elsewhere -> still nothing new.
    (tmp_path / "svc/a.py").write_text("import os\n\n\ndef g():  \n    return  1\n\ndef f(v, c):\n    return eval(f'{v} {c}')\n")
    (tmp_path / "svc/b.py").write_text("# header\ntry:\n    run()\nexcept:\n    pass\n")
    assert zmqlint(tmp_path, "--baseline", "zmqlint-baseline.json", ".").returncode == 0

    # A new finding, and the old finding's own code changed -> both reported.
    (tmp_path / "svc/a.py").write_text("def f(v, c):\n    return eval(f'{v} {c} ')\n\nx = eval(y)\n")
    proc = zmqlint(tmp_path, "--baseline", "zmqlint-baseline.json", "--format", "json", ".")
    assert proc.returncode == 1
    assert sorted(f["line"] for f in json.loads(proc.stdout)) == [2, 4]


def test_bad_baseline_file_exits_2(tmp_path):
    write_tree(tmp_path, LEGACY)
    (tmp_path / "b.json").write_text("[]")
    proc = zmqlint(tmp_path, "--baseline", "b.json", ".")
    assert proc.returncode == 2 and "not a zmqlint baseline" in proc.stderr


def test_changed_since_lints_only_changed_files(tmp_path):
    write_tree(tmp_path, LEGACY)
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "legacy")
    (tmp_path / "svc/new.py").write_text("y = eval(data)\n")
    (tmp_path / "svc/a.py").write_text("def f(v, c):\n    return eval(c)\n")
    proc = zmqlint(tmp_path, "--changed-since", "HEAD", "--format", "json", ".")
    assert sorted(f["path"] for f in json.loads(proc.stdout)) == ["svc/a.py", "svc/new.py"]
    bad = zmqlint(tmp_path, "--changed-since", "no-such-rev", ".")
    assert bad.returncode == 2 and "no-such-rev" in bad.stderr


def test_docs_rules_md_is_current():
    from zmqlint.docs import rules_markdown

    committed = (REPO / "docs" / "rules.md").read_text(encoding="utf-8")
    assert committed == rules_markdown(), "docs/rules.md is stale: run `zmqlint rules --format markdown > docs/rules.md`"


@pytest.mark.skipif(shutil.which("pre-commit") is None and not Path(sys.executable).with_name("pre-commit").exists(), reason="pre-commit is in the test extra")
def test_pre_commit_hook_fails_and_names_the_code(tmp_path):
    """`pre-commit try-repo` installs this repository's hook into its own environment and runs it."""
    repo = tmp_path / "project"
    repo.mkdir()
    write_tree(repo, {"svc/metrics.py": "def f(v, c):\n    return eval(f'{v} {c}')\n"})
    git(repo, "init", "-q")
    git(repo, "add", ".")
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home")}
    pre_commit = shutil.which("pre-commit") or str(Path(sys.executable).with_name("pre-commit"))
    proc = subprocess.run(
        [pre_commit, "try-repo", str(REPO), "zmqlint", "--all-files"],
        cwd=repo, capture_output=True, text=True, timeout=600, env=env,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert "SEC401" in output
    assert "svc/metrics.py:2" in output
