from __future__ import annotations

import libcst as cst

from zmqlint.codemods.sockets import NodeMap, gate_module
from zmqlint.facts.shared_sockets import shared_sockets
from zmqlint.model import Severity
from zmqlint.rule import Invalid, Rule, Valid


class SocketSharedAcrossThreads(Rule):
    """Flags a socket that sends, receives or polls both in a thread and beside it.

    ## What it does
    Reports a socket the module creates (`self.sock = ctx.socket(...)` of a class, or a local
    `sock = ctx.socket(...)` of a function) that is used for messages (`send*`, `recv*`,
    `poll`) both in a thread body and in code that runs at the same time:

    - for an attribute, the thread body is a `Thread(target=self.m)` / `Timer` target, the
      `run()` of a `threading.Thread` subclass or a method handed to an executor, with the
      methods it calls on `self`; the code beside it is any other method of the class, except
      `__init__` before it starts the thread and what a method does after joining it;
    - for a local, the thread body is a nested function closing over it or a function handed
      it in `Thread(..., args=(sock,))`; the code beside it is the creating function after
      `start()` and before `join()`.

    The finding is on the use beside the thread. Uses that all hold one lock
    (`with self._lock:`, also a lock every caller of a private method holds) are not
    reported; neither are `bind`, `connect`, `setsockopt` and `close`, nor sockets whose type
    is not written out (`ctx.socket(kind)`).

    ## Why is this bad?
    ZeroMQ sockets are not thread-safe (only the draft CLIENT/SERVER family is). Two threads
    on one socket corrupt its state: a REQ socket raises `EFSM` ("Operation cannot be
    accomplished in current state") or hands one thread the other's reply, multipart messages
    interleave, and libzmq can abort the process on a failed assertion.

    ## Example
    ```python
    class Client:
        def __init__(self, ctx):
            self.sock = ctx.socket(zmq.DEALER)
            self.sock.connect("tcp://127.0.0.1:5555")
            threading.Thread(target=self._heartbeat, daemon=True).start()

        def _heartbeat(self):
            while True:
                self.sock.send(b"PING")
                time.sleep(1)

        def request(self, payload):
            self.sock.send(payload)
            return self.sock.recv()
    ```

    ## Use instead
    ```python
    class Client:
        def __init__(self, ctx):
            self.ctx = ctx
            self.sock = ctx.socket(zmq.DEALER)
            self.sock.connect("tcp://127.0.0.1:5555")
            threading.Thread(target=self._heartbeat, daemon=True).start()

        def _heartbeat(self):
            beat = self.ctx.socket(zmq.DEALER)  # the thread's own socket
            beat.connect("tcp://127.0.0.1:5555")
            while True:
                beat.send(b"PING")
                time.sleep(1)
    ```
    Or keep the socket in one thread and hand it messages over an `inproc://` PAIR pipe.

    ## Fix safety
    No fix: which thread should own the socket, and how the others reach it, is a design
    choice the code does not show.
    """

    CODE = "ZMQ108"
    NAME = "socket-shared-across-threads"
    SEVERITY = Severity.HIGH
    MESSAGE = (
        "socket `{holder}` is used here and in thread body `{body}` (line {line}): ZeroMQ sockets are not "
        "thread-safe; give each thread its own socket, or hand messages to one thread over an `inproc://` pipe"
    )
    FIXES = ()
    PREFILTER = ("Thread", "Timer", "submit", "run_in_executor", "to_thread")

    VALID = [
        Valid(
            """
            import threading
            import zmq

            class Worker(threading.Thread):
                def __init__(self, ctx):
                    super().__init__()
                    self.sock = ctx.socket(zmq.PULL)
                    self.sock.connect("tcp://127.0.0.1:5557")

                def run(self):
                    while True:
                        if self.sock.recv() == b"STOP":
                            break

                def stop(self):
                    self.join()
                    self.sock.close()
            """
        ),
        Valid(
            """
            import threading
            import zmq

            class Client:
                def __init__(self, ctx):
                    self._lock = threading.Lock()
                    self.sock = ctx.socket(zmq.REQ)
                    self.sock.connect("tcp://127.0.0.1:5555")
                    threading.Thread(target=self._heartbeat, daemon=True).start()

                def _heartbeat(self):
                    with self._lock:
                        self.sock.send(b"PING")
                        self.sock.recv()

                def request(self, payload):
                    with self._lock:
                        self.sock.send(payload)
                        return self.sock.recv()
            """
        ),
        Valid(
            """
            import threading
            import zmq

            def serve(ctx):
                sock = ctx.socket(zmq.REP)
                sock.bind("tcp://127.0.0.1:5555")

                def loop():
                    while sock.recv() != b"quit":
                        sock.send(b"ok")

                worker = threading.Thread(target=loop)
                worker.start()
                worker.join()
                sock.close()
            """
        ),
        Valid(
            """
            import threading
            import zmq

            class Pusher:
                def __init__(self, ctx):
                    self.ctx = ctx
                    self.sock = ctx.socket(zmq.PUSH)
                    self.sock.bind("tcp://127.0.0.1:5558")
                    threading.Thread(target=self._beat, daemon=True).start()

                def _beat(self):
                    beat = self.ctx.socket(zmq.PUSH)
                    beat.connect("tcp://127.0.0.1:5558")
                    beat.send(b"PING")

                def push(self, payload):
                    self.sock.send(payload)
            """
        ),
    ]

    INVALID = [
        Invalid(
            """
            import threading
            import time
            import zmq

            class Client:
                def __init__(self, ctx):
                    self.sock = ctx.socket(zmq.DEALER)
                    self.sock.connect("tcp://127.0.0.1:5555")
                    threading.Thread(target=self._heartbeat, daemon=True).start()

                def _heartbeat(self):
                    while True:
                        self.sock.send(b"PING")
                        time.sleep(1)

                def request(self, payload):
                    self.sock.send(payload)
                    return self.sock.recv()
            """,
            line=17,
            message_contains="`self.sock` is used here and in thread body `_heartbeat`",
        ),
        Invalid(
            """
            import threading
            import zmq

            class Listener(threading.Thread):
                def __init__(self, ctx):
                    super().__init__(daemon=True)
                    self.sub = ctx.socket(zmq.SUB)
                    self.sub.setsockopt(zmq.SUBSCRIBE, b"")
                    self.sub.connect("tcp://127.0.0.1:5556")

                def run(self):
                    while True:
                        self.handle(self.sub.recv())

                def handle(self, message):
                    pass

                def drain(self):
                    while self.sub.poll(0):
                        self.sub.recv()
            """,
            line=19,
            message_contains="thread body `run`",
        ),
        Invalid(
            """
            import threading
            import zmq

            def worker(sock):
                while sock.recv() != b"quit":
                    pass

            def main(ctx):
                sock = ctx.socket(zmq.PULL)
                sock.bind("tcp://127.0.0.1:5559")
                thread = threading.Thread(target=worker, args=(sock,))
                thread.start()
                while sock.poll(100):
                    sock.recv()
                thread.join()
            """,
            line=13,
            message_contains="`sock` is used here and in thread body `worker`",
        ),
    ]

    @classmethod
    def gate(cls, facts) -> bool:
        # The rule's own question on the index's `ast`: only a file with a finding goes on.
        module = gate_module(facts)
        return module is not None and bool(shared_sockets(facts.index, module))

    def visit_Module(self, node: cst.Module) -> None:
        module = self.context.module_info
        if module is None:
            return
        found = shared_sockets(self.context.index, module)
        if not found:
            return
        calls = NodeMap(self.context.source, self.context.wrapper, (cst.Call,))
        for shared in found:
            call = calls.find(shared.other, cst.Call)
            if call is None:
                continue
            message = self.MESSAGE.format(holder=shared.tracked.written, body=shared.body, line=shared.thread.lineno)
            self.report(call, message)
