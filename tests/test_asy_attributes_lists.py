"""ASY302 / ASY303 through attributes and lists, in a package with relative imports and
re-exports in ``__init__.py``.

`self.http = HttpFront()` in `__init__` makes `self.http.stop()` a call of `HttpFront.stop`
whatever its body (`pass`, a docstring, a thread start); a list mixing sync and async calls
reports exactly its sync elements. The app is run on a real asyncio loop as written (the
TypeError), then after `zmqlint --fix` (it starts, stops, and leaves no thread behind).
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import findings_of, lint_tree

from zmqlint.engine import FixMode

HTTP = """
    import threading


    class HttpFront:
        def __init__(self):
            self.stopping = threading.Event()
            self.thread = None

        def start(self):
            self.thread = threading.Thread(target=self.stopping.wait, args=(5,), name="http", daemon=True)
            self.thread.start()

        def stop(self):
            pass

        def close(self):
            \"\"\"Release the listener.\"\"\"

        def halt(self):
            self.stopping.set()
            self.thread.join(timeout=5)
    """

RPC = """
    import asyncio


    class RpcFront:
        def __init__(self):
            self.stopped = False

        async def stop(self):
            await asyncio.sleep(0)
            self.stopped = True
    """

TRANSPORT_INIT = """
    from .http import HttpFront
    from .rpc import RpcFront as Rpc
    """

APP = """
    import asyncio
    import sys
    import threading

    from . import transport
    from .transport import HttpFront, Rpc


    class App:
        def __init__(self):
            self.http = HttpFront()
            self.rpc = Rpc()
            self.admin = transport.HttpFront()

        async def start(self):
            await self.http.start()
            await self.admin.start()

        async def stop(self):
            pending = [self.http.stop(), self.rpc.stop()]
            pending.append(self.admin.close())
            await asyncio.gather(*pending)

        async def halt(self):
            await self.http.halt()
            await self.admin.halt()


    async def main(stop):
        app = App()
        await asyncio.wait_for(app.start(), 5)
        if stop:
            await asyncio.wait_for(app.stop(), 5)
        await asyncio.wait_for(app.halt(), 5)
        return app


    if __name__ == "__main__":
        app = asyncio.run(main(sys.argv[1] == "stop"))
        left = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
        print("rpc stopped" if app.rpc.stopped else "rpc running", "CLEAN" if not left else f"LEFT {left}")
    """

#: (code, line, the call reported) -- exactly the sync calls; `self.rpc.stop()` is async.
EXPECTED = [
    ("ASY302", 20, "self.http.stop"),
    ("ASY302", 21, "self.admin.close"),
    ("ASY303", 16, "self.http.start"),
    ("ASY303", 17, "self.admin.start"),
    ("ASY303", 25, "self.http.halt"),
    ("ASY303", 26, "self.admin.halt"),
]


@pytest.fixture
def project(tree):
    return tree(
        {
            "svc/__init__.py": "",
            "svc/transport/__init__.py": TRANSPORT_INIT,
            "svc/transport/http.py": HTTP,
            "svc/transport/rpc.py": RPC,
            "svc/app.py": APP,
        }
    )


def _run(root, stop):
    return subprocess.run(
        [sys.executable, "-m", "svc.app", "stop" if stop else "halt"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_reports_exactly_the_sync_calls(project):
    found = findings_of(lint_tree(project, select=["ASY302", "ASY303"]))
    assert sorted((f.code, f.line, f.message.split("`")[3][:-2]) for f in found) == EXPECTED
    assert all(f.path.endswith("app.py") for f in found)
    # The message names the callee where it is defined, through the re-export.
    stop = next(f for f in found if f.line == 20)
    assert "`HttpFront.stop` (svc/transport/http.py:13) is a plain `def`" in stop.message


def test_as_written_the_app_fails_with_type_error(project):
    started = _run(project, stop=False)
    assert "TypeError: object NoneType can't be used in 'await' expression" in started.stderr, started.stderr


def test_fixed_app_starts_stops_and_leaves_no_thread(project):
    result = lint_tree(project, select=["ASY302", "ASY303"], fix=FixMode.SAFE)
    assert result.fixes_applied == len(EXPECTED)
    fixed = (project / "svc" / "app.py").read_text()
    assert "pending = [asyncio.to_thread(self.http.stop), self.rpc.stop()]" in fixed
    assert "pending.append(asyncio.to_thread(self.admin.close))" in fixed
    assert "await asyncio.to_thread(self.http.start)" in fixed
    assert findings_of(lint_tree(project, select=["ASY302", "ASY303"])) == []
    for stop in (False, True):
        run = _run(project, stop)
        assert run.returncode == 0, run.stderr
        assert run.stdout.split()[-1] == "CLEAN", run.stdout
    assert _run(project, True).stdout.startswith("rpc stopped")


def test_gather_of_the_sync_stop_raises_before_the_fix(project):
    # Start and halt are made to work first, so the only bug left is the gathered list.
    lint_tree(project, select=["ASY303"], fix=FixMode.SAFE)
    run = _run(project, stop=True)
    assert "TypeError: An asyncio.Future, a coroutine or an awaitable is required" in run.stderr, run.stderr


# -- precision: where the class is not known for sure, stubs stay interfaces ------------------

BASE = """
    class Front:
        def stop(self):
            pass

        def abort(self):
            raise NotImplementedError

    class AsyncFront(Front):
        async def stop(self):
            pass

    def make_front():
        return Front()
    """

SILENT = {
    # Two classes assigned to the same attribute: one of them is async.
    "two_classes": """
        from .base import Front, AsyncFront

        class App:
            def __init__(self, fast):
                if fast:
                    self.front = AsyncFront()
                else:
                    self.front = Front()

            async def stop(self):
                await self.front.stop()
        """,
    # A parameter annotated with the base class: a subclass may be passed.
    "annotation": """
        from .base import Front

        class App:
            def __init__(self, front: Front):
                self.front = front

            async def stop(self):
                await self.front.stop()
        """,
    # Built by a factory: the stub stays an interface.
    "factory": """
        from .base import make_front

        class App:
            def __init__(self):
                self.front = make_front()

            async def stop(self):
                await self.front.stop()
        """,
    # `raise NotImplementedError`: a placeholder, not a sync result.
    "not_implemented": """
        from .base import Front

        class App:
            def __init__(self):
                self.front = Front()

            async def stop(self):
                await self.front.abort()
        """,
    # Nothing known about the attribute.
    "unknown": """
        import asyncio

        class App:
            def __init__(self, front):
                self.front = front
                self.pending = [front.stop()]

            async def stop(self):
                await asyncio.gather(self.front.stop(), *self.pending)
        """,
    # Assigned where the rule cannot see it (setattr).
    "dynamic": """
        from .base import Front

        class App:
            def __init__(self, name):
                self.front = Front()
                setattr(self, name, object())

            async def stop(self):
                await self.front.stop()
        """,
}


@pytest.mark.parametrize("name", sorted(SILENT))
def test_silent_where_the_class_is_not_known_for_sure(tree, name):
    root = tree({"pkg/__init__.py": "", "pkg/base.py": BASE, "pkg/app.py": SILENT[name]})
    assert findings_of(lint_tree(root, select=["ASY"])) == []


def test_stub_of_a_class_built_by_name_is_reported(tree):
    root = tree(
        {
            "pkg/__init__.py": "",
            "pkg/base.py": BASE,
            "pkg/app.py": """
                from .base import Front

                class App:
                    def __init__(self):
                        self.front = Front()

                    async def stop(self):
                        await self.front.stop()
                """,
        }
    )
    assert [(f.code, f.line) for f in findings_of(lint_tree(root, select=["ASY"]))] == [("ASY303", 8)]
