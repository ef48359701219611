from __future__ import annotations

import ast
import bisect
from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, List, Optional, Set, Tuple

import libcst as cst

from zmqlint.codemods.threads import NodeFinder, ThreadLifecycleTransformer, join_thread_attribute
from zmqlint.facts.threads import (
    Body,
    ThreadAttribute,
    joined_on_path,
    own_nodes,
    self_attr,
    self_name,
    stop_path,
    thread_attributes,
)
from zmqlint.index import ClassInfo, ModuleInfo, ProjectIndex
from zmqlint.model import Applicability, Fix, ImportSpec, Severity
from zmqlint.rule import Invalid, Option, Rule, Valid

if TYPE_CHECKING:  # pragma: no cover
    from zmqlint.gates import FileFacts


@dataclass
class Signal:
    """``<holder>.<name>.set()`` / ``.clear()`` or ``<holder>.<name> = True/False`` in a stop path."""

    statement: ast.stmt
    call_or_assign: ast.AST
    holder: str  # "self" or "self.servicer" (with the body's own name for self)
    holder_class: ClassInfo
    name: str
    body: Body
    #: "set" (an event set: wakes whoever waits on it), or "clear" / "flag" (a condition the
    #: thread must test to notice).
    kind: str = "set"


class ThreadNeverJoined(NodeFinder, Rule):
    """Flags stop paths that signal a thread to stop but never wait for it.

    ## What it does
    Finds the methods that end an object's life (`stop`, `close`, `shutdown`, `cleanup`,
    `terminate`, `disconnect`, `__exit__`, `__del__`, signal and `atexit` handlers, and what
    they call on `self`) and the signals they send: `event.set()`, `event.clear()`, or a flag
    set to `True`/`False`. When a signal is read by the body of a started thread kept in an
    attribute — of this object, or of an object it holds (`self.servicer._sweeper_stop.set()`
    for a thread in `self.servicer._sweeper`, whose class may live in another module) — and
    nothing on the stop path joins that thread, the signal is reported: once per thread and
    stop method, at the last signal it sends that thread (a flag, then the event it waits on).

    ## Why is this bad?
    `set()` only asks the thread to finish. The stop method returns while the thread may still
    be mid-iteration: it keeps using sockets and state that are being torn down, and at
    interpreter exit a daemon thread is killed wherever it is. In the field report the GPU
    lease sweeper was signalled but never joined, so VRAM accounting could be cut short on exit.

    ## Example
    ```python
    def stop(self):
        self.servicer._lease_sweeper_stop.set()
    ```

    ## Use instead
    ```python
    def stop(self):
        self.servicer._lease_sweeper_stop.set()
        self.servicer._lease_sweeper.join(timeout=5.0)
    ```
    or `zmqlint_runtime.threads.stop_and_join(event, thread, timeout=5.0)`.

    ## Fix safety
    The safe fix inserts `<thread>.join(timeout=<thread-join-timeout>)` right after the signal,
    guarded where the thread may not exist yet (assigned outside `__init__`), may be None, may
    not have been started (created and started in different methods), or may be the thread
    running the stop path itself. The timeout bounds the wait, so a stuck thread delays the stop
    by at most that long. Signals in `__del__` are reported only: joining from a finaliser can
    deadlock.
    """

    CODE = "THR501"
    NAME = "thread-never-joined"
    SEVERITY = Severity.MEDIUM
    MESSAGE = "Thread is signalled to stop but never joined"
    FIXES = (Applicability.SAFE,)
    PREFILTER = ("set(", "clear(", "False", "True")
    OPTIONS = {
        "thread-join-timeout": Option(
            (int, float), 5.0, "Seconds the fixes of THR501/THR503 wait for a thread to finish."
        )
    }

    VALID = [
        Valid(
            """
            import threading

            class Worker:
                def __init__(self):
                    self._stop = threading.Event()
                    self._thread = threading.Thread(target=self._run)
                    self._thread.start()

                def _run(self):
                    while not self._stop.is_set():
                        self._stop.wait(0.05)

                def stop(self):
                    self._stop.set()
                    self._thread.join(timeout=5)
            """
        ),
        # The event is not what the thread waits on: nothing to join for it.
        Valid(
            """
            import threading

            class Server:
                def __init__(self):
                    self.closed = threading.Event()

                def close(self):
                    self.closed.set()
            """
        ),
        # Joined through a helper that receives the thread.
        Valid(
            """
            import threading
            from zmqlint_runtime.threads import stop_and_join

            class Poller:
                def __init__(self):
                    self._running = True
                    self._thread = threading.Thread(target=self._poll)
                    self._thread.start()

                def _poll(self):
                    while self._running:
                        pass

                def close(self):
                    self._running = False
                    stop_and_join(None, self._thread)
            """
        ),
        # Across objects: the servicer's own close() joins its thread.
        Valid(
            """
            from service.leases import Servicer

            class Server:
                def __init__(self):
                    self.servicer = Servicer()

                def stop(self):
                    self.servicer._sweeper_stop.set()
                    self.servicer.close()
            """,
            files={
                "service/__init__.py": "",
                "service/leases.py": """
                    import threading

                    class Servicer:
                        def __init__(self):
                            self._sweeper_stop = threading.Event()
                            self._sweeper = threading.Thread(target=self._sweep)
                            self._sweeper.start()

                        def _sweep(self):
                            while not self._sweeper_stop.wait(0.1):
                                pass

                        def close(self):
                            self._sweeper_stop.set()
                            self._sweeper.join(timeout=5)
                    """,
            },
        ),
    ]

    INVALID = [
        Invalid(
            """
            import threading

            class Worker:
                def __init__(self):
                    self._stop = threading.Event()
                    self._thread = threading.Thread(target=self._run, daemon=True)
                    self._thread.start()

                def _run(self):
                    while not self._stop.is_set():
                        self._stop.wait(0.05)

                def stop(self):
                    self._stop.set()
            """,
            line=14,
            column=9,
            end_column=25,
            expected_fix="""
            import threading

            class Worker:
                def __init__(self):
                    self._stop = threading.Event()
                    self._thread = threading.Thread(target=self._run, daemon=True)
                    self._thread.start()

                def _run(self):
                    while not self._stop.is_set():
                        self._stop.wait(0.05)

                def stop(self):
                    self._stop.set()
                    self._thread.join(timeout=5.0)
            """,
        ),
        # The field report's shape: the sweeper lives in the servicer, defined in another module.
        Invalid(
            """
            from coordinator.leases import GpuLeaseServicer

            class RpcServer:
                def __init__(self, total_vram_mb):
                    self.servicer = GpuLeaseServicer(total_vram_mb)

                def stop(self):
                    \"\"\"Stop serving, then stop the lease sweeper.\"\"\"
                    self.servicer._lease_sweeper_stop.set()  # ask the sweeper to finish
            """,
            path="coordinator/rpc_server.py",
            files={
                "coordinator/__init__.py": "",
                "coordinator/leases.py": """
                    import threading

                    class GpuLeaseServicer:
                        def __init__(self, total_vram_mb):
                            self._leases = {}
                            self._lease_sweeper_stop = threading.Event()
                            self._lease_sweeper = threading.Thread(target=self._sweep_expired_leases, daemon=True)
                            self._lease_sweeper.start()

                        def _sweep_expired_leases(self):
                            while not self._lease_sweeper_stop.is_set():
                                self._lease_sweeper_stop.wait(0.1)
                    """,
            },
            line=9,
            column=9,
            message_contains="self.servicer._lease_sweeper",
            expected_fix="""
            from coordinator.leases import GpuLeaseServicer

            class RpcServer:
                def __init__(self, total_vram_mb):
                    self.servicer = GpuLeaseServicer(total_vram_mb)

                def stop(self):
                    \"\"\"Stop serving, then stop the lease sweeper.\"\"\"
                    self.servicer._lease_sweeper_stop.set()  # ask the sweeper to finish
                    self.servicer._lease_sweeper.join(timeout=5.0)
            """,
        ),
        # A flag, a thread created in start() and reset to None: guarded join.
        Invalid(
            """
            import threading

            class Exporter:
                def __init__(self):
                    self.running = False
                    self._thread = None

                def start(self):
                    self.running = True
                    self._thread = threading.Thread(target=self._export)
                    self._thread.start()

                def _export(self):
                    while self.running:
                        pass

                def shutdown(self):
                    self.running = False
                    print("exporter stopped")
            """,
            line=18,
            options={"thread-join-timeout": 2},
            expected_fix="""
            import threading

            class Exporter:
                def __init__(self):
                    self.running = False
                    self._thread = None

                def start(self):
                    self.running = True
                    self._thread = threading.Thread(target=self._export)
                    self._thread.start()

                def _export(self):
                    while self.running:
                        pass

                def shutdown(self):
                    self.running = False
                    if self._thread is not None:
                        self._thread.join(timeout=2.0)
                    print("exporter stopped")
            """,
        ),
        # A timer created in __init__ but started elsewhere, stopped from __exit__.
        Invalid(
            """
            import threading

            class Heartbeat:
                def __init__(self):
                    self._done = threading.Event()
                    self._timer = threading.Timer(1.0, self._beat)

                def __enter__(self):
                    self._timer.start()
                    return self

                def _beat(self):
                    if not self._done.is_set():
                        print("beat")

                def __exit__(self, *exc):
                    self._done.set()
            """,
            line=17,
            expected_fix="""
            import threading

            class Heartbeat:
                def __init__(self):
                    self._done = threading.Event()
                    self._timer = threading.Timer(1.0, self._beat)

                def __enter__(self):
                    self._timer.start()
                    return self

                def _beat(self):
                    if not self._done.is_set():
                        print("beat")

                def __exit__(self, *exc):
                    self._done.set()
                    if self._timer.is_alive():
                        self._timer.join(timeout=5.0)
            """,
        ),
        # A flag, then the event the thread waits on: one finding, at the last signal, and the
        # join after it (a join between the two would wait for the event).
        Invalid(
            """
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
            """,
            line=18,
            count=1,
            expected_fix="""
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
                    if getattr(self, "_watcher", None) is not None:
                        self._watcher.join(timeout=5.0)
            """,
        ),
        # Signalled from __del__: reported, not fixed.
        Invalid(
            """
            import threading

            class Watcher:
                def __init__(self):
                    self._stop = threading.Event()
                    self._thread = threading.Thread(target=self._watch)
                    self._thread.start()

                def _watch(self):
                    self._stop.wait()

                def __del__(self):
                    self._stop.set()
            """,
            line=13,
            expected_fix=None,
        ),
    ]

    @classmethod
    def gate(cls, facts: "FileFacts") -> bool:
        # A report is a signal statement (`<holder>.<name>.set()` / `.clear()`, or
        # `<holder>.<name> = True/False`) in a method of a class of this file (or a function
        # nested in one), whose holder is `self` or `self.<attr>` and whose name a thread kept
        # by the holder's class reads (`_signalled_threads`). Classes with such a candidate are
        # then put to the rule's own search (`_unjoined`, which walks their stop paths).
        info = facts.module
        if info is None:  # the index holds another text of the file: the rule reads that one
            return True
        if not info.classes:
            return False
        statements = [s for s in facts.nodes(ast.Expr) if _set_or_clear(s) is not None]
        statements += [s for s in facts.nodes(ast.Assign) if _flag_assignment(s)]
        if not statements:
            return False
        index: ProjectIndex = facts.index
        # The methods of the file's classes span disjoint lines (classes are top-level, methods
        # are statements of their class): the method whose lines hold a statement is the one
        # whose body (or a def nested in it) the statement is in.
        methods = sorted(
            ((m.node.lineno, m.node.end_lineno or m.node.lineno, m) for c in info.classes.values() for m in c.methods.values()),
            key=lambda span: span[0],
        )
        starts = [span[0] for span in methods]
        candidates: Set[int] = set()
        for stmt in statements:
            at = bisect.bisect_right(starts, stmt.lineno) - 1
            if at < 0 or stmt.lineno > methods[at][1]:
                continue
            method = methods[at][2]
            klass = method.owner
            if klass is None or id(klass) in candidates:
                continue
            body = Body(method.node, info, klass, self_name(method.node))
            if any(_signalled_threads(index, signal) for signal in _signals_in(index, klass, body, stmt)):
                candidates.add(id(klass))
        chosen = [klass for klass in info.classes.values() if id(klass) in candidates]
        return bool(chosen) and bool(_unjoined(index, info, chosen))

    def leave_Module(self, original_node: cst.Module) -> None:
        info = self.context.module_info
        if info is None:
            return
        for signal, unjoined, body in _unjoined(self.context.index, info, list(info.classes.values())):
            self._report(signal, unjoined, body)

    def _report(self, signal: Signal, threads: List[ThreadAttribute], body: Body) -> None:
        node = signal.call_or_assign
        cst_node = self.cst_node("expr" if isinstance(node, ast.Call) else "small", node)
        if cst_node is None:
            return
        names = ", ".join(f"`{signal.holder}.{t.attr}`" for t in threads)
        message = f"{names} is signalled to stop here but never joined on the stop path"
        fix = None
        anchor = self.cst_node("stmt", signal.statement)
        if isinstance(anchor, cst.SimpleStatementLine) and body.node.name != "__del__":
            timeout = self.context.option("thread-join-timeout")
            joins = [join_thread_attribute(self.context.index, t, signal.holder, timeout) for t in threads]
            needs_threading = any(t.calls_stop_path for t in threads)
            fix = Fix(
                "join the thread right after signalling it",
                Applicability.SAFE,
                transformer=lambda: ThreadLifecycleTransformer(after={anchor: joins}),
                add_imports=[ImportSpec("threading")] if needs_threading else [],
            )
        self.report(cst_node, message, fix=fix)


