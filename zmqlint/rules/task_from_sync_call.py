from __future__ import annotations

import ast
from typing import TYPE_CHECKING, List, Optional, Set

import libcst as cst

from zmqlint.codemods.aio import TASK_FACTORIES, AsyncioNames, dotted, to_thread_call
from zmqlint.facts.asyncness import call_name
from zmqlint.model import Applicability, Fix, Severity
from zmqlint.rule import Invalid, Rule, Valid
from zmqlint.rules.await_sync_call import (
    any_sync_call,
    asyncio_callee_names,
    asyncio_names,
    asyncio_names_of,
    gate_module,
    qualified_asyncio,
    sync_callees_of,
)

if TYPE_CHECKING:  # pragma: no cover
    from zmqlint.gates import FileFacts

_LOOP_GETTERS = {"asyncio.get_running_loop", "asyncio.get_event_loop", "asyncio.new_event_loop"}


class TaskFromSyncCall(Rule):
    """Flags tasks created from the result of a plain (non-async) function.

    ## What it does
    Reports `asyncio.create_task(x.start())`, `asyncio.ensure_future(...)`,
    `loop.create_task(...)`, `TaskGroup.create_task(...)`, `asyncio.run(...)`,
    `loop.run_until_complete(...)` and `asyncio.run_coroutine_threadsafe(...)` whose argument
    calls a callable
    that resolves (across modules: `self.attr = Cls(...)`, locals, imports, classes imported
    from a folder on `sys.path`, inherited methods) to a plain `def` returning no awaitable,
    or to a blocking library function (`time.sleep`, `subprocess.run`, `threading.Thread.start`).

    ## Why is this bad?
    The "task" body runs right away, synchronously, blocking the event loop; then its result
    (`None`) reaches `create_task`, which raises `TypeError: a coroutine was expected`. In the
    field report the ModelOps coordinator started its gRPC and REST servers this way: the
    service could not boot.

    ## Example
    ```python
    async def start(self):
        self.tasks.append(asyncio.create_task(self.grpc_server.start()))  # def start(self)
    ```

    ## Use instead
    ```python
    async def start(self):
        self.tasks.append(asyncio.create_task(asyncio.to_thread(self.grpc_server.start)))
    ```

    ## Fix safety
    Safe. `asyncio.to_thread(obj.start, *args, **kwargs)` is a coroutine that runs the same
    call, with every argument, on a worker thread; the task (its `name=` and other keywords
    kept) completes when `start()` returns. What used to raise `TypeError` now runs, without
    blocking the event loop. `import asyncio` is added when missing. A callee that uses the
    event loop itself (`asyncio.create_task`, `loop.call_soon`, an `asyncio.Queue`, directly or
    through the functions it calls) would find no running loop on a worker thread: it is
    reported without a fix (make it `async def`).
    """

    CODE = "ASY301"
    NAME = "task-from-sync-call"
    SEVERITY = Severity.CRITICAL
    MESSAGE = "`{factory}` is given the result of `{call}()`, but {callees}: it fails, a coroutine was expected"
    FIXES = (Applicability.SAFE,)
    PREFILTER = ("create_task", "ensure_future", "run")

    VALID = [
        Valid(
            """
            import asyncio

            class Server:
                async def start(self):
                    pass

            async def main():
                server = Server()
                task = asyncio.create_task(server.start(), name="server")
                await task
            """
        ),
        Valid(
            """
            import asyncio

            class Server:
                async def serve(self):
                    pass

                def start(self):
                    return self.serve()

            async def main():
                await asyncio.create_task(Server().start())
            """
        ),
        Valid(
            """
            import asyncio
            from vendor.server import Server

            async def main():
                asyncio.create_task(Server().start())
            """
        ),
        Valid(
            """
            class Scheduler:
                def create_task(self, job):
                    return job

            def build():
                return {"kind": "report"}

            Scheduler().create_task(build())
            """
        ),
    ]

    INVALID = [
        Invalid(
            """
            import asyncio
            import os
            import sys

            sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
            from transport.grpc_server import GrpcServer


            class Coordinator:
                def __init__(self, port):
                    self.grpc_server = GrpcServer(port)
                    self.tasks = []

                async def start(self):
                    self.tasks.append(asyncio.create_task(self.grpc_server.start(), name="grpc"))
            """,
            path="coordinator/app.py",
            files={
                "coordinator/transport/__init__.py": "",
                "coordinator/transport/grpc_server.py": """
                    import threading

                    class GrpcServer:
                        def __init__(self, port):
                            self.port = port

                        def start(self):
                            self.thread = threading.Thread(target=self.serve, daemon=True)
                            self.thread.start()

                        def serve(self):
                            pass
                    """,
            },
            line=15,
            column=47,
            end_column=71,
            message_contains="`GrpcServer.start` (coordinator/transport/grpc_server.py:7)",
            expected_fix="""
            import asyncio
            import os
            import sys

            sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
            from transport.grpc_server import GrpcServer


            class Coordinator:
                def __init__(self, port):
                    self.grpc_server = GrpcServer(port)
                    self.tasks = []

                async def start(self):
                    self.tasks.append(asyncio.create_task(asyncio.to_thread(self.grpc_server.start), name="grpc"))
            """,
        ),
        Invalid(
            """
            from asyncio import TaskGroup

            def warm_cache(size, *, verbose=False):
                return [0] * size

            async def main():
                async with TaskGroup() as group:
                    group.create_task(warm_cache(64, verbose=True))
            """,
            line=8,
            expected_fix="""
            from asyncio import TaskGroup
            import asyncio

            def warm_cache(size, *, verbose=False):
                return [0] * size

            async def main():
                async with TaskGroup() as group:
                    group.create_task(asyncio.to_thread(warm_cache, 64, verbose=True))
            """,
        ),
        Invalid(
            """
            import asyncio

            class Exporter:
                def run(self):
                    self.exported = True

            class PushExporter(Exporter):
                pass

            def schedule(loop):
                exporter = PushExporter()
                return loop.create_task(exporter.run())
            """,
            line=12,
            expected_fix="""
            import asyncio

            class Exporter:
                def run(self):
                    self.exported = True

            class PushExporter(Exporter):
                pass

            def schedule(loop):
                exporter = PushExporter()
                return loop.create_task(asyncio.to_thread(exporter.run))
            """,
        ),
        Invalid(
            """
            import asyncio

            def main():
                print("serving")

            if __name__ == "__main__":
                asyncio.run(main())
            """,
            line=7,
            expected_fix="""
            import asyncio

            def main():
                print("serving")

            if __name__ == "__main__":
                asyncio.run(asyncio.to_thread(main))
            """,
        ),
        Invalid(
            """
            import asyncio

            class Poller:
                def start(self):
                    asyncio.get_running_loop().call_soon(self.poll)

                def poll(self):
                    pass

            async def main():
                asyncio.create_task(Poller().start())
            """,
            line=11,
            message_contains="make it `async def`",
            expected_fix=None,
        ),
    ]

    @classmethod
    def gate(cls, facts: "FileFacts") -> bool:
        # A finding is a task factory (as `_task_factory` sees it, receivers of `create_task`
        # named by any TaskGroup of the file) given a call whose callee name has sync call
        # sites in the module. Every argument the rule may pick is considered.
        info = gate_module(facts)
        if info is None:
            return False
        names = asyncio_names_of(facts.index, info)
        task_groups: Optional[Set[str]] = None
        inner: List[ast.AST] = []
        for call in facts.calls(*asyncio_callee_names(names, TASK_FACTORIES), "create_task", "run_until_complete"):
            if qualified_asyncio(names, call.func) not in TASK_FACTORIES:
                if task_groups is None:
                    task_groups = _gate_task_groups(facts, names)
                if not _gate_is_method_factory(call, names, task_groups):
                    continue
            inner.extend(call.args)
            inner.extend(k.value for k in call.keywords if k.arg in ("coro", "main", "future"))
        return any_sync_call(facts, info, inner)

    def __init__(self, context) -> None:
        super().__init__(context)
        self.asyncio: Optional[AsyncioNames] = None
        #: Names bound by ``async with TaskGroup() as name``.
        self.task_groups: Set[str] = set()

    def visit_Module(self, node: cst.Module) -> None:
        self.asyncio = asyncio_names(self)

    def visit_WithItem(self, node: cst.WithItem) -> None:
        if (
            isinstance(node.item, cst.Call)
            and self.asyncio.qualified(node.item.func) == "asyncio.TaskGroup"
            and node.asname is not None
            and isinstance(node.asname.name, cst.Name)
        ):
            self.task_groups.add(node.asname.name.value)

    def visit_Call(self, node: cst.Call) -> None:
        factory = self._task_factory(node)
        if factory is None:
            return
        arg = next((a for a in node.args if a.keyword is None or a.keyword.value in ("coro", "main", "future")), None)
        if arg is None or arg.star or not isinstance(arg.value, cst.Call):
            return
        inner = arg.value
        callees = sync_callees_of(self, inner)
        if callees is None:
            return
        message = self.MESSAGE.format(factory=factory, call=dotted(inner.func), callees=callees.describe(self.context.index.root))
        if callees.uses_event_loop:
            # On a worker thread it would find no running loop: a person must decide.
            self.report(inner, message + "; it uses the event loop, so it cannot move to a thread (make it `async def`)")
            return
        alias, imports = self.asyncio.for_fix()
        self.report(
            inner,
            message,
            fix=Fix(
                f"run {dotted(inner.func)} on a worker thread with {alias}.to_thread",
                Applicability.SAFE,
                replacements={inner: to_thread_call(inner, alias)},
                add_imports=imports,
            ),
        )

    def _task_factory(self, node: cst.Call) -> Optional[str]:
        """How ``node`` creates a task (for the message), or None if it does not."""
        qualified = self.asyncio.qualified(node.func)
        if qualified in TASK_FACTORIES:
            return qualified
        if not isinstance(node.func, cst.Attribute) or node.func.attr.value not in ("create_task", "run_until_complete"):
            return None
        method = node.func.attr.value
        receiver = node.func.value
        if isinstance(receiver, cst.Call) and self.asyncio.qualified(receiver.func) in _LOOP_GETTERS:
            return f"loop.{method}"
        name = dotted(receiver)
        if name is None:
            return None
        last = name.rpartition(".")[2].lower()
        if method == "create_task" and (name in self.task_groups or last in ("tg", "task_group", "taskgroup") or last.endswith("_tg")):
            return "TaskGroup.create_task"
        if "loop" in last:
            return f"loop.{method}"
        return None


def _gate_task_groups(facts: "FileFacts", names: AsyncioNames) -> Set[str]:
    """Every name bound by ``[async] with TaskGroup() as name`` in the file (the rule knows
    those seen so far, a subset)."""
    return {
        item.optional_vars.id
        for item in facts.nodes(ast.withitem)
        if isinstance(item.context_expr, ast.Call)
        and isinstance(item.optional_vars, ast.Name)
        and qualified_asyncio(names, item.context_expr.func) == "asyncio.TaskGroup"
    }


def _gate_is_method_factory(call: ast.Call, names: AsyncioNames, task_groups: Set[str]) -> bool:
    """The ``ast`` twin of the method part of `TaskFromSyncCall._task_factory`."""
    func = call.func
    if not isinstance(func, ast.Attribute) or func.attr not in ("create_task", "run_until_complete"):
        return False
    receiver = func.value
    if isinstance(receiver, ast.Call) and qualified_asyncio(names, receiver.func) in _LOOP_GETTERS:
        return True
    name = call_name(receiver)
    if name is None:
        return False
    last = name.rpartition(".")[2].lower()
    if func.attr == "create_task" and (name in task_groups or last in ("tg", "task_group", "taskgroup") or last.endswith("_tg")):
        return True
    return "loop" in last
