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
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

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
    notes: List[str] = type_notes(records)
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


def type_notes(records: Sequence[Mapping[str, Any]]) -> List[str]:
    """What the run registered with ``serde.register``, and what it could not see."""
    registered: Dict[str, set] = defaultdict(set)
    unseen: List[str] = []
    unsupported: Dict[str, str] = {}
    unnameable: Dict[Tuple[str, str], str] = {}
    failed: List[str] = []
    for record in records:
        found = record.get("serde-types")
        if not found:
            continue
        path = record["path"]
        registered[path].update(found.get("registered", ()))
        unseen += [f"{path}:{record['line']} (`{text}`)" for _, text in found.get("unseen", ())]
        for name, where in found.get("unsupported", ()):
            unsupported.setdefault(name, where)
        for name, where in found.get("unnameable", ()):
            unnameable.setdefault((path, name), where)
        if "failed" in found:
            failed.append(f"{path}:{record['line']} ({found['failed']})")
    notes: List[str] = []
    done = [f"{path} ({', '.join(sorted(names))})" for path, names in sorted(registered.items()) if names]
    if done:
        notes.append(
            "registered the types the converted channels carry with zmqlint_runtime.serde (serde.register, "
            f"next to the serde import): {'; '.join(done)}"
        )
    if unseen:
        notes.append(
            f"zmqlint cannot see the type of what {len(unseen)} converted site(s) send: {', '.join(sorted(set(unseen)))}: "
            "register the types sent on this channel (serde.register(...) next to the serde import of every "
            "receiving module); a receiver refuses types it has not registered (serde.SchemaError)"
        )
    if unsupported:
        listed = ", ".join(f"{name} ({where})" for name, where in sorted(unsupported.items()))
        notes.append(
            f"the converted channels carry classes zmqlint cannot register: {listed}: serde carries dataclasses, "
            "pydantic models, enums, NamedTuples and exceptions once the receiver registers them; make these one of "
            "those (and register them), or send plain data"
        )
    for (path, name), where in sorted(unnameable.items()):
        notes.append(
            f"{path} receives {name} (sent at {where}) but does not import it, nor anything from its module: "
            f"import it there and add it to serde.register(...), or the messages holding it are refused"
        )
    if failed:
        notes.append(f"could not work out the types carried at {', '.join(failed)}: register them by hand")
    return notes


def _describe(key: str) -> str:
    if key.startswith("tcp:"):
        return f"port {key[4:]}"
    if key.startswith("symbol:"):
        return f"endpoint {key[7:]}"
    return key



# -- the types a channel carries -----------------------------------------------------------

#: Calls that encode a message for a channel, before and after the fix.
ENCODERS = DUMP_FUNCTIONS | {f"{RUNTIME_MODULE}.dumps"}


class Registration:
    """What one SER fix registers with ``serde.register`` in its module, worked out on first
    use (only a fix that is applied needs it): the classes its site shows (`carried_types`),
    and for a receiving site also those the other modules of its folder send. A class is
    registered where the module can name it (defined or imported at its top level, or
    importable from a module it already imports from); the rest goes into the notes."""

    def __init__(self, index, module_info, module: cst.Module, line: int, column: int, direction: str, reference: str):
        self._args = (index, module_info, module, line, column, direction)
        self.reference = reference
        self._computed: Optional[Tuple[List[str], List[ImportSpec], Dict[str, Any]]] = None

    @property
    def names(self) -> List[str]:
        return self._compute()[0]

    @property
    def imports(self) -> List[ImportSpec]:
        return self._compute()[1]

    @property
    def notes(self) -> Dict[str, Any]:
        return self._compute()[2]

    def _compute(self):
        if self._computed is None:
            try:
                self._computed = _registration(*self._args)
            except Exception as exc:  # a fact the index could not answer must not cost the fix
                self._computed = ([], [], {"failed": f"{type(exc).__name__}: {exc}"})
        return self._computed

    def transformer(self) -> cst.CSTTransformer:
        return _RegisterTypes(self)


class LazyImports(Sequence):
    """The imports a `Registration` needs, as a fix's ``add_imports`` (read when applied)."""

    def __init__(self, base: Sequence[ImportSpec], registration: Registration) -> None:
        self._base = list(base)
        self._registration = registration

    def _items(self) -> List[ImportSpec]:
        return self._base + self._registration.imports

    def __getitem__(self, item):
        return self._items()[item]

    def __len__(self) -> int:
        return len(self._items())


