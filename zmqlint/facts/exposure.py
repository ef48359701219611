"""How far a socket reaches: is it bound or connected on a network address?

SER203 asks this of the sockets SER201 / SER202 find pickles on. The socket's ``bind`` /
``connect`` calls are found as the channel facts find them (`zmqlint.facts.dataflow`: the
attachments of ``self.sock`` anywhere in the class hierarchy, of a local in its function;
helpers that take the socket and say ``bind`` / ``connect`` in their name), and each endpoint
is folded the same way (constants across modules, ``self`` attributes, f-strings, ``+`` and
``%``). An endpoint is *exposed* when it is

- ``tcp://*``, ``tcp://0.0.0.0``, ``tcp://[::]`` (every interface of the host),
- bound on a named interface or a non-loopback address,
- connected to a host name or a non-loopback address (the peer, and the path to it, can
  send anything), or to a TCP host chosen at run time (``f"tcp://{host}:{port}"``: code
  written to reach another machine), also ``pgm`` / ``epgm`` / ``udp`` / ``ws`` transports, or
- read from configuration (``os.environ``, ``os.getenv``, ``sys.argv``, a ``config`` /
  ``settings`` / ``args`` / ``options`` object) with no local default: it reaches wherever the
  configuration points it. A configuration read or parameter whose default is an address is
  judged by that default.

``ipc://``, ``inproc://`` and loopback (``127.0.0.0/8``, ``localhost``, ``::1``) are not
exposed; neither is an endpoint zmqlint cannot resolve (a plain parameter, a computed value),
nor a socket that sets up CURVE (``curve_server`` / ``curve_serverkey``): only key holders
reach it.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import List, Optional, Tuple, Union

from zmqlint.facts.dataflow import _UNKNOWN, _Folder, _attachments, _method_at
from zmqlint.index import ClassInfo, FunctionInfo, ModuleInfo, ProjectIndex, dotted_name, own_nodes, walk

EVERY_INTERFACE = "every-interface"
INTERFACE = "interface"
REMOTE = "remote"
CONFIGURED = "configured"
#: Most exposed first.
REACH_ORDER = (EVERY_INTERFACE, INTERFACE, REMOTE, CONFIGURED)

_NETWORK_SCHEMES = frozenset({"tcp", "udp", "ws", "wss", "pgm", "epgm", "norm", "tipc", "vmci"})
_LOCAL_SCHEMES = frozenset({"ipc", "inproc"})
_WILDCARDS = frozenset({"*", "0.0.0.0", "::", "[::]", "[*]"})
_CONFIG_WORD = re.compile(
    r"^_*(?:.*_)?(config|configs|conf|cfg|settings|options|opts|args|argv|params|environ|env)(?:_.*)?$", re.IGNORECASE
)
_ENV_CALLS = frozenset({"os.getenv", "os.environ.get", "environ.get", "getenv"})
#: Socket options that make a socket authenticate its peers with CURVE.
_CURVE = re.compile(r"^(curve_server|curve_serverkey|curve_secretkey|CURVE_SERVER|CURVE_SERVERKEY|CURVE_SECRETKEY)$")

_Part = Union[str, ast.expr]


@dataclass(frozen=True)
class Exposure:
    """A network endpoint of a socket: how it reaches (`REACH_ORDER`), the endpoint as written,
    the host and port where they resolved, and where the address comes from for ``configured``."""

    reach: str
    endpoint: str
    role: str
    host: Optional[str] = None
    port: Optional[str] = None
    source: Optional[str] = None
    by_default: Optional[str] = None


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    return host == "localhost" or host == "::1" or host.startswith("127.") or host.endswith(".localhost")


def socket_exposure(index: ProjectIndex, module: Optional[ModuleInfo], line: int, socket: Optional[str]) -> Optional[Exposure]:
    """The most exposed network endpoint the socket written ``socket`` at ``line`` is bound or
    connected on, or None (local, loopback, unresolved, or CURVE-authenticated)."""
    if module is None or not socket:
        return None
    scopes = module.scope_at(line)
    function = next((s for s in reversed(scopes) if isinstance(s, FunctionInfo)), None)
    cls = next((s for s in reversed(scopes) if isinstance(s, ClassInfo)), None)
    if function is not None and not socket.startswith("self.") and "." not in socket:
        # `sock = self.request_socket` earlier in the function: the attribute's endpoints.
        alias = index.local_value(function, socket, before_line=line)
        alias_name = dotted_name(alias) if alias is not None else None
        if alias_name and function.parameters and alias_name.startswith(function.parameters[0] + ".") and cls is not None:
            socket = "self." + alias_name.partition(".")[2]
    attachments: List[Tuple[str, ast.expr, Optional[ClassInfo], ast.AST]] = []
    if socket.startswith("self.") and cls is not None:
        for klass in index.mro(cls):
            attachments += [(role, expr, klass, klass.node) for role, expr in _attachments(klass.node, socket)]
    elif function is not None and socket.partition(".")[0] not in function.parameters:
        attachments += [(role, expr, cls, function.node) for role, expr in _attachments(function.node, socket)]
    found: List[Exposure] = []
    for role, expr, owner, scope in attachments:
        if _uses_curve(scope, socket):
            return None
        where = _method_at(owner, expr.lineno) if owner is not None else function
        folder = _Folder(index, owner.module if owner is not None else module, where, owner)
        exposure = _classify(folder, role, expr, 0)
        if exposure is not None:
            found.append(exposure)
    if not found:
        return None
    return min(found, key=lambda e: REACH_ORDER.index(e.reach))


def _uses_curve(scope: ast.AST, socket: str) -> bool:
    for node in walk(scope):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Attribute) and _CURVE.match(target.attr) and dotted_name(target.value) == socket:
                    return True
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr.startswith("setsockopt"):
            if dotted_name(node.func.value) == socket and node.args:
                option = (dotted_name(node.args[0]) or "").rpartition(".")[2]
                if _CURVE.match(option):
                    return True
    return False


def _parts(folder: _Folder, expr: ast.expr, depth: int) -> List[_Part]:
    """The endpoint as text, with the expressions that did not fold kept as they are."""
    if depth > _Folder.MAX_DEPTH:
        return [expr]
    value = folder.fold(expr)
    if isinstance(value, (str, int)) and "\0" not in str(value):
        return [str(value)]
    if isinstance(expr, ast.JoinedStr):
        out: List[_Part] = []
        for item in expr.values:
            if isinstance(item, ast.FormattedValue):
                out += _parts(folder, item.value, depth + 1)
            else:
                out.append(str(item.value))
        return out
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
        return _parts(folder, expr.left, depth + 1) + _parts(folder, expr.right, depth + 1)
    if isinstance(expr, ast.Name) and folder.function is not None and expr.id not in folder.function.parameters:
        local = folder.index.local_value(folder.function, expr.id, before_line=expr.lineno)
        if local is not None:
            return _parts(folder, local, depth + 1)
    return [expr]


def _classify(folder: _Folder, role: str, expr: ast.expr, depth: int) -> Optional[Exposure]:
    written = ast.unparse(expr)
    if isinstance(expr, ast.Name) and folder.function is not None and expr.id not in folder.function.parameters:
        local = folder.index.local_value(folder.function, expr.id, before_line=expr.lineno)
        if local is not None:
            written = f"{expr.id} = {ast.unparse(local)}"
    parts = _parts(folder, expr, depth)
    if len(parts) == 1 and not isinstance(parts[0], str):
        found = _from_configuration(folder, role, parts[0], written, depth)
        if found is not None and found.reach == CONFIGURED and role == "connect":
            return Exposure(REMOTE, written, role, found.host, found.port, found.source, found.by_default)
        return found
    text = "".join(p if isinstance(p, str) else "\0" for p in parts)
    scheme, sep, rest = text.partition("://")
    if not sep or "\0" in scheme:
        if text.isdigit():
            return None  # a port handed to a helper: which host it binds is the helper's
        return None
    scheme = scheme.lower()
    if scheme in _LOCAL_SCHEMES or scheme not in _NETWORK_SCHEMES:
        return None
    if "\0" not in text:
        written = text
    address = rest.rpartition(";")[2]  # "eth0;host:port" names a source interface first
    host, colon, port = address.rpartition(":")
    if not colon:
        host, port = address, ""
    port = port.split("/")[0]
    port_text = port if port and "\0" not in port else None
    if "\0" in host:
        unknown = _host_parts(parts, text)
        for part in unknown:
            found = _from_configuration(folder, role, part, written, depth)
            if found is not None:
                # A configured host: connecting, the peer is wherever it points.
                reach = REMOTE if role == "connect" and found.reach == CONFIGURED else found.reach
                return Exposure(reach, written, role, found.host, port_text, found.source, found.by_default)
        if role == "connect" and unknown:
            # `tcp://{host}:...` with the host chosen at run time: the code is written to reach
            # another machine (a local peer would be ipc://, inproc:// or loopback).
            return Exposure(REMOTE, written, role, " ".join(ast.unparse(p) for p in unknown), port_text)
        return None
    if host in _WILDCARDS or (not host and scheme == "tcp"):
        return Exposure(EVERY_INTERFACE if role == "bind" else REMOTE, written, role, host or "*", port_text)
    if is_loopback(host):
        return None
    return Exposure(INTERFACE if role == "bind" else REMOTE, written, role, host, port_text)


def _host_parts(parts: List[_Part], text: str) -> List[ast.expr]:
    """The unresolved expressions that make up the host of ``scheme://host:port``."""
    start = text.index("://") + 3
    end = text.rfind(":")
    if end < start:
        end = len(text)
    found, position = [], 0
    for part in parts:
        width = len(part) if isinstance(part, str) else 1
        if not isinstance(part, str) and start <= position < end:
            found.append(part)
        position += width
    return found


