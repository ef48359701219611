"""Report formats: SARIF as GitHub code scanning needs it, GitHub annotations, text."""

from __future__ import annotations

import json

from zmqlint.config import Config
from zmqlint.reporters import REPORTERS
from zmqlint.reporters.sarif import document
from zmqlint.rules import all_rules
from zmqlint.runner import run

from conftest import write_tree

FILES = {
    "svc/metrics.py": 'def check(v, c):\n    return eval(f"{v} {c}")\n',
    "svc/loader.py": "try:\n    import yaml\nexcept:\n    pass\n",
}


def result_for(tmp_path):
    write_tree(tmp_path, FILES)
    return run(["svc"] if False else [str(tmp_path / "svc")], Config.from_table({}, root=tmp_path))


def test_sarif_has_what_github_code_scanning_requires(tmp_path):
    doc = document(result_for(tmp_path))
    assert doc["version"] == "2.1.0"
    assert doc["$schema"].endswith("sarif-2.1.0.json")
    (run_,) = doc["runs"]
    driver = run_["tool"]["driver"]
    assert driver["name"] == "zmqlint" and driver["version"]
    ids = [rule["id"] for rule in driver["rules"]]
    assert set(all_rules()) <= set(ids)
    assert len(ids) == len(set(ids))
    for rule in driver["rules"]:
        assert rule["shortDescription"]["text"]
        assert rule["help"]["text"]
        assert rule["defaultConfiguration"]["level"] in ("error", "warning", "note")
    assert len(run_["results"]) == 2
    for res in run_["results"]:
        assert driver["rules"][res["ruleIndex"]]["id"] == res["ruleId"]
        assert res["message"]["text"]
        assert res["level"] in ("error", "warning", "note")
        (loc,) = res["locations"]
        phys = loc["physicalLocation"]
        assert not phys["artifactLocation"]["uri"].startswith("/") or phys["artifactLocation"]["uri"].startswith(str(tmp_path))
        region = phys["region"]
        assert region["startLine"] >= 1 and region["startColumn"] >= 1
        assert region["endLine"] >= region["startLine"]
    json.dumps(doc)  # serialisable


def test_sarif_help_is_the_rules_documentation(tmp_path):
    doc = document(result_for(tmp_path))
    rule = next(r for r in doc["runs"][0]["tool"]["driver"]["rules"] if r["id"] == "SEC401")
    assert "## Why is this bad?" in rule["help"]["markdown"]


def test_github_annotations(tmp_path, capsys):
    import io

    out = io.StringIO()
    REPORTERS["github"](result_for(tmp_path), out)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert any(line.startswith("::error file=") and ",line=2," in line and "SEC401" in line for line in lines)
    assert any(line.startswith("::warning file=") and "EXC601" in line for line in lines)


def test_text_report_has_excerpt_and_summary(tmp_path):
    import io

    out = io.StringIO()
    REPORTERS["text"](result_for(tmp_path), out)
    text = out.getvalue()
    assert ":2:12: SEC401" in text
    assert '2 |     return eval(f"{v} {c}")' in text
    assert "Found 2 finding(s) in 2 file(s): 1 high, 1 medium." in text


def test_summary_brackets_are_not_taken_for_markup():
    import io
    from pathlib import Path

    from zmqlint.engine import FileResult
    from zmqlint.model import Applicability, Finding, Fix, Severity
    from zmqlint.runner import RunResult

    finding = Finding("x.py", 1, 1, 1, 2, "SER201", "pickle-from-socket", Severity.CRITICAL, "m", Fix("d", Applicability.UNSAFE))
    out = io.StringIO()
    REPORTERS["text"](RunResult(files=[FileResult(Path("/nonexistent"), "x.py", [finding])]), out)
    assert "[none fixable with --fix, 1 more with --fix --unsafe-fixes]" in out.getvalue()
