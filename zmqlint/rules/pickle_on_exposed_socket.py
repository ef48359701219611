from __future__ import annotations

from typing import List, Optional, Tuple

import libcst as cst
from libcst.helpers import get_full_name_for_node
from libcst.metadata import PositionProvider

from zmqlint.codemods import serde as codemod
from zmqlint.facts import exposure as facts
from zmqlint.facts.dataflow import Labels
from zmqlint.model import Applicability, Fix, Severity
from zmqlint.rule import Invalid, Rule, Valid
from zmqlint.rules.pickle_from_socket import PickleFromSocket
from zmqlint.rules.pickle_to_socket import PickleToSocket


class PickleOnExposedSocket(Rule):
    """Flags pickle over a socket that is bound or connected on a network address.

    ## What it does
    Reports what SER201 (`pickle.loads` of received data, `recv_pyobj`) and SER202
    (`pickle.dumps` sent, `send_pyobj`) report, where the socket is bound or connected on a
    network address: `tcp://*` / `tcp://0.0.0.0` (every interface), a named interface or a
    non-loopback address, a host name (or a TCP host chosen at run time) to connect to, a
    multicast or websocket transport, or an
    address read from configuration (`os.environ`, `os.getenv`, `sys.argv`, a `config` /
    `settings` / `args` object) without a local default. The socket's `bind` / `connect` calls
    are found across the class hierarchy, and its endpoint is resolved through attributes,
    f-strings, module constants (across modules) and configuration reads. The message says how
    far the hole reaches.

    On `ipc://` and loopback addresses, on endpoints zmqlint cannot resolve, and on sockets
    that set up CURVE authentication, SER203 stays silent: the finding is SER201's or SER202's,
    with their severity. A socket attached only on `inproc://` is no hole at all (its peers
    are threads of this process): none of the three reports it.

    One hole, one finding: when SER203 reports a site, the SER201 / SER202 finding of the same
    site is not reported (it would describe the same line and the same hole). Selecting only
    SER201 or SER202 still reports every site, exposed or not; codes stay independent for
    `--select`, `--ignore` and `# noqa` (an exposed line needs `# noqa: SER203`).

    ## Why is this bad?
    Unpickling runs code chosen by whoever wrote the bytes. On a network address, that is
    anyone who can reach the port (every host on the network for `tcp://*`), or whoever
    answers at, or sits between this host and, the address it connects to: plain ZeroMQ TCP is
    neither authenticated nor encrypted. vLLM's shared-memory broadcast (CVE-2025-30165) and
    llama-stack's inference workers (CVE-2024-50050) ran pickles received over TCP this way.

    ## Example
    ```python
    rep = ctx.socket(zmq.REP)
    rep.bind("tcp://*:5555")
    request = rep.recv_pyobj()
    ```

    ## Use instead
    ```python
    from zmqlint_runtime import serde

    rep = ctx.socket(zmq.REP)
    rep.bind("tcp://*:5555")
    request = serde.loads(rep.recv())
    ```
    Set `ZMQ_SERDE_KEY` on both ends so that messages are signed and checked, and bind to the
    interface the peers use rather than to every one.

    ## Fix safety
    As SER201 / SER202 (the same fix): unsafe, because the wire format changes and every peer
    must switch to `zmqlint_runtime.serde` in the same release; the classes the channel shows
    are registered with `serde.register`.
    """

    CODE = "SER203"
    NAME = "pickle-on-exposed-socket"
    SEVERITY = Severity.CRITICAL
    MESSAGE = "pickle over a socket on a network address lets any host that reaches it run code"
    RECEIVED = "`{func}` of data from a socket {where}: {who} can run code on this host"
    SENT = "`{func}` sent on a socket {where}: {who}"
    FIXES = (Applicability.UNSAFE,)
    #: The findings of SER201 / SER202 at a site this rule reports are dropped (see the docs).
    SUPERSEDES = ("SER201", "SER202")
    PREFILTER = ("recv", "send")
    RUN_NOTES = staticmethod(codemod.channel_notes)

    VALID = [
        Valid(
            """
            import zmq

            def worker(ctx):
                pair = ctx.socket(zmq.PAIR)
                pair.connect("inproc://jobs")
                return pair.recv_pyobj()
            """
        ),
        Valid(
            """
            import pickle
            import zmq

            def serve(ctx):
                rep = ctx.socket(zmq.REP)
                rep.bind("tcp://127.0.0.1:5555")
                return pickle.loads(rep.recv())
            """
        ),
        Valid(
            """
            import zmq

            class Server:
                def __init__(self, ctx, endpoint):
                    self.sock = ctx.socket(zmq.REP)
                    self.sock.bind(endpoint)

                def next_request(self):
                    return self.sock.recv_pyobj()
            """
        ),
        Valid(
            """
            import os
            import zmq

            def serve(ctx):
                rep = ctx.socket(zmq.REP)
                rep.bind(os.environ.get("JOBS_ENDPOINT", "ipc:///run/jobs.sock"))
                return rep.recv_pyobj()
            """
        ),
        Valid(
            """
            import zmq

            def serve(ctx, server_secret):
                rep = ctx.socket(zmq.REP)
                rep.curve_secretkey = server_secret
                rep.curve_server = True
                rep.bind("tcp://*:5555")
                return rep.recv_pyobj()
            """
        ),
        Valid(
            """
            import pickle
            import zmq

            class Writer:
                def __init__(self, ctx, interface, port):
                    self.rep = ctx.socket(zmq.REP)
                    self.rep.bind(f"tcp://{interface}:{port}")

                def __call__(self):
                    return pickle.loads(self.rep.recv())
            """
        ),
    ]

    INVALID = [
        Invalid(
            """
            import pickle
            import zmq

            class Reader:
                def __init__(self, ctx, writer_host, port):
                    self.sub = ctx.socket(zmq.SUB)
                    self.sub.connect(f"tcp://{writer_host}:{port}")

                def __call__(self):
                    return pickle.loads(self.sub.recv())
            """,
            message_contains="connected to `f'tcp://{writer_host}:{port}'`",
            expected_unsafe_fix="""
            import zmq
            from zmqlint_runtime import serde

            class Reader:
                def __init__(self, ctx, writer_host, port):
                    self.sub = ctx.socket(zmq.SUB)
                    self.sub.connect(f"tcp://{writer_host}:{port}")

                def __call__(self):
                    return serde.loads(self.sub.recv())
            """,
        ),
        Invalid(
            """
            import zmq

            def serve(ctx):
                rep = ctx.socket(zmq.REP)
                rep.bind("tcp://*:5555")
                return rep.recv_pyobj()
            """,
            line=6,
            column=12,
            message_contains="bound on every network interface (`tcp://*:5555`): any host that can reach port 5555 can run",
            expected_unsafe_fix="""
            import zmq
            from zmqlint_runtime import serde

            def serve(ctx):
                rep = ctx.socket(zmq.REP)
                rep.bind("tcp://*:5555")
                return serde.loads(rep.recv())
            """,
        ),
        Invalid(
            """
            import pickle
            import zmq

            BROADCAST_PORT = 6001

            class Broadcaster:
                def __init__(self, ctx):
                    self.pub = ctx.socket(zmq.PUB)
                    self.pub.bind(f"tcp://*:{BROADCAST_PORT}")

                def publish(self, obj):
                    self.pub.send(pickle.dumps(obj))
            """,
            message_contains="`pickle.dumps` sent on a socket bound on every network interface",
            expected_unsafe_fix="""
            import zmq
            from zmqlint_runtime import serde

            BROADCAST_PORT = 6001

            class Broadcaster:
                def __init__(self, ctx):
                    self.pub = ctx.socket(zmq.PUB)
                    self.pub.bind(f"tcp://*:{BROADCAST_PORT}")

                def publish(self, obj):
                    self.pub.send(serde.dumps(obj))
            """,
        ),
        Invalid(
            """
            import os
            import zmq

            def worker(ctx):
                req = ctx.socket(zmq.REQ)
                req.connect(os.environ["SCHEDULER_ADDRESS"])
                req.send_pyobj("ready")
                return req.recv_pyobj()
            """,
            count=2,
            message_contains="connected to `os.environ['SCHEDULER_ADDRESS']`",
            expected_unsafe_fix="""
            import os
            import zmq
            from zmqlint_runtime import serde

            def worker(ctx):
                req = ctx.socket(zmq.REQ)
                req.connect(os.environ["SCHEDULER_ADDRESS"])
                req.send(serde.dumps("ready"))
                return serde.loads(req.recv())
            """,
        ),
        Invalid(
            """
            import zmq

            def serve(ctx, settings):
                rep = ctx.socket(zmq.REP)
                rep.bind(settings.jobs_endpoint)
                return rep.recv_pyobj()
            """,
            message_contains="an address from configuration (`settings.jobs_endpoint`) with no local default",
            expected_unsafe_fix="""
            import zmq
            from zmqlint_runtime import serde

            def serve(ctx, settings):
                rep = ctx.socket(zmq.REP)
                rep.bind(settings.jobs_endpoint)
                return serde.loads(rep.recv())
            """,
        ),
        Invalid(
            """
            import zmq

            class KVReceiver:
                def __init__(self, ctx, config):
                    self.pull = ctx.socket(zmq.PULL)
                    self.pull.connect(f"tcp://{config.prefill_host}:{config.port}")

                def receive(self):
                    return self.pull.recv_pyobj()
            """,
            message_contains="connected to `f'tcp://{config.prefill_host}:{config.port}'`",
            expected_unsafe_fix="""
            import zmq
            from zmqlint_runtime import serde

            class KVReceiver:
                def __init__(self, ctx, config):
                    self.pull = ctx.socket(zmq.PULL)
                    self.pull.connect(f"tcp://{config.prefill_host}:{config.port}")

                def receive(self):
                    return serde.loads(self.pull.recv())
            """,
        ),
    ]

    @classmethod
    def gate(cls, facts_) -> bool:
        return PickleFromSocket.gate(facts_) or PickleToSocket.gate(facts_)

    def __init__(self, context) -> None:
        super().__init__(context)
        self.inner: List[_Sites] = [_ReceivedSites(context), _SentSites(context)]

    def visit_Module(self, node: cst.Module) -> None:
        for inner in self.inner:
            inner.metadata = self.metadata
            inner.visit_Module(node)
        self._report(node)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        for inner in self.inner:
            inner.visit_FunctionDef(node)
        self._report(node)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        for inner in self.inner:
            inner.leave_FunctionDef(original_node)

    def _report(self, scope: cst.CSTNode) -> None:
        for inner in self.inner:
            for node, func, fix, sockets in inner.found:
                exposure = self._exposure(sockets)
                if exposure is not None:
                    template = self.RECEIVED if inner.direction == "recv" else self.SENT
                    where, who = describe(exposure, inner.direction)
                    self.report(node, template.format(func=func, where=where, who=who), fix=fix)
            inner.found.clear()

    def _exposure(self, sockets: List[cst.Call]) -> Optional[facts.Exposure]:
        found = []
        for call in sockets:
            if not isinstance(call.func, cst.Attribute):
                continue
            socket = get_full_name_for_node(call.func.value)
            line = self.get_metadata(PositionProvider, call).start.line
            exposure = facts.socket_exposure(self.context.index, self.context.module_info, line, socket)
            if exposure is not None:
                found.append(exposure)
        return min(found, key=lambda e: facts.REACH_ORDER.index(e.reach)) if found else None


