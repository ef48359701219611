"""The command line, through click's runner and as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from zmqlint.cli import cli

from conftest import write_tree

TASK_5_AND_10 = {
    "svc/metrics.py": """
        import logging

        logger = logging.getLogger(__name__)


        class Alert:
            def __init__(self, metric, condition):
                self.metric = metric
                self.condition = condition

            def triggered(self, value):
                return eval(f"{value} {self.condition}")
        """,
    "svc/config_loader.py": """
        import subprocess


        def detect_machine():
            gpus = 0
            try:
                out = subprocess.check_output(["nvidia-smi", "-L"])
                gpus = len(out.splitlines())
            except:
                pass
            return gpus
        """,
}

CLEAN = {
    "ok/app.py": """
        import logging

        def main(value):
            try:
                return int(value)
            except ValueError:
                logging.getLogger(__name__).warning("bad value %r", value)
                return 0
        """,
}


def invoke(*args, cwd: Path):
    runner = CliRunner()
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return runner.invoke(cli, list(args), catch_exceptions=False)
    finally:
        os.chdir(old)


def test_reports_task_5_and_10_at_the_right_lines_and_exits_1(tmp_path):
    write_tree(tmp_path, TASK_5_AND_10)
    result = invoke("--format", "json", "svc", cwd=tmp_path)
    assert result.exit_code == 1, result.output
    found = {(f["path"], f["line"], f["code"]) for f in json.loads(result.output)}
    assert found == {
        (os.path.join("svc", "config_loader.py"), 9, "EXC601"),
        (os.path.join("svc", "metrics.py"), 12, "SEC401"),
    }


def test_json_findings_carry_every_key_of_the_spec(tmp_path):
    write_tree(tmp_path, TASK_5_AND_10)
    result = invoke("check", "--format", "json", ".", cwd=tmp_path)
    keys = {"path", "line", "column", "end_line", "end_column", "code", "name", "severity", "message", "fix"}
    for finding in json.loads(result.output):
        assert keys <= set(finding)
        assert finding["fix"] is None or {"applicability", "description"} <= set(finding["fix"])


def test_fix_then_fix_again_changes_nothing(tmp_path):
    write_tree(tmp_path, TASK_5_AND_10)
    first = invoke("--fix", ".", cwd=tmp_path)
    assert "Fixed 2 finding(s)" in first.output
    assert first.exit_code == 0, first.output
    snapshot = {p: p.read_bytes() for p in tmp_path.rglob("*.py")}
    for path, data in snapshot.items():
        compile(data, str(path), "exec")
    second = invoke("--fix", ".", cwd=tmp_path)
    assert second.exit_code == 0
    assert {p: p.read_bytes() for p in tmp_path.rglob("*.py")} == snapshot
    assert "alerts.compare(value, self.condition)" in (tmp_path / "svc/metrics.py").read_text()


def test_clean_tree_exits_0(tmp_path):
    write_tree(tmp_path, CLEAN)
    result = invoke(".", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    assert "All checks passed" in result.output


def test_unknown_select_code_exits_2(tmp_path):
    write_tree(tmp_path, CLEAN)
    proc = subprocess.run(
        [sys.executable, "-m", "zmqlint", "--select", "XYZ9", "."], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2
    assert "unknown rule code or prefix 'XYZ9'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_select_and_ignore_prefixes(tmp_path):
    write_tree(tmp_path, TASK_5_AND_10)
    only_sec = json.loads(invoke("--format", "json", "--select", "SEC", ".", cwd=tmp_path).output)
    assert {f["code"] for f in only_sec} == {"SEC401"}
    no_exc = json.loads(invoke("--format", "json", "--ignore", "EXC6", ".", cwd=tmp_path).output)
    assert {f["code"] for f in no_exc} == {"SEC401"}


def test_diff_prints_and_writes_nothing(tmp_path):
    write_tree(tmp_path, TASK_5_AND_10)
    before = (tmp_path / "svc/metrics.py").read_bytes()
    result = invoke("--diff", ".", cwd=tmp_path)
    assert result.exit_code == 1
    assert "-        return eval(f\"{value} {self.condition}\")" in result.output
    assert "+        return alerts.compare(value, self.condition)" in result.output
    assert (tmp_path / "svc/metrics.py").read_bytes() == before


def test_text_summary_counts_fixable(tmp_path):
    write_tree(tmp_path, TASK_5_AND_10)
    result = invoke(".", cwd=tmp_path)
    assert "Found 2 finding(s) in 2 file(s): 1 high, 1 medium." in result.output
    assert "2 fixable with --fix, 1 more with --fix --unsafe-fixes" in result.output


def test_rules_and_rule_commands(tmp_path):
    listing = invoke("rules", "--format", "json", cwd=tmp_path)
    codes = {r["code"] for r in json.loads(listing.output)}
    assert {"EXC601", "SEC401"} <= codes
    doc = invoke("rule", "EXC601", cwd=tmp_path)
    assert doc.exit_code == 0
    for heading in ("What it does", "Why is this bad?", "Example", "Use instead", "Fix safety"):
        assert heading in doc.output
    unknown = invoke("rule", "NOPE1", cwd=tmp_path)
    assert unknown.exit_code == 2


def test_real_process_exit_codes_and_relative_paths(tmp_path):
    write_tree(tmp_path, {**TASK_5_AND_10, **CLEAN})
    env = {**os.environ, "NO_COLOR": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "zmqlint", "--format", "json", "svc", "ok"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env,
    )
    assert proc.returncode == 1, proc.stderr
    paths = {f["path"] for f in json.loads(proc.stdout)}
    assert paths == {os.path.join("svc", "metrics.py"), os.path.join("svc", "config_loader.py")}
    clean = subprocess.run(
        [sys.executable, "-m", "zmqlint", "ok"], cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env
    )
    assert clean.returncode == 0, clean.stdout + clean.stderr
    missing = subprocess.run(
        [sys.executable, "-m", "zmqlint", "does-not-exist"], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert missing.returncode == 2
    assert "does-not-exist" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_noqa_and_zmqlint_ignore_suppress_on_the_line(tmp_path):
    write_tree(
        tmp_path,
        {
            "a.py": """
                x = eval(source)  # noqa: SEC401
                y = eval(source)  # zmqlint: ignore[SEC401]
                z = eval(source)  # noqa
                w = eval(source)  # noqa: EXC601
                s = "# noqa"; v = eval(source)
                """
        },
    )
    result = json.loads(invoke("--format", "json", ".", cwd=tmp_path).output)
    assert [(f["line"], f["code"]) for f in result] == [(4, "SEC401"), (5, "SEC401")]
