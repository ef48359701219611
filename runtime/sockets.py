"""ZeroMQ sockets that are attached exactly once.

A server socket binds, a client or publisher socket connects, and nothing here ever does both
to the same socket. Every socket gets a finite ``LINGER`` so that ``Context.term()`` returns
instead of hanging on unsent messages.

    from zmqlint_runtime import sockets

    server = sockets.server_socket(zmq.REP, "tcp://127.0.0.1:5555")      # bound once
    client = sockets.client_socket(zmq.REQ, "tcp://127.0.0.1:5555", rcvtimeo_ms=1000)
    events = sockets.publisher("tcp://collector:5600")                  # PUB, connect only

    pool = sockets.SocketPool()
    rep = pool.rep("tcp://127.0.0.1:5556", bind=True)
    pub = pool.pub("tcp://collector:5600", bind=False)
    pool.close_all()
"""

from __future__ import annotations

import threading
from typing import List, Optional

import zmq

#: Milliseconds a closing socket may keep trying to deliver queued messages.
DEFAULT_LINGER_MS = 200

__all__ = [
    "DEFAULT_LINGER_MS",
    "AlreadyAttached",
    "bind_once",
    "server_socket",
    "client_socket",
    "publisher",
    "subscriber",
    "SocketPool",
]


class AlreadyAttached(RuntimeError):
    """The socket is already bound or connected; attaching it again is a programming error."""


def _attached(socket: zmq.Socket) -> bool:
    try:
        return bool(socket.getsockopt(zmq.LAST_ENDPOINT))
    except zmq.ZMQError:
        return False


def _configure(
    socket: zmq.Socket,
    *,
    linger_ms: int,
    rcvtimeo_ms: Optional[int],
    sndtimeo_ms: Optional[int],
) -> zmq.Socket:
    socket.setsockopt(zmq.LINGER, linger_ms)
    if rcvtimeo_ms is not None:
        socket.setsockopt(zmq.RCVTIMEO, rcvtimeo_ms)
    if sndtimeo_ms is not None:
        socket.setsockopt(zmq.SNDTIMEO, sndtimeo_ms)
    return socket


def bind_once(socket: zmq.Socket, endpoint: str) -> str:
    """Bind ``socket`` to ``endpoint`` and return the endpoint actually bound.

    Raises `AlreadyAttached` if the socket is already bound or connected, instead of the
    ``Address already in use`` a second bind of the same endpoint would give.
    """
    if _attached(socket):
        raise AlreadyAttached(
            f"socket is already attached to {socket.getsockopt_string(zmq.LAST_ENDPOINT)}; not binding {endpoint}"
        )
    socket.bind(endpoint)
    return socket.getsockopt_string(zmq.LAST_ENDPOINT)


def _attached_socket(
    socket_type: int,
    endpoint: str,
    bind: bool,
    context: Optional[zmq.Context],
    linger_ms: int,
    rcvtimeo_ms: Optional[int],
    sndtimeo_ms: Optional[int],
    subscribe: Optional[bytes] = None,
) -> zmq.Socket:
    ctx = context if context is not None else zmq.Context.instance()
    socket = _configure(ctx.socket(socket_type), linger_ms=linger_ms, rcvtimeo_ms=rcvtimeo_ms, sndtimeo_ms=sndtimeo_ms)
    try:
        if subscribe is not None:
            socket.setsockopt(zmq.SUBSCRIBE, subscribe)
        if bind:
            socket.bind(endpoint)
        else:
            socket.connect(endpoint)
    except zmq.ZMQError:
        socket.close(linger=0)
        raise
    return socket


def server_socket(
    socket_type: int,
    endpoint: str,
    *,
    context: Optional[zmq.Context] = None,
    linger_ms: int = DEFAULT_LINGER_MS,
    rcvtimeo_ms: Optional[int] = None,
    sndtimeo_ms: Optional[int] = None,
) -> zmq.Socket:
    """A new socket of ``socket_type`` from ``context`` (the shared context by default),
    bound once to ``endpoint``. Do not bind or connect it again."""
    return _attached_socket(socket_type, endpoint, True, context, linger_ms, rcvtimeo_ms, sndtimeo_ms)


