"""`zmqlint --fix --unsafe-fixes` turns the broken fleet into one that runs.

On a temporary copy of `fixtures/agent_fleet`: the fixer rewrites every bug site, every file
still compiles, the fleet's self-test then passes every step (agents start and answer, the
numpy audio frame crosses the wire intact as msgpack, the coordinator starts and stops, every
thread ends in time), a second fix run changes nothing, and no critical or high finding is
left. The fixer's exact output on the fleet is pinned by a reviewed snapshot.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

FIXTURES = REPO / "fixtures"
SNAPSHOT = REPO / "tests" / "snapshots" / "agent_fleet.diff"


def zmqlint(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "zmqlint", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def tree_bytes(root: Path) -> dict:
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*.py"))}


@pytest.fixture(scope="module")
def healed(tmp_path_factory):
    work = tmp_path_factory.mktemp("fleet")
    shutil.copytree(FIXTURES / "agent_fleet", work / "agent_fleet", ignore=shutil.ignore_patterns("__pycache__"))
    fixed = zmqlint(work, "--fix", "--unsafe-fixes", "agent_fleet")
    return work, fixed


def test_fixer_rewrites_the_fleet_and_every_file_compiles(healed):
    work, fixed = healed
    assert "Traceback" not in fixed.stderr, fixed.stderr
    assert fixed.returncode in (0, 1), fixed.stdout + fixed.stderr
    original = tree_bytes(FIXTURES / "agent_fleet")
    after = tree_bytes(work / "agent_fleet")
    assert after.keys() == original.keys()
    changed = [p for p in after if after[p] != original[p]]
    assert len(changed) >= 12, changed
    for rel, data in after.items():
        compile(data, str(rel), "exec")


def test_second_fix_run_changes_nothing(healed):
    work, _ = healed
    before = tree_bytes(work / "agent_fleet")
    again = zmqlint(work, "--fix", "--unsafe-fixes", "agent_fleet")
    assert "Fixed" not in again.stdout, again.stdout
    assert tree_bytes(work / "agent_fleet") == before


def test_healed_fleet_passes_its_selftest(healed):
    work, _ = healed
    env = dict(os.environ)
    env.pop("FLEET_BASE_PORT", None)
    env.pop("FLEET_API_KEY", None)
    env.pop("ALLOW_UNAUTHENTICATED", None)
    env["CORS_ALLOWED_ORIGINS"] = "https://console.fleet.example"
    proc = subprocess.run(
        [sys.executable, "-m", "agent_fleet", "--selftest", "--json"],
        cwd=work, env=env, capture_output=True, text=True, timeout=120,
    )
    steps = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    failed = [(s["step"], s["error_type"], s["error"]) for s in steps if s["status"] == "fail"]
    assert failed == [], failed
    assert proc.returncode == 0, proc.stderr[-3000:]
    by_name = {s["step"]: s for s in steps}
    # The numpy frame crossed the wire intact, and the wire carried no pickle.
    assert by_name["exchange/audio_frames"]["ok"], by_name["exchange/audio_frames"]
    assert by_name["exchange/audio_wire"]["ok"], by_name["exchange/audio_wire"]
    assert by_name["exchange/audio_wire"]["detail"].endswith("formats: msgpack"), by_name["exchange/audio_wire"]
    assert by_name["start/coordinator"]["ok"] and by_name["stop/coordinator"]["ok"]


def test_no_critical_or_high_findings_are_left(healed):
    work, _ = healed
    proc = zmqlint(work, "--format", "json", "agent_fleet")
    left = [f for f in json.loads(proc.stdout) if f["severity"] in ("critical", "high")]
    assert left == [], left


def test_fix_diff_matches_the_reviewed_snapshot():
    """Any change in what the fixer writes on the fleet shows up here, for review.

    Regenerate after reviewing: `cd fixtures && zmqlint --diff --unsafe-fixes agent_fleet > ../tests/snapshots/agent_fleet.diff`
    """
    proc = zmqlint(FIXTURES, "--diff", "--unsafe-fixes", "agent_fleet")
    assert proc.returncode == 1
    assert proc.stdout == SNAPSHOT.read_text(encoding="utf-8")