class LazyMeta(Mapping):
    """A SER fix's meta: the channel (known at once) and what it registered (on first read)."""

    def __init__(self, channel: Mapping[str, Any], registration: Registration) -> None:
        self._channel = dict(channel)
        self._registration = registration

    def __getitem__(self, key: str) -> Any:
        if key == "serde-types":
            return {"registered": self._registration.names, **self._registration.notes}
        return self._channel[key]

    def __iter__(self):
        return iter([*self._channel, "serde-types"])

    def __len__(self) -> int:
        return len(self._channel) + 1


def _registration(index, module_info, module: cst.Module, line: int, column: int, direction: str):
    from zmqlint.facts import carried_types as facts

    notes: Dict[str, Any] = {"unseen": [], "unsupported": [], "unnameable": []}
    if module_info is None:
        return [], [], notes
    call = facts.call_at(module_info, line, column)
    if call is None:
        return [], [], notes
    where = f"{module_info.path.name}:{line}"
    if direction == "send":
        value = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "obj"), None)
        if value is None:
            return [], [], notes
        site = facts.sent_types(index, module_info, value)
        notes["unseen"] = [[where, text] for text in site.unseen]
        candidates = list(site.types)
        received_from_peers: List[Any] = []
    else:
        candidates = list(facts.received_types(index, module_info, call).types)
        received_from_peers = [t for peer in facts.peer_modules(index, module_info) for t in facts.types_sent_by(index, peer, ENCODERS)]
    bindings = _runtime_bindings(module)
    names: List[str] = []
    imports: List[ImportSpec] = []
    seen: set = set()
    queue = candidates + received_from_peers
    while queue:
        carried = queue.pop(0)
        if carried.qualified in seen or carried.builtin:
            continue
        seen.add(carried.qualified)
        queue.extend(facts.field_types(index, carried))
        if carried.kind is None or carried.cls is None:
            notes["unsupported"].append([carried.qualified, carried.where])
            continue
        named = _name_in(index, module_info, bindings, carried.cls)
        if named is None:
            notes["unnameable"].append([carried.qualified, carried.where])
            continue
        name, spec = named
        names.append(name)
        if spec is not None:
            imports.append(spec)
    return sorted(set(names)), imports, notes


def _name_in(index, module_info, bindings: Mapping[str, int], cls) -> Optional[Tuple[str, Optional[ImportSpec]]]:
    """How ``module_info`` names the project class ``cls`` at run time, and the import that
    makes the name exist when it comes from a module the module already imports from."""
    if cls.module.path == module_info.path:
        return (cls.name, None) if cls.name in bindings else None
    for local, ref in module_info.imports.items():
        if local not in bindings:
            continue  # imported only for type checkers
        if ref.name is not None and index.resolve(module_info, local) is cls:
            return local, None
    for local, ref in module_info.imports.items():
        if local not in bindings or ref.name is not None:
            continue
        for dotted in (f"{cls.module.name}.{cls.name}", f"{local}.{cls.name}"):
            if dotted.partition(".")[0] == local and index.resolve(module_info, dotted) is cls:
                return dotted, None
    if cls.name in bindings:
        return None  # the name means something else here
    for local, ref in module_info.imports.items():
        if local in bindings and ref.name is not None and ref.level == 0 and ref.module:
            if index.resolve_module(ref.module, from_module=module_info) is cls.module:
                return cls.name, ImportSpec(ref.module, cls.name)
    return None


