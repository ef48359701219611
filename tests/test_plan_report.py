"""`zmqlint --format plan`: a remediation plan shaped like the field report, on the fleet."""

from __future__ import annotations

import re
import subprocess
import sys

from conftest import REPO


def test_plan_for_the_fleet_has_phases_tasks_diffs_and_a_summary():
    proc = subprocess.run(
        [sys.executable, "-m", "zmqlint", "--format", "plan", "agent_fleet"],
        cwd=REPO / "fixtures", capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 1, proc.stderr
    plan = proc.stdout
    assert plan.startswith("# Remediation plan\n")
    phases = re.findall(r"^## Phase: (\w+)$", plan, flags=re.M)
    assert phases == ["Critical", "High", "Medium", "Low"]
    tasks = re.findall(r"^### Task \d+: ([A-Z]+\d+) ", plan, flags=re.M)
    # Every rule family of the field report appears as a task.
    for code in ("ZMQ101", "ZMQ102", "ZMQ103", "ZMQ104", "ZMQ105", "SER201", "SER202", "ASY301", "ASY302",
                 "ASY303", "SEC401", "SEC402", "SEC403", "THR501", "THR502", "THR503", "THR504", "EXC601"):
        assert code in tasks, code
    # Root cause from the rule's docs, a diff for fixable locations, manual steps for ZMQ104.
    assert plan.count("**Root cause and impact:**") == len(tasks)
    assert "```diff\n--- a/agent_fleet/agents/emotion_engine.py" in plan
    zmq104 = plan.split("ZMQ104 undefined-endpoint-attribute", 1)[1].split("### Task", 1)[0]
    assert "Manual steps for `agent_fleet/agents/nlu_agent.py:" in zmq104
    assert re.search(r"- `zmqlint --fix` applies \d+ safe fix\(es\)\.", plan)
    assert re.search(r"- `zmqlint --fix --unsafe-fixes` applies \d+ more", plan)
