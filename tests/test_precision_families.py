"""False-finding families seen on real ZeroMQ code, each as minimal real-looking code.

Every silent case has a reporting twin that differs only in what makes the family: the test
fails if the rule goes silent everywhere as much as if it reports the family again.
"""

from __future__ import annotations

import pytest

from zmqlint.rule import dedent

from conftest import findings_of, lint_tree, write_tree


def _found(tmp_path, files, code, path="agent.py"):
    write_tree(tmp_path, files)
    result = lint_tree(tmp_path, select=[code, "E999"], paths=[path])
    return [(f.code, f.line) for f in result.findings if f.code in (code, "E999")]


# -- ZMQ104: attributes nobody assigns ---------------------------------------------------------

AGENT_NEEDS_ENDPOINT = '''
    import zmq


    class Agent:
        def __init__(self, port):
            self.context = zmq.Context.instance()
            self.port = port
    {assignment}
        def start(self):
            self.sock = self.context.socket(zmq.REP)
            self.sock.bind(self.endpoint)
'''


def test_zmq104_an_assignment_in_a_part_that_does_not_parse_makes_never_assigned_unknown(tmp_path):
    broken = AGENT_NEEDS_ENDPOINT.format(assignment='        self.endpoint = f"tcp://127.0.0.1:{port}"  )\n')
    assert _found(tmp_path, {"agent.py": broken}, "ZMQ104") == [("E999", 8)]


def test_zmq104_the_same_agent_without_the_assignment_is_reported(tmp_path):
    missing = AGENT_NEEDS_ENDPOINT.format(assignment="")
    assert _found(tmp_path, {"agent.py": missing}, "ZMQ104") == [("ZMQ104", 11)]


def test_zmq104_a_broken_part_of_a_base_class_file_makes_its_attributes_unknown(tmp_path):
    files = {
        "base.py": """
            import zmq

            class BaseAgent:
                def __init__(self, port):
                    self.context = zmq.Context.instance()
                    self.endpoint = f"tcp://127.0.0.1:{port}"
                    self.health = {"ok": True
        """,
        "agent.py": """
            import zmq
            from base import BaseAgent

            class Agent(BaseAgent):
                def start(self):
                    self.sock = self.context.socket(zmq.REP)
                    self.sock.bind(self.reply_endpoint)
        """,
    }
    assert _found(tmp_path, files, "ZMQ104") == []
    files["base.py"] = files["base.py"].replace('{"ok": True', '{"ok": True}')
    assert _found(tmp_path, files, "ZMQ104") == [("ZMQ104", 7)]


HEALTH_SERVER = '''
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    import zmq


    class Agent:
        def __init__(self, port):
            self.context = zmq.Context.instance()
            self.port = port

        def start_health_server(self):
            agent = self

            class Health(BaseHTTPRequestHandler):
                def do_GET(self):
                    self.send_response(200)
                    self.end_headers()
                    self.wfile.write(f"{{agent.port}} {{self.client_address[0]}}".encode())

            server = HTTPServer(("127.0.0.1", {port}), Health)
            threading.Thread(target=server.serve_forever, daemon=True).start()
'''


def test_zmq104_a_class_nested_in_a_method_reads_its_own_self(tmp_path):
    assert _found(tmp_path, {"agent.py": HEALTH_SERVER.format(port="self.port + 1")}, "ZMQ104") == []


def test_zmq104_the_enclosing_class_reading_what_it_never_set_is_still_reported(tmp_path):
    code = HEALTH_SERVER.format(port="self.health_port")
    assert _found(tmp_path, {"agent.py": code}, "ZMQ104") == [("ZMQ104", 21)]


def test_zmq104_a_nested_function_taking_its_own_self_is_another_object(tmp_path):
    code = '''
        import zmq

        class Agent:
            def __init__(self):
                self.context = zmq.Context.instance()

            def handler_class(self):
                def do_GET(self):
                    return self.client_address
                return type("Handler", (object,), {"do_GET": do_GET})
    '''
    assert _found(tmp_path, {"agent.py": code}, "ZMQ104") == []


