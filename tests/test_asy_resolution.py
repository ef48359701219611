"""ASY301-ASY303 resolve what a call reaches across modules, and stay silent when unsure.

Each case is a small project; the assertion is the exact set of (code, file, line) findings.
"""

from __future__ import annotations

import pytest
from conftest import findings_of, lint_tree

from zmqlint.rule import dedent

ASY = ["ASY301", "ASY302", "ASY303"]

SYNC_SERVER = """
    import threading

    class GrpcServer:
        def __init__(self, port=0):
            self.port = port
            self._thread = None

        def start(self):
            self._thread = threading.Thread(target=self.serve, daemon=True)
            self._thread.start()

        def serve(self):
            pass

        def stop(self):
            if self._thread is not None:
                self._thread.join(timeout=1)
    """

ASYNC_SERVER = """
    class GrpcServer:
        async def start(self):
            pass

        async def stop(self):
            pass
    """

COORDINATOR = """
    import asyncio
    {imports}

    class Coordinator:
        def __init__(self):
            self.grpc_server = GrpcServer()

        async def start(self):
            self.task = asyncio.create_task(self.grpc_server.start())

        async def stop(self):
            await self.grpc_server.stop()
    """


def _found(root, path):
    result = lint_tree(root, select=ASY + ["E999"])
    assert not result.errors, result.errors
    assert not findings_of(result, "E999")
    return {(f.code, f.line) for f in findings_of(result) if f.path.endswith(path)}


# -- where the class comes from ---------------------------------------------------------------

IMPORT_SHAPES = {
    "absolute": {
        "services/__init__.py": "",
        "services/grpc_server.py": "{server}",
        "app.py": COORDINATOR.replace("{imports}", "from services.grpc_server import GrpcServer"),
    },
    "absolute-module": {
        "services/__init__.py": "",
        "services/grpc_server.py": "{server}",
        "app.py": COORDINATOR.replace("{imports}", "import services.grpc_server as rpc\n    GrpcServer = rpc.GrpcServer"),
    },
    "relative": {
        "coordinator/__init__.py": "",
        "coordinator/grpc_server.py": "{server}",
        "app.py": "",
        "coordinator/app.py": COORDINATOR.replace("{imports}", "from .grpc_server import GrpcServer"),
    },
    "relative-parent": {
        "fleet/__init__.py": "",
        "fleet/transport/__init__.py": "",
        "fleet/transport/grpc_server.py": "{server}",
        "fleet/coordinator/__init__.py": "",
        "fleet/coordinator/app.py": COORDINATOR.replace("{imports}", "from ..transport.grpc_server import GrpcServer"),
    },
    "package-reexport": {
        "transport/__init__.py": "from .grpc_server import GrpcServer\n",
        "transport/grpc_server.py": "{server}",
        "app.py": COORDINATOR.replace("{imports}", "from transport import GrpcServer"),
    },
    "sys-path-folder": {
        # The program puts coordinator/ on sys.path and imports `transport` from beside it.
        "coordinator/transport/__init__.py": "",
        "coordinator/transport/grpc_server.py": "{server}",
        "coordinator/app.py": COORDINATOR.replace(
            "{imports}",
            "import os, sys\n    sys.path.insert(0, os.path.dirname(__file__))\n    from transport.grpc_server import GrpcServer",
        ),
    },
    "inherited": {
        "base/__init__.py": "",
        "base/server.py": "{server}",
        "services/__init__.py": "",
        "services/grpc_server.py": "from base.server import GrpcServer as _Base\n\nclass GrpcServer(_Base):\n    pass\n",
        "app.py": COORDINATOR.replace("{imports}", "from services.grpc_server import GrpcServer"),
    },
}


def _shape(name, server):
    files = dict(IMPORT_SHAPES[name])
    files = {path: code.replace("{server}", server) for path, code in files.items()}
    target = next(p for p in files if p.endswith("app.py") and files[p].strip())
    return files, target


@pytest.mark.parametrize("shape", sorted(IMPORT_SHAPES))
def test_sync_methods_of_imported_classes_are_found(tree, shape):
    files, target = _shape(shape, SYNC_SERVER)
    root = tree(files)
    lines = dedent(files[target]).splitlines()
    task_line = 1 + next(i for i, text in enumerate(lines) if "create_task" in text)
    await_line = 1 + next(i for i, text in enumerate(lines) if "await self.grpc_server.stop()" in text)
    assert _found(root, target) == {("ASY301", task_line), ("ASY303", await_line)}


