"""ZMQ106, ZMQ107 and ZMQ109 proven on real sockets over 127.0.0.1.

Each buggy snippet is linted (the finding is there), run against a real peer and shown to
fail the way the message says, within a bound: a SUB socket that receives nothing while the
publisher sends, a REQ client still blocked in `recv` after its server died, a REQ socket
whose next `send` raises EFSM, a `ctx.term()` still blocked on a message for a peer that is
gone. Then zmqlint's own fix is applied to the file, the fixed code is run the same way, and
it works: the subscriber gets the event, the client gets its reply or a `RequestTimeout`, the
context terminates at once.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Dict

import pytest
import zmq

from zmqlint.engine import FixMode
from zmqlint_runtime import sockets

from conftest import findings_of, free_port, lint_tree, write_tree


def _lint(root: Path, code: str):
    found = findings_of(lint_tree(root, select=[code]), code)
    assert found, f"{code} did not report"
    return found


def _fix(root: Path, code: str, mode: FixMode) -> str:
    result = lint_tree(root, select=[code], fix=mode)
    assert not result.errors, result.errors
    assert result.fixes_applied >= 1
    assert findings_of(lint_tree(root, select=[code]), code) == []
    return (root / "snippet.py").read_text()


def _load(path: Path) -> Dict[str, object]:
    namespace: Dict[str, object] = {"__name__": "snippet"}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    return namespace


def _in_thread(target, *args) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def context():
    ctx = zmq.Context()
    yield ctx
    ctx.destroy(linger=0)


# -- ZMQ106 -----------------------------------------------------------------------------------

SUBSCRIBER = """
import zmq


def listen(ctx, endpoint, received):
    sub = ctx.socket(zmq.SUB)
    sub.connect(endpoint)
    try:
        received.append(sub.recv())
    except zmq.ContextTerminated:
        pass
    sub.close(linger=0)
"""


def _publish_until(pub: zmq.Socket, received: list, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not received and time.monotonic() < deadline:
        pub.send(b"event")
        time.sleep(0.01)


def test_sub_without_subscribe_receives_nothing_then_fixed_receives(tmp_path):
    write_tree(tmp_path, {"snippet.py": SUBSCRIBER})
    (finding,) = _lint(tmp_path, "ZMQ106")
    assert finding.line == 5 and "`sub` is read from but never subscribes" in finding.message

    # As written: the publisher sends for 300 ms and the subscriber gets nothing.
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    endpoint = f"tcp://127.0.0.1:{pub.bind_to_random_port('tcp://127.0.0.1')}"
    received: list = []
    listener = _in_thread(_load(tmp_path / "snippet.py")["listen"], ctx, endpoint, received)
    _publish_until(pub, received, 0.3)
    assert received == [] and listener.is_alive()
    pub.close()
    # term() wakes the blocked recv with ContextTerminated; the snippet then closes its socket.
    terminating = _in_thread(ctx.term)
    listener.join(timeout=5)
    terminating.join(timeout=5)
    assert not listener.is_alive() and not terminating.is_alive()

    fixed = _fix(tmp_path, "ZMQ106", FixMode.UNSAFE)
    assert '    sub = ctx.socket(zmq.SUB)\n    sub.setsockopt(zmq.SUBSCRIBE, b"")\n    sub.connect(endpoint)\n' in fixed

    ctx = zmq.Context()
    try:
        pub = ctx.socket(zmq.PUB)
        pub.setsockopt(zmq.LINGER, 0)
        endpoint = f"tcp://127.0.0.1:{pub.bind_to_random_port('tcp://127.0.0.1')}"
        received = []
        listener = _in_thread(_load(tmp_path / "snippet.py")["listen"], ctx, endpoint, received)
        _publish_until(pub, received, 5.0)
        listener.join(timeout=5)
        assert received == [b"event"] and not listener.is_alive()
        pub.close()
    finally:
        ctx.destroy(linger=0)


# -- ZMQ107 -----------------------------------------------------------------------------------

CLIENT = """
import zmq


def ask(ctx, endpoint, out):
    req = ctx.socket(zmq.REQ)
    req.connect(endpoint)
    req.send(b"status")
    reply = req.recv()
    req.close()
    out.append(reply)
