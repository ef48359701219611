"""Which flavour a socket is (`zmqlint.facts.socket_flavours`), as ASY304 and ASY305 see it.

Each case is a small module shaped like real service code; the findings of both codes are
listed by (code, line). Spellings of the import, contexts kept on `self`, sockets made in
another method or by a factory method, a base class in another module; and the shapes that
must stay silent: a socket whose flavour is not known (a parameter, a context that may be
either), a call in a nested `def` or `lambda`, a read that follows a poll, non-blocking reads,
Futures collected or handed to asyncio.
"""

from __future__ import annotations

import pytest

from conftest import findings_of, lint_tree, write_tree

CASES = {
    "spellings-of-the-asyncio-import": (
        """
        import zmq
        import zmq.asyncio as zaio
        from zmq import asyncio as zasync
        from zmq.asyncio import Context, Poller

        async def a():
            msg = zaio.Context().socket(zmq.PULL).recv()
            return msg.decode()

        async def b():
            sock = zasync.Context.instance().socket(zmq.PULL)
            return sock.recv_multipart()[0]

        async def c():
            sock = Context().socket(zmq.PULL)
            poller = Poller()
            poller.register(sock, zmq.POLLIN)
            if poller.poll(100):
                pass
        """,
        [("ASY305", 7), ("ASY305", 12), ("ASY305", 18)],
    ),
    "spellings-of-the-plain-context": (
        """
        import zmq
        from zmq import Context, Socket, PULL

        CTX = Context.instance()

        async def a():
            return CTX.socket(PULL).recv()

        async def b():
            with zmq.Context() as ctx, ctx.socket(zmq.PULL) as sock:
                return sock.recv_string()

        async def c():
            return Socket(zmq.asyncio.Context(), PULL).recv_json()
        """,
        [("ASY304", 7), ("ASY304", 11), ("ASY304", 14)],
    ),
    "a-socket-class-given-to-a-plain-context": (
        """
        import zmq
        import zmq.asyncio

        async def a(endpoint):
            sock = zmq.Context.instance().socket(zmq.PULL, socket_class=zmq.asyncio.Socket)
            sock.connect(endpoint)
            data = sock.recv()
            return len(data)
        """,
        [("ASY305", 7)],
    ),
    "context-in-init-socket-in-another-method-factory-method": (
        """
        import zmq

        class Collector:
            def __init__(self):
                self.ctx = zmq.Context.instance()

            def _pull(self):
                return self.ctx.socket(zmq.PULL)

            def start(self, endpoint):
                self.results = self._pull()
                self.results.bind(endpoint)

            async def collect(self, n):
                return [self.results.recv_pyobj() for _ in range(n)]
        """,
        [("ASY304", 15)],
    ),
    "unknown-flavour-is-silent": (
        """
        import zmq
        import zmq.asyncio

        def make_context(aio):
            return zmq.asyncio.Context() if aio else zmq.Context()

        class Client:
            def __init__(self, ctx=None, use_asyncio=False):
                self.ctx = ctx or zmq.Context.instance()
                self.other = make_context(use_asyncio)

            async def call(self, sock):
                sock.send(b"x")
                a = self.ctx.socket(zmq.REQ).recv()
                b = self.other.socket(zmq.REQ).recv()
                return sock.recv(), a, b
        """,
        [],
    ),
    "nested-def-lambda-executor-and-non-blocking-reads": (
        """
        import asyncio
        import zmq

        ctx = zmq.Context()

        async def read(endpoint):
            sock = ctx.socket(zmq.PULL)
            sock.connect(endpoint)
            loop = asyncio.get_running_loop()
            first = await loop.run_in_executor(None, sock.recv)
            second = await asyncio.to_thread(lambda: sock.recv())

            def third():
                return sock.recv_multipart()

            rest = [sock.recv(zmq.NOBLOCK), sock.recv(flags=zmq.DONTWAIT), sock.poll(0), sock.poll(timeout=0)]
            later = [read for read in map(lambda _: sock.recv(), range(2))]
            return first, second, await asyncio.to_thread(third), rest, later
        """,
        [],
    ),
    "a-read-after-a-poll-is-the-polls": (
        """
        import zmq

        ctx = zmq.Context()

        async def drain(endpoint):
            sock = ctx.socket(zmq.PULL)
            sock.connect(endpoint)
            if not sock.poll(250):
                return None
            return sock.recv()

        async def drain_all(endpoint, poller):
            sock = ctx.socket(zmq.PULL)
            sock.connect(endpoint)
            events = dict(await poller.poll())
            while sock in events:
                yield sock.recv()
        """,
        [("ASY304", 8)],
    ),
    "sends-on-plain-sockets-are-not-reported": (
        """
        import zmq

        ctx = zmq.Context()

        async def publish(endpoint, events):
            pub = ctx.socket(zmq.PUB)
            pub.bind(endpoint)
            for event in events:
                pub.send_json(event)
        """,
        [],
    ),
    "futures-handled-as-futures": (
        """
        import asyncio
        import zmq
        import zmq.asyncio

        ctx = zmq.asyncio.Context()

        async def race(endpoints, timeout):
            socks = [ctx.socket(zmq.DEALER) for _ in endpoints]
            sock = ctx.socket(zmq.DEALER)
            pending = {sock.recv()}
            first = asyncio.ensure_future(sock.recv_multipart())
            first.add_done_callback(print)
            reply = sock.recv()
            done = await asyncio.wait_for(reply, timeout)
            later = sock.recv()
            await later
            self_kept = {"fut": sock.recv()}
            return done, pending, self_kept, await asyncio.gather(sock.poll(100), sock.send(b"x"))

        def wrapper():
            sock = ctx.socket(zmq.PUSH)
            sock.send(b"fire and forget")
            return sock.recv()
        """,
        [],
    ),
    "base-class-in-another-module": (
        {
            "svc/__init__.py": "",
            "svc/base.py": """
                import zmq.asyncio

                class Agent:
                    def __init__(self):
                        self.context = zmq.asyncio.Context.instance()
                """,
        },
        "svc/worker.py",
        """
        import zmq
        from .base import Agent

        class Worker(Agent):
            def connect(self, endpoint):
                self.jobs = self.context.socket(zmq.PULL)
                self.jobs.connect(endpoint)

            async def run(self):
                while True:
                    job = self.jobs.recv_json()
                    print(job["id"])
        """,
        [("ASY305", 11)],
    ),
}


