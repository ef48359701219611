"""ZMQ101, ZMQ102, ZMQ103 and ZMQ105, proven on real sockets.

Each case is a small multi-module service. As written it is run in a subprocess and really
fails (``ZMQError`` EADDRINUSE, ``AttributeError``); then zmqlint fixes it, and the fixed code
is run the same way and binds once and answers a REQ/REP round trip (or, for the publisher,
delivers an event to the collector) on 127.0.0.1.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from zmqlint.engine import FixMode

from conftest import findings_of, free_port, lint_tree, write_tree

# A pool module the way a team writes one: a config object with ``bind=True`` by default,
# handed to a pool that binds or connects as the config says.
POOL = """
from dataclasses import dataclass

import zmq


@dataclass(frozen=True)
class SocketConfig:
    socket_type: int
    endpoint: str
    bind: bool = True
    linger_ms: int = 0


class SocketPool:
    def __init__(self, context=None):
        self._context = context or zmq.Context.instance()

    def acquire(self, config):
        socket = self._context.socket(config.socket_type)
        socket.setsockopt(zmq.LINGER, config.linger_ms)
        if config.bind:
            socket.bind(config.endpoint)
        else:
            socket.connect(config.endpoint)
        return socket


def get_pool(context=None):
    return SocketPool(context)


def get_rep_socket(endpoint, context=None, bind=True, **options):
    return get_pool(context).acquire(SocketConfig(zmq.REP, endpoint, bind=bind, **options))


def get_pub_socket(endpoint, context=None, bind=True, **options):
    return get_pool(context).acquire(SocketConfig(zmq.PUB, endpoint, bind=bind, **options))
"""

# A base agent that binds its own REP socket through a retry helper.
BASE_AGENT = """
import time

import zmq


class BaseAgent:
    def __init__(self, name, port, host="127.0.0.1", context=None):
        self.name = name
        self.host = host
        self.port = port
        self.context = context or zmq.Context.instance()
        self.socket = self.context.socket(zmq.REP)
        self.socket.setsockopt(zmq.LINGER, 0)
        # Every socket the agent opened, for close(): it also keeps a socket a subclass
        # replaces from being collected (and unbound) before the subclass binds again.
        self.opened = [self.socket]
        self._bind_socket_with_retry(self.socket, self.port)

    def _bind_socket_with_retry(self, socket, port, attempts=2, delay_s=0.02):
        endpoint = f"tcp://{self.host}:{port}"
        for attempt in range(1, attempts + 1):
            try:
                socket.bind(endpoint)
                return endpoint
            except zmq.ZMQError as exc:
                if exc.errno != zmq.EADDRINUSE or attempt == attempts:
                    raise
                time.sleep(delay_s)

    def close(self):
        for value in [*vars(self).values(), *self.opened]:
            if isinstance(value, zmq.Socket) and not value.closed:
                value.close(linger=0)
"""

# Runs an agent class: serve one request on ``attr`` of the agent, answer it, print the reply.
RUNNER = """
import json
import sys
import threading

import zmq

sys.path.insert(0, sys.argv[1])
module_name, class_name, attr, port, serve_port = sys.argv[2:7]
module = __import__(module_name, fromlist=[class_name])
agent = getattr(module, class_name)(int(port))
server = getattr(agent, attr)
server.setsockopt(zmq.RCVTIMEO, 3000)
server.setsockopt(zmq.LINGER, 0)

def serve():
    request = server.recv_json()
    server.send_json({"echo": request["ping"], "agent": type(agent).__name__})

