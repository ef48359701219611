from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, List, Optional

import libcst as cst

from zmqlint.codemods.sockets import NodeMap, gate_module
from zmqlint.facts.socket_flavours import ASYNCIO, POLLER, ZmqCall, function_bindings, zmq_io_calls
from zmqlint.facts.socket_uses import SEND_METHODS, module_parents
from zmqlint.index import dotted_name, walk
from zmqlint.model import Applicability, Fix, Severity
from zmqlint.rule import Invalid, Rule, Valid

if TYPE_CHECKING:  # pragma: no cover
    from zmqlint.index import ModuleInfo, ProjectIndex


class ZmqFutureNotAwaited(Rule):
    """Flags a `zmq.asyncio` socket's receive, send or poll whose Future is used as if it were the result.

    ## What it does
    Reports `recv*`, `send*` and `poll` calls on a socket made from `zmq.asyncio.Context`
    (or on a `zmq.asyncio.Poller`) whose result is not awaited but used: assigned to a name
    that is then used as a message (`msg = sock.recv()` then `msg.decode()`, `msg == b"ok"`,
    `json.loads(msg)`), passed to a function, indexed, compared, tested (`if sock.poll(100):`),
    iterated, formatted, or returned from a coroutine. A bare statement (`sock.recv()`,
    `sock.send(b"x")`, or a name assigned and never read) is reported too inside `async def`:
    the received message is lost, the poll waits for nothing, and a send's errors are never
    seen (see below). The socket's flavour is followed as for ASY304; unknown is silent.

    Futures handled as futures are fine: awaited later (`fut = sock.recv(); ...; await fut`),
    given to `asyncio.gather` / `wait` / `wait_for` / `shield` / `ensure_future` /
    `create_task` / `as_completed` or to a function whose name says it takes one
    (`ensure_async`, `maybe_await`, `with_timeout`, `add_future`), collected
    (`futures.append(sock.recv())`, a list, a comprehension, an attribute or a dict entry),
    given a callback (`add_done_callback`) or asked `done()` / `cancel()` / `result()`,
    yielded, or returned from a plain `def` (a wrapper whose caller awaits it). A name
    assigned more than once in the function is not followed. A bare `send` in a plain `def`
    is not reported either: firing and forgetting is all a plain function can do, and pyzmq
    sends the message at once when it can.

    ## Why is this bad?
    On a `zmq.asyncio` socket every `send` / `recv` / `poll` returns an `asyncio.Future`, not
    the message. Code written for plain pyzmq (or missing one `await`) gets a Future where it
    expects bytes: `msg.decode()` raises `AttributeError`, `msg[0]` and `json.loads(msg)` raise
    `TypeError`, `msg == b"ok"` is always False and `if sock.poll(100):` always True (a Future
    is truthy); a bare `sock.recv()` takes the next message off the socket and drops it.
    A send left unawaited still goes out when it can, but when it cannot (high-water mark,
    a REQ socket in the wrong state, an unroutable ROUTER peer) the error is only logged as
    "Future exception was never retrieved", and a loop of such sends never yields to the event
    loop.

    ## Example
    ```python
    ctx = zmq.asyncio.Context()

    async def serve(endpoint):
        sock = ctx.socket(zmq.REP)
        sock.bind(endpoint)
        request = sock.recv()
        await sock.send(request.upper())
    ```

    ## Use instead
    ```python
    ctx = zmq.asyncio.Context()

    async def serve(endpoint):
        sock = ctx.socket(zmq.REP)
        sock.bind(endpoint)
        request = await sock.recv()
        await sock.send(request.upper())
    ```

    ## Fix safety
    Safe inside `async def`: `await` is added before the call (in parentheses where the
    result is indexed, called or its attribute read: `(await sock.recv()).decode()`), so the
    code gets the message it was written for; the coroutine now waits at that point, as the
    code assumed it did. Not offered in a generator expression (an `await` there would make it
    an asynchronous generator). Outside `async def` (a plain function given a `zmq.asyncio`
    socket) nothing can be awaited: it is reported without a fix; use a plain socket there,
    or make the function a coroutine.
    """

    CODE = "ASY305"
    NAME = "zmq-future-not-awaited"
    SEVERITY = Severity.HIGH
    MESSAGE = "`{call}()` on a `zmq.asyncio` {kind} returns a Future, not {result}, and it is not awaited: {how}"
    FIXES = (Applicability.SAFE,)
    PREFILTER = ("recv", "send", "poll")

    VALID = [
        Valid(
            """
            import asyncio
            import zmq.asyncio

            ctx = zmq.asyncio.Context()

            async def first_reply(endpoints):
                futures = []
                for endpoint in endpoints:
                    sock = ctx.socket(zmq.DEALER)
                    sock.connect(endpoint)
                    futures.append(sock.recv())
                done, pending = await asyncio.wait(futures, return_when=asyncio.FIRST_COMPLETED)
                return done.pop().result()
            """
        ),
        Valid(
            """
            import asyncio
            import zmq.asyncio

            class Client:
                def __init__(self):
                    self.ctx = zmq.asyncio.Context.instance()
                    self.sock = self.ctx.socket(zmq.REQ)

                async def call(self, request, timeout):
                    await self.sock.send(request)
                    reply = self.sock.recv()
                    try:
                        return await asyncio.wait_for(reply, timeout)
                    except asyncio.TimeoutError:
                        reply.cancel()
                        raise

                def next_reply(self):
                    return self.sock.recv()
            """
        ),
        Valid(
            """
            import zmq
            from zmq.asyncio import Context

            async def watch(endpoint, on_message):
                sub = Context.instance().socket(zmq.SUB)
                sub.connect(endpoint)
                sub.recv_multipart().add_done_callback(on_message)
                return [sub.recv() for _ in range(3)]
            """
        ),
        Valid(
            """
            import zmq

            async def serve(sock):
                request = sock.recv()
                sock.send(request)
            """
        ),
    ]

    INVALID = [
        Invalid(
            """
            import zmq
            import zmq.asyncio as zaio

            ctx = zaio.Context()

            async def serve(endpoint):
                sock = ctx.socket(zmq.REP)
                sock.bind(endpoint)
                request = sock.recv()
                await sock.send(request.upper())
            """,
            line=9,
            column=15,
            end_column=26,
            message_contains="`sock.recv()` on a `zmq.asyncio` socket returns a Future, not a message, and it is not awaited: `request.upper` is read",
            expected_fix="""
            import zmq
            import zmq.asyncio as zaio

            ctx = zaio.Context()

            async def serve(endpoint):
                sock = ctx.socket(zmq.REP)
                sock.bind(endpoint)
                request = await sock.recv()
                await sock.send(request.upper())
            """,
        ),
        Invalid(
            """
            import json
            import zmq
            import zmq.asyncio

            class Worker:
                def __init__(self):
                    self.ctx = zmq.asyncio.Context()

                def connect(self, endpoint):
                    self.jobs = self.ctx.socket(zmq.PULL)
                    self.jobs.connect(endpoint)

                async def next_job(self):
                    if self.jobs.poll(1000):  # ready within a second
                        return json.loads(self.jobs.recv_string())
                    return self.jobs.recv_multipart()[0]
            """,
            count=3,
            line=14,
            message_contains="tested",
            expected_fix="""
            import json
            import zmq
            import zmq.asyncio

            class Worker:
                def __init__(self):
                    self.ctx = zmq.asyncio.Context()

                def connect(self, endpoint):
                    self.jobs = self.ctx.socket(zmq.PULL)
                    self.jobs.connect(endpoint)

                async def next_job(self):
                    if await self.jobs.poll(1000):  # ready within a second
                        return json.loads(await self.jobs.recv_string())
                    return (await self.jobs.recv_multipart())[0]
            """,
        ),
        Invalid(
            """
            import zmq
            from zmq.asyncio import Context

            async def notify(endpoint, event):
                push = Context.instance().socket(zmq.PUSH)
                push.connect(endpoint)
                push.send_json(event)
            """,
            message_contains="its errors are never seen",
            expected_fix="""
            import zmq
            from zmq.asyncio import Context

            async def notify(endpoint, event):
                push = Context.instance().socket(zmq.PUSH)
                push.connect(endpoint)
                await push.send_json(event)
            """,
        ),
        Invalid(
            """
            import zmq.asyncio

            ctx = zmq.asyncio.Context()
            sock = ctx.socket(zmq.PULL)

            def read_one():
                data = sock.recv()
                return data.decode()
            """,
            message_contains="`data.decode` is read",
        ),
    ]

    @classmethod
    def gate(cls, facts) -> bool:
        # The rule's own question on the index's `ast`: only a file with such a call goes on
        # to LibCST, where it is reported and fixed.
        module = gate_module(facts)
        return module is not None and bool(unawaited_calls(facts.index, module))

    def visit_Module(self, node: cst.Module) -> None:
        module = self.context.module_info
        if module is None:
            return
        found = unawaited_calls(self.context.index, module)
        if not found:
            return
        calls = NodeMap(self.context.source, self.context.wrapper, (cst.Call,))
        for site in found:
            target = calls.find(site.call.call, cst.Call)
            if target is None:
                continue
            fix = None
            if site.fixable:
                awaited = cst.Await(expression=target)
                if site.needs_parentheses:
                    awaited = awaited.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
                fix = Fix(f"await `{site.call.receiver}.{site.call.method}()`", Applicability.SAFE, replacements={target: awaited})
            self.report(target, site.message(), fix=fix)


