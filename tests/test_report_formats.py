"""Each CI and editor format, read by what consumes it: concise lines by Vim's errorformat and
the problem-matcher pattern the README gives, JUnit XML by a JUnit parser, the GitLab report
against GitLab's documented Code Quality fields, SARIF against the SARIF 2.1.0 schema (its
fixes applied as a viewer would). Every run is a real zmqlint process."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from junitparser import Failure, JUnitXml

from conftest import REPO, write_tree

SCHEMA = json.loads((Path(__file__).parent / "schemas" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))

FILES = {
    "svc/metrics.py": """
        def check(value, condition):
            return eval(f"{value} {condition}")
        """,
    "svc/loader.py": """
        try:
            import yaml
        except:
            pass
        """,
    "svc/wire.py": """
        import pickle


        def serve(sock):
            while True:
                frame = sock.recv()
                job = pickle.loads(frame)
                sock.send(pickle.dumps(job))
        """,
    "svc/twice.py": """
        def a(x):
            return eval(x)


        def b(x):
            return eval(x)
        """,
    "ok/app.py": """
        def main(value):
            return int(value)
        """,
}


def zmqlint(*args, cwd, env=None, input=None):
    return subprocess.run(
        [sys.executable, "-m", "zmqlint", *args],
        cwd=cwd,
        capture_output=True,
        text=input is None or isinstance(input, str),
        input=input,
        timeout=180,
        env={**os.environ, "NO_COLOR": "1", **(env or {})},
    )


def findings_json(tmp_path, *paths):
    proc = zmqlint("--format", "json", "--no-cache", *paths, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    return json.loads(proc.stdout)


# -- concise -------------------------------------------------------------------------------

def readme_patterns():
    """The VS Code problem matcher and the SublimeLinter regex, as the README gives them."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = readme.split('"problemMatcher": ', 1)[1].split("```", 1)[0]
    matcher = json.loads(block)
    sublime = re.search(r'^    regex = r"(.+)"$', readme, flags=re.M).group(1)
    return re.compile(matcher["pattern"]["regexp"]), re.compile(sublime)


def test_concise_is_one_line_per_finding_in_the_problem_matcher_shape(tmp_path):
    write_tree(tmp_path, FILES)
    proc = zmqlint("--format", "concise", "--no-cache", "svc", "ok", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    expected = findings_json(tmp_path, "svc", "ok")
    lines = proc.stdout.splitlines()
    assert len(lines) == len(expected) == 6
    problem_matcher, sublime = readme_patterns()
    for line, finding in zip(lines, expected):
        want = (finding["path"], finding["line"], finding["column"], finding["code"], finding["message"])
        path, row, column, code, message = problem_matcher.match(line).groups()
        assert (path, int(row), int(column), code, message) == want
        parts = sublime.match(line).groupdict()
        assert (int(parts["line"]), int(parts["col"]), parts["code"], parts["message"]) == want[1:]


@pytest.mark.skipif(shutil.which("vim") is None, reason="needs vim")
def test_concise_is_read_by_vims_errorformat(tmp_path):
    write_tree(tmp_path, FILES)
    proc = zmqlint("--format", "concise", "--no-cache", "svc", cwd=tmp_path)
    (tmp_path / "out.txt").write_text(proc.stdout, encoding="utf-8")
    to_json = '{"file": bufname(e.bufnr), "lnum": e.lnum, "col": e.col, "text": e.text, "valid": e.valid}'
    subprocess.run(
        ["vim", "-Es", "-N", "-u", "NONE", "-i", "NONE",
         "-c", r"set efm=%f:%l:%c:\ %m",
         "-c", "cgetfile out.txt",
         "-c", f'call writefile(map(getqflist(), {{_, e -> json_encode({to_json})}}), "qf.jsonl")',
         "-c", "qa!"],
        cwd=tmp_path, stdin=subprocess.DEVNULL, capture_output=True, timeout=60, check=True,
    )
    entries = [json.loads(line) for line in (tmp_path / "qf.jsonl").read_text().splitlines()]
    expected = findings_json(tmp_path, "svc")
    assert [(e["valid"], e["file"], e["lnum"], e["col"], e["text"]) for e in entries] == [
        (1, f["path"], f["line"], f["column"], f"{f['code']} {f['message']}") for f in expected
    ]


# -- JUnit ---------------------------------------------------------------------------------


def test_junit_is_read_by_a_junit_parser(tmp_path):
    write_tree(tmp_path, FILES)
    proc = zmqlint("--format", "junit", "--no-cache", "--output-file", "report.xml", "svc", "ok", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    expected = findings_json(tmp_path, "svc", "ok")
    xml = JUnitXml.fromfile(str(tmp_path / "report.xml"))
    suites = {suite.name: suite for suite in xml}
    files = sorted({os.path.join("svc", n) for n in ("metrics.py", "loader.py", "wire.py", "twice.py")} | {os.path.join("ok", "app.py")})
    assert sorted(suites) == files
    xml.update_statistics()
    assert xml.failures == len(expected) and xml.errors == 0
    for path, suite in suites.items():
        mine = [f for f in expected if f["path"] == path]
        cases = list(suite)
        if not mine:  # a clean file is one passing case
            assert len(cases) == 1 and cases[0].is_passed
            assert suite.tests == 1 and suite.failures == 0
            continue
        assert suite.tests == len(cases) == len(mine) and suite.failures == len(mine)
        for case, finding in zip(cases, mine):
            (failure,) = case.result
            assert isinstance(failure, Failure)
            assert failure.type == finding["code"]
            assert failure.message == finding["message"]
            assert f"{finding['path']}:{finding['line']}:{finding['column']}: {finding['code']}" in failure.text
            assert case.classname == path[: -len(".py")].replace(os.sep, ".")
            assert case.name == f"{finding['code']} {finding['name']} at {finding['line']}:{finding['column']}"
    # Case names are unique in a suite (the same code twice in a file stays two cases).
    twice = [case.name for case in suites[os.path.join("svc", "twice.py")]]
    assert len(twice) == len(set(twice)) == 2


def test_junit_of_a_clean_run_passes(tmp_path):
    write_tree(tmp_path, {"ok/app.py": FILES["ok/app.py"]})
    proc = zmqlint("--format", "junit", "--no-cache", "ok", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    xml = JUnitXml.fromstring(proc.stdout.encode())
    xml.update_statistics()
    assert (xml.tests, xml.failures, xml.errors) == (1, 0, 0)


def test_junit_stays_well_formed_with_characters_xml_cannot_hold(tmp_path):
    (tmp_path / "odd.py").write_bytes(b"x = (\x0c\x01\n")
    proc = zmqlint("--format", "junit", "--no-cache", "odd.py", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    xml = JUnitXml.fromstring(proc.stdout.encode())
    (suite,) = list(xml)
    assert [case.result[0].type for case in suite] == ["E999"]


# -- GitLab Code Quality -------------------------------------------------------------------

GITLAB_SEVERITIES = {"info", "minor", "major", "critical", "blocker"}


def gitlab_report(tmp_path, *paths, cwd=None, env=None):
    proc = zmqlint("--format", "gitlab", "--no-cache", *paths, cwd=cwd or tmp_path, env=env)
    assert proc.returncode == 1, proc.stderr
    return json.loads(proc.stdout)


def test_gitlab_report_has_the_documented_fields(tmp_path):
    write_tree(tmp_path, FILES)
    report = gitlab_report(tmp_path, "svc", "ok")
    expected = findings_json(tmp_path, "svc", "ok")
    # GitLab: a JSON array of objects with description, check_name, fingerprint, severity and
    # location.path + location.lines.begin.
    assert isinstance(report, list) and len(report) == len(expected)
    for issue, finding in zip(report, expected):
        assert set(issue) == {"description", "check_name", "fingerprint", "severity", "location"}
        assert isinstance(issue["description"], str) and finding["message"] in issue["description"]
        assert issue["check_name"] == finding["code"]
        assert isinstance(issue["fingerprint"], str) and re.fullmatch(r"[0-9a-f]{32}", issue["fingerprint"])
        assert issue["severity"] in GITLAB_SEVERITIES
        location = issue["location"]
        assert set(location) == {"path", "lines"}
        # A path relative to the repository, `/`-separated, without a leading `./`.
        assert location["path"] == finding["path"].replace(os.sep, "/")
        assert not location["path"].startswith(("./", "/"))
        assert isinstance(location["lines"]["begin"], int) and location["lines"]["begin"] == finding["line"]
        assert location["lines"]["end"] == finding["end_line"] >= finding["line"]
    assert len({issue["fingerprint"] for issue in report}) == len(report)
    severity = {issue["check_name"]: issue["severity"] for issue in report}
    assert severity == {"SEC401": "major", "EXC601": "minor", "SER201": "critical", "SER202": "major"}


def test_gitlab_fingerprints_survive_lines_added_above(tmp_path):
    write_tree(tmp_path, FILES)
    before = {(i["check_name"], i["fingerprint"]) for i in gitlab_report(tmp_path, "svc")}
    for name in ("metrics.py", "twice.py"):
        path = tmp_path / "svc" / name
        path.write_text('"""A docstring."""\n\nimport os\n' + path.read_text(encoding="utf-8"), encoding="utf-8")
    after = gitlab_report(tmp_path, "svc")
    assert {(i["check_name"], i["fingerprint"]) for i in after} == before
    assert {i["location"]["lines"]["begin"] for i in after if i["location"]["path"] == "svc/metrics.py"} == {5}


def test_gitlab_paths_are_relative_to_the_project_dir(tmp_path):
    write_tree(tmp_path, FILES)
    report = gitlab_report(tmp_path, str(tmp_path / "svc" / "metrics.py"), env={"CI_PROJECT_DIR": str(tmp_path)})
    assert [i["location"]["path"] for i in report] == ["svc/metrics.py"]
    inside = gitlab_report(tmp_path, "metrics.py", cwd=tmp_path / "svc", env={"CI_PROJECT_DIR": str(tmp_path)})
    assert [i["location"]["path"] for i in inside] == ["svc/metrics.py"]


# -- SARIF ---------------------------------------------------------------------------------


def validate_sarif(doc):
    validator = jsonschema.Draft4Validator(SCHEMA, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])


def apply_by_offsets(text, replacements):
    for r in sorted(replacements, key=lambda r: -r["deletedRegion"]["charOffset"]):
        region = r["deletedRegion"]
        start = region["charOffset"]
        text = text[:start] + r.get("insertedContent", {}).get("text", "") + text[start + region["charLength"]:]
    return text


def apply_by_lines(text, replacements):
    starts = [0] + [m.end() for m in re.finditer(r"\r\n|\r|\n", text)]
    for r in sorted(replacements, key=lambda r: (-r["deletedRegion"]["startLine"], -r["deletedRegion"]["startColumn"])):
        region = r["deletedRegion"]
        start = starts[region["startLine"] - 1] + region["startColumn"] - 1
        end = starts[region["endLine"] - 1] + region["endColumn"] - 1
        text = text[:start] + r.get("insertedContent", {}).get("text", "") + text[end:]
    return text


def test_sarif_validates_and_its_fixes_are_what_zmqlint_fix_writes(tmp_path):
    write_tree(tmp_path, FILES)
    proc = zmqlint("--format", "sarif", "--no-cache", "svc", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    validate_sarif(doc)
    (run,) = doc["runs"]
    assert run["columnKind"] == "unicodeCodePoints"
    results = run["results"]
    assert all(("fixes" in r) == ("fix" in r["properties"]) for r in results)
    loader = next(r for r in results if r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "svc/loader.py")
    metrics = next(r for r in results if r["ruleId"] == "SEC401" and "metrics" in json.dumps(r["locations"]))
    for result, name in ((loader, "loader.py"), (metrics, "metrics.py")):
        source = (tmp_path / "svc" / name).read_text(encoding="utf-8")
        for fix in result["fixes"]:
            (change,) = fix["artifactChanges"]
            assert change["artifactLocation"] == result["locations"][0]["physicalLocation"]["artifactLocation"]
            after = apply_by_offsets(source, change["replacements"])
            assert apply_by_lines(source, change["replacements"]) == after
            flags = ["--fix", "--unsafe-fixes"] if "(unsafe:" in fix["description"]["text"] else ["--fix"]
            fixed = zmqlint("-", "--stdin-filename", f"svc/{name}", *flags, cwd=tmp_path, input=source)
            assert fixed.stdout == after, fix["description"]["text"]
    # EXC601 offers the unsafe narrowing and its safe fallback: two fixes a viewer can choose.
    assert [("(unsafe:" in f["description"]["text"]) for f in loader["fixes"]] == [True, False]
    # The pickle fix touches two places (the call, the import): one change, several regions.
    wire = [r for r in results if r["ruleId"] == "SER201"]
    assert wire and len(wire[0]["fixes"][0]["artifactChanges"][0]["replacements"]) >= 2


def test_sarif_of_the_fleet_validates_and_every_fix_compiles(tmp_path):
    proc = zmqlint("--format", "sarif", "--no-cache", "agent_fleet", cwd=REPO / "fixtures")
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    validate_sarif(doc)
    results = doc["runs"][0]["results"]
    with_fixes = [r for r in results if "fixes" in r]
    assert len(with_fixes) >= 20
    for result in with_fixes:
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        source = (REPO / "fixtures" / uri).read_text(encoding="utf-8")
        for fix in result["fixes"]:
            replacements = fix["artifactChanges"][0]["replacements"]
            after = apply_by_offsets(source, replacements)
            assert after != source and apply_by_lines(source, replacements) == after
            compile(after, uri, "exec")


# -- --statistics --------------------------------------------------------------------------


def test_statistics_count_codes_most_frequent_first(tmp_path):
    write_tree(tmp_path, FILES)
    proc = zmqlint("--statistics", "--no-cache", "svc", "ok", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    rows = [re.match(r"^\s*(\d+)  ([A-Z]+\d+)\s+(\[[* -]\]) (\S+)(?:\s+fixable: (.+))?$", line) for line in proc.stdout.splitlines()]
    assert all(rows), proc.stdout
    table = [(int(m[1]), m[2], m[3], m[4], m[5]) for m in rows]
    expected = findings_json(tmp_path, "svc", "ok")
    counts = {}
    for f in expected:
        counts[f["code"]] = counts.get(f["code"], 0) + 1
    assert [(n, code) for n, code, *_ in table] == sorted(((n, c) for c, n in counts.items()), key=lambda t: (-t[0], t[1]))
    by_code = {row[1]: row for row in table}
    assert by_code["SEC401"] == (3, "SEC401", "[*]", "eval-of-dynamic-string", "1 safe")
    assert by_code["EXC601"] == (1, "EXC601", "[*]", "silent-exception-handler", "1 safe")
    assert by_code["SER201"][2:] == ("[-]", "pickle-from-socket", "1 unsafe")
    as_json = json.loads(zmqlint("--statistics", "--format", "json", "--no-cache", "svc", "ok", cwd=tmp_path).stdout)
    assert [(e["count"], e["code"], e["name"]) for e in as_json] == [(n, c, name) for n, c, _, name, _ in table]
    assert {e["code"]: e["fixable"] for e in as_json}["SER201"] == {"safe": 0, "unsafe": 1}


def test_statistics_with_another_format_or_diff_is_a_usage_error(tmp_path):
    write_tree(tmp_path, FILES)
    for args in (["--format", "gitlab"], ["--diff"]):
        proc = zmqlint("--statistics", *args, "svc", cwd=tmp_path)
        assert proc.returncode == 2 and "--statistics" in proc.stderr and "Traceback" not in proc.stderr
