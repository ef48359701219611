"""The thread fixes, proven by running them.

Each test writes a buggy snippet, checks zmqlint reports it, lets zmqlint fix it, and then runs
the buggy and the fixed module side by side in a subprocess (with a timeout): the buggy one
shows the failure the field report describes, the fixed one does not.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from zmqlint.engine import FixMode

from conftest import findings_of, lint_tree, write_tree


def fixed_copy(root: Path, name: str, code: str, code_to_fix: str, mode: FixMode, options=None) -> Path:
    """Write ``code`` as ``buggy/<name>.py`` and its zmqlint-fixed version as ``fixed/<name>.py``."""
    write_tree(root / "buggy", {f"{name}.py": code})
    write_tree(root / "fixed", {f"{name}.py": code})
    found = findings_of(lint_tree(root / "buggy", select=[code_to_fix], options=options), code_to_fix)
    assert found, f"{code_to_fix} did not report the buggy snippet"
    result = lint_tree(root / "fixed", select=[code_to_fix], options=options, fix=mode)
    assert result.fixes_applied >= 1
    assert findings_of(result, code_to_fix) == []
    return root / "fixed" / f"{name}.py"


def run_driver(folder: Path, driver: str, timeout: float = 20.0) -> dict:
    """Run ``driver`` with ``folder`` on sys.path; it prints one JSON line."""
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(driver)],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


# -- THR502: the voice buffer -----------------------------------------------------------------

VOICE_AGENT = """
    import threading
    import time


    class VoiceAgent:
        def __init__(self):
            self.voice_buffer = []
            self.processed = []
            self._thread = None

        def start(self):
            self._thread = threading.Thread(target=self._process_voice_buffer, daemon=True)
            self._thread.start()

        def _process_voice_buffer(self):
            while True:
                self.process_once()

        def process_once(self):
            if len(self.voice_buffer) > 0:
                chunk = self.voice_buffer.pop(0)
                self.processed.append(chunk)
            else:
                time.sleep(0.001)

        def enqueue(self, chunk):
            self.voice_buffer.append(chunk)
"""

# Two consumers race for one chunk. The container's first touch is gated by a barrier, so both
# threads make their check before either acts: the interleaving of the field report, forced.
VOICE_DRIVER = """
    import json, queue, threading
    import voice

    barrier = threading.Barrier(2, timeout=5)

    class CheckedTogether(list):
        def __len__(self):
            size = super().__len__()
            barrier.wait()
            return size

    class TakenTogether(queue.Queue):
        def get_nowait(self):
            barrier.wait()
            return super().get_nowait()

    agent = voice.VoiceAgent()
    if isinstance(agent.voice_buffer, list):
        agent.voice_buffer = CheckedTogether()
    else:
        agent.voice_buffer = TakenTogether()
    agent.enqueue("chunk-1")
    errors = []

    def consume():
        try:
            agent.process_once()
        except Exception as exc:
            errors.append(type(exc).__name__)

    threads = [threading.Thread(target=consume) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=5)
    print(json.dumps({"errors": errors, "processed": agent.processed, "alive": any(t.is_alive() for t in threads)}))
"""


def test_voice_buffer_race_fails_as_shipped_and_not_once_fixed(tmp_path):
    fixed = fixed_copy(tmp_path, "voice", VOICE_AGENT, "THR502", FixMode.UNSAFE)
    assert "queue.Queue()" in fixed.read_text()
    assert "get_nowait()" in fixed.read_text()

    buggy = run_driver(tmp_path / "buggy", VOICE_DRIVER)
    assert buggy == {"errors": ["IndexError"], "processed": ["chunk-1"], "alive": False}

    healed = run_driver(tmp_path / "fixed", VOICE_DRIVER)
    assert healed == {"errors": [], "processed": ["chunk-1"], "alive": False}


def test_voice_buffer_safe_fix_mode_leaves_it_alone(tmp_path):
    write_tree(tmp_path, {"voice.py": VOICE_AGENT})
    result = lint_tree(tmp_path, select=["THR502"], fix=FixMode.SAFE)
    assert result.fixes_applied == 0
    assert len(findings_of(result, "THR502")) == 1


# -- THR503: a worker that ignores stop -------------------------------------------------------

WORKER = """
    import threading
    import time


    class Exporter:
        def __init__(self):
            self.exports = 0
            self._thread = threading.Thread(target=self._export_forever)

        def start(self):
            self._thread.start()

        def _export_forever(self):
            while True:
                self.exports += 1
                time.sleep(0.05)

        def stop(self):
            print("stop requested", flush=True)
