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

    requester = sockets.Requester(ctx, "tcp://127.0.0.1:5555", timeout_ms=1000, retries=2)
    reply = requester.request(b"ping")         # or raises sockets.RequestTimeout
"""

from __future__ import annotations

import threading
from typing import Any, List, Optional, Sequence, Union

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
    "Requester",
    "RequestTimeout",
    "DEFAULT_REQUEST_TIMEOUT_MS",
    "DEFAULT_REQUEST_RETRIES",
]

#: How long `Requester.request` waits for each reply, and how often it sends again, when the
#: `Requester` is not told (read when it is created: an application may change them).
DEFAULT_REQUEST_TIMEOUT_MS = 2500
DEFAULT_REQUEST_RETRIES = 2


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


# -- request / reply clients -----------------------------------------------------------------


class RequestTimeout(TimeoutError):
    """No reply came from ``endpoint`` within ``timeout_ms``, on any of ``attempts`` sends."""

    def __init__(self, endpoint: str, attempts: int, timeout_ms: int) -> None:
        super().__init__(
            f"no reply from {endpoint} after {attempts} attempt(s) of {timeout_ms} ms each; "
            "the server is down, overloaded or unreachable"
        )
        self.endpoint = endpoint
        self.attempts = attempts
        self.timeout_ms = timeout_ms


Message = Union[bytes, bytearray, memoryview, zmq.Frame, Sequence[Any], Any]


class Requester:
    """A REQ client that never hangs: the zguide's *Lazy Pirate* pattern.

    ``request(msg)`` sends ``msg`` and waits at most ``timeout_ms`` for the reply. When none
    comes, the socket is closed (``LINGER`` 0: the unanswered request is dropped) and a new
    one is connected, which also gets a REQ socket out of the state where it may only
    receive, and the request is sent again, up to ``retries`` more times. Then
    `RequestTimeout` is raised; the next ``request`` starts on a fresh socket.

        requester = Requester(ctx, "tcp://127.0.0.1:5555", timeout_ms=1000, retries=2)
        reply = requester.request(b"ping")              # bytes in, bytes out
        frames = requester.request([b"job", b"42"])     # frames in, frames out
        typed = Requester(ctx, endpoint, serde=serde)   # zmqlint_runtime.serde, or a Serde
        result = typed.request({"op": "sum", "args": [1, 2]})

    A request may reach the server more than once (a reply lost, or late, is a retry): give
    it ``retries=0`` when the server must not run it twice. Like a socket, a `Requester` is
    used from one thread at a time.
    """

    def __init__(
        self,
        context: Optional[zmq.Context],
        endpoint: str,
        *,
        timeout_ms: Optional[int] = None,
        retries: Optional[int] = None,
        serde: Any = None,
        linger_ms: int = 0,
    ) -> None:
        # None: the module's defaults when the requester is made (an application may set them).
        timeout_ms = DEFAULT_REQUEST_TIMEOUT_MS if timeout_ms is None else timeout_ms
        retries = DEFAULT_REQUEST_RETRIES if retries is None else retries
        if timeout_ms < 0 or retries < 0:
            raise ValueError("timeout_ms and retries must be >= 0")
        self.context = context if context is not None else zmq.Context.instance()
        self.endpoint = endpoint
        self.timeout_ms = timeout_ms
        self.retries = retries
        self.serde = serde
        self.linger_ms = linger_ms
        self._socket: Optional[zmq.Socket] = None

    @property
    def socket(self) -> zmq.Socket:
        """The REQ socket of the current attempt (a new one after every timeout)."""
        if self._socket is None or self._socket.closed:
            self._socket = _attached_socket(zmq.REQ, self.endpoint, False, self.context, self.linger_ms, None, None)
        return self._socket

    def request(self, msg: Message, timeout_ms: Optional[int] = None, retries: Optional[int] = None) -> Any:
        """Send ``msg`` and return the reply: bytes for a single frame, a list of frames for a
        list or tuple of frames, the decoded object with ``serde``. Raises `RequestTimeout`
        when no reply comes after ``retries`` more attempts of ``timeout_ms`` each."""
        timeout = self.timeout_ms if timeout_ms is None else timeout_ms
        attempts = 1 + (self.retries if retries is None else retries)
        frames, single = self._frames(msg)
        for _ in range(attempts):
            socket = self.socket
            try:
                socket.send_multipart(frames)
                if socket.poll(timeout, zmq.POLLIN):
                    return self._reply(socket.recv_multipart(), single)
            except BaseException:
                self._drop()  # interrupted between send and reply: the socket may only receive
                raise
            self._drop()
        raise RequestTimeout(self.endpoint, attempts, timeout)

    def _frames(self, msg: Message):
        if self.serde is not None:
            return [self.serde.dumps(msg)], True
        if isinstance(msg, (bytes, bytearray, memoryview, zmq.Frame)):
            return [msg], True
        if isinstance(msg, (list, tuple)):
            return list(msg), False
        raise TypeError(f"a request is bytes or a list of frames (or pass serde=), not {type(msg).__name__}")

    def _reply(self, frames: List[bytes], single: bool) -> Any:
        if self.serde is not None:
            if len(frames) != 1:
                raise ValueError(f"expected one serde frame in the reply, got {len(frames)}")
            return self.serde.loads(frames[0])
        return frames[0] if single and len(frames) == 1 else frames

    def _drop(self) -> None:
        if self._socket is not None and not self._socket.closed:
            self._socket.close(linger=0)
        self._socket = None

    def close(self, linger: Optional[int] = None) -> None:
        """Close the socket (with ``linger`` ms, else the requester's ``linger_ms``)."""
        if self._socket is not None and not self._socket.closed:
            self._socket.close(linger=self.linger_ms if linger is None else linger)
        self._socket = None

    def __enter__(self) -> "Requester":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
