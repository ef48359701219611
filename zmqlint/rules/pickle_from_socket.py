from __future__ import annotations

import ast
from pathlib import PurePath
from typing import TYPE_CHECKING, Dict, FrozenSet, Iterable, List, Optional, Set, Tuple

import libcst as cst
from libcst.helpers import get_full_name_for_node
from libcst.metadata import PositionProvider

from zmqlint.codemods import serde as codemod
from zmqlint.facts import exposure
from zmqlint.facts.dataflow import Labels, TaintFlow, import_aliases, method_name, qualified_names, socket_channel
from zmqlint.gates import full_name
from zmqlint.model import Applicability, Fix, ImportSpec, Severity
from zmqlint.rule import Invalid, Rule, Valid

if TYPE_CHECKING:  # pragma: no cover
    from zmqlint.gates import FileFacts

#: Socket methods whose result is data a peer sent.
RECV_METHODS = frozenset(
    {"recv", "recv_multipart", "recv_string", "recv_json", "recv_bytes", "recvfrom", "recv_serialized"}
)
#: Functions that *are* pyzmq's pickle API (their bodies are its implementation, not a use).
PICKLE_API = frozenset({"send_pyobj", "recv_pyobj", "send_serialized", "recv_serialized"})


#: Folder names that hold tests.
_TEST_FOLDERS = frozenset({"test", "tests", "testing"})


def is_test_file(path: str) -> bool:
    """Whether ``path`` (as displayed, relative to where zmqlint runs) is test code:
    ``test_*.py``, ``*_test.py``, ``conftest.py``, or a file under ``test/``, ``tests/``,
    ``testing/`` or a ``*_tests/`` folder."""
    parts = PurePath(path).parts
    name = parts[-1] if parts else ""
    if name.startswith("test_") or name.endswith("_test.py") or name == "conftest.py":
        return True
    return any(part in _TEST_FOLDERS or part.endswith("_tests") for part in parts[:-1])


def _calls_of(function: cst.FunctionDef) -> List[cst.Call]:
    found: List[cst.Call] = []

    class Calls(cst.CSTVisitor):
        def visit_Call(self, node: cst.Call) -> None:
            found.append(node)

    function.body.visit(Calls())
    return found


