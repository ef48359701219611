from __future__ import annotations

import libcst as cst

from zmqlint.codemods.sockets import may_misuse, report_misuses
from zmqlint.model import Applicability, Severity
from zmqlint.rule import Invalid, Rule, Valid
from zmqlint.rules._examples import WRAPPER_FILES

_POOL = '''
from dataclasses import dataclass

import zmq


@dataclass
class SocketConfig:
    socket_type: int
    endpoint: str
    bind: bool = True


class Pool:
    def __init__(self):
        self.context = zmq.Context.instance()

    def acquire(self, config):
        sock = self.context.socket(config.socket_type)
        if config.bind:
            sock.bind(config.endpoint)
        else:
            sock.connect(config.endpoint)
        return sock


_pool = Pool()


def get_pub_socket(endpoint, bind=True):
    return _pool.acquire(SocketConfig(zmq.PUB, endpoint, bind=bind))


def get_sub_socket(endpoint, bind=False):
    return _pool.acquire(SocketConfig(zmq.SUB, endpoint, bind=bind))
'''


class PooledPublisherConnects(Rule):
    """Flags connecting a socket that the factory it came from has already bound.

    ## What it does
    Reports `connect` on a socket handed out by a function that binds it (see ZMQ101 for how
    such factories are recognised), directly or through an alias, attribute or helper.

    ## Why is this bad?
    The factory already bound the socket to the endpoint the code means to connect to. On
    another host that bind fails; on the same host it takes the port the real collector
    needs, or fails with "Address already in use" because the collector has it. In the field
    report the `ErrorPublisher` took a bound PUB socket from the pool and then connected it:
    the bind failed, the handler swallowed it, and the fleet's error bus went silent.

    ## Example
    ```python
    self.pub_socket = get_pub_socket(self.endpoint)
    self.pub_socket.connect(self.endpoint)
    ```

    ## Use instead
    ```python
    self.pub_socket = zmq.Context.instance().socket(zmq.PUB)
    self.pub_socket.connect(self.endpoint)
    ```

    ## Fix safety
    Safe: the factory call becomes `<context>.socket(zmq.<TYPE>)` from the context the code
    already has (else `zmq.Context.instance()`), so the socket only connects. Socket options
    the factory applied are not copied over.
    """

    CODE = "ZMQ102"
    NAME = "pooled-publisher-connects"
    SEVERITY = Severity.HIGH
    MESSAGE = "`{subject}` was bound by `{factory}`; connecting it as well leaves a stray bind on the endpoint"
    FIXES = (Applicability.SAFE,)
    # No textual precondition is sound: the connect may happen in a helper defined elsewhere.
    PREFILTER = ()

    VALID = [
        Valid(
            """
            from pool import get_sub_socket

            sub = get_sub_socket("tcp://127.0.0.1:6000")
            sub.connect("tcp://127.0.0.1:6001")
            """,
            files={"pool.py": _POOL},
        ),
        Valid(
            """
            from pool import get_pub_socket

            pub = get_pub_socket("tcp://127.0.0.1:6000", bind=False)
            pub.connect("tcp://127.0.0.1:6001")
            """,
            files={"pool.py": _POOL},
        ),
        Valid(
            """
            import zmq

            pub = zmq.Context.instance().socket(zmq.PUB)
            pub.connect("tcp://127.0.0.1:6000")
            """
        ),
    ]

    INVALID = [
        # The pool's wrapper kept and connected through: it becomes the plain socket.
        Invalid(
            """
            from common.pools.zmq_pool import get_pub_socket

            class ErrorPublisher:
                def __init__(self, endpoint):
                    self.pub = get_pub_socket(endpoint)
                    self.pub.socket.connect(endpoint)

                def publish(self, error):
                    self.pub.socket.send_json({"error": error})
            """,
            files=WRAPPER_FILES,
            path="agents/error_publisher.py",
            line=6,
            expected_fix="""
            import zmq

            class ErrorPublisher:
                def __init__(self, endpoint):
                    self.pub = zmq.Context.instance().socket(zmq.PUB)
                    self.pub.connect(endpoint)

                def publish(self, error):
                    self.pub.send_json({"error": error})
            """,
        ),
        # A wrapper the function hands on: reported, not fixed (its caller expects a wrapper).
        Invalid(
            """
            from common.pools.zmq_pool import get_pub_socket

            def publisher(endpoint):
                wrapper = get_pub_socket(endpoint)
                wrapper.socket.connect(endpoint)
                return wrapper
            """,
            files=WRAPPER_FILES,
            path="agents/publisher.py",
            line=5,
            expected_fix=None,
        ),
        Invalid(
            """
            import zmq
            from pool import get_pub_socket

            class ErrorPublisher:
                def __init__(self, endpoint, context=None):
                    self.endpoint = endpoint
                    self.context = context or zmq.Context.instance()
                    self.pub_socket = None
                    try:
                        self.pub_socket = get_pub_socket(self.endpoint)
                        self.pub_socket.connect(self.endpoint)
                    except zmq.ZMQError:
                        self.pub_socket = None
            """,
            files={"pool.py": _POOL},
            line=11,
            column=13,
            expected_fix="""
            import zmq

            class ErrorPublisher:
                def __init__(self, endpoint, context=None):
                    self.endpoint = endpoint
                    self.context = context or zmq.Context.instance()
                    self.pub_socket = None
                    try:
                        self.pub_socket = self.context.socket(zmq.PUB)
                        self.pub_socket.connect(self.endpoint)
                    except zmq.ZMQError:
                        self.pub_socket = None
            """,
        ),
        Invalid(
            """
            from pool import get_pub_socket

            class Events:
                def __init__(self, endpoint):
                    self.endpoint = endpoint
                    self.pub = get_pub_socket(endpoint)

                def start(self):
                    self._attach(self.pub)

                def _attach(self, sock):
                    sock.connect(self.endpoint)
            """,
            files={"pool.py": _POOL},
            line=9,
            expected_fix="""
            import zmq

            class Events:
                def __init__(self, endpoint):
                    self.endpoint = endpoint
                    self.pub = zmq.Context.instance().socket(zmq.PUB)

                def start(self):
                    self._attach(self.pub)

                def _attach(self, sock):
                    sock.connect(self.endpoint)
            """,
        ),
    ]

    @classmethod
    def gate(cls, facts) -> bool:
        # Exactly the rule's own question, asked on the stdlib ast (`socket_misuses`, memoised
        # for the rule): is some socket a binding factory handed out connected here?
        return may_misuse(facts, "connect")

    def visit_Module(self, node: cst.Module) -> None:
        report_misuses(self, "connect", self.MESSAGE, keep="only connect it")
