"""A batched, read-only traversal of a LibCST tree for the rules (which never change it).

LibCST visits a tree by rebuilding it: each node's ``_visit_and_replace_children`` constructs
a new node from its visited children (and validates it) even for a visitor that changes
nothing, then throws it away. On a checked file that is most of the visit's cost. This
traversal calls the same ``visit_<Node>`` / ``leave_<Node>`` methods of the same visitors on
the same nodes in the same order, reading each node's children from its fields in the order
LibCST visits them, and builds nothing.

The field order is LibCST's own, recorded once per node type from the ``on_visit_attribute``
calls its ``_visit_and_replace_children`` makes (it names every field it visits, in order,
present or not); the few fields it skips when they are empty (an f-string's missing format
spec) come after, in declaration order.
"""

from __future__ import annotations

import dataclasses
from contextlib import ExitStack
from typing import Callable, Dict, Iterable, List, Sequence, Tuple

import libcst as cst

_FIELD_ORDER: Dict[type, Tuple[str, ...]] = {}


class _FieldRecorder(cst.CSTVisitor):
    """Notes the fields of the node whose children it is shown, without going below them."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: List[str] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        return False

    def on_visit_attribute(self, node: cst.CSTNode, attribute: str) -> None:
        if attribute not in self.fields:
            self.fields.append(attribute)


def _field_order(node: cst.CSTNode) -> Tuple[str, ...]:
    kind = type(node)
    recorder = _FieldRecorder()
    node._visit_and_replace_children(recorder)
    fields = recorder.fields
    fields += [field.name for field in dataclasses.fields(kind) if field.name not in fields]
    order = _FIELD_ORDER[kind] = tuple(fields)
    return order


#: Per visitor class, the names `BatchableCSTVisitor.get_visitors` finds on its instances
#: (``visit_*`` / ``leave_*`` callables): it looks them up with `inspect.getmembers`, which
#: costs more than visiting a small file, so once per class.
_VISITOR_NAMES: Dict[type, Tuple[str, ...]] = {}


def _visitor_names(visitor: cst.BatchableCSTVisitor) -> Tuple[str, ...]:
    kind = type(visitor)
    names = _VISITOR_NAMES.get(kind)
    if names is None:
        names = _VISITOR_NAMES[kind] = tuple(visitor.get_visitors())
    return names


def visit_read_only(wrapper: cst.MetadataWrapper, visitors: Iterable[cst.BatchableCSTVisitor]) -> None:
    """`MetadataWrapper.visit_batched` for visitors that change nothing: metadata resolved
    through ``wrapper``, ``visit_<Node>`` and ``leave_<Node>`` called as LibCST would."""
    visitors = list(visitors)
    methods: Dict[str, List[Callable]] = {}
    for visitor in visitors:
        for name in _visitor_names(visitor):
            methods.setdefault(name, []).append(getattr(visitor, name))
    if any(name.count("_") > 1 for name in methods):
        # Attribute visitors (``visit_<Node>_<field>``): LibCST's own traversal calls them.
        wrapper.visit_batched(visitors)
        return
    calls: Dict[type, Tuple[Sequence[Callable], Sequence[Callable]]] = {}
    order = _FIELD_ORDER
    Node = cst.CSTNode

    def visit(node: cst.CSTNode) -> None:
        kind = type(node)
        found = calls.get(kind)
        if found is None:
            name = kind.__name__
            found = calls[kind] = (methods.get(f"visit_{name}", ()), methods.get(f"leave_{name}", ()))
        for method in found[0]:
            method(node)
        for field in order.get(kind) or _field_order(node):
            value = getattr(node, field)
            if isinstance(value, Node):
                visit(value)
            elif value.__class__ in (tuple, list):
                for item in value:
                    if isinstance(item, Node):
                        visit(item)
        for method in found[1]:
            method(node)

    try:
        with ExitStack() as stack:
            for visitor in visitors:
                stack.enter_context(visitor.resolve(wrapper))
            visit(wrapper.module)
    finally:
        # `visit` refers to itself: emptying its cell breaks the cycle, which would otherwise
        # keep the visitors (and, through them, the module) alive until a collection.
        del visit
