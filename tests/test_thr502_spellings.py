"""THR502: check-then-act in the spellings real code uses, proven on real threads.

Two worker threads share a job list filled by the main thread. Written as a guard
(`if not self.jobs: ...; continue`), a peek (`self.jobs[0]`) and a pop after the work, both
threads see the same first job: one pops it, the other's pop raises IndexError (and the job is
handled twice). The same loop with the check and the pop under one lock handles every job once;
the `if len(x) > 0: x.pop(0)` spelling, converted by the fix to a `queue.Queue`, does too.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from conftest import findings_of, lint_tree

from zmqlint.engine import FixMode

GUARDED = textwrap.dedent(
    """
    import threading
    import time


    class Workers:
        def __init__(self, count):
            self.jobs = []
            self.handled = []
            self._threads = [threading.Thread(target=self._work, daemon=True) for _ in range(count)]
            for thread in self._threads:
                thread.start()

        def _work(self):
            for _ in range(400):
                if not self.jobs:
                    time.sleep(0.001)
                    continue
                job = self.jobs[0]
                self.handle(job)
                self.jobs.pop(0)

        def handle(self, job):
            time.sleep(0.001)
            self.handled.append(job)

        def submit(self, job):
            self.jobs.append(job)
    """
)

LOCKED = textwrap.dedent(
    """
    import threading
    import time


    class Workers:
        def __init__(self, count):
            self._lock = threading.Lock()
            self.jobs = []
            self.handled = []
            self._threads = [threading.Thread(target=self._work, daemon=True) for _ in range(count)]
            for thread in self._threads:
                thread.start()

        def _work(self):
            for _ in range(400):
                with self._lock:
                    if not self.jobs:
                        job = None
                    else:
                        job = self.jobs.pop(0)
                if job is None:
                    time.sleep(0.001)
                    continue
                self.handle(job)

        def handle(self, job):
            time.sleep(0.001)
            self.handled.append(job)

        def submit(self, job):
            with self._lock:
                self.jobs.append(job)
    """
)

FIFO = textwrap.dedent(
    """
    import threading
    import time


    class Workers:
        def __init__(self, count):
            self.jobs = []
            self.handled = []
            self._threads = [threading.Thread(target=self._work, daemon=True) for _ in range(count)]
            for thread in self._threads:
                thread.start()

        def _work(self):
            for _ in range(400):
                if len(self.jobs) > 0:
                    job = self.jobs.pop(0)
                    self.handle(job)
                else:
                    time.sleep(0.001)

        def handle(self, job):
            time.sleep(0.001)
            self.handled.append(job)

        def submit(self, job):
            self.jobs.append(job)
    """
)

# Feeds 50 jobs to two workers, joins them (bounded), prints what was handled.
DRIVER = textwrap.dedent(
    """
    import sys
    import time
    sys.path.insert(0, sys.argv[1])
    from workers import Workers

    workers = Workers(2)
    for n in range(50):
        workers.submit(n)
        time.sleep(0.002)
    for thread in workers._threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in workers._threads)
    print("handled", len(workers.handled), "distinct", len(set(workers.handled)))
    """
)


def _run(root):
    return subprocess.run(
        [sys.executable, "-c", DRIVER, str(root)], capture_output=True, text=True, timeout=60
    )


def _thr502(root):
    return [(f.line, f.message) for f in findings_of(lint_tree(root, select=["THR502"]), "THR502")]


def test_guard_peek_pop_is_reported_and_races(tmp_path):
    (tmp_path / "workers.py").write_text(GUARDED)
    found = _thr502(tmp_path)
    assert len(found) == 1
    line, message = found[0]
    assert line == 19  # job = self.jobs[0]
    assert "between the check on line 16 and this read" in message

    run = _run(tmp_path)
    assert "IndexError: pop from empty list" in run.stderr, run.stderr
    handled, distinct = int(run.stdout.split()[1]), int(run.stdout.split()[3])
    assert handled > distinct  # some job was handled by both threads


def test_check_and_pop_under_one_lock_is_silent_and_handles_each_job_once(tmp_path):
    (tmp_path / "workers.py").write_text(LOCKED)
    assert _thr502(tmp_path) == []
    run = _run(tmp_path)
    assert run.returncode == 0 and "Error" not in run.stderr, run.stderr
    assert run.stdout.split() == ["handled", "50", "distinct", "50"]


def test_len_check_then_pop_converted_to_a_queue_handles_each_job_once(tmp_path):
    (tmp_path / "workers.py").write_text(FIFO)
    assert [line for line, _ in _thr502(tmp_path)] == [17]
    assert lint_tree(tmp_path, select=["THR502"], fix=FixMode.SAFE).fixes_applied == 0
    lint_tree(tmp_path, select=["THR502"], fix=FixMode.UNSAFE)
    fixed = (tmp_path / "workers.py").read_text()
    assert "self.jobs = queue.Queue()" in fixed and "job = self.jobs.get_nowait()" in fixed
    assert _thr502(tmp_path) == []
    run = _run(tmp_path)
    assert run.returncode == 0 and "Error" not in run.stderr, run.stderr
    assert run.stdout.split() == ["handled", "50", "distinct", "50"]


SPELLINGS = {
    "truthiness": ("if self.buf:\n    self.buf.pop()", "pop"),
    "while_truthiness": ("while self.buf:\n    self.buf.pop(0)", "pop"),
    "len_ge": ("if len(self.buf) >= 4:\n    batch = self.buf[:4]\n    del self.buf[:4]", "read"),
    "and_pop": ("item = self.buf and self.buf.pop()", "pop"),
    "ternary": ("item = self.buf.pop(0) if self.buf else None", "pop"),
    "del_first": ("if len(self.buf) > 0:\n    del self.buf[0]", "pop"),
    "remove": ("if self.buf:\n    self.buf.remove(self.last)", "pop"),
    "peek_then_pop": ("if self.buf:\n    first = self.buf[0]\n    self.buf.pop(0)", "read"),
    "else_branch": ("if not self.buf:\n    self.idle()\nelse:\n    self.buf.pop(0)", "pop"),
    "guard": ("if not self.buf:\n    continue\nself.buf.pop(0)", "pop"),
    "wait": ("while not self.buf:\n    self.idle()\nself.buf.pop(0)", "pop"),
}


def _spelled(loop: str, body: str, helper: bool) -> str:
    step = textwrap.indent(body, " " * 12 if not helper else " " * 8)
    if helper:
        run = f"        {loop}\n            self._step()\n\n    def _step(self):\n        for _ in range(1):\n{textwrap.indent(body, ' ' * 12)}\n"
    else:
        run = f"        {loop}\n{step}\n"
    return (
        "import threading\n\n\n"
        "class Buffer:\n"
        "    def __init__(self):\n"
        "        self.buf = []\n"
        "        self.last = None\n"
        "        threading.Thread(target=self._run, daemon=True).start()\n\n"
        "    def _run(self):\n" + run + "\n"
        "    def add(self, item):\n"
        "        self.buf.append(item)\n"
        "        self.last = item\n"
    )


@pytest.mark.parametrize("loop", ["while True:", "while 1:"])
@pytest.mark.parametrize("helper", [False, True], ids=["in-target", "in-called-method"])
@pytest.mark.parametrize("name", sorted(SPELLINGS))
def test_every_spelling_is_a_check_then_act(tmp_path, name, loop, helper):
    body, act = SPELLINGS[name]
    source = _spelled(loop, body, helper)
    compile(source, "buffer.py", "exec")
    (tmp_path / "buffer.py").write_text(source)
    found = _thr502(tmp_path)
    assert len(found) == 1, source
    assert f"this {act}" in found[0][1]


@pytest.mark.parametrize(
    "body",
    [
        "if not self.buf:\n    self.idle()\nself.buf.append(1)",  # a guard that does not leave
        "while not self.buf:\n    if self.idle():\n        break\nself.buf.pop(0)",  # may leave empty
        "if self.buf:\n    self.idle()",  # no act
        "try:\n    self.buf.pop(0)\nexcept IndexError:\n    pass",  # atomic pop, handled
    ],
)
def test_not_a_check_then_act(tmp_path, body):
    (tmp_path / "buffer.py").write_text(_spelled("while True:", body, False))
    assert _thr502(tmp_path) == []


def test_dict_membership_then_delete_races_with_a_pop_elsewhere(tmp_path):
    (tmp_path / "pending.py").write_text(
        textwrap.dedent(
            """
            import threading


            class Pending:
                def __init__(self):
                    self.callbacks = {}
                    threading.Thread(target=self._dispatch, daemon=True).start()

                def _dispatch(self):
                    while 1:
                        reply_id = self.receive()
                        if reply_id in self.callbacks:
                            self.callbacks.pop(reply_id)(reply_id)

                def expect(self, reply_id, callback):
                    self.callbacks[reply_id] = callback

                def cancel(self, reply_id):
                    if reply_id in self.callbacks:
                        del self.callbacks[reply_id]
            """
        )
    )
    found = _thr502(tmp_path)
    assert [line for line, _ in found] == [14]
    assert "another thread can remove the key between the check on line 13" in found[0][1]
