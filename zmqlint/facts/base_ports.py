"""ZMQ105: where a subclass binds a port its base class's ``__init__`` already binds, the
subclass calling that ``__init__`` (`base_port_clashes`, each a `PortClash`). Worked out from
where each function binds and on which endpoint (`bind_sites`: followed through the helpers it
calls, endpoints with their locals and the caller's arguments substituted) and the port an
endpoint names (`port_key`).

Inputs from the index: the module's classes, `mro`, each base's ``__init__``, the function's own
nodes, `local_value` for locals in endpoints and `resolve_callable` (through `resolve_call`)
for helpers that bind.

Cost: only classes with a base are looked at, and of those only the ones without an
``__init__`` or whose ``__init__`` calls a base's; each base ``__init__`` and each method of the
subclass has its bind sites worked out once, helpers followed four calls deep, memoised per function (``sockets.bind_sites``); the clashes are
memoised per module (``sockets.port_clashes``).
"""

from __future__ import annotations

import ast
import copy
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from zmqlint.facts.socket_basics import (
    IN_PROGRESS,
    call_arguments,
    calls_base_init,
    is_bound_call,
    resolve_call,
    self_parameter,
)
from zmqlint.index import ClassInfo, FunctionInfo, ModuleInfo, ProjectIndex, dotted_name, own_nodes


@dataclass
class BindSite:
    #: The call in the analysed function (a ``.bind`` or a helper call that binds).
    node: ast.Call
    #: ``self.X`` / parameter / local the bound socket is known as in that function.
    subject: str
    endpoint: Optional[ast.expr]


def bind_sites(index: ProjectIndex, func: FunctionInfo, _depth: int = 0) -> List[BindSite]:
    key = ("sockets.bind_sites", str(func.module.path), func.qualname, func.node.lineno)
    if _depth > 4:
        return []
    cached = index._memo.get(key)
    if cached is IN_PROGRESS:
        return []
    if cached is not None:
        return cached  # type: ignore[return-value]
    index._memo[key] = IN_PROGRESS
    sites: List[BindSite] = []
    for node in own_nodes(func.node):
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Attribute) and node.func.attr == "bind" and node.args:
            subject = dotted_name(node.func.value)
            if subject:
                sites.append(BindSite(node, subject, _with_locals(index, func, node.args[0], node.lineno)))
            continue
        callee = resolve_call(index, func.module, node)
        if callee is None or callee is func:
            continue
        args = call_arguments(node, callee, is_bound_call(node))
        for inner in bind_sites(index, callee, _depth + 1):
            subject = inner.subject
            callee_self = self_parameter(callee)
            if subject in args:
                subject = dotted_name(args[subject]) or ""
            elif callee_self and subject.startswith(callee_self + "."):
                self_name = self_parameter(func)
                if not self_name or not (dotted_name(node.func) or "").startswith(self_name + "."):
                    continue
                subject = self_name + subject[len(callee_self):]
            else:
                continue
            if subject:
                endpoint = _substitute(inner.endpoint, args) if inner.endpoint is not None else None
                sites.append(BindSite(node, subject, endpoint))
    index._memo[key] = sites
    return sites


def _with_locals(index: ProjectIndex, func: FunctionInfo, expr: ast.expr, line: int) -> ast.expr:
    """``expr`` with local names replaced by the value last assigned to them before ``line``."""
    params = set(func.parameters)
    values: Dict[str, ast.expr] = {}
    for node in ast.walk(expr):
        if isinstance(node, ast.Name) and node.id not in params and node.id not in values:
            value = index.local_value(func, node.id, before_line=line)
            if value is not None:
                values[node.id] = value
    return _substitute(expr, values) if values else expr


class _Substitute(ast.NodeTransformer):
    def __init__(self, values: Dict[str, ast.expr]):
        self.values = values

    def visit_Name(self, node: ast.Name):
        if node.id in self.values:
            return copy.deepcopy(self.values[node.id])
        return node


def _substitute(expr: ast.expr, values: Dict[str, ast.expr]) -> ast.expr:
    return _Substitute(values).visit(copy.deepcopy(expr))