@dataclass(frozen=True)
class Unawaited:
    call: ZmqCall
    #: What the code does with the Future ("`msg` is used (`msg.decode`)").
    how: str
    fixable: bool
    needs_parentheses: bool

    def message(self) -> str:
        method = self.call.method
        if method == "poll":
            result = "the events"
        elif method in SEND_METHODS:
            result = "a finished send"
        else:
            result = "a message"
        return ZmqFutureNotAwaited.MESSAGE.format(
            call=f"{self.call.receiver}.{method}",
            kind="poller" if self.call.kind == POLLER else "socket",
            result=result,
            how=self.how,
        )


def unawaited_calls(index: "ProjectIndex", module: "ModuleInfo") -> List[Unawaited]:
    """The module's `zmq.asyncio` calls whose Future is used as if it were their result."""
    return index.memo(("ASY305.calls", str(module.path), id(module.tree)), lambda: _unawaited_calls(index, module))


def _unawaited_calls(index: "ProjectIndex", module: "ModuleInfo") -> List[Unawaited]:
    candidates = [c for c in zmq_io_calls(index, module) if c.flavour == ASYNCIO]
    if not candidates:
        return []
    parents = module_parents(index, module)
    found: List[Unawaited] = []
    for site in candidates:
        how = _misuse(index, site, site.call, parents, track=True)
        if how is None:
            continue
        fixable = site.in_coroutine and not _in_generator_expression(site, parents)
        parent = parents.get(site.call)
        needs_parentheses = (
            isinstance(parent, (ast.Attribute, ast.Subscript)) and parent.value is site.call
        ) or (isinstance(parent, ast.Call) and parent.func is site.call)
        found.append(Unawaited(site, how, fixable, needs_parentheses))
    return found