"""


RUN_ASK = (
    "import sys, zmq\n"
    "sys.path.insert(0, sys.argv[1])\n"
    "from snippet import ask\n"
    "out = []\n"
    "ask(zmq.Context(), sys.argv[2], out)\n"
    "print(out)\n"
)


class DyingServer:
    """A REP socket that takes one request and dies without answering."""

    def __init__(self, ctx: zmq.Context) -> None:
        self.socket = ctx.socket(zmq.REP)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.endpoint = f"tcp://127.0.0.1:{self.socket.bind_to_random_port('tcp://127.0.0.1')}"
        self.got = threading.Event()
        self.thread = _in_thread(self._serve)

    def _serve(self) -> None:
        if self.socket.poll(5000, zmq.POLLIN):
            self.socket.recv()
            self.got.set()
        self.socket.close(linger=0)


def _answering_server(ctx: zmq.Context):
    rep = ctx.socket(zmq.REP)
    rep.setsockopt(zmq.LINGER, 0)
    endpoint = f"tcp://127.0.0.1:{rep.bind_to_random_port('tcp://127.0.0.1')}"

    def serve():
        if rep.poll(5000, zmq.POLLIN):
            rep.send(rep.recv() + b": ok")
        rep.close(linger=0)

    return endpoint, _in_thread(serve)


def test_req_without_timeout_hangs_then_fixed_gets_reply_or_request_timeout(tmp_path, monkeypatch):
    write_tree(tmp_path, {"snippet.py": CLIENT})
    (finding,) = _lint(tmp_path, "ZMQ107")
    assert finding.line == 8 and "REQ socket `req` waits for a reply with no timeout" in finding.message

    # As written, in a process of its own: the server takes the request and dies, and the
    # client is still blocked in recv when its time is up (then it is killed).
    ctx = zmq.Context()
    try:
        server = DyingServer(ctx)
        with pytest.raises(subprocess.TimeoutExpired):
            subprocess.run([sys.executable, "-c", RUN_ASK, str(tmp_path), server.endpoint], capture_output=True, timeout=4)
        assert server.got.is_set()
        server.thread.join(timeout=5)
    finally:
        ctx.destroy(linger=0)

    fixed = _fix(tmp_path, "ZMQ107", FixMode.UNSAFE)
    assert "from zmqlint_runtime.sockets import Requester" in fixed
    assert '    req = Requester(ctx, endpoint)\n    reply = req.request(b"status")\n    req.close()\n' in fixed
    ask = _load(tmp_path / "snippet.py")["ask"]
    monkeypatch.setattr(sockets, "DEFAULT_REQUEST_TIMEOUT_MS", 150)
    monkeypatch.setattr(sockets, "DEFAULT_REQUEST_RETRIES", 1)

    ctx = zmq.Context()
    try:
        # A live server: the reply comes back.
        endpoint, thread = _answering_server(ctx)
        out = []
        ask(ctx, endpoint, out)
        assert out == [b"status: ok"]
        thread.join(timeout=5)
        # A dead server: a clear RequestTimeout after the retries, not a hang.
        server = DyingServer(ctx)
        started = time.monotonic()
        with pytest.raises(sockets.RequestTimeout):
            ask(ctx, server.endpoint, [])
        assert time.monotonic() - started < 3.0
        server.thread.join(timeout=5)
    finally:
        ctx.destroy(linger=0)


REUSED = """
import zmq


def poll_status(ctx, endpoint, rounds, replies):
    req = ctx.socket(zmq.REQ)
    req.setsockopt(zmq.RCVTIMEO, 100)
    req.connect(endpoint)
    for _ in range(rounds):
        req.send(b"status")
        try:
            replies.append(req.recv())
        except zmq.Again:
            continue
