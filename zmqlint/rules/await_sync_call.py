from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Iterable, Optional

import libcst as cst
from libcst.metadata import PositionProvider

from zmqlint.codemods.aio import AsyncioNames, dotted, to_thread_call
from zmqlint.facts.asyncness import SyncCallees, call_name, module_calls, sync_calls_named
from zmqlint.model import Applicability, Fix, Severity
from zmqlint.rule import Invalid, Rule, Valid

if TYPE_CHECKING:  # pragma: no cover
    from zmqlint.gates import FileFacts
    from zmqlint.index import ModuleInfo, ProjectIndex


def sync_callees_of(rule: Rule, call: cst.Call) -> Optional[SyncCallees]:
    """What ``call`` reaches when every callee is a plain function returning no awaitable.

    Asks the facts by name first, so the node's position (costly, computed for the whole
    module on first use) is only needed where some call of that name is sync.
    """
    name = dotted(call.func)
    module = rule.context.module_info
    if name is None or module is None:
        return None
    sites = sync_calls_named(rule.context.index, module, name)
    if not sites:
        return None
    return sites.get(rule.get_metadata(PositionProvider, call).start.line)


def asyncio_names(rule: Rule) -> AsyncioNames:
    return asyncio_names_of(rule.context.index, rule.context.module_info)


def asyncio_names_of(index: "ProjectIndex", info: Optional["ModuleInfo"]) -> AsyncioNames:
    """How ``info`` names asyncio, read from its ``ast`` once per run (ASY301-ASY303 and their
    gates all ask)."""
    if info is None:
        return AsyncioNames(None)
    return index.memo(("aio.names", info.path), lambda: AsyncioNames(info.tree, info.nodes))


# -- gates: the same questions on the stdlib ast, before the file is parsed with LibCST ------


def gate_module(facts: "FileFacts") -> Optional["ModuleInfo"]:
    """The module the rules resolve calls in (`RuleContext.module_info`): without it,
    `sync_callees_of` finds nothing."""
    info = facts.module  # the index's module when it holds this very text (the usual case)
    return info if info is not None else facts.index.module_for_path(facts.path)


def any_sync_call(facts: "FileFacts", info: "ModuleInfo", calls: Iterable[ast.AST]) -> bool:
    """True when one of ``calls`` is named like a call of ``info`` that reaches only sync
    functions: what `sync_callees_of` needs to answer anything for it.

    (`sync_callees_of` then also asks for the call's line; the gate does not, so a position
    computed differently by LibCST, e.g. with parentheses, can never make it unsound.)"""
    seen = set()
    for call in calls:
        if not isinstance(call, ast.Call):
            continue
        name = call_name(call.func)
        if name is None or name in seen:
            continue
        if not seen:
            # Read the module's calls from the gate's shared walk when it is the same tree.
            module_calls(facts.index, info, facts.nodes(ast.Call) if facts.tree is info.tree else None)
        seen.add(name)
        if sync_calls_named(facts.index, info, name):
            return True
    return False


def qualified_asyncio(names: AsyncioNames, func: ast.expr) -> Optional[str]:
    """The ``ast`` twin of `AsyncioNames.qualified` (``call_name`` is the twin of ``dotted``)."""
    name = call_name(func)
    if name is None:
        return None
    head, _, rest = name.partition(".")
    full = names.names.get(head)
    if full is None:
        return None
    return f"{full}.{rest}" if rest else full


def asyncio_callee_names(names: AsyncioNames, qualified: Iterable[str]) -> set:
    """The last names a call's callee may have when it qualifies to one of ``qualified``
    (``asyncio.gather`` -> ``gather`` as in ``asyncio.gather`` / ``aio.gather``, plus any
    local alias ``from asyncio import gather as g``)."""
    wanted = set(qualified)
    found = {q.rpartition(".")[2] for q in wanted}
    found.update(local for local, full in names.names.items() if full in wanted)
    return found


