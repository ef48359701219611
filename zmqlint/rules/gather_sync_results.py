from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Dict, Iterator, List, Optional, Set, Union

import libcst as cst

from zmqlint.codemods.aio import GATHERERS, SINGLE_WAITERS, WAITERS, AsyncioNames, dotted, task_of, to_thread_call
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

_Scope = Union[cst.Module, cst.FunctionDef]


class GatherSyncResults(Rule):
    """Flags `gather` / `wait` over results of plain (non-async) functions.

    ## What it does
    Reports each element of `asyncio.gather(...)`, `asyncio.wait(...)` or
    `asyncio.as_completed(...)`, and the argument of `asyncio.wait_for(...)` /
    `asyncio.shield(...)`, that calls a plain `def` returning no awaitable (or a blocking
    library function such as `time.sleep` or an inherited `threading.Thread.join`): a direct
    argument, an element of a starred list, tuple or comprehension, or a call collected in a
    list earlier in the same function (`stopping.append(server.stop())`, `calls = [...]`).
    Callees are resolved across modules (relative imports, re-exports in `__init__.py`),
    through loop and comprehension variables too (`for server in self._transports()` where
    `_transports` returns `[self.rest, self.rpc]`). A list mixing sync and async calls
    (`pending = [self.http.stop(), self.rpc.stop()]`) reports exactly its sync elements. An
    attribute built from one class by name (`self.http = HttpFront()`) calls that class's
    method whatever its body, `pass` or a docstring included.

    ## Why is this bad?
    Every `stop()` runs right away, one after another, blocking the event loop; their results
    (`None`) then reach `gather`, which raises `TypeError: An asyncio.Future, a coroutine or an
    awaitable is required`. In the field report the coordinator's shutdown gathered the sync
    `stop()` of its servers: it never shut down gracefully.

    ## Example
    ```python
    async def stop(self):
        await asyncio.gather(*[server.stop() for server in self.servers()])
    ```

    ## Use instead
    ```python
    async def stop(self):
        await asyncio.gather(*[asyncio.to_thread(server.stop) for server in self.servers()])
    ```

    ## Fix safety
    Safe. The element becomes `asyncio.to_thread(obj.stop, *args, **kwargs)`: the same call,
    with the same arguments, run on a worker thread, and the `gather` waits for all of them
    concurrently instead of raising. For `asyncio.wait`, which refuses bare coroutines since
    Python 3.11, the element becomes `asyncio.create_task(asyncio.to_thread(obj.stop))` (only
    inside an `async def`, where a loop is running; elsewhere the finding has no fix).
    `import asyncio` is added when missing. A callee that uses the event loop itself
    (`asyncio.create_task`, `loop.call_soon`, ...) is reported without a fix: on a worker
    thread it would find no running loop.
    """

    CODE = "ASY302"
    NAME = "gather-sync-results"
    SEVERITY = Severity.HIGH
    MESSAGE = "`{waiter}` waits on the result of `{call}()`, but {callees}: {outcome}"
    FIXES = (Applicability.SAFE,)
    PREFILTER = ("gather", "wait", "as_completed", "shield")

    VALID = [
        Valid(
            """
            import asyncio

            class Worker:
                async def stop(self):
                    pass

            async def shutdown(workers):
                await asyncio.gather(*[Worker().stop() for _ in range(3)])
            """
        ),
        Valid(
            """
            import asyncio

            class Server:
                def stop(self):
                    pass

            async def shutdown():
                server = Server()
                await asyncio.gather(asyncio.to_thread(server.stop))
            """
        ),
        Valid(
            """
            import asyncio

            async def shutdown(servers):
                await asyncio.gather(*[server.stop() for server in servers])
            """
        ),
        Valid(
            """
            import asyncio

            def stop_all(servers):
                return [server.stop() for server in servers]

            async def main(servers):
                await asyncio.gather(*stop_all(servers))
            """
        ),
    ]

    INVALID = [
        Invalid(
            """
            import asyncio
            from .fronts import HttpFront, RpcFront

            class Gateway:
                def __init__(self):
                    self.http = HttpFront()
                    self.rpc = RpcFront()

                async def stop(self):
                    pending = [self.http.stop(), self.rpc.stop()]
                    pending.append(self.http.close())
                    await asyncio.gather(*pending)
            """,
            path="gw/app.py",
            files={
                "gw/__init__.py": "",
                "gw/fronts.py": """
                    class HttpFront:
                        def stop(self):
                            pass

                        def close(self):
                            \"\"\"Release the listener.\"\"\"

                    class RpcFront:
                        async def stop(self):
                            pass
                    """,
            },
            line=10,
            column=20,
            end_column=36,
            count=2,
            message_contains="`HttpFront.stop` (gw/fronts.py:2) is a plain `def`",
            expected_fix="""
            import asyncio
            from .fronts import HttpFront, RpcFront

            class Gateway:
                def __init__(self):
                    self.http = HttpFront()
                    self.rpc = RpcFront()

                async def stop(self):
                    pending = [asyncio.to_thread(self.http.stop), self.rpc.stop()]
                    pending.append(asyncio.to_thread(self.http.close))
                    await asyncio.gather(*pending)
            """,
        ),
        Invalid(
            """
            import asyncio


            class RestApi:
                def stop(self):
                    self.httpd = None


            class RpcServer:
                def stop(self, timeout=2.0):
                    return None


            class Coordinator:
                def __init__(self):
                    self.rest_api = RestApi()
                    self.rpc_server = RpcServer()

                def _transports(self):
                    return [self.rest_api, self.rpc_server]

                async def stop(self):
                    await asyncio.gather(*[server.stop() for server in self._transports()])
            """,
            line=23,
            column=32,
            end_column=45,
            message_contains="`RestApi.stop` (example.py:5) and `RpcServer.stop` (example.py:10) are plain `def`s",
            expected_fix="""
            import asyncio


            class RestApi:
                def stop(self):
                    self.httpd = None


            class RpcServer:
                def stop(self, timeout=2.0):
                    return None


            class Coordinator:
                def __init__(self):
                    self.rest_api = RestApi()
                    self.rpc_server = RpcServer()

                def _transports(self):
                    return [self.rest_api, self.rpc_server]

                async def stop(self):
                    await asyncio.gather(*[asyncio.to_thread(server.stop) for server in self._transports()])
            """,
        ),
        Invalid(
            """
            import asyncio as aio
            from .servers import HttpServer, RpcServer

            class App:
                def __init__(self):
                    self.http = HttpServer()
                    self.rpc = RpcServer()

                async def restart(self):
                    stopping = []
                    for server in (self.http, self.rpc):
                        stopping.append(server.stop(grace=1.0))
                    await aio.gather(*stopping)
            """,
            path="app/main.py",
            files={
                "app/__init__.py": "",
                "app/servers.py": """
                    class _Base:
                        def stop(self, grace=0.0):
                            self.running = False

                    class HttpServer(_Base):
                        pass

                    class RpcServer(_Base):
                        pass
                    """,
            },
            line=12,
            expected_fix="""
            import asyncio as aio
            from .servers import HttpServer, RpcServer

            class App:
                def __init__(self):
                    self.http = HttpServer()
                    self.rpc = RpcServer()

                async def restart(self):
                    stopping = []
                    for server in (self.http, self.rpc):
                        stopping.append(aio.to_thread(server.stop, grace=1.0))
                    await aio.gather(*stopping)
            """,
        ),
        Invalid(
            """
            import asyncio

            def flush_metrics():
                pass

            async def close(writer):
                done, pending = await asyncio.wait([writer.wait_closed(), flush_metrics()], timeout=5)
            """,
            line=7,
            column=63,
            expected_fix="""
            import asyncio

            def flush_metrics():
                pass

            async def close(writer):
                done, pending = await asyncio.wait([writer.wait_closed(), asyncio.create_task(asyncio.to_thread(flush_metrics))], timeout=5)
            """,
        ),
        Invalid(
            """
            import asyncio

            class Server:
                def stop(self):
                    self.closed = True

            async def shutdown(server: Server):
                await asyncio.wait_for(Server().stop(), timeout=5)
            """,
            line=8,
            expected_fix="""
            import asyncio

            class Server:
                def stop(self):
                    self.closed = True

            async def shutdown(server: Server):
                await asyncio.wait_for(asyncio.to_thread(Server().stop), timeout=5)
            """,
        ),
    ]

    @classmethod
    def gate(cls, facts: "FileFacts") -> bool:
        # A finding is an element (as `_elements` finds them, lists collected anywhere in the
        # file rather than in the enclosing function) of a waiter call, whose callee name has
        # sync call sites in the module. Every argument the rule may pick is considered.
        info = gate_module(facts)
        if info is None:
            return False
        names = asyncio_names_of(facts.index, info)
        waiters = GATHERERS | SINGLE_WAITERS | WAITERS
        elements: List[ast.AST] = []
        collected = _GateCollected(facts)
        for call in facts.calls(*asyncio_callee_names(names, waiters)):
            waiter = qualified_asyncio(names, call.func)
            if waiter in GATHERERS:
                for arg in call.args:
                    if isinstance(arg, ast.Starred):
                        elements.extend(collected.elements(arg.value, starred=True))
                    else:
                        elements.append(arg)
                elements.extend(k.value for k in call.keywords if k.arg is None)  # `**kw`
            elif waiter in SINGLE_WAITERS:
                elements.extend(a for a in call.args if not isinstance(a, ast.Starred))
                elements.extend(k.value for k in call.keywords if k.arg in ("fut", "arg", "aw"))
            elif waiter in WAITERS:
                firsts = [a for a in call.args if not isinstance(a, ast.Starred)]
                firsts.extend(k.value for k in call.keywords if k.arg in ("fs", "aws"))
                for first in firsts:
                    elements.extend(collected.elements(first, starred=True))
        return any_sync_call(facts, info, elements)

    def __init__(self, context) -> None:
        super().__init__(context)
        self.asyncio: Optional[AsyncioNames] = None
        self.scopes: List[_Scope] = []
        self.reported: Set[int] = set()

    def visit_Module(self, node: cst.Module) -> None:
        self.asyncio = asyncio_names(self)
        self.scopes.append(node)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.scopes.append(node)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.scopes.pop()

    def visit_Call(self, node: cst.Call) -> None:
        waiter = self.asyncio.qualified(node.func)
        if waiter in GATHERERS:
            elements = [e for arg in node.args if arg.keyword is None for e in self._elements(arg.value, starred=arg.star == "*")]
        elif waiter in SINGLE_WAITERS:
            first = next((a for a in node.args if a.keyword is None or a.keyword.value in ("fut", "arg", "aw")), None)
            elements = [first.value] if first is not None and not first.star else []
        elif waiter in WAITERS:
            first = next((a for a in node.args if a.keyword is None or a.keyword.value in ("fs", "aws")), None)
            elements = list(self._elements(first.value, starred=True)) if first is not None and not first.star else []
        else:
            return
        for element in elements:
            if isinstance(element, cst.Call) and id(element) not in self.reported:
                self._check(waiter, element)

    def _check(self, waiter: str, call: cst.Call) -> None:
        callees = sync_callees_of(self, call)
        if callees is None:
            return
        self.reported.add(id(call))
        alias, imports = self.asyncio.for_fix()
        replacement: cst.BaseExpression = to_thread_call(call, alias)
        fix: Optional[Fix] = None
        if waiter == "asyncio.wait":
            scope = self.scopes[-1]
            if isinstance(scope, cst.FunctionDef) and scope.asynchronous is not None:
                replacement = task_of(replacement, alias)
            else:
                replacement = None
        if callees.uses_event_loop:
            replacement = None  # on a worker thread it would find no running loop
        if replacement is not None:
            fix = Fix(
                f"run {dotted(call.func)} on a worker thread with {alias}.to_thread",
                Applicability.SAFE,
                replacements={call: replacement},
                add_imports=imports,
            )
        outcome = "it fails, a future or task is required" if waiter in WAITERS else "TypeError, an awaitable is required"
        message = self.MESSAGE.format(
            waiter=waiter, call=dotted(call.func), callees=callees.describe(self.context.index.root), outcome=outcome
        )
        if callees.uses_event_loop:
            message += "; it uses the event loop, so it cannot move to a thread (make it `async def`)"
        self.report(call, message, fix=fix)

    def _elements(self, expr: cst.BaseExpression, *, starred: bool, depth: int = 0) -> Iterator[cst.BaseExpression]:
        """The awaitables ``expr`` contributes: itself, or (``starred``) what it holds."""
        if not starred:
            yield expr
            return
        if isinstance(expr, (cst.List, cst.Tuple, cst.Set)):
            for element in expr.elements:
                yield from self._elements(element.value, starred=isinstance(element, cst.StarredElement), depth=depth)
        elif isinstance(expr, (cst.ListComp, cst.SetComp, cst.GeneratorExp)):
            yield expr.elt
        elif isinstance(expr, cst.Name) and depth == 0:
            for collected in _collected_into(self.scopes[-1], expr.value):
                yield from self._elements(collected, starred=True, depth=depth + 1)


