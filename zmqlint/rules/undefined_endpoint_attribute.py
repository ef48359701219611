from __future__ import annotations

import ast

import libcst as cst

from zmqlint.codemods.sockets import NodeMap, gate_module
from zmqlint.facts.undefined_attributes import undefined_attribute_reads, undefined_read_hint
from zmqlint.model import Severity
from zmqlint.rule import Invalid, Rule, Valid

_BASE = '''
import zmq

class BaseAgent:
    def __init__(self, name, port, host="127.0.0.1"):
        self.name = name
        self.host = host
        self.port = port
        self.context = zmq.Context.instance()
'''


class UndefinedEndpointAttribute(Rule):
    """Flags `self.X` read where no class in the hierarchy ever assigns `X`.

    ## What it does
    Reports a read of `self.X` in a method of ZeroMQ code when `X` holds a socket, a context or
    an endpoint — by its use (the receiver of `bind`, `connect`, `send_multipart`,
    `setsockopt` or `socket(...)`, a part of the address given to `bind` / `connect`, an
    argument of a call that makes a socket) or by its name (`endpoint`, `addr`, `socket`,
    `context`, `port`, ...) — and neither the class nor any of its base classes (followed
    across modules, including imports rooted at folders the program puts on `sys.path`)
    assigns `X`: as `self.X = ...`, a class attribute, a method or property. Every base class
    must be in the project or a library class whose attributes are known (`object`,
    `threading.Thread`, `abc.ABC`, `Exception`). Attributes that hold anything else are left
    to type checkers.

    It stays silent when attributes can appear by means it cannot see: `__getattr__`,
    `setattr`, `__dict__` / `vars(self)` updates, `__slots__` it cannot read, `hasattr` /
    `getattr` probes, class decorators and metaclasses; on classes that look abstract, are
    subclassed in the same module, or keep no state of their own (a mixin reading what the
    class it joins defines); on reads inside a class or function nested in a method (their
    `self` is another object); and when a file of the hierarchy has a part that does not
    parse (it may assign anything; the E999 says so).

    ## Why is this bad?
    The read raises `AttributeError` the first time it runs. In the field report an agent
    asked the pool for a socket on `self.endpoint`, which nothing in the agent or its base
    class ever set, and crashed at start-up.

    ## Example
    ```python
    class NLUAgent(BaseAgent):
        def __init__(self, port):
            super().__init__("NLUAgent", port)
            self.socket = get_rep_socket(self.endpoint)
    ```

    ## Use instead
    ```python
    class NLUAgent(BaseAgent):
        def __init__(self, port):
            super().__init__("NLUAgent", port)
            self.endpoint = f"tcp://{self.host}:{self.port}"
            self.socket = get_rep_socket(self.endpoint)
    ```

    ## Fix safety
    No fix of its own: what the attribute should hold is for a person to decide. When the
    read is an argument of a pooled-socket call that ZMQ101 rewrites, that fix removes it.
    """

    CODE = "ZMQ104"
    NAME = "undefined-endpoint-attribute"
    SEVERITY = Severity.CRITICAL
    MESSAGE = "`self.{attr}` is read but never assigned in `{cls}` or its base classes (AttributeError at run time)"
    FIXES = ()
    PREFILTER = ("class",)

    VALID = [
        Valid(
            """
            from base import BaseAgent

            class Agent(BaseAgent):
                def endpoint(self):
                    return f"tcp://{self.host}:{self.port}"
            """,
            files={"base.py": _BASE},
        ),
        Valid(
            """
            from somewhere_else import Remote

            class Agent(Remote):
                def start(self):
                    return self.endpoint
            """
        ),
        Valid(
            """
            class Config:
                def __init__(self, **values):
                    self.__dict__.update(values)

                def endpoint(self):
                    return self.address
            """
        ),
        Valid(
            """
            import threading

            class Worker(threading.Thread):
                def __init__(self):
                    super().__init__(daemon=True)

                def run(self):
                    print(self.name, self._target)
            """
        ),
    ]

    INVALID = [
        Invalid(
            """
            from common.core.base_agent import BaseAgent

            class NLUAgent(BaseAgent):
                def __init__(self, port):
                    super().__init__("NLUAgent", port)
                    self.nlu_port = self.port + 2

                def describe(self):
                    return {"endpoint": self.endpoint, "port": self.nlu_port}
            """,
            path="main_pc_code/agents/nlu_agent.py",
            files={"common/core/base_agent.py": _BASE, "common/__init__.py": "", "common/core/__init__.py": ""},
            line=9,
            column=29,
            end_column=42,
            message_contains="self.endpoint",
        ),
        Invalid(
            """
            import zmq

            class Server:
                def __init__(self, port):
                    self.port = port
                    self.context = zmq.Context.instance()

                def start(self):
                    self.sock = self.context.socket(zmq.REP)
                    self.sock.bind(self.endpoint)
            """,
            line=10,
        ),
    ]

    @classmethod
    def gate(cls, facts) -> bool:
        # A finding is a ``self.X`` read in a method of a class of this file where ``X`` is
        # known neither to the class nor its bases. First, on the shared walk, the reads that
        # what the class itself defines and what the file stores leave (`undefined_read_hint`,
        # wider than the rule); only if some is left, the rule's own `undefined_attribute_reads`
        # (memoised for the rule), which looks only into the classes holding those reads.
        module = gate_module(facts)
        if module is None or not module.classes:
            return False
        hint = None
        if facts.module is not None:  # the same tree: its attributes are in the shared walk
            hint = undefined_read_hint(module, facts.nodes(ast.Attribute))
            if not hint.reads:
                return False
        return bool(undefined_attribute_reads(facts.index, module, hint))

    def visit_Module(self, node: cst.Module) -> None:
        module = self.context.module_info
        if module is None:
            return
        reads = undefined_attribute_reads(self.context.index, module)
        if not reads:
            return
        nodes = NodeMap(self.context.source, self.context.wrapper, (cst.Attribute,))
        for read in reads:
            target = nodes.find(read.node)
            if target is not None:
                self.report(target, self.MESSAGE.format(attr=read.attr, cls=read.cls.name))
