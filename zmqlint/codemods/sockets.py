"""Rewrites of socket lifecycle mistakes (ZMQ101, ZMQ102, ZMQ103, ZMQ105).

The socket facts (`zmqlint.facts.socket_misuses`, `cleared_attributes`, `base_ports`) are
computed on the stdlib ``ast`` of a module; `NodeMap` finds the LibCST nodes at the same places
so the rules can report and rewrite them.

- ZMQ101 / ZMQ102: the binding factory call becomes ``<context>.socket(zmq.<TYPE>)``; the
  caller's own ``bind`` (ZMQ101) or ``connect`` (ZMQ102) then is the only one.
- ZMQ103: the clearing ``self.X = None`` is dropped, or becomes ``zmq.Context.instance()``.
- ZMQ105: the subclass's second socket on the base class's port is dropped and the base
  class's socket reused.
"""

from __future__ import annotations

import ast
import re
from typing import Dict, List, Optional, Sequence, Tuple, Type

import libcst as cst
from libcst.metadata import PositionProvider

from zmqlint.codemods.threads import ThreadLifecycleTransformer
from zmqlint.facts.binding_factories import Factory
from zmqlint.facts.socket_basics import zmq_alias
from zmqlint.facts.socket_misuses import (
    Misuse,
    caller_options,
    context_expression,
    note_assignments,
    socket_misuses,
    wrapper_socket_uses,
)
from zmqlint.index import FunctionInfo, ModuleInfo, ProjectIndex, dotted_name, walk
from zmqlint.model import Applicability, Fix, ImportSpec

Key = Tuple[int, int, int, int]

_LINES = re.compile(r"\r\n|\r|\n")


class NodeMap:
    """LibCST nodes of a module by source range, to find the node an ``ast`` node stands for."""

    def __init__(self, source: str, wrapper: cst.MetadataWrapper, types: Sequence[Type[cst.CSTNode]]):
        self.lines = _LINES.split(source)
        self.positions = wrapper.resolve(PositionProvider)
        self.by_key: Dict[Key, List[cst.CSTNode]] = {}
        wanted = tuple(types)
        for node, rng in self.positions.items():
            if isinstance(node, wanted):
                self.by_key.setdefault((rng.start.line, rng.start.column, rng.end.line, rng.end.column), []).append(node)

    def _column(self, line: int, byte_offset: int) -> int:
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        return len(text.encode("utf-8")[:byte_offset].decode("utf-8", "replace"))

    def find(self, node: ast.AST, kind: Optional[Type[cst.CSTNode]] = None) -> Optional[cst.CSTNode]:
        """The CST node of type ``kind`` (any of the mapped types if None) at ``node``'s range."""
        end_line = getattr(node, "end_lineno", None) or node.lineno
        key = (
            node.lineno,
            self._column(node.lineno, node.col_offset),
            end_line,
            self._column(end_line, getattr(node, "end_col_offset", None) or 0),
        )
        found = [n for n in self.by_key.get(key, []) if kind is None or isinstance(n, kind)]
        return found[0] if found else None


def plain_socket(context_source: str, zmq_name: str, socket_type: str) -> cst.Call:
    """``<context>.socket(<zmq>.<TYPE>)``."""
    return cst.ensure_type(cst.parse_expression(f"{context_source}.socket({zmq_name}.{socket_type})"), cst.Call)


def factory_replacement(
    index: ProjectIndex, module: ModuleInfo, misuse: Misuse
) -> Optional[Tuple[cst.Call, List[ImportSpec], List[ImportSpec]]]:
    """The plain socket that replaces ``misuse.factory_call``, with imports to add and remove."""
    factory: Factory = misuse.factory
    if factory.socket_type is None or misuse.factory_module.path != module.path:
        return None
    adds: List[ImportSpec] = []
    zmq_name = zmq_alias(module)
    if zmq_name is None:
        zmq_name = "zmq"
        adds.append(ImportSpec("zmq"))
    context = context_expression(index, module, misuse)
    if zmq_name != "zmq" and context.startswith("zmq."):
        context = zmq_name + context[3:]
    removes: List[ImportSpec] = []
    head = (dotted_name(misuse.factory_call.func) or "").partition(".")[0]
    ref = module.imports.get(head)
    if ref is not None and ref.name is not None:
        removes.append(ImportSpec("." * ref.level + ref.module, ref.name, None if head == ref.name else head))
    return plain_socket(context, zmq_name, factory.socket_type), adds, removes


def shared_context(zmq_name: str) -> cst.BaseExpression:
    return cst.parse_expression(f"{zmq_name}.Context.instance()")


def gate_module(facts) -> Optional[ModuleInfo]:
    """The module the socket rules will read for the file a gate is asked about: the project
    index's (`RuleContext.module_info`), which is what the facts are computed on."""
    return facts.index.module_for_path(facts.path)