def _holder(index: ProjectIndex, cls: ClassInfo, body: Body, node: ast.expr) -> Optional[Tuple[str, ClassInfo]]:
    """``self`` -> (``self``, cls); ``self.servicer`` -> (``self.servicer``, its class)."""
    if isinstance(node, ast.Name) and node.id == body.self_id:
        return body.self_id, cls
    attr = self_attr(node, body.self_id)
    if attr is not None:
        owner = index.class_of_attribute(cls, attr)
        if owner is not None:
            return f"{body.self_id}.{attr}", owner
    return None


def _unjoined(
    index: ProjectIndex, info: ModuleInfo, classes: List[ClassInfo]
) -> List[Tuple[Signal, List[ThreadAttribute], Body]]:
    """(signal, threads it stops that the stop path never joins, body) of each report for
    ``classes`` of ``info``, in report order (on the stdlib ast: the gate asks it too)."""
    found: List[Tuple[Signal, List[ThreadAttribute], Body]] = []
    reported: Set[int] = set()
    for cls in classes:
        path = stop_path(index, cls)
        for body in path:
            if body.owner is not cls or body.module is not info:
                continue
            # A stop method often signals one thread twice (a flag, then the event it waits
            # on): one finding per thread, at its last signal, where a join no longer waits
            # for a signal still to come.
            last: Dict[Tuple[str, str], Signal] = {}
            threads_of: Dict[Tuple[str, str], ThreadAttribute] = {}
            signals = sorted(_signals(index, cls, body), key=lambda sig: (sig.statement.lineno, sig.statement.col_offset))
            for signal in signals:
                if id(signal.statement) in reported:
                    continue
                for thread in _signalled_threads(index, signal):
                    if not joined_on_path(index, path, signal.holder, thread):
                        last[(signal.holder, thread.attr)] = signal
                        threads_of[(signal.holder, thread.attr)] = thread
            by_signal: Dict[int, Tuple[Signal, List[ThreadAttribute]]] = {}
            for key, signal in last.items():
                by_signal.setdefault(id(signal.statement), (signal, []))[1].append(threads_of[key])
            for signal, unjoined in sorted(by_signal.values(), key=lambda item: (item[0].statement.lineno, item[0].statement.col_offset)):
                reported.add(id(signal.statement))
                found.append((signal, unjoined, body))
    return found


