from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Dict, Iterator, List, Optional, Set, Tuple

import libcst as cst
from libcst.metadata import CodeRange, PositionProvider

from zmqlint.codemods.threads import NodeFinder, ThreadLifecycleTransformer, join_statement, join_thread_attribute
from zmqlint.facts.threads import (
    Body,
    assigned_in_init,
    attribute_kind,
    calls_on_self,
    closure,
    function_thread_starts,
    is_daemon,
    is_event_attribute,
    joined_on_path,
    own_nodes,
    qualified_call,
    self_attr,
    stop_entries,
    stop_path,
    thread_attributes,
    thread_side,
    thread_starts,
)
from zmqlint.index import ClassInfo, ModuleInfo, ProjectIndex, dotted_name
from zmqlint.model import Applicability, Fix, ImportSpec, Severity
from zmqlint.rule import Invalid, Rule, Valid

if TYPE_CHECKING:  # pragma: no cover
    from zmqlint.gates import FileFacts

_EXIT_CALLS = {"sys.exit", "os._exit", "exit", "quit", "os.abort"}
#: Preferred stop method to receive the event's `set()`, in order.
_STOP_ORDER = ("stop", "close", "shutdown", "terminate", "cleanup", "disconnect", "__exit__")


class UnstoppableLoop(NodeFinder, Rule):
    """Flags `while True` loops in threads that nothing can stop.

    ## What it does
    Reports `while True:` / `while 1:` in the body of a thread — a `Thread(target=...)` or
    `Timer` function, the `run()` of a `threading.Thread` subclass, a function handed to an
    executor or `asyncio.to_thread`, and the methods they call on `self` — when the loop body
    has no `break`, `return` or `raise` (nor `sys.exit()`), so no stop flag can end it. The
    thread must be one something could expect to stop: a non-daemon thread (it keeps the
    process alive), a thread of an object with a stop path of its own (`stop`, `close`,
    `__exit__`, ...), or a daemon thread that sends or receives on a socket it did not create
    (its owner's `context.term()` waits for it forever). A daemon thread of something nothing
    stops, on its own sockets, lives as long as the process by design.

    ## Why is this bad?
    Such a thread ignores shutdown. A non-daemon one keeps the process alive after `stop()`; a
    daemon one is killed mid-iteration at exit, with whatever it was doing half done. In the
    field report the voice-buffer worker and several exporters looped forever this way.

    ## Example
    ```python
    def _process(self):
        while True:
            self.step()
            time.sleep(0.01)
    ```

    ## Use instead
    ```python
    def _process(self):
        while not self._stop_event.is_set():
            self.step()
            self._stop_event.wait(0.01)

    def stop(self):
        self._stop_event.set()
        self._thread.join(timeout=5.0)
    ```

    ## Fix safety
    The fix is unsafe: it changes when the thread ends. It uses a `threading.Event` the stop
    path already sets, or creates `self._stop_event = threading.Event()` at the start of
    `__init__` and sets it at the start of the class's stop method; the loop becomes
    `while not <event>.is_set():`, each `time.sleep(t)` in it becomes `<event>.wait(t)` (so the
    thread wakes at once on stop), and the stop method joins the thread with
    `thread-join-timeout`. Loops in classes with no stop method of their own (or no `__init__`
    when an event must be created), and in plain functions, are reported only.
    """

    CODE = "THR503"
    NAME = "unstoppable-loop"
    SEVERITY = Severity.LOW
    MESSAGE = "`while True` in a thread body has no way to stop"
    FIXES = (Applicability.UNSAFE,)
    PREFILTER = ("while",)

    VALID = [
        Valid(
            """
            import threading

            class Worker:
                def __init__(self):
                    self._stop = threading.Event()
                    self._thread = threading.Thread(target=self._run)

                def _run(self):
                    while True:
                        if self._stop.wait(0.1):
                            break
            """
        ),
        Valid(
            """
            import queue, threading

            def consume(q):
                while True:
                    item = q.get()
                    if item is None:
                        return
                    print(item)

            q = queue.Queue()
            threading.Thread(target=consume, args=(q,)).start()
            """
        ),
        # Not a thread body: a command-line loop.
        Valid(
            """
            def repl():
                while True:
                    print(input("> "))
            """
        ),
    ]

    INVALID = [
        Invalid(
            """
            import threading
            import time


            class Exporter:
                def __init__(self, registry):
                    self.registry = registry
                    self._thread = threading.Thread(target=self._export_forever, daemon=True)

                def start(self):
                    self._thread.start()

                def _export_forever(self):
                    while True:
                        self.registry.flush()
                        time.sleep(5)

                def stop(self):
                    self.registry.close()
            """,
            line=14,
            column=9,
            end_column=19,
            expected_fix=None,
            expected_unsafe_fix="""
            import threading


            class Exporter:
                def __init__(self, registry):
                    self._stop_event = threading.Event()
                    self.registry = registry
                    self._thread = threading.Thread(target=self._export_forever, daemon=True)

                def start(self):
                    self._thread.start()

                def _export_forever(self):
                    while not self._stop_event.is_set():
                        self.registry.flush()
                        self._stop_event.wait(5)

                def stop(self):
                    self._stop_event.set()
                    if self._thread.is_alive():
                        self._thread.join(timeout=5.0)
                    self.registry.close()
            """,
        ),
        # The base class already has a stop event that its stop() sets: reuse it, join after.
        Invalid(
            """
            import threading
            from time import sleep
            from agents.base import BaseAgent


            class VoiceAgent(BaseAgent):
                def start(self):
                    super().start()
                    self._voice_thread = threading.Thread(target=self._process_voice, daemon=True)
                    self._voice_thread.start()

                def _process_voice(self):
                    while 1:
                        self.step()
                        sleep(0.01)

                def stop(self, timeout=2.0):
                    super().stop(timeout)
                    print("voice agent stopped")
            """,
            path="agents/voice.py",
            files={
                "agents/__init__.py": "",
                "agents/base.py": """
                    import threading

                    class BaseAgent:
                        def __init__(self):
                            self._stop_event = threading.Event()

                        def start(self):
                            pass

                        def stop(self, timeout=2.0):
                            self._stop_event.set()
                    """,
            },
            line=13,
            expected_unsafe_fix="""
            import threading
            from agents.base import BaseAgent


            class VoiceAgent(BaseAgent):
                def start(self):
                    super().start()
                    self._voice_thread = threading.Thread(target=self._process_voice, daemon=True)
                    self._voice_thread.start()

                def _process_voice(self):
                    while not self._stop_event.is_set():
                        self.step()
                        self._stop_event.wait(0.01)

                def stop(self, timeout=2.0):
                    super().stop(timeout)
                    if getattr(self, "_voice_thread", None) is not None:
                        self._voice_thread.join(timeout=5.0)
                    print("voice agent stopped")
            """,
        ),
        # A Thread subclass with a stop method.
        Invalid(
            '''
            import threading
            import time

            class Ticker(threading.Thread):
                def __init__(self):
                    super().__init__(daemon=True)
                    self.ticks = 0

                def run(self):
                    while True:
                        self.ticks += 1
                        time.sleep(0.01)

                def stop(self):
                    """Stop ticking."""
                    print("stopping")
            ''',
            line=10,
            expected_unsafe_fix='''
            import threading

            class Ticker(threading.Thread):
                def __init__(self):
                    self._stop_event = threading.Event()
                    super().__init__(daemon=True)
                    self.ticks = 0

                def run(self):
                    while not self._stop_event.is_set():
                        self.ticks += 1
                        self._stop_event.wait(0.01)

                def stop(self):
                    """Stop ticking."""
                    self._stop_event.set()
                    if self.is_alive() and self is not threading.current_thread():
                        self.join(timeout=5.0)
                    print("stopping")
            ''',
        ),
        # A nested function as the target, no class: reported only.
        Invalid(
            """
            import threading, time

            def start_heartbeat(sock):
                def beat():
                    while True:
                        sock.send(b"beat")
                        time.sleep(1)
                threading.Thread(target=beat, daemon=True).start()
            """,
            line=5,
            expected_fix=None,
        ),
        # Submitted to an executor; no stop method: reported only.
        Invalid(
            """
            from concurrent.futures import ThreadPoolExecutor

            class Pump:
                def __init__(self):
                    self.pool = ThreadPoolExecutor(2)
                    self.pool.submit(self._pump)

                def _pump(self):
                    while True:
                        self.pull()
            """,
            line=9,
            expected_fix=None,
        ),
    ]

    @classmethod
    def gate(cls, facts: "FileFacts") -> bool:
        # The rule reports a `while True` with no way out (`_is_endless`) in a thread body of
        # this file: the file must have such a loop, and then one must lie in a thread body
        # (`_endless_in_threads`, the rule's own loop on the stdlib ast).
        info = facts.module
        if info is None:  # the index holds another text of the file: the rule reads that one
            return True
        if not any(_is_endless(loop) for loop in facts.nodes(ast.While)):
            return False
        return any(True for _ in _endless_in_threads(facts.index, info))

    def leave_Module(self, original_node: cst.Module) -> None:
        info = self.context.module_info
        if info is None:
            return
        index: ProjectIndex = self.context.index
        for cls, body, loop in _endless_in_threads(index, info):
            self._check(index, cls, body, loop)

    def _check(self, index: ProjectIndex, cls: Optional[ClassInfo], body: Body, loop: ast.While) -> None:
        node = self.cst_node("stmt", loop)
        if not isinstance(node, cst.While):
            return
        start = self.get_metadata(PositionProvider, node).start
        end = self.get_metadata(PositionProvider, node.test).end
        fix = self._fix(index, cls, body, loop, node) if cls is not None else None
        message = (
            f"`while {cst.Module(body=[]).code_for_node(node.test)}` in thread body `{body.node.name}` has no break, "
            "return or raise and checks no stop flag: the thread ignores shutdown"
        )
        self.report(node, message, fix=fix, position=CodeRange(start, end))

    # -- the fix -----------------------------------------------------------------------------

    def _fix(self, index: ProjectIndex, cls: ClassInfo, body: Body, loop: ast.While, node: cst.While) -> Optional[Fix]:
        info = self.context.module_info
        sid = body.self_id
        if sid is None or body.owner is not cls or loop.orelse:
            return None
        stop_method = _own_stop_method(index, cls)
        if stop_method is None or stop_method.module is not info:
            return None
        stop_def = self.cst_node("def", stop_method.node)
        if not isinstance(stop_def, cst.FunctionDef) or not isinstance(stop_def.body, cst.IndentedBlock):
            return None
        stop_sid = stop_method.self_id or "self"
        path = stop_path(index, cls)
        event, anchor = _event_set_on_stop(index, cls, stop_method, path)
        prepend: Dict[cst.CSTNode, List[cst.BaseStatement]] = {}
        after: Dict[cst.CSTNode, List[cst.BaseStatement]] = {}
        imports: List[ImportSpec] = []
        stop_statements: List[cst.BaseStatement] = []
        if event is None:
            init = cls.methods.get("__init__")
            init_def = self.cst_node("def", init.node) if init is not None else None
            if not isinstance(init_def, cst.FunctionDef) or not isinstance(init_def.body, cst.IndentedBlock):
                return None
            taken = {a for k in index.mro(cls) for a in k.attributes} | {m for k in index.mro(cls) for m in k.methods}
            event = "_stop_event" if "_stop_event" not in taken else f"_{body.node.name.strip('_')}_stop"
            if event in taken:
                return None
            init_sid = init.parameters[0] if init.parameters else "self"
            prepend[init_def] = [cst.parse_statement(f"{init_sid}.{event} = threading.Event()\n")]
            stop_statements.append(cst.parse_statement(f"{stop_sid}.{event}.set()\n"))
            imports.append(ImportSpec("threading"))
        stop_statements.extend(self._joins(index, cls, body, stop_sid, path, imports))
        if anchor is None:
            prepend.setdefault(stop_def, []).extend(stop_statements)
        else:
            anchor_node = self.cst_node("stmt", anchor)
            if anchor_node is None:
                return None
            if stop_statements:
                after[anchor_node] = stop_statements
        calls: Dict[cst.CSTNode, cst.BaseExpression] = {}
        removes = [ImportSpec("time", "sleep"), ImportSpec("time")] if _sleeps(info, loop) else []
        for sleep in _sleeps(info, loop):
            call = self.cst_node("expr", sleep)
            if not isinstance(call, cst.Call):
                return None
            calls[call] = call.with_changes(func=cst.parse_expression(f"{sid}.{event}.wait"))
        test = cst.parse_expression(f"not {sid}.{event}.is_set()")
        loop_tests = {node: test}
        return Fix(
            f"stop the loop with `{event}`, set and join it in `{stop_method.node.name}`",
            Applicability.UNSAFE,
            transformer=lambda: ThreadLifecycleTransformer(
                after=after, prepend=prepend, loop_tests=loop_tests, calls=calls
            ),
            add_imports=imports,
            remove_imports=removes,
        )

    def _joins(
        self, index: ProjectIndex, cls: ClassInfo, body: Body, sid: str, path: List[Body], imports: List[ImportSpec]
    ) -> List[cst.BaseStatement]:
        timeout = self.context.option("thread-join-timeout")
        joins: List[cst.BaseStatement] = []
        for thread in thread_attributes(index, cls).values():
            runs_loop = any(body in closure(index, cls, [s.body]) for s in thread.starts)
            if not runs_loop or joined_on_path(index, path, "self", thread):
                continue
            if thread.calls_stop_path:
                imports.append(ImportSpec("threading"))
            joins.append(join_thread_attribute(index, thread, sid, timeout))
        if index.is_subclass_of(cls, "threading.Thread") and body.node.name == "run":
            imports.append(ImportSpec("threading"))
            joins.append(join_statement(sid, timeout, may_be_unstarted=True, may_be_current=True))
        return joins


