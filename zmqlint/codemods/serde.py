"""Rewrites of pickle over sockets onto ``zmqlint_runtime.serde`` (SER201, SER202).

    pickle.loads(data)          ->  serde.loads(data)
    pickle.load(io.BytesIO(d))  ->  serde.loads(d)
    pickle.dumps(obj, 2)        ->  serde.dumps(obj)
    sock.recv_pyobj(flags)      ->  serde.loads(sock.recv(flags))
    await sock.recv_pyobj()     ->  serde.loads(await sock.recv())
    sock.send_pyobj(obj, flags) ->  sock.send(serde.dumps(obj), flags)

The pickle-family imports of the module are scheduled for removal (LibCST's
``RemoveImportsVisitor`` only drops those no longer used). Both ends of a channel must change
together: every fix carries what it knows about its socket's channel, and `channel_notes`
turns the fixes of a whole run into warnings for channels whose other end the run did not
convert.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import libcst as cst
from libcst.helpers import get_full_name_for_node

from zmqlint.facts.dataflow import import_statements
from zmqlint.model import ImportSpec

#: Modules whose loads / dumps are pickle (or as unsafe), by qualified name.
PICKLE_MODULES = ("pickle", "cPickle", "_pickle", "dill", "cloudpickle", "marshal", "six.moves.cPickle")
LOAD_FUNCTIONS = frozenset(f"{m}.{f}" for m in PICKLE_MODULES for f in ("loads", "load"))
UNPICKLERS = frozenset(f"{m}.Unpickler" for m in PICKLE_MODULES)
DUMP_FUNCTIONS = frozenset(f"{m}.dumps" for m in PICKLE_MODULES)

RUNTIME_MODULE = "zmqlint_runtime.serde"


def serde_reference(module: cst.Module, source: str) -> Tuple[str, List[ImportSpec]]:
    """How the fixed code names the runtime module, and the import that provides it: plain
    ``serde`` unless the module already uses that word for something else."""
    if re.search(r"\bserde\b", source) is None or _imports_serde(module):
        return "serde", [ImportSpec("zmqlint_runtime", "serde")]
    return RUNTIME_MODULE, [ImportSpec(RUNTIME_MODULE)]


def _imports_serde(module: cst.Module) -> bool:
    for stmt in module.body:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if (
                    isinstance(small, cst.ImportFrom)
                    and small.module is not None
                    and cst.Module(body=[]).code_for_node(small.module) == "zmqlint_runtime"
                    and not isinstance(small.names, cst.ImportStar)
                    and any(alias.name.value == "serde" and alias.asname is None for alias in small.names)
                ):
                    return True
    return False


def pickle_imports(module: cst.Module) -> List[ImportSpec]:
    """Every import of a pickle-family module in ``module``, as specs to remove when unused."""
    specs: List[ImportSpec] = []
    for node in import_statements(module):
        if isinstance(node, cst.Import):
            for alias in node.names:
                name = get_full_name_for_node(alias.name)
                if name in PICKLE_MODULES:
                    specs.append(ImportSpec(name, None, get_full_name_for_node(alias.asname.name) if alias.asname else None))
        elif not node.relative and node.module is not None and not isinstance(node.names, cst.ImportStar):
            name = get_full_name_for_node(node.module)
            for alias in node.names:
                obj = get_full_name_for_node(alias.name)
                if name in PICKLE_MODULES or f"{name}.{obj}" in PICKLE_MODULES:
                    specs.append(ImportSpec(name, obj, get_full_name_for_node(alias.asname.name) if alias.asname else None))
    return specs


def _call(func: str, args: Sequence[cst.Arg]) -> cst.Call:
    return cst.Call(func=cst.parse_expression(func), args=list(args))


def _only_arg(value: cst.BaseExpression) -> cst.Arg:
    return cst.Arg(value=value)


def _positional(call: cst.Call, index: int, keyword: str) -> Optional[cst.Arg]:
    positional = [a for a in call.args if a.keyword is None and not a.star]
    if len(positional) > index:
        return positional[index]
    return next((a for a in call.args if a.keyword is not None and a.keyword.value == keyword), None)


def _without_comma(arg: cst.Arg) -> cst.Arg:
    return arg.with_changes(comma=cst.MaybeSentinel.DEFAULT)


def plain_args(call: cst.Call) -> bool:
    """No ``*args`` / ``**kwargs`` whose meaning a rewrite could not keep."""
    return not any(a.star for a in call.args)


def loads_replacement(call: cst.Call, qualified: str, reference: str) -> Optional[cst.Call]:
    """``serde.loads(data)`` for ``pickle.loads(data, ...)`` / ``pickle.load(file)``."""
    data = _positional(call, 0, "data" if qualified.endswith("loads") else "file")
    if data is None or not plain_args(call):
        return None
    value = data.value
    if qualified.endswith(".load"):
        if (
            isinstance(value, cst.Call)
            and cst.Module(body=[]).code_for_node(value.func) in ("io.BytesIO", "BytesIO")
            and len(value.args) == 1
            and not value.args[0].keyword
            and not value.args[0].star
        ):
            value = value.args[0].value
        else:
            value = cst.Call(func=cst.Attribute(value=value, attr=cst.Name("read")))
    return _call(f"{reference}.loads", [_only_arg(value)])


def dumps_replacement(call: cst.Call, reference: str) -> Optional[cst.Call]:
    """``serde.dumps(obj)`` for ``pickle.dumps(obj, protocol, ...)``."""
    obj = _positional(call, 0, "obj")
    if obj is None or not plain_args(call):
        return None
    return _call(f"{reference}.dumps", [_only_arg(obj.value)])


def recv_pyobj_replacement(call: cst.Call, awaited: bool, reference: str) -> Optional[cst.Call]:
    """``serde.loads(sock.recv(flags))`` (``await`` moved inside when the call was awaited)."""
    if not isinstance(call.func, cst.Attribute) or not plain_args(call):
        return None
    kept = [_without_comma(a) for a in call.args if a.keyword is None or a.keyword.value == "flags"]
    if len(kept) != len(call.args) or len(kept) > 1:
        return None
    recv: cst.BaseExpression = call.with_changes(func=call.func.with_changes(attr=cst.Name("recv")), args=kept)
    if awaited:
        recv = cst.Await(expression=recv)
    return _call(f"{reference}.loads", [_only_arg(recv)])


def send_pyobj_replacement(call: cst.Call, reference: str) -> Optional[cst.Call]:
    """``sock.send(serde.dumps(obj), flags, **others)`` for ``sock.send_pyobj(obj, flags, protocol=...)``."""
    if not isinstance(call.func, cst.Attribute) or not plain_args(call):
        return None
    obj = _positional(call, 0, "obj")
    if obj is None:
        return None
    positional = [a for a in call.args if a.keyword is None]
    keywords = [a for a in call.args if a.keyword is not None and a.keyword.value not in ("obj", "protocol")]
    if len(positional) > 2:
        return None
    args = [cst.Arg(value=_call(f"{reference}.dumps", [_only_arg(obj.value)]))]
    args += [_without_comma(a) for a in positional[1:]] + [_without_comma(a) for a in keywords]
    args = [a.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))) for a in args[:-1]] + args[-1:]
    # Keep the layout of a call spread over lines: the space before ")" stays.
    args[-1] = args[-1].with_changes(whitespace_after_arg=call.args[-1].whitespace_after_arg)
    return call.with_changes(func=call.func.with_changes(attr=cst.Name("send")), args=args)


# -- channels ------------------------------------------------------------------------------


def channel_meta(direction: str, channel: Any, socket: Optional[str]) -> Dict[str, Any]:
    """What a SER fix records about its socket, for `channel_notes` (plain, JSON-able data)."""
    return {
        "serde-channel": {
            "direction": direction,
            "key": channel.key,
            "role": channel.role,
            "endpoint": channel.endpoint,
            "socket": socket,
        }
    }


_OTHER = {"send": "recv", "recv": "send"}


def channel_notes(records: Sequence[Mapping[str, Any]]) -> List[str]:
    """Warnings for the SER fixes applied in one run.

    A converted site whose channel resolved needs a converted site on the same channel going
    the other way (and, where both roles are known, from the other role: a bound PUB's peer is
    a connected SUB). Sites whose channel did not resolve get one general warning.
    """
    sites = [(r, r["serde-channel"]) for r in records if "serde-channel" in r]
    if not sites:
        return []
    notes: List[str] = []
    resolved = [(r, c) for r, c in sites if c["key"]]
    unresolved = [(r, c) for r, c in sites if not c["key"]]
    lonely: Dict[Tuple[str, str], List[str]] = defaultdict(list)
    for record, channel in resolved:
        peer_found = any(
            other["key"] == channel["key"]
            and other["direction"] == _OTHER[channel["direction"]]
            and (other["role"] is None or channel["role"] is None or other["role"] != channel["role"])
            for _, other in resolved
        )
        if not peer_found:
            lonely[(channel["key"], channel["direction"])].append(f"{record['path']}:{record['line']}")
    for (key, direction), places in sorted(lonely.items()):
        side, other = ("sending", "receiving") if direction == "send" else ("receiving", "sending")
        notes.append(
            f"converted the {side} side of channel {_describe(key)} to zmqlint_runtime.serde "
            f"({', '.join(places)}) but saw no {other} side of it in the checked paths: "
            "the peer must switch to zmqlint_runtime.serde in the same release, or the messages will be refused"
        )
    if unresolved:
        places = ", ".join(f"{r['path']}:{r['line']}" for r, _ in unresolved[:6])
        more = f" and {len(unresolved) - 6} more" if len(unresolved) > 6 else ""
        notes.append(
            f"converted {len(unresolved)} pickle-over-socket site(s) to zmqlint_runtime.serde whose peers could not "
            f"be matched by endpoint ({places}{more}): every process on the other end of those sockets must switch "
            "to zmqlint_runtime.serde in the same release (run zmqlint --fix --unsafe-fixes over all of them at once)"
        )
    return notes


def _describe(key: str) -> str:
    if key.startswith("tcp:"):
        return f"port {key[4:]}"
    if key.startswith("symbol:"):
        return f"endpoint {key[7:]}"
    return key