thread = threading.Thread(target=serve, daemon=True)
thread.start()
client = zmq.Context.instance().socket(zmq.REQ)
client.setsockopt(zmq.RCVTIMEO, 3000)
client.setsockopt(zmq.LINGER, 0)
client.connect(f"tcp://127.0.0.1:{serve_port}")
client.send_json({"ping": 42})
print(json.dumps(client.recv_json()))
thread.join(3)
client.close()
agent.close()
"""


def _run(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, str(root / "runner.py"), str(root), *args],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )


def _fails_with(root: Path, args, error: str) -> None:
    """The service, as written, really fails with ``error``."""
    before = _run(root, *args)
    assert before.returncode != 0
    assert error in before.stderr, before.stderr


def _serves(root: Path, args, reply: str) -> None:
    """The service starts, binds once and answers (``reply`` in what it printed)."""
    after = _run(root, *args)
    assert after.returncode == 0, after.stderr
    assert reply in after.stdout


def _fix(root: Path, code: str, mode: FixMode = FixMode.SAFE, path: str = ".") -> None:
    result = lint_tree(root, select=[code], fix=mode, paths=[path])
    assert not result.errors, result.errors
    assert result.fixes_applied >= 1
    assert findings_of(lint_tree(root, select=["ZMQ"]), code) == []


def test_rebound_pooled_socket_fails_then_fixed_serves(tmp_path):
    write_tree(
        tmp_path,
        {
            "runner.py": RUNNER,
            "common/__init__.py": "",
            "common/pools/__init__.py": "",
            "common/pools/zmq_pool.py": POOL,
            "common/core/__init__.py": "",
            "common/core/base_agent.py": BASE_AGENT,
            "agents/__init__.py": "",
            "agents/analysis.py": """
                from common.core.base_agent import BaseAgent
                from common.pools.zmq_pool import get_rep_socket


                class AnalysisAgent(BaseAgent):
                    def __init__(self, port):
                        super().__init__("analysis", port)
                        endpoint = f"tcp://{self.host}:{self.port + 2}"
                        self.analysis_socket = get_rep_socket(endpoint, context=self.context)
                        self.analysis_socket.bind(endpoint)
            """,
        },
    )
    port = free_port()
    args = ("agents.analysis", "AnalysisAgent", "analysis_socket", str(port), str(port + 2))
    _fails_with(tmp_path, args, "ZMQError: Address already in use")

    _fix(tmp_path, "ZMQ101")
    fixed = (tmp_path / "agents/analysis.py").read_text()
    assert "self.analysis_socket = self.context.socket(zmq.REP)" in fixed
    assert "get_rep_socket" not in fixed and "import zmq" in fixed
    _serves(tmp_path, args, '"echo": 42')


def test_rebind_through_base_helper_in_retry_loop_then_fixed(tmp_path):
    """The chitchat shape: the bind happens in a base-class helper called inside a retry
    loop, the base class lives in a sibling tree imported through ``sys.path``."""
    write_tree(
        tmp_path,
        {
            "runner.py": RUNNER,
            "common/__init__.py": "",
            "common/pools/__init__.py": "",
            "common/pools/zmq_pool.py": POOL,
            "common/core/__init__.py": "",
            "common/core/base_agent.py": BASE_AGENT,
            "main_pc_code/agents/chitchat.py": """
                import os
                import sys
                import time

                import zmq

                sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
                from common.core.base_agent import BaseAgent
                from common.pools.zmq_pool import get_rep_socket


                class ChitchatAgent(BaseAgent):
                    def __init__(self, port):
                        super().__init__("chitchat", port)
                        self.chat_port = self.port + 2
                        self.chat_socket = get_rep_socket(f"tcp://{self.host}:{self.chat_port}", context=self.context)
                        for attempt in range(3):
                            try:
                                self._bind_socket_with_retry(self.chat_socket, self.chat_port)
                                break
                            except zmq.ZMQError:
                                if attempt == 2:
                                    raise
                                time.sleep(0.02)
            """,
        },
    )
    port = free_port()
    (tmp_path / "runner.py").write_text(
        RUNNER.lstrip().replace("sys.path.insert(0, sys.argv[1])", "sys.path[0:0] = [sys.argv[1], sys.argv[1] + '/main_pc_code/agents']")
    )
    args = ("chitchat", "ChitchatAgent", "chat_socket", str(port), str(port + 2))
    _fails_with(tmp_path, args, "Address already in use")

    _fix(tmp_path, "ZMQ101", path="main_pc_code")
    fixed = (tmp_path / "main_pc_code/agents/chitchat.py").read_text()
    assert "self.chat_socket = self.context.socket(zmq.REP)" in fixed
    assert "for attempt in range(3):" in fixed  # the one bind, and its retries, stay
    _serves(tmp_path, args, '"echo": 42')


def test_cleared_context_raises_then_fixed_serves(tmp_path):
    write_tree(
        tmp_path,
        {
            "runner.py": RUNNER,
            "base_agent.py": BASE_AGENT,
            "executor.py": """
                import zmq

                from base_agent import BaseAgent


                class ExecutorAgent(BaseAgent):
                    def __init__(self, port):
                        super().__init__("executor", port)
                        self.context = None
                        self.worker_socket = None
                        self.worker_port = self.port + 2
                        self.worker_socket = self.context.socket(zmq.REP)
                        self._bind_socket_with_retry(self.worker_socket, self.worker_port)
            """,
        },
    )
    port = free_port()
    args = ("executor", "ExecutorAgent", "worker_socket", str(port), str(port + 2))
    _fails_with(tmp_path, args, "AttributeError: 'NoneType' object has no attribute 'socket'")

    _fix(tmp_path, "ZMQ103")
    fixed = (tmp_path / "executor.py").read_text()
    assert "self.context = None" not in fixed
    assert "self.worker_socket = None" in fixed  # an initialisation, not a finding
    _serves(tmp_path, args, '"agent": "ExecutorAgent"')


def test_subclass_binding_base_port_fails_then_unsafe_fix_serves_on_base_socket(tmp_path):
    write_tree(
        tmp_path,
        {
            "runner.py": RUNNER,
            "base_agent.py": BASE_AGENT,
            "enhanced.py": """
                import zmq

                from base_agent import BaseAgent


                class EnhancedAgent(BaseAgent):
                    def __init__(self, port):
                        super().__init__("enhanced", port)
                        self.history = []
                        self.socket = self.context.socket(zmq.REP)
                        self.socket.bind(f"tcp://{self.host}:{self.port}")
            """,
        },
    )
    port = free_port()
    args = ("enhanced", "EnhancedAgent", "socket", str(port), str(port))
    _fails_with(tmp_path, args, "Address already in use")

    assert lint_tree(tmp_path, select=["ZMQ105"], fix=FixMode.SAFE).fixes_applied == 0  # unsafe only
    _fix(tmp_path, "ZMQ105", mode=FixMode.UNSAFE)
    _serves(tmp_path, args, '"agent": "EnhancedAgent"')


PUBLISHER_RUNNER = """
import sys
import time