@pytest.mark.parametrize(
    "mixin",
    [
        # a mixin joining a namedtuple: its state is the tuple's fields
        """
        class Addressing:
            def endpoint(self):
                return "tcp://%s:%d" % (self.host, self.port)

            def connect(self, sock):
                sock.connect(self.endpoint())
                return sock.setsockopt(zmq.LINGER, 0) or self.socket_options
        """,
        # attributes that come from __getattr__
        """
        class Addressing:
            def __init__(self, config):
                self._config = config

            def __getattr__(self, name):
                return self._config[name]

            def connect(self, sock):
                sock.connect(self.endpoint)
        """,
        # slots named by a module-level constant
        """
        FIELDS = ("endpoint", "port")

        class Addressing:
            __slots__ = FIELDS

            def __init__(self, **values):
                for key in FIELDS:
                    object.__setattr__(self, key, values[key])

            def connect(self, sock):
                sock.connect(self.endpoint)
        """,
        # setattr / __dict__.update / vars(self).update
        """
        class Addressing:
            def __init__(self, **values):
                self.__dict__.update(values)

            def connect(self, sock):
                sock.connect(self.endpoint)
        """,
        """
        class Addressing:
            def __init__(self, **values):
                vars(self).update(values)

            def connect(self, sock):
                sock.connect(self.endpoint)
        """,
        """
        class Addressing:
            def __init__(self, **values):
                for key, value in values.items():
                    setattr(self, key, value)

            def connect(self, sock):
                sock.connect(self.endpoint)
        """,
        # a base the index cannot resolve
        """
        from vendor.transport import Transport

        class Addressing(Transport):
            def __init__(self):
                super().__init__()

            def connect(self, sock):
                sock.connect(self.endpoint)
        """,
    ],
    ids=["namedtuple-mixin", "getattr", "slots-elsewhere", "dict-update", "vars-update", "setattr", "unresolvable-base"],
)
def test_zmq104_mixins_and_dynamic_classes(tmp_path, mixin):
    code = "import zmq\nfrom collections import namedtuple\n" + mixin.replace("\n        ", "\n") + (
        '\n\nclass Peer(Addressing, namedtuple("Peer", "host port socket_options")):\n    pass\n'
        if "class Addressing:\n    def endpoint" in mixin.replace("\n        ", "\n")
        else ""
    )
    (tmp_path / "agent.py").write_text(code)
    result = lint_tree(tmp_path, select=["ZMQ104"], paths=["agent.py"])
    assert findings_of(result, "ZMQ104") == []


def test_zmq104_a_class_with_state_of_its_own_that_lacks_the_endpoint_is_reported(tmp_path):
    code = '''
        import zmq

        class Addressing:
            def __init__(self, host):
                self.host = host

            def connect(self, sock):
                sock.connect(self.endpoint)
    '''
    assert _found(tmp_path, {"agent.py": code}, "ZMQ104") == [("ZMQ104", 8)]


def test_zmq104_reports_only_what_holds_a_socket_a_context_or_an_endpoint(tmp_path):
    # The standard library's test_importlib shape: `self.machinery` / `self.util` come from a
    # test-class factory. Not an endpoint; type checkers are for generic attributes.
    code = '''
        import zmq

        class PathEntryFinderTests:
            def __init__(self):
                self.sock = zmq.Context.instance().socket(zmq.REQ)

            def test_finder(self):
                finder = self.machinery.FileFinder(self.path_location)
                self.util.check(finder)
                self.sock.connect(self.server_address)
                self.sock.send(self.payload)
    '''
    assert _found(tmp_path, {"agent.py": code}, "ZMQ104") == [("ZMQ104", 10)]  # self.server_address


def test_zmq104_is_silent_on_modules_that_do_not_use_zeromq(tmp_path):
    code = '''
        class Client:
            def __init__(self):
                self.timeout = 3

            def start(self, sock):
                sock.connect(self.endpoint)
    '''
    assert _found(tmp_path, {"agent.py": code}, "ZMQ104") == []
    assert _found(tmp_path, {"agent.py": "import zmq\n" + dedent(code)}, "ZMQ104") == [("ZMQ104", 7)]


# -- ZMQ103: a context or socket set to None, then used ----------------------------------------


