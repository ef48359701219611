"""Node positions, as LibCST's `PositionProvider` computes them, in a fraction of its time.

Every finding needs the line and column of its node. LibCST's provider gets them by generating
the module's code once while tracking line and column at every token; it splits every token
with a regular expression and builds two `CodePosition` objects per node, and on a large module
that costs several times the parse. This does the same walk with a cheaper bookkeeping: a token
without a line break only moves the column, positions are kept as tuples, and `CodeRange`
objects are built only for the nodes someone asks about. The values are exactly LibCST's (a test
compares them node by node on real modules).
"""

from __future__ import annotations

import re
from typing import Dict, Iterator, List, Mapping, Optional, Tuple

import libcst as cst
from libcst._nodes.internal import CodegenState
from libcst.metadata import CodePosition, CodeRange

_NEWLINE = re.compile(r"\r\n?|\n")

Span = Tuple[int, int, int, int]


class _State(CodegenState):
    """A codegen state recording every node's syntactic span as LibCST's does."""

    def __init__(self, module: cst.Module) -> None:
        super().__init__(default_indent=module.default_indent, default_newline=module.default_newline)
        self.line = 1
        self.column = 0
        self.starts: List[Tuple[int, int]] = []
        self.spans: Dict[cst.CSTNode, Span] = {}

    def add_indent_tokens(self) -> None:
        self.tokens.extend(self.indent_tokens)
        for token in self.indent_tokens:
            self._advance(token)

    def add_token(self, value: str) -> None:
        self.tokens.append(value)
        self._advance(value)

    def _advance(self, value: str) -> None:
        if "\n" in value or "\r" in value:
            segments = _NEWLINE.split(value)
            self.line += len(segments) - 1
            self.column = len(segments[-1])
        else:
            self.column += len(value)

    def before_codegen(self, node: cst.CSTNode) -> None:
        self.starts.append((self.line, self.column))

    def after_codegen(self, node: cst.CSTNode) -> None:
        line, column = self.starts.pop()
        if node not in self.spans:  # a syntactic position recorded inside wins
            self.spans[node] = (line, column, self.line, self.column)

    def record_syntactic_position(
        self,
        node: cst.CSTNode,
        *,
        start_node: Optional[cst.CSTNode] = None,
        end_node: Optional[cst.CSTNode] = None,
    ) -> "_Syntactic":
        return _Syntactic(self, node, start_node, end_node)


class _Syntactic:
    """`PositionProvidingCodegenState.record_syntactic_position`, without a generator."""

    __slots__ = ("state", "node", "start_node", "end_node", "line", "column")

    def __init__(self, state: _State, node, start_node, end_node) -> None:
        self.state, self.node, self.start_node, self.end_node = state, node, start_node, end_node

    def __enter__(self) -> None:
        self.line, self.column = self.state.line, self.state.column

    def __exit__(self, *exc) -> None:
        state = self.state
        start = (self.line, self.column) if self.start_node is None else state.spans[self.start_node][:2]
        end = (state.line, state.column) if self.end_node is None else state.spans[self.end_node][2:]
        state.spans[self.node] = (*start, *end)


class Positions(Mapping):
    """node -> `CodeRange` for every node of a module (what `PositionProvider` resolves to)."""

    def __init__(self, module: cst.Module) -> None:
        state = _State(module)
        module._codegen(state)
        self._spans = state.spans
        self._ranges: Dict[cst.CSTNode, CodeRange] = {}

    def __getitem__(self, node: cst.CSTNode) -> CodeRange:
        found = self._ranges.get(node)
        if found is None:
            line, column, end_line, end_column = self._spans[node]
            found = self._ranges[node] = CodeRange(CodePosition(line, column), CodePosition(end_line, end_column))
        return found

    def __contains__(self, node: object) -> bool:
        return node in self._spans

    def __iter__(self) -> Iterator[cst.CSTNode]:
        return iter(self._spans)

    def __len__(self) -> int:
        return len(self._spans)
