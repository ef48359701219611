"""The SER fix on a channel that carries the project's own types, run for real.

An inference service written the way such channels are written (llama-stack's model-parallel
workers, vLLM's engine client): a REQ/REP pair carries dataclass requests (with a numpy
embedding, a datetime and an enum inside), pydantic chat requests, dataclass results and the
exception the worker raised, sent back to the caller; a PUSH/PULL pair streams dataclass
tokens. Client and server are two processes talking over 127.0.0.1.

- As written it works, and it is insecure: a hostile peer's pickle runs code in the server.
- After ``zmqlint --fix --unsafe-fixes`` it still works (the types are registered where the
  code shows them, no pickle on the wire, the error arrives as its own type), the pickle is
  refused, and so is a message naming a type the server never registered (``SchemaError``),
  while the loop keeps serving.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from zmqlint.engine import FixMode, compiles

from conftest import findings_of, lint_tree

pytest.importorskip("pydantic")

MESSAGES = '''
import dataclasses
import datetime
import enum
from typing import List, Optional

import numpy as np
import pydantic


class Stop(enum.Enum):
    END_OF_TURN = 1
    LENGTH = 2


class Role(str, enum.Enum):
    USER = "user"
    ASSISTANT = "assistant"


@dataclasses.dataclass
class InferenceArgs:
    prompt: str
    max_tokens: int
    temperature: float
    embedding: np.ndarray
    deadline: datetime.datetime
    stop: Stop = Stop.END_OF_TURN


@dataclasses.dataclass
class TokenResult:
    token: int
    text: str
    logprobs: Optional[List[float]] = None
    stop: Optional[Stop] = None


class ChatMessage(pydantic.BaseModel):
    role: Role
    content: str


class ChatRequest(pydantic.BaseModel):
    messages: List[ChatMessage]
    temperature: float = 0.6


class GenerationError(RuntimeError):
    """What the model raises; the worker sends it back to the caller."""
'''

SERVER = '''
import sys
from typing import Iterator

import zmq

from messages import ChatRequest, GenerationError, InferenceArgs, Stop, TokenResult


def complete(args: InferenceArgs) -> TokenResult:
    if args.prompt == "fail":
        raise GenerationError(f"cannot complete {args.prompt!r}")
    text = args.prompt.upper()[: args.max_tokens]
    return TokenResult(len(text), text, [float(args.embedding.sum())], args.stop)


def stream(request: ChatRequest) -> Iterator[TokenResult]:
    words = request.messages[-1].content.split()
    for position, word in enumerate(words):
        yield TokenResult(position, word, None, Stop.END_OF_TURN if position == len(words) - 1 else None)


def serve(count):
    ctx = zmq.Context()
    rep = ctx.socket(zmq.REP)
    push = ctx.socket(zmq.PUSH)
    for sock in (rep, push):
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.RCVTIMEO, 10000)
        sock.setsockopt(zmq.SNDTIMEO, 10000)
    rep.bind("tcp://127.0.0.1:*")
    push.bind("tcp://127.0.0.1:*")
    print(rep.getsockopt(zmq.LAST_ENDPOINT).decode(), push.getsockopt(zmq.LAST_ENDPOINT).decode(), flush=True)
    for _ in range(count):
        try:
            request = rep.recv_pyobj()
        except zmq.Again:
            break
        except Exception as exc:
            print("refused", type(exc).__name__, exc, flush=True)
            rep.send_pyobj(exc)
            continue
        try:
            if isinstance(request, ChatRequest):
                for token in stream(request):
                    push.send_pyobj(token)
                rep.send_pyobj(TokenResult(-1, "streamed"))
            else:
                rep.send_pyobj(complete(request))
        except GenerationError as error:
            rep.send_pyobj(error)
        except Exception as exc:
            print("failed", type(exc).__name__, flush=True)
            rep.send_pyobj(exc)
    rep.close()
    push.close()
    ctx.term()


if __name__ == "__main__":
    serve(int(sys.argv[1]))
'''

CLIENT = '''
import datetime
import sys

import numpy as np
import zmq

from messages import ChatMessage, ChatRequest, GenerationError, InferenceArgs, TokenResult


def main(rep_endpoint, push_endpoint):
    ctx = zmq.Context()
    req = ctx.socket(zmq.REQ)
    pull = ctx.socket(zmq.PULL)
    for sock in (req, pull):
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.RCVTIMEO, 10000)
    req.connect(rep_endpoint)
    pull.connect(push_endpoint)
    deadline = datetime.datetime(2024, 5, 24, 12, 0, tzinfo=datetime.timezone.utc)

    req.send_pyobj(InferenceArgs("hello world", 5, 0.2, np.arange(4, dtype=np.float32), deadline))
    reply = req.recv_pyobj()
    print("completion", type(reply).__name__, reply.token, reply.text, reply.logprobs, reply.stop, flush=True)

    req.send_pyobj(ChatRequest(messages=[ChatMessage(role="user", content="stream these three")]))
    tokens = [pull.recv_pyobj() for _ in range(3)]
    done = req.recv_pyobj()
    print("stream", [(type(t).__name__, t.text) for t in tokens], tokens[-1].stop, done.text, flush=True)

    req.send_pyobj(InferenceArgs("fail", 5, 0.2, np.zeros(2), deadline))
    reply = req.recv_pyobj()
    try:
        if isinstance(reply, GenerationError):
            raise reply
        print("no error", reply, flush=True)
    except GenerationError as error:
        print("error", type(error).__name__, error, flush=True)
    req.close()
    pull.close()
    ctx.term()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
'''

#: A hostile peer: not part of the service (zmqlint is not run on it). It sends a pickle that
#: creates a file, then a serde-framed message naming a type the server never registered.
HOSTILE = '''
import pickle
import sys

import msgpack
import zmq


class Exploit:
    def __reduce__(self):
        return (open, (sys.argv[2], "w"))


ctx = zmq.Context()
req = ctx.socket(zmq.REQ)
req.setsockopt(zmq.LINGER, 0)
req.setsockopt(zmq.RCVTIMEO, 10000)
req.connect(sys.argv[1])
record = msgpack.ExtType(8, msgpack.packb(["posix.system", "touch " + sys.argv[2]]))
for message in (pickle.dumps(Exploit()), b"ZS\\x01\\x00" + msgpack.packb({"request": record})):
    req.send(message)
    print("answered", len(req.recv()) > 0, flush=True)
req.close()
ctx.term()
'''

SERVED = 3  # the client's requests
HOSTILE_MESSAGES = 2


def _run(folder: Path):
    marker = folder / "pwned"
    server = subprocess.Popen(
        [sys.executable, str(folder / "server.py"), str(SERVED + HOSTILE_MESSAGES)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=folder,
    )
    try:
        rep_endpoint, push_endpoint = server.stdout.readline().split()
        hostile = subprocess.run(
            [sys.executable, str(folder / "hostile.py"), rep_endpoint, str(marker)],
            capture_output=True, text=True, timeout=60, cwd=folder,
        )
        client = subprocess.run(
            [sys.executable, str(folder / "client.py"), rep_endpoint, push_endpoint],
            capture_output=True, text=True, timeout=60, cwd=folder,
        )
        out, err = server.communicate(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=5)
    assert hostile.returncode == 0, hostile.stderr
    assert client.returncode == 0, client.stderr
    assert server.returncode == 0, err
    return client.stdout.splitlines(), out.splitlines(), marker.exists()


def _service(tree):
    return tree({"messages.py": MESSAGES, "server.py": SERVER, "client.py": CLIENT, "hostile.py": HOSTILE})


EXPECTED_CLIENT = [
    "completion TokenResult 5 HELLO [6.0] Stop.END_OF_TURN",
    "stream [('TokenResult', 'stream'), ('TokenResult', 'these'), ('TokenResult', 'three')] Stop.END_OF_TURN streamed",
    "error GenerationError cannot complete 'fail'",
]


def test_channel_of_project_types_works_insecurely_then_securely_after_the_fix(tree):
    root = _service(tree)
    client, server, pwned = _run(root)
    assert client == EXPECTED_CLIENT
    assert pwned, "as written, the server unpickles the hostile peer's code"

    (root / "pwned").unlink()
    result = lint_tree(root, select=["SER"], fix=FixMode.UNSAFE, paths=["server.py", "client.py", "messages.py"])
    assert [f for f in findings_of(result)] == []
    server_text, client_text = (root / "server.py").read_text(), (root / "client.py").read_text()
    for text in (server_text, client_text):
        assert compiles(text) and "_pyobj" not in text and "pickle" not in text
    # Registered where the code shows them, in both modules: what the client constructs, what
    # the server's annotated functions return and the error it catches, what the client
    # checks for, and the enum inside the dataclasses (the client imports it for that).
    registration = "serde.register(ChatRequest, GenerationError, InferenceArgs, Stop, TokenResult)\n"
    assert registration in server_text and registration in client_text
    assert "from messages import Stop, ChatMessage," in client_text
    assert any("registered the types" in note for note in result.notes), result.notes

    client, server, pwned = _run(root)
    assert client == EXPECTED_CLIENT, "the fixed channel answers the same requests the same way"
    assert not pwned
    refused = [line.split()[1] for line in server if line.startswith("refused")]
    assert refused == ["MalformedMessage", "SchemaError"], server
    assert "'posix.system', a type this receiver has not registered" in "\n".join(server)


def test_the_fix_is_idempotent_and_says_what_it_cannot_see(tree):
    root = _service(tree)
    (root / "server.py").write_text(
        (root / "server.py").read_text().replace("rep.send_pyobj(complete(request))", "rep.send_pyobj(run_model(request))")
        + "\n\ndef run_model(request):\n    return complete(request)\n"
    )
    result = lint_tree(root, select=["SER"], fix=FixMode.UNSAFE, paths=["server.py", "client.py"])
    assert result.fixes_applied == 14
    unseen = [note for note in result.notes if "cannot see the type" in note]
    assert unseen and "`run_model(request)`" in unseen[0] and "register the types sent on this channel" in unseen[0]
    texts = {name: (root / name).read_text() for name in ("server.py", "client.py")}
    again = lint_tree(root, select=["SER"], fix=FixMode.UNSAFE, paths=["server.py", "client.py"])
    assert again.fixes_applied == 0
    assert {name: (root / name).read_text() for name in texts} == texts
