from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, List, Optional

import libcst as cst

from zmqlint.codemods.sockets import NodeMap, gate_module
from zmqlint.facts.socket_flavours import POLLER, SYNC, ZmqCall, zmq_io_calls
from zmqlint.facts.socket_uses import RECV_METHODS, module_parents
from zmqlint.index import dotted_name, own_nodes
from zmqlint.model import Severity
from zmqlint.rule import Invalid, Rule, Valid

if TYPE_CHECKING:  # pragma: no cover
    from zmqlint.index import ModuleInfo, ProjectIndex


class BlockingZmqInCoroutine(Rule):
    """Flags a blocking receive or poll on a plain (non-asyncio) ZeroMQ socket inside `async def`.

    ## What it does
    Reports `recv`, `recv_multipart`, `recv_string`, `recv_json`, `recv_pyobj`, ... without
    `zmq.NOBLOCK` / `zmq.DONTWAIT`, and `poll()` / `poll(timeout)` with no timeout, `None`, a
    negative or a positive one, called directly inside an `async def` on a socket (or a
    `zmq.Poller`) made from a plain `zmq.Context` (`zmq.Context()`, `zmq.Context.instance()`,
    `zmq.Socket(ctx, ...)`). The socket is followed through locals, `self.X` attributes set in
    any method of the class or its bases (`self.ctx = zmq.Context()` in `__init__`,
    `self.sock = self.ctx.socket(zmq.PULL)` elsewhere) and project functions that return it.

    It stays silent where the socket's flavour is not known (a parameter, a socket from an
    unknown factory, one made from a context that may be either), on `poll(0)` and on
    `NOBLOCK` / `DONTWAIT` reads, on a receive that follows a poll in the same coroutine or
    sits under a readiness test (`if sock.poll(0):`, `if sock in events:`, a `POLLIN` check):
    then the message is already there, and any wait is the poll's, reported on its own. A call
    in a nested plain `def` or `lambda` (run in an executor: `loop.run_in_executor(None,
    sock.recv)`) is not inside the coroutine.

    Sends are not reported: a `send` on a PUSH, PUB or DEALER socket waits only when the
    high-water mark is reached (PUB never waits, it drops), so in practice it returns at once;
    pyzmq's own test suites send on plain sockets inside coroutines. On the ecosystem corpus
    every plain `send` inside `async def` was of this kind.

    ## Why is this bad?
    A plain ZeroMQ socket's `recv()` blocks the calling thread until a message arrives, and
    inside a coroutine that thread is the event loop's: every other task, timer, heartbeat
    and connection of the process stops until the peer sends. If the peer never does, the
    service hangs without an error. A poll with a timeout freezes the loop for the whole
    timeout.

    ## Example
    ```python
    ctx = zmq.Context()

    async def serve(endpoint):
        sock = ctx.socket(zmq.PULL)
        sock.bind(endpoint)
        while True:
            job = sock.recv()
            await handle(job)
    ```

    ## Use instead
    ```python
    import zmq.asyncio

    ctx = zmq.asyncio.Context()

    async def serve(endpoint):
        sock = ctx.socket(zmq.PULL)
        sock.bind(endpoint)
        while True:
            job = await sock.recv()
            await handle(job)
    ```

    ## Fix safety
    No automatic fix: the cure is a `zmq.asyncio` socket, and switching the socket's context
    changes every call made on it (each `send` / `recv` then returns a Future that must be
    awaited, in this function and wherever else the socket is used). Alternatives that keep
    the plain socket: `await loop.run_in_executor(None, sock.recv)` (the socket is then used
    from another thread: keep every use of it there), or `recv(zmq.NOBLOCK)` after an
    `await` on a `zmq.asyncio.Poller` that has the socket registered.
    """

    CODE = "ASY304"
    NAME = "blocking-zmq-in-coroutine"
    SEVERITY = Severity.HIGH
    MESSAGE = (
        "`{call}()` {waits} on a plain {flavour} inside `async def {function}`: it blocks the "
        "event loop, every other task stops meanwhile; {what} and `await` it"
    )
    FIXES = ()
    PREFILTER = ("async",)

    VALID = [
        Valid(
            """
            import zmq.asyncio

            ctx = zmq.asyncio.Context()

            async def serve(endpoint):
                sock = ctx.socket(zmq.PULL)
                sock.bind(endpoint)
                return await sock.recv()
            """
        ),
        Valid(
            """
            import zmq

            ctx = zmq.Context()

            async def drain(endpoint):
                sock = ctx.socket(zmq.PULL)
                sock.connect(endpoint)
                if sock.poll(0):
                    return sock.recv()
                return sock.recv(zmq.NOBLOCK)
            """
        ),
        Valid(
            """
            import asyncio
            import zmq

            class Worker:
                def __init__(self):
                    self.ctx = zmq.Context.instance()
                    self.sock = self.ctx.socket(zmq.PULL)

                async def next_job(self):
                    loop = asyncio.get_running_loop()
                    return await loop.run_in_executor(None, self.sock.recv)

                async def next_job_in_thread(self):
                    def wait():
                        return self.sock.recv()

                    return await asyncio.to_thread(wait)
            """
        ),
        Valid(
            """
            import zmq

            async def forward(sock, out):
                out.send(sock.recv())
            """
        ),
        Valid(
            """
            import zmq

            async def notify(endpoint):
                ctx = zmq.Context.instance()
                push = ctx.socket(zmq.PUSH)
                push.connect(endpoint)
                push.send(b"done")
            """
        ),
    ]

    INVALID = [
        Invalid(
            """
            import zmq

            ctx = zmq.Context()

            async def serve(endpoint):
                sock = ctx.socket(zmq.PULL)
                sock.bind(endpoint)
                while True:
                    job = sock.recv()
                    await handle(job)
            """,
            line=9,
            column=15,
            end_column=26,
            message_contains="`sock.recv()` waits for a message on a plain `zmq.Context` socket inside `async def serve`",
        ),
        Invalid(
            """
            from zmq import Context, REQ

            class Client:
                def __init__(self, endpoint):
                    self.ctx = Context.instance()
                    self.endpoint = endpoint

                def connect(self):
                    self.sock = self.ctx.socket(REQ)
                    self.sock.connect(self.endpoint)

                async def call(self, request):
                    self.sock.send_json(request)
                    if self.sock.poll(timeout=5000):
                        return self.sock.recv_json()
                    raise TimeoutError(request)
            """,
            line=14,
            column=12,
            message_contains="`self.sock.poll()` waits up to 5000 ms",
        ),
        Invalid(
            """
            import zmq

            async def gather_replies(sockets):
                poller = zmq.Poller()
                for sock in sockets:
                    poller.register(sock, zmq.POLLIN)
                return dict(poller.poll())
            """,
            message_contains="`poller.poll()` waits forever on a plain `zmq.Poller` inside",
        ),
    ]

    @classmethod
    def gate(cls, facts) -> bool:
        # The rule's own question on the index's `ast`: only a file with such a call goes on
        # to LibCST, where it is reported.
        if not facts.has(ast.AsyncFunctionDef):
            return False
        module = gate_module(facts)
        return module is not None and bool(blocking_calls(facts.index, module))

    def visit_Module(self, node: cst.Module) -> None:
        module = self.context.module_info
        if module is None:
            return
        found = blocking_calls(self.context.index, module)
        if not found:
            return
        calls = NodeMap(self.context.source, self.context.wrapper, (cst.Call,))
        for site in found:
            target = calls.find(site.call.call, cst.Call)
            if target is None:
                continue
            self.report(target, site.message())