import zmq

sys.path.insert(0, sys.argv[1])
from error_publisher import ErrorPublisher

endpoint = f"tcp://127.0.0.1:{sys.argv[2]}"
collector = zmq.Context.instance().socket(zmq.SUB)
collector.setsockopt(zmq.LINGER, 0)
collector.setsockopt(zmq.SUBSCRIBE, b"")
collector.setsockopt(zmq.RCVTIMEO, 100)
collector.bind(endpoint)

publisher = ErrorPublisher(endpoint)
if publisher.pub_socket is None:
    sys.exit("publisher has no socket")
for _ in range(50):  # PUB/SUB joins asynchronously: publish until the collector hears it
    publisher.pub_socket.send_multipart([b"ERROR", b"disk full"])
    try:
        print(collector.recv_multipart())
        break
    except zmq.Again:
        time.sleep(0.02)
else:
    sys.exit("no event reached the collector")
publisher.pub_socket.close(linger=0)
collector.close()
"""


def test_publisher_from_binding_pool_fails_then_fixed_connects(tmp_path):
    write_tree(
        tmp_path,
        {
            "runner.py": PUBLISHER_RUNNER,
            "zmq_pool.py": POOL,
            "error_publisher.py": """
                import zmq

                from zmq_pool import get_pub_socket


                class ErrorPublisher:
                    def __init__(self, endpoint, context=None):
                        self.endpoint = endpoint
                        self.context = context or zmq.Context.instance()
                        self.pub_socket = get_pub_socket(self.endpoint, context=self.context)
                        self.pub_socket.connect(self.endpoint)
            """,
        },
    )
    port = str(free_port())
    _fails_with(tmp_path, (port,), "Address already in use")

    _fix(tmp_path, "ZMQ102")
    assert "self.pub_socket = self.context.socket(zmq.PUB)" in (tmp_path / "error_publisher.py").read_text()
    _serves(tmp_path, (port,), "disk full")


# The shapes of a real fleet's pool (zmqlint.rules._examples.WRAPPER_POOL): helpers build a
# config with bind=True and hand it to a pool reached through a singleton getter, which binds
# in a private method and returns a dataclass wrapper holding the socket in `.socket`.
WRAPPER_RUNNER = """
import json
import sys
import threading

import zmq

sys.path.insert(0, sys.argv[1])
module_name, class_name, attr, port = sys.argv[2:6]
module = __import__(module_name, fromlist=[class_name])
agent = getattr(module, class_name)(int(port))
if hasattr(agent, "start"):
    agent.start()
server = getattr(agent, attr)
options = {"rcvtimeo": server.getsockopt(zmq.RCVTIMEO), "linger": server.getsockopt(zmq.LINGER)}
server.setsockopt(zmq.RCVTIMEO, 3000)

def serve():
    request = server.recv_json()
    server.send_json({"echo": request["ping"], "options": options})