def _from_configuration(folder: _Folder, role: str, expr: ast.expr, written: str, depth: int) -> Optional[Exposure]:
    """An address (or host) read from configuration: exposed unless it has a local default."""
    if depth > _Folder.MAX_DEPTH:
        return None
    if isinstance(expr, ast.Call):
        name = dotted_name(expr.func) or ""
        receiver = dotted_name(expr.func.value) if isinstance(expr.func, ast.Attribute) else None
        is_env = name in _ENV_CALLS or folder.module.qualified_name(name) in ("os.getenv", "os.environ.get")
        is_config_get = receiver is not None and expr.func.attr == "get" and _config_like(receiver)
        if is_env or is_config_get:
            source = ast.unparse(expr)
            default = expr.args[1] if len(expr.args) > 1 else next((k.value for k in expr.keywords if k.arg == "default"), None)
            if default is not None and not (isinstance(default, ast.Constant) and default.value is None):
                return _by_default(folder, role, default, written, source, depth)
            return Exposure(CONFIGURED, written, role, source=source)
        return None
    if isinstance(expr, ast.Subscript):
        base = dotted_name(expr.value) or ""
        if base in ("os.environ", "environ", "sys.argv") or _config_like(base):
            return Exposure(CONFIGURED, written, role, source=ast.unparse(expr))
        return None
    if isinstance(expr, ast.Attribute):
        dotted = dotted_name(expr)
        if not dotted:
            return None
        head, _, rest = dotted.partition(".")
        if folder.function is not None and folder.cls is not None and head == (folder.function.parameters or [""])[0]:
            if rest.count(".") == 0:
                # self.address: what the class assigns it.
                for klass in folder.index.mro(folder.cls):
                    for value in klass.attributes.get(rest, []):
                        inner = _Folder(folder.index, klass.module, _method_at(klass, value.lineno), klass)
                        found = _classify(inner, role, value, depth + 1) or _from_configuration(inner, role, value, written, depth + 1)
                        if found is not None:
                            return Exposure(found.reach, written, role, found.host, found.port, found.source, found.by_default)
                return None
        if _config_like(dotted.rpartition(".")[0]):
            return Exposure(CONFIGURED, written, role, source=dotted)
        return None
    if isinstance(expr, ast.Name) and folder.function is not None:
        if expr.id in folder.function.parameters:
            default = _parameter_default(folder.function, expr.id)
            if default is not None:
                return _by_default(folder, role, default, written, f"parameter `{expr.id}`", depth)
            return None
        local = folder.index.local_value(folder.function, expr.id, before_line=expr.lineno)
        if local is not None:
            return _classify(folder, role, local, depth + 1) or _from_configuration(folder, role, local, written, depth + 1)
    if isinstance(expr, ast.Name) and expr.id in folder.module.assignments:
        value = folder.module.assignments[expr.id]
        module_folder = _Folder(folder.index, folder.module, None, None)
        return _classify(module_folder, role, value, depth + 1) or _from_configuration(module_folder, role, value, written, depth + 1)
    return None


