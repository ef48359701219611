"""ZMQ101–ZMQ105 detection: binding factories learned from the project's code across
modules, sockets followed through locals, attributes, holders and helpers, base classes
resolved across packages and ``sys.path`` roots; silence on correct code, on the standard
library and on pyzmq's own sources."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import zmq

from zmqlint.facts.binding_factories import factory_of_function
from zmqlint.index import ProjectIndex

from conftest import REPO, findings_of, lint_tree, write_tree

STDLIB = Path(os.__file__).parent
PYZMQ = Path(zmq.__file__).parent


def codes_by_file(result, prefix="ZMQ"):
    found = {}
    for finding in result.findings:
        if finding.code.startswith(prefix):
            found.setdefault(Path(finding.path).name, []).append((finding.code, finding.line))
    return found


# -- which factories bind ----------------------------------------------------------------------


FACTORIES = {
    "net/__init__.py": "",
    "net/factories.py": """
        import zmq

        from .holders import Endpoint


        def direct_rep(endpoint, ctx=None):
            sock = (ctx or zmq.Context.instance()).socket(zmq.REP)
            sock.bind(endpoint)
            return sock


        def maybe_bind(endpoint, bind=True):
            sock = zmq.Context.instance().socket(zmq.ROUTER)
            if bind:
                sock.bind(endpoint)
            else:
                sock.connect(endpoint)
            return sock


        def connect_only(endpoint):
            sock = zmq.Context.instance().socket(zmq.REQ)
            sock.connect(endpoint)
            return sock


        def wrapped(endpoint):
            return direct_rep(endpoint)


        def held(endpoint):
            sock = zmq.Context.instance().socket(zmq.PULL)
            _bind(sock, endpoint)
            return Endpoint(sock, endpoint)


        def _bind(socket, endpoint):
            for _ in range(3):
                try:
                    socket.bind(endpoint)
                    return
                except zmq.ZMQError:
                    continue


        class Pool:
            def __init__(self):
                self.context = zmq.Context.instance()

            def publisher(self, endpoint):
                sock = self.context.socket(zmq.PUB)
                sock.bind(endpoint)
                return sock
    """,
    "net/holders.py": """
        class Endpoint:
            def __init__(self, sock, address):
                self.sock = sock
                self.address = address
    """,
}


def test_factory_discovery_reads_what_functions_do(tmp_path):
    write_tree(tmp_path, FACTORIES)
    index = ProjectIndex(tmp_path)
    module = index.module_for_path(tmp_path / "net/factories.py")
    facts = {name: factory_of_function(index, fn) for name, fn in module.functions.items()}
    assert facts["direct_rep"].socket_type == "REP" and facts["direct_rep"].bind_param is None
    assert facts["maybe_bind"].bind_param == "bind" and facts["maybe_bind"].bind_default is True
    assert facts["connect_only"] is None
    assert facts["_bind"] is None  # binds its argument but hands out nothing
    assert facts["wrapped"].socket_type == "REP"
    assert facts["held"].holder_attrs == ("sock",) and facts["held"].socket_type == "PULL"
    method = module.classes["Pool"].methods["publisher"]
    assert factory_of_function(index, method).socket_type == "PUB"


def test_every_spelling_of_a_rebind_is_reported(tmp_path):
    write_tree(
        tmp_path,
        {
            **FACTORIES,
            "app.py": """
                import zmq
                from net import factories as f
                from net.factories import Pool, held, maybe_bind


                def alias_and_loop(ep):
                    s = f.wrapped(ep)
                    t = s
                    while True:
                        try:
                            t.bind(ep)
                            break
                        except zmq.ZMQError:
                            continue


                def holder(ep):
                    h = held(ep)
                    h.sock.bind(ep)


                def explicit_false_is_fine(ep):
                    s = maybe_bind(ep, bind=False)
                    s.bind(ep)


                def default_binds(ep):
                    s = maybe_bind(ep)
                    s.bind(ep)


                class Service:
                    def __init__(self, ep):
                        self.pool = Pool()
                        self.ep = ep
                        self.pub = self.pool.publisher(ep)

                    def start(self):
                        self.pub.connect(self.ep)
            """,
        },
    )
    result = lint_tree(tmp_path, select=["ZMQ101", "ZMQ102"], paths=["app.py"])
    assert sorted(codes_by_file(result)["app.py"]) == [
        ("ZMQ101", 11),
        ("ZMQ101", 19),
        ("ZMQ101", 29),
        ("ZMQ102", 39),
    ]


def test_pool_given_a_config_that_binds_by_default(tmp_path):
    write_tree(
        tmp_path,
        {
            "pool.py": """
                from dataclasses import dataclass

                import zmq


                @dataclass
                class SocketConfig:
                    socket_type: int
                    endpoint: str
                    bind: bool = True


                class Pool:
                    def acquire(self, config):
                        sock = zmq.Context.instance().socket(config.socket_type)
                        if config.bind:
                            sock.bind(config.endpoint)
                        else:
                            sock.connect(config.endpoint)
                        return sock
            """,
            "agent.py": """
                import zmq
                from pool import Pool, SocketConfig


                class Agent:
                    def __init__(self, ep):
                        self.pool = Pool()
                        self.rep = self.pool.acquire(SocketConfig(zmq.REP, ep))
                        self.rep.bind(ep)
                        self.req = self.pool.acquire(SocketConfig(zmq.REQ, ep, bind=False))
                        self.req.bind(ep)
            """,
        },
    )
    result = lint_tree(tmp_path, select=["ZMQ101"], paths=["agent.py"])
    assert [(f.code, f.line) for f in result.findings] == [("ZMQ101", 9)]


def test_binding_factories_setting_names_what_the_analysis_cannot_see(tmp_path):
    write_tree(
        tmp_path,
        {
            "svc.py": """
                from vendor.sockets import make_pub_socket

                pub = make_pub_socket("tcp://127.0.0.1:7100")
                pub.connect("tcp://127.0.0.1:7100")
            """
        },
    )
    assert findings_of(lint_tree(tmp_path, select=["ZMQ102"])) == []
    result = lint_tree(tmp_path, select=["ZMQ102"], options={"binding-factories": ["vendor.sockets.make_pub_socket"]})
    [finding] = findings_of(result, "ZMQ102")
    assert finding.line == 4 and finding.fix is not None


# -- ZMQ103 / ZMQ104 / ZMQ105 across modules --------------------------------------------------


BASE = """
import zmq


