"""SER203: pickle over a socket on a network address. Which endpoints count as exposed, one
finding per hole (with SER201 / SER202 still there for whoever selects only them), and the
exposed server run for real: an exploit reaches it on its wildcard address and runs; after
the fix the same exploit is refused and the real client is served."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from zmqlint.engine import FixMode

from conftest import findings_of, lint_tree

SERVE = "import zmq\n\ndef serve(ctx{params}):\n{setup}    rep = ctx.socket(zmq.REP)\n    rep.bind({endpoint})\n    return rep.recv_pyobj()\n"


def _serve(endpoint, params="", setup=""):
    return SERVE.format(endpoint=endpoint, params=params, setup=setup)


EXPOSED = {
    "every interface": (_serve('"tcp://*:5555"'), "bound on every network interface (`tcp://*:5555`)"),
    "0.0.0.0 by random port": (
        "import zmq\ndef serve(ctx):\n    s = ctx.socket(zmq.PULL)\n    s.bind_to_random_port('tcp://0.0.0.0')\n    return s.recv_pyobj()\n",
        "bound on every network interface",
    ),
    "ipv6 wildcard": (_serve('"tcp://[::]:7000"'), "every network interface"),
    "an interface address": (_serve('"tcp://10.1.2.3:5555"'), "bound on the network address `tcp://10.1.2.3:5555`"),
    "a named interface": (_serve('"tcp://eth0:5555"'), "any host that can reach eth0 on port 5555"),
    "f-string with a port from the environment": (
        _serve('f"tcp://*:{os.environ[\'PORT\']}"', setup="    import os\n"),
        "bound on every network interface",
    ),
    "host from the environment, no default": (
        _serve('f"tcp://{HOST}:5555"', setup="    HOST = os.getenv('BIND_HOST')\n").replace("import zmq", "import os\nimport zmq"),
        "from configuration (`os.getenv('BIND_HOST')`)",
    ),
    "environment with a wildcard default": (
        _serve('os.environ.get("EP", "tcp://0.0.0.0:9000")').replace("import zmq", "import os\nimport zmq"),
        "by default (os.environ.get('EP', 'tcp://0.0.0.0:9000') defaults to 'tcp://0.0.0.0:9000')",
    ),
    "parameter defaulting to every interface": (
        _serve("endpoint", params=', endpoint="tcp://*:5555"'),
        "by default (parameter `endpoint` defaults to 'tcp://*:5555')",
    ),
    "argparse options": (_serve("args.bind", params=", args"), "from configuration (`args.bind`)"),
    "a module constant in another module": (
        "import zmq\nfrom settings import ENDPOINT\ndef serve(ctx):\n    s = ctx.socket(zmq.REP)\n    s.bind(ENDPOINT)\n    return s.recv_pyobj()\n",
        "bound on every network interface (`tcp://*:6100`)",
    ),
    "an attribute set in a base class": (
        "import zmq\nfrom base import Service\nclass Worker(Service):\n    def next(self):\n        return self.sock.recv_pyobj()\n",
        "bound on every network interface (`tcp://*:6200`)",
    ),
    "a local alias of the attribute": (
        "import pickle, zmq\nclass P:\n    def __init__(self, ctx):\n        self.pub = ctx.socket(zmq.PUB)\n"
        "        self.pub.bind('tcp://*:6300')\n    def send(self, o):\n        sock = self.pub\n        sock.send(pickle.dumps(o))\n",
        "`pickle.dumps` sent on a socket bound on every network interface",
    ),
    "connected to a host name": (
        "import pickle, zmq\ndef fetch(ctx):\n    s = ctx.socket(zmq.SUB)\n    s.connect('tcp://scheduler.internal:7000')\n"
        "    return pickle.loads(s.recv())\n",
        "connected to `tcp://scheduler.internal:7000`: whoever answers at that address",
    ),
}

HELPERS = {
    "settings.py": "ENDPOINT = 'tcp://*:6100'\n",
    "base.py": "import zmq\nclass Service:\n    def __init__(self, ctx):\n        self.sock = ctx.socket(zmq.REP)\n        self.sock.bind('tcp://*:6200')\n",
}

NOT_EXPOSED = {
    "loopback": _serve('"tcp://127.0.0.1:5555"'),
    "localhost": _serve('"tcp://localhost:5555"'),
    "ipv6 loopback": _serve('"tcp://[::1]:5555"'),
    "ipc": _serve('"ipc:///tmp/jobs.sock"'),
    "a plain parameter": _serve("endpoint", params=", endpoint"),
    "a parameter defaulting to loopback": _serve("endpoint", params=', endpoint="tcp://127.0.0.1:5555"'),
    "environment with an ipc default": _serve('os.getenv("EP", "ipc:///run/x")').replace("import zmq", "import os\nimport zmq"),
    "a computed endpoint": _serve("make_endpoint()"),
    "curve server": _serve('"tcp://*:5555"', params=", secret", setup="    pass\n").replace(
        "    rep.bind(", "    rep.curve_secretkey = secret\n    rep.curve_server = True\n    rep.bind("
    ),
    "curve via setsockopt": _serve('"tcp://*:5555"', params=", secret").replace(
        "    rep.bind(", "    rep.setsockopt(zmq.CURVE_SERVER, 1)\n    rep.bind("
    ),
    "a socket handed in": "import zmq\ndef serve(sock):\n    return sock.recv_pyobj()\n",
}


@pytest.mark.parametrize("name", sorted(EXPOSED))
def test_exposed_endpoints(tree, name):
    code, message = EXPOSED[name]
    root = tree({"m.py": code, **HELPERS})
    found = findings_of(lint_tree(root, paths=["m.py"]))
    ser = [f for f in found if f.code.startswith("SER")]
    assert [f.code for f in ser] == ["SER203"], [(f.code, f.message) for f in ser]
    assert message in ser[0].message, ser[0].message
    assert ser[0].severity.value == "critical"


@pytest.mark.parametrize("name", sorted(NOT_EXPOSED))
def test_local_or_unresolved_endpoints_stay_ser201_ser202(tree, name):
    root = tree({"m.py": NOT_EXPOSED[name]})
    found = findings_of(lint_tree(root))
    assert [f.code for f in found if f.code.startswith("SER")] == ["SER201"], [(f.code, f.message) for f in found]


def test_an_inproc_socket_is_no_hole_at_all(tree):
    # Only threads of this process can reach an inproc:// endpoint: neither SER203 nor SER201.
    root = tree({"m.py": _serve('"inproc://jobs"')})
    assert [f.code for f in findings_of(lint_tree(root)) if f.code.startswith("SER")] == []
    root = tree({"n.py": _serve('"inproc://jobs"').replace('rep.bind("inproc://jobs")', 'rep.bind("inproc://jobs")\n    rep.bind("ipc:///tmp/jobs")')})
    assert [f.code for f in findings_of(lint_tree(root, paths=["n.py"])) if f.code.startswith("SER")] == ["SER201"]


def test_one_finding_per_hole_and_codes_stay_independent(tree):
    code = EXPOSED["every interface"][0]
    root = tree({"m.py": code})
    every = [f.code for f in findings_of(lint_tree(root)) if f.code.startswith("SER")]
    assert every == ["SER203"]
    assert [f.code for f in findings_of(lint_tree(root, select=["SER201"]))] == ["SER201"]
    assert [f.code for f in findings_of(lint_tree(root, select=["SER203"]))] == ["SER203"]
    ignored = lint_tree(root, options={"select": ["SER"], "ignore": ["SER203"]})
    assert [f.code for f in findings_of(ignored)] == ["SER201"]
    tree({"n.py": code.replace("rep.recv_pyobj()", "rep.recv_pyobj()  # noqa: SER203")})
    assert [f.code for f in findings_of(lint_tree(root, select=["SER"], paths=["n.py"]))] == []
    tree({"o.py": code.replace("rep.recv_pyobj()", "rep.recv_pyobj()  # noqa: SER201")})
    assert [f.code for f in findings_of(lint_tree(root, select=["SER"], paths=["o.py"]))] == ["SER203"]


def test_fix_is_applied_once(tree):
    root = tree({"m.py": EXPOSED["every interface"][0]})
    result = lint_tree(root, fix=FixMode.UNSAFE)
    assert result.fixes_applied == 1 and findings_of(result) == []
    assert "return serde.loads(rep.recv())" in (root / "m.py").read_text()


# -- run for real ----------------------------------------------------------------------------

SERVER = '''
import pickle
import sys
import zmq


def serve(count):
    ctx = zmq.Context()
    rep = ctx.socket(zmq.REP)
    rep.setsockopt(zmq.LINGER, 0)
    rep.setsockopt(zmq.RCVTIMEO, 5000)
    port = rep.bind_to_random_port("tcp://*")
    print(port, rep.getsockopt(zmq.LAST_ENDPOINT).decode(), flush=True)
    for _ in range(count):
        try:
            job = rep.recv_pyobj()
            reply = {"job": job["name"], "ok": True}
        except zmq.Again:
            break
        except Exception as exc:
            reply = {"error": type(exc).__name__}
        rep.send_pyobj(reply)
    rep.close()
    ctx.term()


if __name__ == "__main__":
    serve(int(sys.argv[1]))
'''

CLIENT = '''
import sys
import zmq


def submit(port, name):
    ctx = zmq.Context()
    req = ctx.socket(zmq.REQ)
    req.setsockopt(zmq.LINGER, 0)
    req.setsockopt(zmq.RCVTIMEO, 5000)
    req.connect("tcp://127.0.0.1:%d" % port)
    req.send_pyobj({"name": name})
    print(req.recv_pyobj(), flush=True)
    req.close()
    ctx.term()


if __name__ == "__main__":
    submit(int(sys.argv[1]), sys.argv[2])
'''

#: What an attacker on any host that reaches the port sends: a pickle whose loading opens a file.
ATTACK = '''
import pickle
import sys
import zmq


class Exploit:
    def __reduce__(self):
        return (open, (sys.argv[2], "w"))


ctx = zmq.Context()
req = ctx.socket(zmq.REQ)
req.setsockopt(zmq.LINGER, 0)
req.setsockopt(zmq.RCVTIMEO, 5000)
req.connect("tcp://127.0.0.1:%s" % sys.argv[1])
req.send(pickle.dumps(Exploit()))
print(req.recv() != b"", flush=True)
req.close()
ctx.term()
'''


def _run(folder: Path, marker: Path):
    server = subprocess.Popen([sys.executable, str(folder / "server.py"), "2"], stdout=subprocess.PIPE, text=True)
    try:
        port, endpoint = server.stdout.readline().split()
        attack = subprocess.run(
            [sys.executable, str(folder / "attack.py"), port, str(marker)], capture_output=True, text=True, timeout=30
        )
        client = subprocess.run(
            [sys.executable, str(folder / "client.py"), port, "resize"], capture_output=True, text=True, timeout=30
        )
        server.wait(timeout=15)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=5)
    assert attack.returncode == 0, attack.stderr
    assert client.returncode == 0, client.stderr
    return endpoint, client.stdout.strip(), marker.exists()


def test_exposed_server_runs_the_exploit_and_the_fixed_one_refuses_it(tree):
    root = tree({"server.py": SERVER, "client.py": CLIENT, "attack.py": ATTACK})
    marker = root / "pwned"
    endpoint, reply, pwned = _run(root, marker)
    assert endpoint.startswith("tcp://0.0.0.0:"), "the server listens on every interface"
    assert pwned, "the exposed server unpickles what any host sends"
    assert reply == "{'job': 'resize', 'ok': True}"

    marker.unlink()
    found = findings_of(lint_tree(root, paths=["server.py", "client.py"]))
    assert sorted((Path(f.path).name, f.line, f.code) for f in found if f.code.startswith("SER")) == [
        ("client.py", 11, "SER202"),  # connects to loopback: the pickle is SER202's
        ("client.py", 12, "SER201"),
        ("server.py", 15, "SER203"),
        ("server.py", 21, "SER203"),
    ]
    result = lint_tree(root, fix=FixMode.UNSAFE, paths=["server.py", "client.py"])
    assert result.fixes_applied == 4
    assert [f for f in findings_of(result) if f.code.startswith("SER")] == []
    endpoint, reply, pwned = _run(root, marker)
    assert not pwned, "the fixed server must refuse the pickle"
    assert reply == "{'job': 'resize', 'ok': True}"