def test_zmq103_placeholder_none_assigned_before_use_by_another_method(tmp_path):
    code = '''
        import zmq

        class Client:
            def __init__(self, endpoint):
                self.context = zmq.Context.instance()
                self.endpoint = endpoint
                self.sock = None

            def connect(self):
                self.sock = self.context.socket(zmq.REQ)
                self.sock.connect(self.endpoint)

            def request(self, payload):
                self.sock.send_multipart([payload])
                return self.sock.recv_multipart()
    '''
    assert _found(tmp_path, {"agent.py": code}, "ZMQ103") == []
    never_set = code.replace("self.sock = self.context.socket(zmq.REQ)", "sock = self.context.socket(zmq.REQ)").replace(
        "self.sock.connect(self.endpoint)", "sock.connect(self.endpoint)"
    )
    assert _found(tmp_path, {"agent.py": never_set}, "ZMQ103") == [("ZMQ103", 7)]


@pytest.mark.parametrize(
    "guard",
    [
        "if self.sock:\n            self.sock.send_multipart([b'x'])",
        "if self.sock is not None:\n            self.sock.send_multipart([b'x'])",
        "if self.sock is None:\n            return\n        self.sock.send_multipart([b'x'])",
        "self.sock and self.sock.send_multipart([b'x'])",
    ],
    ids=["truthiness", "is-not-none", "early-return", "and"],
)
def test_zmq103_every_use_guarded(tmp_path, guard):
    code = (
        "import zmq\n\n\nclass Publisher:\n    def __init__(self):\n        self.sock = None\n\n"
        f"    def publish(self):\n        {guard}\n"
    )
    (tmp_path / "agent.py").write_text(code)
    assert findings_of(lint_tree(tmp_path, select=["ZMQ103"], paths=["agent.py"]), "ZMQ103") == []
    unguarded = code.split("    def publish")[0] + "    def publish(self):\n        self.sock.send_multipart([b'x'])\n"
    (tmp_path / "agent.py").write_text(unguarded)
    assert [f.line for f in findings_of(lint_tree(tmp_path, select=["ZMQ103"], paths=["agent.py"]), "ZMQ103")] == [6]


FAILED_BIND = '''
    import zmq

    class Publisher:
        def __init__(self, context, endpoint):
            self.sock = context.socket(zmq.PUB)
            try:
                self.sock.bind(endpoint)
            except zmq.ZMQError:
                self.sock = None
            {after}
'''


def test_zmq103_the_else_branch_after_a_failed_bind_never_sees_the_none(tmp_path):
    code = FAILED_BIND.format(after="else:\n                self.sock.setsockopt(zmq.LINGER, 0)")
    assert _found(tmp_path, {"agent.py": code}, "ZMQ103") == []


def test_zmq103_a_use_after_the_try_is_reachable_from_the_none(tmp_path):
    code = FAILED_BIND.format(after="self.sock.setsockopt(zmq.LINGER, 0)")
    assert _found(tmp_path, {"agent.py": code}, "ZMQ103") == [("ZMQ103", 9)]


def test_zmq103_a_standard_library_socket_is_not_its_business(tmp_path):
    code = '''
        import socket
        import zmq

        class Watchdog:
            def __init__(self, context):
                self.context = context
                self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                try:
                    self.sock.bind(("127.0.0.1", 0))
                except OSError:
                    self.sock = None
                self.sock.settimeout(1)
    '''
    assert _found(tmp_path, {"agent.py": code}, "ZMQ103") == []
    zmq_socket = code.replace("socket.socket(socket.AF_INET, socket.SOCK_DGRAM)", "context.socket(zmq.SUB)").replace(
        'self.sock.settimeout(1)', "self.sock.setsockopt(zmq.RCVTIMEO, 1000)"
    )
    assert _found(tmp_path, {"agent.py": zmq_socket}, "ZMQ103") == [("ZMQ103", 11)]


def test_zmq103_a_subclass_clearing_the_context_before_the_base_setup_uses_it(tmp_path):
    files = {
        "base.py": """
            import zmq

            class BaseAgent:
                def __init__(self):
                    self.context = zmq.Context.instance()

                def setup(self):
                    self.sock = self.context.socket(zmq.REP)
        """,
        "agent.py": """
            import zmq
            from base import BaseAgent

            class Agent(BaseAgent):
                def __init__(self):
                    super().__init__()
                    self.context = None
                    self.setup()
        """,
    }
    assert _found(tmp_path, files, "ZMQ103") == [("ZMQ103", 7)]
    files["agent.py"] = files["agent.py"].replace("self.context = None\n", "self.context = zmq.Context()\n")
    assert _found(tmp_path, files, "ZMQ103") == []


