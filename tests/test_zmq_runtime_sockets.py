"""zmqlint_runtime.sockets on real pyzmq sockets over 127.0.0.1: servers bind once, clients
and publishers only connect, the pool binds only when told to, and contexts terminate."""

from __future__ import annotations

import threading
import time

import pytest
import zmq

from zmqlint_runtime import sockets

from conftest import free_port


@pytest.fixture
def context():
    ctx = zmq.Context()
    yield ctx
    ctx.destroy(linger=0)


def _round_trip(server: zmq.Socket, client: zmq.Socket) -> bytes:
    server.setsockopt(zmq.RCVTIMEO, 2000)
    client.setsockopt(zmq.RCVTIMEO, 2000)
    client.send(b"ping")
    server.send(server.recv() + b" pong")
    return client.recv()


def _delivered(publish, receiver: zmq.Socket, attempts: int = 50):
    """Publish until ``receiver`` (RCVTIMEO set) gets a message: PUB/SUB joins asynchronously."""
    for _ in range(attempts):
        publish()
        try:
            return receiver.recv_multipart()
        except zmq.Again:
            time.sleep(0.02)
    pytest.fail("nothing was delivered")


def test_server_binds_once_and_client_connects(context):
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    server = sockets.server_socket(zmq.REP, endpoint, context=context)
    client = sockets.client_socket(zmq.REQ, endpoint, context=context, rcvtimeo_ms=2000)
    assert server.getsockopt_string(zmq.LAST_ENDPOINT) == endpoint
    assert server.getsockopt(zmq.LINGER) == sockets.DEFAULT_LINGER_MS
    assert _round_trip(server, client) == b"ping pong"


def test_second_server_on_a_taken_port_fails_loudly(context):
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    first = sockets.server_socket(zmq.REP, endpoint, context=context)
    with pytest.raises(zmq.ZMQError) as info:
        sockets.server_socket(zmq.REP, endpoint, context=context)
    assert info.value.errno == zmq.EADDRINUSE
    assert not first.closed


def test_bind_once_refuses_an_attached_socket(context):
    socket = context.socket(zmq.REP)
    bound = sockets.bind_once(socket, "tcp://127.0.0.1:*")
    assert bound.startswith("tcp://127.0.0.1:")
    with pytest.raises(sockets.AlreadyAttached, match="already attached"):
        sockets.bind_once(socket, bound)


def test_publisher_connects_to_a_bound_collector(context):
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    collector = sockets.server_socket(zmq.SUB, endpoint, context=context, rcvtimeo_ms=100)
    collector.setsockopt(zmq.SUBSCRIBE, b"")
    publisher = sockets.publisher(endpoint, context=context)
    assert _delivered(lambda: publisher.send_multipart([b"ERROR", b"disk full"]), collector) == [b"ERROR", b"disk full"]


def test_subscriber_receives_from_a_bound_publisher(context):
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    pub = sockets.server_socket(zmq.PUB, endpoint, context=context)
    sub = sockets.subscriber(endpoint, b"metrics", context=context, rcvtimeo_ms=100)

    def publish():
        pub.send_multipart([b"metrics", b"1"])
        pub.send_multipart([b"other", b"2"])

    assert _delivered(publish, sub) == [b"metrics", b"1"]


def test_pool_binds_only_when_asked_and_closes_everything(context):
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    with sockets.SocketPool(context) as pool:
        server = pool.rep(endpoint, bind=True)
        client = pool.req(endpoint)  # connect by default: a client never binds
        assert _round_trip(server, client) == b"ping pong"
        # A connecting PUB on the same endpoint does not take the port.
        pub = pool.pub(endpoint, bind=False)
        assert len(pool) == 3
        with pytest.raises(TypeError):
            pool.rep(endpoint)  # bind= must be said
    assert server.closed and client.closed and pub.closed


def test_context_terminates_with_unsent_messages():
    """The default LINGER lets ``term()`` return although a peer never showed up."""
    ctx = zmq.Context()
    client = sockets.client_socket(zmq.PUSH, f"tcp://127.0.0.1:{free_port()}", context=ctx)
    client.send(b"never delivered")
    client.close()
    done = threading.Event()
    thread = threading.Thread(target=lambda: (ctx.term(), done.set()), daemon=True)
    thread.start()
    thread.join(timeout=5)
    assert done.is_set(), "Context.term() hung on a socket with unsent messages"