@dataclass(frozen=True)
class BlockingCall:
    call: ZmqCall
    #: How it waits: "waits for a message", "waits forever", "waits up to 500 ms".
    waits: str

    def message(self) -> str:
        poller = self.call.kind == POLLER
        function = self.call.scope.function
        return BlockingZmqInCoroutine.MESSAGE.format(
            call=f"{self.call.receiver}.{self.call.method}",
            waits=self.waits,
            flavour="`zmq.Poller`" if poller else "`zmq.Context` socket",
            function=getattr(function, "name", "?"),
            what="use a `zmq.asyncio.Poller`" if poller else "create the socket from `zmq.asyncio.Context`",
        )


def blocking_calls(index: "ProjectIndex", module: "ModuleInfo") -> List[BlockingCall]:
    """The module's blocking receives and polls on plain sockets directly inside coroutines."""
    return index.memo(("ASY304.calls", str(module.path), id(module.tree)), lambda: _blocking_calls(index, module))


def _blocking_calls(index: "ProjectIndex", module: "ModuleInfo") -> List[BlockingCall]:
    candidates = [c for c in zmq_io_calls(index, module) if c.flavour == SYNC and c.in_coroutine]
    found: List[BlockingCall] = []
    parents: Optional[Dict[ast.AST, ast.AST]] = None
    for site in candidates:
        if site.method == "poll":
            waits = _poll_waits(site.call)
        elif site.method in RECV_METHODS:
            waits = "waits for a message" if _recv_blocks(site.call, site.method) else None
        else:
            waits = None  # sends: see the rule's docs
        if waits is None:
            continue
        if site.method != "poll":
            parents = parents if parents is not None else module_parents(index, module)
            if _ready_before(site, parents):
                continue
        found.append(BlockingCall(site, waits))
    return found