def _by_default(folder: _Folder, role: str, default: ast.expr, written: str, source: str, depth: int) -> Optional[Exposure]:
    value = folder.fold(default)
    if value is _UNKNOWN:
        return None
    text = str(value)
    if "://" not in text:
        # A host alone (getenv("HOST", "0.0.0.0")): judge it as the host of a tcp endpoint.
        text = f"tcp://{text}:0"
    found = _classify(_Folder(folder.index, folder.module, None, None), role, ast.Constant(text), depth + 1)
    if found is None:
        return None
    return Exposure(found.reach, written, role, found.host, found.port, source, by_default=str(value))


def _parameter_default(function: FunctionInfo, name: str) -> Optional[ast.expr]:
    args = function.node.args
    positional = [*args.posonlyargs, *args.args]
    for arg, default in zip(positional[len(positional) - len(args.defaults):], args.defaults):
        if arg.arg == name:
            return default
    for arg, default in zip(args.kwonlyargs, args.kw_defaults):
        if arg.arg == name and default is not None:
            return default
    return None


def _config_like(dotted: str) -> bool:
    return any(_CONFIG_WORD.match(part) for part in dotted.split(".") if part)


# -- in process only: every peer is a thread of this process -----------------------------------

#: How deep `in_process_only` follows a socket (call sites, delegating wrappers, factories).
_IN_PROCESS_DEPTH = 4


