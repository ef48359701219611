"""Intra-function dataflow: where values produced by some calls flow within one function.

`TaintFlow` walks a function body in execution order and tracks which *places* (local names
and attribute chains such as ``self.last``) may hold a value derived from a *source* call,
through assignments, tuple unpacking, subscripts, attributes, ``await``, comprehensions,
``for`` loops, branches (merged) and loops (to a fixpoint). Derivation goes through
subscripts and slices, attribute reads, method calls on a derived value (``frame.bytes``,
``msg.split(b" ", 1)``, ``raw.encode()``), containers and a table of byte-shuffling
functions (``bytes``, ``io.BytesIO``, ``zlib.decompress``, ``base64.b64decode`` ...). Any
other call stops it: a function the data is handed to may check or transform it.

It is a may-analysis: a place is derived when it is on some path. Values are sets of the
source call nodes they derive from, so a sink knows which source (which socket) it reads.

The second half answers "which channel is this socket on": the endpoint or port its
``bind`` / ``connect`` uses (from the project index's `ast`, folding constants across
modules where they resolve).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Callable, Dict, FrozenSet, Iterable, Iterator, List, Optional, Sequence, Set, Tuple, Union

import libcst as cst
from libcst.helpers import get_full_name_for_node

from zmqlint.index import ClassInfo, FunctionInfo, dotted_name

Labels = FrozenSet[cst.CSTNode]
Env = Dict[str, Labels]
EMPTY: Labels = frozenset()

#: Functions whose result carries their arguments' data (qualified names).
PROPAGATING_FUNCTIONS = frozenset(
    {
        "bytes", "bytearray", "memoryview", "list", "tuple", "reversed", "iter", "next", "bytes.fromhex",
        "io.BytesIO", "zlib.decompress", "zlib.compress", "gzip.decompress", "gzip.compress",
        "bz2.decompress", "bz2.compress", "lzma.decompress", "lzma.compress",
        "base64.b64decode", "base64.b64encode", "base64.urlsafe_b64decode", "base64.urlsafe_b64encode",
        "base64.standard_b64decode", "base64.b32decode", "base64.b16decode", "base64.b85decode",
        "base64.a85decode", "base64.decodebytes", "base64.encodebytes", "binascii.unhexlify",
        "binascii.a2b_base64", "binascii.a2b_hex", "codecs.decode", "lz4.frame.decompress",
        "zstandard.decompress", "blosc.decompress", "snappy.decompress",
    }
)

#: Methods whose result carries their arguments' data as well (``b"".join(frames)``).
_ARGUMENT_METHODS = frozenset({"join", "fromhex"})

#: Methods that put their arguments into the receiver (``frames.append(body)``).
_MUTATORS = frozenset({"append", "extend", "insert", "add", "update", "appendleft", "extendleft"})

_COMPREHENSIONS = (cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp)


def place_key(node: cst.BaseExpression) -> Optional[str]:
    """``x`` / ``self.buf`` / ``a.b.c`` for names and attribute chains, else None."""
    if isinstance(node, (cst.Name, cst.Attribute)):
        return get_full_name_for_node(node)
    return None


def _union(*labels: Labels) -> Labels:
    out: Set[cst.CSTNode] = set()
    for item in labels:
        out |= item
    return frozenset(out)


def _merge(a: Env, b: Env) -> Env:
    out = dict(a)
    for key, value in b.items():
        out[key] = out.get(key, EMPTY) | value
    return out


class TaintFlow:
    """Runs over one function body (or a module's top level); nested definitions are skipped
    (they are analysed on their own).

    ``is_source(call)`` says whether a call produces tracked data; ``on_call(call, taint_of)``
    is called once per call node per pass with a function giving the labels of any expression
    at that point; ``qualified(node)`` gives the qualified names a callee may refer to.
    """

    MAX_LOOP_PASSES = 3

    def __init__(
        self,
        *,
        is_source: Callable[[cst.Call], bool],
        on_call: Callable[[cst.Call, Callable[[cst.BaseExpression], Labels]], None],
        qualified: Callable[[cst.CSTNode], Set[str]],
    ) -> None:
        self.is_source = is_source
        self.on_call = on_call
        self.qualified = qualified
        #: Calls that are awaited directly (``await sock.recv()``).
        self.awaited: Dict[cst.Call, cst.Await] = {}

    # -- statements ------------------------------------------------------------------------

    def run(self, body: Sequence[cst.CSTNode], env: Optional[Env] = None) -> Env:
        return self._block(body, dict(env or {}))

    def _block(self, statements: Iterable[cst.CSTNode], env: Env) -> Env:
        for stmt in statements:
            env = self._statement(stmt, env)
        return env

    def _suite(self, suite: Optional[cst.BaseSuite], env: Env) -> Env:
        if suite is None:
            return env
        if isinstance(suite, cst.SimpleStatementSuite):
            for small in suite.body:
                env = self._small(small, env)
            return env
        return self._block(suite.body, env)

    def _statement(self, stmt: cst.CSTNode, env: Env) -> Env:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                env = self._small(small, env)
            return env
        if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
            for decorator in stmt.decorators:
                self._eval(decorator.decorator, env)
            return env
        if isinstance(stmt, cst.If):
            self._eval(stmt.test, env)
            taken = self._suite(stmt.body, dict(env))
            other = self._statement(stmt.orelse, dict(env)) if isinstance(stmt.orelse, cst.If) else self._suite(
                stmt.orelse.body if stmt.orelse else None, dict(env)
            )
            return _merge(taken, other)
        if isinstance(stmt, cst.While):
            self._eval(stmt.test, env)
            env = self._loop(lambda e: self._suite(stmt.body, e), env)
            return self._suite(stmt.orelse.body if stmt.orelse else None, env)
        if isinstance(stmt, cst.For):
            labels = self._eval(stmt.iter, env)

            def once(e: Env) -> Env:
                self._bind(stmt.target, labels, e)
                return self._suite(stmt.body, e)

            env = self._loop(once, env)
            return self._suite(stmt.orelse.body if stmt.orelse else None, env)
        if isinstance(stmt, cst.With):
            for item in stmt.items:
                labels = self._eval(item.item, env)
                if item.asname is not None:
                    self._bind(item.asname.name, labels, env)
            return self._suite(stmt.body, env)
        if isinstance(stmt, (cst.Try, cst.TryStar)):
            after_body = self._suite(stmt.body, dict(env))
            entry = _merge(env, after_body)
            results = [self._suite(stmt.orelse.body if stmt.orelse else None, after_body)]
            for handler in stmt.handlers:
                if handler.type is not None:
                    self._eval(handler.type, entry)
                results.append(self._suite(handler.body, dict(entry)))
            merged = results[0]
            for result in results[1:]:
                merged = _merge(merged, result)
            return self._suite(stmt.finalbody.body if stmt.finalbody else None, merged)
        if isinstance(stmt, cst.Match):
            self._eval(stmt.subject, env)
            merged = dict(env)
            for case in stmt.cases:
                merged = _merge(merged, self._suite(case.body, dict(env)))
            return merged
        return env

    def _loop(self, body: Callable[[Env], Env], env: Env) -> Env:
        for _ in range(self.MAX_LOOP_PASSES):
            after = _merge(env, body(dict(env)))
            if after == env:
                break
            env = after
        return env

    def _small(self, small: cst.BaseSmallStatement, env: Env) -> Env:
        if isinstance(small, cst.Assign):
            labels = self._eval(small.value, env)
            for target in small.targets:
                self._bind(target.target, labels, env)
        elif isinstance(small, cst.AnnAssign):
            if small.value is not None:
                self._bind(small.target, self._eval(small.value, env), env)
        elif isinstance(small, cst.AugAssign):
            labels = self._eval(small.value, env) | self._eval(small.target, env)
            self._bind(small.target, labels, env)
        else:
            self._scan(small, env)
        return env

    def _bind(self, target: cst.BaseExpression, labels: Labels, env: Env) -> None:
        key = place_key(target)
        if key is not None:
            if labels:
                env[key] = labels
            else:
                env.pop(key, None)
            # Whatever was known about attributes of the old value is gone.
            for stale in [k for k in env if k.startswith(key + ".")]:
                del env[stale]
            return
        if isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self._bind(element.value, labels, env)
        elif isinstance(target, cst.StarredElement):
            self._bind(target.value, labels, env)
        elif isinstance(target, cst.Subscript):
            # d[k] = v: the container may now hold v (a weak update).
            for element in target.slice:
                self._scan(element, env)
            base = place_key(target.value)
            if base is not None and labels:
                env[base] = env.get(base, EMPTY) | labels
            elif base is None:
                self._eval(target.value, env)

    # -- expressions -----------------------------------------------------------------------

    def _scan(self, node: cst.CSTNode, env: Env) -> None:
        """Visit every expression below ``node`` (for the calls in it)."""
        for child in node.children:
            if isinstance(child, cst.BaseExpression):
                self._eval(child, env)
            else:
                self._scan(child, env)

    def taint_of(self, node: cst.BaseExpression, env: Env) -> Labels:
        """The labels of ``node`` in ``env``, without reporting calls."""
        saved = self.on_call
        self.on_call = lambda call, taint: None
        try:
            return self._eval(node, env)
        finally:
            self.on_call = saved

    def _eval(self, node: cst.BaseExpression, env: Env) -> Labels:
        if isinstance(node, cst.Name):
            return env.get(node.value, EMPTY)
        if isinstance(node, cst.Attribute):
            key = place_key(node)
            return (env.get(key, EMPTY) if key else EMPTY) | self._eval(node.value, env)
        if isinstance(node, cst.Subscript):
            for element in node.slice:
                self._scan(element, env)
            return self._eval(node.value, env)
        if isinstance(node, cst.Call):
            return self._call(node, env)
        if isinstance(node, cst.Await):
            if isinstance(node.expression, cst.Call):
                self.awaited[node.expression] = node
            return self._eval(node.expression, env)
        if isinstance(node, (cst.BinaryOperation, cst.BooleanOperation)):
            return self._eval(node.left, env) | self._eval(node.right, env)
        if isinstance(node, cst.IfExp):
            self._eval(node.test, env)
            return self._eval(node.body, env) | self._eval(node.orelse, env)
        if isinstance(node, (cst.Tuple, cst.List, cst.Set)):
            return _union(*(self._eval(element.value, env) for element in node.elements))
        if isinstance(node, cst.Dict):
            labels = []
            for element in node.elements:
                if isinstance(element, cst.DictElement):
                    self._eval(element.key, env)
                labels.append(self._eval(element.value, env))
            return _union(*labels)
        if isinstance(node, cst.NamedExpr):
            labels = self._eval(node.value, env)
            self._bind(node.target, labels, env)
            return labels
        if isinstance(node, _COMPREHENSIONS):
            return self._comprehension(node, env)
        if isinstance(node, cst.Lambda):
            inner = dict(env)
            for param in node.params.params:
                inner.pop(param.name.value, None)
            self._eval(node.body, inner)
            return EMPTY
        self._scan(node, env)
        return EMPTY

    def _comprehension(self, node: cst.BaseExpression, env: Env) -> Labels:
        inner = dict(env)
        clause: Optional[cst.CompFor] = node.for_in
        while clause is not None:
            self._bind(clause.target, self._eval(clause.iter, inner), inner)
            for condition in clause.ifs:
                self._eval(condition.test, inner)
            clause = clause.inner_for_in
        if isinstance(node, cst.DictComp):
            return self._eval(node.key, inner) | self._eval(node.value, inner)
        return self._eval(node.elt, inner)

    def _call(self, node: cst.Call, env: Env) -> Labels:
        receiver = self._eval(node.func.value, env) if isinstance(node.func, cst.Attribute) else self._eval(node.func, env)
        arguments = [self._eval(arg.value, env) for arg in node.args]
        self.on_call(node, lambda expr: self.taint_of(expr, env))
        if self.is_source(node):
            return frozenset({node})
        if isinstance(node.func, cst.Attribute):
            container = place_key(node.func.value)
            if node.func.attr.value in _MUTATORS and container is not None and any(arguments):
                env[container] = env.get(container, EMPTY) | _union(*arguments)
            if node.func.attr.value in _ARGUMENT_METHODS:
                return receiver | _union(*arguments)
            if receiver:
                return receiver
        if self.qualified(node.func) & PROPAGATING_FUNCTIONS:
            return _union(*arguments)
        return EMPTY


def import_statements(module: cst.Module) -> Iterator[Union[cst.Import, cst.ImportFrom]]:
    """Every import statement of ``module``, at any depth (functions, ``try`` blocks...),
    found by walking statements only: much cheaper than visiting every expression."""
    stack: List[cst.CSTNode] = list(reversed(module.body))
    while stack:
        node = stack.pop()
        if isinstance(node, cst.SimpleStatementLine):
            yield from (s for s in node.body if isinstance(s, (cst.Import, cst.ImportFrom)))
            continue
        for name in ("body", "orelse", "handlers", "finalbody", "cases"):
            part = getattr(node, name, None)
            if part is None:
                continue
            if isinstance(part, (cst.IndentedBlock, cst.SimpleStatementSuite)):
                part = part.body
            elif isinstance(part, (cst.Else, cst.Finally, cst.If)):
                part = [part]
            if isinstance(part, (list, tuple)):
                stack.extend(reversed(part))


def import_aliases(module: cst.Module) -> Dict[str, Set[str]]:
    """Local name -> the qualified names it was imported as, from every import in the module
    (top level, functions, ``try: import cPickle as pickle / except ImportError: import pickle``)."""
    aliases: Dict[str, Set[str]] = {}
    for node in import_statements(module):
        if isinstance(node, cst.Import):
            for alias in node.names:
                dotted = get_full_name_for_node(alias.name) or ""
                if alias.asname is not None:
                    local = get_full_name_for_node(alias.asname.name) or dotted
                    aliases.setdefault(local, set()).add(dotted)
                else:
                    head = dotted.partition(".")[0]
                    aliases.setdefault(head, set()).add(head)
        elif not node.relative and node.module is not None and not isinstance(node.names, cst.ImportStar):
            module_name = get_full_name_for_node(node.module)
            for alias in node.names:
                name = get_full_name_for_node(alias.name)
                local = get_full_name_for_node(alias.asname.name) if alias.asname else name
                if name and local:
                    aliases.setdefault(local, set()).add(f"{module_name}.{name}")
    return aliases


def qualified_names(node: cst.CSTNode, aliases: Dict[str, Set[str]]) -> Set[str]:
    """What ``node`` (``pk.loads``, ``unpickle``) may name, through the module's imports; a
    plain name not imported stands for itself (builtins), a dotted one for nothing known."""
    dotted = get_full_name_for_node(node)
    if not dotted:
        return set()
    head, _, rest = dotted.partition(".")
    if head not in aliases:
        return set() if rest else {dotted}
    return {f"{origin}.{rest}" if rest else origin for origin in aliases[head]}


def method_name(call: cst.Call) -> Optional[str]:
    """``recv`` for ``sock.recv(...)``; None for calls of plain names."""
    return call.func.attr.value if isinstance(call.func, cst.Attribute) else None


# -- channels ------------------------------------------------------------------------------

_BIND_METHODS = {"bind": "bind", "bind_to_random_port": "bind", "connect": "connect"}
_UNKNOWN = object()


@dataclass(frozen=True)
class Channel:
    """Where a socket is attached: ``key`` (``tcp:5556``, ``ipc:///tmp/x``, ``symbol:pkg.mod.NAME``)
    when the endpoint resolves, ``role`` ``bind`` / ``connect`` when known, and ``endpoint``
    as written in the source (for messages)."""

    key: Optional[str]
    role: Optional[str]
    endpoint: Optional[str]


def _attachments(scope: ast.AST, socket: str) -> List[Tuple[str, ast.expr]]:
    """``(role, endpoint expression)`` for every bind / connect of ``socket`` under ``scope``,
    including helpers that take the socket and say so in their name (``_bind_with_retry(s, port)``)."""
    found = []
    for node in ast.walk(scope):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in _BIND_METHODS and dotted_name(func.value) == socket:
            if node.args:
                found.append((_BIND_METHODS[func.attr], node.args[0]))
            continue
        name = (dotted_name(func) or "").rpartition(".")[2].lower()
        role = "bind" if "bind" in name else "connect" if "connect" in name else None
        if role is None:
            continue
        args = list(node.args)
        positions = [i for i, arg in enumerate(args) if dotted_name(arg) == socket]
        if positions and len(args) > positions[0] + 1:
            found.append((role, args[positions[0] + 1]))
    return found


class _Folder:
    """Constant folding of endpoint / port expressions, across modules through the index."""

    MAX_DEPTH = 8

    def __init__(self, index, module, function, cls) -> None:
        self.index = index
        self.module = module
        self.function = function
        self.cls = cls

    def fold(self, node: ast.expr, depth: int = 0):
        if depth > self.MAX_DEPTH:
            return _UNKNOWN
        if isinstance(node, ast.Constant) and isinstance(node.value, (str, int)) and not isinstance(node.value, bool):
            return node.value
        if isinstance(node, ast.JoinedStr):
            parts = []
            for value in node.values:
                folded = self.fold(value.value, depth + 1) if isinstance(value, ast.FormattedValue) else value.value
                parts.append("\0" if folded is _UNKNOWN or (isinstance(value, ast.FormattedValue) and value.format_spec) else str(folded))
            return "".join(parts)
        if isinstance(node, ast.BinOp):
            left, right = self.fold(node.left, depth + 1), self.fold(node.right, depth + 1)
            if isinstance(node.op, ast.Add) and type(left) is type(right) and left is not _UNKNOWN:
                return left + right
            if isinstance(node.op, ast.Add) and isinstance(left, str) and right is _UNKNOWN:
                return left + "\0"
            if isinstance(node.op, ast.Mod) and isinstance(left, str):
                values = node.right.elts if isinstance(node.right, ast.Tuple) else [node.right]
                folded = [self.fold(v, depth + 1) for v in values]
                if all(v is not _UNKNOWN for v in folded):
                    try:
                        return left % tuple(folded)
                    except (TypeError, ValueError):
                        return _UNKNOWN
            return _UNKNOWN
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("str", "int") and len(node.args) == 1:
            value = self.fold(node.args[0], depth + 1)
            return _UNKNOWN if value is _UNKNOWN else str(value) if node.func.id == "str" else _as_int(value)
        if isinstance(node, ast.Name):
            return self._name(node.id, node, depth)
        if isinstance(node, ast.Attribute):
            dotted = dotted_name(node)
            if dotted and dotted.startswith("self.") and dotted.count(".") == 1 and self.cls is not None:
                values = []
                for klass in self.index.mro(self.cls):
                    for value in klass.attributes.get(node.attr, []):
                        folder = _Folder(self.index, klass.module, _method_at(klass, value.lineno), klass)
                        values.append(folder.fold(value, depth + 1))
                if values and all(v == values[0] for v in values):
                    return values[0]
                return _UNKNOWN
            target = self._imported(dotted)
            return self._module_constant(*target, depth) if target else _UNKNOWN
        return _UNKNOWN

    def _name(self, name: str, node: ast.expr, depth: int):
        if self.function is not None:
            if name in self.function.parameters:
                return _UNKNOWN
            local = self.index.local_value(self.function, name, before_line=getattr(node, "lineno", None))
            if local is not None:
                return self.fold(local, depth + 1)
        if name in self.module.assignments:
            return self.fold(self.module.assignments[name], depth + 1)
        target = self._imported(name)
        return self._module_constant(*target, depth) if target else _UNKNOWN

    def _imported(self, dotted: Optional[str]):
        if not dotted:
            return None
        head, _, rest = dotted.partition(".")
        ref = self.module.imports.get(head)
        if ref is None:
            return None
        if ref.name is None:  # import pkg.config as config; config.PORT
            module = self.index.resolve_module(ref.module, from_module=self.module, level=ref.level)
            if module is None or not rest:
                return None
            mod_path, _, attr = rest.rpartition(".")
            if mod_path:
                module = self.index.resolve_module(f"{module.name}.{mod_path}")
            return (module, attr) if module else None
        module = self.index.resolve_module(ref.module, from_module=self.module, level=ref.level)
        if module is None:
            return None
        if rest:  # from pkg import config; config.PORT
            sub = self.index.resolve_module(f"{module.name}.{ref.name}")
            return (sub, rest) if sub is not None and "." not in rest else None
        return module, ref.name

    def _module_constant(self, module, name: str, depth: int):
        if module is None or name not in module.assignments:
            return _UNKNOWN
        return _Folder(self.index, module, None, None).fold(module.assignments[name], depth + 1)


def _as_int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return _UNKNOWN


def endpoint_key(value) -> Optional[str]:
    """A comparable key for a folded endpoint (``"tcp://*:5556"``) or port (``5556``)."""
    if isinstance(value, int):
        return f"tcp:{value}"
    if not isinstance(value, str):
        return None
    scheme, sep, rest = value.partition("://")
    if not sep or "\0" in scheme:
        return None
    if scheme in ("tcp", "udp", "ws", "wss", "epgm", "pgm"):
        port = rest.rpartition(":")[2].split("/")[0]
        return f"tcp:{port}" if port.isdigit() else None
    return None if "\0" in rest else f"{scheme}://{rest}"


def _method_at(cls: ClassInfo, line: int) -> Optional[FunctionInfo]:
    for method in cls.methods.values():
        if method.node.lineno <= line <= (method.node.end_lineno or method.node.lineno):
            return method
    return None


def socket_channel(index, module, line: int, socket: Optional[str]) -> Channel:
    """The channel of the socket written ``socket`` (``self.pub``, ``sock``) at ``line``."""
    if module is None or not socket:
        return Channel(None, None, None)
    scopes = module.scope_at(line)
    function = next((s for s in reversed(scopes) if isinstance(s, FunctionInfo)), None)
    cls = next((s for s in reversed(scopes) if isinstance(s, ClassInfo)), None)
    if socket.startswith("self.") and cls is not None:
        attachments = [(a, c) for c in index.mro(cls) for a in _attachments(c.node, socket)]
    elif function is not None and socket.partition(".")[0] not in function.parameters:
        attachments = [(a, cls) for a in _attachments(function.node, socket)]
    else:
        return Channel(None, None, None)
    if not attachments:
        return Channel(None, None, None)
    roles = {role for (role, _), _ in attachments}
    role = roles.pop() if len(roles) == 1 else None
    (_, endpoint), owner = attachments[0]
    where = _method_at(owner, endpoint.lineno) if owner is not None else function
    folder = _Folder(index, owner.module if owner is not None else module, where, owner)
    key = endpoint_key(folder.fold(endpoint))
    dotted = dotted_name(endpoint)
    if key is None and dotted and not dotted.startswith("self."):
        head = dotted.partition(".")[0]
        is_local = where is not None and (head in where.parameters or index.local_value(where, head) is not None)
        if not is_local:
            # Not a constant, but a module-level name both peers may share (``config.AUDIO_ENDPOINT``).
            qualified = index.qualified_name(folder.module, dotted)
            if head in folder.module.assignments:
                qualified = f"{folder.module.name}.{dotted}"
            key = "symbol:" + qualified
    return Channel(key, role, ast.unparse(endpoint))
