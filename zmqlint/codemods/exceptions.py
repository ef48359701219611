"""Rewrites of exception handlers that swallow errors (EXC601).

The safe rewrite of a silent handler keeps what it catches (a bare ``except:`` becomes ``except
Exception``), names the exception, and logs it with its traceback through the module's own
logger before the handler's original statements run. A bare ``except:`` whose body does
something else (returns a default, logs, re-raises) safely becomes ``except Exception:`` with
its body untouched. The unsafe rewrites also narrow what is caught to the exceptions the
``try`` body is known to raise.
"""

from __future__ import annotations

from typing import Iterable, List, Optional, Sequence, Set, Tuple

import libcst as cst
from libcst.helpers import get_full_name_for_node

from zmqlint.codemods import matchers as m
from zmqlint.model import ImportSpec

#: Names a module-level logger usually goes by, in order of preference.
LOGGER_NAMES = ("logger", "log", "LOGGER", "_log", "_logger", "LOG")

#: Calls whose failures are known: qualified callee -> exception names (module-qualified).
KNOWN_RAISES = {
    "subprocess.check_output": ("subprocess.CalledProcessError", "OSError"),
    "subprocess.check_call": ("subprocess.CalledProcessError", "OSError"),
    "subprocess.call": ("OSError",),
    "subprocess.Popen": ("OSError",),
    "int": ("ValueError", "TypeError"),
    "float": ("ValueError", "TypeError"),
    "json.loads": ("json.JSONDecodeError",),
    "json.load": ("json.JSONDecodeError", "OSError"),
    "open": ("OSError",),
    "os.remove": ("OSError",),
    "os.unlink": ("OSError",),
    "os.rename": ("OSError",),
    "os.replace": ("OSError",),
    "os.makedirs": ("OSError",),
    "os.mkdir": ("OSError",),
    "os.rmdir": ("OSError",),
    "os.listdir": ("OSError",),
    "os.stat": ("OSError",),
    "os.kill": ("OSError",),
    "shutil.rmtree": ("OSError",),
    "shutil.copy": ("OSError",),
    "shutil.copyfile": ("OSError",),
    "shutil.move": ("OSError",),
    "importlib.import_module": ("ImportError",),
}

#: Calls that raise nothing worth catching here (their arguments are still examined).
KNOWN_QUIET = {
    "len", "print", "str", "repr", "bool", "isinstance", "list", "dict", "set", "tuple", "sorted",
    "min", "max", "sum", "any", "all", "range", "enumerate", "zip", "getattr", "hasattr",
}


#: Methods of str / bytes / list / dict that raise nothing worth catching here.
_QUIET_METHODS = {
    "strip", "lstrip", "rstrip", "split", "splitlines", "lower", "upper", "startswith", "endswith",
    "append", "extend", "get", "items", "keys", "values", "count", "join", "replace", "format", "copy",
    "setdefault", "update", "find",
}


def _call_raises(call: cst.Call, aliases: dict) -> Optional[Tuple[str, ...]]:
    name = get_full_name_for_node(call.func)
    if name is None:
        return None
    head, _, rest = name.partition(".")
    qualified = f"{aliases[head]}.{rest}" if head in aliases and rest else aliases.get(head, name)
    keywords = {arg.keyword.value: arg.value for arg in call.args if arg.keyword is not None}
    # A subprocess call given a timeout can also raise TimeoutExpired.
    timeout = ("subprocess.TimeoutExpired",) if qualified.startswith("subprocess.") and "timeout" in keywords else ()
    if qualified == "subprocess.run":
        checks = "check" in keywords and m.matches(keywords["check"], m.Name("True"))
        return (("subprocess.CalledProcessError", "OSError") if checks else ("OSError",)) + timeout
    if qualified in KNOWN_RAISES:
        return KNOWN_RAISES[qualified] + timeout
    if qualified in KNOWN_QUIET:
        return ()
    attr = name.rpartition(".")[2]
    if "." in name and attr in _QUIET_METHODS:
        return ()
    if "." in name and attr == "decode":
        return ("UnicodeDecodeError",)
    if "." in name and attr in ("read", "read_text", "read_bytes", "write", "write_text", "open"):
        return ("OSError",)
    return None


