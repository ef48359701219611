"""Socket options set where the socket is created (ZMQ106, ZMQ109).

The fix inserts one statement (``sub.setsockopt(zmq.SUBSCRIBE, b"")``,
``sock.setsockopt(zmq.LINGER, 0)``) right after the statement that creates the socket, or
first in the body of ``with ctx.socket(...) as sock:``. The socket facts are read on the
stdlib ``ast`` (`zmqlint.facts.socket_uses`); `StatementMap` finds the LibCST statement at the
same place.
"""

from __future__ import annotations

import ast
from typing import Dict, List, Mapping, Optional, Sequence

import libcst as cst
from libcst.metadata import PositionProvider

from zmqlint.facts.socket_uses import TrackedSocket
from zmqlint.facts.socket_basics import zmq_alias
from zmqlint.model import Applicability, Fix, ImportSpec


class StatementMap:
    """The LibCST statements of a module by the line and column they start at."""

    def __init__(self, wrapper: cst.MetadataWrapper, source: str) -> None:
        self.lines = source.splitlines()
        positions = wrapper.resolve(PositionProvider)
        self.by_start: Dict[tuple, cst.CSTNode] = {}
        #: The small statement -> the line holding it (only lines of an indented block).
        for node, rng in positions.items():
            if isinstance(node, (cst.SimpleStatementLine, cst.With)):
                self.by_start.setdefault((rng.start.line, rng.start.column), node)

    def statement(self, node: ast.stmt) -> Optional[cst.CSTNode]:
        text = self.lines[node.lineno - 1] if 0 < node.lineno <= len(self.lines) else ""
        column = len(text.encode("utf-8")[: node.col_offset].decode("utf-8", "replace"))
        found = self.by_start.get((node.lineno, column))
        if isinstance(found, cst.SimpleStatementLine) and len(found.body) != 1:
            return None  # ``a = x; b = y``: not worth the risk
        return found


class InsertAfterCreation(cst.CSTTransformer):
    """Insert statements after a statement line, or first in the body of a ``with``."""

    def __init__(self, after: Mapping[cst.CSTNode, Sequence[cst.BaseStatement]]) -> None:
        super().__init__()
        self.after = dict(after)

    def on_leave(self, original_node: cst.CSTNode, updated_node):
        new = self.after.get(original_node)
        if new is None:
            return updated_node
        if isinstance(original_node, cst.With):
            nodes = list(updated_node.nodes) if isinstance(updated_node, cst.FlattenSentinel) else [updated_node]
            with_node = nodes[0]
            if isinstance(with_node, cst.With) and isinstance(with_node.body, cst.IndentedBlock):
                body = [*new, *with_node.body.body]
                nodes[0] = with_node.with_changes(body=with_node.body.with_changes(body=body))
            return cst.FlattenSentinel(nodes) if len(nodes) > 1 else nodes[0]
        if isinstance(updated_node, cst.FlattenSentinel):
            return cst.FlattenSentinel([*updated_node.nodes, *new])
        return cst.FlattenSentinel([updated_node, *new])


def option_fix(
    statements: StatementMap,
    sockets: Sequence[TrackedSocket],
    option: str,
    value: str,
    description: str,
    applicability: Applicability,
) -> Optional[Fix]:
    """A fix that sets ``option`` to ``value`` on each socket right after it is created
    (``<holder>.setsockopt(zmq.<option>, <value>)``); None when a creation cannot take it (a
    one-line ``if``, several statements on its line)."""
    after: Dict[cst.CSTNode, List[cst.BaseStatement]] = {}
    adds: List[ImportSpec] = []
    for tracked in sockets:
        zmq_name = zmq_alias(tracked.module)
        if zmq_name is None:
            zmq_name = "zmq"
            adds = [ImportSpec("zmq")]
        target = statements.statement(tracked.statement)
        if target is None:
            return None
        if isinstance(tracked.statement, (ast.With, ast.AsyncWith)) and not isinstance(target, cst.With):
            return None
        if isinstance(target, cst.With) and not isinstance(target.body, cst.IndentedBlock):
            return None
        line = cst.parse_statement(f"{tracked.written}.setsockopt({zmq_name}.{option}, {value})\n")
        after.setdefault(target, []).append(line)
    return Fix(
        description,
        applicability,
        transformer=lambda after=after: InsertAfterCreation(after),
        add_imports=adds,
    )
