"""Example modules shared by several rules' VALID / INVALID examples (not a rule)."""

#: A connection pool as real agent fleets write it: helpers build a config (`bind=True` for
#: servers and publishers) and hand it to a pool object reached through a singleton getter;
#: the pool creates the socket in a private method, applies the caller's options, binds it
#: only `if config.bind:` and hands out a dataclass wrapper holding it in `.socket`.
WRAPPER_POOL = """
import threading
import time
from dataclasses import dataclass, field
from enum import Enum
from typing import Dict, Optional

import zmq


class SocketType(Enum):
    REQ = zmq.REQ
    REP = zmq.REP
    PUB = zmq.PUB


@dataclass
class SocketConfig:
    socket_type: SocketType
    endpoint: str
    bind: bool = False
    linger: int = -1
    rcvtimeo: int = -1


@dataclass
class PooledSocket:
    socket: zmq.Socket
    key: str
    last_used: float = field(default_factory=time.monotonic)


class ZMQPool:
    def __init__(self):
        self._context = zmq.Context.instance()
        self._pool: Dict[str, PooledSocket] = {}
        self._lock = threading.Lock()

    def get_socket(self, config: SocketConfig) -> PooledSocket:
        key = f"{config.socket_type.name}:{config.endpoint}"
        with self._lock:
            pooled = self._pool.get(key)
            if pooled is None:
                sock = self._create_socket(config)
                pooled = PooledSocket(socket=sock, key=key)
                self._pool[key] = pooled
            return pooled

    def _create_socket(self, config: SocketConfig) -> zmq.Socket:
        sock = self._context.socket(config.socket_type.value)
        sock.setsockopt(zmq.LINGER, config.linger)
        sock.setsockopt(zmq.RCVTIMEO, config.rcvtimeo)
        if config.bind:
            sock.bind(config.endpoint)
        else:
            sock.connect(config.endpoint)
        return sock


_pool: Optional[ZMQPool] = None


def get_zmq_pool() -> ZMQPool:
    global _pool
    if _pool is None:
        _pool = ZMQPool()
    return _pool


def get_rep_socket(endpoint: str, **options) -> PooledSocket:
    config = SocketConfig(socket_type=SocketType.REP, endpoint=endpoint, bind=True, **options)
    return get_zmq_pool().get_socket(config)


def get_pub_socket(endpoint: str) -> PooledSocket:
    return get_zmq_pool().get_socket(SocketConfig(SocketType.PUB, endpoint, bind=True))


def get_req_socket(endpoint: str) -> PooledSocket:
    return get_zmq_pool().get_socket(SocketConfig(SocketType.REQ, endpoint))
"""

#: The base agent of such a fleet: it creates the context its subclasses use.
BASE_AGENT = """
import zmq


class BaseAgent:
    def __init__(self, name, port):
        self.name = name
        self.port = port
        self.context = zmq.Context.instance()
"""

#: The files of a multi-module example using the two above.
WRAPPER_FILES = {
    "common/__init__.py": "",
    "common/pools/__init__.py": "",
    "common/pools/zmq_pool.py": WRAPPER_POOL,
    "common/base_agent.py": BASE_AGENT,
}