def _thread_bodies(index: ProjectIndex, info: ModuleInfo) -> Iterator[Tuple[Optional[ClassInfo], Body, bool]]:
    """(class whose ``self`` it runs with, or None; body; whether only daemon threads of
    something with no stop path run it) of every thread body started here. A loop that a
    non-daemon thread runs keeps the process alive; one of an object with a stop path
    ignores it; a daemon thread of something nothing stops may live as long as the process."""
    for cls in info.classes.values():
        side = thread_side(index, cls)
        if not side:
            continue
        if stop_entries(index, cls):
            yield from ((cls, body, False) for body in side)
            continue
        kept: Dict[int, Tuple[Body, bool]] = {}
        for start in thread_starts(index, cls):
            daemon = is_daemon(index, start)
            for body in closure(index, cls, [start.body]):
                previous = kept.get(id(body.node))
                kept[id(body.node)] = (body, daemon and (previous is None or previous[1]))
        yield from ((cls, body, daemon) for body, daemon in kept.values())
    for function in info.functions.values():
        for start in function_thread_starts(index, function, None):
            yield None, start.body, is_daemon(index, start)
    for cls in info.classes.values():
        for method in cls.methods.values():
            for start in function_thread_starts(index, method, cls):
                if start.body.owner is not cls:
                    yield None, start.body, is_daemon(index, start) and not stop_entries(index, cls)


