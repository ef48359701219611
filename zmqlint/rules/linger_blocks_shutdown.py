from __future__ import annotations

import ast
from typing import List, Optional

import libcst as cst

from zmqlint.codemods.options import StatementMap, option_fix
from zmqlint.codemods.sockets import NodeMap, gate_module
from zmqlint.facts.socket_uses import (
    RECV_METHODS,
    SEND_METHODS,
    blocking_read,
    Termination,
    TrackedSocket,
    context_sets_option,
    same_scope,
    terminations,
    tracked_sockets,
)
from zmqlint.facts.dataflow import _Folder
from zmqlint.index import ClassInfo, FunctionInfo, ModuleInfo, walk
from zmqlint.model import Applicability, Severity
from zmqlint.rule import Invalid, Rule, Valid

#: Socket types whose outgoing messages wait in a queue for a peer that connects (or comes
#: back): PUB drops what no subscriber takes, ROUTER what it cannot route.
_QUEUEING = frozenset({"PUSH", "DEALER", "REQ", "REP", "PAIR"})


class LingerBlocksShutdown(Rule):
    """Flags a context terminated while its sockets keep the default LINGER (wait forever).

    ## What it does
    Reports `ctx.term()`, `ctx.destroy()` without `linger=`, and the end of
    `with zmq.Context() as ctx:` when a socket created from that context in the same scope
    (the function, or the methods of the class for `self.ctx`) connects, sends messages, and
    keeps the default `LINGER` of -1: no `setsockopt(zmq.LINGER, n)` or `sock.linger = n` on
    it, no `close(linger=n)`, no `LINGER` (or `BLOCKY`) set on the context.

    Only sockets that queue what they send for a peer that is not there are counted: PUSH,
    DEALER, REQ, REP and PAIR sockets that `connect` (a connecting socket keeps its queue
    while the peer is down). PUB sockets drop what no subscriber takes, ROUTER sockets what
    they cannot route, an `inproc://` peer shares the context (`term()` waits for it to close
    anyway, and its closing drops the queue), a socket whose last send was answered (a
    blocking receive after it) has nothing queued, a peer bound in the same function (a test
    or a benchmark holding both ends) takes what is sent, and a socket handed to code zmqlint
    cannot see may get its linger there: none of these are reported.

    ## Why is this bad?
    `Context.term()` waits until every socket is closed and every message still queued is
    delivered, for as long as each socket's `LINGER` says, and the default is forever.
    When the peer is gone (crashed, restarted, never started), the queued messages are never
    delivered and shutdown hangs: the process does not exit on SIGTERM until it is killed.
    pyzmq's `destroy()` closes the sockets with their own linger, so it hangs the same way
    unless given `linger=`.

    ## Example
    ```python
    ctx = zmq.Context()
    push = ctx.socket(zmq.PUSH)
    push.connect("tcp://collector:5558")
    push.send(b"result")
    push.close()
    ctx.term()
    ```

    ## Use instead
    ```python
    ctx = zmq.Context()
    push = ctx.socket(zmq.PUSH)
    push.setsockopt(zmq.LINGER, 0)  # or a bounded wait, in milliseconds
    push.connect("tcp://collector:5558")
    push.send(b"result")
    push.close()
    ctx.term()
    ```

    ## Fix safety
    Safe: `setsockopt(zmq.LINGER, 0)` right after each such socket is created. Messages
    still queued when the socket closes are dropped instead of blocking shutdown; give a
    bounded linger (e.g. from configuration) where the last messages must get a chance.
    """

    CODE = "ZMQ109"
    NAME = "linger-blocks-shutdown"
    SEVERITY = Severity.MEDIUM
    MESSAGE = (
        "{call} waits forever for what {sockets} still {queue} to send: {pronoun} the default LINGER "
        "(-1), so shutdown hangs when the peer is gone"
    )
    FIXES = (Applicability.SAFE,)
    PREFILTER = ("term", "destroy", "Context")

    VALID = [
        Valid(
            """
            import zmq

            def report(result):
                ctx = zmq.Context()
                push = ctx.socket(zmq.PUSH)
                push.setsockopt(zmq.LINGER, 1000)
                push.connect("tcp://127.0.0.1:5558")
                push.send(result)
                push.close()
                ctx.term()
            """
        ),
        Valid(
            """
            import zmq

            def report(result):
                ctx = zmq.Context()
                push = ctx.socket(zmq.PUSH)
                push.connect("tcp://127.0.0.1:5558")
                push.send(result)
                ctx.destroy(linger=0)
            """
        ),
        Valid(
            """
            import zmq

            def announce(event):
                ctx = zmq.Context()
                pub = ctx.socket(zmq.PUB)
                pub.connect("tcp://127.0.0.1:5559")
                pub.send(event)
                pub.close()
                ctx.term()
            """
        ),
        Valid(
            """
            import zmq

            def report(result):
                ctx = zmq.Context()
                ctx.linger = 0
                push = ctx.socket(zmq.PUSH)
                push.connect("tcp://127.0.0.1:5558")
                push.send(result)
                push.close()
                ctx.term()
            """
        ),
        Valid(
            """
            import zmq

            def report(result):
                ctx = zmq.Context()
                push = ctx.socket(zmq.PUSH)
                push.connect("tcp://127.0.0.1:5558")
                push.send(result)
                push.close(linger=500)
                ctx.term()
            """
        ),
        Valid(
            """
            import zmq

            def test_round_trip():
                ctx = zmq.Context()
                pull = ctx.socket(zmq.PULL)
                port = pull.bind_to_random_port("tcp://127.0.0.1")
                push = ctx.socket(zmq.PUSH)
                push.connect(f"tcp://127.0.0.1:{port}")
                push.send(b"job")
                assert pull.recv() == b"job"
                push.close()
                pull.close()
                ctx.term()
            """
        ),
    ]

    INVALID = [
        Invalid(
            """
            import zmq

            def report(result):
                ctx = zmq.Context()
                push = ctx.socket(zmq.PUSH)
                push.connect("tcp://127.0.0.1:5558")
                push.send(result)
                push.close()
                ctx.term()
            """,
            line=9,
            column=5,
            message_contains="`ctx.term()` waits forever for what `push` still has to send",
            expected_fix="""
            import zmq

            def report(result):
                ctx = zmq.Context()
                push = ctx.socket(zmq.PUSH)
                push.setsockopt(zmq.LINGER, 0)
                push.connect("tcp://127.0.0.1:5558")
                push.send(result)
                push.close()
                ctx.term()
            """,
        ),
        Invalid(
            """
            import zmq

            class Worker:
                def __init__(self, endpoint):
                    self.ctx = zmq.Context()
                    self.results = self.ctx.socket(zmq.DEALER)
                    self.results.connect(endpoint)

                def publish(self, result):
                    self.results.send(result)

                def stop(self):
                    self.results.close()
                    self.ctx.destroy()
            """,
            message_contains="`self.ctx.destroy()`",
            expected_fix="""
            import zmq

            class Worker:
                def __init__(self, endpoint):
                    self.ctx = zmq.Context()
                    self.results = self.ctx.socket(zmq.DEALER)
                    self.results.setsockopt(zmq.LINGER, 0)
                    self.results.connect(endpoint)

                def publish(self, result):
                    self.results.send(result)

                def stop(self):
                    self.results.close()
                    self.ctx.destroy()
            """,
        ),
        Invalid(
            """
            import zmq

            def send_all(jobs, endpoint):
                with zmq.Context() as ctx:
                    push = ctx.socket(zmq.PUSH)
                    push.connect(endpoint)
                    for job in jobs:
                        push.send(job)
            """,
            message_contains="the end of `with zmq.Context() as ctx`",
            expected_fix="""
            import zmq

            def send_all(jobs, endpoint):
                with zmq.Context() as ctx:
                    push = ctx.socket(zmq.PUSH)
                    push.setsockopt(zmq.LINGER, 0)
                    push.connect(endpoint)
                    for job in jobs:
                        push.send(job)
            """,
        ),
    ]

    @classmethod
    def gate(cls, facts) -> bool:
        # The rule's own question, asked on the index's `ast` (the same memoised facts): only
        # a file with a culprit goes on to LibCST, where the finding and its fix are built.
        module = gate_module(facts)
        return module is not None and any(_ends_and_culprits(facts.index, module))

    def visit_Module(self, node: cst.Module) -> None:
        module = self.context.module_info
        if module is None:
            return
        calls: Optional[NodeMap] = None
        statements: Optional[StatementMap] = None
        for end, culprits in _ends_and_culprits(self.context.index, module):
            calls = calls or NodeMap(self.context.source, self.context.wrapper, (cst.Call,))
            target = calls.find(end.node, cst.Call)
            if target is None:
                continue
            statements = statements or StatementMap(self.context.wrapper, self.context.source)
            names = ", ".join(f"`{s.written}`" for s in culprits)
            fix = option_fix(
                statements, culprits, "LINGER", "0", f"set LINGER to 0 where {names} {'is' if len(culprits) == 1 else 'are'} created", Applicability.SAFE
            )
            call = f"the end of `with {ast.unparse(end.node)} as {end.context}`" if end.kind == "with" else f"`{ast.unparse(end.node)}`"
            one = len(culprits) == 1
            message = self.MESSAGE.format(
                call=call, sockets=names, queue="has" if one else "have", pronoun="it keeps" if one else "they keep"
            )
            self.report(target, message, fix=fix)