def _collected_into(scope: _Scope, name: str) -> List[cst.BaseExpression]:
    """What the function puts in the list ``name``: whole literals / comprehensions assigned or
    added to it (``name = [...]``, ``name += [...]``, ``name.extend([...])``), and single
    elements (``name.append(call)``, returned as the call itself wrapped in a one-element list)."""
    found: List[cst.BaseExpression] = []

    class Collect(cst.CSTVisitor):
        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            return node is scope

        def visit_ClassDef(self, node: cst.ClassDef) -> bool:
            return False

        def visit_Lambda(self, node: cst.Lambda) -> bool:
            return False

        def visit_Assign(self, node: cst.Assign) -> None:
            if any(isinstance(t.target, cst.Name) and t.target.value == name for t in node.targets):
                found.append(node.value)

        def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
            if isinstance(node.target, cst.Name) and node.target.value == name and node.value is not None:
                found.append(node.value)

        def visit_AugAssign(self, node: cst.AugAssign) -> None:
            if isinstance(node.target, cst.Name) and node.target.value == name and isinstance(node.operator, cst.AddAssign):
                found.append(node.value)

        def visit_Call(self, node: cst.Call) -> None:
            func = node.func
            if (
                isinstance(func, cst.Attribute)
                and isinstance(func.value, cst.Name)
                and func.value.value == name
                and len(node.args) == 1
                and node.args[0].keyword is None
                and not node.args[0].star
            ):
                if func.attr.value == "append":
                    found.append(cst.List([cst.Element(node.args[0].value)]))
                elif func.attr.value == "extend":
                    found.append(node.args[0].value)

    scope.visit(Collect())
    return found