class BaseAgent:
    def __init__(self, name, port, host="127.0.0.1", context=None):
        self.name = name
        self.port = port
        self.host = host
        self.context = context or zmq.Context.instance()
        self.socket = self.context.socket(zmq.REP)
        self._bind(self.socket, self.port)

    def _bind(self, socket, port):
        socket.bind("tcp://%s:%d" % (self.host, port))
"""


def test_sys_path_rooted_base_class_resolves_for_103_104_105(tmp_path):
    write_tree(
        tmp_path,
        {
            "common/__init__.py": "",
            "common/core/__init__.py": "",
            "common/core/base_agent.py": BASE,
            "main_pc_code/agents/agent.py": """
                import sys
                sys.path.insert(0, "../..")
                import zmq
                from common.core.base_agent import BaseAgent


                class Agent(BaseAgent):
                    def __init__(self, port):
                        super().__init__("agent", port)
                        self.context = None
                        self.extra = self.context.socket(zmq.REP)
                        self.extra.bind("tcp://%s:%d" % (self.host, self.port))
                        print(self.endpoint)
            """,
        },
    )
    result = lint_tree(tmp_path, select=["ZMQ103", "ZMQ104", "ZMQ105"])
    assert sorted(codes_by_file(result)["agent.py"]) == [("ZMQ103", 10), ("ZMQ104", 13), ("ZMQ105", 12)]


def test_undefined_attribute_stays_silent_when_unknowable(tmp_path):
    write_tree(
        tmp_path,
        {
            "a.py": """
                import threading
                from third_party import Remote


                class FromLibrary(Remote):
                    def run(self):
                        return self.endpoint


                class Dynamic:
                    def __init__(self, **kw):
                        for key, value in kw.items():
                            setattr(self, key, value)

                    def run(self):
                        return self.endpoint


                class Lazy:
                    def __getattr__(self, name):
                        return name

                    def run(self):
                        return self.endpoint


                class Probed:
                    def run(self):
                        if hasattr(self, "endpoint"):
                            return self.endpoint


                class Worker(threading.Thread):
                    def run(self):
                        return self.name, self.daemon, self._target


                class Configured:
                    def run(self):
                        return self.endpoint


                configured = Configured()
                configured.endpoint = "tcp://127.0.0.1:5000"
            """
        },
    )
    assert findings_of(lint_tree(tmp_path, select=["ZMQ104"])) == []


def test_cleared_then_guarded_or_reassigned_is_silent(tmp_path):
    write_tree(
        tmp_path,
        {
            "base_agent.py": BASE,
            "a.py": """
                import zmq
                from base_agent import BaseAgent


                class Client:
                    def __init__(self):
                        self.sock = None

                    def connect(self):
                        self.sock = zmq.Context.instance().socket(zmq.REQ)

                    def send(self, data):
                        if self.sock is None:
                            self.connect()
                        self.sock.send(data)


                class Restarting(BaseAgent):
                    def stop(self):
                        self.socket.close(linger=0)
                        self.socket = None

                    def start(self):
                        if self.socket is None:
                            self.socket = self.context.socket(zmq.REP)
            """,
        },
    )
    assert findings_of(lint_tree(tmp_path, select=["ZMQ103"])) == []


# -- the fleet ----------------------------------------------------------------------------------


FLEET = REPO / "fixtures" / "agent_fleet"


@pytest.mark.skipif(not (FLEET / "BUGS.md").exists(), reason="fleet not present")
def test_fleet_socket_bugs_are_found_where_bugs_md_says():
    result = lint_tree(FLEET.parent, select=["ZMQ101", "ZMQ102", "ZMQ103", "ZMQ104", "ZMQ105"], paths=["agent_fleet/agents", "agent_fleet/common"])
    assert not result.errors
    found = sorted((Path(f.path).relative_to(FLEET).as_posix(), f.code, f.line) for f in result.findings)
    assert found == [
        ("agents/chitchat_agent.py", "ZMQ101", 45),
        ("agents/emotion_engine.py", "ZMQ101", 55),
        ("agents/emotion_engine_enhanced.py", "ZMQ105", 36),
        ("agents/error_publisher.py", "ZMQ102", 37),
        ("agents/executor.py", "ZMQ103", 34),
        ("agents/nlu_agent.py", "ZMQ101", 39),
        ("agents/nlu_agent.py", "ZMQ104", 38),
    ]


# -- precision ----------------------------------------------------------------------------------


# Corpus runs: tens of seconds of CPU each, more on a loaded machine.
_CORPUS = [pytest.mark.slow, pytest.mark.timeout(900)]

PRECISION_FAST = [
    pytest.param([STDLIB / "socketserver.py", STDLIB / "threading.py"], id="stdlib-servers"),
    pytest.param([STDLIB / "concurrent", STDLIB / "multiprocessing" / "connection.py"], id="stdlib-concurrency"),
    pytest.param([PYZMQ / "sugar", PYZMQ / "devices", PYZMQ / "eventloop", PYZMQ / "green"], id="pyzmq-core"),
]
PRECISION_SLOW = [
    pytest.param([STDLIB / "http", STDLIB / "logging"], id="stdlib-http-logging", marks=_CORPUS),
    pytest.param([STDLIB / "multiprocessing", STDLIB / "asyncio"], id="stdlib-mp-asyncio", marks=_CORPUS),
    pytest.param([PYZMQ], id="pyzmq-all", marks=_CORPUS),
]


@pytest.mark.parametrize("paths", PRECISION_FAST + PRECISION_SLOW)
def test_no_socket_findings_on_stdlib_and_pyzmq(paths):
    from zmqlint.config import Config
    from zmqlint.runner import run

    config = Config.from_table({}, root=paths[0].parent).with_overrides(select=["ZMQ1"])
    result = run([str(p) for p in paths], config)
    assert not result.errors
    assert result.files, "nothing was checked"
    assert [f.to_json() for f in result.findings] == []


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.skipif(not (FLEET / "BUGS.md").exists(), reason="fleet not present")
def test_fleet_agents_start_and_answer_after_the_socket_fixes(tmp_path):
    """The fleet's own self-test, on a copy fixed for ZMQ101–ZMQ105 only: every agent these
    rules concern starts, answers, and the error bus delivers."""
    import shutil
    import subprocess

    from zmqlint.engine import FixMode

    shutil.copytree(FLEET, tmp_path / "agent_fleet", ignore=shutil.ignore_patterns("__pycache__"))
    fixed = lint_tree(tmp_path, select=["ZMQ1"], fix=FixMode.UNSAFE, paths=["agent_fleet"])
    assert not fixed.errors and fixed.fixes_applied == 6
    assert [f.code for f in findings_of(lint_tree(tmp_path, select=["ZMQ1"]))] == []
    run = subprocess.run(
        [sys.executable, "-m", "agent_fleet", "--selftest"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    lines = run.stdout.splitlines() + run.stderr.splitlines()
    for agent in ("emotion_engine", "emotion_engine_enhanced", "chitchat", "nlu", "executor"):
        assert any(line.startswith("[ OK ]") and f"start {agent} agent" in line for line in lines), (agent, lines)
        assert any(line.startswith("[ OK ]") and f"call {agent} (" in line for line in lines), (agent, lines)
    assert any(line.startswith("[ OK ]") and "error event via error publisher" in line for line in lines), lines