class PickleSocketRule(Rule):
    """What SER201 and SER202 share: per-function dataflow, qualified names, and fixes that
    record the channel of their socket (for the run's peer warning)."""

    #: Words one of which a module must hold to pickle at all (imports or the pyobj API).
    PICKLE_WORDS = ("pickle", "Pickle", "marshal", "dill", "_pyobj")
    RUN_NOTES = staticmethod(codemod.channel_notes)

    @classmethod
    def gate(cls, facts: "FileFacts") -> bool:
        # `visit_Module` analyses nothing in a module without one of the words.
        if not any(word in facts.text for word in cls.PICKLE_WORDS):
            return False
        return cls._gate_sites(facts)

    @classmethod
    def _gate_sites(cls, facts: "FileFacts") -> bool:
        """Whether the file has what a finding needs (on the stdlib ast)."""
        return True

    def __init__(self, context) -> None:
        super().__init__(context)
        self.functions: List[cst.FunctionDef] = []
        self.active = False
        self._reference: Optional[Tuple[str, List[ImportSpec], List[ImportSpec]]] = None

    # -- traversal -------------------------------------------------------------------------

    def visit_Module(self, node: cst.Module) -> None:
        # Batched visitors cannot skip a subtree: remember whether this module can pickle at all.
        self.active = any(word in self.context.source for word in self.PICKLE_WORDS)
        if self.active:
            self.aliases = import_aliases(node)
            self._analyse(node.body)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.functions.append(node)
        if self.active and node.name.value not in PICKLE_API:
            self._analyse(node.body.body if isinstance(node.body, cst.IndentedBlock) else [node.body])

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.functions.pop()

    def _analyse(self, body) -> None:
        self.sites: Dict[cst.Call, Tuple[Labels, cst.Call]] = {}
        self.authenticated = False
        flow = TaintFlow(is_source=self.is_source, on_call=self.on_call, qualified=self.qualified)
        flow.run(body)
        self.awaited = flow.awaited
        if self.sites and self.functions and self._own_round_trip(self.functions[-1]):
            return
        for node, (labels, via) in self.sites.items():
            self.report_site(node, labels, via)

    def _own_round_trip(self, function: cst.FunctionDef) -> bool:
        """A test's round trip through its own socket pair: in a test file, the function sends
        a pickle on one socket and receives one on another (``a.send_pyobj(obj)``,
        ``b.recv_pyobj()``). What it unpickles is what it sent; the peer is the test itself."""
        if not is_test_file(self.context.display_path):
            return False
        senders: Set[str] = set()
        receivers: Set[str] = set()
        for call in _calls_of(function):
            if isinstance(call.func, cst.Attribute) and call.func.attr.value in ("send_pyobj", "recv_pyobj"):
                socket = get_full_name_for_node(call.func.value)
                if socket:
                    (senders if call.func.attr.value == "send_pyobj" else receivers).add(socket)
        return any(s != r for s in senders for r in receivers)

    # -- hooks for the two rules -----------------------------------------------------------

    def is_source(self, call: cst.Call) -> bool:
        raise NotImplementedError

    def on_call(self, call: cst.Call, taint_of) -> None:
        raise NotImplementedError

    def report_site(self, node: cst.Call, labels: Labels, via: cst.Call) -> None:
        raise NotImplementedError

    # -- helpers ---------------------------------------------------------------------------

    def qualified(self, node: cst.CSTNode) -> Set[str]:
        return qualified_names(node, self.aliases)

    def add_site(self, node: cst.Call, labels: Labels, via: cst.Call) -> None:
        known = self.sites.get(node)
        self.sites[node] = ((known[0] if known else frozenset()) | labels, known[1] if known else via)

    def in_process(self, sockets: Iterable[cst.CSTNode]) -> bool:
        """Whether every socket the site's data passes through is attached on ``inproc://``
        only (its peers are threads of this process: no one else can write or read it)."""
        calls = [c for c in sockets if isinstance(c, cst.Call) and isinstance(c.func, cst.Attribute)]
        if not calls:
            return False
        for call in calls:
            socket = get_full_name_for_node(call.func.value)
            line = self.get_metadata(PositionProvider, call).start.line
            if not exposure.in_process_only(self.context.index, self.context.module_info, line, socket, method_name(call)):
                return False
        return True

    def in_async_function(self) -> bool:
        return bool(self.functions) and self.functions[-1].asynchronous is not None

    def fix(self, description: str, replacements: dict, direction: str, socket_call: Optional[cst.Call]) -> Fix:
        socket = get_full_name_for_node(socket_call.func.value) if socket_call is not None and isinstance(socket_call.func, cst.Attribute) else None
        line = self.get_metadata(PositionProvider, socket_call).start.line if socket_call is not None else 0
        channel = socket_channel(self.context.index, self.context.module_info, line, socket)
        registration = self.registration(replacements, direction)
        return Fix(
            description,
            Applicability.UNSAFE,
            replacements=replacements,
            transformer=registration.transformer,
            add_imports=codemod.LazyImports(self._imports()[1], registration),
            remove_imports=self._imports()[2],
            meta=codemod.LazyMeta(codemod.channel_meta(direction, channel, socket), registration),
        )

    def registration(self, replacements: dict, direction: str) -> codemod.Registration:
        """The ``serde.register(...)`` of the classes the rewritten site carries (worked out
        only if the fix is applied)."""
        site = next(iter(replacements))
        site = site.expression if isinstance(site, cst.Await) else site
        start = self.get_metadata(PositionProvider, site).start
        context = self.context
        return codemod.Registration(
            context.index, context.module_info, context.module, start.line, start.column + 1, direction, self.reference()
        )

    def reference(self) -> str:
        """How fixed code names ``zmqlint_runtime.serde`` in this module."""
        return self._imports()[0]

    def _imports(self) -> Tuple[str, List[ImportSpec], List[ImportSpec]]:
        if self._reference is None:
            module = self.context.module
            self._reference = (*codemod.serde_reference(module, self.context.source), codemod.pickle_imports(module))
        return self._reference