class _GateCollected:
    """The ``ast`` twin of `GatherSyncResults._elements` for gates, with `_collected_into`
    widened to the whole file (the rule reads the enclosing function or module only)."""

    def __init__(self, facts: "FileFacts") -> None:
        self.facts = facts
        self._into: Optional[Dict[str, List[ast.expr]]] = None

    def elements(self, expr: ast.expr, *, starred: bool, depth: int = 0) -> Iterator[ast.expr]:
        if not starred:
            yield expr
            return
        if isinstance(expr, (ast.List, ast.Tuple, ast.Set)):
            for element in expr.elts:
                if isinstance(element, ast.Starred):
                    yield from self.elements(element.value, starred=True, depth=depth)
                else:
                    yield from self.elements(element, starred=False, depth=depth)
        elif isinstance(expr, (ast.ListComp, ast.SetComp, ast.GeneratorExp)):
            yield expr.elt
        elif isinstance(expr, ast.Name) and depth == 0:
            for collected in self.into().get(expr.id, []):
                yield from self.elements(collected, starred=True, depth=depth + 1)

    def into(self) -> Dict[str, List[ast.expr]]:
        """Name -> what the file puts in a list of that name (see `_collected_into`)."""
        if self._into is None:
            found: Dict[str, List[ast.expr]] = {}
            for node in self.facts.nodes(ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        found.setdefault(target.id, []).append(node.value)
            for node in self.facts.nodes(ast.AnnAssign):
                if isinstance(node.target, ast.Name) and node.value is not None:
                    found.setdefault(node.target.id, []).append(node.value)
            for node in self.facts.nodes(ast.AugAssign):
                if isinstance(node.target, ast.Name) and isinstance(node.op, ast.Add):
                    found.setdefault(node.target.id, []).append(node.value)
            for node in self.facts.calls("append", "extend"):
                func = node.func
                if (
                    isinstance(func, ast.Attribute)
                    and isinstance(func.value, ast.Name)
                    and len(node.args) == 1
                    and not node.keywords
                    and not isinstance(node.args[0], ast.Starred)
                ):
                    arg = node.args[0]
                    found.setdefault(func.value.id, []).append(
                        ast.List(elts=[arg], ctx=ast.Load()) if func.attr == "append" else arg
                    )
            self._into = found
        return self._into