# -- SEC402: credentials a client sends are not a server failing open -------------------------

SESSION = '''
    from urllib.parse import urlparse

    import requests
    from requests.auth import HTTPBasicAuth


    class {name}({base}):
        def __init__(self, base_url, app=None):
            super().__init__()
            parsed = urlparse(base_url)
            if parsed.password:
                {install}
'''


def test_sec402_a_client_session_adding_auth_only_with_a_password(tmp_path):
    code = SESSION.format(name="HttpSession", base="requests.Session", install="self.auth = HTTPBasicAuth(parsed.username, parsed.password)")
    assert _found(tmp_path, {"agent.py": code}, "SEC402") == []


def test_sec402_a_server_adding_its_auth_middleware_only_with_a_key_is_reported(tmp_path):
    code = SESSION.format(name="Service", base="object", install="app.add_middleware(TokenMiddleware, token=parsed.password)")
    code = code.replace("parsed = urlparse(base_url)", "parsed = settings").replace("parsed.password", "parsed.api_token")
    assert _found(tmp_path, {"agent.py": code}, "SEC402") == [("SEC402", 11)]


HELPER = '''
    import httpx


    def {name}({params}):
        if not password:
            return None
        if not user:
            raise ValueError("a password needs a user")
        return {result}
'''


def test_sec402_a_helper_returning_no_client_auth_without_a_password(tmp_path):
    code = HELPER.format(name="client_auth", params="user, password", result="httpx.BasicAuth(user, password)")
    assert _found(tmp_path, {"agent.py": code}, "SEC402") == []


def test_sec402_a_request_check_letting_requests_through_without_a_password_is_reported(tmp_path):
    code = HELPER.format(name="verify_password", params="request, user, password", result="check(request, user, password)")
    assert _found(tmp_path, {"agent.py": code}, "SEC402") == [("SEC402", 5)]


# -- SEC401: text built from literals is not dynamic -------------------------------------------

SETUP = '''
    def init(namespace, user_line):
        setup = "\\n".join(["from math import *", {extra}])
        exec(setup, namespace)
'''


def test_sec401_exec_of_text_joined_from_literals(tmp_path):
    assert _found(tmp_path, {"agent.py": SETUP.format(extra='"x = 1"')}, "SEC401") == []


def test_sec401_the_same_text_with_a_parameter_joined_in_is_reported(tmp_path):
    assert _found(tmp_path, {"agent.py": SETUP.format(extra="user_line")}, "SEC401") == [("SEC401", 3)]


def test_sec401_a_name_rebound_from_outside_is_dynamic(tmp_path):
    code = '''
        def init(namespace, user_line):
            setup = "from math import *"
            if user_line:
                setup = user_line
            exec(setup, namespace)
    '''
    assert _found(tmp_path, {"agent.py": code}, "SEC401") == [("SEC401", 5)]


# -- THR501-THR503: threads ---------------------------------------------------------------------

METERS = '''
    import threading


    class ProgressBar:
        def __init__(self, n):
            self.lock = threading.Lock()
            self.meters = {init}
            self.done = False
            threading.Thread(target=self._ensure_draw, daemon=True).start()

        def update(self, pos, text):
            self.meters[pos] = text

        def draw(self):
            with self.lock:
                for meter in self.meters:
                    print(meter)

        def _ensure_draw(self):
            with self.lock:
                if not self.done:
                    self.draw()
'''


def test_thr502_replacing_a_list_item_never_changes_its_size_under_an_iteration(tmp_path):
    assert _found(tmp_path, {"agent.py": METERS.format(init='[""] * n')}, "THR502") == []


def test_thr502_a_dict_that_may_grow_under_the_iteration_is_reported(tmp_path):
    assert _found(tmp_path, {"agent.py": METERS.format(init="{}")}, "THR502") == [("THR502", 16)]


