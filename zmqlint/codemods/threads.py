"""Rewrites of thread lifecycles (THR501-THR504).

Every rewrite here is a transformer that recognises the original nodes by identity and builds
on the *updated* node it is given, so that fixes of several thread rules on one method compose
in a single pass (an unstoppable loop that also drains a shared list, a stop method that gets
both a signal and a join).
"""

from __future__ import annotations

from typing import Callable, Dict, List, Mapping, Optional, Sequence

import libcst as cst


def number_text(value: float) -> str:
    """``5`` -> ``"5.0"``; ``0.1`` -> ``"0.1"`` (a float literal, as written by hand)."""
    return repr(float(value))


def join_statement(
    target: str,
    timeout: float,
    *,
    holder: Optional[str] = None,
    attr: Optional[str] = None,
    may_be_missing: bool = False,
    may_be_none: bool = False,
    may_be_unstarted: bool = False,
    may_be_current: bool = False,
) -> cst.BaseStatement:
    """``<target>.join(timeout=...)``, behind the guards the thread's lifecycle needs.

    A thread attribute assigned outside ``__init__`` may not exist yet (``getattr`` guard), one
    reset to None may be None, one created but started elsewhere may not be started (joining
    it would raise), and one whose own body runs the stop path must not join itself.
    """
    conditions: List[str] = []
    if may_be_missing and holder is not None and attr is not None:
        conditions.append(f'getattr({holder}, "{attr}", None) is not None')
    elif may_be_none:
        conditions.append(f"{target} is not None")
    if may_be_unstarted:
        conditions.append(f"{target}.is_alive()")
    if may_be_current:
        conditions.append(f"{target} is not threading.current_thread()")
    call = f"{target}.join(timeout={number_text(timeout)})"
    if not conditions:
        return cst.parse_statement(call + "\n")
    return cst.parse_statement(f"if {' and '.join(conditions)}:\n    {call}\n")


def join_thread_attribute(index, thread, holder: str, timeout: float) -> cst.BaseStatement:
    """The guarded ``<holder>.<attr>.join(timeout=...)`` for a thread an object keeps (a
    `zmqlint.facts.threads.ThreadAttribute`), with the guards its lifecycle calls for. It needs
    ``import threading`` when ``thread.calls_stop_path``."""
    from zmqlint.facts.threads import assigned_in_init, may_be_none

    return join_statement(
        f"{holder}.{thread.attr}",
        timeout,
        holder=holder,
        attr=thread.attr,
        may_be_missing=not assigned_in_init(index, thread.owner, thread.attr),
        may_be_none=may_be_none(index, thread.owner, thread.attr),
        may_be_unstarted=not thread.started_where_created,
        may_be_current=thread.calls_stop_path,
    )


