"""Rewrites that move a blocking, non-async call onto a worker thread (ASY301-ASY303).

``obj.start(a, b=1)`` becomes ``asyncio.to_thread(obj.start, a, b=1)``: the callable and every
argument are kept, only the call is deferred to a thread whose result can be awaited. The
rewrite is used wherever an awaitable was expected: inside ``create_task`` / ``ensure_future``
(ASY301), as a ``gather`` element (ASY302), under ``await`` (ASY303). ``asyncio.wait`` refuses
bare coroutines since Python 3.11, so its elements are wrapped once more in ``create_task``.

The module's own name for asyncio is used (``import asyncio as aio`` gives ``aio.to_thread``);
``import asyncio`` is added when the module has none.

This module also holds the small CST helpers the three rules share: what local names mean in
terms of asyncio (``from asyncio import gather as g``), and the dotted text of a callee.
"""

from __future__ import annotations

import ast
from typing import Dict, List, Optional, Sequence, Tuple

import libcst as cst

from zmqlint.model import ImportSpec

#: asyncio functions that turn a coroutine into a task (or run it).
TASK_FACTORIES = {"asyncio.create_task", "asyncio.ensure_future", "asyncio.run", "asyncio.run_coroutine_threadsafe"}
#: asyncio functions that wait on several awaitables given as separate arguments.
GATHERERS = {"asyncio.gather"}
#: asyncio functions that wait on one awaitable, their first argument.
SINGLE_WAITERS = {"asyncio.wait_for", "asyncio.shield"}
#: asyncio functions that wait on an iterable of awaitables (their first argument).
WAITERS = {"asyncio.wait", "asyncio.as_completed"}


def dotted(node: cst.BaseExpression) -> Optional[str]:
    """``a.b.c`` for a Name/Attribute chain; a chain may start with one call of such a chain,
    written ``f()`` whatever its arguments (``super().stop``, ``Server(port).start``); else None."""
    parts: List[str] = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if isinstance(node, cst.Name):
        parts.append(node.value)
    elif isinstance(node, cst.Call) and parts:
        head = dotted(node.func)
        if head is None or "()" in head:
            return None
        parts.append(f"{head}()")
    else:
        return None
    return ".".join(reversed(parts))


class AsyncioNames:
    """How a module refers to asyncio: its alias(es) and the names imported from it.

    Read from the module's stdlib ``ast`` (cheap next to walking the CST): imports anywhere
    count (``import asyncio`` inside a method), only a module-level alias is reused by fixes.
    """

    def __init__(self, tree: Optional[ast.Module], nodes: Optional[Sequence[ast.AST]] = None) -> None:
        #: local name -> "asyncio" or "asyncio.<name>"
        self.names: Dict[str, str] = {}
        #: the alias of ``import asyncio [as X]`` at module level, if any
        self.module_alias: Optional[str] = None
        if tree is None:
            return
        top_level = {id(stmt) for stmt in tree.body}
        shadowed = set()
        for stmt in tree.body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                shadowed.add(stmt.name)
            elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                shadowed.update(t.id for t in targets if isinstance(t, ast.Name))
        for node in ast.walk(tree) if nodes is None else nodes:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name == "asyncio":
                        local = alias.asname or "asyncio"
                        self.names[local] = "asyncio"
                        if id(node) in top_level and self.module_alias is None:
                            self.module_alias = local
            elif isinstance(node, ast.ImportFrom) and node.module == "asyncio" and not node.level:
                for alias in node.names:
                    if alias.name != "*":
                        self.names[alias.asname or alias.name] = f"asyncio.{alias.name}"
        for name in shadowed:
            if self.names.get(name) == "asyncio" and self.module_alias != name:
                self.names.pop(name)

    def qualified(self, func: cst.BaseExpression) -> Optional[str]:
        """``asyncio.gather`` for ``gather`` / ``aio.gather`` / ``asyncio.gather``; else None."""
        name = dotted(func)
        if name is None:
            return None
        head, _, rest = name.partition(".")
        if head not in self.names:
            return None
        full = self.names[head]
        return f"{full}.{rest}" if rest else full

    def for_fix(self) -> Tuple[str, List[ImportSpec]]:
        """The name a fix writes for asyncio, and the import it needs (if any)."""
        if self.module_alias is not None:
            return self.module_alias, []
        return "asyncio", [ImportSpec("asyncio")]


def to_thread_call(call: cst.Call, asyncio_name: str) -> cst.Call:
    """``asyncio.to_thread(<callee>, <every argument of call>)``, parentheses kept."""
    first = cst.Arg(
        value=call.func,
        comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")) if call.args else cst.MaybeSentinel.DEFAULT,
    )
    return cst.Call(
        func=cst.Attribute(value=cst.Name(asyncio_name), attr=cst.Name("to_thread")),
        args=[first, *call.args],
        lpar=call.lpar,
        rpar=call.rpar,
        whitespace_before_args=call.whitespace_before_args,
    )


def task_of(awaitable: cst.BaseExpression, asyncio_name: str) -> cst.Call:
    """``asyncio.create_task(<awaitable>)``."""
    return cst.Call(
        func=cst.Attribute(value=cst.Name(asyncio_name), attr=cst.Name("create_task")),
        args=[cst.Arg(value=awaitable)],
    )