"""


def test_req_reused_after_timeout_raises_efsm(tmp_path, context):
    write_tree(tmp_path, {"snippet.py": REUSED})
    (finding,) = _lint(tmp_path, "ZMQ107")
    assert finding.line == 11 and "sent on again after its `recv` timed out" in finding.message
    assert finding.fix is None

    # A server that is up but never answers (stalled): the first recv times out, the next
    # send on the same REQ socket raises EFSM.
    stalled = context.socket(zmq.REP)
    stalled.setsockopt(zmq.LINGER, 0)
    endpoint = f"tcp://127.0.0.1:{stalled.bind_to_random_port('tcp://127.0.0.1')}"
    poll_status = _load(tmp_path / "snippet.py")["poll_status"]
    with pytest.raises(zmq.ZMQError) as info:
        poll_status(context, endpoint, 2, [])
    assert info.value.errno == zmq.EFSM


# -- ZMQ109 -----------------------------------------------------------------------------------

REPORTER = """
import zmq


def report(endpoint, result, done):
    ctx = zmq.Context()
    push = ctx.socket(zmq.PUSH)
    push.connect(endpoint)
    push.send(result)
    push.close()
    ctx.term()
    done.set()
"""


def test_term_blocks_on_unsent_message_then_fixed_terminates(tmp_path):
    write_tree(tmp_path, {"snippet.py": REPORTER})
    (finding,) = _lint(tmp_path, "ZMQ109")
    assert finding.line == 10 and "`ctx.term()` waits forever for what `push` still has to send" in finding.message
    assert finding.fix is not None and finding.fix.applicability.value == "safe"

    # As written: nobody listens at the collector's port; term() is still blocked.
    port = free_port()
    endpoint = f"tcp://127.0.0.1:{port}"
    done = threading.Event()
    reporter = _in_thread(_load(tmp_path / "snippet.py")["report"], endpoint, b"result", done)
    reporter.join(timeout=0.5)
    assert reporter.is_alive() and not done.is_set()
    # Clean up: the collector comes up, the queued message is delivered, term() returns.
    collector_ctx = zmq.Context()
    try:
        collector = collector_ctx.socket(zmq.PULL)
        collector.setsockopt(zmq.LINGER, 0)
        collector.setsockopt(zmq.RCVTIMEO, 5000)
        collector.bind(endpoint)
        assert collector.recv() == b"result"
        reporter.join(timeout=5)
        assert done.is_set() and not reporter.is_alive()
    finally:
        collector_ctx.destroy(linger=0)

    fixed = _fix(tmp_path, "ZMQ109", FixMode.SAFE)
    assert "    push = ctx.socket(zmq.PUSH)\n    push.setsockopt(zmq.LINGER, 0)\n    push.connect(endpoint)\n" in fixed
    done = threading.Event()
    started = time.monotonic()
    reporter = _in_thread(_load(tmp_path / "snippet.py")["report"], f"tcp://127.0.0.1:{free_port()}", b"result", done)
    reporter.join(timeout=5)
    assert done.is_set() and not reporter.is_alive()
    assert time.monotonic() - started < 2.0


WITH_CONTEXT = """
import zmq


def send_all(jobs, endpoint):
    with zmq.Context() as ctx:
        push = ctx.socket(zmq.PUSH)
        push.connect(endpoint)
        for job in jobs:
            push.send(job)
"""


def test_context_manager_exit_blocks_then_fixed_returns(tmp_path):
    write_tree(tmp_path, {"snippet.py": WITH_CONTEXT})
    (finding,) = _lint(tmp_path, "ZMQ109")
    assert "the end of `with zmq.Context() as ctx`" in finding.message

    endpoint = f"tcp://127.0.0.1:{free_port()}"
    sender = _in_thread(_load(tmp_path / "snippet.py")["send_all"], [b"a", b"b"], endpoint)
    sender.join(timeout=0.5)
    assert sender.is_alive()
    collector_ctx = zmq.Context()
    try:
        collector = collector_ctx.socket(zmq.PULL)
        collector.setsockopt(zmq.LINGER, 0)
        collector.setsockopt(zmq.RCVTIMEO, 5000)
        collector.bind(endpoint)
        assert [collector.recv(), collector.recv()] == [b"a", b"b"]
        sender.join(timeout=5)
        assert not sender.is_alive()
    finally:
        collector_ctx.destroy(linger=0)

    _fix(tmp_path, "ZMQ109", FixMode.SAFE)
    sender = _in_thread(_load(tmp_path / "snippet.py")["send_all"], [b"a", b"b"], f"tcp://127.0.0.1:{free_port()}")
    sender.join(timeout=5)
    assert not sender.is_alive()