class PickleFromSocket(PickleSocketRule):
    """Flags pickle / marshal / dill loading of bytes received from a socket.

    ## What it does
    Reports `pickle.loads` / `pickle.load` / `pickle.Unpickler` (also `cPickle`, `_pickle`,
    `dill`, `cloudpickle`, `marshal`, under any import alias) applied to data that, within the
    same function, came from a socket: `recv`, `recv_multipart` frames (by index, unpacking or
    iteration), `recv_string().encode()`, `await sock.recv()`, through assignments,
    subscripts, attributes and byte-shuffling calls (`bytes`, `io.BytesIO`, `zlib.decompress`,
    `base64.b64decode`). `sock.recv_pyobj()` is reported too: it is `pickle.loads(sock.recv())`.
    Unpickling a local file is not reported, nor is unpickling in a function that checks an
    HMAC (`hmac.compare_digest`) first: only a holder of the key can send such a message.
    Nor is a socket attached only on `inproc://` endpoints: its peers are threads of this
    process (an endpoint parameter every caller gives an `inproc://` address, an actor object
    whose `recv_pyobj` hands over to the pipe a project helper made and attached on
    `inproc://`, the handler an actor builds with such a pipe, a thread target handed one).
    A socket zmqlint cannot follow that far is reported. Nor is a test's round trip through
    its own socket pair: in test code (`test_*.py`, `*_test.py`, `conftest.py`, `tests/`), a
    function that sends a pickle on one socket and receives one on another unpickles what it
    sent itself (pyzmq's `ping_pong_pyobj(s1, s2, obj)`); the same function outside tests is
    a forwarder and is reported, and a test's client receiving on the socket it sent on is
    reported (the peer is a server).

    ## Why is this bad?
    Unpickling runs code chosen by whoever wrote the bytes. Anything that can reach the socket's
    port can run commands on the host. In the field report the audio preprocessor and the
    interrupt handler exchanged numpy frames with `pickle.loads` over PUB/SUB.

    ## Example
    ```python
    payload = sub.recv()
    frame = pickle.loads(payload)
    ```

    ## Use instead
    ```python
    from zmqlint_runtime import serde

    payload = sub.recv()
    frame = serde.loads(payload)
    ```
    `zmqlint_runtime.serde` carries dicts, lists, numpy arrays, datetimes and sets over
    msgpack, never runs code, and signs messages with HMAC-SHA256 when `ZMQ_SERDE_KEY` is set.

    ## Fix safety
    Unsafe: the wire format changes, so the sending side must change in the same release
    (SER202 converts it; run `--fix --unsafe-fixes` over both ends together — the run warns
    about converted channels whose other end it did not see). The receiver accepts only the
    project classes it registers: the fix adds `serde.register(...)` next to the serde import
    for those the code shows (the annotation of the receiving variable, `isinstance` checks and
    `case X()` patterns on it, the classes the other modules of the folder send, and the fields
    of those dataclasses); the run's summary says what it registered and which sent values it
    cannot see through. Other objects no longer travel. `recv_pyobj` that is neither awaited nor in a
    synchronous function (e.g. inside `asyncio.wait_for`) is reported without a fix.
    """

    CODE = "SER201"
    NAME = "pickle-from-socket"
    SEVERITY = Severity.CRITICAL
    MESSAGE = "`{func}` of data received from a socket lets any peer run code on this host"
    #: Every finding needs a `recv...` call (the source, or `recv_pyobj` itself).
    PREFILTER = ("recv",)
    FIXES = (Applicability.UNSAFE,)

    VALID = [
        Valid(
            """
            # An actor's pipe: a project helper attaches both ends on inproc://.
            import zmq

            def make_pipe(ctx):
                front = ctx.socket(zmq.PAIR)
                back = ctx.socket(zmq.PAIR)
                front.bind("inproc://actor-pipe")
                back.connect("inproc://actor-pipe")
                return front, back

            class Actor:
                def __init__(self, ctx):
                    self.pipe, self.shim = make_pipe(ctx)

                def recv_pyobj(self):
                    return self.pipe.recv_pyobj()

            class Node:
                def __init__(self, ctx):
                    self.actor = Actor(ctx)

                def peers(self):
                    return self.actor.recv_pyobj()
            """
        ),
        Valid(
            """
            import pickle

            def load_model(path):
                with open(path, "rb") as f:
                    return pickle.load(f)
            """
        ),
        Valid(
            """
            import pickle

            def restore(sock, cache_file):
                sock.recv()
                data = open(cache_file, "rb").read()
                return pickle.loads(data)
            """
        ),
        Valid(
            """
            import json

            def handle(sock):
                return json.loads(sock.recv())
            """
        ),
        Valid(
            """
            import pickle

            def handle(sock, verify):
                data = sock.recv()
                data = verify(data)
                return pickle.loads(data)
            """
        ),
        Valid(
            """
            import hmac
            import pickle

            def receive(sock, key):
                signature, payload = sock.recv_multipart()
                expected = hmac.new(key, payload, "sha256").digest()
                if not hmac.compare_digest(signature, expected):
                    raise ValueError("bad signature")
                return pickle.loads(payload)
            """
        ),
        Valid(
            """
            class Socket:
                def recv_pyobj(self, flags=0):
                    msg = self.recv(flags)
                    return self._deserialize(msg, pickle.loads)
            """
        ),
    ]

    INVALID = [
        Invalid(
            """
            import pickle as pk

            def on_frame(socket):
                payload = socket.recv()
                frame = pk.loads(payload)
                return frame["samples"]
            """,
            line=5,
            column=13,
            end_column=30,
            expected_fix=None,
            expected_unsafe_fix="""
            from zmqlint_runtime import serde

            def on_frame(socket):
                payload = socket.recv()
                frame = serde.loads(payload)
                return frame["samples"]
            """,
        ),
        Invalid(
            """
            from pickle import loads as unpickle

            def listen(sub):
                topic, _, body = sub.recv_multipart()
                return topic, unpickle(body)
            """,
            expected_unsafe_fix="""
            from zmqlint_runtime import serde

            def listen(sub):
                topic, _, body = sub.recv_multipart()
                return topic, serde.loads(body)
            """,
        ),
        Invalid(
            """
            import pickle
            import zmq

            def poll_once(sock, poller):
                if dict(poller.poll(100)).get(sock) == zmq.POLLIN:
                    frames = sock.recv_multipart()
                    return [pickle.loads(f) for f in frames[1:]]
                return pickle.dumps(None)
            """,
            expected_unsafe_fix="""
            import pickle
            import zmq
            from zmqlint_runtime import serde

            def poll_once(sock, poller):
                if dict(poller.poll(100)).get(sock) == zmq.POLLIN:
                    frames = sock.recv_multipart()
                    return [serde.loads(f) for f in frames[1:]]
                return pickle.dumps(None)
            """,
        ),
        Invalid(
            """
            import marshal

            async def serve(sock):
                while True:
                    msg = await sock.recv()
                    job = marshal.loads(msg[4:])
                    await handle(job)
            """,
            message_contains="marshal.loads",
            expected_unsafe_fix="""
            from zmqlint_runtime import serde

            async def serve(sock):
                while True:
                    msg = await sock.recv()
                    job = serde.loads(msg[4:])
                    await handle(job)
            """,
        ),
        Invalid(
            """
            import io
            import pickle

            class Listener:
                def poll(self):
                    text = self.sub.recv_string()
                    self.last = io.BytesIO(text.encode("latin-1"))
                    return pickle.load(self.last)
            """,
            expected_unsafe_fix="""
            import io
            from zmqlint_runtime import serde

            class Listener:
                def poll(self):
                    text = self.sub.recv_string()
                    self.last = io.BytesIO(text.encode("latin-1"))
                    return serde.loads(self.last.read())
            """,
        ),
        Invalid(
            """
            import zmq

            def on_interrupt(socket):
                notice = socket.recv_pyobj(zmq.NOBLOCK)
                return notice.get("seq")
            """,
            line=4,
            column=14,
            message_contains="recv_pyobj",
            expected_unsafe_fix="""
            import zmq
            from zmqlint_runtime import serde

            def on_interrupt(socket):
                notice = serde.loads(socket.recv(zmq.NOBLOCK))
                return notice.get("seq")
            """,
        ),
        Invalid(
            """
            from jobs import Job, JobFailed

            def next_result(sock):
                reply = sock.recv_pyobj()
                if isinstance(reply, JobFailed):
                    raise reply
                return reply
            """,
            files={
                "jobs.py": """
                import dataclasses

                @dataclasses.dataclass
                class Job:
                    name: str

                class JobFailed(RuntimeError):
                    pass
                """
            },
            expected_unsafe_fix="""
            from jobs import Job, JobFailed
            from zmqlint_runtime import serde

            serde.register(JobFailed)

            def next_result(sock):
                reply = serde.loads(sock.recv())
                if isinstance(reply, JobFailed):
                    raise reply
                return reply
            """,
        ),
        Invalid(
            """
            async def next_job(sock):
                job = await sock.recv_pyobj()
                return job
            """,
            expected_unsafe_fix="""
            from zmqlint_runtime import serde

            async def next_job(sock):
                job = serde.loads(await sock.recv())
                return job
            """,
        ),
        Invalid(
            """
            import asyncio

            async def next_job(sock):
                return await asyncio.wait_for(sock.recv_pyobj(), 1.0)
            """,
            expected_unsafe_fix=None,
        ),
    ]

    @classmethod
    def _gate_sites(cls, facts: "FileFacts") -> bool:
        # `recv_pyobj` is reported wherever it is called; otherwise a load call with an
        # argument and a `recv...` call (its source) must share a function (or the module body).
        if gate_method_calls(facts, ("recv_pyobj",)):
            return True
        sources = gate_method_calls(facts, RECV_METHODS)
        if not sources:
            return False
        sinks = gate_calls_of(facts, codemod.LOAD_FUNCTIONS | codemod.UNPICKLERS)
        return same_scope(facts, sources, [call for call in sinks if call.args or call.keywords])

    def is_source(self, call: cst.Call) -> bool:
        return method_name(call) in RECV_METHODS

    def on_call(self, call: cst.Call, taint_of) -> None:
        if (get_full_name_for_node(call.func) or "").endswith("compare_digest"):
            self.authenticated = True
        if method_name(call) == "recv_pyobj":
            self.add_site(call, frozenset(), call)
            return
        names = self.qualified(call.func)
        if not names & (codemod.LOAD_FUNCTIONS | codemod.UNPICKLERS) or not call.args:
            return
        labels = taint_of(call.args[0].value)
        if labels:
            self.add_site(call, labels, next(iter(labels)))

    def report_site(self, node: cst.Call, labels: Labels, via: cst.Call) -> None:
        if self.authenticated and method_name(node) != "recv_pyobj":
            return  # the function checks an HMAC before it unpickles: only a key holder can send
        if self.in_process([node] if method_name(node) == "recv_pyobj" else labels):
            return  # only threads of this process can write to the socket
        if method_name(node) == "recv_pyobj":
            awaited = self.awaited.get(node)
            fix = None
            if awaited is not None or not self.in_async_function():
                new = codemod.recv_pyobj_replacement(node, awaited is not None, self.reference())
                if new is not None:
                    # An awaited call is rewritten from its `await`: the await moves inside.
                    target = awaited if awaited is not None else node
                    fix = self.fix("decode with zmqlint_runtime.serde instead of pickle", {target: new}, "recv", node)
            self.report(node, self.MESSAGE.format(func="recv_pyobj"), fix=fix)
            return
        names = self.qualified(node.func)
        qualified = sorted(names & codemod.LOAD_FUNCTIONS)
        fix = None
        if qualified:
            new = codemod.loads_replacement(node, qualified[0], self.reference())
            if new is not None:
                fix = self.fix("decode with zmqlint_runtime.serde instead of pickle", {node: new}, "recv", via)
        shown = qualified[0] if qualified else sorted(names)[0]
        self.report(node, self.MESSAGE.format(func=shown), fix=fix)