def in_process_only(index: ProjectIndex, module: Optional[ModuleInfo], line: int, socket: Optional[str], method: Optional[str] = None) -> bool:
    """Whether the socket written ``socket`` at ``line`` is only ever attached on ``inproc://``
    endpoints: its peers can only be threads of this process, so what it receives was written
    by this process and what it sends is read by it.

    The socket is followed where its endpoints are written: its own ``bind`` / ``connect``
    calls (in the function, or in the class hierarchy for ``self.x``); an endpoint that is a
    parameter, at every call of the function in its module and class (``self._request(
    "inproc://loopback", ...)``); a ``self.x`` holding an object of a project class whose
    ``method`` (``recv_pyobj``, ...) hands over to one of its own sockets (an actor wrapper
    around a pipe); a ``self.x`` unpacked from a project function that returns sockets it
    attached itself (``self.pipe, self.peer = make_pipe(ctx)``); a socket parameter (or
    ``self.x = parameter``), at every place its package calls the function or builds the
    class, directly, as a thread's target, or handed to an actor that calls it with its pipe
    (`_argument_in_process`). Anything zmqlint cannot follow,
    and a socket with no attachment found, is not in process only."""
    if module is None or not socket:
        return False
    function, cls, socket = _locate(index, module, line, socket)
    return _in_process(index, module, function, cls, socket, method, 0)


def _locate(index: ProjectIndex, module: ModuleInfo, line: int, socket: str):
    scopes = module.scope_at(line)
    function = next((s for s in reversed(scopes) if isinstance(s, FunctionInfo)), None)
    cls = next((s for s in reversed(scopes) if isinstance(s, ClassInfo)), None)
    if function is not None and not socket.startswith("self.") and "." not in socket:
        alias = index.local_value(function, socket, before_line=line)
        alias_name = dotted_name(alias) if alias is not None else None
        if alias_name and function.parameters and alias_name.startswith(function.parameters[0] + ".") and cls is not None:
            socket = "self." + alias_name.partition(".")[2]
    return function, cls, socket


def _in_process(index, module, function, cls, socket, method, depth) -> bool:
    if depth > _IN_PROCESS_DEPTH:
        return False
    if socket.startswith("self.") and cls is not None:
        attr = socket[len("self."):]
        if "." in attr:
            return False
        attachments = [(role, expr, klass) for klass in index.mro(cls) for role, expr in _attachments(klass.node, socket)]
        if attachments:
            return all(_inproc_endpoint(index, klass, _method_at(klass, expr.lineno), expr, depth) for _, expr, klass in attachments)
        return _attribute_in_process(index, cls, attr, method, depth)
    if function is None or "." in socket:
        return False
    attachments = _attachments(function.node, socket)
    if not attachments:
        if socket in function.parameters and socket != (function.parameters[0] if function.owner is not None else None):
            return _argument_in_process(index, function, socket, depth + 1)
        return False
    return all(_inproc_endpoint(index, cls, function, expr, depth, module) for _, expr in attachments)


