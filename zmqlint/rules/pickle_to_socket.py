from __future__ import annotations

import ast
from typing import FrozenSet

import libcst as cst
from libcst.helpers import get_full_name_for_node

from zmqlint.codemods import serde as codemod
from zmqlint.facts.dataflow import Labels, method_name
from zmqlint.index import ModuleInfo, dotted_name, walk
from zmqlint.model import Applicability, Severity
from zmqlint.rule import Invalid, Valid
from zmqlint.rules.pickle_from_socket import PickleSocketRule, gate_calls_of, gate_method_calls, same_scope

#: Socket methods that put their argument on the wire.
SEND_METHODS = frozenset({"send", "send_multipart", "sendall", "sendto", "send_bytes", "send_serialized"})


class PickleToSocket(PickleSocketRule):
    """Flags pickled data sent on a socket.

    ## What it does
    Reports `pickle.dumps` (also `cPickle`, `_pickle`, `dill`, `cloudpickle`, `marshal`, under
    any import alias) whose result, within the same function, is sent with `send`,
    `send_multipart`, `sendall` or `sendto` (directly, through variables, or inside a frame
    list), and `sock.send_pyobj(obj)`. A pickle the same function signs with an HMAC
    (`hmac.new`, `hmac.HMAC`, or a helper of the module computing one), which the receiver
    checks before unpickling (see SER201), is not reported; nor is a socket attached only on
    `inproc://` endpoints (its readers are threads of this process, as SER201 describes), nor
    a test's round trip through its own socket pair (as SER201 describes).

    ## Why is this bad?
    A pickle on the wire is only useful to a receiver that unpickles it, and unpickling runs
    code chosen by the sender: the receiving end is open to anyone who can reach its socket
    (SER201). Sending pickles also pins every peer to Python and to compatible class
    definitions.

    ## Example
    ```python
    pub.send(pickle.dumps({"seq": seq, "samples": samples}))
    ```

    ## Use instead
    ```python
    from zmqlint_runtime import serde

    pub.send(serde.dumps({"seq": seq, "samples": samples}))
    ```

    ## Fix safety
    Unsafe: the wire format changes, so every receiver must switch to
    `zmqlint_runtime.serde.loads` in the same release (SER201 converts the receivers; the run
    warns about converted channels whose other end it did not see). Plain data, numpy arrays
    of numeric dtypes, datetimes, sets and tuples travel as they are; dataclasses, pydantic
    models, enums, NamedTuples and exceptions travel once the receiver registers them: the fix
    adds `serde.register(...)` next to the serde import for the classes the code shows
    (constructed at the send site, the return annotation of the function whose result is
    sent, the annotation of a sent parameter, the class of a sent `except X as error`, and the
    fields of those dataclasses), and the run's summary names the sent values whose type it
    cannot see. Anything else raises `serde.UnsupportedType` at the sender.
    """

    CODE = "SER202"
    NAME = "pickle-to-socket"
    SEVERITY = Severity.HIGH
    MESSAGE = "`{func}` sent on a socket: the receiver must unpickle it, which lets any sender run code there"
    FIXES = (Applicability.UNSAFE,)
    #: Every finding needs a `send...` call (the sink, or `send_pyobj` itself).
    PREFILTER = ("send",)

    VALID = [
        Valid(
            """
            # Every caller hands the helper an inproc:// address: only threads of this process read it.
            import zmq

            class Agent:
                def __init__(self):
                    self.context = zmq.Context.instance()

                def _loopback(self, address, request):
                    loopback = self.context.socket(zmq.REQ)
                    loopback.connect(address)
                    loopback.send_pyobj(request)
                    return loopback.recv()

                def stop(self):
                    return self._loopback("inproc://control", "stop")
            """
        ),
        Valid(
            """
            # Signed with an HMAC the receiver verifies before it unpickles (SER201's exemption).
            import hashlib
            import hmac
            import pickle

            def send_signed(sock, key, obj):
                payload = pickle.dumps(obj)
                signature = hmac.new(key, payload, hashlib.sha256).digest()
                sock.send_multipart([signature, payload])
            """
        ),
        Valid(
            """
            import hmac
            import pickle
            import zlib
            from hashlib import sha256

            class SigningSocket:
                def sign(self, buffer):
                    return hmac.HMAC(self.key, buffer, sha256).digest()

                def send_zipped_pickle(self, obj):
                    zobj = zlib.compress(pickle.dumps(obj))
                    self.sock.send(self.sign(zobj), 2)
                    return self.sock.send(zobj)
            """
        ),
        Valid(
            """
            import pickle

            def save(state, path):
                with open(path, "wb") as f:
                    f.write(pickle.dumps(state))
            """
        ),
        Valid(
            """
            import json
            import pickle

            def publish(pub, event, cache):
                cache[event["id"]] = pickle.dumps(event)
                pub.send(json.dumps(event).encode())
            """
        ),
        Valid(
            """
            class Socket:
                def send_pyobj(self, obj, flags=0, protocol=2):
                    msg = pickle.dumps(obj, protocol)
                    return self.send(msg, flags)
            """
        ),
    ]

    INVALID = [
        Invalid(
            """
            import pickle

            def publish_frame(pub, frame):
                pub.send(pickle.dumps(frame))
            """,
            line=4,
            column=14,
            end_column=33,
            expected_fix=None,
            expected_unsafe_fix="""
            from zmqlint_runtime import serde

            def publish_frame(pub, frame):
                pub.send(serde.dumps(frame))
            """,
        ),
        Invalid(
            """
            import cPickle as pickle

            def publish(pub, topic, event):
                body = pickle.dumps(event, protocol=2)
                frames = [topic]
                frames.append(body)
                pub.send_multipart(frames)
            """,
            message_contains="cPickle.dumps",
            expected_unsafe_fix="""
            from zmqlint_runtime import serde

            def publish(pub, topic, event):
                body = serde.dumps(event)
                frames = [topic]
                frames.append(body)
                pub.send_multipart(frames)
            """,
        ),
        Invalid(
            """
            import zmq

            class Handler:
                def announce(self, seq):
                    self.interrupt_pub.send_pyobj(
                        {"type": "interrupt", "seq": seq}, zmq.NOBLOCK, protocol=4
                    )
            """,
            message_contains="send_pyobj",
            expected_unsafe_fix="""
            import zmq
            from zmqlint_runtime import serde

            class Handler:
                def announce(self, seq):
                    self.interrupt_pub.send(
                        serde.dumps({"type": "interrupt", "seq": seq}), zmq.NOBLOCK
                    )
            """,
        ),
        Invalid(
            """
            import dataclasses
            import zmq

            @dataclasses.dataclass
            class TokenResult:
                token: int
                text: str

            def stream(sock, tokens):
                for token, text in tokens:
                    sock.send_pyobj(TokenResult(token, text), zmq.SNDMORE)
                sock.send_pyobj(None)
            """,
            count=2,
            expected_unsafe_fix="""
            import dataclasses
            import zmq
            from zmqlint_runtime import serde

            @dataclasses.dataclass
            class TokenResult:
                token: int
                text: str


            serde.register(TokenResult)

            def stream(sock, tokens):
                for token, text in tokens:
                    sock.send(serde.dumps(TokenResult(token, text)), zmq.SNDMORE)
                sock.send(serde.dumps(None))
            """,
        ),
        Invalid(
            """
            from dill import dumps

            async def reply(sock, result):
                await sock.send(dumps(result))
            """,
            expected_unsafe_fix="""
            from zmqlint_runtime import serde

            async def reply(sock, result):
                await sock.send(serde.dumps(result))
            """,
        ),
    ]

    @classmethod
    def _gate_sites(cls, facts) -> bool:
        # `send_pyobj` is reported wherever it is called; otherwise a dump call (the source)
        # and a send call with an argument must share a function (or the module body).
        if gate_method_calls(facts, ("send_pyobj",)):
            return True
        sinks = [call for call in gate_method_calls(facts, SEND_METHODS) if call.args or call.keywords]
        if not sinks:
            return False
        return same_scope(facts, gate_calls_of(facts, codemod.DUMP_FUNCTIONS), sinks)

    def is_source(self, call: cst.Call) -> bool:
        return bool(self.qualified(call.func) & codemod.DUMP_FUNCTIONS)

    def on_call(self, call: cst.Call, taint_of) -> None:
        if self._signs(call):
            self.authenticated = True
        method = method_name(call)
        if method == "send_pyobj":
            self.add_site(call, frozenset(), call)
        elif method in SEND_METHODS and call.args:
            for label in taint_of(call.args[0].value):
                self.add_site(label, frozenset({call}), call)

    def _signs(self, call: cst.Call) -> bool:
        """An HMAC computed here (``hmac.new``, ``hmac.HMAC``, ``hmac.digest``), directly or by a
        function or method of this module that the call names (``self.sign(payload)``)."""
        if any(name.startswith("hmac.") for name in self.qualified(call.func)):
            return True
        name = get_full_name_for_node(call.func) or ""
        module = self.context.module_info
        if module is None:
            return False
        helpers = self.context.index.memo(("ser.hmac_helpers", str(module.path)), lambda: _hmac_helpers(module))
        return name.rpartition(".")[2] in helpers

    def report_site(self, node: cst.Call, labels: Labels, via: cst.Call) -> None:
        if self.authenticated and method_name(node) != "send_pyobj":
            return  # signed with an HMAC the receiver checks (SER201's exemption): only a key holder can forge one
        if self.in_process([node] if method_name(node) == "send_pyobj" else labels):
            return  # only threads of this process can read the socket
        if method_name(node) == "send_pyobj":
            new = codemod.send_pyobj_replacement(node, self.reference())
            fix = new and self.fix("encode with zmqlint_runtime.serde instead of pickle", {node: new}, "send", node)
            self.report(node, self.MESSAGE.format(func="send_pyobj"), fix=fix)
            return
        qualified = sorted(self.qualified(node.func) & codemod.DUMP_FUNCTIONS)
        new = codemod.dumps_replacement(node, self.reference())
        fix = new and self.fix("encode with zmqlint_runtime.serde instead of pickle", {node: new}, "send", via)
        self.report(node, self.MESSAGE.format(func=qualified[0]), fix=fix)


def _hmac_helpers(module: ModuleInfo) -> FrozenSet[str]:
    """Names of the functions and methods of ``module`` that compute an HMAC themselves."""
    functions = [*module.functions.values(), *(m for c in module.classes.values() for m in c.methods.values())]
    return frozenset(
        f.name for f in functions
        if any(
            isinstance(n, ast.Call) and module.qualified_name(dotted_name(n.func) or "").startswith("hmac.")
            for n in walk(f.node)
        )
    )
