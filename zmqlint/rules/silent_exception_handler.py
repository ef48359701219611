from __future__ import annotations

import ast
import re
from typing import TYPE_CHECKING, Dict, List, Optional

import libcst as cst
from libcst.helpers import get_full_name_for_node
from libcst.metadata import CodeRange, PositionProvider

from zmqlint.codemods import names_in
from zmqlint.codemods.exceptions import LOGGER_NAMES, fresh_name, logged_handler, raised_exceptions, retyped_handler
from zmqlint.gates import full_name
from zmqlint.model import Applicability, Fix, Severity
from zmqlint.rule import Invalid, Rule, Valid

if TYPE_CHECKING:  # pragma: no cover
    from zmqlint.gates import FileFacts

_BROAD = ("Exception", "BaseException", "builtins.Exception", "builtins.BaseException")


class SilentExceptionHandler(Rule):
    """Flags exception handlers that hide every error.

    ## What it does
    Reports a bare `except:` anywhere, and an `except Exception:` or `except BaseException:`
    (alone or in a tuple) whose body only passes, continues or is `...`.

    ## Why is this bad?
    A bare `except:` catches everything, `KeyboardInterrupt` and `SystemExit` included; a broad
    handler that does nothing hides the error entirely. In the field report a machine
    auto-detection step wrapped `nvidia-smi` in `except: pass`: a missing binary, a permission
    problem and a parsing bug all looked like "no GPU", and nobody could tell why.

    ## Example
    ```python
    try:
        out = subprocess.check_output(["nvidia-smi", "-L"])
    except:
        pass
    ```

    ## Use instead
    ```python
    try:
        out = subprocess.check_output(["nvidia-smi", "-L"])
    except (subprocess.CalledProcessError, OSError) as exc:
        logger.warning("Ignored %s in detect: %s", type(exc).__name__, exc, exc_info=True)
    ```

    ## Fix safety
    Every bare `except:` gets a safe fix: it becomes `except Exception`, so it no longer traps
    `KeyboardInterrupt`, `SystemExit` or `GeneratorExit`, whatever its body does. A handler
    whose body only passes, continues or is `...` also names the exception and logs it with its
    traceback through the module's logger (`logger`, `log`, `LOGGER`, `_log`, `_logger`, else
    `logging.getLogger(__name__)`) before its original statements; a body that does something
    else (`return False`, its own logging, a retry, a re-raise) is kept as it is.

    The unsafe fix also narrows what is caught to the exceptions the `try` body is known to
    raise (for example `subprocess.check_output` -> `CalledProcessError, OSError`; `int()` ->
    `ValueError, TypeError`; `json.loads` -> `json.JSONDecodeError`; `d["k"]` -> `KeyError`):
    other errors now propagate. Where nothing is known it applies the safe fix.
    """

    CODE = "EXC601"
    NAME = "silent-exception-handler"
    SEVERITY = Severity.MEDIUM
    MESSAGE = "Exception handler silently swallows errors"
    FIXES = (Applicability.SAFE, Applicability.UNSAFE)
    # A bare `except:`, or a handler whose type names Exception / BaseException.
    PREFILTER = (re.compile(r"except\s*:|except\b[^:]*Exception"),)

    VALID = [
        Valid(
            """
            import subprocess
            try:
                subprocess.run(["sync"], timeout=5, check=True)
            except (subprocess.CalledProcessError, OSError, subprocess.TimeoutExpired) as exc:
                print("sync failed", exc)
            """
        ),
        Valid(
            """
            try:
                value = int(text)
            except ValueError:
                value = 0
            """
        ),
        Valid(
            """
            import logging
            logger = logging.getLogger(__name__)
            try:
                run()
            except Exception:
                logger.exception("run failed")
            """
        ),
        Valid(
            """
            try:
                run()
            except Exception:
                raise
            """
        ),
        Valid(
            """
            try:
                import numpy
            except ImportError:
                pass
            """
        ),
    ]

    INVALID = [
        Invalid(
            """
            import subprocess
            import logging

            logger = logging.getLogger(__name__)


            def detect_gpus():
                try:
                    out = subprocess.check_output(["nvidia-smi", "-L"])
                    return out.decode().count("GPU")
                except:
                    pass
                return 0
            """,
            line=11,
            column=5,
            end_line=11,
            end_column=11,
            message_contains="Bare",
            expected_fix="""
            import subprocess
            import logging

            logger = logging.getLogger(__name__)


            def detect_gpus():
                try:
                    out = subprocess.check_output(["nvidia-smi", "-L"])
                    return out.decode().count("GPU")
                except Exception as exc:
                    logger.warning("Ignored %s in detect_gpus: %s", type(exc).__name__, exc, exc_info=True)
                return 0
            """,
            expected_unsafe_fix="""
            import subprocess
            import logging

            logger = logging.getLogger(__name__)


            def detect_gpus():
                try:
                    out = subprocess.check_output(["nvidia-smi", "-L"])
                    return out.decode().count("GPU")
                except (subprocess.CalledProcessError, OSError, UnicodeDecodeError) as exc:
                    logger.warning("Ignored %s in detect_gpus: %s", type(exc).__name__, exc, exc_info=True)
                return 0
            """,
        ),
        Invalid(
            """
            def drain(items):
                for item in items:
                    try:
                        handle(item)
                    except (ValueError, Exception):
                        continue
            """,
            line=5,
            column=9,
            end_column=39,
            expected_fix="""
            import logging

            def drain(items):
                for item in items:
                    try:
                        handle(item)
                    except (ValueError, Exception) as exc:
                        logging.getLogger(__name__).warning("Ignored %s in drain: %s", type(exc).__name__, exc, exc_info=True)
                        continue
            """,
        ),
        Invalid(
            """
            import json
            log = object()
            try:
                config = json.loads(raw)
            except BaseException: ...
            """,
            line=5,
            expected_fix="""
            import json
            log = object()
            try:
                config = json.loads(raw)
            except BaseException as exc:
                log.warning("Ignored %s in <module>: %s", type(exc).__name__, exc, exc_info=True)
            """,
            expected_unsafe_fix="""
            import json
            log = object()
            try:
                config = json.loads(raw)
            except json.JSONDecodeError as exc:
                log.warning("Ignored %s in <module>: %s", type(exc).__name__, exc, exc_info=True)
            """,
        ),
        Invalid(
            """
            import subprocess
            try:
                subprocess.check_output(["nvidia-smi"], timeout=5)
            except Exception:
                pass
            """,
            line=4,
            expected_fix="""
            import subprocess
            import logging

            try:
                subprocess.check_output(["nvidia-smi"], timeout=5)
            except Exception as exc:
                logging.getLogger(__name__).warning("Ignored %s in <module>: %s", type(exc).__name__, exc, exc_info=True)
            """,
            expected_unsafe_fix="""
            import subprocess
            import logging

            try:
                subprocess.check_output(["nvidia-smi"], timeout=5)
            except (subprocess.CalledProcessError, OSError, subprocess.TimeoutExpired) as exc:
                logging.getLogger(__name__).warning("Ignored %s in <module>: %s", type(exc).__name__, exc, exc_info=True)
            """,
        ),
        Invalid(
            """
            try:
                cleanup()
            except:
                print("cleanup failed")
                raise
            """,
            line=3,
            expected_fix="""
            try:
                cleanup()
            except Exception:
                print("cleanup failed")
                raise
            """,
        ),
        Invalid(
            """
            def parse_port(text):
                try:
                    return int(text)
                except:
                    return False
            """,
            line=4,
            column=5,
            end_column=11,
            message_contains="Bare",
            expected_fix="""
            def parse_port(text):
                try:
                    return int(text)
                except Exception:
                    return False
            """,
            expected_unsafe_fix="""
            def parse_port(text):
                try:
                    return int(text)
                except (ValueError, TypeError):
                    return False
            """,
        ),
        Invalid(
            """
            import logging
            logger = logging.getLogger(__name__)

            def load(path):
                try:
                    with open(path) as handle:
                        return handle.read()
                except:  # the file may be gone
                    logger.debug("no %s", path)
                    return None
            """,
            line=8,
            expected_fix="""
            import logging
            logger = logging.getLogger(__name__)

            def load(path):
                try:
                    with open(path) as handle:
                        return handle.read()
                except Exception:  # the file may be gone
                    logger.debug("no %s", path)
                    return None
            """,
            expected_unsafe_fix="""
            import logging
            logger = logging.getLogger(__name__)

            def load(path):
                try:
                    with open(path) as handle:
                        return handle.read()
                except OSError:  # the file may be gone
                    logger.debug("no %s", path)
                    return None
            """,
        ),
        Invalid(
            """
            def poll(jobs):
                for job in jobs:
                    try:
                        job.run()
                    except: job.retries += 1; continue
            """,
            line=5,
            expected_fix="""
            def poll(jobs):
                for job in jobs:
                    try:
                        job.run()
                    except Exception: job.retries += 1; continue
            """,
        ),
    ]

    @classmethod
    def candidates(cls, facts: "FileFacts") -> List[ast.stmt]:
        # The `try` statements holding what `_check` reports, on the stdlib ast: a bare
        # `except:`, or a handler naming Exception / BaseException whose body only passes,
        # continues or is `...`. Local: a finding depends on its `try` statement, the
        # enclosing function's name and the module's top-level imports and assignments; a
        # handler whose body became `None` is not silent.
        return [
            stmt
            for stmt in facts.nodes(ast.Try, *_TRY_STAR)
            if any(
                handler.type is None
                or (all(_gate_is_silent(s) for s in handler.body) and _gate_is_broad(handler.type))
                for handler in stmt.handlers
            )
        ]

    def __init__(self, context) -> None:
        super().__init__(context)
        self.functions: List[str] = []
        self.logger: Optional[str] = None
        self.aliases: Dict[str, str] = {}

    def visit_Module(self, node: cst.Module) -> None:
        assigned = set()
        for stmt in node.body:
            small = _lone(stmt)
            if isinstance(small, (cst.Assign, cst.AnnAssign)):
                targets = [t.target for t in small.targets] if isinstance(small, cst.Assign) else [small.target]
                assigned.update(t.value for t in targets if isinstance(t, cst.Name))
            if isinstance(small, (cst.Import, cst.ImportFrom)):
                self._record_import(small)
        self.logger = next((name for name in LOGGER_NAMES if name in assigned), None)

    def _record_import(self, node) -> None:
        if isinstance(node, cst.Import):
            for alias in node.names:
                full = get_full_name_for_node(alias.name) or ""
                local = alias.asname.name.value if alias.asname else full.partition(".")[0]
                self.aliases[local] = full if alias.asname else local
        elif isinstance(node, cst.ImportFrom) and node.relative == () and node.module is not None:
            module = get_full_name_for_node(node.module) or ""
            if isinstance(node.names, cst.ImportStar):
                return
            for alias in node.names:
                name = get_full_name_for_node(alias.name) or ""
                local = alias.asname.name.value if alias.asname else name
                self.aliases[local] = f"{module}.{name}"

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.functions.append(node.name.value)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.functions.pop()

    def visit_Try(self, node: cst.Try) -> None:
        for handler in node.handlers:
            self._check(node, handler)

    def _check(self, try_node: cst.Try, handler: cst.ExceptHandler) -> None:
        silent = all(_is_placeholder(_lone(stmt)) for stmt in _statements(handler.body))
        if handler.type is None:
            message = "Bare `except:` catches every exception, KeyboardInterrupt and SystemExit included"
            if silent:
                message += ", and hides it"
        elif silent and _is_broad(handler.type):
            message = f"`except {_type_text(handler.type)}` with an empty body silently swallows every error"
        else:
            return
        fix = self._logging_fix(try_node, handler) if silent else self._retype_fix(try_node, handler)
        # Report the `except ...` header, not the whole handler.
        start = self.get_metadata(PositionProvider, handler).start
        header = "except"
        if handler.type is not None:
            header += handler.whitespace_after_except.value + _type_text(handler.type)
        if "\n" in header:
            end = self.get_metadata(PositionProvider, handler.type).end
        else:
            end = type(start)(start.line, start.column + len(header))
        self.report(handler, message, fix=fix, position=CodeRange(start, end))

    def _logging_fix(self, try_node: cst.Try, handler: cst.ExceptHandler) -> Fix:
        where = self.functions[-1] if self.functions else "<module>"
        taken = names_in(handler)
        exc_name = fresh_name("exc", taken)
        safe_handler, safe_imports = logged_handler(handler, logger=self.logger, where=where, exc_name=exc_name)
        safe = Fix("log the exception with its traceback", Applicability.SAFE, {handler: safe_handler}, add_imports=safe_imports)
        narrowed = raised_exceptions(try_node.body, self.aliases)
        if narrowed is None:
            return safe
        narrow_handler, imports = logged_handler(
            handler, logger=self.logger, where=where, exc_name=exc_name, types=narrowed
        )
        return Fix(
            f"catch only {', '.join(narrowed)} and log it with its traceback",
            Applicability.UNSAFE,
            {handler: narrow_handler},
            add_imports=imports,
            fallback=safe,
        )


    def _retype_fix(self, try_node: cst.Try, handler: cst.ExceptHandler) -> Fix:
        # A bare `except:` whose body already does something: it keeps its body and stops
        # trapping KeyboardInterrupt / SystemExit / GeneratorExit.
        retyped, _ = retyped_handler(handler)
        safe = Fix("catch Exception instead of everything", Applicability.SAFE, {handler: retyped})
        narrowed = raised_exceptions(try_node.body, self.aliases)
        if narrowed is None:
            return safe
        narrow_handler, imports = retyped_handler(handler, narrowed)
        return Fix(
            f"catch only {', '.join(narrowed)}",
            Applicability.UNSAFE,
            {handler: narrow_handler},
            add_imports=imports,
            fallback=safe,
        )