def _endless_in_threads(index: ProjectIndex, info: ModuleInfo) -> Iterator[Tuple[Optional[ClassInfo], Body, ast.While]]:
    """(class, thread body, loop) of each endless loop to report in ``info``, in report order."""
    seen: Set[int] = set()
    for cls, body, daemon_unowned in _thread_bodies(index, info):
        if body.module is info and id(body.node) not in seen:
            loops = _endless_loops(body)
            if daemon_unowned:
                # It may die with the process, unless it holds a socket someone else owns:
                # that owner's `context.term()` waits for it forever.
                loops = [loop for loop in loops if _uses_outside_socket(body, loop)]
                if not loops:
                    continue
            seen.add(id(body.node))
            yield from ((cls, body, loop) for loop in loops)


#: Socket calls that keep a socket in use.
_SOCKET_IO = {
    "send", "send_multipart", "send_string", "send_json", "send_pyobj", "send_serialized", "recv",
    "recv_multipart", "recv_string", "recv_json", "recv_pyobj", "recv_serialized", "poll",
}


def _uses_outside_socket(body: Body, loop: ast.While) -> bool:
    """Does ``loop`` send or receive on a socket ``body`` did not create itself
    (``x = ctx.socket(...)`` in the body)?"""
    own = {
        target.id
        for node in own_nodes(body.node)
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Attribute)
        and node.value.func.attr == "socket"
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    for node in own_nodes(loop):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _SOCKET_IO:
            receiver = node.func.value
            if not (isinstance(receiver, ast.Name) and receiver.id in own):
                return True
    return False