#: Methods and attributes of a Future: code that asks them handles it as one.
_FUTURE_API = frozenset({
    "add_done_callback", "remove_done_callback", "cancel", "cancelled", "done", "result", "exception",
    "set_result", "set_exception", "get_loop", "__await__",
})

#: Callees that take awaitables (the last name of the callee).
_TAKE_AWAITABLES = frozenset({
    "gather", "wait", "wait_for", "shield", "ensure_future", "create_task", "as_completed", "wrap_future",
    "run_until_complete", "run_coroutine_threadsafe", "timeout", "with_timeout", "add_future", "chain_future",
    "_chain_future", "append", "appendleft", "add", "put", "put_nowait", "extend", "insert", "setdefault",
    "iscoroutine", "isfuture", "iscoroutinefunction", "isawaitable", "isinstance", "id", "Task", "Future",
})


#: Words in a callee's name that say it takes an awaitable (``ensure_async``, ``maybe_await``,
#: ``run_with_timeout``, ``schedule``): the Future may well be awaited there.
_AWAITING_WORDS = ("await", "async", "future", "task", "wait", "timeout", "gather", "shield", "callback", "schedule", "spawn", "loop")


def _misuse(index: "ProjectIndex", site: ZmqCall, node: ast.AST, parents: Dict[ast.AST, ast.AST], *, track: bool) -> Optional[str]:
    """How the Future ``node`` (the call, or a name holding its result) is used as if it were
    the result; None when it is handled as a Future or the use cannot be read."""
    parent = parents.get(node)
    written = site.receiver + "." + site.method + "()" if node is site.call else dotted_name(node)  # type: ignore[arg-type]
    if isinstance(parent, ast.Await):
        return None
    if isinstance(parent, ast.IfExp) and node is not parent.test:
        return _misuse(index, site, parent, parents, track=False)
    if isinstance(parent, ast.Attribute) and parent.value is node:
        if parent.attr in _FUTURE_API:
            return None
        return f"`{written}.{parent.attr}` is read" if node is not site.call else f"its `.{parent.attr}` is read"
    if isinstance(parent, ast.Subscript) and parent.value is node:
        return "it is indexed" if node is site.call else f"`{written}` is indexed"
    if isinstance(parent, (ast.Starred, ast.keyword)):
        holder = parents.get(parent)
        return _passed(site, node, holder, written) if isinstance(holder, ast.Call) else None
    if isinstance(parent, ast.Call):
        if parent.func is node:
            return None
        return _passed(site, node, parent, written)
    if isinstance(parent, ast.Return):
        if site.in_coroutine:
            return ("it" if node is site.call else f"`{written}`") + " is returned from a coroutine, whose caller gets the Future"
        return None
    if isinstance(parent, ast.Expr):
        if node is not site.call:
            return None
        return _discarded(site)
    if isinstance(parent, (ast.Assign, ast.AnnAssign)) and node is parent.value:
        targets = parent.targets if isinstance(parent, ast.Assign) else [parent.target]
        if not track or len(targets) != 1 or not isinstance(targets[0], ast.Name):
            return None
        return _name_misuse(index, site, targets[0].id, parents)
    if isinstance(parent, ast.AugAssign) and node is parent.value:
        return ("it" if node is site.call else f"`{written}`") + " is used in arithmetic"
    if isinstance(parent, (ast.Compare, ast.BinOp, ast.BoolOp, ast.UnaryOp)):
        if isinstance(parent, ast.BoolOp) and not isinstance(parents.get(parent), (ast.If, ast.While, ast.IfExp, ast.Assert)):
            return None  # ``x = fut or other``
        what = "it" if node is site.call else f"`{written}`"
        return f"{what} is compared" if isinstance(parent, ast.Compare) else f"{what} is tested" if isinstance(parent, (ast.BoolOp, ast.UnaryOp)) else f"{what} is used in arithmetic"
    if isinstance(parent, (ast.If, ast.While, ast.IfExp, ast.Assert)) and node is parent.test:
        return ("it" if node is site.call else f"`{written}`") + " is tested, and a Future is always true"
    if isinstance(parent, (ast.For, ast.comprehension)) and node is parent.iter:
        return ("it" if node is site.call else f"`{written}`") + " is iterated"
    if isinstance(parent, ast.FormattedValue):
        return ("it" if node is site.call else f"`{written}`") + " is formatted"
    return None