FORKING = '''
    import os
    import threading
    import time


    class ForkWait:
        def __init__(self):
            self.alive = {}
            self.stop = False

        def f(self, id):
            while not self.stop:
                self.alive[id] = os.getpid()
                time.sleep(0.01)

        def test_wait(self):
            threading.Thread(target=self.f, args=(0,)).start()
            cpid = os.fork()
            if CHILD:
                for key in self.alive:
                    print(key)
                os._exit(0)
'''


def test_thr502_the_child_after_fork_runs_alone(tmp_path):
    assert _found(tmp_path, {"agent.py": FORKING.replace("CHILD", "cpid == 0")}, "THR502") == []


def test_thr502_the_parent_after_fork_still_races(tmp_path):
    assert _found(tmp_path, {"agent.py": FORKING.replace("CHILD", "cpid != 0")}, "THR502") == [("THR502", 20)]


def test_thr503_a_daemon_thread_of_something_nothing_stops_may_die_with_the_process(tmp_path):
    code = '''
        import threading
        import zmq

        def responder():
            ctx = zmq.Context()
            sock = ctx.socket(zmq.ROUTER)
            sock.bind("tcp://127.0.0.1:5555")
            while True:
                frame, msg = sock.recv_multipart()
                sock.send_multipart([frame, msg])

        def main():
            threading.Thread(target=responder, daemon=True).start()
    '''
    assert _found(tmp_path, {"agent.py": code}, "THR503") == []
    assert _found(tmp_path, {"agent.py": code.replace("daemon=True", "daemon=False")}, "THR503") == [("THR503", 8)]


HEARTBEAT = '''
import threading, time
import zmq

def start_heartbeat(sock):
    def beat():
        while True:
            sock.send(b"beat")
            time.sleep(0.01)
    threading.Thread(target=beat, daemon=True).start()

ctx = zmq.Context()
pub = ctx.socket(zmq.PUB)
pub.bind("tcp://127.0.0.1:0")
start_heartbeat(pub)
time.sleep(0.1)
ctx.term()   # waits for the socket the daemon thread keeps sending on
print("terminated")
'''


def test_thr503_a_daemon_loop_on_a_socket_someone_else_owns_hangs_their_term(tmp_path):
    import subprocess
    import sys

    (tmp_path / "agent.py").write_text(HEARTBEAT)
    assert [(f.code, f.line) for f in findings_of(lint_tree(tmp_path, select=["THR503"], paths=["agent.py"]))] == [("THR503", 7)]
    with pytest.raises(subprocess.TimeoutExpired):
        subprocess.run([sys.executable, str(tmp_path / "agent.py")], capture_output=True, timeout=3)


SIGINT_HANDLER = '''
    import threading


    class SigintHandler:
        def __enter__(self):
            self._released = False
            self._request = threading.Event()
            self._watcher = threading.Thread(target=self._watch, daemon=True)
            self._watcher.start()
            return self

        def _watch(self):
            while not self._released:
                self._request.wait()
                self._request.clear()

        def __exit__(self, *exc):
            self._released = True
            self._request.set()
'''


def test_thr501_one_finding_at_the_last_signal_and_the_fixed_exit_joins_promptly(tmp_path):
    import time

    from zmqlint.engine import FixMode

    (tmp_path / "agent.py").write_text(dedent(SIGINT_HANDLER))
    found = findings_of(lint_tree(tmp_path, select=["THR501"], paths=["agent.py"]))
    assert [(f.code, f.line) for f in found] == [("THR501", 19)]
    lint_tree(tmp_path, select=["THR501"], fix=FixMode.SAFE, paths=["agent.py"])
    namespace: dict = {}
    exec(compile((tmp_path / "agent.py").read_text(), "agent.py", "exec"), namespace)
    handler = namespace["SigintHandler"]()
    started = time.monotonic()
    with handler:
        pass
    assert time.monotonic() - started < 2.0
    assert not handler._watcher.is_alive()


# -- SER201 / SER202: sockets whose every peer is a thread of this process ---------------------

