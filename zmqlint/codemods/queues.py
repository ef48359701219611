"""Rewrite of a list or deque shared with a thread into a ``queue.Queue`` (THR502).

The conversion is offered only when every use of the attribute in the class converts:
``self.x = []`` -> ``queue.Queue()``, ``append`` -> ``put``, ``len(x)`` -> ``x.qsize()``,
``if x`` -> ``if not x.empty()``, and each front pop (``pop(0)`` / ``popleft()``) either as the
first statement of a check-then-act (which becomes ``try: ...get_nowait() except queue.Empty:
<else branch>``) or inside a ``try`` that handles ``IndexError`` (which then also handles
``queue.Empty``). Anything else (indexing, iteration, ``pop()`` from the end) makes it no fix.
The rewrite runs through `ThreadLifecycleTransformer`, so it composes with the other thread
fixes on the same method.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Dict, List, Optional, Set, Tuple

import libcst as cst

from zmqlint.codemods.threads import ThreadLifecycleTransformer
from zmqlint.facts.shared_containers import QUEUE_LIKE, CheckThenAct, Container, Use, all_uses, attr_nodes, parent_of
from zmqlint.facts.threads import self_attr
from zmqlint.index import ClassInfo, ModuleInfo, ProjectIndex, dotted_name
from zmqlint.model import Applicability, Fix, ImportSpec

if TYPE_CHECKING:  # pragma: no cover
    from zmqlint.codemods.threads import NodeFinder



def queue_fix(finder: "NodeFinder", index: ProjectIndex, info: ModuleInfo, cls: ClassInfo, container: Container) -> Optional[Fix]:
    if not container.kinds <= QUEUE_LIKE or not _queue_name_free(info):
        return None
    calls: Dict[cst.CSTNode, cst.CSTNode] = {}
    rebuild: Dict[cst.CSTNode, object] = {}
    handled: Set[int] = set()
    uses = all_uses(index, cls, container.attr)
    if any(u.body.module is not info for u in uses):
        return None
    # Guarded pops first: they decide how the checks around them are rewritten.
    for check in container.checks:
        plan = _plan_guarded_pop(finder, check, container.attr)
        if plan is None:
            continue
        stmt_node, builder, covered, pop_node, get_nowait = plan
        rebuild[stmt_node] = builder
        calls[pop_node] = get_nowait
        handled |= covered
    for use in uses:
        if id(use.node) in handled:
            continue
        replacement = _convert(finder, use, rebuild)
        if replacement is None:
            return None
        target, new = replacement
        if target is not None:
            calls[target] = new
    return Fix(
        f"make `{container.attr}` a queue.Queue",
        Applicability.UNSAFE,
        transformer=lambda: ThreadLifecycleTransformer(calls=calls, rebuild=rebuild),
        add_imports=[ImportSpec("queue")],
    )

def _convert(finder: "NodeFinder", use: Use, rebuild: Dict[cst.CSTNode, object]) -> Optional[Tuple[Optional[cst.CSTNode], cst.CSTNode]]:
    parent = parent_of(use.node)
    grand = parent_of(parent)
    if use.kind == "assign":
        stmt = parent
        if (
            isinstance(stmt, ast.Assign)
            and len(stmt.targets) == 1
            and getattr(use.body.node, "name", "") == "__init__"
            and _empty_container(stmt.value)
        ):
            small = finder.cst_node("small", stmt)
            if isinstance(small, cst.Assign):
                return small, small.with_changes(value=cst.parse_expression("queue.Queue()"))
        return None
    if isinstance(parent, ast.Attribute) and isinstance(grand, ast.Call) and grand.func is parent:
        call = finder.cst_node("expr", grand)
        if not isinstance(call, cst.Call):
            return None
        if parent.attr == "append" and len(grand.args) == 1 and not grand.keywords:
            return call, call.with_changes(func=call.func.with_changes(attr=cst.Name("put")))
        if _is_front_pop(grand) and _inside_index_error_try(grand):
            try_stmt = _enclosing_try(grand)
            try_node = finder.cst_node("stmt", try_stmt)
            if isinstance(try_node, cst.Try):
                rebuild.setdefault(try_node, _also_catch_empty)
                return call, call.with_changes(func=call.func.with_changes(attr=cst.Name("get_nowait")), args=[])
        return None
    if isinstance(parent, ast.Call) and dotted_name(parent.func) == "len" and len(parent.args) == 1:
        call = finder.cst_node("expr", parent)
        attr = finder.cst_node("attr", use.node)
        if isinstance(call, cst.Call) and attr is not None:
            return call, cst.Call(func=cst.Attribute(value=attr, attr=cst.Name("qsize")))
        return None
    attr = finder.cst_node("attr", use.node)
    if attr is None:
        return None
    if isinstance(parent, ast.UnaryOp) and isinstance(parent.op, ast.Not):
        return attr, cst.Call(func=cst.Attribute(value=attr, attr=cst.Name("empty")))
    if _in_truth_context(use.node, parent):
        empty = cst.Call(func=cst.Attribute(value=attr, attr=cst.Name("empty")))
        return attr, cst.UnaryOperation(operator=cst.Not(), expression=empty)
    return None

def _plan_guarded_pop(finder: "NodeFinder", check: CheckThenAct, attr: str):
    """``if <x not empty>: v = x.pop(0) ...`` -> try/get_nowait/except queue.Empty/else."""
    stmt = check.test_owner
    if not isinstance(stmt, (ast.If, ast.While)) or not _nonempty_test(stmt.test, attr, check.act.body.self_id) or stmt.orelse and isinstance(stmt, ast.While):
        return None
    if isinstance(stmt, ast.If) and len(stmt.orelse) == 1 and isinstance(stmt.orelse[0], ast.If):
        return None  # an elif chain
    first = stmt.body[0]
    call = _front_pop_statement(first, attr, check.act.body.self_id)
    if call is None:
        return None
    others = [u for u in attr_nodes(stmt, attr, check.act.body.self_id)]
    if len(others) != 2:  # the test's and the pop's
        return None
    node = finder.cst_node("stmt", stmt)
    pop = finder.cst_node("expr", call)
    if not isinstance(pop, cst.Call) or not isinstance(node, (cst.If, cst.While)):
        return None
    get_nowait = pop.with_changes(func=pop.func.with_changes(attr=cst.Name("get_nowait")), args=[])
    return node, _try_builder(isinstance(stmt, ast.While)), {id(n) for n in others}, pop, get_nowait


# -- building the rewrite ------------------------------------------------------------------


def _try_builder(is_loop: bool):
    """The check-then-act ``if``/``while`` (already holding ``get_nowait()``) as a try."""

    def build(updated):
        first, *rest = _statement_lines(updated.body)
        if is_loop:
            handler_body: List[cst.BaseStatement] = [cst.SimpleStatementLine([cst.Break()])]
        elif updated.orelse is not None:
            handler_body = _statement_lines(updated.orelse.body)
        else:
            handler_body = [cst.SimpleStatementLine([cst.Pass()])]
        handler = cst.ExceptHandler(
            body=cst.IndentedBlock(handler_body),
            type=cst.parse_expression("queue.Empty"),
        )
        try_stmt = cst.Try(body=cst.IndentedBlock([first]), handlers=[handler])
        if is_loop:
            return updated.with_changes(test=cst.Name("True"), body=updated.body.with_changes(body=[try_stmt, *rest]))
        if rest:
            try_stmt = try_stmt.with_changes(orelse=cst.Else(cst.IndentedBlock(rest)))
        return try_stmt.with_changes(leading_lines=updated.leading_lines)

    return build


def _statement_lines(suite: cst.BaseSuite) -> List[cst.BaseStatement]:
    """The statements of a block; those of a one-line suite (``if x: a; b``) as lines."""
    if isinstance(suite, cst.SimpleStatementSuite):
        return [cst.SimpleStatementLine([small.with_changes(semicolon=cst.MaybeSentinel.DEFAULT)]) for small in suite.body]
    return list(suite.body)


def _also_catch_empty(updated: cst.Try) -> cst.Try:
    handlers = []
    for handler in updated.handlers:
        if isinstance(handler.type, cst.Name) and handler.type.value == "IndexError":
            handler = handler.with_changes(type=cst.parse_expression("(IndexError, queue.Empty)"))
        handlers.append(handler)
    return updated.with_changes(handlers=handlers)


# -- what converts -------------------------------------------------------------------------


def _empty_container(value: ast.expr) -> bool:
    if isinstance(value, ast.List) and not value.elts:
        return True
    if isinstance(value, ast.Call) and not value.args and not value.keywords:
        return dotted_name(value.func) in ("list", "deque", "collections.deque")
    return False


def _is_front_pop(call: ast.Call) -> bool:
    func = call.func
    if not isinstance(func, ast.Attribute):
        return False
    if func.attr == "popleft" and not call.args:
        return True
    return (
        func.attr == "pop"
        and len(call.args) == 1
        and isinstance(call.args[0], ast.Constant)
        and call.args[0].value == 0
        and not call.keywords
    )


def _front_pop_statement(stmt: ast.stmt, attr: str, self_id: Optional[str]) -> Optional[ast.Call]:
    value = stmt.value if isinstance(stmt, (ast.Expr, ast.Assign)) else None
    if isinstance(stmt, ast.Assign) and not (len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)):
        return None
    if isinstance(value, ast.Call) and _is_front_pop(value) and self_attr(value.func.value, self_id) == attr:
        return value
    return None


def _nonempty_test(test: ast.expr, attr: str, self_id: Optional[str]) -> bool:
    if self_attr(test, self_id) == attr:
        return True
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        left, op, right = test.left, test.ops[0], test.comparators[0]

        def is_len(node: ast.expr) -> bool:
            return (
                isinstance(node, ast.Call)
                and dotted_name(node.func) == "len"
                and len(node.args) == 1
                and self_attr(node.args[0], self_id) == attr
            )

        def const(node: ast.expr, value: int) -> bool:
            return isinstance(node, ast.Constant) and node.value == value and not isinstance(node.value, bool)

        if is_len(left):
            return (isinstance(op, (ast.Gt, ast.NotEq)) and const(right, 0)) or (isinstance(op, ast.GtE) and const(right, 1))
        if is_len(right):
            return (isinstance(op, (ast.Lt, ast.NotEq)) and const(left, 0)) or (isinstance(op, ast.LtE) and const(left, 1))
    if isinstance(test, ast.Call) and dotted_name(test.func) == "len" and len(test.args) == 1:
        return self_attr(test.args[0], self_id) == attr
    return False


def _enclosing_try(node: ast.AST) -> Optional[ast.Try]:
    current = parent_of(node)
    child = node
    while current is not None:
        if isinstance(current, ast.Try) and child in current.body:
            return current
        if isinstance(current, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return None
        child, current = current, parent_of(current)
    return None


def _inside_index_error_try(node: ast.AST) -> bool:
    stmt = _enclosing_try(node)
    return stmt is not None and any(
        isinstance(h.type, ast.Name) and h.type.id == "IndexError" for h in stmt.handlers
    )


def _in_truth_context(node: ast.AST, parent: Optional[ast.AST]) -> bool:
    if isinstance(parent, (ast.If, ast.While, ast.IfExp)) and parent.test is node:
        return True
    if isinstance(parent, ast.BoolOp):
        grand = parent_of(parent)
        return _in_truth_context(parent, grand)
    if isinstance(parent, ast.Call) and dotted_name(parent.func) == "bool":
        return False
    return False


def _queue_name_free(info: ModuleInfo) -> bool:
    ref = info.imports.get("queue")
    if ref is not None:
        return ref.module == "queue" and ref.name is None
    for node in info.nodes:
        if isinstance(node, ast.Name) and node.id == "queue":
            return False
        if isinstance(node, ast.arg) and node.arg == "queue":
            return False
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == "queue":
            return False
    return True
