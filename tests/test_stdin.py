"""``zmqlint check - --stdin-filename PATH``: an editor's buffer piped in, checked as the file
PATH would be (configuration, per-file ignores, module name and imports), the file on disk
never read for it and never written. Every run is a real zmqlint process fed through a pipe."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import write_tree

STORE = """
    def flush(records, sync=False):
        return len(records)
    """

#: ASY303 only when `.store` resolves: the buffer must be located at pkg/api.py.
API = "from .store import flush\n\n\nasync def save(records):\n    await flush(records, sync=True)\n"

API_FIXED = (
    "from .store import flush\nimport asyncio\n\n\nasync def save(records):\n"
    "    await asyncio.to_thread(flush, records, sync=True)\n"
)


def zmqlint(*args, cwd, input: bytes = b""):
    return subprocess.run(
        [sys.executable, "-m", "zmqlint", *args],
        cwd=cwd,
        input=input,
        capture_output=True,
        timeout=180,
        env={**os.environ, "NO_COLOR": "1"},
    )


def project(tmp_path, api_on_disk: str = "async def save(records):\n    return None\n"):
    write_tree(tmp_path, {"pkg/__init__.py": "", "pkg/store.py": STORE})
    (tmp_path / "pkg" / "api.py").write_text(api_on_disk, encoding="utf-8")
    return tmp_path


def test_cross_module_finding_needs_the_stdin_filename(tmp_path):
    project(tmp_path)
    located = zmqlint("check", "-", "--stdin-filename", "pkg/api.py", "--format", "json", cwd=tmp_path, input=API.encode())
    assert located.returncode == 1, located.stderr
    (finding,) = json.loads(located.stdout)
    assert (finding["path"], finding["line"], finding["code"]) == ("pkg/api.py", 5, "ASY303")
    # The same text, not located: `.store` resolves to nothing, so there is nothing to report.
    anywhere = zmqlint("check", "-", "--format", "json", cwd=tmp_path, input=API.encode())
    assert anywhere.returncode == 0, anywhere.stderr
    assert json.loads(anywhere.stdout) == []


def test_the_file_on_disk_is_not_read_for_the_buffer(tmp_path):
    project(tmp_path, api_on_disk=API)
    clean = "async def save(records):\n    return None\n"
    proc = zmqlint("-", "--stdin-filename", "pkg/api.py", "--format", "json", cwd=tmp_path, input=clean.encode())
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []
    # And the other way round: the disk's clean file does not hide the buffer's finding.
    project(tmp_path)
    proc = zmqlint("-", "--stdin-filename", "pkg/api.py", "--format", "concise", cwd=tmp_path, input=API.encode())
    assert proc.returncode == 1
    assert proc.stdout.decode().startswith("pkg/api.py:5:")


def test_fix_prints_the_fixed_text_and_the_findings_left_to_stderr(tmp_path):
    project(tmp_path)
    before = (tmp_path / "pkg" / "api.py").read_bytes()
    buffer = API + "\n\ndef check(v, condition):\n    return eval(v)\n"
    proc = zmqlint("-", "--stdin-filename", "pkg/api.py", "--fix", "--format", "concise", cwd=tmp_path, input=buffer.encode())
    assert proc.returncode == 1  # the eval of a plain string has no fix: a finding is left
    assert proc.stdout.decode() == API_FIXED + "\n\ndef check(v, condition):\n    return eval(v)\n"
    assert proc.stderr.decode().splitlines()[0].startswith("pkg/api.py:10:12: SEC401 ")
    assert (tmp_path / "pkg" / "api.py").read_bytes() == before
    compile(proc.stdout, "api.py", "exec")
    # Fixing the fixed text again changes nothing and exits 0.
    again = zmqlint("-", "--stdin-filename", "pkg/api.py", "--fix", cwd=tmp_path, input=API_FIXED.encode())
    assert again.returncode == 0, again.stderr
    assert again.stdout.decode() == API_FIXED


def test_fix_keeps_encoding_bom_and_line_endings_and_prints_untouched_text_as_read(tmp_path):
    project(tmp_path)
    data = b"\xef\xbb\xbf" + API.replace("\n", "\r\n").encode()
    proc = zmqlint("-", "--stdin-filename", "pkg/api.py", "--fix", cwd=tmp_path, input=data)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b"\xef\xbb\xbf" + API_FIXED.replace("\n", "\r\n").encode()
    latin = "# -*- coding: latin-1 -*-\nname = 'caf\xe9'\n".encode("latin-1")
    proc = zmqlint("-", "--stdin-filename", "pkg/other.py", "--fix", cwd=tmp_path, input=latin)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == latin


def test_diff_prints_the_diff_and_writes_nothing(tmp_path):
    project(tmp_path)
    proc = zmqlint("-", "--stdin-filename", "pkg/api.py", "--diff", cwd=tmp_path, input=API.encode())
    assert proc.returncode == 1
    out = proc.stdout.decode()
    assert out.startswith("--- a/pkg/api.py\n+++ b/pkg/api.py\n")
    assert "+    await asyncio.to_thread(flush, records, sync=True)\n" in out
    assert (tmp_path / "pkg" / "api.py").read_text() == "async def save(records):\n    return None\n"


def test_configuration_and_per_file_ignores_follow_the_stdin_filename(tmp_path):
    write_tree(
        tmp_path,
        {"pyproject.toml": '[tool.zmqlint]\nper-file-ignores = { "tests/*" = ["SEC"] }\n'},
    )
    buffer = b"def f(v):\n    return eval(v)\n"
    flagged = zmqlint("-", "--stdin-filename", "svc/x.py", "--format", "json", cwd=tmp_path, input=buffer)
    assert [f["code"] for f in json.loads(flagged.stdout)] == ["SEC401"]
    ignored = zmqlint("-", "--stdin-filename", "tests/test_x.py", "--format", "json", cwd=tmp_path, input=buffer)
    assert ignored.returncode == 0 and json.loads(ignored.stdout) == []
    # From another folder, the configuration found is the one above the stdin filename.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    far = zmqlint("-", "--stdin-filename", str(tmp_path / "tests" / "test_x.py"), "--format", "json", cwd=elsewhere, input=buffer)
    assert far.returncode == 0 and json.loads(far.stdout) == []


def test_undecodable_and_unparsable_input_get_e902_and_e999(tmp_path):
    bad = b"import os\n\n\nx = '\xff'\n"
    proc = zmqlint("-", "--stdin-filename", "x.py", "--format", "json", cwd=tmp_path, input=bad)
    assert proc.returncode == 1, proc.stderr
    (finding,) = json.loads(proc.stdout)
    assert finding["code"] == "E902" and "invalid byte 0xff on line 4" in finding["message"]
    # The same treatment as the same bytes in a file.
    for data in (bad, b"x = '\xff'\n"):
        (tmp_path / "x.py").write_bytes(data)
        on_disk = json.loads(zmqlint("x.py", "--format", "json", "--no-cache", cwd=tmp_path).stdout)
        piped = json.loads(zmqlint("-", "--stdin-filename", "x.py", "--format", "json", cwd=tmp_path, input=data).stdout)
        assert piped == on_disk and [f["code"] for f in piped] == ["E902"]
    fixed = zmqlint("-", "--stdin-filename", "x.py", "--fix", cwd=tmp_path, input=bad)
    assert fixed.returncode == 1 and fixed.stdout == bad  # nothing lost
    assert b"E902" in fixed.stderr
    broken = b"def f(:\n    pass\n\ntry:\n    pass\nexcept:\n    pass\n"
    proc = zmqlint("-", "--stdin-filename", "x.py", "--format", "json", cwd=tmp_path, input=broken)
    found = {(f["code"], f["line"]) for f in json.loads(proc.stdout)}
    assert ("E999", 1) in found and ("EXC601", 6) in found
    fixed = zmqlint("-", "--stdin-filename", "x.py", "--fix", cwd=tmp_path, input=broken)
    assert fixed.returncode == 1 and fixed.stdout == broken  # a file that does not parse is never rewritten
    nul = zmqlint("-", "--format", "json", cwd=tmp_path, input=b"x = 1\0\n")
    assert [f["code"] for f in json.loads(nul.stdout)] == ["E902"]


def test_dash_alone_is_shown_as_dash_and_empty_input_is_clean(tmp_path):
    proc = zmqlint("-", "--format", "concise", cwd=tmp_path, input=b"def f(v):\n    return eval(v)\n")
    assert proc.returncode == 1
    assert proc.stdout.decode().startswith("-:2:12: SEC401 ")
    empty = zmqlint("-", cwd=tmp_path, input=b"")
    assert empty.returncode == 0, empty.stderr


def test_stdin_filename_without_dash_reads_stdin_and_ignores_paths_as_ruff_does(tmp_path):
    project(tmp_path, api_on_disk=API)
    proc = zmqlint("--stdin-filename", "pkg/api.py", "--format", "json", cwd=tmp_path, input=b"x = 1\n")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []
    with_paths = zmqlint("pkg", "--stdin-filename", "pkg/api.py", "--format", "json", cwd=tmp_path, input=b"x = 1\n")
    assert with_paths.returncode == 0
    assert json.loads(with_paths.stdout) == []
    assert b"ignoring pkg in favour of standard input" in with_paths.stderr


def test_usage_errors_exit_2_naming_the_problem(tmp_path):
    project(tmp_path)
    cases = [
        (["-", "pkg"], b"cannot be combined with other paths"),
        (["-", "--changed-since", "HEAD"], b"--changed-since does not apply to standard input"),
        (["-", "--stdin-filename", "pkg"], b"names a folder"),
        (["-", "--stdin-filename", ""], b"needs a path"),
    ]
    for args, message in cases:
        proc = zmqlint(*args, cwd=tmp_path, input=API.encode())
        assert proc.returncode == 2, (args, proc.stderr)
        assert message in proc.stderr and b"Traceback" not in proc.stderr, proc.stderr


def test_statistics_and_reports_of_stdin(tmp_path):
    project(tmp_path)
    stats = zmqlint("-", "--stdin-filename", "pkg/api.py", "--statistics", cwd=tmp_path, input=API.encode())
    assert stats.returncode == 1
    assert stats.stdout.decode().split() == ["1", "ASY303", "[*]", "await-sync-call", "fixable:", "1", "safe"]
    text = zmqlint("-", "--stdin-filename", "pkg/api.py", cwd=tmp_path, input=API.encode()).stdout.decode()
    # The excerpt is the buffer's line, not the disk's.
    assert "5 |     await flush(records, sync=True)" in text


def test_output_file_takes_the_report_and_stdout_keeps_the_fixed_text(tmp_path):
    project(tmp_path)
    proc = zmqlint("-", "--stdin-filename", "pkg/api.py", "--fix", "--format", "json", "-o", "report.json", cwd=tmp_path, input=API.encode())
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode() == API_FIXED
    assert json.loads((tmp_path / "report.json").read_text()) == []
    # Recording a baseline while fixing still prints the fixed text: the buffer is never lost.
    proc = zmqlint("-", "--stdin-filename", "pkg/api.py", "--fix", "--write-baseline", "b.json", cwd=tmp_path, input=API.encode())
    assert proc.returncode == 0 and proc.stdout.decode() == API_FIXED


def test_baseline_fingerprints_use_the_buffer_not_the_disk(tmp_path):
    project(tmp_path)
    (tmp_path / "svc.py").write_text("def f(v):\n    return eval(v)\n", encoding="utf-8")
    recorded = zmqlint("-", "--stdin-filename", "svc.py", "--write-baseline", "base.json", cwd=tmp_path,
                       input=b"def f(v):\n    return eval(v)\n")
    assert recorded.returncode == 0, recorded.stderr
    same = zmqlint("-", "--stdin-filename", "svc.py", "--baseline", "base.json", cwd=tmp_path,
                   input=b"def f(v):\n    return eval(v)\n")
    assert same.returncode == 0, same.stdout
    # The buffer's line changed (the disk's did not): the finding is new.
    edited = zmqlint("-", "--stdin-filename", "svc.py", "--baseline", "base.json", "--format", "concise", cwd=tmp_path,
                     input=b"def f(v):\n    return eval(v + '1')\n")
    assert edited.returncode == 1
    assert edited.stdout.decode().startswith("svc.py:2:12: SEC401 ")
