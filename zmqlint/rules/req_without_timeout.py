from __future__ import annotations

import ast
from typing import Dict, List, Optional, Set, Tuple

import libcst as cst

from zmqlint.codemods.options import StatementMap
from zmqlint.codemods.sockets import NodeMap, gate_module
from zmqlint.facts.socket_uses import (
    ATTACH_METHODS,
    RECV_METHODS,
    SEND_METHODS,
    TrackedSocket,
    blocking_read,
    context_sets_option,
    module_parents,
    tracked_sockets,
)
from zmqlint.facts.socket_basics import created_socket_type
from zmqlint.index import FunctionInfo, ModuleInfo, dotted_name, walk
from zmqlint.model import Applicability, Fix, ImportSpec, Severity
from zmqlint.rule import Invalid, Rule, Valid

#: Exceptions a timed-out receive raises (``zmq.Again`` is a ``ZMQError``).
_TIMEOUT_ERRORS = frozenset({"Again", "ZMQError", "Exception", "BaseException", "ZMQBaseError"})
#: Peers that answer a client created in the same function: a self-contained test or benchmark.
_ANSWERING = frozenset({"REP", "ROUTER"})
#: send -> the receive that reads its reply, for the Requester fix.
_PAIRS = {"send": "recv", "send_multipart": "recv_multipart"}


