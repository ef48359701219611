from __future__ import annotations

import ast

import libcst as cst

from zmqlint.codemods.sockets import NodeMap, gate_module, shared_context
from zmqlint.facts.cleared_attributes import cleared_attributes
from zmqlint.facts.socket_basics import zmq_alias
from zmqlint.model import Applicability, Fix, ImportSpec, Severity
from zmqlint.rule import Invalid, Rule, Valid

_BASE = '''
import zmq

class BaseAgent:
    def __init__(self, context=None):
        self.context = context or zmq.Context.instance()
        self.socket = self.context.socket(zmq.REP)
'''


class ContextClearedBeforeUse(Rule):
    """Flags a zmq context or socket attribute set to `None` and then used.

    ## What it does
    Reports `self.X = None` when a use of `self.X` as a ZeroMQ context or socket is reachable
    from it with no other assignment on the way: later in the same method along some path
    (branches, loops, `try` / `except` / `else` followed as they run: the `else:` of a failed
    bind never sees the `None` its handler set), in a method of the class hierarchy the
    method calls next (a subclass clearing the context its base created before the base's
    set-up uses it), or in another method when the clearing is in `__init__` and nothing in
    the class, its bases or the module ever gives `X` another value. A use guarded by a test
    of `self.X` (`if self.X:`, `is not None`, an early return) is not reported. The attribute
    must hold a ZeroMQ context or socket there (created earlier, or by a base class's
    `__init__`), or be used in a way only one allows (`.socket(...)`, `.send_multipart`,
    `.setsockopt`): a standard-library socket or a file set to None is not this rule's.

    ## Why is this bad?
    The next use raises `AttributeError: 'NoneType' object has no attribute 'socket'`. In the
    field report an agent cleared the context its base class had created right after
    `super().__init__()` and crashed creating its worker socket.

    ## Example
    ```python
    super().__init__(name, port, context=context)
    self.context = None
    self.worker = self.context.socket(zmq.REP)
    ```

    ## Use instead
    ```python
    super().__init__(name, port, context=context)
    self.worker = self.context.socket(zmq.REP)
    ```

    ## Fix safety
    Safe: when a context or socket exists at that point the clearing assignment is removed;
    when none does and the attribute is used as a context, it becomes
    `zmq.Context.instance()`. Anything else is reported only.
    """

    CODE = "ZMQ103"
    NAME = "context-cleared-before-use"
    SEVERITY = Severity.CRITICAL
    MESSAGE = "`self.{attr}` is set to None here, then used as a {kind} (AttributeError at run time)"
    FIXES = (Applicability.SAFE,)
    PREFILTER = ("None",)

    VALID = [
        Valid(
            """
            import zmq

            class Client:
                def __init__(self):
                    self.context = zmq.Context.instance()
                    self.sock = self.context.socket(zmq.REQ)

                def close(self):
                    self.sock.close()
                    self.sock = None
                    if self.sock is not None:
                        self.sock.send(b"x")
            """
        ),
        Valid(
            """
            import zmq

            class Worker:
                def __init__(self):
                    self.context = zmq.Context.instance()
                    self.sock = None
                    self.sock = self.context.socket(zmq.PUSH)
                    self.sock.connect("tcp://127.0.0.1:5557")
            """
        ),
        Valid(
            """
            from base import BaseAgent

            class Agent(BaseAgent):
                def stop(self):
                    self.socket.close()
                    self.socket = None

                def restart(self):
                    self.socket = self.context.socket(1)
            """,
            files={"base.py": _BASE},
        ),
    ]

    INVALID = [
        Invalid(
            """
            import zmq
            from base import BaseAgent

            class Executor(BaseAgent):
                def __init__(self, context=None):
                    super().__init__(context=context)
                    self.context = None
                    self.worker = self.context.socket(zmq.REP)
            """,
            files={"base.py": _BASE},
            line=7,
            column=9,
            expected_fix="""
            import zmq
            from base import BaseAgent

            class Executor(BaseAgent):
                def __init__(self, context=None):
                    super().__init__(context=context)
                    self.worker = self.context.socket(zmq.REP)
            """,
        ),
        Invalid(
            """
            import zmq

            class Service:
                def __init__(self):
                    self.ctx = None

                def start(self):
                    self.sock = self.ctx.socket(zmq.REP)
            """,
            line=5,
            expected_fix="""
            import zmq

            class Service:
                def __init__(self):
                    self.ctx = zmq.Context.instance()

                def start(self):
                    self.sock = self.ctx.socket(zmq.REP)
            """,
        ),
        Invalid(
            """
            import zmq

            class Feed:
                def __init__(self):
                    self.context = zmq.Context()
                    self.pub = self.context.socket(zmq.PUB)
                    self.pub = None
                    self.pub.bind("tcp://127.0.0.1:5999")
            """,
            message_contains="socket",
            expected_fix="""
            import zmq

            class Feed:
                def __init__(self):
                    self.context = zmq.Context()
                    self.pub = self.context.socket(zmq.PUB)
                    self.pub.bind("tcp://127.0.0.1:5999")
            """,
        ),
    ]

    @classmethod
    def gate(cls, facts) -> bool:
        # Every finding starts at a ``self.X = None``: without an assignment of None to an
        # attribute there is none (a cheap look at the shared walk); with one, the rule's own
        # `cleared_attributes` (memoised for the rule) decides.
        if facts.module is not None and not any(
            isinstance(node.value, ast.Constant)
            and node.value.value is None
            and any(isinstance(target, ast.Attribute) for target in node.targets)
            for node in facts.nodes(ast.Assign)
        ):
            return False
        module = gate_module(facts)
        return module is not None and bool(cleared_attributes(facts.index, module))

    def visit_Module(self, node: cst.Module) -> None:
        module = self.context.module_info
        if module is None:
            return
        clearings = cleared_attributes(self.context.index, module)
        if not clearings:
            return
        nodes = NodeMap(self.context.source, self.context.wrapper, (cst.Assign,))
        zmq_name = zmq_alias(module)
        for clearing in clearings:
            assign = nodes.find(clearing.assign)
            if not isinstance(assign, cst.Assign):
                continue
            fix = None
            if clearing.fix == "drop":
                fix = Fix(
                    f"remove the assignment: `self.{clearing.attr}` already holds a {clearing.kind}",
                    Applicability.SAFE,
                    replacements={assign: cst.RemoveFromParent()},
                )
            elif clearing.fix == "instance":
                fix = Fix(
                    "use the shared context `zmq.Context.instance()`",
                    Applicability.SAFE,
                    replacements={assign.value: shared_context(zmq_name or "zmq")},
                    add_imports=[] if zmq_name else [ImportSpec("zmq")],
                )
            self.report(assign, self.MESSAGE.format(attr=clearing.attr, kind=clearing.kind), fix=fix)