class AwaitSyncCall(Rule):
    """Flags `await` of the result of a plain (non-async) function.

    ## What it does
    Reports `await x.stop()` where `x.stop` resolves (across modules: `self.attr = Cls(...)`,
    locals, loop variables, annotated parameters, imports, inherited methods) to a plain `def`
    that returns no awaitable, or to a blocking library function (`time.sleep`,
    `subprocess.run`, `requests.get`, an inherited `threading.Thread.start` / `join`). Imports
    are followed through relative imports and re-exports in a package's `__init__.py`. When
    `self.http = HttpFront()` builds the attribute from one class by name, `self.http.stop()`
    is `HttpFront.stop` whatever its body, `pass` or a docstring included; reached any other way
    (through `self`, a parameter, a factory, several classes) such an empty method is an
    interface a subclass may implement as `async def`, and nothing is reported.

    ## Why is this bad?
    The call runs to completion, blocking the event loop, and returns `None` (or some other
    plain value); awaiting that raises `TypeError: object NoneType can't be used in 'await'
    expression`. In the field report the coordinator's shutdown awaited the sync `stop()` of its
    ZeroMQ server: every stop crashed before the remaining servers were stopped.

    ## Example
    ```python
    async def shutdown(self):
        await self.zmq_server.stop()   # def stop(self): ...
    ```

    ## Use instead
    ```python
    async def shutdown(self):
        await asyncio.to_thread(self.zmq_server.stop)
    ```

    ## Fix safety
    Safe. `await asyncio.to_thread(obj.stop, *args, **kwargs)` runs the same call with the same
    arguments on a worker thread and waits for it: the code that raised `TypeError` now
    completes, and the event loop keeps serving while `stop()` blocks. `import asyncio` is
    added when missing (an existing `import asyncio as aio` is reused). A callee that uses the
    event loop itself (`asyncio.create_task`, `loop.call_soon`, an `asyncio.Queue`, directly or
    through the functions it calls) would find no running loop on a worker thread: there the
    fix only drops the `await`, so the call runs where it ran before and nothing awaits `None`.
    """

    CODE = "ASY303"
    NAME = "await-sync-call"
    SEVERITY = Severity.HIGH
    MESSAGE = "`await` of `{call}()`, but {callees}: awaiting its result raises TypeError"
    FIXES = (Applicability.SAFE,)
    PREFILTER = ("await",)

    VALID = [
        Valid(
            """
            class Server:
                async def stop(self):
                    pass

            class App:
                def __init__(self):
                    self.server = Server()

                async def shutdown(self):
                    await self.server.stop()
            """
        ),
        Valid(
            """
            import asyncio

            class Server:
                async def _close(self):
                    pass

                def stop(self):
                    return self._close()

            async def shutdown(server: Server):
                await Server().stop()
            """
        ),
        Valid(
            """
            async def shutdown(server):
                await server.stop()
            """
        ),
        Valid(
            """
            class Front:
                def stop(self):
                    pass

            class AsyncFront(Front):
                async def stop(self):
                    pass

            class App:
                def __init__(self, front: Front, fast: bool):
                    self.given = front
                    self.built = AsyncFront() if fast else Front()

                async def stop(self):
                    await self.given.stop()
                    await self.built.stop()
            """
        ),
    ]

    INVALID = [
        Invalid(
            """
            import asyncio as aio

            class ZmqServer:
                def stop(self):
                    self.running = False

            class Coordinator:
                def __init__(self):
                    self.zmq_server = ZmqServer()

                async def stop(self):
                    await self.zmq_server.stop()
            """,
            line=12,
            column=15,
            end_column=37,
            message_contains="`ZmqServer.stop`",
            expected_fix="""
            import asyncio as aio

            class ZmqServer:
                def stop(self):
                    self.running = False

            class Coordinator:
                def __init__(self):
                    self.zmq_server = ZmqServer()

                async def stop(self):
                    await aio.to_thread(self.zmq_server.stop)
            """,
        ),
        Invalid(
            """
            from .transport import HttpFront

            class Coordinator:
                def __init__(self):
                    self.http = HttpFront()

                async def stop(self):
                    await self.http.stop()
            """,
            path="svc/app.py",
            files={
                "svc/__init__.py": "",
                "svc/transport/__init__.py": "from .http import HttpFront\n",
                "svc/transport/http.py": """
                    class HttpFront:
                        def stop(self):
                            pass
                    """,
            },
            line=8,
            column=15,
            end_column=31,
            message_contains="`HttpFront.stop` (svc/transport/http.py:2) is a plain `def`",
            expected_fix="""
            from .transport import HttpFront
            import asyncio

            class Coordinator:
                def __init__(self):
                    self.http = HttpFront()

                async def stop(self):
                    await asyncio.to_thread(self.http.stop)
            """,
        ),
        Invalid(
            """
            from .store import flush

            async def save(records):
                await flush(records, sync=True)  # write-through
            """,
            path="pkg/api.py",
            files={
                "pkg/__init__.py": "",
                "pkg/store.py": """
                    def flush(records, sync=False):
                        return len(records)
                    """,
            },
            line=4,
            expected_fix="""
            from .store import flush
            import asyncio

            async def save(records):
                await asyncio.to_thread(flush, records, sync=True)  # write-through
            """,
        ),
        Invalid(
            """
            import asyncio

            class Heartbeat:
                def start(self):
                    self.task = asyncio.get_running_loop().create_task(self.beat())

                async def beat(self):
                    pass

            async def main():
                heartbeat = Heartbeat()
                await heartbeat.start()
            """,
            line=12,
            message_contains="uses the event loop",
            expected_fix="""
            import asyncio

            class Heartbeat:
                def start(self):
                    self.task = asyncio.get_running_loop().create_task(self.beat())

                async def beat(self):
                    pass

            async def main():
                heartbeat = Heartbeat()
                heartbeat.start()
            """,
        ),
    ]

    @classmethod
    def gate(cls, facts: "FileFacts") -> bool:
        # A finding is an `await <call>` whose callee name has sync call sites in the module.
        info = gate_module(facts)
        if info is None:
            return False
        return any_sync_call(facts, info, (node.value for node in facts.nodes(ast.Await)))

    def visit_Await(self, node: cst.Await) -> None:
        call = node.expression
        if not isinstance(call, cst.Call):
            return
        callees = sync_callees_of(self, call)
        if callees is None:
            return
        message = self.MESSAGE.format(call=dotted(call.func), callees=callees.describe(self.context.index.root))
        if callees.uses_event_loop:
            # It schedules work on the loop itself: keep it on the loop's thread, just do not
            # await its result.
            fix = Fix(
                f"call {dotted(call.func)}() without awaiting it (it uses the event loop)",
                Applicability.SAFE,
                replacements={node: call.with_changes(lpar=node.lpar, rpar=node.rpar)},
            )
            message += "; it uses the event loop, so call it without `await`"
        else:
            alias, imports = asyncio_names(self).for_fix()
            fix = Fix(
                f"await {alias}.to_thread({dotted(call.func)}, ...) instead",
                Applicability.SAFE,
                replacements={call: to_thread_call(call, alias)},
                add_imports=imports,
            )
        self.report(call, message, fix=fix)