def client_socket(
    socket_type: int,
    endpoint: str,
    *,
    context: Optional[zmq.Context] = None,
    linger_ms: int = DEFAULT_LINGER_MS,
    rcvtimeo_ms: Optional[int] = None,
    sndtimeo_ms: Optional[int] = None,
) -> zmq.Socket:
    """A new socket of ``socket_type`` connected to ``endpoint``; it never binds."""
    return _attached_socket(socket_type, endpoint, False, context, linger_ms, rcvtimeo_ms, sndtimeo_ms)


def publisher(
    endpoint: str,
    *,
    context: Optional[zmq.Context] = None,
    linger_ms: int = DEFAULT_LINGER_MS,
    sndtimeo_ms: Optional[int] = None,
) -> zmq.Socket:
    """A PUB socket that connects to a collector bound at ``endpoint`` (it does not bind)."""
    return _attached_socket(zmq.PUB, endpoint, False, context, linger_ms, None, sndtimeo_ms)


def subscriber(
    endpoint: str,
    topic: bytes = b"",
    *,
    context: Optional[zmq.Context] = None,
    linger_ms: int = DEFAULT_LINGER_MS,
    rcvtimeo_ms: Optional[int] = None,
) -> zmq.Socket:
    """A SUB socket connected to the publisher at ``endpoint`` and subscribed to ``topic``."""
    return _attached_socket(zmq.SUB, endpoint, False, context, linger_ms, rcvtimeo_ms, None, subscribe=topic)


class SocketPool:
    """Creates sockets from one context and closes them all on `close_all`.

    Every helper takes an explicit ``bind=``: the pool binds when asked to and connects
    otherwise, so a caller never receives a bound socket it meant to connect (or bind) itself.
    """

    def __init__(self, context: Optional[zmq.Context] = None, *, linger_ms: int = DEFAULT_LINGER_MS) -> None:
        self.context = context if context is not None else zmq.Context.instance()
        self.linger_ms = linger_ms
        self._lock = threading.Lock()
        self._sockets: List[zmq.Socket] = []

    def socket(
        self,
        socket_type: int,
        endpoint: str,
        *,
        bind: bool,
        rcvtimeo_ms: Optional[int] = None,
        sndtimeo_ms: Optional[int] = None,
    ) -> zmq.Socket:
        """A socket of ``socket_type`` bound to (``bind=True``) or connected to ``endpoint``."""
        socket = _attached_socket(
            socket_type, endpoint, bind, self.context, self.linger_ms, rcvtimeo_ms, sndtimeo_ms
        )
        with self._lock:
            self._sockets.append(socket)
        return socket

    def rep(self, endpoint: str, *, bind: bool, **timeouts: Optional[int]) -> zmq.Socket:
        return self.socket(zmq.REP, endpoint, bind=bind, **timeouts)

    def req(self, endpoint: str, *, bind: bool = False, **timeouts: Optional[int]) -> zmq.Socket:
        return self.socket(zmq.REQ, endpoint, bind=bind, **timeouts)

    def pub(self, endpoint: str, *, bind: bool, **timeouts: Optional[int]) -> zmq.Socket:
        return self.socket(zmq.PUB, endpoint, bind=bind, **timeouts)

    def sub(self, endpoint: str, topic: bytes = b"", *, bind: bool = False, **timeouts: Optional[int]) -> zmq.Socket:
        socket = self.socket(zmq.SUB, endpoint, bind=bind, **timeouts)
        socket.setsockopt(zmq.SUBSCRIBE, topic)  # SUB filters apply whenever they are set
        return socket

    def close_all(self) -> None:
        """Close every socket this pool handed out (with the pool's linger)."""
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for socket in sockets:
            if not socket.closed:
                socket.close(linger=self.linger_ms)

    def __len__(self) -> int:
        with self._lock:
            return len(self._sockets)

    def __enter__(self) -> "SocketPool":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close_all()
