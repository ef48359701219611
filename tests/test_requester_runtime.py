"""zmqlint_runtime.sockets.Requester (Lazy Pirate) against a real REP server thread on
127.0.0.1 that answers, stalls past the timeout, and dies; every wait is bounded."""

from __future__ import annotations

import threading
import time
from typing import List

import pytest
import zmq

from zmqlint_runtime import serde, sockets


class RepServer:
    """A REP socket in a thread. ``plan`` says what to do with each request in turn:
    ``"answer"`` (reply ``request + b" pong"``), ``"stall"`` (sleep past the client's timeout,
    then answer: the reply goes to a client that gave up), ``"die"`` (close and stop)."""

    def __init__(self, context: zmq.Context, plan: List[str], *, stall_s: float = 0.4, port: int = 0) -> None:
        self.context = context
        self.plan = list(plan)
        self.stall_s = stall_s
        self.received: List[List[bytes]] = []
        self.socket = context.socket(zmq.REP)
        self.socket.setsockopt(zmq.LINGER, 0)
        if port:
            self.socket.bind(f"tcp://127.0.0.1:{port}")
            self.port = port
        else:
            self.port = self.socket.bind_to_random_port("tcp://127.0.0.1")
        self.endpoint = f"tcp://127.0.0.1:{self.port}"
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            while not self.stop.is_set() and self.plan:
                if not self.socket.poll(50, zmq.POLLIN):
                    continue
                frames = self.socket.recv_multipart()
                self.received.append(frames)
                action = self.plan.pop(0)
                if action == "die":
                    break
                if action == "stall":
                    time.sleep(self.stall_s)
                self.socket.send_multipart([*frames[:-1], frames[-1] + b" pong"])
        finally:
            self.socket.close(linger=0)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        assert not self.thread.is_alive()


@pytest.fixture
def context():
    ctx = zmq.Context()
    yield ctx
    ctx.destroy(linger=0)


def test_answers_bytes_and_frames(context):
    server = RepServer(context, ["answer", "answer"])
    requester = sockets.Requester(context, server.endpoint, timeout_ms=2000, retries=0)
    try:
        assert requester.request(b"ping") == b"ping pong"
        assert requester.request([b"job", b"42"]) == [b"job", b"42 pong"]
    finally:
        requester.close()
        server.close()
    assert server.received == [[b"ping"], [b"job", b"42"]]


def test_serde_round_trip(context):
    replies = threading.Event()

    def serve(rep: zmq.Socket) -> None:
        if rep.poll(2000, zmq.POLLIN):
            request = serde.loads(rep.recv())
            rep.send(serde.dumps({"sum": sum(request["args"])}))
            replies.set()
        rep.close(linger=0)

    rep = context.socket(zmq.REP)
    port = rep.bind_to_random_port("tcp://127.0.0.1")
    thread = threading.Thread(target=serve, args=(rep,), daemon=True)
    thread.start()
    with sockets.Requester(context, f"tcp://127.0.0.1:{port}", serde=serde, timeout_ms=2000, retries=0) as requester:
        assert requester.request({"op": "sum", "args": [1, 2, 3]}) == {"sum": 6}
    thread.join(timeout=5)
    assert replies.is_set() and not thread.is_alive()


def test_stalled_server_is_retried_on_a_new_socket(context):
    server = RepServer(context, ["stall", "answer"], stall_s=0.4)
    requester = sockets.Requester(context, server.endpoint, timeout_ms=150, retries=2)
    try:
        first_socket = requester.socket
        started = time.monotonic()
        assert requester.request(b"ping") == b"ping pong"
        elapsed = time.monotonic() - started
        # The first attempt timed out: its socket was closed with LINGER 0 and replaced.
        assert first_socket.closed
        assert requester.socket is not first_socket
        assert requester.socket.getsockopt(zmq.LINGER) == 0
    finally:
        requester.close()
        server.close()
    assert server.received == [[b"ping"], [b"ping"]]
    assert 0.15 <= elapsed < 3.0


def test_dead_server_raises_request_timeout_after_the_retries(context):
    server = RepServer(context, ["die"])
    requester = sockets.Requester(context, server.endpoint, timeout_ms=100, retries=2)
    try:
        started = time.monotonic()
        with pytest.raises(sockets.RequestTimeout) as info:
            requester.request(b"ping")
        elapsed = time.monotonic() - started
    finally:
        requester.close()
        server.close()
    assert info.value.attempts == 3 and info.value.endpoint == server.endpoint
    assert "no reply from" in str(info.value) and "3 attempt(s) of 100 ms" in str(info.value)
    assert isinstance(info.value, TimeoutError)
    assert 0.3 <= elapsed < 3.0


def test_usable_again_once_the_server_is_back(context):
    server = RepServer(context, ["die"])
    port = server.port
    requester = sockets.Requester(context, server.endpoint, timeout_ms=100, retries=0)
    try:
        with pytest.raises(sockets.RequestTimeout):
            requester.request(b"first")
        server.close()
        # A raw REQ socket would now refuse to send (EFSM); the requester starts afresh.
        back = RepServer(context, ["answer"], port=port)
        try:
            assert requester.request(b"second", timeout_ms=2000) == b"second pong"
        finally:
            back.close()
    finally:
        requester.close()


def test_per_call_timeout_and_retries(context):
    server = RepServer(context, ["stall", "answer"], stall_s=0.3)
    requester = sockets.Requester(context, server.endpoint, timeout_ms=2000, retries=5)
    try:
        with pytest.raises(sockets.RequestTimeout) as info:
            requester.request(b"ping", timeout_ms=100, retries=0)
        assert info.value.attempts == 1
    finally:
        requester.close()
        server.close()


def test_rejects_text_without_serde(context):
    requester = sockets.Requester(context, "tcp://127.0.0.1:1")
    with pytest.raises(TypeError, match="bytes or a list of frames"):
        requester.request("ping")
    requester.close()