thread = threading.Thread(target=serve, daemon=True)
thread.start()
client = zmq.Context.instance().socket(zmq.REQ)
client.setsockopt(zmq.RCVTIMEO, 3000)
client.setsockopt(zmq.LINGER, 0)
client.connect(f"tcp://127.0.0.1:{agent.port}")
client.send_json({"ping": 42})
print(json.dumps(client.recv_json()))
thread.join(3)
client.close(linger=0)
server.close(linger=0)
"""


def test_a_socket_taken_off_a_pool_wrapper_and_bound_again_fails_then_fixed_serves_with_its_options(tmp_path):
    from zmqlint.rules._examples import WRAPPER_FILES

    write_tree(
        tmp_path,
        {
            **WRAPPER_FILES,
            "runner.py": WRAPPER_RUNNER,
            "agents/__init__.py": "",
            "agents/nlu.py": """
                import zmq

                from common.base_agent import BaseAgent
                from common.pools.zmq_pool import get_rep_socket


                class NluAgent(BaseAgent):
                    def __init__(self, port):
                        super().__init__("nlu", port)
                        self.socket = get_rep_socket(f"tcp://127.0.0.1:{port}", rcvtimeo=500, linger=0).socket

                    def start(self):
                        for _ in range(3):
                            try:
                                self.socket.bind(f"tcp://127.0.0.1:{self.port}")
                                break
                            except zmq.ZMQError as exc:
                                if exc.errno != zmq.EADDRINUSE:
                                    raise
                        else:
                            raise zmq.ZMQError(zmq.EADDRINUSE, "Address already in use")
            """,
        },
    )
    args = ("agents.nlu", "NluAgent", "socket", str(free_port()))
    _fails_with(tmp_path, args, "Address already in use")

    _fix(tmp_path, "ZMQ101")
    fixed = (tmp_path / "agents/nlu.py").read_text()
    assert "self.socket = self.context.socket(zmq.REP)" in fixed
    assert "self.socket.setsockopt(zmq.RCVTIMEO, 500)" in fixed and "get_rep_socket" not in fixed
    _serves(tmp_path, args, '"echo": 42, "options": {"rcvtimeo": 500, "linger": 0}')


def test_a_pool_wrapper_kept_and_connected_through_binds_the_endpoint_then_fixed_only_connects(tmp_path):
    from zmqlint.rules._examples import WRAPPER_FILES

    collector_port = free_port()
    write_tree(
        tmp_path,
        {
            **WRAPPER_FILES,
            "agents/__init__.py": "",
            "agents/errors.py": """
                from common.pools.zmq_pool import get_pub_socket


                class ErrorPublisher:
                    def __init__(self, endpoint):
                        self.pub = get_pub_socket(endpoint)
                        self.pub.socket.connect(endpoint)

                    def publish(self, error):
                        self.pub.socket.send_json({"error": error})
            """,
            "run.py": f"""
                import sys
                import time

                import zmq

                sys.path.insert(0, sys.argv[1])
                from agents.errors import ErrorPublisher

                endpoint = "tcp://127.0.0.1:{collector_port}"
                ctx = zmq.Context.instance()
                collector = ctx.socket(zmq.SUB)
                collector.setsockopt(zmq.SUBSCRIBE, b"")
                collector.setsockopt(zmq.RCVTIMEO, 200)
                collector.setsockopt(zmq.LINGER, 0)
                try:
                    collector.bind(endpoint)          # the central collector binds
                except zmq.ZMQError as exc:
                    print("collector could not bind:", exc)
                    raise SystemExit(3)
                publisher = ErrorPublisher(endpoint)
                for _ in range(25):                   # bounded: the slow-joiner wait
                    publisher.publish("disk full")
                    try:
                        print("collected", collector.recv_json())
                        break
                    except zmq.Again:
                        time.sleep(0.02)
                else:
                    raise SystemExit(4)
            """,
        },
    )

    def run():
        return subprocess.run([sys.executable, str(tmp_path / "run.py"), str(tmp_path)], capture_output=True, text=True, timeout=30)

    # As written the publisher's pool binds the collector's endpoint first: the collector,
    # started first here, holds it, so the publisher's pooled bind fails.
    before = run()
    assert before.returncode != 0 and "Address already in use" in before.stderr, (before.stdout, before.stderr)

    _fix(tmp_path, "ZMQ102")
    fixed = (tmp_path / "agents/errors.py").read_text()
    assert "self.pub = zmq.Context.instance().socket(zmq.PUB)" in fixed and "self.pub.connect(endpoint)" in fixed
    after = run()
    assert after.returncode == 0, after.stderr
    assert "collected {'error': 'disk full'}" in after.stdout