def describe(exposure: facts.Exposure, direction: str) -> Tuple[str, str]:
    """Where the socket is attached, and who can run code because of it, for the message."""
    endpoint = f"`{exposure.endpoint}`"
    port = f"port {exposure.port}" if exposure.port else "its port"
    default = f" by default ({exposure.source} defaults to {exposure.by_default!r})" if exposure.by_default else ""
    unauthenticated = "(plain ZeroMQ TCP is neither authenticated nor encrypted)"
    if exposure.reach == facts.EVERY_INTERFACE:
        where = f"bound on every network interface ({endpoint}){default}"
    elif exposure.reach == facts.INTERFACE:
        where = f"bound on the network address {endpoint}{default}"
    elif exposure.reach == facts.REMOTE:
        where = f"connected to {endpoint}{default}"
    else:
        where = f"attached to an address from configuration (`{exposure.source}`) with no local default"
    if direction == "recv":
        if exposure.reach == facts.EVERY_INTERFACE:
            who = f"any host that can reach {port}"
        elif exposure.reach == facts.INTERFACE:
            who = f"any host that can reach {exposure.host} on {port}"
        elif exposure.reach == facts.REMOTE:
            who = f"whoever answers at that address, or sits on the network path to it {unauthenticated},"
        else:
            who = "wherever the configuration points it, any host that can reach that address"
        return where, who
    # Sending: the hole is at the peers, which unpickle what comes over the network.
    if exposure.reach == facts.REMOTE:
        return where, "the peer listening there unpickles it, and any host that can reach that address can send it pickles too and run code on it"
    if exposure.reach == facts.CONFIGURED:
        return where, "the peers unpickle it, and wherever the configuration points it, whoever can reach them or pose as this end can run code on them"
    return where, (
        f"the peers unpickle it, so whoever can pose as this address or sits on the path to them can run code on them "
        f"{unauthenticated}, and any host that reaches {port} can read it"
    )