def _inproc_endpoint(index, cls, function, expr, depth, module=None) -> bool:
    """Whether the endpoint expression is an ``inproc://`` address."""
    module = cls.module if cls is not None else module
    if module is None:
        return False
    if isinstance(expr, ast.Name) and function is not None and expr.id not in function.parameters:
        # Every value the local is given (a retry loop picks a new name the same way).
        values = index.local_values(function, expr.id)
        if values:
            return all(_inproc_endpoint(index, cls, function, v, depth + 1, module) for v in values)
    folder = _Folder(index, module, function, cls)
    parts = _parts(folder, expr, depth)
    while len(parts) == 1 and isinstance(parts[0], ast.BinOp) and isinstance(parts[0].op, ast.Mod):
        parts = _parts(folder, parts[0].left, depth)  # "inproc://actor-%04x" % (...)
    head = parts[0] if parts else None
    if isinstance(head, str):
        return head.lower().startswith("inproc://")
    if isinstance(head, ast.Name) and len(parts) == 1 and function is not None and head.id in function.parameters:
        if function.owner is None or head.id != function.parameters[0]:
            return _parameter_in_process(index, function, head.id, depth + 1)
    return False


def _parameter_in_process(index: ProjectIndex, function: FunctionInfo, parameter: str, depth: int) -> bool:
    """Every call of ``function`` in its module passes an ``inproc://`` endpoint as ``parameter``."""
    if depth > _IN_PROCESS_DEPTH:
        return False
    positional = [a.arg for a in (*function.node.args.posonlyargs, *function.node.args.args)]
    is_method = function.owner is not None and not any(d in ("staticmethod",) for d in function.decorators)
    if is_method:
        positional = positional[1:]
    position = positional.index(parameter) if parameter in positional else None
    module = function.module
    calls = []
    for node in module.nodes:
        if not isinstance(node, ast.Call):
            continue
        name = dotted_name(node.func) or ""
        if is_method:
            head, _, attr = name.rpartition(".")
            if attr != function.name or head not in ("self", "cls", function.owner.name):
                continue
        elif name != function.name:
            continue
        calls.append(node)
    if not calls:
        return False
    for call in calls:
        value = next((k.value for k in call.keywords if k.arg == parameter), None)
        if value is None and position is not None and position < len(call.args):
            value = call.args[position]
        if value is None or any(isinstance(a, ast.Starred) for a in call.args):
            return False
        scopes = module.scope_at(call.lineno)
        caller = next((s for s in reversed(scopes) if isinstance(s, FunctionInfo)), None)
        klass = next((s for s in reversed(scopes) if isinstance(s, ClassInfo)), None)
        if not _inproc_endpoint(index, klass, caller, value, depth, module):
            return False
    return True


def _attribute_in_process(index: ProjectIndex, cls: ClassInfo, attr: str, method: Optional[str], depth: int) -> bool:
    """``self.<attr>`` with no bind / connect of its own: an object of a project class that
    hands ``method`` over to an in-process socket, or sockets a project factory attached."""
    assignments = list(_attribute_assignments(index, cls, attr))
    if not assignments:
        return False
    for owner, method_info, value, position in assignments:
        if isinstance(value, ast.Constant) and value.value is None:
            continue
        if isinstance(value, ast.Name) and position is None and value.id in method_info.parameters[1:]:
            # `self._pipe = pipe`: what every constructor of the class is handed.
            if not _argument_in_process(index, method_info, value.id, depth + 1):
                return False
            continue
        if not isinstance(value, ast.Call):
            return False
        klass = index.class_of_value(owner.module, value) if position is None else None
        if klass is not None:
            if method is None or not _delegates_in_process(index, klass, method, depth + 1):
                return False
            continue
        callee = index.resolve(owner.module, dotted_name(value.func) or "")
        if not isinstance(callee, FunctionInfo) or not _returns_in_process(index, callee, position, depth + 1):
            return False
    return True