def _set_or_clear(stmt: ast.AST) -> Optional[ast.Call]:
    """The call of ``<x>.<name>.set()`` / ``.clear()`` (no positional argument) as a statement."""
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        call = stmt.value
        func = call.func
        if (
            isinstance(func, ast.Attribute)
            and func.attr in ("set", "clear")
            and not call.args
            and isinstance(func.value, ast.Attribute)
        ):
            return call
    return None


def _flag_assignment(stmt: ast.AST) -> bool:
    return isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, bool)


def _signals_in(index: ProjectIndex, cls: ClassInfo, body: Body, stmt: ast.AST) -> List[Signal]:
    """The signals statement ``stmt`` of ``body`` sends."""
    found: List[Signal] = []
    call = _set_or_clear(stmt)
    if call is not None:
        func = call.func
        holder = _holder(index, cls, body, func.value.value)  # type: ignore[attr-defined]
        if holder is not None:
            found.append(Signal(stmt, call, holder[0], holder[1], func.value.attr, body, func.attr))  # type: ignore[arg-type, attr-defined]
    elif _flag_assignment(stmt):
        for target in stmt.targets:  # type: ignore[attr-defined]
            if isinstance(target, ast.Attribute):
                holder = _holder(index, cls, body, target.value)
                if holder is not None:
                    found.append(Signal(stmt, stmt, holder[0], holder[1], target.attr, body, "flag"))  # type: ignore[arg-type]
    return found


def _signals(index: ProjectIndex, cls: ClassInfo, body: Body) -> List[Signal]:
    found: List[Signal] = []
    for stmt in own_nodes(body.node):
        found.extend(_signals_in(index, cls, body, stmt))
    return found


def _signalled_threads(index: ProjectIndex, signal: Signal) -> List[ThreadAttribute]:
    threads = thread_attributes(index, signal.holder_class)
    return [
        t
        for t in threads.values()
        if t.attr != signal.name and signal.name in (t.reads if signal.kind == "set" else t.loop_reads)
    ]