class _Sites:
    """SER201's or SER202's analysis, keeping each site it would report (with its fix and
    the socket calls its data passes through) for SER203 to judge, instead of reporting."""

    CODE = ""  # not a rule of its own: the registry skips classes without a code
    direction = ""

    def __init__(self, context) -> None:
        super().__init__(context)
        self.found: List[Tuple[cst.CSTNode, str, Optional[Fix], List[cst.Call]]] = []
        self._site: Optional[Tuple[cst.Call, Labels, cst.Call]] = None

    def report_site(self, node: cst.Call, labels: Labels, via: cst.Call) -> None:
        self._site = (node, labels, via)
        super().report_site(node, labels, via)

    def report(self, node, message=None, *, fix=None, severity=None, position=None) -> None:
        site, labels, via = self._site
        # The sockets the data passes through: the receives a load reads, the sends a dump
        # reaches, or the `recv_pyobj` / `send_pyobj` call itself.
        sockets = [site] if not labels else sorted(labels, key=id)
        func = message.partition("`")[2].partition("`")[0] if message else ""
        self.found.append((node, func, fix, [c for c in sockets if isinstance(c, cst.Call)]))


class _ReceivedSites(_Sites, PickleFromSocket):
    CODE = ""
    direction = "recv"


class _SentSites(_Sites, PickleToSocket):
    CODE = ""
    direction = "send"
