"""SER201 / SER202: the spellings they catch, the code they leave alone, the fleet, the
channel warning, and the fixed code actually talking over real sockets."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import zmq
from click.testing import CliRunner

from zmqlint.cli import cli
from zmqlint.engine import FixMode, compiles

from conftest import REPO, findings_of, lint_tree, write_tree

STDLIB = Path(os.__file__).parent
PYZMQ = Path(zmq.__file__).parent


def _count(tree, code, select=("SER",)):
    return [(f.code, f.line) for f in findings_of(lint_tree(tree, select=list(select))) if f.code == code]


# -- detection -----------------------------------------------------------------------------

RECEIVED = {
    "import _pickle\ndef f(s):\n    return _pickle.loads(s.recv())": 3,
    "from six.moves import cPickle\ndef f(s):\n    return cPickle.loads(s.recv())": 3,
    "import dill as d\ndef f(s):\n    m = s.recv_multipart()\n    return d.loads(m[-1])": 4,
    "import cloudpickle\ndef f(s):\n    *_, body = s.recv_multipart()\n    return cloudpickle.loads(body)": 4,
    "import pickle\ndef f(s):\n    if (m := s.recv()):\n        return pickle.loads(m)": 4,
    "import pickle\ndef f(s):\n    frame = s.recv(copy=False)\n    return pickle.loads(frame.bytes)": 4,
    "import pickle\ndef f(s):\n    topic, body = s.recv().split(b' ', 1)\n    return pickle.loads(body)": 4,
    "import pickle, zlib\ndef f(s):\n    return pickle.loads(zlib.decompress(s.recv()))": 3,
    "import pickle, base64\ndef f(s):\n    msg = s.recv_json()\n    return pickle.loads(base64.b64decode(msg['blob']))": 4,
    "import pickle\ndef f(s):\n    for frame in s.recv_multipart():\n        yield pickle.loads(frame)": 4,
    "import pickle\ndef f(s):\n    data = b''\n    while True:\n        obj = pickle.loads(data) if data else None\n        data = s.recv()": 5,
    "import pickle\ndef f(s, ok):\n    if ok:\n        d = s.recv()\n    else:\n        d = b'x'\n    return pickle.loads(d)": 7,
    "import pickle\ndef f(s):\n    try:\n        d = s.recv()\n    except Exception:\n        d = None\n    return pickle.loads(d)": 7,
    "import pickle, io\ndef f(s):\n    return pickle.Unpickler(io.BytesIO(s.recv())).load()": 3,
    "import pickle\nclass A:\n    async def f(self):\n        self.buf = await self.sock.recv()\n        return pickle.loads(self.buf)": 5,
    "import pickle\nwhile True:\n    msg = sock.recv()\n    handle(pickle.loads(msg))": 4,
}

NOT_RECEIVED = [
    "import pickle\ndef f(path):\n    return pickle.loads(open(path, 'rb').read())",
    "import pickle\ndef f(s):\n    d = s.recv()\n    d = load_cache()\n    return pickle.loads(d)",
    "import pickle\ndef f(s):\n    n = len(s.recv())\n    return pickle.loads(blob[n:])",
    "import pickle\ndef f(s):\n    s.recv()\n    def g(d):\n        return pickle.loads(d)\n    return g",
    "import pickle\ndef f(s, key):\n    d = s.recv()\n    return pickle.loads(verify_hmac(key, d))",
    "def f(s):\n    return loads(s.recv())",
    "import json\ndef f(s):\n    return json.loads(s.recv())",
    "import pickle\ndef recv_pyobj(self):\n    return pickle.loads(self.recv())",
    "from mylib import pickle\ndef f(path):\n    return pickle.loads(path.read_bytes())",
]


SENT = {
    "import pickle as p\ndef f(s, o):\n    s.sendall(p.dumps(o))": 3,
    "import marshal\ndef f(s, o):\n    data = marshal.dumps(o)\n    s.send_multipart([b't', data])": 3,
    "from pickle import dumps as pack\ndef f(s, o):\n    frames = [b't']\n    frames += [pack(o)]\n    s.send_multipart(frames)": 4,
    "import pickle\nasync def f(s, o):\n    await s.send(pickle.dumps(o, protocol=5))": 3,
}

NOT_SENT = [
    "import pickle\ndef f(s, o, path):\n    open(path, 'wb').write(pickle.dumps(o))\n    s.send(b'saved')",
    "import pickle\ndef f(s, o):\n    size = len(pickle.dumps(o))\n    s.send(str(size).encode())",
    "import pickle\ndef send_pyobj(self, o, flags=0):\n    return self.send(pickle.dumps(o), flags)",
]


CAUGHT = [("SER201", code, line) for code, line in RECEIVED.items()] + [("SER202", code, line) for code, line in SENT.items()]
IGNORED = [("SER201", code) for code in NOT_RECEIVED] + [("SER202", code) for code in NOT_SENT]


@pytest.mark.parametrize("rule,code,line", CAUGHT, ids=[f"{c[0]}-{n}" for n, c in enumerate(CAUGHT)])
def test_catches(tree, rule, code, line):
    root = tree({"m.py": code + "\n"})
    assert _count(root, rule) == [(rule, line)]


@pytest.mark.parametrize("rule,code", IGNORED, ids=[f"{c[0]}-{n}" for n, c in enumerate(IGNORED)])
def test_ignores(tree, rule, code):
    root = tree({"m.py": code + "\n"})
    assert _count(root, rule) == []


# -- precision on real code ----------------------------------------------------------------

#: Standard-library modules that pickle or marshal *and* send or receive on sockets or pipes.
STDLIB_PICKLE_USERS = [
    "multiprocessing/connection.py", "multiprocessing/managers.py", "multiprocessing/reduction.py",
    "multiprocessing/resource_sharer.py", "multiprocessing/forkserver.py", "multiprocessing/pool.py",
    "multiprocessing/queues.py", "concurrent/futures/process.py", "logging/handlers.py", "logging/config.py",
    "xmlrpc/client.py", "xmlrpc/server.py", "socket.py", "socketserver.py", "pickle.py", "shelve.py",
]


def test_silent_on_stdlib_pickle_users(tmp_path):
    from zmqlint.config import Config
    from zmqlint.runner import run

    config = Config.from_table({}, root=tmp_path)
    config.with_overrides(select=["SER"])
    result = run([str(STDLIB / name) for name in STDLIB_PICKLE_USERS], config)
    assert not result.errors
    assert [f"{f.path}:{f.line} {f.code}" for f in result.findings] == []


@pytest.mark.slow
def test_silent_on_the_whole_stdlib(tmp_path):
    from zmqlint.config import Config
    from zmqlint.runner import run

    config = Config.from_table({}, root=tmp_path)
    config.with_overrides(select=["SER"])
    parts = [p for p in STDLIB.iterdir() if p.name not in ("site-packages", "test") and (p.is_dir() or p.suffix == ".py")]
    result = run([str(p) for p in parts], config)
    assert [f"{f.path}:{f.line} {f.code}" for f in result.findings] == []


def test_silent_on_pyzmq_library_code(tmp_path):
    """pyzmq defines send_pyobj / recv_pyobj (its pickle API); definitions are not uses.
    (Its test suite does use them: `ping_pong_pyobj` is reported, rightly.)"""
    from zmqlint.config import Config
    from zmqlint.runner import run

    config = Config.from_table({}, root=tmp_path)
    config.with_overrides(select=["SER"])
    # Only modules that mention pickle can yield a finding; the rest would only cost parsing.
    parts = [
        p for p in sorted(PYZMQ.rglob("*.py"))
        if "tests" not in p.relative_to(PYZMQ).parts and ("pickle" in p.read_text() or "_pyobj" in p.read_text())
    ]
    assert any(p.name == "socket.py" for p in parts)
    result = run([str(p) for p in parts], config)
    assert not result.errors
    assert [f"{f.path}:{f.line} {f.code}" for f in result.findings] == []


# -- the fleet -----------------------------------------------------------------------------

FLEET = REPO / "fixtures" / "agent_fleet"


@pytest.mark.skipif(not (FLEET / "agents" / "interrupt_handler.py").exists(), reason="fleet not present")
def test_fleet_audio_channel_found_and_converted(tmp_path):
    work = tmp_path / "agent_fleet"
    shutil.copytree(FLEET, work, ignore=shutil.ignore_patterns("__pycache__"))
    before = findings_of(lint_tree(work, select=["SER"]))
    where = sorted((Path(f.path).name, f.code) for f in before)
    assert where == [
        ("audio_preprocessor.py", "SER201"),
        ("audio_preprocessor.py", "SER202"),
        ("interrupt_handler.py", "SER201"),
        ("interrupt_handler.py", "SER202"),
    ]
    result = lint_tree(work, select=["SER"], fix=FixMode.UNSAFE)
    assert result.fixes_applied == 4 and findings_of(result) == []
    for name in ("audio_preprocessor.py", "interrupt_handler.py"):
        text = (work / "agents" / name).read_text()
        assert compiles(text)
        assert "pickle" not in text and "_pyobj" not in text
        assert "from zmqlint_runtime import serde" in text
    # The fleet's sockets get their endpoints from parameters: no channel resolves, so the
    # run says every converted socket's peer must change too.
    assert any("peers could not be matched" in note and "4 pickle-over-socket" in note for note in result.notes)


# -- the channel warning -------------------------------------------------------------------


def _channel_warnings(notes):
    """The notes about a converted end of a channel whose other end was not seen (the run's
    other notes say which types were registered and which it could not see)."""
    return [n for n in notes if n.startswith("converted ")]

PUBLISHER = """
import pickle
import zmq