def _ends_and_culprits(index, module: ModuleInfo):
    """(termination, the sockets that keep it waiting) for every such end of ``module``."""
    ends = [t for t in terminations(index, module) if not t.lingers]
    if not ends:
        return
    sockets = tracked_sockets(index, module)
    for end in ends:
        culprits = _culprits(index, module, end, sockets)
        if culprits:
            yield end, culprits


def _culprits(index, module: ModuleInfo, end: Termination, sockets: List[TrackedSocket]) -> List[TrackedSocket]:
    context = _normalised(module, end.context, end.line)
    if context_sets_option(module, end.context, "LINGER", sockets) or context_sets_option(module, end.context, "BLOCKY", sockets):
        return []
    found = []
    for tracked in sockets:
        if tracked.context is None or tracked.escapes or tracked.socket_type not in _QUEUEING:
            continue
        if _normalised(module, tracked.context, tracked.line) != context or not same_scope(tracked, end.line):
            continue
        if end.block is not None and not any(c is tracked.creations[0] for c in walk(end.block)):
            continue
        if not tracked.calls("connect") or not tracked.calls(*SEND_METHODS):
            continue
        if tracked.sets_option("LINGER") or any(c.args or c.keywords for c in tracked.calls("close")):
            continue
        if _answered_before(tracked, end) or _inproc_only(index, module, tracked):
            continue
        if _peer_bound_beside(tracked, sockets):
            continue
        found.append(tracked)
    return found