"""

WORKER_DRIVER = """
import time, worker
exporter = worker.Exporter()
exporter.start()
time.sleep(0.2)
exporter.stop()
print("stopped", time.monotonic(), flush=True)
"""


def _seconds_to_exit_after_stop(folder: Path, limit: float) -> float:
    """Start the worker in a process, stop it, and time how long the process takes to exit
    (or ``inf`` when it is still running ``limit`` seconds after the stop)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", WORKER_DRIVER], cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 15
        line = ""
        while "stopped" not in line and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
        assert "stopped" in line, proc.stderr.read() if proc.poll() is not None else "no stop line"
        stopped_at = time.monotonic()
        try:
            proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            return float("inf")
        return time.monotonic() - stopped_at
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
        proc.stdout.close()
        proc.stderr.close()


def test_unstoppable_worker_hangs_the_process_and_the_fixed_one_exits(tmp_path):
    fixed = fixed_copy(tmp_path, "worker", WORKER, "THR503", FixMode.UNSAFE)
    text = fixed.read_text()
    assert "while not self._stop_event.is_set():" in text
    assert "self._stop_event.wait(0.05)" in text

    assert _seconds_to_exit_after_stop(tmp_path / "buggy", limit=2.0) == float("inf")
    assert _seconds_to_exit_after_stop(tmp_path / "fixed", limit=2.0) < 0.5


# -- THR501: stop returns while the thread is still finishing ---------------------------------

SWEEPER = """
    import threading
    import time


    class Servicer:
        def __init__(self):
            self.flushed = False
            self._sweeper_stop = threading.Event()
            self._sweeper = threading.Thread(target=self._sweep, daemon=True)
            self._sweeper.start()

        def _sweep(self):
            while not self._sweeper_stop.is_set():
                self._sweeper_stop.wait(0.01)
            time.sleep(0.3)  # final accounting
            self.flushed = True


    class Server:
        def __init__(self):
            self.servicer = Servicer()

        def stop(self):
            self.servicer._sweeper_stop.set()
"""

SWEEPER_DRIVER = """
    import json, sweeper
    server = sweeper.Server()
    server.stop()
    print(json.dumps({"flushed_when_stop_returned": server.servicer.flushed,
                      "alive_when_stop_returned": server.servicer._sweeper.is_alive()}))
"""


def test_signalled_thread_is_finished_when_the_fixed_stop_returns(tmp_path):
    fixed = fixed_copy(tmp_path, "sweeper", SWEEPER, "THR501", FixMode.SAFE)
    assert "self.servicer._sweeper.join(timeout=5.0)" in fixed.read_text()

    buggy = run_driver(tmp_path / "buggy", SWEEPER_DRIVER)
    assert buggy == {"flushed_when_stop_returned": False, "alive_when_stop_returned": True}
    healed = run_driver(tmp_path / "fixed", SWEEPER_DRIVER)
    assert healed == {"flushed_when_stop_returned": True, "alive_when_stop_returned": False}


# -- THR504: how long an expired lease keeps its memory ---------------------------------------

REAPER = """
    import threading
    import time


    class Leases:
        def __init__(self):
            self._lock = threading.Lock()
            self._leases = {}
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._sweep, daemon=True)
            self._thread.start()

        def grant(self, name, ttl):
            with self._lock:
                self._leases[name] = time.monotonic() + ttl

        def held(self):
            with self._lock:
                return len(self._leases)

        def _sweep(self):
            while not self._stop.is_set():
                now = time.monotonic()
                with self._lock:
                    for name in [n for n, expires_at in self._leases.items() if expires_at <= now]:
                        del self._leases[name]
                self._stop.wait(1.0)

        def stop(self):
            self._stop.set()
            self._thread.join(timeout=5)
"""

REAPER_DRIVER = """
    import json, time, reaper
    leases = reaper.Leases()
    time.sleep(0.05)
    leases.grant("model", ttl=0.01)
    granted = time.monotonic()
    while leases.held() and time.monotonic() - granted < 3:
        time.sleep(0.005)
    held_for = time.monotonic() - granted - 0.01
    leases.stop()
    print(json.dumps({"held_after_expiry_s": held_for}))
"""


def test_expired_lease_is_released_within_the_configured_period(tmp_path):
    fixed = fixed_copy(tmp_path, "reaper", REAPER, "THR504", FixMode.SAFE)
    assert "self._stop.wait(0.1)" in fixed.read_text()

    buggy = run_driver(tmp_path / "buggy", REAPER_DRIVER)
    healed = run_driver(tmp_path / "fixed", REAPER_DRIVER)
    assert buggy["held_after_expiry_s"] > 0.5
    assert healed["held_after_expiry_s"] < 0.3