PORT = 5591


def publish(ctx, event):
    pub = ctx.socket(zmq.PUB)
    pub.bind(f"tcp://*:{PORT}")
    pub.send(pickle.dumps(event))
"""

SUBSCRIBER = """
import pickle
import zmq

from settings import HOST


def listen(ctx):
    sub = ctx.socket(zmq.SUB)
    sub.connect("tcp://%s:%d" % (HOST, 5591))
    return pickle.loads(sub.recv())
"""


def test_channel_warning_when_only_one_end_is_converted(tree):
    root = tree({"publisher.py": PUBLISHER, "subscriber.py": SUBSCRIBER, "settings.py": "HOST = '127.0.0.1'\n"})
    result = lint_tree(root, select=["SER"], fix=FixMode.UNSAFE, paths=["publisher.py"])
    assert result.fixes_applied == 1
    assert [n for n in result.notes if "port 5591" in n and "sending side" in n and "no receiving side" in n]
    assert "pickle.loads" in (root / "subscriber.py").read_text()


def test_no_channel_warning_when_both_ends_are_converted(tree):
    root = tree({"publisher.py": PUBLISHER, "subscriber.py": SUBSCRIBER, "settings.py": "HOST = '127.0.0.1'\n"})
    result = lint_tree(root, select=["SER"], fix=FixMode.UNSAFE)
    assert result.fixes_applied == 2
    assert _channel_warnings(result.notes) == []


SHARED_CONSTANT_FLEET = {
    "config.py": "import os\nAUDIO = os.environ.get('AUDIO_ENDPOINT', 'tcp://127.0.0.1:6000')\n",
    "a.py": "import pickle\nfrom config import AUDIO\nclass P:\n    def __init__(self, ctx):\n"
    "        self.pub = ctx.socket(1)\n        self.pub.bind(AUDIO)\n"
    "    def send(self, o):\n        self.pub.send(pickle.dumps(o))\n",
    "b.py": "import pickle\nimport config\ndef get(ctx):\n    s = ctx.socket(2)\n"
    "    s.connect(config.AUDIO)\n    return pickle.loads(s.recv())\n",
}


def test_channel_matched_by_shared_constant_across_modules(tmp_path):
    alone, both = tmp_path / "alone", tmp_path / "both"
    for root in (alone, both):
        write_tree(root, SHARED_CONSTANT_FLEET)
    result = lint_tree(alone, select=["SER"], fix=FixMode.UNSAFE, paths=["a.py"])
    assert [n for n in result.notes if "endpoint config.AUDIO" in n and "sending side" in n], result.notes
    result = lint_tree(both, select=["SER"], fix=FixMode.UNSAFE, paths=["a.py", "b.py"])
    assert result.fixes_applied == 2 and _channel_warnings(result.notes) == []


def test_cli_prints_the_channel_warning(tree):
    root = tree({"publisher.py": PUBLISHER})
    out = CliRunner().invoke(cli, ["check", "--fix", "--unsafe-fixes", "--select", "SER", str(root / "publisher.py")])
    assert out.exit_code == 0, out.output
    assert "note:" in out.output and "port 5591" in out.output


def test_no_warning_without_unsafe_fixes(tree):
    root = tree({"publisher.py": PUBLISHER})
    result = lint_tree(root, select=["SER"], fix=FixMode.SAFE)
    assert result.fixes_applied == 0 and result.notes == []
    # The publisher binds tcp://*: its one finding is SER203's (SER202 with the reach).
    assert [f.code for f in findings_of(result)] == ["SER203"]


# -- the fix, run ----------------------------------------------------------------------------

SERVER = '''
import pickle as pk
import sys
import zmq


def serve(endpoint, count):
    ctx = zmq.Context()
    rep = ctx.socket(zmq.REP)
    rep.setsockopt(zmq.LINGER, 0)
    rep.setsockopt(zmq.RCVTIMEO, 5000)
    rep.bind(endpoint)
    print(rep.getsockopt(zmq.LAST_ENDPOINT).decode(), flush=True)
    for _ in range(count):
        raw = rep.recv()
        try:
            request = pk.loads(raw)
            samples = request["samples"]
            reply = {"seq": request["seq"], "sum": float(samples.sum()), "dtype": str(samples.dtype),
                     "shape": samples.shape, "at": request["at"]}
        except Exception as exc:
            reply = {"error": type(exc).__name__}
        rep.send_pyobj(reply)
    rep.close()
    ctx.term()


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]))
'''

CLIENT = '''
import datetime
import pickle
import sys
import numpy as np
import zmq


class Exploit:
    def __reduce__(self):
        return (open, (sys.argv[2], "w"))


def exploit_bytes():
    """What an attacker sends: not part of the service, so it keeps its pickle."""
    return pickle.dumps(Exploit())


def main(endpoint):
    ctx = zmq.Context()
    req = ctx.socket(zmq.REQ)
    req.setsockopt(zmq.LINGER, 0)
    req.setsockopt(zmq.RCVTIMEO, 5000)
    req.connect(endpoint)
    samples = np.linspace(0, 1, 800, dtype=np.float32).reshape(8, 100)
    req.send(pickle.dumps({"seq": 1, "samples": samples, "at": datetime.datetime(2024, 5, 24, 12, 0)}))
    print(req.recv_pyobj(), flush=True)
    req.send(exploit_bytes())
    print(req.recv_pyobj(), flush=True)
    req.close()
    ctx.term()


if __name__ == "__main__":
    main(sys.argv[1])
'''


def _exchange(folder: Path):
    marker = folder / "pwned"
    server = subprocess.Popen(
        [sys.executable, str(folder / "server.py"), "tcp://127.0.0.1:*", "2"], stdout=subprocess.PIPE, text=True
    )
    try:
        endpoint = server.stdout.readline().strip()
        client = subprocess.run(
            [sys.executable, str(folder / "client.py"), endpoint, str(marker)],
            capture_output=True, text=True, timeout=30,
        )
        server.wait(timeout=10)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=5)
    assert client.returncode == 0, client.stderr
    return client.stdout.splitlines(), marker.exists()


def test_fixed_req_rep_carries_numpy_and_refuses_the_exploit(tree):
    root = tree({"server.py": SERVER, "client.py": CLIENT})
    replies, pwned = _exchange(root)
    assert pwned, "the unfixed server unpickles the exploit"
    assert "'sum': 400.0" in replies[0] and replies[1] == "{'error': 'TypeError'}"

    (root / "pwned").unlink()
    result = lint_tree(root, select=["SER"], fix=FixMode.UNSAFE)
    assert result.fixes_applied == 5 and findings_of(result) == []
    assert [n for n in _channel_warnings(result.notes) if "could not be matched" not in n] == []
    server_text = (root / "server.py").read_text()
    assert "request = serde.loads(raw)" in server_text and "import pickle" not in server_text
    # The client still builds its exploit with pickle: only the pickle sent on the socket changed.
    client_text = (root / "client.py").read_text()
    assert "print(serde.loads(req.recv()), flush=True)" in client_text
    replies, pwned = _exchange(root)
    assert not pwned, "the fixed server must refuse the exploit"
    assert "'sum': 400.0" in replies[0] and "'dtype': 'float32'" in replies[0] and "'shape': (8, 100)" in replies[0]
    assert "datetime.datetime(2024, 5, 24, 12, 0)" in replies[0]
    assert replies[1] == "{'error': 'MalformedMessage'}"