def _endless_loops(body: Body) -> List[ast.While]:
    return [n for n in own_nodes(body.node) if isinstance(n, ast.While) and _is_endless(n)]


def _is_endless(n: ast.While) -> bool:
    return (
        isinstance(n.test, ast.Constant)
        and n.test.value in (True, 1)
        and not isinstance(n.test.value, str)
        and not _exits(n)
    )


def _exits(loop: ast.While) -> bool:
    """Whether anything in the loop's body can leave it: break (of this loop), return, raise,
    sys.exit()."""
    stack: List[ast.AST] = list(loop.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Return, ast.Raise)):
            return True
        if isinstance(node, ast.Break):
            return True
        if isinstance(node, ast.Call) and dotted_name(node.func) in _EXIT_CALLS:
            return True
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
                continue
            if isinstance(node, (ast.For, ast.While, ast.AsyncFor)) and child in node.body:
                # A break in a nested loop leaves only that loop; returns and raises still count.
                stack.extend(n for n in ast.walk(child) if isinstance(n, (ast.Return, ast.Raise)))
                continue
            stack.append(child)
    return False


def _sleeps(module: ModuleInfo, loop: ast.While) -> List[ast.Call]:
    return [
        n
        for n in own_nodes(loop)
        if isinstance(n, ast.Call) and qualified_call(module, n) == "time.sleep" and len(n.args) == 1 and not n.keywords
    ]


def _own_stop_method(index: ProjectIndex, cls: ClassInfo) -> Optional[Body]:
    entries = [b for b in stop_entries(index, cls) if b.owner is cls and b.node.name != "__del__"]
    for name in _STOP_ORDER:
        for entry in entries:
            if entry.node.name == name:
                return entry
    return entries[0] if entries else None


def _event_set_on_stop(index: ProjectIndex, cls: ClassInfo, stop_method: Body, path: List[Body]):
    """(event attribute, top-level statement of the stop method after which it is set) for a
    ``threading.Event`` of ``cls`` that the stop method sets, directly or through calls."""
    for stmt in stop_method.node.body:
        piece = Body(stmt, stop_method.module, stop_method.owner, stop_method.self_id)  # type: ignore[arg-type]
        reached = closure(index, cls, calls_on_self(index, cls, piece))
        for part in [piece, *reached]:
            for node in own_nodes(part.node):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "set"
                    and not node.args
                ):
                    attr = self_attr(node.func.value, part.self_id)
                    if attr and is_event_attribute(index, cls, attr) and assigned_in_init(index, cls, attr):
                        if "None" not in attribute_kind(index, cls, attr):
                            return attr, stmt
    return None, None
