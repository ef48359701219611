"""ASY301-ASY303 on real code: silent on the standard library's asyncio package (which creates,
gathers and awaits tasks everywhere), and catching the agent fleet's start-up and shutdown bugs."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, findings_of, lint_tree

from zmqlint.engine import FixMode

ASY = ["ASY301", "ASY302", "ASY303"]
FLEET = REPO / "fixtures" / "agent_fleet"


def test_no_findings_on_the_standard_library_asyncio_package():
    root = Path(asyncio.__file__).parent
    result = lint_tree(root, select=ASY)
    assert not result.errors
    assert result.files_checked >= 20 if hasattr(result, "files_checked") else True
    assert [f.to_json() for f in findings_of(result)] == []


@pytest.mark.skipif(not (FLEET / "BUGS.md").exists(), reason="agent fleet fixture not present")
def test_fleet_coordinator_start_and_shutdown_bugs(tmp_path):
    work = tmp_path / "agent_fleet"
    shutil.copytree(FLEET, work, ignore=shutil.ignore_patterns("__pycache__"))
    # Only the coordinator holds asyncio code; the index reads whatever else it imports.
    result = lint_tree(work, select=ASY, paths=["coordinator"])
    assert not result.errors
    # Every ASY row of BUGS.md has its finding inside the row's lines, and nothing else is found.
    rows = _bug_rows("ASY")
    assert rows, "BUGS.md lists no ASY bug"
    located = [(Path(f.path).relative_to(work).as_posix(), f.code, f.line) for f in findings_of(result)]
    for bug, code, file, first, last in rows:
        assert any(p == file and c == code and first <= line <= last for p, c, line in located), (bug, located)
    for p, c, line in located:
        assert any(p == file and c == code and first <= line <= last for _, code, file, first, last in rows), (p, c, line)
    found = {(Path(f.path).name, f.code, f.message.split("`")[3]) for f in findings_of(result)}
    # Field report task 3: sync start() handed to create_task (servers imported from the
    # `transport` folder the app puts on sys.path).
    assert ("app.py", "ASY301", "self.rpc_server.start()") in found
    assert ("app.py", "ASY301", "self.rest_api.start()") in found
    # Task 6: sync stop() results gathered, and a sync stop() awaited.
    assert ("app.py", "ASY302", "server.stop()") in found
    assert ("app.py", "ASY303", "self.zmq_server.stop()") in found
    assert {code for _, code, _ in found} <= set(ASY)

    fixed = lint_tree(work, select=ASY, fix=FixMode.SAFE, paths=["coordinator"])
    assert fixed.fixes_applied == len(findings_of(result))
    assert findings_of(lint_tree(work, select=ASY)) == []  # the whole fleet, after the fix
    text = (work / "coordinator" / "app.py").read_text()
    assert "asyncio.create_task(asyncio.to_thread(self.rpc_server.start))" in text
    assert "await asyncio.to_thread(self.zmq_server.stop)" in text


def _bug_rows(prefix: str):
    """(id, code, file, first line, last line) of the BUGS.md rows whose rule starts with ``prefix``."""
    rows = []
    for line in (FLEET / "BUGS.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 5 and cells[1].startswith(prefix):
            first, _, last = cells[4].partition("-")
            rows.append((cells[0], cells[1].split()[0], cells[3], int(first), int(last or first)))
    return rows


def _selftest(fixtures_dir: Path) -> dict:
    run = subprocess.run(
        [sys.executable, "-m", "agent_fleet", "--selftest", "--json"],
        cwd=fixtures_dir,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    steps = {}
    for line in run.stdout.splitlines():
        if line.startswith("{"):
            step = json.loads(line)
            steps[step["step"]] = step
    return steps


@pytest.mark.slow
@pytest.mark.skipif(not (FLEET / "selftest.py").exists(), reason="agent fleet fixture not present")
def test_fleet_coordinator_starts_and_stops_after_the_asy_fixes(tmp_path):
    shutil.copytree(FLEET, tmp_path / "agent_fleet", ignore=shutil.ignore_patterns("__pycache__"))
    before = _selftest(tmp_path)
    assert before["start/coordinator"]["ok"] is False
    assert "a coroutine was expected" in before["start/coordinator"]["error"]
    assert before["stop/coordinator"]["ok"] is False

    lint_tree(tmp_path / "agent_fleet", select=ASY, fix=FixMode.SAFE)
    after = _selftest(tmp_path)
    assert after["start/coordinator"]["ok"] is True, after["start/coordinator"]
    assert after["stop/coordinator"]["ok"] is True, after["stop/coordinator"]
    # The coordinator's ZMQ thread is stopped now; what may remain belongs to other rules.
    assert "coordinator" not in (after.get("shutdown/threads", {}).get("error") or "")
