"""ASY304 and ASY305 proven on real pyzmq sockets over 127.0.0.1, in real asyncio loops.

ASY304: a coroutine that receives on a plain `zmq.Context` socket holds the event loop for as
long as `recv()` waits: a ticker task beside it does not tick once in those 300 ms (the
socket's RCVTIMEO bounds the wait). The same coroutine on a `zmq.asyncio` socket, awaited,
lets the ticker run all along.

ASY305: a coroutine that calls `recv()` on a `zmq.asyncio` socket without `await` gets an
`asyncio.Future`, not the bytes; the code that then uses it as bytes raises TypeError and the
client never gets its reply. The file is then fixed by `zmqlint --fix` (the command line, in a
subprocess), and the fixed code, run against the same kind of peer, receives the bytes and
answers.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict

import pytest
import zmq
import zmq.asyncio

from conftest import findings_of, lint_tree, write_tree

pytestmark = pytest.mark.timeout(120)


def _load(path: Path) -> Dict[str, object]:
    namespace: Dict[str, object] = {"__name__": "snippet"}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    return namespace


def _codes(root: Path):
    return [(f.code, f.line) for f in findings_of(lint_tree(root, select=["ASY304", "ASY305"]))]


# -- ASY304 -----------------------------------------------------------------------------------

BLOCKING = """
import zmq

ctx = zmq.Context()


async def next_job(endpoint):
    sock = ctx.socket(zmq.PULL)
    sock.setsockopt(zmq.RCVTIMEO, 300)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    try:
        return sock.recv()
    except zmq.Again:
        return None
    finally:
        sock.close()
"""

# The rule's "Use instead": the same coroutine on a zmq.asyncio socket (no automatic fix).
NON_BLOCKING = """
import zmq
import zmq.asyncio


async def next_job(endpoint):
    ctx = zmq.asyncio.Context.instance()
    sock = ctx.socket(zmq.PULL)
    sock.setsockopt(zmq.RCVTIMEO, 300)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    try:
        return await sock.recv()
    except zmq.Again:
        return None
    finally:
        sock.close()
"""


async def _ticks_while(job_coroutine_factory, endpoint: str):
    """(ticks of a 10 ms ticker while the job ran, the job's result, seconds it took)."""
    ticks = 0

    async def ticker():
        nonlocal ticks
        for _ in range(1000):  # bounded: 10 s at most
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    try:
        await asyncio.sleep(0.05)  # the ticker is running
        before = ticks
        started = time.monotonic()
        result = await asyncio.wait_for(job_coroutine_factory(endpoint), 5)
        elapsed = time.monotonic() - started
        return ticks - before, result, elapsed
    finally:
        task.cancel()


def _silent_peer():
    """A PUSH peer bound on 127.0.0.1 that never sends."""
    ctx = zmq.Context()
    push = ctx.socket(zmq.PUSH)
    push.setsockopt(zmq.LINGER, 0)
    port = push.bind_to_random_port("tcp://127.0.0.1")
    return ctx, push, f"tcp://127.0.0.1:{port}"


def test_asy304_a_plain_recv_in_a_coroutine_starves_the_loop_and_zmq_asyncio_does_not(tmp_path):
    buggy, fixed = tmp_path / "buggy", tmp_path / "fixed"
    write_tree(buggy, {"snippet.py": BLOCKING})
    write_tree(fixed, {"snippet.py": NON_BLOCKING})
    assert _codes(buggy) == [("ASY304", 12)]
    assert _codes(fixed) == []

    ctx, push, endpoint = _silent_peer()
    try:
        starved, result, elapsed = asyncio.run(_ticks_while(_load(buggy / "snippet.py")["next_job"], endpoint))
        assert result is None and elapsed >= 0.25  # recv() waited its RCVTIMEO out ...
        assert starved <= 1  # ... and no other task ran meanwhile

        ran, result, elapsed = asyncio.run(_ticks_while(_load(fixed / "snippet.py")["next_job"], endpoint))
        assert result is None and elapsed >= 0.25  # the same wait ...
        assert ran >= 5  # ... during which the ticker kept ticking (about 30 times)
        zmq.asyncio.Context.instance().term()
    finally:
        push.close()
        ctx.term()


# -- ASY305 -----------------------------------------------------------------------------------

UNAWAITED = """
import zmq
import zmq.asyncio


class EchoServer:
    def __init__(self):
        self.ctx = zmq.asyncio.Context()
        self.sock = self.ctx.socket(zmq.REP)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.port = self.sock.bind_to_random_port("tcp://127.0.0.1")

    async def next_request(self):
        request = self.sock.recv()
        return request

    async def serve_one(self):
        request = await self.next_request()
        await self.sock.send(b"echo:" + request)

    def close(self):
        self.sock.close()
        self.ctx.term()
"""


async def _client(port: int):
    ctx = zmq.asyncio.Context()
    req = ctx.socket(zmq.REQ)
    req.setsockopt(zmq.LINGER, 0)
    req.connect(f"tcp://127.0.0.1:{port}")
    return ctx, req


async def _buggy_run(namespace):
    server = namespace["EchoServer"]()
    ctx, client = await _client(server.port)
    try:
        await asyncio.wait_for(client.send(b"ping"), 2)
        result = await asyncio.wait_for(server.next_request(), 2)
        assert isinstance(result, asyncio.Future) and not isinstance(result, bytes)
        assert await asyncio.wait_for(result, 2) == b"ping"  # the message sat in the Future
    finally:
        client.close()
        ctx.term()
        server.close()

    server = namespace["EchoServer"]()
    ctx, client = await _client(server.port)
    try:
        await asyncio.wait_for(client.send(b"ping"), 2)
        with pytest.raises(TypeError, match="Future"):
            await asyncio.wait_for(server.serve_one(), 2)  # b"echo:" + <Future>
        assert await client.poll(300) == 0  # and the client never gets an answer
    finally:
        client.close()
        ctx.term()
        server.close()


async def _fixed_run(namespace):
    server = namespace["EchoServer"]()
    ctx, client = await _client(server.port)
    try:
        await asyncio.wait_for(client.send(b"ping"), 2)
        await asyncio.wait_for(server.serve_one(), 2)
        assert await asyncio.wait_for(client.recv(), 2) == b"echo:ping"
        await asyncio.wait_for(client.send(b"again"), 2)
        request = await asyncio.wait_for(server.next_request(), 2)
        assert request == b"again" and isinstance(request, bytes)
    finally:
        client.close()
        ctx.term()
        server.close()


def test_asy305_an_unawaited_recv_gives_a_future_and_zmqlint_fix_awaits_it(tmp_path):
    write_tree(tmp_path, {"snippet.py": UNAWAITED})
    snippet = tmp_path / "snippet.py"
    assert _codes(tmp_path) == [("ASY305", 13)]

    asyncio.run(_buggy_run(_load(snippet)))

    command = [sys.executable, "-m", "zmqlint", "--no-cache", "--fix", "--select", "ASY305", str(snippet)]
    proc = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    fixed = snippet.read_text()
    assert "request = await self.sock.recv()" in fixed
    assert fixed == UNAWAITED.lstrip("\n").replace("request = self.sock.recv()", "request = await self.sock.recv()")
    again = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and snippet.read_text() == fixed  # idempotent

    asyncio.run(_fixed_run(_load(snippet)))