LOOPBACK_AGENT = '''
    import zmq


    class Agent:
        def __init__(self):
            self._context = zmq.Context.instance()

        def _loopback_reqrep(self, address, request):
            loopback = self._context.socket(zmq.REQ)
            try:
                loopback.connect(address)
                loopback.send_pyobj(request)
                return loopback.recv_pyobj()
            finally:
                loopback.close(linger=0)

        def kill(self):
            return self._loopback_reqrep("inproc://loopback", ("kill", None))

        def safe_call(self, method, *args):
            return self._loopback_reqrep({second}, (method, args))
'''


@pytest.mark.parametrize("code", ["SER201", "SER202"])
def test_ser20x_an_endpoint_parameter_every_caller_gives_inproc_is_in_process(tmp_path, code):
    source = LOOPBACK_AGENT.format(second='"inproc://_loopback_safe"')
    assert _found(tmp_path, {"agent.py": source}, code) == []


@pytest.mark.parametrize("code, line", [("SER201", 13), ("SER202", 12)])
def test_ser20x_one_caller_giving_an_ipc_endpoint_is_reported(tmp_path, code, line):
    source = LOOPBACK_AGENT.format(second='"ipc:///tmp/agent-safe"')
    assert _found(tmp_path, {"agent.py": source}, code) == [(code, line)]


ACTOR_FILES = {
    "helpers.py": '''
        import random

        import zmq


        def create_pipe(ctx):
            front = ctx.socket(zmq.PAIR)
            back = ctx.socket(zmq.PAIR)
            endpoint = "inproc://actor-%04x" % random.randint(0, 0x10000)
            while True:
                try:
                    front.bind(endpoint)
                except zmq.ZMQError:
                    endpoint = "{retry}-%04x" % random.randint(0, 0x10000)
                else:
                    break
            back.connect(endpoint)
            return front, back
    ''',
    "actor.py": '''
        import threading

        from helpers import create_pipe


        class Actor:
            def __init__(self, ctx, handler):
                self.pipe, self.shim_pipe = create_pipe(ctx)
                self.thread = threading.Thread(target=handler, args=(self.shim_pipe,))
                self.thread.start()

            def recv_pyobj(self, *args, **kwargs):
                return self.pipe.recv_pyobj(*args, **kwargs)
    ''',
    "agent.py": '''
        import zmq

        from actor import Actor


        class Node:
            def __init__(self, handler):
                self.actor = Actor(zmq.Context.instance(), handler)

            def peers(self):
                return self.actor.recv_pyobj()
    ''',
}


def test_ser201_an_actor_wrapper_over_an_inproc_pipe_is_in_process(tmp_path):
    files = dict(ACTOR_FILES, **{"helpers.py": ACTOR_FILES["helpers.py"].replace("{retry}", "inproc://actor")})
    assert _found(tmp_path, files, "SER201") == []


def test_ser201_an_actor_wrapper_whose_pipe_may_fall_back_to_tcp_is_reported(tmp_path):
    files = dict(ACTOR_FILES, **{"helpers.py": ACTOR_FILES["helpers.py"].replace("{retry}", "tcp://127.0.0.1:5555")})
    assert _found(tmp_path, files, "SER201") == [("SER201", 11)]


# The other end of the actor's pipe: the handler the actor builds with it (pyre's PyreNode,
# handed to ZActor, which calls it with `*(ctx, shim_pipe) + args` in its thread).
NODE_FILES = {
    "helpers.py": ACTOR_FILES["helpers.py"],
    "actor.py": '''
        import threading

        from helpers import create_pipe


        class Actor:
            def __init__(self, ctx, handler, *args):
                self.ctx = ctx
                self.pipe, self.shim_pipe = create_pipe(ctx)
                self.shim_handler = handler
                self.shim_args = (self.ctx, self.shim_pipe) + args
                self.thread = threading.Thread(target=self.run)
                self.thread.start()

            def run(self):
                self.shim_handler(*self.shim_args)
                self.shim_pipe.close()
    ''',
    "node.py": '''
        import zmq


        class Node:
            def __init__(self, ctx, pipe, outbox):
                self._ctx = ctx
                self._pipe = pipe
                self.peers = {}

            def handle_api(self):
                command = self._pipe.recv_multipart()
                if command[0] == b"PEERS":
                    self._pipe.send_pyobj(list(self.peers))
    ''',
    "app.py": '''
        import zmq

        from actor import Actor
        from node import Node


        class App:
            def __init__(self, outbox):
                self.actor = Actor(zmq.Context.instance(), Node, outbox)
    {extra}''',
}