def _lone(stmt: cst.CSTNode) -> Optional[cst.BaseSmallStatement]:
    """The one statement of a line holding exactly one (``x = 1``, not ``x = 1; y = 2``).

    Plain type tests rather than `libcst.matchers`: this runs on every file the rule admits,
    and importing the matchers costs half a second."""
    if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1:
        return stmt.body[0]
    return None


def _is_placeholder(small: Optional[cst.BaseSmallStatement]) -> bool:
    """``pass``, ``continue`` or ``...``."""
    return isinstance(small, (cst.Pass, cst.Continue)) or (isinstance(small, cst.Expr) and isinstance(small.value, cst.Ellipsis))


def _statements(body: cst.BaseSuite):
    if isinstance(body, cst.SimpleStatementSuite):
        return [cst.SimpleStatementLine(body=[s]) for s in body.body]
    return body.body


def _is_broad(type_node: cst.BaseExpression) -> bool:
    elements = type_node.elements if isinstance(type_node, cst.Tuple) else [type_node]
    for element in elements:
        value = element.value if isinstance(element, cst.Element) else element
        if get_full_name_for_node(value) in _BROAD:
            return True
    return False


def _type_text(type_node: cst.BaseExpression) -> str:
    return cst.Module(body=[]).code_for_node(type_node)


# -- gate: the same questions on the stdlib ast ---------------------------------------------------


_TRY_STAR = (ast.TryStar,) if hasattr(ast, "TryStar") else ()


def _gate_is_silent(stmt: ast.stmt) -> bool:
    """``pass``, ``continue`` or ``...`` (a line ``pass; pass`` too, which `_check` does not
    count as silent: the gate may admit more, never less)."""
    if isinstance(stmt, (ast.Pass, ast.Continue)):
        return True
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and stmt.value.value is Ellipsis


def _gate_is_broad(type_node: ast.expr) -> bool:
    """The ast twin of `_is_broad`."""
    elements = type_node.elts if isinstance(type_node, ast.Tuple) else [type_node]
    return any(full_name(element) in _BROAD for element in elements)
