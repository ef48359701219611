from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Iterator, List, Optional, Tuple

import libcst as cst

from zmqlint.codemods.threads import NodeFinder, number_text
from zmqlint.facts.threads import Body, calls_on_self, closure, own_nodes, qualified_call, self_attr, self_name
from zmqlint.index import ClassInfo, ModuleInfo, ProjectIndex, dotted_name, walk
from zmqlint.model import Applicability, Fix, Severity
from zmqlint.rule import Invalid, Option, Rule, Valid

if TYPE_CHECKING:  # pragma: no cover
    from zmqlint.gates import FileFacts

_SLEEPS = {"time.sleep", "asyncio.sleep"}
_TIME_CALLS = {
    "time.time", "time.monotonic", "time.perf_counter", "time.time_ns", "time.monotonic_ns",
    "datetime.datetime.now", "datetime.datetime.utcnow", "datetime.now", "datetime.utcnow",
}
#: Words (between underscores) that say a value is a point in time or an age.
_TIME_WORDS = {"now", "ttl", "age", "deadline", "until", "stale", "timeout", "cutoff", "seen", "expires", "expiry"}
_REMOVING_METHODS = {"pop", "popitem", "remove", "discard"}


class CoarseReaperInterval(NodeFinder, Rule):
    """Flags TTL / lease reaper loops that run too rarely.

    ## What it does
    Reports the period of a *reaper loop* — a loop whose body (or a method it calls on `self`)
    deletes entries by time: `del leases[k]` / `leases.pop(k)` next to a comparison with
    `time.monotonic()`, `now`, `expires_at`, a deadline or a TTL — when the period,
    `event.wait(T)`, `time.sleep(T)` or `asyncio.sleep(T)`, is a number above
    `reaper-max-period` (default 0.1 s).

    ## Why is this bad?
    Between two sweeps an expired entry still counts. In the field report the GPU lease sweeper
    ran once a second, so VRAM held by expired leases stayed "allocated" for up to 999 ms and
    rapid load/unload cycles could exceed the soft cap and run the GPU out of memory.

    ## Example
    ```python
    while not self._stop.is_set():
        self._reap_expired(time.monotonic())
        self._stop.wait(1.0)
    ```

    ## Use instead
    ```python
    while not self._stop.is_set():
        self._reap_expired(time.monotonic())
        self._stop.wait(0.1)
    ```
    Better still, reap on every acquire so no window exists at all:
    `zmqlint_runtime.leases.LeaseManager(capacity_mb, reserve_fraction, ttl_s)`.

    ## Fix safety
    The fix is safe: it only shortens the period to `reaper-max-period`, so expired entries are
    released sooner and the sweep runs more often (a sweep must stay cheap). Periods that are not
    numbers known statically (parameters, settings) are not reported.
    """

    CODE = "THR504"
    NAME = "coarse-reaper-interval"
    SEVERITY = Severity.LOW
    MESSAGE = "Reaper loop period exceeds reaper-max-period"
    FIXES = (Applicability.SAFE,)
    PREFILTER = ("sleep", "wait")
    OPTIONS = {
        "reaper-max-period": Option(
            (int, float), 0.1, "Longest period, in seconds, THR504 accepts for a TTL / lease reaper loop."
        )
    }

    VALID = [
        Valid(
            """
            import time

            def sweep(leases, stop):
                while not stop.is_set():
                    now = time.monotonic()
                    for key in [k for k, v in leases.items() if v < now]:
                        del leases[key]
                    stop.wait(0.1)
            """
        ),
        # Sleeps for a second but deletes nothing by time: a poller, not a reaper.
        Valid(
            """
            import time

            def poll(queue):
                while True:
                    queue.put(time.monotonic())
                    time.sleep(1.0)
            """
        ),
        Valid(
            """
            import time

            def sweep(cache, interval):
                while True:
                    cutoff = time.time() - 60
                    for key in [k for k, t in cache.items() if t < cutoff]:
                        cache.pop(key)
                    time.sleep(interval)
            """
        ),
    ]

    INVALID = [
        Invalid(
            """
            import threading
            import time


            class GpuLeaseServicer:
                def __init__(self):
                    self._leases = {}
                    self._lock = threading.Lock()
                    self._lease_sweeper_stop = threading.Event()

                def _reap_expired(self, now):
                    with self._lock:
                        expired = [k for k, lease in self._leases.items() if lease.expires_at <= now]
                        for lease_id in expired:
                            del self._leases[lease_id]

                def _sweep_expired_leases(self):
                    while not self._lease_sweeper_stop.is_set():
                        self._reap_expired(time.monotonic())
                        self._lease_sweeper_stop.wait(1.0)  # once a second
            """,
            line=20,
            column=43,
            end_column=46,
            message_contains="zmqlint_runtime.leases",
            expected_fix="""
            import threading
            import time


            class GpuLeaseServicer:
                def __init__(self):
                    self._leases = {}
                    self._lock = threading.Lock()
                    self._lease_sweeper_stop = threading.Event()

                def _reap_expired(self, now):
                    with self._lock:
                        expired = [k for k, lease in self._leases.items() if lease.expires_at <= now]
                        for lease_id in expired:
                            del self._leases[lease_id]

                def _sweep_expired_leases(self):
                    while not self._lease_sweeper_stop.is_set():
                        self._reap_expired(time.monotonic())
                        self._lease_sweeper_stop.wait(0.1)  # once a second
            """,
        ),
        # The period in the loop test, from a module constant, with a custom maximum.
        Invalid(
            """
            import time

            SWEEP_EVERY_S = 2

            def reap_sessions(sessions, stop):
                while not stop.wait(timeout=SWEEP_EVERY_S):
                    deadline = time.time()
                    for sid, session in list(sessions.items()):
                        if session.expires < deadline:
                            sessions.pop(sid, None)
            """,
            options={"reaper-max-period": 0.25},
            line=6,
            expected_fix="""
            import time

            SWEEP_EVERY_S = 2

            def reap_sessions(sessions, stop):
                while not stop.wait(timeout=0.25):
                    deadline = time.time()
                    for sid, session in list(sessions.items()):
                        if session.expires < deadline:
                            sessions.pop(sid, None)
            """,
        ),
        # An asyncio reaper rebuilding its cache without the stale entries.
        Invalid(
            """
            import asyncio
            import time

            class Cache:
                PERIOD = 5.0

                async def expire(self):
                    while True:
                        await asyncio.sleep(self.PERIOD)
                        now = time.monotonic()
                        self.entries = {k: v for k, v in self.entries.items() if v.expires_at > now}
            """,
            line=9,
            expected_fix="""
            import asyncio
            import time

            class Cache:
                PERIOD = 5.0

                async def expire(self):
                    while True:
                        await asyncio.sleep(0.1)
                        now = time.monotonic()
                        self.entries = {k: v for k, v in self.entries.items() if v.expires_at > now}
            """,
        ),
    ]

    @classmethod
    def gate(cls, facts: "FileFacts") -> bool:
        # A report needs a `while` loop paced by a call that `_periods` accepts: a `.wait(...)`,
        # or a call whose qualified name is `time.sleep` / `asyncio.sleep` (spelt `sleep`, or
        # an imported alias of one). Then the rule's own search (`_coarse_periods`) decides.
        info = facts.module
        if info is None:  # the index holds another text of the file: the rule reads that one
            return True
        if not facts.nodes(ast.While):
            return False
        aliases = [name for name in info.imports if info.qualified_name(name) in _SLEEPS]
        if not any(isinstance(c.func, ast.Attribute) for c in facts.calls("wait")) and not facts.calls("sleep", *aliases):
            return False
        maximum = float(facts.option("reaper-max-period"))
        return any(True for _ in _coarse_periods(facts.index, info, maximum))

    def leave_Module(self, original_node: cst.Module) -> None:
        info = self.context.module_info
        if info is None:
            return
        index: ProjectIndex = self.context.index
        maximum = float(self.context.option("reaper-max-period"))
        for call, arg, value in _coarse_periods(index, info, maximum):
            self._report(call, arg, value, maximum)

    def _report(self, call: ast.Call, arg: ast.expr, value: float, maximum: float) -> None:
        node = self.cst_node("expr", call)
        if not isinstance(node, cst.Call):
            return
        target = node.args[0] if not call.keywords or call.args else next(
            (a for a in node.args if a.keyword is not None and a.keyword.value in ("timeout", "secs", "delay")), None
        )
        if target is None:
            return
        shown = f"{value:g}"
        message = (
            f"Reaper loop runs every {shown} s, above reaper-max-period ({maximum:g} s): expired entries "
            f"stay counted for up to {shown} s; zmqlint_runtime.leases.LeaseManager reaps on every acquire instead"
        )
        fix = Fix(
            f"sweep every {maximum:g} s",
            Applicability.SAFE,
            replacements={target.value: cst.Float(number_text(maximum))},
        )
        self.report(target.value, message, fix=fix)