def _node_files(retry="inproc://actor", extra=""):
    files = dict(NODE_FILES)
    files["helpers.py"] = files["helpers.py"].replace("{retry}", retry)
    files["app.py"] = files["app.py"].replace("{extra}", extra)
    return files


def test_ser202_the_handler_an_actor_builds_with_its_inproc_pipe_is_in_process(tmp_path):
    assert _found(tmp_path, _node_files(), "SER202", path="node.py") == []


def test_ser202_the_handler_of_an_actor_whose_pipe_may_fall_back_to_tcp_is_reported(tmp_path):
    assert _found(tmp_path, _node_files(retry="tcp://127.0.0.1:5555"), "SER202", path="node.py") == [("SER202", 13)]


def test_ser202_a_handler_also_built_with_a_network_socket_is_reported(tmp_path):
    extra = '''
            def remote(self, ctx):
                sock = ctx.socket(zmq.PAIR)
                sock.connect("tcp://broker.example.com:5555")
                return Node(ctx, sock, None)
    '''
    assert _found(tmp_path, _node_files(extra=extra), "SER202", path="node.py") == [("SER202", 13)]


def test_ser202_a_handler_that_escapes_where_zmqlint_cannot_follow_is_reported(tmp_path):
    extra = '''
    HANDLERS = {"node": Node}
    '''
    assert _found(tmp_path, _node_files(extra=extra), "SER202", path="node.py") == [("SER202", 13)]


WORKER_FILES = {
    "worker.py": '''
        import threading

        import zmq


        def worker(ctx, pipe):
            while True:
                task = pipe.recv_pyobj()
                if task is None:
                    break


        def start(ctx):
            front = ctx.socket(zmq.PAIR)
            front.bind("inproc://tasks")
            back = ctx.socket(zmq.PAIR)
            back.connect({endpoint})
            thread = threading.Thread(target=worker, args=(ctx, back), daemon=True)
            thread.start()
            return front, thread
    ''',
}


def test_ser201_a_thread_target_handed_an_inproc_pipe_is_in_process(tmp_path):
    files = {"worker.py": WORKER_FILES["worker.py"].replace("{endpoint}", '"inproc://tasks"')}
    assert _found(tmp_path, files, "SER201", path="worker.py") == []


def test_ser201_a_thread_target_handed_a_tcp_socket_is_reported(tmp_path):
    files = {"worker.py": WORKER_FILES["worker.py"].replace("{endpoint}", '"tcp://10.0.0.5:5555"')}
    assert _found(tmp_path, files, "SER201", path="worker.py") == [("SER201", 8)]


# -- SER201 / SER202: a test's round trip through its own socket pair --------------------------

ROUND_TRIP = '''
    import zmq


    def ping_pong_pyobj(s1, s2, obj):
        s1.send_pyobj(obj)
        echoed = s2.recv_pyobj()
        s2.send_pyobj(echoed)
        return s1.recv_pyobj()


    def ask(client, request):
        client.send_pyobj(request)
        return client.recv_pyobj()
'''


@pytest.mark.parametrize("path", ["tests/helpers.py", "test_sockets.py", "mypy_tests/sockets.py", "conftest.py"])
def test_ser20x_a_test_round_trip_through_its_own_pair_is_not_reported_but_a_client_is(tmp_path, path):
    # pyzmq's ping_pong_pyobj: what s2 unpickles is what s1 sent. `ask` talks to a server: reported.
    files = {path: ROUND_TRIP}
    assert _found(tmp_path, files, "SER201", path=path) == [("SER201", 13)]
    assert _found(tmp_path, files, "SER202", path=path) == [("SER202", 12)]


def test_ser20x_the_same_round_trip_outside_tests_is_reported(tmp_path):
    # In service code two sockets are a forwarder (frontend in, backend out): the peers are others.
    files = {"service/relay.py": ROUND_TRIP}
    assert _found(tmp_path, files, "SER201", path="service/relay.py") == [("SER201", 6), ("SER201", 8), ("SER201", 13)]
    assert _found(tmp_path, files, "SER202", path="service/relay.py") == [("SER202", 5), ("SER202", 7), ("SER202", 12)]
