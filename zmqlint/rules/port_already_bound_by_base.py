from __future__ import annotations

from typing import Optional

import libcst as cst

from zmqlint.codemods.sockets import NodeMap, gate_module
from zmqlint.facts.base_ports import PortClash, base_port_clashes
from zmqlint.model import Applicability, Fix, Severity
from zmqlint.rule import Invalid, Rule, Valid

_BASE = '''
import time

import zmq


class BaseAgent:
    def __init__(self, name, port, host="127.0.0.1"):
        self.name = name
        self.host = host
        self.port = port
        self.context = zmq.Context.instance()
        self.socket = self.context.socket(zmq.REP)
        self._bind_socket_with_retry(self.socket, self.port)

    def _bind_socket_with_retry(self, socket, port, attempts=3):
        endpoint = f"tcp://{self.host}:{port}"
        for attempt in range(attempts):
            try:
                socket.bind(endpoint)
                return endpoint
            except zmq.ZMQError:
                time.sleep(0.05)
        raise RuntimeError(endpoint)
'''


class PortAlreadyBoundByBase(Rule):
    """Flags a subclass binding the same port its base class already binds.

    ## What it does
    Collects what the `__init__` of every base class binds — directly, or through a helper
    method that binds its socket parameter, in retry loops, across modules — and reduces each
    endpoint to its port expression (`f"tcp://{self.host}:{port}"` with `port` the caller's
    `self.port` gives `self.port`; `"tcp://*:5555"` gives `5555`). A bind in the subclass on
    the same port expression is reported, unless the subclass closes the base socket first or
    never runs the base `__init__`.

    ## Why is this bad?
    The base class's socket already holds the port: the subclass's bind fails with
    `ZMQError: Address already in use`. In the field report an "enhanced" agent created a
    second REP socket on its base agent's port and never started.

    ## Example
    ```python
    class EnhancedAgent(BaseAgent):
        def __init__(self, port):
            super().__init__("enhanced", port)
            self.socket = self.context.socket(zmq.REP)
            self.socket.bind(f"tcp://{self.host}:{self.port}")
    ```

    ## Use instead
    ```python
    class EnhancedAgent(BaseAgent):
        def __init__(self, port):
            super().__init__("enhanced", port)  # self.socket is bound to self.port already
    ```

    ## Fix safety
    Unsafe: the subclass's own socket on that port is dropped and the base class's socket is
    reused (`self.X = self.<base socket>` when the subclass keeps it under another name).
    Options set on the dropped socket and handlers registered for it now apply to the base
    socket, which changes which code answers on that port. Only a bind written as its own
    statement, on a socket created in the same method, is rewritten; else report only.
    """

    CODE = "ZMQ105"
    NAME = "port-already-bound-by-base"
    SEVERITY = Severity.HIGH
    MESSAGE = "`{base}` already binds port `{port}` in its `__init__`; binding it again here fails with 'Address already in use'"
    FIXES = (Applicability.UNSAFE,)
    PREFILTER = ("class",)

    VALID = [
        Valid(
            """
            import zmq
            from base import BaseAgent

            class AnalysisAgent(BaseAgent):
                def __init__(self, port):
                    super().__init__("analysis", port)
                    self.analysis = self.context.socket(zmq.REP)
                    self.analysis.bind(f"tcp://{self.host}:{self.port + 2}")
            """,
            files={"base.py": _BASE},
        ),
        Valid(
            """
            import zmq
            from base import BaseAgent

            class Standalone(BaseAgent):
                def __init__(self, port):
                    self.context = zmq.Context.instance()
                    self.socket = self.context.socket(zmq.REP)
                    self.socket.bind(f"tcp://127.0.0.1:{port}")
            """,
            files={"base.py": _BASE},
        ),
        Valid(
            """
            import zmq
            from base import BaseAgent

            class Rebinder(BaseAgent):
                def rebind(self):
                    self.socket.close(linger=0)
                    self.socket = self.context.socket(zmq.REP)
                    self.socket.bind(f"tcp://{self.host}:{self.port}")
            """,
            files={"base.py": _BASE},
        ),
    ]

    INVALID = [
        Invalid(
            """
            import zmq
            from base import BaseAgent

            class EnhancedAgent(BaseAgent):
                def __init__(self, port):
                    super().__init__("enhanced", port)
                    self.history = []
                    self.socket = self.context.socket(zmq.REP)
                    self.socket.bind(f"tcp://{self.host}:{self.port}")
                    print("ready")
            """,
            files={"base.py": _BASE},
            line=9,
            column=9,
            expected_fix=None,
            expected_unsafe_fix="""
            import zmq
            from base import BaseAgent

            class EnhancedAgent(BaseAgent):
                def __init__(self, port):
                    super().__init__("enhanced", port)
                    self.history = []
                    print("ready")
            """,
        ),
        Invalid(
            """
            import zmq
            from base import BaseAgent

            class Mirror(BaseAgent):
                def __init__(self, port):
                    super().__init__("mirror", port)
                    self.server = self.context.socket(zmq.REP)
                    self._bind_socket_with_retry(self.server, self.port)
            """,
            files={"base.py": _BASE},
            line=8,
            expected_fix=None,
            expected_unsafe_fix="""
            import zmq
            from base import BaseAgent

            class Mirror(BaseAgent):
                def __init__(self, port):
                    super().__init__("mirror", port)
                    self.server = self.socket
            """,
        ),
    ]

    INVALID += [
        Invalid(
            """
            import zmq
            from collector import Collector

            class AuditCollector(Collector):
                def start(self):
                    self.audit = zmq.Context.instance().socket(zmq.PULL)
                    self.audit.bind("tcp://127.0.0.1:5600")
            """,
            files={
                "collector.py": """
                    import zmq

                    class Collector:
                        def __init__(self):
                            self.sink = zmq.Context.instance().socket(zmq.PULL)
                            self.sink.bind("tcp://*:5600")
                """
            },
            line=7,
            message_contains="5600",
            expected_fix=None,
            expected_unsafe_fix="""
            import zmq
            from collector import Collector

            class AuditCollector(Collector):
                def start(self):
                    self.audit = self.sink
            """,
        ),
    ]

    @classmethod
    def gate(cls, facts) -> bool:
        # Exactly the rule's own question on the stdlib ast (`base_port_clashes`, memoised for
        # the rule): only classes with a base class in the project whose `__init__` binds count.
        module = gate_module(facts)
        return module is not None and bool(module.classes) and bool(base_port_clashes(facts.index, module))

    def visit_Module(self, node: cst.Module) -> None:
        module = self.context.module_info
        if module is None:
            return
        clashes = base_port_clashes(self.context.index, module)
        if not clashes:
            return
        nodes = NodeMap(self.context.source, self.context.wrapper, (cst.Call, cst.Assign, cst.Expr))
        for clash in clashes:
            call = nodes.find(clash.site.node, cst.Call)
            if call is None:
                continue
            fix = self._reuse_base_socket(clash, nodes)
            self.report(call, self.MESSAGE.format(base=clash.base.name, port=clash.port), fix=fix)

    def _reuse_base_socket(self, clash: PortClash, nodes: NodeMap) -> Optional[Fix]:
        """Drop the subclass's own socket on the port and its bind; reuse the base socket."""
        import ast

        if clash.base_subject is None:
            return None
        subject = clash.site.subject
        bind_stmt = None
        creation = None
        for stmt in ast.walk(clash.function.node):
            if isinstance(stmt, ast.Expr) and stmt.value is clash.site.node:
                bind_stmt = stmt
            elif (
                isinstance(stmt, ast.Assign)
                and len(stmt.targets) == 1
                and ast.unparse(stmt.targets[0]) == subject
                and isinstance(stmt.value, ast.Call)
                and isinstance(stmt.value.func, ast.Attribute)
                and stmt.value.func.attr == "socket"
                and stmt.lineno < clash.site.node.lineno
            ):
                creation = stmt
        if bind_stmt is None or creation is None:
            return None
        bind_node = nodes.find(bind_stmt, cst.Expr)
        creation_node = nodes.find(creation, cst.Assign)
        if not isinstance(bind_node, cst.Expr) or not isinstance(creation_node, cst.Assign):
            return None
        replacements = {bind_node: cst.RemoveFromParent()}
        if subject == clash.base_subject:
            replacements[creation_node] = cst.RemoveFromParent()
            description = f"drop the second socket: `{subject}` is already bound by `{clash.base.name}`"
        else:
            replacements[creation_node.value] = cst.parse_expression(clash.base_subject)
            description = f"reuse `{clash.base_subject}`, which `{clash.base.name}` already bound"
        return Fix(description, Applicability.UNSAFE, replacements=replacements)