def _answered_before(tracked: TrackedSocket, end: Termination) -> bool:
    """In one function, a blocking receive comes after the last send and before the end: the
    peer answered, so it took what was sent (nothing is left queued)."""
    if tracked.holder.startswith("self."):
        return False
    sends = [c.lineno for c in tracked.calls(*SEND_METHODS) if c.lineno < end.line]
    reads = [c.lineno for c in tracked.calls(*RECV_METHODS) if c.lineno < end.line and blocking_read(c)]
    return bool(sends and reads) and max(reads) > max(sends)


#: Socket types that take what a queueing socket sends.
_RECEIVING = frozenset({"PULL", "ROUTER", "REP", "DEALER", "PAIR"})


def _peer_bound_beside(tracked: TrackedSocket, sockets: List[TrackedSocket]) -> bool:
    """A receiving socket is bound in the same function: both ends are this code's own, on
    this host (a test or a benchmark), and the peer takes what is sent while it is there."""
    if tracked.holder.startswith("self."):
        return False
    return any(
        other is not tracked
        and other.function is tracked.function
        and not other.holder.startswith("self.")
        and other.socket_type in _RECEIVING
        and other.calls("bind", "bind_to_random_port")
        for other in sockets
    )


def _inproc_only(index, module: ModuleInfo, tracked: TrackedSocket) -> bool:
    """Every ``connect`` goes to ``inproc://``: the peer shares the context, so ``term()``
    waits for it to close anyway, and its closing drops the queue (no reconnection)."""
    for call in tracked.calls("connect"):
        if not call.args:
            return False
        scopes = module.scope_at(call.lineno)
        function = next((s for s in reversed(scopes) if isinstance(s, FunctionInfo)), None)
        cls = next((s for s in reversed(scopes) if isinstance(s, ClassInfo)), None)
        value = _Folder(index, module, function, cls).fold(call.args[0])
        if not (isinstance(value, str) and value.startswith("inproc://")):
            return False
    return True


def _normalised(module: ModuleInfo, dotted: str, line: int) -> str:
    """``self.ctx`` for ``this.ctx`` in a method whose first parameter is ``this``."""
    function = next((s for s in reversed(module.scope_at(line)) if isinstance(s, FunctionInfo)), None)
    if function is not None and function.owner is not None and function.parameters:
        first = function.parameters[0]
        if dotted.startswith(first + "."):
            return "self." + dotted[len(first) + 1:]
    return dotted