def port_key(endpoint: Optional[ast.expr]) -> Optional[str]:
    """The port part of an endpoint expression, as source: ``self.port`` for
    ``f"tcp://{self.host}:{self.port}"``, ``"tcp://*:%d" % self.port``, ``"tcp://*:" +
    str(self.port)``; ``5555`` for ``"tcp://*:5555"``; the whole expression otherwise."""
    if endpoint is None:
        return None
    node = endpoint
    if isinstance(node, ast.JoinedStr):
        values = node.values
        for position in range(len(values) - 1, 0, -1):
            part, before = values[position], values[position - 1]
            if isinstance(part, ast.FormattedValue) and isinstance(before, ast.Constant) and str(before.value).endswith(":"):
                return _strip_conversion(part.value)
        return None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod) and isinstance(node.left, ast.Constant):
        right = node.right.elts[-1] if isinstance(node.right, ast.Tuple) and node.right.elts else node.right
        if str(node.left.value).rstrip().endswith(("%d", "%s", "%i")) and ":" in str(node.left.value):
            return _strip_conversion(right)
        return None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left = node.left
        if isinstance(left, ast.Constant) and str(left.value).endswith(":"):
            return _strip_conversion(node.right)
        if isinstance(left, ast.BinOp) and isinstance(left.right, ast.Constant) and str(left.right.value) == ":":
            return _strip_conversion(node.right)
        return None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format" and node.args:
        return _strip_conversion(node.args[-1])
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        _, _, port = node.value.rpartition(":")
        return port if port.isdigit() else None
    if isinstance(node, (ast.Name, ast.Attribute)):
        return "endpoint " + ast.unparse(node)
    return None


def _strip_conversion(node: ast.expr) -> str:
    while isinstance(node, ast.Call) and dotted_name(node.func) in ("str", "int") and len(node.args) == 1:
        node = node.args[0]
    if isinstance(node, ast.Constant):
        return str(node.value)
    return ast.unparse(node)


@dataclass
class PortClash:
    site: BindSite
    port: str
    base: ClassInfo
    #: ``self.X`` the base class bound that port on (None when not an attribute).
    base_subject: Optional[str]
    function: FunctionInfo


def base_port_clashes(index: ProjectIndex, module: ModuleInfo) -> List[PortClash]:
    key = ("sockets.port_clashes", str(module.path))
    return index.memo(key, lambda: _find_port_clashes(index, module))


def _calls_super_init(cls: ClassInfo) -> bool:
    init = cls.methods.get("__init__")
    if init is None:
        return True
    return any(calls_base_init(stmt) for stmt in init.node.body)


def _find_port_clashes(index: ProjectIndex, module: ModuleInfo) -> List[PortClash]:
    clashes: List[PortClash] = []
    for cls in module.classes.values():
        mro = index.mro(cls)
        if len(mro) < 2 or not _calls_super_init(cls):
            continue
        base_ports: Dict[str, Tuple[ClassInfo, Optional[str]]] = {}
        for base in mro[1:]:
            init = base.methods.get("__init__")
            if init is None:
                continue
            base_self = self_parameter(init)
            for site in bind_sites(index, init):
                port = port_key(site.endpoint)
                if port is None or port in base_ports:
                    continue
                subject = site.subject
                if base_self and subject.startswith(base_self + ".") and subject.count(".") == 1:
                    base_ports[port] = (base, "self." + subject.partition(".")[2])
                else:
                    base_ports[port] = (base, None)
        if not base_ports:
            continue
        for method in cls.methods.values():
            self_name = self_parameter(method)
            for site in bind_sites(index, method):
                port = port_key(site.endpoint)
                if port not in base_ports:
                    continue
                base, base_subject = base_ports[port]
                if base_subject and _closes_before(method, self_name, base_subject, site.node):
                    continue
                if base_subject and self_name:
                    base_subject = self_name + base_subject[4:]
                clashes.append(PortClash(site, port, base, base_subject, method))
    return clashes


def _closes_before(method: FunctionInfo, self_name: Optional[str], base_subject: str, node: ast.Call) -> bool:
    if not self_name:
        return False
    target = self_name + base_subject[4:]
    for sub in own_nodes(method.node):
        if (
            isinstance(sub, ast.Call)
            and isinstance(sub.func, ast.Attribute)
            and sub.func.attr in ("close", "unbind")
            and dotted_name(sub.func.value) == target
            and (sub.lineno, sub.col_offset) < (node.lineno, node.col_offset)
        ):
            return True
    return False