# -- gates: the same questions on the stdlib ast, before the file is parsed with LibCST ------


def gate_method_calls(facts: "FileFacts", methods: Iterable[str]) -> List[ast.Call]:
    """Calls ``x.<method>(...)`` (what `method_name` answers for) of one of ``methods``."""
    return [call for call in facts.calls(*methods) if isinstance(call.func, ast.Attribute)]




def gate_import_aliases(facts: "FileFacts") -> Dict[str, Set[str]]:
    """The ``ast`` twin of `import_aliases`, from every import of the file."""
    aliases: Dict[str, Set[str]] = {}
    for node in facts.nodes(ast.Import):
        for alias in node.names:
            if alias.asname:
                aliases.setdefault(alias.asname, set()).add(alias.name)
            else:
                head = alias.name.partition(".")[0]
                aliases.setdefault(head, set()).add(head)
    for node in facts.nodes(ast.ImportFrom):
        if node.level or node.module is None or any(alias.name == "*" for alias in node.names):
            continue
        for alias in node.names:
            aliases.setdefault(alias.asname or alias.name, set()).add(f"{node.module}.{alias.name}")
    return aliases


def gate_calls_of(facts: "FileFacts", qualified: FrozenSet[str]) -> List[ast.Call]:
    """Calls whose callee may be one of ``qualified`` (the ``ast`` twin of `qualified_names`
    through the module's imports), e.g. ``pk.loads(...)``, ``unpickle(...)``."""
    aliases = gate_import_aliases(facts)
    found = []
    for call in facts.nodes(ast.Call):
        dotted = full_name(call.func)
        if not dotted:
            continue
        head, _, rest = dotted.partition(".")
        if head not in aliases:
            continue  # a plain name stands for itself (no module), a dotted one for nothing
        if any((f"{origin}.{rest}" if rest else origin) in qualified for origin in aliases[head]):
            found.append(call)
    return found