def may_misuse(facts, kind: str) -> bool:
    """Gate of ZMQ101 (``kind`` "bind") and ZMQ102 ("connect"): the file has such a misuse.

    The same (memoised) `socket_misuses` that `report_misuses` reports from, with the same
    ``binding-factories`` setting, so the rule itself then only maps the findings to LibCST.
    """
    module = gate_module(facts)
    if module is None:
        return False  # `report_misuses` reports nothing without the module
    if facts.module is not None:  # the same tree: its assignments are in the shared walk
        note_assignments(facts.index, module, facts.nodes(ast.Assign, ast.AnnAssign, ast.AugAssign))
    extra = tuple(facts.option("binding-factories"))
    return any(m.kind == kind for m in socket_misuses(facts.index, module, extra))


def report_misuses(rule, kind: str, message: str, keep: str) -> None:
    """Report every ``kind`` ("bind" or "connect") of a factory-bound socket in the file
    ``rule`` checks, each with the fix that creates the socket plainly (``keep`` says what
    the caller's own call then does)."""
    context = rule.context
    module = context.module_info
    if module is None:
        return
    index = context.index
    extra = tuple(context.option("binding-factories"))
    misuses = [m for m in socket_misuses(index, module, extra) if m.kind == kind]
    if not misuses:
        return
    nodes = NodeMap(context.source, context.wrapper, (cst.Call, cst.Attribute, cst.SimpleStatementLine))
    for misuse in misuses:
        use = nodes.find(misuse.use, cst.Call)
        if use is None:
            continue
        fix = None
        replacement = factory_replacement(index, module, misuse)
        replacements = _socket_replacements(index, module, misuse, nodes, replacement[0]) if replacement else None
        options = _option_statements(module, misuse, nodes) if replacements else None
        if replacement is not None and replacements and options is not None:
            new, adds, removes = replacement
            after, carried = options
            fix = Fix(
                f"create the socket with `{cst.Module([]).code_for_node(new)}`{carried} and {keep}",
                Applicability.SAFE,
                transformer=lambda replacements=replacements, after=after: ThreadLifecycleTransformer(calls=replacements, after=after),
                add_imports=adds,
                remove_imports=removes,
            )
        rule.report(use, message.format(subject=misuse.subject, factory=misuse.factory.name), fix=fix)


def _option_statements(module: ModuleInfo, misuse: Misuse, nodes: NodeMap):
    """The options the factory call asked for, set on the plain socket right after the
    statement that creates it: ``({statement: [setsockopt, ...]}, " setting LINGER, RCVTIMEO")``;
    None when they cannot be placed (the statement shares its line, or has no single target)."""
    options = caller_options(misuse)
    if not options:
        return {}, ""
    zmq_name = zmq_alias(module) or "zmq"
    holding = [f for f in module.scope_at(misuse.factory_call.lineno) if isinstance(f, FunctionInfo)]
    scope = holding[-1].node if holding else module.tree
    statement = next(
        (
            node for node in walk(scope)
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None
            and any(sub is misuse.factory_call for sub in walk(node.value))
        ),
        None,
    )
    targets = (statement.targets if isinstance(statement, ast.Assign) else [statement.target]) if statement is not None else []
    line = nodes.find(statement, cst.SimpleStatementLine) if statement is not None else None
    target = dotted_name(targets[0]) if len(targets) == 1 else None
    if line is None or target is None:
        return None
    values = [ast.get_source_segment(module.source, value) for _, value in options]
    if any(value is None for value in values):
        return None
    statements = [
        cst.parse_statement(f"{target}.setsockopt({zmq_name}.{option}, {value})\n")
        for (option, _), value in zip(options, values)
    ]
    return {line: statements}, " setting " + ", ".join(option for option, _ in options)


def _socket_replacements(index: ProjectIndex, module: ModuleInfo, misuse: Misuse, nodes: NodeMap, new: cst.Call):
    """What the fix replaces: the factory call (it returned the socket), the holder attribute
    taken off it (``get_rep_socket(ep).socket``), or the call and every ``w.socket`` of a
    wrapper used for nothing else (then ``w`` is the socket). None: no fix."""
    origin = misuse.origin
    if origin is not None and origin.via is not None and isinstance(origin.expr, ast.Attribute):
        target = nodes.find(origin.expr, cst.Attribute)
        return {target: new} if target is not None else None
    target = nodes.find(misuse.factory_call, cst.Call)
    if target is None:
        return None
    if origin is None or not origin.holder:
        return {target: new}
    uses = wrapper_socket_uses(index, module, misuse)
    if uses is None:
        return None
    replacements: dict = {target: new}
    for use in uses:
        found = nodes.find(use, cst.Attribute)
        if not isinstance(found, cst.Attribute):
            return None
        replacements[found] = found.value
    return replacements