class ReqWithoutTimeout(Rule):
    """Flags a request/reply client that waits for its reply with no timeout, or that sends
    again on a REQ socket whose receive timed out.

    ## What it does
    Reports a blocking receive (`recv`, `recv_multipart`, `recv_string`, ... without
    `zmq.NOBLOCK`) on a `zmq.REQ` socket, or on a `zmq.DEALER` socket right after it sent
    (a DEALER used as a client), when nothing bounds the wait: no `RCVTIMEO` on the socket
    (`setsockopt(zmq.RCVTIMEO, ...)`, `sock.rcvtimeo = ...`) or its context
    (`ctx.setsockopt(zmq.RCVTIMEO, ...)`, `ctx.rcvtimeo = ...`), no `sock.poll(timeout)`, no
    poller or `zmq.select` the socket is registered with, no `asyncio.wait_for` / `timeout`
    around the receive. A receive inside `try` / `except zmq.ContextTerminated` is woken up by
    `ctx.term()` on purpose, and is not reported; nor is a client whose server (a REP or
    ROUTER socket) is created in the same function, as tests and benchmarks do.

    It also reports a REQ socket whose receive can time out (`RCVTIMEO`, `NOBLOCK`) inside a
    loop that, after `except zmq.Again` (or `ZMQError`), goes round and sends again on the same
    socket without closing it.

    Sockets zmqlint cannot follow (handed to another function, returned, stored elsewhere)
    are not reported.

    ## Why is this bad?
    A REQ socket waits for the reply of the request it sent, and ZeroMQ never gives up on its
    own: when the server crashed, restarted or never received the request, `recv()` blocks
    the thread forever, and with it the service's shutdown. The zguide's answer is the *Lazy
    Pirate* client: poll with a timeout, and after a timeout close the socket, open a new one
    and retry a bounded number of times. A REQ socket whose receive timed out cannot simply
    be reused: it still waits for the reply, and the next `send` raises `EFSM` ("Operation
    cannot be accomplished in current state").

    ## Example
    ```python
    req = ctx.socket(zmq.REQ)
    req.connect("tcp://127.0.0.1:5555")
    req.send(b"status")
    reply = req.recv()
    ```

    ## Use instead
    ```python
    from zmqlint_runtime.sockets import Requester

    req = Requester(ctx, "tcp://127.0.0.1:5555")
    reply = req.request(b"status")  # raises RequestTimeout when the server is gone
    ```

    ## Fix safety
    Unsafe, and only where the client is a plain sequence (create, connect, then `send` /
    `recv` or `send_multipart` / `recv_multipart` pairs, `close`): the pairs become
    `Requester.request`, which raises `zmqlint_runtime.sockets.RequestTimeout` instead of
    blocking, and sends a request again after a timeout (a server may see it twice).
    Elsewhere there is no fix: set `RCVTIMEO` or poll with a timeout, and recreate the socket
    after a timeout.
    """

    CODE = "ZMQ107"
    NAME = "req-without-timeout"
    SEVERITY = Severity.HIGH
    MESSAGE = (
        "{type} socket `{holder}` waits for a reply with no timeout (no RCVTIMEO, no poll): "
        "`{method}` blocks forever when the server is gone"
    )
    REUSED = (
        "REQ socket `{holder}` is sent on again after its `{method}` timed out: a REQ socket still "
        "waiting for a reply raises EFSM on `send`; close it and create a new one"
    )
    FIXES = (Applicability.UNSAFE,)
    PREFILTER = ("REQ", "DEALER")

    VALID = [
        Valid(
            """
            import zmq

            def ask(ctx):
                req = ctx.socket(zmq.REQ)
                req.setsockopt(zmq.RCVTIMEO, 2000)
                req.connect("tcp://127.0.0.1:5555")
                req.send(b"status")
                return req.recv()
            """
        ),
        Valid(
            """
            import zmq

            def ask(ctx):
                req = ctx.socket(zmq.REQ)
                req.connect("tcp://127.0.0.1:5555")
                req.send(b"status")
                if req.poll(2000):
                    return req.recv()
                req.close(linger=0)
                return None
            """
        ),
        Valid(
            """
            import zmq

            def ask(ctx, endpoint):
                poller = zmq.Poller()
                req = ctx.socket(zmq.REQ)
                req.connect(endpoint)
                poller.register(req, zmq.POLLIN)
                req.send(b"status")
                if dict(poller.poll(1000)).get(req):
                    return req.recv()
            """
        ),
        Valid(
            """
            import zmq

            def worker(ctx):
                dealer = ctx.socket(zmq.DEALER)
                dealer.connect("tcp://127.0.0.1:5555")
                while True:
                    task = dealer.recv_multipart()
                    dealer.send_multipart(task)
            """
        ),
        Valid(
            """
            import zmq

            def ask(ctx):
                req = ctx.socket(zmq.REQ)
                req.connect("tcp://127.0.0.1:5555")
                req.send(b"status")
                try:
                    return req.recv()
                except zmq.ContextTerminated:
                    return None
            """
        ),
        Valid(
            """
            import zmq

            def ask(ctx):
                req = ctx.socket(zmq.REQ)
                req.setsockopt(zmq.RCVTIMEO, 500)
                req.connect("tcp://127.0.0.1:5555")
                while True:
                    req.send(b"status")
                    try:
                        return req.recv()
                    except zmq.Again:
                        req.close(linger=0)
                        req = ctx.socket(zmq.REQ)
                        req.setsockopt(zmq.RCVTIMEO, 500)
                        req.connect("tcp://127.0.0.1:5555")
            """
        ),
    ]

    INVALID = [
        Invalid(
            """
            import zmq

            def ask(ctx):
                req = ctx.socket(zmq.REQ)
                req.connect("tcp://127.0.0.1:5555")
                req.send(b"status")
                reply = req.recv()
                req.close()
                return reply
            """,
            line=7,
            column=13,
            message_contains="REQ socket `req` waits for a reply with no timeout",
            expected_unsafe_fix="""
            import zmq
            from zmqlint_runtime.sockets import Requester

            def ask(ctx):
                req = Requester(ctx, "tcp://127.0.0.1:5555")
                reply = req.request(b"status")
                req.close()
                return reply
            """,
        ),
        Invalid(
            """
            import zmq

            class Client:
                def __init__(self, ctx, endpoint):
                    self.sock = ctx.socket(zmq.DEALER)
                    self.sock.connect(endpoint)

                def call(self, frames):
                    self.sock.send_multipart(frames)
                    return self.sock.recv_multipart()
            """,
            message_contains="DEALER socket `self.sock` waits for a reply",
        ),
        Invalid(
            """
            import zmq

            def poll_status(ctx):
                req = ctx.socket(zmq.REQ)
                req.setsockopt(zmq.RCVTIMEO, 1000)
                req.connect("tcp://127.0.0.1:5555")
                while True:
                    req.send(b"status")
                    try:
                        print(req.recv())
                    except zmq.Again:
                        continue
            """,
            line=10,
            message_contains="sent on again after its `recv` timed out",
        ),
    ]

    @classmethod
    def gate(cls, facts) -> bool:
        # The rule's own detection, run on the index's `ast` (the facts are memoised, so the
        # visit asks them again for free): only a file with a finding goes on to LibCST.
        module = gate_module(facts)
        if module is None:
            return False
        return any(cls._detect(facts.index, module))

    @classmethod
    def _detect(cls, index, module: ModuleInfo):
        """(socket, parent links, call, message, fixable) of every finding in ``module``, read
        from its `ast` alone (the gate and the visit both ask)."""
        sockets = tracked_sockets(index, module)
        candidates = [
            t
            for t in sockets
            if t.socket_type in ("REQ", "DEALER") and not t.escapes and not t.registered and t.calls(*ATTACH_METHODS)
        ]
        if not candidates:
            return
        parents = module_parents(index, module)
        own = set(map(id, module.nodes))
        for tracked in candidates:
            for call, message, fix_it in cls._findings(module, tracked, parents, sockets, own):
                yield tracked, parents, call, message, fix_it

    def visit_Module(self, node: cst.Module) -> None:
        module = self.context.module_info
        if module is None:
            return
        calls: Optional[NodeMap] = None
        for tracked, parents, call, message, fix_it in self._detect(self.context.index, module):
            calls = calls or NodeMap(self.context.source, self.context.wrapper, (cst.Call,))
            target = calls.find(call, cst.Call)
            if target is None:
                continue
            fix = self._requester_fix(module, tracked, parents, calls) if fix_it else None
            self.report(target, message, fix=fix)

    # -- detection -------------------------------------------------------------------------

    @classmethod
    def _findings(
        cls, module: ModuleInfo, tracked: TrackedSocket, parents, sockets: List[TrackedSocket], own: Set[int]
    ) -> List[Tuple[ast.Call, str, bool]]:
        reads = [c for c in tracked.calls(*RECV_METHODS) if id(c) in own]
        if not reads:
            return []
        found: List[Tuple[ast.Call, str, bool]] = []
        reused = cls._reused_after_timeout(tracked, reads, parents) if tracked.socket_type == "REQ" else None
        if reused is not None:
            found.append((reused, cls.REUSED.format(holder=tracked.written, method=reused.func.attr), False))
        if _bounded(module, tracked, sockets):
            return found
        for read in reads:
            if not blocking_read(read) or _guarded(read, parents) or _peer_in_same_function(module, read, tracked):
                continue
            if tracked.socket_type == "DEALER" and not _right_after_send(tracked, read, parents):
                continue
            message = cls.MESSAGE.format(type=tracked.socket_type, holder=tracked.written, method=read.func.attr)
            found.append((read, message, True))
            break  # one finding per socket: the first wait
        return found

    @staticmethod
    def _reused_after_timeout(tracked: TrackedSocket, reads: List[ast.Call], parents) -> Optional[ast.Call]:
        if tracked.sets_option("REQ_RELAXED"):
            return None
        can_time_out = tracked.sets_option("RCVTIMEO")
        sends = tracked.calls(*SEND_METHODS)
        for read in reads:
            if not (can_time_out or not blocking_read(read)):
                continue
            handler_try = _enclosing_try(read, parents)
            if handler_try is None:
                continue
            handlers = [h for h in handler_try.handlers if _catches_timeout(h)]
            if not handlers:
                continue
            loop = _enclosing(handler_try, parents, (ast.For, ast.While, ast.AsyncFor))
            if loop is None or not any(_holds(loop, send) for send in sends):
                continue
            for handler in handlers:
                if not _leaves_or_renews(handler, tracked):
                    return read
        return None

    # -- fix -------------------------------------------------------------------------------

    def _requester_fix(self, module: ModuleInfo, tracked: TrackedSocket, parents, calls: NodeMap) -> Optional[Fix]:
        shape = _simple_client(tracked, parents)
        if shape is None:
            return None
        creation_stmt, connect_stmt, pairs = shape
        statements = StatementMap(self.context.wrapper, self.context.source)
        creation = calls.find(tracked.creations[0], cst.Call)
        connect_line = statements.statement(connect_stmt)
        if creation is None or connect_line is None or not _plain_line(connect_line):
            return None
        source = module.source
        context = ast.get_source_segment(source, _context_node(tracked.creations[0]))
        endpoint = ast.get_source_segment(source, connect_stmt.value.args[0])  # type: ignore[attr-defined]
        if context is None or endpoint is None:
            return None
        replacements: Dict[cst.CSTNode, object] = {
            creation: cst.parse_expression(f"Requester({context}, {endpoint})"),
            connect_line: cst.RemoveFromParent(),
        }
        for send_stmt, read in pairs:
            send_line = statements.statement(send_stmt)
            read_call = calls.find(read, cst.Call)
            message = ast.get_source_segment(source, send_stmt.value.args[0])  # type: ignore[attr-defined]
            if send_line is None or read_call is None or message is None or not _plain_line(send_line):
                return None
            replacements[send_line] = cst.RemoveFromParent()
            replacements[read_call] = cst.parse_expression(f"{tracked.written}.request({message})")
        return Fix(
            f"use `zmqlint_runtime.sockets.Requester` (timeout, retries, a new socket after a timeout) for `{tracked.written}`",
            Applicability.UNSAFE,
            replacements=replacements,  # type: ignore[arg-type]
            add_imports=[ImportSpec("zmqlint_runtime.sockets", "Requester")],
        )