def _attribute_assignments(index: ProjectIndex, cls: ClassInfo, attr: str):
    """``(class, method, value, position)`` for every ``self.<attr> = value`` in the hierarchy;
    ``position`` is the index of the attribute in an unpacked tuple target, else None."""
    for klass in index.mro(cls):
        for method in klass.methods.values():
            self_name = method.parameters[0] if method.parameters else None
            for node in walk(method.node):
                if not isinstance(node, ast.Assign):
                    continue
                for target in node.targets:
                    if _is_self_attr(target, self_name, attr):
                        yield klass, method, node.value, None
                    elif isinstance(target, ast.Tuple):
                        for position, element in enumerate(target.elts):
                            if _is_self_attr(element, self_name, attr):
                                yield klass, method, node.value, position


def _is_self_attr(node: ast.expr, self_name: Optional[str], attr: str) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == attr and isinstance(node.value, ast.Name) and node.value.id == self_name


def _delegates_in_process(index: ProjectIndex, klass: ClassInfo, method: str, depth: int) -> bool:
    """``klass.<method>`` only returns ``self.<socket>.<method>(...)`` of an in-process socket."""
    found = index.find_method(klass, method)
    if found is None or depth > _IN_PROCESS_DEPTH:
        return False
    calls = [
        n for n in walk(found.node)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == method
    ]
    if not calls:
        return False
    for call in calls:
        inner = dotted_name(call.func.value) or ""
        if not inner.startswith("self.") or not _in_process(index, found.module, found, found.owner, inner, method, depth):
            return False
    return True


def _returns_in_process(index: ProjectIndex, function: FunctionInfo, position: Optional[int], depth: int) -> bool:
    """Every socket ``function`` returns (the ``position``-th of a returned tuple) is a local it
    attached on ``inproc://`` only."""
    returns = [n for n in own_nodes(function.node) if isinstance(n, ast.Return) and n.value is not None]
    if not returns:
        return False
    for node in returns:
        value = node.value
        if position is not None:
            if not isinstance(value, ast.Tuple) or position >= len(value.elts):
                return False
            value = value.elts[position]
        if not isinstance(value, ast.Name) or not _in_process(index, function.module, function, function.owner, value.id, None, depth):
            return False
    return True


# -- sockets handed over as arguments -----------------------------------------------------------

#: How many files of a package `_references` reads looking for the constructions of a class.
_PACKAGE_FILES = 2000
_THREAD_CLASSES = frozenset({"threading.Thread", "threading.Timer"})


def _argument_in_process(index: ProjectIndex, function: FunctionInfo, parameter: str, depth: int) -> bool:
    """Every place the project calls ``function`` (or builds the class whose ``__init__`` it is)
    hands it an in-process socket as ``parameter``: direct calls, ``Thread(target=function,
    args=(...))``, and a callable handed to a project wrapper that calls it (a CZMQ-style
    actor: ``Actor(ctx, Node, ...)`` storing ``Node`` and calling it with the pipe it made).
    A callable referenced any other way (stored, returned, handed to code zmqlint cannot
    read) is handed anything; so is one nobody in its package calls."""
    if depth > _IN_PROCESS_DEPTH:
        return False
    is_init = function.owner is not None and function.name == "__init__"
    if function.owner is not None and not is_init:
        return False  # a method: its callers are anywhere the object goes
    target = function.owner if is_init else function
    positional = [a.arg for a in (*function.node.args.posonlyargs, *function.node.args.args)]
    if is_init:
        positional = positional[1:]
    position = positional.index(parameter) if parameter in positional else None
    uses = _references(index, function.module, target)
    if not uses:
        return False
    for module, caller, klass, use in uses:
        if use is None:
            return False
        kind, call, slot = use
        if kind == "call":
            value = _argument(index, klass, call.args, call.keywords, position, parameter)
        else:
            handed = _handed_calls(index, module, call, slot, depth + 1)
            if handed is None:
                return False
            for inner_caller, inner_class, args, keywords in handed:
                value = _argument(index, inner_class, args, keywords, position, parameter)
                if value is None or not _socket_value_in_process(index, inner_caller, inner_class, value, depth + 1):
                    return False
            continue
        if value is None or not _socket_value_in_process(index, caller, klass, value, depth + 1):
            return False
    return True