@pytest.mark.parametrize("shape", sorted(IMPORT_SHAPES))
def test_async_methods_of_imported_classes_are_left_alone(tree, shape):
    files, target = _shape(shape, ASYNC_SERVER)
    assert _found(tree(files), target) == set()


def test_unresolvable_import_is_silent(tree):
    root = tree({"app.py": COORDINATOR.replace("{imports}", "from vendor.grpc import GrpcServer")})
    assert _found(root, "app.py") == set()


# -- how the receiver is reached --------------------------------------------------------------

RECEIVERS = [
    (
        "local instance",
        """
        async def main():
            server = Server()
            await server.stop()
        """,
        {("ASY303", 3)},
    ),
    (
        "local alias of an attribute",
        """
        class App:
            def __init__(self):
                self.server = Server()

            async def run(self):
                server = self.server
                asyncio.create_task(server.start())
        """,
        {("ASY301", 7)},
    ),
    (
        "module-level instance",
        """
        SERVER = Server()

        async def main():
            await asyncio.gather(SERVER.stop())
        """,
        {("ASY302", 4)},
    ),
    (
        "attribute chain",
        """
        class Transport:
            def __init__(self):
                self.server = Server()

        class App:
            def __init__(self):
                self.transport = Transport()

            async def run(self):
                await self.transport.server.stop()
        """,
        {("ASY303", 10)},
    ),
    (
        "attribute assigned in another method, set to None first",
        """
        class App:
            def __init__(self):
                self.server = None

            def configure(self):
                self.server = Server()

            async def run(self):
                asyncio.ensure_future(self.server.start())
        """,
        {("ASY301", 9)},
    ),
    (
        "conditional expression of two sync classes",
        """
        class Other(Server):
            pass

        class App:
            def __init__(self, fast):
                self.server = Server() if fast else Other()

            async def run(self):
                await self.server.stop()
        """,
        {("ASY303", 9)},
    ),
    (
        "self method",
        """
        class App:
            def close(self):
                self.closed = True

            async def run(self):
                await self.close()
        """,
        {("ASY303", 6)},
    ),
    (
        "super()",
        """
        class App(Server):
            async def stop(self):
                await super().stop()
        """,
        {("ASY303", 3)},
    ),
    (
        "module-level function",
        """
        def warm_up(size):
            cache = {}
            for i in range(size):
                cache[i] = i * i
            return cache

        async def main():
            asyncio.create_task(warm_up(10))
        """,
        {("ASY301", 8)},
    ),
    (
        "function returning another sync function's result",
        """
        def connect():
            return Server()

        def start_all():
            return connect()

        async def main():
            await start_all()
        """,
        {("ASY303", 8)},
    ),
    (
        "running loop's create_task",
        """
        async def main():
            asyncio.get_running_loop().create_task(Server().start())
        """,
        {("ASY301", 2)},
    ),
    (
        "annotated parameters",
        """
        from typing import Optional

        async def stop_all(first: Server, second: Optional[Server], third: "Server | None"):
            await first.stop()
            await asyncio.gather(second.stop(), third.stop())
        """,
        {("ASY303", 4), ("ASY302", 5)},
    ),
    (
        "blocking library functions and inherited thread methods",
        """
        import threading
        import time
        from subprocess import run as sh

        class Worker(threading.Thread):
            def run(self):
                pass

        async def main():
            await time.sleep(0.1)
            asyncio.create_task(sh(["true"]))
            worker = Worker()
            await asyncio.gather(worker.start())
        """,
        {("ASY303", 10), ("ASY301", 11), ("ASY302", 13)},
    ),
    (
        "for loop over a tuple of attributes",
        """
        class App:
            def __init__(self):
                self.a = Server()
                self.b = Server()

            async def stop(self):
                calls = []
                for server in (self.a, self.b):
                    calls.append(server.stop())
                calls += [Server().stop()]
                await asyncio.wait(calls)
        """,
        {("ASY302", 9), ("ASY302", 10)},
    ),
]