def _bounded(module: ModuleInfo, tracked: TrackedSocket, sockets: List[TrackedSocket]) -> bool:
    """A timeout is set on the socket or its context, or the socket is polled with one."""
    if tracked.sets_option("RCVTIMEO"):
        return True
    if tracked.context is not None and context_sets_option(module, tracked.context, "RCVTIMEO", sockets):
        return True
    for poll in tracked.calls("poll"):
        timeout = poll.args[0] if poll.args else next((k.value for k in poll.keywords if k.arg == "timeout"), None)
        if timeout is not None and not (isinstance(timeout, ast.Constant) and timeout.value is None):
            return True
    return False


def _enclosing(node: ast.AST, parents, kinds) -> Optional[ast.AST]:
    current = parents.get(node)
    while current is not None:
        if isinstance(current, kinds):
            return current
        if isinstance(current, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            return None
        current = parents.get(current)
    return None


def _enclosing_try(node: ast.AST, parents) -> Optional[ast.Try]:
    """The ``try`` whose body (not a handler) holds ``node``."""
    child, current = node, parents.get(node)
    while current is not None and not isinstance(current, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        if isinstance(current, ast.Try) and any(child is stmt for stmt in current.body):
            return current
        child, current = current, parents.get(current)
    return None


def _handler_names(handler: ast.ExceptHandler) -> List[str]:
    if handler.type is None:
        return ["BaseException"]
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return [(dotted_name(t) or "?").rpartition(".")[2] for t in types]


def _catches_timeout(handler: ast.ExceptHandler) -> bool:
    return any(name in _TIMEOUT_ERRORS for name in _handler_names(handler))


def _leaves_or_renews(handler: ast.ExceptHandler, tracked: TrackedSocket) -> bool:
    """The handler leaves the loop (raise, return, break, exit) or touches the socket (close
    it, create it anew, reset it)."""
    name = tracked.written
    for node in walk(handler):
        if isinstance(node, (ast.Raise, ast.Return, ast.Break)):
            return True
        if isinstance(node, ast.Call) and (dotted_name(node.func) or "").rpartition(".")[2] in ("exit", "_exit", "abort"):
            return True
        if isinstance(node, (ast.Name, ast.Attribute)) and dotted_name(node) == name:
            return True
    return False


def _holds(root: ast.AST, node: ast.AST) -> bool:
    return any(n is node for n in walk(root))


def _guarded(read: ast.Call, parents) -> bool:
    """Inside ``asyncio.wait_for(...)``, a ``with ...timeout(...)`` block, or a ``try`` that
    expects ``ctx.term()`` to wake it (``except zmq.ContextTerminated``)."""
    child, current = read, parents.get(read)
    while current is not None and not isinstance(current, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        if isinstance(current, ast.Call) and current is not read:
            name = (dotted_name(current.func) or "").rpartition(".")[2].lower()
            if name in ("wait_for", "wait", "timeout", "with_timeout", "shield") or "timeout" in name:
                return True
        if isinstance(current, (ast.With, ast.AsyncWith)) and any(child is s for s in current.body):
            for item in current.items:
                called = item.context_expr.func if isinstance(item.context_expr, ast.Call) else item.context_expr
                name = (dotted_name(called) or "").rpartition(".")[2].lower()
                if "timeout" in name or name in ("move_on_after", "fail_after"):
                    return True
        if isinstance(current, ast.Try) and any(child is s for s in current.body):
            if any(n in ("ContextTerminated", "ETERM") for h in current.handlers for n in _handler_names(h)):
                return True
        child, current = current, parents.get(current)
    return False


def _peer_in_same_function(module: ModuleInfo, read: ast.Call, tracked: TrackedSocket) -> bool:
    scopes = module.scope_at(read.lineno)
    function = next((s for s in reversed(scopes) if isinstance(s, FunctionInfo)), None)
    roots = [function.node] if function is not None else [s for s in module.tree.body if not isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    if tracked.function is not None and tracked.function is not function:
        roots.append(tracked.function.node)
    for root in roots:
        for node in walk(root):
            if isinstance(node, ast.Call) and created_socket_type(node) in _ANSWERING:
                return True
    return False


def _statement_of(node: ast.AST, parents) -> Tuple[Optional[ast.stmt], Optional[list]]:
    """The statement holding ``node`` and the body list that statement is in."""
    current = node
    while current is not None and not isinstance(current, ast.stmt):
        current = parents.get(current)
    if current is None:
        return None, None
    parent = parents.get(current)
    for field_name in ("body", "orelse", "finalbody"):
        body = getattr(parent, field_name, None)
        if isinstance(body, list) and any(s is current for s in body):
            return current, body
    if isinstance(parent, ast.ExceptHandler) or isinstance(parent, ast.match_case):
        return current, parent.body
    return current, None


def _right_after_send(tracked: TrackedSocket, read: ast.Call, parents) -> bool:
    """The statement before the receive's sends on the same socket: a DEALER waiting for the
    reply to what it just sent."""
    statement, body = _statement_of(read, parents)
    if statement is None or body is None:
        return False
    position = next(i for i, s in enumerate(body) if s is statement)
    if position == 0:
        return False
    before = body[position - 1]
    return any(_holds(before, send) for send in tracked.calls(*SEND_METHODS))


def _simple_client(tracked: TrackedSocket, parents):
    """``(creation, connect, [(send statement, recv call), ...])`` when the socket is only
    created, connected once right after, used in send / recv pairs and closed; else None."""
    if tracked.socket_type != "REQ" or len(tracked.creations) != 1 or tracked.holder.startswith("self."):
        return None
    creation_stmt = tracked.statement
    if not isinstance(creation_stmt, ast.Assign) or tracked.context is None:
        return None
    allowed = {"connect", "close", *_PAIRS, *_PAIRS.values()}
    if any(u.kind != "call" or u.name not in allowed for u in tracked.uses):
        return None
    connects = tracked.calls("connect")
    if len(connects) != 1 or len(connects[0].args) != 1 or connects[0].keywords:
        return None
    _, body = _statement_of(creation_stmt, parents)
    connect_stmt, connect_body = _statement_of(connects[0], parents)
    if body is None or connect_body is not body or not isinstance(connect_stmt, ast.Expr) or connect_stmt.value is not connects[0]:
        return None
    position = next(i for i, s in enumerate(body) if s is creation_stmt)
    if position + 1 >= len(body) or body[position + 1] is not connect_stmt:
        return None
    pairs = []
    reads = tracked.calls(*_PAIRS.values())
    matched = set()
    for send in tracked.calls(*_PAIRS):
        statement, send_body = _statement_of(send, parents)
        if not isinstance(statement, ast.Expr) or statement.value is not send or send_body is None:
            return None
        if len(send.args) != 1 or send.keywords or isinstance(send.args[0], ast.Starred):
            return None
        index = next(i for i, s in enumerate(send_body) if s is statement)
        if index + 1 >= len(send_body):
            return None
        following = send_body[index + 1]
        inside = [r for r in reads if _holds(following, r)]
        uses_there = [u for u in tracked.uses if _holds(following, u.node)]
        if len(inside) != 1 or len(uses_there) != 1 or inside[0].args or inside[0].keywords:
            return None
        if inside[0].func.attr != _PAIRS[send.func.attr]:  # type: ignore[attr-defined]
            return None
        matched.add(id(inside[0]))
        pairs.append((statement, inside[0]))
    if not pairs or len(matched) != len(reads):
        return None
    return creation_stmt, connect_stmt, pairs


def _context_node(creation: ast.Call) -> ast.expr:
    return creation.func.value if isinstance(creation.func, ast.Attribute) else creation.args[0]  # type: ignore[return-value]


def _plain_line(line: cst.CSTNode) -> bool:
    """A statement line with no comment of its own (removing it loses nothing)."""
    if not isinstance(line, cst.SimpleStatementLine):
        return False
    if any(empty.comment is not None for empty in line.leading_lines):
        return False
    return line.trailing_whitespace.comment is None