def _references(index: ProjectIndex, home: ModuleInfo, target: Union[FunctionInfo, ClassInfo]):
    """``(module, function, class, use)`` for every reference to ``target`` in its package:
    ``use`` is ``("call", call, None)`` when it is called, ``("handed", call, argument)`` when
    it is an argument of a call, None for any other use."""
    found = []
    for path in _package_files(index, home, target.name):
        module = index.module_for_path(path)
        if module is None:
            return []
        uses = {}
        for node in module.nodes:
            if not isinstance(node, ast.Call):
                continue
            uses[id(node.func)] = ("call", node, None)
            for slot, arg in [*enumerate(node.args), *((k.arg, k.value) for k in node.keywords)]:
                uses[id(arg)] = ("handed", node, slot)
        for node in module.nodes:
            if not isinstance(node, (ast.Name, ast.Attribute)) or not isinstance(node.ctx, ast.Load):
                continue
            name = dotted_name(node) or ""
            if name.rpartition(".")[2] != target.name or index.resolve(module, name) is not target:
                continue  # another name, or not provably this one (`self.Node`)
            scopes = module.scope_at(node.lineno)
            caller = next((s for s in reversed(scopes) if isinstance(s, FunctionInfo)), None)
            klass = next((s for s in reversed(scopes) if isinstance(s, ClassInfo)), None)
            found.append((module, caller, klass, uses.get(id(node))))
    return found


def _package_files(index: ProjectIndex, module: ModuleInfo, name: str) -> List:
    """The files of ``module``'s top-level package (its folder outside a package) that mention
    ``name``; empty when there are too many to read."""
    root = module.path.parent
    while (root / "__init__.py").exists() and (root.parent / "__init__.py").exists():
        root = root.parent

    def compute():
        needle = name.encode()
        files = []
        paths = []
        for path in root.rglob("*.py"):
            paths.append(path)
            if len(paths) > _PACKAGE_FILES:
                return []
        for path in sorted(paths):
            try:
                if needle in path.read_bytes():
                    files.append(path)
            except OSError:
                continue
        return files

    return index.memo(("exposure.package_files", root, name), compute)


def _argument(index, klass, args, keywords, position, parameter) -> Optional[ast.expr]:
    """The argument given for ``parameter`` (at ``position``), expanding ``*self.args`` when the
    class assigns it a tuple (``(self.ctx, self.pipe) + args``)."""
    for keyword in keywords:
        if keyword.arg == parameter:
            return keyword.value
    if position is None:
        return None
    expanded: List[ast.expr] = []
    for arg in args:
        if isinstance(arg, ast.Starred):
            prefix = _tuple_prefix(index, klass, arg.value)
            expanded += prefix
            if len(expanded) <= position:
                return None  # the rest of the tuple is not known
            break
        expanded.append(arg)
    return expanded[position] if position < len(expanded) else None


def _tuple_prefix(index, klass, expr: ast.expr) -> List[ast.expr]:
    if isinstance(expr, ast.Tuple):
        return list(expr.elts)
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
        return _tuple_prefix(index, klass, expr.left)
    name = dotted_name(expr) or ""
    if klass is not None and name.startswith("self.") and name.count(".") == 1:
        values = index.attribute_values(klass, name[len("self."):])
        if len(values) == 1:
            return _tuple_prefix(index, klass, values[0])
    return []


def _handed_calls(index: ProjectIndex, module: ModuleInfo, call: ast.Call, slot, depth: int):
    """How the callable handed as argument ``slot`` of ``call`` gets called:
    ``[(function, class, args, keywords)]``, or None when zmqlint cannot tell."""
    callee_name = dotted_name(call.func) or ""
    if module.qualified_name(callee_name) in _THREAD_CLASSES:
        if slot != "target":
            return None
        return [_thread_args(module, call)]
    callee = index.resolve_callable(module, callee_name, line=call.lineno)
    if isinstance(callee, ClassInfo):
        callee = index.find_method(callee, "__init__")
        skip = 1
    else:
        skip = 0
    if not isinstance(callee, FunctionInfo) or depth > _IN_PROCESS_DEPTH:
        return None
    if callee.owner is not None and callee.name != "__init__":
        skip = 1
    positional = [a.arg for a in (*callee.node.args.posonlyargs, *callee.node.args.args)][skip:]
    if isinstance(slot, int):
        if slot >= len(positional) or any(isinstance(a, ast.Starred) for a in call.args[: slot + 1]):
            return None
        parameter = positional[slot]
    else:
        parameter = slot
        if parameter not in positional and parameter not in [a.arg for a in callee.node.args.kwonlyargs]:
            return None
    return _calls_of_parameter(index, callee, parameter)