def _is_docstring(stmt: cst.BaseStatement) -> bool:
    return (
        isinstance(stmt, cst.SimpleStatementLine)
        and len(stmt.body) == 1
        and isinstance(stmt.body[0], cst.Expr)
        and isinstance(stmt.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


class ThreadLifecycleTransformer(cst.CSTTransformer):
    """One transformer for every thread fix; each fix fills in only the parts it needs.

    - ``after``: statement -> statements inserted right after it;
    - ``prepend``: function -> statements inserted at the start of its body (after a docstring);
    - ``loop_tests``: ``while`` statement -> its new test;
    - ``calls``: call (or any expression) -> replacement;
    - ``rebuild``: node -> function of the updated node returning its replacement (for
      restructurings that must keep what other fixes did inside the node).
    """

    def __init__(
        self,
        *,
        after: Optional[Mapping[cst.CSTNode, Sequence[cst.BaseStatement]]] = None,
        prepend: Optional[Mapping[cst.CSTNode, Sequence[cst.BaseStatement]]] = None,
        loop_tests: Optional[Mapping[cst.CSTNode, cst.BaseExpression]] = None,
        calls: Optional[Mapping[cst.CSTNode, cst.BaseExpression]] = None,
        rebuild: Optional[Mapping[cst.CSTNode, Callable[[cst.CSTNode], object]]] = None,
    ) -> None:
        super().__init__()
        self.after: Dict[cst.CSTNode, Sequence[cst.BaseStatement]] = dict(after or {})
        self.prepend: Dict[cst.CSTNode, Sequence[cst.BaseStatement]] = dict(prepend or {})
        self.loop_tests: Dict[cst.CSTNode, cst.BaseExpression] = dict(loop_tests or {})
        self.calls: Dict[cst.CSTNode, cst.BaseExpression] = dict(calls or {})
        self.rebuild: Dict[cst.CSTNode, Callable[[cst.CSTNode], object]] = dict(rebuild or {})

    def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode):
        result = updated_node
        if original_node in self.calls:
            return self.calls[original_node]
        if original_node in self.rebuild:
            return self.rebuild[original_node](result)
        if original_node in self.loop_tests and isinstance(result, cst.While):
            result = result.with_changes(test=self.loop_tests[original_node])
        if original_node in self.prepend and isinstance(result, cst.FunctionDef) and isinstance(result.body, cst.IndentedBlock):
            body = list(result.body.body)
            at = 1 if body and _is_docstring(body[0]) else 0
            body[at:at] = list(self.prepend[original_node])
            result = result.with_changes(body=result.body.with_changes(body=body))
        if original_node in self.after:
            return cst.FlattenSentinel([result, *self.after[original_node]])
        return result


def char_column(source_lines: Sequence[str], line: int, byte_col: int) -> int:
    """ast's UTF-8 byte offset on ``line`` -> LibCST's character column."""
    if 0 < line <= len(source_lines):
        return len(source_lines[line - 1].encode("utf-8")[:byte_col].decode("utf-8", "replace"))
    return byte_col


class NodeFinder:
    """Mixin for rules that analyse a file's ``ast`` (through the project index) and rewrite
    its CST: remembers statements, calls, loops, functions and attributes as they are visited,
    and finds them by the place ``ast`` gives them. Positions are only computed on the first
    lookup, so a file where the rule finds nothing costs no position metadata."""

    def _seen(self) -> List[tuple]:
        seen = self.__dict__.get("_seen_nodes")
        if seen is None:
            seen = self.__dict__["_seen_nodes"] = []
        return seen

    def _nodes(self) -> Dict[tuple, cst.CSTNode]:
        found = self.__dict__.get("_found_nodes")
        if found is None:
            found = self.__dict__["_found_nodes"] = {}
            get = self.get_metadata  # type: ignore[attr-defined]
            for kind, node, at in self._seen():
                rng = get(cst.metadata.PositionProvider, at or node)
                if kind == "attr":
                    key = ("attr", rng.start.line, rng.start.column, rng.end.line, rng.end.column)
                elif kind == "def":
                    key = ("def", rng.start.line, 0)
                else:
                    key = (kind, rng.start.line, rng.start.column)
                found.setdefault(key, node)
        return found

    def _remember(self, kind: str, node: cst.CSTNode, at: Optional[cst.CSTNode] = None) -> None:
        self._seen().append((kind, node, at))

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        self._remember("stmt", node)
        for small in node.body:
            self._remember("small", small)

    def visit_If(self, node: cst.If) -> None:
        self._remember("stmt", node)

    def visit_While(self, node: cst.While) -> None:
        self._remember("stmt", node)

    def visit_For(self, node: cst.For) -> None:
        self._remember("stmt", node)

    def visit_Try(self, node: cst.Try) -> None:
        self._remember("stmt", node)

    def visit_With(self, node: cst.With) -> None:
        self._remember("stmt", node)

    def visit_Call(self, node: cst.Call) -> None:
        self._remember("expr", node)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._remember("def", node, node.name)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self._remember("attr", node)

    def cst_node(self, kind: str, node) -> Optional[cst.CSTNode]:
        """The CST node for the ast ``node``: kind ``stmt``, ``small`` (statement in a line),
        ``expr`` (a call), ``attr`` (an attribute, by its whole range) or ``def`` (a function,
        by the line of its name)."""
        lines = self.__dict__.get("_source_lines")
        if lines is None:
            lines = self.__dict__["_source_lines"] = self.context.source.splitlines()  # type: ignore[attr-defined]
        if kind == "def":
            return self._nodes().get(("def", node.lineno, 0))
        if kind == "attr":
            return self._nodes().get(
                (
                    "attr",
                    node.lineno,
                    char_column(lines, node.lineno, node.col_offset),
                    node.end_lineno,
                    char_column(lines, node.end_lineno, node.end_col_offset),
                )
            )
        return self._nodes().get((kind, node.lineno, char_column(lines, node.lineno, node.col_offset)))
