from __future__ import annotations

import libcst as cst

from zmqlint.codemods.sockets import may_misuse, report_misuses
from zmqlint.model import Applicability, Severity
from zmqlint.rule import Invalid, Option, Rule, Valid
from zmqlint.rules._examples import WRAPPER_FILES

_POOL = '''
import zmq

_ctx = zmq.Context.instance()

def get_rep_socket(endpoint, bind=True):
    sock = _ctx.socket(zmq.REP)
    sock.setsockopt(zmq.LINGER, 0)
    if bind:
        sock.bind(endpoint)
    else:
        sock.connect(endpoint)
    return sock
'''


class PooledSocketRebound(Rule):
    """Flags binding again a socket that the factory it came from has already bound.

    ## What it does
    Learns from the project's own code which functions hand out sockets they have already
    bound (a function that creates a socket and binds it, or builds a socket config with
    `bind=True` and hands it to a pool, and returns the socket or an object holding it), then
    reports any later `bind` of such a socket: directly, through an alias, a `self.` or holder
    attribute, a helper method that binds its argument, or inside a retry loop. The bind
    decision is followed through the config object's field and the pool method's
    `if config.bind:`, across modules and private methods, with the pool reached through a
    singleton getter (`get_zmq_pool().get_socket(config)`), and through the wrapper a pool
    hands out (a dataclass holding the socket in `.socket`): taken straight off the call
    (`get_rep_socket(ep).socket`) or kept and used through (`w.socket.bind(...)`).

    ## Why is this bad?
    The second `bind` of the same endpoint fails with `ZMQError: Address already in use`
    (EADDRINUSE); a retry loop only retries the failure. In the field report every agent that
    took a REP socket from the pool's `get_rep_socket` and bound it again failed to start.

    ## Example
    ```python
    self.socket = get_rep_socket(endpoint, context=self.context)
    self.socket.bind(endpoint)
    ```

    ## Use instead
    ```python
    self.socket = self.context.socket(zmq.REP)
    self.socket.bind(endpoint)
    ```

    ## Fix safety
    Safe: the factory call becomes `<context>.socket(zmq.<TYPE>)` from the context the code
    already has (the factory's `context=` argument, the class's context attribute, a local
    context, else `zmq.Context.instance()`), so the caller's own `bind` is the one bind. The
    factory import is removed when nothing else uses it and `import zmq` added when missing.
    Options the caller asked the factory to set (`get_rep_socket(ep, rcvtimeo=500)`, when the
    factory turns them into `setsockopt`) are set on the plain socket right after it is
    created; options the factory sets to fixed values of its own are not copied over. A
    wrapper taken apart (`get_rep_socket(ep).socket`) becomes the plain socket; a wrapper kept
    in a variable or attribute becomes the socket itself when nothing reads it but its
    socket attribute (`w.socket` -> `w`), and is otherwise reported only. Names the analysis cannot see
    into can be declared with the `binding-factories` setting; they are reported, and fixed
    when their name tells the socket type (`get_rep_socket` -> `REP`).
    """

    CODE = "ZMQ101"
    NAME = "pooled-socket-rebound"
    SEVERITY = Severity.CRITICAL
    MESSAGE = "`{subject}` was already bound by `{factory}`; binding it again fails with 'Address already in use'"
    FIXES = (Applicability.SAFE,)
    # No textual precondition is sound: the bind may happen in a helper defined elsewhere.
    PREFILTER = ()
    OPTIONS = {
        "binding-factories": Option(
            list, [], "Functions that return a socket they already bound, beyond those the analysis finds"
        )
    }

    VALID = [
        Valid(
            """
            from common.pools.zmq_pool import get_req_socket

            class Client:
                def __init__(self, endpoint):
                    self.socket = get_req_socket(endpoint).socket
                    self.socket.connect(endpoint)
            """,
            files=WRAPPER_FILES,
            path="agents/client.py",
        ),
        Valid(
            """
            import zmq

            ctx = zmq.Context.instance()
            sock = ctx.socket(zmq.REP)
            sock.bind("tcp://127.0.0.1:5555")
            """
        ),
        Valid(
            """
            from pool import get_rep_socket

            sock = get_rep_socket("tcp://127.0.0.1:5555")
            reply = sock.recv()
            """,
            files={"pool.py": _POOL},
        ),
        Valid(
            """
            from pool import get_rep_socket

            sock = get_rep_socket("tcp://127.0.0.1:5555", bind=False)
            sock.bind("tcp://127.0.0.1:5555")
            """,
            files={"pool.py": _POOL},
        ),
        Valid(
            """
            from pool import get_rep_socket

            sock = get_rep_socket("tcp://127.0.0.1:5555")
            sock = make_other()
            sock.bind("tcp://127.0.0.1:5556")
            """,
            files={"pool.py": _POOL},
        ),
    ]

    INVALID = [
        # The socket taken straight off the pool's wrapper, an option set, then bound again.
        Invalid(
            """
            import zmq
            from common.base_agent import BaseAgent
            from common.pools.zmq_pool import get_rep_socket

            class EmotionEngine(BaseAgent):
                def __init__(self, port):
                    super().__init__("EmotionEngine", port)
                    self.socket = get_rep_socket(f"tcp://*:{port}").socket
                    self.socket.setsockopt(zmq.LINGER, 0)
                    self.socket.bind(f"tcp://*:{port}")
            """,
            files=WRAPPER_FILES,
            path="agents/emotion_engine.py",
            line=10,
            message_contains="get_rep_socket",
            expected_fix="""
            import zmq
            from common.base_agent import BaseAgent

            class EmotionEngine(BaseAgent):
                def __init__(self, port):
                    super().__init__("EmotionEngine", port)
                    self.socket = self.context.socket(zmq.REP)
                    self.socket.setsockopt(zmq.LINGER, 0)
                    self.socket.bind(f"tcp://*:{port}")
            """,
        ),
        # Bound in a later method, in a retry loop over ports; the caller's options carried over.
        Invalid(
            """
            import zmq
            from common.base_agent import BaseAgent
            from common.pools.zmq_pool import get_rep_socket

            class NluAgent(BaseAgent):
                def __init__(self, port):
                    super().__init__("NluAgent", port)
                    self.socket = get_rep_socket(f"tcp://*:{port}", rcvtimeo=500, linger=0).socket

                def start(self):
                    while True:
                        try:
                            self.socket.bind(f"tcp://*:{self.port}")
                            break
                        except zmq.ZMQError:
                            self.port += 1
            """,
            files=WRAPPER_FILES,
            path="agents/nlu_agent.py",
            line=13,
            expected_fix="""
            import zmq
            from common.base_agent import BaseAgent

            class NluAgent(BaseAgent):
                def __init__(self, port):
                    super().__init__("NluAgent", port)
                    self.socket = self.context.socket(zmq.REP)
                    self.socket.setsockopt(zmq.RCVTIMEO, 500)
                    self.socket.setsockopt(zmq.LINGER, 0)

                def start(self):
                    while True:
                        try:
                            self.socket.bind(f"tcp://*:{self.port}")
                            break
                        except zmq.ZMQError:
                            self.port += 1
            """,
        ),
        Invalid(
            """
            import zmq
            from pool import get_rep_socket

            class Agent:
                def __init__(self, port):
                    self.context = zmq.Context.instance()
                    endpoint = f"tcp://127.0.0.1:{port}"
                    self.socket = get_rep_socket(endpoint)
                    self.socket.bind(endpoint)
            """,
            files={"pool.py": _POOL},
            line=9,
            column=9,
            expected_fix="""
            import zmq

            class Agent:
                def __init__(self, port):
                    self.context = zmq.Context.instance()
                    endpoint = f"tcp://127.0.0.1:{port}"
                    self.socket = self.context.socket(zmq.REP)
                    self.socket.bind(endpoint)
            """,
        ),
        Invalid(
            """
            from pool import get_rep_socket as rep

            def serve(endpoint):
                server = rep(endpoint)
                alias = server
                for attempt in range(3):
                    try:
                        alias.bind(endpoint)
                        break
                    except Exception:
                        continue
                return server
            """,
            files={"pool.py": _POOL},
            line=8,
            expected_fix="""
            import zmq

            def serve(endpoint):
                server = zmq.Context.instance().socket(zmq.REP)
                alias = server
                for attempt in range(3):
                    try:
                        alias.bind(endpoint)
                        break
                    except Exception:
                        continue
                return server
            """,
        ),
        Invalid(
            """
            from pool import get_rep_socket

            class Late:
                def __init__(self, endpoint, context=None):
                    self.socket = get_rep_socket(endpoint)
                    self.socket.bind(endpoint)
                    self.context = context
            """,
            files={"pool.py": _POOL},
            line=6,
            expected_fix="""
            import zmq

            class Late:
                def __init__(self, endpoint, context=None):
                    self.socket = zmq.Context.instance().socket(zmq.REP)
                    self.socket.bind(endpoint)
                    self.context = context
            """,
        ),
        Invalid(
            """
            import zmq
            from sockets import acquire_router

            def main(ctx):
                router = acquire_router("tcp://*:7000")
                router.bind("tcp://*:7000")
            """,
            options={"binding-factories": ["sockets.acquire_router"]},
            expected_fix="""
            import zmq

            def main(ctx):
                router = zmq.Context.instance().socket(zmq.ROUTER)
                router.bind("tcp://*:7000")
            """,
        ),
    ]

    @classmethod
    def gate(cls, facts) -> bool:
        # Exactly the rule's own question, asked on the stdlib ast (`socket_misuses`, memoised
        # for the rule): is some socket a binding factory handed out bound again here?
        return may_misuse(facts, "bind")

    def visit_Module(self, node: cst.Module) -> None:
        report_misuses(self, "bind", self.MESSAGE, keep="keep this one bind")