def _argument(call: ast.Call, position: int, keyword: str) -> object:
    """The expression passed for a parameter; None when not passed; ``...`` when unknowable."""
    if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
        return ...
    for kw in call.keywords:
        if kw.arg == keyword:
            return kw.value
    return call.args[position] if len(call.args) > position else None


def _recv_blocks(call: ast.Call, method: str) -> bool:
    """No flags, ``None`` or ``0``: a read that waits for a message."""
    position = {"recv_into": 2, "recv_serialized": 1}.get(method, 0)
    flags = _argument(call, position, "flags")
    if flags is None:
        return True
    return isinstance(flags, ast.Constant) and flags.value in (0, None) and not isinstance(flags.value, bool)


def _poll_waits(call: ast.Call) -> Optional[str]:
    timeout = _argument(call, 0, "timeout")
    if timeout is None or (isinstance(timeout, ast.Constant) and timeout.value is None):
        return "waits forever"
    value = _number(timeout)
    if value is None or value == 0:
        return None
    return "waits forever" if value < 0 else f"waits up to {value:g} ms"


def _number(node: object) -> Optional[float]:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _number(node.operand)
        return -inner if inner is not None else None
    return None


_READINESS_NAMES = frozenset({"POLLIN", "EVENTS"})


def _ready_before(site: ZmqCall, parents: Dict[ast.AST, ast.AST]) -> bool:
    """The coroutine waits for the socket to be readable before this receive: a poll earlier
    in it, or a readiness test around it (then the message is there, and the wait, if any, is
    the poll's)."""
    function = site.scope.function
    line = site.call.lineno
    for node in own_nodes(function):  # type: ignore[arg-type]
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "poll"
            and node.lineno <= line
            and node is not site.call
        ):
            return True
    node: Optional[ast.AST] = site.call
    while node is not None and node is not function:
        parent = parents.get(node)
        if isinstance(parent, (ast.If, ast.While, ast.IfExp)) and node is not parent.test and _tests_readiness(parent.test, site.receiver):
            return True
        node = parent
    return False


def _tests_readiness(test: ast.AST, receiver: str) -> bool:
    for node in ast.walk(test):
        if isinstance(node, (ast.Name, ast.Attribute)):
            name = node.id if isinstance(node, ast.Name) else node.attr
            if name in _READINESS_NAMES:
                return True
        if isinstance(node, ast.Compare) and any(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops):
            if dotted_name(node.left) == receiver:
                return True
        if isinstance(node, ast.Call) and any(dotted_name(a) == receiver for a in node.args):
            return True  # ``events.get(sock)``
        if isinstance(node, ast.Subscript) and dotted_name(node.slice) == receiver:
            return True  # ``events[sock] == zmq.POLLIN``
    return False