SILENT = [
    (
        "parameter receiver",
        """
        async def main(server):
            await server.stop()
            asyncio.create_task(server.start())
        """,
    ),
    (
        "callee returns a coroutine",
        """
        class Lazy:
            async def _start(self):
                pass

            def start(self):
                return self._start()

        async def main():
            asyncio.create_task(Lazy().start())
        """,
    ),
    (
        "callee returns a task, a future, an executor future",
        """
        class Spawner:
            def start(self):
                return asyncio.ensure_future(asyncio.sleep(0))

            def stop(self):
                loop = asyncio.get_running_loop()
                return loop.run_in_executor(None, print)

            def wait(self):
                return self._task

        async def main():
            s = Spawner()
            asyncio.create_task(s.start())
            await s.stop()
            await asyncio.gather(s.wait())
        """,
    ),
    (
        "decorated callee",
        """
        import functools

        def to_coroutine(func):
            async def wrapper(*args):
                return func(*args)
            return wrapper

        class Svc:
            @to_coroutine
            def stop(self):
                pass

        async def main():
            await Svc().stop()
        """,
    ),
    (
        "generator callee",
        """
        def produce():
            yield 1

        async def main():
            await produce()
        """,
    ),
    (
        "interface method reached through self",
        """
        class Base:
            def stop(self):
                raise NotImplementedError

            async def shutdown(self):
                await self.stop()

        class Impl(Base):
            async def stop(self):
                pass
        """,
    ),
    (
        "attribute that may hold an async class",
        """
        class AsyncServer:
            async def stop(self):
                pass

        class App:
            def __init__(self, legacy):
                self.server = Server()
                if not legacy:
                    self.server = AsyncServer()

            async def stop(self):
                await self.server.stop()
        """,
    ),
    (
        "loop over a collection that may hold anything",
        """
        class App:
            def __init__(self, extra):
                self.servers = [Server(), extra]

            async def stop(self):
                await asyncio.gather(*[s.stop() for s in self.servers])
        """,
    ),
    (
        "nested function parameter shadows a module instance",
        """
        server = Server()

        async def main():
            async def stop_one(server):
                await server.stop()
            await stop_one(None)
        """,
    ),
    (
        "annotated with an interface whose methods are placeholders",
        """
        from typing import Protocol

        class Stoppable(Protocol):
            def stop(self) -> None: ...

        class Base:
            def stop(self):
                pass

        async def stop_all(a: Stoppable, b: Base, c: list, d):
            await a.stop()
            await b.stop()
            await c.stop()
            await d.stop()
        """,
    ),
    (
        "library names that are not the blocking ones",
        """
        from mylib import sleep
        import time as clock

        class Worker:
            def join(self):
                return self.done

        async def main(time):
            await sleep(1)
            await time.sleep(1)
            await asyncio.sleep(1)
            await Worker().join()
        """,
    ),
    (
        "already wrapped",
        """
        async def main():
            server = Server()
            await asyncio.to_thread(server.stop)
            await asyncio.gather(asyncio.to_thread(server.stop))
            asyncio.create_task(asyncio.to_thread(server.start))
        """,
    ),
    (
        "awaitable class instance",
        """
        class Ready:
            def __await__(self):
                yield
                return self

        async def main():
            await Ready()
        """,
    ),
    (
        "a create_task that is not asyncio's",
        """
        class Jobs:
            def create_task(self, job):
                return job

        async def main():
            Jobs().create_task(Server().start())
        """,
    ),
]

SERVER_MODULE = SYNC_SERVER


@pytest.mark.parametrize("name,code,expected", RECEIVERS, ids=[r[0] for r in RECEIVERS])
def test_receivers_are_resolved(tree, name, code, expected):
    header = "import asyncio\nfrom server import GrpcServer as Server\n"
    root = tree({"server.py": SERVER_MODULE, "main.py": header + dedent(code)})
    assert _found(root, "main.py") == {(c, line + 2) for c, line in expected}


@pytest.mark.parametrize("name,code", SILENT, ids=[s[0] for s in SILENT])
def test_silent_when_not_provably_sync(tree, name, code):
    header = "import asyncio\nfrom server import GrpcServer as Server\n"
    root = tree({"server.py": SERVER_MODULE, "main.py": header + dedent(code)})
    assert _found(root, "main.py") == set()