class _Raises(cst.CSTVisitor):
    def __init__(self, aliases: dict) -> None:
        self.aliases = aliases
        self.raised: List[str] = []
        self.unknown = False

    def _add(self, names: Iterable[str]) -> None:
        for name in names:
            if name not in self.raised:
                self.raised.append(name)

    def visit_Call(self, node: cst.Call) -> None:
        raised = _call_raises(node, self.aliases)
        if raised is None:
            self.unknown = True
        else:
            self._add(raised)

    def visit_Subscript(self, node: cst.Subscript) -> None:
        if len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Index):
            index = node.slice[0].slice.value
            self._add(["KeyError"] if isinstance(index, cst.SimpleString) else ["LookupError"])

    def visit_Raise(self, node: cst.Raise) -> None:
        self.unknown = True

    def visit_Await(self, node: cst.Await) -> None:
        self.unknown = True

    def visit_Import(self, node: cst.Import) -> None:
        self._add(["ImportError"])

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        self._add(["ImportError"])

    # Nested definitions do not run in the try body.
    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False


def raised_exceptions(body: cst.BaseSuite, aliases: dict) -> Optional[List[str]]:
    """The exceptions ``body`` is known to raise, or None when anything in it is unknown."""
    visitor = _Raises(aliases)
    body.visit(visitor)
    if visitor.unknown or not visitor.raised:
        return None
    return visitor.raised


def _is_noop(stmt: cst.BaseStatement) -> bool:
    return m.matches(stmt, m.SimpleStatementLine(body=[m.Pass()])) or m.matches(
        stmt, m.SimpleStatementLine(body=[m.Expr(m.Ellipsis())])
    )


def _type_expr(names: Sequence[str]) -> cst.BaseExpression:
    if len(names) == 1:
        return cst.parse_expression(names[0])
    return cst.parse_expression("(" + ", ".join(names) + ")")


def logged_handler(
    handler: cst.ExceptHandler,
    *,
    logger: Optional[str],
    where: str,
    exc_name: str,
    types: Optional[Sequence[str]] = None,
) -> Tuple[cst.ExceptHandler, List[ImportSpec]]:
    """``handler`` catching ``types`` (default: what it caught, ``Exception`` for a bare one),
    binding the exception to a name and logging it with its traceback first."""
    imports: List[ImportSpec] = []
    if types is not None:
        new_type: Optional[cst.BaseExpression] = _type_expr(types)
        for name in types:
            if "." in name:
                imports.append(ImportSpec(name.partition(".")[0]))
    else:
        new_type = handler.type if handler.type is not None else cst.Name("Exception")
    if handler.name is not None:
        bound = handler.name
        name_value = get_full_name_for_node(handler.name.name) or exc_name
    else:
        bound = cst.AsName(name=cst.Name(exc_name))
        name_value = exc_name
    if logger is None:
        logger_expr = "logging.getLogger(__name__)"
        imports.append(ImportSpec("logging"))
    else:
        logger_expr = logger
    log_call = cst.parse_statement(
        f'{logger_expr}.warning("Ignored %s in {where}: %s", type({name_value}).__name__, {name_value}, exc_info=True)\n'
    )
    if isinstance(handler.body, cst.SimpleStatementSuite):
        # `except: pass` on one line becomes an indented block.
        statements = [cst.SimpleStatementLine(body=[small]) for small in handler.body.body]
        kept = [stmt for stmt in statements if not _is_noop(stmt)]
        body: cst.BaseSuite = cst.IndentedBlock(body=[log_call, *kept])
    else:
        kept = [stmt for stmt in handler.body.body if not _is_noop(stmt)]
        body = handler.body.with_changes(body=[log_call, *kept])
    whitespace = handler.whitespace_after_except
    if handler.type is None:
        whitespace = cst.SimpleWhitespace(" ")
    new = handler.with_changes(type=new_type, name=bound, body=body, whitespace_after_except=whitespace)
    return new, imports


def retyped_handler(handler: cst.ExceptHandler, types: Optional[Sequence[str]] = None) -> Tuple[cst.ExceptHandler, List[ImportSpec]]:
    """``handler`` with its body untouched, catching ``types`` (default ``Exception``): the
    rewrite of a bare ``except:`` whose body already does something (returns, logs, retries)."""
    names = list(types) if types is not None else ["Exception"]
    imports = [ImportSpec(name.partition(".")[0]) for name in names if "." in name]
    whitespace = handler.whitespace_after_except
    if handler.type is None:
        whitespace = cst.SimpleWhitespace(" ")
    return handler.with_changes(type=_type_expr(names), whitespace_after_except=whitespace), imports


def fresh_name(preferred: str, taken: Set[str]) -> str:
    name = preferred
    while name in taken:
        name += "_"
    return name
