"""The ASY fixes, proven by running the code.

A small coordinator package (its servers imported from a folder the program puts on
`sys.path`, as in the field report) starts sync servers as tasks, gathers and awaits their sync
`stop()`. Each path is run as is and really raises the TypeError the rules describe; then
`zmqlint --fix` rewrites it, and the same paths run: every sync `start()` on a worker thread,
every server stopped, no thread left behind.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import findings_of, lint_tree

from zmqlint.engine import FixMode

SERVER = """
    import threading


    class Server:
        \"\"\"A sync server: start() spawns a serving thread, stop() signals and joins it.\"\"\"

        def __init__(self, name):
            self.name = name
            self.started_on = None
            self._stopping = threading.Event()
            self._thread = None

        def start(self, poll=0.01, *, label=None):
            self.started_on = threading.current_thread().name
            self._thread = threading.Thread(target=self._serve, args=(poll,), name=label or self.name, daemon=True)
            self._thread.start()

        def _serve(self, poll):
            while not self._stopping.wait(poll):
                pass

        def stop(self):
            self._stopping.set()
            if self._thread is not None:
                self._thread.join(timeout=5)
    """

APP = """
    import asyncio
    import os
    import sys
    import threading

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from transport.server import Server  # noqa: E402


    class Coordinator:
        def __init__(self):
            self.rpc_server = Server("rpc")
            self.rest_api = Server("rest")
            self.tasks = []

        def _servers(self):
            return [self.rpc_server, self.rest_api]

        async def start(self):
            self.tasks.append(asyncio.create_task(self.rpc_server.start(0.01, label="rpc-serve"), name="rpc"))
            self.tasks.append(asyncio.get_running_loop().create_task(self.rest_api.start()))
            await asyncio.wait_for(asyncio.gather(*self.tasks), 5)

        async def start_in_group(self):
            async with asyncio.TaskGroup() as tg:
                for server in self._servers():
                    tg.create_task(server.start())

        def start_plainly(self):
            for server in self._servers():
                server.start()

        async def stop(self):
            await asyncio.gather(*[server.stop() for server in self._servers()])

        async def stop_and_wait(self):
            stopping = []
            for server in self._servers():
                stopping.append(server.stop())
            await asyncio.wait(stopping, timeout=5)

        async def stop_one_by_one(self):
            await self.rpc_server.stop()
            await self.rest_api.stop()


    async def main(start, stop):
        coordinator = Coordinator()
        if start == "plain":
            coordinator.start_plainly()
        else:
            await getattr(coordinator, start)()
        started_on = {s.started_on for s in coordinator._servers()}
        await asyncio.wait_for(getattr(coordinator, stop)(), 5)
        return started_on


    if __name__ == "__main__":
        started_on = asyncio.run(main(sys.argv[1], sys.argv[2]))
        print("started on", sorted(started_on))
        left = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
        print("CLEAN" if not left else f"LEFT {left}")
    """

#: (how it starts, how it stops) -> the error the unfixed code raises
PATHS = {
    ("start", "stop_one_by_one"): "TypeError: a coroutine was expected, got None",
    ("start_in_group", "stop_one_by_one"): "TypeError: a coroutine was expected, got None",
    ("plain", "stop"): "TypeError: An asyncio.Future, a coroutine or an awaitable is required",
    # asyncio.wait() takes the Nones for futures (3.10: TypeError; 3.11+: AttributeError).
    ("plain", "stop_and_wait"): (
        "TypeError: An asyncio.Future, a coroutine or an awaitable is required"
        if sys.version_info < (3, 11)
        else "AttributeError: 'NoneType' object has no attribute 'add_done_callback'"
    ),
    ("plain", "stop_one_by_one"): "TypeError: object NoneType can't be used in 'await' expression",
}

if sys.version_info < (3, 11):  # asyncio.TaskGroup is new in 3.11
    PATHS.pop(("start_in_group", "stop_one_by_one"))


def _run(root, start, stop):
    return subprocess.run(
        [sys.executable, str(root / "coordinator" / "app.py"), start, stop],
        capture_output=True,
        text=True,
        timeout=20,
    )


@pytest.fixture
def project(tree):
    return tree({"coordinator/transport/__init__.py": "", "coordinator/transport/server.py": SERVER, "coordinator/app.py": APP})


@pytest.mark.parametrize("start,stop", sorted(PATHS), ids=["-".join(p) for p in sorted(PATHS)])
def test_unfixed_paths_fail(project, start, stop):
    result = _run(project, start, stop)
    assert result.returncode != 0
    assert PATHS[(start, stop)] in result.stderr, result.stderr


def test_rules_report_every_bad_call(project):
    result = lint_tree(project, select=["ASY"])
    found = sorted((f.code, f.line) for f in findings_of(result))
    assert found == [
        ("ASY301", 20),  # asyncio.create_task(self.rpc_server.start(...))
        ("ASY301", 21),  # loop.create_task(self.rest_api.start())
        ("ASY301", 27),  # tg.create_task(server.start())
        ("ASY302", 34),  # gather(*[server.stop() for ...])
        ("ASY302", 39),  # stopping.append(server.stop()) ... wait(stopping)
        ("ASY303", 43),
        ("ASY303", 44),
    ]


def test_fixed_paths_run_start_on_worker_threads_and_shut_down(project):
    result = lint_tree(project, select=["ASY"], fix=FixMode.SAFE)
    assert result.fixes_applied == 7
    fixed = (project / "coordinator" / "app.py").read_text()
    assert "asyncio.create_task(asyncio.to_thread(self.rpc_server.start, 0.01, label=\"rpc-serve\"), name=\"rpc\")" in fixed
    assert "await asyncio.to_thread(self.rpc_server.stop)" in fixed
    assert "stopping.append(asyncio.create_task(asyncio.to_thread(server.stop)))" in fixed
    assert findings_of(lint_tree(project, select=["ASY"])) == []
    for start, stop in sorted(PATHS):
        run = _run(project, start, stop)
        assert run.returncode == 0, (start, stop, run.stderr)
        assert run.stdout.splitlines()[-1] == "CLEAN", run.stdout
        if start != "plain":
            assert "MainThread" not in run.stdout, run.stdout  # start() ran on a worker thread
            assert "asyncio_" in run.stdout, run.stdout  # the default executor's threads


LOOP_USER = """
    import asyncio
    import threading


    class Heartbeat:
        def __init__(self):
            self.beats = 0
            self.task = None

        def start(self):
            # Schedules work on the running loop: it must stay on the loop's thread.
            self.task = asyncio.get_running_loop().create_task(self.beat())

        async def beat(self):
            self.beats += 1


    class Journal:
        def flush(self, records, *, sync=False):
            self.flushed_on = threading.current_thread().name
            return len(records) if sync else 0


    async def main():
        heartbeat = Heartbeat()
        await heartbeat.start()
        await asyncio.wait_for(heartbeat.task, 5)
        journal = Journal()
        written = await asyncio.wait_for(journal.flush([1, 2, 3], sync=True), timeout=5)
        print(heartbeat.beats, written, journal.flushed_on)


    asyncio.run(main())
    """


def test_a_callee_that_uses_the_loop_keeps_running_on_it(tree):
    root = tree({"service.py": LOOP_USER})
    run = lambda: subprocess.run(  # noqa: E731
        [sys.executable, str(root / "service.py")], capture_output=True, text=True, timeout=20, check=False
    )
    before = run()
    assert "TypeError: object NoneType can't be used in 'await' expression" in before.stderr, before.stderr

    lint_tree(root, select=["ASY"], fix=FixMode.SAFE)
    fixed = (root / "service.py").read_text()
    assert "\n    heartbeat.start()\n" in fixed  # the await is dropped, the call stays on the loop
    assert "asyncio.wait_for(asyncio.to_thread(journal.flush, [1, 2, 3], sync=True), timeout=5)" in fixed
    after = run()
    assert after.returncode == 0, after.stderr
    beats, written, thread = after.stdout.split()
    assert (beats, written) == ("1", "3")
    assert thread != "MainThread"