def _passed(site: ZmqCall, node: ast.AST, call: ast.Call, written: Optional[str]) -> Optional[str]:
    callee = dotted_name(call.func)
    if callee is None:
        return None
    last = callee.rpartition(".")[2]
    if last in _TAKE_AWAITABLES or any(word in last.lower() for word in _AWAITING_WORDS) or callee.startswith("asyncio."):
        return None
    what = "it" if node is site.call else f"`{written}`"
    return f"{what} is passed to `{callee}()`"


def _discarded(site: ZmqCall) -> Optional[str]:
    if not site.in_coroutine:
        # A plain function can only fire and forget: the send still goes out when it can.
        return None if site.method in SEND_METHODS else "its result is dropped, and the message it takes off the socket is lost"
    if site.method in SEND_METHODS:
        return "the coroutine does not wait for the send, and its errors are never seen"
    if site.method == "poll":
        return "the coroutine does not wait for the socket"
    return "the message it takes off the socket is lost"


def _name_misuse(index: "ProjectIndex", site: ZmqCall, name: str, parents: Dict[ast.AST, ast.AST]) -> Optional[str]:
    """The Future is assigned to ``name``: how the name is used, if always as a result."""
    function = site.scope.function
    if function is None:
        return None
    bindings = function_bindings(index, site.scope.module, function).get(name, [])
    if len(bindings) != 1:
        return None  # several values under one name: which one a use reads is not followed
    uses = [n for n in walk(function) if isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load)]
    if not uses:
        return _discarded(site) if site.in_coroutine or site.method not in SEND_METHODS else None
    first: Optional[str] = None
    for use in sorted(uses, key=lambda n: (n.lineno, n.col_offset)):
        how = _misuse(index, site, use, parents, track=False)
        if how is None:
            return None
        first = first or how
    return first


def _in_generator_expression(site: ZmqCall, parents: Dict[ast.AST, ast.AST]) -> bool:
    node: Optional[ast.AST] = site.call
    function = site.scope.function
    while node is not None and node is not function:
        if isinstance(node, ast.GeneratorExp):
            return True
        node = parents.get(node)
    return False