def _case(value):
    if len(value) == 2:
        return {}, "snippet.py", value[0], value[1]
    return value


@pytest.mark.parametrize("name", list(CASES))
def test_flavours_as_the_rules_see_them(name, tmp_path):
    files, path, code, expected = _case(CASES[name])
    write_tree(tmp_path, {**files, path: code})
    result = lint_tree(tmp_path, select=["ASY304", "ASY305"], paths=[path])
    assert not result.errors
    assert [(f.code, f.line) for f in findings_of(result)] == expected


# -- the gates ask the rules' own question on the index's `ast` --------------------------------


def _gate_admits(root, path: str, code: str) -> bool:
    from zmqlint.config import Config
    from zmqlint.engine import Engine
    from zmqlint.gates import FileFacts
    from zmqlint.rules import all_rules

    config = Config.from_table({}, root=root)
    target = root / path
    facts = FileFacts(path=target, text=target.read_text(encoding="utf-8"), index=Engine(config).index, config=config)
    return all_rules()[code].gate(facts)


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("code", ["ASY304", "ASY305"])
def test_the_gates_admit_exactly_the_files_with_a_finding(name, code, tmp_path):
    # A file without a finding of the rule is never parsed with LibCST for it.
    files, path, source, expected = _case(CASES[name])
    write_tree(tmp_path, {**files, path: source})
    assert _gate_admits(tmp_path, path, code) == any(c == code for c, _ in expected)


@pytest.mark.parametrize("code", ["ASY304", "ASY305"])
def test_the_gates_turn_away_every_valid_example(code, tmp_path):
    from zmqlint.rules import all_rules

    for number, example in enumerate(all_rules()[code].VALID):
        root = tmp_path / str(number)
        write_tree(root, {**example.files, example.path: example.code})
        assert not _gate_admits(root, example.path, code), number
