from __future__ import annotations

from typing import List

import libcst as cst

from zmqlint.codemods.options import StatementMap, option_fix
from zmqlint.codemods.sockets import NodeMap, gate_module
from zmqlint.facts.socket_uses import ATTACH_METHODS, RECV_METHODS, TrackedSocket, tracked_sockets
from zmqlint.model import Applicability, Severity
from zmqlint.rule import Invalid, Rule, Valid


class SubWithoutSubscribe(Rule):
    """Flags a SUB socket that is read from but never subscribed to anything.

    ## What it does
    Reports the creation of a `zmq.SUB` socket that is connected (or bound) and read from
    (`recv`, `recv_multipart`, `recv_string`, ...) when no subscription is set anywhere on
    its path: no `setsockopt(zmq.SUBSCRIBE, ...)`, `setsockopt_string(zmq.SUBSCRIBE, ...)`,
    `subscribe(...)` or `sock.SUBSCRIBE = ...`, in the function that creates it or, for an
    attribute, in any method of the class, its bases and the subclasses in its module.

    It stays silent when it cannot be sure: the socket is handed to a function (it may
    subscribe there), returned, stored elsewhere, reached from outside its class, an option
    zmqlint cannot read is set on it (`setsockopt(opt, value)`), or its type is not written
    out (`ctx.socket(kind)`); `XSUB` sockets subscribe by sending, and are not this rule's.

    ## Why is this bad?
    A SUB socket starts with no subscription, and ZeroMQ drops every message that matches
    none: the subscriber connects, the publisher sends, and `recv()` waits forever without an
    error. It is the most common first bug of pyzmq users (the zguide warns about it in its
    first chapter).

    ## Example
    ```python
    sub = ctx.socket(zmq.SUB)
    sub.connect("tcp://127.0.0.1:5556")
    event = sub.recv()
    ```

    ## Use instead
    ```python
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")  # or the topic prefix this subscriber wants
    sub.connect("tcp://127.0.0.1:5556")
    event = sub.recv()
    ```

    ## Fix safety
    Unsafe: the fix subscribes to everything (`b""`) right after the socket is created, so
    the subscriber now receives every topic the publisher sends; narrow it to the topics the
    code expects.
    """

    CODE = "ZMQ106"
    NAME = "sub-without-subscribe"
    SEVERITY = Severity.HIGH
    MESSAGE = "SUB socket `{holder}` is read from but never subscribes: it receives nothing"
    FIXES = (Applicability.UNSAFE,)
    PREFILTER = ("SUB",)

    VALID = [
        Valid(
            """
            import zmq

            def listen(ctx):
                sub = ctx.socket(zmq.SUB)
                sub.setsockopt(zmq.SUBSCRIBE, b"events.")
                sub.connect("tcp://127.0.0.1:5556")
                return sub.recv()
            """
        ),
        Valid(
            """
            import zmq

            def listen(ctx, topic):
                sub = ctx.socket(zmq.SUB)
                sub.connect("tcp://127.0.0.1:5556")
                sub.subscribe(topic)
                return sub.recv_multipart()
            """
        ),
        Valid(
            """
            import zmq

            class Listener:
                def __init__(self, ctx):
                    self.sub = ctx.socket(zmq.SUB)
                    self.sub.connect("tcp://127.0.0.1:5556")
                    self._subscribe()

                def _subscribe(self):
                    self.sub.setsockopt_string(zmq.SUBSCRIBE, "")

                def next(self):
                    return self.sub.recv_string()
            """
        ),
        Valid(
            """
            import zmq

            def listen(ctx, subscribe_all):
                sub = ctx.socket(zmq.SUB)
                sub.connect("tcp://127.0.0.1:5556")
                subscribe_all(sub)
                return sub.recv()
            """
        ),
        Valid(
            """
            import zmq

            def proxy(ctx):
                xsub = ctx.socket(zmq.XSUB)
                xsub.connect("tcp://127.0.0.1:5556")
                return xsub.recv()
            """
        ),
    ]

    INVALID = [
        Invalid(
            """
            import zmq

            def listen(ctx):
                sub = ctx.socket(zmq.SUB)
                sub.connect("tcp://127.0.0.1:5556")
                return sub.recv()
            """,
            line=4,
            column=11,
            message_contains="`sub` is read from but never subscribes",
            expected_unsafe_fix="""
            import zmq

            def listen(ctx):
                sub = ctx.socket(zmq.SUB)
                sub.setsockopt(zmq.SUBSCRIBE, b"")
                sub.connect("tcp://127.0.0.1:5556")
                return sub.recv()
            """,
        ),
        Invalid(
            """
            import zmq

            class Monitor:
                def __init__(self, ctx, endpoint):
                    self.events = ctx.socket(zmq.SUB)  # status updates
                    self.events.connect(endpoint)

                def poll_once(self):
                    return self.events.recv_multipart()
            """,
            message_contains="`self.events`",
            expected_unsafe_fix="""
            import zmq

            class Monitor:
                def __init__(self, ctx, endpoint):
                    self.events = ctx.socket(zmq.SUB)  # status updates
                    self.events.setsockopt(zmq.SUBSCRIBE, b"")
                    self.events.connect(endpoint)

                def poll_once(self):
                    return self.events.recv_multipart()
            """,
        ),
        Invalid(
            """
            import zmq

            with zmq.Context() as ctx, ctx.socket(zmq.SUB) as sub:
                sub.bind("tcp://127.0.0.1:5556")
                print(sub.recv())
            """,
            expected_unsafe_fix="""
            import zmq

            with zmq.Context() as ctx, ctx.socket(zmq.SUB) as sub:
                sub.setsockopt(zmq.SUBSCRIBE, b"")
                sub.bind("tcp://127.0.0.1:5556")
                print(sub.recv())
            """,
        ),
    ]

    @classmethod
    def gate(cls, facts) -> bool:
        # The rule's own question, asked on the index's `ast` (the same memoised facts): only
        # a file with a culprit goes on to LibCST, where the finding and its fix are built.
        module = gate_module(facts)
        return module is not None and bool(_culprits(facts.index, module))

    def visit_Module(self, node: cst.Module) -> None:
        module = self.context.module_info
        if module is None:
            return
        culprits = _culprits(self.context.index, module)
        if not culprits:
            return
        calls = NodeMap(self.context.source, self.context.wrapper, (cst.Call,))
        statements = StatementMap(self.context.wrapper, self.context.source)
        for tracked in culprits:
            creation = calls.find(tracked.creations[0], cst.Call)
            if creation is None:
                continue
            fix = option_fix(
                statements,
                [tracked],
                "SUBSCRIBE",
                'b""',
                f"subscribe `{tracked.written}` to every topic (`b\"\"`) where it is created",
                Applicability.UNSAFE,
            )
            self.report(creation, self.MESSAGE.format(holder=tracked.written), fix=fix)


def _culprits(index, module) -> List[TrackedSocket]:
    """The module's SUB sockets attached and read from with no subscription on their path."""
    return [
        tracked
        for tracked in tracked_sockets(index, module)
        if tracked.socket_type == "SUB"
        and not tracked.escapes
        and tracked.calls(*ATTACH_METHODS)
        and tracked.calls(*RECV_METHODS)
        and not tracked.calls("subscribe")
        and not tracked.sets_option("SUBSCRIBE")
    ]