def _thread_args(module: ModuleInfo, call: ast.Call):
    scopes = module.scope_at(call.lineno)
    caller = next((s for s in reversed(scopes) if isinstance(s, FunctionInfo)), None)
    klass = next((s for s in reversed(scopes) if isinstance(s, ClassInfo)), None)
    args_value = next((k.value for k in call.keywords if k.arg == "args"), None)
    kwargs_value = next((k.value for k in call.keywords if k.arg == "kwargs"), None)
    args = [ast.Starred(args_value, ast.Load())] if args_value is not None else []
    keywords = []
    if isinstance(kwargs_value, ast.Dict):
        keywords = [ast.keyword(k.value, v) for k, v in zip(kwargs_value.keys, kwargs_value.values) if isinstance(k, ast.Constant)]
    return caller, klass, args, keywords


def _calls_of_parameter(index: ProjectIndex, function: FunctionInfo, parameter: str):
    """Every call of the callable ``function`` was handed as ``parameter``: in the function, and
    through the ``self`` attributes it stores it in; None when it goes anywhere else."""
    cls = function.owner
    self_name = function.parameters[0] if cls is not None and function.parameters else None
    stored = set()
    calls = []
    nodes = list(walk(function.node))
    parents = {id(child): node for node in nodes for child in ast.iter_child_nodes(node)}
    for node in nodes:
        if isinstance(node, ast.Name) and node.id == parameter and isinstance(node.ctx, ast.Load):
            use = _use_of(function.module, node, parents, self_name)
            if use is None:
                return None
            if isinstance(use, str):
                stored.add(use)
            else:
                calls.append((function, cls, *use))
    if stored:
        if cls is None:
            return None
        for method in cls.methods.values():
            method_self = method.parameters[0] if method.parameters else None
            method_nodes = list(walk(method.node))
            method_parents = {id(child): node for node in method_nodes for child in ast.iter_child_nodes(node)}
            for node in method_nodes:
                if not (isinstance(node, ast.Attribute) and node.attr in stored and isinstance(node.ctx, ast.Load)):
                    continue
                if not (isinstance(node.value, ast.Name) and node.value.id == method_self):
                    continue
                use = _use_of(method.module, node, method_parents, method_self)
                if use is None or isinstance(use, str):
                    return None
                calls.append((method, cls, *use))
    return calls or None


def _use_of(module: ModuleInfo, node: ast.expr, parents, self_name):
    """What a reference to a handed callable does: ``(args, keywords)`` of a call of it (or of
    a thread it is the target of), the attribute name it is stored in as ``self.<attr>``, or None."""
    parent = parents.get(id(node))
    if isinstance(parent, ast.Call) and parent.func is node:
        return parent.args, parent.keywords
    if isinstance(parent, ast.keyword) and parent.arg == "target":
        call = parents.get(id(parent))
        if isinstance(call, ast.Call) and module.qualified_name(dotted_name(call.func) or "") in _THREAD_CLASSES:
            _, _, args, keywords = _thread_args(module, call)
            return args, keywords
    if isinstance(parent, ast.Assign) and parent.value is node and len(parent.targets) == 1:
        target = parent.targets[0]
        if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == self_name:
            return target.attr
    return None


def _socket_value_in_process(index: ProjectIndex, function: Optional[FunctionInfo], cls: Optional[ClassInfo], value: ast.expr, depth: int) -> bool:
    """Whether the socket expression ``value`` (a local, a parameter, ``self.pipe``) in
    ``function`` is in process only."""
    name = dotted_name(value)
    if not name or function is None:
        return False
    self_name = function.parameters[0] if function.owner is not None and function.parameters else None
    if self_name and name.startswith(self_name + "."):
        name = "self." + name.partition(".")[2]
    elif "." in name:
        return False
    return _in_process(index, function.module, function, cls, name, None, depth)