#: Above this many (call, function) pairs, `same_scope` answers True without looking.
_SCOPE_WORK_LIMIT = 200_000


def same_scope(facts: "FileFacts", firsts: List[ast.AST], seconds: List[ast.AST]) -> bool:
    """Whether some node of ``firsts`` and some of ``seconds`` may be analysed in the same
    `TaintFlow` run: the innermost ``def`` whose text holds them (decorators are outside it),
    or the module body. Every node `TaintFlow` sees in a function body is in that function's
    text and in no nested ``def``'s, so this never separates two such nodes."""
    if not firsts or not seconds:
        return False
    defs = facts.nodes(ast.FunctionDef, ast.AsyncFunctionDef)
    if len(defs) * (len(firsts) + len(seconds)) > _SCOPE_WORK_LIMIT:
        return True

    def scope(node: ast.AST) -> Optional[int]:
        where = (node.lineno, node.col_offset)
        best: Optional[ast.AST] = None
        for func in defs:
            if (func.lineno, func.col_offset) <= where <= (func.end_lineno, func.end_col_offset):
                if best is None or (func.lineno, func.col_offset) > (best.lineno, best.col_offset):
                    best = func
        return id(best) if best is not None else None

    return not {scope(node) for node in firsts}.isdisjoint(scope(node) for node in seconds)