def _is_type_checking(test: cst.BaseExpression) -> bool:
    return get_full_name_for_node(test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")


def _statement_binds(stmt: cst.CSTNode) -> Iterator[str]:
    """The names a top-level statement binds when the module runs (not under TYPE_CHECKING)."""
    if isinstance(stmt, (cst.ClassDef, cst.FunctionDef)):
        yield stmt.name.value
    elif isinstance(stmt, cst.If):
        if not _is_type_checking(stmt.test):
            for inner in stmt.body.body:
                yield from _statement_binds(inner)
        if stmt.orelse is not None:
            for inner in stmt.orelse.body.body if isinstance(stmt.orelse, cst.Else) else [stmt.orelse]:
                yield from _statement_binds(inner)
    elif isinstance(stmt, cst.Try):
        for block in [stmt.body, *(h.body for h in stmt.handlers)]:
            for inner in block.body:
                yield from _statement_binds(inner)
    elif isinstance(stmt, cst.SimpleStatementLine):
        for small in stmt.body:
            if isinstance(small, cst.Import):
                for alias in small.names:
                    yield get_full_name_for_node(alias.asname.name) if alias.asname else get_full_name_for_node(alias.name).partition(".")[0]
            elif isinstance(small, cst.ImportFrom) and not isinstance(small.names, cst.ImportStar):
                for alias in small.names:
                    yield get_full_name_for_node(alias.asname.name) if alias.asname else get_full_name_for_node(alias.name)
            elif isinstance(small, (cst.Assign, cst.AnnAssign)):
                targets = [t.target for t in small.targets] if isinstance(small, cst.Assign) else [small.target]
                for target in targets:
                    if isinstance(target, cst.Name):
                        yield target.value


def _runtime_bindings(module: cst.Module) -> Dict[str, int]:
    """Each name bound at the top level when the module runs -> the index of the last
    top-level statement binding it."""
    bindings: Dict[str, int] = {}
    for position, stmt in enumerate(module.body):
        for name in _statement_binds(stmt):
            if name:
                bindings[name] = position
    return bindings


def _register_calls(module: cst.Module, reference: str) -> Iterator[Tuple[int, cst.Call]]:
    for position, stmt in enumerate(module.body):
        if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 and isinstance(stmt.body[0], cst.Expr):
            call = stmt.body[0].value
            if isinstance(call, cst.Call) and get_full_name_for_node(call.func) == f"{reference}.register":
                yield position, call


def _leading_imports_end(module: cst.Module) -> int:
    """The index after the imports (docstring and ``__future__`` included) the module opens
    with: where LibCST's `AddImportsVisitor` puts the serde import."""
    end = 0
    for position, stmt in enumerate(module.body):
        if not isinstance(stmt, cst.SimpleStatementLine):
            break
        if all(isinstance(s, (cst.Import, cst.ImportFrom)) for s in stmt.body):
            end = position + 1
        elif position == 0 and isinstance(stmt.body[0], cst.Expr) and isinstance(stmt.body[0].value, cst.SimpleString):
            end = 1
        else:
            break
    return end


class _RegisterTypes(cst.CSTTransformer):
    """Adds ``serde.register(A, B)`` to the module, after the serde import and after every
    statement that binds a registered name; names an earlier fix registered are not repeated."""

    def __init__(self, registration: Registration) -> None:
        super().__init__()
        self.registration = registration

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        reference = self.registration.reference
        wanted = self.registration.names
        if not wanted:
            return updated_node
        done = {cst.Module(body=[]).code_for_node(arg.value) for _, call in _register_calls(updated_node, reference) for arg in call.args}
        missing = [name for name in wanted if name not in done]
        if not missing:
            return updated_node
        bindings = _runtime_bindings(updated_node)
        modules = {spec.module for spec in self.registration.imports}
        after = [_leading_imports_end(updated_node) - 1]
        after += [bindings[name.partition(".")[0]] for name in missing if name.partition(".")[0] in bindings]
        after += [position for position, _ in _register_calls(updated_node, reference)]
        for position, stmt in enumerate(updated_node.body):
            if isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    if isinstance(small, cst.ImportFrom) and small.module is not None:
                        name = get_full_name_for_node(small.module)
                        if name in modules or name == "zmqlint_runtime":
                            after.append(position)
                    elif isinstance(small, cst.Import) and any(
                        get_full_name_for_node(a.name) == RUNTIME_MODULE for a in small.names
                    ):
                        after.append(position)
        position = max(after) + 1
        existing = list(_register_calls(updated_node, reference))
        if existing and existing[-1][0] + 1 == position:
            # The registration an earlier fix added: extend it, in name order.
            where, call = existing[-1]
            names = sorted({cst.Module(body=[]).code_for_node(arg.value) for arg in call.args} | set(missing))
            line = updated_node.body[where]
            new_call = call.with_changes(args=[cst.Arg(cst.parse_expression(n)) for n in names])
            new_call = new_call.with_changes(
                args=[a.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))) for a in new_call.args[:-1]]
                + list(new_call.args[-1:])
            )
            body = list(updated_node.body)
            body[where] = line.with_changes(body=[line.body[0].with_changes(value=new_call)])
            return updated_node.with_changes(body=body)
        statement = cst.parse_statement(f"{reference}.register({', '.join(missing)})\n")
        previous = updated_node.body[position - 1] if position > 0 else None
        if previous is not None and not isinstance(previous, cst.SimpleStatementLine):
            statement = statement.with_changes(leading_lines=[cst.EmptyLine(), cst.EmptyLine()])
        body = list(updated_node.body)
        body.insert(position, statement)
        return updated_node.with_changes(body=body)
