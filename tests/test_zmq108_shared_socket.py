"""ZMQ108 proven on real sockets over 127.0.0.1 and a real thread.

The buggy client shares its REQ socket with a heartbeat thread: the client sends a request and,
while the server takes its time to answer, the heartbeat thread sends a PING on the same
socket. ZeroMQ's REQ state machine refuses it (`EFSM`, "Operation cannot be accomplished in
current state"): the heartbeat is lost. (The test orders the two threads so that they never are
inside libzmq at the same moment; real code gets no such ordering and can corrupt the socket.)
The fixed client gives the thread its own socket: both the request and the PING are answered.
There is no automatic fix; the fixed snippet is the rule's "Use instead".
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Dict, List

import pytest
import zmq

from conftest import findings_of, lint_tree, write_tree

pytestmark = pytest.mark.timeout(60)

SHARED = """
import threading
import zmq


class Client:
    def __init__(self, ctx, endpoint):
        self.ctx = ctx
        self.endpoint = endpoint
        self.sock = ctx.socket(zmq.REQ)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.RCVTIMEO, 3000)
        self.sock.connect(endpoint)
        self.errors = []
        self.beats = []
        self.thread = threading.Thread(target=self._heartbeat, daemon=True)

    def start(self):
        self.thread.start()

    def _heartbeat(self):
        try:
            self.sock.send(b"PING")
            self.beats.append(self.sock.recv())
        except zmq.ZMQError as error:
            self.errors.append(error)

    def send_request(self, payload):
        self.sock.send(payload)

    def wait_reply(self):
        return self.sock.recv()
"""

# The heartbeat thread opens a socket of its own (the rule's "Use instead").
OWN_SOCKET = SHARED.replace(
    """        try:
            self.sock.send(b"PING")
            self.beats.append(self.sock.recv())
        except zmq.ZMQError as error:
            self.errors.append(error)
""",
    """        beat = self.ctx.socket(zmq.REQ)
        beat.setsockopt(zmq.LINGER, 0)
        beat.setsockopt(zmq.RCVTIMEO, 3000)
        beat.connect(self.endpoint)
        try:
            beat.send(b"PING")
            self.beats.append(beat.recv())
        except zmq.ZMQError as error:
            self.errors.append(error)
        finally:
            beat.close()
""",
)


def _load(path: Path) -> Dict[str, object]:
    namespace: Dict[str, object] = {"__name__": "snippet"}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    return namespace


class SlowServer:
    """A REP server on 127.0.0.1 that answers `ok:<message>`, 200 ms late for requests (not
    for PINGs), until stopped (5 s at most). Its socket lives and dies in its own thread."""

    def __init__(self, ctx: zmq.Context) -> None:
        self.ctx = ctx
        self.seen: List[bytes] = []
        self.stopping = threading.Event()
        self.bound = threading.Event()
        self.port = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()
        assert self.bound.wait(5)

    def _serve(self) -> None:
        sock = self.ctx.socket(zmq.REP)
        sock.setsockopt(zmq.LINGER, 0)
        try:
            self.port = sock.bind_to_random_port("tcp://127.0.0.1")
            self.bound.set()
            deadline = time.monotonic() + 5
            while not self.stopping.is_set() and time.monotonic() < deadline:
                if not sock.poll(20):
                    continue
                message = sock.recv()
                self.seen.append(message)
                if message != b"PING":
                    time.sleep(0.2)
                sock.send(b"ok:" + message)
        finally:
            sock.close()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(6)
        assert not self.thread.is_alive()


def _exchange(namespace, ctx):
    """The request, then (while its reply is pending) the heartbeat, then the reply."""
    server = SlowServer(ctx)
    client = namespace["Client"](ctx, f"tcp://127.0.0.1:{server.port}")
    try:
        client.send_request(b"work")
        client.start()
        client.thread.join(5)
        assert not client.thread.is_alive()
        reply = client.wait_reply()
        return client, reply, server
    finally:
        client.sock.close()
        server.stop()


@pytest.fixture
def context():
    ctx = zmq.Context()
    yield ctx
    ctx.destroy(linger=0)


def test_zmq108_a_req_socket_shared_with_a_heartbeat_thread_loses_the_beat_and_its_own_socket_does_not(tmp_path, context):
    buggy, fixed = tmp_path / "buggy", tmp_path / "fixed"
    write_tree(buggy, {"snippet.py": SHARED})
    write_tree(fixed, {"snippet.py": OWN_SOCKET})
    found = findings_of(lint_tree(buggy, select=["ZMQ108"]), "ZMQ108")
    lines = (buggy / "snippet.py").read_text().splitlines()
    send_line = lines.index("        self.sock.send(payload)") + 1
    assert [(f.line, "thread body `_heartbeat`" in f.message) for f in found] == [(send_line, True)]
    assert findings_of(lint_tree(fixed, select=["ZMQ108"]), "ZMQ108") == []

    client, reply, server = _exchange(_load(buggy / "snippet.py"), context)
    assert reply == b"ok:work"
    assert [e.errno for e in client.errors] == [zmq.EFSM]  # the PING was refused ...
    assert client.beats == [] and server.seen == [b"work"]  # ... and never reached the server

    client, reply, server = _exchange(_load(fixed / "snippet.py"), context)
    assert reply == b"ok:work"
    assert client.errors == [] and client.beats == [b"ok:PING"]
    assert sorted(server.seen) == [b"PING", b"work"]