def _coarse_periods(index: ProjectIndex, info: ModuleInfo, maximum: float) -> Iterator[Tuple[ast.Call, ast.expr, float]]:
    """(call, period argument, its value) of each reaper-loop period above ``maximum``."""
    for cls, function in _functions(info):
        body = Body(function, info, cls, self_name(function) if cls is not None else None)
        for loop in (n for n in own_nodes(function) if isinstance(n, ast.While)):
            periods = list(_periods(info, loop))
            if not periods or not _reaps(index, cls, body, loop):
                continue
            for call, arg in periods:
                value = _number(index, info, cls, body, arg)
                if value is None or value <= maximum:
                    continue
                yield call, arg, value


def _functions(info: ModuleInfo) -> Iterator[Tuple[Optional[ClassInfo], ast.AST]]:
    for function in info.functions.values():
        yield None, function.node
    for cls in info.classes.values():
        for method in cls.methods.values():
            yield cls, method.node
    seen = {id(f.node) for f in info.functions.values()} | {
        id(m.node) for c in info.classes.values() for m in c.methods.values()
    }
    for cls, outer in [(None, f.node) for f in info.functions.values()] + [
        (c, m.node) for c in info.classes.values() for m in c.methods.values()
    ]:
        for node in walk(outer):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and id(node) not in seen:
                seen.add(id(node))
                yield cls, node


def _periods(module: ModuleInfo, loop: ast.While) -> Iterator[Tuple[ast.Call, ast.expr]]:
    """(call, period argument) of each wait or sleep pacing the loop (not in inner loops)."""
    nodes: List[ast.AST] = list(ast.walk(loop.test))
    stack: List[ast.AST] = list(loop.body)
    while stack:
        node = stack.pop()
        nodes.append(node)
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda, ast.For, ast.While, ast.AsyncFor)):
                stack.append(child)
    for node in nodes:
        if not isinstance(node, ast.Call):
            continue
        qualified = qualified_call(module, node)
        arg: Optional[ast.expr] = None
        if qualified in _SLEEPS:
            arg = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg in ("secs", "delay")), None)
        elif isinstance(node.func, ast.Attribute) and node.func.attr == "wait":
            arg = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "timeout"), None)
        if arg is not None:
            yield node, arg


def _number(index: ProjectIndex, module: ModuleInfo, cls: Optional[ClassInfo], body: Body, arg: ast.expr) -> Optional[float]:
    """The period as a number, when it is a literal, a module constant or a class constant."""
    value: Optional[ast.expr] = arg
    if isinstance(arg, ast.Name):
        value = module.assignments.get(arg.id)
    else:
        attr = self_attr(arg, body.self_id)
        if attr is None and cls is not None and isinstance(arg, ast.Attribute) and dotted_name(arg.value) == cls.name:
            attr = arg.attr
        if attr is not None and cls is not None:
            values = index.attribute_values(cls, attr)
            value = values[0] if len(values) == 1 else None
        elif isinstance(arg, ast.Attribute):
            value = None
    if isinstance(value, ast.Constant) and isinstance(value.value, (int, float)) and not isinstance(value.value, bool):
        return float(value.value)
    return None


def _reaps(index: ProjectIndex, cls: Optional[ClassInfo], body: Body, loop: ast.While) -> bool:
    """Whether the loop (or what it calls on ``self``) removes entries chosen by time."""
    pieces = [Body(loop, body.module, body.owner, body.self_id)]  # type: ignore[arg-type]
    if cls is not None and body.self_id:
        pieces = closure(index, cls, [pieces[0], *calls_on_self(index, cls, pieces[0])], limit=16)
    return any(_removes_by_time(piece.module, piece.node) for piece in pieces)


def _removes_by_time(module: ModuleInfo, node: ast.AST) -> bool:
    removes = timed = False
    for sub in own_nodes(node):
        if isinstance(sub, ast.Delete) and any(isinstance(t, ast.Subscript) for t in sub.targets):
            removes = True
        elif isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute) and sub.func.attr in _REMOVING_METHODS:
            removes = removes or sub.func.attr != "pop" or bool(sub.args)
        elif isinstance(sub, ast.Assign) and isinstance(sub.value, (ast.DictComp, ast.ListComp, ast.SetComp)):
            if any(_is_time_compare(module, cond) for gen in sub.value.generators for cond in gen.ifs):
                return True
        if isinstance(sub, ast.Compare) and _is_time_compare(module, sub):
            timed = True
    return removes and timed


def _is_time_compare(module: ModuleInfo, node: ast.AST) -> bool:
    if not isinstance(node, ast.Compare) or not all(isinstance(op, (ast.Lt, ast.LtE, ast.Gt, ast.GtE)) for op in node.ops):
        return False
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call) and qualified_call(module, sub) in _TIME_CALLS:
            return True
        name = sub.id if isinstance(sub, ast.Name) else sub.attr if isinstance(sub, ast.Attribute) else None
        if name and any(w in _TIME_WORDS or w.startswith("expir") for w in name.lower().split("_")):
            return True
    return False

